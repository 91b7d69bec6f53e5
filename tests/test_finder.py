"""Tests of the learning-rate range test (keras_lrx.finder).

The rates a sweep *uses* are read back through the weights: a model whose
only moving weight is a bias `b`, fed zeros and trained with plain SGD on the
loss `-mean(y_pred) = -b`, has gradient -1, so each step adds exactly its
learning rate to `b`, and the recorded loss of step k is `-b_k`.
"""

import json
import math
import sys

import keras
import numpy as np
import pytest
from conftest import assert_round_trip

from keras_lrx import LRX
from keras_lrx import finder as finder_module
from keras_lrx.finder import LRFinder
from keras_lrx.finder import LRFinderResult
from keras_lrx.finder import LRSweep
from keras_lrx.finder import clr_bounds
from keras_lrx.finder import find_lr
from keras_lrx.finder import smooth_losses
from keras_lrx.finder import suggest_minimum
from keras_lrx.finder import suggest_steepest
from keras_lrx.finder import suggest_valley
from keras_lrx.finder import sweep_learning_rates
from keras_lrx.suggestions import suggest_centered
from keras_lrx.suggestions import suggest_descent

BACKEND = keras.backend.backend()


# ---------------------------------------------------------------------------
# Helpers.
# ---------------------------------------------------------------------------


def np_copy(x):
    return np.array(keras.ops.convert_to_numpy(x), copy=True)


def full_state(model):
    """Copies of every model, optimizer and metrics variable, plus scalars."""
    opt = model.optimizer
    variables = (
        list(model.variables)
        + list(opt.variables)
        + list(model.metrics_variables)
    )
    return {
        "values": [(v.path, np_copy(v.value)) for v in variables],
        "iterations": int(np_copy(opt.iterations)),
        "learning_rate": float(np_copy(opt.learning_rate)),
        "stop_training": model.stop_training,
    }


def assert_same_state(before, after):
    assert [p for p, _ in before["values"]] == [p for p, _ in after["values"]]
    for (path, a), (_, b) in zip(before["values"], after["values"]):
        assert a.dtype == b.dtype, path
        assert a.tobytes() == b.tobytes(), path  # byte-identical
    for key in ("iterations", "learning_rate", "stop_training"):
        assert before[key] == after[key], key


def minus_mean(y_true, y_pred):
    return -keras.ops.mean(y_pred)


def bias_model(optimizer=None, inputs=3):
    """y = kernel . x + b with x = 0: only the bias moves, by +lr per step."""
    model = keras.Sequential(
        [
            keras.Input((inputs,)),
            keras.layers.Dense(
                1,
                kernel_initializer="zeros",
                bias_initializer="zeros",
                name="dense",
            ),
        ]
    )
    model.compile(
        optimizer=optimizer or keras.optimizers.SGD(0.05), loss=minus_mean
    )
    return model


def zeros_data(n=16, inputs=3):
    return np.zeros((n, inputs), "float32"), np.zeros((n, 1), "float32")


def used_rates(result):
    """The rate each step (but the last) really used, from the weights."""
    return -np.diff(result.raw_losses)


class ArrayDataset(keras.utils.PyDataset):
    """A PyDataset over arrays that can fail or yield NaN at one batch."""

    def __init__(self, x, y, batch_size, fail_at=None, nan_at=None):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.fail_at, self.nan_at = fail_at, nan_at

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, i):
        if i == self.fail_at:
            raise RuntimeError(f"broken batch {i}")
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        x = self.x[s]
        if i == self.nan_at:
            x = np.full_like(x, np.nan)
        return x, self.y[s]


class BiasRecorder(keras.callbacks.Callback):
    """Records the model's bias values after each batch."""

    def __init__(self, names):
        super().__init__()
        self.names = names
        self.values = {n: [] for n in names}

    def on_train_batch_end(self, batch, logs=None):
        if BACKEND == "jax":
            self.model.jax_state_sync()
        for n in self.names:
            bias = self.model.get_layer(n).bias
            self.values[n].append(float(np_copy(bias.value)[0]))


# ---------------------------------------------------------------------------
# Plain helpers.
# ---------------------------------------------------------------------------


class TestSweepHelpers:
    def test_exponential_table(self):
        rates = sweep_learning_rates(1e-7, 10.0, 100)
        assert rates.shape == (100,)
        np.testing.assert_allclose(
            rates[[0, 33, 66, 99]],
            [1e-7, 1e-7 * 1e8 ** (33 / 99), 1e-7 * 1e8 ** (66 / 99), 10.0],
            rtol=1e-12,
        )
        assert rates[0] == 1e-7 and rates[-1] == 10.0
        assert np.all(np.diff(np.log(rates)) > 0)

    def test_linear_table(self):
        rates = sweep_learning_rates(0.1, 1.0, 10, mode="linear")
        np.testing.assert_allclose(rates, np.linspace(0.1, 1.0, 10), rtol=1e-12)

    def test_smooth_losses_formula(self):
        losses = [3.0, 1.0, 4.0, 1.0, 5.0]
        s = 0.7
        avg, expected = 0.0, []
        for k, loss in enumerate(losses):
            avg = s * avg + (1 - s) * loss
            expected.append(avg / (1 - s ** (k + 1)))
        np.testing.assert_allclose(smooth_losses(losses, s), expected)
        np.testing.assert_array_equal(smooth_losses(losses, 0.0), losses)

    def test_lr_sweep_schedule_matches_helper(self):
        s = LRSweep(1e-4, 1.0, 9, mode="exponential", initial_step=5)
        values = [float(np_copy(s(k))) for k in range(5, 14)]
        np.testing.assert_allclose(
            values, sweep_learning_rates(1e-4, 1.0, 9), rtol=1e-5
        )
        # Clamped outside the sweep.
        assert float(np_copy(s(0))) == pytest.approx(1e-4, rel=1e-5)
        assert float(np_copy(s(1000))) == pytest.approx(1.0, rel=1e-5)
        for again in assert_round_trip(s):
            np.testing.assert_allclose(
                [float(np_copy(again(k))) for k in range(5, 14)],
                values,
                rtol=1e-6,
            )


class TestSuggestions:
    """Suggestion helpers on NumPy curves with a known answer."""

    lrs = np.logspace(-4, 0, 41)  # 10 points per decade

    def test_steepest_finds_the_steepest_fall(self):
        # 1 - tanh(2 (log10 lr + 2)) falls fastest at lr = 1e-2.
        loss = 1.0 - np.tanh(2 * (np.log10(self.lrs) + 2))
        assert suggest_steepest(self.lrs, loss) == pytest.approx(1e-2)

    def test_steepest_uses_log_rate_not_index(self):
        # Linear sweep: in log-rate the fall of this curve is steepest at
        # lr = 0.2, although per index it is at the end.
        lrs = np.linspace(0.01, 1.0, 100)
        loss = -np.tanh(3 * (np.log(lrs) - np.log(0.2)))
        got = suggest_steepest(lrs, loss, skip_start=0, skip_end=0)
        assert got == pytest.approx(0.2, rel=0.03)

    def test_minimum_is_a_tenth_of_the_argmin(self):
        loss = (np.log10(self.lrs) + 1) ** 2  # minimum at 0.1
        assert suggest_minimum(self.lrs, loss) == pytest.approx(0.01)

    def test_valley_picks_halfway_down_the_longest_descent(self):
        # Flat, a noisy descent from index 10 to 29, then a blow-up.
        descent = np.linspace(2, 0, 21)[1:]
        descent[5] += 0.3  # one bump: the valley still spans the descent
        loss = np.r_[np.full(10, 2.0), descent, np.linspace(0.2, 3, 11)]
        got = suggest_valley(self.lrs, loss, skip_start=0, skip_end=0)
        assert got == self.lrs[19]
        # An earlier, shorter descent does not win.
        loss2 = np.r_[np.linspace(1.5, 1.1, 5), np.full(5, 2.8), loss[10:]]
        assert suggest_valley(self.lrs, loss2, 0, 0) == self.lrs[19]

    def test_skips_and_non_finite_tail(self):
        loss = (np.log10(self.lrs) + 2) ** 2  # minimum at 1e-2 (index 20)
        loss[30:] = np.nan
        assert suggest_minimum(self.lrs, loss) == pytest.approx(1e-3)
        # Skipping the first 25 points moves the minimum to the first kept.
        assert suggest_minimum(self.lrs, loss, skip_start=25) == pytest.approx(
            self.lrs[25] / 10
        )
        with pytest.raises(ValueError, match="at least 2"):
            suggest_valley(self.lrs[:1], loss[:1])

    def test_clr_bounds(self):
        loss = np.r_[
            np.full(10, 2.0), np.linspace(2, 0, 21)[1:], np.linspace(0.2, 3, 11)
        ]
        base, top = clr_bounds(self.lrs, loss)
        # 10% of the drop of 2.0 is reached at index 11 (loss 1.8).
        assert base == self.lrs[11]
        assert top == self.lrs[29]
        with pytest.raises(ValueError, match="never fell"):
            clr_bounds(self.lrs, np.linspace(1, 2, 41))

    def test_result_suggest_dispatch(self):
        loss = (np.log10(self.lrs) + 1) ** 2
        result = LRFinderResult(self.lrs, loss, loss)
        assert result.suggest("minimum") == suggest_minimum(self.lrs, loss)
        assert result.suggest("steepest") == suggest_steepest(self.lrs, loss)
        assert result.suggest("valley") == suggest_valley(self.lrs, loss)
        assert result.suggested_learning_rate == suggest_descent(self.lrs, loss)
        assert result.suggest("centered") == suggest_centered(self.lrs, loss)
        with pytest.raises(
            ValueError, match="`method`.*Received: method='best'"
        ):
            result.suggest("best")


# ---------------------------------------------------------------------------
# The rates really used.
# ---------------------------------------------------------------------------


class TestRateHistory:
    @pytest.mark.parametrize("mode", ["exponential", "linear"])
    def test_exact_rates_used(self, mode):
        model = bias_model()
        x, y = zeros_data(16)  # 2 batches of 8: cycled 5 times
        result = find_lr(
            model,
            x,
            y,
            batch_size=8,
            start_learning_rate=0.01,
            end_learning_rate=1.0,
            num_steps=10,
            mode=mode,
            verbose=0,
        )
        expected = sweep_learning_rates(0.01, 1.0, 10, mode)
        assert result.stop_reason == "completed"
        np.testing.assert_allclose(result.learning_rates, expected, rtol=1e-12)
        np.testing.assert_allclose(used_rates(result), expected[:-1], rtol=1e-5)
        assert result.raw_losses[0] == 0.0
        np.testing.assert_allclose(
            result.losses, smooth_losses(result.raw_losses, 0.98)
        )

    def test_callback_in_user_fit(self):
        model = bias_model()
        x, y = zeros_data(64)
        finder = LRFinder(0.01, 1.0, num_steps=6, restore_state=False)
        recorder = BiasRecorder(["dense"])
        history = model.fit(
            x,
            y,
            batch_size=8,
            epochs=3,
            verbose=0,
            callbacks=[finder, recorder],
        )
        expected = sweep_learning_rates(0.01, 1.0, 6)
        # Stopped after num_steps batches, inside the first epoch.
        assert len(history.history["loss"]) == 1
        biases = np.array(recorder.values["dense"])
        assert biases.shape == (6,)
        np.testing.assert_allclose(
            np.diff(np.r_[0.0, biases]), expected, rtol=1e-5
        )
        # restore_state=False keeps the trained weights but not the sweep.
        assert float(np_copy(model.layers[0].bias)[0]) == biases[-1]
        assert float(np_copy(model.optimizer.learning_rate)) == pytest.approx(
            0.05
        )
        assert int(np_copy(model.optimizer.iterations)) == 6
        assert finder.result.stop_reason == "completed"
        finder.restore()
        assert float(np_copy(model.layers[0].bias)[0]) == 0.0
        assert int(np_copy(model.optimizer.iterations)) == 0

    def test_callback_short_fit_is_incomplete(self):
        model = bias_model()
        x, y = zeros_data(16)
        finder = LRFinder(0.01, 1.0, num_steps=10)
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[finder])
        result = finder.result
        assert len(result) == 4
        assert result.stop_reason == "incomplete"
        np.testing.assert_allclose(
            used_rates(result),
            sweep_learning_rates(0.01, 1.0, 10)[:3],
            rtol=1e-5,
        )

    def test_schedule_optimizer_is_swept_and_kept(self):
        schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
        model = bias_model(keras.optimizers.SGD(schedule))
        x, y = zeros_data(16)
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        before = full_state(model)
        result = find_lr(
            model,
            x,
            y,
            batch_size=8,
            start_learning_rate=0.01,
            end_learning_rate=1.0,
            num_steps=8,
            verbose=0,
        )
        np.testing.assert_allclose(
            used_rates(result),
            sweep_learning_rates(0.01, 1.0, 8)[:-1],
            rtol=1e-5,
        )
        assert_same_state(before, full_state(model))
        assert model.optimizer.learning_rate is not None
        # Still the schedule: the next steps continue its decay.
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        bias = float(np_copy(model.layers[0].bias)[0])
        expected = sum(0.1 * 0.5 ** (k / 10) for k in range(4))
        assert bias == pytest.approx(expected, rel=1e-5)

    def test_skipped_step_does_not_advance_the_sweep(self):
        # A loss scale so large that the first step's scaled gradient
        # overflows: LossScaleOptimizer skips it (and halves the scale).
        opt = keras.optimizers.LossScaleOptimizer(
            keras.optimizers.SGD(), initial_scale=3e38
        )
        model = bias_model()
        model.compile(
            optimizer=opt,
            loss=lambda y_true, y_pred: -2.0 * keras.ops.mean(y_pred),
        )
        result = find_lr(
            model,
            *zeros_data(16),
            batch_size=8,
            start_learning_rate=0.01,
            end_learning_rate=1.0,
            num_steps=6,
            verbose=0,
        )
        lrs = sweep_learning_rates(0.01, 1.0, 6)
        np.testing.assert_allclose(
            result.learning_rates, np.r_[lrs[0], lrs[:5]]
        )
        # The loss is -2 b, the gradient -2: each applied step adds 2 lr to b
        # and so takes 4 lr off the loss.
        np.testing.assert_allclose(
            used_rates(result) / 4, np.r_[0.0, lrs[:4]], rtol=1e-5
        )


class TestEarlyStop:
    def test_stops_on_divergence(self):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, 4)).astype("float32")
        y = (x @ rng.normal(size=(4, 1))).astype("float32")
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(), loss="mse")
        result = find_lr(
            model,
            x,
            y,
            batch_size=16,
            start_learning_rate=1e-3,
            end_learning_rate=1e3,
            num_steps=60,
            smoothing=0.5,
            verbose=0,
        )
        assert result.stop_reason == "diverged"
        assert 10 < len(result) < 60
        assert result.losses[-1] > 4.0 * result.losses[:-1].min()
        assert np.all(
            result.losses[:-1]
            <= 4.0 * np.minimum.accumulate(result.losses[:-1])
        )

    def test_stops_on_nan(self):
        # The loss is -b + 0 * log(c - b): NaN once the bias b passes c, which
        # happens at step 4 (b_k is the sum of the first k rates).
        rates = sweep_learning_rates(0.01, 1.0, 20)
        c = (rates[:3].sum() + rates[:4].sum()) / 2

        def loss(y_true, y_pred):
            return -keras.ops.mean(y_pred) + 0.0 * keras.ops.mean(
                keras.ops.log(c - y_pred)
            )

        model = bias_model()
        model.compile(optimizer=keras.optimizers.SGD(), loss=loss)
        result = find_lr(
            model,
            *zeros_data(64),
            batch_size=8,
            start_learning_rate=0.01,
            end_learning_rate=1.0,
            num_steps=20,
            verbose=0,
        )
        assert result.stop_reason == "non_finite"
        assert len(result) == 5
        assert np.isnan(result.raw_losses[-1])
        assert np.all(np.isfinite(result.raw_losses[:-1]))
        assert np.all(np.isfinite(np_copy(model.layers[0].bias)))

    def test_no_threshold_runs_to_the_end(self):
        model = bias_model()
        x, y = zeros_data(16)
        # The loss -b only falls; a threshold of None disables the check.
        result = find_lr(
            model,
            x,
            y,
            batch_size=8,
            start_learning_rate=0.01,
            end_learning_rate=1.0,
            num_steps=5,
            divergence_threshold=None,
            verbose=0,
        )
        assert len(result) == 5 and result.stop_reason == "completed"


# ---------------------------------------------------------------------------
# Restoring the model and optimizer.
# ---------------------------------------------------------------------------


def bn_model(optimizer=None, dropout=True):
    layers = [
        keras.Input((6,)),
        keras.layers.Dense(8, name="body"),
        keras.layers.BatchNormalization(),
        keras.layers.Activation("tanh"),
    ]
    if dropout:  # its seed-generator state is part of the model's variables
        layers.append(keras.layers.Dropout(0.2))
    model = keras.Sequential(layers + [keras.layers.Dense(1, name="head")])
    model.compile(
        optimizer=optimizer or keras.optimizers.Adam(0.01),
        loss="mse",
        metrics=["mae"],
    )
    return model


def regression(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = np.tanh(x @ rng.normal(size=(6, 1))).astype("float32")
    return x, y


class TestRestore:
    def test_normal_run_restores_everything(self):
        x, y = regression()
        # No dropout: torch draws its masks from a global generator.
        keras.utils.set_random_seed(7)
        model = bn_model(dropout=False)
        keras.utils.set_random_seed(7)
        twin = bn_model(dropout=False)
        for m in (model, twin):
            m.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        history = model.history
        before = full_state(model)
        result = find_lr(
            model,
            x,
            y,
            batch_size=16,
            num_steps=12,
            start_learning_rate=1e-4,
            end_learning_rate=1.0,
            verbose=0,
        )
        assert len(result) == 12
        assert_same_state(before, full_state(model))
        assert not np.array_equal(result.raw_losses, result.raw_losses[0])
        assert model.history is history
        # And it trains on exactly as if the sweep had never happened.
        for m in (model, twin):
            m.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        for a, b in zip(model.variables, twin.variables):
            np.testing.assert_allclose(
                np_copy(a), np_copy(b), rtol=1e-6, atol=1e-7
            )

    @pytest.mark.parametrize("fitted", [True, False])
    @pytest.mark.parametrize("failure", ["data_error", "keyboard_interrupt"])
    def test_interrupted_sweep_restores_everything(
        self, failure, fitted, monkeypatch
    ):
        x, y = regression(128)
        model = bn_model()
        if fitted:
            model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        before = full_state(model)
        train_function = model.train_function
        if failure == "data_error":
            data = ArrayDataset(x, y, batch_size=16, fail_at=5)
            with pytest.raises(Exception, match="broken batch 5"):
                find_lr(model, data, num_steps=20, verbose=0)
        else:
            original = LRFinder.on_train_batch_end

            def interrupt(self, batch, logs=None):
                original(self, batch, logs)
                if len(self.raw_losses) == 5:
                    raise KeyboardInterrupt

            monkeypatch.setattr(LRFinder, "on_train_batch_end", interrupt)
            with pytest.raises(KeyboardInterrupt):
                find_lr(model, x, y, batch_size=16, num_steps=20, verbose=0)
        if fitted:
            assert_same_state(before, full_state(model))
        else:  # the sweep builds the optimizer and metrics (tested below)
            weights = before["values"][: len(model.variables)]
            for (path, a), v in zip(weights, model.variables):
                assert path == v.path and a.tobytes() == np_copy(v).tobytes()
        # The compiled step is the one from before (None when there was
        # none): the docstring's promise.
        assert model.train_function is train_function
        # The restored model still trains normally.
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        assert int(np_copy(model.optimizer.iterations)) == 8 * (1 + fitted)

    def test_unbuilt_optimizer_stays_built_at_initial_values(self):
        x, y = regression()
        model = bn_model(keras.optimizers.Adam(0.01))
        weights = [np_copy(v) for v in model.variables]
        assert not model.optimizer.built
        find_lr(model, x, y, batch_size=16, num_steps=8, verbose=0)
        opt = model.optimizer
        assert opt.built
        assert int(np_copy(opt.iterations)) == 0
        assert float(np_copy(opt.learning_rate)) == pytest.approx(0.01)
        for v in opt.variables:
            if v is not opt.iterations and "learning_rate" not in v.path:
                assert not np.any(np_copy(v)), v.path  # zero slots
        for a, v in zip(weights, model.variables):
            assert a.tobytes() == np_copy(v).tobytes()
        assert model.metrics_variables  # built by the sweep ...
        for v in model.metrics_variables:  # ... and at their initial values
            assert not np.any(np_copy(v)), v.path

    def test_model_built_by_the_sweep(self):
        class Subclassed(keras.Model):
            def __init__(self):
                super().__init__()
                self.dense = keras.layers.Dense(1)

            def call(self, x):
                return self.dense(x)

        x, y = regression()
        model = Subclassed()
        model.compile(optimizer="adam", loss="mse")
        if BACKEND == "tensorflow":
            # Keras builds it inside the first traced step: too late.
            with pytest.raises(ValueError, match="not built"):
                find_lr(model, x, y, num_steps=4, verbose=0)
            assert not model.built
            model(x[:1])
        find_lr(model, x, y, num_steps=4, verbose=0)
        weights = [np_copy(v) for v in model.variables]
        find_lr(model, x, y, num_steps=4, verbose=0)
        for a, v in zip(weights, model.variables):
            assert a.tobytes() == np_copy(v).tobytes()
        assert int(np_copy(model.optimizer.iterations)) == 0

    torch_one_step = pytest.mark.skipif(
        BACKEND == "torch", reason="torch needs steps_per_execution=1"
    )

    @torch_one_step
    def test_steps_per_execution_is_put_back(self):
        x, y = zeros_data(32)
        model = bias_model()
        model.compile(
            optimizer=keras.optimizers.SGD(0.05),
            loss=minus_mean,
            steps_per_execution=2,
        )
        result = find_lr(
            model,
            x,
            y,
            batch_size=8,
            start_learning_rate=0.01,
            end_learning_rate=1.0,
            num_steps=6,
            verbose=0,
        )
        assert len(result) == 6
        np.testing.assert_allclose(
            used_rates(result),
            sweep_learning_rates(0.01, 1.0, 6)[:-1],
            rtol=1e-5,
        )
        assert model.steps_per_execution == 2
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        assert float(np_copy(model.layers[0].bias)[0]) == pytest.approx(0.2)

    @torch_one_step
    def test_callback_refuses_steps_per_execution(self):
        model = bias_model()
        model.compile(optimizer="sgd", loss=minus_mean, steps_per_execution=2)
        x, y = zeros_data(32)
        with pytest.raises(ValueError, match="steps_per_execution=1"):
            model.fit(x, y, batch_size=8, verbose=0, callbacks=[LRFinder()])


# ---------------------------------------------------------------------------
# LRX: the base rate is swept, the multipliers kept.
# ---------------------------------------------------------------------------


def two_bias_model(optimizer):
    inputs = keras.Input((3,))
    a = keras.layers.Dense(1, kernel_initializer="zeros", name="a")(inputs)
    b = keras.layers.Dense(1, kernel_initializer="zeros", name="b")(inputs)
    model = keras.Model(inputs, keras.layers.Add()([a, b]))
    model.compile(optimizer=optimizer, loss=minus_mean)
    return model


class TestLRX:
    def test_group_rates_recorded_and_used(self):
        opt = LRX(keras.optimizers.SGD(0.05), multipliers={"b": 0.25})
        model = two_bias_model(opt)
        x, y = zeros_data(32)
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        opt.learning_rate = 0.02  # a non-default base rate
        before = full_state(model)
        result = find_lr(
            model,
            x,
            y,
            batch_size=8,
            start_learning_rate=0.01,
            end_learning_rate=1.0,
            num_steps=8,
            verbose=0,
        )
        lrs = sweep_learning_rates(0.01, 1.0, 8)
        assert sorted(result.group_learning_rates) == [0.25, 1.0]
        np.testing.assert_allclose(result.group_learning_rates[1.0], lrs)
        np.testing.assert_allclose(
            result.group_learning_rates[0.25], lrs * 0.25
        )
        # loss = -(a + b) falls by lr + 0.25 lr per step.
        np.testing.assert_allclose(
            used_rates(result), 1.25 * lrs[:-1], rtol=1e-5
        )
        assert_same_state(before, full_state(model))
        rates = opt.effective_learning_rates()
        assert sorted(rates) == [0.25, 1.0]
        assert rates[1.0] == pytest.approx(0.02)
        assert rates[0.25] == pytest.approx(0.005)

        # Per group, through the weights, with the callback.
        finder = LRFinder(0.01, 1.0, num_steps=8, restore_state=False)
        recorder = BiasRecorder(["a", "b"])
        model.fit(
            x,
            y,
            batch_size=8,
            epochs=2,
            verbose=0,
            callbacks=[finder, recorder],
        )
        start = {
            n: before["values"][i][1]
            for i, n in enumerate(p for p, _ in before["values"])
        }
        for name, m in (("a", 1.0), ("b", 0.25)):
            first = float(start[f"{name}/bias"][0])
            steps = np.diff(np.r_[first, recorder.values[name]])
            np.testing.assert_allclose(steps, m * lrs, rtol=1e-4)

    def test_scheduled_lrx_scale_is_restored(self):
        schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
        opt = LRX(
            keras.optimizers.SGD(), schedule=schedule, multipliers={"b": 2.0}
        )
        model = two_bias_model(opt)
        x, y = zeros_data(32)
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        opt.learning_rate = 0.01  # rescales the schedule: scale != 1
        assert float(np_copy(opt._lr_scale)) != 1.0
        before = full_state(model)
        result = find_lr(
            model,
            x,
            y,
            batch_size=8,
            start_learning_rate=0.01,
            end_learning_rate=1.0,
            num_steps=6,
            verbose=0,
        )
        np.testing.assert_allclose(
            used_rates(result),
            3.0 * sweep_learning_rates(0.01, 1.0, 6)[:-1],
            rtol=1e-5,
        )
        assert_same_state(before, full_state(model))


# ---------------------------------------------------------------------------
# A real problem: the suggestion trains well.
# ---------------------------------------------------------------------------


class TestDigits:
    def test_suggestion_beats_much_smaller_and_larger_rates(self):
        from sklearn import datasets

        x, y = datasets.load_digits(return_X_y=True)
        # 1792 = 28 batches of 64: no odd-sized last batch to compile for.
        x = (x[:1792] / 16.0).astype("float32")
        y = y[:1792].astype("int32")

        def make(learning_rate=1e-3):
            keras.utils.set_random_seed(0)
            model = keras.Sequential(
                [
                    keras.Input((64,)),
                    keras.layers.Dense(32, activation="relu"),
                    keras.layers.Dense(10),
                ]
            )
            model.compile(
                optimizer=keras.optimizers.Adam(learning_rate),
                loss=keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True
                ),
            )
            return model

        result = find_lr(
            make(),
            x,
            y,
            batch_size=64,
            start_learning_rate=1e-6,
            end_learning_rate=10.0,
            num_steps=100,
            verbose=0,
        )
        assert result.stop_reason in ("completed", "diverged")
        lr = result.suggested_learning_rate
        assert 1e-4 <= lr <= 1.0
        final = {}
        for factor in (1e-3, 1.0, 1e3):
            model = make(lr * factor)
            model.fit(x, y, batch_size=64, epochs=2, verbose=0)
            final[factor] = model.evaluate(x, y, batch_size=1792, verbose=0)
        assert final[1.0] < final[1e-3]
        assert final[1.0] < final[1e3] or not math.isfinite(final[1e3])
        assert final[1.0] < 0.8 * math.log(10)  # clearly below chance


# ---------------------------------------------------------------------------
# The result: schedules, plotting, saving.
# ---------------------------------------------------------------------------


def synthetic_result():
    lrs = np.logspace(-4, 0, 41)
    loss = np.r_[
        np.full(10, 2.0), np.linspace(2, 0, 21)[1:], np.linspace(0.2, 3, 11)
    ]
    return LRFinderResult(lrs, loss, loss + 0.01, stop_reason="diverged")


class TestResult:
    @pytest.mark.parametrize("kind", ["one_cycle", "cyclical"])
    def test_to_schedule_trains(self, kind):
        from keras_lrx import schedules

        result = synthetic_result()
        schedule = result.to_schedule(kind, total_steps=16)
        if kind == "one_cycle":
            assert isinstance(schedule, schedules.OneCycle)
            assert schedule.max_learning_rate == result.suggested_learning_rate
            assert schedule.total_steps == 16
        else:
            assert isinstance(schedule, schedules.CyclicalLearningRate)
            base, top = result.clr_bounds()
            assert schedule.base_learning_rate == pytest.approx(base)
            assert schedule.max_learning_rate == pytest.approx(top)
            assert schedule.step_size == 2
        x, y = regression()
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
        history = model.fit(x, y, batch_size=16, epochs=4, verbose=0)
        assert all(np.isfinite(history.history["loss"]))
        assert history.history["loss"][-1] < history.history["loss"][0]

    def test_to_schedule_arguments(self):
        result = synthetic_result()
        with pytest.raises(ValueError, match="`total_steps` is required"):
            result.to_schedule("one_cycle")
        s = result.to_schedule("cyclical", step_size=5, mode="triangular2")
        assert s.step_size == 5 and s.mode == "triangular2"
        s = result.to_schedule(
            "one_cycle", 100, method="minimum", pct_start=0.5
        )
        assert s.max_learning_rate == result.suggest("minimum")

    def test_plot_returns_its_axes(self):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        result = synthetic_result()
        fig, ax = plt.subplots()
        try:
            assert result.plot(ax=ax) is ax
            assert ax.get_xscale() == "log"
            labels = [line.get_label() for line in ax.get_lines()]
            assert any(label.startswith("descent") for label in labels)
            marker = [
                line
                for line in ax.get_lines()
                if line.get_label().startswith("descent")
            ][0]
            assert marker.get_xdata()[0] == result.suggested_learning_rate
            ax2 = result.plot(method=None, show_raw=False)
            assert len(ax2.get_lines()) == 1
            plt.close(ax2.figure)
        finally:
            plt.close(fig)

    def test_plot_marks_each_of_a_list_of_suggestions(self):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        result = synthetic_result()
        methods = ["descent", "minimum", "valley"]
        ax = result.plot(method=methods, show_raw=False)
        try:
            marks = {
                line.get_label().split(":")[0]: line.get_xdata()[0]
                for line in ax.get_lines()[1:]
            }
            assert marks == {m: result.suggest(m) for m in methods}
            colors = {line.get_color() for line in ax.get_lines()[1:]}
            assert len(colors) == 3  # told apart
            with pytest.raises(ValueError, match="`method`"):
                result.plot(method=["descent", "nope"])
        finally:
            plt.close("all")

    def test_plot_without_matplotlib(self, monkeypatch):
        monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
        with pytest.raises(ImportError, match=r"pip install keras-lrx\[plot\]"):
            synthetic_result().plot()

    def test_dict_round_trip(self):
        result = synthetic_result()
        result.group_learning_rates[0.5] = result.learning_rates * 0.5
        again = LRFinderResult.from_dict(
            json.loads(json.dumps(result.to_dict()))
        )
        np.testing.assert_array_equal(
            again.learning_rates, result.learning_rates
        )
        np.testing.assert_array_equal(again.losses, result.losses)
        np.testing.assert_array_equal(again.raw_losses, result.raw_losses)
        assert again.stop_reason == "diverged" and again.mode == "exponential"
        assert sorted(again.group_learning_rates) == [0.5, 1.0]
        assert again.suggested_learning_rate == result.suggested_learning_rate


# ---------------------------------------------------------------------------
# Input types.
# ---------------------------------------------------------------------------


def check_sweep(result, num_steps):
    assert len(result) == num_steps and result.stop_reason == "completed"
    np.testing.assert_allclose(
        used_rates(result),
        sweep_learning_rates(0.01, 1.0, num_steps)[:-1],
        rtol=1e-5,
    )


class TestInputs:
    num_steps = 7

    def run(self, data, **kwargs):
        model = bias_model()
        return find_lr(
            model,
            data,
            start_learning_rate=0.01,
            end_learning_rate=1.0,
            num_steps=self.num_steps,
            verbose=0,
            **kwargs,
        )

    def test_numpy_more_batches_than_steps(self):
        x, y = zeros_data(128)
        model = bias_model()
        result = find_lr(
            model,
            x,
            y,
            batch_size=8,
            start_learning_rate=0.01,
            end_learning_rate=1.0,
            num_steps=self.num_steps,
            verbose=0,
        )
        check_sweep(result, self.num_steps)

    def test_py_dataset(self):
        x, y = zeros_data(24)
        check_sweep(self.run(ArrayDataset(x, y, batch_size=8)), self.num_steps)

    @pytest.mark.parametrize("cardinality", ["known", "unknown"])
    def test_tf_dataset(self, cardinality):
        import tensorflow as tf

        x, y = zeros_data(24)
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
        if cardinality == "unknown":
            ds = ds.filter(lambda a, b: True)
            assert int(ds.cardinality()) < 0
        check_sweep(self.run(ds), self.num_steps)

    def test_torch_dataloader(self):
        import torch

        x, y = zeros_data(24)
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(
                torch.from_numpy(x), torch.from_numpy(y)
            ),
            batch_size=8,
        )
        check_sweep(self.run(loader), self.num_steps)

    def test_generator_that_runs_out(self):
        x, y = zeros_data(8)

        def batches():
            for _ in range(4):
                yield x, y

        result = self.run(batches())
        assert result.stop_reason == "incomplete" and len(result) == 4


# ---------------------------------------------------------------------------
# Arguments and output.
# ---------------------------------------------------------------------------


BAD_ARGUMENTS = [
    (
        {"start_learning_rate": 0.0},
        ValueError,
        r"`start_learning_rate` must be > 0\. "
        r"Received: start_learning_rate=0\.0",
    ),
    ({"start_learning_rate": -1e-3}, ValueError, "start_learning_rate"),
    (
        {"end_learning_rate": 1e-8},
        ValueError,
        r"`end_learning_rate` must be > `start_learning_rate`",
    ),
    (
        {"start_learning_rate": 1.0, "end_learning_rate": 1.0},
        ValueError,
        "end_learning_rate",
    ),
    (
        {"num_steps": 1},
        ValueError,
        r"`num_steps` must be >= 2\. Received: num_steps=1",
    ),
    ({"num_steps": 10.0}, TypeError, "`num_steps` must be an int"),
    (
        {"mode": "cosine"},
        ValueError,
        r"`mode` must be one of .*Received: mode='cosine'",
    ),
    (
        {"smoothing": 1.0},
        ValueError,
        r"`smoothing` must be < 1\. Received: smoothing=1\.0",
    ),
    ({"smoothing": -0.1}, ValueError, "smoothing"),
    ({"divergence_threshold": 1.0}, ValueError, "divergence_threshold"),
    ({"verbose": 3}, ValueError, "`verbose`"),
    ({"start_learning_rate": "1e-3"}, TypeError, "start_learning_rate"),
    (
        {"batch_size": 0},
        ValueError,
        r"Argument `batch_size` must be >= 1\. Received: batch_size=0",
    ),
    ({"batch_size": -4}, ValueError, "`batch_size`"),
    ({"batch_size": "16"}, TypeError, "`batch_size` must be an int"),
    ({"batch_size": 2.5}, TypeError, "`batch_size` must be an int"),
    ({"batch_size": True}, TypeError, "`batch_size` must be an int"),
]


class TestArguments:
    def test_bad_arguments_change_nothing(self):
        model = bias_model()
        x, y = zeros_data(16)
        for kwargs, error, match in BAD_ARGUMENTS:
            with pytest.raises(error, match=match):
                find_lr(model, x, y, **kwargs)
        assert not model.optimizer.built
        assert model.train_function is None

    def test_model_not_compiled(self):
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        with pytest.raises(ValueError, match=r"model.compile"):
            find_lr(model, *zeros_data())
        with pytest.raises(TypeError, match="`model` must be a `keras.Model`"):
            find_lr("model", *zeros_data())

    @pytest.mark.parametrize("kind", ["numpy", "py_dataset"])
    def test_empty_data(self, kind):
        model = bias_model()
        x, y = zeros_data(0)
        data = (x, y) if kind == "numpy" else (ArrayDataset(x, y, 8), None)
        with pytest.raises(ValueError, match="no data"):
            find_lr(model, *data)
        assert not model.optimizer.built


class TestVerbose:
    def test_silent_with_verbose_0(self, capsys):
        model = bias_model()
        find_lr(model, *zeros_data(), batch_size=8, num_steps=4, verbose=0)
        captured = capsys.readouterr()
        assert captured.out == ""

    def test_progress_bar(self, capsys):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, 4)).astype("float32")
        y = (x @ rng.normal(size=(4, 1))).astype("float32")
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        result = find_lr(
            model,
            x,
            y,
            batch_size=16,
            start_learning_rate=1e-3,
            end_learning_rate=1e3,
            num_steps=60,
            smoothing=0.5,
        )
        out = capsys.readouterr().out
        assert "learning_rate" in out and "smoothed_loss" in out
        assert result.stop_reason == "diverged"
        assert f"Stopped early after {len(result)} of 60 steps" in out


def test_module_exports():
    for name in finder_module.__all__:
        assert hasattr(finder_module, name)


# ---------------------------------------------------------------------------
# Validation of results, flags, losses and strategies.
# ---------------------------------------------------------------------------


class TestResultValidation:
    def test_a_finder_with_nothing_recorded_has_no_result(self):
        with pytest.raises(ValueError, match="recorded no batch"):
            _ = LRFinder().result


class TestBoolFlags:
    def test_restore_state_must_be_a_bool(self):
        with pytest.raises(
            TypeError, match="`restore_state`.*Received: restore_state='no'"
        ):
            LRFinder(restore_state="no")
        assert LRFinder(restore_state=np.bool_(False)).restore_state is False


class AddsLoss(keras.layers.Layer):
    def call(self, x):
        self.add_loss(keras.ops.mean(keras.ops.square(x - 1.0)))
        return x


class OwnLoss(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)

    def call(self, x):
        return self.dense(x)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        return keras.ops.mean(keras.ops.square(y_pred - y))


def loss_free_model(kind):
    if kind == "own_compute_loss":
        model = OwnLoss()
        model(np.zeros((1, 6), "float32"))
        return model
    layers = [keras.Input((6,))]
    if kind == "add_loss":
        layers += [keras.layers.Dense(4), AddsLoss()]
    elif kind == "regularizer":
        layers += [keras.layers.Dense(4, kernel_regularizer="l2")]
    elif kind == "activity_regularizer":
        layers += [keras.layers.Dense(4, activity_regularizer="l2")]
    return keras.Sequential(layers + [keras.layers.Dense(1)])


class TestLoss:
    def test_a_model_compiled_without_a_loss_is_refused(self):
        model = loss_free_model("plain")
        model.compile(optimizer="adam")
        weights = [np_copy(w) for w in model.weights]
        with pytest.raises(ValueError, match="compiled without a loss"):
            find_lr(model, *regression(), num_steps=4, verbose=0)
        assert not model.optimizer.built
        assert model.train_function is None
        for a, w in zip(weights, model.weights):
            np.testing.assert_array_equal(a, np_copy(w))

    @pytest.mark.filterwarnings("ignore:Gradients do not exist")
    @pytest.mark.parametrize(
        "kind",
        ["add_loss", "own_compute_loss", "regularizer", "activity_regularizer"],
    )
    def test_losses_without_a_compiled_loss_still_work(self, kind):
        model = loss_free_model(kind)
        model.compile(optimizer="adam")
        result = find_lr(
            model,
            *regression(),
            batch_size=16,
            num_steps=4,
            start_learning_rate=1e-3,
            end_learning_rate=1e-1,
            verbose=0,
        )
        assert len(result) == 4
        assert np.all(np.isfinite(result.raw_losses))
        assert np.all(result.raw_losses > 0)


MIRRORED_CHECK = """
import numpy as np, keras, tensorflow as tf
from keras_lrx import find_lr

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
x = np.random.default_rng(0).normal(size=(64, 6)).astype("float32")
y = x[:, :1].copy()
with strategy.scope():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(), loss="mse")
weights = [w.numpy() for w in model.weights]
for inside in (False, True):
    try:
        if inside:
            with strategy.scope():
                find_lr(model, x, y, num_steps=4, verbose=0)
        else:
            find_lr(model, x, y, num_steps=4, verbose=0)
    except ValueError as e:
        message = str(e)
        assert "not supported under a distribution strategy" in message, message
        assert "MirroredStrategy" in message, message
        assert "outside the strategy scope" in message, message
        assert "single device" in message, message
    else:
        raise AssertionError("find_lr ran under MirroredStrategy")
assert not model.optimizer.built
for a, w in zip(weights, model.weights):
    np.testing.assert_array_equal(a, w.numpy())

# A copy made outside the strategy runs.
copy = keras.models.clone_model(model)
copy.compile(optimizer=keras.optimizers.Adam(), loss="mse")
assert len(find_lr(copy, x, y, num_steps=4, verbose=0)) == 4
print("ALL OK")
"""


@pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="tf.distribute.MirroredStrategy is TensorFlow-only",
)
def test_mirrored_strategy_is_refused_up_front():
    from conftest import run_script

    two_cpus = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
"""
    out = run_script(two_cpus + MIRRORED_CHECK)
    assert "ALL OK" in out, out[-3000:]


# ---------------------------------------------------------------------------
# Bad inputs, table-driven: (call, exception type, argument name).
# ---------------------------------------------------------------------------


def _find(**kwargs):
    model = bias_model()
    x, y = zeros_data(16)
    find_lr(model, kwargs.pop("x", x), y, **kwargs)


_LRS = np.logspace(-4, 0, 41)
_LOSS = np.r_[
    np.full(10, 2.0), np.linspace(2, 0, 21)[1:], np.linspace(0.2, 3, 11)
]

BAD_INPUTS = [
    # find_lr
    (lambda: find_lr(bias_model(), None), ValueError, "x"),
    (
        lambda: _find(start_learning_rate=np.nan),
        ValueError,
        "start_learning_rate",
    ),
    (lambda: _find(end_learning_rate=np.inf), ValueError, "end_learning_rate"),
    (lambda: _find(end_learning_rate="10"), TypeError, "end_learning_rate"),
    (lambda: _find(num_steps=True), TypeError, "num_steps"),
    (lambda: _find(num_steps=-3), ValueError, "num_steps"),
    (lambda: _find(mode=None), ValueError, "mode"),
    (lambda: _find(mode=["linear"]), TypeError, "mode"),
    (lambda: _find(smoothing=np.nan), ValueError, "smoothing"),
    (lambda: _find(smoothing="0.5"), TypeError, "smoothing"),
    (
        lambda: _find(divergence_threshold=-2.0),
        ValueError,
        "divergence_threshold",
    ),
    (
        lambda: _find(divergence_threshold="4"),
        TypeError,
        "divergence_threshold",
    ),
    (lambda: _find(verbose=True), TypeError, "verbose"),
    (lambda: _find(verbose="loud"), ValueError, "verbose"),
    # LRFinder
    (
        lambda: LRFinder(start_learning_rate=-1e-3),
        ValueError,
        "start_learning_rate",
    ),
    (lambda: LRFinder(num_steps=2.5), TypeError, "num_steps"),
    (lambda: LRFinder(num_steps=0), ValueError, "num_steps"),
    (
        lambda: LRFinder(start_learning_rate=1.0, end_learning_rate=0.5),
        ValueError,
        "end_learning_rate",
    ),
    (lambda: LRFinder(restore_state=1), TypeError, "restore_state"),
    (lambda: LRFinder(restore_state=None), TypeError, "restore_state"),
    (lambda: LRFinder(smoothing=np.inf), ValueError, "smoothing"),
    # LRFinderResult
    (lambda: LRFinderResult("abc", [1.0], [1.0]), TypeError, "learning_rates"),
    (
        lambda: LRFinderResult([1e-3, -1e-3], [1, 2], [1, 2]),
        ValueError,
        "learning_rates",
    ),
    (
        lambda: LRFinderResult([1e-3, 0.0], [1, 2], [1, 2]),
        ValueError,
        "learning_rates",
    ),
    (
        lambda: LRFinderResult([1e-3, np.nan], [1, 2], [1, 2]),
        ValueError,
        "learning_rates",
    ),
    (
        lambda: LRFinderResult([1e-3, np.inf], [1, 2], [1, 2]),
        ValueError,
        "learning_rates",
    ),
    (lambda: LRFinderResult([], [], []), ValueError, "learning_rates"),
    (lambda: LRFinderResult([1e-3], [1.0, 2.0], [1.0]), ValueError, "losses"),
    (
        lambda: LRFinderResult([1e-3], [1.0], [1.0, 2.0]),
        ValueError,
        "raw_losses",
    ),
    (lambda: LRFinderResult([1e-3], [1.0], None), TypeError, "raw_losses"),
    (
        lambda: LRFinderResult([1e-3], [1.0], [1.0], stop_reason="done"),
        ValueError,
        "stop_reason",
    ),
    (lambda: LRFinderResult([1e-3], [1.0], [1.0], mode=1), ValueError, "mode"),
    (
        lambda: LRFinderResult([1e-3], [1.0], [1.0], group_learning_rates=[1]),
        TypeError,
        "group_learning_rates",
    ),
    (
        lambda: LRFinderResult(
            [1e-3], [1.0], [1.0], group_learning_rates={1.0: [1e-3, 1e-2]}
        ),
        ValueError,
        "group_learning_rates",
    ),
    (
        lambda: LRFinderResult(
            [1e-3], [1.0], [1.0], group_learning_rates={np.nan: [1e-3]}
        ),
        ValueError,
        "group_learning_rates",
    ),
    # LRFinderResult methods
    (lambda: synthetic_result().suggest("fastest"), ValueError, "method"),
    (
        lambda: synthetic_result().suggest(skip_start=-1),
        ValueError,
        "skip_start",
    ),
    (
        lambda: synthetic_result().suggest("valley", skip_end=1.5),
        TypeError,
        "skip_end",
    ),
    # "descent" and "centered" average the whole curve: nothing to skip.
    (lambda: synthetic_result().suggest(skip_end=2), ValueError, "skip_end"),
    (
        lambda: synthetic_result().suggest("centered", skip_start=2),
        ValueError,
        "skip_start",
    ),
    (
        lambda: synthetic_result().clr_bounds("smith", fall_fraction=1.0),
        ValueError,
        "fall_fraction",
    ),
    (
        lambda: synthetic_result().clr_bounds("smith", fall_fraction="0.1"),
        TypeError,
        "fall_fraction",
    ),
    (
        lambda: synthetic_result().clr_bounds("smith", fall_fraction=np.nan),
        ValueError,
        "fall_fraction",
    ),
    (
        lambda: synthetic_result().clr_bounds(fall_fraction=0.2),
        ValueError,
        "fall_fraction",
    ),
    (lambda: synthetic_result().clr_bounds("max"), ValueError, "method"),
    (
        lambda: synthetic_result().to_schedule("cyclical", total_steps=8.0),
        TypeError,
        "total_steps",
    ),
    (
        lambda: synthetic_result().to_schedule("cyclical", total_steps=True),
        TypeError,
        "total_steps",
    ),
    (
        lambda: synthetic_result().to_schedule("cyclical", total_steps=0),
        ValueError,
        "total_steps",
    ),
    (
        lambda: synthetic_result().to_schedule("cyclical", total_steps=-8),
        ValueError,
        "total_steps",
    ),
    (
        lambda: synthetic_result().to_schedule("one_cycle", total_steps=0),
        ValueError,
        "total_steps",
    ),
    (
        lambda: synthetic_result().to_schedule("one_cycle", total_steps=-8),
        ValueError,
        "total_steps",
    ),
    (
        lambda: synthetic_result().to_schedule("cyclical", step_size=0),
        ValueError,
        "step_size",
    ),
    (
        lambda: synthetic_result().to_schedule("one_cycle", 100, method="max"),
        ValueError,
        "method",
    ),
    (lambda: synthetic_result().to_schedule(None, 100), ValueError, "kind"),
    (
        lambda: synthetic_result().to_schedule("cosine", total_steps=10),
        ValueError,
        "kind",
    ),
    (lambda: synthetic_result().plot(method="max"), ValueError, "method"),
    (lambda: synthetic_result().plot(show_raw=None), TypeError, "show_raw"),
    (lambda: synthetic_result().plot(log_scale=0), TypeError, "log_scale"),
    (lambda: synthetic_result().plot(show_raw="no"), TypeError, "show_raw"),
    (lambda: synthetic_result().plot(log_scale="no"), TypeError, "log_scale"),
    # The plain helpers.
    (
        lambda: suggest_valley(_LRS, _LOSS, skip_start="2"),
        TypeError,
        "skip_start",
    ),
    (
        lambda: smooth_losses([1.0, 2.0], smoothing=-0.5),
        ValueError,
        "smoothing",
    ),
    (lambda: sweep_learning_rates(1e-3, 1.0, 0), ValueError, "num_steps"),
    (lambda: suggest_valley("abc", _LOSS), TypeError, "learning_rates"),
    (lambda: suggest_steepest(_LRS, "abc"), TypeError, "losses"),
    (lambda: suggest_minimum(_LRS, None), TypeError, "losses"),
    (lambda: suggest_valley(_LRS, _LOSS[:5]), ValueError, "losses"),
    (lambda: clr_bounds(_LRS[:5], _LOSS), ValueError, "losses"),
    (lambda: suggest_valley([], []), ValueError, "learning_rates"),
    (lambda: suggest_centered("abc", _LOSS), TypeError, "learning_rates"),
    (lambda: suggest_centered(_LRS, _LOSS[:5]), ValueError, "losses"),
    (lambda: suggest_centered(_LRS, None), TypeError, "losses"),
    (lambda: suggest_descent("abc", _LOSS), TypeError, "learning_rates"),
    (lambda: suggest_descent(_LRS, _LOSS[:5]), ValueError, "losses"),
    (lambda: suggest_descent(_LRS, None), TypeError, "losses"),
    (lambda: smooth_losses("abc"), TypeError, "losses"),
    (lambda: smooth_losses(None), TypeError, "losses"),
    (lambda: smooth_losses([1.0, "x"]), TypeError, "losses"),
    # LRSweep
    (
        lambda: LRSweep(1e-3, 1.0, 4, initial_step=2.5),
        TypeError,
        "initial_step",
    ),
    (
        lambda: LRSweep(1e-3, 1.0, 4, initial_step="3"),
        TypeError,
        "initial_step",
    ),
    (
        lambda: LRSweep(1e-3, 1.0, 4, initial_step=-1),
        ValueError,
        "initial_step",
    ),
    (lambda: LRSweep(1e-3, 1.0, 4, name=3), TypeError, "name"),
    (lambda: LRSweep(0.0, 1.0, 4), ValueError, "start_learning_rate"),
    # LRFinderResult.from_dict
    (lambda: LRFinderResult.from_dict("abc"), TypeError, "config"),
    (
        lambda: LRFinderResult.from_dict(
            {"losses": [1.0], "raw_losses": [1.0]}
        ),
        ValueError,
        "config",
    ),
    (
        lambda: LRFinderResult.from_dict(
            {**synthetic_result().to_dict(), "extra": 1}
        ),
        ValueError,
        "config",
    ),
    (
        lambda: LRFinderResult.from_dict(
            {
                **synthetic_result().to_dict(),
                "group_learning_rates": {"x": [1.0]},
            }
        ),
        ValueError,
        "group_learning_rates",
    ),
    (
        lambda: LRFinderResult.from_dict(
            {**synthetic_result().to_dict(), "group_learning_rates": [1.0]}
        ),
        TypeError,
        "group_learning_rates",
    ),
]


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf])
@pytest.mark.parametrize(
    "helper",
    [
        suggest_steepest,
        suggest_minimum,
        suggest_valley,
        suggest_centered,
        suggest_descent,
        clr_bounds,
    ],
)
def test_helpers_refuse_non_positive_rates(helper, bad):
    # The module helpers made the same -1.0 (or NaN, or negative bounds)
    # suggestions as LRFinderResult from rates that are not > 0.
    lrs = _LRS.copy()
    lrs[3] = bad
    with pytest.raises(ValueError, match=r"`learning_rates`.*\[3\]"):
        helper(lrs, _LOSS)
    with pytest.raises(ValueError, match="`learning_rates`"):
        helper(-_LRS, _LOSS)


@pytest.mark.parametrize(
    "call, error, name",
    BAD_INPUTS,
    ids=[f"{i}-{row[2]}" for i, row in enumerate(BAD_INPUTS)],
)
def test_bad_input(call, error, name):
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error
    assert f"`{name}`" in str(info.value), str(info.value)
