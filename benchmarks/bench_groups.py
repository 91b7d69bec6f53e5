"""Train-step time vs the number of multiplier groups (layer-wise decay).

Run for one backend:  KERAS_BACKEND=torch python benchmarks/bench_groups.py
(`--rounds N` sets the interleaved rounds, 9 by default; `--apply-only`
times `optimizer.apply` on fixed gradients instead of a whole train step,
which leaves the forward and backward pass and their noise out -- compiled
as the train step compiles it: a jitted `stateless_apply` on JAX, a
`tf.function` on TensorFlow, eager on torch).

A 48-layer MLP (128 wide, 98 trainable variables, batch 64) trained with
AdamW. Layer i of 48 belongs to group `i * G // 48` and trains at
multiplier `0.97 ** (group + 1)`, so G = 1 is one multiplier for the whole
network (not 1.0, which would skip the multiply) and "per variable" gives
each of the 98 variables its own. Variants, all stepped with
`train_on_batch` on the same data, measured side by side in one process in
interleaved blocks:

- the bare `AdamW` (the reference of every ratio);
- `LRX(AdamW, multipliers=...)` with G groups;
- `LRX(AdamW, multipliers=...)` with the same G groups whose multipliers
  change every step (`Thaw(m, 0, warmup_steps=10**6)`: every group warming
  up, none skipped -- the most work per-step multipliers can cost; one
  `Thaw` object per layer, as `gradual_unfreezing` makes);
- `keras.optimizers.MultiOptimizer` with one `AdamW(lr * m)` per group;
- on the torch backend only: native PyTorch, the same network as
  `torch.nn.Sequential` stepped by `torch.optim.AdamW(foreach=True)` with G
  param groups; its ratio is against its own one-group step.

Both the ratio of the fastest rounds and the ratio of the medians are
printed: the machine is shared, the fastest round is the least disturbed.
"""

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _timing import interleaved_samples  # noqa: E402
from _timing import machine  # noqa: E402
from _timing import print_table  # noqa: E402
from _timing import torch_device  # noqa: E402

from keras_lrx import LRX  # noqa: E402
from keras_lrx.schedules import Thaw  # noqa: E402

DEPTH, WIDTH, BATCH, CLASSES = 48, 128, 64, 10
GROUPS = (1, 4, 12, 24, 48, "per variable")
LR = 1e-3


def mlp():
    layers = [keras.Input((WIDTH,))]
    layers += [
        keras.layers.Dense(WIDTH, activation="relu", name=f"layer_{i}")
        for i in range(DEPTH)
    ]
    layers.append(keras.layers.Dense(CLASSES, name="head"))
    return keras.Sequential(layers)


def multiplier_of(groups):
    """A function of a variable's path to its multiplier, for G groups."""

    def layer_index(path):
        for segment in path.split("/"):
            if segment.startswith("layer_"):
                return int(segment[len("layer_") :])
        return DEPTH - 1  # the head joins the last group

    if groups == "per variable":
        paths = []

        def per_variable(path):
            if path not in paths:
                paths.append(path)
            return 0.995 ** (paths.index(path) + 1)

        return per_variable
    return lambda path: 0.97 ** (layer_index(path) * groups // DEPTH + 1)


def multipliers_for(model, groups):
    of = multiplier_of(groups)
    return {v.path: of(v.path) for v in model.trainable_variables}


def warming_multipliers_for(model, groups):
    """The same groups, each layer's multiplier warming up at every step."""
    constant = multipliers_for(model, groups)
    thaws = {}
    for layer in model.layers:
        m = constant[layer.trainable_variables[0].path]
        thaws[layer.name] = Thaw(m, start_step=0, warmup_steps=10**6)
    if groups == "per variable":
        return {
            path: Thaw(m, start_step=0, warmup_steps=10**6)
            for path, m in constant.items()
        }
    return thaws


def keras_step(make_optimizer, data, apply_only=False):
    keras.utils.set_random_seed(0)
    model = mlp()
    optimizer = make_optimizer(model)
    if apply_only:
        model.build((None, WIDTH))
        variables = model.trainable_variables
        grads = [keras.ops.full(v.shape, 1e-3, v.dtype) for v in variables]
        return compiled_apply(optimizer, grads, variables)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x, y = data
    return lambda: model.train_on_batch(x, y)


def compiled_apply(optimizer, grads, variables):
    """One `optimizer.apply` as the backend's train step runs it: a jitted
    `stateless_apply` on JAX (buffers donated), a `tf.function` on
    TensorFlow, eager on torch."""
    optimizer.build(variables)
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        update = jax.jit(optimizer.stateless_apply, donate_argnums=(0, 2))
        state = [[v.value for v in optimizer.variables]]
        values = [[v.value for v in variables]]

        def step():
            values[0], state[0] = update(state[0], grads, values[0])
            jax.block_until_ready(values[0])

        return step
    if backend == "tensorflow":
        import tensorflow as tf

        update = tf.function(lambda: optimizer.apply(grads, variables))
        return lambda: update() or variables[0].numpy()
    return lambda: optimizer.apply(grads, variables)


def multi_optimizer(model, groups):
    multipliers = multipliers_for(model, groups)
    optimizers = {
        m: keras.optimizers.AdamW(LR * m) for m in multipliers.values()
    }

    def select(variable):
        return optimizers[multipliers[variable.path]]

    return keras.optimizers.MultiOptimizer(select)


def torch_step(groups, data, apply_only=False):
    import torch

    torch.manual_seed(0)
    modules = []
    for _ in range(DEPTH):
        modules += [torch.nn.Linear(WIDTH, WIDTH), torch.nn.ReLU()]
    modules.append(torch.nn.Linear(WIDTH, CLASSES))
    device = torch_device()
    net = torch.nn.Sequential(*modules).to(device)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    of = multiplier_of(groups)
    param_groups = {}
    for i, linear in enumerate(linears):
        for kind, p in (("kernel", linear.weight), ("bias", linear.bias)):
            path = f"layer_{min(i, DEPTH - 1)}/{kind}-{i}"
            m = of(path)
            param_groups.setdefault(m, []).append(p)
    optimizer = torch.optim.AdamW(
        [{"params": ps, "lr": LR * m} for m, ps in param_groups.items()],
        lr=LR,
        weight_decay=0.004,
        foreach=True,
    )
    x = torch.from_numpy(data[0]).to(device)
    y = torch.from_numpy(data[1]).long().to(device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        optimizer.step()

    if apply_only:
        for p in net.parameters():
            p.grad = torch.full_like(p, 1e-3)
        step = optimizer.step

    return step, len(param_groups)


def ratios(samples, name, reference):
    fastest = min(samples[name]) / min(samples[reference])
    median = statistics.median(samples[name]) / statistics.median(
        samples[reference]
    )
    extra = statistics.median(samples[name]) - statistics.median(
        samples[reference]
    )
    return f"{fastest:.3f}", f"{median:.3f}", f"{extra * 1e3:+.2f}"


def count_groups(groups):
    model = mlp()
    return len(set(multipliers_for(model, groups).values()))


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--apply-only", action="store_true")
    args = parser.parse_args(argv)
    backend = keras.backend.backend()
    rng = np.random.default_rng(0)
    data = (
        rng.normal(size=(BATCH, WIDTH)).astype("float32"),
        rng.integers(0, CLASSES, size=(BATCH,)),
    )
    only = args.apply_only
    steps = {
        "bare": keras_step(lambda m: keras.optimizers.AdamW(LR), data, only)
    }
    for g in GROUPS:
        steps[f"LRX {g}"] = keras_step(
            lambda m, g=g: LRX(
                keras.optimizers.AdamW(LR), multipliers=multipliers_for(m, g)
            ),
            data,
            only,
        )
        steps[f"LRX(t) {g}"] = keras_step(
            lambda m, g=g: LRX(
                keras.optimizers.AdamW(LR),
                multipliers=warming_multipliers_for(m, g),
            ),
            data,
            only,
        )
        steps[f"Multi {g}"] = keras_step(
            lambda m, g=g: multi_optimizer(m, g), data, only
        )
        if backend == "torch":
            steps[f"torch {g}"] = torch_step(g, data, only)[0]
    samples = interleaved_samples(steps, args.rounds)
    rows = []
    for g in GROUPS:
        row = [
            str(count_groups(g))
            + (" (per variable)" if g == GROUPS[-1] else "")
        ]
        row += ratios(samples, f"LRX {g}", "bare")
        row += ratios(samples, f"LRX(t) {g}", "bare")
        row += ratios(samples, f"Multi {g}", "bare")[:2]
        if backend == "torch":
            row += ratios(samples, f"torch {g}", "torch 1")
        rows.append(row)
    header = [
        "groups",
        "LRX/bare fastest",
        "LRX/bare median",
        "LRX extra ms",
        "LRX(t)/bare fastest",
        "LRX(t)/bare median",
        "LRX(t) extra ms",
        "Multi/bare fastest",
        "Multi/bare median",
    ]
    if backend == "torch":
        header += [
            "torch G/1 fastest",
            "torch G/1 median",
            "torch extra ms",
        ]
    bare = statistics.median(samples["bare"]) * 1e3
    what = "optimizer.apply time" if only else "Train-step time"
    print_table(
        f"{what} vs multiplier groups, {DEPTH}x{WIDTH} MLP (98 variables),"
        f" batch {BATCH}, AdamW, backend={backend}, keras {keras.__version__},"
        f" {machine()}; bare AdamW {bare:.2f} ms (median);"
        f" {args.rounds} rounds",
        header,
        rows,
    )


if __name__ == "__main__":
    main()
