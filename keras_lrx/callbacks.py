"""Callbacks: a per-batch history, no gradient work for frozen groups, and
Schedule-Free's averaged weights for evaluation.

`SkipFrozenGradients` (torch) turns gradients off for the variables a
`keras_lrx.LRX` keeps frozen over the coming steps, so the backward pass
does no work for them.

`TotalStepsFromFit` fills in the schedules' `total_steps="auto"` with the
number of steps `fit` takes (epochs x steps per epoch).

`SwapScheduleFreeWeights` puts Keras's `ScheduleFreeAdamW` averaged weights
in the model for `evaluate`, `predict` and (optionally) checkpoints, and the
training weights back for training -- also under an `LRX`.

`BatchHistory` records one row per training batch -- the epoch, the batch,
the optimizer step, every value in the batch logs and the learning rate --
saves and loads it as CSV or JSON, and plots one column against another
(e.g. the loss against the learning rate).

For Keras's own learning-rate callbacks on a scheduled `keras_lrx.LRX`
(`ReduceLROnPlateau` scales the whole schedule; `LearningRateScheduler`
rescales it at each epoch start and the schedule's shape continues within
the epoch) see `keras_lrx.metrics`.
"""

from __future__ import annotations

import csv
import json
import math
import numbers
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_lrx import _keras_compat as compat
from keras_lrx._validation import check_bool
from keras_lrx._validation import check_sequence
from keras_lrx._validation import check_type

if TYPE_CHECKING:
    import matplotlib.axes

__all__ = [
    "BatchHistory",
    "SkipFrozenGradients",
    "SwapScheduleFreeWeights",
    "TotalStepsFromFit",
]


def _to_python(value):
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    try:
        array = np.asarray(ops.convert_to_numpy(value))
        if array.size != 1:
            return None
        return float(array.reshape(()))
    except (TypeError, ValueError):  # not a number: leave it out
        return None


def _model_optimizer(model):
    """The optimizer `model` trains with, a `LossScaleOptimizer` unwrapped
    (None without one)."""
    return compat.unwrap_loss_scale(getattr(model, "optimizer", None))


def _read_history_csv(f, where):
    """The columns of a CSV written by `BatchHistory.save`, as lists."""
    reader = csv.reader(f)
    keys = next(reader, [])
    history = {k: [] for k in keys}
    for number, row in enumerate(reader, start=1):
        if not row:  # a blank line
            continue
        if len(row) != len(keys):
            raise ValueError(
                f"{where} is not a history CSV: row {number} (line "
                f"{reader.line_num}) has {len(row)} cells but the header has "
                f"{len(keys)} columns ({keys})."
            )
        for key, cell in zip(keys, row):
            history[key].append(_parse_number(cell))
    return history


class SkipFrozenGradients(keras.callbacks.Callback):
    """No backward work for the groups an `LRX` keeps frozen (torch).

    A group whose multiplier is 0 does not change, but by default its
    gradients are still computed. On the torch backend this callback does
    what `requires_grad_(False)` does for a frozen parameter group in
    PyTorch or fastai: before each training batch it turns gradients off for
    the variables whose multiplier is 0 at the step the batch will take --
    a constant 0, or a `Thaw` or other schedule of the step that has not
    started yet -- and on for the others. The backward pass then neither
    computes their gradients nor, below the lowest group that trains, goes
    through the layers at all. `LRX` skips their missing gradients; a
    missing gradient of any other variable is reported by Keras as usual.
    The update is the same as without the callback (the tests check every
    variable for equality).
    When training ends, each variable's gradient is on again exactly when it
    is trainable.

    TensorFlow and JAX compile one train step for every step of `fit`, so
    which gradients it computes cannot change between steps without a new
    compilation: there the callback does nothing (a group that is 0 for now
    still skips its update and optimizer slots, see `keras_lrx.LRX`).

    Example:

    >>> import keras, numpy as np
    >>> from keras_lrx import LRX
    >>> from keras_lrx.callbacks import SkipFrozenGradients
    >>> from keras_lrx.schedules import Thaw
    >>> model = keras.Sequential([keras.Input((2,)),
    ...     keras.layers.Dense(4, name="body"),
    ...     keras.layers.Dense(1, name="head")])
    >>> model.compile(LRX(keras.optimizers.Adam(1e-2),
    ...     multipliers={"body": Thaw(1.0, start_step=4)}), "mse")
    >>> _ = model.fit(np.ones((16, 2)), np.ones((16, 1)), batch_size=2,
    ...               callbacks=[SkipFrozenGradients()], verbose=0)
    >>> int(model.optimizer.iterations)
    8
    """

    def _lrx(self):
        from keras_lrx.optimizer import LRX

        optimizer = _model_optimizer(self.model)
        if not isinstance(optimizer, LRX):
            raise TypeError(
                "`SkipFrozenGradients` needs a model compiled with a "
                "`keras_lrx.LRX` optimizer (or a `LossScaleOptimizer` "
                "around one). Received: optimizer="
                f"{type(optimizer).__name__}"
            )
        return optimizer

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._lrx()  # before any batch: a clear error

    def on_train_batch_begin(
        self, batch: int, logs: dict[str, Any] | None = None
    ) -> None:
        if keras.backend.backend() != "torch":
            return
        optimizer = self._lrx()
        if not optimizer.built:
            return  # the first step builds it: all gradients on
        # One step per batch: Keras's torch trainer runs no more.
        frozen = {id(v) for v in optimizer.frozen_variables()}
        variables = compat.built_variables(optimizer)
        if len(frozen) == len(variables):
            # Nothing trains this step: a loss with no gradient at all would
            # stop torch's backward pass, so all gradients stay on.
            frozen = set()
        for variable in variables:
            compat.set_requires_grad(
                variable, variable.trainable and id(variable) not in frozen
            )

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if keras.backend.backend() != "torch":
            return
        optimizer = self._lrx()
        if optimizer.built:
            for variable in compat.built_variables(optimizer):
                compat.set_requires_grad(variable, variable.trainable)


class TotalStepsFromFit(keras.callbacks.Callback):
    """Fills in a schedule's `total_steps="auto"` when `fit` starts.

    The schedules that end (`LinearWithWarmup`, `CosineWithWarmup`,
    `CosineWithHardRestarts`, `PolynomialWithWarmup`, `WarmupStableDecay`,
    `OneCycle`) accept `total_steps="auto"` -- and the warmup family
    `warmup_ratio` -- as Hugging Face's `Trainer`, PyTorch's
    `OneCycleLR(epochs=, steps_per_epoch=)` and Lightning fill the count
    in. When training starts, this callback sets it to `epochs x steps per
    epoch` of the `fit` call: the optimizer steps of the whole run (one per
    batch, whatever `steps_per_execution`; with
    `gradient_accumulation_steps` the schedule counts batches, as its step
    counter does). The schedule is the model optimizer's: an `LRX`'s
    `schedule`, or the `learning_rate` of the optimizer it wraps (or of any
    Keras optimizer).

    The number then belongs to the schedule: it is in its `get_config()`,
    so `model.save` -> `load_model` -> `fit` resumes on the same schedule,
    and a later `fit` does not change it. A schedule still at "auto" when
    it is first evaluated raises a `ValueError` that names this callback.

    Raises:
        ValueError: when `fit` starts, if a schedule is at "auto" and the
            number of steps per epoch is unknown (a dataset of unknown size
            without `steps_per_epoch`), or the count does not fit the
            schedule (a warmup longer than the run).

    Example:

    >>> import keras, numpy as np
    >>> from keras_lrx import LRX
    >>> from keras_lrx.callbacks import TotalStepsFromFit
    >>> from keras_lrx.schedules import CosineWithWarmup
    >>> schedule = CosineWithWarmup(1e-2, warmup_steps=None,
    ...                             total_steps="auto", warmup_ratio=0.1)
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(LRX(keras.optimizers.AdamW(), schedule=schedule), "mse")
    >>> _ = model.fit(np.ones((32, 2)), np.ones((32, 1)), batch_size=4,
    ...               epochs=3, callbacks=[TotalStepsFromFit()], verbose=0)
    >>> schedule.total_steps, schedule.warmup_steps
    (24, 3)
    """

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        schedules = [
            s
            for s in self._schedules()
            if getattr(s, "total_steps", None) == "auto"
        ]
        if not schedules:
            return
        steps = self.params.get("steps")
        epochs = self.params.get("epochs")
        if not steps or not epochs:
            raise ValueError(
                f'`{schedules[0].name}` has total_steps="auto", and `fit` '
                "does not know its number of steps per epoch (a dataset of "
                "unknown size): pass `steps_per_epoch` to `fit`, or give "
                "the schedule `total_steps`. Received: "
                f"steps={steps!r}, epochs={epochs!r}"
            )
        for schedule in schedules:
            schedule.set_total_steps(int(epochs) * int(steps))

    def _schedules(self):
        """The schedules the model's optimizer follows: its rate's, and an
        `LRX`'s `hyperparameters` (`OneCycle.momentum_schedule()`)."""
        from keras_lrx.optimizer import LRX

        optimizer = _model_optimizer(self.model)
        found = []
        if isinstance(optimizer, LRX):
            found.extend(optimizer.hyperparameters.values())
            if compat.own_learning_rate(optimizer) is None:
                optimizer = optimizer.optimizer  # LRX(schedule=None)
        if isinstance(optimizer, keras.optimizers.Optimizer):
            found.append(compat.own_learning_rate(optimizer))
        kind = keras.optimizers.schedules.LearningRateSchedule
        unique = {id(s): s for s in found if isinstance(s, kind)}
        return list(unique.values())


class SwapScheduleFreeWeights(keras.callbacks.Callback):
    """Evaluates and predicts with Schedule-Free's averaged weights.

    Keras's `ScheduleFreeAdamW` (Defazio et al., 2024) keeps two sequences
    per weight: `z`, where the gradient steps go (its `momentum` slot), and
    the average `x`; the model trains at their interpolation
    `y = (1 - beta_1) * z + beta_1 * x`. The weights to evaluate, predict
    with and export are `x = (y - (1 - beta_1) * z) / beta_1`. Keras swaps
    nothing by itself; this callback is the analogue of its `SwapEMAWeights`
    for Schedule-Free:

    * `evaluate` and `predict` (also `fit`'s validation) run with `x` in the
      model, and `y` is put back exactly (a copy, not recomputed) when they
      end;
    * with `swap_on_epoch=True`, `x` is in the model from each epoch's end
      to the next epoch's start, so a `ModelCheckpoint` listed after this
      callback saves `x` (list `BackupAndRestore` before it: its backup must
      hold the training weights);
    * when `fit` ends the model holds `y`, so training resumes exactly; call
      `swap_in()` yourself to keep `x` (to export it).

    The optimizer is the model's `ScheduleFreeAdamW`, or the one an `LRX`
    wraps (a variable an `LRX` keeps frozen has no `z`: its `x` is itself).
    With an `LRX`, each variable's `x` is the average of its own steps at
    `lr * m`.

    Args:
        swap_on_epoch: Whether `x` is in the model between an epoch's end
            and the next epoch's start. Defaults to False.

    Example:

    >>> import keras, numpy as np
    >>> from keras_lrx import LRX
    >>> from keras_lrx.callbacks import SwapScheduleFreeWeights
    >>> model = keras.Sequential([keras.Input((2,)),
    ...     keras.layers.Dense(4, name="body"),
    ...     keras.layers.Dense(1, name="head")])
    >>> model.compile(LRX(keras.optimizers.ScheduleFreeAdamW(1e-2),
    ...                   multipliers={"body": 0.1}), "mse")
    >>> x, y = np.ones((16, 2)), np.ones((16, 1))
    >>> swap = SwapScheduleFreeWeights()
    >>> _ = model.fit(x, y, validation_data=(x, y), callbacks=[swap],
    ...               verbose=0)
    >>> _ = model.evaluate(x, y, callbacks=[swap], verbose=0)
    """

    def __init__(self, swap_on_epoch: bool = False) -> None:
        super().__init__()
        self.swap_on_epoch = check_bool("swap_on_epoch", swap_on_epoch)
        self._training_weights = None  # [(variable, y)] while x is in

    def _schedule_free(self):
        from keras_lrx.optimizer import LRX

        optimizer = _model_optimizer(self.model)
        inner = optimizer.optimizer if isinstance(optimizer, LRX) else optimizer
        kind = getattr(keras.optimizers, "ScheduleFreeAdamW", None)
        if kind is None or not isinstance(inner, kind):
            raise TypeError(
                "`SwapScheduleFreeWeights` needs a model compiled with "
                "`keras.optimizers.ScheduleFreeAdamW` (Keras >= 3.14), or "
                "an `LRX` wrapping one. Received: optimizer="
                f"{type(optimizer).__name__}"
                + (
                    f" wrapping {type(inner).__name__}"
                    if inner is not optimizer
                    else ""
                )
            )
        return inner

    def swap_in(self) -> None:
        """Puts the averaged weights `x` in the model (keeps `y`)."""
        optimizer = self._schedule_free()
        if self._training_weights is not None or not optimizer.built:
            return  # already in; or nothing trained yet (x == y)
        beta_1 = float(optimizer.beta_1)
        kept = []
        for variable in self.model.trainable_variables:
            z = compat.schedule_free_sequence(optimizer, variable)
            if z is None:
                continue  # not trained by it: x == y
            y = ops.convert_to_numpy(variable)
            z = ops.convert_to_numpy(z)
            kept.append((variable, y))
            variable.assign((y - (1 - beta_1) * z) / beta_1)
        self._training_weights = kept

    def swap_out(self) -> None:
        """Puts the training weights `y` back (exactly as they were)."""
        if self._training_weights is None:
            return
        for variable, y in self._training_weights:
            variable.assign(y)
        self._training_weights = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._schedule_free()  # before any batch: a clear error

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.swap_in()

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        self.swap_out()

    def on_predict_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.swap_in()

    def on_predict_end(self, logs: dict[str, Any] | None = None) -> None:
        self.swap_out()

    def on_epoch_begin(
        self, epoch: int, logs: dict[str, Any] | None = None
    ) -> None:
        self.swap_out()

    def on_epoch_end(
        self, epoch: int, logs: dict[str, Any] | None = None
    ) -> None:
        if self.swap_on_epoch:
            self.swap_in()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.swap_out()


class BatchHistory(keras.callbacks.Callback):
    """Records the loss, the metrics and the learning rate of every batch.

    Keras's `History` keeps one value per epoch; `BatchHistory` keeps one row
    per training batch, so the effect of a schedule, a warmup or a plateau
    reduction can be seen and saved. Each row holds

    * `epoch`: the epoch index, `batch`: the batch index within the epoch,
      and `step`: the optimizer step the batch's update used, i.e. the step
      a schedule is evaluated at (read from the optimizer's step counter at
      each epoch start, so it continues across `fit` calls);
    * every value of the batch logs: `loss` and the compiled metrics as Keras
      reports them per batch (for the loss and mean metrics that is the
      running mean over the epoch so far, as in the progress bar);
    * the `hyperparameters` an `LRX` schedules (`beta_1`, ...), at the
      batch's step;
    * `learning_rate`: taken from the logs when a
      `keras_lrx.LearningRateMetric` is compiled, otherwise read from the
      model's optimizer after the batch (the rate the batch's update used;
      on JAX this syncs the training state to the model's variables each
      batch, which costs time on large models -- compile the metric
      instead).

    Rows are appended across `fit` calls; a key that first appears later is
    filled with NaN for the earlier rows (and a key missing from a row gets
    NaN), so every list in `history` has one entry per row. With
    `steps_per_execution > 1` Keras reports once per execution: one row per
    execution, with the last step's values.

    `history` is a plain dict of lists; `save(path)` writes it as CSV or JSON
    (by the extension), `BatchHistory.load(path)` reads it back, and
    `plot(x, y)` draws one column against another.

    Example:

    >>> import keras, numpy as np
    >>> from keras_lrx.callbacks import BatchHistory
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.SGD(0.1), "mse")
    >>> batches = BatchHistory()
    >>> _ = model.fit(np.ones((8, 2)), np.ones((8, 1)), batch_size=2,
    ...               epochs=2, callbacks=[batches], verbose=0)
    >>> len(batches.history["loss"]), batches.history["step"][-1]
    (8, 7)
    >>> round(batches.history["learning_rate"][0], 6)
    0.1
    """

    def __init__(self) -> None:
        super().__init__()
        self.history = {}
        self._rows = 0
        self._epoch = 0
        self._epoch_start = None
        self._next_step = 0

    # ------------------------------------------------------------------ #
    # Recording.
    # ------------------------------------------------------------------ #
    def _optimizer_step(self):
        """The optimizer's raw step counter, or None without an optimizer."""
        optimizer = _model_optimizer(self.model)
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            return None
        counter = compat.raw_iterations(optimizer)
        return int(ops.convert_to_numpy(ops.convert_to_tensor(counter)))

    def on_epoch_begin(
        self, epoch: int, logs: dict[str, Any] | None = None
    ) -> None:
        self._epoch = int(epoch)
        # Read once per epoch (cheap, and the JAX state is synced here).
        self._epoch_start = self._optimizer_step()

    def on_train_batch_end(
        self, batch: int, logs: dict[str, Any] | None = None
    ) -> None:
        logs = dict(logs or {})
        batch = int(batch)
        # With steps_per_execution, Keras reports the last batch of an
        # execution, past the end for a short last execution.
        steps = (self.params or {}).get("steps")
        if steps:
            batch = min(batch, int(steps) - 1)
        if self._epoch_start is not None:
            step = self._epoch_start + batch
        else:
            step = self._next_step
        self._next_step = step + 1
        row = {"epoch": self._epoch, "batch": batch, "step": step}
        for key, value in logs.items():
            value = _to_python(value)
            if value is not None:
                row[str(key)] = value
        if "learning_rate" not in row:
            rate = self._read_learning_rate()
            if rate is not None:
                row["learning_rate"] = rate
        for name, value in self._hyperparameters_at(step).items():
            row.setdefault(name, value)
        self._append(row)

    def _hyperparameters_at(self, step):
        """An `LRX`'s scheduled hyperparameters (`beta_1`, ...) at `step`:
        functions of the step, read without touching the training state."""
        from keras_lrx.optimizer import LRX

        optimizer = _model_optimizer(self.model)
        if not isinstance(optimizer, LRX) or not optimizer.hyperparameters:
            return {}
        return optimizer.hyperparameters_at(step)

    def _read_learning_rate(self):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            return None
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            # JAX: the optimizer variables are detached during an epoch.
            sync()
        return compat.learning_rate_at_last_step(optimizer)

    def _append(self, row):
        for key in row:
            if key not in self.history:
                self.history[key] = [math.nan] * self._rows
        for key, values in self.history.items():
            values.append(row.get(key, math.nan))
        self._rows += 1

    # ------------------------------------------------------------------ #
    # Saving and loading.
    # ------------------------------------------------------------------ #
    @staticmethod
    def _format(path):
        check_type(
            "path",
            path,
            (str, os.PathLike),
            "a string or path-like ending in '.csv' or '.json'",
        )
        extension = os.path.splitext(os.fspath(path))[1].lower()
        if extension not in (".csv", ".json"):
            raise ValueError(
                "Argument `path` must end in '.csv' or '.json' (the format "
                f"is chosen by the extension). Received: path={path!r}"
            )
        return extension[1:]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes `history` to `path` as CSV or JSON, by its extension.

        CSV has a header row of keys and one row per batch; JSON is the
        `history` dict of lists. Floats are written exactly (NaN as `nan`
        in CSV and `NaN` in JSON).

        Args:
            path: String or path-like ending in `.csv` or `.json`.

        Raises:
            ValueError: If `path` has another extension.
        """
        kind = self._format(path)
        with open(path, "w", newline="", encoding="utf-8") as f:
            if kind == "json":
                json.dump(self.history, f)
                return
            writer = csv.writer(f)
            keys = list(self.history)
            writer.writerow(keys)
            for i in range(self._rows):
                writer.writerow([repr(self.history[k][i]) for k in keys])

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BatchHistory:
        """Reads a history written by `save`.

        Args:
            path: String or path-like ending in `.csv` or `.json`.

        Returns:
            A `BatchHistory` whose `history` equals the saved one. It can be
            plotted, saved again, or passed to `fit` to append more rows.

        Raises:
            ValueError: If `path` has another extension, or the file does
                not hold a history: a CSV row with more or fewer cells than
                the header, JSON that is not a dict of lists, or columns of
                different lengths.
        """
        kind = cls._format(path)
        where = f"The file {os.fspath(path)!r}"
        with open(path, newline="", encoding="utf-8") as f:
            if kind == "json":
                history = json.load(f)
            else:
                history = _read_history_csv(f, where)
        if not isinstance(history, dict):
            raise ValueError(
                f"{where} does not hold a history (a dict of lists): it "
                f"holds a value of type {type(history).__name__}."
            )
        not_lists = [k for k, v in history.items() if not isinstance(v, list)]
        if not_lists:
            key = not_lists[0]
            raise ValueError(
                f"{where} does not hold a history (a dict of lists): the "
                f"value of {key!r} is of type {type(history[key]).__name__}, "
                f"not a list. Received: {key}={history[key]!r}"
            )
        lengths = {len(v) for v in history.values()}
        if len(lengths) > 1:
            raise ValueError(
                f"The file {os.fspath(path)!r} holds columns of different "
                f"lengths: { {k: len(v) for k, v in history.items()} }"
            )
        result = cls()
        result.history = {str(k): list(v) for k, v in history.items()}
        result._rows = lengths.pop() if lengths else 0
        steps = result.history.get("step")
        if steps and isinstance(steps[-1], numbers.Integral):
            result._next_step = steps[-1] + 1
        return result

    # ------------------------------------------------------------------ #
    # Plotting.
    # ------------------------------------------------------------------ #
    def plot(
        self,
        x: str = "learning_rate",
        y: str | list[str] | tuple[str, ...] = "loss",
        ax: matplotlib.axes.Axes | None = None,
        log_x: bool | None = None,
    ) -> matplotlib.axes.Axes:
        """Plots column `y` against column `x`, one point per batch.

        Args:
            x: String. Key for the horizontal axis, e.g. `"learning_rate"`,
                `"step"`. Defaults to `"learning_rate"`.
            y: String or list of strings. Key(s) for the vertical axis, e.g.
                `"loss"`. Defaults to `"loss"`.
            ax: A matplotlib `Axes` to draw on. Defaults to None, meaning a
                new figure.
            log_x: Bool. Logarithmic horizontal axis. Defaults to None:
                logarithmic when `x` is `"learning_rate"` and its positive
                values span more than a factor of 10.

        Returns:
            The matplotlib `Axes`, with one line per `y` key.

        Raises:
            ImportError: If matplotlib is not installed.
            TypeError: If `x` or `y` is not a string (or list of strings),
                or `log_x` is not a bool or None.
            ValueError: If no batch was recorded, or `x` or `y` is not a key
                of `history`.
        """
        check_type("x", x, str, "a string (a key of `history`)")
        if not isinstance(y, str):
            y = check_sequence(
                "y", y, "a string or a list of strings (keys of `history`)"
            )
            for key in y:
                check_type(
                    "y",
                    key,
                    str,
                    "a string or a list of strings (keys of `history`)",
                )
        if log_x is not None:
            log_x = check_bool("log_x", log_x)
        if not self._rows:
            raise ValueError(
                "Nothing to plot: no batch was recorded. Pass the "
                "BatchHistory to `model.fit(callbacks=[...])` first."
            )
        ys = [y] if isinstance(y, str) else list(y)
        for name, keys in (("x", [x]), ("y", ys)):
            missing = [k for k in keys if k not in self.history]
            if missing:
                received = x if name == "x" else y
                raise ValueError(
                    f"Argument `{name}` must name key(s) of `history`: "
                    f"{list(self.history)}. Received: {name}={received!r}"
                )
        from keras_lrx.plotting import plot_columns

        return plot_columns(self.history, x, ys, ax=ax, log_x=log_x)

    def plot_groups(
        self,
        statistic: str = "update_ratio",
        axes: Sequence[matplotlib.axes.Axes] | None = None,
    ) -> tuple[matplotlib.axes.Axes, matplotlib.axes.Axes]:
        """Each group's rate and, beside it, its statistic, per step.

        Needs the per-group columns of a compiled
        `LearningRateMetric(groups=True)` (`learning_rate/<key>`) and
        `GroupStatistics` (`update_ratio/<key>`, ...). The statistic is
        drawn on a log axis where it is > 0: a frozen group draws nothing,
        a thawing one starts where it starts.

        Args:
            statistic: String. `"update_ratio"`, `"grad_norm"` or
                `"weight_norm"`. Defaults to `"update_ratio"`.
            axes: Two matplotlib `Axes` to draw on. Defaults to None,
                meaning a new figure with two panels.

        Returns:
            The two `Axes`: the rates, the statistic.

        Raises:
            ValueError: If no batch was recorded, or `history` has no
                `<statistic>/<key>` column.

        Example:

        >>> import keras, numpy as np, matplotlib
        >>> matplotlib.use("Agg")
        >>> from keras_lrx import LRX, GroupStatistics, LearningRateMetric
        >>> model = keras.Sequential([keras.Input((4,)),
        ...     keras.layers.Dense(8, name="body"),
        ...     keras.layers.Dense(1, name="head")])
        >>> opt = LRX(keras.optimizers.SGD(0.1),
        ...           multipliers={"body": 0.1, "head": 1.0})
        >>> model.compile(opt, "mse", metrics=[
        ...     LearningRateMetric(opt, groups=True),
        ...     GroupStatistics(opt, every=1)])
        >>> batches = BatchHistory()
        >>> _ = model.fit(np.ones((16, 4)), np.ones((16, 1)), batch_size=4,
        ...               callbacks=[batches], verbose=0)
        >>> rates, ratios = batches.plot_groups()
        >>> sorted(line.get_label() for line in ratios.get_lines())
        ['body', 'head']
        """
        check_type("statistic", statistic, str, "a string")
        if not self._rows:
            raise ValueError(
                "Nothing to plot: no batch was recorded. Pass the "
                "BatchHistory to `model.fit(callbacks=[...])` first."
            )
        statistics = _group_columns(self.history, statistic)
        if not statistics:
            raise ValueError(
                f"Argument `statistic`: `history` has no `{statistic}/<key>` "
                "column; compile `keras_lrx.GroupStatistics` with the model. "
                f"Received: statistic={statistic!r}"
            )
        from keras_lrx.plotting import plot_group_panels

        return plot_group_panels(
            self.history["step"],
            _group_columns(self.history, "learning_rate"),
            statistics,
            axes=axes,
            statistic=statistic,
        )


def _group_columns(history, prefix):
    """`{label: values}` of the columns `<prefix>/<label>`."""
    return {
        key[len(prefix) + 1 :]: values
        for key, values in history.items()
        if key.startswith(prefix + "/")
    }


def _parse_number(cell):
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        return float(cell)
    except ValueError:
        return cell
