"""`fine_tune` / `fine_tune_setup`: the one-call recipe (issue 42).

The step-by-step reference is a NumPy SGD on a linear body and head, with
the recipe's rates written out from its documented formulas (warmup + half
cosine of the base rate, the body frozen for the head phase, then each body
layer warming up to its layer-wise multiplier).
"""

import json
import math
import os

import keras
import numpy as np
import pytest
from conftest import BACKEND
from conftest import weights_of
from multiprocess_common import keras_hub_import_error
from test_distribution import TWO_TF_CPUS
from test_distribution import run_script as run_all_ok

import keras_lrx
from keras_lrx import fine_tune
from keras_lrx import fine_tune_setup

FT = __import__("keras_lrx.fine_tune", fromlist=["fine_tune"])


def linear_model(seed=0):
    keras.utils.set_random_seed(seed)
    body = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4, name="b0"),
            keras.layers.Dense(4, name="b1"),
        ],
        name="body",
    )
    inputs = keras.Input((3,))
    outputs = keras.layers.Dense(1, name="head")(body(inputs))
    return keras.Model(inputs, outputs, name="net"), body


def data(n=8, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype("float32")
    return x, y


def classifier(seed=0):
    keras.utils.set_random_seed(seed)
    body = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu", name="b0"),
            keras.layers.Dense(8, activation="relu", name="b1"),
        ],
        name="body",
    )
    inputs = keras.Input((6,))
    outputs = keras.layers.Dense(3, name="head")(body(inputs))
    return keras.Model(inputs, outputs, name="clf"), body


def class_data(n=64, seed=2):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0.5).astype("int32")
    return x, y


LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
#: What most calls below share: the loss, batches of 16 in order, quiet.
QUIET = {"loss": LOSS, "batch_size": 16, "shuffle": False, "verbose": 0}


def reference_rates(lr, k, head_steps, total, warmup, thaw_warmup, m):
    """The documented rate of a body layer at multiplier `m` and of the
    head, at step `k`."""
    if k < warmup:
        base = lr * k / warmup
    else:
        p = min(max((k - warmup) / max(1, total - warmup), 0.0), 1.0)
        base = lr * 0.5 * (1.0 + math.cos(math.pi * p))
    if k < head_steps:
        body = 0.0
    else:
        body = m * min((k - head_steps + 1) / max(1, thaw_warmup), 1.0)
    return base * body, base


def numpy_sgd(weights, x, y, lr, epochs, batch, head_epochs, ratio):
    """SGD on the linear body (b0 at 0.25, b1 at 0.5) and head, MSE."""
    w0, c0, w1, c1, w2, c2 = [np.array(w, "float64") for w in weights]
    steps = math.ceil(len(x) / batch)
    total, head = epochs * steps, round(head_epochs * steps)
    warmup = math.ceil(ratio * (head or total))
    thaw_warmup = math.ceil(ratio * (total - head))
    k = 0
    for _ in range(epochs):
        for i in range(0, len(x), batch):
            xb, yb = x[i : i + batch], y[i : i + batch]
            h0 = xb @ w0 + c0
            h1 = h0 @ w1 + c1
            out = h1 @ w2 + c2
            d_out = 2.0 * (out - yb) / out.size
            g_w2, g_c2 = h1.T @ d_out, d_out.sum(0)
            d_h1 = d_out @ w2.T
            g_w1, g_c1 = h0.T @ d_h1, d_h1.sum(0)
            d_h0 = d_h1 @ w1.T
            g_w0, g_c0 = xb.T @ d_h0, d_h0.sum(0)
            r0, base = reference_rates(
                lr, k, head, total, warmup, thaw_warmup, 0.25
            )
            r1, _ = reference_rates(
                lr, k, head, total, warmup, thaw_warmup, 0.5
            )
            w0, c0 = w0 - r0 * g_w0, c0 - r0 * g_c0
            w1, c1 = w1 - r1 * g_w1, c1 - r1 * g_c1
            w2, c2 = w2 - base * g_w2, c2 - base * g_c2
            k += 1
    return [w0, c0, w1, c1, w2, c2]


@pytest.mark.parametrize("head_epochs", [1.0, 0.0, 1.5])
def test_training_matches_a_numpy_reference(head_epochs):
    model, body = linear_model()
    x, y = data()
    initial = weights_of(model)
    history = fine_tune(
        model,
        x,
        y,
        epochs=4,
        body=body,
        learning_rate=0.05,
        head_epochs=head_epochs,
        layer_decay=0.5,
        warmup_ratio=0.25,
        optimizer=keras.optimizers.SGD(),
        loss="mse",
        batch_size=4,
        shuffle=False,
        verbose=0,
    )
    assert len(history.history["loss"]) == 4
    expected = numpy_sgd(initial, x, y, 0.05, 4, 4, head_epochs, 0.25)
    for got, want in zip(weights_of(model), expected):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-6)
    assert isinstance(model.optimizer, keras_lrx.LRX)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 8


def test_body_is_frozen_for_the_head_phase_then_trains():
    model, body = classifier()
    x, y = class_data()
    before = weights_of(body)
    fine_tune(
        model,
        x,
        y,
        epochs=3,
        body=body,
        learning_rate=1e-2,
        loss=LOSS,
        batch_size=16,
        verbose=0,
        callbacks=[Snapshot(body, at_step=4)],
    )
    for got, want in zip(Snapshot.taken, before):
        np.testing.assert_array_equal(got, want)  # 4 head-only steps
    assert any(
        not np.array_equal(a, b) for a, b in zip(weights_of(body), before)
    )
    decays = model.optimizer.variable_weight_decays
    assert decays["body/b0/bias"] == 0.0 and decays["body/b0/kernel"] > 0


class Snapshot(keras.callbacks.Callback):
    taken = None

    def __init__(self, layer, at_step):
        super().__init__()
        self.layer, self.at_step = layer, at_step

    def on_train_batch_end(self, batch, logs=None):
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        if step == self.at_step:
            Snapshot.taken = weights_of(self.layer)


def test_default_rate_comes_from_find_lr_and_the_model_is_put_back():
    model, body = classifier()
    x, y = class_data(128)
    model.compile("sgd", LOSS, metrics=["accuracy"])
    before = weights_of(model)
    setup = fine_tune_setup(
        model,
        x,
        y,
        epochs=2,
        body=body,
        batch_size=16,
        find_lr_options={"num_steps": 20, "probe_steps": 4},
    )
    for got, want in zip(weights_of(model), before):
        np.testing.assert_array_equal(got, want)
    result = setup.finder_result
    assert isinstance(result, keras_lrx.LRFinderResult)
    suggested = float(result.suggested_learning_rate)
    assert setup.learning_rate == pytest.approx(4.0 * suggested, rel=1e-12)
    assert setup.head_steps == 8 and setup.total_steps == 16
    # The sweep ran with the body at its multipliers, as it will train.
    # The default layer decay: b1 at 0.8, b0 at 0.8 ** 2.
    np.testing.assert_allclose(
        sorted(result.group_learning_rates), [0.64, 0.8, 1.0]
    )
    by_name = {layer.name: m for layer, m in setup.multipliers.items()}
    assert by_name == pytest.approx({"b0": 0.64, "b1": 0.8})
    # The user's compile arguments are kept by the one call.
    history = fine_tune(
        model,
        x,
        y,
        epochs=2,
        body=body,
        learning_rate=setup.learning_rate,
        batch_size=16,
        verbose=0,
    )
    assert "accuracy" in history.history


def test_own_fit_with_the_setup_equals_the_one_call():
    x, y = class_data()
    model, body = classifier()
    fine_tune(
        model,
        x,
        y,
        epochs=3,
        body=body,
        learning_rate=5e-3,
        **QUIET,
    )
    other, other_body = classifier()
    setup = fine_tune_setup(
        other,
        x,
        y,
        epochs=3,
        body=other_body,
        learning_rate=5e-3,
        batch_size=16,
        loss=LOSS,
    )
    other.compile(setup.optimizer, LOSS)
    other.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    for got, want in zip(weights_of(other), weights_of(model)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def _datasets(x, y, batch):
    yield "numpy", (x, y), {"batch_size": batch}
    try:
        import tensorflow as tf
    except ImportError:
        pass
    else:
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)
        yield "tf.data", (ds,), {}
    try:
        import torch
    except ImportError:
        pass
    else:
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(
                torch.from_numpy(x), torch.from_numpy(y)
            ),
            batch_size=batch,
            shuffle=False,
        )
        yield "DataLoader", (loader,), {}


def test_numpy_tf_data_and_torch_data_loader_train_alike():
    x, y = class_data()
    results = {}
    for name, args, kwargs in _datasets(x, y, 16):
        model, body = classifier()
        fine_tune(
            model,
            *args,
            epochs=2,
            body=body,
            learning_rate=5e-3,
            loss=LOSS,
            shuffle=False,
            verbose=0,
            **kwargs,
        )
        results[name] = weights_of(model)
    assert len(results) >= 2
    for name, weights in results.items():
        for got, want in zip(weights, results["numpy"]):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6), name


def test_default_rate_with_a_dataset_of_unknown_length_needs_steps():
    tf = pytest.importorskip("tensorflow")
    x, y = class_data()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).repeat()
    model, body = classifier()
    with pytest.raises(ValueError, match="steps_per_epoch"):
        fine_tune(model, ds, epochs=2, body=body, loss=LOSS, verbose=0)
    history = fine_tune(
        model,
        ds,
        epochs=2,
        body=body,
        loss=LOSS,
        verbose=0,
        steps_per_epoch=4,
        find_lr_options={"num_steps": 20, "probe": False},
    )
    assert len(history.history["loss"]) == 2


class Preempt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("preempted")


def test_backup_and_restore_resumes_mid_run_without_the_finder(
    tmp_path, monkeypatch
):
    x, y = class_data()
    backup = str(tmp_path / "backup")
    options = {"num_steps": 20, "probe_steps": 4}
    model, body = classifier()
    with pytest.raises(RuntimeError, match="preempted"):
        fine_tune(
            model,
            x,
            y,
            epochs=4,
            body=body,
            **QUIET,
            find_lr_options=options,
            callbacks=[keras.callbacks.BackupAndRestore(backup), Preempt(1)],
        )
    with open(os.path.join(backup, FT.STATE_FILE)) as f:
        rate = json.load(f)["learning_rate"]

    def no_finder(*args, **kwargs):
        raise AssertionError("the finder ran again on resume")

    monkeypatch.setattr(FT, "find_lr", no_finder)
    model, body = classifier()  # a new process: the pretrained weights
    history = fine_tune(
        model,
        x,
        y,
        epochs=4,
        body=body,
        **QUIET,
        find_lr_options=options,
        callbacks=[keras.callbacks.BackupAndRestore(backup)],
    )
    assert len(history.history["loss"]) == 2  # epochs 3 and 4 only
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 16
    reference, reference_body = classifier()
    fine_tune(
        reference,
        x,
        y,
        epochs=4,
        body=reference_body,
        learning_rate=rate,
        **QUIET,
    )
    for got, want in zip(weights_of(model), weights_of(reference)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # Saved and reloaded, the model continues with the same optimizer.
    path = str(tmp_path / "tuned.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()


def test_a_backup_of_another_run_is_refused(tmp_path):
    x, y = class_data()
    backup = str(tmp_path / "backup")
    model, body = classifier()
    fine_tune_setup(
        model,
        x,
        y,
        epochs=2,
        body=body,
        learning_rate=1e-3,
        loss=LOSS,
        batch_size=16,
        backup_dir=backup,
    )
    with pytest.raises(ValueError, match="another run"):
        fine_tune_setup(
            model,
            x,
            y,
            epochs=3,
            body=body,
            loss=LOSS,
            batch_size=16,
            backup_dir=backup,
        )


def _bad_calls(body, other):
    return [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": 2.0}, TypeError, "epochs"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate"),
        ({"learning_rate": float("nan")}, ValueError, "learning_rate"),
        ({"learning_rate": "1e-3"}, TypeError, "learning_rate"),
        ({"suggestion_factor": 0}, ValueError, "suggestion_factor"),
        ({"suggestion_factor": None}, TypeError, "suggestion_factor"),
        ({"head_epochs": 2}, ValueError, "head_epochs"),
        ({"head_epochs": -1}, ValueError, "head_epochs"),
        ({"head_epochs": 1.9}, ValueError, "leave steps for the body"),
        ({"layer_decay": 0.0}, ValueError, "layer_decay"),
        ({"layer_decay": 1.5}, ValueError, "layer_decay"),
        ({"warmup_ratio": 1.0}, ValueError, "warmup_ratio"),
        ({"body": "body"}, TypeError, "body"),
        ({"body": other}, ValueError, "part of `model`"),
        ({"body": None}, ValueError, "backbone"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"optimizer": 3}, TypeError, "optimizer"),
        ({"optimizer": keras_lrx.LRX("adam")}, TypeError, "not an `LRX`"),
        ({"find_lr_options": {"x": 1}}, ValueError, "find_lr_options"),
        ({"find_lr_options": [1]}, TypeError, "find_lr_options"),
        ({"backup_dir": 3}, TypeError, "backup_dir"),
        ({"initial_epoch": 1}, ValueError, "initial_epoch"),
    ]


def test_bad_arguments_raise_before_anything_changes():
    x, y = class_data()
    model, body = classifier()
    other, _ = classifier(seed=3)
    model.compile("sgd", LOSS)
    before = weights_of(model)
    optimizer = model.optimizer
    for kwargs, error, fragment in _bad_calls(body, other):
        call = {"epochs": 2, "body": body, "batch_size": 16, "verbose": 0}
        call.update(kwargs)
        function = fine_tune
        if "backup_dir" in kwargs:
            function = fine_tune_setup
            del call["verbose"]
        with pytest.raises(error, match=fragment):
            function(model, x, y, **call)
        assert model.optimizer is optimizer, kwargs
        for got, want in zip(weights_of(model), before):
            np.testing.assert_array_equal(got, want)
    # The body is the whole model: no head to train.
    with pytest.raises(ValueError, match="leave a head"):
        fine_tune(model, x, y, epochs=2, body=model, verbose=0)
    # Not compiled and no loss given.
    fresh, fresh_body = classifier()
    with pytest.raises(ValueError, match="loss"):
        fine_tune(fresh, x, y, epochs=2, body=fresh_body, verbose=0)
    assert not fresh.compiled
    with pytest.raises(TypeError, match="model"):
        fine_tune("model", x, y, epochs=2, body=body)


def test_keras_hub_classifier_defaults_to_its_backbone_by_blocks():
    if keras_hub_import_error():
        pytest.skip(keras_hub_import_error())
    import keras_hub

    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=50,
        num_layers=2,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=6,
        dropout=0.0,
    )
    model = keras_hub.models.BertTextClassifier(
        backbone, num_classes=2, preprocessor=None, dropout=0.0
    )
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 50, size=(32, 6)).astype("int32")
    x = {
        "token_ids": tokens,
        "segment_ids": np.zeros_like(tokens),
        "padding_mask": np.ones_like(tokens),
    }
    y = (tokens[:, 1] > 25).astype("int32")
    setup = fine_tune_setup(
        model,
        x,
        y,
        epochs=2,
        learning_rate=1e-3,
        batch_size=16,
        layer_decay=0.5,
    )  # the task is compiled by keras-hub: its loss is kept
    by_name = {layer.name: m for layer, m in setup.multipliers.items()}
    assert by_name["transformer_layer_1"] == 0.5
    assert by_name["transformer_layer_0"] == 0.25
    assert by_name["token_embedding"] == 0.125
    before = weights_of(backbone)
    history = fine_tune(
        model,
        x,
        y,
        epochs=2,
        learning_rate=1e-3,
        batch_size=16,
        head_epochs=1,
        verbose=0,
    )
    assert np.isfinite(history.history["loss"]).all()
    assert any(
        not np.array_equal(a, b) for a, b in zip(weights_of(backbone), before)
    )


def test_a_flat_sequential_takes_its_body_as_a_list_of_layers():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu", name="b0"),
            keras.layers.Dropout(0.1),
            keras.layers.Dense(8, activation="relu", name="b1"),
            keras.layers.Dense(3, name="head"),
        ]
    )
    x, y = class_data()
    body = model.layers[:3]
    setup = fine_tune_setup(
        model,
        x,
        y,
        epochs=2,
        body=body,
        learning_rate=1e-3,
        loss=LOSS,
        layer_decay=0.5,
    )
    assert {layer.name: m for layer, m in setup.multipliers.items()} == {
        "b0": 0.25,
        "b1": 0.5,
    }
    with pytest.raises(TypeError, match="list of layers"):
        fine_tune_setup(
            model, x, y, epochs=2, body=[model.layers[0], "b1"], loss=LOSS
        )
    with pytest.raises(ValueError, match="leave a head"):
        fine_tune_setup(model, x, y, epochs=2, body=model.layers, loss=LOSS)


FINE_TUNE_CHECK = """
import numpy as np, keras
from keras_lrx import fine_tune
rng = np.random.default_rng(0)
x = rng.normal(size=(80, 6)).astype("float32")  # fifths of 16
y = (x[:, 0] > 0).astype("int32")
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

def model_and_body():
    keras.utils.set_random_seed(1)
    body = keras.Sequential([keras.Input((6,)),
                             keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(8, activation="relu")],
                            name="body")
    inputs = keras.Input((6,))
    model = keras.Model(inputs, keras.layers.Dense(2)(body(inputs)))
    return model, body

def run(**kwargs):
    model, body = model_and_body()
    fine_tune(model, x, y, epochs=3, body=body, batch_size=16, loss=LOSS,
              shuffle=False, verbose=0, **kwargs)
    return [keras.ops.convert_to_numpy(w) for w in model.weights]

def compare(got, reference):
    for a, b in zip(got, reference):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
"""


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute")
def test_fine_tune_under_mirrored_strategy_equals_one_device():
    run_all_ok(
        TWO_TF_CPUS
        + FINE_TUNE_CHECK
        + """
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
reference = run(learning_rate=3e-3)
with strategy.scope():
    got = run(learning_rate=3e-3)
compare(got, reference)
# The finder does not run under a strategy: a clear error, nothing changed.
with strategy.scope():
    model, body = model_and_body()
    try:
        fine_tune(model, x, y, epochs=3, body=body, loss=LOSS, verbose=0)
    except ValueError as e:
        assert "Pass `learning_rate`" in str(e), e
    else:
        raise AssertionError("no error")
    assert not model.compiled
print("ALL OK")
"""
    )


@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution on JAX")
def test_fine_tune_under_jax_data_parallel_equals_one_device():
    run_all_ok(
        FINE_TUNE_CHECK
        + """
import jax
assert len(jax.devices()) == 8
options = {"num_steps": 12, "probe_steps": 3}
reference = run(learning_rate=3e-3)
reference_default = run(find_lr_options=options)
keras.distribution.set_distribution(keras.distribution.DataParallel())
compare(run(learning_rate=3e-3), reference)
compare(run(find_lr_options=options), reference_default)
print("ALL OK")
""",
        {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"},
    )
