"""Run every benchmark on every installed backend: `python -m benchmarks`.

Each script runs in its own process per backend (the Keras backend is fixed
per process) and prints its tables; use `--backend` / `--only` to narrow.
"""

import argparse
import importlib.util
import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).parent
SCRIPTS = [
    "bench_optimizer.py",
    "bench_reparam.py",
    "bench_finder.py",
    "bench_suggestion.py",
    "bench_groups.py",
    "bench_unfreezing.py",
]
BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def main():
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--backend", action="append", choices=list(BACKENDS))
    parser.add_argument("--only", action="append", choices=SCRIPTS)
    args = parser.parse_args()
    backends = args.backend or [
        b for b, module in BACKENDS.items() if importlib.util.find_spec(module)
    ]
    failed = []
    for backend in backends:
        print(f"\n===== KERAS_BACKEND={backend} =====", flush=True)
        for script in args.only or SCRIPTS:
            env = dict(
                os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3"
            )
            code = subprocess.call(
                [sys.executable, str(HERE / script)], env=env
            )
            if code:
                failed.append(f"{script} on {backend}")
    if failed:
        print("FAILED: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
