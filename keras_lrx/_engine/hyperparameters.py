"""Scheduled hyperparameters of the wrapped optimizer (momentum, betas).

`LRX(hyperparameters={"beta_1": schedule})` gives some of the wrapped
optimizer's numbers a schedule of the step. `Hyperparameters` holds them, as
optax's `inject_hyperparams` holds its values: checked once at construction
(`check`), then one evaluator (`values_at`) that the step, `hyperparameters_at`
and `LearningRateMetric` all read.

Keras's optimizers read these numbers as attributes of themselves inside
their `update_step`, so during one step the attribute *is* the step's value
(`during_step`), and the number the optimizer was configured with is put back
afterwards. Keras leaves no other way to hand a per-step value to a stock
update; the swap is confined to that block.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Mapping

import keras
from keras import ops
from keras.optimizers.schedules import LearningRateSchedule

from keras_lrx import _keras_compat as compat

#: The wrapped optimizers whose update reads `beta_1`/`beta_2` only through
#: `keras.ops` (never in a Python branch), so a tensor may stand in for the
#: number during a compiled step. (SGD and RMSprop branch on `momentum` in
#: Python; see `branched_hyperparameters`.)
BETAS_READ_BY_OPS = ("Adam", "AdamW", "Adamax", "Nadam", "Lion")


def branched_hyperparameters(optimizer):
    """The hyperparameters `optimizer`'s update tests in a Python branch:
    `momentum` of Keras's SGD (`if self.momentum != 0:`) and RMSprop
    (`> 0`). Inside a compiled step a scheduled value stands in for them
    through `BranchSafeValue`."""
    kinds = (keras.optimizers.SGD, keras.optimizers.RMSprop)
    return ("momentum",) if isinstance(optimizer, kinds) else ()


class BranchSafeValue:
    """A scheduled hyperparameter inside a compiled step.

    Keras's SGD and RMSprop decide in Python whether momentum is on
    (`self.momentum != 0`) and then read the number through `keras.ops`. A
    traced tensor cannot answer the Python comparison, so this object
    compares as the number the optimizer was built with (which decided its
    slots) and converts to the step's tensor wherever an op reads it, through
    the public conversion protocols of TensorFlow (`__tf_tensor__`) and JAX
    (`__jax_array__`). Torch steps are eager and get a plain float instead.
    """

    __hash__ = None
    dtype = "float32"

    def __init__(self, tensor, number):
        self._tensor = tensor
        self._number = number

    def __eq__(self, other):
        return self._number == other

    def __ne__(self, other):
        return self._number != other

    def __lt__(self, other):
        return self._number < other

    def __le__(self, other):
        return self._number <= other

    def __gt__(self, other):
        return self._number > other

    def __ge__(self, other):
        return self._number >= other

    def __tf_tensor__(self, dtype=None, name=None):
        import tensorflow as tf

        return tf.convert_to_tensor(self._tensor, dtype=dtype, name=name)

    def __jax_array__(self):
        return self._tensor

    def __repr__(self):
        return f"<scheduled value, built with {self._number!r}>"


def check(hyperparameters, optimizer):
    """`hyperparameters` as a dict name -> schedule, checked against the
    wrapped optimizer (the `LRX(hyperparameters=)` argument)."""
    if hyperparameters is None:
        return {}
    if not isinstance(hyperparameters, Mapping):
        raise TypeError(
            "Argument `hyperparameters` must be None or a dict mapping names "
            "of the wrapped optimizer's hyperparameters to schedules of the "
            f"step. Received: hyperparameters={hyperparameters!r}"
        )
    checked = {}
    for name, schedule in hyperparameters.items():
        if not _schedulable(name, optimizer):
            raise ValueError(
                "Argument `hyperparameters`: LRX can schedule `beta_1` and "
                f"`beta_2` of {', '.join(BETAS_READ_BY_OPS)}, `momentum` "
                "of SGD and RMSprop, and `weight_decay` of an optimizer "
                "with Keras's stock decay (each set to a number on the "
                "wrapped optimizer). Others are Python numbers inside the "
                "wrapped optimizer's update, which a compiled step cannot "
                f"change. Received: {name!r} for {type(optimizer).__name__}"
            )
        if isinstance(schedule, bool) or not (
            isinstance(schedule, LearningRateSchedule) or callable(schedule)
        ):
            raise TypeError(
                "Argument `hyperparameters` takes a schedule of the step per "
                "name (a `LearningRateSchedule` or a callable); set a fixed "
                "number on the wrapped optimizer. Received: "
                f"{name}={schedule!r} (of type {type(schedule).__name__})"
            )
        checked[name] = schedule
    return checked


def _schedulable(name, optimizer):
    """Whether the wrapped optimizer's `name` can follow a schedule."""
    if name in ("beta_1", "beta_2"):
        reads_by_ops = any(
            isinstance(optimizer, getattr(keras.optimizers, kind))
            for kind in BETAS_READ_BY_OPS
        )
        return reads_by_ops and isinstance(
            getattr(optimizer, name, None), numbers.Real
        )
    if name in branched_hyperparameters(optimizer):
        number = getattr(optimizer, name, None)
        if isinstance(number, numbers.Real) and number <= 0:
            raise ValueError(
                f"Argument `hyperparameters`: {name!r} can follow a "
                f"schedule when the wrapped {type(optimizer).__name__} "
                f"is built with {name} > 0 (its momentum slots exist "
                "only then; the schedule may still reach 0). Received: "
                f"{name}={number!r} on the wrapped optimizer"
            )
        return isinstance(number, numbers.Real)
    if name == "weight_decay":
        return isinstance(
            optimizer.weight_decay, numbers.Real
        ) and not compat.overrides_weight_decay(optimizer)
    return False


class Hyperparameters:
    """The wrapped optimizer's scheduled hyperparameters: one evaluator.

    Args:
        schedules: Dict name -> schedule of the step, from `check`.
        optimizer: The wrapped optimizer; its configured numbers are kept
            (they are put back after each step).
    """

    def __init__(self, schedules, optimizer):
        self.schedules = dict(schedules)
        self.optimizer = optimizer
        self.numbers = {name: getattr(optimizer, name) for name in schedules}
        self._branched = branched_hyperparameters(optimizer)

    def __bool__(self):
        return bool(self.schedules)

    def values_at(self, step):
        """Dict name -> float32 tensor, each schedule's value at `step`."""
        return {
            name: ops.cast(schedule(step), "float32")
            for name, schedule in self.schedules.items()
        }

    def floats_at(self, step):
        """Dict name -> each schedule's value at the int `step`, as a float
        (a schedule's float64 or Python value is not rounded to float32)."""
        return {
            name: float(ops.convert_to_numpy(schedule(step)))
            for name, schedule in self.schedules.items()
        }

    @contextlib.contextmanager
    def during_step(self, step):
        """Inside, each scheduled name of the wrapped optimizer reads its
        value at `step` (a float on torch, whose steps are eager; a float32
        tensor in a compiled step, `BranchSafeValue` where the update
        branches on it in Python); the configured numbers are put back."""
        if not self.schedules:
            yield
            return
        eager = keras.backend.backend() == "torch"
        try:
            values = self.floats_at(step) if eager else self.values_at(step)
            for name, value in values.items():
                if not eager and name in self._branched:
                    value = BranchSafeValue(value, self.numbers[name])
                compat.set_untracked_attribute(self.optimizer, name, value)
            yield
        finally:
            # The numbers kept at construction, not the values found on
            # entry: under `MirroredStrategy` the replicas run this in
            # threads, and one may enter while another's value is set.
            for name, value in self.numbers.items():
                compat.set_untracked_attribute(self.optimizer, name, value)
