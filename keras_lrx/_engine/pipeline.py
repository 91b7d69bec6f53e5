"""Keras's optimizer pipeline, overridden in the order Keras calls it.

LRX runs Keras's own training-step pipeline (`BaseOptimizer.apply` and
`_backend_apply_gradients`) with the wrapped optimizer's settings:

    apply(grads, variables)            [here: frozen variables leave first]
      filter empty grads -> unscale (loss_scale_factor) -> [accumulate]
      -> clip
      -> _apply_weight_decay(vars)     [here: only an own rule, e.g. Muon's]
      -> _backend_update_step(grads, vars, lr)
                                       [here: the step's values; torch: one
                                        pass; JAX: one condition per group]
         TensorFlow: -> _distributed_tf_update_step
                                       [here: one condition per group]
         -> update_step(grad, var, lr) [here: `Update.step` at lr * m]
      -> _update_model_variables_moving_average
                                       [here: past frozen variables]
      -> iterations += 1
    stateless_apply (JAX's `fit`)      [here: the metric hook, then Keras]

`Pipeline` is a mixin listed before `keras.optimizers.Optimizer` in `LRX`'s
bases. It overrides Keras's private pipeline methods named above; that and
`_keras_compat.py` are the two places where keras-lrx names Keras internals.

It reads these attributes of the LRX (set by its constructor and `build`):

    optimizer           the wrapped optimizer
    _plan               `plan.Plan`, after build (groups, frozen set)
    _update             `update.Update`, after build (lr * m into the
                        wrapped optimizer's `update_step`)
    _hyperparameters    `hyperparameters.Hyperparameters`
    _held_step          the step `hold_multipliers()` holds, or None
    _step               `step.StepValues` of the update being applied, or
                        None outside it (written here only)
    _state_recorders    the JAX metric hook's recorders
    _statistics         `statistics.Statistics` where `GroupStatistics`
                        asked for them, else None
    _learned_scale      `learned_scale.LearnedScale` with `LRX(scale=...)`,
                        after build, else None
    _scaled_learning_rate()
                        the nominal base rate, `schedule(t) * scale`
    use_ema, global_clipnorm, gradient_accumulation_steps, built, name
                        (Keras's own pipeline options)
"""

from __future__ import annotations

import keras
from keras import backend
from keras import ops

from keras_lrx import _keras_compat as compat
from keras_lrx._engine import step as _step
from keras_lrx._state_cache import copy_initializer
from keras_lrx.multipliers import is_constant


def pipeline_options(optimizer):
    """The wrapped optimizer's settings of Keras's step pipeline (LRX runs
    the pipeline with them)."""
    return {
        "clipnorm": optimizer.clipnorm,
        "clipvalue": optimizer.clipvalue,
        "global_clipnorm": optimizer.global_clipnorm,
        "use_ema": optimizer.use_ema,
        "ema_momentum": optimizer.ema_momentum,
        "ema_overwrite_frequency": optimizer.ema_overwrite_frequency,
        "loss_scale_factor": optimizer.loss_scale_factor,
        "gradient_accumulation_steps": optimizer.gradient_accumulation_steps,
    }


class Pipeline:
    """The steps of Keras's pipeline that LRX takes over (see the module)."""

    # ------------------------------------------------------------------ #
    # 0. The base rate Keras reads for the step (and `learning_rate`).
    # ------------------------------------------------------------------ #
    def _get_current_learning_rate(self):
        return self._scaled_learning_rate()

    # ------------------------------------------------------------------ #
    # 1. apply: frozen variables leave; Keras's pipeline on the others.
    # ------------------------------------------------------------------ #
    def apply(self, grads, trainable_variables=None):
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer "
                    "must already be built on a list of variables. Call "
                    "`optimizer.build(trainable_variables)` first."
                )
            trainable_variables = compat.built_variables(self)
        else:
            trainable_variables = list(trainable_variables)
            if not self.built:
                with keras.name_scope(self.name, caller=self):
                    self.build(trainable_variables)
            compat.check_variables_are_known(self, trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError(
                f"Received {len(grads)} gradients for "
                f"{len(trainable_variables)} variables."
            )
        statistics = self._statistics
        if statistics is None:
            self._apply_training(grads, trainable_variables)
            return
        # `GroupStatistics` asked: the weights around the whole step.
        due = statistics.due(self)
        before = statistics.before(trainable_variables, due)
        self._apply_training(grads, trainable_variables)
        statistics.record(self, due, grads, trainable_variables, before)

    def _apply_training(self, grads, trainable_variables):
        """Keras's pipeline on the variables that train this step."""
        plan = self._plan
        if (
            plan.schedules
            and backend.backend() == "torch"
            and any(g is None for g in grads)
        ):
            # torch, under `SkipFrozenGradients`: a variable frozen for now
            # got no gradient (`requires_grad` off). Any other missing
            # gradient goes on to Keras, which warns about it (on
            # TensorFlow and JAX a compiled step cannot read the step here).
            grads, trainable_variables = self._past_frozen_for_now(
                grads, trainable_variables
            )
            if not grads:
                compat.raw_iterations(self).assign_add(1)
                return
        training = plan.training_positions(trainable_variables)
        if len(training) < len(trainable_variables):
            grads = [grads[p] for p in training]
            trainable_variables = [trainable_variables[p] for p in training]
        if not training:
            compat.raw_iterations(self).assign_add(1)
            return
        if plan.schedules and (
            self.global_clipnorm or self.gradient_accumulation_steps
        ):
            grads = self._without_frozen_gradients(grads, trainable_variables)
        # Keras's own pipeline, on the variables that train.
        with self._hyperparameters.during_step(compat.raw_iterations(self)):
            super().apply(grads, trainable_variables)

    def _past_frozen_for_now(self, grads, variables):
        """`(grads, variables)` without the pairs of a missing gradient of
        a variable whose multiplier is 0 at this step (eager steps only)."""
        now = _step.StepValues(self._plan, _step.multiplier_step(self), True)
        kept = [
            p
            for p, (g, v) in enumerate(zip(grads, variables))
            if g is not None or now.training(self._plan.multiplier_of(v))
        ]
        return [grads[p] for p in kept], [variables[p] for p in kept]

    def _without_frozen_gradients(self, grads, variables):
        """Zeroes the gradients of variables whose multiplier is 0 now.

        A variable frozen for now has no gradient, as in PyTorch: it counts
        in no global gradient norm and accumulates nothing.
        """
        now = _step.StepValues(self._plan, _step.multiplier_step(self))
        training = {}
        grads = list(grads)
        for p, variable in enumerate(variables):
            multiplier = self._plan.multiplier_of(variable)
            if is_constant(multiplier) or grads[p] is None:
                continue
            if id(multiplier) not in training:
                training[id(multiplier)] = now.training(multiplier)
            grads[p] = ops.where(
                training[id(multiplier)], grads[p], ops.zeros_like(grads[p])
            )
        return grads

    # ------------------------------------------------------------------ #
    # JAX: `fit`'s train step hands the state to `stateless_apply` only.
    # ------------------------------------------------------------------ #
    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        recorders = list(self._state_recorders)
        if not recorders:
            return super().stateless_apply(
                optimizer_variables, grads, trainable_variables
            )
        inputs = [
            v.value if isinstance(v, keras.Variable) else v
            for v in optimizer_variables
        ]
        # Called by the train step itself, the new state is the step's
        # output; called inside another optimizer's step (the loss-scale
        # optimizer's, under a condition), its values stay in there.
        top_level = compat.stateless_scope() is None
        trainable, optimizer = super().stateless_apply(
            optimizer_variables, grads, trainable_variables
        )
        for recorder in recorders:
            recorder._record(inputs, optimizer if top_level else None)
        return trainable, optimizer

    def _add_state_recorder(self, recorder):
        """JAX: `recorder._record(inputs, outputs)` gets each step's input
        state and, where it may be read after the step, its output state
        (else None).

        `keras_lrx.metrics.LearningRateMetric` computes the step's rate
        from the inputs; `keras_lrx.GroupStatistics` reads the outputs.
        """
        self._state_recorders.add(recorder)

    # ------------------------------------------------------------------ #
    # 2. Weight decay: Keras's stock rule runs per variable in the update
    # (at lr * m); a rule of the wrapped optimizer's own (Muon's) here.
    # ------------------------------------------------------------------ #
    def _apply_weight_decay(self, variables):
        update = self._update
        if not update.own_weight_decay:
            return
        if not self._plan.schedules:
            update.own_decay(variables)
            return
        # Keras decays before the update step starts the step's values: a
        # variable whose multiplier changes over time decays while it is >
        # 0 now, evaluated here.
        now = _step.StepValues(self._plan, _step.multiplier_step(self))
        constant = []
        for variable in variables:
            multiplier = self._plan.multiplier_of(variable)
            if not is_constant(multiplier):
                compat.run_where(
                    now.training(multiplier),
                    lambda v=variable: update.own_decay([v]),
                    [variable],
                )
            else:
                constant.append(variable)
        if constant:
            update.own_decay(constant)

    # ------------------------------------------------------------------ #
    # 3. The update step: the step's values, then one pass (torch, stock
    # optimizers) or Keras's loop over `update_step`.
    # ------------------------------------------------------------------ #
    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        plan = self._plan
        if not plan.schedules:
            self._scaled_update(grads, trainable_variables, learning_rate)
            return
        # A new step: its values (lazily on TensorFlow and JAX, where the
        # first to need one is outside any condition: cross-replica on
        # TensorFlow), for the update only.
        eager = backend.backend() == "torch"
        now = _step.StepValues(plan, _step.multiplier_step(self), eager)
        compat.set_untracked_attribute(self, "_step", now)
        try:
            self._scaled_update(grads, trainable_variables, learning_rate)
        finally:
            compat.set_untracked_attribute(self, "_step", None)

    def _scaled_update(self, grads, trainable_variables, learning_rate):
        """The update; with a learned scale, at the nominal rate and then
        scaled (`keras_lrx._engine.learned_scale`)."""
        learned = self._learned_scale
        if learned is None or learned.held:
            self._update_variables(grads, trainable_variables, learning_rate)
            return
        # Keras hands over `learning_rate` (the rate applied, with the
        # scale); the wrapped optimizer updates at the nominal rate.
        nominal = self._scaled_learning_rate()
        active = []
        for variable in trainable_variables:
            multiplier = self._plan.multiplier_of(variable)
            active.append(
                None
                if is_constant(multiplier)
                else self._step.training(multiplier)
            )
        first_step = ops.equal(compat.raw_iterations(self), 0)
        if backend.backend() == "torch":  # eager: a bool, no copy each step
            first_step = bool(ops.convert_to_numpy(first_step))
        learned.apply(
            grads,
            trainable_variables,
            active,
            first_step,
            lambda: self._update_variables(grads, trainable_variables, nominal),
        )

    def _update_variables(self, grads, trainable_variables, learning_rate):
        plan, update = self._plan, self._update
        if update.fused is not None:
            multipliers = plan.multipliers_of(trainable_variables)
            if plan.schedules:
                floats = self._step.floats(multipliers)
                positions, multipliers = plan.training_now(multipliers, floats)
                if len(positions) < len(trainable_variables):
                    grads = [grads[p] for p in positions]
                    trainable_variables = [
                        trainable_variables[p] for p in positions
                    ]
            update.all_variables(
                grads, trainable_variables, learning_rate, multipliers
            )
            return
        update.before_variables(learning_rate)
        # Keras's loop (TensorFlow: one `extended.update` per variable)
        # calls `update_step` for each variable.
        loop = super()._backend_update_step
        if backend.backend() != "jax":
            loop(grads, trainable_variables, learning_rate)
            return
        # JAX: the variables of one time-varying multiplier (of the thaws
        # starting at one step) update under one condition, as on
        # TensorFlow (`_distributed_tf_update_step`).
        pairs = list(zip(grads, trainable_variables))
        for active, part in self._conditional_parts(pairs):
            part_grads = [g for g, _ in part]
            part_variables = [v for _, v in part]
            if active is None:
                loop(part_grads, part_variables, learning_rate)
            else:
                compat.run_where(
                    active,
                    lambda g=part_grads, v=part_variables: (
                        self._run_conditioned(loop, g, v, learning_rate)
                    ),
                    part_variables + self.optimizer.variables,
                )

    def _distributed_tf_update_step(
        self, distribution, grads_and_vars, learning_rate
    ):
        # TensorFlow (Keras's TFOptimizer calls this once per step, in
        # cross-replica context, to run `update_step` per variable): the
        # variables of one time-varying multiplier update under one
        # condition, `_conditional_parts()`, not one each.
        loop = super()._distributed_tf_update_step
        for active, part in self._conditional_parts(grads_and_vars):
            if active is None:
                loop(distribution, part, learning_rate)
            else:
                compat.run_where(
                    active,
                    lambda part=part: self._run_conditioned(
                        loop, distribution, part, learning_rate
                    ),
                    [],
                )

    def _conditional_parts(self, grads_and_vars):
        """TensorFlow and JAX: `[(active, grads_and_vars)]`, the pairs of
        constant multipliers first (`active` None), then those of each
        condition key of the plan with its "> 0 now" condition."""
        plan = self._plan
        if not plan.schedules:
            return [(None, grads_and_vars)]
        constant, groups = [], {}
        for pair in grads_and_vars:
            m = plan.multiplier_of(pair[1])
            if is_constant(m):
                constant.append(pair)
            else:
                key = plan.condition_keys[id(m)]
                groups.setdefault(key, (m, []))[1].append(pair)
        parts = [(None, constant)] if constant else []
        if groups:
            # Every multiplier's value now, outside the conditions below: a
            # tensor made inside one condition's branch is not seen by the
            # others.
            self._step.of(next(iter(groups.values()))[0])
        for (kind, start), (m, pairs) in groups.items():
            if kind == "from":
                active = ops.greater_equal(self._step.step, start)
            else:
                active = self._step.training(m)
            parts.append((active, pairs))
        return parts

    def _run_conditioned(self, loop, *args):
        """Runs Keras's per-variable loop inside a group's condition."""
        self._step.conditioned = True
        try:
            loop(*args)
        finally:
            self._step.conditioned = False

    # ------------------------------------------------------------------ #
    # 4. Per variable: the wrapped optimizer's update at lr * m.
    # ------------------------------------------------------------------ #
    def update_step(self, gradient, variable, learning_rate):
        multiplier = self._plan.multiplier_of(variable)
        if is_constant(multiplier):
            self._update.step(gradient, variable, learning_rate, multiplier)
            return
        # A multiplier that changes over time: while it is 0, the variable
        # and its slots stay as they are (no update, decay or moments).
        now = self._step
        if now is None:  # `update_step` called outside Keras's pipeline
            now = _step.StepValues(self._plan, _step.multiplier_step(self))
        value = now.of(multiplier)
        if now.conditioned:  # its group's condition holds (TF, JAX)
            self._update.step(gradient, variable, learning_rate, value)
            return
        compat.run_where(
            now.training(multiplier),
            lambda: self._update.step(gradient, variable, learning_rate, value),
            [variable] + self.optimizer.variables,
        )

    # ------------------------------------------------------------------ #
    # 5. EMA, past frozen variables.
    # ------------------------------------------------------------------ #
    def _average_stand_ins(self, variables, frozen):
        """At build, with `use_ema`: `{id(v): stand-in}` for each frozen
        variable `v`. A frozen variable's moving average is the variable
        itself; Keras's SwapEMAWeights swaps every trainable variable of
        the model with an average, so it gets a copy that stays equal."""
        if not self.use_ema:
            return {}
        # Initialised, not assigned: `fit` may build inside a
        # StatelessScope, which drops assignments. A copy: on JAX one
        # buffer in two variables would be donated twice by the train step.
        return {
            id(v): self.add_variable_from_reference(
                v, name="average", initializer=copy_initializer(v)
            )
            for v, f in zip(variables, frozen)
            if f
        }

    def _update_model_variables_moving_average(self, trainable_variables):
        # Keras's EMA update, past the averages of frozen variables
        # (stand-ins that keep a frozen variable's exact value: `m * v +
        # (1 - m) * v` can be one rounding off `v`). Keras skips an average
        # that is None.
        name = "_model_variables_moving_average"
        averages = getattr(self, name)
        object.__setattr__(
            self,
            name,
            [
                None if frozen else average
                for average, frozen in zip(averages, self._plan.frozen)
            ],
        )
        try:
            super()._update_model_variables_moving_average(trainable_variables)
        finally:
            object.__setattr__(self, name, averages)
