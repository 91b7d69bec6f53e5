"""What the multi-process scripts (`tests/multiprocess_*.py`) train: the same
model, LRX and data on every engine. Each script imports this after it has
set its backend, devices and process group."""

import keras
import numpy as np

from keras_lrx import LRX
from keras_lrx import no_decay_on_biases_and_norms
from keras_lrx.schedules import CosineWithWarmup
from keras_lrx.schedules import Thaw

GLOBAL_BATCH = 8
STEPS_PER_EPOCH = 4
RNG = np.random.default_rng(0)
X = RNG.normal(size=(GLOBAL_BATCH * STEPS_PER_EPOCH, 6)).astype("float32")
Y = RNG.normal(size=(len(X), 1)).astype("float32")


def keras_hub_import_error():
    """Why keras-hub does not import under this Keras, where the Keras is a
    pre-release (a nightly moved an internal keras-hub imports); None where
    it imports. Under a released Keras the import error is raised."""
    try:
        import keras_hub  # noqa: F401
    except ImportError as error:
        if not any(tag in keras.__version__ for tag in ("dev", "rc")):
            raise
        return (
            f"keras-hub does not import under keras {keras.__version__}: "
            f"{error} (keras-team/keras#23397 moves keras.src.backend's "
            "re-exports; keras-hub has not followed yet)"
        )
    return None


def mlp():
    """A frozen layer, a thawing body, a norm, a fast layer and a head."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(8, name="frozen")(inputs)
    hidden = keras.layers.Dense(8, activation="tanh", name="body")(hidden)
    hidden = keras.layers.LayerNormalization(name="norm")(hidden)
    hidden = keras.layers.Dense(4, name="mid")(hidden)
    outputs = keras.layers.Dense(1, name="head")(hidden)
    return keras.Model(inputs, outputs, name="net")


def lrx():
    """Groups, a frozen layer, a thaw, decay rules and a warmup-cosine."""
    return LRX(
        keras.optimizers.AdamW(weight_decay=0.05),
        schedule=CosineWithWarmup(1e-2, warmup_steps=2, total_steps=8),
        multipliers={
            "frozen": 0.0,
            "body": Thaw(0.1, start_step=3, warmup_steps=2),
            "mid": 3.0,
        },
        weight_decay_multipliers=no_decay_on_biases_and_norms,
    )
