"""Every ```python block in README.md runs as written and prints what
README shows under it."""

import pathlib

import pytest
from doc_examples import examples
from doc_examples import run

README = pathlib.Path(__file__).parents[1] / "README.md"
BLOCKS = examples(README.read_text())


def test_readme_has_examples_that_show_their_output():
    assert len(BLOCKS) >= 1
    assert all(output is not None for _, output in BLOCKS)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    code, expected = BLOCKS[index]
    run(code, expected, f"README.md block {index}")
