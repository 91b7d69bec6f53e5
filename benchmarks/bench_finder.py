"""find_lr wall time vs the same number of plain `fit` steps.

Run for one backend:  KERAS_BACKEND=jax python benchmarks/bench_finder.py
Both start from a freshly compiled model (so both pay for tracing the train
step); find_lr also snapshots and restores the model and optimizer state.
`find_lr` is timed with its probes (the default: three candidates of 20
steps each, one more trace of the train step and one of the test step) and
without (`probe=False`, the sweep alone).
"""

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

from keras_lrx import LRX  # noqa: E402
from keras_lrx import find_lr  # noqa: E402

STEPS = 100


def model_and_data():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((256,)),
            keras.layers.Dense(512, activation="relu", name="block_0"),
            keras.layers.Dense(512, activation="relu", name="block_1"),
            keras.layers.Dense(10, name="head"),
        ]
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64 * STEPS, 256)).astype("float32")
    # Learnable labels (a linear teacher): on random ones the curve is
    # flat and find_lr runs no probes.
    y = (x @ rng.normal(size=(256, 10))).argmax(axis=1)
    return model, x, y


def compile_(model, lrx):
    inner = keras.optimizers.Adam(1e-3)
    optimizer = LRX(inner, multipliers={"block_0": 0.1}) if lrx else inner
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )


def time_fit(lrx):
    model, x, y = model_and_data()
    compile_(model, lrx)
    synchronize()
    start = time.perf_counter()
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    synchronize()
    return time.perf_counter() - start


def time_find_lr(lrx, probe):
    model, x, y = model_and_data()
    compile_(model, lrx)
    model.build((None, 256))
    synchronize()
    start = time.perf_counter()
    result = find_lr(
        model,
        x,
        y,
        batch_size=64,
        num_steps=STEPS,
        divergence_threshold=None,
        probe=probe,
        verbose=0,
    )
    synchronize()
    seconds = time.perf_counter() - start
    if probe and result.probes is None:
        raise RuntimeError("the sweep was flat: no probes were timed")
    return seconds


def main():
    rows = []
    for lrx in (False, True):
        fits, sweeps, finds = [], [], []
        for _ in range(3):
            fits.append(time_fit(lrx))
            sweeps.append(time_find_lr(lrx, probe=False))
            finds.append(time_find_lr(lrx, probe=True))
        fit = statistics.median(fits)
        sweep, find = statistics.median(sweeps), statistics.median(finds)
        rows.append(
            [
                "LRX(Adam)" if lrx else "Adam",
                f"{fit:.2f}",
                f"{sweep:.2f}",
                f"{find:.2f}",
                f"{sweep / fit:.2f}",
                f"{find / fit:.2f}",
            ]
        )
    print_table(
        f"find_lr vs fit, {STEPS} steps of batch 64, backend="
        f"{keras.backend.backend()}, keras {keras.__version__}, {machine()}",
        [
            "optimizer",
            "fit s",
            "sweep s",
            "find_lr s",
            "sweep/fit",
            "find_lr/fit",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
