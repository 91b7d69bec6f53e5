"""Training across processes equals one process (issue 27).

Two real processes on the loopback address against the same script in one
process fed the same global batches; each writes what it ended with, the
tests below compare.

- JAX (`tests/multiprocess_jax.py`): two CPU devices per process, joined by
  `jax.distributed.initialize`, `keras.distribution` and `model.fit`.
- TensorFlow (`tests/multiprocess_tf.py`): two workers under
  `MultiWorkerMirroredStrategy` (`TF_CONFIG`), a custom loop, since Keras 3's
  `fit` cannot train under that strategy (pinned down below).
- torch (`tests/multiprocess_torch.py`): Keras's torch backend has no
  `keras.distribution`; a custom loop under PyTorch's
  `DistributedDataParallel` (gloo), the LRX stepping each process's copy.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from conftest import BACKEND

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = ["data_parallel", "model_parallel", "keras_hub", "backup"]
TIMEOUT = 300


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(script, process, processes, port, out, *extra, env_extra=None):
    env = dict(
        os.environ,
        **(env_extra or {}),
        KERAS_BACKEND=BACKEND,
        PYTHONPATH=os.pathsep.join(
            [os.path.dirname(HERE), os.environ.get("PYTHONPATH", "")]
        ),
    )
    env.pop("XLA_FLAGS", None)  # the script sets its own device count
    if not env_extra:
        env.pop("TF_CONFIG", None)
    log = open(os.path.join(out, f"log_{process}.txt"), "w")
    return subprocess.Popen(
        [
            sys.executable,
            os.path.join(HERE, script),
            str(process),
            str(processes),
            str(port),
            out,
            *extra,
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _finish(processes, out):
    """Waits for every process; kills them all if one fails or hangs."""
    try:
        for p in processes:
            p.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pass
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    logs = ""
    for name in sorted(os.listdir(out)):
        if name.startswith("log_"):
            with open(os.path.join(out, name)) as f:
                logs += f"--- {name}\n" + f.read()[-3000:]
    assert all(p.returncode == 0 for p in processes), logs


def _folders(root):
    """`(multi, single)`: new folders under `root` for the two runs."""
    multi, single = os.path.join(root, "multi"), os.path.join(root, "single")
    os.makedirs(multi)
    os.makedirs(single)
    return multi, single


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    if BACKEND != "jax":
        pytest.skip("keras.distribution across processes is JAX's")
    root = tmp_path_factory.mktemp("multiprocess")
    multi, single = _folders(str(root))
    port = _free_port()
    script = "multiprocess_jax.py"
    _finish([_start(script, i, 2, port, multi) for i in range(2)], multi)
    checkpoint = os.path.join(multi, "data_parallel_checkpoint.keras")
    _finish([_start(script, 0, 1, 0, single, checkpoint)], single)
    return multi, single


def _load(folder, name):
    return np.load(os.path.join(folder, f"{name}.npz"))


def _weights(result):
    return [result[k] for k in sorted(result.files, key=str) if k[0] == "w"]


@pytest.mark.parametrize("case", CASES)
def test_every_process_ends_with_the_single_process_weights(runs, case):
    # data_parallel / model_parallel: groups, a frozen layer, a thaw, decay
    # rules and a warmup-cosine, saved after one epoch by process 0 and
    # reloaded by both; keras_hub: layer-wise rates on a BERT; backup:
    # preempted in the second epoch, resumed by `BackupAndRestore`.
    multi, single = runs
    skipped = os.path.join(multi, f"{case}_skipped.txt")
    if os.path.exists(skipped):
        with open(skipped) as f:
            pytest.skip(f.read())
    reference = _load(
        single, "data_parallel_0" if case == "backup" else f"{case}_0"
    )
    for process in range(2):
        got = _load(multi, f"{case}_{process}")
        assert int(got["step"]) == int(reference["step"]) > 0
        pairs = list(zip(_weights(got), _weights(reference)))
        assert len(pairs) == len(_weights(reference)) > 0
        for a, b in pairs:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    first, second = (_load(multi, f"{case}_{p}") for p in range(2))
    for a, b in zip(_weights(first), _weights(second)):
        np.testing.assert_array_equal(a, b)  # the processes agree exactly


@pytest.mark.parametrize("case", ["data_parallel", "model_parallel"])
def test_logged_rates_are_the_same_in_every_process(runs, case):
    multi, single = runs
    reference = _load(single, f"{case}_0")
    assert reference["rates"].size == 8  # BatchHistory: 2 epochs x 4 batches
    for process in range(2):
        got = _load(multi, f"{case}_{process}")
        np.testing.assert_allclose(got["rates"], reference["rates"])
        np.testing.assert_allclose(got["metric"], reference["metric"])


def test_a_multi_process_checkpoint_resumes_on_one_device(runs):
    multi, single = runs
    resumed = _load(single, "one_device_0")
    reference = _load(single, "data_parallel_0")
    assert int(resumed["step"]) == int(reference["step"])
    for a, b in zip(_weights(resumed), _weights(reference)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_find_lr_across_processes_agrees_and_puts_the_model_back(runs):
    # Every process runs the sweep on its rows; the losses are the global
    # batch's, so the processes read the same curve and suggest the same.
    multi, _ = runs
    results = []
    for process in range(2):
        with open(os.path.join(multi, f"find_lr_{process}.json")) as f:
            results.append(json.load(f))
    assert all(r.get("unchanged") for r in results), results
    assert "error" not in results[0], results[0]
    assert len(results[0]["losses"]) > 4
    assert results[0]["losses"] == results[1]["losses"]
    assert results[0]["suggested"] == results[1]["suggested"]


def _assert_processes_equal_one(multi, single, name):
    """The two processes of a custom-loop run (`multiprocess_common`'s
    model: 10 weights, 8 steps) hold the same weights, exactly, and the
    single process's, with the same rate at every step; returns the
    single process's result."""
    reference = _load(single, f"{name}_0")
    assert int(reference["step"]) == 8
    first, second = (_load(multi, f"{name}_{p}") for p in range(2))
    for got in (first, second):
        assert int(got["step"]) == 8
        np.testing.assert_allclose(got["rates"], reference["rates"])
        pairs = list(zip(_weights(got), _weights(reference)))
        assert len(pairs) == 10
        for a, b in pairs:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(_weights(first), _weights(second)):
        np.testing.assert_array_equal(a, b)
    return reference


@pytest.mark.skipif(BACKEND != "torch", reason="torch.distributed")
def test_torch_distributed_data_parallel_equals_one_process(tmp_path):
    multi, single = _folders(str(tmp_path))
    script, port = "multiprocess_torch.py", _free_port()
    _finish([_start(script, i, 2, port, multi) for i in range(2)], multi)
    _finish([_start(script, 0, 1, 0, single)], single)
    _assert_processes_equal_one(multi, single, "torch")


@pytest.fixture(scope="module")
def tf_runs(tmp_path_factory):
    if BACKEND != "tensorflow":
        pytest.skip("tf.distribute.MultiWorkerMirroredStrategy")
    root = tmp_path_factory.mktemp("multiworker")
    multi, single = _folders(str(root))
    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    workers = [
        _start(
            "multiprocess_tf.py",
            i,
            2,
            0,
            multi,
            env_extra={
                "TF_CONFIG": json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": i}}
                )
            },
        )
        for i in range(2)
    ]
    _finish(workers, multi)
    checkpoint = os.path.join(multi, "tf_checkpoint.keras")
    _finish([_start("multiprocess_tf.py", 0, 1, 0, single, checkpoint)], single)
    return multi, single


def test_multi_worker_mirrored_custom_loop_equals_one_process(tf_runs):
    # Groups, a frozen layer, a thaw, decay rules and a warmup-cosine;
    # saved after one epoch by worker 0 and reloaded by both.
    multi, single = tf_runs
    reference = _assert_processes_equal_one(multi, single, "tf")
    resumed = _load(single, "tf_one_device_0")  # the workers' checkpoint
    for a, b in zip(_weights(resumed), _weights(reference)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_keras_fit_cannot_train_under_multi_worker_mirrored(tf_runs):
    # Keras's own limit (keras-team/keras#20585), the bare optimizer as the
    # control: the same error with AdamW and with an LRX. When a Keras
    # release fixes it, this fails: test `fit` and update README then.
    multi, _ = tf_runs
    with open(os.path.join(multi, "tf_fit_0.json")) as f:
        errors = json.load(f)
    assert set(errors) == {"AdamW", "LRX"}
    for name, error in errors.items():
        assert error is not None, f"{name}: fit trained; see the comment"
        assert "PerReplica" in error and "to a Tensor" in error, error
