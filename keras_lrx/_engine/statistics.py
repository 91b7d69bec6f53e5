"""Per-group statistics of a step: update size, gradient and weight norms.

Asked for by `keras_lrx.GroupStatistics` (a compiled metric), which names
the groups (its labels) and the stride before the optimizer is built. At
build, `Statistics` makes one optimizer variable, `group_statistics`, of
shape `(groups, 3)`: for each group the last recorded

    update_ratio = ||w_after - w_before|| / ||w_before||
    grad_norm    = ||g||
    weight_norm  = ||w_before||

over the group's variables (norms of all their entries together), where
`g` is the gradient handed to the optimizer (after loss-scale unscaling,
before clipping; under a tf.distribute strategy, summed over the replicas
as the update sums it: one more all-reduce per step there) and `w_before`,
`w_after` the weights around the whole step (decay, update, nothing
else). A variable that did not change (frozen, or frozen for now) adds 0 to
the update; one without a gradient, 0 to the gradient norm.

A step records when it applies an update (with `gradient_accumulation_steps`
only every k-th batch does) and its update count is a multiple of the
stride; other steps compute nothing. The variable is one of the optimizer's
(after the wrapped optimizer's, so the checkpoint layout of an optimizer
without statistics is unchanged), so compiled steps, JAX's stateless step,
checkpoints and distribution carry it. No request, no variable and nothing
traced.
"""

from __future__ import annotations

import numpy as np
from keras import backend
from keras import ops

from keras_lrx import _keras_compat as compat

#: The statistics of a group, in the variable's column order.
NAMES = ("update_ratio", "grad_norm", "weight_norm")
#: The group of variables no key of a multiplier dict selects.
OTHER = "other"


class Statistics:
    """What `GroupStatistics` asked an LRX for, and its variable once built.

    Args:
        labels: The group labels, in the metric's order (`OTHER` last).
        every: Int >= 1, the stride in applied updates.
    """

    def __init__(self, labels, every):
        self.labels = tuple(labels)
        self.every = int(every)
        self.variable = None
        self._membership = None  # (variables, groups) one-hot, at build

    def build(self, optimizer, resolutions):
        """Makes the variable (an optimizer variable of `optimizer`, made
        by its `add_variable`) and the variable -> group map from the
        plan's resolutions."""
        index = {label: g for g, label in enumerate(self.labels)}
        fallback = index.get(OTHER, len(self.labels) - 1)
        groups = [index.get(r.label, fallback) for r in resolutions]
        membership = np.zeros((len(groups), len(self.labels)), "float32")
        membership[np.arange(len(groups)), groups] = 1.0
        self._membership = membership
        self.variable = optimizer.add_variable(
            shape=(len(self.labels), len(NAMES)),
            initializer="zeros",
            dtype="float32",
            aggregation="only_first_replica",
            name="group_statistics",
        )

    def due(self, optimizer):
        """Whether this step records: it applies an update whose count
        (before it) is a multiple of the stride. A bool on torch, else a
        boolean tensor."""
        raw = compat.raw_iterations(optimizer)
        steps = optimizer.gradient_accumulation_steps
        if backend.backend() == "torch":
            raw = int(raw.value)  # eager: the counter's value now
            if steps:
                applies, count = (raw + 1) % steps == 0, raw // steps
            else:
                applies, count = True, raw
            return applies and count % self.every == 0
        raw = ops.convert_to_tensor(raw)
        if steps:
            applies = ops.equal(ops.mod(raw + 1, steps), 0)
            count = ops.floor_divide(raw, steps)
            return ops.logical_and(applies, ops.equal(count % self.every, 0))
        return ops.equal(raw % self.every, 0)

    def before(self, variables, due):
        """The weights before the step: tensors (a compiled step keeps the
        values it read), on torch copies, made only when `due`."""
        if backend.backend() == "torch":
            if not due:
                return None
            return [v.value.detach().clone() for v in variables]
        values = [ops.convert_to_tensor(v) for v in variables]
        if backend.backend() == "tensorflow":
            # A copy: TensorFlow's conversion may hand back the variable.
            values = [ops.copy(v) for v in values]
        return values

    def record(self, optimizer, due, grads, variables, before):
        """Writes the step's statistics into the variable when `due`."""
        eager = backend.backend() == "torch"
        if not variables or (eager and not due):
            return  # torch: nothing at all between recordings
        positions = [compat.variable_index(optimizer, v) for v in variables]
        membership = self._membership[positions]
        # Under tf.distribute each replica holds its part of the gradient.
        grads = compat.sum_over_replicas([_dense(g) for g in grads])

        def measured():
            sums = []  # per variable: ||dw||^2, ||g||^2, ||w||^2
            for g, v, w in zip(grads, variables, before):
                w = ops.cast(w, "float32")
                delta = ops.cast(ops.convert_to_tensor(v), "float32") - w
                grad = (
                    ops.zeros((), "float32")
                    if g is None
                    else ops.sum(ops.square(ops.cast(g, "float32")))
                )
                update = ops.sum(ops.square(delta))
                sums.append(ops.stack([update, grad, ops.sum(ops.square(w))]))
            per_group = ops.sqrt(
                ops.matmul(
                    ops.transpose(ops.convert_to_tensor(membership)),
                    ops.stack(sums),
                )
            )
            update, grad, weight = ops.unstack(per_group, axis=1)
            ratio = ops.where(
                ops.greater(weight, 0.0),
                update / ops.maximum(weight, 1e-30),
                ops.zeros_like(update),
            )
            return ops.stack([ratio, grad, weight], axis=1)

        if eager:
            self.variable.assign(
                _measured_torch(grads, variables, before, membership)
            )
            return
        # The condition only computes; the write is outside it (under a
        # tf.distribute strategy a write inside a condition would need a
        # cross-replica merge there, which TensorFlow refuses).
        kept = ops.convert_to_tensor(self.variable)
        self.variable.assign(ops.cond(due, measured, lambda: kept))


def request(optimizer, statistics):
    """Has `optimizer` (an LRX, not built yet) record `statistics` (a
    `Statistics`) from its first step on; for `GroupStatistics`."""
    if optimizer._statistics is not None:
        raise ValueError(
            f"The optimizer {optimizer.name!r} already records group "
            "statistics for a `GroupStatistics` metric; compile one per "
            "optimizer."
        )
    if optimizer.built:
        raise ValueError(
            "`GroupStatistics` must be created before the optimizer is "
            f"built ({optimizer.name!r} is): its statistics are optimizer "
            "variables. Create the metric with a new LRX, before "
            "`model.fit` (or `optimizer.build`)."
        )
    compat.set_untracked_attribute(optimizer, "_statistics", statistics)


def _measured_torch(grads, variables, before, membership):
    """torch: `measured()` in a few `foreach` calls (Keras's ops cost some
    30 us of Python each; a small model's step is a few ms)."""
    import torch

    with torch.no_grad():
        after = [v.value.detach().float() for v in variables]
        before = [w.float() for w in before]
        delta = torch._foreach_sub(after, before)
        present = [p for p, g in enumerate(grads) if g is not None]
        grad = torch.zeros(len(variables), device=after[0].device)
        if present:
            norms = torch._foreach_norm([grads[p].float() for p in present])
            grad[present] = torch.stack(norms)
        sums = torch.stack(
            [
                torch.stack(torch._foreach_norm(delta)) ** 2,
                grad**2,
                torch.stack(torch._foreach_norm(before)) ** 2,
            ],
            dim=1,
        )
        groups = torch.as_tensor(membership, device=sums.device).T @ sums
        update, grad, weight = groups.sqrt().unbind(1)
        ratio = torch.where(
            weight > 0,
            update / weight.clamp_min(1e-30),
            torch.zeros_like(update),
        )
        return torch.stack([ratio, grad, weight], dim=1)


def _dense(gradient):
    """A gradient as a dense tensor (TensorFlow's `IndexedSlices` of an
    embedding lookup are summed into place)."""
    if backend.backend() == "tensorflow":
        import tensorflow as tf

        if isinstance(gradient, tf.IndexedSlices):
            return tf.convert_to_tensor(gradient)
    return gradient


def check_every(every):
    """The stride argument: an int >= 1."""
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)):
        raise TypeError(
            "Argument `every` must be an int >= 1 (the statistics are "
            f"recorded every `every` updates). Received: every={every!r} "
            f"(of type {type(every).__name__})"
        )
    if every < 1:
        raise ValueError(
            "Argument `every` must be an int >= 1 (the statistics are "
            f"recorded every `every` updates). Received: every={every!r}"
        )
    return int(every)
