"""The warmup family, with Hugging Face transformers' step conventions.

The value at step `k` is the `k`-th value, warmup is counted inside
`total_steps`, and the warmup rises linearly from 0. Each schedule is a
class; its snake_case name (`cosine_with_warmup` for `CosineWithWarmup`, as
HF's `get_cosine_schedule_with_warmup`) is the same class under a second
name, so either spelling builds, serializes and reloads the same object.
"""

from __future__ import annotations

import math
from typing import Any
from typing import Literal

import keras
from keras import ops

from keras_lrx._validation import check_choice
from keras_lrx._validation import check_float
from keras_lrx.schedules._base import AUTO
from keras_lrx.schedules._base import LearningRateSchedule
from keras_lrx.schedules._base import TotalStepsFromTraining
from keras_lrx.schedules._base import check_name
from keras_lrx.schedules._base import check_steps
from keras_lrx.schedules._base import check_total_steps
from keras_lrx.schedules._base import check_warmup_within_total
from keras_lrx.schedules._base import compute_dtype
from keras_lrx.schedules._base import float_step
from keras_lrx.schedules._base import half_cosine
from keras_lrx.schedules._base import progress
from keras_lrx.schedules._base import register

_NONE = object()  # No `total_steps`: the schedule never ends.


class _WarmupFamily(TotalStepsFromTraining, LearningRateSchedule):
    """Shared machinery of the warmup family.

    For `k < warmup_steps` the value is `learning_rate * k / warmup_steps`;
    from `warmup_steps` on it is `learning_rate * self._factor(k)`, where
    `_factor` is written by each subclass with `keras.ops` only. A subclass
    that decays over `total_steps` passes it here, which checks that the
    warmup fits inside it; its `total_steps` may be "auto" (filled in when
    training starts) and its warmup a fraction of it (`warmup_ratio`:
    `warmup_steps = ceil(warmup_ratio * total_steps)`, as Hugging Face's
    `TrainingArguments.warmup_ratio`).
    """

    def __init__(
        self,
        learning_rate,
        warmup_steps,
        name,
        total_steps=_NONE,
        warmup_ratio=None,
    ):
        self.learning_rate = check_float("learning_rate", learning_rate, 0.0)
        self.name = check_name(name, type(self).__name__)
        self.warmup_ratio = None
        if warmup_ratio is not None:
            self.warmup_ratio = check_float(
                "warmup_ratio", warmup_ratio, 0.0, 1.0
            )
            if warmup_steps is not None:
                raise ValueError(
                    "Give `warmup_steps` or `warmup_ratio`, not both. "
                    f"Received: warmup_steps={warmup_steps!r}, "
                    f"warmup_ratio={warmup_ratio!r}"
                )
            self.warmup_steps = None
        else:
            if warmup_steps is None and total_steps is not _NONE:
                raise TypeError(
                    "Argument `warmup_steps` must be an int >= 0 (or give "
                    "`warmup_ratio`). Received: warmup_steps=None"
                )
            self.warmup_steps = check_steps("warmup_steps", warmup_steps, False)
        if total_steps is not _NONE:
            self.total_steps = check_total_steps(total_steps)
            if self.total_steps != AUTO:
                self._on_total_steps()

    def _on_total_steps(self):
        if self.warmup_ratio is not None:
            self.warmup_steps = math.ceil(self.warmup_ratio * self.total_steps)
        check_warmup_within_total(self.warmup_steps, self.total_steps)

    def _factor(self, k):
        raise NotImplementedError

    def __call__(self, step: int | Any) -> Any:
        if hasattr(self, "total_steps"):
            self._check_total_steps_known()
        with keras.name_scope(self.name):
            k = float_step(step, compute_dtype())
            warm = k / float(max(1, self.warmup_steps))
            factor = ops.where(k < self.warmup_steps, warm, self._factor(k))
            return self.learning_rate * factor

    def _since_warmup(self, k):
        """`max(k - warmup_steps, 0)`."""
        return ops.maximum(k - self.warmup_steps, 0.0)

    def _decay_progress(self, k):
        """`clip((k - w) / max(1, T - w), 0, 1)`: progress of the decay."""
        return progress(
            self._since_warmup(k), self.total_steps - self.warmup_steps
        )

    def get_config(self) -> dict[str, Any]:
        config = {
            "learning_rate": self.learning_rate,
            "warmup_steps": (
                None if self.warmup_ratio is not None else self.warmup_steps
            ),
            "name": self.name,
        }
        if hasattr(self, "total_steps"):
            config["total_steps"] = self.total_steps
        if self.warmup_ratio is not None:
            config["warmup_ratio"] = self.warmup_ratio
        return config


@register
class ConstantWithWarmup(_WarmupFamily):
    """Linear warmup from 0, then a constant learning rate.

    The schedule of HF transformers' `get_constant_schedule_with_warmup`:

    ```
    lr(k) = learning_rate * k / warmup_steps    if k < warmup_steps
          = learning_rate                       otherwise
    ```

    Args:
        learning_rate: Float. The learning rate after warmup.
        warmup_steps: Int. Number of warmup steps (>= 0).
        name: String. Name of the schedule. Defaults to the class name.

    Example:

    >>> s = ConstantWithWarmup(1.0, warmup_steps=4)
    >>> [round(float(s(k)), 4) for k in (0, 2, 4, 100)]
    [0.0, 0.5, 1.0, 1.0]

    Reference:
        - [Hugging Face transformers, `optimization.py`](
          https://github.com/huggingface/transformers/blob/main/src/transformers/optimization.py)
    """

    def __init__(
        self, learning_rate: float, warmup_steps: int, name: str | None = None
    ) -> None:
        super().__init__(learning_rate, warmup_steps, name)

    def _factor(self, k):
        return ops.ones_like(k)


@register
class LinearWithWarmup(_WarmupFamily):
    """Linear warmup from 0, then linear decay to 0 at `total_steps`.

    The schedule of HF transformers' `get_linear_schedule_with_warmup`
    (`w = warmup_steps`, `T = total_steps`):

    ```
    lr(k) = learning_rate * k / w                              if k < w
          = learning_rate * max(0, (T - k) / max(1, T - w))    otherwise
    ```

    It stays at 0 past `total_steps`.

    Args:
        learning_rate: Float. The peak learning rate, reached at step
            `warmup_steps`.
        warmup_steps: Int. Number of warmup steps, counted inside
            `total_steps`.
        total_steps: Int. Total number of training steps (> 0), or "auto":
            filled in when training starts by
            `keras_lrx.callbacks.TotalStepsFromFit` (epochs x steps per
            epoch).
        name: String. Name of the schedule. Defaults to the class name.
        warmup_ratio: Float in `[0, 1]`, instead of `warmup_steps` (pass
            `warmup_steps=None`): `warmup_steps = ceil(warmup_ratio *
            total_steps)`, as Hugging Face's `warmup_ratio`. Defaults to None.

    Example:

    >>> s = LinearWithWarmup(10.0, warmup_steps=2, total_steps=10)
    >>> [round(float(s(k)), 4) for k in (0, 1, 2, 3, 4, 10, 20)]
    [0.0, 5.0, 10.0, 8.75, 7.5, 0.0, 0.0]

    Reference:
        - [Hugging Face transformers, `optimization.py`](
          https://github.com/huggingface/transformers/blob/main/src/transformers/optimization.py)
    """

    def __init__(
        self,
        learning_rate: float,
        warmup_steps: int | None,
        total_steps: int | Literal["auto"],
        name: str | None = None,
        warmup_ratio: float | None = None,
    ) -> None:
        super().__init__(
            learning_rate, warmup_steps, name, total_steps, warmup_ratio
        )

    def _factor(self, k):
        length = float(max(1, self.total_steps - self.warmup_steps))
        return ops.maximum((self.total_steps - k) / length, 0.0)


@register
class CosineWithWarmup(_WarmupFamily):
    """Linear warmup from 0, then cosine decay.

    The schedule of HF transformers' `get_cosine_schedule_with_warmup`
    (`w = warmup_steps`, `T = total_steps`, `c = num_cycles`):

    ```
    lr(k) = learning_rate * k / w                                 if k < w
    p     = clip((k - w) / max(1, T - w), 0, 1)
    lr(k) = learning_rate * max(0, 0.5 * (1 + cos(2 * pi * c * p)))
    ```

    With the default `num_cycles=0.5` it is a half cosine from
    `learning_rate` down to 0 at `total_steps`. Past `total_steps` the
    progress `p` is held at 1, so the schedule stays at its end value
    (HF lets the cosine rise again there).

    Args:
        learning_rate: Float. The peak learning rate.
        warmup_steps: Int. Number of warmup steps, counted inside
            `total_steps`.
        total_steps: Int. Total number of training steps (> 0), or "auto":
            filled in when training starts by
            `keras_lrx.callbacks.TotalStepsFromFit` (epochs x steps per
            epoch).
        num_cycles: Float. Number of cosine periods over the decay phase.
            Defaults to `0.5` (one half cosine down to 0).
        name: String. Name of the schedule. Defaults to the class name.
        warmup_ratio: Float in `[0, 1]`, instead of `warmup_steps` (pass
            `warmup_steps=None`): `warmup_steps = ceil(warmup_ratio *
            total_steps)`, as Hugging Face's `warmup_ratio`. Defaults to None.

    Example:

    >>> s = CosineWithWarmup(1.0, warmup_steps=2, total_steps=10)
    >>> [round(float(s(k)), 4) for k in (0, 1, 2, 6, 10, 50)]
    [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]

    Reference:
        - [Hugging Face transformers, `optimization.py`](
          https://github.com/huggingface/transformers/blob/main/src/transformers/optimization.py)
        - [Loshchilov & Hutter, 2017. SGDR: Stochastic Gradient Descent with
          Warm Restarts](https://arxiv.org/abs/1608.03983)
    """

    def __init__(
        self,
        learning_rate: float,
        warmup_steps: int | None,
        total_steps: int | Literal["auto"],
        num_cycles: float = 0.5,
        name: str | None = None,
        warmup_ratio: float | None = None,
    ) -> None:
        super().__init__(
            learning_rate, warmup_steps, name, total_steps, warmup_ratio
        )
        self.num_cycles = check_float(
            "num_cycles", num_cycles, 0.0, low_open=True
        )

    def _factor(self, k):
        p = self._decay_progress(k)
        return ops.maximum(half_cosine(p, self.num_cycles), 0.0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_cycles": self.num_cycles}


@register
class CosineWithHardRestarts(_WarmupFamily):
    """Linear warmup from 0, then cosine decays with hard restarts.

    The schedule of HF transformers'
    `get_cosine_with_hard_restarts_schedule_with_warmup`
    (`w = warmup_steps`, `T = total_steps`, `c = num_cycles`):

    ```
    lr(k) = learning_rate * k / w                           if k < w
    p     = (k - w) / max(1, T - w)
    lr(k) = 0                                               if p >= 1
          = learning_rate * 0.5 * (1 + cos(pi * ((c * p) mod 1)))
    ```

    The decay phase holds `num_cycles` cosine decays from `learning_rate`
    to 0, each restarting at `learning_rate`.

    Args:
        learning_rate: Float. The peak learning rate.
        warmup_steps: Int. Number of warmup steps, counted inside
            `total_steps`.
        total_steps: Int. Total number of training steps (> 0), or "auto":
            filled in when training starts by
            `keras_lrx.callbacks.TotalStepsFromFit` (epochs x steps per
            epoch).
        num_cycles: Int. Number of hard restarts (cosine decays). Defaults
            to `1`.
        name: String. Name of the schedule. Defaults to the class name.
        warmup_ratio: Float in `[0, 1]`, instead of `warmup_steps` (pass
            `warmup_steps=None`): `warmup_steps = ceil(warmup_ratio *
            total_steps)`, as Hugging Face's `warmup_ratio`. Defaults to None.

    Example:

    >>> s = CosineWithHardRestarts(1.0, 0, total_steps=8, num_cycles=2)
    >>> [round(float(s(k)), 4) for k in (0, 2, 4, 6, 8)]
    [1.0, 0.5, 1.0, 0.5, 0.0]

    Reference:
        - [Hugging Face transformers, `optimization.py`](
          https://github.com/huggingface/transformers/blob/main/src/transformers/optimization.py)
        - [Loshchilov & Hutter, 2017. SGDR: Stochastic Gradient Descent with
          Warm Restarts](https://arxiv.org/abs/1608.03983)
    """

    def __init__(
        self,
        learning_rate: float,
        warmup_steps: int | None,
        total_steps: int | Literal["auto"],
        num_cycles: int = 1,
        name: str | None = None,
        warmup_ratio: float | None = None,
    ) -> None:
        super().__init__(
            learning_rate, warmup_steps, name, total_steps, warmup_ratio
        )
        self.num_cycles = check_steps("num_cycles", num_cycles, True)

    def _factor(self, k):
        length = float(max(1, self.total_steps - self.warmup_steps))
        since = self._since_warmup(k)
        # (c * (k - w)) / length rather than c * ((k - w) / length): exact at
        # the restarts, where `mod 1` would otherwise jump.
        position = ops.mod(float(self.num_cycles) * since / length, 1.0)
        factor = ops.maximum(half_cosine(position), 0.0)
        return ops.where(since >= length, 0.0, factor)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_cycles": self.num_cycles}


@register
class PolynomialWithWarmup(_WarmupFamily):
    """Linear warmup from 0, then polynomial decay to `end_learning_rate`.

    The schedule of HF transformers'
    `get_polynomial_decay_schedule_with_warmup` (`w = warmup_steps`,
    `T = total_steps`, `lr = learning_rate`, `end = end_learning_rate`):

    ```
    lr(k) = lr * k / w                                           if k < w
          = (lr - end) * (1 - (k - w) / (T - w)) ** power + end  if k <= T
          = end                                                  otherwise
    ```

    Args:
        learning_rate: Float. The peak learning rate.
        warmup_steps: Int. Number of warmup steps, counted inside
            `total_steps`.
        total_steps: Int. Total number of training steps (> 0), or "auto":
            filled in when training starts by
            `keras_lrx.callbacks.TotalStepsFromFit` (epochs x steps per
            epoch).
        end_learning_rate: Float. The learning rate at and after
            `total_steps`; must be below `learning_rate`. Defaults to `1e-7`.
        power: Float. The power of the polynomial (> 0). Defaults to `1.0`
            (linear decay).
        name: String. Name of the schedule. Defaults to the class name.
        warmup_ratio: Float in `[0, 1]`, instead of `warmup_steps` (pass
            `warmup_steps=None`): `warmup_steps = ceil(warmup_ratio *
            total_steps)`, as Hugging Face's `warmup_ratio`. Defaults to None.

    Example:

    >>> s = PolynomialWithWarmup(1.0, 2, 6, end_learning_rate=0.2, power=2.0)
    >>> [round(float(s(k)), 4) for k in (0, 1, 2, 4, 6, 100)]
    [0.0, 0.5, 1.0, 0.4, 0.2, 0.2]

    Reference:
        - [Hugging Face transformers, `optimization.py`](
          https://github.com/huggingface/transformers/blob/main/src/transformers/optimization.py)
    """

    def __init__(
        self,
        learning_rate: float,
        warmup_steps: int | None,
        total_steps: int | Literal["auto"],
        end_learning_rate: float = 1e-7,
        power: float = 1.0,
        name: str | None = None,
        warmup_ratio: float | None = None,
    ) -> None:
        super().__init__(
            learning_rate, warmup_steps, name, total_steps, warmup_ratio
        )
        self.end_learning_rate = check_float(
            "end_learning_rate", end_learning_rate, 0.0
        )
        if self.end_learning_rate >= self.learning_rate:
            raise ValueError(
                "Argument `end_learning_rate` must be < `learning_rate`. "
                f"Received: end_learning_rate={self.end_learning_rate}, "
                f"learning_rate={self.learning_rate}"
            )
        self.power = check_float("power", power, 0.0, low_open=True)

    def _factor(self, k):
        remaining = 1.0 - self._decay_progress(k)
        end = self.end_learning_rate / self.learning_rate
        return (1.0 - end) * ops.power(remaining, self.power) + end

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
        }


@register
class InverseSqrt(_WarmupFamily):
    """Linear warmup from 0, then inverse square-root decay.

    The schedule of HF transformers' `get_inverse_sqrt_schedule`
    (`w = warmup_steps`, `t = timescale`):

    ```
    lr(k) = learning_rate * k / w                          if k < w
          = learning_rate / sqrt((k + t - w) / t)          otherwise
    ```

    It equals `learning_rate` at step `warmup_steps` and never reaches 0.

    Args:
        learning_rate: Float. The peak learning rate.
        warmup_steps: Int. Number of warmup steps.
        timescale: Int. The decay timescale (> 0). Defaults to
            `warmup_steps`, or `10_000` when `warmup_steps` is 0.
        name: String. Name of the schedule. Defaults to the class name.

    Example:

    >>> s = InverseSqrt(1.0, warmup_steps=4)
    >>> [round(float(s(k)), 4) for k in (0, 2, 4, 16, 36)]
    [0.0, 0.5, 1.0, 0.5, 0.3333]

    Reference:
        - [Vaswani et al., 2017. Attention Is All You Need](
          https://arxiv.org/abs/1706.03762)
        - [Hugging Face transformers, `optimization.py`](
          https://github.com/huggingface/transformers/blob/main/src/transformers/optimization.py)
    """

    def __init__(
        self,
        learning_rate: float,
        warmup_steps: int,
        timescale: float | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(learning_rate, warmup_steps, name)
        if timescale is None:
            timescale = self.warmup_steps or 10_000
        self.timescale = check_float("timescale", timescale, 0.0, low_open=True)

    def _factor(self, k):
        w, t = float(self.warmup_steps), self.timescale
        return ops.rsqrt((ops.maximum(k, w) + (t - w)) / t)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "timescale": self.timescale}


@register
class StepWithWarmup(_WarmupFamily):
    """Linear warmup from 0, then step decay by `gamma` every `step_size`.

    ```
    lr(k) = learning_rate * k / w                                  if k < w
          = learning_rate * gamma ** floor((k - w) / step_size)    otherwise
    ```

    After warmup this is PyTorch's `StepLR` counted in optimizer steps.

    Args:
        learning_rate: Float. The learning rate after warmup.
        warmup_steps: Int. Number of warmup steps.
        step_size: Int. Number of steps between two decays (> 0).
        gamma: Float. The decay factor, in `(0, 1]`. Defaults to `0.5`.
        name: String. Name of the schedule. Defaults to the class name.

    Example:

    >>> s = StepWithWarmup(1.0, warmup_steps=2, step_size=3, gamma=0.5)
    >>> [round(float(s(k)), 4) for k in (0, 1, 2, 4, 5, 8)]
    [0.0, 0.5, 1.0, 1.0, 0.5, 0.25]

    Reference:
        - [Hugging Face transformers, `optimization.py`](
          https://github.com/huggingface/transformers/blob/main/src/transformers/optimization.py)
          (warmup conventions)
    """

    def __init__(
        self,
        learning_rate: float,
        warmup_steps: int,
        step_size: int,
        gamma: float = 0.5,
        name: str | None = None,
    ) -> None:
        super().__init__(learning_rate, warmup_steps, name)
        self.step_size = check_steps("step_size", step_size, True)
        self.gamma = check_float("gamma", gamma, 0.0, 1.0, low_open=True)

    def _factor(self, k):
        decays = ops.floor(self._since_warmup(k) / float(self.step_size))
        return ops.power(ops.cast(self.gamma, k.dtype), decays)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        return {**config, "step_size": self.step_size, "gamma": self.gamma}


@register
class ExponentialWithWarmup(_WarmupFamily):
    """Linear warmup from 0, then exponential decay by `gamma` per step.

    ```
    lr(k) = learning_rate * k / w                      if k < w
          = learning_rate * gamma ** (k - w)           otherwise
    ```

    After warmup this is PyTorch's `ExponentialLR` counted in optimizer
    steps.

    Args:
        learning_rate: Float. The learning rate at the end of warmup.
        warmup_steps: Int. Number of warmup steps.
        gamma: Float. The decay factor per step, in `(0, 1]`.
        name: String. Name of the schedule. Defaults to the class name.

    Example:

    >>> s = ExponentialWithWarmup(1.0, warmup_steps=2, gamma=0.5)
    >>> [round(float(s(k)), 4) for k in (0, 1, 2, 3, 5)]
    [0.0, 0.5, 1.0, 0.5, 0.125]

    Reference:
        - [Hugging Face transformers, `optimization.py`](
          https://github.com/huggingface/transformers/blob/main/src/transformers/optimization.py)
          (warmup conventions)
    """

    def __init__(
        self,
        learning_rate: float,
        warmup_steps: int,
        gamma: float,
        name: str | None = None,
    ) -> None:
        super().__init__(learning_rate, warmup_steps, name)
        self.gamma = check_float("gamma", gamma, 0.0, 1.0, low_open=True)

    def _factor(self, k):
        # gamma ** (k - w) as exp((k - w) * log(gamma)), log taken in float64.
        return ops.exp(math.log(self.gamma) * self._since_warmup(k))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "gamma": self.gamma}


_WSD_DECAY_SHAPES = {
    "linear": lambda p: 1.0 - p,
    "cosine": half_cosine,
    "1-sqrt": lambda p: 1.0 - ops.sqrt(p),
}


@register
class WarmupStableDecay(_WarmupFamily):
    """Warmup-stable-decay ("trapezoidal") schedule.

    A linear warmup from 0, a long constant plateau at `learning_rate`, then
    a short decay ("cooldown") over the last `decay_steps` steps down to
    `alpha * learning_rate`, where it stays. With `w = warmup_steps`,
    `T = total_steps`, `d = decay_steps`, `s = T - d` (start of the decay)
    and `p = (k - s) / d`:

    ```
    lr(k) = learning_rate * k / w                                if k < w
          = learning_rate                                        if k < s
          = learning_rate * (alpha + (1 - alpha) * f(p))         if k < T
          = learning_rate * alpha                                otherwise
    f(p)  = 1 - p                     (decay_type="linear")
          = 0.5 * (1 + cos(pi * p))   (decay_type="cosine")
          = 1 - sqrt(p)               (decay_type="1-sqrt")
    ```

    Unlike HF transformers' `get_wsd_schedule`, the warmup rises from 0 (as
    in the rest of this family) rather than from `alpha`.

    Args:
        learning_rate: Float. The plateau learning rate.
        warmup_steps: Int. Number of warmup steps, counted inside
            `total_steps`.
        total_steps: Int. Total number of training steps (> 0), or "auto":
            filled in when training starts by
            `keras_lrx.callbacks.TotalStepsFromFit` (epochs x steps per
            epoch).
        decay_steps: Int. Length of the final decay phase; `warmup_steps +
            decay_steps` must not exceed `total_steps`. Defaults to `None`,
            meaning 20% of `total_steps` (rounded down, at least 1).
        decay_type: String. Shape of the decay: `"linear"`, `"cosine"` or
            `"1-sqrt"`. Defaults to `"linear"`.
        alpha: Float. The final learning rate as a fraction of
            `learning_rate`, in `[0, 1]`. Defaults to `0.0`.
        name: String. Name of the schedule. Defaults to the class name.
        warmup_ratio: Float in `[0, 1]`, instead of `warmup_steps` (pass
            `warmup_steps=None`): `warmup_steps = ceil(warmup_ratio *
            total_steps)`, as Hugging Face's `warmup_ratio`. Defaults to None.

    Example:

    >>> s = WarmupStableDecay(1.0, warmup_steps=2, total_steps=10,
    ...                       decay_steps=4, alpha=0.2)
    >>> [round(float(s(k)), 4) for k in (0, 1, 2, 5, 6, 8, 10, 99)]
    [0.0, 0.5, 1.0, 1.0, 1.0, 0.6, 0.2, 0.2]

    Reference:
        - [Hu et al., 2024. MiniCPM: Unveiling the Potential of Small
          Language Models with Scalable Training Strategies](
          https://arxiv.org/abs/2404.06395)
        - [Hägele et al., 2024. Scaling Laws and Compute-Optimal Training
          Beyond Fixed Training Durations](https://arxiv.org/abs/2405.18392)
    """

    def __init__(
        self,
        learning_rate: float,
        warmup_steps: int | None,
        total_steps: int | Literal["auto"],
        decay_steps: int | None = None,
        decay_type: str = "linear",
        alpha: float = 0.0,
        name: str | None = None,
        warmup_ratio: float | None = None,
    ) -> None:
        # `decay_steps` (default: 20% of `total_steps`) is checked against
        # `total_steps` when it is known (maybe only when training starts).
        self._decay_steps_given = (
            None
            if decay_steps is None
            else check_steps("decay_steps", decay_steps, True)
        )
        self.decay_steps = self._decay_steps_given
        super().__init__(
            learning_rate, warmup_steps, name, total_steps, warmup_ratio
        )
        self.decay_type = check_choice(
            "decay_type", decay_type, tuple(_WSD_DECAY_SHAPES)
        )
        self.alpha = check_float("alpha", alpha, 0.0, 1.0)

    def _on_total_steps(self):
        super()._on_total_steps()
        decay_steps = self._decay_steps_given
        if decay_steps is None:
            decay_steps = max(1, int(0.2 * self.total_steps))
        if self.warmup_steps + decay_steps > self.total_steps:
            raise ValueError(
                "Arguments `warmup_steps` + `decay_steps` must be <= "
                f"`total_steps`. Received: warmup_steps={self.warmup_steps}, "
                f"decay_steps={decay_steps}, "
                f"total_steps={self.total_steps}"
            )
        self.decay_steps = decay_steps

    def _factor(self, k):
        decay_start = float(self.total_steps - self.decay_steps)
        p = progress(k - decay_start, self.decay_steps)
        shape = _WSD_DECAY_SHAPES[self.decay_type](p)
        return self.alpha + (1.0 - self.alpha) * shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "decay_steps": self.decay_steps,
            "decay_type": self.decay_type,
            "alpha": self.alpha,
        }


# The Hugging Face-style names: the same classes, as documented aliases.
constant_with_warmup = ConstantWithWarmup
linear_with_warmup = LinearWithWarmup
cosine_with_warmup = CosineWithWarmup
cosine_with_hard_restarts = CosineWithHardRestarts
polynomial_with_warmup = PolynomialWithWarmup
inverse_sqrt = InverseSqrt
step_with_warmup = StepWithWarmup
exponential_with_warmup = ExponentialWithWarmup
warmup_stable_decay = WarmupStableDecay
