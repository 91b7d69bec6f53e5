"""How good is the finder's number? Each suggestion vs a tuned grid.

Run for one backend:

    KERAS_BACKEND=jax python benchmarks/bench_suggestion.py --out s-jax.json
    python benchmarks/bench_suggestion.py --summary s-jax.json s-tf.json ...
    python benchmarks/bench_suggestion.py --report s-jax.json   (per set)
    python benchmarks/bench_suggestion.py --choose s-jax.json   (the rule)
    KERAS_BACKEND=jax python benchmarks/bench_suggestion.py --cost

(`--sets`, `--datasets` and `--labels` pick a subset; `--quick` one seed
or fold per case; `--no-ladder` skips the runs the rule is chosen from;
the JSON is written after every fold and a rerun with the same `--out`
resumes, adding what is missing -- e.g. the run-length rows of a record
made with `--no-run-length`; `--cost` times `find_lr` against runs of
2,000 steps.)

**The yardstick.** What a user compares the finder with is a tuning run
done properly: a 12-rate grid (`GRID`, 1e-5 ... 3.16, half a decade apart)
each trained for the whole run on 80% of the training data, the one best on
the other 20% picked -- "grid by validation", twelve runs and no look at the
test split. Each case's score at a rate is the held-out score after the
run, **averaged over three seeds or folds** (`FOLDS`): from scratch, three
folds of a shuffled cross-validation (every example a test example once;
fold k also draws the initial weights with seed k), fine-tuning, three seeds
(each its own pretrained body, labelled examples and test split). Data sets
are large enough that one test example is under half a point of accuracy
(the smallest, breast_cancer, 569 examples: 0.18; scikit-learn's `wine` --
178, 0.56 -- is replaced by a larger set of its family). Per case:

    ratio = score(suggestion) / score(grid by validation)   (accuracy)
    ratio = MSE(grid by validation) / MSE(suggestion)        (regression)

each score the mean over the three; 1 means "as good as twelve runs tuned
on validation data". Also printed: the ratio to the best grid point (the
best of twelve test scores, the old, optimistic reference) and the seed
spread -- the median over cases of the standard deviation of the per-seed
ratio to the validation grid, what one case can resolve.

**The run.** Every rate trains for a run of `LENGTHS` steps (40, 160, 640;
from one run, scored at each length: a constant rate's first 160 steps are
the 160-step run), so each table is printed per run length, and
`find_lr(..., for_steps=...)` (the run described) is scored at its own
rate for each length. The 160-step run is the one the default was chosen
for. `LADDER` adds the default's rate times 10^(k/2), k = -2, -1, 1, 2 at
every length: the data a run-length rule is chosen from (on the chosen sets
only; `--choose` searches it, the held-out sets judge it).

Sets (`SETS`): "chosen" cases are those the default's and the run-length
rule's constants were picked on; "held-out" cases (other data, models,
shapes and optimizers) were run to judge them.
"""

import argparse
import contextlib
import functools
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
from sklearn import datasets  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from keras_lrx import LRX  # noqa: E402
from keras_lrx import LRFinderResult  # noqa: E402
from keras_lrx import find_lr  # noqa: E402

BATCH = 32
#: The length of the run the default was chosen for (from scratch).
BUDGET_STEPS = 160
#: Run lengths every rate is scored at (steps; a case's runs end at the
#: first epoch boundary at or past each).
LENGTHS = (40, 160, 640)
GRID = 10.0 ** np.linspace(-5.0, 0.5, 12)  # 1e-5 ... 3.16, half a decade
#: Half-decades around the default's rate also trained (the run-length
#: rule's search space): default * 10**(k / 2).
LADDER = (-2, -1, 1, 2)
#: Seeds (fine-tuning) or folds (from scratch) every score is averaged over.
FOLDS = 3
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
#: Fine-tuning: epochs over the small target set (8-10 batches each), for
#: `study_probes.py`'s records (the yardstick runs `LENGTHS` steps).
FINETUNE_EPOCHS = 10


def _synthetic(name):
    """Data sets made by scikit-learn's generators (offline)."""
    if name == "make_classification":  # held out
        return datasets.make_classification(
            n_samples=800,
            n_features=20,
            n_informative=8,
            n_classes=3,
            random_state=3,
        )
    if name == "make_classification_13":  # chosen, in place of wine
        return datasets.make_classification(
            n_samples=1500,
            n_features=13,
            n_informative=6,
            n_redundant=3,
            n_classes=3,
            class_sep=0.8,
            random_state=11,
        )
    return datasets.make_friedman1(n_samples=600, noise=1.0, random_state=3)


def load(name, fold=0, folds=1):
    """(x_train, x_test, y_train, y_test, classes): standardized, split.

    `folds=1` is a single 75/25 split; `folds=K` the `fold`-th split of a
    shuffled K-fold cross-validation (each sample is a test sample in
    exactly one fold).
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

    @property
    def steps_per_epoch(self):
        return -(-len(self.y) // BATCH)

    def run_steps(self, lengths=LENGTHS):
        """The steps a run of each length takes: whole epochs, at least it."""
        spe = self.steps_per_epoch
        return [-(-length // spe) * spe for length in lengths]

    def trajectory(self, learning_rate, lengths=LENGTHS):
        """Held-out score after a run of each of `lengths` steps at a
        constant `learning_rate` (one run, scored as it passes each
        length; NaN from a diverged one on)."""
        self.reset()
        self.optimizer.learning_rate = float(learning_rate)
        spe, done, scores = self.steps_per_epoch, 0, []
        for length in lengths:
            epochs = -(-length // spe)
            if scores and not np.isfinite(scores[-1]):
                scores.append(np.nan)
                continue
            if epochs > done:
                self.model.fit(
                    self.x,
                    self.y,
                    batch_size=BATCH,
                    epochs=epochs,
                    initial_epoch=done,
                    verbose=0,
                )
                done = epochs
            logs = self.model.evaluate(
                self.x_test,
                self.y_test,
                batch_size=256,
                verbose=0,
                return_dict=True,
            )
            value = float(logs[self.metric if self.metric != "mse" else "loss"])
            scores.append(value if np.isfinite(value) else np.nan)
        return scores

    def fresh_fit_seconds(self, steps=None):
        """Seconds of one training run as a user runs it: compile, then fit
        (the budget's epochs, or `steps` steps in whole epochs)."""
        self.reset()
        model, optimizer = self.build(self.data)
        model.set_weights(self.model.get_weights())
        model.compile(optimizer, self.loss, metrics=[self.metric])
        epochs = self.epochs
        if steps is not None:
            epochs = -(-steps // self.steps_per_epoch)
        synchronize()
        start = time.perf_counter()
        model.fit(self.x, self.y, batch_size=BATCH, epochs=epochs, verbose=0)
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


def best_index(case, values):
    values = np.asarray(values, dtype="float64")
    if case.metric == "mse":
        return int(np.nanargmin(values))
    return int(np.nanargmax(values))


def best_of(case, values):
    finite = [v for v in values if np.isfinite(v)]
    if case.metric == "mse":
        return min(finite)
    return max(finite)


DATASETS = ("digits", "breast_cancer", "make_classification_13", "diabetes")
REGRESSION = ("diabetes", "make_friedman1")

#: The case sets. "chosen": the cases the default's constants and the
#: run-length rule were picked on; "held-out": cases of other data, shapes,
#: models and optimizers, run to judge them. Each optimizer comes with its
#: own shape (from scratch) or body multiplier (fine-tuning), in order.
SETS = {
    ("scratch", "chosen"): {
        "datasets": DATASETS,
        "optimizers": ("Adam", "SGD-m"),
        "shapes": ("64-64", "64-64"),
    },
    ("scratch", "held-out"): {
        "datasets": ("make_classification", "make_friedman1"),
        "optimizers": ("Nadam", "RMSprop", "Lion"),
        "shapes": ("128", "32x3", "128"),
    },
    ("finetune", "chosen"): {
        "tasks": ("digits_mlp", "tokens_embedding"),
        "optimizers": ("Adam", "SGD-m"),
        "multipliers": (0.1, 0.3),
    },
    ("finetune", "held-out"): {
        "tasks": ("digits_conv_shift", "bert_tiny"),
        "optimizers": ("Nadam", "SGD-nesterov"),
        "multipliers": (0.1, 0.3),
    },
}


def _scratch_cases(spec, quick, datasets, folds):
    for name in spec["datasets"]:
        if datasets is not None and name not in datasets:
            continue
        data = [load(name, fold, folds) for fold in range(folds)]
        for opt, shape in zip(spec["optimizers"], spec["shapes"]):
            specs = []
            for fold, d in enumerate(data[:1] if quick else data):
                build = functools.partial(
                    _mlp, optimizer=opt, shape=SHAPES[shape], seed=fold
                )
                specs.append((d, build, fold))
            yield f"{name}/{opt}/{shape}", specs


def _finetune_cases(spec, quick, tasks, seeds):
    from _transfer import TASKS

    for name in spec["tasks"]:
        if tasks is not None and name not in tasks:
            continue
        task = TASKS[name]()
        for opt, m in zip(spec["optimizers"], spec["multipliers"]):
            specs = [
                (
                    task.data(seed),
                    _finetune(task, opt, m, seed),
                    seed,
                    FINETUNE_EPOCHS,
                )
                for seed in (seeds[:1] if quick else seeds)
            ]
            yield f"{name}/{opt}/body{m:g}x", specs


def cases(quick, datasets=None, folds=FOLDS, sets=(("scratch", "chosen"),)):
    """(set, label, [Case arguments per fold or seed]) for every case."""
    for key in sets:
        spec = SETS[key]
        if key[0] == "scratch":
            found = _scratch_cases(spec, quick, datasets, folds)
        else:
            found = _finetune_cases(spec, quick, datasets, range(folds))
        for label, specs in found:
            yield key, label, specs


SET_NAMES = {f"{regime}-{part}": (regime, part) for regime, part in SETS}


# ---------------------------------------------------------------------------
# Recording: everything a table (and a run-length rule) needs, per fold.
# ---------------------------------------------------------------------------


def _rate_of(result, method):
    try:
        return float(result.suggest(method))
    except ValueError:
        return float(result.suggested_learning_rate)


def record_fold(case, ladder=True):
    """One fold's (or seed's) runs, as plain JSON (`ladder`: also the
    default's rate times each `LADDER` half-decade)."""
    result, seconds = case.find()
    default = float(result.suggested_learning_rate)
    rec = {
        "metric": case.metric,
        "steps": case.run_steps(),
        "finder": result.to_dict(),
        "find_seconds": seconds,
        "grid": [case.trajectory(lr) for lr in GRID],
        "rates": {"default": default, "descent": _rate_of(result, "descent")},
    }
    with case.validation_split():
        rec["validation"] = [case.trajectory(lr) for lr in GRID]
    rec["runs"] = {"default": case.trajectory(default)}
    if rec["rates"]["descent"] == default:
        rec["runs"]["descent"] = rec["runs"]["default"]
    else:
        rec["runs"]["descent"] = case.trajectory(rec["rates"]["descent"])
    rec["ladder"] = {
        str(k): case.trajectory(default * 10 ** (k / 2))
        for k in (LADDER if ladder else ())
    }
    rec["fit_seconds"] = case.fresh_fit_seconds(BUDGET_STEPS)
    return rec


def run_length_runs(case, rec):
    """The run described: `find_lr`'s result read for each run's length
    (`suggest(for_steps=...)`), trained for that run."""
    result = LRFinderResult.from_dict(rec["finder"])
    rates, scores = [], []
    for i, steps in enumerate(rec["steps"]):
        rate = float(result.suggest(for_steps=steps))
        rates.append(rate)
        if math.isclose(rate, rec["rates"]["default"], rel_tol=1e-9):
            scores.append(rec["runs"]["default"][i])
        else:
            scores.append(case.trajectory(rate, LENGTHS[i : i + 1])[0])
    rec["rates"]["for_steps"] = rates
    rec["runs"]["for_steps"] = scores


def record(args):
    sets = [SET_NAMES[n] for n in args.sets.split(",") if n]
    names = args.datasets.split(",") if args.datasets else None
    out = {"cases": {}}
    if os.path.exists(args.out):
        with open(args.out) as f:
            out = json.load(f)
    out.update(
        backend=keras.backend.backend(),
        keras=keras.__version__,
        machine=machine(),
        grid=GRID.tolist(),
        lengths=list(LENGTHS),
        ladder=list(LADDER),
    )
    labels = args.labels.split(",") if args.labels else None
    for key, label, specs in cases(args.quick, names, FOLDS, sets):
        if labels is not None and label not in labels:
            continue
        entry = out["cases"].setdefault(
            label, {"set": "-".join(key), "folds": []}
        )
        for i, spec in enumerate(specs):
            start = time.perf_counter()
            case = None
            if i >= len(entry["folds"]):
                case = Case(*spec)
                entry["folds"].append(record_fold(case, args.ladder))
            rec = entry["folds"][i]
            if args.run_length and "for_steps" not in rec["runs"]:
                run_length_runs(case or Case(*spec), rec)
            elif case is None:
                continue
            with open(args.out, "w") as f:
                json.dump(out, f)
            print(
                entry["set"],
                label,
                f"fold {i}",
                f"{time.perf_counter() - start:.0f}s",
                flush=True,
            )


# ---------------------------------------------------------------------------
# Reporting.
# ---------------------------------------------------------------------------


def _better(metric, a, b):
    """Ratio of score `a` to reference `b` (higher is better), 0 if `a`
    diverged."""
    if not np.isfinite(a):
        return 0.0
    return b / a if metric == "mse" else a / b


def _pick(metric, values):
    values = np.asarray(values, dtype="float64")
    if np.all(~np.isfinite(values)):
        return 0
    return int(
        np.nanargmin(values) if metric == "mse" else np.nanargmax(values)
    )


def _mean(values):
    values = np.asarray(values, dtype="float64")
    return float(values.mean()) if np.all(np.isfinite(values)) else np.nan


def case_scores(entry, i, method_scores):
    """Per-fold scores at length index `i`: the validation grid's, the grid
    (mean over folds per rate), and each method's (`method_scores(rec, i)`
    -> {name: score})."""
    folds = entry["folds"]
    metric = folds[0]["metric"]
    validated = []
    for rec in folds:
        pick = _pick(metric, [v[i] for v in rec["validation"]])
        validated.append(rec["grid"][pick][i])
    grid = [
        _mean([rec["grid"][r][i] for rec in folds]) for r in range(len(GRID))
    ]
    best = grid[_pick(metric, grid)]
    methods = {}
    for rec in folds:
        for name, value in method_scores(rec, i).items():
            methods.setdefault(name, []).append(value)
    return metric, validated, best, methods


def _recorded(rec, i):
    return {name: run[i] for name, run in rec["runs"].items()}


def table_rows(data, set_name, i, method_scores=_recorded):
    """{method: (ratios to validation grid, ratios to best grid point,
    per-case seed spreads, worst case)} over the set's cases."""
    rows = {}
    for label, entry in data["cases"].items():
        if entry["set"] != set_name or not entry["folds"]:
            continue
        metric, validated, best, methods = case_scores(entry, i, method_scores)
        reference = _mean(validated)
        methods = {"grid by validation": validated, **methods}
        for name, values in methods.items():
            row = rows.setdefault(name, ([], [], [], []))
            row[0].append((_better(metric, _mean(values), reference), label))
            row[1].append(_better(metric, _mean(values), best))
            per_fold = [
                _better(metric, v, r) for v, r in zip(values, validated)
            ]
            row[2].append(float(np.std(per_fold)) if len(per_fold) > 1 else 0)
    return rows


NAMES = {
    "default": "default (`find_lr`)",
    "descent": '"descent" (`probe=False`)',
    "for_steps": "run described (`for_steps=`)",
}


def _load(path):
    with open(path) as f:
        return json.load(f)


def _set_tables(data):
    """(set name, run length, `table_rows`) for every set and run length of
    a record that has cases."""
    for set_name in SET_NAMES:
        for i, length in enumerate(data["lengths"]):
            rows = table_rows(data, set_name, i)
            if rows:
                yield set_name, length, rows


def report(paths):
    for path in paths:
        data = _load(path)
        for set_name, length, rows in _set_tables(data):
            n = len(rows["grid by validation"][0])
            folds = max(
                len(e["folds"])
                for e in data["cases"].values()
                if e["set"] == set_name
            )
            table = []
            for name, (vs, bests, spreads, _) in rows.items():
                worst = min(vs)
                table.append(
                    [
                        NAMES.get(name, name),
                        f"{statistics.mean(v for v, _ in vs):.3f}",
                        f"{worst[0]:.3f}",
                        worst[1],
                        f"{statistics.mean(bests):.3f} / {min(bests):.3f}",
                        f"{statistics.median(spreads):.3f}",
                    ]
                )
            print_table(
                f"{set_name}, {n} cases x {folds}, run of {length} steps"
                f" -- backend={data['backend']}, keras {data['keras']}",
                [
                    "suggestion",
                    "mean / grid by validation",
                    "worst",
                    "worst case",
                    "vs best grid point (mean / worst)",
                    "seed spread",
                ],
                table,
            )
        _print_costs(data)


def summary(paths):
    """One compact table: every backend, set and run length in a row, each
    suggestion's mean / worst ratio to the grid by validation."""
    rows = []
    for path in paths:
        data = _load(path)
        for set_name, length, found in _set_tables(data):
            cells = []
            for name in ("default", "for_steps", "descent"):
                if name not in found:
                    cells.append("")
                    continue
                values = [v for v, _ in found[name][0]]
                cells.append(
                    f"{statistics.mean(values):.3f} / {min(values):.3f}"
                )
            spread = statistics.median(found["default"][2])
            best = found["grid by validation"][1]
            rows.append(
                [
                    data["backend"],
                    f"{set_name} ({len(found['default'][0])})",
                    str(length),
                    *cells,
                    f"{statistics.mean(best):.3f} / {min(best):.3f}",
                    f"{spread:.3f}",
                ]
            )
    print_table(
        "mean / worst ratio to a 12-run grid picked on validation data "
        "(cases x 3 seeds or folds)",
        [
            "backend",
            "set (cases)",
            "run (steps)",
            NAMES["default"],
            NAMES["for_steps"],
            NAMES["descent"],
            "grid by validation / best grid point",
            "seed spread (default)",
        ],
        rows,
    )


def _print_costs(data):
    costs = [
        rec["find_seconds"] / rec["fit_seconds"]
        for entry in data["cases"].values()
        for rec in entry["folds"]
    ]
    if costs:
        print(
            f"find_lr / one {BUDGET_STEPS}-step run ({len(costs)} runs, "
            f"{data['backend']}): median {statistics.median(costs):.2f}, "
            f"max {max(costs):.2f}"
        )


# ---------------------------------------------------------------------------
# Choosing a run-length rule (chosen sets only).
# ---------------------------------------------------------------------------


def _ladder_score(rec, i, log_factor):
    """The test score at default * 10**log_factor after run `i`, linear in
    log-rate between the ladder's half-decades (a diverged neighbour wins
    when nearer); NaN outside the ladder."""
    points = {0.0: rec["runs"]["default"][i]}
    for k, run in rec["ladder"].items():
        points[int(k) / 2] = run[i]
    xs = sorted(points)
    f = log_factor
    if f < xs[0] - 1e-9 or f > xs[-1] + 1e-9:
        return np.nan
    f = min(max(f, xs[0]), xs[-1])
    hi = next(x for x in xs if x >= f)
    lo = max(x for x in xs if x <= f)
    if hi == lo:
        return points[lo]
    w = (f - lo) / (hi - lo)
    a, b = points[lo], points[hi]
    if not np.isfinite(a) or not np.isfinite(b):
        return a if w < 0.5 else b
    return (1 - w) * a + w * b


def _above_reading(rec):
    result = LRFinderResult.from_dict(rec["finder"])
    if result.probes is None:
        return False
    lowest = min(result.probes["learning_rates"])
    return result.suggested_learning_rate > lowest * (1 + 1e-9)


def choose(paths, sets=("scratch-chosen", "finetune-chosen")):
    """The run-length rule's exponents (and, to see what a default change
    would buy, a constant factor per regime), searched on `sets`: the
    variant with the best worst case over the sets' cases at every length
    (mean as the tie-break), among those the ladder covers."""
    folds = []  # (case key, length index, above, steps, validated, rec)
    for path in paths:
        data = _load(path)
        for label, entry in data["cases"].items():
            if entry["set"] not in sets or not entry["folds"]:
                continue
            for i in range(len(data["lengths"])):
                metric, validated, _, _ = case_scores(entry, i, _recorded)
                for rec, v in zip(entry["folds"], validated):
                    key = (path, label, i, metric)
                    folds.append((key, i, _above_reading(rec), rec, v))
    exponents = np.round(np.arange(-1.0, 1.01, 0.125), 3)
    constants = (-0.5, 0.0, 0.5)
    span = math.log10(max(LENGTHS) / BUDGET_STEPS)
    results = []
    for c_at in constants:
        for c_up in constants:
            for at in exponents:
                for up in exponents:
                    if (
                        max(
                            abs(c_at) + abs(at) * span,
                            abs(c_up) + abs(up) * span,
                        )
                        > 1 + 1e-9
                    ):
                        continue
                    cases = {}
                    for key, i, above, rec, v in folds:
                        steps = rec["steps"][i]
                        c, a = (c_up, up) if above else (c_at, at)
                        n = min(max(steps, LENGTHS[0]), LENGTHS[-1])
                        f = c + a * math.log10(n / BUDGET_STEPS)
                        score = _ladder_score(rec, i, f)
                        cases.setdefault(key, ([], []))
                        cases[key][0].append(score)
                        cases[key][1].append(v)
                    ratios = [
                        _better(key[3], _mean(a), _mean(b))
                        for key, (a, b) in cases.items()
                    ]
                    results.append(
                        (
                            min(ratios),
                            statistics.mean(ratios),
                            c_at,
                            at,
                            c_up,
                            up,
                        )
                    )
    results.sort(reverse=True)
    print(
        "worst mean | at reading: log10 c, exponent | above: log10 c, exponent"
    )
    for row in results[:12]:
        print(" ".join(f"{v:+.3f}" for v in row))
    plain = [r for r in results if r[2] == 0 and r[4] == 0]
    print("with c = 1 (the default unchanged at 160 steps):")
    for row in plain[:8]:
        print(" ".join(f"{v:+.3f}" for v in row))
    none = [r for r in results if r[2:] == (0, 0, 0, 0)]
    print("no rule:", " ".join(f"{v:+.3f}" for v in none[0]))


# ---------------------------------------------------------------------------
# Cost: find_lr against runs a user would do.
# ---------------------------------------------------------------------------


def cost(args, rounds=3, steps=2000):
    """find_lr's seconds against a fresh `fit` of `steps` steps and of the
    benchmark's 160, each from a freshly compiled model, interleaved."""
    picks = [("scratch", "chosen"), ("finetune", "held-out")]
    for key, label, specs in cases(True, ["digits", "bert_tiny"], FOLDS, picks):
        case = Case(*specs[0])
        samples = {"find_lr": [], f"fit {steps}": [], "fit 160": []}
        found = None
        for _ in range(rounds):
            model, optimizer = case.build(case.data)
            model.compile(optimizer, case.loss, metrics=[case.metric])
            synchronize()
            start = time.perf_counter()
            found = find_lr(model, case.x, case.y, batch_size=BATCH, verbose=0)
            synchronize()
            samples["find_lr"].append(time.perf_counter() - start)
            samples[f"fit {steps}"].append(case.fresh_fit_seconds(steps))
            samples["fit 160"].append(case.fresh_fit_seconds(BUDGET_STEPS))
        probes = found.probes or {"steps_trained": 0}
        med = {k: statistics.median(v) for k, v in samples.items()}
        print(
            f"{label} ({keras.backend.backend()}): find_lr {len(found)} sweep "
            f"+ {probes['steps_trained']} probe steps, "
            f"median {med['find_lr']:.2f} s; / fit of {steps} steps "
            f"{med['find_lr'] / med[f'fit {steps}']:.3f} (fastest "
            f"{min(samples['find_lr']) / min(samples[f'fit {steps}']):.3f}); "
            f"/ fit of {BUDGET_STEPS} {med['find_lr'] / med['fit 160']:.2f}",
            flush=True,
        )


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--out",
        help="record the cases into this JSON (default: "
        "suggestion-<backend>.json), then print the tables",
    )
    parser.add_argument("--report", nargs="+", help="print the tables")
    parser.add_argument(
        "--summary", nargs="+", help="print one compact table of them all"
    )
    parser.add_argument("--choose", nargs="+", help="search the rule")
    parser.add_argument("--cost", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--no-run-length",
        dest="run_length",
        action="store_false",
        help="do not score `suggest(for_steps=...)`",
    )
    parser.add_argument(
        "--no-ladder",
        dest="ladder",
        action="store_false",
        help="do not train the default's rate times LADDER (the data the "
        "run-length rule is chosen from)",
    )
    parser.add_argument(
        "--labels",
        default=None,
        help="comma-separated case labels to keep (as printed)",
    )
    parser.add_argument(
        "--sets",
        default=",".join(SET_NAMES),
        help="comma-separated subset of " + ",".join(SET_NAMES),
    )
    parser.add_argument(
        "--datasets",
        default=None,
        help="comma-separated data sets or fine-tuning tasks to keep",
    )
    args = parser.parse_args(argv)
    sets = [n for n in args.sets.split(",") if n]
    if not sets or set(sets) - set(SET_NAMES):
        parser.error(f"--sets: each one of {list(SET_NAMES)}; got {sets}")
    if args.cost:
        cost(args)
    elif args.report:
        report(args.report)
    elif args.summary:
        summary(args.summary)
    elif args.choose:
        choose(args.choose)
    else:  # record (resuming), then the tables
        args.out = args.out or f"suggestion-{keras.backend.backend()}.json"
        record(args)
        summary([args.out])
        report([args.out])


if __name__ == "__main__":
    main()
