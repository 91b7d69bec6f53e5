"""The few places where keras-lrx touches Keras internals.

Everything here depends on private Keras optimizer methods
(`_backend_update_step`, `_apply_weight_decay`, `_learning_rate`,
`_iterations`, `add_variable`), so a Keras release that moves them is fixed in
this one file. The supported Keras range is stated in `pyproject.toml` and
covered by the test suite.

Keras optimizers run one step as (base_optimizer.BaseOptimizer.apply):

    filter empty grads -> unscale (loss_scale_factor) -> [accumulate]
    -> clip -> _apply_weight_decay(vars)
    -> _backend_update_step(grads, vars, lr)
    -> EMA -> iterations += 1

Keras's TensorFlow backend overrides `_backend_update_step` for
tf.distribute, its torch backend replaces it by one fused
`_parallel_update_step` over all variables, and Nadam overrides it to advance
its `u_product` once per step. LRX therefore hooks exactly the two calls whose
learning rate must differ per variable, on the wrapped optimizer instance, and
leaves everything else to Keras. On torch, for Keras's stock optimizers, LRX
runs their rule itself once for all groups (`keras_lrx._torch_fused`), reading
their slots through `stock_torch_optimizer` / `slot_tensors` below.
"""

import contextlib
import inspect

import keras
from keras import backend
from keras import ops

#: Names of base-optimizer arguments: they configure the wrapped optimizer.
BASE_OPTIMIZER_ARGUMENTS = (
    "weight_decay",
    "clipnorm",
    "clipvalue",
    "global_clipnorm",
    "use_ema",
    "ema_momentum",
    "ema_overwrite_frequency",
    "loss_scale_factor",
    "gradient_accumulation_steps",
)


def raw_iterations(optimizer):
    """The optimizer's step counter, not divided by gradient accumulation.

    Keras evaluates learning-rate schedules at this counter.
    """
    return optimizer._iterations


def share_step_counter(wrapper, optimizer):
    """Makes `wrapper` count its steps with `optimizer`'s counter variable.

    The wrapper's own counter (made by `Optimizer.__init__`) is untracked, so
    it is neither saved nor restored.
    """
    wrapper._untrack_variable(wrapper._iterations)
    object.__setattr__(wrapper, "_iterations", optimizer._iterations)


def untrack_variable(optimizer, variable):
    optimizer._untrack_variable(variable)


def set_untracked_attribute(obj, name, value):
    """Sets an attribute without Keras/TF variable tracking."""
    object.__setattr__(obj, name, value)


@contextlib.contextmanager
def learning_rate_override(optimizer, value):
    """Makes `optimizer.learning_rate` read `value` inside the block.

    Keras's `_apply_weight_decay` (all backends) reads the optimizer's current
    learning rate; this lets LRX reuse it per multiplier group.
    """
    saved = optimizer._learning_rate
    object.__setattr__(optimizer, "_learning_rate", value)
    try:
        yield
    finally:
        object.__setattr__(optimizer, "_learning_rate", saved)


def own_learning_rate(optimizer):
    """The optimizer's own rate: a Variable, a schedule or a callable."""
    return optimizer._learning_rate


def redirect_learning_rate(optimizer, read):
    """Makes `optimizer.learning_rate` return `read()` from now on.

    Code that unwraps an optimizer by its `inner_optimizer` attribute
    (Keras's TensorBoard and SwapEMAWeights callbacks, written for
    LossScaleOptimizer) then reads the wrapper's rate. The optimizer's own
    rate (returned) keeps its variable, so saved optimizer state is unchanged.
    """
    own = optimizer._learning_rate
    object.__setattr__(optimizer, "_learning_rate", read)
    return own


def evaluate_learning_rate(optimizer, learning_rate):
    """Evaluates a learning rate the way `optimizer.learning_rate` would."""
    if isinstance(
        learning_rate, keras.optimizers.schedules.LearningRateSchedule
    ):
        return learning_rate(optimizer._iterations)
    if isinstance(learning_rate, keras.Variable):
        return learning_rate
    if callable(learning_rate):
        return learning_rate()
    return learning_rate


def apply_weight_decay_per_group(optimizer, original, groups):
    """Applies the optimizer's decoupled weight decay at one rate per group.

    Args:
        optimizer: The wrapped optimizer.
        original: Its own bound `_apply_weight_decay(variables)`.
        groups: A list of `(rate, variables)`, where `rate()` returns the
            learning rate that group decays at.

    Keras's decay reads the optimizer's `learning_rate`, so on JAX and torch
    the rate is set around each call of `original`. On TensorFlow under
    `MirroredStrategy` each replica runs the step in its own thread and
    Keras's decay runs in a merge call: setting the rate from the replica
    threads races (and leaves a graph tensor behind). There, LRX applies
    Keras's stock rule `v -= v * weight_decay * rate` itself, in one merge
    call, the way Keras's TensorFlow optimizer does. An optimizer with a
    decay rule of its own (an `_apply_weight_decay` override, e.g. Muon) is
    called as it is.
    """
    if backend.backend() != "tensorflow" or overrides_weight_decay(optimizer):
        for rate, variables in groups:
            with learning_rate_override(optimizer, rate()):
                original(variables)
        return
    import tensorflow as tf

    def decay_all(distribution):
        for rate, variables in groups:
            lr_value = rate()
            for variable in variables:
                lr = tf.cast(lr_value, variable.dtype)
                wd = tf.cast(optimizer.weight_decay, variable.dtype)

                def decay(v, lr=lr, wd=wd):
                    v.assign_sub(v * wd * lr)

                if isinstance(variable, keras.Variable):
                    variable = variable.value  # the tf.Variable
                distribution.extended.update(variable, decay, group=False)

    tf.__internal__.distribute.interim.maybe_merge_call(
        decay_all, optimizer._distribution_strategy
    )


def overrides_weight_decay(optimizer):
    """Whether `optimizer` decays by a rule of its own, not Keras's stock one.

    Keras's stock decay is its TensorFlow or torch optimizer's
    `_apply_weight_decay` (`v -= v * weight_decay * lr`); an optimizer such
    as Muon overrides it.
    """
    name = backend.backend()
    if name == "tensorflow":
        from keras.src.backend.tensorflow.optimizer import TFOptimizer as stock
    elif name == "torch":
        from keras.src.backend.torch.optimizers.torch_optimizer import (
            TorchOptimizer as stock,
        )
    else:
        from keras.src.optimizers.base_optimizer import BaseOptimizer as stock
    own = type(optimizer)._apply_weight_decay
    return own is not stock._apply_weight_decay


def uses_weight_decay(optimizer, variable):
    """Whether `optimizer` decays `variable` (`exclude_from_weight_decay`)."""
    return optimizer._use_weight_decay(variable)


def variable_index(optimizer, variable):
    """Position of `variable` in the list `optimizer` was built with."""
    return optimizer._get_variable_index(variable)


def ema_averages(optimizer):
    """The optimizer's moving averages of its variables (`use_ema=True`)."""
    return optimizer._model_variables_moving_average


def model_weights_on_call_stack(variables, max_frames=16):
    """All weights of the model whose `variables` an optimizer is built on.

    `Model.fit` builds the optimizer with `model.trainable_variables` only;
    to tell a key that names frozen weights from a typo, LRX looks for the
    calling model (Keras's trainer, or a user's training loop holding the
    model in a local variable). Returns None when no such model is found.
    """
    if not variables:
        return None
    first = id(variables[0])
    frame = inspect.currentframe()
    try:
        for _ in range(max_frames):
            frame = frame.f_back if frame is not None else None
            if frame is None:
                return None
            for value in frame.f_locals.values():
                if isinstance(value, keras.Model) and any(
                    id(v) == first for v in value.trainable_variables
                ):
                    return list(value.weights)
    finally:
        del frame
    return None


@contextlib.contextmanager
def record_step_state(optimizer):
    """Records the per-step global state variables `optimizer.build` makes.

    Per-step global state is a scalar variable that the build creates other
    than through `add_variable_from_reference` / `add_optimizer_variables`
    (which make one slot per model variable). Nadam's `u_product` is one.
    Such state must advance once per step even when the update runs once per
    multiplier group.

    Yields a list that holds those variables once the block exits.
    """
    found = []
    before = {id(v) for v in optimizer.variables}
    per_variable_ids = set()
    names = [
        name
        for name in ("add_variable_from_reference", "add_optimizer_variables")
        if hasattr(optimizer, name)  # the latter is Keras >= 3.10
    ]

    def recording(original):
        def call(*args, **kwargs):
            made = original(*args, **kwargs)
            for v in made if isinstance(made, (list, tuple)) else [made]:
                per_variable_ids.add(id(v))
            return made

        return call

    for name in names:
        object.__setattr__(optimizer, name, recording(getattr(optimizer, name)))
    try:
        yield found
    finally:
        for name in names:
            object.__delattr__(optimizer, name)
    found.extend(
        v
        for v in optimizer.variables
        if id(v) not in before
        and id(v) not in per_variable_ids
        and len(v.shape) == 0
    )


def install_update_hooks(optimizer, update_step, apply_weight_decay):
    """Routes the optimizer's update and decay calls through LRX.

    `update_step(original, grads, variables, learning_rate)` and
    `apply_weight_decay(original, variables)` receive the optimizer's own
    bound implementation as `original`.
    """
    original_update = type(optimizer)._backend_update_step.__get__(optimizer)
    original_decay = type(optimizer)._apply_weight_decay.__get__(optimizer)

    def _backend_update_step(grads, trainable_variables, learning_rate):
        return update_step(
            original_update, grads, trainable_variables, learning_rate
        )

    def _apply_weight_decay(variables):
        return apply_weight_decay(original_decay, variables)

    object.__setattr__(optimizer, "_backend_update_step", _backend_update_step)
    object.__setattr__(optimizer, "_apply_weight_decay", _apply_weight_decay)


#: Keras's own torch implementations (keras/src/backend/torch/optimizers)
#: of its stock optimizers, and where each keeps its per-variable slots, by
#: the role `keras_lrx._torch_fused` gives them.
_TORCH_STOCK_SLOTS = {
    "SGD": {"momentum": "momentums"},
    "Adam": {"m": "_momentums", "v": "_velocities", "v_hat": "_velocity_hats"},
    "AdamW": {"m": "_momentums", "v": "_velocities", "v_hat": "_velocity_hats"},
    "Adamax": {"m": "_m", "u": "_u"},
    "Adagrad": {"accumulator": "_accumulators"},
    "Lion": {"m": "_momentums"},
    "Nadam": {"m": "_momentums", "v": "_velocities"},
    "RMSprop": {
        "velocity": "_velocities",
        "momentum": "_momentums",
        "average_gradient": "_average_gradients",
    },
    "Adadelta": {
        "accumulated_grad": "_accumulated_grads",
        "accumulated_delta": "_accumulated_delta_vars",
    },
}
_TORCH_OPTIMIZERS_MODULE = "keras.src.backend.torch.optimizers."


def stock_torch_optimizer(optimizer):
    """The Keras class name of a stock torch-backend optimizer, else None.

    Keras's torch backend swaps `keras.optimizers.Adam(...)` (and the other
    classes in `_TORCH_STOCK_SLOTS`) for its own `foreach` implementation;
    a subclass or a user's optimizer is not swapped, and None is returned
    for it, as for a built optimizer whose slots are not where this Keras
    release is known to keep them.
    """
    if backend.backend() != "torch":
        return None
    cls = type(optimizer)
    name = cls.__name__
    if not cls.__module__.startswith(_TORCH_OPTIMIZERS_MODULE):
        return None
    slots = _TORCH_STOCK_SLOTS.get(name)
    if slots is None:
        return None
    for role, attribute in slots.items():
        if role == "v_hat" and not optimizer.amsgrad:
            continue  # Adam makes these only with amsgrad=True
        if not isinstance(getattr(optimizer, attribute, None), list):
            return None
    return name


def slot_tensors(optimizer, role, variables):
    """The torch tensors of `optimizer`'s slot `role` for `variables`."""
    slots = getattr(
        optimizer, _TORCH_STOCK_SLOTS[type(optimizer).__name__][role]
    )
    return [slots[optimizer._get_variable_index(v)].value for v in variables]


def nadam_u_product(optimizer):
    """Nadam's running product of momentum schedule values (a Variable)."""
    return optimizer._u_product


def snapshot(variables):
    """Copies the values of `variables` (safe under in-place updates)."""
    return [ops.copy(ops.convert_to_tensor(v)) for v in variables]


def restore(variables, values):
    for variable, value in zip(variables, values):
        variable.assign(value)


def check_distribution_strategy(optimizer):
    """Raises if `optimizer` was made under another tf.distribute strategy."""
    if backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    current = tf.distribute.get_strategy()
    made_under = getattr(optimizer, "_distribution_strategy", current)
    if made_under is not current:
        raise ValueError(
            f"The optimizer {optimizer.name!r} was created under a different "
            f"tf.distribute strategy ({type(made_under).__name__}) than the "
            f"one in use now ({type(current).__name__}). Create the wrapped "
            "optimizer and the LRX inside `strategy.scope()`, like any Keras "
            "optimizer."
        )


def set_trainable_variables(optimizer, variables):
    """What `BaseOptimizer.build` records about the variables, and no more.

    LRX cannot call `BaseOptimizer.build` itself: that would also create EMA
    and accumulator slots, which belong to the wrapped optimizer.
    """
    indices = {optimizer._var_key(v): i for i, v in enumerate(variables)}
    object.__setattr__(optimizer, "_trainable_variables_indices", indices)
    object.__setattr__(optimizer, "_trainable_variables", list(variables))
    optimizer.built = True


def built_variables(optimizer):
    """The variables `optimizer` was built with, in order."""
    return list(optimizer._trainable_variables)


def own_variables(optimizer):
    """The variables `optimizer` made itself (not a wrapped optimizer's)."""
    return list(optimizer._variables)


# Used by keras_lrx.reparam (SetLearningRate).
def stateless_scope():
    """The active `keras.StatelessScope`, or `None`."""
    from keras.src import backend as _backend

    return _backend.get_stateless_scope()


def no_autocast_scope():
    """A scope in which float variables read as their own dtype."""
    from keras.src import backend as _backend

    return _backend.AutocastScope(None)


def sublayers(layer):
    """`layer` and all layers nested in it (depth first)."""
    yield layer
    for sub in getattr(layer, "_layers", []):
        yield from sublayers(sub)


def child_layers(layer):
    """The layers directly inside `layer`, in the order they were added.

    For a functional or Sequential model that is `model.layers` (the
    computation order); for any other layer, its tracked sublayers.
    """
    if isinstance(layer, keras.Model) and (
        is_functional(layer) or isinstance(layer, keras.Sequential)
    ):
        return list(layer.layers)
    return list(getattr(layer, "_layers", []))


def scale_keeping_sparse_gradient(x, factor):
    """`x * factor`, whose gradient stays sparse on TensorFlow.

    The gradient of `x * factor` with respect to `x` is made dense by
    TensorFlow's multiply; with this op a `tf.IndexedSlices` gradient (an
    embedding lookup's) stays `IndexedSlices`, scaled by `factor`. Other
    backends have dense gradients only: a plain multiply.
    """
    factor = ops.cast(factor, x.dtype)
    if backend.backend() != "tensorflow":
        return ops.multiply(x, factor)
    import tensorflow as tf

    @tf.custom_gradient
    def scale(value):
        def grad(upstream):
            if isinstance(upstream, tf.IndexedSlices):
                return tf.IndexedSlices(
                    upstream.values * factor,
                    upstream.indices,
                    upstream.dense_shape,
                )
            return upstream * factor

        return value * factor, grad

    # A tensor, not a variable: custom_gradient would treat a variable
    # argument as a captured variable.
    return scale(tf.convert_to_tensor(x))


def compiled_loss(model):
    """The loss `model.compile` was given (None if none)."""
    return getattr(model, "_compile_loss", None)


def distribution_strategies(model):
    """The tf.distribute strategies of `model` and of its optimizer."""
    yield getattr(model, "_distribute_strategy", None)
    yield getattr(
        getattr(model, "optimizer", None), "_distribution_strategy", None
    )


def clone_model_uncompiled(model, clone_function):
    """`keras.models.clone_model(..., recursive=True)` without compiling.

    Keras compiles the clone from the original's compile config, which needs
    every custom optimizer, loss and metric class to be registered; the
    clone of an export is better left for the user to compile.
    """
    compiled = model.compiled
    object.__setattr__(model, "compiled", False)
    try:
        return keras.models.clone_model(
            model, clone_function=clone_function, recursive=True
        )
    finally:
        object.__setattr__(model, "compiled", compiled)


def is_functional(model):
    from keras.src.models.functional import Functional

    return isinstance(model, Functional)


def parameter_variables(layer):
    """Float variables created as trainable by `layer` and its sublayers.

    Uses the per-layer `_trainable_variables` lists, which do not change when
    a layer is frozen (`layer.trainable = False` only flips the flags), so a
    frozen layer is reparameterised the same way as a trainable one.
    """
    seen, result = set(), []
    for current in sublayers(layer):
        own = getattr(current, "_trainable_variables", None)
        if own is None:  # Fallback on a Keras without that attribute.
            own = [v for v in current.weights if v.trainable]
        for v in own:
            if id(v) not in seen and "float" in str(v.dtype):
                seen.add(id(v))
                result.append(v)
    return result


# Reading the learning rate an optimizer's last step used (keras_lrx.metrics,
# keras_lrx.callbacks). `_iterations` is the raw counter schedules are
# evaluated at; LossScaleOptimizer's own counter never advances, its inner
# optimizer's does.
def unwrap_loss_scale(optimizer):
    while isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    return optimizer


def learning_rate_at_last_step(optimizer, as_float=True):
    """The base learning rate of the optimizer's last step.

    Evaluates `optimizer.learning_rate` with the step counter set back by one
    (to 0 before any step): after `apply`, the counter already names the
    next step. Works for an LRX (schedule x scale) and any Keras optimizer
    (float or schedule), eagerly and inside a compiled TF or torch step.
    """
    optimizer = unwrap_loss_scale(optimizer)
    iterations = optimizer._iterations
    last = ops.maximum(ops.convert_to_tensor(iterations) - 1, 0)
    with keras.StatelessScope(state_mapping=[(iterations, last)]):
        rate = ops.cast(optimizer.learning_rate, "float32")
    if as_float:
        return float(ops.convert_to_numpy(rate))
    return rate


_MISSING_ATTRIBUTE = object()


# Used by keras_lrx.finder.
def fresh_train_function(model):
    """Sets `model.train_function` to a step traced anew on its first call.

    The compiled step of an earlier `fit` read the learning rate when it was
    traced, so the sweep needs a new trace (the old function is handed back
    afterwards). `make_train_function(force=True)` alone is not enough on
    JAX: `jax.jit` caches traces by the Python function, and the bound method
    `model.train_step` compares equal to the one traced before. A new closure
    around it is a new function, hence a new trace.
    """
    train_step = model.train_step
    own = vars(model).get(
        "train_step", _MISSING_ATTRIBUTE
    )  # set on the instance?

    def sweep_train_step(*args, **kwargs):
        return train_step(*args, **kwargs)

    set_untracked_attribute(model, "train_step", sweep_train_step)
    try:
        model.make_train_function(force=True)
    finally:
        if own is _MISSING_ATTRIBUTE:
            object.__delattr__(model, "train_step")
        else:
            set_untracked_attribute(model, "train_step", own)


# ---------------------------------------------------------------------------
# The JAX trainer's optimizer call (keras_lrx.metrics).
# ---------------------------------------------------------------------------
def before_stateless_apply(optimizer, hook):
    """Calls `hook(values)` with the optimizer's input state on each step.

    Keras's JAX trainer runs `optimizer.stateless_apply(state, grads, vars)`
    and the metrics in one traced function, where the optimizer state is not
    otherwise visible. This wraps that method of this one optimizer so that
    `hook` first receives the state values (`Variable`s mapped by a
    `StatelessScope` read as their mapped values).
    """
    original = optimizer.stateless_apply

    def stateless_apply(optimizer_variables, grads, trainable_variables):
        hook(
            [
                v.value if isinstance(v, keras.Variable) else v
                for v in optimizer_variables
            ]
        )
        return original(optimizer_variables, grads, trainable_variables)

    object.__setattr__(optimizer, "stateless_apply", stateless_apply)


# ---------------------------------------------------------------------------
# Wrapper optimizers (keras_lrx.reparam).
# ---------------------------------------------------------------------------
def innermost_optimizer(optimizer):
    """Follows wrapper optimizers (LossScaleOptimizer, LRX, ...) inwards.

    A wrapper is recognised by an `inner_optimizer`, `optimizer` or
    `base_optimizer` attribute holding another Keras optimizer.
    """
    for _ in range(8):
        inner = None
        for attr in ("inner_optimizer", "optimizer", "base_optimizer"):
            candidate = getattr(optimizer, attr, None)
            if isinstance(candidate, keras.optimizers.Optimizer):
                inner = candidate
                break
        if inner is None or inner is optimizer:
            return optimizer
        optimizer = inner
    return optimizer
