"""The learning rate as a Keras metric: see it where the loss is shown.

`LearningRateMetric(optimizer)`, passed to `model.compile(metrics=[...])`,
puts the learning rate into the logs under `learning_rate`, so the progress
bar, `History`, `CSVLogger`, `TensorBoard` and every callback see it:

* the value logged for a training batch is the base learning rate that
  batch's update used (`schedule(step) * scale` for an `LRX`, the optimizer's
  own `learning_rate` -- float or schedule -- for any other optimizer on
  TensorFlow and torch; on JAX the metric needs an `LRX`, which hands it the
  train step's optimizer state);
* the value in the epoch logs is the last training batch's;
* for an `LRX`, `groups=True` adds one entry per multiplier key,
  `learning_rate/<key>` = base rate x that key's multiplier (at the batch's
  step, for a multiplier that changes over time; for `keras_lrx.combine`,
  one entry per key of each factor, with that factor's value).

It is correct on every backend and compilation mode (TensorFlow graph and XLA,
JAX `jit`, torch) and under the `"mixed_float16"` policy; see
`LearningRateMetric` for how.

How Keras's own learning-rate callbacks act on a scheduled `LRX`:

* `keras.callbacks.ReduceLROnPlateau` multiplies the *whole* schedule by
  `factor` at each reduction (LRX rescales its schedule when its
  `learning_rate` is assigned): every later batch trains, and logs,
  `factor**n * schedule(step)` after `n` reductions, with the warmup/cosine
  shape intact, and the ratios between multiplier groups unchanged.
  `min_lr` bounds the rate at the moment of a reduction only: later
  batches follow the scaled schedule, below `min_lr` if it decays.
* `keras.callbacks.LearningRateScheduler` assigns a float at each epoch
  start. On a scheduled LRX that rescales the schedule so that the rate at
  that step equals the assigned value; within the epoch the schedule's shape
  continues from there: batch `i` of an epoch starting at step `s` with
  assigned value `v` trains at `v * schedule(s + i) / schedule(s)`. (With a
  plain float rate it is simply `v` for the whole epoch, as in Keras.) At a
  step where the schedule is 0 -- the first step of a warmup from 0 -- no
  rescaling is possible and LRX raises a `ValueError`.
* Both callbacks also write `learning_rate` into the *epoch* logs themselves
  (the rate the next step will use, before any reduction); callbacks that run
  after them, `History` among them, see that value instead of this metric's.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from keras_lrx import _keras_compat as compat
from keras_lrx._validation import check_bool
from keras_lrx.multipliers import multiplier_at
from keras_lrx.multipliers import product_of
from keras_lrx.optimizer import LRX

__all__ = ["LearningRateMetric"]


def _multiplier_keys(optimizer):
    """`(label, multiplier)` per key of an LRX's multiplier dict, else None
    ([] for a callable)."""
    multiplier_map = getattr(optimizer, "multiplier_map", None)
    if multiplier_map is None:
        return None
    return _labelled_keys(multiplier_map)


def _labelled_keys(multiplier_map):
    """`(label, multiplier)` per key of a `MultiplierMap`.

    Under `combine`, a label that several sources use (the same layer in
    `layerwise_decay` and `gradual_unfreezing`) is one entry, the product of
    its values: the multiplier its variables train at.
    """
    if multiplier_map.function is not None:
        return []
    if not multiplier_map.factors:
        return [(key.name, key.value) for key in multiplier_map.keys]
    by_label = {}
    for factor in multiplier_map.factors:
        for label, value in dict(_labelled_keys(factor)).items():
            by_label.setdefault(label, []).append(value)
    return [(label, product_of(values)) for label, values in by_label.items()]


@keras.saving.register_keras_serializable(package="keras_lrx")
class LearningRateMetric(keras.metrics.Metric):
    """Logs the learning rate each training batch used, as a metric.

    Pass it to `model.compile(metrics=[...])` with the same optimizer
    instance you compile with; the progress bar, `History`, `CSVLogger` and
    `TensorBoard` then show the rate under `learning_rate` (the metric's
    `name`). The per-batch value is the base learning rate the batch's update
    used: `schedule(step) * scale` for an `keras_lrx.LRX` (so it follows
    `ReduceLROnPlateau` on a schedule), and the optimizer's `learning_rate`
    (a float or a `LearningRateSchedule`, evaluated at the step) for any other
    Keras optimizer. The epoch value is the last batch's -- never an
    average.

    For an `LRX`, `groups` adds the effective rate of multiplier keys as
    `learning_rate/<key>` entries (base rate x multiplier); a key is the
    string given in the `multipliers` dict, or the layer's name for a layer
    key. Under `keras_lrx.combine`, a label that several sources use (the
    same layers in `layerwise_decay` and `gradual_unfreezing`) is one entry,
    base rate x the product of their values.

    Details:

    * On TensorFlow and torch the metric reads the optimizer after its step
      and evaluates its learning rate at the step just taken
      (`iterations - 1`). On JAX, where the train step's optimizer state is
      not visible to metrics, the `LRX` hands the state each step starts
      from to the metric, which computes the rate from it inside the same
      compiled function; a plain Keras optimizer cannot, so on JAX the
      metric needs an `LRX` (wrapping changes nothing else) and says so.
    * A step that did not update (the `LossScaleOptimizer` of the
      `"mixed_float16"` policy skipped it for non-finite gradients): on
      TensorFlow and torch the previous value is repeated; on JAX the rate
      that step would have used is logged.
    * `reset_state()` keeps the value, and evaluation never changes it: the
      validation logs (`val_learning_rate`) show the rate of the last
      training batch, and 0.0 before any training step.
    * Keras calls `on_train_batch_end` once per `steps_per_execution` steps;
      the value is then the last of those steps'.
    * In a model with several outputs, list the metric under one output;
      Keras then logs it as `<output>_learning_rate`.

    Args:
        optimizer: The `keras.optimizers.Optimizer` instance the model is
            compiled with (an `LRX` or any Keras optimizer; an `LRX` on
            JAX). A `LossScaleOptimizer` is unwrapped.
        name: String. Name of the metric and its log key. Defaults to
            `"learning_rate"`.
        groups: Bool or list of strings. For an `LRX` with a dict of
            multipliers: True adds a `<name>/<key>` entry for every key, a
            list adds the listed keys only. Defaults to False.
        hyperparameters: Bool. For an `LRX` with `hyperparameters`
            (`beta_1`, ...): True adds an entry per scheduled hyperparameter,
            under its name, with the value the step used. Defaults to False.

    Returns:
        `result()` is a float32 scalar, or (with `groups`) a dict
        `{name: base, f"{name}/{key}": base * multiplier, ...}`, which Keras
        flattens into the logs.

    Raises:
        TypeError: If `optimizer` is not a Keras optimizer instance, or
            `groups` is neither a bool nor a list of strings.
        ValueError: On JAX, if `optimizer` is not an `LRX`; if `groups` is
            given for an optimizer without
            multiplier keys, or names a key the optimizer does not have.

    Example:

    >>> import keras, numpy as np
    >>> from keras_lrx import LRX
    >>> from keras_lrx.metrics import LearningRateMetric
    >>> opt = LRX(
    ...     keras.optimizers.SGD(),
    ...     schedule=keras.optimizers.schedules.ExponentialDecay(0.1, 1, 0.5),
    ...     multipliers={"head": 0.1})
    >>> model = keras.Sequential([keras.Input((2,)),
    ...                           keras.layers.Dense(1, name="head")])
    >>> model.compile(opt, "mse", metrics=[
    ...     LearningRateMetric(opt, groups=True)])
    >>> history = model.fit(np.ones((4, 2)), np.ones((4, 1)), batch_size=2,
    ...                     epochs=2, verbose=0)
    >>> [round(v, 6) for v in history.history["learning_rate"]]
    [0.05, 0.0125]
    >>> [round(v, 6) for v in history.history["learning_rate/head"]]
    [0.005, 0.00125]
    """

    def __init__(
        self,
        optimizer: keras.optimizers.Optimizer,
        name: str = "learning_rate",
        *,
        groups: bool | list[str] | tuple[str, ...] = False,
        hyperparameters: bool = False,
    ) -> None:
        if isinstance(optimizer, (str, dict)):
            raise TypeError(
                "Argument `optimizer` must be the optimizer instance the "
                "model is compiled with, not a name or config: create it "
                "first, e.g. opt = keras.optimizers.Adam(); "
                "model.compile(opt, metrics=[LearningRateMetric(opt)]). "
                f"Received: optimizer={optimizer!r}"
            )
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise TypeError(
                "Argument `optimizer` must be a `keras.optimizers.Optimizer` "
                f"instance. Received: optimizer={optimizer!r} "
                f"(of type {type(optimizer).__name__})"
            )
        super().__init__(name=name, dtype="float32")
        self._given_optimizer = optimizer
        self._optimizer = compat.unwrap_loss_scale(optimizer)
        self._groups = self._resolve_groups(self._optimizer, groups)
        if keras.backend.backend() == "jax" and not isinstance(
            self._optimizer, LRX
        ):
            raise ValueError(
                "On the JAX backend `LearningRateMetric` needs an `LRX` "
                "optimizer: Keras's JAX train step shows the optimizer state "
                "to the optimizer only, and LRX hands it on. Wrap the "
                "optimizer -- LRX(optimizer) without multipliers trains "
                "exactly as the optimizer alone -- or log the rate per batch "
                "with `keras_lrx.BatchHistory`. Received: "
                f"optimizer={type(optimizer).__name__}"
            )
        self.groups = groups if isinstance(groups, bool) else list(groups)
        self.hyperparameters = check_bool("hyperparameters", hyperparameters)
        if self.hyperparameters and not getattr(
            self._optimizer, "hyperparameters", None
        ):
            raise ValueError(
                "Argument `hyperparameters` logs the wrapped optimizer's "
                "hyperparameters that an `LRX` schedules "
                "(`LRX(hyperparameters=...)`), and this optimizer schedules "
                "none. Pass hyperparameters=False. Received: "
                f"optimizer={type(optimizer).__name__}"
            )
        self._rate = self.add_variable(
            shape=(),
            initializer="zeros",
            dtype="float32",
            aggregation="only_first_replica",
            name="rate",
        )
        # The optimizer step the rate was last taken at (the number of
        # steps done then): a read with no new step leaves the value alone.
        self._step = self.add_variable(
            shape=(),
            initializer="zeros",
            dtype=compat.raw_iterations(self._optimizer).dtype,
            aggregation="only_first_replica",
            name="step",
        )
        object.__setattr__(self, "_pending_state", None)
        if keras.backend.backend() == "jax":
            self._optimizer._add_state_recorder(self)

    @staticmethod
    def _resolve_groups(optimizer, groups):
        if isinstance(groups, bool) or groups is None:
            wanted = None if groups else []
        elif isinstance(groups, (list, tuple)) and all(
            isinstance(g, str) for g in groups
        ):
            wanted = list(groups)
        else:
            raise TypeError(
                "Argument `groups` must be a bool or a list of multiplier "
                f"keys (strings). Received: groups={groups!r}"
            )
        if wanted == []:
            return []
        keys = _multiplier_keys(optimizer)
        if not keys:
            what = (
                "a callable `multipliers`"
                if keys == []
                else f"a {type(optimizer).__name__} (not an LRX)"
            )
            raise ValueError(
                "Argument `groups` needs an LRX optimizer with a dict of "
                f"`multipliers`; the optimizer is {what}. Pass groups=False. "
                f"Received: groups={groups!r}"
            )
        if wanted is None:
            return keys
        by_label = dict(keys)
        unknown = [g for g in wanted if g not in by_label]
        if unknown:
            raise ValueError(
                "Argument `groups` names keys that are not in the LRX "
                f"multipliers: {unknown}. Available keys: "
                f"{[label for label, _ in keys]}. Received: groups={groups!r}"
            )
        return [(g, by_label[g]) for g in wanted]

    # ------------------------------------------------------------------ #
    # Metric API.
    # ------------------------------------------------------------------ #
    def _record(self, inputs, outputs):
        # The rate is computed from the step's input state; a learned scale
        # (`LRX(scale=...)`) is the one the step applied, in its output.
        learned = getattr(self._optimizer, "_learned_scale", None)
        if learned is not None and outputs is not None:
            scale_ids = {id(v) for v in learned.variables}
            inputs = [
                out if id(v) in scale_ids else inp
                for v, inp, out in zip(
                    self._optimizer.variables, inputs, outputs
                )
            ]
        object.__setattr__(self, "_pending_state", inputs)

    def update_state(
        self, y_true: Any = None, y_pred: Any = None, sample_weight: Any = None
    ) -> None:
        """Takes the rate of the optimizer step just done (arguments unused)."""
        del y_true, y_pred, sample_weight
        optimizer = self._optimizer
        recorded = self._pending_state
        if recorded is not None:
            # JAX train step: the state this step's update started from.
            object.__setattr__(self, "_pending_state", None)
            mapping = list(zip(optimizer.variables, recorded))
            with keras.StatelessScope(state_mapping=mapping):
                rate = self._base_rate()
                step = (
                    ops.convert_to_tensor(compat.raw_iterations(optimizer)) + 1
                )
            self._rate.assign(rate)
            self._step.assign(step)
            return
        if keras.backend.backend() == "jax" and is_traced(self._rate):
            # A compiled JAX test step: the optimizer state is not part of
            # it (reading it would bake in values). Keep the value.
            return
        step = ops.convert_to_tensor(compat.raw_iterations(optimizer))
        rate = compat.learning_rate_at_last_step(optimizer, as_float=False)
        advanced = ops.not_equal(step, ops.convert_to_tensor(self._step))
        self._rate.assign(
            ops.where(advanced, rate, ops.convert_to_tensor(self._rate))
        )
        self._step.assign(step)

    def _base_rate(self):
        return ops.cast(self._optimizer.learning_rate, "float32")

    def result(self) -> Any:
        # A copy: on JAX the variable's buffer is donated to the next step.
        base = ops.copy(ops.convert_to_tensor(self._rate))
        if not self._groups and not self.hyperparameters:
            return base
        results = {self.name: base}
        # The step the rate was taken at (`_step` counts the steps done).
        step = ops.maximum(ops.convert_to_tensor(self._step) - 1, 0)
        for label, multiplier in self._groups:
            results[f"{self.name}/{label}"] = ops.multiply(
                base, multiplier_at(multiplier, step)
            )
        if self.hyperparameters:
            if compat.known_count(self._step) == 0:
                # No step yet (Keras builds the metric before `fit`'s
                # callbacks start): nothing to show, nothing evaluated.
                values = dict.fromkeys(self._optimizer.hyperparameters, 0.0)
            else:
                values = self._optimizer._hyperparameters.values_at(step)
            results.update(values)
        return results

    def reset_state(self) -> None:
        """Keeps the last value (see the class docstring)."""

    # ------------------------------------------------------------------ #
    # Serialization.
    # ------------------------------------------------------------------ #
    def get_config(self) -> dict[str, Any]:
        # Saved inside a model, the optimizer is the compiled one: Keras's
        # object sharing restores both as one instance.
        return {
            "name": self.name,
            "groups": self.groups,
            "hyperparameters": self.hyperparameters,
            "optimizer": keras.saving.serialize_keras_object(
                self._given_optimizer
            ),
        }

    @classmethod
    def from_config(
        cls,
        config: dict[str, Any],
        custom_objects: dict[str, Any] | None = None,
    ) -> LearningRateMetric:
        optimizer, config = optimizer_and_config(config, custom_objects)
        groups = config.pop("groups", False)
        if isinstance(groups, list):
            groups = [str(g) for g in groups]
        return cls(optimizer, groups=groups, **config)


def optimizer_and_config(config, custom_objects=None):
    """`(optimizer, the rest)` of the config of a metric that reads an
    optimizer: saved inside a model, the optimizer is the compiled one, and
    Keras's object sharing restores both as one instance."""
    config = dict(config)
    config.pop("dtype", None)
    optimizer = config.pop("optimizer")
    if isinstance(optimizer, dict):
        optimizer = keras.saving.deserialize_keras_object(
            optimizer, custom_objects=custom_objects
        )
    return optimizer, config


def is_traced(variable):
    """JAX: whether `variable` holds a traced value (a compiled step)."""
    import jax

    return isinstance(variable.value, jax.core.Tracer)
