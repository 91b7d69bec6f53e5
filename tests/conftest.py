"""Shared fixtures: tiny models and data. One pytest process per backend."""

import copy
import gc
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

BACKEND = keras.backend.backend()

# The scripts `test_multiprocess.py` starts as processes of their own (they
# read their role from the command line): never imported by pytest, whose
# `--doctest-modules` would otherwise import every module under tests/.
collect_ignore_glob = ["multiprocess_*.py"]


def to_np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def weights_of(model):
    return [to_np(v) for v in model.weights]


def mlp(name_prefix="", inputs=6, hidden=8, outputs=1, functional=False):
    """A two-layer MLP with layers named `body` and `head`."""
    if functional:
        x = keras.Input((inputs,))
        h = keras.layers.Dense(hidden, activation="tanh", name="body")(x)
        y = keras.layers.Dense(outputs, name="head")(h)
        return keras.Model(x, y)
    return keras.Sequential(
        [
            keras.Input((inputs,)),
            keras.layers.Dense(hidden, activation="tanh", name="body"),
            keras.layers.Dense(outputs, name="head"),
        ]
    )


def regression_data(n=32, inputs=6, outputs=1, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, inputs)).astype("float32")
    w = rng.normal(size=(inputs, outputs)).astype("float32")
    y = np.tanh(x @ w).astype("float32")
    return x, y


def _as_json(value):
    """`value` through JSON: raises for anything that is not plain data."""
    return json.loads(json.dumps(value))


def assert_round_trip(obj, custom_objects=None, keras_object=True):
    """The one serialization round trip every serializable object passes.

    `get_config()` is plain JSON; `type(obj).from_config(config)` gives an
    object of the same class whose `get_config()` is equal; and so does
    Keras's own `serialize_keras_object` -> JSON -> `deserialize_keras_object`
    (which finds the class by its registered name). `keras_object=False`
    skips the latter for objects Keras does not serialize itself (a
    `MultiplierMap` is a list inside LRX's config). Returns the copies.
    """
    config = _as_json(obj.get_config())  # Tuples read back as lists.
    clone = type(obj).from_config(copy.deepcopy(obj.get_config()))
    assert type(clone) is type(obj)
    assert _as_json(clone.get_config()) == config
    if not keras_object:
        return (clone,)
    serialized = json.loads(
        json.dumps(keras.saving.serialize_keras_object(obj))
    )
    assert serialized["registered_name"].startswith("keras_lrx>"), serialized
    restored = keras.saving.deserialize_keras_object(
        serialized, custom_objects=custom_objects
    )
    assert type(restored) is type(obj)
    assert _as_json(restored.get_config()) == config
    return clone, restored


def pytest_collection_finish(session):
    # A full garbage collection (Python's own, or one a test or Keras asks
    # for) otherwise walks every object the imports made (TensorFlow, JAX,
    # torch, keras-hub: millions). Frozen objects are left out of
    # collections; what the tests make is still collected.
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _reset_keras_state():
    # Without its own full collection: on TensorFlow that collection walked
    # every graph the earlier tests traced, ~2 s per test late in the suite
    # (test_unfreezing + test_validation + test_suggestions: 155 s -> 68 s,
    # the same peak memory); Python's own collector still runs.
    keras.utils.clear_session(free_memory=False)
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")


def run_script(script, env_extra=None, timeout=600):
    """Runs `script` in a fresh Python on this backend; returns its stdout.

    For checks that configure devices before TensorFlow or JAX starts.
    """
    env = dict(os.environ, KERAS_BACKEND=BACKEND, **(env_extra or {}))
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-4000:]
    return result.stdout
