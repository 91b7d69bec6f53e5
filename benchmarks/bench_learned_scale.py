"""No rate to pick? A learned scale (Mechanic, Prodigy) vs a tuned grid.

Run for one backend:  KERAS_BACKEND=jax python benchmarks/bench_learned_scale.py
(`--regimes scratch` or `finetune`; `--seeds 0,1,2`; `--tasks digits_mlp`
and `--datasets digits` subsets; `--grid-json results.json` reuses the
fine-tuning grids `bench_finetune.py --json` wrote for the same tasks,
seeds and backend instead of running them again; `--json out.json` every
per-case number; `--tables a.json,b.json` prints the tables of such files,
per backend).

Issue 38's bars, on the cases and budgets of `bench_suggestion.py` (from
scratch: scikit-learn data, MLP 64-64, 160 steps of batch 32, constant
rate) and `bench_finetune.py` (fine-tuning: the pretrained bodies of
`_transfer.py`, 10 epochs of batch 32, constant rate), against the
validation-picked 12-run grid of the same optimizer (each of
`bench_suggestion.GRID`'s rates trained on 80% of the training data and
scored on the other 20%, the pick's test score as trained on all of it):

- `Mechanic`: `LRX(inner, schedule=nominal, scale=Mechanic())`, the inner
  optimizer the grid's (Adam, SGD with momentum 0.9); nominal 1.0 (optax's
  advice: the schedule at peak 1, Mechanic learns the scale), and 0.01 and
  100 for the robustness bar;
- `Prodigy`: `LRX(keras_lrx.experimental.Prodigy(learning_rate=nominal))`,
  nominal 1.0 (Prodigy's own advice), 0.01 and 100; only
  against Adam's grid (Prodigy is an Adam);
- composition (fine-tuning): the body at 0.1x (`{body: 0.1}`) and
  `layerwise_decay(..., 0.5)` as `bench_finetune.py` builds them, each
  learned method at nominal 1 against that recipe's own validation-picked
  grid.

Printed per regime and method: the ratio to the validation-picked grid
(test accuracy, or for regression the grid's MSE / the method's), mean and
worst over cases; how far the mean ratio moves when the nominal rate is
100x or 1/100 off; the count of NaN or diverged runs; and the wall time of
one run against a plain run of the same fit (both freshly compiled,
interleaved, the median of 3 rounds on the first seed of each case).
"""

import argparse
import json
import math
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
from bench_suggestion import GRID  # noqa: E402
from bench_suggestion import OPTIMIZERS  # noqa: E402
from bench_suggestion import SHAPES  # noqa: E402
from bench_suggestion import Case  # noqa: E402
from bench_suggestion import _mlp  # noqa: E402
from bench_suggestion import best_index  # noqa: E402
from bench_suggestion import load  # noqa: E402

from keras_lrx import LRX  # noqa: E402
from keras_lrx import experimental  # noqa: E402
from keras_lrx.experimental import Mechanic  # noqa: E402

NOMINALS = (1.0, 0.01, 100.0)
SEEDS = (0, 1, 2)
DATASETS = ("digits", "breast_cancer", "wine", "diabetes")
SCRATCH_OPTIMIZERS = ("Adam", "SGD-m")
FT_TASKS = (
    "digits_mlp",
    "tokens_embedding",
    "digits_conv_shift",
    "digits_few_labels",
    "bert_tiny",
)
FT_EPOCHS = 10


METHODS = ("Mechanic", "Prodigy")
#: The methods this run measures (`--methods`).
CHOSEN = list(METHODS)


def _methods():
    makers = {"Mechanic": _mechanic, "Prodigy": _prodigy}
    return {m: makers[m] for m in CHOSEN}


def _mechanic(inner_name, multipliers):
    return LRX(
        OPTIMIZERS[inner_name](),
        schedule=1.0,
        multipliers=multipliers,
        scale=Mechanic(),
    )


def _prodigy(inner_name, multipliers):
    if inner_name != "Adam":
        return None
    return LRX(experimental.Prodigy(), multipliers=multipliers)


def _plain(inner_name, multipliers):
    return LRX(OPTIMIZERS[inner_name](), multipliers=multipliers)


# ---------------------------------------------------------------------- #
# Cases: (regime, label, data, build(make_optimizer) -> build(data), seed,
# epochs, inner optimizer name, composition label)
# ---------------------------------------------------------------------- #
def scratch_cases(datasets, seeds):
    for name in datasets:
        data = load(name)
        for opt in SCRATCH_OPTIMIZERS:
            for seed in seeds:

                def build(make, opt=opt, seed=seed):
                    def b(d):
                        model, _ = _mlp(d, opt, SHAPES["64-64"], seed)
                        return model, make(opt, None)

                    return b

                yield (
                    "scratch",
                    f"{name}/{opt}/s{seed}",
                    data,
                    build,
                    seed,
                    None,
                    opt,
                    "global",
                )


def _compositions(task):
    def body_01(model, body):
        return {body: 0.1}

    def layerwise(model, body):
        from bench_finetune import _recipes

        return _recipes(task)["layer-wise decay 0.5"](model, body, 1)

    return {
        "global": lambda model, body: None,
        "body 0.1x": body_01,
        "layer-wise 0.5": layerwise,
    }


GRID_RECIPES = {
    "global": "one global rate",
    "body 0.1x": "discriminative 0.1x",
    "layer-wise 0.5": "layer-wise decay 0.5",
}


def finetune_cases(tasks, seeds):
    for name in tasks:
        task = TASKS[name]()
        for composition, multipliers in _compositions(task).items():
            for seed in seeds:

                def build(make, task=task, seed=seed, multipliers=multipliers):
                    def b(d):
                        model, body = task.model(seed)
                        return model, make("Adam", multipliers(model, body))

                    return b

                yield (
                    "finetune",
                    f"{name}/{composition}/s{seed}",
                    task.data(seed),
                    build,
                    seed,
                    FT_EPOCHS,
                    "Adam",
                    composition,
                )


# ---------------------------------------------------------------------- #
def _grid(case_of, cached):
    """(validation-picked test score, best test score, picked rate)."""
    if cached is not None:
        return cached["picked_score"], cached["ceiling"], cached["picked_rate"]
    case = case_of(_plain)
    grid = [case.score(lr)[0] for lr in GRID]
    with case.validation_split():
        validation = [case.score(lr)[0] for lr in GRID]
    picked = best_index(case, validation)
    return grid[picked], grid[best_index(case, grid)], float(GRID[picked])


def _ratio(case, value, reference):
    if not np.isfinite(value):
        return 0.0
    return reference / value if case.metric == "mse" else value / reference


def _cost(case_of, make, rounds=3):
    """Median seconds of a freshly compiled run with `make`'s optimizer
    over a plain one, interleaved."""
    plain, learned = [], []
    for _ in range(rounds):
        plain.append(case_of(_plain).fresh_fit_seconds())
        learned.append(case_of(make).fresh_fit_seconds())
    return statistics.median(learned) / statistics.median(plain)


def run_case(spec, cached_grids, timed):
    regime, label, data, build, seed, epochs, inner, composition = spec

    def case_of(make):
        return Case(data, build(make), seed, epochs)

    # The grid's key in a `--grid-json` file: bench_finetune's (task,
    # recipe, seed), or this script's own (data/optimizer, "global", seed).
    if regime == "finetune":
        key = label.split("/")[0], GRID_RECIPES[composition], seed
    else:
        key = label.rsplit("/", 1)[0], composition, seed
    picked, ceiling, picked_rate = _grid(case_of, cached_grids.get(key))
    record = {
        "regime": regime,
        "case": label,
        "composition": composition,
        "optimizer": inner,
        "seed": seed,
        "picked_score": picked,
        "ceiling": ceiling,
        "picked_rate": picked_rate,
        "grid_key": list(key),
    }
    for method, make in _methods().items():
        if make(inner, None) is None:
            continue
        case = case_of(make)
        nominals = NOMINALS if composition == "global" else NOMINALS[:1]
        for nominal in nominals:
            score, seconds = case.score(nominal)
            record[f"{method}@{nominal:g}"] = score
            record[f"{method}@{nominal:g} ratio"] = _ratio(case, score, picked)
            record[f"{method}@{nominal:g} scale"] = _learned_rate(case)
        if timed and composition == "global":
            record[f"{method} cost"] = _cost(case_of, make)
    return record


def _learned_rate(case):
    """The scale (Mechanic) or `d * lr` (Prodigy) at the end of the run."""
    optimizer = case.optimizer
    if optimizer.scale is not None:
        return optimizer.scale_value()
    inner = optimizer.optimizer
    d = getattr(inner, "d", None)
    if d is None:
        return math.nan
    value = d() if callable(d) else d
    return float(keras.ops.convert_to_numpy(value))


def summarize(records, backend=None, where=None):
    for regime in ("scratch", "finetune"):
        rows = []
        for method in METHODS:
            for composition in ("global", "body 0.1x", "layer-wise 0.5"):
                stats = _stats(records, method, composition, regime)
                if stats is None:
                    continue
                moves = [
                    "-" if shift is None else f"{shift:+.3f}"
                    for shift in stats["shifts"]
                ]
                rows.append(
                    [
                        f"{method}, {composition}",
                        stats["cases"],
                        f"{stats['mean']:.3f}",
                        f"{stats['worst']:.3f}",
                        *moves,
                        stats["bad"],
                        "-"
                        if stats["cost"] is None
                        else f"{stats['cost']:.2f}",
                    ]
                )
        if not rows:
            continue
        print_table(
            f"{regime}: ratio to the validation-picked 12-run grid "
            f"(backend={backend or keras.backend.backend()}, "
            + (where or f"keras {keras.__version__}, {machine()}")
            + ")",
            [
                "method, multipliers",
                "cases",
                "mean",
                "worst",
                "nominal x0.01",
                "nominal x100",
                "NaN runs",
                "run / plain run",
            ],
            rows,
        )


def _stats(records, method, composition, regime):
    cases = [
        r
        for r in records
        if r["regime"] == regime
        and r["composition"] == composition
        and f"{method}@1 ratio" in r
    ]
    if not cases:
        return None
    ratios = [r[f"{method}@1 ratio"] for r in cases]
    shifts = []  # the mean's move at each mis-set nominal (None: not run)
    for nominal in NOMINALS[1:]:
        moved = [
            r[f"{method}@{nominal:g} ratio"]
            for r in cases
            if f"{method}@{nominal:g} ratio" in r
        ]
        shifts.append(
            statistics.mean(moved) - statistics.mean(ratios) if moved else None
        )
    known = [shift for shift in shifts if shift is not None]
    costs = [r[f"{method} cost"] for r in cases if f"{method} cost" in r]
    bad = sum(
        1
        for r in cases
        for k, v in r.items()
        if k.startswith(f"{method}@")
        and not k.endswith(("ratio", "scale"))
        and not (v is not None and np.isfinite(v))
    )
    return {
        "mean": statistics.mean(ratios),
        "worst": min(ratios),
        "shifts": shifts,
        "shift": max(known, key=abs) if known else None,
        "cost": statistics.median(costs) if costs else None,
        "bad": bad,
        "cases": len(cases),
    }


def compact(by_backend):
    """One table over the backends: mean / worst ratio per backend, the
    largest move of the mean under a mis-set nominal rate, NaN runs, and
    the median cost of a run."""
    backends = [b for b in ("jax", "tensorflow", "torch") if b in by_backend]
    rows = []
    for regime in ("scratch", "finetune"):
        for method in METHODS:
            for composition in ("global", "body 0.1x", "layer-wise 0.5"):
                stats = {
                    b: _stats(by_backend[b], method, composition, regime)
                    for b in backends
                }
                if not any(stats.values()):
                    continue
                cells = [
                    "-"
                    if stats[b] is None
                    else f"{stats[b]['mean']:.3f} / {stats[b]['worst']:.3f}"
                    for b in backends
                ]
                shifts = [
                    stats[b]["shift"]
                    for b in backends
                    if stats[b] and stats[b]["shift"] is not None
                ]
                costs = [
                    stats[b]["cost"]
                    for b in backends
                    if stats[b] and stats[b]["cost"] is not None
                ]
                rows.append(
                    [
                        regime,
                        f"{method}, {composition}",
                        *cells,
                        f"{max(shifts, key=abs):+.3f}" if shifts else "-",
                        sum(stats[b]["bad"] for b in backends if stats[b]),
                        f"{min(costs):.2f}-{max(costs):.2f}" if costs else "-",
                    ]
                )
    print_table(
        "All backends: mean / worst ratio to the validation-picked grid",
        [
            "regime",
            "method, multipliers",
            *backends,
            "largest move, nominal x100 or /100",
            "NaN runs",
            "run / plain run",
        ],
        rows,
    )


def _load_grids(paths):
    grids = {}
    for path in paths:
        with open(path) as f:
            for r in json.load(f)["records"]:
                if "grid_key" in r:  # this script's
                    grids[tuple(r["grid_key"])] = r
                else:  # bench_finetune.py's
                    grids[(r["task"], r["recipe"], r["seed"])] = r
    return grids


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--regimes", default="scratch,finetune")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--tasks", default=",".join(FT_TASKS))
    parser.add_argument("--grid-json", default="")
    parser.add_argument("--json", default="")
    parser.add_argument("--no-cost", action="store_true")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument(
        "--tables", default="", help="only print the tables of --json files"
    )
    args = parser.parse_args(argv)
    if args.tables:
        # One record per case and backend: files of one backend merge
        # (one method's runs in one, another's in the next; a later file's
        # number replaces an earlier one's).
        by_backend = {}
        for path in args.tables.split(","):
            with open(path) as f:
                run = json.load(f)
            entry = by_backend.setdefault(run["backend"], [run, {}])
            for r in run["records"]:
                entry[1].setdefault(r["case"], {}).update(r)
        by_backend = {
            b: (run, list(cases.values()))
            for b, (run, cases) in by_backend.items()
        }
        for backend, (run, records) in by_backend.items():
            summarize(
                records, backend, f"keras {run['keras']}, {run['machine']}"
            )
        compact({b: records for b, (_, records) in by_backend.items()})
        return
    CHOSEN[:] = args.methods.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    regimes = args.regimes.split(",")
    grids = _load_grids([p for p in args.grid_json.split(",") if p])
    specs = []
    if "scratch" in regimes:
        specs += list(scratch_cases(args.datasets.split(","), seeds))
    if "finetune" in regimes:
        specs += list(finetune_cases(args.tasks.split(","), seeds))
    records = []
    for spec in specs:
        start = time.perf_counter()
        timed = not args.no_cost and spec[4] == seeds[0]
        record = run_case(spec, grids, timed)
        records.append(record)
        print(
            f"{record['case']}: grid {record['picked_score']:.3f} "
            + " ".join(
                f"{k.replace(' ratio', '')}={v:.3f}"
                for k, v in record.items()
                if k.endswith("ratio")
            )
            + f" ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
        if args.json:
            with open(args.json, "w") as f:
                json.dump(
                    {
                        "backend": keras.backend.backend(),
                        "keras": keras.__version__,
                        "machine": machine(),
                        "records": records,
                    },
                    f,
                    default=lambda v: None,
                )
    summarize(records)


if __name__ == "__main__":
    synchronize()
    main()
