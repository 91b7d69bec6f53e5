"""What every schedule shares: checks, dtype, child schedules, formulas.

Formulas are written as arithmetic on tensors (`0.5 * (1 + ops.cos(x))`):
Python floats combine with a tensor in the tensor's dtype on every backend.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from keras_lrx._validation import check_float
from keras_lrx._validation import check_int
from keras_lrx._validation import check_type
from keras_lrx._validation import is_number

LearningRateSchedule = keras.optimizers.schedules.LearningRateSchedule

register = keras.saving.register_keras_serializable(package="keras_lrx")


def check_steps(name, value, positive):
    """Returns a step count as a Python int (> 0 if `positive`, else >= 0)."""
    number = check_int(name, value, low=None if positive else 0)
    if positive and number <= 0:
        raise ValueError(
            f"Argument `{name}` must be > 0. Received: {name}={value!r}"
        )
    return number


AUTO = "auto"


def check_total_steps(value):
    """`total_steps`: an int > 0, or "auto" (filled in when training
    starts by `keras_lrx.callbacks.TotalStepsFromFit`)."""
    if isinstance(value, str):
        if value != AUTO:
            raise TypeError(
                'Argument `total_steps` must be an int > 0 or "auto". '
                f"Received: total_steps={value!r}"
            )
        return AUTO
    return check_steps("total_steps", value, True)


class TotalStepsFromTraining:
    """Mixin of the schedules whose `total_steps` may be "auto".

    A subclass keeps `self.total_steps` ("auto" or an int) and overrides
    `_on_total_steps()`, which derives what depends on it (called at
    construction with an int, or when `set_total_steps` fills "auto" in).
    """

    def _on_total_steps(self):
        pass

    def set_total_steps(self, total_steps: int) -> bool:
        """Fills in `total_steps="auto"`; returns whether it was "auto".

        `keras_lrx.callbacks.TotalStepsFromFit` calls it when training
        starts, with the number of optimizer steps `fit` will take. A
        schedule given a number keeps it (returns False). The number then
        is part of `get_config()`, so a saved model resumes on the same
        schedule.

        Args:
            total_steps: Int > 0.
        """
        if self.total_steps != AUTO:
            return False
        total_steps = check_steps("total_steps", total_steps, True)
        self.total_steps = total_steps
        try:
            self._on_total_steps()
        except Exception:
            self.total_steps = AUTO  # nothing half-applied
            raise
        return True

    def _check_total_steps_known(self):
        if self.total_steps == AUTO:
            raise ValueError(
                f'`{self.name}` has total_steps="auto", which is filled in '
                "when training starts: add "
                "`keras_lrx.callbacks.TotalStepsFromFit()` to `fit`'s "
                "callbacks (or call `set_total_steps(n)`), or give the "
                "number of steps."
            )


def check_name(name, default):
    """Returns the `name` argument of a schedule, or `default` for None."""
    if name is None:
        return default
    return check_type("name", name, str, "a string or None") or default


def check_warmup_within_total(warmup_steps, total_steps):
    if warmup_steps > total_steps:
        raise ValueError(
            "Argument `warmup_steps` must be <= `total_steps`. "
            f"Received: warmup_steps={warmup_steps}, total_steps={total_steps}"
        )


def compute_dtype():
    """The float dtype schedules compute in: floatx, float32 below it."""
    floatx = keras.config.floatx()
    return floatx if floatx in ("float32", "float64") else "float32"


def float_step(step, dtype):
    return ops.cast(ops.convert_to_tensor(step), dtype)


def progress(elapsed, length):
    """`clip(elapsed / max(1, length), 0, 1)`: how far through a phase."""
    return ops.clip(elapsed / float(max(1, length)), 0.0, 1.0)


def half_cosine(t, cycles=0.5):
    """`0.5 * (1 + cos(2 * pi * cycles * t))`.

    With the default `cycles=0.5`, a half cosine from 1 at `t = 0` down to 0
    at `t = 1`. `2 * pi * cycles` is formed in float64 before it meets `t`.
    """
    return 0.5 * (1.0 + ops.cos((2.0 * math.pi * cycles) * t))


def evaluate_child(child, step, dtype):
    """Evaluates a child schedule (or a constant) at `step` as `dtype`."""
    if isinstance(child, LearningRateSchedule):
        return ops.cast(child(step), dtype)
    return ops.cast(ops.full_like(step, child, dtype=dtype), dtype)


def check_child(name, child):
    """A schedule, or a constant learning rate (a finite number >= 0)."""
    if isinstance(child, LearningRateSchedule):
        return child
    if is_number(child):
        return check_float(name, child, 0.0)
    raise TypeError(
        f"Argument `{name}` must be a "
        "`keras.optimizers.schedules.LearningRateSchedule` or a number. "
        f"Received: {name}={child!r} (of type {type(child).__name__})"
    )


def serialize_child(child):
    if isinstance(child, LearningRateSchedule):
        return keras.saving.serialize_keras_object(child)
    return child


def deserialize_child(config):
    if isinstance(config, dict):
        return keras.saving.deserialize_keras_object(config)
    return config
