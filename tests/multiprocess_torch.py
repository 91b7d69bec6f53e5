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

if PROCESSES > 1:
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{PORT}",
        rank=PROCESS,
        world_size=PROCESSES,
    )
# After the process group: the shared model, LRX and data.
from multiprocess_common import GLOBAL_BATCH  # noqa: E402
from multiprocess_common import X  # noqa: E402
from multiprocess_common import Y  # noqa: E402
from multiprocess_common import lrx  # noqa: E402
from multiprocess_common import mlp  # noqa: E402

LOCAL_BATCH = GLOBAL_BATCH // PROCESSES


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
optimizer = lrx()
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
