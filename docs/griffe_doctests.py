"""A griffe extension: doctest examples render as Python code blocks.

keras-lrx's docstrings follow Keras's style, where the `>>>` lines of an
`Example:` section sit flush with the text (and run as doctests); Google
style, as griffe reads it, wants a section's body indented. This extension
fences every run of `>>>`/`...` lines and their output as ```python code,
so they render as code and their output lines are not read as Markdown.
"""

import griffe


def fence_doctests(text):
    lines, out, block = text.split("\n"), [], []

    def flush():
        if block:
            out.extend(["```python", *block, "```"])
            block.clear()

    for line in lines:
        stripped = line.strip()
        if stripped.startswith((">>>", "...")) or (block and stripped):
            if not block and out and out[-1].strip():
                out.append("")
            block.append(stripped)
            continue
        flush()
        out.append(line)
    flush()
    return "\n".join(out)


class FenceDoctests(griffe.Extension):
    def on_object(self, *, obj, **kwargs):
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
