"""The default suggestion ("descent"), "centered", flat curves, the range.

The quality of the suggestion (how well a model trains at it, against a
grid search) is measured by benchmarks/bench_suggestion.py, not here: these
tests pin the rule itself against a hand-written reference, and the
behaviour on curves that say nothing.
"""

import math
import warnings

import keras
import numpy as np
import pytest

from keras_lrx import LRFinderResult
from keras_lrx import find_lr
from keras_lrx.suggestions import centered_losses
from keras_lrx.suggestions import clr_bounds
from keras_lrx.suggestions import curve_is_flat
from keras_lrx.suggestions import descent_clr_bounds
from keras_lrx.suggestions import smooth_losses
from keras_lrx.suggestions import suggest_centered
from keras_lrx.suggestions import suggest_descent
from keras_lrx.suggestions import suggest_minimum
from keras_lrx.suggestions import suggest_steepest
from keras_lrx.suggestions import suggest_valley

LRS = np.logspace(-7, 1, 100)  # find_lr's default sweep


def reference_centered(losses, h):
    """Mean of the 2h+1 points around each point, ends repeated."""
    n = len(losses)
    out = []
    for k in range(n):
        window = [
            losses[min(max(j, 0), n - 1)] for j in range(k - h, k + h + 1)
        ]
        out.append(sum(window) / len(window))
    return np.array(out)


def typical_curve(seed=0, low=-2.0, noise=0.03):
    """Flat, then a V lowest at 10**low (one loss unit per decade); noisy."""
    x = np.log10(LRS)
    rng = np.random.default_rng(seed)
    loss = np.where(x < low - 2, 2.5, 0.5 + np.abs(x - low))
    return loss + rng.normal(0, noise, LRS.size)


class TestCentered:
    @pytest.mark.parametrize("h", [0, 1, 3, 7])
    def test_centered_losses_match_the_reference(self, h):
        losses = np.random.default_rng(h).normal(size=23)
        np.testing.assert_allclose(
            centered_losses(losses, h), reference_centered(losses, h)
        )

    @pytest.mark.parametrize("low", [-4.0, -2.0, -1.0])
    def test_rate_at_the_centered_minimum_over_30(self, low):
        raw = typical_curve(low=low)
        # 12.4 points per decade: half a decade is 3 points on each side.
        expected = LRS[int(np.argmin(reference_centered(raw, 3)))] / 30
        assert suggest_centered(LRS, raw) == pytest.approx(expected)
        # Within a quarter decade of 10**low / 30.
        got = suggest_centered(LRS, raw) * 30
        assert abs(math.log10(got) - low) < 0.25

    def test_divisor_and_window(self):
        raw = typical_curve()
        h = 6  # one decade = 12.4 points: 6 on each side
        expected = LRS[int(np.argmin(reference_centered(raw, h)))] / 10
        got = suggest_centered(LRS, raw, divisor=10, window_decades=1.0)
        assert got == pytest.approx(expected)

    def test_unlike_the_moving_average_it_does_not_lag(self):
        # A 0.98 moving average of a loss falling until 1e-2 and then
        # climbing reaches its minimum well after 1e-2; the centered one
        # at it.
        raw = typical_curve()
        lagged = LRS[int(np.argmin(smooth_losses(raw, 0.98)))]
        centered = suggest_centered(LRS, raw, divisor=1)
        assert abs(math.log10(centered) + 2) < 0.25
        assert math.log10(lagged) > math.log10(centered) + 0.5

    def test_ignores_the_blow_up(self):
        raw = typical_curve()
        raw[80:] = np.nan
        expected = LRS[int(np.argmin(reference_centered(raw[:80], 3)))] / 30
        assert suggest_centered(LRS, raw) == pytest.approx(expected)

    @pytest.mark.parametrize(
        "kwargs, name",
        [
            ({"divisor": 0.5}, "divisor"),
            ({"divisor": "3"}, "divisor"),
            ({"window_decades": 0.0}, "window_decades"),
            ({"window_decades": np.nan}, "window_decades"),
        ],
    )
    def test_bad_arguments(self, kwargs, name):
        with pytest.raises((TypeError, ValueError), match=f"`{name}`"):
            suggest_centered(LRS, typical_curve(), **kwargs)

    def test_needs_two_points(self):
        with pytest.raises(ValueError, match="at least 2"):
            suggest_centered(LRS[:1], [1.0])


def reference_descent(lrs, raw, fraction=0.75, divisor=10.0, h=3):
    """First rate where the centered loss is `fraction` of the way down."""
    centered = reference_centered(list(raw), h)
    start = float(np.median(raw[: max(3, len(raw) // 10)]))
    low = min(range(len(centered)), key=lambda k: centered[k])
    level = start - fraction * (start - centered[low])
    for k in range(low + 1):
        if centered[k] <= level:
            return lrs[k] / divisor
    raise AssertionError("the minimum itself is below the level")


def falling_curve(seed=0, fall_at=-3.0, noise=0.03):
    """2.5 until 10**(fall_at - 1), one unit per decade down to 0.5, then a
    floor that rises two units per decade after 10**(fall_at + 2.5)."""
    x = np.log10(LRS)
    rng = np.random.default_rng(seed)
    loss = np.clip(2.5 - (x - (fall_at - 1)), 0.5, 2.5)
    loss = loss + 2.0 * np.clip(x - (fall_at + 2.5), 0, None)
    return loss + rng.normal(0, noise, LRS.size)


class TestDescent:
    def test_a_curve_that_only_rises_reads_its_lowest_point(self):
        # The median of the first points is below every centred average, so
        # no level is crossed (this raised IndexError before).
        lrs = np.logspace(-7, -5, 6)
        raw = np.array([0.1, 5.0, 0.1, 5.0, 0.1, 5.0])
        low = int(np.argmin(centered_losses(raw, 1)))
        assert suggest_descent(lrs, raw) == pytest.approx(
            max(lrs[low] / 10, lrs[0])
        )

    @pytest.mark.parametrize("seed", range(3))
    @pytest.mark.parametrize("fall_at", [-5.0, -3.0, -2.0])
    def test_matches_the_reference(self, fall_at, seed):
        raw = falling_curve(seed, fall_at)
        assert suggest_descent(LRS, raw) == pytest.approx(
            reference_descent(LRS, raw)
        )

    @pytest.mark.parametrize("fall_at", [-5.0, -3.0, -2.0])
    def test_a_tenth_of_three_quarters_down(self, fall_at):
        # The loss falls from 2.5 to 0.5 over the two decades from
        # 10**(fall_at - 1): three quarters down is 1.0, at 10**(fall_at
        # + 0.5).
        got = suggest_descent(LRS, falling_curve(0, fall_at)) * 10
        assert abs(math.log10(got) - (fall_at + 0.5)) < 0.15

    def test_a_noisy_floor_does_not_move_it(self):
        # The same descent with a long, noisy floor: where the floor's
        # minimum lies is noise and moves "centered" by decades between
        # seeds; the level crossing stays put.
        x = np.log10(LRS)
        crossings, minima = [], []
        for seed in range(6):
            rng = np.random.default_rng(seed)
            raw = np.clip(2.5 - (x + 5), 0.5, 2.5) + rng.normal(0, 0.1, 100)
            raw[x > 0.5] += 5.0  # divergence at the end
            crossings.append(math.log10(suggest_descent(LRS, raw)))
            minima.append(math.log10(suggest_centered(LRS, raw)))
        assert max(crossings) - min(crossings) < 0.3
        assert max(minima) - min(minima) > 1.0

    def test_fraction_divisor_and_window(self):
        raw = falling_curve()
        got = suggest_descent(
            LRS, raw, fraction=0.5, divisor=3.0, window_decades=1.0
        )
        assert got == pytest.approx(reference_descent(LRS, raw, 0.5, 3.0, 6))

    def test_ignores_the_blow_up(self):
        raw = falling_curve()
        raw[85:] = np.inf
        assert suggest_descent(LRS, raw) == pytest.approx(
            reference_descent(LRS[:85], raw[:85])
        )

    @pytest.mark.parametrize(
        "kwargs, name",
        [
            ({"fraction": 0.0}, "fraction"),
            ({"fraction": 1.5}, "fraction"),
            ({"fraction": "0.5"}, "fraction"),
            ({"divisor": 0.5}, "divisor"),
            ({"window_decades": -1.0}, "window_decades"),
        ],
    )
    def test_bad_arguments(self, kwargs, name):
        with pytest.raises((TypeError, ValueError), match=f"`{name}`"):
            suggest_descent(LRS, falling_curve(), **kwargs)

    def test_needs_two_points(self):
        with pytest.raises(ValueError, match="at least 2"):
            suggest_descent(LRS[:1], [1.0])


class TestSweptRange:
    """A suggestion is always one of the rates the test tried, or between."""

    def test_minimum_over_ten_is_clipped_to_the_first_rate(self):
        lrs = np.logspace(-3, 0, 40)
        loss = np.linspace(1.0, 3.0, 40)  # lowest at the very start
        assert suggest_minimum(lrs, loss, 0, 0) == lrs[0]
        assert suggest_centered(lrs, loss) == lrs[0]
        assert suggest_descent(lrs, loss) == lrs[0]

    @pytest.mark.parametrize("seed", range(5))
    @pytest.mark.parametrize(
        "suggest",
        [suggest_descent, suggest_centered, suggest_valley, suggest_steepest],
    )
    def test_every_method_stays_within_the_sweep(self, suggest, seed):
        rng = np.random.default_rng(seed)
        lrs = np.logspace(-4, -1, 30)
        loss = rng.normal(size=30).cumsum()
        assert lrs[0] <= suggest(lrs, loss) <= lrs[-1]
        assert lrs[0] <= suggest_minimum(lrs, loss) <= lrs[-1]


class TestFlatCurves:
    @pytest.mark.parametrize("seed", range(10))
    def test_noise_alone_is_flat(self, seed):
        noise = np.random.default_rng(seed).normal(0, 0.2, 100)
        assert curve_is_flat(LRS, 2.0 + noise)

    @pytest.mark.parametrize("seed", range(5))
    def test_a_fall_of_a_few_noise_levels_is_not_flat(self, seed):
        assert not curve_is_flat(LRS, typical_curve(seed))
        noise = np.random.default_rng(seed).normal(0, 0.1, 100)
        falling = 2.0 - 0.6 * (np.arange(100) > 50) + noise
        assert not curve_is_flat(LRS, falling)

    def test_a_rising_curve_is_flat(self):
        assert curve_is_flat(LRS, np.linspace(1.0, 5.0, 100))

    def flat_result(self):
        noise = np.random.default_rng(0).normal(0, 0.2, 100)
        return LRFinderResult(LRS, 2.0 + noise, 2.0 + noise)

    def test_result_flags_warns_and_refuses_bounds(self):
        result = self.flat_result()
        assert result.is_flat
        assert "flat" in repr(result)
        for method in ("centered", "valley", "steepest", "minimum"):
            with pytest.warns(UserWarning, match="is_flat"):
                lr = result.suggest(method)
            assert LRS[0] <= lr <= LRS[-1]
        with pytest.raises(ValueError, match="noise"):
            result.clr_bounds()
        with pytest.raises(ValueError, match="noise"):
            result.to_schedule("cyclical", total_steps=100)

    def test_a_good_curve_warns_nothing(self):
        raw = typical_curve()
        result = LRFinderResult(LRS, raw, raw)
        assert not result.is_flat
        assert "flat" not in repr(result)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            result.suggest()
            result.clr_bounds()

    def test_find_lr_on_a_model_that_cannot_learn(self):
        # The output ignores the trainable weights: the loss is the targets'
        # batch-to-batch noise at every rate.
        keras.utils.set_random_seed(0)
        inputs = keras.Input((4,))
        hidden = keras.layers.Dense(8)(inputs)
        zero = keras.layers.Lambda(lambda t: t * 0.0)(hidden)
        model = keras.Model(inputs, zero)
        model.compile(keras.optimizers.SGD(0.1), "mse")
        rng = np.random.default_rng(0)
        x = rng.normal(size=(640, 4)).astype("float32")
        y = rng.normal(size=(640, 8)).astype("float32")
        result = find_lr(model, x, y, batch_size=16, verbose=0)
        assert result.is_flat
        with pytest.warns(UserWarning, match="not a measurement"):
            result.suggest()
        with pytest.raises(ValueError, match="noise"):
            result.clr_bounds()


class TestResultDefault:
    def test_default_is_descent_on_the_raw_losses(self):
        raw = falling_curve()
        smoothed = np.linspace(3.0, 1.0, 100)  # a different curve
        result = LRFinderResult(LRS, smoothed, raw)
        assert result.suggested_learning_rate == suggest_descent(LRS, raw)
        assert result.suggest() == suggest_descent(LRS, raw)
        assert result.suggest("centered") == suggest_centered(LRS, raw)
        assert result.suggest("valley") == suggest_valley(LRS, smoothed)

    def test_skip_arguments_are_refused_by_centered(self):
        raw = typical_curve()
        result = LRFinderResult(LRS, raw, raw)
        with pytest.raises(ValueError, match="skip_start"):
            result.suggest("centered", skip_start=3)
        assert result.suggest("valley", skip_start=3) > 0

    def test_smith_clr_bounds_on_a_good_curve(self):
        raw = typical_curve()
        result = LRFinderResult(LRS, raw, raw)
        assert result.clr_bounds("smith") == clr_bounds(LRS, raw)
        assert result.clr_bounds("smith", 0.3) == clr_bounds(LRS, raw, 0.3)


class TestDescentClrBounds:
    """The default CLR bounds: half and twice the default suggestion."""

    @pytest.mark.parametrize("fall_at", [-5.0, -3.0, -2.0])
    def test_half_and_twice_the_suggestion(self, fall_at):
        raw = falling_curve(0, fall_at)
        lr = reference_descent(LRS, raw)
        base, top = descent_clr_bounds(LRS, raw)
        assert top == pytest.approx(2 * lr)
        assert base == pytest.approx(lr / 2)
        result = LRFinderResult(LRS, smooth_losses(raw), raw)
        assert result.clr_bounds() == (base, top)

    def test_factors(self):
        raw = falling_curve()
        lr = reference_descent(LRS, raw)
        base, top = descent_clr_bounds(LRS, raw, peak_factor=3, base_divisor=10)
        assert (base, top) == pytest.approx((0.3 * lr, 3 * lr))

    def test_below_the_peak_that_diverges(self):
        # Smith's reading tops the cycle where the loss bottoms out; these
        # bounds stay more than a decade below it.
        raw = falling_curve()
        smith_top = clr_bounds(LRS, smooth_losses(raw))[1]
        assert descent_clr_bounds(LRS, raw)[1] < smith_top / 10

    def test_clipped_to_the_sweep(self):
        lrs = np.logspace(-3, 0, 40)
        rising = np.linspace(1.0, 3.0, 40)  # suggestion: the first rate
        base, top = descent_clr_bounds(lrs, rising)
        assert base == lrs[0] and top == pytest.approx(2 * lrs[0])
        falling = np.linspace(3.0, 1.0, 40)  # about 0.017
        base, top = descent_clr_bounds(lrs, falling, peak_factor=100)
        assert top == lrs[-1] and base == pytest.approx(lrs[-1] / 4)
        with pytest.raises(ValueError, match="start_learning_rate"):
            descent_clr_bounds(lrs, rising, peak_factor=1.0)

    @pytest.mark.parametrize(
        "kwargs, name",
        [
            ({"peak_factor": 0.5}, "peak_factor"),
            ({"base_divisor": 1.0}, "base_divisor"),
            ({"base_divisor": "4"}, "base_divisor"),
        ],
    )
    def test_bad_arguments(self, kwargs, name):
        with pytest.raises((TypeError, ValueError), match=f"`{name}`"):
            descent_clr_bounds(LRS, falling_curve(), **kwargs)
