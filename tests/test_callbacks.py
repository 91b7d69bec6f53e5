"""BatchHistory, and Keras's learning-rate callbacks on a scheduled LRX.

References are the schedules written out in NumPy at the batch's step.
"""

import json
import math

import keras
import numpy as np
import pytest
from conftest import BACKEND
from conftest import mlp
from conftest import regression_data
from conftest import to_np

from keras_lrx.callbacks import BatchHistory
from keras_lrx.metrics import LearningRateMetric
from keras_lrx.optimizer import LRX

N, BATCH = 20, 4  # 5 batches per epoch
BATCHES = N // BATCH
RTOL = 1e-5


def exponential(step):
    """keras ExponentialDecay(0.1, decay_steps=1, decay_rate=0.9)."""
    return 0.1 * 0.9 ** np.asarray(step, dtype="float64")


WARMUP, DECAY, PEAK = 4, 24, 0.1


def warmup_cosine(step):
    """CosineDecay(0.0, DECAY, warmup_target=PEAK, warmup_steps=WARMUP)."""
    step = np.minimum(np.asarray(step, dtype="float64"), WARMUP + DECAY)
    warm = PEAK * step / WARMUP
    cosine = PEAK * 0.5 * (1 + np.cos(np.pi * (step - WARMUP) / DECAY))
    return np.where(step < WARMUP, warm, cosine)


def warmup_cosine_schedule():
    return keras.optimizers.schedules.CosineDecay(
        0.0, DECAY, warmup_target=PEAK, warmup_steps=WARMUP
    )


def train(optimizer, callbacks, metrics=(), epochs=2, model=None, **compile):
    model = model or mlp()
    if not model.compiled:
        model.compile(optimizer, "mse", metrics=list(metrics), **compile)
    x, y = regression_data(N)
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )
    return model


# ---------------------------------------------------------------------- #
# BatchHistory.
# ---------------------------------------------------------------------- #
@pytest.mark.parametrize("with_metric", [True, False])
def test_one_row_per_batch_with_the_rate_each_batch_used(with_metric):
    optimizer = LRX(
        keras.optimizers.SGD(),
        schedule=keras.optimizers.schedules.ExponentialDecay(0.1, 1, 0.9),
    )
    metrics = [LearningRateMetric(optimizer)] if with_metric else []
    batches = BatchHistory()
    train(optimizer, [batches], metrics, epochs=3)
    h = batches.history
    rows = 3 * BATCHES
    assert {len(v) for v in h.values()} == {rows}
    assert h["epoch"] == [e for e in range(3) for _ in range(BATCHES)]
    assert h["batch"] == list(range(BATCHES)) * 3
    assert h["step"] == list(range(rows))
    np.testing.assert_allclose(
        h["learning_rate"], exponential(h["step"]), rtol=RTOL
    )
    assert all(np.isfinite(h["loss"]))


@pytest.mark.skipif(
    BACKEND == "torch", reason="torch needs steps_per_execution=1"
)
def test_steps_per_execution_gives_one_row_per_execution():
    optimizer = LRX(
        keras.optimizers.SGD(),
        schedule=keras.optimizers.schedules.ExponentialDecay(0.1, 1, 0.9),
    )
    batches = BatchHistory()
    train(optimizer, [batches], epochs=2, steps_per_execution=2)
    # Executions of 2, 2 and 1 step per epoch of 5 batches.
    assert batches.history["step"] == [1, 3, 4, 6, 8, 9]
    assert batches.history["batch"] == [1, 3, 4] * 2
    np.testing.assert_allclose(
        batches.history["learning_rate"], exponential([1, 3, 4, 6, 8, 9]), RTOL
    )


def test_a_bare_optimizer_without_the_metric():
    optimizer = keras.optimizers.Adam(
        keras.optimizers.schedules.PiecewiseConstantDecay(
            [2, 6], [0.3, 0.2, 0.1]
        )
    )
    batches = BatchHistory()
    train(optimizer, [batches], epochs=2)
    expected = np.where(
        np.arange(10) <= 2, 0.3, np.where(np.arange(10) <= 6, 0.2, 0.1)
    )
    np.testing.assert_allclose(
        batches.history["learning_rate"], expected, rtol=RTOL
    )


def test_mixed_float16_without_the_metric():
    keras.config.set_dtype_policy("mixed_float16")
    optimizer = LRX(
        keras.optimizers.SGD(),
        schedule=keras.optimizers.schedules.ExponentialDecay(0.1, 1, 0.9),
    )
    batches = BatchHistory()
    model = train(optimizer, [batches], epochs=1)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert batches.history["step"] == list(range(BATCHES))
    np.testing.assert_allclose(
        batches.history["learning_rate"], exponential(range(BATCHES)), RTOL
    )


def test_rows_continue_across_fit_calls_and_new_keys_are_padded():
    optimizer = keras.optimizers.SGD(0.01)
    model = mlp()
    batches = BatchHistory()
    train(optimizer, [batches], epochs=1, model=model)
    model.compile(optimizer, "mse", metrics=["mae"])
    train(optimizer, [batches], epochs=1, model=model)
    h = batches.history
    assert h["step"] == list(range(2 * BATCHES))
    assert all(math.isnan(v) for v in h["mae"][:BATCHES])
    assert all(np.isfinite(h["mae"][BATCHES:]))


def test_save_and_load_round_trip(tmp_path):
    batches = BatchHistory()
    for i, logs in enumerate(
        [{"loss": 0.5}, {"loss": 0.25, "mae": 1 / 3}, {"loss": 1e-30}]
    ):
        batches.on_train_batch_begin(i)
        batches.on_train_batch_end(i, {**logs, "learning_rate": 0.1 * i})
    assert math.isnan(batches.history["mae"][0])
    for name in ("h.csv", "h.json", "H.CSV"):
        path = tmp_path / name
        batches.save(path)
        loaded = BatchHistory.load(str(path))
        assert list(loaded.history) == list(batches.history)
        for key, values in batches.history.items():
            np.testing.assert_array_equal(loaded.history[key], values)
            assert [type(v) for v in loaded.history[key]] == [
                type(v) for v in values
            ]
    assert json.loads((tmp_path / "h.json").read_text())["step"] == [0, 1, 2]
    header = (tmp_path / "h.csv").read_text().splitlines()[0]
    assert header.split(",") == list(batches.history)


def test_a_loaded_history_keeps_counting_steps(tmp_path):
    optimizer = keras.optimizers.SGD(0.01)
    model = mlp()
    first = BatchHistory()
    train(optimizer, [first], epochs=1, model=model)
    first.save(tmp_path / "h.json")
    resumed = BatchHistory.load(tmp_path / "h.json")
    train(optimizer, [resumed], epochs=1, model=model)
    assert resumed.history["step"] == list(range(2 * BATCHES))


def test_plot_returns_its_axes(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batches = BatchHistory()
    rates = np.geomspace(1e-4, 1.0, 6)
    for i, rate in enumerate(rates):
        batches.on_train_batch_begin(i)
        batches.on_train_batch_end(
            i, {"loss": 1.0 / (i + 1), "mae": 2.0, "learning_rate": rate}
        )
    ax = batches.plot()
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "learning_rate"
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), rates)
    _, own = plt.subplots()
    ax = batches.plot(x="step", y=["loss", "mae"], ax=own)
    assert ax is own
    assert ax.get_xscale() == "linear"
    assert len(ax.get_lines()) == 2
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), 2.0)
    plt.close("all")


def test_errors(tmp_path):
    batches = BatchHistory()
    with pytest.raises(ValueError, match="Nothing to plot"):
        batches.plot()
    batches.on_train_batch_end(0, {"loss": 1.0})
    with pytest.raises(ValueError, match="`x`.*Received: x='lr'"):
        batches.plot(x="lr")
    with pytest.raises(ValueError, match="`y`.*Received: y=.*'acc'"):
        batches.plot(x="step", y=["loss", "acc"])
    with pytest.raises(ValueError, match="`path`.*Received: path='h.txt'"):
        batches.save("h.txt")
    with pytest.raises(ValueError, match="`path`"):
        BatchHistory.load(tmp_path / "h.npz")
    (tmp_path / "bad.json").write_text('{"a": [1, 2], "b": [1]}')
    with pytest.raises(ValueError, match="different lengths"):
        BatchHistory.load(tmp_path / "bad.json")


# ---------------------------------------------------------------------- #
# Keras's callbacks on a scheduled LRX, seen through the metric.
# ---------------------------------------------------------------------- #
class NeverImproves(keras.callbacks.Callback):
    """Puts a constant `plateau` into the epoch logs."""

    def on_epoch_end(self, epoch, logs=None):
        logs["plateau"] = 1.0


def test_reduce_lr_on_plateau_scales_the_whole_schedule():
    factor = 0.5
    optimizer = LRX(
        keras.optimizers.SGD(),
        schedule=warmup_cosine_schedule(),
        multipliers={"body": 0.1, "head": 3.0},
    )
    batches = BatchHistory()
    plateau = keras.callbacks.ReduceLROnPlateau(
        monitor="plateau", mode="min", factor=factor, patience=1
    )
    train(
        optimizer,
        [NeverImproves(), plateau, batches],
        [LearningRateMetric(optimizer, groups=True)],
        epochs=4,
    )
    h = batches.history
    step = np.array(h["step"])
    epoch = np.array(h["epoch"])
    # Epoch 0 sets the best value; every later epoch end reduces once.
    reductions = np.maximum(epoch - 1, 0)
    expected = factor**reductions * warmup_cosine(step)
    assert step[-1] == 4 * BATCHES - 1  # through the warmup and the decay
    np.testing.assert_allclose(h["learning_rate"], expected, rtol=RTOL)
    np.testing.assert_allclose(h["learning_rate/body"], 0.1 * expected, RTOL)
    np.testing.assert_allclose(h["learning_rate/head"], 3.0 * expected, RTOL)
    np.testing.assert_allclose(
        to_np(optimizer.learning_rate),
        factor**3 * warmup_cosine(4 * BATCHES),
        rtol=RTOL,
    )


def test_learning_rate_scheduler_rescales_the_schedule_each_epoch():
    assigned = [0.05, 0.02, 0.01]
    optimizer = LRX(keras.optimizers.SGD(), schedule=warmup_cosine_schedule())
    batches = BatchHistory()
    scheduler = keras.callbacks.LearningRateScheduler(
        lambda epoch, lr: assigned[epoch]
    )
    # Start past the warmup's zero at step 0, where no rescaling is possible.
    model = mlp()
    model.compile(optimizer, "mse", metrics=[LearningRateMetric(optimizer)])
    x, y = regression_data(N)
    model.fit(x[:BATCH], y[:BATCH], batch_size=BATCH, epochs=1, verbose=0)
    train(optimizer, [scheduler, batches], epochs=3, model=model)
    h = batches.history
    step = np.array(h["step"])
    epoch = np.array(h["epoch"])
    start = 1 + epoch * BATCHES  # the step at each epoch's start
    expected = (
        np.array(assigned)[epoch] * warmup_cosine(step) / warmup_cosine(start)
    )
    assert step[0] == 1
    np.testing.assert_allclose(h["learning_rate"], expected, rtol=RTOL)
    # Within an epoch the schedule's shape continues (warmup rises).
    assert h["learning_rate"][1] > h["learning_rate"][0]


# ---------------------------------------------------------------------- #
# Loading files that do not hold a history; bad inputs.
# ---------------------------------------------------------------------- #
def test_load_refuses_a_csv_row_with_extra_cells(tmp_path):
    path = tmp_path / "extra.csv"
    path.write_text("step,loss\n0,1.5\n1,1.25,7\n2,1.0\n")
    with pytest.raises(ValueError) as info:
        BatchHistory.load(path)
    message = str(info.value)
    assert str(path) in message and "row 2" in message and "3 cells" in message
    path.write_text("step,loss\n0,1.5\n1\n")
    with pytest.raises(ValueError, match="row 2 .*1 cells"):
        BatchHistory.load(path)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("[1, 2, 3]", "of type list"),
        ('{"loss": 3}', "'loss' is of type int"),
        ("3", "of type int"),
        ('{"loss": [1], "lr": "fast"}', "'lr' is of type str"),
    ],
)
def test_load_refuses_json_that_is_not_a_dict_of_lists(tmp_path, text, problem):
    path = tmp_path / "scalars.json"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        BatchHistory.load(path)
    message = str(info.value)
    assert str(path) in message and "dict of lists" in message
    assert problem in message, message


def _history_with_a_row():
    batches = BatchHistory()
    batches.on_train_batch_end(0, {"loss": 1.0})
    return batches


BAD_INPUTS = [
    (lambda p, h: h.save(None), TypeError, "path"),
    (lambda p, h: h.save(3), TypeError, "path"),
    (lambda p, h: h.save(p / "h.npy"), ValueError, "path"),
    (lambda p, h: BatchHistory.load(["h.csv"]), TypeError, "path"),
    (lambda p, h: BatchHistory.load(p / "h"), ValueError, "path"),
    (lambda p, h: h.plot(x=1), TypeError, "x"),
    (lambda p, h: h.plot(x="lr"), ValueError, "x"),
    (lambda p, h: h.plot(x="step", y=[]), ValueError, "y"),
    (lambda p, h: h.plot(x="step", y=None), TypeError, "y"),
    (lambda p, h: h.plot(x="step", y=["loss", 2]), TypeError, "y"),
    (lambda p, h: h.plot(x="step", y="acc"), ValueError, "y"),
    (lambda p, h: h.plot(x="step", log_x="yes"), TypeError, "log_x"),
    (lambda p, h: h.plot(x="step", log_x=1), TypeError, "log_x"),
    (lambda p, h: h.plot(x="step", log_x=np.nan), TypeError, "log_x"),
]


@pytest.mark.parametrize(
    "call, error, name",
    BAD_INPUTS,
    ids=[f"{i}-{row[2]}" for i, row in enumerate(BAD_INPUTS)],
)
def test_bad_input(tmp_path, call, error, name):
    batches = _history_with_a_row()
    before = (json.dumps(batches.history), batches._rows, batches._next_step)
    with pytest.raises(error) as info:
        call(tmp_path, batches)
    assert type(info.value) is error
    assert f"`{name}`" in str(info.value), str(info.value)
    # Refused before anything changed: the history, and no file written.
    assert (
        json.dumps(batches.history),
        batches._rows,
        batches._next_step,
    ) == before
    assert list(tmp_path.iterdir()) == []
