"""Features used together, as users combine them (each is tested alone too).

A schedule with `total_steps="auto"`, the rate as a compiled metric (with
its groups and scheduled hyperparameters), `BatchHistory`, unfreezing,
`find_lr` before `fit`, and save/load in the middle of a run. References:
the schedules' formulas written out in NumPy, PyTorch's `OneCycleLR` for
the momentum cycle, and one uninterrupted run for a resumed one.
"""

import math

import keras
import numpy as np
import pytest
from conftest import mlp
from conftest import regression_data
from conftest import to_np
from conftest import weights_of

from keras_lrx import LRX
from keras_lrx import BatchHistory
from keras_lrx import LearningRateMetric
from keras_lrx import TotalStepsFromFit
from keras_lrx import find_lr
from keras_lrx.schedules import CosineWithWarmup
from keras_lrx.schedules import OneCycle
from keras_lrx.schedules import Thaw

EPOCHS, BATCH, N = 3, 4, 24  # 6 steps per epoch, 18 in all
TOTAL = EPOCHS * N // BATCH
PEAK, RATIO = 0.05, 0.25
WARMUP = math.ceil(RATIO * TOTAL)  # 5
BODY, THAW_AT = 0.5, 4  # the body thaws at step 4, at half the rate


def cosine_with_warmup(k):
    """`CosineWithWarmup(PEAK, WARMUP, TOTAL)` written out."""
    if k < WARMUP:
        return PEAK * k / WARMUP
    p = min(max((k - WARMUP) / max(1, TOTAL - WARMUP), 0.0), 1.0)
    return PEAK * max(0.0, 0.5 * (1 + math.cos(math.pi * p)))


def body_multiplier(k):
    """`Thaw(BODY, start_step=THAW_AT)` written out."""
    return BODY if k >= THAW_AT else 0.0


def _auto_model(optimizer_class=keras.optimizers.AdamW):
    schedule = CosineWithWarmup(PEAK, None, "auto", warmup_ratio=RATIO)
    optimizer = LRX(
        optimizer_class(),
        schedule=schedule,
        multipliers={"body": Thaw(BODY, start_step=THAW_AT), "head": 1.0},
    )
    keras.utils.set_random_seed(7)  # the same weights for every run
    model = mlp()
    model.compile(
        optimizer,
        "mse",
        metrics=[LearningRateMetric(optimizer, groups=True)],
    )
    return model, schedule


def _fit(model, callbacks, epochs=EPOCHS, **kwargs):
    x, y = regression_data(n=N)
    return model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        callbacks=callbacks,
        shuffle=False,
        verbose=0,
        **kwargs,
    )


def test_auto_schedule_with_group_metric_and_batch_history():
    # Keras builds the compiled metrics (and so reads the rate) before
    # `on_train_begin` fills the count in: torch and JAX raised there.
    model, schedule = _auto_model()
    batches = BatchHistory()
    history = _fit(model, [TotalStepsFromFit(), batches])
    assert schedule.total_steps == TOTAL
    expected = [cosine_with_warmup(k) for k in range(TOTAL)]
    np.testing.assert_allclose(
        batches.history["learning_rate"], expected, rtol=1e-5, atol=1e-8
    )
    last = [(e + 1) * TOTAL // EPOCHS - 1 for e in range(EPOCHS)]
    np.testing.assert_allclose(
        history.history["learning_rate"],
        [expected[k] for k in last],
        rtol=1e-5,
        atol=1e-8,
    )
    np.testing.assert_allclose(
        history.history["learning_rate/body"],
        [expected[k] * body_multiplier(k) for k in last],
        rtol=1e-5,
        atol=1e-8,
    )
    np.testing.assert_allclose(
        history.history["learning_rate/head"],
        [expected[k] for k in last],
        rtol=1e-5,
        atol=1e-8,
    )


def test_the_rate_read_before_the_first_step_is_defined():
    # Before any step the metric shows 0.0 (no step has used a rate) and
    # reading it does not evaluate a schedule still at "auto".
    model, schedule = _auto_model()
    optimizer = model.optimizer
    metric = LearningRateMetric(optimizer, groups=True)
    optimizer.build(model.trainable_variables)
    metric.update_state()
    result = {k: float(to_np(v)) for k, v in metric.result().items()}
    assert result == {
        "learning_rate": 0.0,
        "learning_rate/body": 0.0,
        "learning_rate/head": 0.0,
    }
    assert schedule.total_steps == "auto"
    # The schedule itself still says what to do when it is evaluated.
    with pytest.raises(ValueError, match="TotalStepsFromFit"):
        optimizer.learning_rate


def test_one_cycle_auto_with_momentum_metric_matches_pytorch():
    torch = pytest.importorskip("torch")
    cycle = OneCycle(PEAK, "auto")
    optimizer = LRX(
        keras.optimizers.SGD(momentum=0.9),
        schedule=cycle,
        hyperparameters={"momentum": cycle.momentum_schedule()},
    )
    model = mlp()
    model.compile(
        optimizer,
        "mse",
        metrics=[LearningRateMetric(optimizer, hyperparameters=True)],
    )
    batches = BatchHistory()
    _fit(model, [TotalStepsFromFit(), batches])
    reference = torch.optim.SGD([torch.zeros(1)], lr=PEAK, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        reference, max_lr=PEAK, total_steps=TOTAL
    )
    rates, momenta = [], []
    for _ in range(TOTAL):
        rates.append(reference.param_groups[0]["lr"])
        momenta.append(reference.param_groups[0]["momentum"])
        reference.step()
        scheduler.step()
    np.testing.assert_allclose(
        batches.history["learning_rate"], rates, rtol=1e-5
    )
    np.testing.assert_allclose(batches.history["momentum"], momenta, rtol=1e-5)


def test_find_lr_before_fit_then_auto_schedule_unfreezing_and_metric():
    model, schedule = _auto_model(keras.optimizers.Adam)
    x, y = regression_data(n=N)
    before = weights_of(model)
    result = find_lr(model, x, y, batch_size=BATCH, num_steps=12, verbose=0)
    assert result.suggested_learning_rate > 0
    # The finder restored the model, the step counter and the "auto".
    for a, b in zip(before, weights_of(model)):
        np.testing.assert_array_equal(a, b)
    assert int(to_np(model.optimizer.iterations)) == 0
    assert schedule.total_steps == "auto"
    body_before = to_np(model.get_layer("body").kernel)
    batches = BatchHistory()
    history = _fit(model, [TotalStepsFromFit(), batches])
    assert schedule.total_steps == TOTAL
    assert int(to_np(model.optimizer.iterations)) == TOTAL
    np.testing.assert_allclose(
        batches.history["learning_rate"],
        [cosine_with_warmup(k) for k in range(TOTAL)],
        rtol=1e-5,
        atol=1e-8,
    )
    assert not np.allclose(to_np(model.get_layer("body").kernel), body_before)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize("stop_after", [1, 2], ids=["mid_warmup", "past_thaw"])
def test_save_load_mid_run_with_everything_resumes_the_run(
    tmp_path, stop_after
):
    # Stopped after 1 epoch (step 6 of 18): the body thawed at 4, warmup
    # at 5 of 5 steps; after 2: deep in the decay. Either way the resumed
    # run ends where the uninterrupted one does.
    straight, _ = _auto_model()
    straight_batches = BatchHistory()
    _fit(straight, [TotalStepsFromFit(), straight_batches])

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == stop_after:
                self.model.stop_training = True

    first, _ = _auto_model()
    _fit(first, [TotalStepsFromFit(), Stop()])
    path = str(tmp_path / "model.keras")
    first.save(path)
    resumed = keras.saving.load_model(path)
    assert int(to_np(resumed.optimizer.iterations)) == stop_after * 6
    batches = BatchHistory()
    history = _fit(
        resumed, [TotalStepsFromFit(), batches], initial_epoch=stop_after
    )
    assert int(to_np(resumed.optimizer.iterations)) == TOTAL
    np.testing.assert_allclose(
        batches.history["learning_rate"],
        straight_batches.history["learning_rate"][stop_after * 6 :],
        rtol=1e-6,
    )
    assert history.history["learning_rate/body"][-1] == pytest.approx(
        cosine_with_warmup(TOTAL - 1) * BODY, rel=1e-5
    )
    for a, b in zip(weights_of(straight), weights_of(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
