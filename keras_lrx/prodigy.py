"""Prodigy and D-Adapt Adam: Adam with one global, estimated step size `d`.

Both optimizers sum statistics over every variable of a step (a running
numerator and an L1 norm) and estimate from the sums one global `d`, the
distance to the solution, which scales every variable's step. Keras calls
`update_step(gradient, variable, learning_rate)` once per variable, so a
step here is split in two:

1. `before_update_steps(learning_rate)`, once per step before any variable
   (Keras's `_backend_update_step`, which `LRX` also runs once per step):
   finalises the previous step's `d` from its sums, resets the sums and
   stores the step's global rate;
2. `update_step`, per variable: moments, the variable's contributions to the
   sums, and its update with the `d` of the step's start.

The `d` of a step is therefore finalised lazily, at the start of the next
one; the `d` property computes it from the stored sums without assigning
anything, so it is correct after any step. Every piece of state is an
optimizer variable: JAX's `stateless_apply`, `model.save` ->
`keras.saving.load_model` and resuming mid-run continue bit for bit.

Per-variable rates (`LRX` multipliers) follow D-Adaptation's `layer_scale`:
the global rate of the step is the `learning_rate` handed to the per-step
hook (a bare optimizer's own rate; `LRX`'s base rate `schedule(t) * scale`),
and a variable whose `update_step` receives `learning_rate = base * m` is
scaled by `r = learning_rate / base = m`: `r` weights its update, its
decoupled decay and its contributions to the estimate's sums. One `d` stays
global.
"""

import math

import keras
from keras import ops

from keras_lrx import _keras_compat as compat
from keras_lrx import _validation
from keras_lrx._state_cache import copy_initializer

_F32 = "float32"


def _check_beta(name, value, allow_none=False):
    return _validation.check_float(
        name, value, low=0.0, high=1.0, high_open=True, allow_none=allow_none
    )


def _check_growth_rate(value):
    """`growth_rate`: a number >= 1, `inf` (no limit) included."""
    if _validation.is_number(value) and float(value) == math.inf:
        return math.inf
    return _validation.check_float("growth_rate", value, low=1.0)


def _one_minus_power(beta, k):
    """`1 - beta^k` for a float `beta` and a float32 tensor `k`, accurate
    where `beta^k` is close to 1."""
    if beta == 0.0:
        return ops.ones_like(k)
    return -ops.expm1(k * math.log(beta))


def _check_learning_rate(value):
    """A float >= 0, a `LearningRateSchedule` or a callable of the step."""
    if _validation.is_number(value):
        return _validation.check_float("learning_rate", value, low=0.0)
    if callable(value):  # a schedule or a callable of the step
        return value
    raise TypeError(
        "Argument `learning_rate` must be a float >= 0, a "
        "`keras.optimizers.schedules.LearningRateSchedule` or a callable of "
        f"the step. Received: learning_rate={value!r} "
        f"(of type {type(value).__name__})"
    )


class _GlobalStepSize(compat.StepStatistics, keras.optimizers.Optimizer):
    """What Prodigy and D-Adapt Adam share: the step's global rate, the
    per-variable scale `r`, the step counter of the estimate, the lazy
    finalisation and the decoupled decay."""

    def __init__(self, learning_rate, weight_decay, name, **kwargs):
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            name=name,
            **kwargs,
        )

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._estimate_state = {
            name: self.add_variable(
                shape=(),
                initializer=keras.initializers.Constant(value),
                dtype=_F32,
                name=name,
            )
            for name, value in self._scalars
        }
        # The step's global rate, stored by `before_update_steps`.
        self._global_rate = self.add_variable(
            shape=(), initializer="zeros", dtype=_F32, name="global_rate"
        )
        self._build_slots(var_list)

    # -- the per-step hook -------------------------------------------- #
    def before_update_steps(self, learning_rate):
        """Finalises the last step's estimate; stores the step's rate.

        Called once per step before the per-variable `update_step`s (by
        Keras's step and by `LRX`'s, see `keras_lrx._keras_compat`).
        """
        if not self.built:
            return
        state = self._estimate_state
        for name, value in self._finalised().items():
            self.assign(state[name], value)
        self.assign(self._global_rate, ops.cast(learning_rate, _F32))

    @property
    def d(self):
        """The current estimate `d` (a float32 scalar tensor).

        After a step, the `d` the next step will use: computed from the
        step's sums, which the next step then folds into the state.
        """
        if not self.built:
            return ops.convert_to_tensor(self.d0, _F32)
        return self._finalised()["d"]

    def _state_values(self):
        """The scalar state's values (tensors), by name."""
        return {
            name: ops.convert_to_tensor(variable)
            for name, variable in self._estimate_state.items()
        }

    def _step_values(self, variable, learning_rate):
        """`(d, dlr, r, active)` for `variable` at this step."""
        state = self._state_values()
        d = state["d"]
        base = ops.convert_to_tensor(self._global_rate)
        if self.use_bias_correction:
            # `1 - beta^k` as `-expm1(k * log(beta))`: in float32, `1 -
            # 0.999` itself is 1e-5 off (0.999 is not a float32).
            k = state["k"] + 1.0
            correction = ops.sqrt(_one_minus_power(self.beta_2, k)) / (
                _one_minus_power(self.beta_1, k)
            )
            dlr = d * base * correction
        else:
            dlr = d * base
        rate = ops.cast(learning_rate, _F32)
        positive = ops.greater(base, 0.0)
        r = ops.where(positive, rate / ops.where(positive, base, 1.0), 0.0)
        # A zero rate (a global rate of 0): the step changes nothing, as
        # prodigyopt and dadaptation skip such a step.
        active = ops.greater(rate, 0.0)
        return d, dlr, r, active

    def _read(self, gradient, variable, learning_rate):
        """`(g, step values, slots, their values)` of `variable`'s update:
        the gradient dense and in the variable's dtype (an embedding's
        IndexedSlices too: the step's sums read every entry), `_step_values`,
        and its first-moment, second-moment and gradient-sum slots."""
        index = compat.variable_index(self, variable)
        g = ops.cast(compat.dense_gradient(gradient), variable.dtype)
        slots = (
            self._exp_avgs[index],
            self._exp_avg_sqs[index],
            self._grad_sums[index],
        )
        values = tuple(ops.convert_to_tensor(slot) for slot in slots)
        return g, self._step_values(variable, learning_rate), slots, values

    def _add_to_sums(self, numerator, denominator):
        state = self._estimate_state
        self.assign_add(state["step_numerator"], numerator)
        self.assign_add(state["step_denominator"], denominator)

    def _decayed(self, variable, x, rate):
        """`x` (the value of `variable`) after decoupled decay at `rate`:
        `x - x * weight_decay * rate`, as prodigyopt and dadaptation
        write it (before the step)."""
        if self.weight_decay and compat.uses_weight_decay(self, variable):
            return x - x * ops.cast(rate * self.weight_decay, x.dtype)
        return x

    def _shared_config(self):
        return {
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "use_bias_correction": self.use_bias_correction,
            "d0": self.d0,
            "growth_rate": self.growth_rate,
        }


@keras.saving.register_keras_serializable(package="keras_lrx")
class Prodigy(_GlobalStepSize):
    """Prodigy: Adam whose step size estimates itself (prodigyopt's rule).

    Leave `learning_rate` at 1 (or use a schedule that peaks at 1, such as
    cosine decay): Prodigy estimates the scale `d` of the step itself,
    starting from `d0`, growing it quickly while the iterates move away from
    the start. Works alone, in `model.compile`, and inside `keras_lrx.LRX`,
    where a variable's multiplier `m` scales its step the way D-Adaptation's
    `layer_scale` does (prodigyopt refuses different rates per group).

    The update, as prodigyopt 1.1.2's `Prodigy` (`decouple=True`,
    `slice_p=1`) writes it. At step `k` (from 0) with global rate `lr`,
    `bc = sqrt(1 - beta_2^(k+1)) / (1 - beta_1^(k+1))` with
    `use_bias_correction` (else 1) and `dlr = d * lr * bc`; for each
    variable `x` with gradient `g`, initial value `x0` and scale `r` (1
    alone; its multiplier under LRX):

        numerator_step += r * (d / d0) * dlr * <g, x0 - x>
        m = beta_1 * m + r * d * (1 - beta_1) * g
        v = beta_2 * v + d^2 * (1 - beta_2) * g^2
        s = beta_3 * s + (d / d0) * dlr * g   (d / d0 * d with safeguard)
        denominator += r * ||s||_1
        x = x - weight_decay * dlr * r * x
        x = x - dlr * m / (sqrt(v) + d * epsilon)
                      (beta_1 = 0: x - dlr * d * r * g / (sqrt(v) + d * eps))

    and after every variable, from the sums (a step whose `denominator` is
    0, no gradient yet, changes no estimate):

        numerator = beta_3 * numerator + numerator_step
        d_hat = d_coef * numerator / denominator
        d = max(d, d_hat) if d == d0 else d
        d_max = max(d_max, d_hat)
        d = min(d_max, d * growth_rate)

    Where it differs from prodigyopt, because Keras updates one variable
    at a time and the new `d` needs every variable's sums:

    * prodigyopt computes the new `d` before it moves any variable and uses
      it in the `d * epsilon` of the denominator; here every variable moves
      with the `d` of the step's start (the new `d` is folded in when the
      next step starts). The term is small except in the steps where `d`
      jumps, but the estimate feeds on the weights: over 100 steps of a
      small MLP (weights of order 1) it moves them by 1.3e-5 at a constant
      rate and by 1.6e-4 under cosine decay (`tests/test_prodigy.py`
      measures it; with `epsilon` out of the way the two agree to float32
      noise);
    * with `beta_1 = 0` prodigyopt's step itself uses the new `d`
      (`dlr * d_new * g / ...`); here the step's start `d`;
    * a step whose sums are 0 (no gradient so far) leaves `d` and the bias
      correction's step count as they are in both, but prodigyopt also
      skips its weight decay; here the weights decay.

    Per-variable rates: the global rate `lr` is the rate of the step (a
    bare Prodigy's own `learning_rate`, `LRX`'s base rate under `LRX`, which
    hands it to the per-step hook), and the `learning_rate` a variable's
    `update_step` receives is `lr * r`; `r` enters as D-Adaptation 3.2's
    `layer_scale` (in its first moment, the numerator and the L1 sum) and
    also scales the variable's decay. `d` stays one, global.

    Args:
        learning_rate: Float, `LearningRateSchedule` or callable. Scales
            Prodigy's estimated step (`dlr = d * learning_rate`). Defaults
            to 1.0.
        beta_1: Float in [0, 1). Decay of the first moment. Defaults to 0.9.
        beta_2: Float in [0, 1). Decay of the second moment. Defaults to
            0.999.
        beta_3: Float in [0, 1) or None. Decay of the estimate's running
            sums; None is `sqrt(beta_2)`. Defaults to None.
        epsilon: Float > 0. Added to `sqrt(v)`, times `d`. Defaults to 1e-8.
        weight_decay: Float >= 0 or None (none). Decoupled (AdamW-style)
            decay at `dlr * r`, Prodigy's form. Keras's
            `exclude_from_weight_decay` applies. The decay is part of the
            update step: `LRX` refuses `weight_decay_multipliers` for it,
            and its `weight_decay_follows_multiplier` does not apply (the
            decay always follows `r`). Defaults to 0.0.
        use_bias_correction: Bool. Adam's bias correction in `dlr`.
            Defaults to False.
        safeguard_warmup: Bool. Leaves `lr` out of the estimate's
            denominator (for a warmup schedule). Defaults to False.
        d0: Float > 0. Initial estimate. Defaults to 1e-6.
        d_coef: Float > 0. Coefficient of the estimate. Defaults to 1.0.
        growth_rate: Float >= 1 or `inf`. Largest factor by which `d`
            grows per step. Defaults to `inf`.
        name: String. Defaults to "prodigy".
        **kwargs: Keras's base optimizer arguments (`clipnorm`,
            `global_clipnorm`, `use_ema`, `loss_scale_factor`, ...).

    Raises:
        TypeError: An argument of the wrong type.
        ValueError: An argument out of its range (negative, NaN, ...).

    Example:

    >>> import numpy as np
    >>> import keras
    >>> import keras_lrx
    >>> model = keras.Sequential([
    ...     keras.Input((3,)),
    ...     keras.layers.Dense(4, name="body"),
    ...     keras.layers.Dense(1, name="head"),
    ... ])
    >>> optimizer = keras_lrx.LRX(
    ...     keras_lrx.experimental.Prodigy(), multipliers={"body": 0.1})
    >>> model.compile(optimizer, "mse")
    >>> x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    >>> _ = model.fit(x, x[:, :1], epochs=3, verbose=0)
    >>> bool(float(optimizer.optimizer.d) > 1e-6)  # d has grown from d0
    True

    Reference:
        Mishchenko & Defazio, "Prodigy: An Expeditiously Adaptive
        Parameter-Free Learner", ICML 2024, https://arxiv.org/abs/2306.06101
    """

    def __init__(
        self,
        learning_rate=1.0,
        beta_1=0.9,
        beta_2=0.999,
        beta_3=None,
        epsilon=1e-8,
        weight_decay=0.0,
        use_bias_correction=False,
        safeguard_warmup=False,
        d0=1e-6,
        d_coef=1.0,
        growth_rate=math.inf,
        name="prodigy",
        **kwargs,
    ):
        # Every check before anything is assigned.
        learning_rate = _check_learning_rate(learning_rate)
        beta_1 = _check_beta("beta_1", beta_1)
        beta_2 = _check_beta("beta_2", beta_2)
        beta_3 = _check_beta("beta_3", beta_3, allow_none=True)
        epsilon = _validation.check_float(
            "epsilon", epsilon, low=0.0, low_open=True
        )
        weight_decay = _validation.check_float(
            "weight_decay", weight_decay, low=0.0, allow_none=True
        )
        use_bias_correction = _validation.check_bool(
            "use_bias_correction", use_bias_correction
        )
        safeguard_warmup = _validation.check_bool(
            "safeguard_warmup", safeguard_warmup
        )
        d0 = _validation.check_float("d0", d0, low=0.0, low_open=True)
        d_coef = _validation.check_float(
            "d_coef", d_coef, low=0.0, low_open=True
        )
        growth_rate = _check_growth_rate(growth_rate)
        super().__init__(learning_rate, weight_decay, name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.beta_3 = beta_3
        self.epsilon = epsilon
        self.use_bias_correction = use_bias_correction
        self.safeguard_warmup = safeguard_warmup
        self.d0 = d0
        self.d_coef = d_coef
        self.growth_rate = growth_rate
        # The scalar state, `(name, initial value)`, in variable order.
        self._scalars = (
            ("d", d0),
            ("d_max", d0),
            ("numerator", 0.0),
            ("step_numerator", 0.0),
            ("step_denominator", 0.0),
            ("k", 0.0),
        )

    @property
    def _beta_3(self):
        return math.sqrt(self.beta_2) if self.beta_3 is None else self.beta_3

    def _build_slots(self, var_list):
        self._exp_avgs = self.add_optimizer_variables(var_list, "exp_avg")
        self._exp_avg_sqs = self.add_optimizer_variables(var_list, "exp_avg_sq")
        self._grad_sums = self.add_optimizer_variables(var_list, "s")
        self._initial_values = [
            self.add_variable_from_reference(
                v, name="p0", initializer=copy_initializer(v)
            )
            for v in var_list
        ]

    def _finalised(self):
        state = self._state_values()
        d, d_max = state["d"], state["d_max"]
        denominator = state["step_denominator"]
        done = ops.greater(denominator, 0.0)
        numerator = self._beta_3 * state["numerator"] + state["step_numerator"]
        d_hat = self.d_coef * numerator / ops.where(done, denominator, 1.0)
        new_d = ops.where(
            ops.equal(d, ops.cast(self.d0, _F32)), ops.maximum(d, d_hat), d
        )
        new_d_max = ops.maximum(d_max, d_hat)
        new_d = ops.minimum(new_d_max, new_d * self.growth_rate)
        zero = ops.zeros((), _F32)
        return {
            "d": ops.where(done, new_d, d),
            "d_max": ops.where(done, new_d_max, d_max),
            "numerator": ops.where(done, numerator, state["numerator"]),
            "step_numerator": zero,
            "step_denominator": zero,
            "k": ops.where(done, state["k"] + 1.0, state["k"]),
        }

    def update_step(self, gradient, variable, learning_rate):
        g, (d, dlr, r, active), slots, values = self._read(
            gradient, variable, learning_rate
        )
        m_slot, v_slot, s_slot = slots
        m, v, s = values
        dtype = variable.dtype
        x0 = ops.convert_to_tensor(
            self._initial_values[compat.variable_index(self, variable)]
        )
        x = ops.convert_to_tensor(variable)
        scale = d / self.d0
        numerator = r * scale * dlr * ops.cast(ops.sum(g * (x0 - x)), _F32)
        rate = d if self.safeguard_warmup else dlr
        new_s = self._beta_3 * s + ops.cast(scale * rate, dtype) * g
        new_v = self.beta_2 * v + ops.cast(
            d * d * (1.0 - self.beta_2), dtype
        ) * (g * g)
        new_s = ops.where(active, new_s, s)
        new_v = ops.where(active, new_v, v)
        self._add_to_sums(
            ops.where(active, numerator, 0.0),
            r * ops.cast(ops.sum(ops.abs(new_s)), _F32),
        )
        self.assign(s_slot, new_s)
        self.assign(v_slot, new_v)
        denominator = ops.sqrt(new_v) + ops.cast(d * self.epsilon, dtype)
        x = self._decayed(variable, x, dlr * r)
        if self.beta_1 > 0:
            new_m = (
                self.beta_1 * m
                + ops.cast(r * d * (1.0 - self.beta_1), dtype) * g
            )
            new_m = ops.where(active, new_m, m)
            self.assign(m_slot, new_m)
            step = ops.cast(dlr, dtype) * (new_m / denominator)
        else:
            step = ops.cast(dlr * d * r, dtype) * (g / denominator)
        self.assign(variable, x - step)

    def get_config(self):
        config = super().get_config()
        config.update(self._shared_config())
        config.update(
            {
                "beta_3": self.beta_3,
                "safeguard_warmup": self.safeguard_warmup,
                "d_coef": self.d_coef,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_lrx")
class DAdaptAdam(_GlobalStepSize):
    """D-Adapt Adam: Adam with D-Adaptation's step size (dadaptation 3.2).

    The predecessor of `Prodigy`, with the same interface: leave
    `learning_rate` at 1 (or a schedule peaking at 1). Inside
    `keras_lrx.LRX`, a variable's multiplier `m` is dadaptation's
    `layer_scale` of its group.

    The update, as dadaptation 3.2's `DAdaptAdam` (`decouple=True`)
    writes it. With `dlr = d * lr * bc` (`bc` as in `Prodigy`),
    `b = sqrt(beta_2)` and for each variable `x` (gradient `g`, scale `r`):

        numerator_step += r * dlr * <g, s / (sqrt(v) + epsilon)>
        m = beta_1 * m + r * dlr * (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g^2
        s = b * s + dlr * (1 - b) * g
        denominator += r * ||s||_1
        x = x - weight_decay * dlr * r * x
        x = x - m / (sqrt(v) + epsilon)

    and after every variable (a step whose `denominator` is 0 changes no
    estimate):

        numerator = b * numerator + (1 - b) * numerator_step
        d = max(d, min(numerator / ((1 - b) * denominator), d * growth_rate))

    A variable's update uses only the step's start `d`, as in
    dadaptation: the lazy finalisation changes nothing here. One reading
    of ours: dadaptation's `layer_scale` leaves the decoupled decay at
    `dlr`; here `r` scales it too (a multiplier scales the variable's whole
    step, as `LRX` does for Keras's optimizers).

    Args:
        learning_rate: Float, `LearningRateSchedule` or callable. Scales
            the estimated step. Defaults to 1.0.
        beta_1: Float in [0, 1). Defaults to 0.9.
        beta_2: Float in [0, 1). Defaults to 0.999.
        epsilon: Float > 0. Defaults to 1e-8.
        weight_decay: Float >= 0 or None (none). Decoupled decay at
            `dlr * r`; as in `Prodigy`, `exclude_from_weight_decay` applies
            and `LRX`'s per-variable decay options do not. Defaults to 0.0.
        use_bias_correction: Bool. Defaults to False.
        d0: Float > 0. Initial estimate. Defaults to 1e-6.
        growth_rate: Float >= 1 or `inf`. Defaults to `inf`.
        name: String. Defaults to "dadapt_adam".
        **kwargs: Keras's base optimizer arguments.

    Raises:
        TypeError: An argument of the wrong type.
        ValueError: An argument out of its range.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> import keras_lrx
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> model.compile(keras_lrx.experimental.DAdaptAdam(), "mse")
    >>> x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    >>> _ = model.fit(x, x[:, :1], epochs=3, verbose=0)
    >>> bool(float(model.optimizer.d) > 1e-6)
    True

    Reference:
        Defazio & Mishchenko, "Learning-Rate-Free Learning by
        D-Adaptation", ICML 2023, https://arxiv.org/abs/2301.07733
    """

    def __init__(
        self,
        learning_rate=1.0,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        weight_decay=0.0,
        use_bias_correction=False,
        d0=1e-6,
        growth_rate=math.inf,
        name="dadapt_adam",
        **kwargs,
    ):
        learning_rate = _check_learning_rate(learning_rate)
        beta_1 = _check_beta("beta_1", beta_1)
        beta_2 = _check_beta("beta_2", beta_2)
        epsilon = _validation.check_float(
            "epsilon", epsilon, low=0.0, low_open=True
        )
        weight_decay = _validation.check_float(
            "weight_decay", weight_decay, low=0.0, allow_none=True
        )
        use_bias_correction = _validation.check_bool(
            "use_bias_correction", use_bias_correction
        )
        d0 = _validation.check_float("d0", d0, low=0.0, low_open=True)
        growth_rate = _check_growth_rate(growth_rate)
        super().__init__(learning_rate, weight_decay, name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.use_bias_correction = use_bias_correction
        self.d0 = d0
        self.growth_rate = growth_rate
        # The scalar state, `(name, initial value)`, in variable order.
        self._scalars = (
            ("d", d0),
            ("numerator", 0.0),
            ("step_numerator", 0.0),
            ("step_denominator", 0.0),
            ("k", 0.0),
        )

    def _build_slots(self, var_list):
        self._exp_avgs = self.add_optimizer_variables(var_list, "exp_avg")
        self._exp_avg_sqs = self.add_optimizer_variables(var_list, "exp_avg_sq")
        self._grad_sums = self.add_optimizer_variables(var_list, "s")

    def _finalised(self):
        state = self._state_values()
        d = state["d"]
        b = math.sqrt(self.beta_2)
        denominator = state["step_denominator"]
        done = ops.greater(denominator, 0.0)
        numerator = b * state["numerator"] + (1.0 - b) * state["step_numerator"]
        d_hat = numerator / ((1.0 - b) * ops.where(done, denominator, 1.0))
        new_d = ops.maximum(d, ops.minimum(d_hat, d * self.growth_rate))
        zero = ops.zeros((), _F32)
        return {
            "d": ops.where(done, new_d, d),
            "numerator": ops.where(done, numerator, state["numerator"]),
            "step_numerator": zero,
            "step_denominator": zero,
            "k": ops.where(done, state["k"] + 1.0, state["k"]),
        }

    def update_step(self, gradient, variable, learning_rate):
        g, (_, dlr, r, active), slots, values = self._read(
            gradient, variable, learning_rate
        )
        m_slot, v_slot, s_slot = slots
        m, v, s = values
        dtype = variable.dtype
        b = math.sqrt(self.beta_2)
        numerator = (
            r
            * dlr
            * ops.cast(ops.sum(g * (s / (ops.sqrt(v) + self.epsilon))), _F32)
        )
        new_m = (
            self.beta_1 * m + ops.cast(r * dlr * (1.0 - self.beta_1), dtype) * g
        )
        new_v = self.beta_2 * v + (1.0 - self.beta_2) * (g * g)
        new_s = b * s + ops.cast(dlr * (1.0 - b), dtype) * g
        new_m = ops.where(active, new_m, m)
        new_v = ops.where(active, new_v, v)
        new_s = ops.where(active, new_s, s)
        self._add_to_sums(
            ops.where(active, numerator, 0.0),
            r * ops.cast(ops.sum(ops.abs(new_s)), _F32),
        )
        self.assign(m_slot, new_m)
        self.assign(v_slot, new_v)
        self.assign(s_slot, new_s)
        x = self._decayed(variable, ops.convert_to_tensor(variable), dlr * r)
        self.assign(variable, x - new_m / (ops.sqrt(new_v) + self.epsilon))

    def get_config(self):
        config = super().get_config()
        config.update(self._shared_config())
        return config
