"""Shared helpers for the benchmark scripts (never collected by pytest)."""

import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def machine():
    return (
        f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )


def synchronize():
    """Waits for the work queued on an accelerator, so that a timer reads
    finished steps (a no-op on the CPU): CUDA streams on torch, every live
    array on JAX, every device on TensorFlow."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.synchronize()
    jax = sys.modules.get("jax")
    if jax is not None and jax.default_backend() != "cpu":
        jax.block_until_ready(jax.live_arrays())
    tf = sys.modules.get("tensorflow")
    if tf is not None and tf.config.list_logical_devices("GPU"):
        tf.test.experimental.sync_devices()


def torch_device():
    """The device the benchmarks' native-PyTorch references run on: the one
    Keras's torch backend puts its variables on (CUDA when present)."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def interleaved_samples(steps, rounds=7, block=20, warmup=10):
    """Seconds per call of each zero-argument function, one per round.

    The functions are run in interleaved blocks (A B C A B C ...) so that
    drift in machine load hits every variant alike.
    """
    for fn in steps.values():
        for _ in range(warmup):
            fn()
    samples = {name: [] for name in steps}
    for _ in range(rounds):
        for name, fn in steps.items():
            synchronize()
            start = time.perf_counter()
            for _ in range(block):
                fn()
            synchronize()
            samples[name].append((time.perf_counter() - start) / block)
    return samples


def interleaved_medians(steps, rounds=7, block=20, warmup=10):
    """Median seconds per call of each function (see `interleaved_samples`)."""
    samples = interleaved_samples(steps, rounds, block, warmup)
    return {name: statistics.median(s) for name, s in samples.items()}


def print_table(title, header, rows):
    widths = [
        max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))
    ]
    print(f"\n{title}")
    print(
        "| "
        + " | ".join(str(h).ljust(w) for h, w in zip(header, widths))
        + " |"
    )
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(
            "| "
            + " | ".join(str(c).ljust(w) for c, w in zip(row, widths))
            + " |"
        )
