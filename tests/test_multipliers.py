import math

import keras
import pytest
from conftest import mlp

from keras_lrx.multipliers import MultiplierMap


def resolve(multipliers, variables):
    return {
        r.path: r.multiplier for r in MultiplierMap(multipliers).resolve(variables)
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
    with pytest.raises(ValueError, match="'bod'.*match no trainable variable"):
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
    got = resolve({r".*kernel": 0.1, r".*/kernel": 0.2}, model.trainable_variables)
    assert got["sequential/body/kernel"] == 0.2
    got = resolve({r".*/kernel": 0.2, r".*kernel": 0.1}, model.trainable_variables)
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


@pytest.mark.parametrize("bad", [-0.5, math.nan, math.inf, "0.1", True, None])
def test_bad_values_raise_at_construction(bad):
    with pytest.raises(ValueError, match="`multipliers` values must be finite"):
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


def test_config_round_trip_turns_layer_keys_into_paths():
    model, encoder = nested_model()
    original = MultiplierMap({encoder: 0.1, r".*bias": 0.0})
    config = original.get_config()
    assert config == [[{"layer": "encoder"}, 0.1], [".*bias", 0.0]]
    restored = MultiplierMap.from_config(config)
    assert resolve(restored, model.trainable_variables) == resolve(
        original, model.trainable_variables
    )


def test_layer_and_variable_name_select_one_variable_in_any_model():
    for functional in (False, True):
        model = mlp(functional=functional)
        got = resolve({"body": 0.1, "body/bias": 0.0}, model.trainable_variables)
        assert sorted(got.values()) == [0.0, 0.1, 1.0, 1.0]
        assert got[model.get_layer("body").bias.path] == 0.0
