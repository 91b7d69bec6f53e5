"""The learned scale in the step: `LRX(scale=Mechanic())`.

Built with the LRX (`LearnedScale(estimator, lrx, variables)`): the
estimator's state vectors and one reference copy `x_0` per variable that
trains (none for a variable frozen for good), all LRX variables. Each step,
the pipeline hands `apply` the step's update as a function: the weights are
read, LRX's update runs at the nominal rate (the wrapped optimizer at
`schedule(t) * multiplier(v)`), and the estimator turns the step's inner
product into the new scale `s`; the weights become `x_0 + s * (offset +
update)` (see `keras_lrx.learned_scale.Mechanic`). A variable that does not
train at this step (a `Thaw` at 0) takes no part in the norms or the inner
product and keeps its value.
"""

from __future__ import annotations

import contextlib

import keras
from keras import ops

from keras_lrx import _keras_compat as compat
from keras_lrx._state_cache import copy_initializer


class LearnedScale:
    """The estimator's state on an LRX and its part of each step.

    Args:
        estimator: The `Mechanic` (configuration and rule).
        lrx: The LRX being built (owns the state variables).
        variables: The variables that may train (not frozen for good).
    """

    def __init__(self, estimator, lrx, variables):
        self.estimator = estimator
        self.state = {
            name: lrx.add_variable(
                shape=(estimator.num_betas,),
                initializer=keras.initializers.Constant(value),
                dtype="float32",
                aggregation="only_first_replica",
                name=f"mechanic_{name}",
            )
            for name, value in estimator.initial_state().items()
        }
        # Initialised, not assigned (`fit` may build in a StatelessScope);
        # reset to the weights of the first step in `apply`.
        self.references = {
            id(v): lrx.add_variable_from_reference(
                v, name="mechanic_reference", initializer=copy_initializer(v)
            )
            for v in variables
        }
        #: Set by `LRX.override_learning_rate`: the rate is given, the
        #: estimator holds (no scale applied, no state moved).
        self.held = False

    @property
    def variables(self):
        """The state vectors (`s`, `m`, `v`, `r`)."""
        return list(self.state.values())

    def applied(self, rate):
        """`rate` (the nominal rate) times the scale, unless held."""
        return rate if self.held else ops.multiply(rate, self.total())

    @contextlib.contextmanager
    def holding(self):
        """Within: no scale applied, no state moved (the rate given is the
        rate applied: `LRX.override_learning_rate`)."""
        held, self.held = self.held, True
        try:
            yield
        finally:
            self.held = held

    def total(self, state=None):
        """The scale applied, `sum(s)` (a float32 scalar tensor)."""
        s = self.state["s"] if state is None else state["s"]
        return ops.sum(ops.convert_to_tensor(s))

    def apply(self, grads, variables, active, first_step, update):
        """Runs `update()` (LRX's update at the nominal rate), then scales.

        Args:
            grads: The step's gradients (after unscaling and clipping).
            variables: The variables `update` updates, one per gradient.
            active: One entry per variable: None (trains), or whether it
                trains at this step (a bool, or a bool tensor).
            first_step: Whether this is the optimizer's first step (the
                references are taken from it): a bool tensor, or a bool
                where the step is eager (torch).
            update: Callable with no arguments, LRX's update.
        """
        estimator = self.estimator
        eps = estimator.eps
        before = [ops.copy(ops.convert_to_tensor(v)) for v in variables]
        update()
        state = {k: ops.convert_to_tensor(v) for k, v in self.state.items()}
        total = ops.sum(state["s"])
        references = []
        for variable, x in zip(variables, before):
            reference = self.references[id(variable)]
            if isinstance(first_step, bool):  # eager (torch): known now
                x0 = x if first_step else ops.convert_to_tensor(reference)
                if first_step:
                    reference.assign(x0)
            else:
                x0 = ops.where(first_step, x, ops.convert_to_tensor(reference))
                reference.assign(x0)
            references.append(x0)
        weights = [
            None if a is None else ops.cast(a, "float32") for a in active
        ]
        dense = [ops.cast(_dense(g), "float32") for g in grads]
        xs = [ops.cast(x, "float32") for x in before]
        grad_sq = _weighted_sum([ops.sum(g * g) for g in dense], weights)
        param_sq = _weighted_sum([ops.sum(x * x) for x in xs], weights)
        decay = (
            estimator.weight_decay
            * total
            * ops.sqrt(grad_sq)
            / (ops.sqrt(param_sq) + eps)
        )
        offsets = [
            (ops.cast(x0, "float32") - x) / (total + eps)
            for x0, x in zip(references, xs)
        ]
        h = _weighted_sum(
            [
                ops.sum((g + decay * x) * offset)
                for g, x, offset in zip(dense, xs, offsets)
            ],
            weights,
        )
        new = estimator.update(state, h)
        new_total = ops.sum(new["s"])
        for variable, x, x0, offset, a in zip(
            variables, xs, references, offsets, active
        ):
            step = ops.cast(ops.convert_to_tensor(variable), "float32") - x
            value = ops.cast(x0, "float32") - new_total * (offset - step)
            value = ops.cast(value, variable.dtype)
            if a is None or a is True:
                variable.assign(value)
            elif a is not False:
                variable.assign(
                    ops.where(a, value, ops.convert_to_tensor(variable))
                )
        for name, value in new.items():
            self.state[name].assign(value)


def _dense(gradient):
    """A gradient as a dense tensor (TensorFlow's IndexedSlices too)."""
    return compat.dense_gradient(gradient)


def _weighted_sum(values, weights):
    total = None
    for value, weight in zip(values, weights):
        term = value if weight is None else value * weight
        total = term if total is None else total + term
    return total
