"""Tests of the run described to the finder (`for_steps=`, `for_epochs=`).

Without a run the default suggestion is as it was; with one it is
multiplied by `run_length_factor` (chosen on the benchmark's chosen cases,
benchmarks/README.md). The factor's formula is written out here
(`expected_factor`), and the direction a longer run moves the suggestion
in is the one `benchmarks/bench_suggestion.py` measured (`MEASURED`), so
constants that flip it fail here.
"""

import math

import keras
import numpy as np
import pytest
from test_finder import bias_model
from test_finder import full_state
from test_finder import zeros_data
from test_probes import assert_refused_before_the_sweep
from test_probes import bn_model
from test_probes import learnable

from keras_lrx import find_lr
from keras_lrx.finder import LRFinderResult
from keras_lrx.suggestions import RUN_LENGTH_EXPONENTS
from keras_lrx.suggestions import RUN_LENGTH_SCALES
from keras_lrx.suggestions import run_length_factor

#: What the benchmark measured on its chosen cases, as the sign of
#: log(best rate for 640 steps / best rate for 40 steps): lower for longer
#: runs, with the pick at the curve's reading and above it.
MEASURED = (-1, -1)

LRS = np.logspace(-4, 0, 41)
LOSS = np.r_[
    np.full(10, 2.0), np.linspace(2, 0, 21)[1:], np.linspace(0.2, 3, 11)
]


def probes(losses):
    return {
        "learning_rates": [1e-3, 1e-2, 1e-1],
        "losses": losses,
        "steps": 20,
        "steps_trained": 60,
        "scored_on": "held_out_split",
    }


#: The probes' pick above the curve's reading (0.1 / sqrt(10)), and at it.
ABOVE = probes([1.15, 0.52, 0.17])
AT = probes([0.5, 0.6, 0.9])


def result(probe_record=ABOVE, **kwargs):
    return LRFinderResult(LRS, LOSS, LOSS, probes=probe_record, **kwargs)


def expected_factor(steps, above):
    """The rule written out: scale * (clip(steps, 40, 640) / 160) ** alpha."""
    i = 1 if above else 0
    n = min(max(steps, 40), 640)
    return RUN_LENGTH_SCALES[i] * (n / 160) ** RUN_LENGTH_EXPONENTS[i]


@pytest.mark.parametrize("record, above", [(ABOVE, True), (AT, False)])
@pytest.mark.parametrize("steps", [1, 40, 100, 160, 400, 640, 100_000])
def test_suggestion_for_a_run_is_the_default_times_the_factor(
    record, above, steps
):
    plain = result(record).suggested_learning_rate
    assert plain == pytest.approx(
        0.1 / math.sqrt(10) if above else 1e-3, rel=1e-12
    )
    described = result(record).suggest(for_steps=steps)
    assert described == pytest.approx(
        plain * expected_factor(steps, above), rel=1e-12
    )
    assert result(record, for_steps=steps).suggested_learning_rate == (
        pytest.approx(described, rel=1e-12)
    )


@pytest.mark.parametrize("record, index", [(ABOVE, 1), (AT, 0)])
def test_a_longer_run_moves_the_suggestion_the_measured_way(record, index):
    base = result(record).suggest(for_steps=160)
    short = result(record).suggest(for_steps=40)
    long = result(record).suggest(for_steps=640)
    sign = MEASURED[index]
    assert np.sign(math.log(long / base)) == sign
    assert np.sign(math.log(base / short)) == sign
    assert result(record).for_steps is None  # no run: as it was


def test_without_probes_the_descent_reading_is_adjusted_as_at_the_reading():
    plain = LRFinderResult(LRS, LOSS, LOSS)
    assert plain.default_method == "descent"
    assert plain.suggest(for_steps=640) == pytest.approx(
        plain.suggest("descent") * expected_factor(640, above=False)
    )


def test_other_methods_are_not_adjusted():
    described = result(for_steps=640)
    assert described.suggest("valley") == result().suggest("valley")
    with pytest.raises(ValueError, match="`for_steps`.*method='valley'"):
        result().suggest("valley", for_steps=640)


def test_round_trips_and_is_shown():
    described = result(for_steps=2000)
    again = LRFinderResult.from_dict(described.to_dict())
    assert again.for_steps == 2000
    assert again.suggested_learning_rate == described.suggested_learning_rate
    assert "for a run of 2000 steps: " in repr(described)
    assert LRFinderResult.from_dict(result().to_dict()).for_steps is None
    described.for_steps = None
    assert described.suggested_learning_rate == result().suggested_learning_rate


def test_the_one_cycle_peak_is_not_moved_by_a_run():
    # The rule was measured for constant rates: a schedule's peak is the
    # default reading (0.1 / sqrt(10) here), whatever run is described.
    for record, peak in ((ABOVE, 0.1 / math.sqrt(10)), (AT, 1e-3)):
        described = result(record, for_steps=40)
        assert described.suggested_learning_rate != pytest.approx(peak)
        schedule = described.to_schedule("one_cycle", total_steps=100)
        assert schedule.max_learning_rate == pytest.approx(peak, rel=1e-12)


@pytest.mark.parametrize(
    "value, error",
    [
        (0, ValueError),
        (-5, ValueError),
        (2.5, TypeError),
        (100.0, TypeError),
        (True, TypeError),
        ("100", TypeError),
    ],
)
def test_bad_run_lengths_are_refused(value, error):
    with pytest.raises(error, match="`for_steps`") as info:
        result().suggest(for_steps=value)
    assert type(info.value) is error
    assert repr(value) in str(info.value)
    with pytest.raises(error, match="`for_steps`"):
        result(for_steps=value)
    described = result()
    with pytest.raises(error, match="`for_steps`"):
        described.for_steps = value
    assert described.for_steps is None
    with pytest.raises(error, match="`for_steps`"):
        run_length_factor(value, True)


def test_find_lr_for_epochs_counts_the_steps_of_the_data():
    x, y = learnable(256)
    keras.utils.set_random_seed(0)
    found = find_lr(
        bn_model(),
        x,
        y,
        batch_size=32,
        num_steps=40,
        start_learning_rate=1e-3,
        end_learning_rate=1.0,
        probe_steps=4,
        for_epochs=30,
        verbose=0,
    )
    assert found.for_steps == 30 * 8  # 256 / 32 batches per epoch
    assert found.suggested_learning_rate == pytest.approx(
        plain_suggestion(found) * expected_factor(240, pick_is_above(found))
    )


def test_find_lr_for_steps_on_a_dataset():
    x, y = learnable(64)

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[16 * i : 16 * (i + 1)], y[16 * i : 16 * (i + 1)]

    for run, steps in (({"for_steps": 1000}, 1000), ({"for_epochs": 5}, 20)):
        found = find_lr(
            bn_model(), Batches(), num_steps=10, probe=False, verbose=0, **run
        )
        assert found.for_steps == steps


def plain_suggestion(found):
    """The suggestion without a run (a copy of `found` without one)."""
    return LRFinderResult.from_dict(
        {**found.to_dict(), "for_steps": None}
    ).suggested_learning_rate


def pick_is_above(found):
    """Whether the probes' pick is above the curve's reading (the lowest
    candidate)."""
    if found.probes is None:
        return False
    lowest = min(found.probes["learning_rates"])
    return plain_suggestion(found) > lowest * (1 + 1e-9)


def _generator(n):
    x, y = zeros_data(8)
    for _ in range(n):
        yield x, y


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"for_steps": 0}, ValueError, "for_steps"),
        ({"for_steps": -1}, ValueError, "for_steps"),
        ({"for_steps": 10.0}, TypeError, "for_steps"),
        ({"for_steps": "10"}, TypeError, "for_steps"),
        ({"for_epochs": 0}, ValueError, "for_epochs"),
        ({"for_epochs": 1.5}, TypeError, "for_epochs"),
        ({"for_epochs": True}, TypeError, "for_epochs"),
        ({"for_steps": 100, "for_epochs": 2}, ValueError, "for_steps"),
    ],
)
def test_find_lr_refuses_bad_runs_before_anything_changes(kwargs, error, name):
    assert_refused_before_the_sweep(kwargs, error, name)


def test_for_epochs_of_data_without_a_length_is_refused_before_training():
    model = bias_model()
    model.build((None, 3))
    model.optimizer.build(model.trainable_variables)
    before = full_state(model)
    with pytest.raises(ValueError, match="`for_epochs`.*`for_steps`"):
        find_lr(model, _generator(8), num_steps=4, for_epochs=3, verbose=0)
    after = full_state(model)
    assert [p for p, _ in before["values"]] == [p for p, _ in after["values"]]
    for (_, a), (_, b) in zip(before["values"], after["values"]):
        assert a.tobytes() == b.tobytes()
