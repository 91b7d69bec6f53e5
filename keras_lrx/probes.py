"""Probes: short runs of a few candidate rates, scored on held-out data.

A range test reads a rate off one curve, and how far the best training rate
lies from the curve's landmarks depends on the regime: training from scratch it
sits about a tenth of the way up the steep descent, while fine-tuning a
pretrained body (with a fresh head and small multipliers on the body) wants
rates ten to forty times higher, near where the loss turns. No fixed reading
serves both (benchmarks/README.md, "The finder's suggestion vs a grid search").
So after the sweep, `find_lr` *measures*: it trains each candidate rate for a
few steps from the restored start, keeps the lowest one whose held-out loss is
within 50% of the best and, if that is not the curve's own reading, backs it
off by half a decade, since a rate that wins a short probe is higher than a
whole run can hold (`keras_lrx.suggestions.pick_probe`).

- `probe_candidates(anchor, ...)`: the candidates, a decade apart from the
  curve's `"descent"` reading upwards, never past the rates the sweep
  survived;
- `ProbeData`: where the probes train and where they are scored
  (`validation_data`, a held-out fifth of array data, or the training data);
- `run_probes(...)`: trains every candidate from the same start, scores it,
  and restores the model (the caller's `_StateCache`).
"""

import contextlib
import math
import sys

import keras
import numpy as np

from keras_lrx import _keras_compat as compat
from keras_lrx._fitting import fit_plan
from keras_lrx.optimizer import LRX

__all__ = ["PROBE_FACTORS", "PROBE_STEPS", "probe_candidates", "ProbeData"]

#: The candidates' multiples of the `"descent"` reading: the reading itself
#: (where training from scratch does best), ten and a hundred times it
#: (where fine-tuning a pretrained body does). Chosen with
#: `benchmarks/bench_suggestion.py` (docs/guides/finder.md, "How good is
#: the number").
PROBE_FACTORS = (1.0, 10.0, 100.0)

#: Optimizer steps each candidate trains for.
PROBE_STEPS = 20

#: The share of array data held out to score the probes on.
HELD_OUT_FRACTION = 0.2

#: Batches of the training data the probes are scored on when there is no
#: held-out data (at most).
_SCORE_BATCHES = 10


def probe_candidates(anchor, ceiling, factors=PROBE_FACTORS):
    """The rates to probe: `anchor * factor`, none above `ceiling`.

    `ceiling` is the highest rate the sweep trained at before it stopped
    (diverged or ended): a rate past it has not been shown to train at all.
    At least the anchor is kept.

    Example:

    >>> [round(c, 4) for c in probe_candidates(1e-3, 0.5)]
    [0.001, 0.01, 0.1]
    >>> [round(c, 4) for c in probe_candidates(1e-3, 0.02)]
    [0.001, 0.01]
    """
    rates = [anchor * f for f in factors if anchor * f <= ceiling * (1 + 1e-9)]
    return rates or [anchor]


def _leaves(value):
    if isinstance(value, (dict, list, tuple)):
        return keras.tree.flatten(value)
    return [value]


def _is_array_data(x, y):
    """Whether `x` (and `y`) are arrays with one shared first dimension."""
    tf = sys.modules.get("tensorflow")
    leaves = _leaves(x) + ([] if y is None else _leaves(y))
    if not leaves:
        return False
    lengths = set()
    for leaf in leaves:
        if isinstance(leaf, keras.utils.PyDataset):
            return False
        if tf is not None and isinstance(leaf, tf.data.Dataset):
            return False
        shape = getattr(leaf, "shape", None)
        if shape is None or len(shape) == 0 or shape[0] is None:
            return False
        lengths.add(int(shape[0]))
    return len(lengths) == 1


def _take(value, index):
    return keras.tree.map_structure(lambda a: np.asarray(a)[index], value)


def _take_pair(x, y, index):
    """`x` and `y` (None stays None) at `index`."""
    return _take(x, index), None if y is None else _take(y, index)


class ProbeData:
    """Where the probes train and what they are scored on.

    - With `validation_data` (as `fit` takes it), the probes train on `x`
      and are scored there (`scored_on="validation_data"`).
    - Without it, for NumPy-like arrays (also dicts/lists of them) of at
      least 10 examples, a random fifth (a fixed seed) is held out and the
      probes are scored on it (`"held_out_split"`).
    - Array data the probes train on is put in one random order (a fixed
      seed) and passed unshuffled, so every candidate sees the same
      batches, and data sorted by class is mixed all the same.
    - Otherwise (a dataset, a `PyDataset`, a `DataLoader`) they train on
      `x` and are scored on its first batches (`"training_data"`), which
      says how fast a rate trains but not how well it generalizes.

    `batches` is the number of batches of `x` per pass (None if unknown,
    `math.inf` for endless data).

    Attributes:
        scored_on: String, one of the three above.
    """

    def __init__(self, x, y, batch_size, validation_data=None, batches=None):
        self.batch_size = batch_size
        self.x, self.y = x, y
        self.x_val = self.y_val = None
        self.score_steps = None
        n = int(_leaves(x)[0].shape[0]) if _is_array_data(x, y) else None
        order = None if n is None else np.random.default_rng(0).permutation(n)
        if validation_data is not None:
            self.scored_on = "validation_data"
            self.x_val, self.y_val = _unpack_validation(validation_data)
            if order is not None:
                self.x, self.y = _take_pair(x, y, order)
            return
        if n is not None and n >= 10:
            held = max(1, int(round(n * HELD_OUT_FRACTION)))
            self.x_val, self.y_val = _take_pair(x, y, order[:held])
            self.x, self.y = _take_pair(x, y, order[held:])
            self.scored_on = "held_out_split"
            return
        self.scored_on = "training_data"
        self.x_val, self.y_val = x, y
        known = batches is not None and math.isfinite(batches)
        self.score_steps = _SCORE_BATCHES
        if known:
            self.score_steps = min(batches, _SCORE_BATCHES)

    @property
    def arrays(self):
        """Whether the probes train on arrays (passed unshuffled)."""
        return _is_array_data(self.x, self.y)


def _unpack_validation(validation_data):
    if not isinstance(validation_data, tuple):
        return validation_data, None  # a dataset
    if len(validation_data) == 2:
        return validation_data
    sample_weights = (
        " (sample weights are not supported by the probes: pass a dataset "
        "yielding `(x, y, sample_weight)`)"
        if len(validation_data) == 3
        else ""
    )
    raise ValueError(
        "Argument `validation_data` must be `(x_val, y_val)` or a dataset, "
        f"as in `fit`{sample_weights}. Received: a tuple of length "
        f"{len(validation_data)}"
    )


class _StopAfter(keras.callbacks.Callback):
    """Ends `fit` after `steps` batches."""

    def __init__(self, steps):
        super().__init__()
        self.steps = steps
        self.done = 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done >= self.steps:
            self.model.stop_training = True


class _ConstantRate:
    """Makes the optimizer train at a settable constant base rate.

    Where the rate lives in an optimizer variable (an `LRX`'s scale, a plain
    optimizer's learning-rate variable) one traced train step serves every
    candidate; a plain optimizer with a schedule gets a fresh trace per
    candidate.
    """

    def __init__(self, model, owner):
        self.model = model
        self.owner = owner
        self.retrace = not isinstance(owner, LRX) and not isinstance(
            compat.own_learning_rate(owner), keras.Variable
        )
        self._override = contextlib.ExitStack()

    def __enter__(self):
        if isinstance(self.owner, LRX):
            self._override.enter_context(
                self.owner.override_learning_rate(_unit_rate)
            )
        compat.fresh_train_function(self.model)
        return self

    def set(self, rate):
        if not self.retrace:
            self.owner.learning_rate = rate  # the scale or the rate variable
            return
        self._override.close()
        self._override.enter_context(
            compat.learning_rate_override(self.owner, float(rate))
        )
        compat.fresh_train_function(self.model)

    def __exit__(self, *exc):
        self._override.close()
        return False


def _unit_rate(step):
    """The base rate 1.0, which the LRX scale then multiplies."""
    del step
    return 1.0


def _fit_steps(model, data, steps):
    x, epochs, steps_per_epoch = fit_plan(data.x, data.batch_size, steps)
    stop = _StopAfter(steps)
    model.fit(
        x,
        data.y,
        batch_size=data.batch_size,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        shuffle=not data.arrays,
        verbose=0,
        callbacks=[stop],
    )
    return stop.done


def _score(model, data):
    logs = model.evaluate(
        data.x_val,
        data.y_val,
        batch_size=data.batch_size,
        steps=data.score_steps,
        verbose=0,
        return_dict=True,
    )
    value = float(np.asarray(logs["loss"]))
    return value if math.isfinite(value) else math.inf


def run_probes(model, owner, candidates, data, steps, restore):
    """Held-out loss of each candidate after `steps` steps from the start.

    `restore()` puts the model back at the start (before each candidate and
    after the last); `_fitting.fit_plan` makes `fit` serve `steps` batches.
    Returns `(losses, steps trained in all)`.
    """
    losses, trained = [], 0
    with _ConstantRate(model, owner) as rate:
        for candidate in candidates:
            restore()
            rate.set(candidate)
            trained += _fit_steps(model, data, steps)
            losses.append(_score(model, data))
    restore()
    return losses, trained
