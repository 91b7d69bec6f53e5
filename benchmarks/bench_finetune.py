"""Does fine-tuning with keras-lrx win? Recipes side by side on transfer tasks.

Run for one backend:  KERAS_BACKEND=jax python benchmarks/bench_finetune.py
(`--quick`: one seed and the digits tasks; `--tasks bert_tiny` a subset;
`--seeds 0,1,2`; `--recipes "gradual unfreezing"` some recipes only;
`--json results-jax.json` every per-seed number, so that the runs of the
three backends can be merged into tables later; `--cost-epochs 200 --tasks
digits_few_labels` only times `fine_tune` on a run of 200 epochs, its rate
picked against given, interleaved).

Each task of `_transfer.py` pretrains a body inside the script (nothing is
downloaded) and fine-tunes it on a different target with a few hundred
labels, for `FINETUNE_EPOCHS` epochs of batch 32 with Adam: `digits_mlp`,
`digits_conv_shift`, `tokens_embedding`, `bert_tiny`, and two tasks for
issue 42's `fine_tune`: `digits_few_labels` (same classes as the
pretraining, new images, 30 labels per class: the body is already right and
the risk is forgetting) and `bert_wide` (`bert_tiny`'s task on a four-block,
width-64 BERT). Recipes:

- `one global rate`: every variable at the base rate (LRX, no multipliers);
- `frozen body + head`: the body at multiplier 0, only the head trains (a
  linear probe of the pretrained features);
- `discriminative 0.1x` / `0.3x`: the body at that multiple of the head's
  rate;
- `layer-wise decay 0.5`: `layerwise_decay(model, 0.5)`, the block nearest
  the head at 0.5, the next at 0.25, ... (the body's layers are the blocks);
- `gradual unfreezing`: `gradual_unfreezing(model, every_steps=<an
  epoch>)`, ULMFiT's schedule inside one `fit`: the head trains from the
  first step, one more block thaws each epoch, top block first;
- on the keras-hub BERTs, `LoRA (rank 4)` and `LoRA+ (B at 16x)`: only the
  LoRA factors of the backbone and the head train;
- `fine_tune (one call)`: `keras_lrx.fine_tune(model, x, y, body=body,
  learning_rate=...)`, issue 42's one call, which compiles and fits by
  itself and picks its own rate when `learning_rate` is None (its grid is
  over the `learning_rate` it is given, the peak of its schedule; its
  "find_lr's rate" is the peak it picked, read from the compiled `LRX`'s
  schedule). It is a `Trainer` recipe (see `Trainer`: any callable that
  builds, trains and returns the model can be a recipe). While `keras_lrx`
  has no `fine_tune` the script skips it with a note.

For each recipe and seed, with `GRID` the 12 base rates 1e-5 ... 3.16:

- *ceiling*: the best test accuracy over the grid (what a user with the
  budget for a grid search gets, if the test split may pick the rate);
- *val-picked*: the grid as it is run without a test split, as
  `bench_suggestion.py`'s yardstick does it (`Case.validation_split`):
  each rate trained on 80% of the training split and scored on the other
  20%, the best of those picked, and the picked rate's *test* accuracy from
  the grid run on the whole training split;
- *default*: the test accuracy at `find_lr`'s default suggestion (what a
  user gets in one run; for `fine_tune`, the call with `learning_rate=None`);
- *window*: how many of the 12 grid rates score within `GOOD_WINDOW` (0.02,
  two points) of that seed's ceiling, the mean over seeds: how forgiving the
  recipe is of the rate.

The table shows the mean over the seeds and the range, and which recipe won
each accuracy column. A recipe "wins" only by more than the seeds' spread;
the script says where none does. Under it, issue 42's target metric,
"default vs validation-picked global grid": each recipe's default accuracy
divided by the validation-picked accuracy of `one global rate` for the same
seed, the mean and the worst over seeds (1 or more: one run without a grid
does as well as a 12-run grid search of one global rate; it needs `one
global rate` among the recipes run). Cost, as the median over seeds: `run s`,
the seconds of one training run of the budget as a user runs it (a freshly
compiled model's `fit`, tracing included; for `fine_tune`, the median of
the 12 grid calls, each with `learning_rate` given, so no finder), `find_lr
s`, the seconds of `find_lr` with its defaults (the sweep, the probes and
their traces), and `one call / run`: what one call that picks its own rate
costs against one plain run of the same fit, (find_lr s + run s) / run s
for the LRX recipes and the `learning_rate=None` call's seconds / run s for
`fine_tune`.

`--json PATH` writes, after each task, every per-seed number: task,
recipe, seed, the grid's rates and test scores, the validation scores, the
picked rate and its test score, the default score and its rate, the window
and the timings, with the backend, Keras version and machine.
"""

import argparse
import json
import math
import numbers
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _timing import machine  # noqa: E402
from _timing import print_table  # noqa: E402
from _timing import synchronize  # noqa: E402
from _transfer import TASKS  # noqa: E402
from _transfer import BertTiny  # noqa: E402
from bench_suggestion import BATCH  # noqa: E402
from bench_suggestion import GRID  # noqa: E402
from bench_suggestion import Case  # noqa: E402

import keras_lrx  # noqa: E402
from keras_lrx import LRX  # noqa: E402
from keras_lrx import gradual_unfreezing  # noqa: E402
from keras_lrx import layerwise_decay  # noqa: E402

FINETUNE_EPOCHS = 10
SEEDS = (0, 1, 2)
#: A grid rate is "good" within this much test accuracy of the ceiling.
GOOD_WINDOW = 0.02
#: The recipe whose validation-picked grid is issue 42's yardstick.
GLOBAL = "one global rate"
FINE_TUNE = "fine_tune (one call)"


class Trainer:
    """A recipe that builds, compiles and trains a model by itself.

    `trainer(task, seed, x, y, epochs, learning_rate)` returns the trained
    `keras.Model`, which is scored with `evaluate` on the test split as
    `Case.score` does; `learning_rate=None` asks for the trainer's own
    default. After each call, `seconds` holds the seconds of its training
    (pretraining and model building left out) and `learning_rate` the rate
    it trained at, if it says (NaN otherwise).
    """

    seconds = math.nan
    learning_rate = math.nan

    def available(self):
        """False (with `why`) where the trainer cannot run here."""
        return True

    why = ""

    def __call__(self, task, seed, x, y, epochs, learning_rate):
        raise NotImplementedError


class FineTune(Trainer):
    """`keras_lrx.fine_tune(model, x, y, body=body, ...)`, issue 42's one
    call: with `learning_rate=None` it picks its own rate."""

    why = "keras_lrx has no fine_tune yet"

    def available(self):
        return hasattr(keras_lrx, "fine_tune")

    def __call__(self, task, seed, x, y, epochs, learning_rate):
        model, body = task.model(seed)
        synchronize()
        start = time.perf_counter()
        result = keras_lrx.fine_tune(
            model,
            x,
            y,
            epochs=epochs,
            body=body,
            batch_size=BATCH,
            learning_rate=learning_rate,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            verbose=0,
        )
        synchronize()
        self.seconds = time.perf_counter() - start
        self.learning_rate = _rate(learning_rate, result, model)
        return model


def _rate(given, result, model):
    """The rate a trainer ran at: the one given, else the one its result
    reports (`learning_rate` or `suggested_learning_rate`), else the peak of
    the schedule the model is compiled with (`fine_tune` returns a
    `History` and leaves the model compiled with its `LRX`), else NaN."""
    if given is not None:
        return float(given)
    for name in ("learning_rate", "suggested_learning_rate"):
        value = getattr(result, name, None)
        if isinstance(value, numbers.Real):
            return float(value)
    try:
        schedule = model.optimizer.get_config()["schedule"]
        return float(schedule["config"]["learning_rate"])
    except (AttributeError, KeyError, TypeError, ValueError):
        return math.nan


class TrainerCase:
    """`Case`'s `score` and `validation_split` for a `Trainer` recipe:
    every run is a fresh model from `task.model(seed)` that the trainer
    trains."""

    #: The same 80/20 split of the training data as `Case`'s.
    validation_split = Case.validation_split

    def __init__(self, task, trainer, data, seed, epochs):
        self.x, self.x_test, self.y, self.y_test, _ = data
        self.task, self.trainer = task, trainer
        self.seed, self.epochs = seed, epochs
        task.pretrained_body(seed)  # pretrain before any timing

    def score(self, learning_rate=None):
        """Test accuracy after the trainer's run, and its seconds."""
        model = self.trainer(
            self.task, self.seed, self.x, self.y, self.epochs, learning_rate
        )
        logs = model.evaluate(
            self.x_test, self.y_test, batch_size=256, verbose=0, return_dict=1
        )
        value = float(logs["accuracy"])
        return (value if np.isfinite(value) else np.nan), self.trainer.seconds


def _weighted_layers(body):
    return [layer for layer in body.layers if layer.weights]


def _recipes(task):
    """{recipe: multipliers(model, body, steps_per_epoch) -> dict, or
    "lora"/"lora+", or a `Trainer`}."""
    recipes = {
        GLOBAL: lambda model, body, steps: None,
        "frozen body + head": lambda model, body, steps: {body: 0.0},
        "discriminative 0.1x": lambda model, body, steps: {body: 0.1},
        "discriminative 0.3x": lambda model, body, steps: {body: 0.3},
    }
    if isinstance(task, BertTiny):
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
    recipes[FINE_TUNE] = FineTune()
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


def _best(values):
    """Index of the highest score; a diverged (NaN) run never wins."""
    return int(np.argmax([v if np.isfinite(v) else -1.0 for v in values]))


def run_recipe(task, recipe, seed):
    """Every number of one recipe and seed, as a dict (a `--json` record)."""
    data = task.data(seed)
    if isinstance(recipe, Trainer):
        case = TrainerCase(task, recipe, data, seed, FINETUNE_EPOCHS)
    else:
        case = Case(data, _build(task, recipe, seed), seed, FINETUNE_EPOCHS)
    grid, grid_seconds = zip(*(case.score(lr) for lr in GRID))
    with case.validation_split():
        validation = [case.score(lr)[0] for lr in GRID]
    best, picked = _best(grid), _best(validation)
    ceiling = grid[best]
    window = sum(
        1 for g in grid if np.isfinite(g) and g >= ceiling - GOOD_WINDOW - 1e-9
    )
    if isinstance(recipe, Trainer):
        default, one_call = case.score(None)
        lr = recipe.learning_rate
        run_seconds = statistics.median(grid_seconds)
        find_seconds = math.nan
    else:
        result, find_seconds = case.find()
        lr = result.suggested_learning_rate
        default = case.score(lr)[0]
        run_seconds = case.fresh_fit_seconds()
        one_call = find_seconds + run_seconds
    return {
        "grid_scores": list(grid),
        "validation_scores": validation,
        "ceiling": ceiling,
        "best_rate": float(GRID[best]),
        "picked_rate": float(GRID[picked]),
        "picked_score": grid[picked],
        "window": window,
        "default_score": default,
        "suggested_rate": float(lr),
        "run_s": run_seconds,
        "find_s": find_seconds,
        "one_call_s": one_call,
        "one_call_over_run": one_call / run_seconds,
    }


def _cell(values):
    mean = statistics.mean(values)
    return f"{mean:.3f} ({min(values):.3f}-{max(values):.3f})"


def _geomean(values):
    values = [v for v in values if np.isfinite(v) and v > 0]
    return f"{statistics.geometric_mean(values):.2g}" if values else "-"


def _median(values, digits=2):
    values = [v for v in values if np.isfinite(v)]
    return f"{statistics.median(values):.{digits}f}" if values else "-"


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


def _against_global_grid(name, by_recipe, seeds):
    """Issue 42's target: each recipe's default / one global rate's
    validation-picked accuracy, per seed; mean and worst."""
    if GLOBAL not in by_recipe:
        print(
            f"\n(default vs validation-picked global grid: needs the "
            f"'{GLOBAL}' recipe in the run)\n"
        )
        return
    yardstick = by_recipe[GLOBAL]["picked_score"]
    rows = []
    for recipe, cols in by_recipe.items():
        ratios = [
            (d / p if np.isfinite(d) else 0.0)
            for d, p in zip(cols["default_score"], yardstick)
        ]
        worst = int(np.argmin(ratios))
        rows.append(
            [
                recipe,
                f"{statistics.mean(ratios):.3f}",
                f"{ratios[worst]:.3f} (seed {seeds[worst]})",
            ]
        )
    print_table(
        f"{name}: default vs validation-picked global grid (the recipe's "
        f"default accuracy / '{GLOBAL}' picked by validation, same seed)",
        ["recipe", "mean ratio", "worst ratio"],
        rows,
    )
    print()


def run_task(name, seeds, verbose, only=None, records=None):
    task = TASKS[name]()
    by_recipe = {}
    for recipe_name, recipe in _recipes(task).items():
        if only and recipe_name not in only:
            continue
        if isinstance(recipe, Trainer) and not recipe.available():
            print(f"{name}: skipping '{recipe_name}' ({recipe.why})")
            continue
        cols = {}
        for seed in seeds:
            values = run_recipe(task, recipe, seed)
            for key, value in values.items():
                cols.setdefault(key, []).append(value)
            if records is not None:
                records.append(
                    {"task": name, "recipe": recipe_name, "seed": seed} | values
                )
            if verbose:
                print(
                    f"{name} {recipe_name} s{seed}: ceiling "
                    f"{values['ceiling']:.3f} @ {values['best_rate']:.2g}, "
                    f"val-picked {values['picked_score']:.3f} @ "
                    f"{values['picked_rate']:.2g}, default "
                    f"{values['default_score']:.3f} @ "
                    f"{values['suggested_rate']:.2g}, window "
                    f"{values['window']}/{len(GRID)}",
                    flush=True,
                )
        by_recipe[recipe_name] = cols
    if not by_recipe:
        print(f"{name}: no recipe to run")
        return by_recipe
    rows = [
        [
            recipe,
            _cell(cols["ceiling"]),
            _cell(cols["picked_score"]),
            _cell(cols["default_score"]),
            f"{statistics.mean(cols['window']):.1f}",
            _geomean(cols["suggested_rate"]),
            _median(cols["run_s"]),
            _median(cols["find_s"]),
            _median(cols["one_call_over_run"], 1),
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
            "val-picked (12 rates, 80/20)",
            "default (find_lr)",
            f"window (±{GOOD_WINDOW:g})",
            "find_lr's rate",
            "run s",
            "find_lr s",
            "one call / run",
        ],
        rows,
    )
    if len(by_recipe) > 1:
        print(f"best ceiling: {_winner(by_recipe, 'ceiling')}")
        print(f"best val-picked: {_winner(by_recipe, 'picked_score')}")
        print(f"best default: {_winner(by_recipe, 'default_score')}")
    _against_global_grid(name, by_recipe, seeds)
    sys.stdout.flush()
    return by_recipe


def _jsonable(value):
    """NaN and infinities as null, NumPy scalars as Python numbers."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _write_json(path, records):
    with open(path, "w") as f:
        json.dump(
            _jsonable(
                {
                    "backend": keras.backend.backend(),
                    "keras": keras.__version__,
                    "machine": machine(),
                    "epochs": FINETUNE_EPOCHS,
                    "batch_size": BATCH,
                    "grid_rates": GRID.tolist(),
                    "good_window": GOOD_WINDOW,
                    "records": records,
                }
            ),
            f,
            indent=1,
        )


def cost(name, epochs, rounds=3):
    """`fine_tune`'s cost on a longer run: the call that picks its rate
    (finder included) against the same call given a rate, interleaved,
    `rounds` times each, in one process; prints both and their ratio."""
    task = TASKS[name]()
    x, _, y, _, _ = task.data(0)
    trainer = FineTune()
    steps = epochs * math.ceil(len(y) / BATCH)
    picked, given = [], []
    rate = None
    for _ in range(rounds):
        trainer(task, 0, x, y, epochs, None)
        picked.append(trainer.seconds)
        rate = trainer.learning_rate
        trainer(task, 0, x, y, epochs, rate)
        given.append(trainer.seconds)
    ratios = [p / g for p, g in zip(picked, given)]
    print_table(
        f"fine_tune's cost on {name}, {epochs} epochs ({steps} steps); "
        f"backend={keras.backend.backend()}, keras {keras.__version__}, "
        f"{machine()}",
        ["call", "fastest s", "median s"],
        [
            ["learning_rate=None (finder)", f"{min(picked):.2f}",
             f"{statistics.median(picked):.2f}"],
            [f"learning_rate={rate:.2g} (given)", f"{min(given):.2f}",
             f"{statistics.median(given):.2f}"],
        ],
    )  # fmt: skip
    print(
        f"one call / one run: fastest {min(picked) / min(given):.2f}, "
        f"median of the rounds' ratios {statistics.median(ratios):.2f}\n",
        flush=True,
    )


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument(
        "--recipes", default="", help="comma-separated recipe names"
    )
    parser.add_argument(
        "--json", metavar="PATH", help="write every per-seed number here"
    )
    parser.add_argument(
        "--cost-epochs",
        type=int,
        metavar="N",
        help="only time fine_tune (its rate picked, then given) on runs of N "
        "epochs of each task, interleaved, 3 rounds",
    )
    args = parser.parse_args(argv)
    only = [r for r in args.recipes.split(",") if r]
    known = {r for t in TASKS.values() for r in _recipes(t())}
    if set(only) - known:
        parser.error(f"--recipes: each one of {sorted(known)}; got {only}")
    tasks = [t for t in args.tasks.split(",") if t]
    if not tasks or set(tasks) - set(TASKS):
        parser.error(f"--tasks: each one of {list(TASKS)}; got {tasks}")
    seeds = [int(s) for s in args.seeds.split(",") if s]
    if args.quick:
        tasks = [t for t in tasks if t.startswith("digits")] or tasks[:1]
        seeds = seeds[:1]
    if args.cost_epochs:
        for name in tasks:
            cost(name, args.cost_epochs)
        return
    records = []
    for name in tasks:
        run_task(name, seeds, args.verbose, only, records)
        if args.json:
            _write_json(args.json, records)


if __name__ == "__main__":
    main()
