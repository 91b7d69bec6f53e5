"""Merges `bench_finetune.py --json` files (one per backend) into the tables
of `benchmarks/README.md`.

    python benchmarks/finetune_tables.py jax.json tensorflow.json torch.json

Prints, per task and recipe, for each backend: the mean over seeds of the
default (the recipe's own rate: `find_lr`'s suggestion, or what `fine_tune`
picks) / the validation-picked grid / the ceiling, and the good-rate window;
then issue 42's target, `fine_tune`'s default against the validation-picked
grid of one global rate: mean and worst ratio over seeds, and the largest
shortfall in points on any seed.
"""

import collections
import json
import statistics
import sys

GLOBAL = "one global rate"
FINE_TUNE = "fine_tune (one call)"
CHOSEN = ("digits_mlp", "tokens_embedding")


def load(paths):
    runs = {}
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        for record in data["records"]:
            key = (data["backend"], record["task"], record["recipe"])
            runs.setdefault(key, []).append(record)
    return runs


def _mean(records, field):
    values = [r[field] for r in records if r[field] is not None]
    return statistics.mean(values) if values else float("nan")


def recipe_table(runs):
    backends = sorted({b for b, _, _ in runs})
    tasks = list(dict.fromkeys(t for _, t, _ in runs))
    print(
        "| task | recipe | "
        + " | ".join(
            f"{b}: default / val-picked / ceiling, window" for b in backends
        )
        + " |"
    )
    print("|---|---|" + "---|" * len(backends))
    for task in tasks:
        recipes = list(dict.fromkeys(r for _, t, r in runs if t == task))
        for recipe in recipes:
            cells = []
            for backend in backends:
                records = runs.get((backend, task, recipe))
                if not records:
                    cells.append("")
                    continue
                cells.append(
                    f"{_mean(records, 'default_score'):.3f} / "
                    f"{_mean(records, 'picked_score'):.3f} / "
                    f"{_mean(records, 'ceiling'):.3f}, "
                    f"{_mean(records, 'window'):.1f}"
                )
            label = f"{task}{' (chosen)' if task in CHOSEN else ''}"
            print(f"| {label} | {recipe} | " + " | ".join(cells) + " |")


def target_table(runs):
    backends = sorted({b for b, _, _ in runs})
    tasks = list(dict.fromkeys(t for _, t, _ in runs))
    print(
        "\n| task | "
        + " | ".join(
            f"{b}: mean / worst ratio, largest shortfall (points)"
            for b in backends
        )
        + " |"
    )
    print("|---|" + "---|" * len(backends))
    for task in tasks:
        cells = []
        for backend in backends:
            ours = runs.get((backend, task, FINE_TUNE), [])
            grid = {
                r["seed"]: r["picked_score"]
                for r in runs.get((backend, task, GLOBAL), [])
            }
            pairs = [
                (r["default_score"], grid[r["seed"]])
                for r in ours
                if r["seed"] in grid
            ]
            if not pairs:
                cells.append("")
                continue
            ratios = [a / b for a, b in pairs]
            gap = max(100 * (b - a) for a, b in pairs)
            cells.append(
                f"{statistics.mean(ratios):.3f} / {min(ratios):.3f}, "
                f"{gap:+.1f} ({len(pairs)} seeds)"
            )
        label = f"{task}{' (chosen)' if task in CHOSEN else ''}"
        print(f"| {label} | " + " | ".join(cells) + " |")


def compact_table(runs):
    """`fine_tune`'s default against the validation-picked global grid, the
    means over seeds side by side (README's and the guide's table)."""
    backends = sorted({b for b, _, _ in runs})
    tasks = list(dict.fromkeys(t for _, t, _ in runs))
    print("\n| task | " + " | ".join(backends) + " |")
    print("|---|" + "---|" * len(backends))
    for task in tasks:
        cells = []
        for backend in backends:
            ours = runs.get((backend, task, FINE_TUNE))
            grid = runs.get((backend, task, GLOBAL))
            if not ours or not grid:
                cells.append("not run")
                continue
            cells.append(
                f"{_mean(ours, 'default_score'):.3f} vs "
                f"{_mean(grid, 'picked_score'):.3f}"
            )
        label = f"{task}{' (chosen)' if task in CHOSEN else ''}"
        print(f"| {label} | " + " | ".join(cells) + " |")


def cost_table(runs):
    print("\n| backend | task | recipe | run s | one call / run (median) |")
    print("|---|---|---|---|---|")
    counts = collections.OrderedDict(sorted(runs.items()))
    for (backend, task, recipe), records in counts.items():
        if recipe not in (GLOBAL, FINE_TUNE):
            continue
        run = statistics.median(r["run_s"] for r in records)
        ratio = statistics.median(r["one_call_over_run"] for r in records)
        print(f"| {backend} | {task} | {recipe} | {run:.2f} | {ratio:.2f} |")


def main(argv=None):
    paths = (argv if argv is not None else sys.argv[1:]) or []
    if not paths:
        sys.exit(__doc__)
    runs = load(paths)
    recipe_table(runs)
    target_table(runs)
    compact_table(runs)
    cost_table(runs)


if __name__ == "__main__":
    main()
