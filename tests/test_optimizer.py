"""LRX against independent references, on every backend."""

import keras
import numpy as np
import pytest
from conftest import BACKEND
from conftest import assert_round_trip
from conftest import mlp
from conftest import regression_data
from conftest import to_np
from conftest import weights_of

from keras_lrx.optimizer import LRX

SHAPES = [(4, 3), (3,), (5, 2), (2,)]
MULTIPLIERS = [0.1, 1.0, 0.0, 2.5]
LR = 0.01


class SignSGD(keras.optimizers.Optimizer):
    """A user's optimizer that only implements `update_step`."""

    def __init__(self, learning_rate=0.01, name="sign_sgd", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)

    def build(self, variables):
        super().build(variables)
        self.steps_seen = self.add_optimizer_variables(variables, "seen")

    def update_step(self, gradient, variable, learning_rate):
        lr = keras.ops.cast(learning_rate, variable.dtype)
        seen = self.steps_seen[self._get_variable_index(variable)]
        self.assign_add(seen, keras.ops.ones(seen.shape, seen.dtype))
        self.assign_sub(variable, lr * keras.ops.sign(gradient))


class PlainAdam(keras.optimizers.Adam):
    """A user's subclass: Keras's torch backend does not swap it for its own."""


OPTIMIZERS = {
    "sgd": lambda lr: keras.optimizers.SGD(lr),
    "sgd_momentum_decay": lambda lr: keras.optimizers.SGD(
        lr, momentum=0.9, weight_decay=0.02
    ),
    "sgd_nesterov": lambda lr: keras.optimizers.SGD(
        lr, momentum=0.9, nesterov=True
    ),
    "adam": lambda lr: keras.optimizers.Adam(lr),
    "adam_amsgrad": lambda lr: keras.optimizers.Adam(lr, amsgrad=True),
    "adamw": lambda lr: keras.optimizers.AdamW(lr, weight_decay=0.05),
    "adamw_amsgrad": lambda lr: keras.optimizers.AdamW(
        lr, weight_decay=0.05, amsgrad=True
    ),
    "adamax": lambda lr: keras.optimizers.Adamax(lr),
    "adamax_decay": lambda lr: keras.optimizers.Adamax(lr, weight_decay=0.05),
    "nadam": lambda lr: keras.optimizers.Nadam(lr),
    "nadam_decay": lambda lr: keras.optimizers.Nadam(lr, weight_decay=0.05),
    "rmsprop": lambda lr: keras.optimizers.RMSprop(lr),
    "rmsprop_centered": lambda lr: keras.optimizers.RMSprop(
        lr, centered=True, weight_decay=0.05
    ),
    "rmsprop_centered_momentum": lambda lr: keras.optimizers.RMSprop(
        lr, centered=True, momentum=0.5
    ),
    "rmsprop_momentum": lambda lr: keras.optimizers.RMSprop(lr, momentum=0.9),
    "adagrad": lambda lr: keras.optimizers.Adagrad(lr),
    "adagrad_decay": lambda lr: keras.optimizers.Adagrad(lr, weight_decay=0.05),
    "adadelta": lambda lr: keras.optimizers.Adadelta(lr * 100),
    "adadelta_decay": lambda lr: keras.optimizers.Adadelta(
        lr * 100, weight_decay=0.0005
    ),
    "adafactor": lambda lr: keras.optimizers.Adafactor(lr),
    "ftrl": lambda lr: keras.optimizers.Ftrl(lr),
    "lion": lambda lr: keras.optimizers.Lion(lr, weight_decay=0.01),
    "lamb": lambda lr: keras.optimizers.Lamb(lr),
    "user_subclass": lambda lr: SignSGD(lr),
    "adam_subclass": lambda lr: PlainAdam(lr),
}
#: Those that Keras's torch backend runs as its own `foreach` update.
TORCH_STOCK = sorted(
    set(OPTIMIZERS)
    - {"adafactor", "ftrl", "lamb", "user_subclass", "adam_subclass"}
)


def make_problem(seed=0, steps=6):
    rng = np.random.default_rng(seed)
    inits = [rng.normal(size=s).astype("float32") for s in SHAPES]
    grads = [
        [rng.normal(size=s).astype("float32") for s in SHAPES]
        for _ in range(steps)
    ]
    return inits, grads


def run_reference(factory, lr, init, grads, index):
    """A separate optimizer instance at lr*m on one variable alone."""
    variable = keras.Variable(init, name=f"ref{index}")
    optimizer = factory(lr)
    for g in grads:
        optimizer.apply([keras.ops.convert_to_tensor(g[index])], [variable])
    return to_np(variable)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_each_variable_matches_a_separate_optimizer_at_lr_times_m(name):
    factory = OPTIMIZERS[name]
    inits, grads = make_problem()
    variables = [keras.Variable(x, name=f"v{i}") for i, x in enumerate(inits)]
    optimizer = LRX(
        factory(LR),
        multipliers={f"v{i}": m for i, m in enumerate(MULTIPLIERS)},
    )
    for g in grads:
        optimizer.apply([keras.ops.convert_to_tensor(x) for x in g], variables)

    for i, m in enumerate(MULTIPLIERS):
        if m == 0.0:
            np.testing.assert_array_equal(to_np(variables[i]), inits[i])
            continue
        scale = 100 if name.startswith("adadelta") else 1
        expected = run_reference(
            lambda lr: factory(lr / scale), LR * m * scale, inits[i], grads, i
        )
        np.testing.assert_allclose(
            to_np(variables[i]), expected, rtol=1e-5, atol=1e-6
        )
    assert int(to_np(optimizer.iterations)) == len(grads)

    # The frozen variable has no slots: the wrapped optimizer holds exactly
    # what the same optimizer built on the three other variables holds.
    active = [v for v, m in zip(variables, MULTIPLIERS) if m]
    bare = factory(LR)
    bare.build(active)
    assert len(optimizer.optimizer.variables) == len(bare.variables)
    assert not any(
        "v2" in v.path.split("/")[-1] for v in optimizer.optimizer.variables
    )


@pytest.mark.skipif(BACKEND == "tensorflow", reason="no stateless_apply on TF")
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_stateless_apply_matches_apply(name):
    # Keras's JAX trainer calls `stateless_apply`; every rule gives there
    # what `apply` gives (and so what the separate optimizers above give).
    factory = OPTIMIZERS[name]
    inits, grads = make_problem(steps=3)
    multipliers = {f"v{i}": m for i, m in enumerate(MULTIPLIERS)}
    results = []
    for stateless in (False, True):
        variables = [
            keras.Variable(x, name=f"v{i}") for i, x in enumerate(inits)
        ]
        optimizer = LRX(factory(LR), multipliers=multipliers)
        optimizer.build(variables)
        values = [keras.ops.copy(v.value) for v in variables]
        state = [keras.ops.copy(v.value) for v in optimizer.variables]
        for g in grads:
            g = [keras.ops.convert_to_tensor(x) for x in g]
            if stateless:
                values, state = optimizer.stateless_apply(state, g, values)
            else:
                optimizer.apply(g, variables)
        if not stateless:
            values = list(variables)
            state = list(optimizer.variables)
        results.append(([to_np(v) for v in values], [to_np(v) for v in state]))
    for want, got in zip(*(a + b for a, b in results)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def assert_same_training(make_bare, make_wrapped, epochs=2, seed=7):
    """Fits the same model with each optimizer; the weights must agree."""
    x, y = regression_data()
    results = []
    for make in (make_bare, make_wrapped):
        keras.utils.set_random_seed(seed)
        model = mlp()
        model.compile(optimizer=make(), loss="mse")
        model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0)
        results.append(weights_of(model))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["adam", "sgd_nesterov", "nadam", "lion"])
def test_without_multipliers_lrx_equals_bare_optimizer_through_fit(name):
    assert_same_training(
        lambda: OPTIMIZERS[name](0.01), lambda: LRX(OPTIMIZERS[name](0.01))
    )


def test_schedule_given_to_lrx_equals_schedule_given_to_optimizer():
    schedule = keras.optimizers.schedules.CosineDecay(0.05, decay_steps=8)
    assert_same_training(
        lambda: keras.optimizers.Adam(schedule),
        lambda: LRX(keras.optimizers.Adam(), schedule=schedule),
    )


def _one_sgd_step_deltas(optimizer, jit_compile="auto", functional=False):
    x, y = regression_data(n=16)
    keras.utils.set_random_seed(3)
    model = mlp(functional=functional)
    before = weights_of(model)
    model.compile(optimizer=optimizer, loss="mse", jit_compile=jit_compile)
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    return [a - b for a, b in zip(weights_of(model), before)]


@pytest.mark.parametrize("functional", [False, True])
def test_fit_scales_each_layers_step_by_its_multiplier(functional):
    # One plain-SGD step: delta = -lr * m * grad. The bare optimizer at lr=1
    # gives -grad, an independent reference.
    jit = True if BACKEND == "tensorflow" else "auto"
    reference = _one_sgd_step_deltas(keras.optimizers.SGD(1.0), jit, functional)
    deltas = _one_sgd_step_deltas(
        LRX(
            keras.optimizers.SGD(0.1),
            multipliers={"body": 0.5, "head/bias": 0.0},
        ),
        jit,
        functional,
    )
    expected_m = [0.5, 0.5, 1.0, 0.0]  # body kernel, body bias, head k, head b
    for delta, ref, m in zip(deltas, reference, expected_m):
        np.testing.assert_allclose(delta, 0.1 * m * ref, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize(
    "schedule, expected",
    [
        (0.3, [0.3, 0.3, 0.3]),
        (
            # Keras: value 0 while step <= boundary
            keras.optimizers.schedules.PiecewiseConstantDecay([1], [0.3, 0.1]),
            [0.3, 0.3, 0.1],
        ),
        (
            lambda step: 0.1 * (keras.ops.cast(step, "float32") + 1),
            [0.1, 0.2, 0.3],
        ),
    ],
    ids=["float", "schedule", "callable"],
)
def test_base_rate_at_step_t_is_schedule_of_t(schedule, expected):
    variable = keras.Variable(np.zeros(2, "float32"), name="w")
    optimizer = LRX(keras.optimizers.SGD(), schedule=schedule)
    grad = keras.ops.ones((2,))
    seen = []
    for _ in expected:
        seen.append(float(to_np(optimizer.learning_rate)))
        optimizer.apply([grad], [variable])
    np.testing.assert_allclose(seen, expected, rtol=1e-6)
    # SGD: w = -sum(lr_t) * 1
    np.testing.assert_allclose(to_np(variable), -sum(expected), rtol=1e-6)


def test_schedule_none_uses_the_wrapped_optimizers_rate():
    optimizer = LRX(keras.optimizers.SGD(0.25))
    assert float(to_np(optimizer.learning_rate)) == pytest.approx(0.25)
    optimizer.learning_rate = 0.5
    assert float(to_np(optimizer.optimizer.learning_rate)) == 0.5
    assert float(to_np(optimizer.learning_rate)) == pytest.approx(0.5)


def test_assigning_the_rate_rescales_a_schedule():
    schedule = keras.optimizers.schedules.ExponentialDecay(1.0, 1, 0.5)
    optimizer = LRX(keras.optimizers.SGD(), schedule=schedule)
    variable = keras.Variable(np.zeros(1, "float32"), name="w")
    optimizer.apply([keras.ops.ones((1,))], [variable])  # step 1 now: 0.5
    assert float(to_np(optimizer.learning_rate)) == pytest.approx(0.5)
    optimizer.learning_rate = 0.05  # scale 0.1
    assert float(to_np(optimizer.learning_rate)) == pytest.approx(0.05)
    optimizer.apply([keras.ops.ones((1,))], [variable])
    # the shape continues, scaled: 0.1 * 0.25
    assert float(to_np(optimizer.learning_rate)) == pytest.approx(0.025)
    np.testing.assert_allclose(to_np(variable), [-(1.0 + 0.05)], rtol=1e-6)


def test_assigning_a_rate_where_the_schedule_is_zero_is_an_error():
    schedule = keras.optimizers.schedules.PolynomialDecay(
        0.0, 10, end_learning_rate=0.0
    )
    optimizer = LRX(keras.optimizers.SGD(), schedule=schedule)
    with pytest.raises(ValueError, match="schedule's value at step 0 is 0"):
        optimizer.learning_rate = 0.1
    optimizer.learning_rate = 0.0  # harmless


def test_keras_callbacks_drive_a_scheduled_lrx():
    x, y = regression_data()
    schedule = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=100)
    optimizer = LRX(keras.optimizers.SGD(), schedule=schedule)
    model = mlp()
    model.compile(optimizer=optimizer, loss="mse")
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        verbose=0,
        callbacks=[keras.callbacks.LearningRateScheduler(lambda e, lr: lr / 2)],
    )
    # At each epoch start the callback halves the current rate, which
    # halves the schedule's scale; the cosine continues from there.
    step = int(to_np(optimizer.iterations))
    assert step == 8
    assert float(to_np(optimizer._lr_scale)) == pytest.approx(0.25, rel=1e-5)
    assert float(to_np(optimizer.learning_rate)) == pytest.approx(
        0.25 * float(to_np(schedule(step))), rel=1e-5
    )
    assert history.history["learning_rate"][-1] == pytest.approx(
        float(to_np(optimizer.learning_rate)), rel=1e-5
    )


def test_group_ratios_survive_reduce_lr_on_plateau():
    x, y = regression_data()
    optimizer = LRX(
        keras.optimizers.SGD(),
        schedule=keras.optimizers.schedules.CosineDecay(0.1, 1000),
        multipliers={"body": 0.1},
    )
    model = mlp()
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=3,
        verbose=0,
        callbacks=[
            keras.callbacks.ReduceLROnPlateau(
                monitor="loss", factor=0.5, patience=0, min_delta=1e9
            )
        ],
    )
    # Epoch 1 sets the best loss; epochs 2 and 3 "plateau" (min_delta is
    # huge): the schedule is scaled by 0.5 twice.
    assert float(to_np(optimizer._lr_scale)) == pytest.approx(0.25, rel=1e-5)
    rates = optimizer.effective_learning_rates()
    assert rates[0.1] / rates[1.0] == pytest.approx(0.1)


def _decay_only_step(follows, exclude=False):
    variables = [
        keras.Variable(np.full((3,), 2.0, "float32"), name="a"),
        keras.Variable(np.full((3,), 2.0, "float32"), name="b"),
    ]
    inner = keras.optimizers.AdamW(0.1, weight_decay=0.5)
    if exclude:
        inner.exclude_from_weight_decay(var_names=["b"])
    optimizer = LRX(
        inner,
        multipliers={"a": 0.2},
        weight_decay_follows_multiplier=follows,
    )
    zeros = [keras.ops.zeros((3,)), keras.ops.zeros((3,))]
    optimizer.apply(zeros, variables)  # Adam moves nothing on a zero grad
    return [to_np(v) for v in variables]


def test_weight_decay_follows_the_multiplier():
    a, b = _decay_only_step(follows=True)
    np.testing.assert_allclose(a, 2.0 * (1 - 0.1 * 0.2 * 0.5), rtol=1e-6)
    np.testing.assert_allclose(b, 2.0 * (1 - 0.1 * 0.5), rtol=1e-6)


def test_weight_decay_at_the_base_rate_when_switched_off():
    a, b = _decay_only_step(follows=False)
    np.testing.assert_allclose(a, 2.0 * (1 - 0.1 * 0.5), rtol=1e-6)
    np.testing.assert_allclose(b, 2.0 * (1 - 0.1 * 0.5), rtol=1e-6)


def test_exclude_from_weight_decay_still_holds():
    a, b = _decay_only_step(follows=True, exclude=True)
    np.testing.assert_allclose(a, 2.0 * (1 - 0.1 * 0.2 * 0.5), rtol=1e-6)
    np.testing.assert_allclose(b, 2.0, rtol=1e-6)


@pytest.mark.parametrize(
    "clip", [{"clipnorm": 1.0}, {"clipvalue": 0.3}, {"global_clipnorm": 1.0}]
)
def test_clipping_is_done_by_the_wrapped_optimizer(clip):
    inits, grads = make_problem(steps=3)
    grads = [[3 * g for g in step] for step in grads]
    variables = [keras.Variable(x, name=f"v{i}") for i, x in enumerate(inits)]
    optimizer = LRX(
        keras.optimizers.SGD(LR, **clip),
        multipliers={f"v{i}": m for i, m in enumerate(MULTIPLIERS)},
    )
    expected = [x.copy() for x in inits]
    for step in grads:
        optimizer.apply(
            [keras.ops.convert_to_tensor(g) for g in step], variables
        )
        # NumPy reference: clip as Keras documents it, over the variables
        # that get an update (frozen ones are not part of the step).
        live = [g for g, m in zip(step, MULTIPLIERS) if m]
        if "clipnorm" in clip:
            clipped = [g * min(1.0, 1.0 / np.linalg.norm(g)) for g in live]
        elif "clipvalue" in clip:
            clipped = [np.clip(g, -0.3, 0.3) for g in live]
        else:
            norm = np.sqrt(sum(np.sum(g**2) for g in live))
            clipped = [g * min(1.0, 1.0 / norm) for g in live]
        it = iter(clipped)
        for i, m in enumerate(MULTIPLIERS):
            if m:
                expected[i] = expected[i] - LR * m * next(it)
    for v, e in zip(variables, expected):
        np.testing.assert_allclose(to_np(v), e, rtol=1e-5, atol=1e-6)


def test_gradient_accumulation():
    inits, grads = make_problem(steps=4)
    variables = [keras.Variable(x, name=f"v{i}") for i, x in enumerate(inits)]
    optimizer = LRX(
        keras.optimizers.SGD(LR, gradient_accumulation_steps=2),
        multipliers={f"v{i}": m for i, m in enumerate(MULTIPLIERS)},
    )
    for step in grads:
        optimizer.apply(
            [keras.ops.convert_to_tensor(g) for g in step], variables
        )
    for i, m in enumerate(MULTIPLIERS):
        expected = inits[i].copy()
        for k in (0, 2):
            mean = (grads[k][i] + grads[k + 1][i]) / 2
            expected = expected - LR * m * mean
        np.testing.assert_allclose(to_np(variables[i]), expected, rtol=1e-5)
    assert int(to_np(optimizer.iterations)) == 2  # updates, as Keras counts


def test_ema_matches_bare_optimizer_and_spares_frozen_variables():
    def sgd_ema():
        return keras.optimizers.SGD(0.05, use_ema=True, ema_momentum=0.9)

    assert_same_training(sgd_ema, lambda: LRX(sgd_ema()), seed=5)

    x, y = regression_data()
    keras.utils.set_random_seed(5)
    model = mlp()
    # Values whose 0.9 * v + 0.1 * v is one rounding off v in float32: the
    # frozen variable's EMA stand-in must not be updated.
    pool = np.random.default_rng(0).normal(size=20000).astype("float32")
    m = np.float32(0.9)
    off = pool[(m * pool + (np.float32(1) - m) * pool) != pool]
    kernel = off[:48].reshape(6, 8)
    model.get_layer("body").kernel.assign(kernel)
    frozen_before = to_np(model.get_layer("body").kernel)
    inner = keras.optimizers.SGD(0.05, use_ema=True, ema_momentum=0.9)
    model.compile(
        optimizer=LRX(inner, multipliers={"body/kernel": 0.0}), loss="mse"
    )
    swap = keras.callbacks.SwapEMAWeights(swap_on_epoch=True)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[swap])
    np.testing.assert_array_equal(
        to_np(model.get_layer("body").kernel), frozen_before
    )


def test_loss_scale_factor_of_the_wrapped_optimizer():
    def scaled_sgd():
        return keras.optimizers.SGD(0.05, loss_scale_factor=64.0)

    assert_same_training(
        scaled_sgd, lambda: LRX(scaled_sgd()), epochs=1, seed=5
    )


def test_mixed_float16_wraps_lrx_in_a_loss_scale_optimizer():
    keras.config.set_dtype_policy("mixed_float16")
    x, y = regression_data()
    model = mlp()
    body_kernel = to_np(model.get_layer("body").kernel)
    head_kernel = to_np(model.get_layer("head").kernel)
    optimizer = LRX(keras.optimizers.Adam(0.01), multipliers={"body": 0.0})
    model.compile(optimizer=optimizer, loss="mse")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    np.testing.assert_array_equal(
        to_np(model.get_layer("body").kernel), body_kernel
    )
    assert not np.allclose(to_np(model.get_layer("head").kernel), head_kernel)
    # Each applied step counted once. A step whose scaled gradients
    # overflowed float16 is skipped and halves the loss scale (from 2**15;
    # it grows only every 2,000 steps): Keras 3.16's initial weights make
    # the first step overflow on JAX, for Adam alone as for LRX.
    scale = float(to_np(model.optimizer.dynamic_scale))
    skipped = round(np.log2(2.0**15 / scale))
    assert int(to_np(model.optimizer.iterations)) + skipped == 8
    assert skipped <= 1


def _count_update_calls(name, multipliers, steps=2, own=None):
    """Applies `steps` steps; returns how many variables each call of the
    wrapped optimizer's own update (`own`, else the one Keras would call)
    saw."""
    inits, grads = make_problem(steps=steps)
    variables = [keras.Variable(x, name=f"v{i}") for i, x in enumerate(inits)]
    optimizer = LRX(OPTIMIZERS[name](LR), multipliers=multipliers)
    optimizer.build(variables)
    inner = optimizer.optimizer
    calls = []
    own = own or (
        "_parallel_update_step"
        if hasattr(inner, "_parallel_update_step")
        else "update_step"
    )
    update = getattr(inner, own)

    def counting(grads, variables, learning_rate):
        calls.append(len(variables) if isinstance(variables, list) else 1)
        return update(grads, variables, learning_rate)

    object.__setattr__(inner, own, counting)
    for step in grads:
        optimizer.apply(
            [keras.ops.convert_to_tensor(g) for g in step], variables
        )
    return calls


@pytest.mark.skipif(BACKEND != "torch", reason="torch's one-pass update")
@pytest.mark.parametrize("name", TORCH_STOCK)
def test_torch_updates_every_group_in_one_pass(name):
    # Three groups (0.1, 2.0 and 1.0) and a frozen variable: Keras's own
    # per-call update, whose cost on torch is per call, never runs; LRX's
    # one-pass rule does (its result: the equality tests above).
    calls = _count_update_calls(name, {"v0": 0.1, "v2": 0.0, "v3": 2.0})
    assert calls == []


@pytest.mark.skipif(BACKEND != "torch", reason="torch's one-pass update")
@pytest.mark.parametrize("form", ["two_passes", "chunks"])
@pytest.mark.parametrize("name", TORCH_STOCK)
def test_torch_other_forms_of_the_one_pass_update(name, form, monkeypatch):
    # Off the CPU the multipliers are applied as a second foreach pass of
    # Python scalars (one kernel launch); on the CPU a long list runs in
    # chunks (the step's scalars, Nadam's u_product, once per step). Force
    # each form here and check it against the separate optimizers too.
    from keras_lrx._engine import torch_fused as _torch_fused

    if form == "chunks":
        monkeypatch.setattr(_torch_fused, "CPU_CHUNK_ELEMENTS", 5)
        values = [keras.Variable(np.zeros(s)).value for s in SHAPES]
        assert len(_torch_fused._chunks(values, 5)) == 3
    else:

        class TwoPasses(_torch_fused.Multipliers):
            def __init__(self, multipliers, device):
                super().__init__(multipliers, device, per_tensor=False)

        monkeypatch.setattr(_torch_fused, "Multipliers", TwoPasses)
    test_each_variable_matches_a_separate_optimizer_at_lr_times_m(name)


def _torch_cuda():
    if BACKEND != "torch":
        return False
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(not _torch_cuda(), reason="needs torch with a CUDA GPU")
@pytest.mark.parametrize("name", TORCH_STOCK)
def test_torch_one_pass_update_in_its_accelerator_form(name, monkeypatch):
    # On a GPU (where Keras's torch backend puts the variables) the one-pass
    # rules multiply by the rate, then by the multipliers as Python scalars:
    # two kernel launches. Runs only there; checked against the separate
    # optimizers at lr x m, like the CPU form.
    from keras_lrx._engine import torch_fused as _torch_fused

    assert keras.Variable(np.zeros(3)).value.device.type == "cuda"
    forms = []

    class Recorded(_torch_fused.Multipliers):
        def __init__(self, multipliers, device, per_tensor=None):
            super().__init__(multipliers, device, per_tensor)
            forms.append((device.type, self.per_tensor))

    monkeypatch.setattr(_torch_fused, "Multipliers", Recorded)
    test_each_variable_matches_a_separate_optimizer_at_lr_times_m(name)
    assert forms and set(forms) == {("cuda", False)}


@pytest.mark.skipif(BACKEND != "torch", reason="torch's one-pass update")
def test_torch_one_group_runs_the_same_rule_as_many():
    # One group (at 1 or another multiplier) takes the same one-pass rule as
    # several: no switch between Keras's rule and LRX's with the grouping.
    assert _count_update_calls("adam", {"v2": 0.0}) == []
    assert _count_update_calls("adam", {"v.": 0.5}) == []


@pytest.mark.skipif(BACKEND != "torch", reason="torch's one-pass update")
@pytest.mark.parametrize("name", ["adam", "nadam", "sgd"])
def test_torch_stock_optimizer_with_an_unknown_option_runs_its_own_update(
    name, monkeypatch
):
    # An option the one-pass rules do not know (here: one taken out of the
    # table, as if a later Keras had added it) sends a stock optimizer to
    # its own per-variable `update_step`, still exact (Nadam's per-step
    # state included).
    from keras_lrx import _keras_compat as compat

    cls = type(OPTIMIZERS[name](LR)).__name__
    option = sorted(compat.TORCH_RULE_OPTIONS[cls])[0]
    monkeypatch.setitem(
        compat.TORCH_RULE_OPTIONS,
        cls,
        compat.TORCH_RULE_OPTIONS[cls] - {option},
    )
    multipliers = {"v0": 0.1, "v2": 0.0, "v3": 2.0}
    assert _count_update_calls(name, multipliers) == []
    calls = _count_update_calls(name, multipliers, own="update_step")
    assert calls == [1, 1, 1] * 2  # Keras's own call, per variable
    test_each_variable_matches_a_separate_optimizer_at_lr_times_m(name)


@pytest.mark.skipif(BACKEND != "torch", reason="torch's one-pass update")
def test_torch_other_optimizers_run_their_own_update():
    # A subclass or a user's optimizer is not run by LRX's one-pass rule:
    # its own update runs (per variable here, Keras's base-class loop).
    calls = _count_update_calls(
        "adam_subclass", {"v0": 0.1, "v1": 0.1, "v2": 0.0, "v3": 2.0}, steps=1
    )
    assert sorted(calls) == [1, 1, 1]  # per variable: Keras's base loop
    assert _count_update_calls(
        "user_subclass", {"v0": 0.1, "v2": 0.0}, steps=1
    ) == [1, 1, 1]


def test_save_load_resume_equals_an_uninterrupted_run(tmp_path):
    x, y = regression_data()

    def build():
        keras.utils.set_random_seed(11)
        model = mlp()
        optimizer = LRX(
            keras.optimizers.Adam(),
            schedule=keras.optimizers.schedules.CosineDecay(0.05, 40),
            multipliers={model.get_layer("body"): 0.1, r".*/bias": 0.0},
        )
        model.compile(optimizer=optimizer, loss="mse")
        return model

    uninterrupted = build()
    uninterrupted.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)

    model = build()
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    model.optimizer.learning_rate = 0.01  # a plateau-like rescale to restore
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.optimizer, LRX)
    assert int(to_np(loaded.optimizer.iterations)) == 8
    # The layer key beats the bias pattern for body/bias.
    expected = [0.1, 0.1, 1.0, 0.0]
    assert list(model.optimizer.variable_multipliers.values()) == expected
    assert list(loaded.optimizer.variable_multipliers.values()) == expected
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(to_np(a), to_np(b))
    assert float(to_np(loaded.optimizer.learning_rate)) == pytest.approx(0.01)

    # Without the rescale, resuming equals the uninterrupted run.
    model = build()
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    model.save(path)
    loaded = keras.models.load_model(path)
    loaded.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(weights_of(loaded), weights_of(uninterrupted)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_config_round_trip():
    optimizer = LRX(
        keras.optimizers.AdamW(0.002, weight_decay=0.01, clipnorm=1.0),
        schedule=keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9),
        multipliers={"body": 0.1, r".*/bias": 0.0},
        weight_decay_follows_multiplier=False,
        name="tuner",
    )
    for restored in assert_round_trip(optimizer):
        assert restored.optimizer.clipnorm == 1.0
        assert restored.name == "tuner"
    constant = LRX(keras.optimizers.SGD(), schedule=0.3)
    assert constant.get_config()["schedule"] == pytest.approx(0.3)
    assert_round_trip(constant)


def test_describe_lists_every_variable():
    model = mlp()
    optimizer = LRX(
        keras.optimizers.SGD(0.1), multipliers={"body": 0.5, "head/bias": 0.0}
    )
    optimizer.build(model.trainable_variables)
    lines = []
    rows = optimizer.describe(print_fn=lines.append)
    text = lines[0]
    assert "sequential/body/kernel" in text and "'body' (layer)" in text
    assert "1 frozen of 4 variables" in text
    assert [r["learning_rate"] for r in rows] == pytest.approx(
        [0.05, 0.05, 0.1, 0.0]
    )
    assert rows[0]["shape"] == (6, 8)


def test_errors():
    with pytest.raises(TypeError, match="`optimizer` must be a"):
        LRX(object())
    with pytest.raises(ValueError, match="`clipnorm`.*belong"):
        LRX(keras.optimizers.SGD(), clipnorm=1.0)
    with pytest.raises(TypeError, match="LossScaleOptimizer"):
        LRX(keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD()))
    with pytest.raises(TypeError, match="already an LRX"):
        LRX(LRX(keras.optimizers.SGD()))
    built = keras.optimizers.SGD()
    built.build([keras.Variable(np.zeros(2), name="w")])
    with pytest.raises(ValueError, match="already built"):
        LRX(built)
    with pytest.raises(TypeError, match="`schedule` must be"):
        LRX(keras.optimizers.SGD(), schedule="fast")
    with pytest.raises(ValueError, match="`schedule` must be a finite"):
        LRX(keras.optimizers.SGD(), schedule=-1.0)
    with pytest.raises(ValueError, match="`multipliers` must be >= 0"):
        LRX(keras.optimizers.SGD(), multipliers={"body": -1})
    with pytest.raises(TypeError, match="`multipliers` must be a number"):
        LRX(keras.optimizers.SGD(), multipliers={"body": "0.1"})
    for flag in ("weight_decay_follows_multiplier", "strict"):
        with pytest.raises(TypeError, match=f"`{flag}` must be a bool.*'no'"):
            LRX(keras.optimizers.SGD(), **{flag: "no"})
    model = mlp()
    optimizer = LRX(
        keras.optimizers.SGD(), multipliers={"bdy": 0.1}, strict=True
    )
    with pytest.raises(ValueError, match="'bdy'.*sequential/body/kernel"):
        model.compile(optimizer=optimizer, loss="mse")
        model.fit(*regression_data(n=4), verbose=0)
    assert not optimizer.built
    inner = optimizer.optimizer
    assert inner.variables == [inner._iterations, inner._learning_rate]
    with pytest.raises(ValueError, match="learning rate must be a finite"):
        LRX(keras.optimizers.SGD()).learning_rate = float("nan")
    with pytest.raises(ValueError, match="needs a built optimizer"):
        LRX(keras.optimizers.SGD()).describe()
    with pytest.raises(ValueError, match="needs a built optimizer"):
        LRX(keras.optimizers.SGD()).effective_learning_rates()


def test_everything_frozen_still_counts_steps():
    variable = keras.Variable(np.ones(2, "float32"), name="w")
    optimizer = LRX(keras.optimizers.Adam(), multipliers={"w": 0.0})
    optimizer.apply([keras.ops.ones((2,))], [variable])
    assert int(to_np(optimizer.iterations)) == 1
    np.testing.assert_array_equal(to_np(variable), [1.0, 1.0])
    assert len(optimizer.optimizer.variables) == 2


def test_plot_multipliers_draws_each_variables_multiplier_now():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_lrx.schedules import Thaw

    model = mlp()
    optimizer = LRX(
        keras.optimizers.Adam(),
        multipliers={"body": Thaw(0.1, start_step=5), "head/bias": 0.5},
    )
    with pytest.raises(ValueError, match="plot_multipliers"):
        optimizer.plot_multipliers()
    optimizer.build(model.trainable_variables)
    ax = optimizer.plot_multipliers()
    try:
        heights = [p.get_height() for p in ax.patches]
        paths = [v.path for v in model.trainable_variables]
        expected = [
            0.0
            if "/body/" in f"/{p}"
            else 0.5
            if p.endswith("head/bias")
            else 1.0
            for p in paths
        ]
        assert heights == pytest.approx(expected)
        ticks = [t.get_text() for t in ax.get_xticklabels()]
        assert ticks == ["'body' (layer)", "default", "'head/bias' (path)"]
    finally:
        plt.close("all")
