"""A griffe extension: doctest examples render as Python code blocks.

keras-lrx's docstrings follow Keras's style, where the `>>>` lines of an
`Example:` section sit flush with the text (and run as doctests); Google
style, as griffe reads it, wants a section's body indented. This extension
fences every run of `>>>`/`...` lines and their output as ```python code,
so they render as code and their output lines are not read as Markdown.
"""

import os
import sys

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


class ConstantDefaults(griffe.Extension):
    """A default that names a module constant (`probe_steps=PROBE_STEPS`)
    shows as the constant's value (`probe_steps=20`): the reader of a
    signature wants the number, not a name to look up."""

    def on_package(self, *, pkg, **kwargs):
        for obj in _functions(pkg):
            for parameter in obj.parameters:
                default = parameter.default
                if not isinstance(default, griffe.ExprName):
                    continue
                try:
                    target = obj.parent.modules_collection[
                        default.canonical_path
                    ]
                except (KeyError, AttributeError):
                    continue
                if target.is_attribute and target.value is not None:
                    parameter.default = target.value


def _functions(obj):
    for member in obj.members.values():
        if member.is_alias:
            continue
        if member.is_function:
            yield member
        elif member.is_class or member.is_module:
            yield from _functions(member)


class SchedulePictures(griffe.Extension):
    """Each schedule's curve in its own API entry, after its summary line
    (as optax's reference does). The pictures are drawn by `pictures.py`
    into `docs/gallery/` when the site builds; the API page is
    `docs/api/schedules.md`, one folder below."""

    def on_package(self, *, pkg, **kwargs):
        if pkg.name != "keras_lrx":
            return
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        try:
            import pictures
        finally:
            sys.path.pop(0)

        schedules = pkg["schedules"]
        for name in pictures.SCHEDULES:
            obj = schedules[name]
            if obj.is_alias:
                obj = obj.final_target
            if obj.docstring is None:
                continue
            summary, _, rest = obj.docstring.value.partition("\n\n")
            picture = (
                f"![{name} over {pictures.STEPS} steps]"
                f'(../gallery/schedule_{name}.png){{ width="420" }}'
            )
            obj.docstring.value = f"{summary}\n\n{picture}\n\n{rest}"
