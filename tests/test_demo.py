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
    assert "learning_rate:" in result.stdout  # the metric in the progress log
    for name in ("finder.png", "schedule.png", "loss.png", "results.json"):
        assert (out / name).stat().st_size > 0, name
    results = json.loads((out / "results.json").read_text())
    assert results["backend"] == BACKEND
    assert 1e-5 < results["suggested_learning_rate"] < 1.0
    accuracies = {v["variant"]: v["test_accuracy"] for v in results["variants"]}
    assert len(accuracies) == 3
    # Fine-tuning the pretrained body beats keeping it frozen on this task.
    assert (
        accuracies["LRX: body 0.1x, head 1x"] > accuracies["frozen body (0x)"]
    )
    assert all(0.5 < a <= 1.0 for a in accuracies.values())
