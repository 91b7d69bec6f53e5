"""`_StateCache`: a byte-exact copy of a model's training state.

The range test trains the model for real and must leave it as it found it;
this module copies every variable before the sweep and puts it back after.
`copy_initializer` makes a new variable start as a copy of another (an EMA
stand-in, a learned scale's reference, Prodigy's `p0`).
"""

import numpy as np
from keras import ops


def copy_initializer(variable):
    """An initializer that returns a copy of `variable`'s current value.

    For optimizer variables made in `build`: initialised, not assigned
    (`fit` may build inside a StatelessScope, which drops assignments), and
    a copy (on JAX one buffer in two variables would be donated twice by the
    train step).
    """

    def initializer(shape, dtype=None):
        value = ops.copy(ops.convert_to_tensor(variable))
        return ops.cast(value, dtype or variable.dtype)

    return initializer


def _unique(variables):
    seen, out = set(), []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


class _StateCache:
    """Copies of every variable of a model, its optimizer and its metrics.

    Covers `model.variables` (weights, BatchNorm statistics, seed-generator
    states), `model.optimizer.variables` (iterations, the learning-rate
    variable, slots, LRX's scale, loss-scale state, EMA and accumulators) and
    `model.metrics_variables`. The copies are NumPy arrays owned by the cache
    (never views of backend buffers, which torch updates in place and JAX
    donates), so `restore` puts back byte-identical values.
    """

    def __init__(self, model):
        self._model = model
        optimizer_variables = (
            list(model.optimizer.variables) if model.optimizer else []
        )
        self._variables = _unique(
            list(model.variables)
            + optimizer_variables
            + list(model.metrics_variables)
        )
        self._values = [
            np.array(ops.convert_to_numpy(v.value), copy=True)
            for v in self._variables
        ]

    def restore(self):
        # Metrics built after the copy (TensorFlow builds them in the first
        # step) go back to their initial state; the others to their copy.
        self._model.reset_metrics()
        for variable, value in zip(self._variables, self._values):
            variable.assign(value)
