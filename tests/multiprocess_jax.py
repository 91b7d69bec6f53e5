"""One process of a multi-process JAX run (`tests/test_multiprocess.py`).

    python multiprocess_jax.py PROCESS_ID NUM_PROCESSES PORT OUT_DIR [CKPT]

Each process has two CPU devices. With NUM_PROCESSES=2 the processes join
through `jax.distributed.initialize` on the loopback address (gloo
collectives) and each feeds its half of every global batch; with 1 it is
the single-process reference over all four devices, fed the whole batches,
which then also resumes the multi-process run's checkpoint CKPT on one
device.
Every case writes `OUT_DIR/<case>_<process>.npz`: the final weights (sharded
ones gathered from every process), the step, the rates logged per batch.
"""

import json
import os
import sys

PROCESS, PROCESSES, PORT, OUT = sys.argv[1:5]
CHECKPOINT = sys.argv[5] if len(sys.argv) > 5 else None
PROCESS, PROCESSES = int(PROCESS), int(PROCESSES)
os.environ["KERAS_BACKEND"] = "jax"
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=" + str(
    4 // PROCESSES
)

import jax  # noqa: E402

jax.config.update("jax_cpu_collectives_implementation", "gloo")
if PROCESSES > 1:
    jax.distributed.initialize(
        f"127.0.0.1:{PORT}", num_processes=PROCESSES, process_id=PROCESS
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402
from multiprocess_common import GLOBAL_BATCH  # noqa: E402
from multiprocess_common import X  # noqa: E402
from multiprocess_common import Y  # noqa: E402
from multiprocess_common import keras_hub_import_error  # noqa: E402
from multiprocess_common import lrx  # noqa: E402
from multiprocess_common import mlp  # noqa: E402

from keras_lrx import LRX  # noqa: E402
from keras_lrx import BatchHistory  # noqa: E402
from keras_lrx import LearningRateMetric  # noqa: E402
from keras_lrx import find_lr  # noqa: E402
from keras_lrx import layerwise_decay  # noqa: E402
from keras_lrx import no_decay_on_biases_and_norms  # noqa: E402

keras.config.disable_traceback_filtering()
assert jax.process_count() == PROCESSES and jax.device_count() == 4
LOCAL_BATCH = GLOBAL_BATCH // PROCESSES


def local_rows(n):
    """This process's rows of each global batch of an `n`-row array."""
    return np.concatenate(
        [
            np.arange(
                start + PROCESS * LOCAL_BATCH,
                start + (PROCESS + 1) * LOCAL_BATCH,
            )
            for start in range(0, n, GLOBAL_BATCH)
        ]
    )


ROWS = local_rows(len(X))


def data_parallel():
    distribution = keras.distribution.DataParallel(devices=jax.devices())
    distribution.auto_shard_dataset = False  # each process feeds its rows
    return distribution


def model_parallel():
    # Kernels split over a "model" axis inside each host; the batch split
    # over the hosts.
    mesh = keras.distribution.DeviceMesh(
        (2, 2), ["batch", "model"], devices=jax.devices()
    )
    layout = keras.distribution.LayoutMap(mesh)
    layout["body/kernel"] = (None, "model")
    layout["mid/kernel"] = ("model", None)
    distribution = keras.distribution.ModelParallel(
        layout_map=layout, batch_dim_name="batch"
    )
    distribution.auto_shard_dataset = False
    return distribution


def gathered(model):
    """Every weight as a NumPy array, gathered from all processes."""
    return [
        np.asarray(multihost_utils.process_allgather(v.value, tiled=True))
        for v in model.weights
    ]


def save(case, model, history=None, **extra):
    rates = history.history["learning_rate"] if history else []
    np.savez(
        os.path.join(OUT, f"{case}_{PROCESS}.npz"),
        step=int(model.optimizer.iterations),
        rates=np.asarray(rates, "float64"),
        **{f"w{i}": w for i, w in enumerate(gathered(model))},
        **extra,
    )


def train(model, epochs, initial_epoch=0, callbacks=()):
    return model.fit(
        X[ROWS],
        Y[ROWS],
        batch_size=LOCAL_BATCH,
        epochs=epochs,
        initial_epoch=initial_epoch,
        shuffle=False,
        verbose=0,
        callbacks=list(callbacks),
    )


def barrier(name):
    if PROCESSES > 1:
        multihost_utils.sync_global_devices(name)


def run_groups(case, make_distribution):
    """Groups, a frozen layer, a thaw, decay rules and a schedule; saved
    after one epoch by process 0, reloaded by every process, resumed."""
    keras.distribution.set_distribution(make_distribution())
    model = mlp()
    optimizer = lrx()
    model.compile(optimizer, "mse", metrics=[LearningRateMetric(optimizer)])
    history = BatchHistory()
    train(model, 1, callbacks=[history])
    # Every process calls `save` (Keras makes variables while saving, a
    # step every process of a distribution takes); process 0's file is the
    # one all of them read back.
    path = os.path.join(OUT, f"{case}_checkpoint.keras")
    model.save(path if PROCESS == 0 else path + f".{PROCESS}.keras")
    barrier(f"{case} saved")
    resumed = keras.models.load_model(path)
    logs = train(resumed, 2, initial_epoch=1, callbacks=[history])
    save(
        case,
        resumed,
        history,
        metric=np.asarray(logs.history["learning_rate"], "float64"),
    )
    keras.distribution.set_distribution(None)


class _Preempted(Exception):
    pass


class _PreemptAt(keras.callbacks.Callback):
    """Raises at the given batch of the given epoch, in every process."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise _Preempted()


def run_backup_and_restore():
    """Preempted in the second epoch, restarted: `BackupAndRestore` (a
    folder per process) resumes from the end of the first."""
    keras.distribution.set_distribution(data_parallel())
    backup = os.path.join(OUT, f"backup_{PROCESS}")
    model = mlp()
    model.compile(lrx(), "mse")
    try:
        model.fit(
            X[ROWS],
            Y[ROWS],
            batch_size=LOCAL_BATCH,
            epochs=2,
            shuffle=False,
            verbose=0,
            callbacks=[
                keras.callbacks.BackupAndRestore(backup),
                _PreemptAt(epoch=1, batch=1),
            ],
        )
        raise AssertionError("not preempted")
    except _Preempted:
        pass
    model = mlp()
    model.compile(lrx(), "mse")
    train(model, 2, callbacks=[keras.callbacks.BackupAndRestore(backup)])
    save("backup", model)
    keras.distribution.set_distribution(None)


def run_keras_hub():
    """Layer-wise rates on a small keras-hub BERT under data parallelism."""
    reason = keras_hub_import_error()
    if reason:  # a pre-release Keras keras-hub does not follow yet
        with open(os.path.join(OUT, "keras_hub_skipped.txt"), "w") as f:
            f.write(reason)
        return
    import keras_hub

    keras.distribution.set_distribution(data_parallel())
    keras.utils.set_random_seed(2)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=30,
        num_layers=2,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=6,
        dropout=0.0,
        name="bert",
    )
    inputs = {
        k: keras.Input((6,), dtype="int32", name=k)
        for k in ("token_ids", "segment_ids", "padding_mask")
    }
    outputs = keras.layers.Dense(2, name="head")(
        backbone(inputs)["pooled_output"]
    )
    model = keras.Model(inputs, outputs)
    model.compile(
        LRX(
            keras.optimizers.AdamW(1e-2, weight_decay=0.01),
            multipliers=layerwise_decay(backbone, 0.5),
            weight_decay_multipliers=no_decay_on_biases_and_norms,
        ),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(3)
    n = GLOBAL_BATCH * 2
    x = {
        "token_ids": rng.integers(1, 30, size=(n, 6)).astype("int32"),
        "segment_ids": np.zeros((n, 6), "int32"),
        "padding_mask": np.ones((n, 6), "int32"),
    }
    y = rng.integers(0, 2, size=(n,)).astype("int32")
    rows = local_rows(n)
    model.fit(
        {k: v[rows] for k, v in x.items()},
        y[rows],
        batch_size=LOCAL_BATCH,
        epochs=2,
        shuffle=False,
        verbose=0,
    )
    save("keras_hub", model)
    keras.distribution.set_distribution(None)


def run_find_lr():
    """`find_lr` across processes: the outcome and whether the model is
    exactly as before."""
    keras.distribution.set_distribution(data_parallel())
    model = mlp()
    model.compile(lrx(), "mse")
    train(model, 1)
    before = gathered(model)
    try:
        result = find_lr(
            model,
            X[ROWS],
            Y[ROWS],
            batch_size=LOCAL_BATCH,
            num_steps=16,
            probe=False,
            verbose=0,
        )
        outcome = {
            "suggested": float(result.suggested_learning_rate),
            "losses": [float(v) for v in result.losses],
        }
    except ValueError as error:
        outcome = {"error": str(error)}
    after = gathered(model)
    unchanged = all(np.array_equal(a, b) for a, b in zip(before, after))
    with open(os.path.join(OUT, f"find_lr_{PROCESS}.json"), "w") as f:
        json.dump(dict(outcome, unchanged=unchanged), f)
    keras.distribution.set_distribution(None)


def continue_on_one_device(path):
    """A multi-process run's checkpoint, resumed here with no distribution
    on one device."""
    with jax.default_device(jax.devices()[0]):
        model = keras.models.load_model(path)
        train(model, 2, initial_epoch=1)
    save("one_device", model)


run_groups("data_parallel", data_parallel)
run_groups("model_parallel", model_parallel)
run_backup_and_restore()
run_keras_hub()
run_find_lr()
if CHECKPOINT:
    continue_on_one_device(CHECKPOINT)
print("DONE", PROCESS, flush=True)
