"""The learning-rate range test: `find_lr`, the `LRFinder` callback, its result.

The range test (Smith, 2017) trains for a few hundred batches while the
learning rate grows from tiny to huge, records the loss of every batch, and
reads a good learning rate off the curve: training is fastest where the loss
falls most steeply, and the rate is too high once the loss turns ragged and
climbs. The model and optimizer are put back exactly as they were afterwards.

Pieces, after pytorch-lr-finder:

- `find_lr(model, x, ...)` runs the whole test and returns an
  `LRFinderResult`;
- `LRFinder` is the callback doing the work, for users who call `fit`
  themselves;
- `_StateCache` copies and restores every variable of the model, its
  optimizer and its metrics;
- plain helpers (`sweep_learning_rates`, `smooth_losses`, `suggest_steepest`,
  `suggest_minimum`, `suggest_valley`, `clr_bounds`) hold the arithmetic and
  are testable with NumPy alone.

How the rate reaches each step: for the duration of the test the optimizer's
learning rate is replaced by `LRSweep`, a `LearningRateSchedule` of the
optimizer's own step counter (`rate(iterations - first_step)`), and the
model gets a freshly traced train function (the old one is handed back
afterwards). Keras evaluates the schedule inside the compiled train step on
every backend, so no value has to be pushed into the jitted JAX state
between batches and the k-th optimizer step uses the k-th rate by
construction -- for a float learning rate, a schedule, a `LossScaleOptimizer`
or an `LRX` (whose base rate is swept, with the per-variable multipliers on
top) alike. The per-batch loss comes from resetting the metrics before each
batch; on JAX that needs the training state synced back into the variables
once per batch, as Keras's own fit loop allows callbacks to do.
"""

import math
import numbers
import sys
import warnings

import keras
import numpy as np
from keras import ops

from keras_lrx import _keras_compat as compat
from keras_lrx._validation import check_bool
from keras_lrx._validation import check_choice
from keras_lrx._validation import check_float
from keras_lrx._validation import check_int
from keras_lrx._validation import check_type
from keras_lrx.optimizer import LRX

__all__ = [
    "find_lr",
    "LRFinder",
    "LRFinderResult",
    "LRSweep",
    "sweep_learning_rates",
    "smooth_losses",
    "suggest_steepest",
    "suggest_minimum",
    "suggest_valley",
    "clr_bounds",
]

MODES = ("exponential", "linear")
DEFAULT_METHOD = "valley"

_MISSING = object()

#: Why a sweep ended (`LRFinderResult.stop_reason`).
STOP_REASONS = ("completed", "diverged", "non_finite", "incomplete")


# ---------------------------------------------------------------------------
# Argument checks (Keras-style messages).
# ---------------------------------------------------------------------------


def _check_positive_float(name, value):
    return check_float(name, value, low=0.0, low_open=True)


def _check_steps(name, value, low):
    """A strict int (no floats, no bools) >= `low`."""
    check_type(name, value, (numbers.Integral, np.integer), "an int")
    return check_int(name, value, low=low)


def _check_sweep(start_learning_rate, end_learning_rate, num_steps, mode):
    start = _check_positive_float("start_learning_rate", start_learning_rate)
    end = _check_positive_float("end_learning_rate", end_learning_rate)
    if end <= start:
        raise ValueError(
            "Argument `end_learning_rate` must be > `start_learning_rate`. "
            f"Received: start_learning_rate={start_learning_rate!r}, "
            f"end_learning_rate={end_learning_rate!r}"
        )
    num_steps = _check_steps("num_steps", num_steps, 2)
    mode = check_choice("mode", mode, MODES)
    return start, end, num_steps, mode


def _check_smoothing(smoothing):
    return check_float(
        "smoothing", smoothing, low=0.0, high=1.0, high_open=True
    )


def _check_divergence_threshold(divergence_threshold):
    return check_float(
        "divergence_threshold",
        divergence_threshold,
        low=1.0,
        low_open=True,
        allow_none=True,
    )


def _check_steps_or_none(name, value):
    return None if value is None else _check_steps(name, value, 0)


def _check_optional_bool(name, value):
    return None if value is None else check_bool(name, value)


def _check_verbose(verbose):
    verbose = check_choice("verbose", verbose, ("auto", 0, 1, 2))
    return 1 if verbose == "auto" else int(verbose)


def _overrides(model, name):
    return getattr(type(model), name, None) is not getattr(keras.Model, name)


def _may_add_losses_in_call(model):
    """Whether a layer of `model` may add losses when called.

    Keras's own layers add none in `call` but for an activity regularizer;
    a layer of any other library, or of the user, cannot be told apart
    without calling it, so it counts as one that may.
    """
    for layer in compat.sublayers(model):
        if getattr(layer, "activity_regularizer", None) is not None:
            return True
        if not type(layer).__module__.startswith("keras."):
            return True
    return False


def _has_training_loss(model):
    """Whether training `model` minimizes something at all.

    A compiled loss, an overridden `compute_loss` or `train_step`, or
    losses added with `add_loss` (regularizers included). Without any of
    them Keras trains at a constant loss of 0.
    """
    if compat.compiled_loss(model) is not None:
        return True
    if _overrides(model, "compute_loss") or _overrides(model, "train_step"):
        return True
    try:
        if model.losses:
            return True
    except Exception:  # noqa: BLE001 -- an unbuilt model cannot say
        return True
    return _may_add_losses_in_call(model)


def _check_no_distribution_strategy(model):
    if keras.backend.backend() != "tensorflow":
        return
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return
    strategies = list(compat.distribution_strategies(model))
    if tf.distribute.has_strategy():
        strategies.append(tf.distribute.get_strategy())
    for strategy in strategies:
        if strategy is None or type(strategy).__name__.startswith("_Default"):
            continue
        raise ValueError(
            "The learning-rate range test is not supported under a "
            "distribution strategy (the model or its optimizer was made, or "
            "`find_lr` was called, under tf.distribute."
            f"{type(strategy).__name__}). Run "
            "it outside the strategy scope on a single device: build and "
            "compile a copy of the model (e.g. `keras.models.clone_model`) "
            "without the strategy, run `find_lr` on the copy, and use the "
            "suggested learning rate for the distributed model."
        )


def _check_model(model):
    if not isinstance(model, keras.Model):
        raise TypeError(
            "Argument `model` must be a `keras.Model`. "
            f"Received: model={model!r} (of type {type(model).__name__})"
        )
    if not getattr(model, "compiled", False) or model.optimizer is None:
        raise ValueError(
            "The model must be compiled with an optimizer and a loss before "
            "the range test: call `model.compile(optimizer=..., loss=...)` "
            "first."
        )
    if not _has_training_loss(model):
        raise ValueError(
            "The model was compiled without a loss (and adds none with "
            "`add_loss` or a custom `compute_loss`/`train_step`), so Keras "
            "would train it at a constant loss of 0 and the range test would "
            "have nothing to measure. Compile it with a loss: "
            "`model.compile(optimizer=..., loss=...)`."
        )
    _check_no_distribution_strategy(model)


# ---------------------------------------------------------------------------
# Plain helpers: the sweep, smoothing and the suggestions.
# ---------------------------------------------------------------------------


def sweep_learning_rates(
    start_learning_rate, end_learning_rate, num_steps, mode="exponential"
):
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
    start, end, n, mode = _check_sweep(
        start_learning_rate, end_learning_rate, num_steps, mode
    )
    t = np.arange(n, dtype="float64") / (n - 1)
    if mode == "exponential":
        rates = start * (end / start) ** t
    else:
        rates = start + (end - start) * t
    rates[0], rates[-1] = start, end
    return rates


def smooth_losses(losses, smoothing=0.98):
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
    s = _check_smoothing(smoothing)
    losses = _as_float_array("losses", losses)
    out = np.empty(losses.size, dtype="float64")
    avg = 0.0
    for k, loss in enumerate(losses):
        avg = s * avg + (1.0 - s) * float(loss)
        out[k] = avg / (1.0 - s ** (k + 1))
    return out


def _as_curve(learning_rates, losses):
    lrs = _as_float_array("learning_rates", learning_rates)
    if not lrs.size:
        raise ValueError(
            "Argument `learning_rates` must hold at least one rate, not be "
            f"empty. Received: learning_rates={learning_rates!r}"
        )
    _check_rates("learning_rates", lrs)
    losses = _as_float_array("losses", losses)
    if lrs.shape != losses.shape:
        raise ValueError(
            "Argument `losses` must have one value per learning rate "
            f"({lrs.size}), like `learning_rates`. Received: losses of "
            f"length {losses.size}"
        )
    # Everything from the first non-finite loss on is the blow-up.
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        lrs, losses = lrs[: bad[0]], losses[: bad[0]]
    return lrs, losses


def _trimmed(learning_rates, losses, skip_start, skip_end):
    """The curve without its first and last few points (and no blow-up)."""
    skip_start = _check_steps_or_none("skip_start", skip_start)
    skip_end = _check_steps_or_none("skip_end", skip_end)
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


def suggest_steepest(learning_rates, losses, skip_start=None, skip_end=None):
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


def suggest_minimum(learning_rates, losses, skip_start=None, skip_end=None):
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
        A float: `learning_rates[argmin(losses)] / 10`.

    Example:

    >>> lrs = np.logspace(-4, 0, 41)
    >>> loss = (np.log10(lrs) + 1) ** 2        # minimum at 1e-1
    >>> round(suggest_minimum(lrs, loss), 6)
    0.01
    """
    lrs, losses = _trimmed(learning_rates, losses, skip_start, skip_end)
    return float(lrs[int(np.argmin(losses))] / 10.0)


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


def suggest_valley(learning_rates, losses, skip_start=None, skip_end=None):
    """The rate halfway down the longest descent of the loss (fastai's valley).

    The valley is the longest run of points whose losses keep decreasing --
    the longest strictly decreasing subsequence, so that a noisy point does
    not cut it short -- from its first point `a` to its last point `b`. The
    suggestion is the point at index `a + (b - a) // 2`, i.e. halfway along
    the valley in steps; fastai's own index, a third of the span plus half a
    third, lands at the same place. Because the loss falls slowly at the top
    of the valley and fast lower down, that point is well down the slope,
    clear of both the flat start and the minimum where divergence begins.

    This is the default suggestion (`LRFinderResult.suggested_learning_rate`):
    it is robust to the noise that makes `suggest_steepest` jumpy and less
    conservative than `suggest_minimum`.

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


def clr_bounds(learning_rates, losses, fall_fraction=0.1):
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


_SUGGESTERS = {
    "valley": suggest_valley,
    "steepest": suggest_steepest,
    "minimum": suggest_minimum,
}


# ---------------------------------------------------------------------------
# The sweep schedule.
# ---------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="keras_lrx")
class LRSweep(keras.optimizers.schedules.LearningRateSchedule):
    """The range test's learning rate as a schedule of the optimizer step.

    With `k = clip(step - initial_step, 0, num_steps - 1)` it returns
    `sweep_learning_rates(start, end, num_steps, mode)[k]` (computed in
    float32 inside the train step). `LRFinder` installs it on the optimizer
    for the duration of the test.

    Args:
        start_learning_rate: Float. The rate at `initial_step`.
        end_learning_rate: Float. The rate from `initial_step + num_steps - 1`
            on.
        num_steps: Int. Number of steps of the sweep (>= 2).
        mode: String. `"exponential"` or `"linear"`. Defaults to
            `"exponential"`.
        initial_step: Int. The optimizer step at which the sweep starts.
            Defaults to 0.
        name: String. Defaults to `"LRSweep"`.

    Example:

    >>> s = LRSweep(1e-3, 1.0, num_steps=4, initial_step=10)
    >>> [round(float(s(k)), 6) for k in (10, 11, 13, 50)]
    [0.001, 0.01, 1.0, 1.0]
    """

    def __init__(
        self,
        start_learning_rate,
        end_learning_rate,
        num_steps,
        mode="exponential",
        initial_step=0,
        name=None,
    ):
        (
            self.start_learning_rate,
            self.end_learning_rate,
            self.num_steps,
            self.mode,
        ) = _check_sweep(
            start_learning_rate, end_learning_rate, num_steps, mode
        )
        self.initial_step = _check_steps("initial_step", initial_step, 0)
        if name is not None:
            check_type("name", name, str, "a string or None")
        self.name = name or "LRSweep"

    def __call__(self, step):
        n = self.num_steps
        k = ops.cast(ops.subtract(step, self.initial_step), "float32")
        k = ops.clip(k, 0.0, float(n - 1))
        start, end = self.start_learning_rate, self.end_learning_rate
        if self.mode == "exponential":
            slope = math.log(end / start) / (n - 1)
            exponent = ops.add(math.log(start), ops.multiply(k, slope))
            return ops.exp(exponent)
        return ops.add(start, ops.multiply(k, (end - start) / (n - 1)))

    def get_config(self):
        return {
            "start_learning_rate": self.start_learning_rate,
            "end_learning_rate": self.end_learning_rate,
            "num_steps": self.num_steps,
            "mode": self.mode,
            "initial_step": self.initial_step,
            "name": self.name,
        }


# ---------------------------------------------------------------------------
# The state cacher.
# ---------------------------------------------------------------------------


def _unique(variables):
    seen, out = set(), []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


class _StateCache:
    """Copies of every variable of a model, its optimizer and its metrics.

    Covers `model.variables` (weights, BatchNorm statistics, seed-generator
    states), `model.optimizer.variables` (iterations, the learning-rate
    variable, slots, LRX's scale, loss-scale state, EMA and accumulators) and
    `model.metrics_variables`. The copies are NumPy arrays owned by the cache
    (never views of backend buffers, which torch updates in place and JAX
    donates), so `restore` puts back byte-identical values.
    """

    def __init__(self, model):
        self._model = model
        optimizer_variables = (
            list(model.optimizer.variables) if model.optimizer else []
        )
        self._variables = _unique(
            list(model.variables)
            + optimizer_variables
            + list(model.metrics_variables)
        )
        self._values = [
            np.array(ops.convert_to_numpy(v.value), copy=True)
            for v in self._variables
        ]

    def restore(self):
        # Metrics built after the copy (TensorFlow builds them in the first
        # step) go back to their initial state; the others to their copy.
        self._model.reset_metrics()
        for variable, value in zip(self._variables, self._values):
            variable.assign(value)


# ---------------------------------------------------------------------------
# The callback.
# ---------------------------------------------------------------------------


class LRFinder(keras.callbacks.Callback):
    """Callback running the learning-rate range test inside your own `fit`.

    `find_lr` is the easy way; use this callback when you want to call
    `fit` yourself (your own data pipeline, sample weights, other callbacks).
    During `fit` it

    - at `on_train_begin`: copies the model's, optimizer's and metrics'
      variables, and replaces the optimizer's learning rate by an `LRSweep`
      of the optimizer step, so that the k-th batch trains at
      `sweep_learning_rates(...)[k]` (for an `LRX` the base rate is swept;
      its multipliers still apply);
    - at `on_train_batch_begin`: resets the metrics, so that the `loss` in the
      batch logs is this batch's loss and not the epoch's running mean (on
      JAX this first syncs the training state back into the variables, as
      Keras does at the end of an epoch);
    - at `on_train_batch_end`: records the loss, its smoothed value and the
      rate the step used (also written to the logs as `learning_rate`; it is
      read from the optimizer's step counter, so a step that a
      `LossScaleOptimizer` skipped does not advance the sweep), and sets
      `model.stop_training` once `num_steps` batches are done, the smoothed
      loss exceeds `divergence_threshold` times its lowest value so far, or a
      loss is NaN or infinite;
    - at `on_train_end`: puts the original learning rate back and, with
      `restore_state=True`, every variable copied at the start.

    With this callback you control the length of `fit`: give it at least
    `num_steps` batches in all (`epochs` x `steps_per_epoch`); if it ends
    earlier the result is shorter and its `stop_reason` is `"incomplete"`.
    The model must be compiled with `steps_per_execution=1`, and the loss is
    read from the `loss` entry of the batch logs; all metrics show per-batch
    values during the sweep. On TensorFlow the model must be built before
    `fit` (Keras builds it inside the first step there, too late to save its
    initial weights); an optimizer that is not built yet is built at
    `on_train_begin`. If `fit` raises, Keras skips `on_train_end`: call
    `finder.restore()` yourself (`find_lr` does this for you).

    Args:
        start_learning_rate: Float. The rate of the first batch (> 0).
            Defaults to `1e-7`.
        end_learning_rate: Float. The rate of batch `num_steps - 1`
            (> `start_learning_rate`). Defaults to `10.0`.
        num_steps: Int. Number of batches of the sweep (>= 2). Defaults to
            100.
        mode: String. `"exponential"` (rates evenly spaced in log scale) or
            `"linear"`. Defaults to `"exponential"`.
        smoothing: Float in `[0, 1)`. Factor of the bias-corrected
            exponential moving average of the loss (see `smooth_losses`).
            Defaults to `0.98`.
        divergence_threshold: Float > 1 or None. Stop once the smoothed loss
            exceeds this multiple of its lowest value so far (for losses that
            can be negative: `best + (threshold - 1) * |best|`). None never
            stops early on divergence. Defaults to `4.0`.
        restore_state: Bool. Whether `on_train_end` puts back the weights,
            optimizer state and metrics from before the sweep. Defaults to
            True.

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> finder = LRFinder(1e-4, 1e-1, num_steps=8)
    >>> x, y = np.ones((64, 4)), np.ones((64, 1))
    >>> _ = model.fit(x, y, batch_size=8, epochs=1, callbacks=[finder],
    ...               verbose=0)
    >>> result = finder.result
    >>> len(result.learning_rates), result.stop_reason
    (8, 'completed')

    Reference:
        - [Smith, 2017. Cyclical Learning Rates for Training Neural
          Networks](https://arxiv.org/abs/1506.01186)
    """

    def __init__(
        self,
        start_learning_rate=1e-7,
        end_learning_rate=10.0,
        num_steps=100,
        mode="exponential",
        smoothing=0.98,
        divergence_threshold=4.0,
        restore_state=True,
    ):
        super().__init__()
        (
            self.start_learning_rate,
            self.end_learning_rate,
            self.num_steps,
            self.mode,
        ) = _check_sweep(
            start_learning_rate, end_learning_rate, num_steps, mode
        )
        self.smoothing = _check_smoothing(smoothing)
        self.divergence_threshold = _check_divergence_threshold(
            divergence_threshold
        )
        self.restore_state = check_bool("restore_state", restore_state)
        self._rates = sweep_learning_rates(
            self.start_learning_rate,
            self.end_learning_rate,
            self.num_steps,
            self.mode,
        )
        self._cache = None
        self._installed = None
        self._reset_records()

    def _reset_records(self):
        self.learning_rates = []
        self.losses = []
        self.raw_losses = []
        self.stop_reason = None
        self._avg = 0.0
        self._best = None
        self._multipliers = (1.0,)
        self._current_rate = None

    # -- installing and removing the sweep ----------------------------- #

    def _install(self):
        model = self.model
        if getattr(model, "steps_per_execution", 1) != 1:
            raise ValueError(
                "LRFinder records the loss of every batch, so the model must "
                "be compiled with `steps_per_execution=1`. Received: "
                f"steps_per_execution={model.steps_per_execution}. Recompile, "
                "or use `keras_lrx.find_lr`, which runs the sweep one step "
                "per execution."
            )
        optimizer = model.optimizer
        owner = compat.unwrap_loss_scale(optimizer)
        step = int(ops.convert_to_numpy(compat.raw_iterations(owner)))
        sweep = LRSweep(
            self.start_learning_rate,
            self.end_learning_rate,
            self.num_steps,
            self.mode,
            initial_step=step,
        )
        scale = None
        if isinstance(owner, LRX):
            scale = np.array(ops.convert_to_numpy(owner._lr_scale), copy=True)
            owner._lr_scale.assign(1.0)
            groups = sorted(set(owner.variable_multipliers.values()))
            self._multipliers = tuple(groups) or (1.0,)
        self._installed = {
            "owner": owner,
            "learning_rate": owner._learning_rate,
            "scale": scale,
            "initial_step": step,
            "train_function": model.train_function,
        }
        compat.set_untracked_attribute(owner, "_learning_rate", sweep)
        compat.fresh_train_function(model)

    def _uninstall(self):
        installed, self._installed = self._installed, None
        if installed is None:
            return
        owner = installed["owner"]
        compat.set_untracked_attribute(
            owner, "_learning_rate", installed["learning_rate"]
        )
        if installed["scale"] is not None:
            owner._lr_scale.assign(installed["scale"])
        self.model.train_function = installed["train_function"]

    def restore(self):
        """Puts the model, optimizer and metrics back as before the sweep.

        Restores every variable copied at the start of the sweep (weights,
        BatchNorm statistics, seed states, optimizer iterations, slots and
        learning rate, metrics) and the optimizer's original learning rate or
        schedule. Safe to call more than once; a no-op before the sweep.
        """
        self._uninstall()
        if self._cache is not None:
            self._cache.restore()

    # -- callback hooks ------------------------------------------------- #

    def on_train_begin(self, logs=None):
        self._reset_records()
        self._uninstall()
        model = self.model
        # Nothing has been trained yet. On JAX and torch `fit` has built the
        # model, optimizer and metrics by now; on TensorFlow Keras builds them
        # inside the first traced step, so build what can be built here.
        if not model.built:
            raise ValueError(
                "The model is not built yet, so its initial weights cannot be "
                "saved for restoring after the range test (on TensorFlow, "
                "Keras builds it inside the first training step). Build it "
                "first: call it on a batch of inputs, or use "
                "`model.build(input_shape)`."
            )
        optimizer = model.optimizer
        if not optimizer.built:
            with keras.name_scope(optimizer.name, caller=optimizer):
                optimizer.build(model.trainable_variables)
        self._cache = _StateCache(model)
        self._install()

    def on_train_batch_begin(self, batch, logs=None):
        # On JAX the variables live in the jitted state during fit: sync it
        # back first, so the reset reaches the next step and the step counter
        # read below is current.
        sync = getattr(self.model, "jax_state_sync", None)
        if callable(sync):
            sync()
        self.model.reset_metrics()
        # The rate this step uses: the sweep at the optimizer's step counter.
        # It is the k-th rate for the k-th batch unless steps were skipped
        # (LossScaleOptimizer skips the update on overflowing gradients).
        installed = self._installed
        if installed is not None:
            step = int(
                ops.convert_to_numpy(compat.raw_iterations(installed["owner"]))
            )
            k = step - installed["initial_step"]
            k = min(max(k, 0), self.num_steps - 1)
            self._current_rate = float(self._rates[k])

    def on_train_batch_end(self, batch, logs=None):
        k = len(self.raw_losses)
        if self.stop_reason is not None or k >= self.num_steps:
            return
        logs = logs if logs is not None else {}
        if "loss" not in logs:
            raise ValueError(
                "LRFinder needs the training loss: the batch logs have no "
                f"`loss` entry (keys: {sorted(logs)}). Compile the model "
                "with a loss."
            )
        raw = float(np.asarray(logs["loss"]))
        rate = self._current_rate
        if rate is None:  # no on_train_batch_begin (not called by Keras fit)
            rate = float(self._rates[k])
        self._current_rate = None
        s = self.smoothing
        self._avg = s * self._avg + (1.0 - s) * raw
        smoothed = self._avg / (1.0 - s ** (k + 1))
        self.learning_rates.append(rate)
        self.raw_losses.append(raw)
        self.losses.append(smoothed)
        logs["learning_rate"] = rate
        if not math.isfinite(raw):
            self.stop_reason = "non_finite"
        else:
            if self._best is None or smoothed < self._best:
                self._best = smoothed
            threshold = self.divergence_threshold
            if threshold is not None:
                limit = self._best + (threshold - 1.0) * abs(self._best)
                if smoothed > limit:
                    self.stop_reason = "diverged"
        if self.stop_reason is None and k + 1 >= self.num_steps:
            self.stop_reason = "completed"
        if self.stop_reason is not None:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stop_reason is None:
            self.stop_reason = "incomplete"
        if self.restore_state:
            self.restore()
        else:
            self._uninstall()

    @property
    def result(self):
        """The `LRFinderResult` of what has been recorded so far.

        Raises:
            ValueError: if no batch has been recorded yet.
        """
        if not self.learning_rates:
            raise ValueError(
                "The range test recorded no batch, so there is no result: "
                "pass the LRFinder to `fit` with at least one batch of data "
                "(`find_lr` does this for you)."
            )
        lrs = np.asarray(self.learning_rates, dtype="float64")
        return LRFinderResult(
            learning_rates=lrs,
            losses=self.losses,
            raw_losses=self.raw_losses,
            group_learning_rates={m: lrs * m for m in self._multipliers},
            stop_reason=self.stop_reason or "incomplete",
            mode=self.mode,
        )


# ---------------------------------------------------------------------------
# The result.
# ---------------------------------------------------------------------------


def _as_float_array(name, values):
    """`values` (a sequence or array of numbers) as a 1-D float64 array."""
    if (
        isinstance(values, (str, bytes, dict))
        or values is None
        or isinstance(values, (bool, np.bool_))
    ):
        raise TypeError(
            f"Argument `{name}` must be a sequence or array of numbers. "
            f"Received: {name}={values!r} (of type {type(values).__name__})"
        )
    try:
        array = np.asarray(values, dtype="float64")
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"Argument `{name}` must be a sequence or array of numbers. "
            f"Received: {name}={values!r}"
        ) from e
    return array.reshape(-1)


def _check_rates(name, rates):
    bad = np.flatnonzero(~(np.isfinite(rates) & (rates > 0)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"Argument `{name}` must hold finite learning rates > 0. "
            f"Received: {name}[{i}]={float(rates[i])!r}"
        )


class LRFinderResult:
    """What a range test recorded, and the learning rates read off it.

    Attributes:
        learning_rates: Float64 array, the (base) rate of each recorded
            batch.
        losses: Float64 array, the smoothed loss of each batch (see
            `smooth_losses`). Suggestions are made on these.
        raw_losses: Float64 array, the loss of each batch as trained.
        group_learning_rates: Dict mapping each multiplier of an `LRX`
            optimizer to the array of rates its variables trained at
            (`learning_rates * multiplier`); `{1.0: learning_rates}` for
            other optimizers.
        stop_reason: String. `"completed"` (all `num_steps` batches),
            `"diverged"` (the smoothed loss exceeded `divergence_threshold`
            times its lowest value), `"non_finite"` (a loss was NaN or
            infinite; that batch is the last point) or `"incomplete"` (the
            data or `fit` ended first).
        mode: String. `"exponential"` or `"linear"`.

    Example:

    >>> lrs = np.logspace(-4, 0, 41)
    >>> loss = np.r_[np.full(10, 2.0), np.linspace(2, 0, 21)[1:],
    ...              np.linspace(0.2, 3, 11)]
    >>> result = LRFinderResult(lrs, loss, loss)
    >>> result.suggested_learning_rate == result.suggest("valley")
    True
    >>> result.clr_bounds() == (lrs[11], lrs[29])
    True
    """

    def __init__(
        self,
        learning_rates,
        losses,
        raw_losses,
        group_learning_rates=None,
        stop_reason="completed",
        mode="exponential",
    ):
        lrs = _as_float_array("learning_rates", learning_rates)
        if not lrs.size:
            raise ValueError(
                "Argument `learning_rates` must hold at least one rate, not "
                f"be empty. Received: learning_rates={learning_rates!r}"
            )
        _check_rates("learning_rates", lrs)
        n = lrs.size
        curves = {}
        for name, values in (("losses", losses), ("raw_losses", raw_losses)):
            array = _as_float_array(name, values)
            if array.size != n:
                raise ValueError(
                    f"Argument `{name}` must have one value per learning "
                    f"rate ({n}), like `learning_rates`. Received: {name} "
                    f"of length {array.size}"
                )
            curves[name] = array
        if group_learning_rates is None:
            groups = {1.0: lrs}
        else:
            check_type(
                "group_learning_rates",
                group_learning_rates,
                dict,
                "a dict mapping multipliers to rates, or None",
            )
            groups = {}
            for m, r in group_learning_rates.items():
                multiplier = check_float("group_learning_rates", m, low=0.0)
                rates = _as_float_array("group_learning_rates", r)
                if rates.size != n:
                    raise ValueError(
                        "Argument `group_learning_rates` must map each "
                        f"multiplier to {n} rates, like `learning_rates`. "
                        f"Received: {rates.size} rates for multiplier {m!r}"
                    )
                if not np.all(np.isfinite(rates)) or np.any(rates < 0):
                    raise ValueError(
                        "Argument `group_learning_rates` must hold finite "
                        "rates >= 0. Received: group_learning_rates="
                        f"{{{m!r}: {r!r}}}"
                    )
                groups[multiplier] = rates
        stop_reason = check_choice("stop_reason", stop_reason, STOP_REASONS)
        mode = check_choice("mode", mode, MODES)
        self.learning_rates = lrs
        self.losses = curves["losses"]
        self.raw_losses = curves["raw_losses"]
        self.group_learning_rates = groups
        self.stop_reason = stop_reason
        self.mode = mode

    def __len__(self):
        return int(self.learning_rates.size)

    def __repr__(self):
        return (
            f"<LRFinderResult: {len(self)} points, "
            f"{self.learning_rates[0] if len(self) else float('nan'):.3g} .. "
            f"{self.learning_rates[-1] if len(self) else float('nan'):.3g}, "
            f"stop_reason={self.stop_reason!r}>"
        )

    # -- suggestions ---------------------------------------------------- #

    def suggest(self, method=DEFAULT_METHOD, skip_start=None, skip_end=None):
        """A learning rate read off the smoothed loss curve.

        Args:
            method: String. `"valley"` (halfway along the longest descent of
                the loss, fastai's default; see `suggest_valley`),
                `"steepest"` (where the loss falls fastest per decade; see
                `suggest_steepest`) or `"minimum"` (a tenth of the rate at the
                lowest loss; see `suggest_minimum`). Defaults to `"valley"`.
            skip_start: Int. Points left out at the start. Defaults to `None`
                (a tenth of the points).
            skip_end: Int. Points left out at the end. Defaults to `None`
                (a twentieth of the points).

        Returns:
            A float, the suggested (base) learning rate.

        Raises:
            ValueError: for an unknown method, or fewer than 2 finite points.
        """
        method = check_choice("method", method, tuple(_SUGGESTERS))
        return _SUGGESTERS[method](
            self.learning_rates, self.losses, skip_start, skip_end
        )

    @property
    def suggested_learning_rate(self):
        """`suggest("valley")`: the default suggestion, as fastai's."""
        return self.suggest(DEFAULT_METHOD)

    def clr_bounds(self, fall_fraction=0.1):
        """`(base_learning_rate, max_learning_rate)` for a cyclical schedule.

        See the module function `clr_bounds` for the rule (Smith, 2017): the
        base is where the smoothed loss has made `fall_fraction` of its total
        drop, the max is the rate at its minimum.
        """
        return clr_bounds(self.learning_rates, self.losses, fall_fraction)

    def to_schedule(
        self,
        kind="one_cycle",
        total_steps=None,
        *,
        method=None,
        step_size=None,
        **kwargs,
    ):
        """A `keras_lrx.schedules` schedule built from this range test.

        - `"one_cycle"`: `OneCycle(max_learning_rate=self.suggest(method),
          total_steps=total_steps, **kwargs)` -- the suggestion is the peak,
          as fastai's `fit_one_cycle(lr_max=...)` uses it.
        - `"cyclical"`: `CyclicalLearningRate(*self.clr_bounds(),
          step_size=step_size, **kwargs)`; `step_size` defaults to
          `max(1, total_steps // 8)`, i.e. four full cycles in `total_steps`
          (Smith recommends 2 to 10 epochs per half cycle).

        For an `LRX` optimizer the schedule is the base rate: pass it as
        `LRX(optimizer, schedule=...)` and the multipliers apply on top.

        Args:
            kind: String. `"one_cycle"` or `"cyclical"`. Defaults to
                `"one_cycle"`.
            total_steps: Int. Total number of training steps. Required for
                `"one_cycle"`, and for `"cyclical"` without `step_size`.
            method: String. The suggestion method for `"one_cycle"`.
                Defaults to `None`, meaning `"valley"`.
            step_size: Int. Steps per half cycle for `"cyclical"`. Defaults
                to `None` (see above).
            **kwargs: Further arguments of the schedule (e.g. `pct_start`,
                `div_factor`, `mode`).

        Returns:
            A `keras.optimizers.schedules.LearningRateSchedule`.
        """
        from keras_lrx import schedules

        kind = check_choice("kind", kind, ("one_cycle", "cyclical"))
        if total_steps is not None:
            total_steps = _check_steps("total_steps", total_steps, 1)
        if step_size is not None:
            step_size = _check_steps("step_size", step_size, 1)
        if method is not None:
            method = check_choice("method", method, tuple(_SUGGESTERS))
        if kind == "one_cycle":
            if total_steps is None:
                raise ValueError(
                    'Argument `total_steps` is required for kind="one_cycle". '
                    "Received: total_steps=None"
                )
            lr = self.suggest(method or DEFAULT_METHOD)
            return schedules.OneCycle(lr, total_steps=total_steps, **kwargs)
        if kind == "cyclical":
            if method is not None:
                raise ValueError(
                    'Argument `method` is not used with kind="cyclical" (its '
                    "bounds come from `clr_bounds()`). "
                    f"Received: method={method!r}"
                )
            if step_size is None:
                if total_steps is None:
                    raise ValueError(
                        'kind="cyclical" needs `step_size` or `total_steps`. '
                        "Received: step_size=None, total_steps=None"
                    )
                step_size = max(1, total_steps // 8)
            base, top = self.clr_bounds()
            return schedules.CyclicalLearningRate(
                base, top, step_size=step_size, **kwargs
            )
        raise ValueError(
            'Argument `kind` must be "one_cycle" or "cyclical". '
            f"Received: kind={kind!r}"
        )

    # -- plotting ------------------------------------------------------- #

    def plot(
        self, ax=None, method=DEFAULT_METHOD, show_raw=True, log_scale=None
    ):
        """Plots the loss against the learning rate and marks a suggestion.

        Args:
            ax: A matplotlib `Axes` to draw on. Defaults to `None`, meaning a
                new figure.
            method: String. The suggestion to mark (see `suggest`), or None
                for none. Defaults to `"valley"`.
            show_raw: Bool. Whether to draw the raw losses faintly behind
                the smoothed curve. Defaults to True.
            log_scale: Bool. Log scale for the learning rate axis. Defaults
                to `None`, meaning log for an exponential sweep.

        Returns:
            The matplotlib `Axes`.

        Raises:
            ImportError: if matplotlib is not installed.

        Example:

        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> lrs = np.logspace(-4, 0, 41)
        >>> loss = (np.log10(lrs) + 1) ** 2
        >>> ax = LRFinderResult(lrs, loss, loss).plot()
        >>> ax.get_xlabel()
        'learning_rate'
        """
        show_raw = check_bool("show_raw", show_raw)
        log_scale = _check_optional_bool("log_scale", log_scale)
        if method is not None:
            method = check_choice("method", method, tuple(_SUGGESTERS))
        try:
            import matplotlib.pyplot as plt
        except ImportError as e:
            raise ImportError(
                "Plotting needs matplotlib, which is not installed. Install "
                "it with `pip install keras-lrx[plot]` (or "
                "`pip install matplotlib`)."
            ) from e
        if ax is None:
            _, ax = plt.subplots()
        if show_raw:
            ax.plot(
                self.learning_rates, self.raw_losses, alpha=0.3, label="loss"
            )
        ax.plot(self.learning_rates, self.losses, label="smoothed loss")
        if log_scale is None:
            log_scale = self.mode == "exponential"
        if log_scale:
            ax.set_xscale("log")
        if method is not None and len(self) >= 2:
            try:
                lr = self.suggest(method)
            except ValueError:
                lr = None
            if lr is not None:
                i = int(np.argmin(np.abs(self.learning_rates - lr)))
                ax.plot(
                    [lr],
                    [self.losses[i]],
                    "o",
                    color="red",
                    label=f"{method}: {lr:.2e}",
                )
        ax.set_xlabel("learning_rate")
        ax.set_ylabel("loss")
        ax.legend()
        return ax

    # -- saving --------------------------------------------------------- #

    def to_dict(self):
        """A JSON-friendly dict (lists and strings); see `from_dict`."""
        return {
            "learning_rates": self.learning_rates.tolist(),
            "losses": self.losses.tolist(),
            "raw_losses": self.raw_losses.tolist(),
            "group_learning_rates": {
                repr(m): r.tolist()
                for m, r in self.group_learning_rates.items()
            },
            "stop_reason": self.stop_reason,
            "mode": self.mode,
        }

    @classmethod
    def from_dict(cls, config):
        """Rebuilds a result from `to_dict()`.

        Raises:
            TypeError: if `config` is not a dict.
            ValueError: if it lacks a key of `to_dict()` or has others, or
                holds values the constructor refuses.
        """
        check_type("config", config, dict, "a dict from `to_dict()`")
        config = dict(config)
        required = {"learning_rates", "losses", "raw_losses"}
        known = required | {"group_learning_rates", "stop_reason", "mode"}
        missing, unknown = required - set(config), set(config) - known
        if missing or unknown:
            raise ValueError(
                "Argument `config` must hold the keys of `to_dict()`: "
                f"missing {sorted(missing)}, unknown "
                f"{sorted(map(str, unknown))}. "
                f"Received: config keys {sorted(map(str, config))}"
            )
        groups = config.pop("group_learning_rates", None)
        if groups is not None:
            check_type(
                "group_learning_rates",
                groups,
                dict,
                "a dict mapping multipliers to rates, or None",
            )
            parsed = {}
            for m, r in groups.items():
                try:  # to_dict() writes the multipliers as repr() strings
                    multiplier = float(m)
                except (TypeError, ValueError):
                    raise ValueError(
                        "Argument `group_learning_rates` must map numbers "
                        f"(multipliers) to rates. Received: key {m!r}"
                    ) from None
                parsed[multiplier] = r
            groups = parsed
        return cls(group_learning_rates=groups, **config)


# ---------------------------------------------------------------------------
# find_lr.
# ---------------------------------------------------------------------------


class _Progress(keras.callbacks.Callback):
    """Keras's progress bar over the sweep's batches (across epochs)."""

    def __init__(self, finder, verbose):
        super().__init__()
        self._finder = finder
        self._bar = keras.utils.Progbar(
            finder.num_steps,
            verbose=verbose,
            stateful_metrics=["loss", "smoothed_loss", "learning_rate"],
        )
        self._done = False

    def on_train_batch_end(self, batch, logs=None):
        f = self._finder
        k = len(f.raw_losses)
        if not k or self._done:
            return
        values = [
            ("loss", f.raw_losses[-1]),
            ("smoothed_loss", f.losses[-1]),
            ("learning_rate", f.learning_rates[-1]),
        ]
        self._done = f.stop_reason is not None
        self._bar.update(k, values=values, finalize=self._done)
        if f.stop_reason in ("diverged", "non_finite"):
            why = (
                "the loss is not finite"
                if f.stop_reason == "non_finite"
                else "the smoothed loss exceeded "
                f"{f.divergence_threshold:g} x its lowest value"
            )
            print(f"Stopped early after {k} of {f.num_steps} steps: {why}.")

    def on_train_end(self, logs=None):
        k = len(self._finder.raw_losses)
        if k and not self._done:  # the data ran out first: end the bar
            self._done = True
            self._bar.update(k, finalize=True)


def _count_batches(x, batch_size):
    """Batches per epoch of `x`: an int, math.inf, or None when unknown."""
    if isinstance(x, keras.utils.PyDataset):
        return x.num_batches
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(x, tf.data.Dataset):
        cardinality = int(x.cardinality())
        if cardinality == int(tf.data.INFINITE_CARDINALITY):
            return math.inf
        return None if cardinality < 0 else cardinality
    torch_data = sys.modules.get("torch.utils.data")
    if torch_data is not None and isinstance(x, torch_data.DataLoader):
        try:
            return len(x)
        except TypeError:  # an IterableDataset without __len__
            return None
    nested = isinstance(x, (dict, list, tuple))
    leaves = keras.tree.flatten(x) if nested else [x]
    shape = getattr(leaves[0], "shape", None) if leaves else None
    if shape is not None and len(shape) > 0 and shape[0] is not None:
        return math.ceil(int(shape[0]) / (batch_size or 32))
    return None


def _fit_plan(x, batch_size, num_steps):
    """`(x, epochs, steps_per_epoch)` making `fit` serve `num_steps` batches.

    Keras itself cycles through data of known length: each epoch starts a new
    pass (and reshuffles arrays). The finder stops `fit` after `num_steps`
    batches.
    """
    batches = _count_batches(x, batch_size)
    if batches == 0:
        raise ValueError(
            "Argument `x` holds no data (0 batches): the range test needs at "
            f"least one batch. Received: x={type(x).__name__} with 0 batches"
        )
    if batches is None:
        tf = sys.modules.get("tensorflow")
        if tf is not None and isinstance(x, tf.data.Dataset):
            return x.repeat(), 1, num_steps
        # A generator or other one-pass iterable: it must supply num_steps
        # batches; if it runs out, the result is "incomplete".
        return x, 1, num_steps
    if batches >= num_steps:
        return x, 1, num_steps
    return x, math.ceil(num_steps / batches) + 1, None


def find_lr(
    model,
    x,
    y=None,
    *,
    batch_size=None,
    start_learning_rate=1e-7,
    end_learning_rate=10.0,
    num_steps=100,
    mode="exponential",
    smoothing=0.98,
    divergence_threshold=4.0,
    verbose="auto",
):
    """Runs the learning-rate range test and puts the model back afterwards.

    Trains `model` for `num_steps` batches, one optimizer step each, the k-th
    at `sweep_learning_rates(start_learning_rate, end_learning_rate,
    num_steps, mode)[k]`, recording each batch's loss; it stops early once
    the smoothed loss exceeds `divergence_threshold` times its lowest value or
    a loss is NaN/inf. Data with fewer batches is cycled: Keras starts a new
    epoch (a new pass, reshuffled for arrays) as often as needed. The data
    goes through `model.fit` -- NumPy arrays, `tf.data.Dataset`,
    `keras.utils.PyDataset`, a torch `DataLoader` or anything else `fit`
    accepts; a one-pass generator must yield `num_steps` batches.

    Afterwards -- also when the sweep raises, or is interrupted with
    Ctrl-C -- every variable of the model (weights, BatchNorm statistics,
    seed states), of the optimizer (iterations, slots, learning rate or
    schedule, LRX scale, loss scale) and of the metrics holds exactly its
    value from before, and `model.stop_training`, `model.history`,
    `model.train_function` and `steps_per_execution` are as they were. An
    optimizer (or model, or metric) that was not built before is built by
    the sweep and stays built, its variables holding their initial values.
    The random number generators that shuffle the data are not rewound.

    With an `LRX` optimizer the base rate is swept and each variable trains
    at `base * multiplier`; `result.group_learning_rates` has the rates per
    multiplier. Suggestions are base rates, to set as the LRX's rate.

    Args:
        model: A compiled `keras.Model`.
        x: The input data, as for `model.fit`.
        y: The targets, as for `model.fit`; None for datasets that yield
            them. Defaults to None.
        batch_size: Int. Batch size for array data, as in `fit`. Defaults
            to None (32 for arrays).
        start_learning_rate: Float. The first rate (> 0). Defaults to `1e-7`.
        end_learning_rate: Float. The last rate (> `start_learning_rate`).
            Defaults to `10.0`.
        num_steps: Int. Number of batches (>= 2). Defaults to 100.
        mode: String. `"exponential"` or `"linear"` spacing of the rates.
            Defaults to `"exponential"`.
        smoothing: Float in `[0, 1)`. Factor of the bias-corrected moving
            average of the loss. Defaults to `0.98`.
        divergence_threshold: Float > 1 or None (never stop early). Defaults
            to `4.0`.
        verbose: `"auto"`, 0, 1 or 2, as in `fit`: 1 shows Keras's progress
            bar, 2 one line at the end, 0 prints nothing. `"auto"` is 1.
            Defaults to `"auto"`.

    Returns:
        An `LRFinderResult`.

    Raises:
        TypeError: if `model` is not a `keras.Model` or an argument has the
            wrong type.
        ValueError: before anything changes, for a model that is not
            compiled, or compiled without a loss (and without `add_loss`, a
            regularizer or a custom `compute_loss`/`train_step`), a model
            made or run under a `tf.distribute` strategy (run the test on a
            single-device copy instead), `start_learning_rate <= 0`,
            `end_learning_rate <=
            start_learning_rate`, `num_steps < 2`, an unknown `mode`,
            `smoothing` outside `[0, 1)`, `divergence_threshold <= 1`,
            `batch_size < 1`, or data with no batches.

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="adam", loss="mse")
    >>> x, y = np.random.rand(64, 4), np.random.rand(64, 1)
    >>> result = find_lr(model, x, y, batch_size=16, start_learning_rate=1e-4,
    ...                  end_learning_rate=1e-1, num_steps=10, verbose=0)
    >>> len(result.learning_rates), result.stop_reason
    (10, 'completed')
    >>> 1e-4 <= result.suggested_learning_rate <= 1e-1
    True

    Reference:
        - [Smith, 2017. Cyclical Learning Rates for Training Neural
          Networks](https://arxiv.org/abs/1506.01186)
        - [Howard & Gugger, 2020. fastai: A Layered API for Deep
          Learning](https://arxiv.org/abs/2002.04688) (`lr_find`)
    """
    _check_model(model)
    finder = LRFinder(
        start_learning_rate,
        end_learning_rate,
        num_steps,
        mode,
        smoothing,
        divergence_threshold,
        restore_state=True,
    )
    verbose = _check_verbose(verbose)
    if batch_size is not None:
        batch_size = _check_steps("batch_size", batch_size, 1)
    if x is None:
        raise ValueError(
            "Argument `x` is required: the range test trains on it. "
            "Received: x=None"
        )
    x, epochs, steps_per_epoch = _fit_plan(x, batch_size, finder.num_steps)

    callbacks = [finder]
    if verbose:
        callbacks.append(_Progress(finder, verbose))
    saved = {
        "stop_training": model.stop_training,
        "history": vars(model).get("history", _MISSING),
        "train_function": model.train_function,
        "steps_per_execution": model.steps_per_execution,
        "training": getattr(model, "training", None),
    }
    try:
        if saved["steps_per_execution"] != 1:
            model.steps_per_execution = 1
            model.train_function = None
        with warnings.catch_warnings():
            # The sweep is cut at num_steps on purpose; "ran out of data"
            # only concerns generators, whose result is then "incomplete".
            warnings.filterwarnings("ignore", message=".*ran out of data.*")
            # fit's default shuffle=True shuffles arrays and PyDatasets; other
            # inputs keep their own order, which Keras says in a warning.
            warnings.filterwarnings(
                "ignore",
                message=".*`shuffle=True` was passed, but will be ignored.*",
            )
            model.fit(
                x,
                y,
                batch_size=batch_size,
                epochs=epochs,
                steps_per_epoch=steps_per_epoch,
                verbose=0,
                callbacks=callbacks,
            )
    finally:
        finder.restore()
        model.steps_per_execution = saved["steps_per_execution"]
        model.train_function = saved["train_function"]
        model.stop_training = saved["stop_training"]
        if saved["history"] is _MISSING:
            vars(model).pop("history", None)
        else:
            model.history = saved["history"]
        if keras.backend.backend() == "torch" and saved["training"] is not None:
            model.train(saved["training"])
    return finder.result
