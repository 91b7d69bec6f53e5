"""The Keras internals keras-lrx relies on (see keras_lrx/_keras_compat.py)."""

import pathlib
import re

import keras
import pytest

from keras_lrx import _keras_compat as compat

OPTIMIZER_CLASSES = [
    keras.optimizers.SGD,
    keras.optimizers.Adam,
    keras.optimizers.AdamW,
    keras.optimizers.Adamax,
    keras.optimizers.Nadam,
    keras.optimizers.RMSprop,
    keras.optimizers.Adagrad,
    keras.optimizers.Adadelta,
    keras.optimizers.Adafactor,
    keras.optimizers.Ftrl,
    keras.optimizers.Lion,
    keras.optimizers.Lamb,
]


def _version_tuple(text):
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def test_installed_keras_is_in_the_declared_range():
    pyproject = pathlib.Path(__file__).parents[1] / "pyproject.toml"
    spec = re.search(r'"keras>=([\d.]+),<([\d.]+)"', pyproject.read_text())
    assert spec, "pyproject.toml must pin keras as keras>=X,<Y"
    low, high = (_version_tuple(v) for v in spec.groups())
    assert low <= _version_tuple(keras.__version__) < high


@pytest.mark.parametrize("cls", OPTIMIZER_CLASSES, ids=lambda c: c.__name__)
def test_private_hooks_exist_on_every_optimizer(cls):
    optimizer = cls()
    for name in (
        "_backend_update_step",
        "_apply_weight_decay",
        "_get_current_learning_rate",
        "_get_variable_index",
        "_use_weight_decay",
        "_untrack_variable",
        "_var_key",
        "add_variable_from_reference",
    ):
        assert callable(getattr(optimizer, name)), name
    assert isinstance(compat.raw_iterations(optimizer), keras.Variable)
    assert isinstance(optimizer._learning_rate, keras.Variable)


def test_step_state_detection_finds_nadams_u_product_only():
    variables = [
        keras.Variable([[1.0, 2.0]], name="w"),
        keras.Variable([1.0], name="b"),
    ]
    nadam = keras.optimizers.Nadam()
    with compat.record_step_state(nadam) as state:
        nadam.build(variables)
    assert [v is nadam._u_product for v in state] == [True]
    adam = keras.optimizers.Adam()
    with compat.record_step_state(adam) as state:
        adam.build(variables)
    assert state == []
    # The recording wrappers are gone afterwards.
    assert "add_variable_from_reference" not in vars(adam)


@pytest.mark.parametrize("cls", OPTIMIZER_CLASSES, ids=lambda c: c.__name__)
def test_stock_torch_optimizers_are_recognised_with_their_slots(cls):
    # LRX's one-pass torch update (keras_lrx/_torch_fused.py) runs only for
    # the optimizers Keras's torch backend swaps for its own foreach update,
    # and finds their slots by attribute; a Keras release that moves them
    # must fail here, not silently fall back to one call per group.
    kwargs = {"amsgrad": True} if cls in (keras.optimizers.Adam,) else {}
    optimizer = cls(**kwargs)
    optimizer.build([keras.Variable([[1.0, 2.0]], name="w")])
    own_foreach = keras.backend.backend() == "torch" and hasattr(
        optimizer, "_parallel_update_step"
    )
    expected = cls.__name__ if own_foreach else None
    assert compat.stock_torch_optimizer(optimizer) == expected
    if own_foreach:
        assert not compat.overrides_weight_decay(optimizer)

    class Mine(cls):
        pass

    assert compat.stock_torch_optimizer(Mine(**kwargs)) is None
