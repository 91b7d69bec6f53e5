"""Records what any probe rule would see, so rules can be compared offline.

Run for one backend:  KERAS_BACKEND=jax python benchmarks/study_probes.py
--out probes-jax.json (`--sets`, `--quick`, `--datasets` as in
`bench_suggestion.py`).

For every case of `bench_suggestion.py` it records, from the same start:

- the range test's curve readings (`find_lr(probe=False)`): every named
  suggestion and the highest rate the sweep survived;
- `test`: the held-out score after the full budget at each rate of a
  quarter-decade grid (`RATES`, 1e-5 ... 3.16; every other point is
  `bench_suggestion.GRID`, whose best is the ratio's reference);
- `probe` and `probe_metric`: the loss and the compiled metric (accuracy;
  MSE for regression) on the probes' held-out fifth after 5, 10, 20, 40 and
  80 steps at each rate of `RATES`, trained on the other four fifths in the
  order the probes use (`keras_lrx.probes.ProbeData`);
- `curve`: the sweep's rates and raw losses, for readings not yet written.

`benchmarks/probe_rules.py` then scores a rule on these records: the rule
sees the readings and the probe losses at the rates it would have probed
(snapped to `RATES`), and is scored by the test score at the rate it picks
(snapped as well). That is an approximation of running it (the snap is at
most an eighth of a decade); the rule that is chosen is then run for real
with `bench_suggestion.py`.
"""

import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from bench_suggestion import BATCH  # noqa: E402
from bench_suggestion import SET_NAMES  # noqa: E402
from bench_suggestion import Case  # noqa: E402
from bench_suggestion import _take  # noqa: E402
from bench_suggestion import cases  # noqa: E402

from keras_lrx import find_lr  # noqa: E402
from keras_lrx.probes import ProbeData  # noqa: E402
from keras_lrx.suggestions import SUGGESTERS  # noqa: E402

RATES = 10.0 ** np.arange(-5.0, 0.51, 0.25)
CHECKPOINTS = (5, 10, 20, 40, 80)


def _batches(n, steps):
    """Index arrays of `steps` batches over `n` examples in order, epoch
    after epoch (the last batch of an epoch may be short), as `fit` does
    with unshuffled arrays."""
    out = []
    while len(out) < steps:
        for start in range(0, n, BATCH):
            out.append(np.arange(start, min(n, start + BATCH)))
            if len(out) == steps:
                break
    return out


def _probe_losses(case, data, rate):
    case.reset()
    case.optimizer.learning_rate = float(rate)
    batches = _batches(len(data.y), CHECKPOINTS[-1])
    losses, metrics = [], []
    for step, index in enumerate(batches, 1):
        case.model.train_on_batch(*_take((data.x, data.y), index))
        if step in CHECKPOINTS:
            logs = case.model.evaluate(
                data.x_val,
                data.y_val,
                batch_size=BATCH,
                verbose=0,
                return_dict=True,
            )
            value = float(logs["loss"])
            metric = float(
                logs[case.metric if case.metric != "mse" else "loss"]
            )
            if not math.isfinite(value):
                losses += [None] * (len(CHECKPOINTS) - len(losses))
                metrics += [None] * (len(CHECKPOINTS) - len(metrics))
                break
            losses.append(value)
            metrics.append(metric if math.isfinite(metric) else None)
    return losses, metrics


def record(case):
    case.reset()
    result = find_lr(
        case.model, case.x, case.y, batch_size=BATCH, probe=False, verbose=0
    )
    readings = {}
    for method in SUGGESTERS:
        if method == "probe":
            continue
        try:
            readings[method] = float(result.suggest(method))
        except ValueError:
            readings[method] = None
    ceiling = float(result.learning_rates[-1])
    if result.stop_reason in ("diverged", "non_finite"):
        ceiling = float(result.learning_rates[max(0, len(result) - 2)])
    test = []
    for rate in RATES:
        value = case.score(rate)[0]
        test.append(None if not np.isfinite(value) else float(value))
    data = ProbeData(case.x, case.y, BATCH)
    probe, probe_metric = zip(*(_probe_losses(case, data, r) for r in RATES))
    return {
        "metric": case.metric,
        "flat": bool(result.is_flat),
        "readings": readings,
        "ceiling": ceiling,
        "curve": [
            [float(v) for v in result.learning_rates],
            [float(v) for v in result.raw_losses],
        ],
        "stop_reason": result.stop_reason,
        "test": test,
        "probe": probe,
        "probe_metric": probe_metric,
        "steps": case.epochs * -(-len(case.y) // BATCH),
    }


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--sets", default=",".join(SET_NAMES))
    parser.add_argument("--datasets", default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    sets = [SET_NAMES[n] for n in args.sets.split(",") if n]
    names = args.datasets.split(",") if args.datasets else None
    out = {}
    if os.path.exists(args.out):
        with open(args.out) as f:
            out = json.load(f)
    for key, label, specs in cases(args.quick, names, 1, sets):
        name = "-".join(key) + " " + label
        if name in out:
            continue
        start = time.perf_counter()
        out[name] = record(Case(*specs[0]))
        out[name]["backend"] = keras.backend.backend()
        with open(args.out, "w") as f:
            json.dump({**out, "_rates": RATES.tolist()}, f)
        out.pop("_rates", None)
        print(name, f"{time.perf_counter() - start:.0f}s", flush=True)


if __name__ == "__main__":
    main()
