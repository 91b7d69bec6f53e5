"""The learning-rate range test: `find_lr`, the `LRFinder` callback, its result.

The range test (Smith, 2017) trains for a few hundred batches while the
learning rate grows from tiny to huge, records the loss of every batch, and
reads a good learning rate off the curve: training is fastest where the loss
falls most steeply, and the rate is too high once the loss turns ragged and
climbs. The model and optimizer are put back exactly as they were afterwards.

Pieces, after pytorch-lr-finder:

- `find_lr(model, x, ...)` runs the whole test and returns an
  `LRFinderResult`;
- `LRFinder` is the callback doing the work, for users who call `fit`
  themselves;
- `LRSweep` (`keras_lrx.sweep`) is the swept rate as a schedule;
- `_StateCache` (`keras_lrx._state_cache`) copies and restores every
  variable of the model, its optimizer and its metrics;
- `LRFinderResult` (`keras_lrx.finder_result`) holds the curve and reads
  rates off it with the NumPy helpers of `keras_lrx.suggestions`
  (`sweep_learning_rates`, `smooth_losses`, `suggest_*`, `clr_bounds`),
  which this module re-exports.

How the rate reaches each step: for the duration of the test the optimizer's
learning rate is replaced by `LRSweep`, a `LearningRateSchedule` of the
optimizer's own step counter (`rate(iterations - first_step)`), and the
model gets a freshly traced train function (the old one is handed back
afterwards). Keras evaluates the schedule inside the compiled train step on
every backend, so no value has to be pushed into the jitted JAX state
between batches and the k-th optimizer step uses the k-th rate by
construction -- for a float learning rate, a schedule, a `LossScaleOptimizer`
or an `LRX` (whose base rate is swept, with the per-variable multipliers on
top) alike. The per-batch loss comes from resetting the metrics before each
batch; on JAX that needs the training state synced back into the variables
once per batch, as Keras's own fit loop allows callbacks to do.
"""

from __future__ import annotations

import contextlib
import math
import sys
import warnings
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_lrx import _keras_compat as compat
from keras_lrx._fitting import count_batches
from keras_lrx._fitting import fit_plan
from keras_lrx._fitting import fit_warnings_silenced
from keras_lrx._fitting import model_attributes_kept
from keras_lrx._state_cache import _StateCache
from keras_lrx._validation import check_bool
from keras_lrx._validation import check_choice
from keras_lrx._validation import check_count
from keras_lrx._validation import check_float
from keras_lrx.finder_result import LRFinderResult
from keras_lrx.optimizer import LRX
from keras_lrx.probes import PROBE_STEPS
from keras_lrx.probes import ProbeData
from keras_lrx.probes import probe_candidates
from keras_lrx.probes import run_probes
from keras_lrx.suggestions import check_smoothing
from keras_lrx.suggestions import check_sweep
from keras_lrx.suggestions import clr_bounds
from keras_lrx.suggestions import smooth_losses
from keras_lrx.suggestions import suggest_minimum
from keras_lrx.suggestions import suggest_steepest
from keras_lrx.suggestions import suggest_valley
from keras_lrx.suggestions import sweep_learning_rates
from keras_lrx.sweep import LRSweep

__all__ = [
    "find_lr",
    "LRFinder",
    "LRFinderResult",
    "LRSweep",
    "sweep_learning_rates",
    "smooth_losses",
    "suggest_steepest",
    "suggest_minimum",
    "suggest_valley",
    "clr_bounds",
]


# ---------------------------------------------------------------------------
# Argument checks (Keras-style messages).
# ---------------------------------------------------------------------------


def _check_divergence_threshold(divergence_threshold):
    return check_float(
        "divergence_threshold",
        divergence_threshold,
        low=1.0,
        low_open=True,
        allow_none=True,
    )


def _check_verbose(verbose):
    verbose = check_choice("verbose", verbose, ("auto", 0, 1, 2))
    return 1 if verbose == "auto" else int(verbose)


def _overrides(model, name):
    return getattr(type(model), name, None) is not getattr(keras.Model, name)


def _may_add_losses_in_call(model):
    """Whether a layer of `model` may add losses when called.

    Keras's own layers add none in `call` but for an activity regularizer;
    a layer of any other library, or of the user, cannot be told apart
    without calling it, so it counts as one that may.
    """
    for layer in compat.sublayers(model):
        if getattr(layer, "activity_regularizer", None) is not None:
            return True
        if not type(layer).__module__.startswith("keras."):
            return True
    return False


def _has_training_loss(model):
    """Whether training `model` minimizes something at all.

    A compiled loss, an overridden `compute_loss` or `train_step`, or
    losses added with `add_loss` (regularizers included). Without any of
    them Keras trains at a constant loss of 0.
    """
    if compat.compiled_loss(model) is not None:
        return True
    if _overrides(model, "compute_loss") or _overrides(model, "train_step"):
        return True
    try:
        if model.losses:
            return True
    except Exception:  # noqa: BLE001 -- an unbuilt model cannot say
        return True
    return _may_add_losses_in_call(model)


def check_no_distribution_strategy(model, advice=None):
    """`ValueError` for a model made or run under a `tf.distribute` strategy."""
    if keras.backend.backend() != "tensorflow":
        return
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return
    strategies = list(compat.distribution_strategies(model))
    if tf.distribute.has_strategy():
        strategies.append(tf.distribute.get_strategy())
    for strategy in strategies:
        if strategy is None or type(strategy).__name__.startswith("_Default"):
            continue
        raise ValueError(
            "The learning-rate range test is not supported under a "
            "distribution strategy (the model or its optimizer was made, or "
            "`find_lr` was called, under tf.distribute."
            f"{type(strategy).__name__}). "
            + (
                advice
                or "Run it outside the strategy scope on a single device: "
                "build and compile a copy of the model (e.g. "
                "`keras.models.clone_model`) without the strategy, run "
                "`find_lr` on the copy, and use the suggested learning rate "
                "for the distributed model."
            )
        )


def _check_model(model):
    if not isinstance(model, keras.Model):
        raise TypeError(
            "Argument `model` must be a `keras.Model`. "
            f"Received: model={model!r} (of type {type(model).__name__})"
        )
    if not getattr(model, "compiled", False) or model.optimizer is None:
        raise ValueError(
            "The model must be compiled with an optimizer and a loss before "
            "the range test: call `model.compile(optimizer=..., loss=...)` "
            "first."
        )
    if not _has_training_loss(model):
        raise ValueError(
            "The model was compiled without a loss (and adds none with "
            "`add_loss` or a custom `compute_loss`/`train_step`), so Keras "
            "would train it at a constant loss of 0 and the range test would "
            "have nothing to measure. Compile it with a loss: "
            "`model.compile(optimizer=..., loss=...)`."
        )
    check_no_distribution_strategy(model)


# ---------------------------------------------------------------------------
# The callback.
# ---------------------------------------------------------------------------


class LRFinder(keras.callbacks.Callback):
    """Callback running the learning-rate range test inside your own `fit`.

    `find_lr` is the easy way; use this callback when you want to call
    `fit` yourself (your own data pipeline, sample weights, other callbacks).
    During `fit` it

    - at `on_train_begin`: copies the model's, optimizer's and metrics'
      variables, and replaces the optimizer's learning rate by an `LRSweep`
      of the optimizer step, so that the k-th batch trains at
      `sweep_learning_rates(...)[k]` (for an `LRX` the base rate is swept;
      its multipliers still apply, those that change over time -- a thaw --
      held at their values at the start of the sweep);
    - at `on_train_batch_begin`: resets the metrics, so that the `loss` in the
      batch logs is this batch's loss and not the epoch's running mean (on
      JAX this first syncs the training state back into the variables, as
      Keras does at the end of an epoch);
    - at `on_train_batch_end`: records the loss, its smoothed value and the
      rate the step used (also written to the logs as `learning_rate`; it is
      read from the optimizer's step counter, so a step that a
      `LossScaleOptimizer` skipped does not advance the sweep), and sets
      `model.stop_training` once `num_steps` batches are done, the smoothed
      loss exceeds `divergence_threshold` times its lowest value so far, or a
      loss is NaN or infinite;
    - at `on_train_end`: puts the original learning rate back and, with
      `restore_state=True`, every variable copied at the start.

    With this callback you control the length of `fit`: give it at least
    `num_steps` batches in all (`epochs` x `steps_per_epoch`); if it ends
    earlier the result is shorter and its `stop_reason` is `"incomplete"`.
    The model must be compiled with `steps_per_execution=1`, and the loss is
    read from the `loss` entry of the batch logs; all metrics show per-batch
    values during the sweep. On TensorFlow the model must be built before
    `fit` (Keras builds it inside the first step there, too late to save its
    initial weights); an optimizer that is not built yet is built at
    `on_train_begin`. If `fit` raises, Keras skips `on_train_end`: call
    `finder.restore()` yourself (`find_lr` does this for you).

    Args:
        start_learning_rate: Float. The rate of the first batch (> 0).
            Defaults to `1e-7`.
        end_learning_rate: Float. The rate of batch `num_steps - 1`
            (> `start_learning_rate`). Defaults to `10.0`.
        num_steps: Int. Number of batches of the sweep (>= 2). Defaults to
            100.
        mode: String. `"exponential"` (rates evenly spaced in log scale) or
            `"linear"`. Defaults to `"exponential"`.
        smoothing: Float in `[0, 1)`. Factor of the bias-corrected
            exponential moving average of the loss (see `smooth_losses`).
            Defaults to `0.98`.
        divergence_threshold: Float > 1 or None. Stop once the smoothed loss
            exceeds this multiple of its lowest value so far (for losses that
            can be negative: `best + (threshold - 1) * |best|`). None never
            stops early on divergence. Defaults to `4.0`.
        restore_state: Bool. Whether `on_train_end` puts back the weights,
            optimizer state and metrics from before the sweep. Defaults to
            True.

    Example:

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> finder = LRFinder(1e-4, 1e-1, num_steps=8)
    >>> x, y = np.ones((64, 4)), np.ones((64, 1))
    >>> _ = model.fit(x, y, batch_size=8, epochs=1, callbacks=[finder],
    ...               verbose=0)
    >>> result = finder.result
    >>> len(result.learning_rates), result.stop_reason
    (8, 'completed')

    Reference:
        - [Smith, 2017. Cyclical Learning Rates for Training Neural
          Networks](https://arxiv.org/abs/1506.01186)
    """

    def __init__(
        self,
        start_learning_rate: float = 1e-7,
        end_learning_rate: float = 10.0,
        num_steps: int = 100,
        mode: str = "exponential",
        smoothing: float = 0.98,
        divergence_threshold: float | None = 4.0,
        restore_state: bool = True,
    ) -> None:
        super().__init__()
        (
            self.start_learning_rate,
            self.end_learning_rate,
            self.num_steps,
            self.mode,
        ) = check_sweep(start_learning_rate, end_learning_rate, num_steps, mode)
        self.smoothing = check_smoothing(smoothing)
        self.divergence_threshold = _check_divergence_threshold(
            divergence_threshold
        )
        self.restore_state = check_bool("restore_state", restore_state)
        self._rates = sweep_learning_rates(
            self.start_learning_rate,
            self.end_learning_rate,
            self.num_steps,
            self.mode,
        )
        self._cache = None
        self._installed = None
        self._reset_records()

    def _reset_records(self):
        self.learning_rates = []
        self.losses = []
        self.raw_losses = []
        self.stop_reason = None
        self._avg = 0.0
        self._best = None
        self._multipliers = (1.0,)
        self._current_rate = None

    # -- installing and removing the sweep ----------------------------- #

    def _install(self):
        model = self.model
        if getattr(model, "steps_per_execution", 1) != 1:
            raise ValueError(
                "LRFinder records the loss of every batch, so the model must "
                "be compiled with `steps_per_execution=1`. Received: "
                f"steps_per_execution={model.steps_per_execution}. Recompile, "
                "or use `keras_lrx.find_lr`, which runs the sweep one step "
                "per execution."
            )
        optimizer = model.optimizer
        owner = compat.unwrap_loss_scale(optimizer)
        step = int(ops.convert_to_numpy(compat.raw_iterations(owner)))
        sweep = LRSweep(
            self.start_learning_rate,
            self.end_learning_rate,
            self.num_steps,
            self.mode,
            initial_step=step,
        )
        override = contextlib.ExitStack()
        if isinstance(owner, LRX):
            override.enter_context(owner.override_learning_rate(sweep))
            # Multipliers that change over time (a thaw) stay as they are
            # at the start: the sweep sees the groups that train now.
            override.enter_context(owner.hold_multipliers())
            groups = (
                sorted(set(owner.current_multipliers().values()))
                if owner.variable_multipliers
                else ()
            )
            self._multipliers = tuple(groups) or (1.0,)
        else:
            override.enter_context(compat.learning_rate_override(owner, sweep))
        self._installed = {
            "owner": owner,
            "override": override,
            "initial_step": step,
            "train_function": model.train_function,
        }
        compat.fresh_train_function(model)

    def _uninstall(self):
        installed, self._installed = self._installed, None
        if installed is None:
            return
        installed["override"].close()
        self.model.train_function = installed["train_function"]

    def restore(self) -> None:
        """Puts the model, optimizer and metrics back as before the sweep.

        Restores every variable copied at the start of the sweep (weights,
        BatchNorm statistics, seed states, optimizer iterations, slots and
        learning rate, metrics) and the optimizer's original learning rate or
        schedule. Safe to call more than once; a no-op before the sweep.
        """
        self._uninstall()
        if self._cache is not None:
            self._cache.restore()

    # -- callback hooks ------------------------------------------------- #

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._reset_records()
        self._uninstall()
        model = self.model
        # Nothing has been trained yet. On JAX and torch `fit` has built the
        # model, optimizer and metrics by now; on TensorFlow Keras builds them
        # inside the first traced step, so build what can be built here.
        if not model.built:
            raise ValueError(
                "The model is not built yet, so its initial weights cannot be "
                "saved for restoring after the range test (on TensorFlow, "
                "Keras builds it inside the first training step). Build it "
                "first: call it on a batch of inputs, or use "
                "`model.build(input_shape)`."
            )
        optimizer = model.optimizer
        if not optimizer.built:
            with keras.name_scope(optimizer.name, caller=optimizer):
                optimizer.build(model.trainable_variables)
        self._cache = _StateCache(model)
        self._install()

    def on_train_batch_begin(
        self, batch: int, logs: dict[str, Any] | None = None
    ) -> None:
        # On JAX the variables live in the jitted state during fit: sync it
        # back first, so the reset reaches the next step and the step counter
        # read below is current.
        sync = getattr(self.model, "jax_state_sync", None)
        if callable(sync):
            sync()
        self.model.reset_metrics()
        # The rate this step uses: the sweep at the optimizer's step counter.
        # It is the k-th rate for the k-th batch unless steps were skipped
        # (LossScaleOptimizer skips the update on overflowing gradients).
        installed = self._installed
        if installed is not None:
            step = int(
                ops.convert_to_numpy(compat.raw_iterations(installed["owner"]))
            )
            k = step - installed["initial_step"]
            k = min(max(k, 0), self.num_steps - 1)
            self._current_rate = float(self._rates[k])

    def on_train_batch_end(
        self, batch: int, logs: dict[str, Any] | None = None
    ) -> None:
        k = len(self.raw_losses)
        if self.stop_reason is not None or k >= self.num_steps:
            return
        logs = logs if logs is not None else {}
        if "loss" not in logs:
            raise ValueError(
                "LRFinder needs the training loss: the batch logs have no "
                f"`loss` entry (keys: {sorted(logs)}). Compile the model "
                "with a loss."
            )
        raw = float(np.asarray(logs["loss"]))
        rate = self._current_rate
        if rate is None:  # no on_train_batch_begin (not called by Keras fit)
            rate = float(self._rates[k])
        self._current_rate = None
        s = self.smoothing
        self._avg = s * self._avg + (1.0 - s) * raw
        smoothed = self._avg / (1.0 - s ** (k + 1))
        self.learning_rates.append(rate)
        self.raw_losses.append(raw)
        self.losses.append(smoothed)
        logs["learning_rate"] = rate
        if not math.isfinite(raw):
            self.stop_reason = "non_finite"
        else:
            if self._best is None or smoothed < self._best:
                self._best = smoothed
            threshold = self.divergence_threshold
            if threshold is not None:
                limit = self._best + (threshold - 1.0) * abs(self._best)
                if smoothed > limit:
                    self.stop_reason = "diverged"
        if self.stop_reason is None and k + 1 >= self.num_steps:
            self.stop_reason = "completed"
        if self.stop_reason is not None:
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.stop_reason is None:
            self.stop_reason = "incomplete"
        if self.restore_state:
            self.restore()
        else:
            self._uninstall()

    @property
    def result(self) -> LRFinderResult:
        """The `LRFinderResult` of what has been recorded so far.

        Raises:
            ValueError: if no batch has been recorded yet.
        """
        if not self.learning_rates:
            raise ValueError(
                "The range test recorded no batch, so there is no result: "
                "pass the LRFinder to `fit` with at least one batch of data "
                "(`find_lr` does this for you)."
            )
        lrs = np.asarray(self.learning_rates, dtype="float64")
        return LRFinderResult(
            learning_rates=lrs,
            losses=self.losses,
            raw_losses=self.raw_losses,
            group_learning_rates={m: lrs * m for m in self._multipliers},
            stop_reason=self.stop_reason or "incomplete",
            mode=self.mode,
        )


# ---------------------------------------------------------------------------
# find_lr.
# ---------------------------------------------------------------------------


class _Progress(keras.callbacks.Callback):
    """Keras's progress bar over the sweep's batches (across epochs)."""

    def __init__(self, finder, verbose):
        super().__init__()
        self._finder = finder
        self._bar = keras.utils.Progbar(
            finder.num_steps,
            verbose=verbose,
            stateful_metrics=["loss", "smoothed_loss", "learning_rate"],
        )
        self._done = False

    def on_train_batch_end(self, batch, logs=None):
        f = self._finder
        k = len(f.raw_losses)
        if not k or self._done:
            return
        values = [
            ("loss", f.raw_losses[-1]),
            ("smoothed_loss", f.losses[-1]),
            ("learning_rate", f.learning_rates[-1]),
        ]
        self._done = f.stop_reason is not None
        self._bar.update(k, values=values, finalize=self._done)
        if f.stop_reason in ("diverged", "non_finite"):
            why = (
                "the loss is not finite"
                if f.stop_reason == "non_finite"
                else "the smoothed loss exceeded "
                f"{f.divergence_threshold:g} x its lowest value"
            )
            print(f"Stopped early after {k} of {f.num_steps} steps: {why}.")

    def on_train_end(self, logs=None):
        k = len(self._finder.raw_losses)
        if k and not self._done:  # the data ran out first: end the bar
            self._done = True
            self._bar.update(k, finalize=True)


def find_lr(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    batch_size: int | None = None,
    start_learning_rate: float = 1e-7,
    end_learning_rate: float = 10.0,
    num_steps: int = 100,
    mode: str = "exponential",
    smoothing: float = 0.98,
    divergence_threshold: float | None = 4.0,
    validation_data: Any = None,
    probe: bool = True,
    probe_steps: int = PROBE_STEPS,
    for_steps: int | None = None,
    for_epochs: int | None = None,
    verbose: str | int = "auto",
) -> LRFinderResult:
    """Runs the learning-rate range test and puts the model back afterwards.

    Trains `model` for `num_steps` batches, one optimizer step each, the k-th
    at `sweep_learning_rates(start_learning_rate, end_learning_rate,
    num_steps, mode)[k]`, recording each batch's loss; it stops early once
    the smoothed loss exceeds `divergence_threshold` times its lowest value or
    a loss is NaN/inf. Data with fewer batches is cycled: Keras starts a new
    epoch (a new pass, reshuffled for arrays) as often as needed. The data
    goes through `model.fit` -- NumPy arrays, `tf.data.Dataset`,
    `keras.utils.PyDataset`, a torch `DataLoader` or anything else `fit`
    accepts; a one-pass generator must yield `num_steps` batches.

    Afterwards -- also when the sweep raises, or is interrupted with
    Ctrl-C -- every variable of the model (weights, BatchNorm statistics,
    seed states), of the optimizer (iterations, slots, learning rate or
    schedule, LRX scale, loss scale) and of the metrics holds exactly its
    value from before, and `model.stop_training`, `model.history`,
    `model.train_function`, `model.test_function` and
    `steps_per_execution` are as they were (after the probes too). An
    optimizer (or model, or metric) that was not built before is built by
    the sweep and stays built, its variables holding their initial values.
    The random number generators that shuffle the data are not rewound.

    Across processes (JAX's `keras.distribution` on several hosts), every
    process calls it with its own rows, as it would `fit`: the losses are
    the global batch's, so every process reads the same curve, suggests the
    same rate and is put back exactly. A model made under a `tf.distribute`
    strategy is refused before anything changes.

    With an `LRX` optimizer the base rate is swept and each variable trains
    at `base * multiplier`; `result.group_learning_rates` has the rates per
    multiplier. Suggestions are base rates, to set as the LRX's rate.

    Then, with `probe=True`, it measures instead of trusting one reading of
    the curve: it trains the curve's `"descent"` reading, ten and a hundred
    times it (none above the rates the sweep survived) for `probe_steps`
    steps each, every one from the restored start, and scores each on
    held-out data -- `validation_data` if given, else a random fifth of
    array data (the probes train on the rest), else the first batches of
    `x`. `result.suggested_learning_rate` is then the lowest candidate whose
    loss is within 50% of the best, backed off by half a decade when it is
    above the reading (`keras_lrx.suggestions.pick_probe`), and
    `result.probes` holds the candidates, their losses and the steps they
    cost. Why: training from scratch, the best rate lies near the reading;
    fine-tuning a pretrained body with a fresh head, 10 to 40 times above
    it -- no fixed reading of the curve serves both (the finder guide,
    "How good the number is"). The probes cost `3 * probe_steps` steps
    more and one more trace of the train step; a flat curve and one-pass
    data (a generator) are not probed (the latter with a warning), and
    `suggested_learning_rate` is then the reading.

    The best constant rate depends on how long you train at it: describe
    the run with `for_steps=` (optimizer steps) or `for_epochs=` (passes
    over `x`) and `suggested_learning_rate` is the rate for that run
    (`LRFinderResult.suggest(for_steps=...)`, `run_length_factor`: higher
    for short runs, lower for long ones; measured on runs of 40 to 640
    steps, longer ones read as 640). Without it the suggestion is as
    before; a run described as 160 steps (the length the probes were
    chosen on) can still differ from it: about three times higher where
    the pick is the curve's own reading, as the benchmark's chosen cases
    preferred. It changes what is suggested, not what the test runs.

    Args:
        model: A compiled `keras.Model`.
        x: The input data, as for `model.fit`.
        y: The targets, as for `model.fit`; None for datasets that yield
            them. Defaults to None.
        batch_size: Int. Batch size for array data, as in `fit`. Defaults
            to None (32 for arrays).
        start_learning_rate: Float. The first rate (> 0). Defaults to `1e-7`.
        end_learning_rate: Float. The last rate (> `start_learning_rate`).
            Defaults to `10.0`.
        num_steps: Int. Number of batches (>= 2). Defaults to 100.
        mode: String. `"exponential"` or `"linear"` spacing of the rates.
            Defaults to `"exponential"`.
        smoothing: Float in `[0, 1)`. Factor of the bias-corrected moving
            average of the loss. Defaults to `0.98`.
        divergence_threshold: Float > 1 or None (never stop early). Defaults
            to `4.0`.
        validation_data: Data to score the probes on, as `fit` takes it:
            `(x_val, y_val)` or a dataset. Defaults to None (a held-out
            fifth of array data, else the first batches of `x`).
        probe: Bool. Whether to run the probes after the sweep. Defaults to
            True.
        probe_steps: Int >= 1. Optimizer steps of each probe. Defaults to
            20.
        for_steps: Int >= 1 or None. Optimizer steps of the run the
            suggestion is for (at a constant rate). Defaults to None (the
            suggestion as without a run).
        for_epochs: Int >= 1 or None. The same in epochs over `x` (with
            `batch_size`); `x` must have a known length. Not with
            `for_steps`. Defaults to None.
        verbose: `"auto"`, 0, 1 or 2, as in `fit`: 1 shows Keras's progress
            bar, 2 one line at the end, 0 prints nothing. `"auto"` is 1.
            Defaults to `"auto"`.

    Returns:
        An `LRFinderResult`.

    Raises:
        TypeError: if `model` is not a `keras.Model` or an argument has the
            wrong type.
        ValueError: before anything changes, for a model that is not
            compiled, or compiled without a loss (and without `add_loss`, a
            regularizer or a custom `compute_loss`/`train_step`), a model
            made or run under a `tf.distribute` strategy (run the test on a
            single-device copy instead), `start_learning_rate <= 0`,
            `end_learning_rate <=
            start_learning_rate`, `num_steps < 2`, an unknown `mode`,
            `smoothing` outside `[0, 1)`, `divergence_threshold <= 1`,
            `batch_size < 1`, `probe_steps < 1`, `for_steps < 1`,
            `for_epochs < 1`, both of them, `for_epochs` for data of
            unknown length, `validation_data` with `probe=False` or with
            sample weights, or data with no batches.

    Example:

    >>> import keras, numpy as np
    >>> keras.utils.set_random_seed(0)
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="adam", loss="mse")
    >>> x = np.random.rand(256, 4)
    >>> y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]])
    >>> result = find_lr(model, x, y, batch_size=64, start_learning_rate=1e-3,
    ...                  end_learning_rate=10.0, num_steps=30, verbose=0)
    >>> len(result.learning_rates), result.stop_reason, result.is_flat
    (30, 'completed', False)
    >>> 1e-3 <= result.suggested_learning_rate <= 10.0
    True
    >>> result.default_method, result.probes["scored_on"]
    ('probe', 'held_out_split')
    >>> len(result.probes["learning_rates"]) <= 3
    True

    Reference:
        - [Smith, 2017. Cyclical Learning Rates for Training Neural
          Networks](https://arxiv.org/abs/1506.01186)
        - [Howard & Gugger, 2020. fastai: A Layered API for Deep
          Learning](https://arxiv.org/abs/2002.04688) (`lr_find`)
    """
    _check_model(model)
    finder = LRFinder(
        start_learning_rate,
        end_learning_rate,
        num_steps,
        mode,
        smoothing,
        divergence_threshold,
        restore_state=True,
    )
    verbose = _check_verbose(verbose)
    if batch_size is not None:
        batch_size = check_count("batch_size", batch_size, 1)
    if x is None:
        raise ValueError(
            "Argument `x` is required: the range test trains on it. "
            "Received: x=None"
        )
    probe = check_bool("probe", probe)
    probe_steps = check_count("probe_steps", probe_steps, 1)
    for_steps = _run_steps(x, batch_size, for_steps, for_epochs)
    probe_data = None
    if probe:
        probe_data = _probe_data(x, y, batch_size, validation_data)
    elif validation_data is not None:
        raise ValueError(
            "Argument `validation_data` is only used to score the probes: "
            "pass it with `probe=True`. Received: probe=False, "
            f"validation_data={type(validation_data).__name__}"
        )
    sweep_x, epochs, steps_per_epoch = fit_plan(x, batch_size, finder.num_steps)

    callbacks = [finder]
    if verbose:
        callbacks.append(_Progress(finder, verbose))
    probes = None
    try:
        with model_attributes_kept(model), fit_warnings_silenced():
            if model.steps_per_execution != 1:
                model.steps_per_execution = 1
                model.train_function = None
            try:
                model.fit(
                    sweep_x,
                    y,
                    batch_size=batch_size,
                    epochs=epochs,
                    steps_per_epoch=steps_per_epoch,
                    verbose=0,
                    callbacks=callbacks,
                )
            finally:
                # Before the model's attributes are put back: the finder's
                # own restore hands back the step `fit` made for the sweep.
                finder.restore()
            if probe_data is not None and len(finder.learning_rates) >= 2:
                probes = _probe(model, finder, probe_data, probe_steps)
                if verbose and probes is not None:
                    _print_probes(probes)
    finally:
        finder.restore()
    result = finder.result
    if probes is not None:
        result.probes = probes
    result.for_steps = for_steps
    return result


def _run_steps(x, batch_size, for_steps, for_epochs):
    """The described run's length in steps (None: not described)."""
    for_steps = check_count("for_steps", for_steps, 1, allow_none=True)
    for_epochs = check_count("for_epochs", for_epochs, 1, allow_none=True)
    if for_epochs is None:
        return for_steps
    if for_steps is not None:
        raise ValueError(
            "Describe the run once: pass `for_steps` or `for_epochs`, not "
            f"both. Received: for_steps={for_steps}, for_epochs={for_epochs}"
        )
    batches = count_batches(x, batch_size)
    if batches is None or not math.isfinite(batches):
        raise ValueError(
            "Argument `for_epochs` needs data of known length to count its "
            f"steps, and `x` ({type(x).__name__}) has "
            f"{'no end' if batches else 'no known length'}: pass "
            f"`for_steps` instead. Received: for_epochs={for_epochs}"
        )
    return int(for_epochs * batches)


def _probe_data(x, y, batch_size, validation_data):
    """`ProbeData`, or None (with a warning) for one-pass data."""
    batches = count_batches(x, batch_size)
    tf = sys.modules.get("tensorflow")
    reiterable = batches is not None or (
        tf is not None and isinstance(x, tf.data.Dataset)
    )
    if not reiterable:
        warnings.warn(
            "The probes need data they can go through again, and `x` is a "
            f"one-pass iterable ({type(x).__name__}): the probes were "
            'skipped and the suggestion is the curve\'s "descent" reading. '
            "Pass a dataset, a `keras.utils.PyDataset` or arrays, or "
            "`probe=False` to silence this warning.",
            UserWarning,
            stacklevel=3,
        )
        return None
    return ProbeData(x, y, batch_size, validation_data, batches)


def _probe(model, finder, data, steps):
    """Probes the candidates read off the finder's curve (see `probes`)."""
    result = finder.result
    if result.is_flat:  # no reading to probe around
        return None
    anchor = result.suggest("descent")
    ceiling = float(result.learning_rates[-1])
    if result.stop_reason in ("diverged", "non_finite"):
        # The last rates are where the loss blew up: stay below them.
        ceiling = float(result.learning_rates[max(0, len(result) - 2)])
    candidates = probe_candidates(anchor, ceiling)
    owner = compat.unwrap_loss_scale(model.optimizer)
    losses, trained = run_probes(
        model, owner, candidates, data, steps, finder.restore
    )
    return {
        "learning_rates": [float(c) for c in candidates],
        "losses": [float(v) for v in losses],
        "steps": int(steps),
        "steps_trained": int(trained),
        "scored_on": data.scored_on,
    }


def _print_probes(probes):
    rows = ", ".join(
        f"{lr:.2e}: {loss:.4g}"
        for lr, loss in zip(probes["learning_rates"], probes["losses"])
    )
    print(
        f"Probes ({probes['steps']} steps each, loss on "
        f"{probes['scored_on'].replace('_', ' ')}): {rows}"
    )
