"""Does fine-tuning with keras-lrx win? Recipes side by side on transfer tasks.

Run for one backend:  KERAS_BACKEND=jax python benchmarks/bench_finetune.py
(`--quick`: one seed and the two digits tasks; `--tasks bert_tiny` a subset;
`--seeds 0,1,2`; `--recipes "gradual unfreezing"` some recipes only).

Each task of `_transfer.py` pretrains a body inside the script (nothing is
downloaded) and fine-tunes it on a different target with a few hundred
labels, for `FINETUNE_EPOCHS` epochs of batch 32 with Adam. Recipes:

- `one global rate`: every variable at the base rate (LRX, no multipliers);
- `frozen body + head`: the body at multiplier 0, only the head trains;
- `discriminative 0.1x` / `0.3x`: the body at that multiple of the head's
  rate;
- `layer-wise decay 0.5`: `layerwise_decay(model, 0.5)`, the block nearest
  the head at 0.5, the next at 0.25, ... (the body's layers are the blocks);
- `gradual unfreezing`: `gradual_unfreezing(model, every_steps=<an
  epoch>)`, ULMFiT's schedule inside one `fit`: the head trains from the
  first step, one more block thaws each epoch, top block first;
- on the keras-hub BERT, `LoRA (rank 4)` and `LoRA+ (B at 16x)`: only the
  LoRA factors of the backbone and the head train.

For each recipe and seed two numbers: its *ceiling*, the best held-out
accuracy over a 12-point grid of base rates (what a user with the budget for
a grid search gets), and its *default*, the accuracy at `find_lr`'s default
suggestion (what a user gets in one run). The table shows the mean over the
seeds and the range, and which recipe won each column. A recipe "wins" only
by more than the seeds' spread; the script says where none does. Cost, as
the median over seeds: `run s`, the seconds of one training run of the
budget as a user runs it (a freshly compiled model's `fit`, tracing
included), and `find_lr s`, the seconds of `find_lr` with its defaults
(the sweep, the probes and their traces).
"""

import argparse
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _timing import machine  # noqa: E402
from _timing import print_table  # noqa: E402
from _transfer import TASKS  # noqa: E402
from bench_suggestion import BATCH  # noqa: E402
from bench_suggestion import GRID  # noqa: E402
from bench_suggestion import Case  # noqa: E402

from keras_lrx import LRX  # noqa: E402
from keras_lrx import gradual_unfreezing  # noqa: E402
from keras_lrx import layerwise_decay  # noqa: E402

FINETUNE_EPOCHS = 10
SEEDS = (0, 1, 2)
#: What `run_recipe` returns, in order.
COLUMNS = ("ceiling", "default", "lr", "best_lr", "run_s", "find_s")


def _weighted_layers(body):
    return [layer for layer in body.layers if layer.weights]


def _recipes(task_name):
    """{recipe: multipliers(model, body, steps_per_epoch) -> dict, or
    "lora"/"lora+"}."""
    recipes = {
        "one global rate": lambda model, body, steps: None,
        "frozen body + head": lambda model, body, steps: {body: 0.0},
        "discriminative 0.1x": lambda model, body, steps: {body: 0.1},
        "discriminative 0.3x": lambda model, body, steps: {body: 0.3},
    }
    if task_name == "bert_tiny":
        recipes["layer-wise decay 0.5"] = lambda model, body, steps: (
            layerwise_decay(model, 0.5)
        )
        recipes["gradual unfreezing"] = lambda model, body, steps: (
            gradual_unfreezing(model, steps)
        )
        recipes["LoRA (rank 4)"] = "lora"
        recipes["LoRA+ (B at 16x)"] = "lora+"
    else:
        recipes["layer-wise decay 0.5"] = lambda model, body, steps: (
            layerwise_decay(body, 0.5, blocks=_weighted_layers(body))
        )
        recipes["gradual unfreezing"] = lambda model, body, steps: (
            gradual_unfreezing(model, steps, blocks=_weighted_layers(body))
        )
    return recipes


def _build(task, recipe, seed):
    def build(data):
        model, body = task.model(seed)
        multipliers = None
        if recipe in ("lora", "lora+"):
            backbone = [
                layer
                for layer in body.layers
                if type(layer).__name__ == "BertBackbone"
            ][0]
            backbone.enable_lora(4)
            if recipe == "lora+":
                multipliers = {r".*lora_kernel_b": 16.0}
        else:
            steps_per_epoch = math.ceil(len(data[0]) / BATCH)
            multipliers = recipe(model, body, steps_per_epoch)
        optimizer = LRX(keras.optimizers.Adam(1e-3), multipliers=multipliers)
        return model, optimizer

    return build


def run_recipe(task, recipe, seed):
    """(ceiling accuracy, default accuracy, suggested rate, best grid rate,
    seconds of one training run, seconds of `find_lr`)."""
    build = _build(task, recipe, seed)
    case = Case(task.data(seed), build, seed, FINETUNE_EPOCHS)
    grid = [case.score(lr)[0] for lr in GRID]
    finite = [g if np.isfinite(g) else -1.0 for g in grid]
    best = int(np.argmax(finite))
    result, find_seconds = case.find()
    lr = result.suggested_learning_rate
    default = case.score(lr)[0]
    run_seconds = case.fresh_fit_seconds()
    return grid[best], default, lr, float(GRID[best]), run_seconds, find_seconds


def _cell(values):
    mean = statistics.mean(values)
    return f"{mean:.3f} ({min(values):.3f}-{max(values):.3f})"


def _winner(by_recipe, column):
    """The recipe with the best mean, if ahead of the next by more than the
    larger of their seed ranges; else a note that none won."""
    means = {r: statistics.mean(v[column]) for r, v in by_recipe.items()}
    order = sorted(means, key=means.get, reverse=True)
    first, second = order[0], order[1]
    if len(by_recipe[first][column]) < 2:
        return (
            f"{first} leads {second} by {means[first] - means[second]:.3f} "
            "(one seed: no spread to judge a win by)"
        )
    spread = max(
        max(by_recipe[r][column]) - min(by_recipe[r][column])
        for r in (first, second)
    )
    gap = means[first] - means[second]
    if gap > spread:
        return f"{first} (+{gap:.3f} over {second})"
    return (
        f"no clear winner: {first} {gap:+.3f} over {second}, seeds spread "
        f"{spread:.3f}"
    )


def run_task(name, seeds, verbose, only=None):
    task = TASKS[name]()
    by_recipe = {}
    for recipe_name, recipe in _recipes(name).items():
        if only and recipe_name not in only:
            continue
        cols = {key: [] for key in COLUMNS}
        for seed in seeds:
            values = run_recipe(task, recipe, seed)
            for key, value in zip(cols, values):
                cols[key].append(value)
            ceiling, default, lr, best_lr = values[:4]
            if verbose:
                print(
                    f"{name} {recipe_name} s{seed}: ceiling {ceiling:.3f} "
                    f"@ {best_lr:.2g}, default {default:.3f} @ {lr:.2g}",
                    flush=True,
                )
        by_recipe[recipe_name] = cols
    rows = [
        [
            recipe,
            _cell(cols["ceiling"]),
            _cell(cols["default"]),
            f"{statistics.geometric_mean(cols['lr']):.2g}",
            f"{statistics.median(cols['run_s']):.2f}",
            f"{statistics.median(cols['find_s']):.2f}",
        ]
        for recipe, cols in by_recipe.items()
    ]
    print_table(
        f"{name}: test accuracy, mean (range) over {len(seeds)} seeds, "
        f"{FINETUNE_EPOCHS} epochs of batch 32, Adam; backend="
        f"{keras.backend.backend()}, keras {keras.__version__}, {machine()}",
        [
            "recipe",
            "ceiling (best of 12 rates)",
            "default (find_lr)",
            "find_lr's rate",
            "run s",
            "find_lr s",
        ],
        rows,
    )
    if len(by_recipe) > 1:
        print(f"best ceiling: {_winner(by_recipe, 'ceiling')}")
        print(f"best default: {_winner(by_recipe, 'default')}\n", flush=True)
    return by_recipe


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument(
        "--recipes", default="", help="comma-separated recipe names"
    )
    args = parser.parse_args(argv)
    only = [r for r in args.recipes.split(",") if r]
    tasks = [t for t in args.tasks.split(",") if t]
    if not tasks or set(tasks) - set(TASKS):
        parser.error(f"--tasks: each one of {list(TASKS)}; got {tasks}")
    seeds = [int(s) for s in args.seeds.split(",") if s]
    if args.quick:
        tasks = [t for t in tasks if t.startswith("digits")] or tasks[:1]
        seeds = seeds[:1]
    for name in tasks:
        run_task(name, seeds, args.verbose, only)


if __name__ == "__main__":
    main()
