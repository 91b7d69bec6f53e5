"""Scores probe rules offline on `study_probes.py`'s records.

    python benchmarks/probe_rules.py probes-jax.json [more.json ...]
    python benchmarks/probe_rules.py probes-jax.json --search

Each rule is a function `rule(record) -> (rate, probe steps spent)`; it may
only look at the curve's readings, the ceiling and the probe losses at the
rates it probes (`Record.loss`). Its ratio is the test score at its rate
(snapped to `study_probes.RATES`) over the best of `bench_suggestion.GRID`,
as in `bench_suggestion.py`. The table gives mean / worst ratio per case set
and the probe steps each rule spends (median over cases).

Rows:

- the curve's readings (no probes) and `find_lr`'s probes as they are;
- `every rate probed k steps`: the 23 rates of `RATES` all probed for `k`
  steps, the one with the lowest held-out loss (or error rate, "metric")
  taken -- a bound no affordable probe rule can beat by probing more rates
  for as long;
- with `--search`: the probe family of `probe_rule` (candidates, steps,
  tolerance, back-off, a final scale) searched for the variant with the
  best worst case over the two *chosen* sets, among those spending at most
  `--max-steps` probe steps, then shown on every set: the held-out columns
  judge it.
"""

import json
import math
import statistics

import numpy as np

from keras_lrx.probes import PROBE_FACTORS
from keras_lrx.probes import PROBE_STEPS
from keras_lrx.probes import probe_candidates
from keras_lrx.suggestions import PROBE_BACKOFF
from keras_lrx.suggestions import PROBE_TOLERANCE
from keras_lrx.suggestions import pick_probe

CHECKPOINTS = (5, 10, 20, 40, 80)


class Record:
    """One case of `study_probes.py`: its test scores, readings and probes.

    `name` is "<set> <case>"; `rates` the grid every rate of the record is
    on (`study_probes.RATES`).
    """

    def __init__(self, name, raw, rates):
        self.name = name
        self.set = name.split(" ")[0]
        self.rates = np.asarray(rates)
        self.log_rates = np.log10(self.rates)
        self.metric = raw["metric"]
        self.flat = raw["flat"]
        self.readings = raw["readings"]
        self.ceiling = raw["ceiling"]
        self.steps = raw["steps"]
        sign = -1.0 if self.metric == "mse" else 1.0
        self.test = np.array(
            [np.nan if v is None else v for v in raw["test"]], dtype=float
        )
        self.goodness = sign * self.test
        grid = self.goodness[::2]  # bench_suggestion.GRID
        self.best = np.nanmax(grid)
        self.probe = _table(raw["probe"])
        #: the compiled metric as an error (1 - accuracy; MSE as is)
        self.probe_error = _table(raw.get("probe_metric", raw["probe"]))
        if self.metric != "mse" and "probe_metric" in raw:
            self.probe_error = 1.0 - self.probe_error
            self.probe_error[~np.isfinite(self.probe_error)] = math.inf

    def index(self, rate):
        return int(np.argmin(np.abs(self.log_rates - math.log10(rate))))

    def ratio(self, rate):
        if rate is None or not np.isfinite(rate):
            return 0.0
        value = self.test[self.index(rate)]
        if not np.isfinite(value):
            return 0.0
        best = -self.best if self.metric == "mse" else self.best
        return best / value if self.metric == "mse" else value / best

    def loss(self, rate, steps, score="loss"):
        """The probe's held-out loss (`score="error"`: error rate) at `rate`
        after `steps` steps."""
        table = self.probe if score == "loss" else self.probe_error
        return table[self.index(rate), CHECKPOINTS.index(steps)]


def _table(rows):
    """Rates x checkpoints; a diverged probe's missing values are inf."""
    return np.array(
        [
            [math.inf if v is None else v for v in row]
            + [math.inf] * (len(CHECKPOINTS) - len(row))
            for row in rows
        ],
        dtype=float,
    )


def load(paths):
    records = []
    for path in paths:
        with open(path) as f:
            raw = json.load(f)
        rates = raw.pop("_rates")
        records += [Record(name, r, rates) for name, r in raw.items()]
    return records


def probe_rule(
    anchor="descent",
    factors=PROBE_FACTORS,
    steps=PROBE_STEPS,
    tolerance=PROBE_TOLERANCE,
    backoff=PROBE_BACKOFF,
    scale=1.0,
    score="loss",
):
    """The family of `find_lr`'s probes, by its own functions: candidates
    `probe_candidates(anchor, ceiling, factors)`, the pick
    `pick_probe(candidates, losses, tolerance, backoff)`, multiplied by
    `scale`. The defaults are `find_lr`'s."""

    def rule(r):
        a = r.readings.get(anchor)
        if r.flat or a is None:
            return r.readings["descent"], 0
        cands = probe_candidates(a, r.ceiling, factors)
        losses = [r.loss(c, steps, score) for c in cands]
        pick = pick_probe(cands, losses, tolerance, backoff)
        return pick * scale, steps * len(cands)

    return rule


def reading_rule(name, scale=1.0):
    def rule(r):
        v = r.readings.get(name)
        return (None if v is None else v * scale), 0

    return rule


def oracle_rule(steps, scale=1.0, score="loss"):
    """Every rate of the grid probed (not affordable): the best at `steps`."""

    def rule(r):
        table = r.probe if score == "loss" else r.probe_error
        losses = table[:, CHECKPOINTS.index(steps)]
        return r.rates[int(np.argmin(losses))] * scale, steps * len(r.rates)

    return rule


def evaluate(records, rules):
    sets = sorted({r.set for r in records})
    rows = []
    for label, rule in rules.items():
        row = [label]
        spent = []
        for s in sets:
            ratios = []
            for r in records:
                if r.set != s:
                    continue
                rate, cost = rule(r)
                ratios.append((r.ratio(rate), r.name))
                spent.append(cost)
            worst = min(ratios)
            row.append(
                f"{statistics.mean(v for v, _ in ratios):.3f}/{worst[0]:.3f}"
            )
        row.append(f"{statistics.median(spent):.0f}")
        rows.append(row)
    header = ["rule", *sets, "probe steps"]
    widths = [
        max(len(str(x[i])) for x in [header, *rows]) for i in range(len(header))
    ]
    for x in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(x, widths)))
    print("cases per set:", {s: sum(r.set == s for r in records) for s in sets})


def worst_cases(records, rule, n=8):
    out = []
    for r in records:
        rate, _ = rule(r)
        best_rate = r.rates[::2][int(np.nanargmax(r.goodness[::2]))]
        out.append((r.ratio(rate), r.name, rate, best_rate))
    for v, name, rate, best in sorted(out)[:n]:
        print(f"  {v:.3f} {name} pick={rate:.2g} best={best:.2g}")


def search(records, max_steps):
    """The probe variant with the best worst case on the chosen sets."""
    root = math.sqrt(10.0)
    factor_sets = {
        "1,10,100": (1.0, 10.0, 100.0),
        "1,3,10,30": (1.0, root, 10.0, 10.0 * root),
        "1,3,10,30,100": (1.0, root, 10.0, 10.0 * root, 100.0),
        "1,3,10": (1.0, root, 10.0),
        "1,10": (1.0, 10.0),
        "1,100": (1.0, 100.0),
    }
    chosen = [s for s in sorted({r.set for r in records}) if "chosen" in s]
    found = []
    for name, factors in factor_sets.items():
        for steps in CHECKPOINTS[:-1]:
            if steps * len(factors) > max_steps:
                continue
            for tolerance in (0.0, 0.1, 0.2, 0.5):
                for backoff in (1.0, root**0.5, root):
                    for scale in (0.5, 1.0, 2.0):
                        for score in ("loss", "error"):
                            rule = probe_rule(
                                "descent",
                                factors,
                                steps,
                                tolerance,
                                backoff,
                                scale,
                                score,
                            )
                            worst, mean = [], []
                            for s in chosen:
                                v = [
                                    r.ratio(rule(r)[0])
                                    for r in records
                                    if r.set == s
                                ]
                                worst.append(min(v))
                                mean.append(statistics.mean(v))
                            label = (
                                f"searched: x{name}, {steps} steps, tol "
                                f"{tolerance:g}, back-off {backoff:.2g}, "
                                f"scale {scale:g}, {score}"
                            )
                            found.append((min(worst), min(mean), label, rule))
    found.sort(key=lambda t: t[:2], reverse=True)
    return {label: rule for _, _, label, rule in found[:3]}


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("records", nargs="+")
    parser.add_argument("--search", action="store_true")
    parser.add_argument("--max-steps", type=int, default=60)
    parser.add_argument(
        "--worst",
        type=int,
        default=0,
        help="print each rule's N worst cases (the default and searched)",
    )
    args = parser.parse_args(argv)
    records = load(args.records)
    rules = {
        "descent": reading_rule("descent"),
        "minimum": reading_rule("minimum"),
        "centered": reading_rule("centered"),
        "probes (find_lr's default)": probe_rule(),
    }
    for k in CHECKPOINTS:
        rules[f"every rate probed {k} steps, loss"] = oracle_rule(k)
        rules[f"every rate probed {k} steps, metric"] = oracle_rule(
            k, score="error"
        )
    if args.search:
        rules.update(search(records, args.max_steps))
    evaluate(records, rules)
    if args.worst:
        for label, rule in rules.items():
            if label.startswith(("probes", "searched")):
                print(f"{label}, worst cases:")
                worst_cases(records, rule, args.worst)


if __name__ == "__main__":
    main()
