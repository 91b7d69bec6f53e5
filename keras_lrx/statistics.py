"""See each group learn: per-group update size, gradient and weight norms.

`GroupStatistics` is a compiled metric that has an `LRX` measure, for each
key of its multipliers, what the step did to that group's weights:

    update_ratio/<key> = ||w_after - w_before|| / ||w_before||
    grad_norm/<key>    = ||g||
    weight_norm/<key>  = ||w_before||

(norms over all the group's entries together; `g` the gradient the
optimizer was handed), every `every` updates, inside the step. The values
land in the batch and epoch logs beside the rates of
`LearningRateMetric(groups=True)`, so the progress bar, `History`,
`CSVLogger`, `TensorBoard` and `keras_lrx.BatchHistory` see them.
`UpdateRatioWarnings` warns once, naming the group, when a group that
trains keeps an update ratio outside the bounds you set.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from keras_lrx import _keras_compat as compat
from keras_lrx._engine.statistics import NAMES
from keras_lrx._engine.statistics import OTHER
from keras_lrx._engine.statistics import Statistics
from keras_lrx._engine.statistics import check_every
from keras_lrx._engine.statistics import request
from keras_lrx._validation import check_float
from keras_lrx._validation import check_int
from keras_lrx.metrics import _labelled_keys
from keras_lrx.metrics import optimizer_and_config
from keras_lrx.optimizer import LRX

__all__ = ["GroupStatistics", "UpdateRatioWarnings"]


def _check_statistics(statistics):
    if statistics is None:
        return NAMES
    if isinstance(statistics, str):
        statistics = [statistics]
    if not isinstance(statistics, Sequence) or not statistics:
        raise TypeError(
            "Argument `statistics` must be None or a non-empty list of "
            f"names among {list(NAMES)}. Received: "
            f"statistics={statistics!r}"
        )
    unknown = [s for s in statistics if s not in NAMES]
    if unknown:
        raise ValueError(
            f"Argument `statistics` names unknown statistics {unknown}; "
            f"the statistics are {list(NAMES)}. Received: "
            f"statistics={statistics!r}"
        )
    return tuple(dict.fromkeys(statistics))


@keras.saving.register_keras_serializable(package="keras_lrx")
class GroupStatistics(keras.metrics.Metric):
    """Logs each multiplier group's update ratio, gradient and weight norm.

    The rate of a group is the knob; its update-to-weight ratio is the
    effect. Compile this metric with the `LRX` the model trains with: every
    `every` updates, the step measures for each key of the multipliers
    (the labels of `LearningRateMetric(groups=True)`: the dict's string keys,
    a layer key's name, a `layerwise_decay` block's name)

    ```
    update_ratio/<key> = ||w_after - w_before|| / ||w_before||
    grad_norm/<key>    = ||g||
    weight_norm/<key>  = ||w_before||
    ```

    over the group's variables, where `w_before` and `w_after` are the weights
    around the whole step (decay and update) and `g` the gradient the
    optimizer was handed (after `mixed_float16`'s unscaling, before
    clipping). Variables that no key selects form the group `other` (0
    where there are none); with a callable `multipliers` there are no keys
    and every variable is in `all`. A group that does not train (multiplier
    0, or 0 until a `Thaw`) has an update ratio of exactly 0. Between
    strides the logs repeat the last values; with
    `gradient_accumulation_steps` a stride counts updates, not batches, and
    the gradient norm is the last batch's.

    A ratio near 1e-3 is the usual rule of thumb for a layer that learns at
    a sensible rate (CS231n's notes); a pretrained body at 0.1x sits near
    1e-4. `UpdateRatioWarnings` turns the ratios into warnings.

    Cost: nothing when the metric is not compiled. At a recording step,
    one pass over the weights (norms of the weights, gradients and their
    change); other steps skip it (a condition in a compiled step; on torch,
    the weights are copied only at a recording step). Measured at
    `every=10` on small models: about 1.03x LRX's `fit` step on torch and
    TensorFlow; on JAX about 1.08x at any stride (the compiled step keeps a
    copy of the weights from before the update on every step). Memory: one
    float per group and statistic (an optimizer variable, saved with it).

    Details:

    * It must be created before the optimizer is built (its values are an
      optimizer variable); one per optimizer.
    * On JAX under the `"mixed_float16"` policy (the loss-scale optimizer
      runs LRX's step inside a condition) the values appear one batch
      late; everywhere else in the batch they were measured.
    * A step the loss-scale optimizer skips (non-finite gradients) records
      nothing.

    Args:
        optimizer: The `LRX` the model is compiled with (a
            `LossScaleOptimizer` around it is unwrapped).
        every: Int >= 1. Record every `every` updates (the first update is
            recorded). Defaults to 10.
        statistics: List of names among `"update_ratio"`, `"grad_norm"` and
            `"weight_norm"`: the ones logged. Defaults to None (all three).
        name: String. The metric's name. Defaults to "group_statistics".

    Returns:
        `result()` is a dict `{"<statistic>/<key>": value}`, which Keras
        flattens into the logs.

    Raises:
        TypeError: If `optimizer` is not an `LRX`, or `every` or
            `statistics` has the wrong type.
        ValueError: If `every < 1`, `statistics` names an unknown
            statistic, the optimizer is already built or already records
            for another `GroupStatistics`.

    Example:

    >>> import keras, numpy as np
    >>> from keras_lrx import LRX, GroupStatistics
    >>> model = keras.Sequential([keras.Input((4,)),
    ...     keras.layers.Dense(8, name="body"),
    ...     keras.layers.Dense(1, name="head")])
    >>> opt = LRX(keras.optimizers.SGD(0.1),
    ...           multipliers={"body": 0.0, "head": 1.0})
    >>> model.compile(opt, "mse",
    ...               metrics=[GroupStatistics(opt, every=1)])
    >>> history = model.fit(np.ones((8, 4)), np.ones((8, 1)), verbose=0)
    >>> history.history["update_ratio/body"]  # frozen
    [0.0]
    >>> history.history["update_ratio/head"][0] > 0
    True
    >>> sorted(k for k in history.history if k.endswith("/head"))
    ['grad_norm/head', 'update_ratio/head', 'weight_norm/head']
    """

    def __init__(
        self,
        optimizer: LRX | keras.optimizers.LossScaleOptimizer,
        every: int = 10,
        statistics: Sequence[str] | None = None,
        name: str = "group_statistics",
    ) -> None:
        lrx = compat.unwrap_loss_scale(optimizer)
        if not isinstance(lrx, LRX):
            raise TypeError(
                "Argument `optimizer` must be the `keras_lrx.LRX` the model "
                "is compiled with: the statistics are measured inside its "
                f"step. Received: optimizer={optimizer!r} "
                f"(of type {type(optimizer).__name__})"
            )
        every = check_every(every)
        statistics = _check_statistics(statistics)
        keys = _labelled_keys(lrx.multiplier_map)
        labels = [label for label, _ in keys] + [OTHER if keys else "all"]
        request(lrx, Statistics(labels, every))  # may raise
        super().__init__(name=name, dtype="float32")
        self._given_optimizer = optimizer
        self._optimizer = lrx
        self.every = every
        self.statistics = statistics
        self.labels = tuple(labels)
        self._values = self.add_variable(
            shape=(len(labels), len(NAMES)),
            initializer="zeros",
            dtype="float32",
            aggregation="only_first_replica",
            name="values",
        )
        object.__setattr__(self, "_pending", None)
        if keras.backend.backend() == "jax":
            lrx._add_state_recorder(self)

    def _record(self, inputs, outputs):
        """JAX: the optimizer state after the step (before it, where the
        step ran inside another optimizer's condition)."""
        variables = self._optimizer.variables
        position = next(
            p
            for p, v in enumerate(variables)
            if v is self._optimizer._statistics.variable
        )
        state = outputs if outputs is not None else inputs
        object.__setattr__(self, "_pending", state[position])

    def update_state(
        self, y_true: Any = None, y_pred: Any = None, sample_weight: Any = None
    ) -> None:
        """Takes the statistics the step recorded (arguments unused)."""
        del y_true, y_pred, sample_weight
        pending = self._pending
        if pending is not None:  # JAX's train step
            object.__setattr__(self, "_pending", None)
            self._values.assign(pending)
            return
        # TensorFlow and torch: `result()` reads the optimizer's variable
        # itself (after the step in the same function); nothing to copy.

    def result(self) -> dict[str, Any]:
        source = self._optimizer._statistics.variable
        if keras.backend.backend() == "jax" or source is None:
            source = self._values
        # One op for every entry (new tensors: on JAX the variable's buffer
        # is donated to the next step).
        values = ops.unstack(ops.reshape(source, (-1,)))
        width = len(NAMES)
        return {
            f"{stat}/{label}": values[g * width + NAMES.index(stat)]
            for stat in self.statistics
            for g, label in enumerate(self.labels)
        }

    def reset_state(self) -> None:
        """Keeps the values (they are the last recorded, not a mean)."""

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "every": self.every,
            "statistics": list(self.statistics),
            "optimizer": keras.saving.serialize_keras_object(
                self._given_optimizer
            ),
        }

    @classmethod
    def from_config(
        cls,
        config: dict[str, Any],
        custom_objects: dict[str, Any] | None = None,
    ) -> GroupStatistics:
        optimizer, config = optimizer_and_config(config, custom_objects)
        return cls(optimizer, **config)


class UpdateRatioWarnings(keras.callbacks.Callback):
    """Warns once per group when a group that trains keeps an odd ratio.

    Reads the `update_ratio/<key>` entries a compiled `GroupStatistics`
    logs. When a group whose multiplier is > 0 at that step has an update
    ratio below `low` (it hardly moves) or above `high` (each step changes
    a large part of its weights) at `patience` recordings in a row, it
    warns once for that group and direction, naming the group, its ratio
    and rate, and what to try. A frozen group (multiplier 0) is never
    warned about.

    The defaults bracket the usual rule of thumb, ~1e-3 (CS231n), by two
    decades on each side: a body fine-tuned at 0.1x of a sensible rate
    sits near 1e-4, well inside; below 1e-5 a group barely changes in a
    thousand steps, above 1e-1 a tenth of its weights' size changes in one
    step, which is how a too-high rate or a destroyed pretrained body
    looks.

    Args:
        low: Float >= 0. Warn below this ratio. Defaults to 1e-5.
        high: Float > `low`. Warn above this ratio. Defaults to 1e-1.
        patience: Int >= 1. Recordings in a row before a warning. Defaults
            to 3.

    Raises:
        TypeError: For an argument of the wrong type.
        ValueError: If `low < 0`, `high <= low` or `patience < 1`.

    Example:

    >>> import warnings
    >>> cb = UpdateRatioWarnings(low=1e-6, high=0.5, patience=2)
    >>> cb.low, cb.high, cb.patience
    (1e-06, 0.5, 2)
    """

    def __init__(
        self, low: float = 1e-5, high: float = 1e-1, patience: int = 3
    ) -> None:
        super().__init__()
        self.low = check_float("low", low, 0.0)
        self.high = check_float("high", high, 0.0)
        if not self.high > self.low:
            raise ValueError(
                "Arguments `low` and `high` must satisfy low < high (the "
                f"band of ratios that do not warn). Received: low={low!r}, "
                f"high={high!r}"
            )
        self.patience = check_int("patience", patience, low=1)
        self._runs = {}
        self._warned = set()
        self._last_step = None

    def _metric(self):
        for metric in getattr(self.model, "metrics", []):
            found = _find(metric)
            if found is not None:
                return found
        return None

    def on_train_batch_end(
        self, batch: int, logs: dict[str, Any] | None = None
    ) -> None:
        logs = logs or {}
        metric = self._metric()
        if metric is None or "update_ratio" not in metric.statistics:
            return
        optimizer = metric._optimizer
        step = int(ops.convert_to_numpy(optimizer.iterations)) - 1
        if step < 0 or step % metric.every != 0 or step == self._last_step:
            return  # not a recording step
        self._last_step = step
        now = _group_multipliers(optimizer, metric.labels)
        for label in metric.labels:
            ratio = logs.get(f"update_ratio/{label}")
            multiplier = now.get(label, 0.0)
            if ratio is None or not multiplier > 0.0:
                self._runs.pop(label, None)
                continue
            ratio = float(ratio)
            side = (
                "low"
                if ratio < self.low
                else "high"
                if ratio > self.high
                else ""
            )
            run = self._runs.get(label)
            run = (side, run[1] + 1) if run and run[0] == side else (side, 1)
            self._runs[label] = run
            if side and run[1] >= self.patience:
                self._warn(label, side, ratio, multiplier, optimizer)

    def _warn(self, label, side, ratio, multiplier, optimizer):
        if (label, side) in self._warned:
            return
        self._warned.add((label, side))
        rate = float(ops.convert_to_numpy(optimizer.learning_rate))
        bound = self.low if side == "low" else self.high
        advice = (
            "it barely learns: raise its multiplier or the base rate, or "
            "thaw it sooner (if it should stay fixed, give it multiplier 0)"
            if side == "low"
            else "each step changes much of its weights: lower its "
            "multiplier or the base rate, or warm it up (`Thaw`)"
        )
        warnings.warn(
            f"Group {label!r}: update ratio {ratio:.3g} is {side}er than "
            f"{bound:g} at {self.patience} recordings in a row (multiplier "
            f"{multiplier:g}, rate {rate * multiplier:.3g}): {advice}.",
            stacklevel=2,
        )


def _find(metric):
    """The `GroupStatistics` in a compiled metric (or its children)."""
    if isinstance(metric, GroupStatistics):
        return metric
    for child in getattr(metric, "metrics", []) or []:
        if child is not metric:
            found = _find(child)
            if found is not None:
                return found
    return None


def _group_multipliers(optimizer, labels):
    """Label -> the largest multiplier of its variables now (0 if none)."""
    now = optimizer.current_multipliers()
    plan = optimizer._plan
    result = {}
    for r in plan.resolutions:
        label = r.label if r.label in labels else labels[-1]
        result[label] = max(result.get(label, 0.0), now[r.path])
    return {k: v for k, v in result.items() if not math.isnan(v)}
