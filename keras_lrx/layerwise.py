"""Layer-wise learning-rate decay from a model's own structure.

Fine-tuning recipes for transformers (BERT, ELECTRA, DeBERTa, BEiT, ViT) train
the layers near the output faster than those near the input: with `L` blocks,
block `i` (counted from the input, from 0) trains at `decay ** (L - i)`, what
comes before the first block (embeddings, a patch stem) at `decay ** (L + 1)`
and what comes after the last (the final norm, a pooler, the task head) at 1.
`layerwise_decay` finds the blocks itself and returns the multiplier dict for
`keras_lrx.LRX`. `gradual_unfreezing` uses the same blocks to thaw the model
from the top down inside one `fit` (ULMFiT's gradual unfreezing, fastai's
`fine_tune`).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from keras_lrx import _keras_compat as compat
from keras_lrx import _validation
from keras_lrx.schedules.thaw import Thaw

__all__ = ["gradual_unfreezing", "layerwise_decay"]


def layerwise_decay(
    model: keras.layers.Layer,
    decay: float,
    blocks: Sequence[keras.layers.Layer | str] | None = None,
    head: Sequence[keras.layers.Layer | str] | None = None,
) -> dict[keras.layers.Layer, float]:
    """Multipliers for layer-wise learning-rate decay.

    The blocks are found from the model's layer tree: the run of
    consecutive sibling layers of one class holding the most weights
    (`TransformerEncoder` in a
    keras-hub BERT, `TransformerDecoder` in GPT-2, `GemmaDecoderBlock`,
    `ViTEncoderBlock` inside a ViT's encoder, a stack of `Dense` layers in an
    MLP), looked for at any depth, so a backbone nested inside a
    classifier works. With `L` blocks `b_0 ... b_{L-1}` (input side first):

        multiplier(b_i)                 = decay ** (L - i)
        multiplier(layers before b_0)   = decay ** (L + 1)   (embeddings)
        multiplier(layers after b_L-1)  = 1                   (norm, head)

    "Before" and "after" are in the layer order of every model on the way
    down to the blocks (a functional model's computation order, a
    Sequential's list, a subclassed model's attribute order).

    Args:
        model: A `keras.Model` or layer, built (so that its weights exist).
        decay: Float in (0, 1]. The factor between neighbouring blocks.
        blocks: Optional list of layers (or layer names) to use as the
            blocks, input side first; siblings in one parent. Defaults to
            the automatic search.
        head: Optional list of layers (or names) that train at 1 and are
            never taken for a block (the output `Dense` of an MLP whose
            blocks are `Dense` too). Defaults to None.

    Returns:
        A dict `{layer: multiplier}` for `LRX(multipliers=...)`. Its keys are
        layer objects: `LRX.describe()` shows which layer set each
        variable's rate, and a saved model reloads with the same rates.

    Raises:
        TypeError: if `model` is not a Keras layer, or `blocks`/`head` hold
            something other than layers or names.
        ValueError: if `decay` is outside (0, 1], the model has no repeated
            blocks (pass `blocks=`), or a name is not a layer of the model.

    Example:

    >>> import keras
    >>> from keras_lrx import LRX, layerwise_decay
    >>> model = keras.Sequential(
    ...     [keras.Input((4,)), keras.layers.Embedding(10, 4, name="embed")]
    ...     + [keras.layers.Dense(4, name=f"block_{i}") for i in range(3)]
    ...     + [keras.layers.LayerNormalization(name="norm")], name="toy")
    >>> decay = layerwise_decay(model, 0.5)
    >>> {layer.name: round(m, 4) for layer, m in decay.items()}
    {'embed': 0.0625, 'block_0': 0.125, 'block_1': 0.25, 'block_2': 0.5, \
'norm': 1.0}
    >>> optimizer = LRX(keras.optimizers.AdamW(1e-3),
    ...                 multipliers=layerwise_decay(model, 0.5))

    Reference:
        Clark et al., 2020, "ELECTRA" (layer-wise learning-rate decay);
        Bao et al., 2021, "BEiT".
    """
    _check_model(model)
    decay = _validation.check_float(
        "decay", decay, low=0.0, high=1.0, low_open=True
    )
    before, run, after, head_ids = _partition(model, blocks, head)
    depth = len(run)
    multipliers = {
        layer: 1.0 if id(layer) in head_ids else decay ** (depth + 1)
        for layer in before
    }
    for i, layer in enumerate(run):
        multipliers[layer] = decay ** (depth - i)
    for layer in after:
        multipliers[layer] = 1.0
    return multipliers


def gradual_unfreezing(
    model: keras.layers.Layer,
    every_steps: int,
    warmup_steps: int = 0,
    blocks: Sequence[keras.layers.Layer | str] | None = None,
    head: Sequence[keras.layers.Layer | str] | None = None,
    train_bn: bool = True,
) -> dict[keras.layers.Layer, Thaw]:
    """Multipliers that thaw a model from the top down, inside one `fit`.

    ULMFiT's gradual unfreezing: the layers after the last block (the task
    head, a final norm) train from the first step; every `every_steps`
    steps one more block thaws, top block first; what comes before the
    first block (the embeddings, a patch stem) thaws last. The blocks are
    the ones `layerwise_decay` finds. With `L` blocks `b_0 ... b_{L-1}`
    (input side first) and `N = every_steps`:

        start(layers after b_L-1)   = 0
        start(b_i)                  = (L - i) * N
        start(layers before b_0)    = (L + 1) * N

    Each group's multiplier is `keras_lrx.schedules.Thaw(1, start,
    warmup_steps)`: 0 until its start (its weights and optimizer slots do
    not change: no update, decay or moment updates), then a linear warmup
    to 1. Nothing is recompiled and the optimizer state of the groups
    already training is kept. Combine it with layer-wise decay or a LoRA+
    ratio with `keras_lrx.combine`.

    BatchNormalization: a multiplier of 0 freezes a layer's weights, not
    its moving statistics, which a training step keeps updating -- as for a
    PyTorch parameter with `requires_grad=False` in train mode, and so in
    fastai's frozen groups (Keras runs a layer in inference mode only when
    `trainable = False`, which cannot change inside a compiled step).
    With `train_bn=True` (fastai's default)
    every `BatchNormalization` layer trains at 1 from the first step, as
    fastai keeps them trainable in frozen groups; with `train_bn=False` its
    scale and offset thaw with their block, and its statistics still adapt
    to the new data while frozen.

    Args:
        model: A built `keras.Model` or layer.
        every_steps: Int > 0. Steps between two thaws (e.g. the steps of an
            epoch, to thaw one block per epoch).
        warmup_steps: Int >= 0. Steps of each group's linear warmup after it
            thaws. Defaults to 0.
        blocks: Optional list of layers (or names), input side first, as
            for `layerwise_decay`. Defaults to the automatic search.
        head: Optional list of layers (or names) that train from the start
            and are never taken for a block. Defaults to None.
        train_bn: Whether `BatchNormalization` layers train from the start.
            Defaults to True.

    Returns:
        A dict `{layer: Thaw}` for `LRX(multipliers=...)`. It serializes
        with the optimizer; `LRX.describe()` shows each group's start.

    Raises:
        TypeError: for a `model`, `blocks` or `head` of the wrong type, or a
            `train_bn` that is not a bool.
        ValueError: for `every_steps` <= 0, `warmup_steps` < 0, or a model
            with no repeated blocks (pass `blocks=`).

    Example:

    >>> import keras
    >>> from keras_lrx import LRX, gradual_unfreezing
    >>> model = keras.Sequential(
    ...     [keras.Input((4,)), keras.layers.Embedding(10, 4, name="embed")]
    ...     + [keras.layers.Dense(4, name=f"block_{i}") for i in range(3)]
    ...     + [keras.layers.Dense(1, name="head")], name="toy")
    >>> thaw = gradual_unfreezing(model, every_steps=100, head=["head"])
    >>> {layer.name: m.start_step for layer, m in thaw.items()}
    {'embed': 400, 'block_0': 300, 'block_1': 200, 'block_2': 100, \
'head': 0}
    >>> optimizer = LRX(keras.optimizers.AdamW(1e-3), multipliers=thaw)

    Reference:
        Howard & Ruder, 2018, "Universal Language Model Fine-tuning for
        Text Classification" (gradual unfreezing).
    """
    import keras

    from keras_lrx.schedules import Thaw

    _check_model(model)
    every_steps = _validation.check_int("every_steps", every_steps, low=1)
    warmup_steps = _validation.check_int("warmup_steps", warmup_steps, low=0)
    train_bn = _validation.check_bool("train_bn", train_bn)
    before, run, after, head_ids = _partition(model, blocks, head)
    depth = len(run)

    def thaw(start):
        return Thaw(1.0, start_step=start, warmup_steps=warmup_steps)

    multipliers = {
        layer: thaw(0 if id(layer) in head_ids else (depth + 1) * every_steps)
        for layer in before
    }
    for i, layer in enumerate(run):
        multipliers[layer] = thaw((depth - i) * every_steps)
    for layer in after:
        multipliers[layer] = thaw(0)
    if train_bn:
        for layer in compat.sublayers(model):
            if isinstance(layer, keras.layers.BatchNormalization):
                multipliers[layer] = thaw(0)
    return multipliers


def _check_model(model):
    import keras

    if not isinstance(model, keras.layers.Layer):
        raise TypeError(
            "Argument `model` must be a Keras model or layer. "
            f"Received: model={model!r} (of type {type(model).__name__})"
        )


def _partition(model, blocks, head):
    """`(before, run, after, head_ids)`: the blocks, the layers on either
    side, and the ids of the `head` layers (which may come before)."""
    head = _as_layers(model, head, "head")
    head_ids = {id(layer) for layer in head}
    if blocks is None:
        found = _longest_run(model, head_ids)
        if found is None:
            raise ValueError(
                "Argument `model`: no repeated blocks were found (a run of "
                "two or more consecutive sibling layers of one class). Pass "
                f"them as `blocks=[...]`. Received: model={model.name!r}"
            )
        chain, run = found
    else:
        run = _as_layers(model, blocks, "blocks")
        if not run:
            raise ValueError(
                "Argument `blocks` must not be empty. Received: blocks=[]"
            )
        chain = _chain_to_parent_of(model, run)
    before, after = _sides(chain, run)
    return before, run, after, head_ids


def _weighted_children(layer, exclude=()):
    return [
        c
        for c in compat.child_layers(layer)
        if c.weights and id(c) not in exclude
    ]


def _runs(children):
    """Maximal runs of consecutive children of one class, longest first."""
    runs, current = [], []
    for child in children:
        if current and type(child) is type(current[-1]):
            current.append(child)
        else:
            if len(current) >= 2:
                runs.append(current)
            current = [child]
    if len(current) >= 2:
        runs.append(current)
    return runs


def _score(run):
    # The run that holds the most weights: a model's transformer blocks, not
    # the query/key/value projections repeated inside each block.
    return (sum(len(layer.weights) for layer in run), len(run))


def _longest_run(layer, head_ids):
    """`(chain, run)`: the best run below `layer` and the layers above it."""
    best = None
    for run in _runs(_weighted_children(layer, head_ids)):
        if best is None or _score(run) > _score(best[1]):
            best = ([layer], run)
    for child in _weighted_children(layer, head_ids):
        found = _longest_run(child, head_ids)
        if found is not None and (
            best is None or _score(found[1]) > _score(best[1])
        ):
            best = ([layer] + found[0], found[1])
    return best


def _chain_to_parent_of(root, run):
    """The layers from `root` down to the parent of `run[0]`."""
    target = id(run[0])

    def search(layer):
        children = compat.child_layers(layer)
        if any(id(c) == target for c in children):
            return [layer]
        for child in children:
            found = search(child)
            if found is not None:
                return [layer] + found
        return None

    chain = search(root)
    siblings = (
        {id(c) for c in compat.child_layers(chain[-1])} if chain else set()
    )
    if chain is None or not all(id(b) in siblings for b in run):
        raise ValueError(
            "Argument `blocks` must be sibling layers inside `model` (layers "
            "of one parent). Received: blocks="
            f"{[b.name for b in run]}"
        )
    return chain


def _sides(chain, run):
    """The weighted layers before and after `run`, at every level of
    `chain` (the layers from the model down to the run's parent)."""
    before, after = [], []
    for parent, inner in zip(chain, chain[1:] + [None]):
        children = _weighted_children(parent)
        if inner is None:  # the level of the blocks
            first = children.index(run[0])
            last = children.index(run[-1])
        else:
            first = last = children.index(inner)
        before += children[:first]
        after += children[last + 1 :]
    return before, after


def _as_layers(model, layers, name):
    import keras

    if layers is None:
        return []
    if isinstance(layers, (str, keras.layers.Layer)):
        layers = [layers]
    if not isinstance(layers, (list, tuple)):
        raise TypeError(
            f"Argument `{name}` must be a list of layers or layer names. "
            f"Received: {name}={layers!r} (of type {type(layers).__name__})"
        )
    by_name = {}
    for layer in compat.sublayers(model):
        by_name.setdefault(layer.name, layer)
    result = []
    for item in layers:
        if isinstance(item, keras.layers.Layer):
            result.append(item)
        elif isinstance(item, str):
            if item not in by_name:
                raise ValueError(
                    f"Argument `{name}`: {item!r} is not a layer of the model. "
                    f"Received: {name}={layers!r}"
                )
            result.append(by_name[item])
        else:
            raise TypeError(
                f"Argument `{name}` must hold layers or layer names. "
                f"Received: {name}={layers!r}"
            )
    return result
