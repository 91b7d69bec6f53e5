"""LRX: per-variable learning rates for any Keras 3 optimizer."""

import contextlib
import math
import numbers

import keras
from keras import ops
from keras.optimizers.schedules import LearningRateSchedule

from keras_lrx import _keras_compat as compat
from keras_lrx import _validation
from keras_lrx.multipliers import MultiplierMap

__all__ = ["LRX"]


def _delegate_schedule():  # placeholder handed to the base class only
    return 0.0


@keras.saving.register_keras_serializable(package="keras_lrx")
class LRX(keras.optimizers.Optimizer):
    """Wraps any Keras optimizer so each variable trains at its own rate.

    Each trainable variable `v` is updated by the wrapped optimizer's own
    rule with

        learning_rate(v, t) = schedule(t) * scale * multiplier(v)

    where `t` is the optimizer's step counter (`iterations`; with
    `gradient_accumulation_steps` Keras's convention of the raw counter is
    kept) and `scale` is 1 until `learning_rate` is assigned while a schedule
    is in use (see below). Variables with equal multipliers form one group and
    are updated in one call of the wrapped optimizer; on the torch backend
    Keras's stock optimizers update all groups in one pass
    (`keras_lrx._torch_fused`). A multiplier of 0 freezes a variable: it never
    changes and the wrapped optimizer allocates no slot variables for it.

    Everything else the wrapped optimizer does keeps working unchanged:
    gradient clipping (`clipnorm`, `clipvalue`, `global_clipnorm` -- still
    computed over all trainable variables), `gradient_accumulation_steps`,
    `use_ema`, `loss_scale_factor` and `exclude_from_weight_decay`. Decoupled
    weight decay (AdamW, Lion, any optimizer's `weight_decay`) follows the
    per-variable rate, `lr * multiplier * weight_decay`, as PyTorch parameter
    groups do; pass `weight_decay_follows_multiplier=False` to decay every
    (non-frozen) variable at the base rate instead.

    `opt.learning_rate` reads the current base rate (`schedule(t) * scale`).
    Assigning a number sets the base rate when there is no schedule, or
    rescales the schedule so that its current value becomes the assigned one
    (the warmup/cosine shape continues, lower). That is what makes Keras's own
    `ReduceLROnPlateau` and `LearningRateScheduler` callbacks work on a
    scheduled LRX.

    Args:
        optimizer: A `keras.optimizers.Optimizer` instance (or a name/config
            understood by `keras.optimizers.get`). LRX owns it from now on:
            it must not be built yet, and base-optimizer options such as
            `clipnorm` or `weight_decay` are set on it, not on LRX.
        schedule: The base learning rate. None uses the wrapped optimizer's
            own `learning_rate` (a float or a schedule); a float; a
            `keras.optimizers.schedules.LearningRateSchedule`; or a callable
            taking the step and returning the rate. Defaults to None.
        multipliers: None (all 1.0), a dict mapping keys to multipliers, or a
            callable `variable -> float | None`. Keys are layer names, exact
            variable paths, regular expressions matched against
            `variable.path` with `re.fullmatch`, or `keras.layers.Layer`
            objects; see `keras_lrx.multipliers` for how overlapping keys
            resolve (the most specific wins). Values are finite floats >= 0.
        name: Name of the optimizer. Defaults to "lrx".
        weight_decay_follows_multiplier: Whether decoupled weight decay of a
            variable is scaled by its multiplier. Defaults to True.
        strict: Whether a multiplier key that selects only non-trainable
            variables (a frozen layer, base weights after `enable_lora`) is
            an error when the optimizer is built. A key that selects no
            variable at all is always an error. Defaults to False.

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
            wrapped optimizer that is already built, base-optimizer
            arguments given to LRX, and (when built) a key matching no
            variable.
    """

    def __init__(
        self,
        optimizer,
        schedule=None,
        multipliers=None,
        name=None,
        weight_decay_follows_multiplier=True,
        strict=False,
        **kwargs,
    ):
        _check_no_extra_arguments(kwargs)
        weight_decay_follows_multiplier = _validation.check_bool(
            "weight_decay_follows_multiplier", weight_decay_follows_multiplier
        )
        strict = _validation.check_bool("strict", strict)
        optimizer = self._check_optimizer(optimizer)
        base_learning_rate = self._check_schedule(schedule)
        multiplier_map = MultiplierMap(multipliers)
        compat.check_distribution_strategy(optimizer)

        super().__init__(learning_rate=base_learning_rate, name=name or "lrx")
        if schedule is None:
            self._learning_rate = None
        # One step counter: the wrapped optimizer's.
        compat.share_step_counter(self, optimizer)
        self.inner_optimizer = optimizer
        # The wrapped optimizer's `learning_rate` reads LRX's base rate, so
        # code that unwraps `inner_optimizer` (Keras's TensorBoard) logs the
        # rate in use; its own rate is kept (and evaluated) here.
        compat.set_untracked_attribute(
            self,
            "_inner_learning_rate",
            compat.redirect_learning_rate(optimizer, self._base_learning_rate),
        )
        self.weight_decay_follows_multiplier = weight_decay_follows_multiplier
        self.strict = strict
        self._multiplier_map = multiplier_map
        self._lr_scale = self.add_variable(
            shape=(),
            initializer="ones",
            dtype="float32",
            aggregation="only_first_replica",
            name="learning_rate_scale",
        )
        self._resolutions = None
        self._frozen = None
        self._active_multipliers = None
        self._step_state = []
        self._fused_update = None
        self._fused_decay = None
        # Grouping of each variable list the wrapped optimizer is called
        # with, worked out once: it is fixed at build.
        compat.set_untracked_attribute(self, "_plans", {})

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
    def build(self, var_list):
        var_list = list(var_list)
        trainable = {id(v) for v in var_list}
        model_weights = compat.model_weights_on_call_stack(var_list) or []
        others = [w for w in model_weights if id(w) not in trainable]
        resolutions = self._multiplier_map.resolve(
            var_list, others, strict=self.strict
        )  # may raise
        compat.check_distribution_strategy(self.inner_optimizer)
        compat.set_trainable_variables(self, var_list)
        self._resolutions = resolutions
        self._frozen = [r.multiplier == 0.0 for r in resolutions]
        active = [v for v, f in zip(var_list, self._frozen) if not f]
        self._active_multipliers = [
            r.multiplier for r in resolutions if r.multiplier != 0.0
        ]
        with compat.record_step_state(self.inner_optimizer) as state:
            self.inner_optimizer.build(active)
        self._step_state = list(state)
        if keras.backend.backend() == "torch":
            from keras_lrx import _torch_fused

            self._fused_update = _torch_fused.update_rule(self.inner_optimizer)
            self._fused_decay = _torch_fused.weight_decay_rule(
                self.inner_optimizer
            )
        compat.install_update_hooks(
            self.inner_optimizer, self._grouped_update, self._grouped_decay
        )

    @property
    def variables(self):
        return compat.own_variables(self) + self.inner_optimizer.variables

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    @property
    def multiplier_map(self):
        """The `MultiplierMap` that resolves this optimizer's `multipliers`."""
        return self._multiplier_map

    @property
    def variable_multipliers(self):
        """Dict of variable path -> multiplier (after `build`)."""
        if self._resolutions is None:
            return {}
        return {r.path: r.multiplier for r in self._resolutions}

    # ------------------------------------------------------------------ #
    # The learning rate.
    # ------------------------------------------------------------------ #
    def _unscaled_learning_rate(self):
        schedule = self._learning_rate
        if schedule is None:
            return compat.evaluate_learning_rate(
                self.inner_optimizer, self._inner_learning_rate
            )
        if isinstance(schedule, keras.Variable):
            return schedule
        # LearningRateSchedule or callable of the step.
        return schedule(compat.raw_iterations(self))

    def _get_current_learning_rate(self):
        lr = self._unscaled_learning_rate()
        return ops.multiply(ops.cast(lr, "float32"), self._lr_scale)

    def _base_learning_rate(self):
        """The base rate, as the wrapped optimizer's `learning_rate` reads."""
        return self._get_current_learning_rate()

    def _has_schedule(self):
        if self._learning_rate is None:
            return not isinstance(self._inner_learning_rate, keras.Variable)
        return not isinstance(self._learning_rate, keras.Variable)

    @property
    def learning_rate(self):
        return self._get_current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, learning_rate):
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
                self._inner_learning_rate.assign(value)
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
    def override_learning_rate(self, learning_rate):
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

    def effective_learning_rates(self):
        """Dict of multiplier group -> current effective rate (after build).

        Keys are the multipliers; values `learning_rate * multiplier`.
        """
        self._check_built("effective_learning_rates()")
        base = float(ops.convert_to_numpy(self.learning_rate))
        groups = sorted({r.multiplier for r in self._resolutions})
        return {m: base * m for m in groups}

    # ------------------------------------------------------------------ #
    # Applying gradients.
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
                self.built = True
            self._check_variables_are_known(trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError(
                f"Received {len(grads)} gradients for "
                f"{len(trainable_variables)} variables."
            )
        active = self._plan(trainable_variables, "active")
        if len(active) < len(trainable_variables):
            grads = [grads[p] for p in active]
            trainable_variables = [trainable_variables[p] for p in active]
        if active:
            self.inner_optimizer.apply(grads, trainable_variables)
        else:
            compat.raw_iterations(self).assign_add(1)

    def _plan(self, variables, kind):
        """`kind` of plan for this list of variables, worked out once.

        "active": positions of the variables not frozen (of LRX's own list);
        "groups": positions grouped by multiplier, first-seen first, and
        the multiplier of each position (of the wrapped optimizer's list).
        """
        key = (kind,) + tuple(map(id, variables))
        plan = self._plans.get(key)
        if plan is None:
            if kind == "active":
                plan = [
                    p
                    for p, v in enumerate(variables)
                    if not self._frozen[compat.variable_index(self, v)]
                ]
            else:
                plan = self._groups(variables)
            self._plans[key] = plan
        return plan

    def _groups(self, variables):
        """(positions by multiplier, first-seen first; each multiplier)."""
        inner = self.inner_optimizer
        multipliers = [
            self._active_multipliers[compat.variable_index(inner, v)]
            for v in variables
        ]
        groups = {}
        for position, m in enumerate(multipliers):
            groups.setdefault(m, []).append(position)
        return groups, multipliers

    def _grouped_update(self, original, grads, variables, learning_rate):
        del learning_rate  # the wrapped optimizer's reading of the base rate
        base = self._get_current_learning_rate()
        groups, multipliers = self._plan(variables, "groups")
        if len(groups) > 1 and self._fused_update is not None:
            # One pass for all groups (torch: see keras_lrx._torch_fused).
            self._fused_update(grads, variables, base, multipliers)
            return
        saved = None
        if len(groups) > 1 and self._step_state:
            saved = compat.snapshot(self._step_state)
        for i, (m, positions) in enumerate(groups.items()):
            if i and saved is not None:
                # Per-step global state (e.g. Nadam's u_product) advances
                # once per step, not once per group.
                compat.restore(self._step_state, saved)
            lr = base if m == 1.0 else ops.multiply(base, m)
            original(
                [grads[p] for p in positions],
                [variables[p] for p in positions],
                lr,
            )

    def _grouped_decay(self, original, variables):
        inner = self.inner_optimizer
        if inner.weight_decay is None:
            return
        # Skipping excluded variables here keeps every call non-empty (the
        # torch backend's fused decay fails on an empty list).
        variables = [v for v in variables if compat.uses_weight_decay(inner, v)]
        if not variables:
            return
        if self.weight_decay_follows_multiplier:
            groups, multipliers = self._plan(variables, "groups")
            if len(groups) > 1 and self._fused_decay is not None:
                base = self._get_current_learning_rate()
                self._fused_decay(variables, base, multipliers)
                return
            groups = groups.items()
        else:
            groups = [(1.0, range(len(variables)))]

        def rate(m):
            def read():
                base = self._get_current_learning_rate()
                return base if m == 1.0 else ops.multiply(base, m)

            return read

        compat.apply_weight_decay_per_group(
            inner,
            original,
            [
                (rate(m), [variables[p] for p in positions])
                for m, positions in groups
            ],
        )

    def finalize_variable_values(self, var_list):
        var_list = list(var_list)
        if self._frozen is not None and len(var_list) == len(self._frozen):
            var_list = [v for v, f in zip(var_list, self._frozen) if not f]
        self.inner_optimizer.finalize_variable_values(var_list)

    def scale_loss(self, loss):
        return self.inner_optimizer.scale_loss(loss)

    # LossScaleOptimizer (which Keras wraps around LRX under mixed_float16)
    # switches off `loss_scale_factor` on the optimizer it wraps: that must
    # reach the optimizer that actually unscales the gradients.
    @property
    def loss_scale_factor(self):
        inner = self.__dict__.get("inner_optimizer")
        return None if inner is None else inner.loss_scale_factor

    @loss_scale_factor.setter
    def loss_scale_factor(self, value):
        inner = self.__dict__.get("inner_optimizer")
        if inner is not None:
            inner.loss_scale_factor = value

    # Keras's SwapEMAWeights unwraps one `inner_optimizer` (meant for
    # LossScaleOptimizer) and swaps `_trainable_variables` with the moving
    # averages: under mixed_float16 it reaches LRX, which answers with the
    # wrapped optimizer's averages. A frozen variable has no average (no
    # slots); a copy of it, made on first use, stands in (swapping a
    # variable with itself would zero it on TensorFlow).
    @property
    def _model_variables_moving_average(self):
        inner = self.__dict__.get("inner_optimizer")
        if inner is None or not inner.use_ema or self._frozen is None:
            raise AttributeError("_model_variables_moving_average")
        averages = iter(compat.ema_averages(inner))
        stand_ins = self.__dict__.setdefault("_frozen_ema_stand_ins", {})
        result = []
        for v, frozen in zip(compat.built_variables(self), self._frozen):
            if not frozen:
                result.append(next(averages))
                continue
            if id(v) not in stand_ins:
                stand_ins[id(v)] = keras.Variable(
                    ops.convert_to_numpy(v),
                    dtype=v.dtype,
                    trainable=False,
                    name="frozen_ema_stand_in",
                )
            result.append(stand_ins[id(v)])
        return result

    @property
    def use_ema(self):
        inner = self.__dict__.get("inner_optimizer")
        return False if inner is None else inner.use_ema

    @use_ema.setter
    def use_ema(self, value):
        if value:
            raise ValueError(
                "Set `use_ema` on the wrapped optimizer, not on LRX. "
                f"Received: use_ema={value!r}"
            )

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

    def describe(self, print_fn=None):
        """Prints a table: variable, shape, multiplier, deciding key, rate.

        Args:
            print_fn: Function called with the table text. Defaults to
                `print`.

        Returns:
            A list of dicts, one per variable, with the same columns.
        """
        self._check_built("describe()")
        base = float(ops.convert_to_numpy(self.learning_rate))
        rows = []
        for variable, r in zip(compat.built_variables(self), self._resolutions):
            rows.append(
                {
                    "path": r.path,
                    "shape": tuple(variable.shape),
                    "multiplier": r.multiplier,
                    "matched": r.source,
                    "learning_rate": base * r.multiplier,
                }
            )
        header = ("variable", "shape", "multiplier", "matched key", "lr now")
        table = [header] + [
            (
                row["path"],
                str(row["shape"]),
                f"{row['multiplier']:g}",
                row["matched"],
                f"{row['learning_rate']:.4g}",
            )
            for row in rows
        ]
        widths = [max(len(line[i]) for line in table) for i in range(5)]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
            for line in table
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.append(
            f"{self.name}: {type(self.inner_optimizer).__name__}, base "
            f"learning rate {base:.4g}, {sum(self._frozen)} frozen of "
            f"{len(rows)} variables"
        )
        (print_fn or print)("\n".join(lines))
        return rows

    # ------------------------------------------------------------------ #
    # Serialization.
    # ------------------------------------------------------------------ #
    def get_config(self):
        schedule = self._learning_rate
        if schedule is None:
            schedule_config = None
        elif isinstance(schedule, keras.Variable):
            schedule_config = float(ops.convert_to_numpy(schedule))
        elif isinstance(schedule, LearningRateSchedule):
            schedule_config = keras.optimizers.schedules.serialize(schedule)
        else:
            schedule_config = keras.saving.serialize_keras_object(schedule)
        inner = self.inner_optimizer
        with compat.learning_rate_override(inner, self._inner_learning_rate):
            optimizer_config = keras.saving.serialize_keras_object(inner)
        return {
            "name": self.name,
            "optimizer": optimizer_config,
            "schedule": schedule_config,
            "multipliers": self._multiplier_map.get_config(),
            "weight_decay_follows_multiplier": (
                self.weight_decay_follows_multiplier
            ),
            "strict": self.strict,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
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
        return cls(
            optimizer, schedule=schedule, multipliers=multipliers, **config
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
