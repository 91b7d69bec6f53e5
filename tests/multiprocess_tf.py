"""One worker of a multi-worker TensorFlow run (`tests/test_multiprocess.py`).

    TF_CONFIG=... python multiprocess_tf.py WORKER NUM_WORKERS 0 OUT_DIR [CKPT]

(The third argument, a port for the other scripts, is unused: `TF_CONFIG`
names the workers' ports.)
With NUM_WORKERS=2 (and `TF_CONFIG` naming two workers on the loopback
address) it trains under `tf.distribute.MultiWorkerMirroredStrategy`, each
worker feeding its half of every global batch; with 1 it is the reference,
fed the whole batches, with no strategy, which then also resumes the
multi-worker run's checkpoint CKPT (`OUT_DIR/tf_one_device_0.npz`).

Keras 3's `fit` cannot train under this strategy (keras-team/keras#20585):
its trainer reduces the `(x, y)` sample batch as one nest and the step's
scalar logs along axis 0, which the multi-worker strategy refuses. So the
LRX trains in a custom loop (`strategy.run` of a step calling
`optimizer.apply`), is saved by worker 0 after one epoch, reloaded by every
worker and trained on; then `fit` is tried with a bare AdamW and with an
LRX, and the errors are recorded. Writes `OUT_DIR/tf_<worker>.npz` and
`OUT_DIR/tf_fit_<worker>.json`.
"""

import json
import os
import sys

WORKER, WORKERS, _, OUT = sys.argv[1:5]
CHECKPOINT = sys.argv[5] if len(sys.argv) > 5 else None
WORKER, WORKERS = int(WORKER), int(WORKERS)
os.environ["KERAS_BACKEND"] = "tensorflow"

import tensorflow as tf  # noqa: E402

# The strategy must exist before any other TensorFlow op.
STRATEGY = (
    tf.distribute.MultiWorkerMirroredStrategy()
    if WORKERS > 1
    else tf.distribute.get_strategy()
)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from multiprocess_common import GLOBAL_BATCH  # noqa: E402
from multiprocess_common import X  # noqa: E402
from multiprocess_common import Y  # noqa: E402
from multiprocess_common import lrx  # noqa: E402
from multiprocess_common import mlp  # noqa: E402


def batches():
    """Each worker's part of every global batch, as the strategy feeds it."""

    def local(context):
        per = context.get_per_replica_batch_size(GLOBAL_BATCH)
        low = per * context.input_pipeline_id
        data = tf.data.Dataset.from_tensor_slices((X, Y)).batch(GLOBAL_BATCH)
        return data.map(lambda x, y: (x[low : low + per], y[low : low + per]))

    if WORKERS == 1:
        return tf.data.Dataset.from_tensor_slices((X, Y)).batch(GLOBAL_BATCH)
    return STRATEGY.distribute_datasets_from_function(local)


def epoch(model):
    """One pass in a custom loop; returns the rates of its steps."""
    optimizer = model.optimizer

    def step(batch):
        x, y = batch
        with tf.GradientTape() as tape:
            errors = tf.reduce_mean(tf.square(model(x, training=True) - y), -1)
            loss = tf.nn.compute_average_loss(
                errors, global_batch_size=GLOBAL_BATCH
            )
        variables = model.trainable_variables
        # Keras sums the replicas' gradients before the update.
        optimizer.apply(tape.gradient(loss, variables), variables)

    @tf.function
    def train_step(batch):
        STRATEGY.run(step, args=(batch,))

    rates = []
    for batch in batches():
        rates.append(float(optimizer.learning_rate.numpy()))
        train_step(batch)
    return rates


with STRATEGY.scope():
    model = mlp()
    model.compile(lrx(), "mse")  # so that `save` keeps the optimizer
rates = epoch(model)
# Every worker saves (the strategy's variables are read collectively);
# worker 0's file is the one they all read back.
path = os.path.join(OUT, "tf_checkpoint.keras")
model.save(path if WORKER == 0 else path + f".{WORKER}.keras")
if WORKERS > 1:
    # A collective as a barrier: the file is complete before anyone reads.
    STRATEGY.reduce("SUM", STRATEGY.run(lambda: tf.constant(1.0)), axis=None)
with STRATEGY.scope():
    model = keras.models.load_model(path)
rates += epoch(model)


def save(name, model, rates):
    np.savez(
        os.path.join(OUT, f"{name}_{WORKER}.npz"),
        step=int(model.optimizer.iterations.numpy()),
        rates=np.asarray(rates, "float64"),
        **{f"w{i}": np.asarray(w) for i, w in enumerate(model.get_weights())},
    )


save("tf", model, rates)
if CHECKPOINT:
    resumed = keras.models.load_model(CHECKPOINT)
    save("tf_one_device", resumed, epoch(resumed))

# `fit` under the multi-worker strategy: Keras's limit, with the bare
# optimizer as the control.
errors = {}
if WORKERS > 1:
    for name, make in (
        ("AdamW", lambda: keras.optimizers.AdamW(1e-2)),
        ("LRX", lrx),
    ):
        with STRATEGY.scope():
            fitted = mlp()
            fitted.compile(make(), "mse")
        try:
            fitted.fit(X, Y, batch_size=GLOBAL_BATCH, epochs=1, verbose=0)
            errors[name] = None
        except Exception as error:  # noqa: BLE001 (recorded for the test)
            errors[name] = f"{type(error).__name__}: {error}"[:2000]
with open(os.path.join(OUT, f"tf_fit_{WORKER}.json"), "w") as f:
    json.dump(errors, f)
print("DONE", WORKER, flush=True)
