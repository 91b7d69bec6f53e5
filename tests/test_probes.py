"""Tests of the probes `find_lr` runs after the sweep (keras_lrx.probes).

The probes' losses are checked through the weights: the bias model of
`test_finder` (inputs zero, loss `-mean(y_pred) = -b`, plain SGD) moves its
bias by exactly the learning rate each step, so a probe of `P` steps at rate
`c` from `b = 0` ends with the held-out loss `-c * P`: a value worked out
here, not by the code under test.
"""

import keras
import numpy as np
import pytest
from test_finder import ArrayDataset
from test_finder import assert_same_state
from test_finder import bias_model
from test_finder import bn_model
from test_finder import full_state
from test_finder import minus_mean
from test_finder import two_bias_model
from test_finder import zeros_data

from keras_lrx import LRX
from keras_lrx import find_lr
from keras_lrx.finder import LRFinderResult
from keras_lrx.probes import PROBE_FACTORS
from keras_lrx.probes import ProbeData
from keras_lrx.probes import probe_candidates
from keras_lrx.suggestions import PROBE_BACKOFF
from keras_lrx.suggestions import PROBE_TOLERANCE
from keras_lrx.suggestions import pick_probe

STEPS = 4  # probe steps in the tests below


def _find(model, x, y, **kwargs):
    kwargs.setdefault("probe_steps", STEPS)
    kwargs.setdefault("num_steps", 12)
    kwargs.setdefault("start_learning_rate", 1e-4)
    kwargs.setdefault("batch_size", 8)
    kwargs.setdefault("verbose", 0)
    return find_lr(model, x, y, end_learning_rate=1.0, **kwargs)


def _find_on_curve(model, x, y, **kwargs):
    """A sweep whose loss falls clearly on `learnable()` data (not flat)."""
    return _find(
        model,
        x,
        y,
        num_steps=40,
        start_learning_rate=1e-3,
        batch_size=32,
        **kwargs,
    )


def learnable(n=256):
    """A linear target of scale 3 that `bn_model` learns within a sweep."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 6)).astype("float32")
    return x, (x @ rng.normal(size=(6, 1)) * 3).astype("float32")


def expected_candidates(result):
    """The rule, written out: the "descent" reading times 1, 10, 100, none
    above the last rate swept."""
    anchor = result.suggest("descent")
    top = result.learning_rates[-1]
    return [anchor * f for f in (1.0, 10.0, 100.0) if anchor * f <= top]


def reference_pick(rates, losses, tolerance=0.5, backoff=10**0.5):
    """The lowest rate within `tolerance` of the best loss, by a loop;
    divided by `backoff` unless it is the lowest rate probed."""
    finite = [v for v in losses if np.isfinite(v)]
    if not finite:
        return min(rates)
    best = min(finite)
    near = [
        r
        for r, v in zip(rates, losses)
        if np.isfinite(v) and v <= best + tolerance * abs(best)
    ]
    winner = min(near)
    return winner if winner == min(rates) else winner / backoff


def assert_exact_losses(result, start=0.0, scale=1.0):
    """Each probe's loss is `-(start + scale * rate * STEPS)`: from bias
    `start`, the biases move by `scale * rate` per step (see the top)."""
    rates = np.array(result.probes["learning_rates"])
    np.testing.assert_allclose(
        result.probes["losses"], -(start + scale * rates * STEPS), rtol=1e-5
    )
    return rates


class TestProbeLosses:
    def test_each_probe_trains_its_rate_from_the_start(self):
        model = bias_model()
        x, y = zeros_data(40)
        result = _find(model, x, y)
        probes = result.probes
        rates = np.array(probes["learning_rates"])
        np.testing.assert_allclose(rates, expected_candidates(result))
        assert len(rates) >= 2
        # From b = 0 each probe adds its rate STEPS times: loss = -c * STEPS.
        np.testing.assert_allclose(probes["losses"], -rates * STEPS, rtol=1e-5)
        assert probes["steps"] == STEPS
        assert probes["steps_trained"] == STEPS * len(rates)
        assert probes["scored_on"] == "held_out_split"
        assert result.default_method == "probe"
        assert result.suggested_learning_rate == pytest.approx(
            reference_pick(rates, probes["losses"])
        )
        assert "probes of 4 steps" in repr(result)

    def test_lrx_probes_the_base_rate_under_the_multipliers(self):
        opt = LRX(
            keras.optimizers.SGD(0.05),
            schedule=keras.optimizers.schedules.ExponentialDecay(0.05, 3, 0.5),
            multipliers={"b": 0.25},
        )
        model = two_bias_model(opt)
        x, y = zeros_data(40)
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # 5 steps in
        before = full_state(model)
        start = sum(float(v[1][0]) for v in before["values"] if "bias" in v[0])
        result = _find(model, x, y)
        # loss = -(a + b); a moves by c and b by 0.25 c per step.
        assert_exact_losses(result, start=start, scale=1.25)
        assert_same_state(before, full_state(model))

    def test_a_plain_optimizer_with_a_schedule(self):
        schedule = keras.optimizers.schedules.ExponentialDecay(0.05, 2, 0.5)
        model = bias_model(keras.optimizers.SGD(schedule))
        x, y = zeros_data(40)
        result = _find(model, x, y)
        assert_exact_losses(result)
        assert model.optimizer._learning_rate is schedule

    def test_validation_data_is_where_they_are_scored(self):
        model = bias_model()
        x, y = zeros_data(40)
        x_val = np.zeros((6, 3), "float32")
        y_val = np.zeros((6, 1), "float32")
        result = _find(model, x, y, validation_data=(x_val, y_val))
        assert result.probes["scored_on"] == "validation_data"
        assert_exact_losses(result)

    def test_a_dataset_is_scored_on_its_training_batches(self):
        model = bias_model()
        x, y = zeros_data(24)
        result = _find(model, ArrayDataset(x, y, batch_size=8), None)
        assert result.probes["scored_on"] == "training_data"
        assert_exact_losses(result)

    def test_probe_false_runs_none(self):
        model = bias_model()
        x, y = zeros_data(40)
        result = _find(model, x, y, probe=False)
        assert result.probes is None
        assert result.default_method == "descent"
        assert result.suggested_learning_rate == result.suggest("descent")
        with pytest.raises(ValueError, match="probe=True"):
            result.suggest("probe")

    def test_one_pass_data_skips_them_with_a_warning(self):
        model = bias_model()
        x, y = zeros_data(8)

        def batches():
            for _ in range(12):
                yield x, y

        with pytest.warns(UserWarning, match="probes were skipped"):
            result = _find(model, batches(), None)
        assert result.probes is None
        assert result.default_method == "descent"


class TestFlatCurve:
    # Zero inputs and targets: every batch's loss is the same whatever the
    # rate, so the curve is flat by construction (random data made it flat
    # by chance, which another Keras's random streams need not repeat).
    def test_a_flat_curve_is_not_probed(self):
        x, y = zeros_data(64, inputs=6)
        model = bn_model()
        result = _find(model, x, y, num_steps=6, start_learning_rate=1e-7)
        assert result.is_flat
        assert result.probes is None
        with pytest.warns(UserWarning, match="not a measurement"):
            result.suggested_learning_rate

    def test_verbose_on_a_flat_curve_prints_no_probes(self, capsys):
        # Verbose output used to index the probes of a flat curve (None).
        x, y = zeros_data(64, inputs=6)
        model = bn_model()
        result = _find(
            model, x, y, num_steps=6, start_learning_rate=1e-7, verbose=2
        )
        assert result.is_flat and result.probes is None
        assert "Probes (" not in capsys.readouterr().out

    def test_verbose_prints_the_probes(self, capsys):
        model = bias_model()
        x, y = zeros_data(40)
        result = _find(model, x, y, verbose=2)
        out = capsys.readouterr().out
        assert "Probes (4 steps each, loss on held out split):" in out
        for rate in result.probes["learning_rates"]:
            assert f"{rate:.2e}:" in out


class TestRestoredAfterProbes:
    def test_everything_restored_and_training_unchanged(self):
        x, y = learnable()
        keras.utils.set_random_seed(3)
        model = bn_model(
            LRX(keras.optimizers.AdamW(0.01), multipliers={"body": 0.1}),
            dropout=False,
        )
        keras.utils.set_random_seed(3)
        twin = bn_model(
            LRX(keras.optimizers.AdamW(0.01), multipliers={"body": 0.1}),
            dropout=False,
        )
        for m in (model, twin):
            m.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        model.evaluate(x, y, verbose=0)
        functions = model.train_function, model.test_function
        before = full_state(model)
        result = _find_on_curve(model, x, y)
        assert result.probes is not None
        assert_same_state(before, full_state(model))
        assert (model.train_function, model.test_function) == functions
        for m in (model, twin):
            m.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        for a, b in zip(model.variables, twin.variables):
            np.testing.assert_allclose(
                keras.ops.convert_to_numpy(a),
                keras.ops.convert_to_numpy(b),
                rtol=1e-6,
                atol=1e-7,
            )

    def test_restored_when_a_probe_raises(self, monkeypatch):
        from keras_lrx import probes as probes_module

        x, y = learnable()
        model = bn_model()
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        before = full_state(model)
        calls = []

        def broken(model, data):
            calls.append(1)
            raise RuntimeError("scoring failed")

        monkeypatch.setattr(probes_module, "_score", broken)
        with pytest.raises(RuntimeError, match="scoring failed"):
            _find_on_curve(model, x, y)
        assert calls
        assert_same_state(before, full_state(model))

    def test_deterministic_under_a_seed(self):
        x, y = learnable()
        keras.utils.set_random_seed(0)
        model = bn_model()  # with dropout: its seed state is restored
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        runs = []
        for _ in range(2):
            keras.utils.set_random_seed(1)
            runs.append(_find_on_curve(model, x, y).probes)
        assert runs[0]["learning_rates"] == runs[1]["learning_rates"]
        np.testing.assert_allclose(
            runs[0]["losses"], runs[1]["losses"], rtol=1e-6
        )


class TestHelpers:
    @pytest.mark.parametrize(
        "anchor, ceiling, expected",
        [
            (1e-3, 1.0, [1e-3, 1e-2, 1e-1]),
            (1e-3, 0.05, [1e-3, 1e-2]),
            (1e-3, 1e-3, [1e-3]),
            (1e-3, 1e-4, [1e-3]),  # the anchor is always kept
        ],
    )
    def test_candidates(self, anchor, ceiling, expected):
        assert PROBE_FACTORS == (1.0, 10.0, 100.0)
        np.testing.assert_allclose(probe_candidates(anchor, ceiling), expected)

    @pytest.mark.parametrize(
        "rates, losses",
        [
            ([1e-3, 1e-2, 1e-1], [0.62, 0.45, 0.78]),  # lower within 50%
            ([1e-3, 1e-2, 1e-1], [1.15, 0.52, 0.17]),  # higher far better
            ([1e-3, 1e-2, 1e-1], [0.90, 0.59, 0.40]),  # middle within 50%
            ([1e-3, 1e-2], [np.inf, 0.3]),
            ([1e-3, 1e-2], [np.nan, np.inf]),  # all diverged: the lowest
            ([1e-3, 1e-2, 1e-1], [-1.0, -3.0, -3.5]),  # negative losses
            ([1e-2, 1e-3], [0.5, 0.55]),  # unsorted rates
        ],
    )
    def test_pick_matches_a_loop(self, rates, losses):
        assert PROBE_TOLERANCE == 0.5
        assert PROBE_BACKOFF == pytest.approx(10**0.5)
        assert pick_probe(rates, losses) == pytest.approx(
            reference_pick(rates, losses)
        )

    def test_pick_tolerance_and_backoff(self):
        rates, losses = [1e-3, 1e-2], [0.6, 0.55]
        assert pick_probe(rates, losses, tolerance=0.0, backoff=1.0) == 1e-2
        assert pick_probe(rates, losses, tolerance=0.0, backoff=4.0) == 2.5e-3
        assert pick_probe(rates, losses, tolerance=0.1) == 1e-3
        assert pick_probe([1e-3, 1e-2], [0.6, 0.35]) == pytest.approx(
            1e-2 / 10**0.5
        )

    @pytest.mark.parametrize(
        "kwargs, error, name",
        [
            (
                {"learning_rates": [], "losses": []},
                ValueError,
                "learning_rates",
            ),
            ({"losses": [1.0]}, ValueError, "losses"),
            ({"losses": ["a", "b"]}, TypeError, "losses"),
            ({"tolerance": -0.1}, ValueError, "tolerance"),
            ({"tolerance": "0.1"}, TypeError, "tolerance"),
            ({"backoff": 0.5}, ValueError, "backoff"),
        ],
    )
    def test_pick_bad_input(self, kwargs, error, name):
        args = {"learning_rates": [1e-3, 1e-2], "losses": [1.0, 2.0]}
        args.update(kwargs)
        with pytest.raises(error, match=f"`{name}`"):
            pick_probe(**args)

    def test_held_out_split_of_nested_arrays(self):
        x = {
            "a": np.arange(50, dtype="float32")[:, None],
            "b": np.arange(50, dtype="float32")[:, None] * 2,
        }
        y = np.arange(50)
        data = ProbeData(x, y, batch_size=8)
        assert data.scored_on == "held_out_split"
        assert len(data.y_val) == 10 and len(data.y) == 40
        assert sorted(np.r_[data.y, data.y_val]) == list(range(50))
        for part_x, part_y in ((data.x, data.y), (data.x_val, data.y_val)):
            np.testing.assert_array_equal(part_x["a"][:, 0], part_y)
            np.testing.assert_array_equal(part_x["b"][:, 0], 2 * part_y)
        assert data.arrays

    def test_arrays_with_validation_data_train_in_a_mixed_order(self):
        # Sorted by class, the first batches would hold one class only.
        x = np.arange(40, dtype="float32")[:, None]
        y = (np.arange(40) >= 20).astype("int32")
        data = ProbeData(x, y, batch_size=8, validation_data=(x[:4], y[:4]))
        assert data.scored_on == "validation_data"
        assert data.x_val is not None and len(data.x_val) == 4
        assert sorted(data.x[:, 0]) == list(range(40))  # all of it, once
        assert list(data.x[:, 0]) != list(range(40))  # not in its order
        np.testing.assert_array_equal(data.y, data.x[:, 0] >= 20)
        assert 0 < data.y[:8].sum() < 8  # both classes in the first batch

    def test_few_examples_are_not_split(self):
        x, y = zeros_data(8)
        data = ProbeData(x, y, batch_size=4, batches=2)
        assert data.scored_on == "training_data"
        assert data.score_steps == 2


class TestResultWithProbes:
    def result(self):
        lrs = np.logspace(-4, 0, 41)
        loss = np.r_[
            np.full(10, 2.0), np.linspace(2, 0, 21)[1:], np.linspace(0.2, 3, 11)
        ]
        probes = {
            "learning_rates": [1e-3, 1e-2, 1e-1],
            "losses": [1.0, 0.4, np.inf],
            "steps": 20,
            "steps_trained": 60,
            "scored_on": "held_out_split",
        }
        return LRFinderResult(lrs, loss, loss, probes=probes)

    def test_default_is_the_probe(self):
        result = self.result()
        pick = 1e-2 / 10**0.5  # the winner, backed off
        assert result.default_method == "probe"
        assert result.suggested_learning_rate == pytest.approx(pick)
        assert result.suggest() == pytest.approx(pick)
        assert result.suggest("descent") != pytest.approx(pick)
        schedule = result.to_schedule("one_cycle", total_steps=10)
        assert schedule.max_learning_rate == pytest.approx(pick)

    def test_dict_round_trip(self):
        import json

        result = self.result()
        config = json.loads(json.dumps(result.to_dict()))
        again = LRFinderResult.from_dict(config)
        assert again.probes == result.probes
        assert again.suggested_learning_rate == result.suggested_learning_rate
        assert LRFinderResult.from_dict(
            {**config, "probes": None}
        ).default_method == ("descent")

    @pytest.mark.parametrize(
        "change, error",
        [
            ({"steps": 0}, ValueError),
            ({"losses": [1.0, 2.0]}, ValueError),
            ({"losses": [1.0, np.nan, 2.0]}, ValueError),
            ({"learning_rates": [1e-3, -1.0, 1e-1]}, ValueError),
            ({"scored_on": "test_data"}, ValueError),
            ({"extra": 1}, ValueError),
        ],
    )
    def test_bad_probes_refused(self, change, error):
        good = self.result()
        probes = {**good.probes, **change}
        with pytest.raises(error, match="`probes`"):
            LRFinderResult(
                good.learning_rates, good.losses, good.raw_losses, probes=probes
            )

    def test_skip_arguments_refused_for_the_probe(self):
        with pytest.raises(ValueError, match="skip_start"):
            self.result().suggest("probe", skip_start=2)

    def test_plot_marks_the_pick_and_the_probed_rates(self):
        import matplotlib

        matplotlib.use("Agg")
        ax = self.result().plot()
        labels = ax.get_legend_handles_labels()[1]
        assert "probe: 3.16e-03" in labels
        assert "probed rates" in labels
        ax = self.result().plot(method="descent")
        assert "probed rates" not in ax.get_legend_handles_labels()[1]


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"probe": "yes"}, TypeError, "probe"),
        ({"probe_steps": 0}, ValueError, "probe_steps"),
        ({"probe_steps": 2.5}, TypeError, "probe_steps"),
        (
            {"probe": False, "validation_data": (np.zeros((2, 3)),) * 2},
            ValueError,
            "validation_data",
        ),
        (
            {"validation_data": (np.zeros((2, 3)),) * 3},
            ValueError,
            "validation_data",
        ),
    ],
)
def test_bad_input_before_anything_changes(kwargs, error, name):
    assert_refused_before_the_sweep(kwargs, error, name)


def assert_refused_before_the_sweep(kwargs, error, name):
    """`find_lr(**kwargs)` raises exactly `error`, naming `name`, before
    the optimizer is built."""
    model = bias_model()
    x, y = zeros_data(16)
    with pytest.raises(error) as info:
        find_lr(model, x, y, num_steps=4, verbose=0, **kwargs)
    assert type(info.value) is error
    assert f"`{name}`" in str(info.value), str(info.value)
    assert not model.optimizer.built  # refused before the sweep began


def test_minus_mean_is_the_loss():  # the premise of the exact checks above
    model = bias_model()
    assert model.loss is minus_mean
