"""Fine-tuning in one call: `fine_tune`, and `fine_tune_setup` for own loops.

The recipe, as measured in `benchmarks/bench_finetune.py` (README, "Fine-tune
in one call"):

1. The rate: `find_lr` on the model as it will train (the body at its
   multipliers), unless `learning_rate` is given.
2. A head-only phase: the body's variables at multiplier 0 for
   `head_epochs` (the head's first steps do not push noise from a fresh
   head into the pretrained body).
3. Then the body thaws, each of its groups warming up to its layer-wise
   multiplier (`layerwise_decay(body, layer_decay)`: the block nearest the
   head at `layer_decay`, the next at its square, ..., the embeddings
   last), under one warmup + cosine schedule of the base rate over the
   whole run.
4. Decoupled weight decay (AdamW) on kernels and embeddings only, none on
   biases and norm weights (`no_decay_on_biases_and_norms`).

All of it is one `LRX` and one `fit`: nothing is recompiled when the body
thaws, and `keras.callbacks.BackupAndRestore` resumes mid-run at the same
step (the head phase is not redone; the rate the finder chose is kept
beside the backup, so the finder is not rerun).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from typing import Any

import keras

from keras_lrx import _validation
from keras_lrx._fitting import count_batches
from keras_lrx.decay import no_decay_on_biases_and_norms
from keras_lrx.finder import check_no_distribution_strategy
from keras_lrx.finder import find_lr
from keras_lrx.finder_result import LRFinderResult
from keras_lrx.layerwise import layerwise_decay
from keras_lrx.optimizer import LRX
from keras_lrx.schedules import CosineWithWarmup
from keras_lrx.schedules import Thaw

__all__ = ["FineTuneSetup", "fine_tune", "fine_tune_setup"]

_DISTRIBUTED_ADVICE = (
    "Pass `learning_rate`: find it on a single-device copy of the model, "
    "outside the strategy scope (`fine_tune_setup(copy, x, y, epochs=..., "
    "body=...).learning_rate`)."
)

#: The schedule's peak over `find_lr`'s suggestion (a constant rate): chosen
#: on the benchmark's chosen tasks (`benchmarks/bench_finetune.py`).
SUGGESTION_FACTOR = 4.0
#: The file `fine_tune` keeps beside a `BackupAndRestore` backup.
STATE_FILE = "keras_lrx_fine_tune.json"
#: `fit` arguments the recipe cannot take: it runs its schedule from step 0
#: (a run resumes with `BackupAndRestore`, which sets the epoch itself).
_REFUSED_FIT_ARGUMENTS = ("initial_epoch",)


@dataclasses.dataclass
class FineTuneSetup:
    """What `fine_tune` trains with, for your own `compile` and `fit`.

    Attributes:
        optimizer: The `LRX` to compile the model with (unbuilt).
        learning_rate: The peak base rate of the schedule.
        head_steps: Optimizer steps of the head-only phase.
        total_steps: Optimizer steps of the whole run.
        multipliers: The body's multipliers after the head phase,
            `{layer: float}` (the `LRX` holds them as `Thaw`s).
        finder_result: The `LRFinderResult` the rate came from, or None when
            `learning_rate` was given (or taken from a backup).

    Example:

    >>> import keras, numpy as np
    >>> import keras_lrx
    >>> body = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4),
    ...                          keras.layers.Dense(4)], name="body")
    >>> inputs = keras.Input((4,))
    >>> model = keras.Model(inputs, keras.layers.Dense(1)(body(inputs)))
    >>> setup = keras_lrx.fine_tune_setup(
    ...     model, np.ones((40, 4)), np.ones((40, 1)), epochs=3, body=body,
    ...     learning_rate=1e-3, loss="mse", batch_size=8)
    >>> setup.head_steps, setup.total_steps, setup.learning_rate
    (5, 15, 0.001)
    >>> sorted(round(m, 2) for m in setup.multipliers.values())
    [0.64, 0.8]
    """

    optimizer: LRX
    learning_rate: float
    head_steps: int
    total_steps: int
    multipliers: dict[keras.layers.Layer, float]
    finder_result: LRFinderResult | None = None


def _check_model_and_body(model, body):
    """The body as a layer, or a list of weighted layers (input side first)."""
    if not isinstance(model, keras.Model):
        raise TypeError(
            "Argument `model` must be a `keras.Model`. "
            f"Received: model={model!r} (of type {type(model).__name__})"
        )
    if not model.built:
        raise ValueError(
            "Argument `model` must be built (call it on data or give it an "
            "`Input`): its body's variables are needed to set their rates. "
            f"Received: model={model.name!r}, not built"
        )
    if body is None:
        body = getattr(model, "backbone", None)
        if not isinstance(body, keras.layers.Layer):
            raise ValueError(
                "Argument `body` is required for a model without a keras-hub "
                "`backbone`: pass the pretrained part, e.g. "
                "`body=model.get_layer('backbone')`, or its layers as a list. "
                f"Received: body=None for model={model.name!r}"
            )
    rule = (
        "a `keras.layers.Layer` (the pretrained part of the model) or a "
        "list of layers (input side first)"
    )
    if isinstance(body, (list, tuple)):
        layers = _validation.check_sequence("body", body, rule)
        for layer in layers:
            _validation.check_type("body", layer, keras.layers.Layer, rule)
        body = [layer for layer in layers if layer.trainable_variables]
    else:
        _validation.check_type("body", body, keras.layers.Layer, rule)
    parts = body if isinstance(body, list) else [body]
    body_ids = {id(v) for part in parts for v in part.trainable_variables}
    model_ids = {id(v) for v in model.trainable_variables}
    names = [part.name for part in parts]
    if not body_ids:
        raise ValueError(
            "Argument `body` has no trainable variables: nothing to "
            f"fine-tune. Received: body={names}"
        )
    if not body_ids <= model_ids:
        raise ValueError(
            "Argument `body` must be a part of `model` (its variables among "
            f"the model's trainable variables). Received: body={names} "
            f"for model={model.name!r}"
        )
    if body_ids == model_ids:
        raise ValueError(
            "Argument `body` must leave a head: some trainable variables of "
            "`model` outside it (the fresh layers for the new task). "
            f"Received: body={names}, which holds all of "
            f"model={model.name!r}'s trainable variables"
        )
    return body


def _weighted_children(layer):
    return [
        child
        for child in getattr(layer, "layers", [])
        if child.trainable_variables
    ]


def body_multipliers(body, layer_decay):
    """`{layer: multiplier}` for the body after the head phase.

    A list of layers: each one a block, the last at `layer_decay`, the one
    before at its square, ... A layer: layer-wise decay over its blocks
    (`layerwise_decay`'s search); a body without repeated blocks takes its
    weighted layers, input side first, as the blocks; a body of one layer
    trains at `layer_decay`.
    """
    if isinstance(body, list):
        depth = len(body)
        return {
            layer: layer_decay ** (depth - i) for i, layer in enumerate(body)
        }
    if layer_decay == 1.0:
        return {body: 1.0}
    try:
        return layerwise_decay(body, layer_decay)
    except ValueError:
        pass
    children = _weighted_children(body)
    if len(children) >= 2:
        return layerwise_decay(body, layer_decay, blocks=children)
    return {body: layer_decay}


def _steps_per_epoch(x, batch_size, steps_per_epoch):
    if steps_per_epoch is not None:
        return _validation.check_count("steps_per_epoch", steps_per_epoch, 1)
    batches = count_batches(x, batch_size)
    if batches is None or batches == math.inf:
        raise ValueError(
            "The number of batches per epoch of `x` is unknown (a dataset or "
            "generator without a length): pass `steps_per_epoch`, as to "
            f"`fit`. Received: x={type(x).__name__}, steps_per_epoch=None"
        )
    if batches == 0:
        raise ValueError(
            f"Argument `x` holds no data (0 batches). Received: "
            f"x={type(x).__name__} with 0 batches"
        )
    return int(batches)


def _compile_arguments(model, loss, metrics):
    """`compile` keyword arguments: the model's own, with `loss`/`metrics`
    given here taking precedence."""
    arguments = {}
    config = model.get_compile_config() if model.compiled else None
    if config:
        config = {k: v for k, v in config.items() if k != "optimizer"}
        arguments = keras.saving.deserialize_keras_object(config)
        arguments = {k: v for k, v in arguments.items() if v is not None}
    if loss is not None:
        arguments["loss"] = loss
    if metrics is not None:
        arguments["metrics"] = metrics
    if arguments.get("loss") is None:
        raise ValueError(
            "Argument `loss` is required for a model that is not compiled "
            "with one: pass `loss=` (and `metrics=`), or compile the model "
            "first (its loss and metrics are kept, its optimizer replaced). "
            f"Received: loss=None for model={model.name!r}"
        )
    return arguments


def _inner_optimizer(optimizer):
    if optimizer is None:
        return keras.optimizers.AdamW(weight_decay=0.01)
    if isinstance(optimizer, LRX):
        raise TypeError(
            "Argument `optimizer` must be the optimizer to wrap, not an "
            "`LRX` (fine_tune makes the LRX). Received: optimizer=LRX"
        )
    if isinstance(optimizer, keras.optimizers.Optimizer):
        if optimizer.built:
            raise ValueError(
                "Argument `optimizer` must not be built yet (fine_tune makes "
                "a fresh copy from its config for the finder and the run). "
                f"Received: optimizer={type(optimizer).__name__}, built"
            )
        config = optimizer.get_config()
        return type(optimizer).from_config(config)
    if isinstance(optimizer, (str, dict)):
        return keras.optimizers.get(optimizer)
    raise TypeError(
        "Argument `optimizer` must be a `keras.optimizers.Optimizer`, its "
        "name or config, or None (AdamW with weight_decay=0.01). "
        f"Received: optimizer={optimizer!r} (of type "
        f"{type(optimizer).__name__})"
    )


def _has_weight_decay(optimizer):
    return bool(getattr(optimizer, "weight_decay", None))


def _lrx(optimizer, schedule, multipliers):
    inner = _inner_optimizer(optimizer)
    decay = no_decay_on_biases_and_norms if _has_weight_decay(inner) else None
    return LRX(
        inner,
        schedule=schedule,
        multipliers=multipliers,
        weight_decay_multipliers=decay,
    )


def _backup_dir(callbacks):
    """The folder of the first `BackupAndRestore` in `callbacks`, or None."""
    for callback in callbacks:
        if isinstance(callback, keras.callbacks.BackupAndRestore):
            return callback.backup_dir
    return None


def _fingerprint(model, epochs, steps_per_epoch):
    return {
        "variables": [v.path for v in model.trainable_variables],
        "epochs": epochs,
        "steps_per_epoch": steps_per_epoch,
    }


def _saved_learning_rate(backup_dir, fingerprint):
    """The rate kept in `backup_dir` by an earlier call, or None."""
    if backup_dir is None:
        return None
    path = os.path.join(backup_dir, STATE_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        state = json.load(f)
    if state.get("fingerprint") != fingerprint:
        raise ValueError(
            f"The fine-tuning state in {backup_dir!r} is of another run "
            "(other variables, epochs or steps per epoch), so this run "
            "cannot resume from it: delete the folder or give another "
            f"backup folder. Received: epochs={fingerprint['epochs']}, "
            f"steps_per_epoch={fingerprint['steps_per_epoch']}, "
            f"{len(fingerprint['variables'])} trainable variables; saved: "
            f"epochs={state['fingerprint']['epochs']}, steps_per_epoch="
            f"{state['fingerprint']['steps_per_epoch']}, "
            f"{len(state['fingerprint']['variables'])} trainable variables"
        )
    return float(state["learning_rate"])


def _save_learning_rate(backup_dir, fingerprint, learning_rate):
    if backup_dir is None:
        return
    os.makedirs(backup_dir, exist_ok=True)
    with open(os.path.join(backup_dir, STATE_FILE), "w") as f:
        json.dump(
            {"learning_rate": learning_rate, "fingerprint": fingerprint}, f
        )


def _check_options(find_lr_options):
    if find_lr_options is None:
        return {}
    if not isinstance(find_lr_options, dict):
        raise TypeError(
            "Argument `find_lr_options` must be a dict of `find_lr` keyword "
            f"arguments or None. Received: find_lr_options={find_lr_options!r}"
        )
    owned = {"model", "x", "y", "batch_size"} & set(find_lr_options)
    if owned:
        raise ValueError(
            "Argument `find_lr_options` must not set what fine_tune passes "
            f"itself ({sorted(owned)}). Received: find_lr_options="
            f"{find_lr_options!r}"
        )
    return dict(find_lr_options)


def fine_tune_setup(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    epochs: int,
    body: keras.layers.Layer | Sequence[keras.layers.Layer] | None = None,
    learning_rate: float | None = None,
    suggestion_factor: float = SUGGESTION_FACTOR,
    head_epochs: float = 1.0,
    layer_decay: float = 0.8,
    warmup_ratio: float = 0.1,
    optimizer: keras.optimizers.Optimizer | str | None = None,
    loss: Any = None,
    metrics: Any = None,
    batch_size: int | None = None,
    steps_per_epoch: int | None = None,
    validation_data: Any = None,
    find_lr_options: dict[str, Any] | None = None,
    backup_dir: str | None = None,
) -> FineTuneSetup:
    """The optimizer (and rate) `fine_tune` would train with, without training.

    For users who own their `fit` call or training loop: compile the model
    with `setup.optimizer` and train for `epochs` epochs of
    `steps_per_epoch` batches (`setup.total_steps` optimizer steps); the head
    trains alone for `setup.head_steps` steps, then the body thaws. With
    `learning_rate=None` the rate comes from `find_lr` on `x`, `y` (the
    model is compiled for it and put back exactly). Arguments as for
    `fine_tune`.

    Returns:
        A `FineTuneSetup`.

    Example:

    >>> import keras, numpy as np
    >>> import keras_lrx
    >>> body = keras.Sequential([keras.Input((8,)),
    ...     keras.layers.Dense(16, activation="relu"),
    ...     keras.layers.Dense(16, activation="relu")], name="body")
    >>> inputs = keras.Input((8,))
    >>> model = keras.Model(inputs, keras.layers.Dense(3)(body(inputs)))
    >>> x, y = np.random.rand(64, 8), np.random.randint(0, 3, 64)
    >>> setup = keras_lrx.fine_tune_setup(model, x, y, epochs=4, body=body,
    ...     learning_rate=1e-3, batch_size=16)
    >>> setup.head_steps, setup.total_steps
    (4, 16)
    >>> loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    >>> model.compile(setup.optimizer, loss)
    >>> _ = model.fit(x, y, batch_size=16, epochs=4, verbose=0)
    """
    body = _check_model_and_body(model, body)
    epochs = _validation.check_count("epochs", epochs, 1)
    if learning_rate is not None:
        learning_rate = _validation.check_float(
            "learning_rate", learning_rate, low=0.0, low_open=True
        )
    suggestion_factor = _validation.check_float(
        "suggestion_factor", suggestion_factor, low=0.0, low_open=True
    )
    head_epochs = _validation.check_float(
        "head_epochs", head_epochs, low=0.0, high=epochs, high_open=True
    )
    layer_decay = _validation.check_float(
        "layer_decay", layer_decay, low=0.0, high=1.0, low_open=True
    )
    warmup_ratio = _validation.check_float(
        "warmup_ratio", warmup_ratio, low=0.0, high=1.0, high_open=True
    )
    if batch_size is not None:
        batch_size = _validation.check_count("batch_size", batch_size, 1)
    options = _check_options(find_lr_options)
    if backup_dir is not None:
        backup_dir = os.fspath(
            _validation.check_type(
                "backup_dir", backup_dir, (str, os.PathLike), "a path or None"
            )
        )
    _inner_optimizer(optimizer)  # checked before anything changes
    steps = _steps_per_epoch(x, batch_size, steps_per_epoch)
    total_steps = epochs * steps
    head_steps = int(round(head_epochs * steps))
    if head_steps >= total_steps:
        raise ValueError(
            "Argument `head_epochs` must leave steps for the body: "
            f"{head_epochs} epochs of {steps} steps round to {head_steps}, "
            f"the whole run of {total_steps}. Received: "
            f"head_epochs={head_epochs}, epochs={epochs}"
        )
    multipliers = body_multipliers(body, layer_decay)
    fingerprint = _fingerprint(model, epochs, steps)

    finder_result = None
    if learning_rate is None:
        learning_rate = _saved_learning_rate(backup_dir, fingerprint)
    if learning_rate is None:
        check_no_distribution_strategy(model, _DISTRIBUTED_ADVICE)
        compile_arguments = _compile_arguments(model, loss, metrics)
        if validation_data is not None:
            options.setdefault("validation_data", validation_data)
        options.setdefault("verbose", 0)
        model.compile(
            optimizer=_lrx(optimizer, None, dict(multipliers)),
            **compile_arguments,
        )
        finder_result = find_lr(model, x, y, batch_size=batch_size, **options)
        learning_rate = suggestion_factor * float(
            finder_result.suggested_learning_rate
        )
    _save_learning_rate(backup_dir, fingerprint, learning_rate)

    thaw_warmup = math.ceil(warmup_ratio * (total_steps - head_steps))
    thawing = {
        layer: Thaw(m, start_step=head_steps, warmup_steps=thaw_warmup)
        for layer, m in multipliers.items()
    }
    warmup_steps = math.ceil(warmup_ratio * (head_steps or total_steps))
    schedule = CosineWithWarmup(
        learning_rate, warmup_steps=warmup_steps, total_steps=total_steps
    )
    return FineTuneSetup(
        optimizer=_lrx(optimizer, schedule, thawing),
        learning_rate=learning_rate,
        head_steps=head_steps,
        total_steps=total_steps,
        multipliers=multipliers,
        finder_result=finder_result,
    )


def fine_tune(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    epochs: int,
    body: keras.layers.Layer | Sequence[keras.layers.Layer] | None = None,
    learning_rate: float | None = None,
    suggestion_factor: float = SUGGESTION_FACTOR,
    head_epochs: float = 1.0,
    layer_decay: float = 0.8,
    warmup_ratio: float = 0.1,
    optimizer: keras.optimizers.Optimizer | str | None = None,
    loss: Any = None,
    metrics: Any = None,
    batch_size: int | None = None,
    steps_per_epoch: int | None = None,
    validation_data: Any = None,
    callbacks: Sequence[keras.callbacks.Callback] | None = None,
    verbose: str | int = "auto",
    find_lr_options: dict[str, Any] | None = None,
    **fit_kwargs: Any,
) -> keras.callbacks.History:
    """Fine-tunes a model with a pretrained body, at no rate you choose.

    fastai's `fine_tune` for Keras: the head trains alone first, then the
    whole model, the body at layer-wise decayed rates, under a warmup +
    cosine schedule whose peak `find_lr` picks. One `LRX` and one `fit`:

    - the peak rate: `learning_rate`, or `suggestion_factor` (4) times
      `find_lr`'s suggestion for the model as it will train (the body at
      its multipliers);
    - steps `0 .. head_steps - 1` (`head_epochs` epochs): the body frozen
      (multiplier 0: no update, no weight decay, no optimizer slots move);
    - then each body group thaws, warming up over `warmup_ratio` of the
      rest of the run to its multiplier from `layerwise_decay(body,
      layer_decay)` (the block nearest the head at `layer_decay`, the next
      at `layer_decay**2`, ..., the embeddings last; a body without
      repeated blocks takes its weighted layers as the blocks);
    - the base rate warms up linearly over `warmup_ratio` of the head phase
      (of the run, without one), then follows a half cosine to 0 at the
      last step;
    - AdamW's weight decay (0.01) on kernels and embeddings, none on biases
      and norm weights.

    Afterwards the model is compiled with that `LRX` (`model.optimizer`;
    `model.optimizer.describe()` prints each variable's rate): a later
    `fit` continues from there. Resuming with
    `keras.callbacks.BackupAndRestore` in `callbacks` continues mid-run: the
    step counter (so the head phase and the schedule) comes back from the
    backup, and the finder's rate from a small file beside it
    (`keras_lrx_fine_tune.json`), so the finder is not rerun.

    How good and what it costs (`benchmarks/bench_finetune.py`, three
    backends, three seeds): see the fine-tuning guide's table.

    Args:
        model: A built `keras.Model`: the pretrained body and a new head.
            Compiled or not: its loss and metrics are kept, its optimizer
            replaced.
        x: Training data, as for `fit` (arrays, `tf.data.Dataset`,
            `PyDataset`, torch `DataLoader`).
        y: Targets, as for `fit`. Defaults to None.
        epochs: Int >= 1. Epochs of the whole run, head phase included.
        body: The pretrained part: a layer of `model` (a nested model, a
            keras-hub backbone), or a list of its layers, input side first,
            each one a block (for a flat `Sequential`). Every trainable
            variable outside it is the head. Defaults to None: the model's
            keras-hub `backbone`.
        learning_rate: Float > 0, the schedule's peak; None runs `find_lr`.
            Defaults to None.
        suggestion_factor: Float > 0. Without `learning_rate`, the peak is
            this times `find_lr`'s suggestion (which is for a constant
            rate; a warmup + cosine run trains best from a higher peak).
            Defaults to 4.
        head_epochs: Float in [0, epochs). Epochs of the head-only phase.
            Defaults to 1.
        layer_decay: Float in (0, 1]. Factor between neighbouring blocks of
            the body; 1 trains the body at the head's rate. Defaults to 0.8.
        warmup_ratio: Float in [0, 1). The warmups' share (see above).
            Defaults to 0.1.
        optimizer: The optimizer to wrap (unbuilt), its name or config.
            Defaults to None: `AdamW(weight_decay=0.01)`.
        loss: The loss, as for `compile`. Defaults to None (the model's).
        metrics: Metrics, as for `compile`. Defaults to None (the model's).
        batch_size: Int, as for `fit`. Defaults to None (32 for arrays).
        steps_per_epoch: Int, as for `fit`; needed for data without a
            length. Defaults to None.
        validation_data: As for `fit`; also scores the finder's probes.
            Defaults to None.
        callbacks: Callbacks for `fit`. Defaults to None.
        verbose: As for `fit`. Defaults to "auto".
        find_lr_options: Dict of further `find_lr` arguments (e.g.
            `{"num_steps": 50}`). Defaults to None.
        **fit_kwargs: Other `fit` arguments (`shuffle`, `class_weight`,
            `validation_freq`, ...).

    Returns:
        The `keras.callbacks.History` of the `fit`.

    Raises:
        TypeError: for an argument of the wrong type (a `body` that is not a
            layer, an `optimizer` that is an `LRX`, ...).
        ValueError: before anything changes, for a model that is not built,
            a `body` that is not part of the model or leaves no head, no
            loss, `epochs < 1`, `head_epochs` outside [0, epochs),
            `layer_decay` outside (0, 1], data whose length is unknown
            without `steps_per_epoch`, or a `fit` argument fine_tune sets
            cannot take (`initial_epoch`).

    Example:

    >>> import keras, numpy as np
    >>> import keras_lrx
    >>> keras.utils.set_random_seed(0)
    >>> body = keras.Sequential([keras.Input((8,)),
    ...     keras.layers.Dense(16, activation="relu"),
    ...     keras.layers.Dense(16, activation="relu")], name="body")
    >>> inputs = keras.Input((8,))
    >>> model = keras.Model(inputs, keras.layers.Dense(3)(body(inputs)))
    >>> x, y = np.random.rand(128, 8), np.random.randint(0, 3, 128)
    >>> history = keras_lrx.fine_tune(
    ...     model, x, y, epochs=3, body=body, batch_size=16, verbose=0,
    ...     loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    ...     find_lr_options={"num_steps": 30})
    >>> len(history.history["loss"])
    3
    >>> type(model.optimizer).__name__
    'LRX'
    """
    body = _check_model_and_body(model, body)
    callbacks = list(callbacks or [])
    refused = set(_REFUSED_FIT_ARGUMENTS) & set(fit_kwargs)
    if refused:
        raise ValueError(
            "fine_tune runs its schedule from the first step, so `fit` "
            f"arguments {sorted(refused)} are not taken (a preempted run "
            "resumes with `keras.callbacks.BackupAndRestore`). Received: "
            + ", ".join(f"{k}={fit_kwargs[k]!r}" for k in sorted(refused))
        )
    compile_arguments = _compile_arguments(model, loss, metrics)
    setup = fine_tune_setup(
        model,
        x,
        y,
        epochs=epochs,
        body=body,
        learning_rate=learning_rate,
        suggestion_factor=suggestion_factor,
        head_epochs=head_epochs,
        layer_decay=layer_decay,
        warmup_ratio=warmup_ratio,
        optimizer=optimizer,
        loss=loss,
        metrics=metrics,
        batch_size=batch_size,
        steps_per_epoch=steps_per_epoch,
        validation_data=validation_data,
        find_lr_options=find_lr_options,
        backup_dir=_backup_dir(callbacks),
    )
    model.compile(optimizer=setup.optimizer, **compile_arguments)
    return model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=validation_data,
        callbacks=callbacks,
        verbose=verbose,
        **fit_kwargs,
    )
