"""LearningRateMetric: the logged rate is the rate each batch's update used.

References are the schedules written out in NumPy, evaluated at the batch's
step (batch k of a run trains at step k); never the code under test.
"""

import csv

import keras
import numpy as np
import pytest
from conftest import BACKEND
from conftest import assert_round_trip
from conftest import mlp
from conftest import regression_data
from conftest import to_np

from keras_lrx.metrics import LearningRateMetric
from keras_lrx.optimizer import LRX

N, BATCH = 20, 4  # 5 batches per epoch
BATCHES = N // BATCH
EPOCHS = 3
RTOL = 1e-5


def exponential(step):
    """keras ExponentialDecay(0.1, decay_steps=1, decay_rate=0.9)."""
    return 0.1 * 0.9 ** np.asarray(step, dtype="float64")


def exponential_schedule():
    return keras.optimizers.schedules.ExponentialDecay(0.1, 1, 0.9)


class LogCollector(keras.callbacks.Callback):
    """Keeps the logs Keras hands to callbacks, per batch and per epoch."""

    def __init__(self):
        super().__init__()
        self.batches = []
        self.epochs = []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append(dict(logs))

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(dict(logs))

    def column(self, key, level="batches"):
        return np.array([row[key] for row in getattr(self, level)])


def steps_done(optimizer):
    return int(to_np(keras.ops.convert_to_tensor(optimizer.iterations)))


def make_optimizer(kind):
    if kind == "lrx":
        return LRX(keras.optimizers.SGD(), schedule=exponential_schedule())
    if kind == "lrx_delegating":  # LRX reads the wrapped optimizer's schedule
        return LRX(keras.optimizers.Adam(exponential_schedule()))
    if kind == "bare":
        return keras.optimizers.SGD(exponential_schedule())
    raise ValueError(kind)


def fit(model, optimizer, metrics, epochs=EPOCHS, callbacks=(), **kwargs):
    compile_kwargs = {
        k: kwargs.pop(k)
        for k in ("jit_compile", "run_eagerly", "steps_per_execution")
        if k in kwargs
    }
    model.compile(optimizer, "mse", metrics=metrics, **compile_kwargs)
    x, y = regression_data(N)
    collector = LogCollector()
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=[collector, *callbacks],
        **kwargs,
    )
    return collector


CASES = [
    ("lrx", {}),
    ("lrx_delegating", {}),
    ("lrx", {"run_eagerly": True}),
]
if BACKEND != "jax":  # on JAX the metric needs an LRX (test_update_seam)
    CASES += [("bare", {}), ("bare", {"run_eagerly": True})]
if BACKEND == "tensorflow":
    CASES += [("lrx", {"jit_compile": True}), ("bare", {"jit_compile": True})]


@pytest.mark.parametrize(
    "kind, mode", CASES, ids=[f"{k}-{m or 'compiled'}" for k, m in CASES]
)
def test_each_batch_logs_the_rate_its_update_used(kind, mode, tmp_path):
    optimizer = make_optimizer(kind)
    csv_path = tmp_path / "log.csv"
    logs = fit(
        mlp(),
        optimizer,
        [LearningRateMetric(optimizer)],
        callbacks=[keras.callbacks.CSVLogger(str(csv_path))],
        **mode,
    )
    steps = np.arange(EPOCHS * BATCHES)
    logged = logs.column("learning_rate")
    np.testing.assert_allclose(logged, exponential(steps), rtol=RTOL)
    # Not baked in at trace time: a new value every step.
    assert len(np.unique(logged)) == len(steps)
    # The epoch value is the last batch's, not an average.
    last_of_epoch = steps[BATCHES - 1 :: BATCHES]
    np.testing.assert_allclose(
        logs.column("learning_rate", "epochs"),
        exponential(last_of_epoch),
        rtol=RTOL,
    )
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    np.testing.assert_allclose(
        [float(r["learning_rate"]) for r in rows],
        exponential(last_of_epoch),
        rtol=RTOL,
    )
    assert steps_done(optimizer) == len(steps)


def test_a_float_learning_rate_is_logged_as_is():
    optimizer = keras.optimizers.Adam(0.003)
    if BACKEND == "jax":
        optimizer = LRX(optimizer)
    logs = fit(mlp(), optimizer, [LearningRateMetric(optimizer)], epochs=1)
    np.testing.assert_allclose(logs.column("learning_rate"), 0.003, rtol=RTOL)


@pytest.mark.skipif(
    BACKEND == "torch", reason="torch needs steps_per_execution=1"
)
def test_steps_per_execution_logs_the_last_step_of_each_execution():
    optimizer = make_optimizer("lrx")
    logs = fit(
        mlp(),
        optimizer,
        [LearningRateMetric(optimizer)],
        epochs=2,
        steps_per_execution=2,
    )
    # Executions of 2, 2 and 1 step per epoch of 5 batches.
    last_steps = np.array([1, 3, 4, 6, 8, 9])
    np.testing.assert_allclose(
        logs.column("learning_rate"), exponential(last_steps), rtol=RTOL
    )


def test_group_entries_are_base_times_multiplier():
    optimizer = LRX(
        keras.optimizers.SGD(),
        schedule=exponential_schedule(),
        multipliers={"body": 0.1, r".*/bias": 0.0, "head": 2.5},
    )
    logs = fit(
        mlp(),
        optimizer,
        [
            LearningRateMetric(optimizer, groups=True),
            LearningRateMetric(optimizer, name="lr", groups=["head"]),
        ],
        epochs=2,
    )
    base = exponential(np.arange(2 * BATCHES))
    np.testing.assert_allclose(logs.column("learning_rate"), base, rtol=RTOL)
    expected = {"body": 0.1, ".*/bias": 0.0, "head": 2.5}
    for label, multiplier in expected.items():
        np.testing.assert_allclose(
            logs.column(f"learning_rate/{label}"),
            base * multiplier,
            rtol=RTOL,
        )
    # A second metric on the same optimizer, with a subset of the keys.
    np.testing.assert_allclose(logs.column("lr"), base, rtol=RTOL)
    np.testing.assert_allclose(logs.column("lr/head"), base * 2.5, rtol=RTOL)
    assert "lr/body" not in logs.batches[0]


def test_layer_keys_are_labelled_by_layer_name():
    model = mlp()
    optimizer = LRX(
        keras.optimizers.SGD(0.05), multipliers={model.layers[0]: 0.5}
    )
    logs = fit(
        model, optimizer, [LearningRateMetric(optimizer, groups=True)], 1
    )
    np.testing.assert_allclose(logs.column("learning_rate/body"), 0.025)


@pytest.mark.parametrize(
    "kind", ["lrx", "lrx_delegating" if BACKEND == "jax" else "bare"]
)
def test_mixed_float16(kind):
    keras.config.set_dtype_policy("mixed_float16")
    optimizer = make_optimizer(kind)
    model = mlp()
    logs = fit(model, optimizer, [LearningRateMetric(optimizer)], epochs=2)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    steps = np.arange(2 * BATCHES)
    # No step was skipped, so batch k trained at step k.
    assert steps_done(optimizer) == len(steps)
    np.testing.assert_allclose(
        logs.column("learning_rate"), exponential(steps), rtol=RTOL
    )


def test_given_a_loss_scale_optimizer_it_reads_the_inner_one():
    inner = make_optimizer("lrx")
    optimizer = keras.optimizers.LossScaleOptimizer(inner)
    metric = LearningRateMetric(optimizer)
    assert metric._optimizer is inner
    logs = fit(mlp(), optimizer, [metric], epochs=1)
    np.testing.assert_allclose(
        logs.column("learning_rate"), exponential(np.arange(BATCHES)), RTOL
    )


def test_validation_and_evaluate_show_the_last_training_rate():
    optimizer = make_optimizer("lrx")
    model = mlp()
    metric = LearningRateMetric(optimizer)
    model.compile(optimizer, "mse", metrics=[metric])
    x, y = regression_data(N)
    # Before any step there is no rate to show.
    before = model.evaluate(x, y, batch_size=BATCH, verbose=0, return_dict=True)
    assert before["learning_rate"] == 0.0
    history = model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=2,
        verbose=0,
        validation_data=(x, y),
    )
    last = exponential([BATCHES - 1, 2 * BATCHES - 1])
    np.testing.assert_allclose(history.history["learning_rate"], last, RTOL)
    np.testing.assert_allclose(history.history["val_learning_rate"], last, RTOL)
    after = model.evaluate(x, y, batch_size=BATCH, verbose=0, return_dict=True)
    np.testing.assert_allclose(after["learning_rate"], last[-1], rtol=RTOL)
    # The value stays readable after training (no donated buffer on JAX).
    np.testing.assert_allclose(to_np(metric.result()), last[-1], rtol=RTOL)


def test_standalone_with_apply():
    variable = keras.Variable(np.ones(3, "float32"))
    optimizer = keras.optimizers.SGD(exponential_schedule())
    if BACKEND == "jax":
        optimizer = LRX(optimizer)
    metric = LearningRateMetric(optimizer)
    metric.update_state()
    assert float(to_np(metric.result())) == 0.0
    values = []
    for _ in range(3):
        optimizer.apply([keras.ops.ones(3)], [variable])
        metric.update_state()
        values.append(float(to_np(metric.result())))
    np.testing.assert_allclose(values, exponential([0, 1, 2]), rtol=RTOL)


def test_save_and_load_model_rebinds_the_metric(tmp_path):
    optimizer = make_optimizer("lrx")
    model = mlp()
    fit(model, optimizer, [LearningRateMetric(optimizer)], epochs=1)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    metric = next(
        m
        for m in loaded._compile_metrics._user_metrics
        if isinstance(m, LearningRateMetric)
    )
    assert metric._optimizer is loaded.optimizer
    x, y = regression_data(N)
    collector = LogCollector()
    loaded.fit(
        x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[collector]
    )
    np.testing.assert_allclose(
        collector.column("learning_rate"),
        exponential(np.arange(BATCHES, 2 * BATCHES)),
        rtol=RTOL,
    )


def test_config_round_trip():
    optimizer = LRX(keras.optimizers.SGD(), multipliers={"body": 0.1})
    metric = LearningRateMetric(optimizer, name="lr", groups=["body"])
    for clone in assert_round_trip(metric):
        assert clone.name == "lr"
        assert clone._groups == [("body", 0.1)]


def test_errors():
    with pytest.raises(TypeError, match="`optimizer`.*Received: optimizer=3"):
        LearningRateMetric(3)
    with pytest.raises(TypeError, match="optimizer instance.*'adam'"):
        LearningRateMetric("adam")
    optimizer = LRX(keras.optimizers.SGD(), multipliers={"body": 0.1})
    with pytest.raises(TypeError, match="`groups`.*Received: groups='body'"):
        LearningRateMetric(optimizer, groups="body")
    with pytest.raises(ValueError, match=r"`groups`.*\['head'\].*\['body'\]"):
        LearningRateMetric(optimizer, groups=["head"])
    with pytest.raises(ValueError, match="`groups`.*not an LRX"):
        LearningRateMetric(keras.optimizers.SGD(), groups=True)
    with pytest.raises(ValueError, match="`groups`.*callable"):
        LearningRateMetric(
            LRX(keras.optimizers.SGD(), multipliers=lambda v: 1.0),
            groups=True,
        )
