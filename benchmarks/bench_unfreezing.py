"""Train-step time during gradual unfreezing, with `SkipFrozenGradients`.

Run for one backend:  KERAS_BACKEND=torch python benchmarks/bench_unfreezing.py
(`--rounds N` sets the interleaved rounds, 9 by default).

A 12-block MLP (256 wide, batch 128, AdamW) under
`gradual_unfreezing(model, every_steps=N)`. At each stage -- the head
alone, half of the blocks, all blocks, everything -- the train step
(`train_on_batch`) is timed side by side, in interleaved blocks, for:

- the bare `AdamW` training every layer (the reference of every ratio: what
  a step costs without freezing anything);
- `LRX(AdamW, multipliers=gradual_unfreezing(...))`: frozen groups skip
  their update and optimizer slots, but their gradients are computed;
- the same with `keras_lrx.callbacks.SkipFrozenGradients` (its
  `on_train_batch_begin` is called before each step, as `fit` calls it):
  on torch, frozen groups get no gradient and the backward pass stops at
  the lowest group that trains; TensorFlow and JAX compile one step for all
  stages, so there it changes nothing;
- on the torch backend only: native PyTorch, the same network as
  `torch.nn.Sequential` with `requires_grad_(False)` on the frozen layers
  and `torch.optim.AdamW(foreach=True)` over the rest; its ratio is against
  its own step with every layer training.

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
from keras_lrx import SkipFrozenGradients  # noqa: E402
from keras_lrx import gradual_unfreezing  # noqa: E402

BLOCKS, WIDTH, BATCH, CLASSES = 12, 256, 128, 10
EVERY = 10**5  # steps per stage: more than one stage's timed steps
LR = 1e-3


def mlp():
    layers = [keras.Input((WIDTH,))]
    layers += [
        keras.layers.Dense(WIDTH, activation="relu", name=f"block_{i}")
        for i in range(BLOCKS)
    ]
    layers.append(keras.layers.Dense(CLASSES, name="head"))
    return keras.Sequential(layers)


def keras_step(model, optimizer, x, y, callback=None):
    model.compile(optimizer, "sparse_categorical_crossentropy")
    if callback is not None:
        callback.set_model(model)

    def step():
        if callback is not None:
            callback.on_train_batch_begin(0)
        model.train_on_batch(x, y)

    return step


def torch_steps(x, y):
    """Native PyTorch: `(set_stage, step)`; the stage freezes the input
    side's layers as `gradual_unfreezing` does at that stage."""
    import torch

    torch.manual_seed(0)
    layers = []
    for _ in range(BLOCKS):
        layers += [torch.nn.Linear(WIDTH, WIDTH), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(WIDTH, CLASSES))
    device = torch_device()
    net = torch.nn.Sequential(*layers).to(device)
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    tx = torch.tensor(x, device=device)
    ty = torch.tensor(y, dtype=torch.long, device=device)
    state = {}

    def set_stage(thawed_blocks):
        frozen = linears[: BLOCKS - thawed_blocks]
        for m in linears:
            m.requires_grad_(m not in frozen)
        params = [p for p in net.parameters() if p.requires_grad]
        state["opt"] = torch.optim.AdamW(params, lr=LR, foreach=True)

    def step():
        opt = state["opt"]
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net(tx), ty).backward()
        opt.step()

    return set_stage, step


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, WIDTH)).astype("float32")
    y = rng.integers(0, CLASSES, size=(BATCH,))
    backend = keras.backend.backend()

    keras.utils.set_random_seed(0)
    models = {name: mlp() for name in ("bare", "lrx", "skip")}
    weights = models["bare"].get_weights()
    for model in models.values():
        model.set_weights(weights)
    optimizers = {"bare": keras.optimizers.AdamW(LR)}
    for name in ("lrx", "skip"):
        optimizers[name] = LRX(
            keras.optimizers.AdamW(LR),
            multipliers=gradual_unfreezing(
                models[name], every_steps=EVERY, head=["head"]
            ),
        )
    steps = {
        "bare": keras_step(models["bare"], optimizers["bare"], x, y),
        "lrx": keras_step(models["lrx"], optimizers["lrx"], x, y),
        "skip": keras_step(
            models["skip"], optimizers["skip"], x, y, SkipFrozenGradients()
        ),
    }
    for step in steps.values():  # builds the optimizers
        step()
    set_torch_stage = None
    if backend == "torch":
        set_torch_stage, steps["torch"] = torch_steps(x, y)

    # Stage k: the head and the top k blocks train (k = BLOCKS + 1: also
    # what comes before the first block -- here nothing).
    stages = [0, BLOCKS // 2, BLOCKS]
    rows = []
    torch_full = None
    if set_torch_stage is not None:
        set_torch_stage(BLOCKS)
        torch_full = interleaved_samples(
            {"torch": steps["torch"]}, rounds=args.rounds
        )["torch"]
    for stage in stages:
        for name in ("lrx", "skip"):
            optimizers[name].iterations.assign(stage * EVERY)
        if set_torch_stage is not None:
            set_torch_stage(stage)
        samples = interleaved_samples(steps, rounds=args.rounds)
        bare = samples["bare"]
        row = [
            f"{stage} of {BLOCKS}",
            f"{statistics.median(bare) * 1e3:.2f}",
        ]
        for name in ("lrx", "skip"):
            s = samples[name]
            row.append(
                f"{min(s) / min(bare):.3f} / "
                f"{statistics.median(s) / statistics.median(bare):.3f}"
            )
        if torch_full is not None:
            s = samples["torch"]
            row.append(
                f"{min(s) / min(torch_full):.3f} / "
                f"{statistics.median(s) / statistics.median(torch_full):.3f}"
            )
        rows.append(row)
    header = [
        "blocks training",
        "bare AdamW ms (median)",
        "LRX/bare fastest / median",
        "LRX+SkipFrozenGradients/bare",
    ]
    if torch_full is not None:
        header.append("PyTorch frozen/all-training")
    print_table(
        f"Train step during gradual unfreezing, {BLOCKS}x{WIDTH} MLP, "
        f"batch {BATCH}, AdamW, backend={backend}, keras {keras.__version__}, "
        f"{machine()}; {args.rounds} rounds",
        header,
        rows,
    )


if __name__ == "__main__":
    main()
