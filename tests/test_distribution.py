"""Distributed training equals the single-device run (issue: MirroredStrategy
with weight decay). Each check runs in a subprocess, since the devices must be
configured before TensorFlow or JAX starts."""

import pytest
from conftest import BACKEND
from conftest import run_script as run_in_subprocess


def run_script(script, env_extra=None):
    out = run_in_subprocess(script, env_extra)
    assert "ALL OK" in out, out[-3000:]
    return out


TWO_TF_CPUS = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
"""


# Runs every optimizer configuration once under `scope` and once outside it.
WEIGHT_DECAY_CHECK = """
import os, tempfile
import numpy as np, keras
from keras_lrx import LRX, combine, no_decay_on_biases_and_norms
from keras_lrx.schedules import CosineWithWarmup
from keras_lrx.schedules import OneCycle
from keras_lrx.schedules import Thaw

rng = np.random.default_rng(0)
x = rng.normal(size=(32, 6)).astype("float32")
y = rng.normal(size=(32, 1)).astype("float32")
MULTIPLIERS = {"body": 0.1, "mid": 3.0, "head/bias": 0.0}
# The body frozen for three of the six steps, then a warmup.
THAWING = {"body": Thaw(0.1, start_step=3, warmup_steps=2), "mid": 3.0,
           "head/bias": 0.0}

CONFIGS = {
    "adamw": lambda: keras.optimizers.AdamW(0.01, weight_decay=0.05),
    "sgd_wd": lambda: keras.optimizers.SGD(
        0.05, momentum=0.9, weight_decay=0.02
    ),
    "lion": lambda: keras.optimizers.Lion(0.003, weight_decay=0.1),
}
SCALE = None  # a learned scale (`LRX(scale=...)`) where a check sets one


def make_lrx(name, scheduled):
    schedule = (
        CosineWithWarmup(0.01, warmup_steps=2, total_steps=8)
        if scheduled
        else None
    )
    # The scheduled runs thaw the body as they go, with decay rules.
    multipliers = THAWING if scheduled else MULTIPLIERS
    rules = (
        combine(no_decay_on_biases_and_norms, {"mid": 0.5})
        if scheduled
        else None
    )
    # ... and hyperparameters that follow a schedule.
    if not scheduled:
        hyperparameters = None
    elif name == "sgd_wd":
        hyperparameters = {"weight_decay": keras.optimizers.schedules
                           .ExponentialDecay(0.02, 2, 0.5)}
    else:
        hyperparameters = {
            "beta_1": OneCycle(0.01, total_steps=8).momentum_schedule()}
    return LRX(CONFIGS[name](), schedule=schedule, multipliers=multipliers,
               weight_decay_multipliers=rules,
               hyperparameters=hyperparameters, scale=SCALE)


def run(name, scheduled, save_dir=None):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((6,)),
                              keras.layers.Dense(8, name="body"),
                              keras.layers.Dense(8, name="mid"),
                              keras.layers.Dense(1, name="head")], name="net")
    optimizer = make_lrx(name, scheduled)
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    if save_dir is not None:
        path = os.path.join(save_dir, f"{name}_{scheduled}.keras")
        model.save(path)
        reloaded = keras.models.load_model(path)
        for a, b in zip(model.weights, reloaded.weights):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(a),
                                          keras.ops.convert_to_numpy(b))
    return [keras.ops.convert_to_numpy(w) for w in model.weights], rate


def compare(scope):
    with tempfile.TemporaryDirectory() as tmp:
        for name in CONFIGS:
            for scheduled in (False, True):
                reference, reference_rate = run(name, scheduled)
                with scope():
                    got, rate = run(name, scheduled, save_dir=tmp)
                worst = max(
                    float(np.max(np.abs(a - b)))
                    for a, b in zip(got, reference)
                )
                assert worst < 2e-6, (name, scheduled, worst)
                tolerance = 1e-7 * max(1.0, reference_rate)
                assert abs(rate - reference_rate) <= tolerance, (
                    name, scheduled, rate, reference_rate)
                print(f"{name} scheduled={scheduled}: max abs diff {worst:.2e}")
"""


@pytest.mark.skipif(
    BACKEND != "tensorflow", reason="tf.distribute is TensorFlow's"
)
def test_mirrored_strategy_with_weight_decay_equals_single_device():
    out = run_script(
        TWO_TF_CPUS
        + WEIGHT_DECAY_CHECK
        + """
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
compare(strategy.scope)
print("ALL OK")
"""
    )
    print(out)


@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution on JAX")
def test_jax_data_parallel_with_weight_decay_equals_single_device():
    run_script(
        WEIGHT_DECAY_CHECK
        + """
import contextlib, jax
assert len(jax.devices()) == 8

@contextlib.contextmanager
def data_parallel():
    keras.distribution.set_distribution(keras.distribution.DataParallel())
    try:
        yield
    finally:
        keras.distribution.set_distribution(None)

compare(data_parallel)
# A learned scale (its state and reference copies sharded like the rest).
from keras_lrx.experimental import Mechanic
SCALE, CONFIGS = Mechanic(), {"adamw": CONFIGS["adamw"]}
compare(data_parallel)
print("ALL OK")
""",
        {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"},
    )


DISTRIBUTED_CHECK = """
import numpy as np, keras
from keras_lrx import LRX
rng = np.random.default_rng(0)
x = rng.normal(size=(32, 6)).astype("float32")
y = rng.normal(size=(32, 1)).astype("float32")

def run(make_optimizer):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((6,)),
                              keras.layers.Dense(8, name="body"),
                              keras.layers.Dense(1, name="head")])
    model.compile(optimizer=make_optimizer(), loss="mse")
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    return [keras.ops.convert_to_numpy(w) for w in model.weights]
"""


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute")
def test_mirrored_strategy_with_two_cpu_replicas():
    run_in_subprocess(
        TWO_TF_CPUS
        + DISTRIBUTED_CHECK
        + """
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
with strategy.scope():
    got = run(lambda: LRX(keras.optimizers.Nadam(0.01),
                          multipliers={"body": 0.1, "head/bias": 0.0}))
reference = run(lambda: LRX(keras.optimizers.Nadam(0.01),
                            multipliers={"body": 0.1, "head/bias": 0.0}))
for a, b in zip(got, reference):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
outside = keras.optimizers.Adam()
with strategy.scope():
    try:
        LRX(outside)
    except ValueError as e:
        assert "strategy.scope()" in str(e)
    else:
        raise AssertionError("no error for an optimizer made outside the scope")
print("OK")
""",
        {},
    )


@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution on JAX")
def test_jax_data_parallel_with_two_cpu_devices():
    run_in_subprocess(
        DISTRIBUTED_CHECK
        + """
import jax
assert len(jax.devices()) == 2
reference = run(lambda: LRX(keras.optimizers.Nadam(0.01),
                            multipliers={"body": 0.1, "head/bias": 0.0}))
keras.distribution.set_distribution(keras.distribution.DataParallel())
got = run(lambda: LRX(keras.optimizers.Nadam(0.01),
                      multipliers={"body": 0.1, "head/bias": 0.0}))
for a, b in zip(got, reference):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
print("OK")
""",
        {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"},
    )


STATISTICS_CHECK = """
import numpy as np, keras
from keras_lrx import LRX, GroupStatistics
from keras_lrx.schedules import Thaw
rng = np.random.default_rng(0)
x = rng.normal(size=(32, 6)).astype("float32")
y = rng.normal(size=(32, 1)).astype("float32")

def run():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((6,)),
                              keras.layers.Dense(8, name="body"),
                              keras.layers.Dense(1, name="head")])
    optimizer = LRX(keras.optimizers.AdamW(0.01),
                    multipliers={"body": Thaw(0.1, start_step=2), "head": 1.0})
    model.compile(optimizer=optimizer, loss="mse",
                  metrics=[GroupStatistics(optimizer, every=1)])
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False,
                        verbose=0)
    return {k: v for k, v in history.history.items() if "/" in k}

def compare(got, reference):
    assert sorted(got) == sorted(reference), (sorted(got), sorted(reference))
    for key in reference:
        np.testing.assert_allclose(got[key], reference[key], rtol=1e-4,
                                   atol=1e-7, err_msg=key)
    assert reference["update_ratio/body"][-1] > 0
"""


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute")
def test_group_statistics_under_mirrored_strategy_equal_one_device():
    run_script(
        TWO_TF_CPUS
        + STATISTICS_CHECK
        + """
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    got = run()
compare(got, run())
print("ALL OK")
"""
    )


@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution on JAX")
def test_group_statistics_under_jax_data_parallel_equal_one_device():
    run_script(
        STATISTICS_CHECK
        + """
import jax
assert len(jax.devices()) == 2
reference = run()
keras.distribution.set_distribution(keras.distribution.DataParallel())
compare(run(), reference)
print("ALL OK")
""",
        {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"},
    )
