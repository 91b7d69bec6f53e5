"""The wrapped optimizer's other hyperparameters as schedules of the step:
`LRX(hyperparameters={"beta_1": ...})`, one-cycle momentum.

References: PyTorch's own `Adam` under `OneCycleLR(cycle_momentum=True)`
with one param group per multiplier (its `max_lr` per group), a NumPy SGD
step with a weight decay that changes every step, and the eager update for
the compiled one (`jax.jit` of `stateless_apply`, a `tf.function`).
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
from test_optimizer import make_problem

from keras_lrx import LRX
from keras_lrx import BatchHistory
from keras_lrx import TotalStepsFromFit
from keras_lrx.schedules import OneCycle

MAX_LR = 0.05
MULTIPLIERS = [0.1, 1.0, 0.5, 2.0]
STEPS = 12


def _one_cycle_lrx(total_steps=STEPS, **adam):
    cycle = OneCycle(MAX_LR, total_steps=total_steps, pct_start=0.25)
    return LRX(
        keras.optimizers.Adam(epsilon=1e-12, **adam),
        schedule=cycle,
        multipliers={f"v{i}": m for i, m in enumerate(MULTIPLIERS)},
        hyperparameters={"beta_1": cycle.momentum_schedule()},
    )


def test_one_cycle_momentum_matches_pytorch_one_cycle_lr_with_adam():
    torch = pytest.importorskip("torch")
    inits, grads = make_problem(seed=7, steps=STEPS)
    variables = [keras.Variable(x, name=f"v{i}") for i, x in enumerate(inits)]
    optimizer = _one_cycle_lrx()
    params = [torch.nn.Parameter(torch.tensor(x)) for x in inits]
    reference = torch.optim.Adam(
        [{"params": [p]} for p in params], lr=MAX_LR, eps=1e-12
    )
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        reference,
        max_lr=[MAX_LR * m for m in MULTIPLIERS],
        total_steps=STEPS,
        pct_start=0.25,
        cycle_momentum=True,
    )
    betas = []
    for g in grads:
        betas.append(optimizer.current_hyperparameters()["beta_1"])
        optimizer.apply([ops.convert_to_tensor(x) for x in g], variables)
        assert betas[-1] == pytest.approx(reference.param_groups[0]["betas"][0])
        for p, x in zip(params, g):
            p.grad = torch.tensor(x)
        reference.step()
        scheduler.step()
    assert min(betas) == pytest.approx(0.85, abs=1e-6)
    assert betas[0] == pytest.approx(0.95, abs=1e-6)
    for v, p in zip(variables, params):
        np.testing.assert_allclose(
            to_np(v), p.detach().numpy(), rtol=1e-5, atol=1e-6
        )
    assert optimizer.optimizer.beta_1 == 0.9  # its own number, put back


def test_a_weight_decay_that_follows_a_schedule_matches_numpy():
    inits, grads = make_problem(seed=8, steps=6)
    variables = [keras.Variable(x, name=f"v{i}") for i, x in enumerate(inits)]

    def decay(step):
        return ops.cast(step + 1, "float32") * 0.05

    optimizer = LRX(
        keras.optimizers.SGD(0.1, weight_decay=0.01),
        multipliers={f"v{i}": m for i, m in enumerate(MULTIPLIERS)},
        hyperparameters={"weight_decay": decay},
    )
    for g in grads:
        optimizer.apply([ops.convert_to_tensor(x) for x in g], variables)
    for i, m in enumerate(MULTIPLIERS):
        expected = inits[i].astype("float64")
        for t, g in enumerate(grads):
            wd = 0.05 * (t + 1)
            expected = expected - expected * wd * 0.1 * m - 0.1 * m * g[i]
        np.testing.assert_allclose(
            to_np(variables[i]), expected, rtol=1e-5, atol=1e-6
        )


def _sgd_reference(inits, grads, rates, momentums, nesterov):
    """Keras's SGD rule in NumPy, with a rate and a momentum per step."""
    values = [x.astype("float64") for x in inits]
    buffers = [np.zeros_like(x) for x in values]
    for t, g in enumerate(grads):
        for i, m in enumerate(MULTIPLIERS):
            step = rates[t] * m * g[i]
            buffers[i] = momentums[t] * buffers[i] - step
            if nesterov:
                values[i] = values[i] + momentums[t] * buffers[i] - step
            else:
                values[i] = values[i] + buffers[i]
    return values


def _rmsprop_reference(inits, grads, rates, momentums, rho=0.9, eps=1e-7):
    """Keras's RMSprop rule (with momentum) in NumPy, per step."""
    values = [x.astype("float64") for x in inits]
    velocities = [np.zeros_like(x) for x in values]
    buffers = [np.zeros_like(x) for x in values]
    for t, g in enumerate(grads):
        for i, m in enumerate(MULTIPLIERS):
            velocities[i] = rho * velocities[i] + (1 - rho) * g[i] ** 2
            increment = rates[t] * m * g[i] / np.sqrt(velocities[i] + eps)
            buffers[i] = momentums[t] * buffers[i] + increment
            values[i] = values[i] - buffers[i]
    return values


@pytest.mark.parametrize(
    "kind", ["sgd", "sgd_nesterov", "rmsprop"], ids=lambda k: k
)
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_one_cycle_momentum_of_sgd_and_rmsprop_matches_numpy(kind, compiled):
    # SGD and RMSprop branch on `momentum` in Python (`if self.momentum !=
    # 0`); the scheduled value must still reach the compiled update.
    if compiled and BACKEND == "torch":
        pytest.skip("torch's step is eager")
    inits, grads = make_problem(seed=11, steps=STEPS)
    variables = [keras.Variable(x, name=f"v{i}") for i, x in enumerate(inits)]
    cycle = OneCycle(MAX_LR, total_steps=STEPS, pct_start=0.25)
    inner = (
        keras.optimizers.RMSprop(momentum=0.9)
        if kind == "rmsprop"
        else keras.optimizers.SGD(momentum=0.9, nesterov=kind == "sgd_nesterov")
    )
    optimizer = LRX(
        inner,
        schedule=cycle,
        multipliers={f"v{i}": m for i, m in enumerate(MULTIPLIERS)},
        hyperparameters={"momentum": cycle.momentum_schedule()},
    )
    optimizer.build(variables)
    tensors = [[ops.convert_to_tensor(x) for x in g] for g in grads]
    if compiled and BACKEND == "jax":
        import jax

        step = jax.jit(optimizer.stateless_apply)
        values = [v.value for v in variables]
        state = [v.value for v in optimizer.variables]
        for g in tensors:
            values, state = step(state, g, values)
        results = [to_np(v) for v in values]
    else:

        def apply(g):
            optimizer.apply(g, variables)

        if compiled:
            import tensorflow as tf

            apply = tf.function(apply)
        for g in tensors:
            apply(g)
        results = [to_np(v) for v in variables]
    rates = [float(cycle(k)) for k in range(STEPS)]
    momentums = [float(cycle.momentum(k)) for k in range(STEPS)]
    assert len(set(np.round(momentums, 6))) > 3  # it does change
    if kind == "rmsprop":
        expected = _rmsprop_reference(inits, grads, rates, momentums)
    else:
        expected = _sgd_reference(
            inits, grads, rates, momentums, kind == "sgd_nesterov"
        )
    for got, want in zip(results, expected):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)
    assert inner.momentum == 0.9  # its own number, put back


@pytest.mark.skipif(BACKEND == "torch", reason="torch's step is eager")
def test_the_compiled_update_equals_the_eager_one():
    inits, grads = make_problem(seed=9, steps=STEPS)
    results = []
    for compiled in (False, True):
        variables = [
            keras.Variable(x, name=f"v{i}") for i, x in enumerate(inits)
        ]
        optimizer = _one_cycle_lrx()
        optimizer.build(variables)
        if not compiled:
            for g in grads:
                optimizer.apply(
                    [ops.convert_to_tensor(x) for x in g], variables
                )
            results.append([to_np(v) for v in variables])
            continue
        if BACKEND == "jax":
            import jax

            step = jax.jit(optimizer.stateless_apply)
            values = [v.value for v in variables]
            state = [v.value for v in optimizer.variables]
            for g in grads:
                values, state = step(
                    state, [ops.convert_to_tensor(x) for x in g], values
                )
            results.append([to_np(v) for v in values])
        else:
            import tensorflow as tf

            @tf.function
            def step(g):
                optimizer.apply(g, variables)

            for g in grads:
                step([ops.convert_to_tensor(x) for x in g])
            results.append([to_np(v) for v in variables])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_fit_save_load_and_resume_with_cycled_momentum(tmp_path):
    initial = mlp().get_weights()

    def make():
        model = mlp()
        model.set_weights(initial)
        cycle = OneCycle(MAX_LR, total_steps="auto")
        model.compile(
            LRX(
                keras.optimizers.AdamW(weight_decay=0.01),
                schedule=cycle,
                multipliers={"body": 0.3},
                hyperparameters={"beta_1": cycle.momentum_schedule()},
            ),
            "mse",
        )
        return model

    x, y = regression_data(n=16)

    def fit(model, **kwargs):
        model.fit(
            x,
            y,
            batch_size=4,
            epochs=2,
            shuffle=False,
            verbose=0,
            callbacks=[TotalStepsFromFit()] + kwargs.pop("callbacks", []),
            **kwargs,
        )

    straight = make()
    batches = BatchHistory()
    fit(straight, callbacks=[batches])
    cycle = straight.optimizer.hyperparameters["beta_1"].cycle
    assert cycle.total_steps == 8
    np.testing.assert_allclose(
        batches.history["beta_1"],
        [float(cycle.momentum(k)) for k in range(8)],
        rtol=1e-6,
    )

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    first = make()
    fit(first, callbacks=[StopAfterFirstEpoch()])
    path = str(tmp_path / "model.keras")
    first.save(path)
    resumed = keras.saving.load_model(path)
    assert resumed.optimizer.current_hyperparameters() == pytest.approx(
        first.optimizer.current_hyperparameters()
    )
    fit(resumed, initial_epoch=1)
    for a, b in zip(weights_of(straight), weights_of(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert straight.optimizer.optimizer.beta_1 == 0.9


def test_config_round_trips():
    cycle = OneCycle(MAX_LR, total_steps=100)
    optimizer = LRX(
        keras.optimizers.Adam(),
        schedule=cycle,
        hyperparameters={"beta_1": cycle.momentum_schedule()},
    )
    for clone in assert_round_trip(optimizer):
        assert clone.current_hyperparameters() == {
            "beta_1": pytest.approx(0.95)
        }


@pytest.mark.parametrize(
    "make, error, words",
    [
        (
            lambda: LRX(
                keras.optimizers.SGD(),
                hyperparameters={"momentum": lambda step: 0.9},
            ),
            ValueError,
            "momentum=0.0",
        ),
        (
            lambda: LRX(
                keras.optimizers.Adam(),
                hyperparameters={"momentum": lambda step: 0.9},
            ),
            ValueError,
            "'momentum' for Adam",
        ),
        (
            lambda: LRX(
                keras.optimizers.SGD(),
                hyperparameters={"beta_1": lambda step: 0.9},
            ),
            ValueError,
            "'beta_1' for SGD",
        ),
        (
            lambda: LRX(
                keras.optimizers.Adam(),
                hyperparameters={"weight_decay": lambda step: 0.1},
            ),
            ValueError,
            "'weight_decay' for Adam",
        ),
        (
            lambda: LRX(
                keras.optimizers.Adam(), hyperparameters={"beta_1": 0.8}
            ),
            TypeError,
            "beta_1=0.8",
        ),
        (
            lambda: LRX(keras.optimizers.Adam(), hyperparameters=[0.8]),
            TypeError,
            "must be None or a dict",
        ),
    ],
)
def test_bad_hyperparameters_are_refused(make, error, words):
    with pytest.raises(error, match="`hyperparameters`") as caught:
        make()
    assert words in str(caught.value)


def test_learning_rate_metric_logs_the_scheduled_hyperparameters():
    from keras_lrx import LearningRateMetric

    cycle = OneCycle(MAX_LR, total_steps=8)
    optimizer = LRX(
        keras.optimizers.Adam(),
        schedule=cycle,
        hyperparameters={"beta_1": cycle.momentum_schedule()},
    )
    model = mlp()
    model.compile(
        optimizer,
        "mse",
        metrics=[LearningRateMetric(optimizer, hyperparameters=True)],
    )
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((float(logs["learning_rate"]), float(logs["beta_1"])))

    x, y = regression_data(n=32)
    model.fit(x, y, batch_size=4, verbose=0, callbacks=[Record()])
    expected = [(float(cycle(k)), float(cycle.momentum(k))) for k in range(8)]
    np.testing.assert_allclose(seen, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="`hyperparameters`.*schedules none"):
        LearningRateMetric(LRX(keras.optimizers.Adam()), hyperparameters=True)
    with pytest.raises(TypeError, match="`hyperparameters`"):
        LearningRateMetric(optimizer, hyperparameters="yes")
