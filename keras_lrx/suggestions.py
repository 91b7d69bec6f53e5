"""The arithmetic of the learning-rate range test, in NumPy alone.

The rates of a sweep (`sweep_learning_rates`), the smoothing of its losses
(`smooth_losses`), the rates read off the curve: `suggest_descent` (the
reading the probes start from), `suggest_centered`, `suggest_valley`
(fastai's default), `suggest_steepest` (pytorch-lr-finder's),
`suggest_minimum` (fastai's "minimum / 10"), `descent_clr_bounds` (the
default cyclical bounds) and `clr_bounds` (Smith's); and `pick_probe`, which
picks among the probes `find_lr` runs (`keras_lrx.probes`). They take arrays
and return floats, so they are tested without a model; the finder
(`keras_lrx.finder`) and its result (`keras_lrx.finder_result`) call them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from keras_lrx._validation import check_choice
from keras_lrx._validation import check_count
from keras_lrx._validation import check_float
from keras_lrx._validation import check_float_array
from keras_lrx._validation import check_learning_rates

__all__ = [
    "sweep_learning_rates",
    "smooth_losses",
    "centered_losses",
    "curve_is_flat",
    "suggest_centered",
    "suggest_descent",
    "suggest_steepest",
    "suggest_minimum",
    "suggest_valley",
    "clr_bounds",
    "descent_clr_bounds",
    "pick_probe",
    "run_length_factor",
]

#: Spacings of the sweep's rates.
MODES = ("exponential", "linear")
#: The curve's reading `LRFinderResult.suggested_learning_rate` falls back on
#: where no probes ran (with probes it is `pick_probe`'s choice).
DEFAULT_METHOD = "descent"
#: `pick_probe`'s tolerance: the lowest probed rate within 50% of the best
#: held-out loss wins. Chosen with `benchmarks/bench_suggestion.py`
#: (benchmarks/README.md, 2026-12-04).
PROBE_TOLERANCE = 0.5
#: `pick_probe`'s back-off: a winner above the curve's reading is divided by
#: sqrt(10) (half a decade), the horizon correction (see `pick_probe`).
PROBE_BACKOFF = 10**0.5
#: The run length the rule below is centred on, in optimizer steps (the
#: benchmark's from-scratch budget, which the default was chosen for).
RUN_LENGTH_REFERENCE = 160
#: The shortest and the longest run the run-length rule was measured on;
#: a run outside is read as the nearest of them (no extrapolation).
RUN_LENGTH_RANGE = (40, 640)
#: `run_length_factor`'s scales at the reference length and exponents, each
#: as (the pick is the curve's reading, the pick is above it). Chosen with
#: `benchmarks/bench_suggestion.py --choose` on the chosen cases only
#: (benchmarks/README.md, "The finder's suggestion").
RUN_LENGTH_SCALES = (10**0.5, 1.0)
RUN_LENGTH_EXPONENTS = (-0.375, -0.875)
#: `suggest_centered`'s divisor of the rate at the minimum; chosen by
#: `benchmarks/bench_suggestion.py` (benchmarks/README.md, "The finder's
#: suggestion vs a grid search").
CENTERED_DIVISOR = 30.0
#: `suggest_descent`'s fraction of the fall and divisor, chosen the same way.
DESCENT_FRACTION = 0.75
DESCENT_DIVISOR = 10.0
#: `descent_clr_bounds`: the cycle's peak over the suggestion, and the peak
#: over the base (Smith's rule of thumb: a base of a third to a quarter).
CLR_PEAK_FACTOR = 2.0
CLR_BASE_DIVISOR = 4.0


def check_sweep(
    start_learning_rate: float,
    end_learning_rate: float,
    num_steps: int,
    mode: str,
) -> tuple[float, float, int, str]:
    """Checks a sweep's arguments; returns `(start, end, num_steps, mode)`."""
    start = check_float(
        "start_learning_rate", start_learning_rate, low=0.0, low_open=True
    )
    end = check_float(
        "end_learning_rate", end_learning_rate, low=0.0, low_open=True
    )
    if end <= start:
        raise ValueError(
            "Argument `end_learning_rate` must be > `start_learning_rate`. "
            f"Received: start_learning_rate={start_learning_rate!r}, "
            f"end_learning_rate={end_learning_rate!r}"
        )
    num_steps = check_count("num_steps", num_steps, 2)
    mode = check_choice("mode", mode, MODES)
    return start, end, num_steps, mode


def check_smoothing(smoothing: float) -> float:
    """Checks the loss-smoothing factor: a float in `[0, 1)`."""
    return check_float(
        "smoothing", smoothing, low=0.0, high=1.0, high_open=True
    )


def sweep_learning_rates(
    start_learning_rate: float,
    end_learning_rate: float,
    num_steps: int,
    mode: str = "exponential",
) -> np.ndarray:
    """The learning rates of a range test, one per batch.

    With `n = num_steps` and `k = 0 ... n - 1`:

    ```
    exponential:  lr(k) = start * (end / start) ** (k / (n - 1))
    linear:       lr(k) = start + (end - start) * k / (n - 1)
    ```

    Args:
        start_learning_rate: Float. The first rate (> 0).
        end_learning_rate: Float. The last rate (> `start_learning_rate`).
        num_steps: Int. Number of rates (>= 2).
        mode: String. `"exponential"` or `"linear"`. Defaults to
            `"exponential"`.

    Returns:
        A float64 NumPy array of `num_steps` rates.

    Example:

    >>> sweep_learning_rates(1e-3, 1.0, 4).round(6).tolist()
    [0.001, 0.01, 0.1, 1.0]
    >>> sweep_learning_rates(0.0, 1.0, 3, mode="linear")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: Argument `start_learning_rate` must be > 0. Received: ...
    """
    start, end, n, mode = check_sweep(
        start_learning_rate, end_learning_rate, num_steps, mode
    )
    t = np.arange(n, dtype="float64") / (n - 1)
    if mode == "exponential":
        rates = start * (end / start) ** t
    else:
        rates = start + (end - start) * t
    rates[0], rates[-1] = start, end
    return rates


def smooth_losses(losses: Any, smoothing: float = 0.98) -> np.ndarray:
    """Bias-corrected exponential moving average of a loss sequence.

    ```
    avg(k)      = smoothing * avg(k - 1) + (1 - smoothing) * loss(k)
    avg(-1)     = 0
    smoothed(k) = avg(k) / (1 - smoothing ** (k + 1))
    ```

    The correction makes `smoothed(0) = loss(0)` instead of a value pulled
    towards 0. `smoothing=0` returns the losses unchanged.

    Args:
        losses: Sequence or array of floats (NaN and inf pass through).
        smoothing: Float in `[0, 1)`. Defaults to `0.98`.

    Returns:
        A float64 NumPy array, as long as `losses`.

    Example:

    >>> smooth_losses([2.0, 2.0, 2.0], smoothing=0.9).tolist()
    [2.0, 2.0, 2.0]
    >>> smooth_losses([1.0, 3.0], smoothing=0.5).round(4).tolist()
    [1.0, 2.3333]
    """
    s = check_smoothing(smoothing)
    losses = check_float_array("losses", losses)
    out = np.empty(losses.size, dtype="float64")
    avg = 0.0
    for k, loss in enumerate(losses):
        avg = s * avg + (1.0 - s) * float(loss)
        out[k] = avg / (1.0 - s ** (k + 1))
    return out


def _paired(learning_rates, losses):
    """Checked float64 arrays of rates and of one loss per rate."""
    lrs = check_learning_rates("learning_rates", learning_rates)
    losses = check_float_array("losses", losses)
    if lrs.shape != losses.shape:
        raise ValueError(
            "Argument `losses` must have one value per learning rate "
            f"({lrs.size}), like `learning_rates`. Received: losses of "
            f"length {losses.size}"
        )
    return lrs, losses


def _as_curve(learning_rates, losses):
    lrs, losses = _paired(learning_rates, losses)
    # Everything from the first non-finite loss on is the blow-up.
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        lrs, losses = lrs[: bad[0]], losses[: bad[0]]
    return lrs, losses


def _trimmed(learning_rates, losses, skip_start, skip_end):
    """The curve without its first and last few points (and no blow-up)."""
    skip_start = check_count("skip_start", skip_start, allow_none=True)
    skip_end = check_count("skip_end", skip_end, allow_none=True)
    lrs, losses = _as_curve(learning_rates, losses)
    n = lrs.size
    if n < 2:
        raise ValueError(
            "A suggestion needs at least 2 recorded points with a finite "
            f"loss; got {n}. Run the range test with more steps, or start it "
            "at a lower `start_learning_rate`."
        )
    skip_start = n // 10 if skip_start is None else skip_start
    skip_end = n // 20 if skip_end is None else skip_end
    if n - skip_start - skip_end >= 3:
        lrs = lrs[skip_start : n - skip_end]
        losses = losses[skip_start : n - skip_end]
    return lrs, losses


def suggest_steepest(
    learning_rates: Any,
    losses: Any,
    skip_start: int | None = None,
    skip_end: int | None = None,
) -> float:
    """The rate where the loss falls fastest against `log(learning_rate)`.

    The slope is `np.gradient(losses, np.log(learning_rates))` (central
    differences); the rate at its most negative value is returned. The first
    `skip_start` and last `skip_end` points are left out first, as
    pytorch-lr-finder and fastai do: the start is flat and noisy, the end is
    the blow-up. Losses from the first non-finite one on are ignored.

    This is the classic suggestion; on noisy curves it can pick a spike, which
    is why fastai moved to `suggest_valley`.

    Args:
        learning_rates: Increasing sequence of rates (> 0).
        losses: The (smoothed) loss at each rate.
        skip_start: Int. Points left out at the start. Defaults to `None`,
            meaning `len // 10` (10 of 100).
        skip_end: Int. Points left out at the end. Defaults to `None`,
            meaning `len // 20` (5 of 100). When skipping would leave fewer
            than 3 points, nothing is skipped.

    Returns:
        A float, one of `learning_rates`.

    Example:

    >>> lrs = np.logspace(-4, 0, 41)          # 10 points per decade
    >>> loss = 1.0 - np.tanh(2 * (np.log10(lrs) + 2))  # falls fastest at 1e-2
    >>> float(suggest_steepest(lrs, loss))
    0.01
    """
    lrs, losses = _trimmed(learning_rates, losses, skip_start, skip_end)
    slope = np.gradient(losses, np.log(lrs))
    return float(lrs[int(np.argmin(slope))])


def suggest_minimum(
    learning_rates: Any,
    losses: Any,
    skip_start: int | None = None,
    skip_end: int | None = None,
) -> float:
    """One tenth of the rate at the minimum of the loss (fastai's `minimum`).

    At the minimum the loss has stopped falling and is about to diverge; a
    tenth of that rate is still fast and safely below it.

    Args:
        learning_rates: Increasing sequence of rates (> 0).
        losses: The (smoothed) loss at each rate.
        skip_start: Int. Points left out at the start; see
            `suggest_steepest`. Defaults to `None` (`len // 10`).
        skip_end: Int. Points left out at the end. Defaults to `None`
            (`len // 20`).

    Returns:
        A float: `learning_rates[argmin(losses)] / 10`, or the first rate of
        the sweep if that is lower.

    Example:

    >>> lrs = np.logspace(-4, 0, 41)
    >>> loss = (np.log10(lrs) + 1) ** 2        # minimum at 1e-1
    >>> round(suggest_minimum(lrs, loss), 6)
    0.01
    """
    swept = _swept_range(learning_rates)
    lrs, losses = _trimmed(learning_rates, losses, skip_start, skip_end)
    return _within(lrs[int(np.argmin(losses))] / 10.0, swept)


def _swept_range(learning_rates):
    lrs = check_learning_rates("learning_rates", learning_rates)
    return float(lrs.min()), float(lrs.max())


def _within(rate, swept):
    """`rate` clipped to the swept range: a suggestion is a rate tried."""
    return float(min(max(rate, swept[0]), swept[1]))


def centered_losses(losses: Any, half_width: int) -> np.ndarray:
    """Centered moving average of `losses` over `2 * half_width + 1` points.

    ```
    centered(k) = mean(losses[k - h], ..., losses[k + h]),  h = half_width
    ```

    with the first and last loss repeated beyond the ends. Unlike the
    exponential average of `smooth_losses`, which trails the loss by about
    `1 / (1 - smoothing)` steps (50 steps at 0.98, half a default sweep), it
    does not lag: its minimum is where the loss is lowest.

    Args:
        losses: Sequence or array of finite floats.
        half_width: Int >= 0. Points averaged on each side.

    Returns:
        A float64 NumPy array, as long as `losses`.

    Example:

    >>> centered_losses([3.0, 0.0, 3.0, 6.0], 1).tolist()
    [2.0, 2.0, 3.0, 5.0]
    """
    losses = check_float_array("losses", losses)
    h = check_count("half_width", half_width, 0)
    padded = np.pad(losses, (h, h), mode="edge")
    window = np.full(2 * h + 1, 1.0 / (2 * h + 1))
    return np.convolve(padded, window, mode="valid")


def _half_width(lrs, decades):
    """Points within `decades / 2` of a point, at the sweep's density."""
    steps = np.diff(np.log10(lrs))
    steps = steps[steps > 0]
    if not steps.size:
        return 1
    return max(1, int(round(decades / 2 / float(np.median(steps)))))


def _lag_free_curve(learning_rates, raw_losses, window_decades):
    """(swept range, rates, raw losses, their centered average), checked."""
    window_decades = check_float(
        "window_decades", window_decades, low=0.0, low_open=True
    )
    swept = _swept_range(learning_rates)
    lrs, losses = _as_curve(learning_rates, raw_losses)
    if lrs.size < 2:
        raise ValueError(
            "A suggestion needs at least 2 recorded points with a finite "
            f"loss; got {lrs.size}. Run the range test with more steps, or "
            "start it at a lower `start_learning_rate`."
        )
    centered = centered_losses(losses, _half_width(lrs, window_decades))
    return swept, lrs, losses, centered


def suggest_centered(
    learning_rates: Any,
    raw_losses: Any,
    divisor: float = CENTERED_DIVISOR,
    window_decades: float = 0.5,
) -> float:
    """A fraction of the rate where the (lag-free) loss is lowest.

    The raw losses are averaged over a centered window of `window_decades`
    of learning rate (`centered_losses`, 7 points of a default sweep), so the
    minimum is not delayed the way the exponential average's is; the rate at
    that minimum, where training is about to diverge, divided by `divisor`:

    ```
    suggestion = learning_rates[argmin(centered_losses(raw_losses, h))]
                 / divisor
    ```

    clipped to the swept range. Losses from the first non-finite one on are
    ignored. The default divisor, 30, is the one that trains best across the
    grid-search benchmark (`benchmarks/bench_suggestion.py`): a fixed budget
    of a few epochs on scikit-learn's data sets with Adam, AdamW and SGD with
    momentum; the finder guide shows the table.

    Args:
        learning_rates: Increasing sequence of rates (> 0).
        raw_losses: The loss of each batch as trained (not smoothed).
        divisor: Float >= 1. Defaults to 30.
        window_decades: Float > 0. Width of the averaging window, in decades
            of learning rate. Defaults to 0.5.

    Returns:
        A float within `[learning_rates[0], learning_rates[-1]]`.

    Example:

    >>> lrs = np.logspace(-5, 1, 61)             # 10 points per decade
    >>> loss = (np.log10(lrs) + 1) ** 2          # lowest at 0.1
    >>> round(suggest_centered(lrs, loss), 6), round(float(lrs[40]) / 30, 6)
    (0.003333, 0.003333)
    """
    divisor = check_float("divisor", divisor, low=1.0)
    swept, lrs, losses, centered = _lag_free_curve(
        learning_rates, raw_losses, window_decades
    )
    return _within(lrs[int(np.argmin(centered))] / divisor, swept)


def _start_level(losses):
    """The loss before training moved: the median of the first points."""
    return float(np.median(losses[: max(3, losses.size // 10)]))


def suggest_descent(
    learning_rates: Any,
    raw_losses: Any,
    fraction: float = DESCENT_FRACTION,
    divisor: float = DESCENT_DIVISOR,
    window_decades: float = 0.5,
) -> float:
    """A fraction of the rate where the loss has made most of its fall.

    On the lag-free average of the raw losses (`centered_losses` over
    `window_decades` of rate, as in `suggest_centered`), with `start` the
    median of the first tenth of the points (at least 3) and `low` the
    average's minimum, the suggestion is the first rate at which the average
    has come down by `fraction` of the way, divided by `divisor`:

    ```
    level      = start - fraction * (start - low)
    suggestion = learning_rates[first k with centered(k) <= level] / divisor
    ```

    clipped to the swept range. Losses from the first non-finite one on are
    ignored.

    Why a level crossing and not the minimum: near its minimum the curve is
    flat, so on a noisy curve *where* the minimum lies is itself noise (on
    the benchmark's diabetes regression it moves by a decade between two
    seeds whose best rate is the same), while the descent is steep, so the
    rate at which the loss crosses a level well down it is pinned down even
    when the batches are noisy. `fraction=0.75` and `divisor=10` are the
    values that train best across `benchmarks/bench_suggestion.py` (a
    divisor anywhere from 7 to 15 keeps its worst case above 0.95 there);
    the finder guide shows the table.

    Args:
        learning_rates: Increasing sequence of rates (> 0).
        raw_losses: The loss of each batch as trained (not smoothed).
        fraction: Float in `(0, 1]`: how far down the fall. Defaults to
            0.75.
        divisor: Float >= 1. Defaults to 10.
        window_decades: Float > 0. Width of the averaging window, in decades
            of learning rate. Defaults to 0.5.

    Returns:
        A float within `[learning_rates[0], learning_rates[-1]]`.

    Example:

    >>> lrs = np.logspace(-5, 1, 61)               # 10 points per decade
    >>> loss = 2.0 - np.tanh(np.log10(lrs) + 2.0)  # falls around 1e-2
    >>> loss[lrs > 0.1] += 30 * np.log10(lrs[lrs > 0.1] / 0.1) ** 2
    >>> bool(suggest_descent(lrs, loss) == lrs[33] / 10)  # 0.002
    True
    """
    fraction = check_float(
        "fraction", fraction, low=0.0, high=1.0, low_open=True
    )
    divisor = check_float("divisor", divisor, low=1.0)
    swept, lrs, losses, centered = _lag_free_curve(
        learning_rates, raw_losses, window_decades
    )
    low = int(np.argmin(centered))
    start = _start_level(losses)
    level = start - fraction * (start - centered[low])
    # A curve whose average never comes below its start (it only rises)
    # crosses no level: its lowest point is the reading.
    crossed = np.flatnonzero(centered[: low + 1] <= level)
    k = int(crossed[0]) if crossed.size else low
    return _within(lrs[k] / divisor, swept)


def pick_probe(
    learning_rates: Any,
    losses: Any,
    tolerance: float = PROBE_TOLERANCE,
    backoff: float = PROBE_BACKOFF,
) -> float:
    """The rate to train at, from the held-out losses of the probes.

    ```
    best   = min(losses)
    winner = min(rate for rate, loss in zip(learning_rates, losses)
                 if loss <= best + tolerance * |best|)
    pick   = winner if winner == min(learning_rates) else winner / backoff
    ```

    A probe is short, so it favours rates that start fast; over a whole
    training run a lower rate that was nearly as good catches up and
    overfits less, and a rate that won a short probe can still diverge
    later. So among the probes within `tolerance` of the best (in relative
    loss) the lowest rate wins, as the one-standard-error rule takes the
    simplest model within the noise of the best; and a winner above the
    lowest probe (the curve's own reading) is backed off by `backoff`, the
    horizon correction measured in `benchmarks/bench_suggestion.py` (the
    best rate for a run of a few hundred steps lies about half a decade
    below the best for 20). Non-finite losses (a probe that diverged) never
    win.

    Args:
        learning_rates: The probed rates (> 0).
        losses: The held-out loss after each probe.
        tolerance: Float >= 0. Defaults to 0.5.
        backoff: Float >= 1. Defaults to `sqrt(10)`.

    Returns:
        A float: the lowest probed rate, or a higher one divided by
        `backoff`.

    Example:

    >>> pick_probe([1e-3, 1e-2, 1e-1], [0.62, 0.45, 0.78])  # within 50%
    0.001
    >>> round(pick_probe([1e-3, 1e-2, 1e-1], [1.15, 0.52, 0.17]), 5)
    0.03162
    """
    lrs, values = _paired(learning_rates, losses)  # non-finite kept
    tolerance = check_float("tolerance", tolerance, low=0.0)
    backoff = check_float("backoff", backoff, low=1.0)
    finite = np.isfinite(values)
    lowest = float(lrs.min())
    if not finite.any():
        return lowest  # every probe diverged: the lowest rate
    best = values[finite].min()
    near = finite & (values <= best + tolerance * abs(best))
    winner = float(lrs[near].min())
    return winner if winner == lowest else winner / backoff


def run_length_factor(
    steps: int,
    above_reading: bool,
    scales: tuple[float, float] = RUN_LENGTH_SCALES,
    exponents: tuple[float, float] = RUN_LENGTH_EXPONENTS,
) -> float:
    """What the default suggestion is multiplied by for a run of `steps`.

    ```
    i      = 1 if above_reading else 0
    n      = clip(steps, 40, 640)
    factor = scales[i] * (n / 160) ** exponents[i]
    ```

    The best constant rate depends on how long it trains: a short run wants
    a higher one, a long run a lower one, and how much depends on whether
    the probes' pick is the curve's own reading (from scratch, mostly) or
    above it (a pretrained body, mostly). With the defaults, a pick at the
    reading is multiplied by 5.3 for 40 steps, 3.2 for 160 and 1.9 for 640
    or more; a pick above it by 3.4, 1 and 0.30. Fitted on the benchmark's
    chosen cases at runs of 40, 160 and 640 steps against a 12-run grid
    tuned on validation data (`benchmarks/bench_suggestion.py --choose`);
    a run outside that range is read as its nearest end.

    Args:
        steps: Int >= 1. Optimizer steps of the run the rate is for.
        above_reading: Bool. Whether the pick is above the curve's reading
            (`LRFinderResult` knows; see `pick_probe`).
        scales: `(at the reading, above it)`, the factors at 160 steps.
            Defaults to `RUN_LENGTH_SCALES`.
        exponents: `(at the reading, above it)`. Defaults to
            `RUN_LENGTH_EXPONENTS`.

    Returns:
        A float > 0.

    Example:

    >>> run_length_factor(160, above_reading=True)
    1.0
    >>> round(run_length_factor(640, above_reading=True), 3)
    0.297
    >>> round(run_length_factor(10_000, above_reading=False), 3)
    1.88
    """
    steps = check_count("for_steps", steps, 1)
    low, high = RUN_LENGTH_RANGE
    n = min(max(int(steps), low), high)
    i = 1 if above_reading else 0
    return float(scales[i] * (n / RUN_LENGTH_REFERENCE) ** exponents[i])


def curve_is_flat(
    learning_rates: Any, raw_losses: Any, window_decades: float = 0.5
) -> bool:
    """Whether the loss fell by less than twice its batch-to-batch noise.

    ```
    s     = max(3, n // 10)
    start = median(raw_losses[:s])
    fall  = start - min(centered_losses(raw_losses, h)[s:])
    noise = 1.4826 * MAD(diff(raw_losses)) / sqrt(2)
    flat  = fall <= 2 * noise
    ```

    `noise` is a robust estimate of one batch's standard deviation (the
    median absolute deviation of successive differences, which a trend does
    not inflate); twice it is more than the dips that averaging pure noise
    leaves. On a flat curve no rate is better than another as far as the
    test can tell, so a suggestion read off it is noise.

    Example:

    >>> lrs = np.logspace(-5, 0, 100)
    >>> noise = np.random.default_rng(0).normal(0, 0.1, 100)
    >>> curve_is_flat(lrs, 2.0 + noise), curve_is_flat(lrs, 2.0 - lrs + noise)
    (True, False)
    """
    lrs, losses = _as_curve(learning_rates, raw_losses)
    if lrs.size < 3:
        return True
    centered = centered_losses(losses, _half_width(lrs, window_decades))
    s = max(3, lrs.size // 10)
    fall = _start_level(losses) - centered[s:].min(initial=np.inf)
    diffs = np.diff(losses)
    noise = 1.4826 * np.median(np.abs(diffs - np.median(diffs))) / np.sqrt(2)
    return bool(fall <= 2.0 * noise)


def _longest_descent(losses):
    """(first, last) index of the longest strictly decreasing subsequence."""
    n = losses.size
    length = np.ones(n, dtype="int64")
    previous = np.full(n, -1, dtype="int64")
    for i in range(1, n):
        higher = np.flatnonzero(losses[:i] > losses[i])
        if higher.size:
            # Of the longest chains that can continue here, the one that
            # ends latest: the valley then starts where the descent does.
            best = length[higher]
            j = higher[np.flatnonzero(best == best.max())[-1]]
            length[i] = length[j] + 1
            previous[i] = j
    last = int(np.argmax(length))  # the earliest end of a longest descent
    first = last
    while previous[first] >= 0:
        first = int(previous[first])
    return first, last


def suggest_valley(
    learning_rates: Any,
    losses: Any,
    skip_start: int | None = None,
    skip_end: int | None = None,
) -> float:
    """The rate halfway down the longest descent of the loss (fastai's valley).

    The valley is the longest run of points whose losses keep decreasing --
    the longest strictly decreasing subsequence, so that a noisy point does
    not cut it short -- from its first point `a` to its last point `b`. The
    suggestion is the point at index `a + (b - a) // 2`, i.e. halfway along
    the valley in steps; fastai's own index, a third of the span plus half a
    third, lands at the same place. Because the loss falls slowly at the top
    of the valley and fast lower down, that point is well down the slope,
    clear of both the flat start and the minimum where divergence begins.

    fastai's default. It is robust to the noise that makes
    `suggest_steepest` jumpy, but it reads the lagging moving average and
    lands 3-50x below the best rate of a grid search on many curves
    (benchmarks/bench_suggestion.py); it is not the default.

    Args:
        learning_rates: Increasing sequence of rates (> 0).
        losses: The (smoothed) loss at each rate.
        skip_start: Int. Points left out at the start; see
            `suggest_steepest`. Defaults to `None` (`len // 10`).
        skip_end: Int. Points left out at the end. Defaults to `None`
            (`len // 20`).

    Returns:
        A float, one of `learning_rates`.

    Example:

    >>> lrs = np.logspace(-4, 0, 41)
    >>> loss = np.r_[np.full(10, 2.0), np.linspace(2, 0, 21)[1:],
    ...              np.linspace(0.2, 3, 11)]    # falls from lrs[9] to lrs[29]
    >>> lr = suggest_valley(lrs, loss, skip_start=0, skip_end=0)
    >>> bool(lr == lrs[19]), round(lr, 5)
    (True, 0.00794)
    """
    lrs, losses = _trimmed(learning_rates, losses, skip_start, skip_end)
    first, last = _longest_descent(losses)
    return float(lrs[first + (last - first) // 2])


def clr_bounds(
    learning_rates: Any, losses: Any, fall_fraction: float = 0.1
) -> tuple[float, float]:
    """Bounds for a cyclical learning rate, after Smith (2017).

    Smith reads two rates off the range test: where training starts to make
    progress (the lower bound) and where it stops improving or turns ragged
    (the upper bound). On the smoothed loss `L` (cut at the first non-finite
    value, nothing else skipped) with its minimum at index `m`:

    ```
    max_learning_rate  = learning_rates[m]
    base_learning_rate = learning_rates[b],  b = the first index with
                         L[b] <= L[0] - fall_fraction * (L[0] - L[m])
    ```

    i.e. the base rate is where the loss has made `fall_fraction` (10%) of its
    total drop. If that is the minimum itself (one sudden drop), the point
    before it is used.

    Args:
        learning_rates: Increasing sequence of rates (> 0).
        losses: The smoothed loss at each rate.
        fall_fraction: Float in `(0, 1)`. Defaults to `0.1`.

    Returns:
        A tuple `(base_learning_rate, max_learning_rate)` with
        `base < max`.

    Raises:
        ValueError: if the loss never falls below its first value.

    Example:

    >>> lrs = np.logspace(-4, 0, 41)
    >>> loss = np.r_[np.full(10, 2.0), np.linspace(2, 0, 21)[1:],
    ...              np.linspace(0.2, 3, 11)]
    >>> base, top = clr_bounds(lrs, loss)
    >>> bool(base == lrs[11]), bool(top == lrs[29])
    (True, True)
    >>> round(base, 5), round(top, 5)
    (0.00126, 0.07943)

    Reference:
        - [Smith, 2017. Cyclical Learning Rates for Training Neural
          Networks](https://arxiv.org/abs/1506.01186), section 3.3.
    """
    fall_fraction = check_float(
        "fall_fraction",
        fall_fraction,
        low=0.0,
        high=1.0,
        low_open=True,
        high_open=True,
    )
    lrs, losses = _as_curve(learning_rates, losses)
    m = int(np.argmin(losses)) if losses.size else 0
    drop = losses[0] - losses[m] if losses.size else 0.0
    if m == 0 or not drop > 0:
        raise ValueError(
            "The loss never fell below its first value, so there are no "
            "cyclical-rate bounds to read off: start the range test at a "
            "lower `start_learning_rate`, end it higher, or run more steps."
        )
    level = losses[0] - fall_fraction * drop
    b = int(np.flatnonzero(losses[: m + 1] <= level)[0])
    b = min(b, m - 1)
    return float(lrs[b]), float(lrs[m])


def descent_clr_bounds(
    learning_rates: Any,
    raw_losses: Any,
    peak_factor: float = CLR_PEAK_FACTOR,
    base_divisor: float = CLR_BASE_DIVISOR,
) -> tuple[float, float]:
    """Cyclical-rate bounds around the `"descent"` reading of the curve.

    ```
    max_learning_rate  = peak_factor * suggest_descent(learning_rates,
                                                       raw_losses)
    base_learning_rate = max_learning_rate / base_divisor
    ```

    both clipped to the swept range. The cycle runs from half to twice the
    rate that trains best at a constant rate, its base a quarter of its peak
    as Smith suggests ("set base_lr to 1/3 or 1/4 of max_lr"). Smith's own
    reading of the curve (`clr_bounds`: the peak where the loss bottoms
    out) puts the peak where training is about to diverge, and trains to 0
    with SGD on some of `benchmarks/bench_suggestion.py`'s cases; these
    bounds train as well as the best constant rate of its grid there
    (the finder guide shows the table; a factor of 3, or a base divisor of
    10, trains about as well).

    Args:
        learning_rates: Increasing sequence of rates (> 0).
        raw_losses: The loss of each batch as trained (not smoothed).
        peak_factor: Float >= 1. Defaults to 2.
        base_divisor: Float > 1. Defaults to 4.

    Returns:
        A tuple `(base_learning_rate, max_learning_rate)` with
        `base < max`, both within the swept range.

    Example:

    >>> lrs = np.logspace(-5, 1, 61)
    >>> loss = 2.0 - np.tanh(np.log10(lrs) + 2.0)
    >>> loss[lrs > 0.1] += 30 * np.log10(lrs[lrs > 0.1] / 0.1) ** 2
    >>> lr = suggest_descent(lrs, loss)
    >>> descent_clr_bounds(lrs, loss) == (lr / 2, lr * 2)
    True
    """
    peak_factor = check_float("peak_factor", peak_factor, low=1.0)
    base_divisor = check_float(
        "base_divisor", base_divisor, low=1.0, low_open=True
    )
    swept = _swept_range(learning_rates)
    top = _within(
        peak_factor * suggest_descent(learning_rates, raw_losses), swept
    )
    base = _within(top / base_divisor, swept)
    if not base < top:
        raise ValueError(
            "The suggestion is at the first rate of the sweep, so there is "
            "no room for a cycle below it: start the range test at a lower "
            f"`start_learning_rate`. Received: a sweep from {swept[0]!r}"
        )
    return base, top


SUGGESTERS = {
    "descent": suggest_descent,
    "centered": suggest_centered,
    "valley": suggest_valley,
    "steepest": suggest_steepest,
    "minimum": suggest_minimum,
}
