"""How good is the finder's number? Each suggestion vs a grid search.

Run for one backend:  KERAS_BACKEND=jax python benchmarks/bench_suggestion.py
(`--quick` runs a quarter of the cases; `--no-schedules` skips the one-cycle
and cyclical rows; `--datasets diabetes` a subset; `--verbose` one line per
case; `--dump FILE` each case's grid and curves as JSON).

Two reference rows that are not the finder: `--validation-grid` adds "grid by
validation", a 12-run grid search as it is done without the test split (each
rate trained on 80% of the training data, the best on the other 20% picked),
which says how much of a worst case is the test split's noise; `--folds K`
scores every case by K-fold cross-validation (each score and each grid point
the mean over K train/test splits, the finder run on each split's training
data) instead of the single 75/25 split.

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
import contextlib
import functools
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
from sklearn import datasets  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from keras_lrx import LRX  # noqa: E402
from keras_lrx import find_lr  # noqa: E402
from keras_lrx.suggestions import SUGGESTERS  # noqa: E402

BATCH = 32
BUDGET_STEPS = 160
GRID = 10.0 ** np.linspace(-5.0, 0.5, 12)  # 1e-5 ... 3.16, half a decade
OPTIMIZERS = {
    "Adam": lambda: keras.optimizers.Adam(1e-3),
    "AdamW": lambda: keras.optimizers.AdamW(1e-3),
    "SGD-m": lambda: keras.optimizers.SGD(1e-2, momentum=0.9),
    # only in the held-out cases:
    "Nadam": lambda: keras.optimizers.Nadam(1e-3),
    "RMSprop": lambda: keras.optimizers.RMSprop(1e-3),
    "Lion": lambda: keras.optimizers.Lion(1e-4),
    "SGD-nesterov": lambda: keras.optimizers.SGD(
        1e-2, momentum=0.9, nesterov=True
    ),
}
SHAPES = {"64-64": (64, 64), "256": (256,), "128": (128,), "32x3": (32,) * 3}
SEEDS = (0, 1)
#: Fine-tuning: epochs over the small target set (8-10 batches each).
FINETUNE_EPOCHS = 10


def _synthetic(name):
    """Held-out data sets made by scikit-learn's generators (offline)."""
    if name == "make_classification":
        return datasets.make_classification(
            n_samples=800,
            n_features=20,
            n_informative=8,
            n_classes=3,
            random_state=3,
        )
    return datasets.make_friedman1(n_samples=600, noise=1.0, random_state=3)


def load(name, fold=0, folds=1):
    """(x_train, x_test, y_train, y_test, classes): standardized, split.

    `folds=1` is the benchmark's single 75/25 split; `folds=K` the `fold`-th
    split of a shuffled K-fold cross-validation (each sample is a test
    sample in exactly one fold).
    """
    if name.startswith("make_"):
        x, y = _synthetic(name)
    else:
        x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    x = x.astype("float32")
    regression = name in REGRESSION
    if regression:
        y = ((y - y.mean()) / y.std()).astype("float32").reshape(-1, 1)
    if folds == 1:
        x_tr, x_te, y_tr, y_te = train_test_split(
            x, y, test_size=0.25, random_state=0
        )
    else:
        splits = KFold(folds, shuffle=True, random_state=0).split(x)
        train, test = list(splits)[fold]
        x_tr, x_te, y_tr, y_te = x[train], x[test], y[train], y[test]
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-8
    classes = None if regression else int(y.max()) + 1
    return (x_tr - mean) / std, (x_te - mean) / std, y_tr, y_te, classes


def _mlp(data, optimizer, shape, seed):
    """From scratch: a fresh MLP and a plain optimizer."""
    x, classes = data[0], data[4]
    keras.utils.set_random_seed(seed)
    layers = [keras.Input(x.shape[1:])]
    layers += [keras.layers.Dense(u, activation="relu") for u in shape]
    layers.append(keras.layers.Dense(1 if classes is None else classes))
    return keras.Sequential(layers), OPTIMIZERS[optimizer]()


def _finetune(task, optimizer, multiplier, seed):
    """Fine-tuning: a pretrained body at `multiplier` (LRX), a fresh head."""

    def build(data):
        model, body = task.model(seed)
        inner = OPTIMIZERS[optimizer]()
        return model, LRX(inner, multipliers={body: multiplier})

    return build


class Case:
    """One model, compiled once; every run starts from the same state.

    `build(data)` returns a fresh `(model, optimizer)`; `epochs` is the
    training budget (None: `BUDGET_STEPS` batches).
    """

    def __init__(self, data, build, seed, epochs=None):
        self.x, self.x_test, self.y, self.y_test, classes = data
        self.seed = seed
        self.build = build
        self._epochs = epochs
        if classes is None:
            self.loss, self.metric = "mse", "mse"
        else:
            self.loss = keras.losses.SparseCategoricalCrossentropy(
                from_logits=True
            )
            self.metric = "accuracy"
        self.model, self.optimizer = build(data)
        self.data = data
        self.model.compile(self.optimizer, self.loss, metrics=[self.metric])
        self.optimizer.build(self.model.trainable_variables)
        self.variables = list(self.model.variables) + list(
            self.optimizer.variables
        )
        self.initial = [np.array(v.numpy()) for v in self.variables]

    @property
    def epochs(self):
        """Epochs of the budget: `BUDGET_STEPS` batches, rounded up."""
        if self._epochs is not None:
            return self._epochs
        return -(-BUDGET_STEPS // -(-len(self.y) // BATCH))

    @contextlib.contextmanager
    def validation_split(self, fraction=0.2):
        """Within: trains on `1 - fraction` of the training data, scores on
        the rest (the test split is not used)."""
        kept = self.x, self.y, self.x_test, self.y_test
        train, held = train_test_split(
            np.arange(len(self.y)), test_size=fraction, random_state=0
        )
        self.x, self.y = _take(kept[:2], train)
        self.x_test, self.y_test = _take(kept[:2], held)
        try:
            yield
        finally:
            self.x, self.y, self.x_test, self.y_test = kept

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
            self.optimizer.learning_rate = float(learning_rate)
        synchronize()
        start = time.perf_counter()
        model.fit(
            self.x, self.y, batch_size=BATCH, epochs=self.epochs, verbose=0
        )
        synchronize()
        seconds = time.perf_counter() - start
        logs = model.evaluate(
            self.x_test, self.y_test, batch_size=256, verbose=0, return_dict=1
        )
        value = float(logs[self.metric if self.metric != "mse" else "loss"])
        return (value if np.isfinite(value) else np.nan), seconds

    def fresh_fit_seconds(self):
        """Seconds of one training run as a user runs it: compile, then fit."""
        self.reset()
        model, optimizer = self.build(self.data)
        model.set_weights(self.model.get_weights())
        model.compile(optimizer, self.loss, metrics=[self.metric])
        synchronize()
        start = time.perf_counter()
        model.fit(
            self.x, self.y, batch_size=BATCH, epochs=self.epochs, verbose=0
        )
        synchronize()
        return time.perf_counter() - start

    def find(self):
        self.reset()
        synchronize()
        start = time.perf_counter()
        result = find_lr(
            self.model, self.x, self.y, batch_size=BATCH, verbose=0
        )
        synchronize()
        return result, time.perf_counter() - start

    def ratio(self, value, best):
        if not np.isfinite(value):
            return 0.0
        return best / value if self.metric == "mse" else value / best


def _take(arrays, index):
    """Rows `index` of each array (also of dicts of arrays: token inputs)."""
    return keras.tree.map_structure(lambda a: np.asarray(a)[index], arrays)


def best_of(case, values):
    finite = [v for v in values if np.isfinite(v)]
    if case.metric == "mse":
        return min(finite)
    return max(finite)


class Fold:
    """Every score of one fold's runs (one train/test split)."""

    def __init__(self, case, schedules, validation_grid):
        #: the held-out score at each constant rate of GRID
        self.grid = [case.score(lr)[0] for lr in GRID]
        #: the same for OneCycle at each peak of GRID (with schedules)
        self.peaks = None
        #: {method or schedule: (held-out score, its learning rate)}
        self.scores = {}
        self.result, find_seconds = case.find()
        self._suggestions(case)
        if validation_grid:
            self._validation_grid(case)
        if schedules:
            self.peaks, rows = schedule_scores(case, self.result)
            self.scores.update(rows)
        #: find_lr's seconds / one training run's
        self.cost = find_seconds / case.fresh_fit_seconds()

    def _suggestions(self, case):
        for method in METHODS:
            try:
                if method == "default":  # the probes' pick, or "descent"
                    lr = self.result.suggested_learning_rate
                else:
                    lr = self.result.suggest(method)
            except ValueError:
                self.scores[method] = (np.nan, np.nan)
                continue
            self.scores[method] = (case.score(lr)[0], lr)

    def _validation_grid(self, case):
        """A 12-run grid search done as it is without a test split.

        Each rate is trained on 80% of the training data and scored on the
        other 20%; the best of those is the pick, scored as trained on all
        of the training data (its grid point).
        """
        with case.validation_split():
            picks = [case.score(lr)[0] for lr in GRID]
        i = best_index(case, picks)
        self.scores["grid by validation"] = (self.grid[i], float(GRID[i]))


def best_index(case, values):
    values = np.asarray(values, dtype="float64")
    if case.metric == "mse":
        return int(np.nanargmin(values))
    return int(np.nanargmax(values))


def _mean(values):
    """Mean over folds; NaN (a diverged run) if any fold is NaN."""
    values = np.asarray(values, dtype="float64")
    return float(values.mean()) if np.all(np.isfinite(values)) else np.nan


def _geomean(rates):
    rates = np.asarray(rates, dtype="float64")
    rates = rates[np.isfinite(rates)]
    return float(np.exp(np.log(rates).mean())) if rates.size else np.nan


def run_case(fold_cases, schedules, validation_grid, dump, label):
    """Ratios of every method (and schedule) for one case, and the costs.

    With several folds each score is the mean over the folds (each fold's
    own finder run and suggestion), and so is each grid point's, so the
    ratio compares the cross-validated score at the suggestion with the best
    cross-validated grid point.
    """
    folds = [Fold(c, schedules, validation_grid) for c in fold_cases]
    case = fold_cases[0]
    grid = [_mean(values) for values in zip(*(f.grid for f in folds))]
    best = best_of(case, grid)
    dump[label] = {
        "grid": [case.ratio(v, best) for v in grid],
        "results": [f.result.to_dict() for f in folds],
    }
    row = {}
    for name in folds[0].scores:
        values, rates = zip(*(f.scores[name] for f in folds))
        reference = best
        if name == "one_cycle":  # against the grid of one-cycle peaks
            peaks = zip(*(f.peaks for f in folds))
            reference = best_of(case, [_mean(v) for v in peaks])
        row[name] = (case.ratio(_mean(values), reference), _geomean(rates))
    row["grid best"] = (1.0, float(GRID[best_index(case, grid)]))
    return row, [f.cost for f in folds]


def schedule_scores(case, result):
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
    scores = {}
    try:
        one_cycle = result.to_schedule("one_cycle", total_steps=total)
        value = case.score(optimizer=optimizer(one_cycle))[0]
        scores["one_cycle"] = (value, one_cycle.max_learning_rate)
    except ValueError:
        scores["one_cycle"] = (np.nan, np.nan)
    try:
        cyclical = result.to_schedule("cyclical", total_steps=total)
        value = case.score(optimizer=optimizer(cyclical))[0]
        scores["cyclical"] = (value, cyclical.max_learning_rate)
    except ValueError:
        scores["cyclical"] = (np.nan, np.nan)
    return peaks, scores


#: "default" is find_lr's `suggested_learning_rate` (the probes' pick; the
#: "descent" reading where no probes ran); the others read the curve.
METHODS = ("default", *SUGGESTERS)
DATASETS = ("digits", "breast_cancer", "wine", "diabetes")
REGRESSION = ("diabetes", "make_friedman1")

#: The case sets. "chosen": the cases the default's constants were picked
#: on; "held-out": cases of other data, shapes, models and optimizers that
#: were run only after the choice, to judge it.
SETS = {
    ("scratch", "chosen"): {
        "datasets": DATASETS,
        "optimizers": ("Adam", "AdamW", "SGD-m"),
        "shapes": ("64-64", "256"),
    },
    ("scratch", "held-out"): {
        "datasets": ("make_classification", "make_friedman1"),
        "optimizers": ("Nadam", "RMSprop", "Lion"),
        "shapes": ("128", "32x3"),
    },
    ("finetune", "chosen"): {
        "tasks": ("digits_mlp", "tokens_embedding"),
        "optimizers": ("Adam", "AdamW", "SGD-m"),
        "multipliers": (0.1, 0.3),
    },
    ("finetune", "held-out"): {
        "tasks": ("digits_conv_shift", "bert_tiny"),
        "optimizers": ("Nadam", "RMSprop", "SGD-nesterov"),
        "multipliers": (0.1, 0.3),
    },
}


def _scratch_cases(spec, quick, datasets, folds):
    for name in spec["datasets"]:
        if datasets is not None and name not in datasets:
            continue
        data = [load(name, fold, folds) for fold in range(folds)]
        for opt in spec["optimizers"]:
            for i, shape in enumerate(spec["shapes"]):
                for seed in SEEDS[:1] if quick else SEEDS:
                    if quick and i:
                        continue
                    build = functools.partial(
                        _mlp, optimizer=opt, shape=SHAPES[shape], seed=seed
                    )
                    yield (
                        f"{name}/{opt}/{shape}/s{seed}",
                        [(d, build, seed) for d in data],
                    )


def _finetune_cases(spec, quick, tasks):
    from _transfer import TASKS

    for name in spec["tasks"]:
        if tasks is not None and name not in tasks:
            continue
        task = TASKS[name]()
        for opt in spec["optimizers"]:
            for i, m in enumerate(spec["multipliers"]):
                for seed in SEEDS[:1] if quick else SEEDS:
                    if quick and i:
                        continue
                    build = _finetune(task, opt, m, seed)
                    yield (
                        f"{name}/{opt}/body{m:g}x/s{seed}",
                        [(task.data(seed), build, seed, FINETUNE_EPOCHS)],
                    )


def cases(quick, datasets=None, folds=1, sets=(("scratch", "chosen"),)):
    """(set, label, [Case spec per fold]) for every case of `sets`."""
    for key in sets:
        spec = SETS[key]
        if key[0] == "scratch":
            found = _scratch_cases(spec, quick, datasets, folds)
        else:
            found = _finetune_cases(spec, quick, datasets)
        for label, specs in found:
            yield key, label, specs


SET_NAMES = {f"{regime}-{part}": (regime, part) for regime, part in SETS}


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-schedules", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--dump", help="write each case's grid and curve")
    parser.add_argument(
        "--sets",
        default=",".join(SET_NAMES),
        help="comma-separated subset of " + ",".join(SET_NAMES),
    )
    parser.add_argument(
        "--datasets",
        default=None,
        help="comma-separated data sets or fine-tuning tasks to keep "
        "(default: every one of the chosen sets)",
    )
    parser.add_argument(
        "--folds",
        type=int,
        default=1,
        help="score each case by K-fold cross-validation (default 1: the "
        "single 75/25 split; from-scratch cases only)",
    )
    parser.add_argument(
        "--validation-grid",
        action="store_true",
        help="add the row of a 12-run grid search picked on a validation "
        "split of the training data",
    )
    args = parser.parse_args(argv)
    sets = [n for n in args.sets.split(",") if n]
    if not sets or set(sets) - set(SET_NAMES):
        parser.error(f"--sets: each one of {list(SET_NAMES)}; got {sets}")
    names = None
    if args.datasets is not None:
        names = [n for n in args.datasets.split(",") if n]
    if args.folds < 1:
        parser.error(f"--folds must be >= 1; got {args.folds}")
    ratios, costs, dump = {}, {}, {}
    found = cases(args.quick, names, args.folds, [SET_NAMES[n] for n in sets])
    for key, label, specs in found:
        scratch = key[0] == "scratch"
        row, case_costs = run_case(
            [Case(*spec) for spec in specs],
            scratch and not args.no_schedules,
            args.validation_grid,
            dump,
            label,
        )
        costs.setdefault(key, []).extend(case_costs)
        cost = statistics.median(case_costs)
        for method, (r, lr) in row.items():
            ratios.setdefault(key, {}).setdefault(method, []).append(
                (r, label, lr)
            )
        if args.verbose:
            print(
                "-".join(key),
                label,
                " ".join(f"{m}={r:.3f}@{lr:.2g}" for m, (r, lr) in row.items()),
                f"cost={cost:.2f}",
                flush=True,
            )
    if args.dump:
        import json

        with open(args.dump, "w") as f:
            json.dump({"grid": GRID.tolist(), "cases": dump}, f)
    for key, by_method in ratios.items():
        _print_set(key, by_method, costs[key], args.folds)


def _print_set(key, by_method, costs, folds):
    rows = []
    for method, values in by_method.items():
        if method == "grid best":
            continue
        worst = min(values)
        name = "default (probes)" if method == "default" else method
        rows.append(
            [
                name,
                f"{statistics.mean(v[0] for v in values):.3f}",
                f"{worst[0]:.3f}",
                worst[1],
            ]
        )
    folds = "" if folds == 1 else f" ({folds}-fold cross-validated)"
    n_cases = len(by_method["grid best"])
    budget = (
        f"{BUDGET_STEPS} steps"
        if key[0] == "scratch"
        else f"{FINETUNE_EPOCHS} epochs"
    )
    print_table(
        f"{key[0]} ({key[1]} cases): suggestion / best of a {len(GRID)}-point "
        f"grid, {n_cases} cases{folds}, {budget} of batch {BATCH}, backend="
        f"{keras.backend.backend()}, keras {keras.__version__}, {machine()}",
        ["method", "mean ratio", "worst ratio", "worst case"],
        rows,
    )
    print(
        f"find_lr / one training run ({len(costs)} runs): median "
        f"{statistics.median(costs):.2f}, "
        f"max {max(costs):.2f}"
    )


if __name__ == "__main__":
    main()
