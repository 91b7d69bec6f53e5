"""Keras's own callbacks (TensorBoard, SwapEMAWeights) see LRX correctly."""

import keras
import numpy as np
import pytest
from conftest import mlp
from conftest import regression_data
from conftest import to_np

from keras_lrx import LRX
from keras_lrx.schedules import LinearWithWarmup


def logged_learning_rates(log_dir):
    from tensorboard.backend.event_processing import event_accumulator

    accumulator = event_accumulator.EventAccumulator(
        str(log_dir / "train"), size_guidance={"tensors": 0}
    )
    accumulator.Reload()
    return [
        float(np.asarray(keras.ops.convert_to_numpy(e.tensor_proto.float_val)))
        if e.tensor_proto.float_val
        else float(np.frombuffer(e.tensor_proto.tensor_content, "float32")[0])
        for e in accumulator.Tensors("epoch_learning_rate")
    ]


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_tensorboard_logs_the_lrx_rate(tmp_path, policy):
    keras.config.set_dtype_policy(policy)
    x, y = regression_data(n=8)
    model = mlp()
    schedule = LinearWithWarmup(0.5, warmup_steps=1, total_steps=10)
    optimizer = LRX(keras.optimizers.SGD(0.001), schedule=schedule)
    model.compile(optimizer=optimizer, loss="mse")
    steps = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: steps.append(
            int(to_np(optimizer.iterations))
        )
    )
    model.fit(
        x,
        y,
        batch_size=4,
        epochs=2,
        verbose=0,
        callbacks=[record, keras.callbacks.TensorBoard(log_dir=str(tmp_path))],
    )
    # TensorBoard reads the rate after each epoch: the schedule at the step
    # reached (under mixed_float16 a skipped step does not count), not the
    # wrapped SGD's unused 0.001.
    assert steps[-1] >= 3
    expected = [float(to_np(schedule(step))) for step in steps]
    np.testing.assert_allclose(
        logged_learning_rates(tmp_path), expected, rtol=1e-6
    )


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_swap_ema_weights_with_lrx(policy):
    keras.config.set_dtype_policy(policy)
    x, y = regression_data(n=16)

    def run(make_optimizer, freeze_body):
        keras.utils.set_random_seed(3)
        model = mlp()
        if freeze_body:
            model.get_layer("body").trainable = False
        model.compile(optimizer=make_optimizer(), loss="mse")
        swap = keras.callbacks.SwapEMAWeights(swap_on_epoch=True)
        model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[swap])
        return [to_np(w) for w in model.weights]

    def adam():
        return keras.optimizers.Adam(0.01, use_ema=True, ema_momentum=0.5)

    # Without multipliers LRX equals the bare optimizer, EMA swaps included.
    for got, want in zip(run(lambda: LRX(adam()), False), run(adam, False)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    # A frozen group (multiplier 0) equals a frozen layer of the bare model.
    for got, want in zip(
        run(lambda: LRX(adam(), multipliers={"body": 0.0}), False),
        run(adam, True),
    ):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
