"""MkDocs hooks: draw the pictures from the code before each build."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def on_pre_build(config, **kwargs):
    sys.path.insert(0, HERE)
    try:
        import pictures
    finally:
        sys.path.remove(HERE)
    pictures.make_all(os.path.join(HERE, "gallery"))
