"""keras-lrx: learning-rate control for Keras 3."""

from keras_lrx import schedules
from keras_lrx.multipliers import MultiplierMap
from keras_lrx.optimizer import LRX

__version__ = "0.1.0"

__all__ = ["LRX", "MultiplierMap", "schedules", "__version__"]
