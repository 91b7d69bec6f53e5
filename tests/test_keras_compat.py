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
def test_the_internals_lrx_reads_exist_on_every_optimizer(cls):
    optimizer = cls()
    for name in (
        "_backend_update_step",
        "_apply_weight_decay",
        "_get_variable_index",
        "_use_weight_decay",
        "_untrack_variable",
        "_var_key",
        "update_step",
    ):
        assert callable(getattr(optimizer, name)), name
    assert isinstance(compat.raw_iterations(optimizer), keras.Variable)
    assert isinstance(compat.own_learning_rate(optimizer), keras.Variable)
    # What Keras's build makes for the pipeline LRX runs.
    optimizer = cls(use_ema=True, gradient_accumulation_steps=2)
    optimizer.build([keras.Variable([1.0, 2.0], name="w")])
    assert len(optimizer._model_variables_moving_average) == 1
    assert len(optimizer._accumulated_gradients) == 1


def test_per_step_work_runs_once_for_nadam_and_nothing_else():
    variables = [keras.Variable([[1.0, 2.0]], name="w")]
    nadam = keras.optimizers.Nadam()
    nadam.build(variables)
    compat.run_per_step_update(nadam, 0.01)
    expected = 0.9 * (1.0 - 0.5 * 0.96)  # Keras's u_t at step 1
    assert float(keras.ops.convert_to_numpy(nadam._u_product)) == (
        pytest.approx(expected)
    )
    assert float(keras.ops.convert_to_numpy(variables[0][0, 0])) == 1.0
    adam = keras.optimizers.Adam()
    adam.build(variables)
    before = [keras.ops.convert_to_numpy(v) for v in adam.variables]
    compat.run_per_step_update(adam, 0.01)
    after = [keras.ops.convert_to_numpy(v) for v in adam.variables]
    assert all((a == b).all() for a, b in zip(before, after))


@pytest.mark.parametrize(
    "name", sorted(compat.TORCH_RULE_OPTIONS), ids=lambda n: n
)
def test_torch_rule_table_names_every_constructor_option(name):
    # A tripwire: a Keras release that gives a stock optimizer a new option
    # fails here (on every backend), and until the rule and the table learn
    # it, LRX on torch falls back to the optimizer's own update_step.
    cls = getattr(keras.optimizers, name)
    assert compat.constructor_options(cls) == (
        compat.TORCH_PIPELINE_OPTIONS | compat.TORCH_RULE_OPTIONS[name]
    )


@pytest.mark.parametrize("cls", OPTIMIZER_CLASSES, ids=lambda c: c.__name__)
def test_stock_torch_optimizers_are_recognised_with_their_slots(cls):
    # LRX's one-pass torch update (keras_lrx/_engine/torch_fused.py) runs
    # only for the optimizers Keras's torch backend swaps for its own foreach
    # update, and finds their slots by attribute; a Keras release that moves
    # them must fail here, not silently fall back to one call per group.
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


def test_an_internal_keras_moved_is_found_at_its_new_home_first():
    # The newer home first, the older second: both Keras lines answer.
    scope = compat.no_autocast_scope()
    assert type(scope).__name__ == "AutocastScope"
    assert compat.stateless_scope() is None
    with keras.StatelessScope():
        assert compat.stateless_scope() is not None


def test_an_internal_no_home_has_is_a_clear_error():
    with pytest.raises(ImportError, match="`NoSuchThing`.*keras.src.nowhere"):
        compat._internal("NoSuchThing", "keras.src.nowhere", "keras.src")
