"""Train-step time of SetLearningRate-wrapped models vs the same model bare.

Run for one backend:  KERAS_BACKEND=jax python benchmarks/bench_reparam.py
Two models: an MLP with both hidden layers wrapped, and an embedding model
(50k x 64 table) with the Embedding wrapped -- on TensorFlow the wrapper keeps
the embedding gradient sparse; the table shows what that costs.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _timing import interleaved_medians  # noqa: E402
from _timing import machine  # noqa: E402
from _timing import print_table  # noqa: E402

from keras_lrx import LRX  # noqa: E402
from keras_lrx import SetLearningRate  # noqa: E402


def mlp(wrap):
    def maybe(layer, m):
        return SetLearningRate(layer, m) if wrap else layer

    return keras.Sequential(
        [
            keras.Input((256,)),
            maybe(
                keras.layers.Dense(512, activation="relu", name="block_0"), 0.1
            ),
            maybe(
                keras.layers.Dense(512, activation="relu", name="block_1"), 0.5
            ),
            keras.layers.Dense(10, name="head"),
        ]
    )


def embedding_model(wrap):
    embedding = keras.layers.Embedding(50_000, 64, name="embedding")
    return keras.Sequential(
        [
            keras.Input((32,), dtype="int32"),
            SetLearningRate(embedding, 0.1) if wrap else embedding,
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(10, name="head"),
        ]
    )


def step(model, optimizer, x, y):
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return lambda: model.train_on_batch(x, y)


def main():
    rng = np.random.default_rng(0)
    rows = []
    cases = [
        (
            "MLP, 2 layers wrapped",
            mlp,
            rng.normal(size=(256, 256)).astype("float32"),
            {"block_0": 0.1, "block_1": 0.5},
        ),
        (
            "Embedding 50k x 64 wrapped",
            embedding_model,
            rng.integers(0, 50_000, size=(256, 32)).astype("int32"),
            {"embedding": 0.1},
        ),
    ]
    for label, make, x, multipliers in cases:
        y = rng.integers(0, 10, size=(len(x),))
        keras.utils.set_random_seed(0)
        steps = {
            "bare": step(make(False), keras.optimizers.Adam(1e-3), x, y),
            "SetLearningRate": step(
                make(True), keras.optimizers.Adam(1e-3), x, y
            ),
            "LRX": step(
                make(False),
                LRX(keras.optimizers.Adam(1e-3), multipliers=multipliers),
                x,
                y,
            ),
        }
        medians = interleaved_medians(steps)
        bare = medians["bare"]
        rows.append(
            [
                label,
                f"{bare * 1e3:.2f}",
                f"{medians['SetLearningRate'] * 1e3:.2f}",
                f"{medians['LRX'] * 1e3:.2f}",
                f"{medians['SetLearningRate'] / bare:.3f}",
                f"{medians['LRX'] / bare:.3f}",
            ]
        )
    print_table(
        f"SetLearningRate step time, backend={keras.backend.backend()}, "
        f"keras {keras.__version__}, {machine()}",
        ["model", "bare ms", "SetLR ms", "LRX ms", "SetLR/bare", "LRX/bare"],
        rows,
    )


if __name__ == "__main__":
    main()
