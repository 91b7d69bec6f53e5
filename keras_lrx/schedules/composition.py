"""Composition: a warmup in front of any schedule, and schedules in sequence.

As in optax, a child schedule sees the step counted from its own start.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_lrx._validation import check_float
from keras_lrx._validation import check_sequence
from keras_lrx._validation import is_number
from keras_lrx.schedules._base import LearningRateSchedule
from keras_lrx.schedules._base import check_child
from keras_lrx.schedules._base import check_name
from keras_lrx.schedules._base import check_steps
from keras_lrx.schedules._base import compute_dtype
from keras_lrx.schedules._base import deserialize_child
from keras_lrx.schedules._base import evaluate_child
from keras_lrx.schedules._base import register
from keras_lrx.schedules._base import serialize_child


def _child_step(step, start):
    """`max(step - start, 0)`: the step as a child starting at `start` sees."""
    return ops.maximum(step - start, ops.zeros_like(step))


@register
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
        self,
        schedule: LearningRateSchedule | float,
        warmup_steps: int,
        initial_learning_rate: float = 0.0,
        name: str | None = None,
    ) -> None:
        self.schedule = check_child("schedule", schedule)
        self.warmup_steps = check_steps("warmup_steps", warmup_steps, False)
        self.initial_learning_rate = check_float(
            "initial_learning_rate", initial_learning_rate, 0.0
        )
        self.name = check_name(name, "Warmup")

    def __call__(self, step: int | Any) -> Any:
        with keras.name_scope(self.name):
            dtype = compute_dtype()
            step = ops.convert_to_tensor(step)
            k = ops.cast(step, dtype)
            w = self.warmup_steps
            after = evaluate_child(self.schedule, _child_step(step, w), dtype)
            target = evaluate_child(self.schedule, ops.zeros_like(step), dtype)
            initial = self.initial_learning_rate
            warm = initial + (target - initial) * (k / float(max(1, w)))
            return ops.where(k < w, warm, after)

    def get_config(self) -> dict[str, Any]:
        return {
            "schedule": serialize_child(self.schedule),
            "warmup_steps": self.warmup_steps,
            "initial_learning_rate": self.initial_learning_rate,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Warmup:
        config = dict(config)
        config["schedule"] = deserialize_child(config["schedule"])
        return cls(**config)


_BOUNDARIES_RULE = (
    "a list of increasing positive integers (strictly increasing, with one "
    "entry fewer than `schedules`)"
)


def _check_boundary(boundary, boundaries):
    """Returns one boundary as an int > 0, or raises naming `boundaries`."""
    if not is_number(boundary):
        raise TypeError(
            f"Argument `boundaries` must be {_BOUNDARIES_RULE}; "
            f"{boundary!r} is of type {type(boundary).__name__}. "
            f"Received: boundaries={boundaries!r}"
        )
    number = float(boundary)
    if not (math.isfinite(number) and number.is_integer() and number > 0):
        raise ValueError(
            f"Argument `boundaries` must be {_BOUNDARIES_RULE}; {boundary!r} "
            f"is not a positive integer. Received: boundaries={boundaries!r}"
        )
    return int(boundary)


def _check_boundaries(boundaries, num_schedules):
    """Returns `boundaries` as a list of strictly increasing ints > 0."""
    if isinstance(boundaries, np.ndarray) and boundaries.ndim == 1:
        boundaries = boundaries.tolist()
    values = check_sequence(
        "boundaries", boundaries, _BOUNDARIES_RULE, allow_empty=True
    )
    for b in values:
        if not is_number(b):
            _check_boundary(b, boundaries)  # Types first, then the count.
    if len(values) != num_schedules - 1:
        raise ValueError(
            "Argument `boundaries` must have one entry fewer than "
            f"`schedules` ({num_schedules - 1}). "
            f"Received: boundaries={boundaries!r} for {num_schedules} "
            "schedules"
        )
    values = [_check_boundary(b, boundaries) for b in values]
    if any(b1 <= b0 for b0, b1 in zip(values, values[1:])):
        raise ValueError(
            "Argument `boundaries` must be strictly increasing. "
            f"Received: boundaries={boundaries!r}"
        )
    return values


@register
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

    >>> from keras_lrx.schedules import LinearWithWarmup
    >>> s = JoinedSchedule([LinearWithWarmup(1.0, 4, 4), 0.1], [4])
    >>> [round(float(s(k)), 4) for k in (0, 2, 3, 4, 100)]
    [0.0, 0.5, 0.75, 0.1, 0.1]

    Reference:
        - [optax.join_schedules](
          https://optax.readthedocs.io/en/latest/api/optimizer_schedules.html)
    """

    def __init__(
        self,
        schedules: list[LearningRateSchedule | float]
        | tuple[LearningRateSchedule | float, ...],
        boundaries: list[int] | tuple[int, ...] | np.ndarray,
        name: str | None = None,
    ) -> None:
        schedules = check_sequence(
            "schedules",
            schedules,
            "a list of `LearningRateSchedule`s or numbers (at least one)",
        )
        schedules = [
            check_child(f"schedules[{i}]", s) for i, s in enumerate(schedules)
        ]
        boundaries = _check_boundaries(boundaries, len(schedules))
        self.name = check_name(name, "JoinedSchedule")
        self.schedules = schedules
        self.boundaries = boundaries

    def __call__(self, step: int | Any) -> Any:
        with keras.name_scope(self.name):
            dtype = compute_dtype()
            step = ops.convert_to_tensor(step)
            k = ops.cast(step, dtype)
            value = evaluate_child(self.schedules[0], step, dtype)
            for boundary, child in zip(self.boundaries, self.schedules[1:]):
                child_value = evaluate_child(
                    child, _child_step(step, boundary), dtype
                )
                value = ops.where(k >= boundary, child_value, value)
            return value

    def get_config(self) -> dict[str, Any]:
        return {
            "schedules": [serialize_child(s) for s in self.schedules],
            "boundaries": list(self.boundaries),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> JoinedSchedule:
        config = dict(config)
        config["schedules"] = [
            deserialize_child(s) for s in config["schedules"]
        ]
        return cls(**config)


# optax's verb for the same thing: a documented alias of the class.
join_schedules = JoinedSchedule
