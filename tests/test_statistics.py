"""Per-group statistics (`GroupStatistics`) and their warnings.

The reference is independent of keras-lrx: the weights snapshotted before
and after each step (`train_on_batch`, one step at a time) and the gradient
of a linear network under mean squared error written out in NumPy, grouped
by hand.
"""

import warnings

import keras
import numpy as np
import pytest
from conftest import BACKEND
from conftest import to_np

from keras_lrx import LRX
from keras_lrx import BatchHistory
from keras_lrx import GroupStatistics
from keras_lrx import LearningRateMetric
from keras_lrx import UpdateRatioWarnings
from keras_lrx.schedules import Thaw

LAYERS = ("frozen", "body", "mid", "head")  # mid has no key: "other"
GROUPS = {"frozen": "frozen", "body": "body", "mid": "other", "head": "head"}
N, BATCH, THAW_AT = 24, 4, 3
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, 6)).astype("float32")
Y = RNG.normal(size=(N, 1)).astype("float32")


def linear_model():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6,))
    h = inputs
    for name, units in zip(LAYERS, (5, 4, 3, 1)):
        h = keras.layers.Dense(units, name=name)(h)
    return keras.Model(inputs, h)


def multipliers():
    return {
        "frozen": 0.0,
        "body": Thaw(0.5, start_step=THAW_AT),
        "head": 1.0,
    }


def weights_by_layer(model):
    return {
        name: [
            to_np(w).astype("float64") for w in model.get_layer(name).weights
        ]
        for name in LAYERS
    }


def numpy_gradients(weights, x, y):
    """d(mean squared error)/d(weights) of the linear chain, by layer."""
    hs = [x.astype("float64")]
    for name in LAYERS:
        kernel, bias = weights[name]
        hs.append(hs[-1] @ kernel + bias)
    error = 2.0 * (hs[-1] - y) / y.size
    grads = {}
    for i, name in reversed(list(enumerate(LAYERS))):
        kernel, _ = weights[name]
        grads[name] = [hs[i].T @ error, error.sum(axis=0)]
        error = error @ kernel.T
    return grads


def numpy_statistics(before, after, grads):
    """`{stat/group: value}` from snapshots and gradients, grouped by hand."""
    sums = {}
    for name in LAYERS:
        group = GROUPS[name]
        d, g, w = sums.get(group, (0.0, 0.0, 0.0))
        for b, a, gr in zip(before[name], after[name], grads[name]):
            d += float(np.sum((a - b) ** 2))
            g += float(np.sum(gr**2))
            w += float(np.sum(b**2))
        sums[group] = (d, g, w)
    result = {}
    for group, (d, g, w) in sums.items():
        result[f"update_ratio/{group}"] = np.sqrt(d) / np.sqrt(w)
        result[f"grad_norm/{group}"] = np.sqrt(g)
        result[f"weight_norm/{group}"] = np.sqrt(w)
    return result


def compiled(model, every=1, run_eagerly=False, **options):
    optimizer = LRX(
        keras.optimizers.AdamW(0.01, weight_decay=0.1, **options),
        multipliers=multipliers(),
    )
    metric = GroupStatistics(optimizer, every=every)
    model.compile(
        optimizer,
        "mse",
        metrics=[metric, LearningRateMetric(optimizer, groups=True)],
        run_eagerly=run_eagerly,
    )
    return optimizer


def step_by_step(model, steps):
    """`(before, after, grads, logs)` for each of `steps` steps."""
    rows = []
    for step in range(steps):
        start = (step * BATCH) % N
        x, y = X[start : start + BATCH], Y[start : start + BATCH]
        before = weights_by_layer(model)
        logs = model.train_on_batch(x, y, return_dict=True)
        after = weights_by_layer(model)
        grads = numpy_gradients(before, x, y)
        rows.append((before, after, grads, logs))
    return rows


def assert_logged(logs, expected, rtol=1e-4):
    for key, value in expected.items():
        np.testing.assert_allclose(
            float(logs[key]), value, rtol=rtol, atol=1e-7, err_msg=key
        )


@pytest.mark.parametrize(
    "run_eagerly", [True, False], ids=["eager", "compiled"]
)
def test_every_step_matches_numpy_with_a_thaw_inside_the_run(run_eagerly):
    model = linear_model()
    compiled(model, every=1, run_eagerly=run_eagerly)
    rows = step_by_step(model, 6)
    for step, (before, after, grads, logs) in enumerate(rows):
        expected = numpy_statistics(before, after, grads)
        assert_logged(logs, expected)
        # Frozen for good, and frozen until the thaw: exactly 0.
        assert float(logs["update_ratio/frozen"]) == 0.0
        if step < THAW_AT:
            assert float(logs["update_ratio/body"]) == 0.0
        else:
            assert float(logs["update_ratio/body"]) > 0.0
        assert float(logs["update_ratio/head"]) > 0.0


def test_a_stride_records_every_nth_update_and_holds_in_between():
    model = linear_model()
    compiled(model, every=2)
    rows = step_by_step(model, 5)
    recorded = None
    for step, (before, after, grads, logs) in enumerate(rows):
        if step % 2 == 0:
            recorded = numpy_statistics(before, after, grads)
        assert_logged(logs, recorded)


def test_gradient_accumulation_records_updates_not_batches():
    model = linear_model()
    compiled(model, every=1, gradient_accumulation_steps=2)
    rows = step_by_step(model, 6)
    recorded = {k: 0.0 for k in numpy_statistics(*rows[0][:3])}
    for batch, (before, after, grads, logs) in enumerate(rows):
        if batch % 2 == 1:  # the batch that applies the update
            recorded = numpy_statistics(before, after, grads)
        else:  # accumulates only: nothing changes, nothing is recorded
            for name in LAYERS:
                for a, b in zip(before[name], after[name]):
                    np.testing.assert_array_equal(a, b)
        ratios = {k: v for k, v in recorded.items() if "update_ratio" in k}
        assert_logged(logs, ratios)


def test_mixed_float16():
    # The loss-scale optimizer hands LRX unscaled gradients; the forward
    # pass runs in float16, so the gradient norms match to float16's
    # precision. A step it skips (non-finite gradients: the weights do not
    # change) records nothing. On JAX the values appear one batch late
    # (LRX's step runs inside the loss-scale optimizer's condition).
    keras.config.set_dtype_policy("mixed_float16")
    model = linear_model()
    compiled(model, every=1)
    rows = step_by_step(model, 10)
    late = 1 if BACKEND == "jax" else 0
    recorded, applied = [], 0
    for before, after, grads, _ in rows:
        changed = any(
            not np.array_equal(a, b)
            for name in LAYERS
            for a, b in zip(before[name], after[name])
        )
        if changed:
            recorded.append(numpy_statistics(before, after, grads))
            applied += 1
        else:
            recorded.append(recorded[-1] if recorded else None)
    assert applied >= 4  # the first steps halve the scale until none overflows
    for step in range(late, len(rows)):
        expected = recorded[step - late]
        if expected is None:
            continue
        logs = rows[step][3]
        ratios = {k: v for k, v in expected.items() if "grad_norm" not in k}
        assert_logged(logs, ratios, rtol=1e-4)
        norms = {k: v for k, v in expected.items() if "grad_norm" in k}
        assert_logged(logs, norms, rtol=5e-2)


def recording_model(**compile_options):
    """The linear model under LRX(AdamW), recording every update."""
    model = linear_model()
    optimizer = LRX(keras.optimizers.AdamW(0.01), multipliers=multipliers())
    model.compile(
        optimizer,
        "mse",
        metrics=[GroupStatistics(optimizer, every=1)],
        **compile_options,
    )
    return model


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's XLA")
def test_xla_equals_the_eager_step():
    results = []
    for jit in (False, True):
        model = recording_model(jit_compile=jit)
        results.append([logs for *_, logs in step_by_step(model, 4)])
    for eager, xla in zip(*results):
        for key in eager:
            np.testing.assert_allclose(
                float(xla[key]), float(eager[key]), rtol=1e-4, atol=1e-7
            )


@pytest.mark.skipif(
    BACKEND == "torch", reason="Keras runs one step per execution on torch"
)
def test_steps_per_execution_and_batch_history():
    histories = []
    for steps_per_execution in (1, 3):
        model = recording_model(steps_per_execution=steps_per_execution)
        batches = BatchHistory()
        history = model.fit(
            X,
            Y,
            batch_size=BATCH,
            shuffle=False,
            verbose=0,
            callbacks=[batches],
        )
        histories.append((history.history, batches.history))
    (single, single_rows), (grouped, grouped_rows) = histories
    for key in single:
        if "/" in key:
            np.testing.assert_allclose(grouped[key], single[key], rtol=1e-4)
    # Keras reports once per execution: the rows of the execution's last
    # step agree.
    for key in single_rows:
        if key.startswith("update_ratio/"):
            np.testing.assert_allclose(
                grouped_rows[key], single_rows[key][2::3], rtol=1e-4
            )


def test_save_load_and_resume_carry_the_statistics(tmp_path):
    model = linear_model()
    optimizer = compiled(model, every=2)
    step_by_step(model, 3)
    saved = to_np(optimizer._statistics.variable)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    lrx = loaded.optimizer
    np.testing.assert_array_equal(to_np(lrx._statistics.variable), saved)
    assert int(to_np(lrx.iterations)) == 3
    # Resumed, it goes on as the original does (the statistics and the
    # weights; Keras 3.10's loss tracker restarts differently on load).
    for a, b in zip(step_by_step(model, 3), step_by_step(loaded, 3)):
        for key in a[3]:
            if "/" in key:
                np.testing.assert_allclose(
                    float(b[3][key]), float(a[3][key]), rtol=1e-5, atol=1e-7
                )
        for name in LAYERS:
            for x, y in zip(a[1][name], b[1][name]):
                np.testing.assert_allclose(y, x, rtol=1e-5, atol=1e-7)


def test_without_the_metric_nothing_is_added():
    model = linear_model()
    optimizer = LRX(keras.optimizers.AdamW(0.01), multipliers=multipliers())
    model.compile(optimizer, "mse")
    model.train_on_batch(X[:BATCH], Y[:BATCH])
    assert optimizer._statistics is None
    assert not any("group_statistics" in v.path for v in optimizer.variables)


def _warnings_of(multipliers, callback, steps=6):
    model = linear_model()
    optimizer = LRX(keras.optimizers.SGD(0.05), multipliers=multipliers)
    model.compile(optimizer, "mse", metrics=[GroupStatistics(optimizer, 1)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(
            X,
            Y,
            batch_size=BATCH,
            epochs=steps * BATCH // N,
            verbose=0,
            callbacks=[callback],
            shuffle=False,
        )
    return [str(w.message) for w in caught if "update ratio" in str(w.message)]


def test_warnings_name_the_group_once_and_spare_frozen_groups():
    caught = _warnings_of(
        {"frozen": 0.0, "body": 1e-7, "head": 1.0},
        UpdateRatioWarnings(low=1e-6, high=10.0, patience=3),
        steps=12,
    )
    assert len(caught) == 1, caught
    assert "'body'" in caught[0] and "lower than 1e-06" in caught[0]
    assert "multiplier" in caught[0]


def test_warnings_for_a_group_that_moves_too_much():
    caught = _warnings_of(
        {"frozen": 0.0, "body": 1.0, "head": 1.0},
        UpdateRatioWarnings(low=0.0, high=1e-4, patience=2),
    )
    groups = sorted(m.split("'")[1] for m in caught)
    assert groups == ["body", "head", "other"], caught
    assert all("higher than 0.0001" in m for m in caught)


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda o: GroupStatistics(o, every=0), ValueError, "`every`"),
        (lambda o: GroupStatistics(o, every=2.5), TypeError, "`every`"),
        (lambda o: GroupStatistics(o, every=True), TypeError, "`every`"),
        (
            lambda o: GroupStatistics(o, statistics=["update_size"]),
            ValueError,
            "update_size",
        ),
        (
            lambda o: GroupStatistics(keras.optimizers.Adam()),
            TypeError,
            "keras_lrx.LRX",
        ),
        (
            lambda o: UpdateRatioWarnings(low=1e-1, high=1e-3),
            ValueError,
            "low < high",
        ),
        (lambda o: UpdateRatioWarnings(patience=0), ValueError, "patience"),
        (lambda o: UpdateRatioWarnings(low=-1.0), ValueError, "low"),
    ],
)
def test_bad_arguments_are_refused_before_anything_changes(make, error, words):
    optimizer = LRX(keras.optimizers.SGD(0.1), multipliers={"body": 0.5})
    with pytest.raises(error, match=words):
        make(optimizer)
    assert optimizer._statistics is None  # nothing half-applied


def test_one_metric_per_optimizer_and_before_it_is_built():
    optimizer = LRX(keras.optimizers.SGD(0.1))
    GroupStatistics(optimizer)
    with pytest.raises(ValueError, match="one per optimizer"):
        GroupStatistics(optimizer)
    built = LRX(keras.optimizers.SGD(0.1))
    built.build(linear_model().trainable_variables)
    with pytest.raises(ValueError, match="before the optimizer is built"):
        GroupStatistics(built)


def test_plot_groups_draws_ratios_beside_rates():
    import matplotlib

    matplotlib.use("Agg")
    model = linear_model()
    compiled(model, every=1)
    batches = BatchHistory()
    model.fit(X, Y, batch_size=BATCH, verbose=0, callbacks=[batches])
    rates, ratios = batches.plot_groups()
    assert ratios.get_yscale() == "log"
    labels = sorted(line.get_label() for line in ratios.get_lines())
    assert labels == ["body", "head", "other"]  # frozen: nothing to draw
    assert sorted(line.get_label() for line in rates.get_lines()) == [
        "body",
        "frozen",
        "head",
    ]
