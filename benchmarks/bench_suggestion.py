"""How good is the finder's number? Each suggestion vs a grid search.

Run for one backend:  KERAS_BACKEND=jax python benchmarks/bench_suggestion.py
(`--quick` runs a quarter of the cases; `--no-schedules` skips the one-cycle
and cyclical rows).

For every case -- a data set that ships with scikit-learn (digits,
breast_cancer, wine: accuracy; diabetes: mean squared error), an optimizer
(Adam, AdamW, SGD with momentum 0.9), a model shape and a seed -- the same
model from the same initial weights is trained for a fixed budget of
`BUDGET_STEPS` batches at each rate of a 12-point log grid, at each rate the
finder suggests (`find_lr` with its defaults, then every method of
`LRFinderResult.suggest`), and the held-out score is compared:

    ratio = accuracy(suggested) / best accuracy of the grid   (classification)
    ratio = best MSE of the grid / MSE(suggested)             (regression)

A ratio of 1 means the suggestion trains as well as the best grid point (it
can exceed 1: the suggestion may fall between grid points). The table prints
the mean and the worst ratio of each method, and the wall time of `find_lr`
relative to one training run of the budget as a user runs it (a freshly
compiled model's `fit`, so both pay for tracing the train step). With
schedules, `OneCycle` at the suggested peak (`to_schedule("one_cycle")`) is
compared with a grid of peaks, and `CyclicalLearningRate` at `clr_bounds()`
with the constant-rate grid.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _timing import machine  # noqa: E402
from _timing import print_table  # noqa: E402
from sklearn import datasets  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from keras_lrx import find_lr  # noqa: E402
from keras_lrx.suggestions import SUGGESTERS  # noqa: E402

BATCH = 32
BUDGET_STEPS = 160
GRID = 10.0 ** np.linspace(-5.0, 0.5, 12)  # 1e-5 ... 3.16, half a decade
OPTIMIZERS = {
    "Adam": lambda: keras.optimizers.Adam(1e-3),
    "AdamW": lambda: keras.optimizers.AdamW(1e-3),
    "SGD-m": lambda: keras.optimizers.SGD(1e-2, momentum=0.9),
}
SHAPES = {"64-64": (64, 64), "256": (256,)}
SEEDS = (0, 1)


def load(name):
    """(x_train, x_test, y_train, y_test, classes): standardized, split."""
    loader = getattr(datasets, f"load_{name}")
    x, y = loader(return_X_y=True)
    x = x.astype("float32")
    regression = name == "diabetes"
    if regression:
        y = ((y - y.mean()) / y.std()).astype("float32").reshape(-1, 1)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=0.25, random_state=0
    )
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-8
    classes = None if regression else int(y.max()) + 1
    return (x_tr - mean) / std, (x_te - mean) / std, y_tr, y_te, classes


class Case:
    """One model, compiled once; every run starts from the same state."""

    def __init__(self, data, optimizer, shape, seed):
        self.x, self.x_test, self.y, self.y_test, classes = data
        self.seed = seed
        keras.utils.set_random_seed(seed)
        layers = [keras.Input(self.x.shape[1:])]
        layers += [keras.layers.Dense(u, activation="relu") for u in shape]
        if classes is None:
            layers.append(keras.layers.Dense(1))
            loss, self.metric = "mse", "mse"
        else:
            layers.append(keras.layers.Dense(classes))
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            self.metric = "accuracy"
        self.model = keras.Sequential(layers)
        self.optimizer = OPTIMIZERS[optimizer]()
        self.model.compile(self.optimizer, loss, metrics=[self.metric])
        self.optimizer.build(self.model.trainable_variables)
        steps_per_epoch = -(-len(self.x) // BATCH)
        self.epochs = -(-BUDGET_STEPS // steps_per_epoch)
        self.variables = list(self.model.variables) + list(
            self.optimizer.variables
        )
        self.initial = [np.array(v.numpy()) for v in self.variables]

    def reset(self):
        for v, value in zip(self.variables, self.initial):
            v.assign(value)
        self.model.reset_metrics()
        keras.utils.set_random_seed(self.seed)

    def score(self, learning_rate=None, optimizer=None):
        """Held-out accuracy (or MSE) after the budget, and the seconds."""
        self.reset()
        model = self.model
        if optimizer is not None:  # a schedule: a freshly compiled copy
            model = keras.models.clone_model(self.model)
            model.set_weights(self.model.get_weights())
            loss = self.model.loss
            model.compile(optimizer, loss, metrics=[self.metric])
        else:
            self.optimizer.learning_rate.assign(learning_rate)
        start = time.perf_counter()
        model.fit(
            self.x, self.y, batch_size=BATCH, epochs=self.epochs, verbose=0
        )
        seconds = time.perf_counter() - start
        logs = model.evaluate(
            self.x_test, self.y_test, batch_size=256, verbose=0, return_dict=1
        )
        value = float(logs[self.metric if self.metric != "mse" else "loss"])
        return (value if np.isfinite(value) else np.nan), seconds

    def fresh_fit_seconds(self):
        """Seconds of one training run as a user runs it: compile, then fit."""
        self.reset()
        model = keras.models.clone_model(self.model)
        model.set_weights(self.model.get_weights())
        optimizer = type(self.optimizer).from_config(
            self.optimizer.get_config()
        )
        model.compile(optimizer, self.model.loss, metrics=[self.metric])
        start = time.perf_counter()
        model.fit(
            self.x, self.y, batch_size=BATCH, epochs=self.epochs, verbose=0
        )
        return time.perf_counter() - start

    def find(self):
        self.reset()
        start = time.perf_counter()
        result = find_lr(
            self.model, self.x, self.y, batch_size=BATCH, verbose=0
        )
        return result, time.perf_counter() - start

    def ratio(self, value, best):
        if not np.isfinite(value):
            return 0.0
        return best / value if self.metric == "mse" else value / best


def best_of(case, values):
    finite = [v for v in values if np.isfinite(v)]
    if case.metric == "mse":
        return min(finite)
    return max(finite)


def run_case(case, schedules, dump, label):
    """Ratios of every method (and schedule) for one case, and the costs."""
    grid = [case.score(lr)[0] for lr in GRID]
    best = best_of(case, grid)
    result, find_seconds = case.find()
    dump[label] = {
        "grid": [case.ratio(v, best) for v in grid],
        "result": result.to_dict(),
    }
    row = {}
    for method in SUGGESTERS:
        try:
            lr = result.suggest(method)
        except ValueError:
            row[method] = (0.0, float("nan"))
            continue
        value, _ = case.score(lr)
        row[method] = (case.ratio(value, best), lr)
    row["grid best"] = (
        1.0,
        float(GRID[int(np.nanargmax([case.ratio(v, best) for v in grid]))]),
    )
    if schedules:
        row.update(schedule_rows(case, result, best))
    return row, find_seconds / case.fresh_fit_seconds()


def schedule_rows(case, result, best):
    total = case.epochs * -(-len(case.x) // BATCH)
    inner = type(case.optimizer)
    config = case.optimizer.get_config()

    def optimizer(schedule):
        return inner.from_config({**config, "learning_rate": schedule})

    from keras_lrx import schedules

    peaks = [
        case.score(optimizer=optimizer(schedules.OneCycle(p, total)))[0]
        for p in GRID
    ]
    best_peak = best_of(case, peaks)
    rows = {}
    try:
        one_cycle = result.to_schedule("one_cycle", total_steps=total)
        value = case.score(optimizer=optimizer(one_cycle))[0]
        rows["one_cycle"] = (
            case.ratio(value, best_peak),
            one_cycle.max_learning_rate,
        )
    except ValueError:
        rows["one_cycle"] = (0.0, float("nan"))
    try:
        cyclical = result.to_schedule("cyclical", total_steps=total)
        value = case.score(optimizer=optimizer(cyclical))[0]
        rows["cyclical"] = (case.ratio(value, best), cyclical.max_learning_rate)
    except ValueError:
        rows["cyclical"] = (0.0, float("nan"))
    return rows


def cases(quick):
    names = ["digits", "breast_cancer", "wine", "diabetes"]
    for name in names:
        data = load(name)
        for opt in OPTIMIZERS:
            for shape in SHAPES:
                for seed in SEEDS[:1] if quick else SEEDS:
                    if quick and shape != "64-64":
                        continue
                    yield (
                        f"{name}/{opt}/{shape}/s{seed}",
                        (
                            data,
                            opt,
                            SHAPES[shape],
                            seed,
                        ),
                    )


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-schedules", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--dump", help="write each case's grid and curve")
    args = parser.parse_args(argv)
    ratios, costs, dump = {}, [], {}
    for label, spec in cases(args.quick):
        row, cost = run_case(Case(*spec), not args.no_schedules, dump, label)
        costs.append(cost)
        for method, (r, lr) in row.items():
            ratios.setdefault(method, []).append((r, label, lr))
        if args.verbose:
            print(
                label,
                " ".join(f"{m}={r:.3f}@{lr:.2g}" for m, (r, lr) in row.items()),
                f"cost={cost:.2f}",
                flush=True,
            )
    if args.dump:
        import json

        with open(args.dump, "w") as f:
            json.dump({"grid": GRID.tolist(), "cases": dump}, f)
    rows = []
    for method, values in ratios.items():
        if method == "grid best":
            continue
        worst = min(values)
        rows.append(
            [
                method,
                f"{statistics.mean(v[0] for v in values):.3f}",
                f"{worst[0]:.3f}",
                worst[1],
            ]
        )
    print_table(
        f"Suggestion / best of a {len(GRID)}-point grid, {len(costs)} cases, "
        f"{BUDGET_STEPS} steps of batch {BATCH}, backend="
        f"{keras.backend.backend()}, keras {keras.__version__}, {machine()}",
        ["method", "mean ratio", "worst ratio", "worst case"],
        rows,
    )
    print(
        f"find_lr / one training run: median {statistics.median(costs):.2f}, "
        f"max {max(costs):.2f}"
    )


if __name__ == "__main__":
    main()
