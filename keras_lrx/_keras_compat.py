"""Accessors for the Keras internals keras-lrx reads, one small function each.

Keras-private names appear in two files only: here, and in
`keras_lrx/_engine/pipeline.py`, which overrides the private steps of
Keras's optimizer pipeline in the order Keras calls them (a layout test,
`tests/test_layout.py`, holds both to it). A Keras release that moves an
internal is fixed here: where Keras has moved one before, the newer home is
tried first and the older second (`_internal`), and a Keras that has it in
neither raises an `ImportError` naming it. Nothing here imports or calls
keras-lrx code (the `StepStatistics` mixin calls one method its subclass
defines, `before_update_steps`).

What LRX reads of an optimizer beyond its public API: its step counter
(`raw_iterations`, shared with the wrapped optimizer), its own rate
(`own_learning_rate` / `set_own_learning_rate`), the variables its build made
(`adopt_built_state`), its per-step work (`run_per_step_update`), its decay
exclusions and rule, and on torch the slots of Keras's stock optimizers
(`stock_torch_optimizer`, `slot_tensors`). keras-lrx's own optimizers with
one global step size (`keras_lrx.prodigy`) hook Keras's per-step update and
decay through the `StepStatistics` mixin. LRX assigns one kind of attribute
of the wrapped optimizer: a scheduled hyperparameter (`beta_1`, `momentum`)
during a step, put back afterwards (`keras_lrx._engine.hyperparameters`).
The supported Keras range is stated in `pyproject.toml` and covered by the
test suite (`tests/test_keras_compat.py` checks these internals).
"""

import contextlib

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

    For the optimizer a model trains with directly (an LRX's own base rate,
    or a plain optimizer the range test sweeps); never used on an optimizer
    that LRX wraps.
    """
    saved = optimizer._learning_rate
    object.__setattr__(optimizer, "_learning_rate", value)
    try:
        yield
    finally:
        object.__setattr__(optimizer, "_learning_rate", saved)


def own_learning_rate(optimizer):
    """The optimizer's own rate: a Variable, a schedule or a callable (None
    for an LRX that follows its wrapped optimizer's rate)."""
    return optimizer._learning_rate


def set_own_learning_rate(optimizer, value):
    """Sets what `own_learning_rate` reads (through Keras's attribute
    tracking: a Variable assigned here is saved with the optimizer)."""
    optimizer._learning_rate = value


def run_per_step_update(optimizer, learning_rate):
    """Runs the once-per-step part of `optimizer`'s update, for no variable.

    Keras's optimizers update per variable (`update_step`); one that has
    per-step work as well (Nadam advances its `u_product`) does it in an
    override of `_backend_update_step` before handing the variables on to
    Keras's loop. LRX calls `update_step` per variable itself, so it runs the
    first such override in the class hierarchy (not Keras's backend
    implementations, which only loop) once with no variables. A class without
    one has no per-step work: nothing runs.
    """
    stock = _stock_update_step_classes()
    for cls in type(optimizer).__mro__:
        if cls in stock:
            continue  # e.g. torch's Nadam: its parallel step comes first
        own = cls.__dict__.get("_backend_update_step")
        if own is not None:
            own(optimizer, [], [], learning_rate)
            return


class StepStatistics:
    """Mixin for an optimizer whose step ends with global statistics.

    D-Adaptation and Prodigy (`keras_lrx.prodigy`) sum statistics over every
    variable of a step and decide one global step size from the sums. Listed
    before `keras.optimizers.Optimizer` in the bases, this mixin:

    * runs `before_update_steps(learning_rate)` once per step before the
      per-variable `update_step` calls, in the override of
      `_backend_update_step` that `run_per_step_update` finds (LRX calls it
      with no variables, then `update_step` per variable itself);
    * turns Keras's stock decoupled decay (`_apply_weight_decay`, which runs
      before the step) off: the class decays inside `update_step`, after the
      step's statistics have read the undecayed weights.
    """

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        self.before_update_steps(learning_rate)
        if trainable_variables:
            super()._backend_update_step(
                grads, trainable_variables, learning_rate
            )

    def _apply_weight_decay(self, variables):
        return  # decayed in `update_step`


def decays_in_update_step(optimizer):
    """Whether `optimizer` decays inside its `update_step` (a
    `StepStatistics` optimizer), out of reach of a per-variable decay rule
    applied before the step."""
    return isinstance(optimizer, StepStatistics)


def run_where(active, update, variables):
    """Runs `update()` so that what it assigns takes effect only if `active`.

    `active` is a boolean scalar (a tensor). `update` assigns some of
    `variables` (a variable and its optimizer slots). Inside a compiled
    step, a step where `active` is False does no update work at all:
    TensorFlow runs `update` in a `tf.cond`; JAX, inside the stateless scope
    of a compiled step, in a `jax.lax.cond` whose outputs are the values
    `update` assigns (found by tracing it once before; XLA drops that
    trace's unused operations). Eagerly (torch, or a step outside any
    compiled function): a Python `if`.
    """
    name = backend.backend()
    if name == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly():

            def true_fn():
                update()
                return tf.constant(True)

            tf.cond(active, true_fn, lambda: tf.constant(False))
            return
    elif name == "jax":
        scope = stateless_scope()
        if scope is not None:
            _jax_cond_in_scope(scope.state_mapping, active, update, variables)
            return
    if bool(ops.convert_to_numpy(active)):
        update()


def _jax_cond_in_scope(mapping, active, update, variables):
    """`run_where` in a JAX stateless scope (`mapping`: id -> value)."""
    import jax

    before = dict(mapping)

    def assigned():
        # What `update` assigns, traced here; the scope as it was after.
        update()
        changed = {
            key: value
            for key, value in mapping.items()
            if before.get(key) is not value
        }
        mapping.clear()
        mapping.update(before)
        return changed

    keys = list(assigned())  # which values `update` assigns
    if not keys:
        return
    by_id = {id(v): v for v in variables}
    olds = [before[key] if key in before else by_id[key]._value for key in keys]

    def true_fn():
        changed = assigned()
        return [changed.get(key, old) for key, old in zip(keys, olds)]

    news = jax.lax.cond(active, true_fn, lambda: list(olds))
    for key, new in zip(keys, news):
        mapping[key] = new


def _stock_update_step_classes():
    """Keras's own implementations of `_backend_update_step`, which only
    loop over `update_step`: the base and backend classes of the public
    `keras.optimizers.Optimizer`, and on torch its parallel optimizer."""
    classes = set(keras.optimizers.Optimizer.__mro__)
    if backend.backend() == "torch":
        classes.add(
            _internal(
                "TorchParallelOptimizer",
                "keras.src.backend.torch.optimizers.torch_parallel_optimizer",
            )
        )
    return classes


def stock_weight_decay(optimizer, variable, weight_decay, learning_rate):
    """Keras's stock decoupled decay of one variable: `v -= v * wd * lr`.

    Written as each backend's Keras optimizer writes it (TensorFlow: an
    `assign_sub` on the replica's variable, inside the caller's
    `extended.update`; torch: one in-place multiply by `1 - wd * lr`), so a
    variable decays bit for bit as under a separate optimizer at that rate.
    """
    name = backend.backend()
    if name == "torch":
        import torch

        with torch.no_grad():
            if isinstance(variable, keras.Variable):
                variable = variable.value
            variable.mul_(1 - weight_decay * learning_rate)
        return
    lr = ops.cast(learning_rate, variable.dtype)
    wd = ops.cast(weight_decay, variable.dtype)
    if name == "tensorflow":
        optimizer.assign_sub(variable, variable * wd * lr)
    else:
        optimizer.assign(variable, variable - variable * wd * lr)


def apply_own_weight_decay(optimizer, variables):
    """Calls an optimizer's own decay rule (see `overrides_weight_decay`)."""
    optimizer._apply_weight_decay(variables)


def overrides_weight_decay(optimizer):
    """Whether `optimizer` decays by a rule of its own, not Keras's stock one.

    Keras's stock decay is its backend optimizer's `_apply_weight_decay`
    (`v -= v * weight_decay * lr`), which the public
    `keras.optimizers.Optimizer` inherits; an optimizer such as Muon
    overrides it.
    """
    stock = keras.optimizers.Optimizer._apply_weight_decay
    return type(optimizer)._apply_weight_decay is not stock


def uses_weight_decay(optimizer, variable):
    """Whether `optimizer` decays `variable` (`exclude_from_weight_decay`)."""
    return optimizer._use_weight_decay(variable)


def variable_key(optimizer, variable):
    """The key Keras's optimizers know `variable` by: the same for a Keras
    variable and, on TensorFlow, for the per-replica variable an update
    receives inside `extended.update`."""
    return optimizer._var_key(variable)


def variable_index(optimizer, variable):
    """Position of `variable` in the list `optimizer` was built with."""
    return optimizer._get_variable_index(variable)


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

#: The constructor options `keras_lrx._torch_fused` implements, every value
#: of each: Keras's pipeline options (which LRX runs itself) and each class's
#: own. A class whose constructor takes any other option (one a later Keras
#: adds) is updated by its own `update_step`.
TORCH_PIPELINE_OPTIONS = frozenset(
    {"name", "learning_rate", *BASE_OPTIMIZER_ARGUMENTS}
)
TORCH_RULE_OPTIONS = {
    "SGD": frozenset({"momentum", "nesterov"}),
    "Adam": frozenset({"beta_1", "beta_2", "epsilon", "amsgrad"}),
    "AdamW": frozenset({"beta_1", "beta_2", "epsilon", "amsgrad"}),
    "Adamax": frozenset({"beta_1", "beta_2", "epsilon"}),
    "Adagrad": frozenset({"epsilon", "initial_accumulator_value"}),
    "Lion": frozenset({"beta_1", "beta_2"}),
    "Nadam": frozenset({"beta_1", "beta_2", "epsilon"}),
    "RMSprop": frozenset({"rho", "momentum", "epsilon", "centered"}),
    "Adadelta": frozenset({"rho", "epsilon"}),
}


def constructor_options(cls):
    """The named arguments of `cls`'s constructor (`**kwargs` aside)."""
    import inspect

    parameters = inspect.signature(cls.__init__).parameters
    return frozenset(
        name
        for name, p in parameters.items()
        if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    )


def stock_torch_optimizer(optimizer):
    """The Keras class name of a stock torch-backend optimizer, else None.

    Keras's torch backend swaps `keras.optimizers.Adam(...)` (and the other
    classes in `_TORCH_STOCK_SLOTS`) for its own `foreach` implementation;
    a subclass or a user's optimizer is not swapped, and None is returned
    for it, as for an optimizer configured with an option outside
    `TORCH_RULE_OPTIONS` and for a built optimizer whose slots are not where
    this Keras release is known to keep them.
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
    if not constructor_options(cls) <= (
        TORCH_PIPELINE_OPTIONS | TORCH_RULE_OPTIONS[name]
    ):
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


def schedule_free_sequence(optimizer, variable):
    """`ScheduleFreeAdamW`'s `z` sequence (its `momentum` slot) for
    `variable`, or None for a variable it was not built with."""
    key = optimizer._var_key(variable)
    if key not in optimizer._trainable_variables_indices:
        return None
    return optimizer._momentums[optimizer._get_variable_index(variable)]


def nadam_u_product(optimizer):
    """Nadam's running product of momentum schedule values (a Variable)."""
    return optimizer._u_product


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


def tf_distribution_in_use():
    """Whether a tf.distribute strategy (not the default one) is in use."""
    if backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.distribute.has_strategy()


def dense_gradient(gradient):
    """`gradient` as a dense tensor (TensorFlow's `IndexedSlices` of an
    embedding's gradient too)."""
    if backend.backend() == "tensorflow":
        import tensorflow as tf

        if isinstance(gradient, tf.IndexedSlices):
            return tf.convert_to_tensor(gradient)
    return gradient


def sum_over_replicas(tensors):
    """`tensors` (None entries kept) summed over the replicas of a
    tf.distribute strategy with several, in replica context, as Keras sums
    the gradients before an update; as they are elsewhere."""
    if backend.backend() != "tensorflow":
        return tensors
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync < 2:
        return tensors
    present = [t for t in tensors if t is not None]
    summed = iter(context.all_reduce("sum", present) if present else [])
    return [None if t is None else next(summed) for t in tensors]


def adopt_built_state(wrapper, optimizer, variables, frozen, stand_ins):
    """Makes `wrapper`'s step pipeline run on what `optimizer.build` made.

    `optimizer` was just built with the variables of `variables` that are not
    `frozen`. This records what `BaseOptimizer.build` records about all of
    `variables` on `wrapper`, and points the pipeline's EMA and
    gradient-accumulation lists at `optimizer`'s variables (a frozen
    variable: its EMA stand-in from `stand_ins`, by id, and no accumulator).
    Calling `BaseOptimizer.build` on the wrapper instead would make a second
    copy of both.
    """
    indices = {wrapper._var_key(v): i for i, v in enumerate(variables)}
    object.__setattr__(wrapper, "_trainable_variables_indices", indices)
    object.__setattr__(wrapper, "_trainable_variables", list(variables))

    def aligned(own):
        own = iter(own)
        return [
            stand_ins.get(id(v)) if f else next(own)
            for v, f in zip(variables, frozen)
        ]

    if wrapper.use_ema:
        object.__setattr__(
            wrapper,
            "_model_variables_moving_average",
            aligned(optimizer._model_variables_moving_average),
        )
    if wrapper.gradient_accumulation_steps:
        object.__setattr__(
            wrapper,
            "_accumulated_gradients",
            aligned(optimizer._accumulated_gradients),
        )
    wrapper.built = True


def set_requires_grad(variable, on):
    """torch: whether autograd computes `variable`'s gradient (Keras keeps
    its torch parameter's `requires_grad` equal to `trainable`)."""
    value = variable.value
    if value.requires_grad != on:
        value.requires_grad_(on)


def check_variables_are_known(optimizer, variables):
    """Raises Keras's error for a variable `optimizer` was not built with."""
    optimizer._check_variables_are_known(variables)


def built_variables(optimizer):
    """The variables `optimizer` was built with, in order."""
    return list(optimizer._trainable_variables)


def own_variables(optimizer):
    """The variables `optimizer` made itself (not a wrapped optimizer's)."""
    return list(optimizer._variables)


def _internal(name, *homes):
    """The Keras internal `name`, from the first module of `homes` (where
    a newer Keras keeps it first) that has it; a clear error if none has."""
    import importlib

    for home in homes:
        try:
            found = getattr(importlib.import_module(home), name, None)
        except ImportError:
            found = None
        if found is not None:
            return found
    raise ImportError(
        f"keras-lrx needs Keras's internal `{name}`, which Keras "
        f"{keras.__version__} has in none of {', '.join(homes)}. This Keras "
        "is newer than keras-lrx knows; please report it, with this message."
    )


def stateless_scope():
    """The active `keras.StatelessScope`, or `None`."""
    get = _internal(
        "get_stateless_scope",
        "keras.src.backend.common.stateless_scope",
        "keras.src.backend",
    )
    return get()


def no_autocast_scope():
    """A scope in which float variables read as their own dtype."""
    scope = _internal(
        "AutocastScope",
        "keras.src.backend.common.variables",
        "keras.src.backend",
    )
    return scope(None)


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
    functional = _internal(
        "Functional", "keras.src.models.functional", "keras.src.models"
    )
    return isinstance(model, functional)


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


def known_count(counter):
    """The int value of a step counter (a Variable) where it is known now,
    or None inside a traced step (a TensorFlow graph, a JAX trace)."""
    value = counter.value
    name = backend.backend()
    if name == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly():
            return None
    elif name == "jax":
        import jax

        if isinstance(value, jax.core.Tracer):
            return None
    return int(ops.convert_to_numpy(value))


def learning_rate_at_last_step(optimizer, as_float=True):
    """The base learning rate of the optimizer's last step.

    Evaluates `optimizer.learning_rate` with the step counter set back by one:
    after `apply`, the counter already names the next step. Works for an LRX
    (schedule x scale) and any Keras optimizer (float or schedule), eagerly
    and inside a compiled TF or torch step. Before any step -- a counter
    known to be 0, as when Keras builds the compiled metrics before `fit`'s
    callbacks start -- no step has used a rate: 0.0, and the schedule is not
    evaluated (it may not be complete yet, e.g. `total_steps="auto"`).
    """
    optimizer = unwrap_loss_scale(optimizer)
    iterations = optimizer._iterations
    if known_count(iterations) == 0:
        rate = ops.zeros((), "float32")
    else:
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
