"""`python -m keras_lrx demo`: discriminative fine-tuning on real data, offline.

The story, on scikit-learn's handwritten digits (shipped with the package,
no download):

1. Pretrain a small MLP on digits 0-4.
2. Fine-tune it on digits 5-9 from a small training set, with a new head,
   by each recipe: the pretrained layers at 0.1x the head's rate (`LRX`),
   gradual unfreezing (the head first, one body layer more per epoch),
   one global rate, a frozen body, and `keras_lrx.fine_tune`, the one call
   that picks its own rate (its seconds include its `find_lr`). Each other
   recipe's rate is `find_lr`'s default suggestion for it; one global
   rate is also tuned by a grid search on a validation fifth (what a
   careful user gets with eight more runs).
3. Train each over three seeds (a warmup-cosine schedule from the rate; the
   `LearningRateMetric` shows the rate in the progress bar), print test
   accuracy and time as a table, and say plainly which recipe won -- or
   that the difference is within the seeds' spread.
4. Write plots (finder curve, schedule, loss per step) to the output folder.
"""

import json
import os
import time

import keras
import numpy as np

from keras_lrx.callbacks import BatchHistory
from keras_lrx.finder import find_lr
from keras_lrx.fine_tune import fine_tune
from keras_lrx.layerwise import gradual_unfreezing
from keras_lrx.metrics import LearningRateMetric
from keras_lrx.optimizer import LRX
from keras_lrx.schedules import cosine_with_warmup

BODY = ("body_1", "body_2")
BATCH_SIZE = 32
EPOCHS = 12
SEEDS = (1, 2, 3)
#: The recipes: (label, the body's multiplier; None for no multipliers;
#: GRADUAL for `gradual_unfreezing`, one body layer thawing per epoch;
#: ONE_CALL for `keras_lrx.fine_tune`, which picks its own rate).
GRADUAL = "gradual"
ONE_CALL = "one call"
VARIANTS = (
    ("LRX: body 0.1x, head 1x", 0.1),
    ("LRX: gradual unfreezing", GRADUAL),
    ("one global rate", None),
    ("frozen body (0x)", 0.0),
    ("keras_lrx.fine_tune (one call)", ONE_CALL),
)
GRID_TUNED = "one global rate, grid-tuned"
#: The global rate's grid search: half a decade apart.
GRID = 10.0 ** np.arange(-3.5, 0.01, 0.5)
#: What the fine-tuning images are: classes the body never saw.
TARGET = "new-class"


def load_data(seed=0):
    """Digits 0-4 for pretraining; a small train / large test split of 5-9."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ImportError(
            "The demo uses scikit-learn's digits data set: "
            "`pip install keras-lrx[demo]`."
        ) from e

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target
    rng = np.random.default_rng(seed)
    pre = y < 5
    x_pre, y_pre = x[pre], y[pre]
    x_new, y_new = x[~pre], y[~pre] - 5
    order = rng.permutation(len(x_new))
    n_train = len(order) // 4  # a small fine-tuning set: ~225 images
    train, test = order[:n_train], order[n_train:]
    return (
        (x_pre, y_pre),
        (x_new[train], y_new[train]),
        (x_new[test], y_new[test]),
    )


def body_model():
    """The pretrained part: one nested model (`fine_tune`'s `body`)."""
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(128, activation="relu", name=BODY[0]),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(64, activation="relu", name=BODY[1]),
        ],
        name="body",
    )


def classifier(head_name):
    return keras.Sequential(
        [
            keras.Input((64,)),
            body_model(),
            keras.layers.Dense(5, name=head_name),
        ],
        name="digits",
    )


def loss():
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def pretrain(data, verbose):
    keras.utils.set_random_seed(0)
    model = classifier("pretrain_head")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss=loss(), metrics=["accuracy"]
    )
    model.fit(*data, batch_size=BATCH_SIZE, epochs=15, verbose=verbose)
    body = model.get_layer("body")
    return {name: body.get_layer(name).get_weights() for name in BODY}


def fine_tune_model(pretrained, seed=1):
    keras.utils.set_random_seed(seed)  # head initialisation and data order
    model = classifier("head")
    body = model.get_layer("body")
    for name, weights in pretrained.items():
        body.get_layer(name).set_weights(weights)
    return model


def run_variant(
    label, pretrained, body, learning_rate, train, test, verbose, seed=1
):
    model = fine_tune_model(pretrained, seed)
    if body == ONE_CALL:
        return _run_one_call(label, model, train, test, verbose)
    multipliers = _multipliers(body, model, train)
    steps = EPOCHS * _steps_per_epoch(train)
    schedule = cosine_with_warmup(
        learning_rate, warmup_steps=steps // 10, total_steps=steps
    )
    optimizer = LRX(
        keras.optimizers.Adam(), schedule=schedule, multipliers=multipliers
    )
    history = BatchHistory()
    model.compile(
        optimizer=optimizer,
        loss=loss(),
        metrics=["accuracy", LearningRateMetric(optimizer)],
    )
    start = time.perf_counter()
    model.fit(
        *train,
        batch_size=BATCH_SIZE,
        epochs=EPOCHS,
        verbose=verbose,
        callbacks=[history],
    )
    seconds = time.perf_counter() - start
    _, accuracy, _ = model.evaluate(*test, verbose=0)
    return {
        "variant": label,
        "test_accuracy": float(accuracy),
        "train_seconds": seconds,
        "history": history,
        "schedule": schedule,
    }


def _run_one_call(label, model, train, test, verbose):
    """`keras_lrx.fine_tune`: its own rate, head phase and layer-wise thaw."""
    history = BatchHistory()
    start = time.perf_counter()
    fine_tune(
        model,
        *train,
        epochs=EPOCHS,
        body=model.get_layer("body"),
        batch_size=BATCH_SIZE,
        loss=loss(),
        metrics=["accuracy"],
        callbacks=[history],
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(*test, verbose=0)
    return {
        "variant": label,
        "test_accuracy": float(accuracy),
        "train_seconds": seconds,
        "history": history,
        "schedule": None,
        "learning_rate": float(max(history.history["learning_rate"])),
    }


def _steps_per_epoch(train):
    return int(np.ceil(len(train[0]) / BATCH_SIZE))


def _multipliers(body, model, train):
    """A variant's multipliers: the body's number, or the thaws of gradual
    unfreezing (the head from the start, then `body_2`, then `body_1`)."""
    if body is None:
        return None
    if body == GRADUAL:
        layers = model.get_layer("body")
        return gradual_unfreezing(
            model,
            every_steps=_steps_per_epoch(train),
            blocks=[layers.get_layer(name) for name in BODY],
        )
    return {b: body for b in BODY}


def _find_rate(pretrained, train, body):
    """`find_lr`'s default suggestion for the fine-tuning model."""
    model = fine_tune_model(pretrained)
    model.compile(
        optimizer=LRX(
            keras.optimizers.Adam(),
            multipliers=_multipliers(body, model, train),
        ),
        loss=loss(),
    )
    return find_lr(model, *train, batch_size=BATCH_SIZE, verbose=0)


def _grid_tuned_rate(pretrained, train, say):
    """The global rate a careful user would pick: the best of `GRID` on a
    validation fifth of the training set (the test set stays unseen)."""
    order = np.random.default_rng(0).permutation(len(train[0]))
    held = len(order) // 5
    fit_part = tuple(a[order[held:]] for a in train)
    val_part = tuple(a[order[:held]] for a in train)
    scores = [
        run_variant("grid", pretrained, None, lr, fit_part, val_part, 0)[
            "test_accuracy"
        ]
        for lr in GRID
    ]
    best = float(GRID[int(np.argmax(scores))])
    say(
        f"   one global rate, grid-tuned: {len(GRID)} rates from "
        f"{GRID[0]:.1e} to {GRID[-1]:.1e} on a validation fifth -> {best:.3g}"
    )
    return best


def _find_rates(pretrained, train, say):
    """Step 2: each recipe's rate (find_lr's default, or a grid search)."""
    rates, found = {}, None
    for label, body in VARIANTS:
        if body == ONE_CALL:
            rates[label] = None  # it runs its own finder, every seed
            say(f"   {label}: runs find_lr itself, in each call")
            continue
        result = _find_rate(pretrained, train, body)
        if found is None:
            found = result  # the LRX recipe's, for the plot
        rates[label] = float(result.suggested_learning_rate)
        probes = result.probes
        how = (
            f"probed {len(probes['learning_rates'])} rates "
            f"{probes['steps']} steps each"
            if probes
            else "the curve's reading"
        )
        say(f"   {label}: find_lr suggests {rates[label]:.3g} ({how})")
    rates[GRID_TUNED] = _grid_tuned_rate(pretrained, train, say)
    return found, rates


def _compare_variants(pretrained, rates, train, test, fit_verbose):
    """Step 3: each variant over every seed; one row (mean) per variant."""
    body = dict(VARIANTS)
    rows = []
    for label, rate in rates.items():
        spec = body.get(label)  # the grid-tuned one: no multipliers
        runs = [
            run_variant(
                label,
                pretrained,
                spec,
                rate,
                train,
                test,
                fit_verbose if (seed == SEEDS[0] and not rows) else 0,
                seed,
            )
            for seed in SEEDS
        ]
        accuracies = [r["test_accuracy"] for r in runs]
        seconds = float(np.mean([r["train_seconds"] for r in runs]))
        rows.append(
            dict(
                runs[0],
                learning_rate=runs[0].get("learning_rate", rate),
                test_accuracy=float(np.mean(accuracies)),
                test_accuracy_runs=accuracies,
                train_seconds=seconds,
            )
        )
    return rows


def verdict(rows, reference=GRID_TUNED):
    """Which recipe won, in plain sentences.

    The best mean first; then each recipe against `reference` (one global
    rate tuned by a grid search): it wins or loses only by more than the
    larger of the two spreads over seeds, else it ties.
    """
    best = max(rows, key=lambda r: r["test_accuracy"])
    lines = [f"Best mean: {best['variant']} ({best['test_accuracy']:.3f})."]
    ref = next(r for r in rows if r["variant"] == reference)
    for row in rows:
        if row is ref:
            continue
        gap = row["test_accuracy"] - ref["test_accuracy"]
        spread = max(
            max(r["test_accuracy_runs"]) - min(r["test_accuracy_runs"])
            for r in (row, ref)
        )
        if gap > spread:
            word = "wins"
        elif gap < -spread:
            word = "loses"
        else:
            word = "ties"
        lines.append(
            f"{row['variant']} vs {reference}: {gap:+.3f}, {word} (seeds' "
            f"spread {spread:.3f})."
        )
    return "\n".join(lines)


def _print_table(rows, test, say):
    say(
        f"\nTest accuracy on {len(test[0])} held-out images of 5-9, mean "
        f"(min-max) over {len(SEEDS)} seeds of head init and data order:"
    )
    say("\n| variant | learning rate | test accuracy | train seconds per run |")
    say("|---|---|---|---|")
    for row in rows:
        runs = row["test_accuracy_runs"]
        say(
            f"| {row['variant']} | {row['learning_rate']:.3g} | "
            f"{row['test_accuracy']:.3f} "
            f"({min(runs):.3f}-{max(runs):.3f}) | {row['train_seconds']:.1f} |"
        )
    say("\n" + verdict(rows))


def run(out="keras_lrx_demo", verbose=1):
    """Runs the demo; returns the result rows and writes plots to `out`."""
    os.makedirs(out, exist_ok=True)
    say = print if verbose else (lambda *a, **k: None)
    say(
        f"keras-lrx demo on the {keras.backend.backend()} backend; "
        f"output in {out}/"
    )
    pre, train, test = load_data()
    say(f"\n1. Pretraining on digits 0-4 ({len(pre[0])} images)")
    pretrained = pretrain(pre, verbose=0)
    say(
        f"\n2. Each recipe's learning rate, on the fine-tuning set "
        f"({len(train[0])} {TARGET} images of 5-9)"
    )
    found, rates = _find_rates(pretrained, train, say)
    say(
        "\n3. Fine-tuning, warmup-cosine from each rate (progress shows the "
        "rate of the first run)"
    )
    fit_verbose = 2 if verbose else 0
    rows = _compare_variants(pretrained, rates, train, test, fit_verbose)
    _print_table(rows, test, say)
    _write_plots(out, found, rows)
    summary = [
        {k: v for k, v in row.items() if k not in ("history", "schedule")}
        for row in rows
    ]
    results = {
        "backend": keras.backend.backend(),
        "suggested_learning_rate": rates[VARIANTS[0][0]],
        "variants": summary,
        "verdict": verdict(rows),
    }
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    say(f"\nWrote {out}/finder.png, schedule.png, loss.png and results.json")
    return summary


def _write_plots(out, found, rows):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            "matplotlib is not installed: no plots "
            "(pip install keras-lrx[plot])"
        )
        return
    from keras_lrx.schedules import plot_schedule

    ax = found.plot()
    ax.figure.savefig(os.path.join(out, "finder.png"), dpi=100)
    plt.close(ax.figure)

    steps = len(rows[0]["history"].history["loss"])
    ax = plot_schedule({"warmup-cosine (head)": rows[0]["schedule"]}, steps)
    ax.figure.savefig(os.path.join(out, "schedule.png"), dpi=100)
    plt.close(ax.figure)

    fig, ax = plt.subplots(figsize=(7, 4))
    for row in rows:
        row["history"].plot(x="step", y="loss", ax=ax)
    ax.legend([row["variant"] for row in rows])
    ax.set_title("training loss per step")
    fig.savefig(os.path.join(out, "loss.png"), dpi=100)
    plt.close(fig)
