"""`python -m keras_lrx demo`: discriminative fine-tuning on real data, offline.

The story, on scikit-learn's handwritten digits (shipped with the package,
no download):

1. Pretrain a small MLP on digits 0-4.
2. Fine-tune it on digits 5-9 from a small training set, with a new head.
   `find_lr` picks the head's rate; a warmup-cosine schedule drives it; the
   pretrained layers train at 0.1x the head's rate through `LRX`; the
   `LearningRateMetric` shows the rate in the progress bar.
3. Compare with one global rate for every layer and with a frozen body:
   test accuracy and time, printed as a table.
4. Write plots (finder curve, schedule, loss per step) to the output folder.
"""

import json
import os
import time

import keras
import numpy as np

from keras_lrx.callbacks import BatchHistory
from keras_lrx.finder import find_lr
from keras_lrx.metrics import LearningRateMetric
from keras_lrx.optimizer import LRX
from keras_lrx.schedules import cosine_with_warmup

BODY = ("body_1", "body_2")
BATCH_SIZE = 32
EPOCHS = 12
SEEDS = (1, 2, 3)


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


def body_layers():
    return [
        keras.layers.Dense(128, activation="relu", name=BODY[0]),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(64, activation="relu", name=BODY[1]),
    ]


def classifier(head_name):
    return keras.Sequential(
        [
            keras.Input((64,)),
            *body_layers(),
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
    return {name: model.get_layer(name).get_weights() for name in BODY}


def fine_tune_model(pretrained, seed=1):
    keras.utils.set_random_seed(seed)  # head initialisation and data order
    model = classifier("head")
    for name, weights in pretrained.items():
        model.get_layer(name).set_weights(weights)
    return model


def run_variant(
    label, pretrained, multipliers, learning_rate, train, test, verbose, seed=1
):
    model = fine_tune_model(pretrained, seed)
    steps = EPOCHS * int(np.ceil(len(train[0]) / BATCH_SIZE))
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


def _find_head_rate(pretrained, train, say):
    """Step 2: the LR range test on the fine-tuning model."""
    model = fine_tune_model(pretrained)
    model.compile(
        optimizer=LRX(
            keras.optimizers.Adam(), multipliers={b: 0.1 for b in BODY}
        ),
        loss=loss(),
    )
    found = find_lr(
        model,
        *train,
        batch_size=BATCH_SIZE,
        start_learning_rate=1e-5,
        end_learning_rate=1.0,
        num_steps=80,
        smoothing=0.9,
        verbose=0,
    )
    # The head starts from scratch: take the steepest descent of the loss
    # (Smith's choice), shown beside the default suggestion ("descent").
    learning_rate = float(found.suggest("steepest"))
    say(
        f"   steepest descent at learning_rate={learning_rate:.3g} (default "
        f"suggestion: {float(found.suggested_learning_rate):.3g}); the head "
        "trains at it"
    )
    return found, learning_rate


def _compare_variants(pretrained, learning_rate, train, test, fit_verbose):
    """Step 3: each variant over every seed; one row (mean) per variant."""
    variants = [
        ("LRX: body 0.1x, head 1x", {b: 0.1 for b in BODY}, fit_verbose),
        ("one global rate", None, 0),
        ("frozen body (0x)", {b: 0.0 for b in BODY}, 0),
    ]
    rows = []
    for label, mult, v in variants:
        runs = [
            run_variant(
                label,
                pretrained,
                mult,
                learning_rate,
                train,
                test,
                v if seed == SEEDS[0] else 0,
                seed,
            )
            for seed in SEEDS
        ]
        accuracies = [r["test_accuracy"] for r in runs]
        seconds = float(np.mean([r["train_seconds"] for r in runs]))
        rows.append(
            dict(
                runs[0],
                test_accuracy=float(np.mean(accuracies)),
                test_accuracy_runs=accuracies,
                train_seconds=seconds,
            )
        )
    return rows


def _print_table(rows, test, say):
    say(
        f"\nTest accuracy on {len(test[0])} held-out images of 5-9, mean "
        f"(min-max) over {len(SEEDS)} seeds of head init and data order:"
    )
    say("\n| variant | test accuracy | train seconds per run |")
    say("|---|---|---|")
    for row in rows:
        runs = row["test_accuracy_runs"]
        say(
            f"| {row['variant']} | {row['test_accuracy']:.3f} "
            f"({min(runs):.3f}-{max(runs):.3f}) | {row['train_seconds']:.1f} |"
        )


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
        f"\n2. LR range test on the fine-tuning model "
        f"({len(train[0])} images of 5-9)"
    )
    found, learning_rate = _find_head_rate(pretrained, train, say)
    say(
        "\n3. Fine-tuning: body at 0.1x the head's rate "
        "(progress shows the rate)"
    )
    fit_verbose = 2 if verbose else 0
    rows = _compare_variants(
        pretrained, learning_rate, train, test, fit_verbose
    )
    _print_table(rows, test, say)
    _write_plots(out, found, rows)
    summary = [
        {k: v for k, v in row.items() if k not in ("history", "schedule")}
        for row in rows
    ]
    results = {
        "backend": keras.backend.backend(),
        "suggested_learning_rate": learning_rate,
        "variants": summary,
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

    ax = found.plot(method="steepest")
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
