"""Learning-rate schedules and their composition.

Every schedule here is a `keras.optimizers.schedules.LearningRateSchedule`:
it is evaluated once per optimizer step with `keras.ops` only (no Python
`if` on tensors, so it runs under `tf.function(jit_compile=True)`, `jax.jit`
and torch alike), returns a float scalar (`keras.config.floatx()`, float32 by
default), accepts the step as an integer tensor or a Python int, and
serializes through `get_config` / `from_config` and inside `model.save`.

Pass a schedule directly as the `learning_rate` of any Keras optimizer:

```python
optimizer = keras.optimizers.AdamW(
    learning_rate=keras_lrx.schedules.cosine_with_warmup(
        1e-3, warmup_steps=500, total_steps=10_000
    )
)
```

Contents:

- The warmup family, with the step conventions of Hugging Face
  transformers' `get_*_schedule_with_warmup` (the value at step `k` is the
  `k`-th value; warmup is counted inside `total_steps`; warmup rises
  linearly from 0): `constant_with_warmup`, `linear_with_warmup`,
  `cosine_with_warmup`, `cosine_with_hard_restarts`,
  `polynomial_with_warmup`, `inverse_sqrt`, `step_with_warmup`,
  `exponential_with_warmup` and `warmup_stable_decay`.
- Composition: `Warmup` (put a linear warmup in front of any schedule) and
  `join_schedules` / `JoinedSchedule` (run schedules one after another).
- Cyclical schedules: `CyclicalLearningRate` (same values as PyTorch's
  `CyclicLR`), `DecayingCyclicalLearningRate` and `OneCycle` (same values as
  PyTorch's `OneCycleLR`, with the cycled momentum).
- Looking at them: `schedule_values` and `plot_schedule`.
"""

import math
import numbers
import reprlib
import warnings

import keras
import numpy as np
from keras import ops

from keras_lrx._validation import check_bool
from keras_lrx._validation import check_choice as _check_choice
from keras_lrx._validation import check_float as _check_float
from keras_lrx._validation import check_int
from keras_lrx._validation import check_sequence
from keras_lrx._validation import check_type
from keras_lrx._validation import is_number

LearningRateSchedule = keras.optimizers.schedules.LearningRateSchedule

__all__ = [
    # Warmup family (factories and the classes they return).
    "constant_with_warmup",
    "linear_with_warmup",
    "cosine_with_warmup",
    "cosine_with_hard_restarts",
    "polynomial_with_warmup",
    "inverse_sqrt",
    "step_with_warmup",
    "exponential_with_warmup",
    "warmup_stable_decay",
    "ConstantWithWarmup",
    "LinearWithWarmup",
    "CosineWithWarmup",
    "CosineWithHardRestarts",
    "PolynomialWithWarmup",
    "InverseSqrt",
    "StepWithWarmup",
    "ExponentialWithWarmup",
    "WarmupStableDecay",
    # Composition.
    "Warmup",
    "JoinedSchedule",
    "join_schedules",
    # Cyclical.
    "CyclicalLearningRate",
    "DecayingCyclicalLearningRate",
    "OneCycle",
    # Seeing them.
    "schedule_values",
    "plot_schedule",
]

_register = keras.saving.register_keras_serializable(package="keras_lrx")


# ---------------------------------------------------------------------------
# Argument checks (Keras-style messages) and small numeric helpers.
# ---------------------------------------------------------------------------


# `_check_float` and `_check_choice` are `keras_lrx._validation`'s, so that
# every module words (and types) its errors alike.


def _check_steps(name, value, positive):
    """Returns a step count as a Python int (> 0 if `positive`, else >= 0)."""
    number = check_int(name, value, low=None if positive else 0)
    if positive and number <= 0:
        raise ValueError(
            f"Argument `{name}` must be > 0. Received: {name}={value!r}"
        )
    return number


def _check_name(name):
    """Returns the `name` argument of a schedule: a string or None."""
    if name is None:
        return None
    return check_type("name", name, str, "a string or None")


def _check_warmup_within_total(warmup_steps, total_steps):
    if warmup_steps > total_steps:
        raise ValueError(
            "Argument `warmup_steps` must be <= `total_steps`. "
            f"Received: warmup_steps={warmup_steps}, total_steps={total_steps}"
        )


def _compute_dtype():
    floatx = keras.config.floatx()
    return floatx if floatx in ("float32", "float64") else "float32"


def _const(value, dtype):
    return ops.convert_to_tensor(value, dtype=dtype)


def _float_step(step, dtype):
    return ops.cast(ops.convert_to_tensor(step), dtype)


def _linear_ramp(k, warmup_steps, dtype):
    """`k / max(1, warmup_steps)`: the HF warmup factor."""
    return ops.divide(k, _const(float(max(1, warmup_steps)), dtype))


def _evaluate_child(child, step, dtype):
    """Evaluates a child schedule (or a constant) at `step` as `dtype`."""
    if isinstance(child, LearningRateSchedule):
        return ops.cast(child(step), dtype)
    return ops.cast(ops.full_like(step, child, dtype=dtype), dtype)


def _check_child(name, child):
    """A schedule, or a constant learning rate (a finite number >= 0)."""
    if isinstance(child, LearningRateSchedule):
        return child
    if is_number(child):
        return _check_float(name, child, 0.0)
    raise TypeError(
        f"Argument `{name}` must be a "
        "`keras.optimizers.schedules.LearningRateSchedule` or a number. "
        f"Received: {name}={child!r} (of type {type(child).__name__})"
    )


def _serialize_child(child):
    if isinstance(child, LearningRateSchedule):
        return keras.saving.serialize_keras_object(child)
    return child


def _deserialize_child(config):
    if isinstance(config, dict):
        return keras.saving.deserialize_keras_object(config)
    return config


# ---------------------------------------------------------------------------
# The warmup family (HF transformers conventions).
# ---------------------------------------------------------------------------


class _WarmupFamily(LearningRateSchedule):
    """Shared machinery of the warmup family.

    For `k < warmup_steps` the value is `learning_rate * k / warmup_steps`;
    from `warmup_steps` on it is `learning_rate * self._factor(k)`, where
    `_factor` is written by each subclass with `keras.ops` only.
    """

    def __init__(self, learning_rate, warmup_steps, name=None):
        self.learning_rate = _check_float("learning_rate", learning_rate, 0.0)
        self.warmup_steps = _check_steps("warmup_steps", warmup_steps, False)
        self.name = _check_name(name) or type(self).__name__

    def _factor(self, k, dtype):
        raise NotImplementedError

    def __call__(self, step):
        with keras.name_scope(self.name):
            dtype = _compute_dtype()
            k = _float_step(step, dtype)
            warm = _linear_ramp(k, self.warmup_steps, dtype)
            after = self._factor(k, dtype)
            factor = ops.where(
                ops.less(k, _const(float(self.warmup_steps), dtype)),
                warm,
                after,
            )
            return ops.multiply(_const(self.learning_rate, dtype), factor)

    def _since_warmup(self, k, dtype):
        """`max(k - warmup_steps, 0)`."""
        return ops.maximum(
            ops.subtract(k, _const(float(self.warmup_steps), dtype)),
            _const(0.0, dtype),
        )

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "warmup_steps": self.warmup_steps,
            "name": self.name,
        }


@_register
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

    def _factor(self, k, dtype):
        return ops.ones_like(k)


@_register
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
        total_steps: Int. Total number of training steps (> 0).
        name: String. Name of the schedule. Defaults to the class name.

    Example:

    >>> s = LinearWithWarmup(10.0, warmup_steps=2, total_steps=10)
    >>> [round(float(s(k)), 4) for k in (0, 1, 2, 3, 4, 10, 20)]
    [0.0, 5.0, 10.0, 8.75, 7.5, 0.0, 0.0]

    Reference:
        - [Hugging Face transformers, `optimization.py`](
          https://github.com/huggingface/transformers/blob/main/src/transformers/optimization.py)
    """

    def __init__(self, learning_rate, warmup_steps, total_steps, name=None):
        super().__init__(learning_rate, warmup_steps, name)
        self.total_steps = _check_steps("total_steps", total_steps, True)
        _check_warmup_within_total(self.warmup_steps, self.total_steps)

    def _factor(self, k, dtype):
        denom = float(max(1, self.total_steps - self.warmup_steps))
        remaining = ops.subtract(_const(float(self.total_steps), dtype), k)
        return ops.maximum(
            ops.divide(remaining, _const(denom, dtype)), _const(0.0, dtype)
        )

    def get_config(self):
        return {**super().get_config(), "total_steps": self.total_steps}


@_register
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
        total_steps: Int. Total number of training steps (> 0).
        num_cycles: Float. Number of cosine periods over the decay phase.
            Defaults to `0.5` (one half cosine down to 0).
        name: String. Name of the schedule. Defaults to the class name.

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
        learning_rate,
        warmup_steps,
        total_steps,
        num_cycles=0.5,
        name=None,
    ):
        super().__init__(learning_rate, warmup_steps, name)
        self.total_steps = _check_steps("total_steps", total_steps, True)
        _check_warmup_within_total(self.warmup_steps, self.total_steps)
        self.num_cycles = _check_float(
            "num_cycles", num_cycles, 0.0, low_open=True
        )

    def _factor(self, k, dtype):
        denom = float(max(1, self.total_steps - self.warmup_steps))
        progress = ops.minimum(
            ops.divide(self._since_warmup(k, dtype), _const(denom, dtype)),
            _const(1.0, dtype),
        )
        angle = ops.multiply(
            _const(2.0 * math.pi * self.num_cycles, dtype), progress
        )
        factor = ops.multiply(
            _const(0.5, dtype), ops.add(_const(1.0, dtype), ops.cos(angle))
        )
        return ops.maximum(factor, _const(0.0, dtype))

    def get_config(self):
        return {
            **super().get_config(),
            "total_steps": self.total_steps,
            "num_cycles": self.num_cycles,
        }


@_register
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
        total_steps: Int. Total number of training steps (> 0).
        num_cycles: Int. Number of hard restarts (cosine decays). Defaults
            to `1`.
        name: String. Name of the schedule. Defaults to the class name.

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
        self, learning_rate, warmup_steps, total_steps, num_cycles=1, name=None
    ):
        super().__init__(learning_rate, warmup_steps, name)
        self.total_steps = _check_steps("total_steps", total_steps, True)
        _check_warmup_within_total(self.warmup_steps, self.total_steps)
        self.num_cycles = _check_steps("num_cycles", num_cycles, True)

    def _factor(self, k, dtype):
        denom = float(max(1, self.total_steps - self.warmup_steps))
        since = self._since_warmup(k, dtype)
        # (c * (k - w)) / denom rather than c * ((k - w) / denom): exact at
        # the restarts, where `mod 1` would otherwise jump.
        position = ops.mod(
            ops.divide(
                ops.multiply(_const(float(self.num_cycles), dtype), since),
                _const(denom, dtype),
            ),
            _const(1.0, dtype),
        )
        factor = ops.multiply(
            _const(0.5, dtype),
            ops.add(
                _const(1.0, dtype),
                ops.cos(ops.multiply(_const(math.pi, dtype), position)),
            ),
        )
        finished = ops.greater_equal(since, _const(denom, dtype))
        return ops.where(finished, _const(0.0, dtype), ops.maximum(factor, 0.0))

    def get_config(self):
        return {
            **super().get_config(),
            "total_steps": self.total_steps,
            "num_cycles": self.num_cycles,
        }


@_register
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
        total_steps: Int. Total number of training steps (> 0).
        end_learning_rate: Float. The learning rate at and after
            `total_steps`; must be below `learning_rate`. Defaults to `1e-7`.
        power: Float. The power of the polynomial (> 0). Defaults to `1.0`
            (linear decay).
        name: String. Name of the schedule. Defaults to the class name.

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
        learning_rate,
        warmup_steps,
        total_steps,
        end_learning_rate=1e-7,
        power=1.0,
        name=None,
    ):
        super().__init__(learning_rate, warmup_steps, name)
        self.total_steps = _check_steps("total_steps", total_steps, True)
        _check_warmup_within_total(self.warmup_steps, self.total_steps)
        self.end_learning_rate = _check_float(
            "end_learning_rate", end_learning_rate, 0.0
        )
        if self.end_learning_rate >= self.learning_rate:
            raise ValueError(
                "Argument `end_learning_rate` must be < `learning_rate`. "
                f"Received: end_learning_rate={self.end_learning_rate}, "
                f"learning_rate={self.learning_rate}"
            )
        self.power = _check_float("power", power, 0.0, low_open=True)

    def _factor(self, k, dtype):
        denom = float(max(1, self.total_steps - self.warmup_steps))
        remaining = ops.clip(
            ops.subtract(
                _const(1.0, dtype),
                ops.divide(self._since_warmup(k, dtype), _const(denom, dtype)),
            ),
            0.0,
            1.0,
        )
        end_ratio = self.end_learning_rate / self.learning_rate
        return ops.add(
            ops.multiply(
                _const(1.0 - end_ratio, dtype),
                ops.power(remaining, _const(self.power, dtype)),
            ),
            _const(end_ratio, dtype),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "total_steps": self.total_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
        }


@_register
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

    def __init__(self, learning_rate, warmup_steps, timescale=None, name=None):
        super().__init__(learning_rate, warmup_steps, name)
        if timescale is None:
            timescale = self.warmup_steps or 10_000
        self.timescale = _check_float(
            "timescale", timescale, 0.0, low_open=True
        )

    def _factor(self, k, dtype):
        w = float(self.warmup_steps)
        shifted = ops.add(
            ops.maximum(k, _const(w, dtype)),
            _const(self.timescale - w, dtype),
        )
        return ops.rsqrt(ops.divide(shifted, _const(self.timescale, dtype)))

    def get_config(self):
        return {**super().get_config(), "timescale": self.timescale}


@_register
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
        self, learning_rate, warmup_steps, step_size, gamma=0.5, name=None
    ):
        super().__init__(learning_rate, warmup_steps, name)
        self.step_size = _check_steps("step_size", step_size, True)
        self.gamma = _check_float("gamma", gamma, 0.0, 1.0, low_open=True)

    def _factor(self, k, dtype):
        since = self._since_warmup(k, dtype)
        count = ops.floor(
            ops.divide(since, _const(float(self.step_size), dtype))
        )
        return ops.power(_const(self.gamma, dtype), count)

    def get_config(self):
        return {
            **super().get_config(),
            "step_size": self.step_size,
            "gamma": self.gamma,
        }


@_register
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

    def __init__(self, learning_rate, warmup_steps, gamma, name=None):
        super().__init__(learning_rate, warmup_steps, name)
        self.gamma = _check_float("gamma", gamma, 0.0, 1.0, low_open=True)

    def _factor(self, k, dtype):
        # gamma ** (k - w) as exp((k - w) * log(gamma)), log taken in float64.
        since = self._since_warmup(k, dtype)
        return ops.exp(ops.multiply(_const(math.log(self.gamma), dtype), since))

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma}


_WSD_DECAY_TYPES = ("linear", "cosine", "1-sqrt")


@_register
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
        total_steps: Int. Total number of training steps (> 0).
        decay_steps: Int. Length of the final decay phase; `warmup_steps +
            decay_steps` must not exceed `total_steps`. Defaults to `None`,
            meaning 20% of `total_steps` (rounded down, at least 1).
        decay_type: String. Shape of the decay: `"linear"`, `"cosine"` or
            `"1-sqrt"`. Defaults to `"linear"`.
        alpha: Float. The final learning rate as a fraction of
            `learning_rate`, in `[0, 1]`. Defaults to `0.0`.
        name: String. Name of the schedule. Defaults to the class name.

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
        learning_rate,
        warmup_steps,
        total_steps,
        decay_steps=None,
        decay_type="linear",
        alpha=0.0,
        name=None,
    ):
        super().__init__(learning_rate, warmup_steps, name)
        self.total_steps = _check_steps("total_steps", total_steps, True)
        _check_warmup_within_total(self.warmup_steps, self.total_steps)
        if decay_steps is None:
            decay_steps = max(1, int(0.2 * self.total_steps))
        self.decay_steps = _check_steps("decay_steps", decay_steps, True)
        if self.warmup_steps + self.decay_steps > self.total_steps:
            raise ValueError(
                "Arguments `warmup_steps` + `decay_steps` must be <= "
                f"`total_steps`. Received: warmup_steps={self.warmup_steps}, "
                f"decay_steps={self.decay_steps}, "
                f"total_steps={self.total_steps}"
            )
        self.decay_type = _check_choice(
            "decay_type", decay_type, _WSD_DECAY_TYPES
        )
        self.alpha = _check_float("alpha", alpha, 0.0, 1.0)

    def _factor(self, k, dtype):
        decay_start = float(self.total_steps - self.decay_steps)
        progress = ops.clip(
            ops.divide(
                ops.subtract(k, _const(decay_start, dtype)),
                _const(float(self.decay_steps), dtype),
            ),
            0.0,
            1.0,
        )
        one = _const(1.0, dtype)
        if self.decay_type == "linear":
            shape = ops.subtract(one, progress)
        elif self.decay_type == "cosine":
            shape = ops.multiply(
                _const(0.5, dtype),
                ops.add(
                    one, ops.cos(ops.multiply(_const(math.pi, dtype), progress))
                ),
            )
        else:  # "1-sqrt"
            shape = ops.subtract(one, ops.sqrt(progress))
        return ops.add(
            _const(self.alpha, dtype),
            ops.multiply(_const(1.0 - self.alpha, dtype), shape),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "total_steps": self.total_steps,
            "decay_steps": self.decay_steps,
            "decay_type": self.decay_type,
            "alpha": self.alpha,
        }


def constant_with_warmup(learning_rate, warmup_steps, name=None):
    """Linear warmup from 0 to `learning_rate`, then constant.

    `lr(k) = learning_rate * min(1, k / warmup_steps)`; see
    `ConstantWithWarmup`.

    Args:
        learning_rate: Float. The learning rate after warmup.
        warmup_steps: Int. Number of warmup steps (>= 0).
        name: String. Name of the schedule. Defaults to the class name.

    Returns:
        A serializable `ConstantWithWarmup` schedule.

    Example:

    >>> s = constant_with_warmup(1.0, warmup_steps=4)
    >>> [round(float(s(k)), 4) for k in (0, 1, 4, 10**9)]
    [0.0, 0.25, 1.0, 1.0]

    Reference:
        - HF transformers' `get_constant_schedule_with_warmup`.
    """
    return ConstantWithWarmup(learning_rate, warmup_steps, name=name)


def linear_with_warmup(learning_rate, warmup_steps, total_steps, name=None):
    """Linear warmup from 0, then linear decay to 0 at `total_steps`.

    `lr(k) = learning_rate * k / w` for `k < w`, then
    `learning_rate * max(0, (T - k) / max(1, T - w))`; see
    `LinearWithWarmup`.

    Args:
        learning_rate: Float. The peak learning rate.
        warmup_steps: Int. Number of warmup steps, counted inside
            `total_steps`.
        total_steps: Int. Total number of training steps (> 0).
        name: String. Name of the schedule. Defaults to the class name.

    Returns:
        A serializable `LinearWithWarmup` schedule.

    Example:

    >>> s = linear_with_warmup(10.0, warmup_steps=2, total_steps=10)
    >>> [round(float(s(k)), 4) for k in range(5)]
    [0.0, 5.0, 10.0, 8.75, 7.5]

    Reference:
        - HF transformers' `get_linear_schedule_with_warmup`.
    """
    return LinearWithWarmup(learning_rate, warmup_steps, total_steps, name=name)


def cosine_with_warmup(
    learning_rate, warmup_steps, total_steps, num_cycles=0.5, name=None
):
    """Linear warmup from 0, then cosine decay.

    `lr(k) = learning_rate * k / w` for `k < w`, then
    `learning_rate * 0.5 * (1 + cos(2 pi num_cycles p))` with
    `p = clip((k - w) / max(1, T - w), 0, 1)`; see `CosineWithWarmup`.

    Args:
        learning_rate: Float. The peak learning rate.
        warmup_steps: Int. Number of warmup steps, counted inside
            `total_steps`.
        total_steps: Int. Total number of training steps (> 0).
        num_cycles: Float. Number of cosine periods over the decay phase.
            Defaults to `0.5`.
        name: String. Name of the schedule. Defaults to the class name.

    Returns:
        A serializable `CosineWithWarmup` schedule.

    Example:

    >>> s = cosine_with_warmup(1.0, warmup_steps=2, total_steps=10)
    >>> [round(float(s(k)), 4) for k in (0, 2, 6, 10)]
    [0.0, 1.0, 0.5, 0.0]

    Reference:
        - HF transformers' `get_cosine_schedule_with_warmup`.
        - Loshchilov & Hutter, 2017. SGDR (https://arxiv.org/abs/1608.03983)
    """
    return CosineWithWarmup(
        learning_rate,
        warmup_steps,
        total_steps,
        num_cycles=num_cycles,
        name=name,
    )


def cosine_with_hard_restarts(
    learning_rate, warmup_steps, total_steps, num_cycles=1, name=None
):
    """Linear warmup from 0, then `num_cycles` cosine decays with restarts.

    `lr(k) = learning_rate * 0.5 * (1 + cos(pi * ((num_cycles * p) mod 1)))`
    with `p = (k - w) / max(1, T - w)`, and 0 once `p >= 1`; see
    `CosineWithHardRestarts`.

    Args:
        learning_rate: Float. The peak learning rate.
        warmup_steps: Int. Number of warmup steps, counted inside
            `total_steps`.
        total_steps: Int. Total number of training steps (> 0).
        num_cycles: Int. Number of hard restarts. Defaults to `1`.
        name: String. Name of the schedule. Defaults to the class name.

    Returns:
        A serializable `CosineWithHardRestarts` schedule.

    Example:

    >>> s = cosine_with_hard_restarts(1.0, 2, total_steps=10, num_cycles=2)
    >>> [round(float(s(k)), 4) for k in (1, 2, 4, 6, 10)]
    [0.5, 1.0, 0.5, 1.0, 0.0]

    Reference:
        - HF transformers' `get_cosine_with_hard_restarts_schedule_with_warmup`.
        - Loshchilov & Hutter, 2017. SGDR (https://arxiv.org/abs/1608.03983)
    """
    return CosineWithHardRestarts(
        learning_rate,
        warmup_steps,
        total_steps,
        num_cycles=num_cycles,
        name=name,
    )


def polynomial_with_warmup(
    learning_rate,
    warmup_steps,
    total_steps,
    end_learning_rate=1e-7,
    power=1.0,
    name=None,
):
    """Linear warmup from 0, then polynomial decay to `end_learning_rate`.

    `lr(k) = (lr - end) * (1 - (k - w) / (T - w)) ** power + end` for
    `w <= k <= T`, `end` afterwards; see `PolynomialWithWarmup`.

    Args:
        learning_rate: Float. The peak learning rate.
        warmup_steps: Int. Number of warmup steps, counted inside
            `total_steps`.
        total_steps: Int. Total number of training steps (> 0).
        end_learning_rate: Float. Final learning rate, below
            `learning_rate`. Defaults to `1e-7`.
        power: Float. Power of the polynomial (> 0). Defaults to `1.0`.
        name: String. Name of the schedule. Defaults to the class name.

    Returns:
        A serializable `PolynomialWithWarmup` schedule.

    Example:

    >>> s = polynomial_with_warmup(1.0, 0, 4, end_learning_rate=0.2)
    >>> [round(float(s(k)), 4) for k in (0, 2, 4, 8)]
    [1.0, 0.6, 0.2, 0.2]

    Reference:
        - HF transformers' `get_polynomial_decay_schedule_with_warmup`.
    """
    return PolynomialWithWarmup(
        learning_rate,
        warmup_steps,
        total_steps,
        end_learning_rate=end_learning_rate,
        power=power,
        name=name,
    )


def inverse_sqrt(learning_rate, warmup_steps, timescale=None, name=None):
    """Linear warmup from 0, then inverse square-root decay.

    `lr(k) = learning_rate / sqrt((k + t - w) / t)` for `k >= w`; see
    `InverseSqrt`.

    Args:
        learning_rate: Float. The peak learning rate.
        warmup_steps: Int. Number of warmup steps.
        timescale: Int. Decay timescale. Defaults to `warmup_steps` (or
            `10_000` when that is 0).
        name: String. Name of the schedule. Defaults to the class name.

    Returns:
        A serializable `InverseSqrt` schedule.

    Example:

    >>> s = inverse_sqrt(1.0, warmup_steps=4)
    >>> [round(float(s(k)), 4) for k in (2, 4, 16)]
    [0.5, 1.0, 0.5]

    Reference:
        - HF transformers' `get_inverse_sqrt_schedule`.
    """
    return InverseSqrt(
        learning_rate, warmup_steps, timescale=timescale, name=name
    )


def step_with_warmup(
    learning_rate, warmup_steps, step_size, gamma=0.5, name=None
):
    """Linear warmup from 0, then multiply by `gamma` every `step_size` steps.

    `lr(k) = learning_rate * gamma ** floor((k - w) / step_size)` for
    `k >= w`; see `StepWithWarmup`.

    Args:
        learning_rate: Float. The learning rate after warmup.
        warmup_steps: Int. Number of warmup steps.
        step_size: Int. Steps between two decays (> 0).
        gamma: Float. Decay factor in `(0, 1]`. Defaults to `0.5`.
        name: String. Name of the schedule. Defaults to the class name.

    Returns:
        A serializable `StepWithWarmup` schedule.

    Example:

    >>> s = step_with_warmup(1.0, warmup_steps=0, step_size=2, gamma=0.1)
    >>> [round(float(s(k)), 4) for k in (0, 1, 2, 4)]
    [1.0, 1.0, 0.1, 0.01]

    Reference:
        - HF transformers' warmup conventions; PyTorch's `StepLR`.
    """
    return StepWithWarmup(
        learning_rate, warmup_steps, step_size, gamma=gamma, name=name
    )


def exponential_with_warmup(learning_rate, warmup_steps, gamma, name=None):
    """Linear warmup from 0, then multiply by `gamma` every step.

    `lr(k) = learning_rate * gamma ** (k - w)` for `k >= w`; see
    `ExponentialWithWarmup`.

    Args:
        learning_rate: Float. The learning rate at the end of warmup.
        warmup_steps: Int. Number of warmup steps.
        gamma: Float. Decay factor per step, in `(0, 1]`.
        name: String. Name of the schedule. Defaults to the class name.

    Returns:
        A serializable `ExponentialWithWarmup` schedule.

    Example:

    >>> s = exponential_with_warmup(1.0, warmup_steps=1, gamma=0.5)
    >>> [round(float(s(k)), 4) for k in (0, 1, 2, 3)]
    [0.0, 1.0, 0.5, 0.25]

    Reference:
        - HF transformers' warmup conventions; PyTorch's `ExponentialLR`.
    """
    return ExponentialWithWarmup(learning_rate, warmup_steps, gamma, name=name)


def warmup_stable_decay(
    learning_rate,
    warmup_steps,
    total_steps,
    decay_steps=None,
    decay_type="linear",
    alpha=0.0,
    name=None,
):
    """Warmup, a stable plateau, then a final decay to `alpha * lr`.

    `lr(k)` rises linearly from 0 over `warmup_steps`, stays at
    `learning_rate`, and over the last `decay_steps` steps follows
    `alpha + (1 - alpha) * f(p)` with `f` linear (`1 - p`), cosine
    (`0.5 * (1 + cos(pi p))`) or `1 - sqrt(p)`; see `WarmupStableDecay`.

    Args:
        learning_rate: Float. The plateau learning rate.
        warmup_steps: Int. Number of warmup steps.
        total_steps: Int. Total number of training steps (> 0).
        decay_steps: Int. Length of the final decay phase. Defaults to 20%
            of `total_steps`.
        decay_type: String. `"linear"`, `"cosine"` or `"1-sqrt"`. Defaults
            to `"linear"`.
        alpha: Float. Final learning rate as a fraction of `learning_rate`.
            Defaults to `0.0`.
        name: String. Name of the schedule. Defaults to the class name.

    Returns:
        A serializable `WarmupStableDecay` schedule.

    Example:

    >>> s = warmup_stable_decay(1.0, 0, total_steps=8, decay_steps=4,
    ...                         decay_type="1-sqrt")
    >>> [round(float(s(k)), 4) for k in (0, 4, 5, 8)]
    [1.0, 1.0, 0.5, 0.0]

    Reference:
        - Hu et al., 2024. MiniCPM (https://arxiv.org/abs/2404.06395)
        - Hägele et al., 2024. Scaling Laws and Compute-Optimal Training
          Beyond Fixed Training Durations (https://arxiv.org/abs/2405.18392)
    """
    return WarmupStableDecay(
        learning_rate,
        warmup_steps,
        total_steps,
        decay_steps=decay_steps,
        decay_type=decay_type,
        alpha=alpha,
        name=name,
    )


# ---------------------------------------------------------------------------
# Composition.
# ---------------------------------------------------------------------------


@_register
class Warmup(LearningRateSchedule):
    """Puts a linear warmup in front of any schedule.

    The warmup rises linearly from `initial_learning_rate` at step 0 to
    `schedule(0)` at step `warmup_steps`; then the wrapped schedule runs,
    shifted so that it starts from its own step 0 (`w = warmup_steps`):

    ```
    lr(k) = initial + (schedule(0) - initial) * k / w    if k < w
          = schedule(k - w)                              otherwise
    ```

    Use it to add warmup to schedules that have none, such as SGDR
    (`keras.optimizers.schedules.CosineDecayRestarts`).

    Args:
        schedule: A `keras.optimizers.schedules.LearningRateSchedule`, or a
            float (>= 0) for a constant learning rate after warmup.
        warmup_steps: Int. Number of warmup steps (>= 0).
        initial_learning_rate: Float. The learning rate at step 0. Defaults
            to `0.0`.
        name: String. Name of the schedule. Defaults to `"Warmup"`.

    Example:

    >>> sgdr = keras.optimizers.schedules.CosineDecayRestarts(
    ...     1.0, first_decay_steps=4)
    >>> s = Warmup(sgdr, warmup_steps=2)
    >>> [round(float(s(k)), 4) for k in (0, 1, 2, 4, 6)]
    [0.0, 0.5, 1.0, 0.5, 1.0]

    Reference:
        - [Goyal et al., 2017. Accurate, Large Minibatch SGD: Training
          ImageNet in 1 Hour](https://arxiv.org/abs/1706.02677)
        - [Loshchilov & Hutter, 2017. SGDR: Stochastic Gradient Descent with
          Warm Restarts](https://arxiv.org/abs/1608.03983)
    """

    def __init__(
        self, schedule, warmup_steps, initial_learning_rate=0.0, name=None
    ):
        self.schedule = _check_child("schedule", schedule)
        self.warmup_steps = _check_steps("warmup_steps", warmup_steps, False)
        self.initial_learning_rate = _check_float(
            "initial_learning_rate", initial_learning_rate, 0.0
        )
        self.name = _check_name(name) or "Warmup"

    def __call__(self, step):
        with keras.name_scope(self.name):
            dtype = _compute_dtype()
            step = ops.convert_to_tensor(step)
            k = ops.cast(step, dtype)
            child_step = ops.maximum(
                ops.subtract(step, self.warmup_steps), ops.zeros_like(step)
            )
            after = _evaluate_child(self.schedule, child_step, dtype)
            target = _evaluate_child(self.schedule, ops.zeros_like(step), dtype)
            initial = _const(self.initial_learning_rate, dtype)
            warm = ops.add(
                initial,
                ops.multiply(
                    ops.subtract(target, initial),
                    _linear_ramp(k, self.warmup_steps, dtype),
                ),
            )
            return ops.where(
                ops.less(k, _const(float(self.warmup_steps), dtype)),
                warm,
                after,
            )

    def get_config(self):
        return {
            "schedule": _serialize_child(self.schedule),
            "warmup_steps": self.warmup_steps,
            "initial_learning_rate": self.initial_learning_rate,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedule"] = _deserialize_child(config["schedule"])
        return cls(**config)


_BOUNDARIES_RULE = (
    "a list of increasing positive integers (strictly increasing, with one "
    "entry fewer than `schedules`)"
)


def _check_boundaries(boundaries, num_schedules):
    """Returns `boundaries` as a list of strictly increasing ints > 0."""
    if isinstance(boundaries, np.ndarray) and boundaries.ndim == 1:
        boundaries = boundaries.tolist()
    values = check_sequence(
        "boundaries", boundaries, _BOUNDARIES_RULE, allow_empty=True
    )
    for b in values:
        if not is_number(b):
            raise TypeError(
                f"Argument `boundaries` must be {_BOUNDARIES_RULE}; "
                f"{b!r} is of type {type(b).__name__}. "
                f"Received: boundaries={boundaries!r}"
            )
    if len(values) != num_schedules - 1:
        raise ValueError(
            "Argument `boundaries` must have one entry fewer than "
            f"`schedules` ({num_schedules - 1}). "
            f"Received: boundaries={boundaries!r} for {num_schedules} "
            "schedules"
        )
    for b in values:
        if not (math.isfinite(float(b)) and float(b).is_integer() and b > 0):
            raise ValueError(
                f"Argument `boundaries` must be {_BOUNDARIES_RULE}; {b!r} is "
                f"not a positive integer. Received: boundaries={boundaries!r}"
            )
    values = [int(b) for b in values]
    if any(b1 <= b0 for b0, b1 in zip(values, values[1:])):
        raise ValueError(
            "Argument `boundaries` must be strictly increasing. "
            f"Received: boundaries={boundaries!r}"
        )
    return values


@_register
class JoinedSchedule(LearningRateSchedule):
    """Runs several schedules one after another.

    With `b = boundaries` (strictly increasing, one fewer than the
    schedules), child `i` is used for `b[i-1] <= k < b[i]` and sees the step
    counted from its own start, `k - b[i-1]` (the convention of
    `optax.join_schedules`):

    ```
    lr(k) = schedules[0](k)                   if k < b[0]
          = schedules[i](k - b[i-1])          if b[i-1] <= k < b[i]
          = schedules[-1](k - b[-1])          if k >= b[-1]
    ```

    Args:
        schedules: List of `LearningRateSchedule`s (or floats for constant
            pieces), at least one.
        boundaries: List of ints, strictly increasing and > 0, with
            `len(schedules) - 1` entries.
        name: String. Name of the schedule. Defaults to `"JoinedSchedule"`.

    Example:

    >>> s = JoinedSchedule([linear_with_warmup(1.0, 4, 4), 0.1], [4])
    >>> [round(float(s(k)), 4) for k in (0, 2, 3, 4, 100)]
    [0.0, 0.5, 0.75, 0.1, 0.1]

    Reference:
        - [optax.join_schedules](
          https://optax.readthedocs.io/en/latest/api/optimizer_schedules.html)
    """

    def __init__(self, schedules, boundaries, name=None):
        schedules = check_sequence(
            "schedules",
            schedules,
            "a list of `LearningRateSchedule`s or numbers (at least one)",
        )
        schedules = [
            _check_child(f"schedules[{i}]", s) for i, s in enumerate(schedules)
        ]
        boundaries = _check_boundaries(boundaries, len(schedules))
        name = _check_name(name)
        self.schedules = schedules
        self.boundaries = boundaries
        self.name = name or "JoinedSchedule"

    def __call__(self, step):
        with keras.name_scope(self.name):
            dtype = _compute_dtype()
            step = ops.convert_to_tensor(step)
            k = ops.cast(step, dtype)
            value = _evaluate_child(self.schedules[0], step, dtype)
            for boundary, child in zip(self.boundaries, self.schedules[1:]):
                child_step = ops.maximum(
                    ops.subtract(step, boundary), ops.zeros_like(step)
                )
                value = ops.where(
                    ops.greater_equal(k, _const(float(boundary), dtype)),
                    _evaluate_child(child, child_step, dtype),
                    value,
                )
            return value

    def get_config(self):
        return {
            "schedules": [_serialize_child(s) for s in self.schedules],
            "boundaries": list(self.boundaries),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedules"] = [
            _deserialize_child(s) for s in config["schedules"]
        ]
        return cls(**config)


def join_schedules(schedules, boundaries, name=None):
    """Joins schedules: child `i` runs on `[b[i-1], b[i])` from its step 0.

    `lr(k) = schedules[i](k - boundaries[i-1])` for
    `boundaries[i-1] <= k < boundaries[i]`; see `JoinedSchedule`.

    Args:
        schedules: List of `LearningRateSchedule`s or floats.
        boundaries: Strictly increasing ints > 0, one fewer than
            `schedules`.
        name: String. Name of the schedule. Defaults to `"JoinedSchedule"`.

    Returns:
        A serializable `JoinedSchedule`.

    Example:

    >>> decay = keras.optimizers.schedules.ExponentialDecay(1.0, 1, 0.5)
    >>> s = join_schedules([0.25, decay], boundaries=[3])
    >>> [round(float(s(k)), 4) for k in (0, 2, 3, 4, 5)]
    [0.25, 0.25, 1.0, 0.5, 0.25]

    Reference:
        - optax.join_schedules
    """
    return JoinedSchedule(schedules, boundaries, name=name)


# ---------------------------------------------------------------------------
# Cyclical schedules.
# ---------------------------------------------------------------------------


_CLR_MODES = ("triangular", "triangular2", "exp_range")
_CLR_SCALE_MODES = ("cycle", "iterations")


def _triangle_wave(step, step_size_up, step_size_down, dtype):
    """Returns `(cycle, height)` for a triangular wave.

    `cycle` is the 1-based cycle number (PyTorch's `CyclicLR` convention) and
    `height` in `[0, 1]` rises over `step_size_up` steps and falls over
    `step_size_down` steps.
    """
    total = step_size_up + step_size_down
    total_t = _const(total, dtype)
    one = _const(1.0, dtype)
    step = ops.convert_to_tensor(step)
    step_dtype = keras.backend.standardize_dtype(step.dtype)
    integral = "int" in step_dtype and float(total).is_integer()
    if (
        integral
        and step_dtype == "int64"
        and keras.backend.backend() != ("tensorflow")
    ):
        # Keras's type promotion narrows int64 to int32 outside TensorFlow,
        # so `floor_divide` would wrap a step past 2**31 around (and torch's
        # `ops.floor` returns float32): count in float64 with `mod` and an
        # exact division instead, exact for steps below 2**53.
        k = ops.cast(step, "float64")
        total_w = _const(total, "float64")
        position = ops.mod(k, total_w)
        index = ops.divide(ops.subtract(k, position), total_w)
        index = ops.cast(index, dtype)
        position = ops.cast(position, dtype)
    elif integral:
        # Exact integer arithmetic: float32 cannot place a step of 10**9.
        index = ops.cast(ops.floor_divide(step, int(total)), dtype)
        position = ops.cast(ops.mod(step, int(total)), dtype)
    else:
        k = ops.cast(step, dtype)
        index = ops.floor(ops.divide(k, total_t))
        position = ops.subtract(k, ops.multiply(index, total_t))
        # Guard against the rounding of k / total near a cycle boundary.
        below = ops.less(position, _const(0.0, dtype))
        index = ops.where(below, ops.subtract(index, one), index)
        position = ops.where(below, ops.add(position, total_t), position)
        above = ops.greater_equal(position, total_t)
        index = ops.where(above, ops.add(index, one), index)
        position = ops.where(above, ops.subtract(position, total_t), position)
    rising = ops.divide(position, _const(step_size_up, dtype))
    falling = ops.divide(
        ops.subtract(total_t, position), _const(step_size_down, dtype)
    )
    height = ops.where(
        ops.less_equal(position, _const(step_size_up, dtype)), rising, falling
    )
    return ops.add(index, one), height


def _check_clr_bounds(base_learning_rate, max_learning_rate):
    base = _check_float("base_learning_rate", base_learning_rate, 0.0)
    peak = _check_float("max_learning_rate", max_learning_rate, 0.0)
    if peak < base:
        raise ValueError(
            "Argument `max_learning_rate` must be >= `base_learning_rate`. "
            f"Received: max_learning_rate={peak}, base_learning_rate={base}"
        )
    return base, peak


def _check_clr_steps(step_size, step_size_down):
    up = _check_float("step_size", step_size, 0.0, low_open=True)
    if step_size_down is None:
        return up, up
    down = _check_float("step_size_down", step_size_down, 0.0, low_open=True)
    return up, down


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


@_register
class CyclicalLearningRate(LearningRateSchedule):
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
        base_learning_rate,
        max_learning_rate,
        step_size,
        step_size_down=None,
        mode="triangular",
        gamma=1.0,
        scale_fn=None,
        scale_mode=None,
        name=None,
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
        self.mode = _check_choice("mode", mode, _CLR_MODES)
        self.gamma = _check_float("gamma", gamma, 0.0, low_open=True)
        if scale_mode is not None:
            _check_choice("scale_mode", scale_mode, _CLR_SCALE_MODES)
        self.scale_mode = scale_mode
        self.name = _check_name(name) or "CyclicalLearningRate"
        if scale_fn is None:
            self.scale_fn = None
            self._scale_fn_name = None
            natural = "iterations" if mode == "exp_range" else "cycle"
            if scale_mode is not None and scale_mode != natural:
                warnings.warn(
                    f"`scale_mode={scale_mode!r}` is ignored without "
                    f"`scale_fn`: mode {mode!r} scales per {natural!r}.",
                    stacklevel=2,
                )
        else:
            self.scale_fn, self._scale_fn_name = _resolve_scale_fn(scale_fn)

    def _scale(self, cycle, k, dtype):
        if self.scale_fn is not None:
            x = k if self.scale_mode == "iterations" else cycle
            return ops.cast(self.scale_fn(x), dtype)
        if self.mode == "triangular":
            return ops.ones_like(k)
        if self.mode == "triangular2":
            return ops.power(
                _const(0.5, dtype), ops.subtract(cycle, _const(1.0, dtype))
            )
        # gamma ** k as exp(k * log(gamma)), log taken in float64: the float32
        # rounding of gamma itself would otherwise grow with k.
        return ops.exp(ops.multiply(_const(math.log(self.gamma), dtype), k))

    def __call__(self, step):
        with keras.name_scope(self.name):
            dtype = _compute_dtype()
            k = _float_step(step, dtype)
            cycle, height = _triangle_wave(
                step, self.step_size, self._step_size_down, dtype
            )
            amplitude = _const(
                self.max_learning_rate - self.base_learning_rate, dtype
            )
            return ops.add(
                _const(self.base_learning_rate, dtype),
                ops.multiply(
                    ops.multiply(amplitude, height),
                    self._scale(cycle, k, dtype),
                ),
            )

    def get_config(self):
        if self.scale_fn is not None and self._scale_fn_name is None:
            raise ValueError(
                "Cannot serialize `CyclicalLearningRate`: its `scale_fn` "
                f"({self.scale_fn!r}) is not registered. Define it as a named "
                "function decorated with "
                "`@keras.saving.register_keras_serializable()` (a lambda "
                "cannot be saved)."
            )
        return {
            "base_learning_rate": self.base_learning_rate,
            "max_learning_rate": self.max_learning_rate,
            "step_size": self.step_size,
            "step_size_down": self.step_size_down,
            "mode": self.mode,
            "gamma": self.gamma,
            "scale_fn": self._scale_fn_name,
            "scale_mode": self.scale_mode,
            "name": self.name,
        }


_CLR_DECAY_TYPES = ("exponential", "linear")
_CLR_DECAY_TARGETS = ("amplitude", "peak")


@_register
class DecayingCyclicalLearningRate(LearningRateSchedule):
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
        base_learning_rate,
        max_learning_rate,
        step_size,
        step_size_down=None,
        decay_every=1,
        decay_rate=0.5,
        decay_type="exponential",
        decay_target="amplitude",
        name=None,
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
        self.decay_every = _check_steps("decay_every", decay_every, True)
        self.decay_rate = _check_float(
            "decay_rate", decay_rate, 0.0, 1.0, low_open=True
        )
        self.decay_type = _check_choice(
            "decay_type", decay_type, _CLR_DECAY_TYPES
        )
        self.decay_target = _check_choice(
            "decay_target", decay_target, _CLR_DECAY_TARGETS
        )
        self.name = _check_name(name) or "DecayingCyclicalLearningRate"

    def __call__(self, step):
        with keras.name_scope(self.name):
            dtype = _compute_dtype()
            cycle, height = _triangle_wave(
                step, self.step_size, self._step_size_down, dtype
            )
            decays = ops.floor(
                ops.divide(
                    ops.subtract(cycle, _const(1.0, dtype)),
                    _const(float(self.decay_every), dtype),
                )
            )
            if self.decay_type == "exponential":
                factor = ops.power(_const(self.decay_rate, dtype), decays)
            else:
                factor = ops.maximum(
                    ops.subtract(
                        _const(1.0, dtype),
                        ops.multiply(_const(self.decay_rate, dtype), decays),
                    ),
                    _const(0.0, dtype),
                )
            base = _const(self.base_learning_rate, dtype)
            if self.decay_target == "amplitude":
                amplitude = _const(
                    self.max_learning_rate - self.base_learning_rate, dtype
                )
                return ops.add(
                    base, ops.multiply(ops.multiply(amplitude, height), factor)
                )
            # "peak": the peak max * factor, floored at base.
            peak = ops.maximum(
                ops.multiply(_const(self.max_learning_rate, dtype), factor),
                base,
            )
            amplitude = ops.subtract(peak, base)
            return ops.add(base, ops.multiply(amplitude, height))

    def get_config(self):
        return {
            "base_learning_rate": self.base_learning_rate,
            "max_learning_rate": self.max_learning_rate,
            "step_size": self.step_size,
            "step_size_down": self.step_size_down,
            "decay_every": self.decay_every,
            "decay_rate": self.decay_rate,
            "decay_type": self.decay_type,
            "decay_target": self.decay_target,
            "name": self.name,
        }


_ANNEAL_STRATEGIES = ("cos", "linear")


@_register
class OneCycle(LearningRateSchedule):
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
        total_steps: Int. Total number of training steps (> 0).
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
        max_learning_rate,
        total_steps,
        pct_start=0.3,
        div_factor=25.0,
        final_div_factor=1e4,
        anneal_strategy="cos",
        three_phase=False,
        base_momentum=0.85,
        max_momentum=0.95,
        name=None,
    ):
        self.max_learning_rate = _check_float(
            "max_learning_rate", max_learning_rate, 0.0
        )
        self.total_steps = _check_steps("total_steps", total_steps, True)
        three_phase = check_bool("three_phase", three_phase)
        high = 0.5 if three_phase else 1.0
        number = _check_float("pct_start", pct_start)
        if not 0.0 < number < high:
            extra = " with `three_phase=True`" if three_phase else ""
            raise ValueError(
                f"Argument `pct_start` must be in (0, {high}){extra}. "
                f"Received: pct_start={pct_start!r}"
            )
        self.pct_start = pct_start = number
        self.div_factor = _check_float(
            "div_factor", div_factor, 0.0, low_open=True
        )
        self.final_div_factor = _check_float(
            "final_div_factor", final_div_factor, 0.0, low_open=True
        )
        self.anneal_strategy = _check_choice(
            "anneal_strategy", anneal_strategy, _ANNEAL_STRATEGIES
        )
        self.three_phase = three_phase
        self.base_momentum = _check_float(
            "base_momentum", base_momentum, 0.0, 1.0
        )
        self.max_momentum = _check_float("max_momentum", max_momentum, 0.0, 1.0)
        self.name = _check_name(name) or "OneCycle"

        initial = self.max_learning_rate / self.div_factor
        minimum = initial / self.final_div_factor
        n = self.total_steps
        # (end_step, start_lr, end_lr, start_momentum, end_momentum), with
        # the end steps computed exactly as PyTorch does.
        if self.three_phase:
            phases = [
                (
                    float(pct_start * n) - 1,
                    initial,
                    self.max_learning_rate,
                    self.max_momentum,
                    self.base_momentum,
                ),
                (
                    float(2 * pct_start * n) - 2,
                    self.max_learning_rate,
                    initial,
                    self.base_momentum,
                    self.max_momentum,
                ),
                (n - 1, initial, minimum, self.max_momentum, self.max_momentum),
            ]
        else:
            phases = [
                (
                    float(pct_start * n) - 1,
                    initial,
                    self.max_learning_rate,
                    self.max_momentum,
                    self.base_momentum,
                ),
                (
                    n - 1,
                    self.max_learning_rate,
                    minimum,
                    self.base_momentum,
                    self.max_momentum,
                ),
            ]
        self._phases = []
        start = 0.0
        for end, *values in phases:
            self._phases.append((start, float(end), *values))
            start = float(end)

    def _anneal(self, k, start, end, a, b, dtype):
        """Anneals from `a` (at step `start`) to `b` (at step `end`).

        Written as a convex combination of `a` and `b` whose weights are
        computed from both ends, so float32 keeps full relative precision
        near the (tiny) final learning rate.
        """
        length = end - start
        if length > 0:
            done = ops.clip(
                ops.divide(
                    ops.subtract(k, _const(start, dtype)), _const(length, dtype)
                ),
                0.0,
                1.0,
            )
            left = ops.clip(
                ops.divide(
                    ops.subtract(_const(end, dtype), k), _const(length, dtype)
                ),
                0.0,
                1.0,
            )
        else:  # Degenerate phase (PyTorch would divide by zero).
            done = ops.ones_like(k)
            left = ops.zeros_like(k)
        if self.anneal_strategy == "cos":
            half_pi = _const(0.5 * math.pi, dtype)
            w_a = ops.square(ops.sin(ops.multiply(half_pi, left)))
            w_b = ops.square(ops.sin(ops.multiply(half_pi, done)))
        else:
            w_a, w_b = left, done
        return ops.add(
            ops.multiply(_const(a, dtype), w_a),
            ops.multiply(_const(b, dtype), w_b),
        )

    def _evaluate(self, step, momentum):
        with keras.name_scope(self.name):
            dtype = _compute_dtype()
            k = _float_step(step, dtype)
            offset = 3 if momentum else 1
            start, end, *values = self._phases[-1]
            a, b = values[offset - 1], values[offset]
            value = self._anneal(k, start, end, a, b, dtype)
            for start, end, *values in reversed(self._phases[:-1]):
                a, b = values[offset - 1], values[offset]
                value = ops.where(
                    ops.less_equal(k, _const(end, dtype)),
                    self._anneal(k, start, end, a, b, dtype),
                    value,
                )
            return value

    def __call__(self, step):
        return self._evaluate(step, momentum=False)

    def momentum(self, step):
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

    def get_config(self):
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


# ---------------------------------------------------------------------------
# Seeing them.
# ---------------------------------------------------------------------------


_STEPS_RULE = "a non-negative int or an iterable of non-negative ints"
_SHORT = reprlib.Repr()
_SHORT.maxlist = _SHORT.maxtuple = 12
_SHORT.maxother = _SHORT.maxstring = 200


def _as_steps(steps):
    """Returns `steps` (an int `N` or an iterable of steps) as int64 steps.

    `TypeError` for what is not an int or an iterable of numbers (strings,
    bools included); `ValueError` for negative, non-integer or non-finite
    steps, or a nested iterable.
    """
    if is_number(steps):
        return np.arange(check_int("steps", steps, low=0), dtype="int64")
    if isinstance(steps, range):
        array = np.arange(steps.start, steps.stop, steps.step, dtype="int64")
    elif isinstance(steps, np.ndarray):
        array = steps
    else:
        if isinstance(steps, (str, bytes, bool, np.bool_)) or steps is None:
            items = None
        else:
            try:
                items = list(steps)
            except TypeError:
                items = None
        if items is None or any(
            isinstance(item, (str, bytes, bool, np.bool_)) for item in items
        ):
            raise TypeError(
                f"Argument `steps` must be {_STEPS_RULE}. "
                f"Received: steps={_SHORT.repr(steps)} "
                f"(of type {type(steps).__name__})"
            )
        try:
            array = np.asarray(items)
        except (TypeError, ValueError):  # Ragged nesting, say.
            raise ValueError(
                f"Argument `steps` must be {_STEPS_RULE}. "
                f"Received: steps={_SHORT.repr(steps)}"
            ) from None
    if array.size == 0:
        return np.zeros((0,), dtype="int64")
    if not (
        np.issubdtype(array.dtype, np.integer)
        or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(
            f"Argument `steps` must be {_STEPS_RULE}. "
            f"Received: steps={_SHORT.repr(steps)} (of dtype {array.dtype})"
        )
    if array.ndim != 1:
        raise ValueError(
            f"Argument `steps` must be {_STEPS_RULE} (one dimension). "
            f"Received: steps={_SHORT.repr(steps)}"
        )
    if np.issubdtype(array.dtype, np.floating):
        finite = np.isfinite(array)
        bad = ~finite | (np.mod(np.where(finite, array, 0.0), 1) != 0)
        if bad.any():
            raise ValueError(
                f"Argument `steps` must be {_STEPS_RULE}; "
                f"steps[{np.argmax(bad)}] is not an integer. "
                f"Received: steps={_SHORT.repr(steps)}"
            )
    if (array < 0).any():
        raise ValueError(
            f"Argument `steps` must be {_STEPS_RULE}; "
            f"steps[{np.argmax(array < 0)}] is negative. "
            f"Received: steps={_SHORT.repr(steps)}"
        )
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


def _int64_available():
    if keras.backend.backend() != "jax":
        return True
    import jax

    return bool(jax.config.jax_enable_x64)


def schedule_values(schedule, steps):
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

    >>> schedule_values(linear_with_warmup(10.0, 2, 10), 5).round(4).tolist()
    [0.0, 5.0, 10.0, 8.75, 7.5]
    """
    if is_number(schedule) or isinstance(schedule, (bool, np.bool_)):
        rate = _check_float("schedule", schedule, 0.0)
        return np.full(_as_steps(steps).shape, rate, dtype=_compute_dtype())
    steps = _as_steps(steps)
    if not callable(schedule):
        raise TypeError(
            "Argument `schedule` must be a `LearningRateSchedule`, a callable "
            f"or a number. Received: schedule={schedule!r}"
        )
    if steps.size == 0:
        return np.zeros((0,), dtype=_compute_dtype())
    fits_int32 = steps.max() < 2**31
    if not fits_int32 and not _int64_available():
        raise ValueError(
            "Argument `steps` holds steps >= 2**31, which JAX represents "
            "only with `jax.config.update('jax_enable_x64', True)` (they "
            f"would wrap around). Received: max(steps)={steps.max()}"
        )
    # Pad to a power-of-two length (repeating the last step) so that backends
    # that compile per shape (JAX) reuse their kernels across calls.
    size = max(16, 1 << (steps.size - 1).bit_length())
    padded = np.concatenate(
        [steps, np.full(size - steps.size, steps[-1], dtype=steps.dtype)]
    )
    values = None
    try:
        tensor = ops.convert_to_tensor(
            padded.astype("int32" if fits_int32 else "int64")
        )
        values = np.asarray(ops.convert_to_numpy(schedule(tensor)))
        if values.shape != padded.shape:
            values = None
        else:
            values = values[: steps.size]
        if values is not None and not _is_elementwise(schedule):
            # Spot-check the vectorized call against scalar calls.
            for i in sorted({0, steps.size // 2, steps.size - 1}):
                if not np.allclose(
                    values[i],
                    _scalar_value(schedule, steps[i]),
                    rtol=1e-5,
                    atol=0.0,
                    equal_nan=True,
                ):
                    values = None
                    break
    except Exception:  # Not vectorizable: evaluate step by step.
        values = None
    if values is None:
        values = np.array([_scalar_value(schedule, s) for s in steps])
    return values.astype(_compute_dtype())


def plot_schedule(schedules, steps, ax=None):
    """Plots one or several schedules against the step (needs matplotlib).

    A lazy wrapper around `keras_lrx.plotting.plot_schedule`, so that
    importing `keras_lrx.schedules` never imports matplotlib.

    Args:
        schedules: A schedule, a list of schedules, or a dict mapping labels
            to schedules.
        steps: Int `N`, meaning `range(N)`, or an iterable of int steps.
        ax: A matplotlib `Axes` to draw on. Defaults to `None`, meaning a new
            figure.

    Returns:
        The matplotlib `Axes`, with one line per schedule.

    Raises:
        ImportError: If matplotlib is not installed.

    Example:

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = plot_schedule([linear_with_warmup(1.0, 10, 100),
    ...                     OneCycle(1.0, 100)], steps=100)
    >>> len(ax.get_lines())
    2
    """
    from keras_lrx.plotting import plot_schedule as _plot_schedule

    return _plot_schedule(schedules, steps, ax=ax)
