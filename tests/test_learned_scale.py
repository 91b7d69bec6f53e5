"""`LRX(scale=Mechanic())`: a learned global scale that keeps the ratios.

The reference is `optax.contrib.mechanize` (optax 0.2.8, pinned in the
`test` extra), closed loop: both sides train the same two-layer net from
the same weights on the same batches for 100 steps (float32), each taking
the gradient at its own weights (NumPy, the same function), and every
step's weights and scale are compared. Multipliers are `optax.partition`
with the inner optimizers at `lr * m`; a frozen group is optax on the other
variables alone (a frozen variable takes no part: not in the norms, no
reference copy, as `mechanic_pytorch` skips a parameter without a
gradient). The trajectories are stored in `tests/fixtures/mechanic.npz`:
every backend compares against them, and on JAX the test first checks that
optax still produces them (regenerate: `KERAS_LRX_WRITE_FIXTURES=1
KERAS_BACKEND=jax pytest tests/test_learned_scale.py -k optax_fixture`).
A variable frozen for now (`Thaw`) is checked against a NumPy Mechanic
written here, itself equal to optax on one group.
"""

import os
import pathlib

import keras
import numpy as np
import pytest
from conftest import BACKEND
from conftest import assert_round_trip
from conftest import to_np

from keras_lrx import LRX
from keras_lrx import SkipFrozenGradients
from keras_lrx._keras_compat import overrides_weight_decay
from keras_lrx.experimental import Mechanic
from keras_lrx.schedules import Thaw

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "mechanic.npz"
STEPS = 100
NAMES = ("body/kernel", "body/bias", "head/kernel", "head/bias")

# case -> (inner optimizer, LR, multipliers {"body": m} or None)
CASES = {
    "sgd": ("sgd", 0.1, None),
    "momentum": ("momentum", 0.05, None),
    "adam": ("adam", 0.01, None),
    "adam_partition": ("adam", 0.01, 0.1),
    "momentum_frozen": ("momentum", 0.05, 0.0),
}


def _problem():
    """Initial weights and 100 batches, the same on every platform."""
    rng = np.random.default_rng(7)
    w = {
        "body/kernel": rng.normal(size=(4, 8)).astype("float32") * 0.5,
        "body/bias": np.zeros(8, "float32"),
        "head/kernel": rng.normal(size=(8, 1)).astype("float32") * 0.5,
        "head/bias": np.zeros(1, "float32"),
    }
    target = rng.normal(size=(4, 1)).astype("float32")
    batches = []
    for _ in range(STEPS):
        x = rng.normal(size=(16, 4)).astype("float32")
        batches.append((x, np.tanh(x @ target).astype("float32")))
    return w, batches


def _gradients(w, x, y):
    """The gradient of the mean squared error of tanh-net `w` (float32)."""
    hidden = np.tanh(x @ w["body/kernel"] + w["body/bias"])
    error = hidden @ w["head/kernel"] + w["head/bias"] - y
    d_out = (2.0 / error.size) * error
    d_hidden = (d_out @ w["head/kernel"].T) * (1.0 - hidden**2)
    return {
        "body/kernel": (x.T @ d_hidden).astype("float32"),
        "body/bias": d_hidden.sum(0).astype("float32"),
        "head/kernel": (hidden.T @ d_out).astype("float32"),
        "head/bias": d_out.sum(0).astype("float32"),
    }


def _assert_trajectories_close(
    ours, expected, weights_atol=5e-5, scale_rtol=1e-4
):
    """Every step's weights within `weights_atol` (the weights are of order
    0.1-1: float32 rounding in another summation order, carried by the
    closed loop), and its scale within `scale_rtol` (it grows from 1e-6)."""
    np.testing.assert_allclose(
        ours[:, :-1], expected[:, :-1], rtol=1e-4, atol=weights_atol
    )
    np.testing.assert_allclose(ours[:, -1], expected[:, -1], rtol=scale_rtol)


def _trajectory_record(w, s):
    return np.concatenate([w[n].ravel() for n in NAMES] + [np.float32([s])])


# ---------------------------------------------------------------------- #
# The reference: optax (JAX only), stored as fixtures.
# ---------------------------------------------------------------------- #
def _optax_inner(kind, lr):
    import optax

    if kind == "sgd":
        return optax.sgd(lr)
    if kind == "momentum":
        return optax.sgd(lr, momentum=0.9)
    return optax.adam(lr, eps=1e-12)


def _optax_trajectory(case):
    import jax.numpy as jnp
    import optax
    from optax import contrib

    kind, lr, m = CASES[case]
    w, batches = _problem()
    trained = list(NAMES) if m != 0.0 else ["head/kernel", "head/bias"]
    if m is None or m == 0.0:
        inner = _optax_inner(kind, lr)
    else:
        labels = {n: n.split("/")[0] for n in trained}
        inner = optax.partition(
            {
                "body": _optax_inner(kind, lr * m),
                "head": _optax_inner(kind, lr),
            },
            labels,
        )
    tx = contrib.mechanize(inner)
    params = {n: jnp.asarray(w[n]) for n in trained}
    state = tx.init(params)
    records = []
    for x, y in batches:
        full = dict(w)
        full.update({n: np.asarray(params[n]) for n in trained})
        grads = _gradients(full, x, y)
        updates, state = tx.update(
            {n: jnp.asarray(grads[n]) for n in trained}, state, params
        )
        params = optax.apply_updates(params, updates)
        full.update({n: np.asarray(params[n]) for n in trained})
        records.append(_trajectory_record(full, float(jnp.sum(state.s))))
    return np.stack(records)


@pytest.mark.skipif(BACKEND != "jax", reason="optax runs on JAX")
def test_optax_fixture_is_what_optax_computes():
    """The stored trajectories are optax 0.2.8's (or are rewritten)."""
    computed = {case: _optax_trajectory(case) for case in CASES}
    if os.environ.get("KERAS_LRX_WRITE_FIXTURES"):
        FIXTURE.parent.mkdir(exist_ok=True)
        np.savez_compressed(FIXTURE, **computed)
    stored = np.load(FIXTURE)
    for case in CASES:
        np.testing.assert_allclose(stored[case], computed[case], rtol=1e-6)


# ---------------------------------------------------------------------- #
# keras-lrx, closed loop.
# ---------------------------------------------------------------------- #
def _model():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="tanh", name="body"),
            keras.layers.Dense(1, name="head"),
        ],
        name="net",
    )
    w, _ = _problem()
    model.set_weights([w[n] for n in NAMES])
    return model


def _keras_inner(kind, lr):
    if kind == "sgd":
        return keras.optimizers.SGD(lr)
    if kind == "momentum":
        return keras.optimizers.SGD(lr, momentum=0.9)
    return keras.optimizers.Adam(lr, epsilon=1e-12)


def _weights(model):
    return {n: to_np(v) for n, v in zip(NAMES, model.weights)}


def _lrx_trajectory(optimizer, steps=STEPS, model=None):
    model = model or _model()
    _, batches = _problem()
    variables = model.trainable_variables
    records = []
    for x, y in batches[:steps]:
        grads = _gradients(_weights(model), x, y)
        optimizer.apply(
            [keras.ops.convert_to_tensor(grads[n]) for n in NAMES], variables
        )
        records.append(
            _trajectory_record(_weights(model), optimizer.scale_value())
        )
    return np.stack(records)


@pytest.mark.parametrize("case", list(CASES))
def test_equals_optax_mechanize_step_by_step(case):
    kind, lr, m = CASES[case]
    optimizer = LRX(
        _keras_inner(kind, lr),
        multipliers=None if m is None else {"body": m},
        scale=Mechanic(),
    )
    ours = _lrx_trajectory(optimizer)
    expected = np.load(FIXTURE)[case]
    # Adam divides by each coordinate's own scale: a coordinate whose
    # gradient is near 0 amplifies rounding (up to a fraction of one step,
    # lr * s ~ 4e-3, here); SGD and momentum do not.
    if kind == "adam":
        _assert_trajectories_close(ours, expected, 2e-4, 1e-3)
    else:
        _assert_trajectories_close(ours, expected)
    assert expected[-1, -1] > 100 * expected[0, -1]  # the scale was learned


def test_frozen_variable_gets_no_reference_copy_and_stays():
    model = _model()
    optimizer = LRX(
        keras.optimizers.SGD(0.05, momentum=0.9),
        multipliers={"body": 0.0},
        scale=Mechanic(),
    )
    before = _weights(model)
    _lrx_trajectory(optimizer, steps=3, model=model)
    after = _weights(model)
    for name in ("body/kernel", "body/bias"):
        np.testing.assert_array_equal(after[name], before[name])
    references = [
        v for v in optimizer.variables if "mechanic_reference" in v.path
    ]
    assert len(references) == 2  # the head's kernel and bias only


# ---------------------------------------------------------------------- #
# Frozen for now: an independent NumPy Mechanic.
# ---------------------------------------------------------------------- #
def _numpy_mechanic(w, batches, lr, body_multiplier, steps):
    """Mechanic around SGD at `lr * m(t)`, variables at m(t) = 0 apart
    (optax's rule: h clipped to the previous m, r not clipped)."""
    betas = np.float32([1 - 0.1**i for i in range(1, 7)])
    s = np.full(6, 1e-6 / 6, "float32")
    m = np.zeros(6, "float32")
    v = np.zeros(6, "float32")
    r = np.zeros(6, "float32")
    w = {n: a.copy() for n, a in w.items()}
    x0 = {n: a.copy() for n, a in w.items()}
    records = []
    for t, (x, y) in enumerate(batches[:steps]):
        mult = {
            n: body_multiplier(t) if n.startswith("body") else 1.0 for n in w
        }
        active = [n for n in NAMES if mult[n] > 0]
        g = _gradients(w, x, y)
        total = s.sum()
        # float32 throughout, as the optimizers compute.
        f32 = np.float32
        g_norm = np.sqrt(sum((g[n] ** 2).sum() for n in active), dtype=f32)
        x_norm = np.sqrt(sum((w[n] ** 2).sum() for n in active), dtype=f32)
        decay = f32(0.01) * total * g_norm / (x_norm + f32(1e-8))
        offset = {n: (x0[n] - w[n]) / (total + f32(1e-8)) for n in active}
        h = f32(sum(((g[n] + decay * w[n]) * offset[n]).sum() for n in active))
        clipped = np.clip(h, -m, m)
        m = np.maximum(betas * m, abs(h) + f32(1e-8))
        v = betas**2 * v + h * h
        r = betas * r + clipped * s
        s = (f32(1e-6 / 6) * m + np.maximum(r, f32(0))) / (
            np.sqrt(v) + f32(1e-8)
        )
        for n in active:
            u = f32(-lr * mult[n]) * g[n]
            w[n] = x0[n] - s.sum() * (offset[n] - u)
        records.append(_trajectory_record(w, s.sum()))
    return np.stack(records)


def test_numpy_reference_equals_optax():
    w, batches = _problem()
    ours = _numpy_mechanic(w, batches, 0.1, lambda t: 1.0, STEPS)
    _assert_trajectories_close(ours, np.load(FIXTURE)["sgd"])


@pytest.mark.parametrize("compiled", [False, True, "skip frozen gradients"])
def test_variable_frozen_for_now_takes_no_part(compiled):
    thaw = Thaw(0.5, start_step=20, warmup_steps=10)
    w, batches = _problem()
    expected = _numpy_mechanic(w, batches, 0.1, lambda t: float(thaw(t)), 60)
    model = _model()
    optimizer = LRX(
        keras.optimizers.SGD(0.1), multipliers={"body": thaw}, scale=Mechanic()
    )
    if not compiled:
        ours = _lrx_trajectory(optimizer, steps=60, model=model)
    else:
        model.compile(optimizer, "mse")
        x = np.concatenate([b[0] for b in batches[:60]])
        y = np.concatenate([b[1] for b in batches[:60]])
        # `fit` takes its own gradient (Keras's), the same function.
        # torch, with `SkipFrozenGradients`: no gradient while frozen.
        callbacks = [] if compiled is True else [SkipFrozenGradients()]
        model.fit(
            x, y, batch_size=16, shuffle=False, verbose=0, callbacks=callbacks
        )
        ours = _trajectory_record(_weights(model), optimizer.scale_value())[
            None
        ]
        expected = expected[-1:]
    _assert_trajectories_close(ours, expected)
    body = _weights(model)["body/kernel"]
    assert not np.array_equal(body, w["body/kernel"])  # it thawed


def test_scale_none_is_todays_lrx_bit_for_bit():
    """No learned scale: no state of it, and the update of the bare
    optimizer, bit for bit."""
    _, batches = _problem()
    models = {}
    for name, optimizer in (
        ("bare", keras.optimizers.Adam(0.01)),
        ("lrx", LRX(keras.optimizers.Adam(0.01), scale=None)),
    ):
        model = models[name] = _model()
        for x, y in batches[:20]:
            grads = _gradients(_weights(model), x, y)
            optimizer.apply(
                [keras.ops.convert_to_tensor(grads[n]) for n in NAMES],
                model.trainable_variables,
            )
    for a, b in zip(models["bare"].weights, models["lrx"].weights):
        np.testing.assert_array_equal(to_np(a), to_np(b))
    assert not any("mechanic" in v.path for v in optimizer.variables)
    assert optimizer.scale_value() == 1.0


# ---------------------------------------------------------------------- #
# With the rest of LRX: the rate reported, the finder, saving, resuming.
# ---------------------------------------------------------------------- #
def _fit_data():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(48, 4)).astype("float32")
    return x, np.tanh(x @ rng.normal(size=(4, 1))).astype("float32")


def _compiled(thaw=None, metric=False):
    from keras_lrx import LearningRateMetric

    model = _model()
    schedule = keras.optimizers.schedules.ExponentialDecay(1.0, 1, 0.98)
    # With the rest of the pipeline: clipping and a scheduled beta_1 (not
    # EMA here: Keras's `fit` ends by copying the averages into the model,
    # so a resumed run starts elsewhere, with or without LRX).
    optimizer = LRX(
        keras.optimizers.AdamW(0.01, weight_decay=0.01, global_clipnorm=1.0),
        schedule=schedule,
        multipliers={"body": thaw if thaw is not None else 0.3},
        hyperparameters={
            "beta_1": keras.optimizers.schedules.PolynomialDecay(0.95, 30, 0.85)
        },
        scale=Mechanic(),
    )
    metrics = [LearningRateMetric(optimizer)] if metric else []
    model.compile(optimizer, "mse", metrics=metrics)
    return model, optimizer, schedule


class _ScaleEachBatch(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.scales = []

    def on_train_batch_end(self, batch, logs=None):
        self.scales.append(self.model.optimizer.scale_value())


@pytest.mark.parametrize("metric", [False, True])
def test_the_rate_reported_is_the_rate_applied(metric):
    from keras_lrx import BatchHistory

    model, optimizer, schedule = _compiled(metric=metric)
    x, y = _fit_data()
    batches, scales = BatchHistory(), _ScaleEachBatch()
    model.fit(
        x, y, batch_size=8, epochs=2, verbose=0, callbacks=[batches, scales]
    )
    applied = [float(schedule(k)) * s for k, s in enumerate(scales.scales)]
    assert scales.scales[-1] > 10 * scales.scales[0]
    np.testing.assert_allclose(
        batches.history["learning_rate"], applied, rtol=1e-5
    )
    now = float(schedule(12)) * optimizer.scale_value()
    assert float(optimizer.learning_rate) == pytest.approx(now, rel=1e-6)
    rates = optimizer.effective_learning_rates()
    assert rates[0.3] == pytest.approx(0.3 * now, rel=1e-5)


def test_finder_holds_the_scale_and_puts_everything_back():
    from keras_lrx import find_lr

    x, y = _fit_data()
    curves = []
    for scale in (None, Mechanic()):
        model = _model()
        optimizer = LRX(keras.optimizers.Adam(), schedule=1.0, scale=scale)
        model.compile(optimizer, "mse")
        optimizer.build(model.trainable_variables)
        state = [to_np(v) for v in optimizer.variables]
        keras.utils.set_random_seed(0)  # the same batches
        result = find_lr(model, x, y, batch_size=8, num_steps=20, verbose=0)
        curves.append(result)
        for v, before in zip(optimizer.variables, state):
            np.testing.assert_array_equal(to_np(v), before)
    # Held, the estimator does not scale: the sweep trains at its rates.
    np.testing.assert_allclose(
        curves[1].learning_rates, curves[0].learning_rates
    )
    np.testing.assert_allclose(curves[1].losses, curves[0].losses, rtol=1e-5)


@pytest.mark.parametrize("where", ["mid-run", "mid-thaw"])
def test_save_load_resumes_bit_for_bit(tmp_path, where):
    thaw = (
        Thaw(1.0, start_step=4, warmup_steps=8) if where == "mid-thaw" else None
    )
    x, y = _fit_data()

    def fit(model, epochs, initial_epoch=0):
        model.fit(
            x,
            y,
            batch_size=8,
            epochs=epochs,
            initial_epoch=initial_epoch,
            shuffle=False,
            verbose=0,
        )

    straight, _, _ = _compiled(thaw)
    fit(straight, 3)
    first, optimizer, _ = _compiled(thaw)
    fit(first, 1)
    path = str(tmp_path / "model.keras")
    first.save(path)
    resumed = keras.saving.load_model(path)
    assert resumed.optimizer.scale_value() == optimizer.scale_value()
    fit(resumed, 3, initial_epoch=1)
    for a, b in zip(straight.weights, resumed.weights):
        np.testing.assert_array_equal(to_np(a), to_np(b))
    assert resumed.optimizer.scale_value() == straight.optimizer.scale_value()


def test_config_round_trips():
    for clone in assert_round_trip(Mechanic(weight_decay=0.0, num_betas=3)):
        assert clone.num_betas == 3 and clone.weight_decay == 0.0
    optimizer = LRX(keras.optimizers.SGD(), scale=Mechanic(s_init=1e-5))
    for clone in assert_round_trip(optimizer):
        assert isinstance(clone.scale, Mechanic) and clone.scale.s_init == 1e-5
    assert LRX(keras.optimizers.SGD(), scale="mechanic").scale.s_init == 1e-6


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"weight_decay": -0.1}, ValueError, "weight_decay.*>= 0"),
        ({"weight_decay": float("nan")}, ValueError, "weight_decay.*finite"),
        ({"weight_decay": "0.1"}, TypeError, "weight_decay"),
        ({"eps": 0.0}, ValueError, "eps.*> 0"),
        ({"s_init": -1e-6}, ValueError, "s_init.*> 0"),
        ({"s_init": float("inf")}, ValueError, "s_init.*finite"),
        ({"num_betas": 0}, ValueError, "num_betas.*>= 1"),
        ({"num_betas": 8}, ValueError, "num_betas.*<= 7"),
        ({"num_betas": 2.0}, TypeError, "num_betas.*int"),
    ],
)
def test_bad_estimator_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Mechanic(**kwargs)


def test_bad_combinations_raise_before_anything_changes():
    inner = keras.optimizers.SGD()
    with pytest.raises(
        TypeError, match="`scale`.*Mechanic.*Received: scale='adam'"
    ):
        LRX(inner, scale="adam")
    with pytest.raises(TypeError, match="`scale`"):
        LRX(inner, scale=1.0)
    accumulating = keras.optimizers.SGD(gradient_accumulation_steps=2)
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        LRX(accumulating, scale=Mechanic())
    assert not accumulating.built and accumulating.learning_rate is not None
    muon = getattr(keras.optimizers, "Muon", None)
    if muon is not None and overrides_weight_decay(muon(weight_decay=0.1)):
        # Muon's own decay rule (newer Keras; older ones decay stock).
        with pytest.raises(ValueError, match="own weight decay"):
            LRX(muon(weight_decay=0.1), scale=Mechanic())
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
            with pytest.raises(ValueError, match="tf.distribute"):
                LRX(keras.optimizers.SGD(), scale=Mechanic())


@pytest.mark.skipif(BACKEND != "tensorflow", reason="IndexedSlices")
@pytest.mark.parametrize("estimator", ["Mechanic", "Prodigy", "DAdaptAdam"])
def test_an_embeddings_sparse_gradient_trains_as_its_dense_one(estimator):
    """TensorFlow hands an embedding's gradient over as IndexedSlices."""
    import tensorflow as tf

    from keras_lrx.experimental import DAdaptAdam
    from keras_lrx.experimental import Prodigy

    def make():
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((3,), dtype="int32"),
                keras.layers.Embedding(10, 4, name="embedding"),
                keras.layers.Flatten(),
                keras.layers.Dense(1, name="head"),
            ]
        )
        if estimator == "Mechanic":
            optimizer = LRX(keras.optimizers.Adam(), scale=Mechanic())
        else:
            inner = {"Prodigy": Prodigy, "DAdaptAdam": DAdaptAdam}[estimator]
            optimizer = LRX(inner(), multipliers={"embedding": 0.5})
        return model, optimizer

    ids = np.random.default_rng(0).integers(0, 10, size=(8, 3))
    target = np.ones((8, 1), "float32")
    results = []
    for dense in (False, True):
        model, optimizer = make()
        for _ in range(3):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((model(ids) - target) ** 2)
            grads = tape.gradient(loss, model.trainable_variables)
            assert isinstance(grads[0], tf.IndexedSlices)
            if dense:
                grads = [tf.convert_to_tensor(g) for g in grads]
            optimizer.apply(grads, model.trainable_variables)
        results.append([to_np(w) for w in model.weights])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert not np.array_equal(results[0][0], make()[0].weights[0].numpy())
