"""Cyclical schedules: CLR (as PyTorch's `CyclicLR`), decaying CLR, 1cycle."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any
from typing import Literal

import keras
from keras import ops

from keras_lrx._validation import check_bool
from keras_lrx._validation import check_choice
from keras_lrx._validation import check_float
from keras_lrx.schedules._base import AUTO
from keras_lrx.schedules._base import LearningRateSchedule
from keras_lrx.schedules._base import TotalStepsFromTraining
from keras_lrx.schedules._base import check_name
from keras_lrx.schedules._base import check_steps
from keras_lrx.schedules._base import check_total_steps
from keras_lrx.schedules._base import compute_dtype
from keras_lrx.schedules._base import float_step
from keras_lrx.schedules._base import register

_CLR_MODES = ("triangular", "triangular2", "exp_range")
_CLR_SCALE_MODES = ("cycle", "iterations")


def _cycle_position(step, total, dtype):
    """Returns `(index, position)`: cycles of length `total` done, and `k`'s
    place in the current one, both as `dtype`."""
    step = ops.convert_to_tensor(step)
    step_dtype = keras.backend.standardize_dtype(step.dtype)
    if "int" in step_dtype and float(total).is_integer():
        if step_dtype == "int64" and keras.backend.backend() != "tensorflow":
            # Keras's type promotion narrows int64 to int32 outside
            # TensorFlow, so `floor_divide` would wrap a step past 2**31
            # around, and on torch `ops.floor`, `floor_divide` and (since
            # Keras 3.16) `mod` return float32 for float64: count in float64
            # with `trunc` (the floor of a step >= 0), exact for steps below
            # 2**53 once corrected by one cycle where the division rounded.
            k = ops.cast(step, "float64")
            index = ops.trunc(k / float(total))
            position = k - index * float(total)
            below = position < 0.0
            index = ops.where(below, index - 1.0, index)
            position = ops.where(below, position + float(total), position)
            above = position >= float(total)
            index = ops.where(above, index + 1.0, index)
            position = ops.where(above, position - float(total), position)
        else:
            # Exact integer arithmetic: float32 cannot place a step of 10**9.
            index = ops.floor_divide(step, int(total))
            position = ops.mod(step, int(total))
        return ops.cast(index, dtype), ops.cast(position, dtype)
    k = ops.cast(step, dtype)
    index = ops.floor(k / total)
    position = k - index * total
    # Guard against the rounding of k / total near a cycle boundary.
    below = position < 0.0
    index = ops.where(below, index - 1.0, index)
    position = ops.where(below, position + total, position)
    above = position >= total
    index = ops.where(above, index + 1.0, index)
    position = ops.where(above, position - total, position)
    return index, position


def _triangle_wave(step, step_size_up, step_size_down, dtype):
    """Returns `(cycle, height)` for a triangular wave.

    `cycle` is the 1-based cycle number (PyTorch's `CyclicLR` convention) and
    `height` in `[0, 1]` rises over `step_size_up` steps and falls over
    `step_size_down` steps.
    """
    total = step_size_up + step_size_down
    index, position = _cycle_position(step, total, dtype)
    rising = position / step_size_up
    falling = (total - position) / step_size_down
    height = ops.where(position <= step_size_up, rising, falling)
    return index + 1.0, height


def _check_clr_bounds(base_learning_rate, max_learning_rate):
    base = check_float("base_learning_rate", base_learning_rate, 0.0)
    peak = check_float("max_learning_rate", max_learning_rate, 0.0)
    if peak < base:
        raise ValueError(
            "Argument `max_learning_rate` must be >= `base_learning_rate`. "
            f"Received: max_learning_rate={peak}, base_learning_rate={base}"
        )
    return base, peak


def _check_clr_steps(step_size, step_size_down):
    up = check_float("step_size", step_size, 0.0, low_open=True)
    if step_size_down is None:
        return up, up
    down = check_float("step_size_down", step_size_down, 0.0, low_open=True)
    return up, down


class _Triangle(LearningRateSchedule):
    """The bounds and half-cycle lengths both cyclical schedules share."""

    def __init__(
        self, base_learning_rate, max_learning_rate, step_size, step_size_down
    ):
        self.base_learning_rate, self.max_learning_rate = _check_clr_bounds(
            base_learning_rate, max_learning_rate
        )
        self.step_size, self._step_size_down = _check_clr_steps(
            step_size, step_size_down
        )
        self.step_size_down = (
            None if step_size_down is None else self._step_size_down
        )

    def _wave(self, step, dtype):
        return _triangle_wave(step, self.step_size, self._step_size_down, dtype)

    def get_config(self) -> dict[str, Any]:
        return {
            "base_learning_rate": self.base_learning_rate,
            "max_learning_rate": self.max_learning_rate,
            "step_size": self.step_size,
            "step_size_down": self.step_size_down,
        }


def _resolve_scale_fn(scale_fn):
    """Returns `(function, registered_name_or_None)`."""
    if isinstance(scale_fn, str):
        fn = keras.saving.get_registered_object(scale_fn)
        if fn is None or not callable(fn):
            raise ValueError(
                "Argument `scale_fn` names no function registered with "
                "`keras.saving.register_keras_serializable()`. "
                f"Received: scale_fn={scale_fn!r}"
            )
        return fn, scale_fn
    if not callable(scale_fn):
        raise TypeError(
            "Argument `scale_fn` must be a callable or the registered name of "
            f"one. Received: scale_fn={scale_fn!r} "
            f"(of type {type(scale_fn).__name__})"
        )
    name = getattr(scale_fn, "__name__", None)
    if name is None or name == "<lambda>":
        return scale_fn, None
    registered = keras.saving.get_registered_name(scale_fn)
    if keras.saving.get_registered_object(registered) is scale_fn:
        return scale_fn, registered
    return scale_fn, None


def _warn_ignored_scale_mode(mode, scale_mode):
    natural = "iterations" if mode == "exp_range" else "cycle"
    if scale_mode is not None and scale_mode != natural:
        warnings.warn(
            f"`scale_mode={scale_mode!r}` is ignored without "
            f"`scale_fn`: mode {mode!r} scales per {natural!r}.",
            stacklevel=3,
        )


@register
class CyclicalLearningRate(_Triangle):
    """Cyclical learning rate (CLR), as PyTorch's `CyclicLR`.

    The learning rate goes up and down between `base_learning_rate` and
    `max_learning_rate` in a triangle: up over `step_size` steps, down over
    `step_size_down` steps. With `total = step_size + step_size_down`,
    `cycle = floor(1 + k / total)` and `x = k - (cycle - 1) * total`:

    ```
    height(k) = x / step_size                        if x <= step_size
              = (total - x) / step_size_down         otherwise
    lr(k)     = base + (max - base) * height(k) * scale
    scale     = 1                             (mode="triangular")
              = 1 / 2 ** (cycle - 1)          (mode="triangular2")
              = gamma ** k                    (mode="exp_range")
              = scale_fn(cycle)               (scale_mode="cycle")
              = scale_fn(k)                   (scale_mode="iterations")
    ```

    The value at step `k` equals PyTorch's `CyclicLR` learning rate after
    `k` calls to `scheduler.step()`, for the same arguments.

    A custom `scale_fn` must be written with `keras.ops` (it receives a
    float tensor) and, for the schedule to be saved, registered with
    `keras.saving.register_keras_serializable()`: the config stores its
    registered name. An unregistered function (a lambda, say) works for
    training, but `get_config()` (hence `model.save`) raises a `ValueError`.

    Args:
        base_learning_rate: Float. The lower bound of the cycle.
        max_learning_rate: Float. The upper bound of the cycle; the
            amplitude is `max_learning_rate - base_learning_rate`.
        step_size: Float. Number of steps in the increasing half of a cycle
            (> 0).
        step_size_down: Float. Number of steps in the decreasing half of a
            cycle. Defaults to `None`, meaning `step_size`.
        mode: String. `"triangular"`, `"triangular2"` or `"exp_range"`;
            ignored when `scale_fn` is given. Defaults to `"triangular"`.
        gamma: Float. The base of the `"exp_range"` scaling,
            `gamma ** step` (> 0). Defaults to `1.0`.
        scale_fn: A function of one float tensor returning the amplitude
            scale, or the registered name of one. Defaults to `None`.
        scale_mode: String. `"cycle"` or `"iterations"`: whether `scale_fn`
            receives the cycle number (from 1) or the step. Only used with
            `scale_fn`; defaults to `None`, meaning `"cycle"`.
        name: String. Name of the schedule. Defaults to
            `"CyclicalLearningRate"`.

    Example:

    >>> s = CyclicalLearningRate(0.1, 1.0, step_size=2, mode="triangular2")
    >>> [round(float(s(k)), 4) for k in (0, 1, 2, 3, 4, 6, 8)]
    [0.1, 0.55, 1.0, 0.55, 0.1, 0.55, 0.1]

    Reference:
        - [Smith, 2017. Cyclical Learning Rates for Training Neural
          Networks](https://arxiv.org/abs/1506.01186)
        - PyTorch's `torch.optim.lr_scheduler.CyclicLR`.
    """

    def __init__(
        self,
        base_learning_rate: float,
        max_learning_rate: float,
        step_size: float,
        step_size_down: float | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[Any], Any] | str | None = None,
        scale_mode: str | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(
            base_learning_rate, max_learning_rate, step_size, step_size_down
        )
        self.mode = check_choice("mode", mode, _CLR_MODES)
        self.gamma = check_float("gamma", gamma, 0.0, low_open=True)
        if scale_mode is not None:
            check_choice("scale_mode", scale_mode, _CLR_SCALE_MODES)
        self.scale_mode = scale_mode
        self.name = check_name(name, "CyclicalLearningRate")
        self.scale_fn, self._scale_fn_name = None, None
        if scale_fn is None:
            _warn_ignored_scale_mode(mode, scale_mode)
        else:
            self.scale_fn, self._scale_fn_name = _resolve_scale_fn(scale_fn)

    def _scale(self, cycle, k, dtype):
        if self.scale_fn is not None:
            x = k if self.scale_mode == "iterations" else cycle
            return ops.cast(self.scale_fn(x), dtype)
        if self.mode == "triangular":
            return ops.ones_like(k)
        if self.mode == "triangular2":
            return ops.power(ops.cast(0.5, dtype), cycle - 1.0)
        # gamma ** k as exp(k * log(gamma)), log taken in float64: the float32
        # rounding of gamma itself would otherwise grow with k.
        return ops.exp(math.log(self.gamma) * k)

    def __call__(self, step: int | Any) -> Any:
        with keras.name_scope(self.name):
            dtype = compute_dtype()
            k = float_step(step, dtype)
            cycle, height = self._wave(step, dtype)
            base, peak = self.base_learning_rate, self.max_learning_rate
            return base + (peak - base) * height * self._scale(cycle, k, dtype)

    def get_config(self) -> dict[str, Any]:
        if self.scale_fn is not None and self._scale_fn_name is None:
            raise ValueError(
                "Cannot serialize `CyclicalLearningRate`: its `scale_fn` "
                f"({self.scale_fn!r}) is not registered. Define it as a named "
                "function decorated with "
                "`@keras.saving.register_keras_serializable()` (a lambda "
                "cannot be saved)."
            )
        return {
            **super().get_config(),
            "mode": self.mode,
            "gamma": self.gamma,
            "scale_fn": self._scale_fn_name,
            "scale_mode": self.scale_mode,
            "name": self.name,
        }


_CLR_DECAY_TYPES = ("exponential", "linear")
_CLR_DECAY_TARGETS = ("amplitude", "peak")


@register
class DecayingCyclicalLearningRate(_Triangle):
    """Cyclical learning rate whose peak shrinks every `decay_every` cycles.

    The triangle of `CyclicalLearningRate` (mode `"triangular"`), decayed
    every `decay_every` cycles by `decay_rate`: multiplicatively
    (`decay_type="exponential"`) or by `decay_rate` times the initial value
    (`decay_type="linear"`). `decay_target` says what is decayed: the
    amplitude `max - base` (the default) or the peak `max` itself. The
    learning rate never goes below `base_learning_rate`. With
    `n = floor((cycle - 1) / decay_every)` decays so far and `height(k)` the
    triangle of `CyclicalLearningRate`:

    ```
    factor = decay_rate ** n                   (decay_type="exponential")
           = max(0, 1 - decay_rate * n)        (decay_type="linear")
    lr(k)  = base + (peak(n) - base) * height(k)
    peak(n) = base + (max - base) * factor     (decay_target="amplitude")
            = max(base, max * factor)          (decay_target="peak")
    ```

    `decay_target="peak"` is the "decay every N cycles" recipe of the
    original CLR callbacks, `max_lr = max(max_lr * decay, base_lr)` applied
    every `decay_every` cycles: the peak itself is lowered toward the base
    and, once it reaches it, the learning rate stays at `base`. With
    `decay_target="amplitude"` the height above the base shrinks, so the
    peak only tends to `base`; `decay_every=1, decay_rate=0.5` is then CLR's
    `"triangular2"` mode. The two agree when `base_learning_rate` is 0.

    Args:
        base_learning_rate: Float. The lower bound of the cycle.
        max_learning_rate: Float. The peak of the first cycle.
        step_size: Float. Steps in the increasing half of a cycle (> 0).
        step_size_down: Float. Steps in the decreasing half of a cycle.
            Defaults to `None`, meaning `step_size`.
        decay_every: Int. Number of cycles between two decays (> 0).
            Defaults to `1`.
        decay_rate: Float. The decay: a factor in `(0, 1]` for
            `"exponential"`, a fraction of the initial amplitude (or peak)
            in `(0, 1]` for `"linear"`. Defaults to `0.5`.
        decay_type: String. `"exponential"` or `"linear"`. Defaults to
            `"exponential"`.
        decay_target: String. `"amplitude"` (decay `max - base`) or
            `"peak"` (decay `max`, floored at `base`). Defaults to
            `"amplitude"`.
        name: String. Name of the schedule. Defaults to
            `"DecayingCyclicalLearningRate"`.

    Example:

    >>> s = DecayingCyclicalLearningRate(0.0, 1.0, step_size=1,
    ...     decay_every=2, decay_rate=0.25, decay_type="linear")
    >>> [round(float(s(k)), 4) for k in (1, 3, 5, 7, 9, 11)]
    [1.0, 1.0, 0.75, 0.75, 0.5, 0.5]

    With a base above 0 the two targets differ (peaks at odd steps):

    >>> kw = dict(step_size=1, decay_rate=0.5)
    >>> amp = DecayingCyclicalLearningRate(0.2, 1.0, **kw)
    >>> peak = DecayingCyclicalLearningRate(0.2, 1.0, **kw,
    ...                                     decay_target="peak")
    >>> [round(float(amp(k)), 4) for k in (1, 3, 5, 7)]
    [1.0, 0.6, 0.4, 0.3]
    >>> [round(float(peak(k)), 4) for k in (1, 3, 5, 7)]
    [1.0, 0.5, 0.25, 0.2]

    Reference:
        - [Smith, 2017. Cyclical Learning Rates for Training Neural
          Networks](https://arxiv.org/abs/1506.01186)
    """

    def __init__(
        self,
        base_learning_rate: float,
        max_learning_rate: float,
        step_size: float,
        step_size_down: float | None = None,
        decay_every: int = 1,
        decay_rate: float = 0.5,
        decay_type: str = "exponential",
        decay_target: str = "amplitude",
        name: str | None = None,
    ) -> None:
        super().__init__(
            base_learning_rate, max_learning_rate, step_size, step_size_down
        )
        self.decay_every = check_steps("decay_every", decay_every, True)
        self.decay_rate = check_float(
            "decay_rate", decay_rate, 0.0, 1.0, low_open=True
        )
        self.decay_type = check_choice(
            "decay_type", decay_type, _CLR_DECAY_TYPES
        )
        self.decay_target = check_choice(
            "decay_target", decay_target, _CLR_DECAY_TARGETS
        )
        self.name = check_name(name, "DecayingCyclicalLearningRate")

    def _decay_factor(self, cycle, dtype):
        decays = ops.floor((cycle - 1.0) / float(self.decay_every))
        if self.decay_type == "exponential":
            return ops.power(ops.cast(self.decay_rate, dtype), decays)
        return ops.maximum(1.0 - self.decay_rate * decays, 0.0)

    def __call__(self, step: int | Any) -> Any:
        with keras.name_scope(self.name):
            dtype = compute_dtype()
            cycle, height = self._wave(step, dtype)
            factor = self._decay_factor(cycle, dtype)
            base, peak = self.base_learning_rate, self.max_learning_rate
            if self.decay_target == "amplitude":
                return base + (peak - base) * height * factor
            # "peak": the peak max * factor, floored at base.
            decayed_peak = ops.maximum(peak * factor, base)
            return base + (decayed_peak - base) * height

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "decay_every": self.decay_every,
            "decay_rate": self.decay_rate,
            "decay_type": self.decay_type,
            "decay_target": self.decay_target,
            "name": self.name,
        }


_ANNEAL_STRATEGIES = ("cos", "linear")


def _check_pct_start(pct_start, three_phase):
    high = 0.5 if three_phase else 1.0
    number = check_float("pct_start", pct_start)
    if not 0.0 < number < high:
        extra = " with `three_phase=True`" if three_phase else ""
        raise ValueError(
            f"Argument `pct_start` must be in (0, {high}){extra}. "
            f"Received: pct_start={pct_start!r}"
        )
    return number


def _one_cycle_phases(schedule):
    """The phases of a `OneCycle`, as PyTorch's `OneCycleLR` lays them out.

    Each is `(start, end, start_lr, end_lr, start_momentum, end_momentum)`,
    with the end steps computed exactly as PyTorch does.
    """
    n, p = schedule.total_steps, schedule.pct_start
    initial = schedule.max_learning_rate / schedule.div_factor
    minimum = initial / schedule.final_div_factor
    peak, low, high = (
        schedule.max_learning_rate,
        schedule.base_momentum,
        schedule.max_momentum,
    )
    ends = [(float(p * n) - 1, initial, peak, high, low)]
    if schedule.three_phase:
        ends.append((float(2 * p * n) - 2, peak, initial, low, high))
        ends.append((n - 1, initial, minimum, high, high))
    else:
        ends.append((n - 1, peak, minimum, low, high))
    phases, start = [], 0.0
    for end, *values in ends:
        phases.append((start, float(end), *values))
        start = float(end)
    return phases


@register
class OneCycle(TotalStepsFromTraining, LearningRateSchedule):
    """The one-cycle policy, as PyTorch's `OneCycleLR`.

    The learning rate rises from `initial = max_learning_rate / div_factor`
    to `max_learning_rate`, then anneals down to
    `min = initial / final_div_factor`. With `N = total_steps` and
    `p = pct_start`, the phases end at (PyTorch's boundaries):

    ```
    two phases:   e1 = p * N - 1 (initial -> max),  e2 = N - 1 (max -> min)
    three phases: e1 = p * N - 1 (initial -> max),  e2 = 2 * p * N - 2
                  (max -> initial),  e3 = N - 1 (initial -> min)
    ```

    Inside a phase from step `s` to `e` going from `a` to `b`, with
    `t = (k - s) / (e - s)`:

    ```
    lr(k) = b + (a - b) * (1 + cos(pi * t)) / 2      (anneal_strategy="cos")
          = a + (b - a) * t                          (anneal_strategy="linear")
    ```

    The value at step `k < total_steps` equals PyTorch's `OneCycleLR`
    learning rate after `k` calls to `scheduler.step()`; from step
    `total_steps - 1` on the schedule stays at `min` (PyTorch raises past
    `total_steps`). `momentum(step)` gives the momentum that
    `OneCycleLR(cycle_momentum=True)` cycles inversely, between
    `max_momentum` and `base_momentum`.

    Args:
        max_learning_rate: Float. The peak learning rate.
        total_steps: Int. Total number of training steps (> 0), or "auto":
            filled in when training starts by
            `keras_lrx.callbacks.TotalStepsFromFit` (epochs x steps per
            epoch), as PyTorch's `OneCycleLR(epochs=, steps_per_epoch=)`.
        pct_start: Float. Fraction of the cycle spent increasing the
            learning rate, in `(0, 1)` (`(0, 0.5)` with `three_phase`).
            Defaults to `0.3`.
        div_factor: Float. `initial = max_learning_rate / div_factor`.
            Defaults to `25.0`.
        final_div_factor: Float. `min = initial / final_div_factor`.
            Defaults to `1e4`.
        anneal_strategy: String. `"cos"` or `"linear"`. Defaults to `"cos"`.
        three_phase: Bool. If `True`, anneal back to `initial` symmetrically
            before the final annihilation phase. Defaults to `False`.
        base_momentum: Float. Momentum at the learning-rate peak, in
            `[0, 1]`. Defaults to `0.85`.
        max_momentum: Float. Momentum at the start and end, in `[0, 1]`.
            Defaults to `0.95`.
        name: String. Name of the schedule. Defaults to `"OneCycle"`.

    Example:

    >>> s = OneCycle(1.0, total_steps=10, pct_start=0.5, div_factor=10.0,
    ...              final_div_factor=10.0, anneal_strategy="linear")
    >>> [round(float(s(k)), 4) for k in (0, 2, 4, 9, 50)]
    [0.1, 0.55, 1.0, 0.01, 0.01]
    >>> round(float(s.momentum(0)), 4), round(float(s.momentum(4)), 4)
    (0.95, 0.85)

    Reference:
        - [Smith & Topin, 2018. Super-Convergence: Very Fast Training of
          Neural Networks Using Large Learning Rates](
          https://arxiv.org/abs/1708.07120)
        - PyTorch's `torch.optim.lr_scheduler.OneCycleLR`.
    """

    def __init__(
        self,
        max_learning_rate: float,
        total_steps: int | Literal["auto"],
        pct_start: float = 0.3,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        anneal_strategy: str = "cos",
        three_phase: bool = False,
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
        name: str | None = None,
    ) -> None:
        self.max_learning_rate = check_float(
            "max_learning_rate", max_learning_rate, 0.0
        )
        self.total_steps = check_total_steps(total_steps)
        self.three_phase = check_bool("three_phase", three_phase)
        self.pct_start = _check_pct_start(pct_start, self.three_phase)
        self.div_factor = check_float(
            "div_factor", div_factor, 0.0, low_open=True
        )
        self.final_div_factor = check_float(
            "final_div_factor", final_div_factor, 0.0, low_open=True
        )
        self.anneal_strategy = check_choice(
            "anneal_strategy", anneal_strategy, _ANNEAL_STRATEGIES
        )
        self.base_momentum = check_float(
            "base_momentum", base_momentum, 0.0, 1.0
        )
        self.max_momentum = check_float("max_momentum", max_momentum, 0.0, 1.0)
        self.name = check_name(name, "OneCycle")
        self._phases = None
        if self.total_steps != AUTO:
            self._on_total_steps()

    def _on_total_steps(self):
        self._phases = _one_cycle_phases(self)

    def _anneal(self, k, start, end, a, b):
        """Anneals from `a` (at step `start`) to `b` (at step `end`).

        Written as a convex combination of `a` and `b` whose weights are
        computed from both ends, so float32 keeps full relative precision
        near the (tiny) final learning rate.
        """
        length = end - start
        if length > 0:
            done = ops.clip((k - start) / length, 0.0, 1.0)
            left = ops.clip((end - k) / length, 0.0, 1.0)
        else:  # Degenerate phase (PyTorch would divide by zero).
            done, left = ops.ones_like(k), ops.zeros_like(k)
        if self.anneal_strategy == "cos":
            # (1 + cos(pi t)) / 2 = sin(pi (1 - t) / 2) ** 2.
            left = ops.square(ops.sin((0.5 * math.pi) * left))
            done = ops.square(ops.sin((0.5 * math.pi) * done))
        return a * left + b * done

    def _evaluate(self, step, momentum):
        self._check_total_steps_known()
        with keras.name_scope(self.name):
            k = float_step(step, compute_dtype())
            first = 2 if momentum else 0  # Offset of (a, b) in a phase.
            start, end, *values = self._phases[-1]
            value = self._anneal(k, start, end, *values[first : first + 2])
            for start, end, *values in reversed(self._phases[:-1]):
                a, b = values[first : first + 2]
                phase_value = self._anneal(k, start, end, a, b)
                value = ops.where(k <= end, phase_value, value)
            return value

    def __call__(self, step: int | Any) -> Any:
        return self._evaluate(step, momentum=False)

    def momentum(self, step: int | Any) -> Any:
        """Returns the cycled momentum at `step`.

        The momentum moves inversely to the learning rate, from
        `max_momentum` down to `base_momentum` at the peak and back, exactly
        as `torch.optim.lr_scheduler.OneCycleLR(cycle_momentum=True)` sets
        it (SGD `momentum`, or Adam's `beta_1`).

        Args:
            step: Int or integer tensor. The optimizer step.

        Returns:
            A float scalar tensor.
        """
        return self._evaluate(step, momentum=True)

    def momentum_schedule(self) -> LearningRateSchedule:
        """The cycled momentum as a schedule of the step, for an `LRX`.

        `LRX(..., schedule=cycle, hyperparameters={"beta_1":
        cycle.momentum_schedule()})` cycles Adam's `beta_1` (or, with
        `{"momentum": ...}`, SGD's momentum) against the rate, as
        `OneCycleLR(cycle_momentum=True)` does (see
        `keras_lrx.LRX`'s `hyperparameters`). It follows this schedule's
        `total_steps`, also when that is filled in from `fit`.

        Returns:
            A serializable `LearningRateSchedule` whose value at `step` is
            `momentum(step)`.
        """
        return _OneCycleMomentum(self)

    def get_config(self) -> dict[str, Any]:
        return {
            "max_learning_rate": self.max_learning_rate,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
            "anneal_strategy": self.anneal_strategy,
            "three_phase": self.three_phase,
            "base_momentum": self.base_momentum,
            "max_momentum": self.max_momentum,
            "name": self.name,
        }


@register
class _OneCycleMomentum(LearningRateSchedule):
    """`OneCycle.momentum` as a schedule (`OneCycle.momentum_schedule()`)."""

    def __init__(self, cycle):
        if isinstance(cycle, dict):
            cycle = keras.saving.deserialize_keras_object(cycle)
        if not isinstance(cycle, OneCycle):
            raise TypeError(
                "Argument `cycle` must be a `OneCycle`. Received: "
                f"cycle={cycle!r}"
            )
        self.cycle = cycle

    def __call__(self, step):
        return self.cycle.momentum(step)

    # Its count is its cycle's (`total_steps="auto"` included).
    @property
    def name(self):
        return self.cycle.name

    @property
    def total_steps(self):
        return self.cycle.total_steps

    def set_total_steps(self, total_steps):
        return self.cycle.set_total_steps(total_steps)

    def get_config(self):
        return {"cycle": keras.saving.serialize_keras_object(self.cycle)}
