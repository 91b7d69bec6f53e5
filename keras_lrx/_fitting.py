"""Driving Keras's `fit` for a set number of batches, and putting back what
it changes: the plumbing the range test (`keras_lrx.finder`) and its probe
runs (`keras_lrx.probes`) share."""

from __future__ import annotations

import contextlib
import math
import sys
import warnings

import keras

_MISSING = object()


def count_batches(x, batch_size):
    """Batches per epoch of `x`: an int, math.inf, or None when unknown."""
    if isinstance(x, keras.utils.PyDataset):
        return x.num_batches
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(x, tf.data.Dataset):
        cardinality = int(x.cardinality())
        if cardinality == int(tf.data.INFINITE_CARDINALITY):
            return math.inf
        return None if cardinality < 0 else cardinality
    torch_data = sys.modules.get("torch.utils.data")
    if torch_data is not None and isinstance(x, torch_data.DataLoader):
        try:
            return len(x)
        except TypeError:  # an IterableDataset without __len__
            return None
    nested = isinstance(x, (dict, list, tuple))
    leaves = keras.tree.flatten(x) if nested else [x]
    shape = getattr(leaves[0], "shape", None) if leaves else None
    if shape is not None and len(shape) > 0 and shape[0] is not None:
        return math.ceil(int(shape[0]) / (batch_size or 32))
    return None


def fit_plan(x, batch_size, num_steps):
    """`(x, epochs, steps_per_epoch)` making `fit` serve `num_steps` batches.

    Keras itself cycles through data of known length: each epoch starts a new
    pass (and reshuffles arrays). The finder stops `fit` after `num_steps`
    batches.
    """
    batches = count_batches(x, batch_size)
    if batches == 0:
        raise ValueError(
            "Argument `x` holds no data (0 batches): the range test needs at "
            f"least one batch. Received: x={type(x).__name__} with 0 batches"
        )
    if batches is None:
        tf = sys.modules.get("tensorflow")
        if tf is not None and isinstance(x, tf.data.Dataset):
            return x.repeat(), 1, num_steps
        # A generator or other one-pass iterable: it must supply num_steps
        # batches; if it runs out, the result is "incomplete".
        return x, 1, num_steps
    if batches >= num_steps:
        return x, 1, num_steps
    return x, math.ceil(num_steps / batches) + 1, None


@contextlib.contextmanager
def fit_warnings_silenced():
    """Silences `fit`'s warnings that do not apply to a range test."""
    with warnings.catch_warnings():
        # The sweep is cut at num_steps on purpose; "ran out of data" only
        # concerns generators, whose result is then "incomplete".
        warnings.filterwarnings("ignore", message=".*ran out of data.*")
        # fit's default shuffle=True shuffles arrays and PyDatasets; other
        # inputs keep their own order, which Keras says in a warning.
        warnings.filterwarnings(
            "ignore",
            message=".*`shuffle=True` was passed, but will be ignored.*",
        )
        yield


@contextlib.contextmanager
def model_attributes_kept(model):
    """Puts back the model attributes that `fit` changes, also on errors.

    `stop_training`, `history`, `train_function`, `test_function`,
    `steps_per_execution` and, on torch, the module's training mode.
    """
    saved = {
        "stop_training": model.stop_training,
        "history": vars(model).get("history", _MISSING),
        "train_function": model.train_function,
        "test_function": model.test_function,
        "steps_per_execution": model.steps_per_execution,
        "training": getattr(model, "training", None),
    }
    try:
        yield
    finally:
        model.steps_per_execution = saved["steps_per_execution"]
        model.train_function = saved["train_function"]
        model.test_function = saved["test_function"]
        model.stop_training = saved["stop_training"]
        if saved["history"] is _MISSING:
            vars(model).pop("history", None)
        else:
            model.history = saved["history"]
        if keras.backend.backend() == "torch" and saved["training"] is not None:
            model.train(saved["training"])
