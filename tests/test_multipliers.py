import math

import keras
import pytest
from conftest import assert_round_trip
from conftest import mlp

from keras_lrx.multipliers import MultiplierMap


def resolve(multipliers, variables, other_variables=()):
    """Resolves against a model whose other weights are known (none here)."""
    return {
        r.path: r.multiplier
        for r in MultiplierMap(multipliers).resolve(variables, other_variables)
    }


def nested_model():
    """encoder (block_0, block_1 each with a Dense) + head, functional."""
    inputs = keras.Input((4,))
    encoder = keras.Sequential(
        [
            keras.layers.Dense(4, name="block_0"),
            keras.layers.Dense(4, name="block_1"),
        ],
        name="encoder",
    )
    outputs = keras.layers.Dense(1, name="head")(encoder(inputs))
    return keras.Model(inputs, outputs), encoder


def test_unmatched_variables_default_to_one():
    model = mlp()
    assert set(resolve({"body": 0.5}, model.trainable_variables).values()) == {
        0.5,
        1.0,
    }
    assert set(resolve(None, model.trainable_variables).values()) == {1.0}


@pytest.mark.parametrize("functional", [False, True])
def test_layer_name_matches_a_path_segment(functional):
    model = mlp(functional=functional)
    paths = [v.path for v in model.trainable_variables]
    prefix = "" if functional else "sequential/"
    assert paths[0] == f"{prefix}body/kernel"
    got = resolve({"body": 0.1}, model.trainable_variables)
    assert got == {
        f"{prefix}body/kernel": 0.1,
        f"{prefix}body/bias": 0.1,
        f"{prefix}head/kernel": 1.0,
        f"{prefix}head/bias": 1.0,
    }


def test_layer_name_does_not_match_variable_name_or_prefix_of_segment():
    model = mlp()
    # "bod" is no segment and no full-path regex: it matches nothing.
    with pytest.raises(ValueError, match="'bod'.*match no variable"):
        resolve({"bod": 0.1}, model.trainable_variables)
    # "kernel" is a variable's own name, not a layer: nothing matches.
    with pytest.raises(ValueError, match="'kernel'"):
        resolve({"kernel": 0.1}, model.trainable_variables)


def test_pattern_exact_path_and_layer_object():
    model = mlp()
    head = model.get_layer("head")
    got = resolve(
        {r".*/bias": 0.0, "sequential/body/kernel": 3.0, head: 2.0},
        model.trainable_variables,
    )
    assert got == {
        "sequential/body/kernel": 3.0,
        "sequential/body/bias": 0.0,
        # the layer key beats the pattern for head/bias
        "sequential/head/kernel": 2.0,
        "sequential/head/bias": 2.0,
    }


def test_most_specific_key_wins_whatever_the_order():
    model, encoder = nested_model()
    variables = model.trainable_variables
    for multipliers in (
        {"encoder": 0.1, "block_1": 0.5, "encoder/block_1/kernel": 0.7},
        {"encoder/block_1/kernel": 0.7, "block_1": 0.5, "encoder": 0.1},
    ):
        got = resolve(multipliers, variables)
        assert got["encoder/block_0/kernel"] == 0.1
        assert got["encoder/block_1/bias"] == 0.5  # deeper layer wins
        assert got["encoder/block_1/kernel"] == 0.7  # exact path wins
        assert got["head/kernel"] == 1.0


def test_layer_objects_rank_by_depth_and_patterns_rank_last():
    model, encoder = nested_model()
    block_1 = encoder.get_layer("block_1")
    got = resolve(
        {block_1: 0.5, encoder: 0.1, r"encoder/.*": 9.0},
        model.trainable_variables,
    )
    assert got["encoder/block_0/kernel"] == 0.1
    assert got["encoder/block_1/kernel"] == 0.5


def test_ties_go_to_the_later_key():
    model = mlp()
    got = resolve(
        {r".*kernel": 0.1, r".*/kernel": 0.2}, model.trainable_variables
    )
    assert got["sequential/body/kernel"] == 0.2
    got = resolve(
        {r".*/kernel": 0.2, r".*kernel": 0.1}, model.trainable_variables
    )
    assert got["sequential/body/kernel"] == 0.1


def test_sources_name_the_deciding_key():
    model = mlp()
    resolutions = MultiplierMap({"body": 0.1, r".*/bias": 0.0}).resolve(
        model.trainable_variables
    )
    sources = {r.path: r.source for r in resolutions}
    assert sources["sequential/body/kernel"] == "'body' (layer)"
    assert sources["sequential/head/bias"] == "'.*/bias' (pattern)"
    assert sources["sequential/head/kernel"] == "default"


def test_callable_multipliers():
    model = mlp()

    def rule(variable):
        return 0.0 if variable.path.endswith("bias") else None

    got = resolve(rule, model.trainable_variables)
    assert got["sequential/body/bias"] == 0.0
    assert got["sequential/body/kernel"] == 1.0
    with pytest.raises(ValueError, match="callable returned -1"):
        resolve(lambda v: -1, model.trainable_variables)


@pytest.mark.parametrize(
    "bad, error, rule",
    [
        (-0.5, ValueError, "must be >= 0"),
        (math.nan, ValueError, "must be a finite number"),
        (math.inf, ValueError, "must be a finite number"),
        ("0.1", TypeError, "must be a number"),
        (True, TypeError, "must be a number"),
        (None, TypeError, "must be a number"),
    ],
)
def test_bad_values_raise_at_construction(bad, error, rule):
    with pytest.raises(error, match=f"Argument `multipliers` {rule}.*Received"):
        MultiplierMap({"body": bad})


def test_bad_keys_raise_at_construction():
    with pytest.raises(TypeError, match="keys must be layer names"):
        MultiplierMap({3: 0.1})
    with pytest.raises(TypeError, match="Argument `multipliers` must be"):
        MultiplierMap(0.1)
    with pytest.raises(ValueError, match="non-empty"):
        MultiplierMap({"": 0.1})


def test_unmatched_key_error_shows_real_paths():
    model = mlp()
    with pytest.raises(ValueError) as info:
        resolve({"embeding": 0.1}, model.trainable_variables)
    message = str(info.value)
    assert "'embeding'" in message
    assert "sequential/body/kernel" in message


def test_config_round_trip_saves_layer_keys_with_their_weight_paths():
    model, encoder = nested_model()
    original = MultiplierMap({encoder: 0.1, r".*bias": 0.0})
    config = original.get_config()
    assert config == [
        [{"layer": "encoder", "paths": [w.path for w in encoder.weights]}, 0.1],
        [".*bias", 0.0],
    ]
    (restored,) = assert_round_trip(original, keras_object=False)
    assert [k.label() for k in restored.keys] == ["<layer encoder>", "'.*bias'"]
    assert resolve(restored, model.trainable_variables) == resolve(
        original, model.trainable_variables
    )


def test_layer_keys_saved_by_0_1_0_still_resolve_as_names():
    model, encoder = nested_model()
    got = resolve([[{"layer": "encoder"}, 0.1]], model.trainable_variables)
    assert got["encoder/block_0/kernel"] == 0.1
    assert got["head/kernel"] == 1.0


def test_layer_and_variable_name_select_one_variable_in_any_model():
    for functional in (False, True):
        model = mlp(functional=functional)
        got = resolve(
            {"body": 0.1, "body/bias": 0.0}, model.trainable_variables
        )
        assert sorted(got.values()) == [0.0, 0.1, 1.0, 1.0]
        assert got[model.get_layer("body").bias.path] == 0.0


def nested_functional_model():
    """A functional sub-model (a keras-hub backbone) in a functional model.

    The sub-model's variable paths do not contain its name.
    """
    inputs = keras.Input((4,))
    h = keras.layers.Dense(4, name="block_0")(inputs)
    h = keras.layers.Dense(4, name="block_1")(h)
    encoder = keras.Model(inputs, h, name="encoder_fn")
    x = keras.Input((4,))
    outputs = keras.layers.Dense(1, name="head")(encoder(x))
    return keras.Model(x, outputs), encoder


def test_nested_functional_paths_do_not_name_the_sub_model():
    model, encoder = nested_functional_model()
    assert [v.path for v in model.trainable_variables][:2] == [
        "block_0/kernel",
        "block_0/bias",
    ]


@pytest.mark.parametrize("child_as", ["layer", "name"])
def test_deeper_layer_beats_its_parent_in_a_nested_functional_model(child_as):
    model, encoder = nested_functional_model()
    child = encoder.get_layer("block_1") if child_as == "layer" else "block_1"
    for multipliers in ({child: 0.5, encoder: 0.1}, {encoder: 0.1, child: 0.5}):
        got = resolve(multipliers, model.trainable_variables)
        assert got["block_1/kernel"] == 0.5
        assert got["block_1/bias"] == 0.5
        assert got["block_0/kernel"] == 0.1
        assert got["head/kernel"] == 1.0


def test_parent_name_key_against_child_layer_object_any_order():
    model, encoder = nested_model()
    block_1 = encoder.get_layer("block_1")
    for multipliers in (
        {block_1: 0.5, "encoder": 0.1},
        {"encoder": 0.1, block_1: 0.5},
    ):
        got = resolve(multipliers, model.trainable_variables)
        assert got["encoder/block_1/kernel"] == 0.5
        assert got["encoder/block_0/kernel"] == 0.1


def test_narrower_pattern_wins_whatever_the_order():
    model = mlp()
    for multipliers in (
        {r".*": 0.1, r".*/bias": 0.0},
        {r".*/bias": 0.0, r".*": 0.1},
    ):
        got = resolve(multipliers, model.trainable_variables)
        assert got["sequential/body/bias"] == 0.0
        assert got["sequential/body/kernel"] == 0.1


def test_same_layer_named_twice_goes_to_the_later_key():
    model, encoder = nested_model()
    block_1 = encoder.get_layer("block_1")
    got = resolve({block_1: 0.5, "block_1": 0.3}, model.trainable_variables)
    assert got["encoder/block_1/kernel"] == 0.3
    got = resolve({"block_1": 0.3, block_1: 0.5}, model.trainable_variables)
    assert got["encoder/block_1/kernel"] == 0.5


def test_keys_selecting_only_frozen_variables_are_not_typos():
    model, encoder = nested_model()
    encoder.get_layer("block_0").trainable = False
    trainable = model.trainable_variables
    frozen = model.non_trainable_variables
    multipliers = {
        "block_0": 0.1,
        encoder.get_layer("block_0"): 0.2,
        "head": 2.0,
    }
    got = MultiplierMap(multipliers).resolve(trainable, frozen)
    assert {r.path: r.multiplier for r in got}["head/kernel"] == 2.0
    with pytest.raises(ValueError, match="select only non-trainable.*strict"):
        MultiplierMap(multipliers).resolve(trainable, frozen, strict=True)
    # A real typo is still an error, frozen weights or not.
    with pytest.raises(ValueError, match="'blok_0'.*match no variable"):
        MultiplierMap({"blok_0": 0.1}).resolve(trainable, frozen)


def test_invalid_regular_expression_is_reported_as_such():
    model = mlp()
    with pytest.raises(
        ValueError, match=r"'body\[' is not a valid regular expr"
    ):
        resolve({"body[": 0.1}, model.trainable_variables)


def test_model_rooted_keys_resolve_after_the_model_name_is_dropped():
    """A reloaded Sequential model's variable paths lose the model's name."""
    model = mlp()
    saved = MultiplierMap(
        {r"sequential/body/.*": 0.1, model.get_layer("head"): 0.5}
    ).get_config()
    reloaded = mlp()  # paths "sequential_1/..." -- as if rooted elsewhere

    class Renamed:
        def __init__(self, variable, path):
            self.path = path
            self.variable = variable

    renamed = [
        Renamed(v, v.path.split("/", 1)[1])
        for v in reloaded.trainable_variables
    ]
    got = {
        r.path: r.multiplier
        for r in MultiplierMap.from_config(saved).resolve(renamed)
    }
    assert got == {
        "body/kernel": 0.1,
        "body/bias": 0.1,
        "head/kernel": 0.5,
        "head/bias": 0.5,
    }


def test_strict_without_frozen_only_keys_resolves():
    model = mlp()
    got = MultiplierMap({"body": 0.1}).resolve(
        model.trainable_variables, model.non_trainable_variables, strict=True
    )
    assert [r.multiplier for r in got] == [0.1, 0.1, 1.0, 1.0]


def _one_layer_sub_model(functional):
    """A sub-model holding a single layer `d1`, inside a functional model."""
    d1 = keras.layers.Dense(4, name="d1")
    if functional:  # variable paths do not name a nested functional model
        inner_in = keras.Input((3,))
        encoder = keras.Model(inner_in, d1(inner_in), name="encoder")
    else:
        encoder = keras.Sequential([keras.Input((3,)), d1], name="encoder")
    x = keras.Input((3,))
    model = keras.Model(x, keras.layers.Dense(1, name="head")(encoder(x)))
    return model, encoder, d1


@pytest.mark.parametrize("functional", [False, True])
def test_the_layer_nearer_the_variable_wins_when_both_select_the_same(
    functional,
):
    # The sub-model and its only layer select the same variables: the layer
    # (nearer the variable) wins in either dict order, whether it is keyed
    # by name or by object, and whether the sub-model is.
    model, encoder, d1 = _one_layer_sub_model(functional)
    variables = model.trainable_variables
    cases = [
        ({"d1": 0.5, encoder: 0.1}, 0.5),
        ({d1: 0.5, encoder: 0.1}, 0.5),
    ]
    if not functional:  # the Sequential sub-model is named in the paths
        cases.append(({d1: 0.5, "encoder": 0.1}, 0.5))
    for multipliers, expected in cases:
        for order in (
            list(multipliers.items()),
            list(multipliers.items())[::-1],
        ):
            got = MultiplierMap(dict(order)).resolve(variables, ())
            d1_paths = {w.path for w in d1.weights}
            assert {r.multiplier for r in got if r.path in d1_paths} == {
                expected
            }, (order, got)


def test_any_mapping_is_taken_as_a_dict():
    # The signatures say Mapping: a read-only mapping works like a dict, for
    # the multipliers, the decay factors and the hyperparameter schedules.
    import types

    from keras_lrx import LRX

    model = mlp()
    optimizer = LRX(
        keras.optimizers.AdamW(weight_decay=0.01),
        multipliers=types.MappingProxyType({"body": 0.1}),
        weight_decay_multipliers=types.MappingProxyType({"head": 0.0}),
        hyperparameters=types.MappingProxyType({"beta_1": lambda step: 0.8}),
    )
    optimizer.build(model.trainable_variables)
    assert optimizer.variable_multipliers[model.layers[0].kernel.path] == 0.1
    assert optimizer.variable_weight_decays[model.layers[1].kernel.path] == 0
    assert optimizer.current_hyperparameters() == {"beta_1": 0.8}
