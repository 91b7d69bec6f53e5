"""LRX: per-variable learning rates for any Keras 3 optimizer."""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

import keras
from keras import ops
from keras.optimizers.schedules import LearningRateSchedule

from keras_lrx import _keras_compat as compat
from keras_lrx import _validation
from keras_lrx import decay as _decay
from keras_lrx import learned_scale as _learned_scale
from keras_lrx import multipliers as _multipliers
from keras_lrx import plotting
from keras_lrx._engine import step as _step
from keras_lrx._engine.hyperparameters import Hyperparameters
from keras_lrx._engine.hyperparameters import check as _check_hyperparameters
from keras_lrx._engine.learned_scale import LearnedScale
from keras_lrx._engine.pipeline import Pipeline
from keras_lrx._engine.pipeline import pipeline_options
from keras_lrx._engine.plan import Plan
from keras_lrx._engine.update import Update
from keras_lrx.learned_scale import Mechanic
from keras_lrx.multipliers import MultiplierMap

if TYPE_CHECKING:
    import matplotlib.axes

__all__ = ["LRX"]


def _delegate_schedule():  # placeholder handed to the base class only
    return 0.0


@keras.saving.register_keras_serializable(package="keras_lrx")
class LRX(Pipeline, keras.optimizers.Optimizer):
    """Wraps any Keras optimizer so each variable trains at its own rate.

    Each trainable variable `v` is updated by the wrapped optimizer's own
    rule with

        learning_rate(v, t) = schedule(t) * scale * multiplier(v)

    where `t` is the optimizer's step counter (`iterations`; with
    `gradient_accumulation_steps` Keras's convention of the raw counter is
    kept) and `scale` is 1 until `learning_rate` is assigned while a schedule
    is in use (see below). LRX runs Keras's own training-step pipeline with
    the wrapped optimizer's settings and calls the wrapped optimizer's
    `update_step(gradient, variable, learning_rate)` -- Keras's documented
    per-variable update -- at that variable's rate; on the torch backend
    Keras's stock optimizers update every variable in one pass
    (`keras_lrx._torch_fused`). The wrapped optimizer is used, never
    modified: afterwards it still has its own rate and config, and it counts
    LRX's steps (the two share one step counter). A multiplier of 0 freezes
    a variable: it never changes (no update, decay or EMA) and the wrapped
    optimizer allocates no slot variables for it. A multiplier may also
    change over time (`keras_lrx.schedules.Thaw`,
    `keras_lrx.gradual_unfreezing`): groups thaw inside one `fit`, without
    recompiling, and the others keep their optimizer state.

    Everything else the wrapped optimizer is configured with keeps working:
    gradient clipping (`clipnorm`, `clipvalue`, `global_clipnorm` -- computed
    over the variables that train), `gradient_accumulation_steps`, `use_ema`,
    `loss_scale_factor` and `exclude_from_weight_decay`. Keras's decoupled
    weight decay (AdamW, Lion, any optimizer's `weight_decay`) follows the
    per-variable rate, `lr * multiplier * weight_decay`, as PyTorch parameter
    groups do; pass `weight_decay_follows_multiplier=False` to decay every
    (non-frozen) variable at the base rate instead. An optimizer with a
    decay rule of its own (Muon) decays by that rule at its own
    `learning_rate`, as it would alone.

    `opt.learning_rate` reads the current base rate (`schedule(t) * scale`).
    Assigning a number sets the base rate when there is no schedule, or
    rescales the schedule so that its current value becomes the assigned one
    (the warmup/cosine shape continues, lower). That is what makes Keras's own
    `ReduceLROnPlateau` and `LearningRateScheduler` callbacks work on a
    scheduled LRX.

    Args:
        optimizer: A `keras.optimizers.Optimizer` instance (or a name/config
            understood by `keras.optimizers.get`), available afterwards as
            the `optimizer` attribute. It must not be built yet, and
            base-optimizer options such as `clipnorm` or `weight_decay` are
            set on it, not on LRX.
        schedule: The base learning rate. None uses the wrapped optimizer's
            own `learning_rate` (a float or a schedule); a float; a
            `keras.optimizers.schedules.LearningRateSchedule`; or a callable
            taking the step and returning the rate. Defaults to None.
        multipliers: None (all 1.0), a dict mapping keys to multipliers, a
            callable `variable -> multiplier | None`, or a `MultiplierMap`
            (`keras_lrx.combine(...)` multiplies several sources). Keys are
            layer names, exact variable paths, regular expressions matched
            against `variable.path` with `re.fullmatch`, or
            `keras.layers.Layer` objects; see `keras_lrx.multipliers` for how
            overlapping keys resolve (the most specific wins). A multiplier
            is a finite float >= 0, or a schedule of the step (a
            `LearningRateSchedule` such as `keras_lrx.schedules.Thaw`, or a
            callable of the step): the variable then trains at
            `schedule(t) * m(t)`, and while `m(t) <= 0` neither it nor its
            optimizer slots change, and its gradient counts in no global
            norm (as a parameter without a gradient in PyTorch).
        name: Name of the optimizer. Defaults to "lrx".
        weight_decay_follows_multiplier: Whether decoupled weight decay of a
            variable is scaled by its multiplier. Defaults to True.
        strict: Whether a multiplier key that selects no trainable variable
            is an error when the optimizer is built. Without it, such a key
            is accepted: silently when it is a layer object with weights (a
            frozen layer, base weights after `enable_lora`), with a
            `UserWarning` listing the trainable paths when it is a name or
            pattern (a frozen layer's name, or a typo: `build` sees only the
            trainable variables, whoever calls it; `check_multipliers(model)`
            tells the two apart). Defaults to False.
        weight_decay_multipliers: None (every variable at the wrapped
            optimizer's `weight_decay`), or a factor per variable in the
            forms `multipliers` takes (a dict of keys -> number >= 0, a
            callable `variable -> number | None`, `keras_lrx.combine(...)`;
            numbers only, no schedules): a variable decays at
            `weight_decay * factor`, and 0 switches its decay off.
            `keras_lrx.no_decay_on_biases_and_norms` is Hugging Face's and
            timm's rule. Saved in the config, unlike Keras's
            `exclude_from_weight_decay` (which still applies). Needs a
            wrapped optimizer with a `weight_decay`; one with a decay rule of
            its own (Muon) takes factors of 0 or 1 only. Defaults to None.
        hyperparameters: None, or a dict giving some of the wrapped
            optimizer's other hyperparameters a schedule of the step (a
            `LearningRateSchedule` or a callable `step -> value`): `beta_1`
            and `beta_2` of Adam, AdamW, Adamax, Nadam and Lion, `momentum`
            of SGD and RMSprop (built with a nonzero `momentum`), and
            `weight_decay` of an optimizer with Keras's stock decay. Each
            step's update reads that step's value (the same for every
            variable); the optimizer keeps its own number otherwise.
            `keras_lrx.schedules.OneCycle.momentum_schedule()` is PyTorch's
            `OneCycleLR(cycle_momentum=True)`. Defaults to None.
        scale: None, or a learned-scale estimator (experimental:
            `keras_lrx.experimental.Mechanic()`): the base rate becomes
            `schedule(t) * s`, with `s` learned while training from the
            update LRX forms at the
            nominal rate (so the multipliers' ratios hold, and variables
            that do not train take no part). `learning_rate` then reads
            the rate applied (`schedule(t) * s`), `scale_value()` the scale.
            Not with `gradient_accumulation_steps`, an optimizer with a
            decay rule of its own (Muon), or a tf.distribute strategy.
            Defaults to None: today's LRX, exactly.

    Example:

    >>> import keras, numpy as np
    >>> from keras_lrx import LRX
    >>> model = keras.Sequential([
    ...     keras.Input((8,)),
    ...     keras.layers.Dense(16, name="body"),
    ...     keras.layers.Dense(1, name="head")], name="net")
    >>> opt = LRX(keras.optimizers.Adam(1e-3), multipliers={"body": 0.1})
    >>> model.compile(optimizer=opt, loss="mse")
    >>> _ = model.fit(np.ones((8, 8)), np.ones((8, 1)), verbose=0)
    >>> opt.variable_multipliers["net/body/kernel"]
    0.1

    Raises:
        TypeError: if `optimizer`, `schedule` or a multiplier key has the
            wrong type.
        ValueError: for a multiplier that is negative or not finite, a
            hyperparameter the wrapped optimizer cannot take as a schedule,
            a wrapped optimizer that is already built, base-optimizer
            arguments given to LRX, a learned `scale` with an option it
            cannot honour, and (when built, with `strict`) a key matching no
            trainable variable.
    """

    def __init__(
        self,
        optimizer: keras.optimizers.Optimizer | str | dict[str, Any],
        schedule: float
        | LearningRateSchedule
        | Callable[[Any], Any]
        | None = None,
        multipliers: Mapping[
            Any, float | LearningRateSchedule | Callable[[Any], Any]
        ]
        | Callable[[keras.Variable], Any]
        | MultiplierMap
        | None = None,
        name: str | None = None,
        weight_decay_follows_multiplier: bool = True,
        strict: bool = False,
        weight_decay_multipliers: Mapping[Any, float]
        | Callable[[keras.Variable], float | None]
        | MultiplierMap
        | None = None,
        hyperparameters: Mapping[
            str, LearningRateSchedule | Callable[[Any], Any]
        ]
        | None = None,
        scale: Mechanic | None = None,
        **kwargs: Any,
    ) -> None:
        _check_no_extra_arguments(kwargs)
        weight_decay_follows_multiplier = _validation.check_bool(
            "weight_decay_follows_multiplier", weight_decay_follows_multiplier
        )
        strict = _validation.check_bool("strict", strict)
        optimizer = _check_optimizer(optimizer)
        base = _validation.check_schedule(schedule, _delegate_schedule)
        multiplier_map = MultiplierMap(multipliers)
        decay_map = _decay.check_decay_map(weight_decay_multipliers, optimizer)
        hyperparameters = _check_hyperparameters(hyperparameters, optimizer)
        scale = _learned_scale.check_scale(scale)
        _check_scale_options(scale, optimizer)
        compat.check_distribution_strategy(optimizer)

        # LRX runs Keras's step pipeline (clipping, gradient accumulation,
        # EMA, loss-scale factor) with the wrapped optimizer's settings.
        super().__init__(
            learning_rate=base,
            name=name or "lrx",
            **pipeline_options(optimizer),
        )
        if schedule is None:  # the wrapped optimizer's rate (see `_base`)
            compat.set_own_learning_rate(self, None)
        # One step counter: the wrapped optimizer's (its `update_step` reads
        # it), so the wrapped optimizer counts LRX's steps.
        compat.share_step_counter(self, optimizer)
        # Configuration (saved in `get_config`).
        self.optimizer = optimizer
        self.weight_decay_follows_multiplier = weight_decay_follows_multiplier
        self.strict = strict
        self._multiplier_map = multiplier_map
        self._decay_map = decay_map
        # The wrapped optimizer's hyperparameters that follow a schedule of
        # the step: name -> schedule.
        self.hyperparameters = hyperparameters
        #: The learned-scale estimator (`scale=`), or None.
        self.scale = scale
        self._lr_scale = self.add_variable(
            shape=(),
            initializer="ones",
            dtype="float32",
            aggregation="only_first_replica",
            name="learning_rate_scale",
        )
        # The engine (`keras_lrx._engine`), untracked by Keras: the plan and
        # the update once built, the values of the step being applied, the
        # step `hold_multipliers()` holds, the JAX metric hook's recorders.
        for attribute, value in (
            ("_hyperparameters", Hyperparameters(hyperparameters, optimizer)),
            ("_plan", None),
            ("_update", None),
            ("_step", None),
            ("_held_step", None),
            ("_state_recorders", weakref.WeakSet()),
            ("_statistics", None),  # what `GroupStatistics` asks for
            ("_learned_scale", None),  # the estimator's state, once built
        ):
            compat.set_untracked_attribute(self, attribute, value)

    # ------------------------------------------------------------------ #
    # Building.
    # ------------------------------------------------------------------ #
    def build(self, var_list: Iterable[keras.Variable]) -> None:
        var_list = list(var_list)
        resolutions = self._multiplier_map.resolve(
            var_list, strict=self.strict
        )  # may raise
        decay_resolutions = self._decay_map.resolve(
            var_list, strict=self.strict
        )  # may raise
        decays = _decay.factors_by_key(
            decay_resolutions,
            var_list,
            self.optimizer,
            key_of=lambda v: compat.variable_key(self, v),
        )  # may raise
        compat.check_distribution_strategy(self.optimizer)
        _check_scale_options(self.scale, self.optimizer)
        plan = Plan(
            resolutions,
            {r.path: r.multiplier for r in decay_resolutions},
            index_of=lambda v: compat.variable_index(self, v),
        )
        frozen = plan.frozen
        # Frozen variables get no slots and never reach the update.
        self.optimizer.build([v for v, f in zip(var_list, frozen) if not f])
        stand_ins = self._average_stand_ins(var_list, frozen)
        compat.adopt_built_state(
            self, self.optimizer, var_list, frozen, stand_ins
        )
        update = Update(
            self.optimizer, self.weight_decay_follows_multiplier, decays
        )
        if self.scale is not None:
            learned = LearnedScale(
                self.scale, self, [v for v, f in zip(var_list, frozen) if not f]
            )
            compat.set_untracked_attribute(self, "_learned_scale", learned)
        if self._statistics is not None:
            # After the wrapped optimizer's variables (see `variables`).
            self._statistics.build(self, plan.resolutions)
            compat.untrack_variable(self, self._statistics.variable)
        compat.set_untracked_attribute(self, "_plan", plan)
        compat.set_untracked_attribute(self, "_update", update)

    @property
    def variables(self) -> list[keras.Variable]:
        # Group statistics come last: a checkpoint of the same LRX without
        # them has the same layout up to there.
        statistics = self._statistics
        built = statistics is not None and statistics.variable is not None
        last = [statistics.variable] if built else []
        return compat.own_variables(self) + self.optimizer.variables + last

    @property
    def multiplier_map(self) -> MultiplierMap:
        """The `MultiplierMap` that resolves this optimizer's `multipliers`."""
        return self._multiplier_map

    @property
    def variable_multipliers(
        self,
    ) -> dict[str, float | LearningRateSchedule | Callable[[Any], Any]]:
        """Dict of variable path -> multiplier (after `build`).

        A multiplier that changes over time is its schedule;
        `current_multipliers()` has every value at the current step.
        """
        if self._plan is None:
            return {}
        return {r.path: r.multiplier for r in self._plan.resolutions}

    @property
    def variable_weight_decays(self) -> dict[str, float]:
        """Dict of variable path -> its weight-decay coefficient (after
        `build`).

        The wrapped optimizer's `weight_decay` times the variable's factor
        from `weight_decay_multipliers`, and 0 for a variable the optimizer
        excludes (`exclude_from_weight_decay`) or that does not train
        (multiplier 0). Decoupled decay applies `v -= v * coefficient *
        rate`, where `rate` is the variable's learning rate (or the base
        rate, with `weight_decay_follows_multiplier=False`).

        Example:

        >>> from keras_lrx import no_decay_on_biases_and_norms
        >>> model = keras.Sequential([keras.Input((2,)),
        ...     keras.layers.Dense(1, name="head")], name="net")
        >>> opt = LRX(keras.optimizers.AdamW(1e-3, weight_decay=0.05),
        ...           weight_decay_multipliers=no_decay_on_biases_and_norms)
        >>> opt.build(model.trainable_variables)
        >>> opt.variable_weight_decays
        {'net/head/kernel': 0.05, 'net/head/bias': 0.0}
        """
        plan = self._plan
        if plan is None:
            return {}
        weight_decay = float(self.optimizer.weight_decay or 0.0)
        return {
            r.path: (
                weight_decay * plan.decay_factors[r.path]
                if not frozen and self._update.decays_variable(v)
                else 0.0
            )
            for v, r, frozen in zip(
                compat.built_variables(self), plan.resolutions, plan.frozen
            )
        }

    def current_multipliers(self) -> dict[str, float]:
        """Dict of variable path -> multiplier at the current step (floats).

        Example:

        >>> from keras_lrx.schedules import Thaw
        >>> model = keras.Sequential([keras.Input((2,)),
        ...     keras.layers.Dense(2, name="body"),
        ...     keras.layers.Dense(1, name="head")], name="net")
        >>> opt = LRX(keras.optimizers.SGD(0.1),
        ...           multipliers={"body": Thaw(0.5, start_step=3)})
        >>> opt.build(model.trainable_variables)
        >>> opt.current_multipliers()["net/body/kernel"]
        0.0
        >>> _ = opt.iterations.assign(3)
        >>> opt.current_multipliers()["net/body/kernel"]
        0.5
        """
        self._check_built("current_multipliers()")
        values = _step.floats_at(self._plan.schedules, self._step_now())
        return {
            r.path: values.get(id(m), m)
            for r, m in zip(self._plan.resolutions, self._plan.multipliers)
        }

    def _step_now(self):
        """The step multipliers are evaluated at now, an int."""
        return int(ops.convert_to_numpy(_step.multiplier_step(self)))

    @contextlib.contextmanager
    def hold_multipliers(self) -> Iterator[None]:
        """Keeps time-varying multipliers at their current values inside.

        A multiplier that is a schedule of the step (`Thaw`, a per-group
        warmup) is evaluated at the step where the block was entered, for as
        long as it lasts; the base rate and the step counter go on. The
        range test (`find_lr`) sweeps this way, with the groups as they are
        at the start of the sweep. A compiled train step reads the held step
        when it is traced: trace it inside the block.

        Example:

        >>> from keras_lrx.schedules import Thaw
        >>> model = keras.Sequential([keras.Input((2,)),
        ...     keras.layers.Dense(1, name="body")], name="net")
        >>> opt = LRX(keras.optimizers.SGD(0.1),
        ...           multipliers={"body": Thaw(1.0, start_step=1)})
        >>> opt.build(model.trainable_variables)
        >>> with opt.hold_multipliers():  # entered at step 0: frozen
        ...     _ = opt.iterations.assign(5)
        ...     print(opt.current_multipliers()["net/body/kernel"])
        0.0
        >>> opt.current_multipliers()["net/body/kernel"]  # step 5 again
        1.0
        """
        held = int(ops.convert_to_numpy(compat.raw_iterations(self)))
        previous = self._held_step
        compat.set_untracked_attribute(self, "_held_step", held)
        try:
            yield
        finally:
            compat.set_untracked_attribute(self, "_held_step", previous)

    # ------------------------------------------------------------------ #
    # The learning rate.
    # ------------------------------------------------------------------ #
    # The base rate is `schedule(t) * scale`: `_base` is the schedule (None
    # for the wrapped optimizer's own rate; a Variable for a float) and
    # `_lr_scale` the scale. Keras reads it for the step through the
    # pipeline.
    @property
    def _base(self):
        return compat.own_learning_rate(self)

    def _unscaled_learning_rate(self):
        schedule = self._base
        if schedule is None:
            return self.optimizer.learning_rate
        if isinstance(schedule, keras.Variable):
            return schedule
        # LearningRateSchedule or callable of the step.
        return schedule(compat.raw_iterations(self))

    def _has_schedule(self):
        schedule = self._base
        if schedule is None:
            schedule = compat.own_learning_rate(self.optimizer)
        return not isinstance(schedule, keras.Variable)

    def _scaled_learning_rate(self):
        # The nominal base rate: what the wrapped optimizer updates at.
        rate = ops.cast(self._unscaled_learning_rate(), "float32")
        return ops.multiply(rate, self._lr_scale)

    @property
    def learning_rate(self) -> Any:
        rate = self._scaled_learning_rate()
        if self._learned_scale is not None:
            return self._learned_scale.applied(rate)
        if self.scale is not None:  # not built: the scale it starts from
            return ops.multiply(rate, self.scale.s_init)
        return rate

    def scale_value(self) -> float:
        """The learned scale `s` now: 1.0 without `scale=`, `s_init` before
        the first step. The rate applied is `schedule(t) * s`."""
        if self._learned_scale is not None:
            return float(ops.convert_to_numpy(self._learned_scale.total()))
        return 1.0 if self.scale is None else self.scale.s_init

    @learning_rate.setter
    def learning_rate(
        self,
        learning_rate: float | LearningRateSchedule | Callable[[Any], Any],
    ) -> None:
        if isinstance(learning_rate, LearningRateSchedule) or callable(
            learning_rate
        ):
            if isinstance(self._base, keras.Variable):
                compat.untrack_variable(self, self._base)
            compat.set_own_learning_rate(self, learning_rate)
            self._lr_scale.assign(1.0)
            return
        value = float(ops.convert_to_numpy(learning_rate))
        if not math.isfinite(value) or value < 0:
            raise ValueError(
                "The learning rate must be a finite number >= 0. "
                f"Received: learning_rate={learning_rate!r}"
            )
        if not self._has_schedule():
            if self._base is None:
                self.optimizer.learning_rate = value
            else:
                self._base.assign(value)
            self._lr_scale.assign(1.0)
            return
        current = float(ops.convert_to_numpy(self._unscaled_learning_rate()))
        if current == 0.0:
            if value == 0.0:
                self._lr_scale.assign(1.0)
                return
            raise ValueError(
                "Cannot rescale the schedule to learning_rate="
                f"{value!r}: the schedule's value at step "
                f"{int(ops.convert_to_numpy(self.iterations))} is 0 "
                "(e.g. the first warmup step). Assign the rate at a step "
                "where the schedule is non-zero, or assign a new schedule."
            )
        self._lr_scale.assign(value / current)

    @contextlib.contextmanager
    def override_learning_rate(
        self, learning_rate: LearningRateSchedule | Callable[[Any], Any]
    ) -> Iterator[None]:
        """Trains at base rate `learning_rate` inside the block; then undoes it.

        The rate (a `LearningRateSchedule` or a callable of the step)
        replaces the base rate as it is, without the scale that assigning a
        float to a scheduled LRX leaves; the multipliers still apply. On
        exit the previous rate, schedule and scale are back. The range test
        (`find_lr`) sweeps the base rate this way.

        Example:

        >>> opt = LRX(keras.optimizers.SGD(0.1))
        >>> with opt.override_learning_rate(lambda step: 0.5):
        ...     print(round(float(opt.learning_rate), 3))
        0.5
        >>> round(float(opt.learning_rate), 3)
        0.1
        """
        scale = ops.convert_to_numpy(self._lr_scale).copy()
        self._lr_scale.assign(1.0)
        # A learned scale holds: the rate given is the rate applied.
        learned = self._learned_scale
        try:
            with (
                learned.holding() if learned else contextlib.nullcontext(),
                compat.learning_rate_override(self, learning_rate),
            ):
                yield
        finally:
            self._lr_scale.assign(scale)

    def check_multipliers(
        self, model: keras.layers.Layer
    ) -> dict[str, float | LearningRateSchedule | Callable[[Any], Any]]:
        """Checks the multiplier keys against all of `model`'s weights.

        `build` sees the trainable variables only, so a key naming a frozen
        layer by its name and a typo look alike there (both warn; `strict`
        makes both errors). Given the model, this tells them apart: a key
        that selects none of its weights is an error, one that selects only
        frozen weights is accepted (unless `strict`).

        Args:
            model: The `keras.Model` (or layer) this optimizer will train.

        Returns:
            A dict of trainable variable path -> multiplier.

        Raises:
            TypeError: if `model` is not a Keras layer or model.
            ValueError: if a key selects no weight of `model`, or (with
                `strict`) selects only non-trainable weights.

        Example:

        >>> model = keras.Sequential(
        ...     [keras.Input((2,)), keras.layers.Dense(1, name="head")],
        ...     name="net")
        >>> LRX(keras.optimizers.SGD(), multipliers={"head": 0.1}
        ...     ).check_multipliers(model)
        {'net/head/kernel': 0.1, 'net/head/bias': 0.1}
        """
        if not isinstance(model, keras.layers.Layer):
            raise TypeError(
                "Argument `model` must be a `keras.Model` or layer. "
                f"Received: model={model!r} (of type {type(model).__name__})"
            )
        resolutions = self._multiplier_map.resolve(
            model.trainable_variables,
            model.non_trainable_variables,
            strict=self.strict,
        )
        return {r.path: r.multiplier for r in resolutions}

    def effective_learning_rates(self) -> dict[float, float]:
        """Dict of multiplier group -> current effective rate (after build).

        Keys are the multipliers (at the current step); values
        `learning_rate * multiplier`.
        """
        self._check_built("effective_learning_rates()")
        base = float(ops.convert_to_numpy(self.learning_rate))
        groups = sorted(set(self.current_multipliers().values()))
        return {m: base * m for m in groups}

    def current_hyperparameters(self) -> dict[str, float]:
        """Dict of each scheduled hyperparameter's value at the current step.

        Example:

        >>> from keras_lrx.schedules import OneCycle
        >>> cycle = OneCycle(1e-2, total_steps=10)
        >>> opt = LRX(keras.optimizers.Adam(), schedule=cycle,
        ...           hyperparameters={"beta_1": cycle.momentum_schedule()})
        >>> round(opt.current_hyperparameters()["beta_1"], 4)
        0.95
        """
        step = int(ops.convert_to_numpy(compat.raw_iterations(self)))
        return self.hyperparameters_at(step)

    def hyperparameters_at(self, step: int) -> dict[str, float]:
        """Dict of each scheduled hyperparameter's value at `step` (floats).

        `keras_lrx.BatchHistory` records them per batch with it.

        Args:
            step: Int >= 0, an optimizer step.
        """
        step = _validation.check_count("step", step)
        return self._hyperparameters.floats_at(step)

    def frozen_variables(self, steps: int = 1) -> list[keras.Variable]:
        """The variables whose multiplier is 0 at each of the next `steps`.

        A variable with a constant multiplier of 0, or with a multiplier
        that changes over time (`Thaw`, any schedule of the step) and is 0
        at every step from the current one (`iterations`) to `steps - 1`
        past it. `keras_lrx.callbacks.SkipFrozenGradients` turns their
        gradients off for the coming steps.

        Args:
            steps: Positive int, how many steps ahead the answer must hold.

        Returns:
            A list of variables, in the order the optimizer was built with.

        Example:

        >>> from keras_lrx.schedules import Thaw
        >>> model = keras.Sequential([keras.Input((2,)),
        ...     keras.layers.Dense(3, name="body"),
        ...     keras.layers.Dense(1, name="head")], name="net")
        >>> opt = LRX(keras.optimizers.SGD(0.1),
        ...           multipliers={"body": Thaw(1.0, start_step=2)})
        >>> opt.build(model.trainable_variables)
        >>> [v.path for v in opt.frozen_variables(steps=2)]
        ['net/body/kernel', 'net/body/bias']
        >>> opt.frozen_variables(steps=3)
        []
        """
        steps = _validation.check_count("steps", steps, low=1)
        self._check_built("frozen_variables")
        first = self._step_now()
        if self._held_step is not None:  # `hold_multipliers()`: one step
            steps = 1
        plan = self._plan
        windows = [
            _step.floats_at(plan.schedules, step)
            for step in range(first, first + steps)
        ]
        return [
            v
            for v, m in zip(compat.built_variables(self), plan.multipliers)
            if all(values.get(id(m), m) <= 0.0 for values in windows)
        ]

    # ------------------------------------------------------------------ #
    # Diagnostics.
    # ------------------------------------------------------------------ #
    def _check_built(self, what):
        if self._plan is None:
            raise ValueError(
                f"`{what}` needs a built optimizer: call it after "
                "`model.fit`, or after "
                "`optimizer.build(model.trainable_variables)`."
            )

    def plot_multipliers(
        self, ax: matplotlib.axes.Axes | None = None
    ) -> matplotlib.axes.Axes:
        """Draws each variable's multiplier now, a bar per variable.

        The bars follow the order of the variables the optimizer was built
        with (a model's: input side first), and a tick names the key that
        decided each run of them (as `describe()` does), so a layer-wise
        decay shows as a staircase and a frozen layer as a gap. Needs
        matplotlib and a built optimizer.

        Args:
            ax: A matplotlib `Axes` to draw on. Defaults to `None`, meaning
                the axes of a new figure.

        Returns:
            The matplotlib `Axes`.

        Example:

        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> model = keras.Sequential([keras.Input((4,)),
        ...     keras.layers.Dense(4, name="body"),
        ...     keras.layers.Dense(1, name="head")])
        >>> opt = LRX(keras.optimizers.Adam(), multipliers={"body": 0.1})
        >>> opt.build(model.trainable_variables)
        >>> ax = opt.plot_multipliers()
        >>> [round(float(p.get_height()), 2) for p in ax.patches]
        [0.1, 0.1, 1.0, 1.0]
        """
        self._check_built("plot_multipliers()")
        now = self.current_multipliers()
        return plotting.plot_bars(
            [r.source for r in self._plan.resolutions],
            [now[r.path] for r in self._plan.resolutions],
            ax=ax,
            ylabel="multiplier now",
        )

    def describe(
        self, print_fn: Callable[[str], Any] | None = None
    ) -> list[dict[str, Any]]:
        """Prints a table: variable, shape, multiplier, deciding key, rate.

        Args:
            print_fn: Function called with the table text. Defaults to
                `print`.

        A multiplier that changes over time shows as its schedule and its
        value now (`Thaw(1, start_step=200) = 0 now`), so a gradual
        unfreezing shows when each group starts.

        Returns:
            A list of dicts, one per variable, with the same columns
            (`multiplier` as given, `multiplier_now` its value now).
        """
        self._check_built("describe()")
        rows, lines = _describe(self)
        (print_fn or print)("\n".join(lines))
        return rows

    # ------------------------------------------------------------------ #
    # Serialization.
    # ------------------------------------------------------------------ #
    def get_config(self) -> dict[str, Any]:
        schedule = self._base
        if schedule is None:
            schedule_config = None
        elif isinstance(schedule, keras.Variable):
            schedule_config = float(ops.convert_to_numpy(schedule))
        elif isinstance(schedule, LearningRateSchedule):
            schedule_config = keras.optimizers.schedules.serialize(schedule)
        else:
            schedule_config = keras.saving.serialize_keras_object(schedule)
        optimizer_config = keras.saving.serialize_keras_object(self.optimizer)
        return {
            "name": self.name,
            "optimizer": optimizer_config,
            "schedule": schedule_config,
            "multipliers": self._multiplier_map.get_config(),
            "weight_decay_follows_multiplier": (
                self.weight_decay_follows_multiplier
            ),
            "strict": self.strict,
            "weight_decay_multipliers": self._decay_map.get_config(),
            "hyperparameters": {
                name: keras.saving.serialize_keras_object(schedule)
                for name, schedule in self.hyperparameters.items()
            },
            "scale": (
                None
                if self.scale is None
                else keras.saving.serialize_keras_object(self.scale)
            ),
        }

    @classmethod
    def from_config(
        cls,
        config: dict[str, Any],
        custom_objects: dict[str, Any] | None = None,
    ) -> LRX:
        config = dict(config)
        optimizer = keras.saving.deserialize_keras_object(
            config.pop("optimizer"), custom_objects=custom_objects
        )
        schedule = config.pop("schedule", None)
        if isinstance(schedule, dict):
            schedule = keras.saving.deserialize_keras_object(
                schedule, custom_objects=custom_objects
            )
        multipliers = MultiplierMap.from_config(
            config.pop("multipliers", None), custom_objects=custom_objects
        )
        hyperparameters = {
            name: keras.saving.deserialize_keras_object(
                schedule, custom_objects=custom_objects
            )
            for name, schedule in (
                config.pop("hyperparameters", None) or {}
            ).items()
        }
        scale = config.pop("scale", None)
        if isinstance(scale, dict):
            scale = keras.saving.deserialize_keras_object(
                scale, custom_objects=custom_objects
            )
        decays = config.pop("weight_decay_multipliers", None)
        if decays is not None:
            decays = MultiplierMap.from_config(
                decays, custom_objects, "weight_decay_multipliers"
            )
        return cls(
            optimizer,
            schedule=schedule,
            multipliers=multipliers,
            weight_decay_multipliers=decays,
            hyperparameters=hyperparameters,
            scale=scale,
            **config,
        )


def _describe(optimizer):
    """`LRX.describe`'s rows (dicts) and the lines of its table."""
    base = float(ops.convert_to_numpy(optimizer.learning_rate))
    now = optimizer.current_multipliers()
    decays = optimizer.variable_weight_decays
    plan = optimizer._plan
    rows = [
        {
            "path": r.path,
            "shape": tuple(variable.shape),
            "multiplier": r.multiplier,
            "multiplier_now": now[r.path],
            "matched": r.source,
            "learning_rate": base * now[r.path],
            "weight_decay": decays[r.path],
        }
        for variable, r in zip(
            compat.built_variables(optimizer), plan.resolutions
        )
    ]
    header = ("variable", "shape", "multiplier", "matched key", "lr now")
    if optimizer.optimizer.weight_decay:
        header += ("weight decay",)
    lines = plotting.text_table(
        header,
        [
            (
                row["path"],
                str(row["shape"]),
                _multiplier_label(row["multiplier"], row["multiplier_now"]),
                row["matched"],
                f"{row['learning_rate']:.4g}",
                f"{row['weight_decay']:.4g}",
            )[: len(header)]
            for row in rows
        ],
    )
    frozen_now = sum(row["multiplier_now"] == 0.0 for row in rows)
    frozen = sum(plan.frozen)
    lines.append(
        f"{optimizer.name}: {type(optimizer.optimizer).__name__}, base "
        f"learning rate {base:.4g}, {frozen_now} frozen of "
        f"{len(rows)} variables"
        + (f" ({frozen} for good)" if frozen_now != frozen else "")
        + (
            ""
            if optimizer.scale is None
            else f"; learned scale s = {optimizer.scale_value():.4g} "
            f"({type(optimizer.scale).__name__}, in the rates above)"
        )
    )
    return rows, lines


def _multiplier_label(multiplier, now):
    label = _multipliers.describe_multiplier(multiplier)
    if _multipliers.is_constant(multiplier):
        return label
    return f"{label} = {now:g} now"


def _check_optimizer(optimizer):
    """LRX's `optimizer` argument: a new Keras optimizer (not an LRX or a
    LossScaleOptimizer, not built yet)."""
    if isinstance(optimizer, (str, dict)):
        optimizer = keras.optimizers.get(optimizer)
    if isinstance(optimizer, LRX):
        raise TypeError(
            "Argument `optimizer` is already an LRX; wrap the base "
            "optimizer once and put all multipliers in one LRX."
        )
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        raise TypeError(
            "Argument `optimizer` must not be a LossScaleOptimizer: wrap "
            "the other way round, LossScaleOptimizer(LRX(...)), which "
            "Keras does by itself under the 'mixed_float16' policy."
        )
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(
            "Argument `optimizer` must be a `keras.optimizers.Optimizer` "
            f"instance. Received: optimizer={optimizer!r} "
            f"(of type {type(optimizer).__name__})"
        )
    if optimizer.built:
        raise ValueError(
            f"Argument `optimizer` ({optimizer.name!r}) is already built; "
            "LRX must build it itself (frozen variables get no slots). "
            "Pass a new, unused optimizer instance."
        )
    return optimizer


def _check_scale_options(scale, optimizer):
    """A learned scale with a setting of the wrapped optimizer (or a
    strategy) it cannot honour: ValueError."""
    if scale is None:
        return
    if optimizer.gradient_accumulation_steps:
        raise ValueError(
            "Argument `scale` (a learned scale) cannot be combined with "
            "`gradient_accumulation_steps`: the scale is learned from each "
            "update as it is applied. Received: scale="
            f"{scale!r} with gradient_accumulation_steps="
            f"{optimizer.gradient_accumulation_steps!r}"
        )
    if compat.overrides_weight_decay(optimizer) and optimizer.weight_decay:
        raise ValueError(
            "Argument `scale` (a learned scale) cannot be combined with an "
            f"optimizer that applies its own weight decay "
            f"({type(optimizer).__name__}): that decay happens outside the "
            "update the scale is learned from. Set its weight_decay=None. "
            f"Received: scale={scale!r}"
        )
    if compat.tf_distribution_in_use():
        raise ValueError(
            "Argument `scale` (a learned scale) is not supported under a "
            "tf.distribute strategy (it is under JAX's distribution API). "
            f"Received: scale={scale!r}"
        )


def _check_no_extra_arguments(kwargs):
    misplaced = [k for k in kwargs if k in compat.BASE_OPTIMIZER_ARGUMENTS]
    if misplaced:
        raise ValueError(
            f"Argument(s) {', '.join(f'`{k}`' for k in misplaced)} belong "
            "to the wrapped optimizer, not to LRX: set them there, e.g. "
            f"LRX(keras.optimizers.AdamW({misplaced[0]}=...)). "
            "Received: " + ", ".join(f"{k}={kwargs[k]!r}" for k in misplaced)
        )
    if kwargs:
        raise ValueError(f"Argument(s) not recognized: {kwargs}")
