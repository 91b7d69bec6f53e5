"""`LRSweep`: the range test's learning rate as a schedule of the step.

`LRFinder` installs it on the optimizer for the duration of the test, so the
k-th optimizer step trains at the k-th rate of
`sweep_learning_rates(start, end, num_steps, mode)` inside the compiled train
step on every backend.
"""

import math

import keras
from keras import ops

from keras_lrx._validation import check_count
from keras_lrx._validation import check_type
from keras_lrx.suggestions import check_sweep

__all__ = ["LRSweep"]


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
        ) = check_sweep(start_learning_rate, end_learning_rate, num_steps, mode)
        self.initial_step = check_count("initial_step", initial_step, 0)
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
