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


# --------------------------------------------------------------------------
# Keras internals behind two named doors: `keras.src` and Keras's private
# names appear only in `_keras_compat.py` and the engine's pipeline.
# --------------------------------------------------------------------------
DOORS = {"keras_lrx._keras_compat", "keras_lrx._engine.pipeline"}


def _keras_private_names():
    """The private names (`_x`, not dunders) of the Keras classes keras-lrx
    meets: their class attributes along the MRO and an instance's own."""
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(), "mse")
    optimizer = keras.optimizers.AdamW(
        use_ema=True, gradient_accumulation_steps=2
    )
    optimizer.build(model.trainable_variables)
    objects = [
        optimizer,
        keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD()),
        model,
        model.layers[0],
        keras.Variable(1.0),
        keras.metrics.Mean(),
        keras.callbacks.Callback(),
        keras.optimizers.schedules.ExponentialDecay(0.1, 1, 0.5),
    ]
    names = set()
    for obj in objects:
        for cls in type(obj).__mro__:
            if cls.__module__.startswith("keras"):
                names.update(vars(cls))
        names.update(vars(obj))
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def _keras_subclasses(tree):
    """Names of the classes in `tree` with a base spelled `keras....` or a
    Keras class imported by name (`LearningRateSchedule`)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                text = ast.unparse(base)
                if text.startswith("keras.") or text in (
                    "LearningRateSchedule",
                    "Pipeline",
                ):
                    found.add(node.name)
    return found


def _touches(path, private):
    """`(line, what)` for each Keras internal `path` names."""
    tree = ast.parse(path.read_text())
    keras_classes = _keras_subclasses(tree)
    hits = []

    def in_own_class(node):
        # `self._x` inside a class of keras-lrx's own (not a Keras subclass)
        # is that class's attribute, whatever Keras calls its own.
        for parent in ast.walk(tree):
            if isinstance(parent, ast.ClassDef) and parent.name not in (
                keras_classes
            ):
                if any(child is node for child in ast.walk(parent)):
                    return True
        return False

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "keras.src"
        ):
            hits.append((node.lineno, f"from {node.module} import"))
        elif isinstance(node, ast.Import):
            hits.extend(
                (node.lineno, f"import {a.name}")
                for a in node.names
                if a.name.startswith("keras.src")
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith("keras.src"):
                hits.append((node.lineno, repr(node.value)))
        elif isinstance(node, ast.Attribute) and node.attr in private:
            own = isinstance(node.value, ast.Name) and node.value.id == "self"
            if not (own and in_own_class(node)):
                hits.append((node.lineno, f".{node.attr}"))
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in (
            "getattr",
            "setattr",
            "hasattr",
            "object.__setattr__",
        ):
            name = node.args[1] if len(node.args) > 1 else None
            if isinstance(name, ast.Constant) and name.value in private:
                hits.append(
                    (node.lineno, f"{ast.unparse(node.func)} {name.value}")
                )
        elif isinstance(node, ast.FunctionDef) and node.name in private:
            hits.append((node.lineno, f"def {node.name} (an override)"))
    return hits


def test_keras_internals_only_behind_the_two_doors():
    private = _keras_private_names()
    assert {"_iterations", "_learning_rate", "_backend_update_step"} <= private
    found = {
        _module_name(path): _touches(path, private)
        for path in sorted(PACKAGE.rglob("*.py"))
        if _module_name(path) not in DOORS
    }
    found = {name: hits for name, hits in found.items() if hits}
    assert not found, (
        "Keras internals outside _keras_compat.py and _engine/pipeline.py: "
        f"{found}"
    )
    # The check can fail: the doors themselves are caught by it.
    for door in DOORS:
        path = PACKAGE.parent / (door.replace(".", "/") + ".py")
        assert _touches(path, private), door


def test_the_compat_module_calls_nothing_of_keras_lrx():
    # Accessors only: nothing in it imports (and so calls back into)
    # keras-lrx, and no module calls back into one that imports it.
    graph = _graph()
    assert graph["keras_lrx._keras_compat"] == set()
    engine = {n for n in graph if n.startswith("keras_lrx._engine.")}
    for name in engine:
        assert "keras_lrx.optimizer" not in graph[name], name
