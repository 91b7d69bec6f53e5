"""Per-layer learning rates by reparameterisation: `SetLearningRate`.

`SetLearningRate(layer, multiplier)` makes one layer learn `multiplier` times
faster (or slower) than the rest of the model, with any optimizer and without
touching the optimizer: it changes how the layer's weights are *stored*.

Derivation
----------
Store `phi = theta / lam` in the layer's variables and let the layer compute
with `theta = lam * phi`. The loss `L(theta)` then has the gradient

    g_phi = dL/dphi = lam * g_theta.

* SGD (plain, momentum, Nesterov: all linear in the gradient). One step on phi
  is `phi <- phi - lr * lam * g_theta`, so `theta = lam * phi` moves by
  `-lr * lam**2 * g_theta`. A momentum buffer on phi equals the theta buffer
  divided by lam at every step, so the whole trajectory of theta is the one of
  SGD at `lr * lam**2`, exactly. For a multiplier `m`: `lam = sqrt(m)`.
* Adam and other adaptive optimizers (divide by a running RMS of the
  gradient). With `m_phi = lam * m_theta` and `v_phi = lam**2 * v_theta`:

      delta_phi   = lr * m_phi / (sqrt(v_phi) + eps)
                  = lr * m_theta / (sqrt(v_theta) + eps / lam)
      delta_theta = lam * delta_phi
                  = (lr * lam) * m_theta / (sqrt(v_theta) + eps / lam)

  i.e. exactly Adam at `lr * lam` *with epsilon `eps / lam`*. For a multiplier
  `m`: `lam = m`. The two agree as long as `eps / m` is small next to
  `sqrt(v)`; for rarely updated rows of an embedding (tiny `v`) it is not (see
  Notes). RMSprop, Adagrad, Adamax, Nadam, AdamW, Ftrl, Adadelta, Muon behave
  the same way up to their epsilon (Adagrad's `initial_accumulator_value` acts
  like an epsilon); Lion uses the sign of the update, so theta moves at
  exactly `lam * lr`.
* Lamb and Adafactor scale each step by the norm (RMS) of the parameter
  itself. That norm scales by `1 / lam` in phi-space and cancels the
  multiplier: `SetLearningRate` has (next to) no effect with them. Use the
  `keras_lrx.LRX` optimizer instead.

Decoupled weight decay (`weight_decay=` of any Keras optimizer, AdamW) shrinks
phi by `lr * wd * phi`, hence theta by the same fraction: the decay is *not*
multiplied by the multiplier. Weight regularizers and constraints of the
wrapped layer are applied to theta (they are rewrapped as `r(lam * phi)` and
`c(lam * phi) / lam`), so a regularizer's gradient is scaled exactly like the
data loss's.

Implementation
--------------
There is one set of variables: the wrapped layer's own. Its float trainable
weights hold phi (the wrapper rescales them once, when it is built or when it
wraps an already built layer). Each call maps every such variable to
`lam * phi` in a `keras.StatelessScope` and calls the wrapped layer normally
(`__call__`: masking, `training`, mixed-precision autocasting all as usual);
updated non-trainable state (BatchNormalization moving statistics, RNG seeds)
is assigned back afterwards and losses are forwarded. The transient theta
tensors live for one call, like the float16 copies of mixed precision.
`keras.layers.Embedding` takes a faster path: it gathers the rows of phi and
scales only those, so the full theta table is never built and TensorFlow keeps
the gradient sparse (`tf.IndexedSlices`). A subclass with a `call` of its own
(keras-rs `EmbedReduce`) sees the whole theta table, scaled by an op whose
gradient stays sparse on TensorFlow. A multiplier whose phi would overflow the
weights' dtype (or whose scale is below its smallest normal number) is refused
when the layer is wrapped or built, before any weight changes.

What users see is theta: `SetLearningRate.get_weights()`/`set_weights()`, the
forward pass and `unwrap_learning_rates()`. The stored variables
(`wrapper.weights`, `model.weights`, `model.get_weights()`, the weights file of
`model.save()`) hold phi, which is what the optimizer trains and what
`keras.saving.load_model` restores.
"""

from __future__ import annotations

import inspect
import math
import warnings
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_lrx import _validation
from keras_lrx._keras_compat import (
    clone_model_uncompiled as _clone_model_uncompiled,
)
from keras_lrx._keras_compat import innermost_optimizer as _innermost_optimizer
from keras_lrx._keras_compat import is_functional as _is_functional
from keras_lrx._keras_compat import no_autocast_scope as _no_autocast_scope
from keras_lrx._keras_compat import parameter_variables as _parameter_variables
from keras_lrx._keras_compat import (
    scale_keeping_sparse_gradient as _scale_keeping_sparse_gradient,
)
from keras_lrx._keras_compat import stateless_scope as _stateless_scope
from keras_lrx._keras_compat import sublayers as _sublayers

__all__ = ["SetLearningRate", "unwrap_learning_rates"]


# ---------------------------------------------------------------------------
# theta <-> phi conversions (NumPy, at build / set_weights time only).
# ---------------------------------------------------------------------------
def _to_theta(phi, scale):
    phi = np.asarray(phi)
    return phi * np.asarray(scale, dtype=phi.dtype)


def _to_phi(theta, scale):
    """phi = theta / scale, correctly rounded to the variable's dtype.

    `scale * phi` (one IEEE multiplication, the same on every backend) gives
    theta back bit for bit when scale is a power of two. Otherwise some
    float32 values theta have no float32 phi with `scale * phi == theta` (the
    products of consecutive phi can be more than one unit in the last place
    apart); those come back one ulp off (relative error <= 2**-23; about 12%
    of random weights for scale 0.1). Nudging phi to a float neighbour cannot
    do better: correct rounding already gives the closest product.
    """
    theta = np.asarray(theta)
    # Divide by the scale as the layer will see it (cast to the dtype).
    scale = float(np.asarray(scale, dtype=theta.dtype))
    with np.errstate(over="ignore"):
        return (theta.astype(np.float64) / scale).astype(theta.dtype)


def _check_representable(name, theta, scale, multiplier):
    """Raises unless `theta / scale` (phi) and `scale` fit `theta`'s dtype."""
    dtype = np.asarray(theta).dtype
    info = np.finfo(dtype)
    if float(np.asarray(scale, dtype=dtype)) < info.tiny:
        raise ValueError(
            f"Argument `multiplier` is too small for the {dtype} weights of "
            f"layer '{name}': the scale {scale:g} it stands for is below the "
            f"smallest normal {dtype} ({info.tiny:g}). Received: "
            f"multiplier={multiplier!r}. Use the LRX optimizer for such rates."
        )
    phi = _to_phi(theta, scale)
    if not np.all(np.isfinite(phi) | ~np.isfinite(theta)):
        largest = float(np.max(np.abs(np.asarray(theta, np.float64))))
        raise ValueError(
            f"Argument `multiplier` is too small for the {dtype} weights of "
            f"layer '{name}': the stored phi = theta / {scale:g} overflows "
            f"{dtype} (weights up to {largest:g}, {dtype} holds up to "
            f"{float(info.max):g}). Received: multiplier={multiplier!r}. Use "
            "a larger multiplier, float32 weights, or the LRX optimizer."
        )
    return phi


# ---------------------------------------------------------------------------
# Which optimizers are adaptive.
# ---------------------------------------------------------------------------
_PARAMETER_SCALED_OPTIMIZERS = ("Lamb", "Adafactor")


def _resolve_adaptive(adaptive):
    if isinstance(adaptive, (bool, np.bool_)):
        return bool(adaptive)
    if isinstance(adaptive, keras.optimizers.Optimizer):
        optimizer = _innermost_optimizer(adaptive)
        names = {cls.__name__ for cls in type(optimizer).__mro__}
        if names.intersection(_PARAMETER_SCALED_OPTIMIZERS):
            warnings.warn(
                f"{type(optimizer).__name__} scales each step by the norm of "
                "the parameter itself, which cancels the reparameterisation: "
                "`SetLearningRate` has (next to) no effect with it. Use the "
                "`keras_lrx.LRX` optimizer for per-layer learning rates "
                "instead.",
                stacklevel=3,
            )
        return not isinstance(optimizer, keras.optimizers.SGD)
    if inspect.isclass(adaptive) and issubclass(
        adaptive, keras.optimizers.Optimizer
    ):
        raise TypeError(
            "Argument `adaptive` must be a bool or an optimizer instance, not "
            f"an optimizer class. Received: adaptive={adaptive}. Pass an "
            f"instance instead, e.g. adaptive={adaptive.__name__}()."
        )
    raise TypeError(
        "Argument `adaptive` must be a bool or a `keras.optimizers.Optimizer` "
        f"instance. Received: adaptive={adaptive!r} "
        f"(of type {type(adaptive).__name__})"
    )


def _check_multiplier(multiplier):
    return _validation.check_float("multiplier", multiplier, low=0.0)


class _ThetaRegularizer(keras.regularizers.Regularizer):
    """Applies a weight regularizer to theta = scale * phi.

    A `Regularizer` subclass: Keras < 3.11 accepts no other kind on a
    variable.
    """

    def __init__(self, regularizer, wrapper):
        self.regularizer = regularizer
        self._wrapper = wrapper

    def __call__(self, phi):
        return self.regularizer(self._wrapper._theta(phi))


class _ThetaConstraint(keras.constraints.Constraint):
    """Applies a weight constraint to theta: phi <- c(scale * phi) / scale."""

    def __init__(self, constraint, wrapper):
        self.constraint = constraint
        self._wrapper = wrapper

    def __call__(self, phi):
        wrapper = self._wrapper
        theta = self.constraint(wrapper._theta(ops.convert_to_tensor(phi)))
        if wrapper._frozen:
            return theta
        return ops.divide(theta, ops.cast(wrapper.scale, theta.dtype))


def _is_plain_embedding(layer):
    """Whether `layer` is a stock `Embedding` (no LoRA, quantization, own
    `call` or activity regularizer): its lookup can gather from phi."""
    return (
        isinstance(layer, keras.layers.Embedding)
        and not getattr(layer, "lora_enabled", False)
        and layer.dtype_policy.quantization_mode is None
        and type(layer).call is keras.layers.Embedding.call
        and layer.activity_regularizer is None
    )


@keras.saving.register_keras_serializable(package="keras_lrx")
class SetLearningRate(keras.layers.Wrapper):
    """Multiplies the learning rate of one layer, for any optimizer.

    Wrap a layer to make it train `multiplier` times faster (or slower) than
    the rest of the model: a smaller rate for pretrained embeddings, a larger
    one for a freshly initialised head. It works by reparameterisation (the
    layer stores `phi = theta / lam` and computes with `theta = lam * phi`), so
    it needs no special optimizer and works in `model.fit`, custom loops and
    on every backend. `lam = sqrt(multiplier)` for SGD-like optimizers and
    `lam = multiplier` for adaptive ones (Adam, RMSprop, Adagrad, Lion...);
    see the module docstring for the derivation and its limits (exact for SGD
    with or without momentum; for Adam exact with epsilon divided by `lam`).

    What you see is theta: the outputs of a freshly wrapped layer are those of
    the unwrapped layer (initializers, `Constant` pretrained values and
    `set_weights` included), and `get_weights()`/`set_weights()` of the
    wrapper are in theta-space. The wrapped layer's own variables hold phi,
    and so do `model.weights`, `model.get_weights()`/`set_weights()` and
    `save_weights()`/`load_weights()` (consistent with each other and with
    `model.save`, but not interchangeable with an unwrapped model's weights);
    `unwrap_learning_rates(model)` folds theta back into a plain model for
    export.

    Args:
        layer: `keras.layers.Layer`. The layer to wrap; it must have trainable
            float weights (Dense, Conv*, Embedding, RNNs, normalization,
            MultiHeadAttention, a custom layer, a whole model...). Non-trainable
            state such as BatchNormalization moving statistics is left as is
            and still updated.
        multiplier: float. Factor applied to the layer's learning rate;
            finite and >= 0. `0` freezes the weights (their gradient is
            stopped; decoupled weight decay of the optimizer still applies).
        adaptive: bool, or a `keras.optimizers.Optimizer` instance from which
            it is derived. `True` for optimizers whose step does not depend on
            the scale of the gradient (Adam, AdamW, Adamax, Nadam, RMSprop,
            Adagrad, Adadelta, Ftrl, Lion, Muon...), `False` for SGD (with or
            without momentum). An optimizer instance counts as SGD when it is
            an instance of `keras.optimizers.SGD` (wrappers such as
            `LossScaleOptimizer` are looked through) and as adaptive
            otherwise, so pass a bool for a custom SGD-like optimizer that
            does not subclass `SGD`. Defaults to `True`.
        **kwargs: Base layer arguments (`name`, `dtype`...). `dtype` defaults
            to the wrapped layer's dtype policy.

    Raises:
        TypeError: If `layer` is not a Keras layer, `multiplier` not a number
            or `adaptive` neither a bool nor an optimizer.
        ValueError: If `multiplier` is negative or not finite, or if the layer
            has no trainable float weights.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_lrx.reparam import SetLearningRate
    >>> vectors = np.random.default_rng(0).normal(size=(100, 8))
    >>> inputs = keras.Input((5,), dtype="int32")
    >>> x = SetLearningRate(
    ...     keras.layers.Embedding(
    ...         100, 8,
    ...         embeddings_initializer=keras.initializers.Constant(vectors)),
    ...     multiplier=0.1,  # pretrained: learn 10x slower
    ... )(inputs)
    >>> x = keras.layers.GlobalAveragePooling1D()(x)
    >>> outputs = SetLearningRate(keras.layers.Dense(1), multiplier=2.0)(x)
    >>> model = keras.Model(inputs, outputs)
    >>> model.compile(optimizer="adam", loss="mse")
    >>> float(np.abs(model.layers[1].get_weights()[0] - vectors).max()) < 1e-6
    True
    """

    def __init__(
        self,
        layer: keras.layers.Layer,
        multiplier: float,
        adaptive: bool | keras.optimizers.Optimizer = True,
        **kwargs: Any,
    ) -> None:
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(
                "Argument `layer` must be a `keras.layers.Layer` instance. "
                f"Received: layer={layer!r} (of type {type(layer).__name__})"
            )
        if any(isinstance(sub, SetLearningRate) for sub in _sublayers(layer)):
            raise ValueError(
                "Argument `layer` must not be or contain a `SetLearningRate` "
                f"wrapper. Received: layer={layer.name}. Wrap each inner "
                "layer once, with the product of the multipliers."
            )
        if getattr(layer, "_lrx_wrapper_name", None) is not None:
            raise ValueError(
                f"Layer '{layer.name}' is already wrapped by SetLearningRate "
                f"'{layer._lrx_wrapper_name}': its weights hold phi for that "
                f"wrapper. Received: layer={layer.name}. Use one wrapper per "
                "layer."
            )
        multiplier = _check_multiplier(multiplier)
        adaptive = _resolve_adaptive(adaptive)
        kwargs.setdefault("dtype", layer.dtype_policy)
        super().__init__(layer, **kwargs)
        self.autocast = layer.autocast
        self._multiplier = multiplier
        self._adaptive = adaptive
        self._lam = multiplier if adaptive else math.sqrt(multiplier)
        # multiplier 0: theta is stored as is and gets a zero gradient.
        self._frozen = self._lam == 0.0
        self._identity = self._lam == 1.0
        self._phi_ready = False
        self._scaled_ids = frozenset()
        self._fast_embedding = False
        if layer.built:
            self._reparameterize()
        layer._lrx_wrapper_name = self.name

    # -- public properties ---------------------------------------------------
    @property
    def multiplier(self) -> float:
        """The learning-rate multiplier (float)."""
        return self._multiplier

    @property
    def adaptive(self) -> bool:
        """Whether `scale` was chosen for an adaptive optimizer (bool)."""
        return self._adaptive

    @property
    def scale(self) -> float:
        """lam in `theta = lam * phi`: `multiplier` if adaptive, else its
        square root. 1.0 for a multiplier of 0 (stored as theta, frozen)."""
        return 1.0 if self._frozen else self._lam

    @property
    def supports_masking(self) -> bool:
        return self.layer.supports_masking

    @supports_masking.setter
    def supports_masking(self, value: bool) -> None:
        pass  # Mirrors the wrapped layer.

    # -- building ------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.layer.built:
            self._build_layer_from_call_args(args, kwargs)
        if not self._phi_ready and self.layer.built:
            self._reparameterize()
        return super().__call__(*args, **kwargs)

    def build(self, input_shape: Any = None) -> None:
        if not self.layer.built:
            self.layer.build(input_shape)
        self._reparameterize()

    def _build_layer_from_call_args(self, args, kwargs):
        """Builds the wrapped layer from the arguments of a call.

        Mirrors what `Layer.__call__` does: the shape of every tensor argument
        of the wrapped layer's `call` is passed to its `build` as
        `<argument>_shape` (or, for a one-argument `build`, the first shape).
        """
        layer = self.layer
        if type(layer).build is keras.layers.Layer.build:
            # No `build()`: let Keras build it the way it knows.
            layer(*args, **kwargs)
            return
        signature = inspect.signature(layer.call)
        params = signature.parameters
        var_keyword = any(p.kind == p.VAR_KEYWORD for p in params.values())
        kwargs = {k: v for k, v in kwargs.items() if k in params or var_keyword}
        bound = signature.bind_partial(*args, **kwargs).arguments
        shapes = {}
        for name, value in bound.items():
            if name in ("mask", "training") or params[name].kind in (
                inspect.Parameter.VAR_POSITIONAL,
                inspect.Parameter.VAR_KEYWORD,
            ):
                continue
            flat = keras.tree.flatten(value)
            if flat and all(hasattr(x, "shape") or x is None for x in flat):
                shapes[f"{name}_shape"] = keras.tree.map_structure(
                    lambda x: None if x is None else tuple(x.shape), value
                )
        build_params = [
            name
            for name, p in inspect.signature(layer.build).parameters.items()
            if p.kind
            in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        if len(build_params) == 1:
            layer.build(next(iter(shapes.values()), None))
        else:
            wanted = {k: v for k, v in shapes.items() if k in build_params}
            layer.build(**wanted)

    def _reparameterize(self):
        """Once, when the wrapped layer is built: theta -> phi in place."""
        if self._phi_ready:
            return
        params = _parameter_variables(self.layer)
        if not params:
            raise ValueError(
                "Argument `layer` must have trainable float weights, but "
                f"layer '{self.layer.name}' (of type "
                f"{type(self.layer).__name__}) has none. Wrap a layer with "
                "weights (Dense, Conv2D, Embedding, ...)."
            )
        phis = self._checked_phis(params)
        self._scaled_ids = frozenset(id(v) for v in params)
        if not self._identity:
            for v, phi in zip(params, phis):
                self._move_to_phi(v, phi)
        self._fast_embedding = _is_plain_embedding(self.layer)
        self._phi_ready = True

    def _checked_phis(self, params):
        """phi for each of `params` (None where phi = theta), all checked.

        Every phi is computed (and checked) before any variable changes; a
        refused layer is left as it was, free to be wrapped again.
        """
        if self._identity or self.scale == 1.0:
            return [None] * len(params)
        try:
            return [
                _check_representable(
                    self.layer.name,
                    ops.convert_to_numpy(v),
                    self.scale,
                    self._multiplier,
                )
                for v in params
            ]
        except ValueError:
            if getattr(self.layer, "_lrx_wrapper_name", None) == self.name:
                self.layer._lrx_wrapper_name = None
            raise

    def _move_to_phi(self, variable, phi):
        """Stores phi in `variable`; its regularizer and constraint then see
        theta."""
        if phi is not None:
            variable.assign(phi)
        if variable.regularizer is not None:
            variable.regularizer = _ThetaRegularizer(variable.regularizer, self)
        if variable.constraint is not None:
            variable.constraint = _ThetaConstraint(variable.constraint, self)

    # -- theta / phi ---------------------------------------------------------
    def _theta(self, phi):
        """theta = lam * phi as a tensor (zero gradient if frozen)."""
        phi = ops.convert_to_tensor(phi)
        if self._frozen:
            # phi + 0 * phi: the value of phi, and a zero (not a missing)
            # gradient, so optimizers and custom loops see no `None`.
            return ops.add(ops.stop_gradient(phi), ops.multiply(phi, 0))
        # A lookup into theta (an Embedding subclass with its own `call`, a
        # composite layer holding an embedding) keeps TensorFlow's sparse
        # gradient: its optimizers update only the rows such a gradient
        # touches, as for the unwrapped layer.
        return _scale_keeping_sparse_gradient(phi, self._lam)

    def get_weights(self) -> list[np.ndarray]:
        """The weights of the wrapped layer in theta-space (NumPy arrays).

        Same order as `self.weights` (= `self.layer.weights`). Non-trainable
        state (e.g. moving statistics) is returned as is.
        """
        return [
            _to_theta(ops.convert_to_numpy(v), self.scale)
            if id(v) in self._scaled_ids
            else ops.convert_to_numpy(v)
            for v in self.weights
        ]

    def set_weights(self, weights: list[Any]) -> None:
        """Sets the wrapped layer's weights from theta-space values.

        Args:
            weights: list of arrays, in the order of `get_weights()`.
        """
        if not self._phi_ready and self.layer.built:
            self._reparameterize()
        variables = self.weights
        if len(weights) == len(variables):
            weights = [
                _check_representable(
                    self.layer.name,
                    np.asarray(w, dtype=v.dtype),
                    self.scale,
                    self._multiplier,
                )
                if id(v) in self._scaled_ids
                and tuple(np.shape(w)) == tuple(v.shape)
                else w
                for v, w in zip(variables, weights)
            ]
        super().set_weights(weights)

    # -- forward -------------------------------------------------------------
    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if self._identity:
            return self.layer(inputs, *args, **kwargs)
        if self._fast_embedding:
            return self._embedding_call(inputs)
        return self._reparameterized_call(inputs, *args, **kwargs)

    def _current_value(self, variable, outer):
        value = None if outer is None else outer.get_current_value(variable)
        return variable.value if value is None else value

    def _embedding_call(self, inputs):
        # theta[ids] = lam * phi[ids]: gather first, scale the rows only.
        layer = self.layer
        outer = _stateless_scope()
        with _no_autocast_scope():
            table = self._current_value(layer.embeddings, outer)
        if keras.backend.standardize_dtype(inputs.dtype) not in (
            "int32",
            "int64",
        ):
            inputs = ops.cast(inputs, "int32")
        rows = self._theta(ops.take(table, inputs, axis=0))
        return ops.cast(rows, layer.compute_dtype)

    def _reparameterized_call(self, *args, **kwargs):
        outer = _stateless_scope()
        variables = self.layer.variables
        mapping = []
        with _no_autocast_scope():
            for v in variables:
                if id(v) in self._scaled_ids:
                    mapping.append(
                        (v, self._theta(self._current_value(v, outer)))
                    )
                elif outer is not None:
                    value = outer.get_current_value(v)
                    if value is not None:
                        mapping.append((v, value))
        # Made outside the no-autocast scope: there a variable's `dtype`
        # reads as float32 whatever it is, and the scope would cast a
        # float16 theta to float32.
        scope = keras.StatelessScope(
            state_mapping=mapping,
            collect_losses=True,
            initialize_variables=False,
        )
        before = dict(scope.state_mapping)
        with scope:
            outputs = self.layer(*args, **kwargs)
        # Write back what the call updated (moving statistics, seeds...).
        for v in variables:
            new = scope.get_current_value(v)
            if new is None or new is before.get(id(v)):
                continue
            if id(v) in self._scaled_ids and not self._frozen:
                new = ops.divide(new, ops.cast(self._lam, new.dtype))
            v.assign(new)
        if scope.losses:
            if outer is None:
                self.add_loss(scope.losses)
            elif outer.collect_losses:
                for loss in scope.losses:
                    outer.add_loss(loss)
        return outputs

    def compute_mask(self, inputs: Any, previous_mask: Any = None) -> Any:
        return self.layer.compute_mask(inputs, previous_mask)

    # -- serialization -------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {"multiplier": self._multiplier, "adaptive": self._adaptive}
        )
        return config


def unwrap_learning_rates(model: keras.Model) -> keras.Model:
    """Returns an equivalent plain model without `SetLearningRate` wrappers.

    Every wrapper is replaced by a copy of its wrapped layer holding theta
    (`wrapper.get_weights()`); every other layer by a copy with the same
    weights. Use it to export or serve a model trained with per-layer learning
    rates: the result has no dependency on keras-lrx, and its layers have the
    wrapped layers' names. The new model is not compiled, whatever the
    original's optimizer, loss and metrics (custom classes need no
    registration): compile it for further training.

    Args:
        model: A built `keras.Sequential` or functional `keras.Model`. Nested
            Sequential/functional models are unwrapped too.

    Returns:
        A new `keras.Model` of the same kind, with identical predictions.

    Raises:
        TypeError: If `model` is not a Sequential or functional model.
        ValueError: If `model` is not built.

    Example:

    >>> import numpy as np
    >>> import keras
    >>> from keras_lrx.reparam import SetLearningRate, unwrap_learning_rates
    >>> model = keras.Sequential([
    ...     keras.Input((4,)),
    ...     SetLearningRate(keras.layers.Dense(3, name="head"), 2.0),
    ... ])
    >>> plain = unwrap_learning_rates(model)
    >>> [layer.name for layer in plain.layers]
    ['head']
    >>> x = np.ones((2, 4), "float32")
    >>> bool(np.allclose(plain.predict(x, verbose=0),
    ...                  model.predict(x, verbose=0), atol=1e-6))
    True
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            "Argument `model` must be a `keras.Model` (Sequential or "
            f"functional). Received: model={model!r} "
            f"(of type {type(model).__name__})"
        )
    if not model.built:
        raise ValueError(
            "Argument `model` must be built (call it on data or give it an "
            f"`Input`). Received: model={model.name} (not built)"
        )
    if not isinstance(model, keras.Sequential) and not _is_functional(model):
        raise TypeError(
            "Argument `model` must be a Sequential or functional model; "
            f"subclassed models cannot be cloned. Received: model={model.name} "
            f"(of type {type(model).__name__}). Copy each wrapper's "
            "`get_weights()` (theta) into a model built without wrappers "
            "instead."
        )
    pairs = []

    def clone_function(layer):
        source = layer.layer if isinstance(layer, SetLearningRate) else layer
        new = source.__class__.from_config(source.get_config())
        pairs.append((layer, new))
        return new

    plain = _clone_model_uncompiled(model, clone_function)
    for old, new in pairs:
        weights = old.get_weights()
        if weights:
            if not new.built:
                raise ValueError(
                    f"Could not rebuild layer '{new.name}' while unwrapping "
                    f"model '{model.name}'."
                )
            new.set_weights(weights)
    return plain
