"""The Python examples of README.md and docs/: find them, run them, and
compare what they print with the output shown under them.

An example is a ```python block. When a ```text block follows it, with at
most one paragraph of prose between them (ending in a colon, e.g. "It
prints:"), that block is the example's output: the test runs the example,
captures what it prints and compares, doctest-style —

- runs of whitespace match any whitespace (NumPy and `describe()` pad
  columns to the widest value);
- every number matches a number within a relative 2% (or 1e-6 absolute):
  backends differ in the last bits of a float, and print them so;
- `...` matches anything (doctest's ELLIPSIS), for values that are not
  the point of the example (a loss that depends on the backend's kernels).

An example whose code is one `if keras.backend.backend() == "jax":` block
(a distribution API of one backend) is skipped, as such, on the others.
"""

import contextlib
import io
import math
import re

NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
BLOCK = re.compile(
    r"```python\n(?P<code>.*?)```"
    r"(?:\n\n(?:(?:(?!```)[^\n]+\n)*?(?!```)[^\n]*:\n\n)?"
    r"```text\n(?P<output>.*?)```)?",
    flags=re.S,
)


def examples(text):
    """The `(code, expected_output_or_None)` pairs of a Markdown text.

    >>> examples("```python\\nprint(1)\\n```\\n\\nIt prints:\\n\\n"
    ...          "```text\\n1\\n```")
    [('print(1)\\n', '1\\n')]
    >>> examples("```python\\nx = 1\\n```\\n\\nThen more.")
    [('x = 1\\n', None)]
    """
    return [(m["code"], m["output"]) for m in BLOCK.finditer(text)]


def _pattern(expected):
    """A regular expression for `expected`, and its numbers in order."""
    parts, numbers = [], []
    for token in re.split(rf"(\.\.\.|\s+|{NUMBER})", expected.strip()):
        if not token:
            continue
        if token == "...":
            parts.append(r".*?")
        elif token.isspace():
            parts.append(r"\s*")
        elif re.fullmatch(NUMBER, token):
            parts.append(f"({NUMBER})")
            numbers.append(float(token))
        else:
            parts.append(re.escape(token))
    return "".join(parts), numbers


def mismatch(expected, actual, rtol=0.02, atol=1e-6):
    """Why `actual` does not match `expected`, or None when it does.

    >>> mismatch("lr [0.001  0.0005]", "lr [0.00100001 0.0005]") is None
    True
    >>> mismatch("loss ... lr 0.1", "loss 0.731 lr 0.1") is None
    True
    >>> mismatch("lr 0.1", "lr 0.2")
    'lr 0.1 != lr 0.2: 0.2 where the page shows 0.1'
    >>> mismatch("body 0.1", "head 0.1")
    'the text differs'
    """
    pattern, numbers = _pattern(expected)
    match = re.fullmatch(pattern, actual.strip(), flags=re.S)
    if match is None:
        return "the text differs"
    for want, got in zip(numbers, match.groups()):
        if not math.isclose(float(got), want, rel_tol=rtol, abs_tol=atol):
            where = f"{expected.strip()} != {actual.strip()}"
            if len(where) > 300:
                where = "the output"
            return f"{where}: {got} where the page shows {want:g}"
    return None


def backend_only(code):
    """The backend an example is written for, or None for every backend.

    >>> backend_only('import keras\\nif keras.backend.backend() == "torch":\\n')
    'torch'
    """
    match = re.search(
        r'^if keras\.backend\.backend\(\) == "(\w+)":', code, flags=re.M
    )
    return match and match[1]


def run(code, expected, name):
    """Runs `code`; asserts its printed output matches `expected` (if any).

    Skips (with pytest) an example written for another backend."""
    import keras
    import pytest

    only = backend_only(code)
    if only and only != keras.backend.backend():
        pytest.skip(f"{name} is for the {only} backend")
    if "keras_hub" in code:
        from multiprocess_common import keras_hub_import_error

        reason = keras_hub_import_error()  # raises under a released Keras
        if reason:
            pytest.skip(reason)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, name, "exec"), {})
    if expected is not None:
        why = mismatch(expected, out.getvalue())
        assert why is None, (
            f"{name} printed\n{out.getvalue()}\nbut the page shows\n"
            f"{expected}\n({why})"
        )
