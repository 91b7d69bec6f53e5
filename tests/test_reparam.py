"""Tests for keras_lrx.reparam: SetLearningRate and unwrap_learning_rates.

Training tests compare against an independent reference: the same model
*without* wrappers, trained by a custom loop in which each layer has its own
Keras optimizer at `lr * multiplier` (gradients from the backend's autodiff),
or by the LRX optimizer; never by the code under test.
"""

import math
import re

import keras
import numpy as np
import pytest
from conftest import assert_round_trip
from keras import ops

from keras_lrx.optimizer import LRX
from keras_lrx.reparam import SetLearningRate
from keras_lrx.reparam import unwrap_learning_rates

BACKEND = keras.backend.backend()
F32_ULP = 2.0**-23  # Relative spacing of float32 numbers.


def to_np(x):
    return ops.convert_to_numpy(x)


def _f(*shape):
    return np.random.default_rng(1).normal(size=shape).astype("float32")


# ---------------------------------------------------------------------------
# Reference training: per-layer Keras optimizers in a custom loop.
# ---------------------------------------------------------------------------
def gradient_function(model, loss_fn):
    """`f(x, y)` -> gradients of `loss_fn(y, model(x))` for the trainable
    variables of `model`, with the backend's own autodiff."""
    variables = model.trainable_variables
    if BACKEND == "tensorflow":
        import tensorflow as tf

        def gradients(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            return tape.gradient(loss, variables)

        return gradients
    if BACKEND == "torch":
        import torch

        def gradients(x, y):
            loss = loss_fn(y, model(x, training=True))
            return list(torch.autograd.grad(loss, [v.value for v in variables]))

        return gradients
    if BACKEND == "jax":
        import jax

        def compute_loss(trainable, non_trainable, x, y):
            y_pred, _ = model.stateless_call(
                trainable, non_trainable, x, training=True
            )
            return loss_fn(y, y_pred)

        grad_fn = jax.jit(jax.grad(compute_loss))

        def gradients(x, y):
            return grad_fn(
                [v.value for v in variables],
                [v.value for v in model.non_trainable_variables],
                x,
                y,
            )

        return gradients
    raise NotImplementedError(BACKEND)


def train_reference(model, groups, x, y, batch_size):
    """One epoch (no shuffling); `groups` = [(layer, optimizer), ...]."""
    gradients = gradient_function(model, keras.losses.MeanSquaredError())
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        grads = gradients(xb, yb)
        by_id = {id(v): g for v, g in zip(model.trainable_variables, grads)}
        for layer, optimizer in groups:
            variables = layer.trainable_variables
            optimizer.apply([by_id[id(v)] for v in variables], variables)


# ---------------------------------------------------------------------------
# A small model: embedding -> pooling -> hidden -> head.
# ---------------------------------------------------------------------------
VOCAB, LENGTH, DIM = 48, 4, 6
NAMES = ("emb", "hidden", "head")
MULTIPLIERS = {"emb": 0.1, "head": 2.0}


def build_model(multipliers=None, adaptive=False):
    """Returns `(model, {name: layer or wrapper})`."""

    def init(seed):
        return keras.initializers.RandomNormal(stddev=0.5, seed=seed)

    layers = {
        "emb": keras.layers.Embedding(
            VOCAB, DIM, embeddings_initializer=init(1), name="emb"
        ),
        "hidden": keras.layers.Dense(
            8, activation="tanh", kernel_initializer=init(2), name="hidden"
        ),
        "head": keras.layers.Dense(1, kernel_initializer=init(3), name="head"),
    }
    for name, m in (multipliers or {}).items():
        layers[name] = SetLearningRate(
            layers[name], m, adaptive=adaptive, name=f"{name}_lr"
        )
    inputs = keras.Input((LENGTH,), dtype="int32")
    x = layers["emb"](inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = layers["head"](layers["hidden"](x))
    return keras.Model(inputs, outputs), layers


def make_data(n, batch_size=8, unique_in_batch=False, seed=0):
    """Ids (n, LENGTH) and targets; optionally no id twice in a batch."""
    rng = np.random.default_rng(seed)
    if unique_in_batch:
        per_batch = batch_size * LENGTH
        x = np.concatenate(
            [
                rng.permutation(VOCAB)[:per_batch].reshape(batch_size, LENGTH)
                for _ in range(n // batch_size)
            ]
        )
    else:
        x = rng.integers(0, VOCAB, size=(n, LENGTH))
    y = rng.normal(size=(n, 1)).astype("float32")
    return x.astype("int32"), y


def predictions(model, x):
    return to_np(model(x, training=False))


def train_pair(make_optimizer, adaptive, x, y, ref_kwargs=None):
    """The wrapped model trained by `model.fit` with one optimizer, and the
    same model unwrapped trained by per-layer optimizers at lr * m."""
    ref, ref_layers = build_model()
    wrapped, wrapped_layers = build_model(MULTIPLIERS, adaptive=adaptive)
    for name in NAMES:  # Same theta (set_weights of a wrapper is theta).
        wrapped_layers[name].set_weights(ref_layers[name].get_weights())
    wrapped.compile(optimizer=make_optimizer(0.05), loss="mse")
    wrapped.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    ref_kwargs = ref_kwargs or {}
    groups = [
        (
            ref_layers[name],
            make_optimizer(
                0.05 * MULTIPLIERS.get(name, 1.0), **ref_kwargs.get(name, {})
            ),
        )
        for name in NAMES
    ]
    train_reference(ref, groups, x, y, batch_size=8)
    return (ref, ref_layers), (wrapped, wrapped_layers)


def sgd_momentum(lr):
    return keras.optimizers.SGD(lr, momentum=0.9)


def adam(lr, epsilon=1e-7):
    return keras.optimizers.Adam(lr, epsilon=epsilon)


# ---------------------------------------------------------------------------
# Forward pass: every layer kind gives the unwrapped outputs.
# ---------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="keras_lrx_tests")
class ScaleShift(keras.layers.Layer):
    """A user's custom layer: weights plus a non-trainable call counter."""

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1],), initializer="random_normal", name="w"
        )
        self.b = self.add_weight(
            shape=(input_shape[-1],), initializer="random_normal", name="b"
        )
        self.calls = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="calls"
        )

    def call(self, x):
        self.calls.assign(self.calls + 1.0)
        return x * self.w + self.b


def _ids(*shape):
    return np.random.default_rng(1).integers(0, 20, shape).astype("int32")


def _random_normal_norm(cls):
    return lambda: cls(
        beta_initializer="random_normal", gamma_initializer="random_normal"
    )


LAYER_CASES = {
    "dense": (
        lambda: keras.layers.Dense(5, activation="relu"),
        lambda: (_f(3, 4),),
    ),
    "einsum_dense": (
        lambda: keras.layers.EinsumDense(
            "ab,bc->ac", output_shape=5, bias_axes="c"
        ),
        lambda: (_f(3, 4),),
    ),
    "conv1d": (lambda: keras.layers.Conv1D(3, 3), lambda: (_f(2, 8, 2),)),
    "conv2d": (lambda: keras.layers.Conv2D(3, 3), lambda: (_f(2, 6, 6, 2),)),
    "conv3d": (
        lambda: keras.layers.Conv3D(2, 2),
        lambda: (_f(2, 4, 4, 4, 2),),
    ),
    "depthwise_conv2d": (
        lambda: keras.layers.DepthwiseConv2D(3),
        lambda: (_f(2, 6, 6, 2),),
    ),
    "separable_conv2d": (
        lambda: keras.layers.SeparableConv2D(3, 3),
        lambda: (_f(2, 6, 6, 2),),
    ),
    "embedding": (lambda: keras.layers.Embedding(20, 4), lambda: (_ids(3, 5),)),
    "lstm": (lambda: keras.layers.LSTM(4), lambda: (_f(2, 5, 3),)),
    "gru": (
        lambda: keras.layers.GRU(4, return_sequences=True),
        lambda: (_f(2, 5, 3),),
    ),
    "simple_rnn": (lambda: keras.layers.SimpleRNN(4), lambda: (_f(2, 5, 3),)),
    "batch_norm": (
        _random_normal_norm(keras.layers.BatchNormalization),
        lambda: (_f(4, 3) * 3 + 1,),
    ),
    "layer_norm": (
        _random_normal_norm(keras.layers.LayerNormalization),
        lambda: (_f(4, 3),),
    ),
    "multi_head_attention": (
        lambda: keras.layers.MultiHeadAttention(2, 3),
        lambda: (_f(2, 3, 4), _f(2, 5, 4)),
    ),
    "custom": (ScaleShift, lambda: (_f(3, 4),)),
}


def assert_close_up_to_rounding(actual, expected):
    # lam * (theta / lam) is theta up to one float32 ulp per weight.
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", sorted(LAYER_CASES))
def test_forward_equals_unwrapped_layer(kind):
    make_layer, make_inputs = LAYER_CASES[kind]
    inputs = make_inputs()

    # 1. Wrapping a built layer (pretrained weights) keeps its outputs.
    layer = make_layer()
    expected = to_np(layer(*inputs))
    theta = [to_np(v) for v in layer.weights]
    wrapper = SetLearningRate(layer, 0.1)  # lam = 0.1
    assert_close_up_to_rounding(to_np(wrapper(*inputs)), expected)
    # One set of variables, holding phi; get_weights gives theta back.
    assert len(wrapper.weights) == len(theta)
    assert all(a is b for a, b in zip(wrapper.weights, layer.weights))
    for v, t, w in zip(layer.weights, theta, wrapper.get_weights()):
        if v.trainable:  # (the custom layer's call counter moved on)
            assert_close_up_to_rounding(w, t)

    # 2. A freshly wrapped layer is built by the wrapper (MultiHeadAttention
    # from its two inputs) and computes like the same layer unwrapped.
    wrapper = SetLearningRate(make_layer(), 2.0, adaptive=False)  # sqrt(2)
    actual = to_np(wrapper(*inputs))
    reference = make_layer()
    reference(*inputs)
    reference.set_weights(wrapper.get_weights())
    np.testing.assert_allclose(
        actual, to_np(reference(*inputs)), rtol=1e-6, atol=1e-7
    )


def test_pretrained_embedding_values_come_back():
    vectors = _f(100, 16)
    ids = np.arange(100).reshape(10, 10)
    for multiplier in (0.25, 0.1):
        wrapper = SetLearningRate(
            keras.layers.Embedding(
                100,
                16,
                embeddings_initializer=keras.initializers.Constant(vectors),
            ),
            multiplier,
        )
        out = to_np(wrapper(ids))
        if multiplier == 0.25:  # A power-of-two scale is bit exact...
            np.testing.assert_array_equal(out, vectors[ids])
        else:  # ...others are within one ulp (about 88% bit exact for 0.1).
            np.testing.assert_allclose(out, vectors[ids], rtol=F32_ULP, atol=0)
            assert (out == vectors[ids]).mean() > 0.8
        np.testing.assert_allclose(
            to_np(wrapper.layer.embeddings), vectors / multiplier, rtol=1e-6
        )


def test_masking_passes_through():
    from keras.src.backend.common.masking import get_keras_mask

    ids = np.array([[3, 4, 0, 0], [5, 0, 0, 0]], "int32")
    emb = keras.layers.Embedding(10, 3, mask_zero=True)
    rnn = keras.layers.SimpleRNN(2, return_sequences=True)
    expected = to_np(rnn(emb(ids)))
    wrapped_emb = SetLearningRate(emb, 0.5)
    wrapped_rnn = SetLearningRate(rnn, 4.0, adaptive=False)
    out = to_np(wrapped_rnn(wrapped_emb(ids)))
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)
    mask = get_keras_mask(wrapped_emb(ids))
    np.testing.assert_array_equal(to_np(mask), ids != 0)


def test_multiplier_one_changes_nothing():
    layer = keras.layers.Dense(3)
    x = _f(2, 4)
    expected = to_np(layer(x))
    kernel = to_np(layer.kernel)
    wrapper = SetLearningRate(layer, 1.0)
    np.testing.assert_array_equal(to_np(wrapper(x)), expected)
    np.testing.assert_array_equal(to_np(layer.kernel), kernel)


def test_state_regularizers_and_constraints_act_on_theta():
    layer = ScaleShift()
    wrapper = SetLearningRate(layer, 4.0, adaptive=False)  # lam = 2
    wrapper(_f(2, 3))
    wrapper(_f(2, 3))
    assert float(to_np(layer.calls)) == 2.0  # non-trainable state written

    x = _f(8, 4)
    dense = keras.layers.Dense(
        3,
        kernel_regularizer=keras.regularizers.L2(0.5),
        kernel_constraint=keras.constraints.NonNeg(),
    )
    dense(x)
    expected = 0.5 * float(np.sum(to_np(dense.kernel) ** 2))
    model = keras.Sequential([keras.Input((4,)), SetLearningRate(dense, 0.25)])
    model(x)
    loss = float(to_np(ops.sum(model.losses)))
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(x, -np.ones((8, 3)), batch_size=4, epochs=2, verbose=0)
    assert model.layers[0].get_weights()[0].min() >= 0.0


# ---------------------------------------------------------------------------
# BatchNormalization: gamma/beta reparameterised, moving statistics updated.
# ---------------------------------------------------------------------------
def test_batch_norm_moving_statistics_update_eagerly():
    x = _f(16, 3) * 2 + 1
    plain = keras.layers.BatchNormalization(momentum=0.5)
    wrapped = SetLearningRate(
        keras.layers.BatchNormalization(momentum=0.5), 0.1
    )
    y_plain = to_np(plain(x, training=True))
    y_wrapped = to_np(wrapped(x, training=True))
    np.testing.assert_allclose(y_wrapped, y_plain, rtol=1e-5, atol=1e-6)
    bn = wrapped.layer
    assert np.abs(to_np(bn.moving_mean)).max() > 0.1  # moved from 0
    for name in ("moving_mean", "moving_variance"):
        np.testing.assert_allclose(
            to_np(getattr(bn, name)), to_np(getattr(plain, name)), rtol=1e-6
        )
    before = to_np(bn.moving_mean)
    wrapped(x, training=False)  # inference leaves them alone
    np.testing.assert_array_equal(to_np(bn.moving_mean), before)


def test_batch_norm_moving_statistics_update_in_fit():
    x, y = _f(64, 3) * 2 + 1, _f(64, 1)

    def make(wrap):
        bn = keras.layers.BatchNormalization(momentum=0.5)
        inputs = keras.Input((3,))
        h = (SetLearningRate(bn, 0.1) if wrap else bn)(inputs)
        outputs = keras.layers.Dense(1, kernel_initializer="ones")(h)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        return model, bn

    (_, plain_bn), (wrapped, wrapped_bn) = make(False), make(True)
    # BN comes first: its statistics depend on the data only.
    assert np.abs(to_np(wrapped_bn.moving_mean)).max() > 0.1
    for name in ("moving_mean", "moving_variance"):
        np.testing.assert_allclose(
            to_np(getattr(wrapped_bn, name)),
            to_np(getattr(plain_bn, name)),
            rtol=1e-5,
        )
    assert len(wrapped.non_trainable_weights) == 2


# ---------------------------------------------------------------------------
# Training equivalence.
# ---------------------------------------------------------------------------
def test_sgd_momentum_matches_per_layer_learning_rates():
    x, y = make_data(n=160)  # 20 steps; repeated ids allowed (SGD is linear)
    (ref, ref_layers), (wrapped, wrapped_layers) = train_pair(
        sgd_momentum, False, x, y
    )
    after = predictions(ref, x)
    assert np.abs(after - predictions(build_model()[0], x)).max() > 0.05
    # Measured max difference: 1e-7..3e-7 on all backends.
    np.testing.assert_allclose(predictions(wrapped, x), after, atol=1e-5)
    for name in NAMES:
        for w, r in zip(
            wrapped_layers[name].get_weights(), ref_layers[name].get_weights()
        ):
            np.testing.assert_allclose(w, r, atol=1e-5)

    # The reference is discriminating: one SGD for all layers is far off.
    plain, _ = build_model()
    plain.compile(optimizer=sgd_momentum(0.05), loss="mse")
    plain.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert np.abs(predictions(plain, x) - after).max() > 1e-2


def test_sgd_momentum_matches_lrx_optimizer():
    x, y = make_data(n=160)
    ref, ref_layers = build_model()
    wrapped, wrapped_layers = build_model(MULTIPLIERS, adaptive=False)
    for name in NAMES:
        wrapped_layers[name].set_weights(ref_layers[name].get_weights())
    ref.compile(
        optimizer=LRX(
            keras.optimizers.SGD(0.05, momentum=0.9),
            multipliers={"emb": 0.1, "head": 2.0},
        ),
        loss="mse",
    )
    wrapped.compile(optimizer=sgd_momentum(0.05), loss="mse")
    for model in (ref, wrapped):
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(
        predictions(wrapped, x), predictions(ref, x), atol=1e-5
    )


def test_adam_matches_per_layer_learning_rates_within_tolerance():
    # Batches without repeated ids (see the sparse-gradient notes).
    x, y = make_data(n=96, unique_in_batch=True)  # 12 steps
    (ref, _), (wrapped, _) = train_pair(adam, True, x, y)
    after = predictions(ref, x)
    assert np.abs(after - predictions(build_model()[0], x)).max() > 0.05
    # The reparameterised Adam is Adam at lr*m with epsilon/m. With epsilon
    # 1e-7, measured max differences of predictions (~1 in size): 4.7e-4
    # (tensorflow), 1.1e-4 (jax), 8.1e-4 (torch).
    np.testing.assert_allclose(predictions(wrapped, x), after, atol=2e-3)


def test_adam_is_exactly_adam_with_epsilon_divided_by_scale():
    eps = 1e-3  # large, so that a wrong epsilon would show
    ref_kwargs = {n: {"epsilon": eps / MULTIPLIERS.get(n, 1.0)} for n in NAMES}

    def make_adam(lr, epsilon=eps):
        return adam(lr, epsilon)

    # Also with ids repeated within a batch: on TensorFlow both paths get a
    # sparse (IndexedSlices) embedding gradient, so they agree there too.
    for unique in (True, False):
        x, y = make_data(n=96, unique_in_batch=unique)
        (ref, _), (wrapped, _) = train_pair(
            make_adam, True, x, y, ref_kwargs=ref_kwargs
        )
        # Measured: 1.5e-7..3e-7 on all backends.
        np.testing.assert_allclose(
            predictions(wrapped, x), predictions(ref, x), atol=1e-5
        )


def _embedding_update_difference(epsilon, x, y):
    """Median and max over rows of |d_wrapped - d_ref| / |d_ref|, where d is
    the change of an embedding row during training."""
    (_, ref_layers), (_, wrapped_layers) = train_pair(
        lambda lr: adam(lr, epsilon), True, x, y
    )
    theta0 = to_np(build_model()[1]["emb"].embeddings)
    d_ref = ref_layers["emb"].get_weights()[0] - theta0
    d_wrapped = wrapped_layers["emb"].get_weights()[0] - theta0
    norm = np.linalg.norm(d_ref, axis=1)
    seen = norm > 0
    rel = np.linalg.norm(d_wrapped - d_ref, axis=1)[seen] / norm[seen]
    return float(np.median(rel)), float(rel.max())


def test_adam_epsilon_effect_on_small_gradients():
    # The reparameterised Adam uses epsilon / m where the reference uses
    # epsilon (m = 0.1 for the embedding). Keras adds epsilon to sqrt(v), not
    # to the bias-corrected sqrt(v_hat): after one step sqrt(v) = 0.03 |g|.
    # Targets close to the model's predictions make the residuals, hence the
    # embedding gradients, small (|g| ~ 1e-5), as for rarely seen rows of a
    # large embedding trained with large batches.
    x, noise = make_data(n=48, unique_in_batch=True)
    y = predictions(build_model()[0], x) + 0.01 * noise
    _, tiny_max = _embedding_update_difference(1e-12, x, y)
    median, worst = _embedding_update_difference(1e-7, x, y)
    # Measured, epsilon 1e-12: max 5e-5..1.1e-3 (torch);
    # epsilon 1e-7: median 0.07..0.13, max 0.65..1.3.
    assert tiny_max < 5e-3
    assert median > 0.02
    assert worst > 0.3


def test_tf_embedding_gradient_stays_sparse():
    if BACKEND != "tensorflow":
        pytest.skip("tf.IndexedSlices only exist on the TensorFlow backend")
    import tensorflow as tf

    wrapper = SetLearningRate(keras.layers.Embedding(1000, 32), 0.1)
    ids = np.array([[1, 2, 3], [4, 5, 1]])
    wrapper(ids)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(wrapper(ids) ** 2)
    (grad,) = tape.gradient(loss, wrapper.trainable_variables)
    assert isinstance(grad, tf.IndexedSlices)
    assert tuple(grad.values.shape) == (6, 32)  # rows touched, not 1000


def test_multiplier_zero_freezes_the_layer():
    x, y = make_data(n=32)
    model, layers = build_model({"emb": 0.0, "head": 0.0}, adaptive=False)
    theta = {n: layers[n].get_weights() for n in ("emb", "head")}
    model.compile(optimizer=sgd_momentum(0.1), loss="mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    for name, weights in theta.items():
        for before, after in zip(weights, layers[name].get_weights()):
            np.testing.assert_array_equal(after, before)
    assert layers["emb"].scale == 1.0


# ---------------------------------------------------------------------------
# Weights, serialization, unwrapping, mixed precision.
# ---------------------------------------------------------------------------
def test_get_and_set_weights_are_in_theta_space():
    wrapper = SetLearningRate(keras.layers.Dense(3), 0.1)
    wrapper(_f(2, 4))
    kernel, bias = _f(4, 3), _f(3)
    wrapper.set_weights([kernel, bias])
    got = wrapper.get_weights()
    np.testing.assert_allclose(got[0], kernel, rtol=F32_ULP, atol=0)
    np.testing.assert_allclose(got[1], bias, rtol=F32_ULP, atol=0)
    np.testing.assert_allclose(
        to_np(wrapper.layer.kernel), kernel / 0.1, rtol=1e-6
    )
    exact = SetLearningRate(keras.layers.Dense(3), 16.0, adaptive=False)
    exact(_f(2, 4))  # lam = 4, a power of two
    exact.set_weights([kernel, bias])
    np.testing.assert_array_equal(exact.get_weights()[0], kernel)
    with pytest.raises(ValueError):
        wrapper.set_weights([kernel])


def _trained_model(x, y):
    inputs = keras.Input((LENGTH,), dtype="int32")
    h = SetLearningRate(keras.layers.Embedding(VOCAB, DIM), 0.1)(inputs)
    attention = keras.layers.MultiHeadAttention(2, 4)
    h = SetLearningRate(attention, 2.0, adaptive=False)(h, h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    h = SetLearningRate(keras.layers.BatchNormalization(), 0.5)(h)
    outputs = SetLearningRate(keras.layers.Dense(1, name="head"), 3.0)(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    return model


def test_save_and_load_model_give_identical_predictions(tmp_path):
    x, y = make_data(n=32)
    model = _trained_model(x, y)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(predictions(loaded, x), predictions(model, x))
    wrappers = [w for w in loaded.layers if isinstance(w, SetLearningRate)]
    assert [w.multiplier for w in wrappers] == [0.1, 2.0, 0.5, 3.0]
    assert [w.adaptive for w in wrappers] == [True, False, True, True]
    loaded.fit(x, y, batch_size=8, epochs=1, verbose=0)  # still trains


def test_config_round_trip():
    wrapper = SetLearningRate(
        keras.layers.Dense(3, name="d"), 2.0, adaptive=False, name="w"
    )
    wrapper(_f(2, 4))
    config = wrapper.get_config()
    assert config["multiplier"] == 2.0 and config["adaptive"] is False
    for clone in assert_round_trip(wrapper):
        assert clone.scale == pytest.approx(math.sqrt(2.0))
        assert clone.layer.name == "d"


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def _has_wrappers(model):
    return any(isinstance(x, SetLearningRate) for x in _all_layers(model))


def test_unwrap_functional_model():
    x, y = make_data(n=32)
    model = _trained_model(x, y)
    plain = unwrap_learning_rates(model)
    assert not _has_wrappers(plain)
    np.testing.assert_allclose(
        predictions(plain, x), predictions(model, x), rtol=1e-6, atol=1e-6
    )
    head = plain.get_layer("head")
    for a, b in zip(head.get_weights(), model.layers[-1].get_weights()):
        np.testing.assert_array_equal(a, b)


def test_unwrap_sequential_and_nested_models():
    x = _f(5, 4)
    block = keras.Sequential(
        [keras.Input((4,)), SetLearningRate(keras.layers.Dense(4), 0.3)],
        name="block",
    )
    inputs = keras.Input((4,))
    head = SetLearningRate(keras.layers.Dense(2), 5.0, adaptive=False)
    model = keras.Model(inputs, head(block(inputs)))
    plain = unwrap_learning_rates(model)
    assert not _has_wrappers(plain)
    np.testing.assert_allclose(
        predictions(plain, x), predictions(model, x), rtol=1e-6, atol=1e-6
    )

    seq = keras.Sequential(
        [
            keras.Input((4,)),
            SetLearningRate(keras.layers.Dense(3, name="a"), 0.5),
            keras.layers.Dense(2),
        ]
    )
    plain_seq = unwrap_learning_rates(seq)
    assert isinstance(plain_seq, keras.Sequential)
    assert plain_seq.layers[0].name == "a"
    np.testing.assert_array_equal(
        predictions(plain_seq, x), predictions(seq, x)
    )


def test_unwrap_errors():
    with pytest.raises(TypeError, match="Argument `model`"):
        unwrap_learning_rates(keras.layers.Dense(2))

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = SetLearningRate(keras.layers.Dense(2), 2.0)

        def call(self, x):
            return self.dense(x)

    model = Subclassed()
    model(_f(1, 3))
    with pytest.raises(TypeError, match="subclassed"):
        unwrap_learning_rates(model)


def test_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        x, y = make_data(n=32)
        ref, ref_layers = build_model()
        wrapped, wrapped_layers = build_model(MULTIPLIERS, adaptive=True)
        for name in NAMES:
            wrapped_layers[name].set_weights(ref_layers[name].get_weights())
        assert wrapped_layers["emb"].dtype_policy.name == "mixed_float16"
        assert wrapped_layers["emb"].layer.embeddings.dtype == "float32"
        out = to_np(wrapped(x))
        assert out.dtype == np.float16
        np.testing.assert_allclose(out, to_np(ref(x)), rtol=2e-3, atol=2e-3)
        wrapped.compile(optimizer="adam", loss="mse")
        history = wrapped.fit(x, y, batch_size=8, epochs=2, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_per_layer_dtype_policy_is_inherited():
    wrapper = SetLearningRate(keras.layers.Dense(3, dtype="mixed_bfloat16"), 2)
    assert wrapper.dtype_policy.name == "mixed_bfloat16"
    out = wrapper(_f(2, 4))
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"


# ---------------------------------------------------------------------------
# Choosing the scale, and errors.
# ---------------------------------------------------------------------------
class MySGD(keras.optimizers.SGD):
    pass


class MyAdam(keras.optimizers.Adam):
    pass


def test_scale_follows_the_optimizer_kind():
    sgd_like = [
        False,
        keras.optimizers.SGD(0.1, momentum=0.9),
        MySGD(0.1),
        keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD()),
    ]
    adaptive = [
        True,
        keras.optimizers.Adam(),
        keras.optimizers.AdamW(),
        keras.optimizers.Nadam(),
        keras.optimizers.Adamax(),
        keras.optimizers.RMSprop(),
        keras.optimizers.Adagrad(),
        keras.optimizers.Adadelta(),
        keras.optimizers.Lion(),
        keras.optimizers.Ftrl(),
        MyAdam(),
    ]
    for kind in sgd_like + adaptive:
        wrapper = SetLearningRate(keras.layers.Dense(2), 0.09, adaptive=kind)
        expected = 0.09 if any(kind is a for a in adaptive) else 0.3
        assert wrapper.scale == pytest.approx(expected), kind
        assert wrapper.adaptive == (expected == 0.09)


def test_parameter_scaled_optimizers_warn():
    for optimizer in (keras.optimizers.Lamb(), keras.optimizers.Adafactor()):
        with pytest.warns(UserWarning, match="no effect"):
            SetLearningRate(keras.layers.Dense(2), 0.1, adaptive=optimizer)


def test_bad_arguments():
    cases = [
        (
            {"multiplier": -1},
            ValueError,
            "Argument `multiplier` must be >= 0. Received: multiplier=-1",
        ),
        ({"multiplier": float("nan")}, ValueError, "Received: multiplier=nan"),
        ({"multiplier": float("inf")}, ValueError, "Received: multiplier=inf"),
        ({"multiplier": "2"}, TypeError, "Argument `multiplier`"),
        ({"multiplier": True}, TypeError, "Argument `multiplier`"),
        ({"multiplier": 2, "adaptive": "adam"}, TypeError, "`adaptive`"),
        (
            {"multiplier": 2, "adaptive": keras.optimizers.Adam},
            TypeError,
            "not an optimizer class",
        ),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=re.escape(message)):
            SetLearningRate(keras.layers.Dense(2), **kwargs)


def test_bad_layers():
    with pytest.raises(TypeError, match="Argument `layer` must be a `keras"):
        SetLearningRate(lambda x: x, 2.0)
    for no_weights in (keras.layers.ReLU(), keras.layers.Dropout(0.5)):
        with pytest.raises(ValueError, match="trainable float weights"):
            SetLearningRate(no_weights, 2.0)

    class Lazy(keras.layers.Layer):  # built on first call, without weights
        def build(self, input_shape):
            pass

        def call(self, x):
            return x

    wrapper = SetLearningRate(Lazy(), 2.0)
    with pytest.raises(ValueError, match="trainable float weights"):
        wrapper(_f(2, 3))

    with pytest.raises(ValueError, match="must not be or contain"):
        SetLearningRate(SetLearningRate(keras.layers.Dense(2), 2.0), 2.0)
    block = keras.Sequential(
        [keras.Input((3,)), SetLearningRate(keras.layers.Dense(2), 2.0)]
    )
    with pytest.raises(ValueError, match="must not be or contain"):
        SetLearningRate(block, 2.0)
    dense = keras.layers.Dense(2)
    SetLearningRate(dense, 2.0)
    with pytest.raises(ValueError, match="already wrapped"):
        SetLearningRate(dense, 3.0)


# ---------------------------------------------------------------------------
# float16 weights, overflow of phi, unwrapping with custom optimizers.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("multiplier", [4.0, 0.25, 1.0])
def test_float16_layer_keeps_its_dtype_and_values(multiplier):
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float16")
    plain = keras.layers.Dense(5, dtype="float16")
    plain.build((None, 4))
    twin = keras.layers.Dense(5, dtype="float16")
    twin.build((None, 4))
    twin.set_weights(plain.get_weights())
    wrapped = SetLearningRate(twin, multiplier)
    want = plain(x)
    got = wrapped(x)
    assert keras.backend.standardize_dtype(got.dtype) == "float16"
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(got).astype("float32"),
        keras.ops.convert_to_numpy(want).astype("float32"),
        rtol=2e-3,
        atol=2e-3,
    )


@pytest.mark.parametrize(
    "dtype, multiplier",
    # Below the dtype's smallest normal, or phi = 100 / multiplier overflows.
    [
        ("float16", 1e-5),
        ("float16", 1e-4),
        ("float32", 1e-40),
        ("float32", 1e-37),
    ],
)
def test_phi_overflow_is_refused_and_nothing_changes(dtype, multiplier):
    layer = keras.layers.Dense(
        3, dtype=dtype, bias_initializer=keras.initializers.Constant(100.0)
    )
    layer.build((None, 4))
    before = [keras.ops.convert_to_numpy(w).copy() for w in layer.weights]
    with pytest.raises(
        ValueError, match=r"`multiplier` is too small.*" + dtype
    ):
        SetLearningRate(layer, multiplier)
    for b, w in zip(before, layer.weights):
        np.testing.assert_array_equal(b, keras.ops.convert_to_numpy(w))
    # The layer is not left marked as wrapped: it can be wrapped again.
    SetLearningRate(layer, 0.5)


def test_set_weights_refuses_values_whose_phi_overflows():
    layer = keras.layers.Dense(2, dtype="float16")
    layer.build((None, 2))
    wrapped = SetLearningRate(layer, 0.01)
    before = [keras.ops.convert_to_numpy(w).copy() for w in layer.weights]
    with pytest.raises(ValueError, match="overflows float16"):
        wrapped.set_weights([np.full((2, 2), 60000.0), np.zeros(2)])
    for b, w in zip(before, layer.weights):
        np.testing.assert_array_equal(b, keras.ops.convert_to_numpy(w))


class UnregisteredAdam(keras.optimizers.Adam):
    pass


def test_unwrap_works_with_a_custom_optimizer_and_is_not_compiled():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            SetLearningRate(keras.layers.Dense(3, name="body"), 0.1),
            keras.layers.Dense(1, name="head"),
        ]
    )
    model.compile(optimizer=UnregisteredAdam(), loss="mse")
    x = np.ones((2, 4), "float32")
    model.fit(x, np.ones((2, 1), "float32"), verbose=0)
    plain = unwrap_learning_rates(model)
    assert not plain.compiled
    assert model.compiled  # the original is untouched
    np.testing.assert_allclose(
        plain.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )


# ---------------------------------------------------------------------------
# Embedding subclasses with a `call` of their own.
# ---------------------------------------------------------------------------


class DoubledEmbedding(keras.layers.Embedding):
    """A user's Embedding subclass that overrides `call`."""

    def call(self, inputs):
        return super().call(inputs) * 2.0


def embed_reduce(vocabulary, dim):
    import keras_rs  # a test dependency; an import failure is a failure

    return keras_rs.layers.EmbedReduce(vocabulary, dim, combiner="mean")


EMBEDDING_SUBCLASSES = {
    "user_subclass": lambda: DoubledEmbedding(50, 4),
    "keras_rs_embed_reduce": lambda: embed_reduce(50, 4),
}


@pytest.mark.parametrize("kind", sorted(EMBEDDING_SUBCLASSES))
def test_embedding_subclass_trains_like_adam_at_lr_times_m(kind):
    """Wrapped Adam(lr, eps) equals plain Adam(lr*m, eps/m) exactly (see the
    module's derivation): with TensorFlow's sparse updates only when the
    wrapped layer's gradient stays sparse too."""
    m, lr, eps = 0.1, 0.05, 1e-3
    ids = np.array([[1, 2, 3], [4, 5, 1]], "int32")
    make = EMBEDDING_SUBCLASSES[kind]
    keras.utils.set_random_seed(2)
    plain = make()
    plain(ids)
    twin = make()
    twin(ids)
    twin.set_weights(plain.get_weights())
    wrapped = SetLearningRate(twin, m)
    pairs = [
        (plain, keras.optimizers.Adam(lr * m, epsilon=eps / m)),
        (wrapped, keras.optimizers.Adam(lr, epsilon=eps)),
    ]
    for layer, optimizer in pairs:
        for step in range(3):
            grads = _gradients(layer, ids, step)
            optimizer.apply(grads, layer.trainable_variables)
    np.testing.assert_allclose(
        wrapped.get_weights()[0], plain.get_weights()[0], rtol=1e-5, atol=1e-7
    )


def _gradients(layer, ids, step):
    target = np.full((2,) + tuple(layer(ids).shape[1:]), 0.1 * step, "float32")
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = tf.reduce_sum((layer(ids) - target) ** 2)
        grads = tape.gradient(loss, layer.trainable_variables)
        assert all(isinstance(g, tf.IndexedSlices) for g in grads), grads
        return grads
    if BACKEND == "jax":
        import jax

        variables = layer.trainable_variables

        def loss_fn(values):
            with keras.StatelessScope(
                state_mapping=list(zip(variables, values))
            ):
                return ops.sum((layer(ids) - target) ** 2)

        return jax.grad(loss_fn)([v.value for v in variables])
    import torch

    loss = ops.sum((layer(ids) - ops.convert_to_tensor(target)) ** 2)
    return list(
        torch.autograd.grad(loss, [v.value for v in layer.trainable_variables])
    )


def test_unbuilt_layer_refused_at_build_can_be_wrapped_again():
    layer = keras.layers.Dense(
        3, dtype="float16", bias_initializer=keras.initializers.Constant(100.0)
    )
    with pytest.raises(ValueError, match="`multiplier` is too small"):
        SetLearningRate(layer, 1e-4)(np.ones((1, 4), "float16"))
    wrapped = SetLearningRate(layer, 0.5)
    assert wrapped(np.ones((1, 4), "float16")).shape == (1, 3)


def test_tf_gradient_stays_sparse_through_a_composite_layer():
    if BACKEND != "tensorflow":
        pytest.skip("tf.IndexedSlices only exist on the TensorFlow backend")
    import tensorflow as tf

    inner = keras.Sequential(
        [keras.layers.Embedding(100, 4), keras.layers.Dense(2)]
    )
    wrapper = SetLearningRate(inner, 0.1)
    ids = np.array([[1, 2, 3]])
    wrapper(ids)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(wrapper(ids) ** 2)
    grads = tape.gradient(loss, wrapper.trainable_variables)
    assert isinstance(grads[0], tf.IndexedSlices)  # the embedding table
    assert not isinstance(grads[1], tf.IndexedSlices)  # the Dense kernel
