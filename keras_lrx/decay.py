"""Weight-decay rules for `LRX(weight_decay_multipliers=...)`.

`LRX` scales the wrapped optimizer's decoupled weight decay per variable
with the same keys as its learning-rate multipliers (a layer name, a
variable path, a regular expression, a layer object, a callable of the
variable, or `keras_lrx.combine` of several). The rules are saved with the
optimizer -- and so with the model -- and come back with `load_model`,
unlike Keras's `exclude_from_weight_decay`, which is not in the optimizer's
config.

`no_decay_on_biases_and_norms` is the rule of Hugging Face's `Trainer` and
of timm's `param_groups_weight_decay`: no decay on biases, normalisation
scales and offsets, and any other weight with fewer than two dimensions.
"""

from __future__ import annotations

import keras

from keras_lrx import _keras_compat as compat
from keras_lrx.multipliers import MultiplierMap
from keras_lrx.multipliers import is_constant

__all__ = ["no_decay_on_biases_and_norms"]


@keras.saving.register_keras_serializable(package="keras_lrx")
def no_decay_on_biases_and_norms(variable: keras.Variable) -> float | None:
    """Weight-decay factor 0 for biases, norm weights and 1-D weights.

    A variable named `bias` (of any shape: Keras's `EinsumDense` attention
    biases are 2-D, PyTorch's are 1-D) and any weight with fewer than 2
    dimensions -- the scales and offsets of `LayerNormalization`,
    `BatchNormalization`, `RMSNormalization` and the like, scalar weights --
    are not decayed; kernels and embedding tables keep the wrapped
    optimizer's decay. Hugging Face's `Trainer` excludes biases and
    normalisation weights; timm's `param_groups_weight_decay` excludes
    `ndim <= 1` and `.bias`. Combine it with keys of your own through
    `keras_lrx.combine`.

    Args:
        variable: A Keras variable.

    Returns:
        0.0 for a bias or a weight with fewer than 2 dimensions, else None
        (the optimizer's decay).

    Example:

    >>> import keras
    >>> from keras_lrx import LRX, no_decay_on_biases_and_norms
    >>> model = keras.Sequential([keras.Input((4,)),
    ...     keras.layers.Dense(4, name="dense"),
    ...     keras.layers.LayerNormalization(name="norm")], name="net")
    >>> opt = LRX(keras.optimizers.AdamW(1e-3, weight_decay=0.05),
    ...           weight_decay_multipliers=no_decay_on_biases_and_norms)
    >>> opt.build(model.trainable_variables)
    >>> opt.variable_weight_decays
    {'net/dense/kernel': 0.05, 'net/dense/bias': 0.0, 'net/norm/gamma': 0.0, \
'net/norm/beta': 0.0}
    """
    if len(variable.shape) < 2 or variable.name == "bias":
        return 0.0
    return None


# What LRX checks and resolves of `weight_decay_multipliers`.
_ARGUMENT = "weight_decay_multipliers"


def check_decay_factor(value, where):
    """A weight-decay factor is a number >= 0 (not a schedule of the step)."""
    if not is_constant(value):
        raise ValueError(
            f"Argument `{_ARGUMENT}` takes numbers >= 0 (a "
            "variable's weight decay is the optimizer's times the number); "
            f"a schedule of the step is not supported there. Received: "
            f"{value!r} for {where}"
        )


def check_decay_map(weight_decay_multipliers, optimizer):
    """The `MultiplierMap` of LRX's `weight_decay_multipliers`, checked
    against the wrapped optimizer (it must have a `weight_decay`)."""
    decay_map = MultiplierMap(weight_decay_multipliers, _ARGUMENT)
    if weight_decay_multipliers is None:
        return decay_map
    for key in decay_map.all_keys():
        check_decay_factor(key.value, f"key {key.label()}")
    if not optimizer.weight_decay:
        raise ValueError(
            f"Argument `{_ARGUMENT}` scales the wrapped optimizer's "
            f"weight decay, and {type(optimizer).__name__} "
            f"{optimizer.name!r} has none. Set `weight_decay` on the "
            "wrapped optimizer (e.g. AdamW(..., weight_decay=0.05)). "
            f"Received: weight_decay={optimizer.weight_decay!r}"
        )
    if compat.decays_in_update_step(optimizer):
        raise ValueError(
            f"Argument `{_ARGUMENT}`: {type(optimizer).__name__} decays "
            "inside its own update step (after the step's statistics have "
            "read the weights), where LRX cannot scale or switch it off per "
            "variable. Exclude variables with the wrapped optimizer's "
            "`exclude_from_weight_decay(var_names=[...])` instead. "
            f"Received: {_ARGUMENT}={weight_decay_multipliers!r}"
        )
    return decay_map


def factors_by_key(resolutions, variables, optimizer, key_of):
    """`{key_of(variable): factor}` for the variables whose decay factor
    (resolved) is not 1; raises for a factor `optimizer`'s own decay rule
    (Muon's) cannot take."""
    factors = {}
    own_rule = compat.overrides_weight_decay(optimizer)
    for v, r in zip(variables, resolutions):
        check_decay_factor(r.multiplier, f"variable {r.path!r}")
        if own_rule and r.multiplier not in (0.0, 1.0):
            raise ValueError(
                f"Argument `{_ARGUMENT}`: {type(optimizer).__name__} decays "
                "by a rule of its own, which LRX can switch off per variable "
                "(0) but not scale: each factor must be 0 or 1. Received: "
                f"{r.multiplier!r} for variable {r.path!r}"
            )
        if r.multiplier != 1.0:
            factors[key_of(v)] = r.multiplier
    return factors
