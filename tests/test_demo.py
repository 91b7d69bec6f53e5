"""`python -m keras_lrx demo` runs offline and writes what it promises."""

import json
import os
import subprocess
import sys

from conftest import BACKEND


def test_demo_command_runs_and_writes_results(tmp_path):
    out = tmp_path / "demo"
    env = dict(os.environ, MPLBACKEND="Agg")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_lrx",
            "demo",
            "--backend",
            BACKEND,
            "--out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| LRX: body 0.1x, head 1x |" in result.stdout
    assert "| one global rate, grid-tuned |" in result.stdout
    assert "| keras_lrx.fine_tune (one call) |" in result.stdout
    assert "learning_rate:" in result.stdout  # the metric in the progress log
    assert "find_lr suggests" in result.stdout
    for name in ("finder.png", "schedule.png", "loss.png", "results.json"):
        assert (out / name).stat().st_size > 0, name
    results = json.loads((out / "results.json").read_text())
    assert results["backend"] == BACKEND
    assert 1e-5 < results["suggested_learning_rate"] < 10.0
    variants = {v["variant"]: v for v in results["variants"]}
    assert sorted(variants) == [
        "LRX: body 0.1x, head 1x",
        "LRX: gradual unfreezing",
        "frozen body (0x)",
        "keras_lrx.fine_tune (one call)",
        "one global rate",
        "one global rate, grid-tuned",
    ]
    for row in variants.values():
        assert 0.0 <= row["test_accuracy"] <= 1.0
        assert len(row["test_accuracy_runs"]) == 3
        assert row["learning_rate"] > 0
    # The verdict names the best mean and sets each recipe against the
    # grid-tuned global rate.
    best = max(variants.values(), key=lambda v: v["test_accuracy"])
    assert results["verdict"] in result.stdout
    lines = results["verdict"].splitlines()
    assert lines[0].startswith(f"Best mean: {best['variant']} (")
    assert len(lines) == 6


def _row(name, runs):
    return {
        "variant": name,
        "test_accuracy": sum(runs) / len(runs),
        "test_accuracy_runs": runs,
    }


def test_verdict_wins_and_losses_only_beyond_the_spread():
    from keras_lrx.demo import GRID_TUNED
    from keras_lrx.demo import verdict

    rows = [
        _row("a", [0.90, 0.91]),
        _row("b", [0.84, 0.86]),
        _row("c", [0.70, 0.72]),
        _row(GRID_TUNED, [0.85, 0.86]),
    ]
    lines = verdict(rows).splitlines()
    assert lines[0] == "Best mean: a (0.905)."
    assert lines[1].startswith(f"a vs {GRID_TUNED}: +0.050, wins")
    assert lines[2].startswith(f"b vs {GRID_TUNED}: -0.005, ties")
    assert lines[3].startswith(f"c vs {GRID_TUNED}: -0.145, loses")
