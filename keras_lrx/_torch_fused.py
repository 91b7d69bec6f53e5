"""One update pass for every multiplier group, on the torch backend.

Each call of a Keras optimizer's update costs the torch backend some 0.1-0.2
ms of Python, casts and kernel dispatch, whatever the number of variables it
updates. Calling the wrapped optimizer once per multiplier group (12-48 groups
under layer-wise decay) therefore makes LRX's step grow with the number of
groups, where PyTorch's own param groups cost a few microseconds each.

For the optimizers Keras ships for torch (`keras.optimizers.SGD`, `Adam`,
`AdamW`, `Adamax`, `Adagrad`, `Lion`, `Nadam`, `RMSprop`, `Adadelta`, which
its torch backend runs as `foreach` updates over all variables at once), the
learning rate enters the update as one scalar factor of a tensor list. The
rules below are those updates with that factor made per variable: the list is
multiplied by the rate (one 0-d tensor), then by the list of the variables'
multipliers (constants fixed at build), so every group updates in one pass and
each variable still follows its optimizer's rule at `rate * m`. The slots,
the step count and Nadam's `u_product` advance exactly as Keras advances them.
The decoupled weight decay `v <- v * (1 - weight_decay * rate * m)` is one pass
likewise.

Any other optimizer (a subclass, a user's own, Lamb, Ftrl, ...) is not run
here: LRX calls its own update once per group. The test suite checks every
rule against a separate Keras optimizer at `lr * m`.
"""

import torch
from keras import ops

from keras_lrx import _keras_compat as compat


def _scaled(tensors, rate, multipliers):
    """`[t * rate * m]` for each tensor `t` and its variable's multiplier."""
    out = torch._foreach_mul(tensors, rate)
    torch._foreach_mul_(out, multipliers)
    return out


def _ema_(averages, values, decay):
    """`a <- decay * a + (1 - decay) * x`, in place, over two lists."""
    torch._foreach_mul_(averages, decay)
    torch._foreach_add_(averages, values, alpha=1 - decay)


def _sgd(optimizer, grads, variables, values, rate, multipliers):
    steps = _scaled(grads, rate, multipliers)
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


def _powers(optimizer, dtype, *bases):
    """`base ** t` at this step `t` (counted from 1), for each base."""
    step = ops.cast(optimizer.iterations + 1, dtype)
    return [ops.power(ops.cast(b, dtype), step) for b in bases]


def _adam(optimizer, grads, variables, values, rate, multipliers):
    beta_1_power, beta_2_power = _powers(
        optimizer, rate.dtype, optimizer.beta_1, optimizer.beta_2
    )
    alpha = rate * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)
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
        values, torch._foreach_div(_scaled(m, alpha, multipliers), denominators)
    )


def _adamax(optimizer, grads, variables, values, rate, multipliers):
    (beta_1_power,) = _powers(optimizer, rate.dtype, optimizer.beta_1)
    m = compat.slot_tensors(optimizer, "m", variables)
    u = compat.slot_tensors(optimizer, "u", variables)
    _ema_(m, grads, optimizer.beta_1)
    torch._foreach_mul_(u, optimizer.beta_2)
    torch._foreach_maximum_(u, torch._foreach_abs(grads))
    denominators = torch._foreach_mul(
        torch._foreach_add(u, optimizer.epsilon), 1 - beta_1_power
    )
    torch._foreach_sub_(
        values, torch._foreach_div(_scaled(m, rate, multipliers), denominators)
    )


def _adagrad(optimizer, grads, variables, values, rate, multipliers):
    accumulators = compat.slot_tensors(optimizer, "accumulator", variables)
    torch._foreach_add_(accumulators, torch._foreach_mul(grads, grads))
    denominators = torch._foreach_sqrt(
        torch._foreach_add(accumulators, optimizer.epsilon)
    )
    torch._foreach_sub_(
        values,
        torch._foreach_div(_scaled(grads, rate, multipliers), denominators),
    )


def _lion(optimizer, grads, variables, values, rate, multipliers):
    m = compat.slot_tensors(optimizer, "m", variables)
    directions = torch._foreach_mul(m, optimizer.beta_1)
    torch._foreach_add_(directions, grads, alpha=1 - optimizer.beta_1)
    torch._foreach_sign_(directions)
    torch._foreach_sub_(values, _scaled(directions, rate, multipliers))
    _ema_(m, grads, optimizer.beta_2)


def _nadam(optimizer, grads, variables, values, rate, multipliers):
    dtype = rate.dtype
    beta_1 = ops.cast(optimizer.beta_1, dtype)
    decay = ops.cast(0.96, dtype)
    step = ops.cast(optimizer.iterations + 1, dtype)
    u_t = beta_1 * (1.0 - 0.5 * ops.power(decay, step))
    u_t_1 = beta_1 * (1.0 - 0.5 * ops.power(decay, step + 1))
    u_product = compat.nadam_u_product(optimizer)
    u_product_t = ops.cast(u_product.value, dtype) * u_t
    u_product_t_1 = u_product_t * u_t_1
    (beta_2_power,) = _powers(optimizer, dtype, optimizer.beta_2)
    u_product.assign(u_product_t)  # once per step, for every group

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
        torch._foreach_div(_scaled(m_hat, rate, multipliers), denominators),
    )


def _rmsprop(optimizer, grads, variables, values, rate, multipliers):
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
        _scaled(grads, rate, multipliers), denominators
    )
    if optimizer.momentum > 0:
        momentums = compat.slot_tensors(optimizer, "momentum", variables)
        torch._foreach_mul_(momentums, optimizer.momentum)
        torch._foreach_add_(momentums, increments)
        increments = momentums
    torch._foreach_sub_(values, increments)


def _adadelta(optimizer, grads, variables, values, rate, multipliers):
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
    torch._foreach_add_(values, _scaled(deltas, rate, multipliers))


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
    pass. The variables must share one dtype.
    """
    rule = _RULES.get(compat.stock_torch_optimizer(optimizer))
    if rule is None:
        return None

    def update(grads, variables, rate, multipliers):
        values = [v.value for v in variables]
        rate = ops.cast(rate, values[0].dtype)
        with torch.no_grad():
            rule(optimizer, grads, variables, values, rate, multipliers)

    return update


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

    def decay(variables, rate, multipliers):
        values = [v.value for v in variables]
        rate = ops.cast(rate, values[0].dtype)
        with torch.no_grad():
            torch._foreach_sub_(
                values,
                _scaled(values, rate * optimizer.weight_decay, multipliers),
            )

    return decay
