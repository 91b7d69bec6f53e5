"""Multipliers that change over time, gradual unfreezing, combined sources.

References are independent of LRX: separate Keras optimizers whose rate is
`lr * m(t)` (built with a stand-in variable, so that during a frozen phase
the step counter and per-step state advance while the frozen variable and
its slots are not touched), PyTorch's own `LambdaLR` over param groups with
`grad = None` in the frozen phase, and Keras's own freezing
(`trainable = False`, then a recompile).
"""

import keras
import numpy as np
import pytest
from conftest import BACKEND
from conftest import assert_round_trip
from conftest import mlp
from conftest import regression_data
from conftest import to_np
from conftest import weights_of
from keras import ops
from test_optimizer import OPTIMIZERS
from test_optimizer import make_problem

from keras_lrx import LRX
from keras_lrx import LearningRateMetric
from keras_lrx import MultiplierMap
from keras_lrx import combine
from keras_lrx import gradual_unfreezing
from keras_lrx import layerwise_decay
from keras_lrx.schedules import Thaw

LR = 0.01
STEPS = 6


def _wavy(step):
    """A multiplier given as a plain callable of the step (never 0)."""
    return 0.3 + 0.1 * ops.cos(ops.cast(step, "float32"))


#: One multiplier per variable of `test_optimizer.SHAPES`: frozen for two
#: steps then a warmup; a warmup that starts at a quarter; frozen for good;
#: a callable.
TIME_VARYING = [
    Thaw(0.5, start_step=2, warmup_steps=2),
    Thaw(2.0, start_step=0, warmup_steps=3, initial_fraction=0.25),
    0.0,
    _wavy,
]


def _value(multiplier, step):
    if isinstance(multiplier, float):
        return multiplier
    return float(to_np(multiplier(step)))


class _Scaled(keras.optimizers.schedules.LearningRateSchedule):
    """`factor * m(step)`: the reference optimizer's own rate."""

    def __init__(self, factor, multiplier):
        self.factor = factor
        self.multiplier = multiplier

    def __call__(self, step):
        return self.factor * self.multiplier(step)

    def __mul__(self, other):
        return _Scaled(self.factor * other, self.multiplier)

    __rmul__ = __mul__

    def __truediv__(self, other):
        return _Scaled(self.factor / other, self.multiplier)


def _reference(factory, multiplier, init, grads, index):
    """A separate optimizer at `LR * m(t)` on one variable.

    It is built with a stand-in variable too: at a step where `m(t) = 0`
    only the stand-in is applied, so the step counter and the optimizer's
    per-step state (Nadam's momentum schedule) advance while the variable
    and its slots are left alone -- what LRX promises for a frozen group.
    """
    variable = keras.Variable(init, name=f"ref{index}")
    stand_in = keras.Variable(np.zeros((1,), "float32"), name="stand_in")
    optimizer = factory(_Scaled(LR, lambda step: _value_at(multiplier, step)))
    optimizer.build([variable, stand_in])
    zero = ops.zeros((1,))
    for step, g in enumerate(grads):
        if _value(multiplier, step) > 0:
            optimizer.apply(
                [ops.convert_to_tensor(g[index]), zero], [variable, stand_in]
            )
        else:
            optimizer.apply([zero], [stand_in])
    return to_np(variable)


def _value_at(multiplier, step):
    return ops.cast(multiplier(step), "float32")


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_each_variable_follows_a_separate_optimizer_at_lr_times_m_of_t(name):
    factory = OPTIMIZERS[name]
    inits, grads = make_problem(steps=STEPS)
    variables = [keras.Variable(x, name=f"v{i}") for i, x in enumerate(inits)]
    optimizer = LRX(
        factory(LR),
        multipliers={f"v{i}": m for i, m in enumerate(TIME_VARYING)},
    )
    optimizer.build(variables)
    slots = {
        v.path: to_np(v).copy()
        for v in optimizer.optimizer.variables
        if v.path.split("/")[-1].startswith("v0_")
    }
    for step, g in enumerate(grads):
        optimizer.apply([ops.convert_to_tensor(x) for x in g], variables)
        if step == 1:
            # Frozen for two steps: the variable and all its slots as built.
            np.testing.assert_array_equal(to_np(variables[0]), inits[0])
            for v in optimizer.optimizer.variables:
                if v.path in slots:
                    np.testing.assert_array_equal(to_np(v), slots[v.path])
    assert int(to_np(optimizer.iterations)) == STEPS
    for i, m in enumerate(TIME_VARYING):
        if isinstance(m, float):  # frozen for good
            np.testing.assert_array_equal(to_np(variables[i]), inits[i])
            continue
        expected = _reference(factory, m, inits[i], grads, i)
        np.testing.assert_allclose(
            to_np(variables[i]), expected, rtol=2e-5, atol=2e-6
        )
        assert not np.allclose(expected, inits[i])


@pytest.mark.skipif(BACKEND == "tensorflow", reason="no stateless_apply on TF")
@pytest.mark.parametrize("name", ["sgd_momentum_decay", "adamw", "nadam"])
def test_stateless_apply_freezes_and_thaws_as_apply(name):
    factory = OPTIMIZERS[name]
    inits, grads = make_problem(steps=STEPS, seed=1)
    results = []
    for stateless in (False, True):
        variables = [
            keras.Variable(x, name=f"v{i}") for i, x in enumerate(inits)
        ]
        optimizer = LRX(
            factory(LR),
            multipliers={f"v{i}": m for i, m in enumerate(TIME_VARYING)},
        )
        optimizer.build(variables)
        values = [ops.copy(v.value) for v in variables]
        state = [ops.copy(v.value) for v in optimizer.variables]
        for g in grads:
            g = [ops.convert_to_tensor(x) for x in g]
            if stateless:
                values, state = optimizer.stateless_apply(state, g, values)
            else:
                optimizer.apply(g, variables)
        if not stateless:
            values = [v.value for v in variables]
        results.append([to_np(v) for v in values])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(results[1][2], inits[2])


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_matches_pytorch_lambda_lr_over_param_groups(kind):
    torch = pytest.importorskip("torch")
    inits, grads = make_problem(steps=STEPS, seed=2)
    # SGD: a frozen phase (PyTorch: the group gets no gradient) then a
    # warmup. Adam: warmups only -- PyTorch counts Adam's bias correction
    # per parameter from its first gradient, Keras from the optimizer's
    # step, so after a frozen phase the two differ by design.
    if kind == "sgd":
        shapes = [
            Thaw(0.5, start_step=2, warmup_steps=2),
            Thaw(2.0, 0, 3, 0.25),
            1.0,
            Thaw(1.0, start_step=4),
        ]
        keras_optimizer = keras.optimizers.SGD(LR)
    else:
        shapes = [
            Thaw(0.5, 0, warmup_steps=4),
            Thaw(2.0, 0, 3, 0.25),
            1.0,
            _wavy,
        ]
        keras_optimizer = keras.optimizers.Adam(LR, epsilon=1e-12)
    variables = [keras.Variable(x, name=f"v{i}") for i, x in enumerate(inits)]
    optimizer = LRX(
        keras_optimizer, multipliers={f"v{i}": m for i, m in enumerate(shapes)}
    )
    params = [torch.nn.Parameter(torch.tensor(x)) for x in inits]
    groups = [{"params": [p]} for p in params]
    if kind == "sgd":
        reference = torch.optim.SGD(groups, lr=LR)
    else:
        reference = torch.optim.Adam(groups, lr=LR, eps=1e-12)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        reference, [lambda t, m=m: _value(m, t) for m in shapes]
    )
    for step, g in enumerate(grads):
        optimizer.apply([ops.convert_to_tensor(x) for x in g], variables)
        for p, m, x in zip(params, shapes, g):
            p.grad = torch.tensor(x) if _value(m, step) > 0 else None
        reference.step()
        scheduler.step()
    for v, p in zip(variables, params):
        np.testing.assert_allclose(
            to_np(v), p.detach().numpy(), rtol=1e-5, atol=1e-6
        )


def _fit_steps(model, x, y, epochs, callbacks=None):
    model.fit(
        x,
        y,
        batch_size=4,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )


@pytest.mark.parametrize(
    "jit_compile",
    [False, True] if BACKEND == "tensorflow" else ["auto"],  # XLA on TF
)
def test_a_thaw_inside_one_fit_equals_keras_freezing_then_a_recompile(
    jit_compile,
):
    x, y = regression_data(n=16)  # 4 steps per epoch
    thawed = mlp()
    reference = mlp()
    reference.set_weights(thawed.get_weights())
    thawed.compile(
        LRX(
            keras.optimizers.SGD(0.05),
            multipliers={"body": Thaw(0.5, start_step=8)},
        ),
        "mse",
        jit_compile=jit_compile,
    )
    _fit_steps(thawed, x, y, epochs=4)

    # Keras's own way: `trainable = False`, fit, unfreeze, recompile, fit.
    reference.get_layer("body").trainable = False
    reference.compile(keras.optimizers.SGD(0.05), "mse")
    _fit_steps(reference, x, y, epochs=2)
    frozen = [to_np(w) for w in reference.get_layer("body").weights]
    reference.get_layer("body").trainable = True
    reference.compile(
        LRX(keras.optimizers.SGD(0.05), multipliers={"body": 0.5}), "mse"
    )
    _fit_steps(reference, x, y, epochs=2)
    for a, b in zip(weights_of(thawed), weights_of(reference)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(frozen[0], to_np(thawed.get_layer("body").kernel))
    assert int(to_np(thawed.optimizer.iterations)) == 16


def _thaw_model_and_optimizer(optimizer_name="adamw"):
    model = mlp()
    optimizer = LRX(
        OPTIMIZERS[optimizer_name](0.01),
        schedule=keras.optimizers.schedules.CosineDecay(0.02, 40),
        multipliers={"body": Thaw(0.3, start_step=6, warmup_steps=4)},
    )
    model.compile(optimizer, "mse")
    return model


@pytest.mark.parametrize("epochs_before", [1, 2])  # frozen, mid-warmup
def test_save_load_and_resume_in_the_middle_of_a_thaw(tmp_path, epochs_before):
    x, y = regression_data(n=16)  # 4 steps per epoch; the thaw is 6..9
    whole = _thaw_model_and_optimizer()
    initial = whole.get_weights()
    _fit_steps(whole, x, y, epochs=4)

    first = _thaw_model_and_optimizer()
    first.set_weights(initial)
    _fit_steps(first, x, y, epochs=epochs_before)
    before = first.optimizer.current_multipliers()
    path = str(tmp_path / "mid_thaw.keras")
    first.save(path)
    resumed = keras.models.load_model(path)
    optimizer = resumed.optimizer
    assert isinstance(optimizer, LRX)
    assert int(to_np(optimizer.iterations)) == 4 * epochs_before
    assert list(optimizer.current_multipliers().values()) == pytest.approx(
        list(before.values())
    )
    assert all(
        isinstance(m, Thaw)
        for path, m in optimizer.variable_multipliers.items()
        if "body" in path
    )
    _fit_steps(resumed, x, y, epochs=4 - epochs_before)
    for a, b in zip(weights_of(whole), weights_of(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_backup_and_restore_resumes_in_the_middle_of_a_thaw(tmp_path):
    x, y = regression_data(n=16)
    whole = _thaw_model_and_optimizer("sgd_momentum_decay")
    initial = whole.get_weights()
    _fit_steps(whole, x, y, epochs=4)

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # after step 8, mid-warmup
                raise RuntimeError("preempted")

    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    interrupted = _thaw_model_and_optimizer("sgd_momentum_decay")
    interrupted.set_weights(initial)
    with pytest.raises(RuntimeError, match="preempted"):
        _fit_steps(interrupted, x, y, 4, callbacks=[backup, Interrupt()])
    restarted = _thaw_model_and_optimizer("sgd_momentum_decay")
    _fit_steps(restarted, x, y, 4, callbacks=[backup])
    assert int(to_np(restarted.optimizer.iterations)) == 16
    for a, b in zip(weights_of(whole), weights_of(restarted)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_reduce_lr_on_plateau_scales_every_group_and_keeps_the_thaw():
    x, y = regression_data(n=16)
    model = _thaw_model_and_optimizer()
    optimizer = model.optimizer
    # mode="max" on a falling loss: the second epoch is no improvement.
    plateau = keras.callbacks.ReduceLROnPlateau(
        "loss", factor=0.5, patience=0, mode="max", verbose=0
    )
    _fit_steps(model, x, y, 2, callbacks=[plateau])
    step = int(to_np(optimizer.iterations))
    cosine = float(
        to_np(keras.optimizers.schedules.CosineDecay(0.02, 40)(step))
    )
    base = float(to_np(optimizer.learning_rate))
    assert base == pytest.approx(cosine * 0.5, rel=1e-5)  # one reduction
    thaw = _value(Thaw(0.3, start_step=6, warmup_steps=4), step)
    assert 0 < thaw < 0.3  # mid-warmup
    rates = optimizer.effective_learning_rates()
    assert list(rates.values()) == pytest.approx([base * thaw, base])


def test_hold_multipliers_keeps_the_groups_of_the_current_step():
    x, y = regression_data(n=16)
    model = mlp()
    optimizer = LRX(
        keras.optimizers.SGD(0.05),
        multipliers={"body": Thaw(1.0, start_step=2)},
    )
    model.compile(optimizer, "mse")
    optimizer.build(model.trainable_variables)
    body = [to_np(w) for w in model.get_layer("body").weights]
    with optimizer.hold_multipliers():
        model.make_train_function(force=True)
        _fit_steps(model, x, y, epochs=1)  # steps 0..3, held at step 0
    for a, w in zip(body, model.get_layer("body").weights):
        np.testing.assert_array_equal(a, to_np(w))
    model.make_train_function(force=True)
    _fit_steps(model, x, y, epochs=1)  # steps 4..7: thawed
    assert not np.allclose(body[0], to_np(model.get_layer("body").kernel))


def test_find_lr_sweeps_the_groups_of_the_current_step_and_restores():
    from keras_lrx import find_lr

    x, y = regression_data(n=64)
    model = mlp()
    model.compile(
        LRX(
            keras.optimizers.Adam(1e-3),
            multipliers={"body": Thaw(0.5, start_step=3)},
        ),
        "mse",
    )
    model.optimizer.build(model.trainable_variables)
    initial = weights_of(model)
    result = find_lr(model, x, y, batch_size=4, num_steps=12, verbose=0)
    # At the sweep's start the body is frozen: groups 0 and 1, not 0.5.
    assert sorted(result.group_learning_rates) == [0.0, 1.0]
    for a, b in zip(initial, weights_of(model)):
        np.testing.assert_array_equal(a, b)
    assert int(to_np(model.optimizer.iterations)) == 0


def test_learning_rate_metric_logs_each_group_at_its_step():
    x, y = regression_data(n=16)
    model = mlp()
    thaw = Thaw(0.5, start_step=2, warmup_steps=2)
    optimizer = LRX(keras.optimizers.SGD(0.1), multipliers={"body": thaw})
    model.compile(
        optimizer, "mse", metrics=[LearningRateMetric(optimizer, groups=True)]
    )
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(float(logs["learning_rate/body"]))

    _fit_steps(model, x, y, 1, callbacks=[Record()])
    expected = [0.1 * _value(thaw, step) for step in range(4)]
    np.testing.assert_allclose(seen, expected, rtol=1e-6)


def test_learning_rate_metric_multiplies_a_label_over_combined_sources():
    # `combine(decay, thaw)` keyed by the same layers: each group's entry is
    # the rate its variables train at (base x every factor), not the last
    # factor's alone.
    x, y = regression_data(n=16)
    model = mlp()
    body, head = model.get_layer("body"), model.get_layer("head")
    thaw = Thaw(1.0, start_step=2, warmup_steps=2)
    optimizer = LRX(
        keras.optimizers.SGD(0.1),
        multipliers=combine({body: 0.5, head: 2.0}, {body: thaw}),
    )
    model.compile(
        optimizer, "mse", metrics=[LearningRateMetric(optimizer, groups=True)]
    )
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(
                (float(logs["learning_rate/body"]), logs["learning_rate/head"])
            )

    _fit_steps(model, x, y, 1, callbacks=[Record()])
    expected = [(0.05 * _value(thaw, step), 0.2) for step in range(4)]
    np.testing.assert_allclose(seen, expected, rtol=1e-6)


# ---------------------------------------------------------------------- #
# Combined multiplier sources.
# ---------------------------------------------------------------------- #
def _blocks_model():
    return keras.Sequential(
        [keras.Input((4,))]
        + [keras.layers.Dense(4, name=f"block_{i}") for i in range(3)]
        + [keras.layers.Dense(1, name="head")],
        name="toy",
    )


def test_combine_multiplies_each_sources_multiplier_in_any_order():
    model = _blocks_model()
    decay = layerwise_decay(model, 0.5, head=["head"])
    ratio = {r".*/bias": 4.0, "block_0": 0.0}
    thaw = {"block_2": Thaw(1.0, start_step=3)}
    variables = model.trainable_variables
    expected = {}
    for a, b, c in zip(
        MultiplierMap(decay).resolve(variables),
        MultiplierMap(ratio).resolve(variables),
        MultiplierMap(thaw).resolve(variables),
    ):
        expected[a.path] = [a.multiplier, b.multiplier, c.multiplier]
    for order in ([decay, ratio, thaw], [thaw, decay, ratio]):
        resolved = combine(*order).resolve(variables)
        for r in resolved:
            for step in (0, 2, 3, 7):
                want = np.prod([_value(f, step) for f in expected[r.path]])
                assert _value(r.multiplier, step) == pytest.approx(want)
        # A constant 0 from any source freezes for good (no slots).
        assert resolved[0].multiplier == 0.0
        source = {r.path: r.source for r in resolved}["toy/block_1/bias"]
        assert "<layer block_1>" in source and "'.*/bias'" in source


@pytest.mark.parametrize("combined", [False, True])
def test_an_unused_key_warns_at_the_callers_line(combined):
    model = mlp()
    typo = {"bodyy": 0.1}
    multipliers = combine(typo, {"head": 2.0}) if combined else typo
    optimizer = LRX(keras.optimizers.SGD(0.1), multipliers=multipliers)
    with pytest.warns(UserWarning, match="'bodyy'") as caught:
        optimizer.build(model.trainable_variables)
    assert [w.filename for w in caught] == [__file__]


def test_combined_multipliers_train_save_and_describe(tmp_path):
    x, y = regression_data(n=16, inputs=4)
    model = _blocks_model()
    multipliers = combine(
        layerwise_decay(model, 0.5, head=["head"]),
        {r".*/bias": 4.0},
        gradual_unfreezing(model, every_steps=2, head=["head"]),
    )
    optimizer = LRX(keras.optimizers.Adam(1e-2), multipliers=multipliers)
    model.compile(optimizer, "mse")
    _fit_steps(model, x, y, epochs=1)
    rows = optimizer.describe(print_fn=lambda text: None)
    row = {r["path"]: r for r in rows}["toy/block_1/bias"]
    # block_1 (of 3): decay 0.5 ** 2, bias ratio 4, thawed at step 4.
    assert "Thaw(1, start_step=4)" in repr(row["multiplier"])
    assert row["multiplier_now"] == pytest.approx(0.25 * 4.0)
    (clone,) = assert_round_trip(optimizer.multiplier_map, keras_object=False)
    assert [r.source for r in clone.resolve(model.trainable_variables)] == [
        r.source
        for r in optimizer.multiplier_map.resolve(model.trainable_variables)
    ]
    path = str(tmp_path / "combined.keras")
    model.save(path)
    resumed = keras.models.load_model(path)
    assert list(resumed.optimizer.current_multipliers().values()) == (
        pytest.approx(list(optimizer.current_multipliers().values()))
    )
    _fit_steps(model, x, y, epochs=1)
    _fit_steps(resumed, x, y, epochs=1)
    for a, b in zip(weights_of(model), weights_of(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------- #
# Gradual unfreezing.
# ---------------------------------------------------------------------- #
def test_gradual_unfreezing_thaws_one_block_every_n_steps():
    x, y = regression_data(n=16, inputs=4)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Embedding(10, 4, name="embed")]
        + [keras.layers.Dense(4, name=f"block_{i}") for i in range(3)]
        + [keras.layers.Flatten(), keras.layers.Dense(1, name="head")],
        name="net",
    )
    thaw = gradual_unfreezing(model, every_steps=2, head=["head"])
    starts = {layer.name: m.start_step for layer, m in thaw.items()}
    assert starts == {
        "embed": 8,
        "block_0": 6,
        "block_1": 4,
        "block_2": 2,
        "head": 0,
    }
    optimizer = LRX(keras.optimizers.SGD(0.05, momentum=0.9), multipliers=thaw)
    model.compile(optimizer, "mse")
    x = np.random.default_rng(0).integers(0, 10, size=(4, 4))
    weighted = [layer for layer in model.layers if layer.weights]
    initial = {layer.name: to_np(layer.weights[0]).copy() for layer in weighted}
    for step in range(10):
        model.train_on_batch(x, y[:4])
        for layer in weighted:
            same = np.array_equal(initial[layer.name], to_np(layer.weights[0]))
            assert same == (step < starts[layer.name]), (step, layer.name)


def test_train_bn_trains_batch_normalization_from_the_start():
    def block(i):
        return keras.Sequential(
            [
                keras.layers.Dense(4, name=f"dense_{i}"),
                keras.layers.BatchNormalization(name=f"bn_{i}"),
            ],
            name=f"block_{i}",
        )

    model = keras.Sequential(
        [keras.Input((4,))]
        + [block(i) for i in range(3)]
        + [keras.layers.Dense(1, name="head")],
        name="net",
    )
    variables = model.trainable_variables
    for train_bn in (True, False):
        thaw = gradual_unfreezing(model, 5, head=["head"], train_bn=train_bn)
        for r in MultiplierMap(thaw).resolve(variables):
            if "/head/" in r.path:
                assert r.multiplier.start_step == 0
                continue
            block_index = int(r.path.split("/")[1][-1])
            block_start = 5 * (3 - block_index)
            if "/bn_" in r.path and train_bn:
                assert r.multiplier.start_step == 0, r.path
            else:
                assert r.multiplier.start_step == block_start, r.path


# ---------------------------------------------------------------------- #
# Bad input.
# ---------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: Thaw(-1.0), ValueError, "`multiplier`"),
        (lambda: Thaw(1.0, start_step=-2), ValueError, "`start_step`"),
        (lambda: Thaw(1.0, start_step=1.5), ValueError, "`start_step`"),
        (lambda: Thaw(1.0, warmup_steps="3"), TypeError, "`warmup_steps`"),
        (lambda: Thaw(1.0, initial_fraction=1.5), ValueError, "fraction"),
        (lambda: MultiplierMap({"body": "fast"}), TypeError, "'fast'"),
        (lambda: MultiplierMap({"body": [0.1]}), TypeError, "multiplier"),
        (lambda: combine(), ValueError, "at least one"),
        (lambda: combine({"body": 0.1}, 3), TypeError, "`multipliers`"),
        (
            lambda: gradual_unfreezing(_blocks_model(), 0),
            ValueError,
            "`every_steps`",
        ),
        (
            lambda: gradual_unfreezing(_blocks_model(), 2, warmup_steps=-1),
            ValueError,
            "`warmup_steps`",
        ),
        (
            lambda: gradual_unfreezing(_blocks_model(), 2, train_bn=1),
            TypeError,
            "`train_bn`",
        ),
        (
            lambda: gradual_unfreezing("model", 2),
            TypeError,
            "`model`",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(make, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(")):
        make()


def test_a_multiplier_below_zero_freezes_like_zero():
    # A schedule is evaluated inside the compiled step, where it cannot
    # raise: a value <= 0 leaves the group as it is (never a gradient ascent).
    x, y = regression_data(n=8)
    model = mlp()
    model.compile(
        LRX(keras.optimizers.SGD(0.1), multipliers={"body": lambda t: -1.0}),
        "mse",
    )
    body = [to_np(w) for w in model.get_layer("body").weights]
    model.fit(x, y, batch_size=4, verbose=0)
    for a, w in zip(body, model.get_layer("body").weights):
        np.testing.assert_array_equal(a, to_np(w))


def test_thaw_round_trips():
    assert_round_trip(
        Thaw(0.5, start_step=3, warmup_steps=2, initial_fraction=0.1)
    )


@pytest.mark.parametrize(
    "thaw",
    [
        Thaw(0.5, start_step=3, warmup_steps=4, initial_fraction=0.1),
        Thaw(2.0, start_step=0, warmup_steps=1),
        Thaw(1.0, start_step=5),
        Thaw(0.0, start_step=2, warmup_steps=3),
    ],
)
def test_thaw_value_at_an_int_step_equals_its_tensor_value(thaw):
    steps = np.arange(12)
    tensor = [float(to_np(thaw(int(k)))) for k in steps]
    np.testing.assert_allclose(
        [thaw.value_at(int(k)) for k in steps], tensor, rtol=1e-6
    )
    # `active_from`: > 0 from that step on, 0 before (None: 0 for good).
    start = thaw.active_from()
    positive = [v > 0 for v in tensor]
    if start is None:
        assert not any(positive)
    else:
        assert positive == [k >= start for k in steps]


def test_equal_schedules_are_evaluated_as_one():
    from keras_lrx.multipliers import shared_schedules

    a, b, c = Thaw(1.0, 2), Thaw(1.0, 2), Thaw(1.0, 3)
    shared = shared_schedules([a, 0.5, b, c, _wavy, _wavy])
    assert shared[0] is shared[2] is a
    assert shared[3] is c and shared[1] == 0.5
    assert shared[4] is shared[5] is _wavy


@pytest.mark.parametrize(
    "options",
    [{"global_clipnorm": 0.01}, {"gradient_accumulation_steps": 2}],
)
def test_a_group_frozen_for_now_has_no_gradient(options):
    # PyTorch gives a frozen parameter no gradient: it counts in no global
    # norm and accumulates nothing. So the head trains exactly as it does
    # beside a body frozen for good (multiplier 0, left out of the pipeline).
    x, y = regression_data(n=20)  # 5 steps: the last one accumulates only
    initial = mlp().get_weights()
    results = []
    for body in (0.0, Thaw(1.0, start_step=100)):
        model = mlp()
        model.set_weights(initial)
        optimizer = LRX(
            keras.optimizers.SGD(0.1, momentum=0.9, **options),
            multipliers={"body": body},
        )
        model.compile(optimizer, "mse")
        _fit_steps(model, x, y, epochs=1)
        results.append(weights_of(model))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    accumulators = [
        v
        for v in optimizer.optimizer.variables
        if "body" in v.path and "accumulat" in v.path
    ]
    assert len(accumulators) == (
        2 if "gradient_accumulation_steps" in options else 0
    )
    for v in accumulators:
        np.testing.assert_array_equal(to_np(v), 0.0)


def test_an_optimizers_own_decay_rule_skips_a_group_frozen_for_now():
    from test_update_seam import _skip_unless_keras_runs_muon

    _skip_unless_keras_runs_muon()
    x, y = regression_data(n=16)
    model = mlp()
    model.compile(
        LRX(
            keras.optimizers.Muon(0.02, weight_decay=0.5),
            multipliers={"body": Thaw(1.0, start_step=4)},
        ),
        "mse",
    )
    body = to_np(model.get_layer("body").kernel).copy()
    _fit_steps(model, x, y, epochs=1)  # steps 0-3: frozen, not even decayed
    np.testing.assert_array_equal(body, to_np(model.get_layer("body").kernel))
    _fit_steps(model, x, y, epochs=1)
    assert not np.allclose(body, to_np(model.get_layer("body").kernel))


def test_the_range_test_holds_a_thaw_that_would_start_mid_sweep():
    from keras_lrx import LRFinder

    x, y = regression_data(n=32)  # 8 steps, the body's thaw at step 3
    model = mlp()
    model.compile(
        LRX(
            keras.optimizers.SGD(0.01),
            multipliers={"body": Thaw(1.0, start_step=3)},
        ),
        "mse",
    )
    body = to_np(model.get_layer("body").kernel).copy()
    head = to_np(model.get_layer("head").kernel).copy()
    finder = LRFinder(
        1e-3, 1e-1, num_steps=8, divergence_threshold=1e9, restore_state=False
    )
    _fit_steps(model, x, y, 1, callbacks=[finder])
    assert len(finder.result.learning_rates) == 8
    np.testing.assert_array_equal(body, to_np(model.get_layer("body").kernel))
    assert not np.allclose(head, to_np(model.get_layer("head").kernel))
    # After the sweep the thaw follows the step counter again.
    _fit_steps(model, x, y, 1)
    assert not np.allclose(body, to_np(model.get_layer("body").kernel))


class _GradientState(keras.callbacks.Callback):
    """Records, after each batch, whether `body`'s kernel had a gradient
    computed (torch: `requires_grad` and `.grad`)."""

    def __init__(self):
        super().__init__()
        self.rows = []

    def on_train_batch_end(self, batch, logs=None):
        if BACKEND == "torch":
            value = self.model.get_layer("body").kernel.value
            self.rows.append((value.requires_grad, value.grad is not None))


@pytest.mark.parametrize(
    "options",
    [{}, {"global_clipnorm": 0.05}, {"gradient_accumulation_steps": 2}],
)
def test_skip_frozen_gradients_trains_exactly_as_without_it(options):
    # 4 steps per epoch, 3 epochs; the body thaws at step 5 (a `Thaw`
    # starts at 0 exactly at its start step).
    import warnings

    from keras_lrx import SkipFrozenGradients

    x, y = regression_data(n=16)
    initial = mlp().get_weights()
    results, states = [], []
    for callbacks in ([], [SkipFrozenGradients()]):
        model = mlp()
        model.set_weights(initial)
        model.compile(
            LRX(
                keras.optimizers.AdamW(0.02, weight_decay=0.1, **options),
                multipliers={"body": Thaw(0.5, start_step=5, warmup_steps=2)},
            ),
            "mse",
        )
        state = _GradientState()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _fit_steps(model, x, y, epochs=3, callbacks=callbacks + [state])
        assert not [w for w in caught if "Gradients do not exist" in str(w)]
        results.append(weights_of(model))
        states.append(state.rows)
        applied = 12 // options.get("gradient_accumulation_steps", 1)
        assert int(to_np(model.optimizer.iterations)) == applied
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    if BACKEND != "torch":
        return  # one compiled step: nothing to turn off
    assert all(row == (True, True) for row in states[0])
    # Steps 0-4 frozen (5 and 6 warm up).
    expected = [(False, False)] * 5 + [(True, True)] * 7
    assert states[1] == expected
    body = model.get_layer("body")
    assert all(v.value.requires_grad for v in body.weights)


def test_skip_frozen_gradients_while_nothing_trains():
    # A step where every group is frozen has a loss with no gradient at all:
    # the callback leaves gradients on (torch would refuse the backward).
    from keras_lrx import SkipFrozenGradients

    x, y = regression_data(n=16)
    model = mlp()
    initial = [to_np(w) for w in model.weights]
    model.compile(
        LRX(
            keras.optimizers.SGD(0.1),
            multipliers={"body": Thaw(1.0, 2), "head": Thaw(1.0, 2)},
        ),
        "mse",
    )
    _fit_steps(model, x, y, epochs=1, callbacks=[SkipFrozenGradients()])
    assert int(to_np(model.optimizer.iterations)) == 4
    changed = [
        not np.array_equal(a, to_np(w)) for a, w in zip(initial, model.weights)
    ]
    assert all(changed)


def test_frozen_variables_looks_ahead_from_the_current_step():
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(3, name="a"),
            keras.layers.Dense(3, name="b"),
            keras.layers.Dense(1, name="c"),
        ]
    )
    optimizer = LRX(
        keras.optimizers.SGD(0.1),
        multipliers={"a": 0.0, "b": Thaw(1.0, start_step=3), "c": 1.0},
    )
    with pytest.raises(ValueError, match="needs a built optimizer"):
        optimizer.frozen_variables()
    optimizer.build(model.trainable_variables)

    def names(steps=1):
        frozen = optimizer.frozen_variables(steps)
        return [v.path.split("/")[-2] for v in frozen]

    assert names() == ["a", "a", "b", "b"]
    assert names(3) == ["a", "a", "b", "b"]
    assert names(4) == ["a", "a"]
    optimizer.iterations.assign(3)
    assert names() == ["a", "a"]
    optimizer.iterations.assign(2)
    with optimizer.hold_multipliers():  # held at step 2: b stays frozen
        assert names(10) == ["a", "a", "b", "b"]
    with pytest.raises(ValueError, match="`steps` must be >= 1"):
        optimizer.frozen_variables(0)
    with pytest.raises(TypeError, match="`steps`"):
        optimizer.frozen_variables(1.5)


def test_skip_frozen_gradients_needs_an_lrx():
    from keras_lrx import SkipFrozenGradients

    model = mlp()
    model.compile(keras.optimizers.SGD(0.1), "mse")
    x, y = regression_data(n=8)
    before = weights_of(model)
    with pytest.raises(TypeError, match="needs a model compiled with"):
        _fit_steps(model, x, y, epochs=1, callbacks=[SkipFrozenGradients()])
    for a, b in zip(before, weights_of(model)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(BACKEND != "torch", reason="torch's requires_grad")
def test_a_missing_gradient_of_a_variable_that_trains_is_still_reported():
    model = mlp()
    model.compile(
        LRX(
            keras.optimizers.SGD(0.1),
            multipliers={"body": Thaw(1.0, start_step=100)},
        ),
        "mse",
    )
    model.get_layer("head").kernel.value.requires_grad_(False)
    x, y = regression_data(n=8)
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        _fit_steps(model, x, y, epochs=1)


def test_a_variable_without_a_gradient_beside_a_thaw_trains_on():
    # A variable the loss does not reach has no gradient on TensorFlow and
    # torch (JAX gives zeros): Keras warns and leaves it; the thaw goes on.
    import warnings

    class WithUnused(keras.Model):
        def __init__(self):
            super().__init__()
            self.body = keras.layers.Dense(4, name="body")
            self.head = keras.layers.Dense(1, name="head")
            self.unused = keras.layers.Dense(2, name="unused")

        def build(self, input_shape):
            self.body.build(input_shape)
            self.head.build((None, 4))
            self.unused.build(input_shape)

        def call(self, x):
            return self.head(self.body(x))

    model = WithUnused()
    model.build((None, 6))
    unused = [to_np(w) for w in model.unused.weights]
    body = to_np(model.body.kernel)
    model.compile(
        LRX(keras.optimizers.SGD(0.1), multipliers={"body": Thaw(1.0, 2)}),
        "mse",
    )
    x, y = regression_data(n=16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras: "Gradients do not exist"
        _fit_steps(model, x, y, epochs=1)
    assert int(to_np(model.optimizer.iterations)) == 4
    assert not np.array_equal(body, to_np(model.body.kernel))
    for a, w in zip(unused, model.unused.weights):
        np.testing.assert_array_equal(a, to_np(w))
