"""`total_steps="auto"` and `warmup_ratio`, filled in from `fit`.

The reference is the same schedule built with the number written out
(`epochs * steps per epoch`, and `ceil(warmup_ratio * total)`), evaluated
at every step the run took.
"""

import math

import keras
import numpy as np
import pytest
from conftest import BACKEND
from conftest import assert_round_trip
from conftest import mlp
from conftest import regression_data
from conftest import to_np
from conftest import weights_of

from keras_lrx import LRX
from keras_lrx import BatchHistory
from keras_lrx import TotalStepsFromFit
from keras_lrx.schedules import CosineWithWarmup
from keras_lrx.schedules import LinearWithWarmup
from keras_lrx.schedules import OneCycle
from keras_lrx.schedules import PolynomialWithWarmup
from keras_lrx.schedules import WarmupStableDecay

EPOCHS, BATCH, N = 3, 4, 24  # 6 steps per epoch, 18 in all
TOTAL = EPOCHS * N // BATCH

CASES = {
    "cosine_ratio": (
        lambda: CosineWithWarmup(0.1, None, "auto", warmup_ratio=0.1),
        lambda: CosineWithWarmup(0.1, math.ceil(0.1 * TOTAL), TOTAL),
    ),
    "linear": (
        lambda: LinearWithWarmup(0.1, 3, "auto"),
        lambda: LinearWithWarmup(0.1, 3, TOTAL),
    ),
    "polynomial_ratio": (
        lambda: PolynomialWithWarmup(
            0.1, None, "auto", power=2.0, warmup_ratio=0.25
        ),
        lambda: PolynomialWithWarmup(
            0.1, math.ceil(0.25 * TOTAL), TOTAL, power=2.0
        ),
    ),
    "wsd": (
        lambda: WarmupStableDecay(0.1, 2, "auto"),
        lambda: WarmupStableDecay(0.1, 2, TOTAL),
    ),
    "one_cycle": (
        lambda: OneCycle(0.1, "auto"),
        lambda: OneCycle(0.1, TOTAL),
    ),
}


def _fit(model, callbacks=(), epochs=EPOCHS, **kwargs):
    x, y = regression_data(n=N)
    return model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=list(callbacks),
        **kwargs,
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_auto_equals_the_count_written_out(case):
    make_auto, make_explicit = CASES[case]
    schedule, explicit = make_auto(), make_explicit()
    model = mlp()
    model.compile(LRX(keras.optimizers.SGD(), schedule=schedule), "mse")
    batches = BatchHistory()
    _fit(model, [TotalStepsFromFit(), batches])
    assert schedule.total_steps == TOTAL
    assert getattr(schedule, "warmup_steps", None) == getattr(
        explicit, "warmup_steps", None
    )
    expected = [float(explicit(k)) for k in range(TOTAL)]
    np.testing.assert_allclose(
        batches.history["learning_rate"], expected, rtol=1e-6, atol=1e-9
    )


@pytest.mark.parametrize(
    "options",
    [{"gradient_accumulation_steps": 2}, {"steps_per_execution": 2}],
)
def test_the_count_is_one_step_per_batch(options):
    # The schedule counts batches: its step counter does, with gradient
    # accumulation too; several steps per execution are still one per batch.
    if "steps_per_execution" in options and BACKEND == "torch":
        pytest.skip("torch needs steps_per_execution=1")
    schedule = CosineWithWarmup(0.1, None, "auto", warmup_ratio=0.1)
    model = mlp()
    inner = keras.optimizers.SGD(
        gradient_accumulation_steps=options.get("gradient_accumulation_steps")
    )
    model.compile(
        LRX(inner, schedule=schedule),
        "mse",
        steps_per_execution=options.get("steps_per_execution", 1),
    )
    _fit(model, [TotalStepsFromFit()])
    assert schedule.total_steps == TOTAL


def test_any_keras_optimizer_and_a_wrapped_ones_rate():
    bare_schedule = LinearWithWarmup(0.1, 2, "auto")
    bare = mlp()
    bare.compile(keras.optimizers.SGD(bare_schedule), "mse")
    _fit(bare, [TotalStepsFromFit()])
    assert bare_schedule.total_steps == TOTAL
    inner_schedule = OneCycle(0.1, "auto")  # LRX(schedule=None): the inner's
    wrapped = mlp()
    wrapped.compile(LRX(keras.optimizers.Adam(inner_schedule)), "mse")
    _fit(wrapped, [TotalStepsFromFit()])
    assert inner_schedule.total_steps == TOTAL


def test_without_the_callback_the_first_step_says_what_to_add():
    model = mlp()
    before = weights_of(model)
    model.compile(
        LRX(keras.optimizers.SGD(), schedule=LinearWithWarmup(0.1, 2, "auto")),
        "mse",
    )
    with pytest.raises(ValueError, match="TotalStepsFromFit"):
        _fit(model)
    if BACKEND == "jax":
        return  # Keras's JAX fit drops the variables' values on any error
    for a, b in zip(before, weights_of(model)):
        np.testing.assert_array_equal(a, b)


def test_an_unknown_number_of_steps_is_refused_when_fit_starts():
    x, y = regression_data(n=N)

    def batches():
        for i in range(0, N, BATCH):
            yield x[i : i + BATCH], y[i : i + BATCH]

    schedule = LinearWithWarmup(0.1, 2, "auto")
    model = mlp()
    before = weights_of(model)
    model.compile(LRX(keras.optimizers.SGD(), schedule=schedule), "mse")
    with pytest.raises(ValueError, match="steps_per_epoch"):
        model.fit(
            batches(), epochs=2, verbose=0, callbacks=[TotalStepsFromFit()]
        )
    assert schedule.total_steps == "auto"
    for a, b in zip(before, weights_of(model)):
        np.testing.assert_array_equal(a, b)


def test_save_load_and_resume_on_the_filled_in_schedule(tmp_path):
    initial = mlp().get_weights()

    def make():
        model = mlp()
        model.set_weights(initial)
        schedule = CosineWithWarmup(0.1, None, "auto", warmup_ratio=0.2)
        model.compile(
            LRX(keras.optimizers.AdamW(weight_decay=0.1), schedule=schedule),
            "mse",
        )
        return model

    straight = make()
    _fit(straight, [TotalStepsFromFit()])

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    first = make()
    _fit(first, [TotalStepsFromFit(), StopAfterFirstEpoch()])
    path = str(tmp_path / "model.keras")
    first.save(path)
    resumed = keras.saving.load_model(path)
    config = resumed.optimizer.get_config()["schedule"]["config"]
    assert config["total_steps"] == TOTAL and config["warmup_ratio"] == 0.2
    # A later fit keeps the schedule's count.
    _fit(resumed, [TotalStepsFromFit()], initial_epoch=1)
    assert int(to_np(resumed.optimizer.iterations)) == TOTAL
    for a, b in zip(weights_of(straight), weights_of(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_round_trips_and_set_total_steps():
    schedule = WarmupStableDecay(0.1, None, "auto", warmup_ratio=0.1)
    (clone, restored) = assert_round_trip(schedule)
    assert clone.get_config()["total_steps"] == "auto"
    assert schedule.set_total_steps(40) is True
    assert (schedule.warmup_steps, schedule.decay_steps) == (4, 8)
    assert schedule.set_total_steps(80) is False  # a count stays
    assert schedule.total_steps == 40
    assert_round_trip(schedule)
    one_cycle = OneCycle(0.1, "auto")
    assert one_cycle.set_total_steps(10) is True
    np.testing.assert_allclose(
        [float(one_cycle(k)) for k in range(10)],
        [float(OneCycle(0.1, 10)(k)) for k in range(10)],
    )


def test_a_count_that_does_not_fit_is_refused_and_nothing_changes():
    schedule = WarmupStableDecay(0.1, 5, "auto", decay_steps=10)
    with pytest.raises(ValueError, match="must be <= `total_steps`"):
        schedule.set_total_steps(12)
    assert schedule.total_steps == "auto"
    assert schedule.set_total_steps(20) is True


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: LinearWithWarmup(0.1, 2, "all"), TypeError, '"auto"'),
        (lambda: LinearWithWarmup(0.1, None, 10), TypeError, "warmup_ratio"),
        (
            lambda: LinearWithWarmup(0.1, 2, 10, warmup_ratio=0.1),
            ValueError,
            "not both",
        ),
        (
            lambda: CosineWithWarmup(0.1, None, 10, warmup_ratio=1.5),
            ValueError,
            "`warmup_ratio`",
        ),
        (lambda: OneCycle(0.1, "x"), TypeError, "`total_steps`"),
    ],
)
def test_bad_input_is_refused(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_a_momentum_schedule_of_its_own_cycle_is_filled_in_too():
    # As after `load_model`: the momentum's OneCycle is not the rate's.
    momentum = OneCycle(0.1, "auto").momentum_schedule()
    model = mlp()
    model.compile(
        LRX(keras.optimizers.Adam(), hyperparameters={"beta_1": momentum}),
        "mse",
    )
    _fit(model, [TotalStepsFromFit()])
    assert momentum.total_steps == TOTAL
