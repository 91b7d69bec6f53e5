"""The package's import layering: no cycles, and plotting as a leaf."""

import ast
import pathlib

import keras_lrx

PACKAGE = pathlib.Path(keras_lrx.__file__).parent


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path):
    """The keras_lrx modules `path` imports (at any depth in the file)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [
                f"{node.module}.{a.name}" for a in node.names
            ]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found.update(n for n in names if n.startswith("keras_lrx"))
    return found


def _graph():
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: {m for m in _imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }


def test_plotting_imports_nothing_of_keras_lrx():
    assert _graph()["keras_lrx.plotting"] == set()


def test_no_import_cycles():
    graph = _graph()
    # Package __init__ files re-export their children; leave them out.
    inits = {
        n for n in graph if (PACKAGE.parent / n.replace(".", "/")).is_dir()
    }
    graph = {n: deps - inits for n, deps in graph.items() if n not in inits}
    done, path = set(), []

    def visit(name):
        assert name not in path, " -> ".join(path[path.index(name) :] + [name])
        if name in done:
            return
        path.append(name)
        for dep in sorted(graph[name]):
            visit(dep)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
