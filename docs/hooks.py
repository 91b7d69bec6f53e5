"""MkDocs hooks: the package version in the footer, the pictures drawn from
the code before each build, and a 404 page that works under a sub-path."""

import os
import pathlib
import re
import sys

# Before anything imports TensorFlow (keras-hub does, for the gallery's
# BERT): its C++ start-up lines are not build errors and should not read
# like them. The oneDNN notice is printed whatever the log level, unless
# oneDNN's kernels are off (they only change the last bits of a float).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = pathlib.Path(HERE).parent


def version():
    """keras_lrx.__version__, read without importing the package."""
    text = (ROOT / "keras_lrx" / "__init__.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"', text, flags=re.M)[1]


def on_config(config, **kwargs):
    config["copyright"] = f"keras-lrx {version()} · Apache-2.0"
    config["extra"]["version"] = version()
    return config


def on_pre_build(config, **kwargs):
    sys.path.insert(0, HERE)
    try:
        import pictures
    finally:
        sys.path.remove(HERE)
    pictures.make_all(os.path.join(HERE, "gallery"))


def on_post_build(config, **kwargs):
    """Makes 404.html's links relative.

    MkDocs writes the 404 page's links from the site's root (`/assets/...`),
    because it is served at any depth. Without a `site_url`, that root is the
    server's, and a site served under a sub-path (`/keras-lrx/`) gets an
    unstyled 404 page. Relative links serve a 404 for any top-level address
    under the site's folder; set `site_url` where the site is deployed at a
    fixed address, and MkDocs writes that path instead.
    """
    if config.get("site_url"):
        return
    page = pathlib.Path(config["site_dir"]) / "404.html"
    if page.exists():
        text = page.read_text()
        text = re.sub(r'((?:href|src)=")/(?!/)', r"\1", text)
        text = text.replace('href="."', 'href="./"')
        # Material's settings for its scripts (the search worker, its index).
        text = re.sub(r'("base": *)"/"', r'\1"."', text)
        text = re.sub(r'("search": *)"/', r'\1"', text)
        page.write_text(text)
