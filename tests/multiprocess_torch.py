"""One process of a multi-process torch run (`tests/test_multiprocess.py`).

    python multiprocess_torch.py PROCESS_ID NUM_PROCESSES PORT OUT_DIR

Keras's torch backend has no `keras.distribution`; across processes a Keras
model trains in a custom loop under PyTorch's `DistributedDataParallel`
(Keras's guide "Multi-GPU distributed training with PyTorch"), which
averages the gradients, and the LRX steps each process's copy. With
NUM_PROCESSES=2 the processes join by gloo on the loopback address and each
feeds its half of every global batch; with 1 it is the reference, fed the
whole batches. After one epoch process 0 saves the model with its LRX, every
process reloads it and trains on. Writes `OUT_DIR/torch_<process>.npz`.
"""

import os
import sys

PROCESS, PROCESSES, PORT, OUT = sys.argv[1:5]
PROCESS, PROCESSES = int(PROCESS), int(PROCESSES)
os.environ["KERAS_BACKEND"] = "torch"

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

from keras_lrx import LRX  # noqa: E402
from keras_lrx import no_decay_on_biases_and_norms  # noqa: E402
from keras_lrx.schedules import CosineWithWarmup  # noqa: E402
from keras_lrx.schedules import Thaw  # noqa: E402

if PROCESSES > 1:
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{PORT}",
        rank=PROCESS,
        world_size=PROCESSES,
    )
GLOBAL_BATCH = 8
LOCAL_BATCH = GLOBAL_BATCH // PROCESSES
RNG = np.random.default_rng(0)
X = RNG.normal(size=(GLOBAL_BATCH * 4, 6)).astype("float32")
Y = RNG.normal(size=(len(X), 1)).astype("float32")


def mlp():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(8, name="frozen")(inputs)
    hidden = keras.layers.Dense(8, activation="tanh", name="body")(hidden)
    hidden = keras.layers.LayerNormalization(name="norm")(hidden)
    hidden = keras.layers.Dense(4, name="mid")(hidden)
    outputs = keras.layers.Dense(1, name="head")(hidden)
    return keras.Model(inputs, outputs, name="net")


def epoch(model):
    """One pass over the data; returns the rates of its steps."""
    optimizer = model.optimizer
    net = (
        torch.nn.parallel.DistributedDataParallel(model)
        if PROCESSES > 1
        else model
    )
    rates = []
    for start in range(0, len(X), GLOBAL_BATCH):
        rows = slice(
            start + PROCESS * LOCAL_BATCH, start + (PROCESS + 1) * LOCAL_BATCH
        )
        x, y = torch.tensor(X[rows]), torch.tensor(Y[rows])
        loss = torch.mean((net(x) - y) ** 2)
        loss.backward()  # DDP averages the gradients over the processes
        variables = model.trainable_variables
        rates.append(float(optimizer.learning_rate))
        optimizer.apply([v.value.grad for v in variables], variables)
        for v in variables:
            v.value.grad = None
    return rates


model = mlp()
optimizer = LRX(
    keras.optimizers.AdamW(weight_decay=0.05),
    schedule=CosineWithWarmup(1e-2, warmup_steps=2, total_steps=8),
    multipliers={
        "frozen": 0.0,
        "body": Thaw(0.1, start_step=3, warmup_steps=2),
        "mid": 3.0,
    },
    weight_decay_multipliers=no_decay_on_biases_and_norms,
)
model.compile(optimizer, "mse")  # so that `save` keeps the optimizer
optimizer.build(model.trainable_variables)
rates = epoch(model)
path = os.path.join(OUT, "torch_checkpoint.keras")
if PROCESS == 0:
    model.save(path)
if PROCESSES > 1:
    dist.barrier()
model = keras.models.load_model(path)
rates += epoch(model)
np.savez(
    os.path.join(OUT, f"torch_{PROCESS}.npz"),
    step=int(model.optimizer.iterations),
    rates=np.asarray(rates, "float64"),
    **{
        f"w{i}": keras.ops.convert_to_numpy(w)
        for i, w in enumerate(model.weights)
    },
)
if PROCESSES > 1:
    dist.destroy_process_group()
print("DONE", PROCESS, flush=True)
