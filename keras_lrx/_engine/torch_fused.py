"""One update pass for every multiplier group, on the torch backend.

Each call of a Keras optimizer's update costs the torch backend some 0.1-0.2
ms of Python, casts and kernel dispatch, whatever the number of variables it
updates. Calling the wrapped optimizer once per multiplier group (12-48 groups
under layer-wise decay) therefore makes LRX's step grow with the number of
groups (PyTorch's own param groups cost some 0.04 ms each on this CPU).

For the optimizers Keras ships for torch (`keras.optimizers.SGD`, `Adam`,
`AdamW`, `Adamax`, `Adagrad`, `Lion`, `Nadam`, `RMSprop`, `Adadelta`, which
its torch backend runs as `foreach` updates over all variables at once), the
learning rate enters the update as one scalar factor of a tensor list. The
rules below are those updates with that factor made per variable (`rate * m`,
see `Multipliers`), so every group updates in one pass and each variable still
follows its optimizer's rule at `rate * m`. On the CPU the pass runs in
cache-sized chunks of variables (`_chunks`). The slots, the step count and
Nadam's `u_product` advance exactly as Keras advances them, once per step.
The decoupled weight decay `v <- v * (1 - weight_decay * rate * m)` is one pass
likewise.

Any other optimizer (a subclass, a user's own, Lamb, Ftrl, ...), and a stock
one whose constructor takes an option outside
`_keras_compat.TORCH_RULE_OPTIONS`, is not run here: Keras calls its own
`update_step` per variable (`keras_lrx._engine.update`). The test suite
checks every rule against a separate Keras optimizer at `lr * m`.
"""

import torch
from keras import ops

from keras_lrx import _keras_compat as compat


class Multipliers:
    """The multiplier of each variable in a list, as the rules apply them.

    On the CPU a `foreach` op is a loop over the tensors in C++, and every
    pass over the weights costs memory bandwidth: `rate * m` is made as one
    small vector (one op), split into 0-d tensors, and multiplies each
    tensor in the same pass that Keras's rule multiplies by the rate. On an
    accelerator, where a `foreach` op over same-typed tensors is one kernel
    launch only with a scalar or a list of Python scalars, the tensors are
    multiplied by the rate and then by the multipliers (constants fixed at
    build), two launches whatever the number of tensors.
    """

    def __init__(self, multipliers, device, per_tensor=None):
        self.floats = [float(m) for m in multipliers]
        if per_tensor is None:
            per_tensor = device.type == "cpu"
        self.per_tensor = per_tensor
        if per_tensor:
            self.vector = torch.tensor(self.floats, device=device)

    def scale(self, tensors, rate):
        """`[t * rate * m]` for each tensor `t` and its multiplier `m`."""
        if self.per_tensor:
            return torch._foreach_mul(tensors, torch.unbind(rate * self.vector))
        out = torch._foreach_mul(tensors, rate)
        torch._foreach_mul_(out, self.floats)
        return out

    def decay_(self, values, rate, weight_decay):
        """`v <- v - v * weight_decay * rate * m`, in place."""
        if self.per_tensor:
            factors = 1 - weight_decay * rate * self.vector
            torch._foreach_mul_(values, torch.unbind(factors))
            return
        torch._foreach_sub_(values, self.scale(values, rate * weight_decay))


def _ema_(averages, values, decay):
    """`a <- decay * a + (1 - decay) * x`, in place, over two lists."""
    torch._foreach_mul_(averages, decay)
    torch._foreach_add_(averages, values, alpha=1 - decay)


def _sgd(optimizer, step, grads, variables, values, rate, multipliers):
    steps = multipliers.scale(grads, rate)
    if optimizer.momentum == 0:
        torch._foreach_sub_(values, steps)
        return
    buffers = compat.slot_tensors(optimizer, "momentum", variables)
    torch._foreach_mul_(buffers, optimizer.momentum)
    torch._foreach_sub_(buffers, steps)
    if optimizer.nesterov:
        torch._foreach_sub_(values, steps)
        torch._foreach_add_(values, buffers, alpha=optimizer.momentum)
    else:
        torch._foreach_add_(values, buffers)


def _once(step, key, compute):
    """`compute()`, once per step: the rules run once per chunk of variables
    (see `_chunks`) and share the step's scalars through the dict `step`."""
    if key not in step:
        step[key] = compute()
    return step[key]


def _powers(optimizer, dtype, *bases):
    """`base ** t` at this step `t` (counted from 1), for each base."""
    t = ops.cast(optimizer.iterations + 1, dtype)
    return [ops.power(ops.cast(b, dtype), t) for b in bases]


def _adam_alpha(optimizer, rate):
    beta_1_power, beta_2_power = _powers(
        optimizer, rate.dtype, optimizer.beta_1, optimizer.beta_2
    )
    return rate * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)


def _adam(optimizer, step, grads, variables, values, rate, multipliers):
    alpha = _once(step, "alpha", lambda: _adam_alpha(optimizer, rate))
    m = compat.slot_tensors(optimizer, "m", variables)
    v = compat.slot_tensors(optimizer, "v", variables)
    _ema_(m, grads, optimizer.beta_1)
    _ema_(v, torch._foreach_mul(grads, grads), optimizer.beta_2)
    if optimizer.amsgrad:
        v_hat = compat.slot_tensors(optimizer, "v_hat", variables)
        torch._foreach_maximum_(v_hat, v)
        v = v_hat
    denominators = torch._foreach_add(torch._foreach_sqrt(v), optimizer.epsilon)
    torch._foreach_sub_(
        values, torch._foreach_div(multipliers.scale(m, alpha), denominators)
    )


def _adamax(optimizer, step, grads, variables, values, rate, multipliers):
    (beta_1_power,) = _once(
        step, "powers", lambda: _powers(optimizer, rate.dtype, optimizer.beta_1)
    )
    m = compat.slot_tensors(optimizer, "m", variables)
    u = compat.slot_tensors(optimizer, "u", variables)
    _ema_(m, grads, optimizer.beta_1)
    torch._foreach_mul_(u, optimizer.beta_2)
    torch._foreach_maximum_(u, torch._foreach_abs(grads))
    denominators = torch._foreach_mul(
        torch._foreach_add(u, optimizer.epsilon), 1 - beta_1_power
    )
    torch._foreach_sub_(
        values, torch._foreach_div(multipliers.scale(m, rate), denominators)
    )


def _adagrad(optimizer, step, grads, variables, values, rate, multipliers):
    accumulators = compat.slot_tensors(optimizer, "accumulator", variables)
    torch._foreach_add_(accumulators, torch._foreach_mul(grads, grads))
    denominators = torch._foreach_sqrt(
        torch._foreach_add(accumulators, optimizer.epsilon)
    )
    torch._foreach_sub_(
        values,
        torch._foreach_div(multipliers.scale(grads, rate), denominators),
    )


def _lion(optimizer, step, grads, variables, values, rate, multipliers):
    m = compat.slot_tensors(optimizer, "m", variables)
    directions = torch._foreach_mul(m, optimizer.beta_1)
    torch._foreach_add_(directions, grads, alpha=1 - optimizer.beta_1)
    torch._foreach_sign_(directions)
    torch._foreach_sub_(values, multipliers.scale(directions, rate))
    _ema_(m, grads, optimizer.beta_2)


def _nadam(optimizer, step, grads, variables, values, rate, multipliers):
    u_t, u_t_1, u_product_t, u_product_t_1, beta_2_power = _once(
        step, "nadam", lambda: _nadam_step(optimizer, rate.dtype)
    )
    m = compat.slot_tensors(optimizer, "m", variables)
    v = compat.slot_tensors(optimizer, "v", variables)
    _ema_(m, grads, optimizer.beta_1)
    _ema_(v, torch._foreach_mul(grads, grads), optimizer.beta_2)
    m_hat = torch._foreach_add(
        torch._foreach_div(torch._foreach_mul(m, u_t_1), 1 - u_product_t_1),
        torch._foreach_div(torch._foreach_mul(grads, 1 - u_t), 1 - u_product_t),
    )
    v_hat = torch._foreach_div(v, 1 - beta_2_power)
    denominators = torch._foreach_add(
        torch._foreach_sqrt(v_hat), optimizer.epsilon
    )
    torch._foreach_sub_(
        values,
        torch._foreach_div(multipliers.scale(m_hat, rate), denominators),
    )


def _nadam_step(optimizer, dtype):
    """Nadam's momentum schedule at this step; advances its `u_product`."""
    beta_1 = ops.cast(optimizer.beta_1, dtype)
    decay = ops.cast(0.96, dtype)
    t = ops.cast(optimizer.iterations + 1, dtype)
    u_t = beta_1 * (1.0 - 0.5 * ops.power(decay, t))
    u_t_1 = beta_1 * (1.0 - 0.5 * ops.power(decay, t + 1))
    u_product = compat.nadam_u_product(optimizer)
    u_product_t = ops.cast(u_product.value, dtype) * u_t
    (beta_2_power,) = _powers(optimizer, dtype, optimizer.beta_2)
    u_product.assign(u_product_t)  # once per step, for every group
    return u_t, u_t_1, u_product_t, u_product_t * u_t_1, beta_2_power


def _rmsprop(optimizer, step, grads, variables, values, rate, multipliers):
    rho = optimizer.rho
    velocities = compat.slot_tensors(optimizer, "velocity", variables)
    _ema_(velocities, torch._foreach_mul(grads, grads), rho)
    denominators = torch._foreach_add(velocities, optimizer.epsilon)
    if optimizer.centered:
        averages = compat.slot_tensors(optimizer, "average_gradient", variables)
        _ema_(averages, grads, rho)
        torch._foreach_sub_(
            denominators, torch._foreach_mul(averages, averages)
        )
    torch._foreach_sqrt_(denominators)
    increments = torch._foreach_div(
        multipliers.scale(grads, rate), denominators
    )
    if optimizer.momentum > 0:
        momentums = compat.slot_tensors(optimizer, "momentum", variables)
        torch._foreach_mul_(momentums, optimizer.momentum)
        torch._foreach_add_(momentums, increments)
        increments = momentums
    torch._foreach_sub_(values, increments)


def _adadelta(optimizer, step, grads, variables, values, rate, multipliers):
    rho, epsilon = optimizer.rho, optimizer.epsilon
    grad_averages = compat.slot_tensors(
        optimizer, "accumulated_grad", variables
    )
    delta_averages = compat.slot_tensors(
        optimizer, "accumulated_delta", variables
    )
    _ema_(grad_averages, torch._foreach_mul(grads, grads), rho)

    def rms(x):
        return torch._foreach_sqrt(torch._foreach_add(x, epsilon))

    deltas = torch._foreach_div(
        torch._foreach_mul(rms(delta_averages), grads), rms(grad_averages)
    )
    torch._foreach_neg_(deltas)
    _ema_(delta_averages, torch._foreach_mul(deltas, deltas), rho)
    torch._foreach_add_(values, multipliers.scale(deltas, rate))


_RULES = {
    "SGD": _sgd,
    "Adam": _adam,
    "AdamW": _adam,
    "Adamax": _adamax,
    "Adagrad": _adagrad,
    "Lion": _lion,
    "Nadam": _nadam,
    "RMSprop": _rmsprop,
    "Adadelta": _adadelta,
}


def update_rule(optimizer):
    """`update(grads, variables, rate, multipliers)` for `optimizer`, or None.

    None unless `optimizer` is one of Keras's stock torch optimizers. The
    update applies `optimizer`'s rule to every variable at `rate * m` (`rate`
    the base learning rate, `multipliers` one float per variable) in one
    pass.
    """
    rule = _RULES.get(compat.stock_torch_optimizer(optimizer))
    if rule is None:
        return None
    chunked = _chunks_cache()

    def update(grads, variables, rate, multipliers):
        if not variables:  # every group frozen this step
            if rule is _nadam:  # its momentum schedule still advances
                with torch.no_grad():
                    _nadam_step(optimizer, rate.dtype)
            return
        values = [v.value for v in variables]
        rate = ops.cast(rate, values[0].dtype)
        step = {}
        with torch.no_grad():
            for part, scale in chunked(multipliers, values):
                rule(
                    optimizer,
                    step,
                    grads[part],
                    variables[part],
                    values[part],
                    rate,
                    scale,
                )

    return update


#: Elements per chunk of the one-pass update on the CPU (see `_chunks`).
CPU_CHUNK_ELEMENTS = 1 << 17


def _chunks(values, limit):
    """Consecutive slices of `values` of about `limit` elements each.

    On the CPU each `foreach` op streams its whole list through the caches;
    Keras's rules make ~10 such passes, so a list far larger than the cache
    is read from memory ~10 times. Running the rule chunk by chunk keeps
    each chunk's weights, slots and temporaries in cache across the passes.
    A tensor larger than `limit` is a chunk of its own.
    """
    parts, start, size = [], 0, 0
    for i, value in enumerate(values):
        size += value.numel()
        if size >= limit:
            parts.append(slice(start, i + 1))
            start, size = i + 1, 0
    if start < len(values):
        parts.append(slice(start, len(values)))
    return parts


def _chunks_cache():
    """`[(slice, Multipliers)]` of each list of floats (the caller keeps it).

    One chunk off the CPU, where a `foreach` op is one kernel launch.
    """
    made = {}

    def chunked(floats, values):
        device = values[0].device
        key = (id(floats), device)
        if key not in made:
            if len(made) >= 16:  # multipliers that change every step
                made.clear()
            cpu = device.type == "cpu"
            parts = (
                _chunks(values, CPU_CHUNK_ELEMENTS)
                if cpu
                else [slice(0, len(values))]
            )
            made[key] = (
                floats,
                [(p, Multipliers(floats[p], device)) for p in parts],
            )
        return made[key][1]

    return chunked


def weight_decay_rule(optimizer):
    """`decay(variables, rate, multipliers)` for `optimizer`, or None.

    None unless `optimizer` is a stock torch optimizer that decays with
    Keras's own rule. `decay` applies `v <- v - v * weight_decay * rate * m`
    to every variable in one pass; the caller leaves out the variables the
    optimizer excludes from decay.
    """
    if compat.stock_torch_optimizer(
        optimizer
    ) is None or compat.overrides_weight_decay(optimizer):
        return None
    made = {}

    def decay(variables, rate, multipliers):
        values = [v.value for v in variables]
        rate = ops.cast(rate, values[0].dtype)
        key = (id(multipliers), values[0].device)
        if key not in made:
            if len(made) >= 16:
                made.clear()
            made[key] = (multipliers, Multipliers(multipliers, key[1]))
        with torch.no_grad():
            made[key][1].decay_(values, rate, optimizer.weight_decay)

    return decay
