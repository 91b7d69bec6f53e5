"""Every multiplier-key form survives get_config/from_config and
model.save -> load_model -> resume, on every kind of Keras model."""

import keras
import numpy as np
import pytest
from conftest import regression_data
from conftest import to_np

from keras_lrx import LRX
from keras_lrx.multipliers import MultiplierMap


@keras.saving.register_keras_serializable(package="keras_lrx_tests")
class Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.body = keras.layers.Dense(8, activation="tanh", name="body")
        self.mid = keras.layers.Dense(8, activation="tanh", name="mid")
        self.head = keras.layers.Dense(1, name="head")

    def call(self, x):
        return self.head(self.mid(self.body(x)))


def build(kind):
    layers = lambda: [  # noqa: E731
        keras.layers.Dense(8, activation="tanh", name="body"),
        keras.layers.Dense(8, activation="tanh", name="mid"),
    ]
    if kind == "sequential":
        return keras.Sequential(
            [keras.Input((6,)), *layers(), keras.layers.Dense(1, name="head")],
            name="net",
        )
    if kind == "functional":
        x = keras.Input((6,))
        body, mid = layers()
        return keras.Model(x, keras.layers.Dense(1, name="head")(mid(body(x))))
    if kind == "nested_functional":
        inner_in = keras.Input((6,))
        body, mid = layers()
        encoder = keras.Model(inner_in, mid(body(inner_in)), name="encoder")
        x = keras.Input((6,))
        return keras.Model(x, keras.layers.Dense(1, name="head")(encoder(x)))
    model = Subclassed(name="sub")
    model(np.zeros((1, 6), "float32"))
    return model


def find(model, name):
    for layer in model._flatten_layers():
        if layer.name == name:
            return layer
    raise KeyError(name)


def key_forms(model, form):
    head = find(model, "head")
    if form == "names_paths_patterns_layers":
        return {
            "body": 0.5,  # layer name
            head.kernel.path: 2.0,  # exact path
            r".*head/bias": 0.0,  # pattern, freezes
            find(model, "mid"): 0.25,  # layer object
        }
    if form == "model_object_and_trailing_path":
        return {model: 0.3, "head/kernel": 1.5}
    # A pattern rooted at the model's own name (Sequential/subclassed paths
    # start with it; Keras drops it on reload).
    first = model.trainable_variables[0].path.split("/")[0]
    return {rf"{first}/.*": 0.2, "head": 1.0}


KINDS = ["sequential", "functional", "nested_functional", "subclassed"]
FORMS = [
    "names_paths_patterns_layers",
    "model_object_and_trailing_path",
    "rooted",
]


# Functional models' variable paths are not rooted at the model's name.
CASES = [
    (kind, form)
    for kind in KINDS
    for form in FORMS
    if not (form == "rooted" and kind in ("functional", "nested_functional"))
]


@pytest.mark.parametrize("kind, form", CASES)
def test_keys_round_trip_and_resume(tmp_path, kind, form):
    x, y = regression_data(n=16)

    def make():
        keras.utils.set_random_seed(11)
        model = build(kind)
        optimizer = LRX(
            keras.optimizers.Adam(0.01), multipliers=key_forms(model, form)
        )
        model.compile(optimizer=optimizer, loss="mse")
        return model, optimizer

    model, optimizer = make()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    multipliers = list(optimizer.variable_multipliers.values())
    assert len(set(multipliers)) >= 2

    config = optimizer.get_config()
    clone = LRX.from_config(config)
    assert clone.get_config() == config
    clone.build(model.trainable_variables)
    assert clone.variable_multipliers == optimizer.variable_multipliers

    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    reloaded.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    # Same multipliers variable by variable (paths may be rooted differently).
    assert list(reloaded.optimizer.variable_multipliers.values()) == multipliers

    uninterrupted, _ = make()
    uninterrupted.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(reloaded.weights, uninterrupted.weights):
        np.testing.assert_allclose(to_np(a), to_np(b), rtol=1e-5, atol=1e-6)


def test_layer_key_config_names_the_layer_and_its_weights():
    model = build("nested_functional")
    encoder = model.get_layer("encoder")
    config = MultiplierMap({encoder: 0.1}).get_config()
    assert config == [
        [{"layer": "encoder", "paths": [w.path for w in encoder.weights]}, 0.1]
    ]
