"""Looking at schedules: their values at many steps, and a plot of them."""

from __future__ import annotations

import numbers
import reprlib
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_lrx import plotting
from keras_lrx._validation import check_float
from keras_lrx._validation import check_int
from keras_lrx._validation import is_number
from keras_lrx.schedules._base import compute_dtype
from keras_lrx.schedules.composition import JoinedSchedule
from keras_lrx.schedules.composition import Warmup
from keras_lrx.schedules.cyclical import CyclicalLearningRate
from keras_lrx.schedules.cyclical import DecayingCyclicalLearningRate
from keras_lrx.schedules.cyclical import OneCycle
from keras_lrx.schedules.warmup import _WarmupFamily

if TYPE_CHECKING:
    import matplotlib.axes

_STEPS_RULE = "a non-negative int or an iterable of non-negative ints"
_SHORT = reprlib.Repr()
_SHORT.maxlist = _SHORT.maxtuple = 12
_SHORT.maxother = _SHORT.maxstring = 200
_NOT_NUMBERS = (str, bytes, bool, np.bool_)


def _steps_error(error, steps, detail=""):
    return error(
        f"Argument `steps` must be {_STEPS_RULE}{detail}. "
        f"Received: steps={_SHORT.repr(steps)}"
    )


def _steps_array(steps):
    """`steps` (not a number) as a NumPy array, or a `TypeError`."""
    if isinstance(steps, range):
        return np.arange(steps.start, steps.stop, steps.step, dtype="int64")
    if isinstance(steps, np.ndarray):
        return steps
    items = None
    if not (isinstance(steps, _NOT_NUMBERS) or steps is None):
        try:
            items = list(steps)
        except TypeError:
            items = None
    if items is None or any(isinstance(i, _NOT_NUMBERS) for i in items):
        raise TypeError(
            f"Argument `steps` must be {_STEPS_RULE}. "
            f"Received: steps={_SHORT.repr(steps)} "
            f"(of type {type(steps).__name__})"
        )
    try:
        return np.asarray(items)
    except (TypeError, ValueError):  # Ragged nesting, say.
        raise _steps_error(ValueError, steps) from None


def _check_step_values(array, steps):
    """Raises unless `array` is one-dimensional, integral and >= 0."""
    if not (
        np.issubdtype(array.dtype, np.integer)
        or np.issubdtype(array.dtype, np.floating)
    ):
        raise _steps_error(TypeError, steps, f" (got dtype {array.dtype})")
    if array.ndim != 1:
        raise _steps_error(ValueError, steps, " (one dimension)")
    if np.issubdtype(array.dtype, np.floating):
        finite = np.isfinite(array)
        bad = ~finite | (np.mod(np.where(finite, array, 0.0), 1) != 0)
        if bad.any():
            detail = f"; steps[{np.argmax(bad)}] is not an integer"
            raise _steps_error(ValueError, steps, detail)
    if (array < 0).any():
        detail = f"; steps[{np.argmax(array < 0)}] is negative"
        raise _steps_error(ValueError, steps, detail)


def as_steps(steps):
    """Returns `steps` (an int `N` or an iterable of steps) as int64 steps.

    `TypeError` for what is not an int or an iterable of numbers (strings,
    bools included); `ValueError` for negative, non-integer or non-finite
    steps, or a nested iterable.
    """
    if is_number(steps):
        return np.arange(check_int("steps", steps, low=0), dtype="int64")
    array = _steps_array(steps)
    if array.size == 0:
        return np.zeros((0,), dtype="int64")
    _check_step_values(array, steps)
    return array.astype("int64")


_ELEMENTWISE = (_WarmupFamily, DecayingCyclicalLearningRate, OneCycle)


def _is_elementwise(schedule):
    """Whether `schedule` is known to map a vector of steps element-wise."""
    if isinstance(schedule, numbers.Real):
        return True
    if getattr(schedule, "__self__", None) is not None:  # A bound method.
        return (
            isinstance(schedule.__self__, OneCycle)
            and schedule.__func__ is OneCycle.momentum
        )
    if isinstance(schedule, _ELEMENTWISE):
        return True
    if isinstance(schedule, CyclicalLearningRate):
        return schedule.scale_fn is None
    if isinstance(schedule, Warmup):
        return _is_elementwise(schedule.schedule)
    if isinstance(schedule, JoinedSchedule):
        return all(_is_elementwise(s) for s in schedule.schedules)
    return False


def _scalar_value(schedule, step):
    return float(ops.convert_to_numpy(schedule(int(step))))


def _check_representable(steps):
    """JAX without x64 has no int64: steps past 2**31 would wrap around."""
    if steps.max() < 2**31 or keras.backend.backend() != "jax":
        return
    import jax

    if not jax.config.jax_enable_x64:
        raise ValueError(
            "Argument `steps` holds steps >= 2**31, which JAX represents "
            "only with `jax.config.update('jax_enable_x64', True)` (they "
            f"would wrap around). Received: max(steps)={steps.max()}"
        )


def _agrees_with_scalar_calls(schedule, steps, values):
    """Spot-checks a vectorized evaluation against step-by-step calls."""
    for i in sorted({0, steps.size // 2, steps.size - 1}):
        scalar = _scalar_value(schedule, steps[i])
        if not np.allclose(values[i], scalar, rtol=1e-5, equal_nan=True):
            return False
    return True


def _vectorized_values(schedule, steps):
    """The values from one call on a vector of steps, or None where that
    call fails or does not give what step-by-step calls give."""
    # Pad to a power-of-two length (repeating the last step) so that backends
    # that compile per shape (JAX) reuse their kernels across calls.
    size = max(16, 1 << (steps.size - 1).bit_length())
    padding = np.full(size - steps.size, steps[-1], dtype=steps.dtype)
    padded = np.concatenate([steps, padding])
    padded = padded.astype("int32" if steps.max() < 2**31 else "int64")
    try:
        tensor = ops.convert_to_tensor(padded)
        values = np.asarray(ops.convert_to_numpy(schedule(tensor)))
        if values.shape != padded.shape:
            return None
        values = values[: steps.size]
        if _is_elementwise(schedule):
            return values
        return (
            values
            if _agrees_with_scalar_calls(schedule, steps, values)
            else None
        )
    except Exception:  # Not vectorizable: evaluate step by step.
        return None


def schedule_values(
    schedule: keras.optimizers.schedules.LearningRateSchedule
    | Callable[[Any], Any]
    | float,
    steps: int | Iterable[int],
) -> np.ndarray:
    """Evaluates a schedule at many steps, as a NumPy array.

    Keras-LRX schedules are evaluated in one vectorized call. Other
    schedules are tried the same way, and the result is spot-checked against
    step-by-step calls; a schedule that cannot take a vector of steps (say,
    one that branches with `ops.cond` on the step) is evaluated step by
    step.

    Args:
        schedule: A `LearningRateSchedule` (any, not only Keras-LRX ones), a
            callable of the step, or a float (a constant rate, >= 0).
        steps: Int `N`, meaning `range(N)`, or an iterable of int steps
            (each >= 0).

    Returns:
        A 1-D `np.ndarray` of float learning rates, one per step.

    Example:

    >>> from keras_lrx.schedules import LinearWithWarmup
    >>> schedule_values(LinearWithWarmup(10.0, 2, 10), 5).round(4).tolist()
    [0.0, 5.0, 10.0, 8.75, 7.5]
    """
    if is_number(schedule) or isinstance(schedule, (bool, np.bool_)):
        rate = check_float("schedule", schedule, 0.0)
        return np.full(as_steps(steps).shape, rate, dtype=compute_dtype())
    steps = as_steps(steps)
    if not callable(schedule):
        raise TypeError(
            "Argument `schedule` must be a `LearningRateSchedule`, a callable "
            f"or a number. Received: schedule={schedule!r}"
        )
    if steps.size == 0:
        return np.zeros((0,), dtype=compute_dtype())
    _check_representable(steps)
    values = _vectorized_values(schedule, steps)
    if values is None:
        values = np.array([_scalar_value(schedule, s) for s in steps])
    return values.astype(compute_dtype())


def _label(schedule):
    if isinstance(schedule, numbers.Real):
        return f"constant {schedule:g}"
    return getattr(schedule, "name", None) or type(schedule).__name__


def _labelled(schedules):
    """`(label, schedule)` pairs and whether a legend is wanted."""
    if isinstance(schedules, Mapping):
        return [(str(label), s) for label, s in schedules.items()], True
    if isinstance(schedules, (list, tuple)):
        return [(_label(s), s) for s in schedules], len(schedules) > 1
    return [(_label(schedules), schedules)], False


def plot_schedule(
    schedules: keras.optimizers.schedules.LearningRateSchedule
    | float
    | list[keras.optimizers.schedules.LearningRateSchedule | float]
    | tuple[keras.optimizers.schedules.LearningRateSchedule | float, ...]
    | Mapping[str, keras.optimizers.schedules.LearningRateSchedule | float],
    steps: int | Iterable[int],
    ax: matplotlib.axes.Axes | None = None,
) -> matplotlib.axes.Axes:
    """Plots learning-rate schedules against the optimizer step.

    The values come from `schedule_values`; `keras_lrx.plotting` draws them
    (matplotlib is imported only here, when a plot is asked for).

    Args:
        schedules: A `keras.optimizers.schedules.LearningRateSchedule`, a
            list of them, or a dict mapping labels to them. Floats are
            plotted as constant learning rates.
        steps: Int `N`, meaning `range(N)`, or an iterable of int steps.
        ax: A matplotlib `Axes` to draw on. Defaults to `None`, meaning the
            axes of a new figure.

    Returns:
        The matplotlib `Axes`, with one line per schedule; a legend is drawn
        when there are several schedules or a dict of labels.

    Raises:
        ImportError: If matplotlib is not installed.

    Example:

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from keras_lrx.schedules import LinearWithWarmup
    >>> ax = plot_schedule([LinearWithWarmup(1.0, 10, 100),
    ...                     OneCycle(1.0, 100)], steps=100)
    >>> len(ax.get_lines())
    2
    """
    items, legend = _labelled(schedules)
    steps = as_steps(steps)
    lines = [(label, schedule_values(s, steps)) for label, s in items]
    return plotting.plot_lines(
        steps,
        lines,
        ax=ax,
        xlabel="step",
        ylabel="learning_rate",
        legend=legend,
    )
