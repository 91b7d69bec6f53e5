"""The one place where LRX's per-variable rate enters the wrapped optimizer.

LRX runs Keras's own training-step pipeline (`BaseOptimizer.apply`: unscale,
accumulate, clip, decay, update, EMA, count the step) with the wrapped
optimizer's settings, and Keras calls `LRX.update_step(gradient, variable,
learning_rate)` once per variable -- on TensorFlow inside
`distribution.extended.update`, on the replica that owns the variable. That
call lands here: the wrapped optimizer's own documented per-variable
`update_step` runs at `learning_rate * m`, preceded by Keras's stock decoupled
weight decay of that variable at the same rate. Nothing here reads LRX: the
caller hands over the base rate and the multiplier.

`Update` is chosen once, when LRX is built:

* its `step` is the per-variable update above (every backend);
* `before_variables(learning_rate)` runs the wrapped optimizer's per-step work
  once per step (Nadam advances its `u_product` there), see
  `_keras_compat.run_per_step_update`;
* on the torch backend, for Keras's stock optimizers configured with options
  `keras_lrx._engine.torch_fused` knows, `fused` is set: one pass updates every
  variable at its own rate (`all_variables`), decay included.

An optimizer with a decay rule of its own (Muon) decays by that rule, at its
own learning rate, where Keras would call it (`own_weight_decay`).
"""

import keras
from keras import ops

from keras_lrx import _keras_compat as compat


class Update:
    """The wrapped optimizer's update at `base * m`, per variable or fused.

    Args:
        optimizer: The wrapped (built) optimizer.
        weight_decay_follows_multiplier: Whether a variable decays at
            `base * m` (True) or at `base` (False).
        decays: Dict `compat.variable_key(optimizer, variable) -> d`, the
            variables whose weight decay is `d` times the optimizer's
            (`LRX(weight_decay_multipliers=)`); every other variable's
            factor is 1.
    """

    def __init__(self, optimizer, weight_decay_follows_multiplier, decays):
        self.optimizer = optimizer
        self.follows = weight_decay_follows_multiplier
        self.decays = decays
        self.own_weight_decay = compat.overrides_weight_decay(optimizer)
        self.stock_weight_decay = (
            optimizer.weight_decay is not None and not self.own_weight_decay
        )
        self.fused = None
        self.fused_decay = None
        self._decay_plans = {}
        if keras.backend.backend() == "torch":
            from keras_lrx._engine import torch_fused

            self.fused = torch_fused.update_rule(optimizer)
            if self.fused is not None and self.stock_weight_decay:
                self.fused_decay = torch_fused.weight_decay_rule(optimizer)

    # ------------------------------------------------------------------ #
    # Per variable (TensorFlow, JAX, torch with any other optimizer).
    # ------------------------------------------------------------------ #
    def before_variables(self, learning_rate):
        """The wrapped optimizer's once-per-step work (e.g. Nadam's)."""
        compat.run_per_step_update(self.optimizer, learning_rate)

    def step(self, gradient, variable, learning_rate, multiplier):
        """Decay (stock rule) and update `variable` at `rate * multiplier`."""
        # `multiplier`: a float, or this step's value of a schedule (a
        # float32 tensor on TensorFlow and JAX, a float on torch).
        rate = (
            learning_rate
            if isinstance(multiplier, float) and multiplier == 1.0
            else ops.multiply(learning_rate, multiplier)
        )
        if self.stock_weight_decay and self.decays_variable(variable):
            decay_rate = rate if self.follows else learning_rate
            factor = self.decay_factor(variable)
            weight_decay = self.optimizer.weight_decay
            compat.stock_weight_decay(
                self.optimizer,
                variable,
                weight_decay if factor == 1.0 else weight_decay * factor,
                decay_rate,
            )
        self.optimizer.update_step(gradient, variable, rate)

    def decay_factor(self, variable):
        """`variable`'s factor from `weight_decay_multipliers` (1 if none)."""
        if not self.decays:
            return 1.0
        key = compat.variable_key(self.optimizer, variable)
        return self.decays.get(key, 1.0)

    def decays_variable(self, variable):
        """Whether `variable` decays at all: not excluded by the optimizer
        (`exclude_from_weight_decay`) nor by a decay factor of 0."""
        return self.decay_factor(variable) > 0.0 and compat.uses_weight_decay(
            self.optimizer, variable
        )

    def own_decay(self, variables):
        """The wrapped optimizer's own decay rule (Muon), as Keras calls it,
        on the variables whose decay factor is not 0 (it is 0 or 1 there)."""
        if self.own_weight_decay:
            variables = [v for v in variables if self.decay_factor(v) > 0.0]
            if variables:
                compat.apply_own_weight_decay(self.optimizer, variables)

    # ------------------------------------------------------------------ #
    # One pass (torch, Keras's stock optimizers).
    # ------------------------------------------------------------------ #
    def all_variables(self, grads, variables, learning_rate, multipliers):
        """Decays and updates every variable at `learning_rate * m`.

        `multipliers` is one float per variable, the same list object for
        the same variables and values on every step (the passes are planned
        per list).
        """
        if self.fused_decay is not None and variables:
            plan = self._decay_plans.get(id(multipliers))
            if plan is None:
                if len(self._decay_plans) >= 16:  # per-step multipliers
                    self._decay_plans.clear()
                decayed = [
                    p
                    for p, v in enumerate(variables)
                    if self.decays_variable(v)
                ]
                plan = (
                    multipliers,  # keeps the id taken
                    decayed,
                    [
                        (multipliers[p] if self.follows else 1.0)
                        * self.decay_factor(variables[p])
                        for p in decayed
                    ],
                )
                self._decay_plans[id(multipliers)] = plan
            _, decayed, decay_multipliers = plan
            if decayed:
                self.fused_decay(
                    [variables[p] for p in decayed],
                    learning_rate,
                    decay_multipliers,
                )
        self.fused(grads, variables, learning_rate, multipliers)
