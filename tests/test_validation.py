"""Bad input, table-driven: every public constructor and function of the
optimizer side answers a wrong type with TypeError and a wrong value with
ValueError, in Keras's form (the argument named, the value echoed), before
any state changes. (Schedules, the finder and callbacks have their own
tables in their test files.)"""

import math
import re

import keras
import numpy as np
import pytest
from conftest import mlp

from keras_lrx import LRX
from keras_lrx import LearningRateMetric
from keras_lrx import MultiplierMap
from keras_lrx import SetLearningRate
from keras_lrx import _validation
from keras_lrx import layerwise_decay
from keras_lrx import unwrap_learning_rates


def sgd():
    return keras.optimizers.SGD(0.1)


def stack():
    return keras.Sequential(
        [keras.Input((4,))]
        + [keras.layers.Dense(4, name=f"b{i}") for i in range(3)]
    )


# (call, exception type, argument named in the message)
CASES = {
    "lrx optimizer not an optimizer": (
        lambda: LRX(3.0),
        TypeError,
        "optimizer",
    ),
    "lrx schedule string": (
        lambda: LRX(sgd(), schedule="1e-3"),
        TypeError,
        "schedule",
    ),
    "lrx schedule bool": (
        lambda: LRX(sgd(), schedule=True),
        TypeError,
        "schedule",
    ),
    "lrx schedule nan": (
        lambda: LRX(sgd(), schedule=math.nan),
        ValueError,
        "schedule",
    ),
    "lrx schedule inf": (
        lambda: LRX(sgd(), schedule=math.inf),
        ValueError,
        "schedule",
    ),
    "lrx schedule negative": (
        lambda: LRX(sgd(), schedule=-1e-3),
        ValueError,
        "schedule",
    ),
    "lrx multipliers number": (
        lambda: LRX(sgd(), multipliers=0.1),
        TypeError,
        "multipliers",
    ),
    "lrx multiplier string": (
        lambda: LRX(sgd(), multipliers={"b0": "x"}),
        TypeError,
        "multipliers",
    ),
    "lrx multiplier negative": (
        lambda: LRX(sgd(), multipliers={"b0": -1.0}),
        ValueError,
        "multipliers",
    ),
    "lrx multiplier nan": (
        lambda: LRX(sgd(), multipliers={"b0": math.nan}),
        ValueError,
        "multipliers",
    ),
    "lrx multiplier inf": (
        lambda: LRX(sgd(), multipliers={"b0": math.inf}),
        ValueError,
        "multipliers",
    ),
    "lrx key int": (
        lambda: LRX(sgd(), multipliers={3: 0.1}),
        TypeError,
        "multipliers",
    ),
    "lrx key empty": (
        lambda: LRX(sgd(), multipliers={"": 0.1}),
        ValueError,
        "multipliers",
    ),
    "lrx key variable": (
        lambda: LRX(sgd(), multipliers={(1, 2): 0.1}),
        TypeError,
        "multipliers",
    ),
    "lrx wd flag string": (
        lambda: LRX(sgd(), weight_decay_follows_multiplier="no"),
        TypeError,
        "weight_decay_follows_multiplier",
    ),
    "lrx strict int": (lambda: LRX(sgd(), strict=1), TypeError, "strict"),
    "lrx base argument": (
        lambda: LRX(sgd(), clipnorm=1.0),
        ValueError,
        "clipnorm",
    ),
    "map list not pairs": (
        lambda: MultiplierMap([("b0",)]),
        TypeError,
        "multipliers",
    ),
    "map saved key malformed": (
        lambda: MultiplierMap([[{"layer": 3}, 0.1]]),
        TypeError,
        "multipliers",
    ),
    "decay model not a layer": (
        lambda: layerwise_decay("net", 0.5),
        TypeError,
        "model",
    ),
    "decay string": (
        lambda: layerwise_decay(stack(), "0.5"),
        TypeError,
        "decay",
    ),
    "decay zero": (lambda: layerwise_decay(stack(), 0.0), ValueError, "decay"),
    "decay above one": (
        lambda: layerwise_decay(stack(), 1.5),
        ValueError,
        "decay",
    ),
    "decay nan": (
        lambda: layerwise_decay(stack(), math.nan),
        ValueError,
        "decay",
    ),
    "decay blocks not a list": (
        lambda: layerwise_decay(stack(), 0.5, blocks=3),
        TypeError,
        "blocks",
    ),
    "decay blocks empty": (
        lambda: layerwise_decay(stack(), 0.5, blocks=[]),
        ValueError,
        "blocks",
    ),
    "decay blocks unknown name": (
        lambda: layerwise_decay(stack(), 0.5, blocks=["b9"]),
        ValueError,
        "blocks",
    ),
    "decay head wrong item": (
        lambda: layerwise_decay(stack(), 0.5, head=[1.0]),
        TypeError,
        "head",
    ),
    "decay no blocks": (
        lambda: layerwise_decay(
            keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), 0.5
        ),
        ValueError,
        "model",
    ),
    "metric optimizer string": (
        lambda: LearningRateMetric("adam"),
        TypeError,
        "optimizer",
    ),
    "metric groups number": (
        lambda: LearningRateMetric(sgd(), groups=3),
        TypeError,
        "groups",
    ),
    "set_lr layer not a layer": (
        lambda: SetLearningRate("dense", 0.1),
        TypeError,
        "layer",
    ),
    "set_lr multiplier string": (
        lambda: SetLearningRate(keras.layers.Dense(2), "0.1"),
        TypeError,
        "multiplier",
    ),
    "set_lr multiplier negative": (
        lambda: SetLearningRate(keras.layers.Dense(2), -0.1),
        ValueError,
        "multiplier",
    ),
    "set_lr multiplier nan": (
        lambda: SetLearningRate(keras.layers.Dense(2), math.nan),
        ValueError,
        "multiplier",
    ),
    "set_lr adaptive string": (
        lambda: SetLearningRate(keras.layers.Dense(2), 0.1, adaptive="yes"),
        TypeError,
        "adaptive",
    ),
    "unwrap not a model": (
        lambda: unwrap_learning_rates("model"),
        TypeError,
        "model",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_in_keras_form(case):
    call, error, argument = CASES[case]
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert f"`{argument}`" in message, message
    assert type(info.value) is error


def test_refused_multipliers_leave_the_optimizer_unbuilt_and_slotless():
    model = mlp()
    optimizer = LRX(
        keras.optimizers.Adam(), multipliers={"bdy": 0.1}, strict=True
    )
    model.compile(optimizer=optimizer, loss="mse")
    with pytest.raises(ValueError, match="'bdy'"):
        optimizer.build(model.trainable_variables)
    assert not optimizer.built
    assert len(optimizer.optimizer.variables) == 2  # iterations, rate


@pytest.mark.parametrize(
    "check, args, error, pattern",
    [
        (
            _validation.check_bool,
            ("flag", "no"),
            TypeError,
            r"Argument `flag` must be a bool \(True or False\)\. "
            r"Received: flag='no'",
        ),
        (
            _validation.check_float,
            ("rate", "1"),
            TypeError,
            r"`rate` must be a number",
        ),
        (
            _validation.check_float,
            ("rate", math.nan),
            ValueError,
            r"`rate` must be a finite",
        ),
        (
            _validation.check_float,
            ("rate", -1.0, 0.0),
            ValueError,
            r"`rate` must be >= 0",
        ),
        (
            _validation.check_int,
            ("steps", 2.5),
            ValueError,
            r"`steps` must be an integer",
        ),
        (
            _validation.check_int,
            ("steps", True),
            TypeError,
            r"`steps` must be an integer",
        ),
        (
            _validation.check_int,
            ("steps", 0, 1),
            ValueError,
            r"`steps` must be >= 1",
        ),
        (
            _validation.check_choice,
            ("mode", "x", ("a", "b")),
            ValueError,
            r"`mode` must be one of 'a', 'b'",
        ),
    ],
)
def test_validation_messages(check, args, error, pattern):
    with pytest.raises(error, match=pattern):
        check(*args)


def test_validation_returns_canonical_values():
    assert _validation.check_float("x", np.float32(0.5)) == 0.5
    assert _validation.check_int("n", 10.0) == 10
    assert _validation.check_bool("b", np.bool_(True)) is True
    assert re.fullmatch(r"\d+", str(_validation.check_int("n", np.int64(3))))
