"""keras-lrx: learning-rate control for Keras 3."""

from keras_lrx import experimental
from keras_lrx import schedules
from keras_lrx.callbacks import BatchHistory
from keras_lrx.callbacks import SkipFrozenGradients
from keras_lrx.callbacks import SwapScheduleFreeWeights
from keras_lrx.callbacks import TotalStepsFromFit
from keras_lrx.decay import no_decay_on_biases_and_norms
from keras_lrx.finder import LRFinder
from keras_lrx.finder import LRFinderResult
from keras_lrx.finder import find_lr
from keras_lrx.fine_tune import FineTuneSetup
from keras_lrx.fine_tune import fine_tune
from keras_lrx.fine_tune import fine_tune_setup
from keras_lrx.layerwise import gradual_unfreezing
from keras_lrx.layerwise import layerwise_decay
from keras_lrx.metrics import LearningRateMetric
from keras_lrx.multipliers import MultiplierMap
from keras_lrx.multipliers import combine
from keras_lrx.optimizer import LRX
from keras_lrx.reparam import SetLearningRate
from keras_lrx.reparam import unwrap_learning_rates
from keras_lrx.statistics import GroupStatistics
from keras_lrx.statistics import UpdateRatioWarnings

__version__ = "0.1.0"

__all__ = [
    "BatchHistory",
    "FineTuneSetup",
    "GroupStatistics",
    "LRFinder",
    "LRFinderResult",
    "LRX",
    "LearningRateMetric",
    "MultiplierMap",
    "SetLearningRate",
    "SkipFrozenGradients",
    "SwapScheduleFreeWeights",
    "TotalStepsFromFit",
    "UpdateRatioWarnings",
    "combine",
    "experimental",
    "find_lr",
    "fine_tune",
    "fine_tune_setup",
    "gradual_unfreezing",
    "layerwise_decay",
    "no_decay_on_biases_and_norms",
    "schedules",
    "unwrap_learning_rates",
    "__version__",
]
