"""The documentation site (`docs/`, `mkdocs.yml`): its examples run and print
what the pages show, every guide shows a picture or an output, every public
name is documented and in the API reference, and the gallery draws every
schedule. The site itself is built in strict mode by `.ci/run`, which then
opens every page in a browser (`docs/check_site.py`)."""

import inspect
import pathlib
import re
import sys

import pytest
from doc_examples import examples
from doc_examples import run

import keras_lrx
from keras_lrx import experimental
from keras_lrx import schedules

ROOT = pathlib.Path(__file__).parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
BLOCKS = [
    (page, index, block)
    for page in PAGES
    for index, block in enumerate(examples(page.read_text()))
]
GUIDES = sorted((DOCS / "guides").glob("*.md"))
PUBLIC = (
    [
        (f"keras_lrx.{name}", getattr(keras_lrx, name))
        for name in keras_lrx.__all__
        if name not in ("__version__", "schedules", "experimental")
    ]
    + [
        (f"keras_lrx.schedules.{name}", getattr(schedules, name))
        for name in schedules.__all__
    ]
    + [
        (f"keras_lrx.experimental.{name}", getattr(experimental, name))
        for name in experimental.__all__
    ]
)


def test_the_docs_have_examples():
    assert len(BLOCKS) >= 10
    # Most show what they print, and the test compares it.
    shown = [b for b in BLOCKS if b[2][1] is not None]
    assert len(shown) >= len(BLOCKS) // 2, len(shown)


@pytest.mark.parametrize("page", GUIDES, ids=[p.name for p in GUIDES])
def test_every_guide_shows_a_picture_or_an_output(page):
    text = page.read_text()
    assert "](../gallery/" in text or "```text\n" in text, page.name


@pytest.mark.parametrize(
    "page, index, block",
    BLOCKS,
    ids=[f"{p.relative_to(DOCS)}:{i}" for p, i, _ in BLOCKS],
)
def test_docs_example_runs(page, index, block, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    code, expected = block
    run(code, expected, f"{page.relative_to(DOCS)} block {index}")


def _is_alias(name, obj):
    # Hugging Face-style lower-case names of the schedule classes.
    return inspect.isclass(obj) and name.rsplit(".", 1)[1] != obj.__name__


@pytest.mark.parametrize("name, obj", PUBLIC, ids=[n for n, _ in PUBLIC])
def test_every_public_name_has_a_docstring_with_an_example(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert len(doc.splitlines()) >= 3, f"{name} has no real docstring"
    if inspect.isclass(obj) or inspect.isfunction(obj):
        assert ">>>" in doc or "```python" in doc, f"{name} has no example"


def test_every_public_name_is_in_the_api_reference():
    api = "\n".join(p.read_text() for p in (DOCS / "api").glob("*.md"))
    documented = set(re.findall(r"^::: ([\w.]+)", api, flags=re.M))
    missing = [
        name
        for name, obj in PUBLIC
        if name not in documented and not _is_alias(name, obj)
    ]
    assert not missing, f"not in docs/api/*.md: {missing}"


def test_the_gallery_draws_every_schedule():
    sys.path.insert(0, str(DOCS))
    try:
        import pictures
    finally:
        sys.path.remove(str(DOCS))
    classes = {
        name
        for name in schedules.__all__
        if inspect.isclass(getattr(schedules, name))
        and getattr(schedules, name).__name__ == name
    }
    assert set(pictures.SCHEDULES) == classes
    gallery = (DOCS / "gallery.md").read_text()
    for name in classes:
        assert f"(gallery/schedule_{name}.png)" in gallery
    for name, make in pictures.SCHEDULES.items():
        assert type(make(schedules)).__name__ == name


def test_every_guide_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in PAGES:
        assert str(page.relative_to(DOCS)) in nav, page
