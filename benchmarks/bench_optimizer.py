"""Train-step time of LRX vs the bare optimizer vs MultiOptimizer.

Run for one backend:  KERAS_BACKEND=jax python benchmarks/bench_optimizer.py
All three variants train the same model in one process, measured in
interleaved blocks; the table gives medians and ratios.

`--statistics`: instead, the cost of `GroupStatistics` -- LRX alone vs LRX
with the metric recording every update and every 10th, the bare optimizer
beside them, per step of `fit(verbose=0)` (fastest round and median ratios
to LRX alone).

`--learned-scale`: instead, the step time and optimizer memory of the
experimental estimators -- bare Adam, `LRX(Adam)`, `LRX(Adam,
scale=Mechanic())` and `LRX(Prodigy())`, interleaved (median ratios to bare
Adam; the traced step only, so what a long run pays per step), and the
optimizer's bytes per trained parameter.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import statistics  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _timing import interleaved_medians  # noqa: E402
from _timing import interleaved_samples  # noqa: E402
from _timing import machine  # noqa: E402
from _timing import print_table  # noqa: E402

from keras_lrx import LRX  # noqa: E402
from keras_lrx import GroupStatistics  # noqa: E402

GROUPS = {"block_0": 0.1, "block_1": 0.5}  # + the head at 1.0: 3 groups


def mlp():
    return keras.Sequential(
        [
            keras.Input((256,)),
            keras.layers.Dense(512, activation="relu", name="block_0"),
            keras.layers.Dense(512, activation="relu", name="block_1"),
            keras.layers.Dense(10, name="head"),
        ]
    ), ((256, 256), (256,))


def convnet():
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(32, 3, activation="relu", name="block_0"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu", name="block_1"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, name="head"),
        ]
    ), ((64, 32, 32, 3), (64,))


def multi_optimizer(lr):
    optimizers = {m: keras.optimizers.Adam(lr * m) for m in (0.1, 0.5, 1.0)}

    def select(variable):
        for name, m in GROUPS.items():
            if f"/{name}/" in f"/{variable.path}":
                return optimizers[m]
        return optimizers[1.0]

    return keras.optimizers.MultiOptimizer(select)


MODELS = (("MLP 256-512-512-10", mlp), ("small convnet", convnet))


def batch_for(make_model):
    """One batch `(x, y)` of random inputs and labels for the model."""
    _, (x_shape, y_shape) = make_model()
    rng = np.random.default_rng(0)
    return (
        rng.normal(size=x_shape).astype("float32"),
        rng.integers(0, 10, size=y_shape),
    )


def compiled(make_model, make_optimizer, every=None):
    """The model compiled with the optimizer (and `GroupStatistics` at
    stride `every`, if given)."""
    keras.utils.set_random_seed(0)
    model, _ = make_model()
    optimizer = make_optimizer()
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[GroupStatistics(optimizer, every=every)] if every else None,
    )
    return model


def step_function(make_model, make_optimizer, data):
    model = compiled(make_model, make_optimizer)
    x, y = data
    return lambda: model.train_on_batch(x, y)


def fit_function(make_model, make_optimizer, data, every=None, steps=20):
    """A call that trains `steps` steps with `fit` (verbose=0), as a user
    trains: logs stay on the device unless a callback reads them."""
    model = compiled(make_model, make_optimizer, every)
    x, y = data
    x, y = np.concatenate([x] * steps), np.concatenate([y] * steps)
    batch = len(data[0])

    def train():
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)

    return train


def statistics_cost():
    """LRX with `GroupStatistics` at stride 1 and 10 vs LRX alone, per step
    of `fit` (20 steps a call)."""
    backend = keras.backend.backend()
    rows = []
    for label, make_model in MODELS:
        data = batch_for(make_model)

        def lrx():
            return LRX(keras.optimizers.Adam(1e-3), multipliers=GROUPS)

        steps = {
            "bare": fit_function(
                make_model, lambda: keras.optimizers.Adam(1e-3), data
            ),
            "LRX": fit_function(make_model, lrx, data),
            "every 1": fit_function(make_model, lrx, data, every=1),
            "every 10": fit_function(make_model, lrx, data, every=10),
        }
        samples = interleaved_samples(steps, rounds=9, block=2, warmup=2)
        samples = {k: [t / 20 for t in v] for k, v in samples.items()}
        fastest = {k: min(v) for k, v in samples.items()}
        median = {k: statistics.median(v) for k, v in samples.items()}
        rows.append(
            [
                label,
                f"{median['LRX'] * 1e3:.2f}",
                f"{fastest['bare'] / fastest['LRX']:.3f} / "
                f"{median['bare'] / median['LRX']:.3f}",
                f"{fastest['every 1'] / fastest['LRX']:.3f} / "
                f"{median['every 1'] / median['LRX']:.3f}",
                f"{fastest['every 10'] / fastest['LRX']:.3f} / "
                f"{median['every 10'] / median['LRX']:.3f}",
            ]
        )
    print_table(
        "GroupStatistics cost (ratios to LRX alone: fastest round / median), "
        f"backend={backend}, keras {keras.__version__}, {machine()}",
        ["model", "LRX ms", "bare", "every=1", "every=10"],
        rows,
    )


def main():
    backend = keras.backend.backend()
    rows = []
    for label, make_model in MODELS:
        data = batch_for(make_model)
        variants = {
            "bare Adam": lambda: keras.optimizers.Adam(1e-3),
            "LRX(Adam), 3 groups": lambda: LRX(
                keras.optimizers.Adam(1e-3), multipliers=GROUPS
            ),
        }
        try:
            multi_optimizer(1e-3)
            variants["MultiOptimizer, 3 Adams"] = lambda: multi_optimizer(1e-3)
        except Exception as e:  # pragma: no cover - older Keras
            print(f"MultiOptimizer unavailable: {e}")
        steps = {
            name: step_function(make_model, make, data)
            for name, make in variants.items()
        }
        medians = interleaved_medians(steps)
        bare = medians["bare Adam"]
        lrx = medians["LRX(Adam), 3 groups"]
        multi = medians.get("MultiOptimizer, 3 Adams")
        rows.append(
            [
                label,
                f"{bare * 1e3:.2f}",
                f"{lrx * 1e3:.2f}",
                f"{multi * 1e3:.2f}" if multi else "n/a",
                f"{lrx / bare:.3f}",
                f"{lrx / multi:.3f}" if multi else "n/a",
            ]
        )
    print_table(
        f"Train-step time, backend={backend}, keras {keras.__version__}, "
        f"{machine()}",
        [
            "model",
            "bare ms",
            "LRX ms",
            "MultiOpt ms",
            "LRX/bare",
            "LRX/MultiOpt",
        ],
        rows,
    )
    slot_memory()


def learned_scale_cost():
    from keras_lrx.experimental import Mechanic
    from keras_lrx.experimental import Prodigy

    variants = {
        "bare Adam": lambda: keras.optimizers.Adam(1e-3),
        "LRX(Adam)": lambda: LRX(keras.optimizers.Adam(1e-3)),
        "LRX(Adam, scale=Mechanic())": lambda: LRX(
            keras.optimizers.Adam(), schedule=1.0, scale=Mechanic()
        ),
        "LRX(Prodigy())": lambda: LRX(Prodigy()),
    }
    rows = []
    for label, make_model in MODELS:
        data = batch_for(make_model)
        steps = {
            name: step_function(make_model, make, data)
            for name, make in variants.items()
        }
        medians = interleaved_medians(steps)
        model, _ = make_model()
        params = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
        for name, make in variants.items():
            optimizer = make()
            optimizer.build(model.trainable_variables)
            nbytes = sum(
                int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize
                for v in optimizer.variables
            )
            rows.append(
                [
                    label,
                    name,
                    f"{medians[name] * 1e3:.2f}",
                    f"{medians[name] / medians['bare Adam']:.2f}",
                    f"{nbytes / params:.1f}",
                ]
            )
    print_table(
        f"Learned scale: step time and memory, backend="
        f"{keras.backend.backend()}, keras {keras.__version__}, {machine()}",
        ["model", "optimizer", "step ms", "/ bare Adam", "bytes / param"],
        rows,
    )


def slot_memory():
    """Optimizer slot memory with half of the variables frozen."""
    model, _ = mlp()
    frozen = {"block_0": 0.0, "block_1": 0.0}
    bare = keras.optimizers.Adam()
    bare.build(model.trainable_variables)
    lrx = LRX(keras.optimizers.Adam(), multipliers=frozen)
    lrx.build(model.trainable_variables)

    def nbytes(optimizer):
        return sum(
            int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize
            for v in optimizer.variables
        )

    params = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    frozen_params = sum(
        int(np.prod(v.shape))
        for v in model.trainable_variables
        if v.path.split("/")[-2] in frozen
    )
    print_table(
        f"Optimizer memory (Adam), backend={keras.backend.backend()}",
        ["optimizer", "params", "frozen params", "optimizer bytes"],
        [
            ["bare Adam", params, 0, nbytes(bare)],
            ["LRX(Adam), block_0+1 frozen", params, frozen_params, nbytes(lrx)],
        ],
    )


if __name__ == "__main__":
    if "--statistics" in sys.argv[1:]:
        statistics_cost()
    elif "--learned-scale" in sys.argv[1:]:
        learned_scale_cost()
    else:
        main()
