"""Multiplier shapes over time: a group that thaws at a step.

A multiplier in `keras_lrx.LRX(multipliers=...)` may be a schedule of the
step, `rate(v, t) = schedule(t) * m_v(t)`. `Thaw` is the shape fine-tuning
recipes use: frozen until a step, then (optionally) a linear warmup to the
group's multiplier.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_lrx._validation import check_float
from keras_lrx.schedules._base import LearningRateSchedule
from keras_lrx.schedules._base import check_name
from keras_lrx.schedules._base import check_steps
from keras_lrx.schedules._base import compute_dtype
from keras_lrx.schedules._base import register


@register
class Thaw(LearningRateSchedule):
    """A multiplier that is 0 until `start_step`, then warms up to `multiplier`.

    With `m = multiplier`, `s = start_step`, `w = warmup_steps` and
    `f = initial_fraction`:

    ```
    m(k) = 0                                     if k < s
         = m * (f + (1 - f) * (k - s + 1) / w)   if s <= k < s + w
         = m                                     otherwise
    ```

    so step `s` is the group's first update (at `m * (f + (1 - f) / w)`, or
    at `m` when `w = 0`) and step `s + w - 1` the first at the full `m`.
    As an `LRX` multiplier, a value of 0 leaves the group's variables and
    optimizer slots untouched (no update, no weight decay, no moment
    updates). `Thaw(m, 0, w)` is a per-group warmup; `Thaw(m, s)` unfreezes a
    group at step `s`; `initial_fraction` starts a thawed group at a fraction
    of its rate (ULMFiT-style slanted thaw).

    Args:
        multiplier: Float >= 0. The multiplier once warmed up. Defaults to
            1.0.
        start_step: Int >= 0. The first step at which the group trains.
            Defaults to 0.
        warmup_steps: Int >= 0. Steps of the linear rise. Defaults to 0.
        initial_fraction: Float in [0, 1]. Where the rise starts, as a
            fraction of `multiplier`. Defaults to 0.0.
        name: String. Defaults to `"Thaw"`.

    Example:

    >>> m = Thaw(0.5, start_step=2, warmup_steps=2)
    >>> [round(float(m(k)), 3) for k in range(5)]
    [0.0, 0.0, 0.25, 0.5, 0.5]
    >>> model = keras.Sequential([keras.Input((4,)),
    ...     keras.layers.Dense(4, name="body"),
    ...     keras.layers.Dense(1, name="head")])
    >>> from keras_lrx import LRX
    >>> opt = LRX(keras.optimizers.Adam(1e-3),
    ...           multipliers={"body": Thaw(0.1, start_step=100)})
    """

    def __init__(
        self,
        multiplier: float = 1.0,
        start_step: int = 0,
        warmup_steps: int = 0,
        initial_fraction: float = 0.0,
        name: str | None = None,
    ) -> None:
        self.multiplier = check_float("multiplier", multiplier, low=0.0)
        self.start_step = check_steps("start_step", start_step, False)
        self.warmup_steps = check_steps("warmup_steps", warmup_steps, False)
        self.initial_fraction = check_float(
            "initial_fraction", initial_fraction, low=0.0, high=1.0
        )
        self.name = check_name(name, "Thaw")

    def __call__(self, step: int | Any) -> Any:
        with keras.name_scope(self.name):
            return self.values_of([self], step)[0]

    @staticmethod
    def values_of(thaws: Sequence[Thaw], step: int | Any) -> Any:
        """The values of several `Thaw`s at `step`, as one vector.

        One formula over vectors of their arguments: LRX evaluates the
        thaws of all its groups this way, a few ops per step whatever their
        number.
        """
        dtype = compute_dtype()

        def vector(values):
            return ops.convert_to_tensor(np.asarray(values, "float64"), dtype)

        k = ops.cast(ops.convert_to_tensor(step), dtype)
        m = vector([t.multiplier for t in thaws])
        s = vector([t.start_step for t in thaws])
        w = vector([max(1, t.warmup_steps) for t in thaws])
        f = vector([t.initial_fraction for t in thaws])
        rise = ops.minimum(f + (1.0 - f) * ((k - s + 1.0) / w), 1.0)
        value = m * rise
        return ops.where(k < s, ops.zeros_like(value), value)

    def value_at(self, step: int) -> float:
        """The value at an integer `step`, as a Python float (no tensors).

        Equal to `float(self(step))`; LRX reads multipliers this way once per
        step on the torch backend, where each tensor op costs host time.
        """
        k = int(step)
        if k < self.start_step:
            return 0.0
        w = max(1, self.warmup_steps)
        f = self.initial_fraction
        rise = min(f + (1.0 - f) * ((k - self.start_step + 1.0) / w), 1.0)
        return float(self.multiplier * rise)

    def active_from(self) -> int | None:
        """The step from which the value is > 0 for good (0 before it), or
        None if it is 0 for good. LRX updates the variables of all thaws
        with one start under one condition on TensorFlow."""
        return self.start_step if self.multiplier > 0 else None

    def __repr__(self) -> str:
        parts = [f"{self.multiplier:g}", f"start_step={self.start_step}"]
        if self.warmup_steps:
            parts.append(f"warmup_steps={self.warmup_steps}")
        if self.initial_fraction:
            parts.append(f"initial_fraction={self.initial_fraction:g}")
        return f"Thaw({', '.join(parts)})"

    def get_config(self) -> dict[str, Any]:
        return {
            "multiplier": self.multiplier,
            "start_step": self.start_step,
            "warmup_steps": self.warmup_steps,
            "initial_fraction": self.initial_fraction,
            "name": self.name,
        }
