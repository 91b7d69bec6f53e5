"""Weight-decay rules per variable: `LRX(weight_decay_multipliers=...)`.

References are independent of LRX: a separate Keras optimizer per variable
at `lr * m` with `weight_decay = wd * d`, PyTorch's `AdamW` with
`weight_decay=0` param groups for the 1-D weights (Hugging Face / timm's
rule), Keras's own `exclude_from_weight_decay`, and a NumPy SGD step.
"""

import keras
import numpy as np
import pytest
from conftest import assert_round_trip
from conftest import mlp
from conftest import regression_data
from conftest import to_np
from conftest import weights_of
from keras import ops
from test_optimizer import SHAPES
from test_optimizer import make_problem

from keras_lrx import LRX
from keras_lrx import combine
from keras_lrx import no_decay_on_biases_and_norms
from keras_lrx.schedules import Thaw

LR = 0.01
WD = 0.05
MULTIPLIERS = [0.1, 1.0, 2.5, 1.0]
DECAYS = [0.0, 0.5, 1.0, 2.0]

#: Optimizers that decay with Keras's stock rule (`v -= v * wd * lr`), as
#: `(lr, weight_decay) -> optimizer`. On torch the first five run as the
#: one-pass update, Adafactor per variable.
DECAYING = {
    "adamw": lambda lr, wd: keras.optimizers.AdamW(lr, weight_decay=wd),
    "sgd_momentum": lambda lr, wd: keras.optimizers.SGD(
        lr, momentum=0.9, weight_decay=wd
    ),
    "lion": lambda lr, wd: keras.optimizers.Lion(lr, weight_decay=wd),
    "nadam": lambda lr, wd: keras.optimizers.Nadam(lr, weight_decay=wd),
    "rmsprop_centered": lambda lr, wd: keras.optimizers.RMSprop(
        lr, centered=True, weight_decay=wd
    ),
    "adafactor": lambda lr, wd: keras.optimizers.Adafactor(lr, weight_decay=wd),
}


def _apply_all(optimizer, variables, grads):
    for g in grads:
        optimizer.apply([ops.convert_to_tensor(x) for x in g], variables)


@pytest.mark.parametrize("name", sorted(DECAYING))
def test_each_variable_decays_as_a_separate_optimizer_at_wd_times_d(name):
    factory = DECAYING[name]
    inits, grads = make_problem(seed=3)
    variables = [keras.Variable(x, name=f"v{i}") for i, x in enumerate(inits)]
    optimizer = LRX(
        factory(LR, WD),
        multipliers={f"v{i}": m for i, m in enumerate(MULTIPLIERS)},
        weight_decay_multipliers={f"v{i}": d for i, d in enumerate(DECAYS)},
    )
    _apply_all(optimizer, variables, grads)
    for i, (m, d) in enumerate(zip(MULTIPLIERS, DECAYS)):
        reference = keras.Variable(inits[i], name=f"ref{i}")
        _apply_all(
            factory(LR * m, WD * d),
            [reference],
            [[g[i]] for g in grads],
        )
        np.testing.assert_allclose(
            to_np(variables[i]), to_np(reference), rtol=1e-5, atol=1e-6
        )
    decays = optimizer.variable_weight_decays
    assert [decays[v.path] for v in variables] == [WD * d for d in DECAYS]


def test_decay_at_the_base_rate_with_a_factor_matches_numpy():
    # weight_decay_follows_multiplier=False: v -= v * wd * d * lr, then the
    # SGD step at lr * m.
    inits, grads = make_problem(seed=4)
    variables = [keras.Variable(x, name=f"v{i}") for i, x in enumerate(inits)]
    optimizer = LRX(
        keras.optimizers.SGD(LR, weight_decay=WD),
        multipliers={f"v{i}": m for i, m in enumerate(MULTIPLIERS)},
        weight_decay_multipliers={f"v{i}": d for i, d in enumerate(DECAYS)},
        weight_decay_follows_multiplier=False,
    )
    _apply_all(optimizer, variables, grads)
    for i, (m, d) in enumerate(zip(MULTIPLIERS, DECAYS)):
        expected = inits[i].astype("float64")
        for g in grads:
            expected = expected - expected * WD * d * LR - LR * m * g[i]
        np.testing.assert_allclose(
            to_np(variables[i]), expected, rtol=1e-5, atol=1e-6
        )


def test_no_decay_on_biases_and_norms_matches_pytorch_adamw_param_groups():
    # Hugging Face's Trainer and timm: one group of matrices with weight
    # decay, one of biases and norm weights without.
    torch = pytest.importorskip("torch")
    inits, grads = make_problem(seed=5, steps=8)
    variables = [keras.Variable(x, name=f"v{i}") for i, x in enumerate(inits)]
    optimizer = LRX(
        keras.optimizers.AdamW(LR, weight_decay=WD, epsilon=1e-12),
        weight_decay_multipliers=no_decay_on_biases_and_norms,
    )
    _apply_all(optimizer, variables, grads)
    params = [torch.nn.Parameter(torch.tensor(x)) for x in inits]
    reference = torch.optim.AdamW(
        [
            {"params": [p for p in params if p.ndim >= 2]},
            {
                "params": [p for p in params if p.ndim < 2],
                "weight_decay": 0.0,
            },
        ],
        lr=LR,
        weight_decay=WD,
        eps=1e-12,
    )
    for g in grads:
        for p, x in zip(params, g):
            p.grad = torch.tensor(x)
        reference.step()
    assert sorted({len(s) for s in SHAPES}) == [1, 2]  # both groups
    for v, p in zip(variables, params):
        np.testing.assert_allclose(
            to_np(v), p.detach().numpy(), rtol=1e-5, atol=1e-6
        )


def _norm_model():
    inputs = keras.Input((6,))
    h = keras.layers.Dense(8, name="body")(inputs)
    h = keras.layers.LayerNormalization(name="norm")(h)
    h = keras.layers.BatchNormalization(name="bn")(h)
    outputs = keras.layers.Dense(1, name="head")(h)
    return keras.Model(inputs, outputs, name="net")


def _twins(make):
    """Two models from `make` with the same initial weights."""
    first, second = make(), make()
    second.set_weights(first.get_weights())
    return first, second


def _fit(model, epochs=2):
    x, y = regression_data(n=16)
    model.fit(x, y, batch_size=4, epochs=epochs, shuffle=False, verbose=0)


def test_a_fit_equals_keras_exclude_from_weight_decay():
    # Keras's own exclusion of the same variables, in a compiled `fit`.
    lrx_model, keras_model = _twins(_norm_model)
    initial = lrx_model.get_weights()
    lrx_model.compile(
        LRX(
            keras.optimizers.AdamW(0.05, weight_decay=0.3),
            weight_decay_multipliers=no_decay_on_biases_and_norms,
        ),
        "mse",
    )
    bare = keras.optimizers.AdamW(0.05, weight_decay=0.3)
    bare.exclude_from_weight_decay(
        var_list=[v for v in keras_model.trainable_variables if v.ndim < 2]
    )
    keras_model.compile(bare, "mse")
    _fit(lrx_model)
    _fit(keras_model)
    for a, b in zip(weights_of(lrx_model), weights_of(keras_model)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # And the rule did something: decaying everything differs.
    everything = _norm_model()
    everything.set_weights(initial)
    everything.compile(keras.optimizers.AdamW(0.05, weight_decay=0.3), "mse")
    _fit(everything)
    kernel = to_np(lrx_model.get_layer("head").kernel)
    assert not np.allclose(kernel, to_np(everything.get_layer("head").kernel))


def test_keras_exclusions_still_apply_beside_the_rules():
    model = _norm_model()
    inner = keras.optimizers.AdamW(0.01, weight_decay=0.1)
    inner.exclude_from_weight_decay(var_list=[model.get_layer("head").kernel])
    optimizer = LRX(inner, weight_decay_multipliers={"body": 0.5})
    optimizer.build(model.trainable_variables)
    decays = optimizer.variable_weight_decays
    assert decays["body/kernel"] == pytest.approx(0.05)
    assert decays["head/kernel"] == 0.0  # Keras's exclusion
    assert decays["head/bias"] == pytest.approx(0.1)
    assert decays["norm/gamma"] == pytest.approx(0.1)


def test_rules_are_saved_with_the_model_and_resume_exactly(tmp_path):
    rules = combine(no_decay_on_biases_and_norms, {"head": 0.5})
    initial = _norm_model().get_weights()

    def make():
        model = _norm_model()
        model.set_weights(initial)
        model.compile(
            LRX(
                keras.optimizers.AdamW(0.05, weight_decay=0.3),
                multipliers={"body": 0.5},
                weight_decay_multipliers=rules,
            ),
            "mse",
        )
        return model

    straight = make()
    _fit(straight, epochs=2)
    first = make()
    _fit(first, epochs=1)
    path = str(tmp_path / "model.keras")
    first.save(path)
    resumed = keras.saving.load_model(path)
    assert (
        resumed.optimizer.get_config()["weight_decay_multipliers"]
        == (first.optimizer.get_config()["weight_decay_multipliers"])
    )
    _fit(resumed, epochs=1)
    for a, b in zip(weights_of(straight), weights_of(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    decays = resumed.optimizer.variable_weight_decays
    assert decays["head/kernel"] == pytest.approx(0.15)
    assert decays["head/bias"] == 0.0
    assert decays["body/kernel"] == pytest.approx(0.3)


def test_config_round_trips():
    optimizer = LRX(
        keras.optimizers.AdamW(0.01, weight_decay=0.1),
        weight_decay_multipliers=combine(
            no_decay_on_biases_and_norms, {"body": 0.5, r".*/kernel": 2.0}
        ),
    )
    for clone in assert_round_trip(optimizer):
        clone.build(mlp().trainable_variables)
        decays = {
            path.split("/", 1)[1]: value
            for path, value in clone.variable_weight_decays.items()
        }
        assert decays == {
            # One source's most specific key: the layer name, not the
            # pattern; then x 1 from the other source.
            "body/kernel": pytest.approx(0.05),
            "body/bias": 0.0,
            "head/kernel": pytest.approx(0.2),
            "head/bias": 0.0,
        }


def test_describe_shows_each_variables_weight_decay():
    model = mlp()
    optimizer = LRX(
        keras.optimizers.AdamW(0.01, weight_decay=0.1),
        multipliers={"body": 0.0},
        weight_decay_multipliers={"head": 0.5},
    )
    optimizer.build(model.trainable_variables)
    lines = []
    rows = optimizer.describe(print_fn=lines.append)
    assert "weight decay" in lines[0].splitlines()[0]
    by_path = {row["path"].split("/", 1)[1]: row for row in rows}
    assert by_path["head/kernel"]["weight_decay"] == pytest.approx(0.05)
    assert by_path["body/kernel"]["weight_decay"] == 0.0  # frozen
    plain = LRX(keras.optimizers.Adam(0.01))
    plain.build(mlp().trainable_variables)
    lines = []
    plain.describe(print_fn=lines.append)
    assert "weight decay" not in lines[0]


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: {"body": -1.0}, ValueError, "must be >= 0"),
        (lambda: {"body": "x"}, TypeError, "must be a number"),
        (lambda: {"body": Thaw(1.0, 2)}, ValueError, "schedule of the step"),
        (lambda: {3: 0.0}, TypeError, "keys must be layer names"),
        (lambda: 0.5, TypeError, "must be None, a dict"),
    ],
)
def test_bad_rules_are_refused_at_construction(make, error, words):
    with pytest.raises(error, match="`weight_decay_multipliers`") as caught:
        LRX(
            keras.optimizers.AdamW(0.01, weight_decay=0.1),
            weight_decay_multipliers=make(),
        )
    assert words in str(caught.value)


def test_rules_need_an_optimizer_with_weight_decay():
    inner = keras.optimizers.Adam(0.01)
    with pytest.raises(ValueError, match="has none.*weight_decay=None"):
        LRX(inner, weight_decay_multipliers={"body": 0.0})
    assert not inner.built


def test_a_callable_rule_is_checked_when_built():
    def schedule_rule(variable):
        return Thaw(1.0, 2)

    optimizer = LRX(
        keras.optimizers.AdamW(0.01, weight_decay=0.1),
        weight_decay_multipliers=schedule_rule,
    )
    with pytest.raises(ValueError, match="schedule of the step"):
        optimizer.build(mlp().trainable_variables)
    assert not optimizer.built and not optimizer.optimizer.built


def test_an_unused_rule_key_warns_naming_the_argument():
    optimizer = LRX(
        keras.optimizers.AdamW(0.01, weight_decay=0.1),
        weight_decay_multipliers={"bodyy": 0.0},
    )
    with pytest.warns(UserWarning, match="`weight_decay_multipliers`.*'bodyy'"):
        optimizer.build(mlp().trainable_variables)


def test_an_own_decay_rule_takes_factors_0_or_1_only():
    from test_update_seam import _skip_unless_keras_runs_muon

    _skip_unless_keras_runs_muon()
    from keras_lrx import _keras_compat as compat

    if not compat.overrides_weight_decay(keras.optimizers.Muon(0.02)):
        pytest.skip("this Keras's Muon decays by Keras's stock rule")
    optimizer = LRX(
        keras.optimizers.Muon(0.02, weight_decay=0.5),
        weight_decay_multipliers={"body": 0.5},
    )
    with pytest.raises(ValueError, match="each factor must be 0 or 1"):
        optimizer.build(mlp().trainable_variables)
    assert not optimizer.optimizer.built
    # 0 switches Muon's own decay off for the variable, as Keras's own
    # exclusion does on the bare Muon.
    lrx_model, keras_model = _twins(mlp)
    lrx_model.compile(
        LRX(
            keras.optimizers.Muon(0.02, weight_decay=0.5),
            weight_decay_multipliers={"body": 0.0},
        ),
        "mse",
    )
    bare = keras.optimizers.Muon(0.02, weight_decay=0.5)
    bare.exclude_from_weight_decay(
        var_list=keras_model.get_layer("body").weights
    )
    keras_model.compile(bare, "mse")
    _fit(lrx_model, epochs=1)
    _fit(keras_model, epochs=1)
    for a, b in zip(weights_of(lrx_model), weights_of(keras_model)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
