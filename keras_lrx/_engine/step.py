"""The values of one step: its step number and its multipliers, once.

A time-varying multiplier (`Thaw`, a per-group warmup, a product) is
evaluated once per step for all the variables it applies to. `StepValues`
holds one step's values: on torch, whose steps are eager, every value as a
float when the step starts; on TensorFlow and JAX, all schedules (the thaws
as one vector) where the step's trace first needs one, and the tensors are
reused. The pipeline makes one for the update when Keras's update step
starts (on TensorFlow in cross-replica context, outside any `tf.cond`
branch); a reader outside the pipeline (`current_multipliers()`, the
gradient and decay filters that run before the update) makes its own.

The step a multiplier is evaluated at is the optimizer's raw step counter,
or the step `LRX.hold_multipliers()` holds it at.
"""

from __future__ import annotations

from keras import ops

from keras_lrx import _keras_compat as compat
from keras_lrx import multipliers as _multipliers


def multiplier_step(optimizer):
    """The step `optimizer`'s (an LRX's) multipliers are evaluated at: the
    held step inside `hold_multipliers()`, else the raw step counter."""
    held = optimizer._held_step
    return held if held is not None else compat.raw_iterations(optimizer)


def floats_at(schedules, step):
    """`{id: float}`: each time-varying multiplier at the int `step`."""
    return {
        key: _multipliers.multiplier_float(m, step)
        for key, m in schedules.items()
    }


class StepValues:
    """One step's values of the time-varying multipliers of a plan.

    Args:
        plan: The `Plan` whose `schedules` are evaluated.
        step: The step (an int or the step counter's tensor).
        eager: Whether to read every value as a float now (torch).
    """

    def __init__(self, plan, step, eager=False):
        self.plan = plan
        self.step = step
        self._values = None
        if eager and plan.schedules:
            self._values = floats_at(
                plan.schedules, int(ops.convert_to_numpy(step))
            )
        #: TensorFlow and JAX: inside the condition of one group's variables
        #: (their update needs no condition of its own).
        self.conditioned = False

    def of(self, multiplier):
        """`multiplier`'s value this step (a float for a constant; for a
        schedule a float on torch, else a float32 tensor)."""
        if _multipliers.is_constant(multiplier):
            return multiplier
        if self._values is None:  # the step's first: all of them at once
            self._values = _multipliers.values_at(
                self.plan.schedules.values(), self.step
            )
        return self._values[id(multiplier)]

    def floats(self, multipliers):
        """Eager: the values of `multipliers` as a tuple of floats."""
        return tuple(self.of(m) for m in multipliers)

    def training(self, multiplier):
        """Whether a variable with `multiplier` trains this step (a bool
        tensor for a schedule on TensorFlow and JAX)."""
        value = self.of(multiplier)
        if isinstance(value, float):
            return value > 0.0
        return ops.greater(value, 0.0)
