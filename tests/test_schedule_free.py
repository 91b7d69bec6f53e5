"""Schedule-Free: `LRX` wrapping Keras's `ScheduleFreeAdamW`, and
`SwapScheduleFreeWeights`.

References: a separate `ScheduleFreeAdamW` per variable at `lr * m`; the
averaged weights `x = (y - (1 - beta_1) * z) / beta_1` computed here in
NumPy from the model's weights `y` and the optimizer's `z` slots (found by
their paths), evaluated on a copy of the model.
"""

import keras
import numpy as np
import pytest
from conftest import mlp
from conftest import regression_data
from conftest import to_np
from conftest import weights_of
from keras import ops
from test_optimizer import make_problem

from keras_lrx import LRX
from keras_lrx import SwapScheduleFreeWeights

ScheduleFreeAdamW = getattr(keras.optimizers, "ScheduleFreeAdamW", None)
pytestmark = pytest.mark.skipif(
    ScheduleFreeAdamW is None, reason="Keras < 3.14 has no ScheduleFreeAdamW"
)
LR = 0.01
MULTIPLIERS = [0.1, 1.0, 0.0, 2.5]
BETA_1 = 0.9


@pytest.mark.parametrize("warmup_steps", [0, 3])
def test_each_variable_follows_a_separate_optimizer_at_lr_times_m(
    warmup_steps,
):
    inits, grads = make_problem(seed=6, steps=8)
    variables = [keras.Variable(x, name=f"v{i}") for i, x in enumerate(inits)]
    optimizer = LRX(
        ScheduleFreeAdamW(LR, warmup_steps=warmup_steps, weight_decay=0.01),
        multipliers={f"v{i}": m for i, m in enumerate(MULTIPLIERS)},
    )
    for g in grads:
        optimizer.apply([ops.convert_to_tensor(x) for x in g], variables)
    for i, m in enumerate(MULTIPLIERS):
        if m == 0.0:
            np.testing.assert_array_equal(to_np(variables[i]), inits[i])
            continue
        reference = keras.Variable(inits[i], name=f"ref{i}")
        alone = ScheduleFreeAdamW(
            LR * m, warmup_steps=warmup_steps, weight_decay=0.01
        )
        for g in grads:
            alone.apply([ops.convert_to_tensor(g[i])], [reference])
        np.testing.assert_allclose(
            to_np(variables[i]), to_np(reference), rtol=1e-5, atol=1e-6
        )


def _trained(callbacks=(), epochs=2, validation=False):
    x, y = regression_data(n=16)
    model = mlp()
    model.set_weights(
        [
            np.random.default_rng(i).normal(size=w.shape).astype("float32")
            for i, w in enumerate(model.weights)
        ]
    )
    model.compile(
        LRX(ScheduleFreeAdamW(0.05), multipliers={"body": 0.3}), "mse"
    )
    history = model.fit(
        x,
        y,
        batch_size=4,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=list(callbacks),
        validation_data=(x, y) if validation else None,
    )
    return model, history, (x, y)


def _averaged(model):
    """x from y and the optimizer's z slots, in NumPy, in weight order."""
    slots = {
        v.path.rsplit("/", 1)[-1].removesuffix("_momentum"): to_np(v)
        for v in model.optimizer.optimizer.variables
        if v.path.endswith("_momentum")
    }
    averaged = []
    for w in model.weights:
        z = slots[f"{model.name}_{w.path.split('/', 1)[1].replace('/', '_')}"]
        averaged.append((to_np(w) - (1 - BETA_1) * z) / BETA_1)
    return averaged


def _loss_at(model, weights, data):
    twin = mlp()
    twin.set_weights(weights)
    twin.compile(loss="mse")
    return twin.evaluate(*data, verbose=0)


def test_evaluate_and_predict_use_the_averaged_weights():
    model, _, data = _trained()
    training = weights_of(model)
    averaged = _averaged(model)
    assert not np.allclose(averaged[0], training[0])
    swap = SwapScheduleFreeWeights()
    loss = model.evaluate(*data, verbose=0, callbacks=[swap])
    np.testing.assert_allclose(loss, _loss_at(model, averaged, data), rtol=1e-5)
    for a, b in zip(training, weights_of(model)):  # y back, exactly
        np.testing.assert_array_equal(a, b)
    predicted = model.predict(data[0], verbose=0, callbacks=[swap])
    twin = mlp()
    twin.set_weights(averaged)
    np.testing.assert_allclose(
        predicted, twin.predict(data[0], verbose=0), rtol=1e-5, atol=1e-6
    )
    for a, b in zip(training, weights_of(model)):
        np.testing.assert_array_equal(a, b)


def test_validation_in_fit_uses_the_averaged_weights_and_trains_as_without():
    plain, plain_history, _ = _trained(validation=True)
    model, history, data = _trained(
        callbacks=[SwapScheduleFreeWeights()], validation=True
    )
    for a, b in zip(weights_of(plain), weights_of(model)):
        np.testing.assert_array_equal(a, b)
    # The last validation ran on the final state's x.
    np.testing.assert_allclose(
        history.history["val_loss"][-1],
        _loss_at(model, _averaged(model), data),
        rtol=1e-5,
    )
    assert history.history["val_loss"][-1] != pytest.approx(
        plain_history.history["val_loss"][-1], rel=1e-4
    )


def test_swap_on_epoch_checkpoints_the_averaged_weights(tmp_path):
    path = str(tmp_path / "x.weights.h5")
    checkpoint = keras.callbacks.ModelCheckpoint(path, save_weights_only=True)
    plain, _, _ = _trained()
    model, _, _ = _trained(
        callbacks=[SwapScheduleFreeWeights(swap_on_epoch=True), checkpoint]
    )
    for a, b in zip(weights_of(plain), weights_of(model)):  # y at the end
        np.testing.assert_array_equal(a, b)
    saved = mlp()
    saved.load_weights(path)
    for a, b in zip(weights_of(saved), _averaged(model)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_swap_needs_a_schedule_free_optimizer():
    model = mlp()
    model.compile(LRX(keras.optimizers.Adam(0.01)), "mse")
    x, y = regression_data(n=8)
    with pytest.raises(TypeError, match="wrapping Adam"):
        model.fit(x, y, verbose=0, callbacks=[SwapScheduleFreeWeights()])
    with pytest.raises(TypeError, match="`swap_on_epoch`"):
        SwapScheduleFreeWeights(swap_on_epoch="yes")
