"""LRX: per-variable learning rates for any Keras 3 optimizer."""

from __future__ import annotations

import contextlib
import math
import numbers
import weakref
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

import keras
from keras import ops
from keras.optimizers.schedules import LearningRateSchedule

from keras_lrx import _keras_compat as compat
from keras_lrx import _update
from keras_lrx import _validation
from keras_lrx import multipliers as _multipliers
from keras_lrx import plotting
from keras_lrx.multipliers import MultiplierMap

if TYPE_CHECKING:
    import matplotlib.axes

__all__ = ["LRX"]


def _delegate_schedule():  # placeholder handed to the base class only
    return 0.0


@keras.saving.register_keras_serializable(package="keras_lrx")
class LRX(compat.PipelineSteps, keras.optimizers.Optimizer):
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
            arguments given to LRX, and (when built, with `strict`) a key
            matching no trainable variable.
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
        **kwargs: Any,
    ) -> None:
        _check_no_extra_arguments(kwargs)
        weight_decay_follows_multiplier = _validation.check_bool(
            "weight_decay_follows_multiplier", weight_decay_follows_multiplier
        )
        strict = _validation.check_bool("strict", strict)
        optimizer = self._check_optimizer(optimizer)
        base_learning_rate = self._check_schedule(schedule)
        multiplier_map = MultiplierMap(multipliers)
        decay_map = self._check_decay_map(weight_decay_multipliers, optimizer)
        hyperparameters = _check_hyperparameters(hyperparameters, optimizer)
        compat.check_distribution_strategy(optimizer)

        # LRX runs Keras's step pipeline (clipping, gradient accumulation,
        # EMA, loss-scale factor) with the wrapped optimizer's settings.
        super().__init__(
            learning_rate=base_learning_rate,
            name=name or "lrx",
            **_pipeline_options(optimizer),
        )
        if schedule is None:
            self._learning_rate = None
        # One step counter: the wrapped optimizer's (its `update_step` reads
        # it), so the wrapped optimizer counts LRX's steps.
        compat.share_step_counter(self, optimizer)
        self.optimizer = optimizer
        self.weight_decay_follows_multiplier = weight_decay_follows_multiplier
        self.strict = strict
        self._multiplier_map = multiplier_map
        self._decay_map = decay_map
        # The wrapped optimizer's hyperparameters that follow a schedule of
        # the step: name -> schedule (see `_hyperparameters_now`).
        self.hyperparameters = hyperparameters
        # The wrapped optimizer's own numbers, put back after each step.
        compat.set_untracked_attribute(
            self,
            "_hyperparameter_numbers",
            {name: getattr(optimizer, name) for name in hyperparameters},
        )
        self._decays = None  # variable path -> decay factor, at build
        self._lr_scale = self.add_variable(
            shape=(),
            initializer="ones",
            dtype="float32",
            aggregation="only_first_replica",
            name="learning_rate_scale",
        )
        self._resolutions = None
        self._frozen = None
        self._multipliers = None
        for attribute, value in (
            ("_update", None),  # keras_lrx._update.Update, at build
            # Positions and multipliers of each variable list the pipeline
            # is called with, worked out once: they are fixed at build.
            ("_plans", {}),
            ("_state_recorders", weakref.WeakSet()),
            # Multipliers that change over time, by id (at build) ...
            ("_schedules", {}),
            # ... their values this step, on torch (read once per step) ...
            ("_step_values", None),
            # ... and the step they are held at (`hold_multipliers`).
            ("_held_step", None),
            # TensorFlow: inside one condition for a group's variables.
            ("_conditioned", False),
        ):
            compat.set_untracked_attribute(self, attribute, value)

    # ------------------------------------------------------------------ #
    # Argument checks.
    # ------------------------------------------------------------------ #
    @staticmethod
    def _check_optimizer(optimizer):
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

    @staticmethod
    def _check_decay_map(weight_decay_multipliers, optimizer):
        argument = "weight_decay_multipliers"
        decay_map = MultiplierMap(weight_decay_multipliers, argument)
        if weight_decay_multipliers is None:
            return decay_map
        for key in decay_map.all_keys():
            _check_decay_factor(key.value, f"key {key.label()}")
        if not optimizer.weight_decay:
            raise ValueError(
                f"Argument `{argument}` scales the wrapped optimizer's "
                f"weight decay, and {type(optimizer).__name__} "
                f"{optimizer.name!r} has none. Set `weight_decay` on the "
                "wrapped optimizer (e.g. AdamW(..., weight_decay=0.05)). "
                f"Received: weight_decay={optimizer.weight_decay!r}"
            )
        return decay_map

    @staticmethod
    def _check_schedule(schedule):
        if schedule is None:
            return _delegate_schedule
        if isinstance(schedule, LearningRateSchedule):
            return schedule
        if isinstance(schedule, numbers.Real) and not isinstance(
            schedule, bool
        ):
            value = float(schedule)
            if not math.isfinite(value) or value < 0:
                raise ValueError(
                    "Argument `schedule` must be a finite number >= 0, a "
                    "LearningRateSchedule or a callable of the step. "
                    f"Received: schedule={schedule!r}"
                )
            return value
        if callable(schedule):
            return schedule
        raise TypeError(
            "Argument `schedule` must be None, a float, a "
            "`keras.optimizers.schedules.LearningRateSchedule` or a callable "
            f"of the step. Received: schedule={schedule!r} "
            f"(of type {type(schedule).__name__})"
        )

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
        decays = {}
        own_rule = compat.overrides_weight_decay(self.optimizer)
        for v, r in zip(var_list, decay_resolutions):
            _check_decay_factor(r.multiplier, f"variable {r.path!r}")
            if own_rule and r.multiplier not in (0.0, 1.0):
                raise ValueError(
                    "Argument `weight_decay_multipliers`: "
                    f"{type(self.optimizer).__name__} decays by a rule of "
                    "its own, which LRX can switch off per variable (0) but "
                    "not scale: each factor must be 0 or 1. Received: "
                    f"{r.multiplier!r} for variable {r.path!r}"
                )
            if r.multiplier != 1.0:
                decays[compat.variable_key(self, v)] = r.multiplier
        compat.check_distribution_strategy(self.optimizer)
        frozen = [_is_zero(r.multiplier) for r in resolutions]
        active = [v for v, f in zip(var_list, frozen) if not f]
        # Frozen variables get no slots and never reach the update.
        self.optimizer.build(active)
        stand_ins = {}
        if self.use_ema:
            # A frozen variable's moving average is the variable itself;
            # Keras's SwapEMAWeights swaps every trainable variable of the
            # model with an average, so it gets a copy that stays equal.
            for v, f in zip(var_list, frozen):
                if f:
                    # Initialised, not assigned: `fit` may build inside a
                    # StatelessScope, which drops assignments. A copy: on
                    # JAX one buffer in two variables would be donated
                    # twice by the train step.
                    stand_ins[id(v)] = self.add_variable_from_reference(
                        v, name="average", initializer=_copy_of(v)
                    )
        compat.adopt_built_state(
            self, self.optimizer, var_list, frozen, stand_ins
        )
        self._resolutions = resolutions
        self._frozen = frozen
        self._multipliers = _multipliers.shared_schedules(
            [r.multiplier for r in resolutions]
        )
        compat.set_untracked_attribute(
            self,
            "_schedules",
            {
                id(m): m
                for m in self._multipliers
                if not _multipliers.is_constant(m)
            },
        )
        compat.set_untracked_attribute(
            self,
            "_update",
            _update.Update(
                self.optimizer, self.weight_decay_follows_multiplier, decays
            ),
        )
        self._decays = {r.path: r.multiplier for r in decay_resolutions}

    @property
    def variables(self) -> list[keras.Variable]:
        return compat.own_variables(self) + self.optimizer.variables

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
        if self._resolutions is None:
            return {}
        return {r.path: r.multiplier for r in self._resolutions}

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
        if self._resolutions is None:
            return {}
        weight_decay = float(self.optimizer.weight_decay or 0.0)
        return {
            r.path: (
                weight_decay * self._decays[r.path]
                if not frozen and self._update.decays_variable(v)
                else 0.0
            )
            for v, r, frozen in zip(
                compat.built_variables(self), self._resolutions, self._frozen
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
        values = self._values_now()
        return {
            r.path: values.get(id(m), m)
            for r, m in zip(self._resolutions, self._multipliers)
        }

    def _values_now(self):
        """Float value of each time-varying multiplier (by id), this step."""
        if not self._schedules:
            return {}
        step = int(ops.convert_to_numpy(self._multiplier_step()))
        return {
            key: _multipliers.multiplier_float(m, step)
            for key, m in self._schedules.items()
        }

    def _multiplier_step(self):
        """The step time-varying multipliers are evaluated at."""
        if self._held_step is not None:
            return self._held_step
        return compat.raw_iterations(self)

    def _multiplier_now(self, multiplier):
        """A time-varying multiplier's value for this step.

        Evaluated once per step for all the variables it applies to: torch
        reads every value as a float when the step starts; TensorFlow and
        JAX evaluate all schedules (the thaws as one vector) where the
        step's trace first needs one, and reuse the tensors.
        """
        values = self._step_values
        if values is None:  # outside Keras's pipeline
            return _multipliers.multiplier_at(
                multiplier, self._multiplier_step()
            )
        if not values:  # the step's first: all of them at once
            values.update(
                _multipliers.values_at(
                    self._schedules.values(), self._multiplier_step()
                )
            )
        return values[id(multiplier)]

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
    def _unscaled_learning_rate(self):
        schedule = self._learning_rate
        if schedule is None:
            return self.optimizer.learning_rate
        if isinstance(schedule, keras.Variable):
            return schedule
        # LearningRateSchedule or callable of the step.
        return schedule(compat.raw_iterations(self))

    def _get_current_learning_rate(self):
        lr = self._unscaled_learning_rate()
        return ops.multiply(ops.cast(lr, "float32"), self._lr_scale)

    def _has_schedule(self):
        if self._learning_rate is None:
            return not isinstance(
                compat.own_learning_rate(self.optimizer), keras.Variable
            )
        return not isinstance(self._learning_rate, keras.Variable)

    @property
    def learning_rate(self) -> Any:
        return self._get_current_learning_rate()

    @learning_rate.setter
    def learning_rate(
        self,
        learning_rate: float | LearningRateSchedule | Callable[[Any], Any],
    ) -> None:
        if isinstance(learning_rate, LearningRateSchedule) or callable(
            learning_rate
        ):
            if isinstance(self._learning_rate, keras.Variable):
                compat.untrack_variable(self, self._learning_rate)
            self._learning_rate = learning_rate
            self._lr_scale.assign(1.0)
            return
        value = float(ops.convert_to_numpy(learning_rate))
        if not math.isfinite(value) or value < 0:
            raise ValueError(
                "The learning rate must be a finite number >= 0. "
                f"Received: learning_rate={learning_rate!r}"
            )
        if not self._has_schedule():
            if self._learning_rate is None:
                self.optimizer.learning_rate = value
            else:
                self._learning_rate.assign(value)
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
        try:
            with compat.learning_rate_override(self, learning_rate):
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

    # ------------------------------------------------------------------ #
    # Applying gradients.
    # ------------------------------------------------------------------ #
    def apply(
        self,
        grads: Iterable[Any],
        trainable_variables: Iterable[keras.Variable] | None = None,
    ) -> None:
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
        if (
            self._schedules
            and keras.backend.backend() == "torch"
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
        active = self._plan(trainable_variables, "active")
        if len(active) < len(trainable_variables):
            grads = [grads[p] for p in active]
            trainable_variables = [trainable_variables[p] for p in active]
        if active:
            if self._schedules and (
                self.global_clipnorm or self.gradient_accumulation_steps
            ):
                grads = self._without_frozen_gradients(
                    grads, trainable_variables
                )
            # Keras's own pipeline, on the variables that train.
            with self._hyperparameters_now():
                super().apply(grads, trainable_variables)
        else:
            compat.raw_iterations(self).assign_add(1)

    @contextlib.contextmanager
    def _hyperparameters_now(self):
        """The wrapped optimizer's scheduled hyperparameters at this step.

        Inside, each name of `hyperparameters` is the schedule's value at
        the step (a float on torch, a float32 tensor in a compiled step), so
        the wrapped optimizer's own update reads it; the configured number
        is put back afterwards.
        """
        if not self.hyperparameters:
            yield
            return
        step = compat.raw_iterations(self)
        eager = keras.backend.backend() == "torch"
        try:
            for name, schedule in self.hyperparameters.items():
                value = schedule(step)
                if eager:
                    value = float(ops.convert_to_numpy(value))
                else:
                    value = ops.cast(value, "float32")
                    if name in compat.branched_hyperparameters(self.optimizer):
                        value = compat.branch_safe_value(
                            value, self._hyperparameter_numbers[name]
                        )
                compat.set_untracked_attribute(self.optimizer, name, value)
            yield
        finally:
            # The numbers kept at construction, not the values found on
            # entry: under `MirroredStrategy` the replicas run this in
            # threads, and one may enter while another's value is set.
            for name, value in self._hyperparameter_numbers.items():
                compat.set_untracked_attribute(self.optimizer, name, value)

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
        return {
            name: float(ops.convert_to_numpy(schedule(step)))
            for name, schedule in self.hyperparameters.items()
        }

    def _past_frozen_for_now(self, grads, variables):
        """`(grads, variables)` without the pairs of a missing gradient of
        a variable whose multiplier is 0 at this step (eager steps only)."""
        values = self._values_now()
        kept = [
            p
            for p, (g, v) in enumerate(zip(grads, variables))
            if g is not None or not self._frozen_in(values, v)
        ]
        return [grads[p] for p in kept], [variables[p] for p in kept]

    def _frozen_in(self, values, variable):
        """Whether `variable`'s multiplier is <= 0 in `values` (the floats
        of `_values_now()`; a constant multiplier as it is)."""
        m = self._multipliers[compat.variable_index(self, variable)]
        return (m if _multipliers.is_constant(m) else values[id(m)]) <= 0.0

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
        first = int(ops.convert_to_numpy(self._multiplier_step()))
        if self._held_step is not None:  # `hold_multipliers()`: one step
            steps = 1
        windows = [
            {
                key: _multipliers.multiplier_float(m, step)
                for key, m in self._schedules.items()
            }
            for step in range(first, first + steps)
        ]
        return [
            v
            for v in compat.built_variables(self)
            if all(self._frozen_in(values, v) for values in windows)
        ]

    def _without_frozen_gradients(self, grads, variables):
        """Zeroes the gradients of variables whose multiplier is 0 now.

        A variable frozen for now has no gradient, as in PyTorch: it counts
        in no global gradient norm and accumulates nothing.
        """
        step = self._multiplier_step()
        active = {}
        grads = list(grads)
        for p, variable in enumerate(variables):
            m = self._multipliers[compat.variable_index(self, variable)]
            if _multipliers.is_constant(m) or grads[p] is None:
                continue
            if id(m) not in active:
                active[id(m)] = ops.greater(
                    _multipliers.multiplier_at(m, step), 0.0
                )
            grads[p] = ops.where(
                active[id(m)], grads[p], ops.zeros_like(grads[p])
            )
        return grads

    def stateless_apply(
        self,
        optimizer_variables: Sequence[Any],
        grads: Sequence[Any],
        trainable_variables: Sequence[Any],
    ) -> tuple[list[Any], list[Any]]:
        if self._state_recorders:
            values = [
                v.value if isinstance(v, keras.Variable) else v
                for v in optimizer_variables
            ]
            for recorder in list(self._state_recorders):
                recorder._record(values)
        return super().stateless_apply(
            optimizer_variables, grads, trainable_variables
        )

    def _add_state_recorder(self, recorder):
        """JAX: `recorder._record(values)` gets each step's input state.

        Keras's JAX train step hands the optimizer state to
        `stateless_apply` only; `keras_lrx.metrics.LearningRateMetric`
        computes the step's rate from it.
        """
        self._state_recorders.add(recorder)

    def _plan(self, variables, kind):
        """`kind` of plan for this list of variables, worked out once.

        "active": positions of the variables not frozen (of LRX's own list);
        "multipliers": the multiplier of each variable (of the list the
        pipeline updates), one list object per variable list.
        """
        key = (kind,) + tuple(map(id, variables))
        plan = self._plans.get(key)
        if plan is None:
            if kind == "active":
                plan = [
                    p
                    for p, v in enumerate(variables)
                    if not _is_zero(
                        self._multipliers[compat.variable_index(self, v)]
                    )
                ]
            else:
                plan = [
                    self._multipliers[compat.variable_index(self, v)]
                    for v in variables
                ]
            self._plans[key] = plan
        return plan

    # Keras's pipeline reaches these through `compat.PipelineSteps`.
    def _frozen_averages(self):
        """Positions whose EMA stand-in keeps its value (frozen variables)."""
        return self._frozen

    def _update_all_variables(self, grads, variables, learning_rate):
        """Torch, stock optimizers: one pass; False where per variable."""
        update = self._update
        if self._schedules:
            # A new step: its multiplier values (see `_multiplier_now`).
            eager = keras.backend.backend() == "torch"
            compat.set_untracked_attribute(
                self, "_step_values", self._values_now() if eager else {}
            )
        if update.fused is None:
            update.before_variables(learning_rate)
            return False
        multipliers = self._plan(variables, "multipliers")
        if self._schedules:
            grads, variables, multipliers = self._training_now(
                grads, variables, multipliers
            )
        update.all_variables(grads, variables, learning_rate, multipliers)
        return True

    def _training_now(self, grads, variables, multipliers):
        """Torch one pass: the variables whose multiplier is > 0 this step,
        and their multipliers as floats (one list object per set of values,
        as the pass plans by list)."""
        values = self._step_values
        floats = tuple(
            m if _multipliers.is_constant(m) else values[id(m)]
            for m in multipliers
        )
        key = ("now", id(multipliers), floats)
        plan = self._plans.get(key)
        if plan is None:
            positions = [p for p, m in enumerate(floats) if m > 0.0]
            plan = (multipliers, positions, [floats[p] for p in positions])
            now = [k for k in self._plans if k[0] == "now"]
            if len(now) >= 8:  # a warmup gives new values every step
                for old in now:
                    del self._plans[old]
            self._plans[key] = plan
        _, positions, floats = plan
        if len(positions) == len(variables):
            return grads, variables, floats
        return (
            [grads[p] for p in positions],
            [variables[p] for p in positions],
            floats,
        )

    def _conditional_parts(self, grads_and_vars):
        """TensorFlow: `[(active, grads_and_vars)]`, the pairs of constant
        multipliers first (`active` None), then those of each time-varying
        multiplier with its "> 0 now" condition."""
        if not self._schedules:
            return [(None, grads_and_vars)]
        constant, groups = [], {}
        for pair in grads_and_vars:
            m = self._multipliers[compat.variable_index(self, pair[1])]
            if _multipliers.is_constant(m):
                constant.append(pair)
                continue
            # Thaws that start at one step share one condition.
            start = _multipliers.active_from(m)
            key = ("from", start) if start is not None else ("id", id(m))
            groups.setdefault(key, (m, []))[1].append(pair)
        parts = [(None, constant)] if constant else []
        if groups:
            # Every multiplier's value now, outside the conditions below: a
            # tensor made inside one condition's branch is not seen by the
            # others.
            self._multiplier_now(next(iter(groups.values()))[0])
        for (kind, start), (m, pairs) in groups.items():
            if kind == "from":
                active = ops.greater_equal(self._multiplier_step(), start)
            else:
                active = ops.greater(self._multiplier_now(m), 0.0)
            parts.append((active, pairs))
        return parts

    def _run_conditioned(self, loop, *args):
        """Runs Keras's per-variable loop inside a group's condition."""
        compat.set_untracked_attribute(self, "_conditioned", True)
        try:
            loop(*args)
        finally:
            compat.set_untracked_attribute(self, "_conditioned", False)

    def update_step(
        self, gradient: Any, variable: keras.Variable, learning_rate: Any
    ) -> None:
        index = compat.variable_index(self, variable)
        multiplier = self._multipliers[index]
        if _multipliers.is_constant(multiplier):
            self._update.step(gradient, variable, learning_rate, multiplier)
            return
        # A multiplier that changes over time: while it is 0, the variable
        # and its slots stay as they are (no update, decay or moments).
        value = self._multiplier_now(multiplier)
        if self._conditioned:  # its group's condition holds (TF, JAX)
            self._update.step(gradient, variable, learning_rate, value)
            return
        compat.run_where(
            ops.greater(value, 0.0),
            lambda: self._update.step(gradient, variable, learning_rate, value),
            [variable] + self.optimizer.variables,
        )

    def _decay_by_own_rule(self, variables):
        # Keras's stock decay runs per variable in `update_step`; a rule of
        # the wrapped optimizer's own (Muon's) runs here, where Keras runs it
        # (on a variable whose multiplier changes over time, while it is > 0).
        if not self._update.own_weight_decay:
            return
        if not self._schedules:
            self._update.own_decay(variables)
            return
        constant = []
        for variable in variables:
            index = compat.variable_index(self, variable)
            multiplier = self._multipliers[index]
            if _multipliers.is_constant(multiplier):
                constant.append(variable)
                continue
            # Keras decays before `_backend_update_step` starts the step's
            # multiplier values: evaluated here.
            value = _multipliers.multiplier_at(
                multiplier, self._multiplier_step()
            )
            compat.run_where(
                ops.greater(value, 0.0),
                lambda v=variable: self._update.own_decay([v]),
                [variable],
            )
        if constant:
            self._update.own_decay(constant)

    # ------------------------------------------------------------------ #
    # Diagnostics.
    # ------------------------------------------------------------------ #
    def _check_built(self, what):
        if self._resolutions is None:
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
            [r.source for r in self._resolutions],
            [now[r.path] for r in self._resolutions],
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
        base = float(ops.convert_to_numpy(self.learning_rate))
        now = self.current_multipliers()
        decays = self.variable_weight_decays
        rows = []
        for variable, r in zip(compat.built_variables(self), self._resolutions):
            rows.append(
                {
                    "path": r.path,
                    "shape": tuple(variable.shape),
                    "multiplier": r.multiplier,
                    "multiplier_now": now[r.path],
                    "matched": r.source,
                    "learning_rate": base * now[r.path],
                    "weight_decay": decays[r.path],
                }
            )
        header = ("variable", "shape", "multiplier", "matched key", "lr now")
        if self.optimizer.weight_decay:
            header += ("weight decay",)
        table = [header] + [
            (
                row["path"],
                str(row["shape"]),
                _multiplier_label(row["multiplier"], row["multiplier_now"]),
                row["matched"],
                f"{row['learning_rate']:.4g}",
                f"{row['weight_decay']:.4g}",
            )[: len(header)]
            for row in rows
        ]
        widths = [
            max(len(line[i]) for line in table) for i in range(len(header))
        ]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
            for line in table
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        frozen_now = sum(row["multiplier_now"] == 0.0 for row in rows)
        lines.append(
            f"{self.name}: {type(self.optimizer).__name__}, base "
            f"learning rate {base:.4g}, {frozen_now} frozen of "
            f"{len(rows)} variables"
            + (
                f" ({sum(self._frozen)} for good)"
                if frozen_now != sum(self._frozen)
                else ""
            )
        )
        (print_fn or print)("\n".join(lines))
        return rows

    # ------------------------------------------------------------------ #
    # Serialization.
    # ------------------------------------------------------------------ #
    def get_config(self) -> dict[str, Any]:
        schedule = self._learning_rate
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
            **config,
        )


#: The wrapped optimizers whose update reads `beta_1`/`beta_2` only through
#: `keras.ops` (never in a Python branch), so a tensor may stand in for the
#: number during a compiled step. (SGD and RMSprop branch on `momentum` in
#: Python; see `compat.branched_hyperparameters`.)
_BETAS_READ_BY_OPS = ("Adam", "AdamW", "Adamax", "Nadam", "Lion")


def _check_hyperparameters(hyperparameters, optimizer):
    """`hyperparameters` as a dict name -> schedule, checked against the
    wrapped optimizer."""
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
        if name in ("beta_1", "beta_2"):
            reads_by_ops = any(
                isinstance(optimizer, getattr(keras.optimizers, kind))
                for kind in _BETAS_READ_BY_OPS
            )
            allowed = reads_by_ops and isinstance(
                getattr(optimizer, name, None), numbers.Real
            )
        elif name in compat.branched_hyperparameters(optimizer):
            number = getattr(optimizer, name, None)
            if isinstance(number, numbers.Real) and number <= 0:
                raise ValueError(
                    f"Argument `hyperparameters`: {name!r} can follow a "
                    f"schedule when the wrapped {type(optimizer).__name__} "
                    f"is built with {name} > 0 (its momentum slots exist "
                    "only then; the schedule may still reach 0). Received: "
                    f"{name}={number!r} on the wrapped optimizer"
                )
            allowed = isinstance(number, numbers.Real)
        elif name == "weight_decay":
            allowed = isinstance(
                optimizer.weight_decay, numbers.Real
            ) and not compat.overrides_weight_decay(optimizer)
        else:
            allowed = False
        if not allowed:
            raise ValueError(
                "Argument `hyperparameters`: LRX can schedule `beta_1` and "
                f"`beta_2` of {', '.join(_BETAS_READ_BY_OPS)}, `momentum` "
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


def _check_decay_factor(value, where):
    """A weight-decay factor is a number >= 0 (not a schedule of the step)."""
    if not _multipliers.is_constant(value):
        raise ValueError(
            "Argument `weight_decay_multipliers` takes numbers >= 0 (a "
            "variable's weight decay is the optimizer's times the number); "
            f"a schedule of the step is not supported there. Received: "
            f"{value!r} for {where}"
        )


def _is_zero(multiplier):
    """A constant multiplier of 0: a variable that never trains."""
    return _multipliers.is_constant(multiplier) and multiplier == 0.0


def _multiplier_label(multiplier, now):
    label = _multipliers.describe_multiplier(multiplier)
    if _multipliers.is_constant(multiplier):
        return label
    return f"{label} = {now:g} now"


def _copy_of(variable):
    """An initializer that returns a copy of `variable`'s current value."""

    def initializer(shape, dtype=None):
        value = ops.copy(ops.convert_to_tensor(variable))
        return ops.cast(value, dtype or variable.dtype)

    return initializer


def _pipeline_options(optimizer):
    """The wrapped optimizer's settings of Keras's step pipeline."""
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
