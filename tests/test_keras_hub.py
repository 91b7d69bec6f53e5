"""Fine-tuning real keras-hub backbones (built from their constructors with
small configs and random weights: nothing is downloaded)."""

import re

import keras
import numpy as np
import pytest
from conftest import to_np
from conftest import weights_of
from multiprocess_common import keras_hub_import_error

if keras_hub_import_error():
    pytest.skip(keras_hub_import_error(), allow_module_level=True)

import keras_hub  # noqa: E402

from keras_lrx import LRX  # noqa: E402
from keras_lrx import combine  # noqa: E402
from keras_lrx import gradual_unfreezing  # noqa: E402
from keras_lrx import layerwise_decay  # noqa: E402

SEQ = 8
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def bert(num_layers=3):
    return keras_hub.models.BertBackbone(
        vocabulary_size=40,
        num_layers=num_layers,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=SEQ,
        dropout=0.0,  # resumed and uninterrupted runs draw no random masks
        name="bert",
    )


def gpt2(num_layers=3):
    return keras_hub.models.GPT2Backbone(
        vocabulary_size=40,
        num_layers=num_layers,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=SEQ,
    )


def gemma(num_layers=3):
    return keras_hub.models.GemmaBackbone(
        vocabulary_size=40,
        num_layers=num_layers,
        num_query_heads=2,
        num_key_value_heads=1,
        hidden_dim=8,
        intermediate_dim=16,
        head_dim=4,
    )


def vit(num_layers=3):
    return keras_hub.models.ViTBackbone(
        image_shape=(8, 8, 3),
        patch_size=4,
        num_layers=num_layers,
        num_heads=2,
        hidden_dim=8,
        mlp_dim=16,
    )


# What a reader of each family's layer names expects, written from the names
# (not from the code under test): (pattern, block index or "low"/"top").
EXPECTED_GROUPS = {
    "bert": [
        (
            r"(token|position|segment)_embedding/.*|embeddings_layer_norm/.*",
            "low",
        ),
        (r"transformer_layer_(\d+)/.*", "block"),
        (r"pooled_dense/.*", "top"),
    ],
    "gpt2": [
        (r"(token|position)_embedding/.*", "low"),
        (r"transformer_layer_(\d+)/.*", "block"),
        (r"layer_norm/.*", "top"),
    ],
    "gemma": [
        (r"token_embedding/.*", "low"),
        (r"decoder_block_(\d+)/.*", "block"),
        (r"final_normalization/.*", "top"),
    ],
    "vit": [
        (r"vit_patching_and_embedding/.*", "low"),
        (
            r"vit_encoder/transformer_block_(\d+)/.*",
            "block1",
        ),  # numbered from 1
        (r"vit_encoder/ln/.*", "top"),
    ],
}
FAMILIES = {"bert": bert, "gpt2": gpt2, "gemma": gemma, "vit": vit}


def expected_multiplier(family, path, decay, depth):
    for pattern, kind in EXPECTED_GROUPS[family]:
        match = re.fullmatch(pattern, path)
        if match is None:
            continue
        if kind == "low":
            return decay ** (depth + 1)
        if kind == "top":
            return 1.0
        index = int(match.group(1)) - (1 if kind == "block1" else 0)
        return decay ** (depth - index)
    raise AssertionError(f"unexpected variable {path}")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_layerwise_decay_follows_each_familys_structure(family):
    backbone = FAMILIES[family]()
    optimizer = LRX(
        keras.optimizers.AdamW(1e-3), multipliers=layerwise_decay(backbone, 0.5)
    )
    optimizer.build(backbone.trainable_variables)
    got = optimizer.variable_multipliers
    assert len(got) == len(backbone.trainable_variables)
    for path, multiplier in got.items():
        assert multiplier == pytest.approx(
            expected_multiplier(family, path, 0.5, 3)
        ), path
    rows = optimizer.describe(print_fn=lambda text: None)
    assert all(row["matched"].startswith("<layer ") for row in rows)


def classifier(backbone, name="clf"):
    """The fine-tuning pattern: the backbone inside a functional model."""
    inputs = {
        k: keras.Input((SEQ,), dtype="int32", name=k)
        for k in ("token_ids", "segment_ids", "padding_mask")
    }
    pooled = backbone(inputs)["pooled_output"]
    outputs = keras.layers.Dense(2, name="head")(pooled)
    return keras.Model(inputs, outputs, name=name)


def text_data(n=8, seed=0):
    rng = np.random.default_rng(seed)
    x = {
        "token_ids": rng.integers(1, 40, size=(n, SEQ)).astype("int32"),
        "segment_ids": np.zeros((n, SEQ), "int32"),
        "padding_mask": np.ones((n, SEQ), "int32"),
    }
    y = rng.integers(0, 2, size=(n,)).astype("int32")
    return x, y


def test_every_variable_updates_like_a_separate_adam_at_lr_times_m():
    backbone = bert()
    variables = backbone.trainable_variables
    multipliers = layerwise_decay(backbone, 0.7)
    optimizer = LRX(keras.optimizers.Adam(1e-2), multipliers=multipliers)
    optimizer.build(variables)
    by_path = optimizer.variable_multipliers
    init = [to_np(v) for v in variables]
    rng = np.random.default_rng(0)
    grads = [
        [rng.normal(size=v.shape).astype("float32") for v in variables]
        for _ in range(3)
    ]
    for step in grads:
        optimizer.apply(
            [keras.ops.convert_to_tensor(g) for g in step], variables
        )
    worst = 0.0
    for i, v in enumerate(variables):
        reference = keras.Variable(init[i], name="reference")
        separate = keras.optimizers.Adam(1e-2 * by_path[v.path])
        for step in grads:
            separate.apply([keras.ops.convert_to_tensor(step[i])], [reference])
        np.testing.assert_allclose(
            to_np(v), to_np(reference), rtol=1e-5, atol=1e-7
        )
        worst = max(worst, float(np.max(np.abs(to_np(v) - to_np(reference)))))
    assert len(set(by_path.values())) == 5  # embeddings, 3 blocks, pooler
    print(f"max abs difference to separate Adams: {worst:.2e}")


@pytest.mark.parametrize("order", ["child_first", "parent_first"])
def test_layer_keys_in_a_nested_backbone_save_load_and_resume(tmp_path, order):
    x, y = text_data()

    def make():
        keras.utils.set_random_seed(5)
        backbone = bert(num_layers=2)
        model = classifier(backbone)
        child = (backbone.get_layer("transformer_layer_1"), 0.5)
        parent = (backbone, 0.1)
        keys = [child, parent] if order == "child_first" else [parent, child]
        optimizer = LRX(keras.optimizers.Adam(1e-2), multipliers=dict(keys))
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        return model, optimizer

    model, optimizer = make()
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    got = optimizer.variable_multipliers
    assert got["transformer_layer_1/self_attention_layer/query/kernel"] == 0.5
    assert got["transformer_layer_0/self_attention_layer/query/kernel"] == 0.1
    assert got["token_embedding/embeddings"] == 0.1
    assert got["head/kernel"] == 1.0
    path = tmp_path / "clf.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert reloaded.optimizer.variable_multipliers == got
    reloaded.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)

    uninterrupted, _ = make()
    uninterrupted.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(reloaded.weights, uninterrupted.weights):
        np.testing.assert_allclose(to_np(a), to_np(b), rtol=1e-5, atol=1e-6)


def test_layer_decay_names_still_work_after_enable_lora_and_lora_plus():
    backbone = bert(num_layers=2)
    names = {"token_embedding": 0.1, "transformer_layer_0": 0.3}
    backbone.enable_lora(2)
    # "token_embedding" now selects only frozen weights: it trains nothing,
    # and build (which sees the trainable variables only) warns; the model
    # tells it from a typo. LoRA+: the B factors at 4x the rate of the A
    # factors.
    multipliers = {**names, r".*/lora_kernel_b": 4.0}
    optimizer = LRX(keras.optimizers.Adam(1e-3), multipliers=multipliers)
    x, y = text_data()
    model = classifier(backbone)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    with pytest.warns(UserWarning, match="'token_embedding' match no train"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert optimizer.check_multipliers(model) == optimizer.variable_multipliers
    got = optimizer.variable_multipliers
    assert set(got) == {v.path for v in model.trainable_variables}
    for path, m in got.items():
        if path.startswith("transformer_layer_0/"):
            assert m == 0.3, path  # a layer key beats a pattern
        elif path.endswith("lora_kernel_b"):
            assert m == 4.0, path
        else:
            assert m == 1.0, path
    # Slots only for what trains: Adam's two moments per trainable variable.
    assert len(optimizer.optimizer.variables) == 2 + 2 * len(got)
    with pytest.raises(ValueError, match="'token_embedding' match no train"):
        strict = LRX(keras.optimizers.SGD(0.1), multipliers=names, strict=True)
        model.compile(optimizer=strict, loss=LOSS)
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    typo = LRX(keras.optimizers.SGD(0.1), multipliers={"token_embeding": 0.1})
    with pytest.raises(ValueError, match="'token_embeding' match no variable"):
        typo.check_multipliers(model)


def test_gradual_unfreezing_on_a_keras_hub_backbone(tmp_path):
    model = classifier(bert(num_layers=3))
    thaw = gradual_unfreezing(model, every_steps=2)
    starts = {layer.name: m.start_step for layer, m in thaw.items()}
    blocks = [f"transformer_layer_{i}" for i in range(3)]
    assert [starts[name] for name in blocks] == [6, 4, 2]
    assert starts["head"] == 0
    assert max(starts.values()) == 8  # the embeddings, last
    optimizer = LRX(keras.optimizers.AdamW(1e-3), multipliers=thaw)
    model.compile(
        optimizer,
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    x, y = text_data(n=8)
    backbone = model.get_layer("bert")
    block_0 = [to_np(w) for w in backbone.get_layer(blocks[0]).weights]
    model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    for a, w in zip(block_0, backbone.get_layer(blocks[0]).weights):
        np.testing.assert_array_equal(a, to_np(w))  # thaws at step 6
    rows = optimizer.describe(print_fn=lambda text: None)
    assert any("start_step=6" in repr(r["multiplier"]) for r in rows)
    path = str(tmp_path / "thawing_bert.keras")
    model.save(path)
    resumed = keras.models.load_model(path)
    model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    resumed.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(weights_of(model), weights_of(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert not np.allclose(
        block_0[0], to_np(backbone.get_layer(blocks[0]).weights[0])
    )


def test_group_statistics_on_a_keras_hub_backbone(tmp_path):
    # Layer-wise rates over a BERT with its embeddings frozen: a ratio per
    # block, 0 for the frozen group, and the statistics saved and restored.
    from keras_lrx import GroupStatistics

    model = classifier(bert(num_layers=2))
    backbone = model.get_layer("bert")
    multipliers = combine(
        layerwise_decay(backbone, 0.5), {"token_embedding": 0.0}
    )
    optimizer = LRX(keras.optimizers.AdamW(1e-3), multipliers=multipliers)
    model.compile(
        optimizer,
        LOSS,
        metrics=[GroupStatistics(optimizer, every=1)],
    )
    x, y = text_data(n=8)
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    logs = {k: v[-1] for k, v in history.history.items()}
    blocks = [f"transformer_layer_{i}" for i in range(2)]
    for name in blocks + ["pooled_dense"]:
        assert logs[f"update_ratio/{name}"] > 0.0, name
        assert logs[f"weight_norm/{name}"] > 0.0, name
    assert logs["update_ratio/token_embedding"] == 0.0
    assert logs["grad_norm/token_embedding"] > 0.0  # a gradient, not applied
    path = str(tmp_path / "bert_statistics.keras")
    model.save(path)
    resumed = keras.models.load_model(path)
    np.testing.assert_array_equal(
        to_np(resumed.optimizer._statistics.variable),
        to_np(optimizer._statistics.variable),
    )


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_no_decay_on_biases_and_norms_is_hugging_faces_rule(family):
    # HF's Trainer decays every parameter except biases and normalisation
    # weights; found here from the layers, not from the shapes.
    from keras_lrx import no_decay_on_biases_and_norms

    backbone = FAMILIES[family]()
    norms = (
        keras.layers.LayerNormalization,
        keras.layers.BatchNormalization,
        keras.layers.GroupNormalization,
    )
    excluded = set()
    for layer in backbone._flatten_layers(include_self=False):
        is_norm = (
            isinstance(layer, norms) or "norm" in type(layer).__name__.lower()
        )
        for w in layer.trainable_weights:
            if is_norm or w.name == "bias":
                excluded.add(w.path)
    optimizer = LRX(
        keras.optimizers.AdamW(1e-3, weight_decay=0.01),
        weight_decay_multipliers=no_decay_on_biases_and_norms,
    )
    optimizer.build(backbone.trainable_variables)
    decays = optimizer.variable_weight_decays
    assert excluded and len(excluded) < len(decays)
    assert {p for p, d in decays.items() if d == 0.0} == excluded


def test_one_cycle_recipe_with_decay_rules_on_a_keras_hub_backbone(tmp_path):
    # The whole recipe at once on BERT: layer-wise rates, no decay on biases
    # and norms, a one-cycle rate and beta_1 whose length comes from `fit`;
    # saved mid-cycle, the reloaded model resumes exactly.
    from keras_lrx import TotalStepsFromFit
    from keras_lrx import no_decay_on_biases_and_norms
    from keras_lrx.schedules import OneCycle

    backbone = bert(num_layers=2)
    model = classifier(backbone)
    cycle = OneCycle(1e-2, total_steps="auto")
    optimizer = LRX(
        keras.optimizers.AdamW(weight_decay=0.05),
        schedule=cycle,
        multipliers=layerwise_decay(backbone, 0.5),
        weight_decay_multipliers=no_decay_on_biases_and_norms,
        hyperparameters={"beta_1": cycle.momentum_schedule()},
    )
    model.compile(optimizer, LOSS)
    x, y = text_data(n=8)
    bias = backbone.get_layer("pooled_dense").bias
    model.fit(
        x,
        y,
        batch_size=2,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[TotalStepsFromFit(), _StopAfterOneEpoch()],
    )
    assert cycle.total_steps == 12  # 3 epochs x 4 steps, stopped after 4
    assert optimizer.current_hyperparameters()["beta_1"] == pytest.approx(
        float(cycle.momentum(4))
    )
    assert optimizer.variable_weight_decays[bias.path] == 0.0
    path = str(tmp_path / "one_cycle_bert.keras")
    model.save(path)
    resumed = keras.models.load_model(path)
    again = resumed.optimizer
    assert again.current_hyperparameters() == (
        optimizer.current_hyperparameters()
    )
    assert float(to_np(again.learning_rate)) == pytest.approx(float(cycle(4)))
    assert again.variable_weight_decays == optimizer.variable_weight_decays
    model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    resumed.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(weights_of(model), weights_of(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert int(to_np(again.iterations)) == 12


class _StopAfterOneEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


def test_learned_scale_with_the_rest_on_a_keras_hub_backbone(tmp_path):
    """`LRX(scale=Mechanic())` as a user combines it: a BERT inside a
    functional model, layer-wise decay times gradual unfreezing, a cosine
    at nominal peak 1 with `total_steps="auto"`, the rate as a compiled
    metric, `find_lr` before `fit`, save/load in the middle of the run
    (stopped after its first epoch, resumed: equal, bit for bit)."""
    from keras_lrx import LearningRateMetric
    from keras_lrx import TotalStepsFromFit
    from keras_lrx import find_lr
    from keras_lrx.experimental import Mechanic
    from keras_lrx.schedules import CosineWithWarmup

    x, y = text_data(n=16)

    def make():
        keras.utils.set_random_seed(0)
        model = classifier(bert(num_layers=2))
        backbone = model.get_layer("bert")
        multipliers = combine(
            layerwise_decay(backbone, 0.8, head=[model.get_layer("head")]),
            gradual_unfreezing(model, every_steps=4),
        )
        optimizer = LRX(
            keras.optimizers.AdamW(weight_decay=0.01),
            schedule=CosineWithWarmup(1.0, 2, "auto"),
            multipliers=multipliers,
            scale=Mechanic(),
        )
        model.compile(optimizer, LOSS, metrics=[LearningRateMetric(optimizer)])
        before = [to_np(v) for v in model.weights]
        find_lr(model, x, y, batch_size=2, num_steps=6, verbose=0)
        for a, w in zip(before, model.weights):  # put back exactly
            np.testing.assert_array_equal(a, to_np(w))
        return model, optimizer

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    def fit(model, initial_epoch=0, callbacks=()):
        return model.fit(
            x,
            y,
            batch_size=2,
            epochs=3,
            initial_epoch=initial_epoch,
            shuffle=False,
            verbose=0,
            callbacks=[TotalStepsFromFit(), *callbacks],
        )

    straight, optimizer = make()
    initial = [to_np(w) for w in straight.weights]
    history = fit(straight)
    # The rate logged is the rate applied: the schedule times the scale.
    last = int(to_np(optimizer.iterations)) - 1
    applied = float(optimizer._base(last)) * optimizer.scale_value()
    assert history.history["learning_rate"][-1] == pytest.approx(applied)
    assert optimizer.scale_value() > Mechanic().s_init

    first, _ = make()
    fit(first, callbacks=[StopAfterFirstEpoch()])
    path = str(tmp_path / "scaled_bert.keras")
    first.save(path)
    resumed = keras.models.load_model(path)
    assert resumed.optimizer.scale.get_config() == Mechanic().get_config()
    assert resumed.optimizer.scale_value() == first.optimizer.scale_value()
    fit(resumed, initial_epoch=1)
    assert resumed.optimizer.scale_value() == optimizer.scale_value()
    for a, b in zip(straight.weights, resumed.weights):
        np.testing.assert_array_equal(to_np(a), to_np(b))
    assert any(
        not np.array_equal(to_np(a), start)
        for a, start in zip(straight.weights, initial)
    )


def test_find_lr_for_the_run_on_a_keras_hub_backbone_with_the_rest(tmp_path):
    """`find_lr(for_epochs=...)` as a user combines it: a BERT inside a
    functional model, layer-wise decay times gradual unfreezing, the rate as
    a compiled metric; the model put back exactly, the suggestion the
    written-out rule's for the run's steps, then that run at it as LRX's
    base rate, stopped after its first epoch and resumed from a save
    (equal to the run straight through, bit for bit)."""
    from test_run_length import expected_factor
    from test_run_length import pick_is_above
    from test_run_length import plain_suggestion

    from keras_lrx import LearningRateMetric
    from keras_lrx import find_lr

    x, y = text_data(n=16)
    epochs, batch = 3, 2  # 8 steps an epoch

    def make(rate=None):
        keras.utils.set_random_seed(0)
        model = classifier(bert(num_layers=2))
        multipliers = combine(
            layerwise_decay(
                model.get_layer("bert"), 0.8, head=[model.get_layer("head")]
            ),
            gradual_unfreezing(model, every_steps=4),
        )
        optimizer = LRX(
            keras.optimizers.AdamW(weight_decay=0.01), multipliers=multipliers
        )
        if rate is not None:
            optimizer.learning_rate = rate
        model.compile(optimizer, LOSS, metrics=[LearningRateMetric(optimizer)])
        return model

    model = make()
    before = [to_np(v) for v in model.weights]
    result = find_lr(
        model,
        x,
        y,
        batch_size=batch,
        num_steps=12,
        probe_steps=2,
        for_epochs=epochs,
        verbose=0,
    )
    for a, w in zip(before, model.weights):  # put back exactly
        np.testing.assert_array_equal(a, to_np(w))
    assert int(to_np(model.optimizer.iterations)) == 0
    assert result.for_steps == epochs * 8
    rate = result.suggested_learning_rate
    assert rate == pytest.approx(
        plain_suggestion(result)
        * expected_factor(epochs * 8, pick_is_above(result)),
        rel=1e-12,
    )

    def fit(model, initial_epoch=0, callbacks=()):
        return model.fit(
            x,
            y,
            batch_size=batch,
            epochs=epochs,
            initial_epoch=initial_epoch,
            shuffle=False,
            verbose=0,
            callbacks=list(callbacks),
        )

    straight = make(rate)
    initial = [to_np(w) for w in straight.weights]
    history = fit(straight)
    assert history.history["learning_rate"] == pytest.approx([rate] * epochs)

    first = make(rate)
    fit(first, callbacks=[_StopAfterOneEpoch()])
    path = str(tmp_path / "described_run.keras")
    first.save(path)
    resumed = keras.models.load_model(path)
    assert float(to_np(resumed.optimizer.learning_rate)) == pytest.approx(rate)
    fit(resumed, initial_epoch=1)
    for a, b in zip(straight.weights, resumed.weights):
        np.testing.assert_array_equal(to_np(a), to_np(b))
    assert any(
        not np.array_equal(to_np(a), start)
        for a, start in zip(straight.weights, initial)
    )
