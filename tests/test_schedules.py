"""Tests for keras_lrx.schedules (values, checks, serialization, plots).

Expected values are written by hand from the formulas in the docstrings;
PyTorch's `CyclicLR` and `OneCycleLR` serve as live oracles.
"""

import math
import re
import sys
import warnings

import keras
import numpy as np
import pytest
import torch
from conftest import assert_round_trip
from keras import ops

from keras_lrx import schedules as S
from keras_lrx.optimizer import LRX

BIG = 10**9


@keras.saving.register_keras_serializable(package="lrx_tests")
def damped_scale(x):
    """A custom CLR scale function usable with keras.ops and Python floats."""
    return 1.0 / (1.0 + 0.01 * x)


def value(schedule, step):
    return float(ops.convert_to_numpy(schedule(step)))


# ---------------------------------------------------------------------------
# Every schedule, for the loops (config round trip, jit, dtype, finiteness).
# ---------------------------------------------------------------------------

ALL_SCHEDULES = {
    "constant_with_warmup": lambda: S.constant_with_warmup(2.0, 4),
    "linear_with_warmup": lambda: S.linear_with_warmup(10.0, 2, 10),
    "cosine_with_warmup": lambda: S.cosine_with_warmup(1.0, 2, 10),
    "cosine_with_hard_restarts": lambda: S.cosine_with_hard_restarts(
        1.0, 2, 10, num_cycles=2
    ),
    "polynomial_with_warmup": lambda: S.polynomial_with_warmup(
        1.0, 2, 6, end_learning_rate=0.2, power=2.0
    ),
    "inverse_sqrt": lambda: S.inverse_sqrt(1.0, 4),
    "step_with_warmup": lambda: S.step_with_warmup(1.0, 2, 3, gamma=0.5),
    "exponential_with_warmup": lambda: S.exponential_with_warmup(1.0, 2, 0.5),
    "warmup_stable_decay": lambda: S.warmup_stable_decay(
        1.0, 2, 10, decay_steps=4, decay_type="cosine", alpha=0.2
    ),
    "warmup_keras": lambda: S.Warmup(
        keras.optimizers.schedules.ExponentialDecay(1.0, 3, 0.5),
        3,
        initial_learning_rate=0.1,
    ),
    "joined": lambda: S.join_schedules(
        [
            S.linear_with_warmup(1.0, 4, 4),
            keras.optimizers.schedules.ExponentialDecay(1.0, 1, 0.5),
            0.1,
        ],
        [4, 6],
    ),
    "clr_exp_range": lambda: S.CyclicalLearningRate(
        0.1, 1.0, 5, step_size_down=3, mode="exp_range", gamma=0.99
    ),
    "clr_custom": lambda: S.CyclicalLearningRate(
        0.1, 1.0, 4, scale_fn=damped_scale, scale_mode="iterations"
    ),
    "decaying_clr": lambda: S.DecayingCyclicalLearningRate(
        0.1, 1.1, 2, decay_every=2, decay_rate=0.5
    ),
    "decaying_clr_peak": lambda: S.DecayingCyclicalLearningRate(
        0.1, 1.1, 2, decay_every=2, decay_rate=0.5, decay_target="peak"
    ),
    "one_cycle": lambda: S.OneCycle(1.0, 20, three_phase=True),
    "thaw": lambda: S.Thaw(0.5, 3, warmup_steps=4, initial_fraction=0.2),
}


# ---------------------------------------------------------------------------
# Value tables (hand-computed from the formulas).
# ---------------------------------------------------------------------------

C45 = 0.5 * (1 + math.sqrt(0.5))  # 0.5 * (1 + cos(pi / 4)) = 0.8535534
C135 = 0.5 * (1 - math.sqrt(0.5))  # 0.5 * (1 + cos(3 pi / 4)) = 0.1464466

VALUE_TABLES = [
    # HF linear at base 10, warmup 2, total 10.
    (
        lambda: S.linear_with_warmup(10.0, 2, 10),
        {
            0: 0.0,
            1: 5.0,
            2: 10.0,
            3: 8.75,
            4: 7.5,
            6: 5.0,
            9: 1.25,
            10: 0.0,
            11: 0.0,
            50: 0.0,
            BIG: 0.0,
        },
    ),
    (
        lambda: S.linear_with_warmup(1.0, 0, 4),
        {0: 1.0, 1: 0.75, 2: 0.5, 4: 0.0, 5: 0.0},
    ),
    (
        lambda: S.constant_with_warmup(2.0, 4),
        {0: 0.0, 1: 0.5, 3: 1.5, 4: 2.0, 5: 2.0, BIG: 2.0},
    ),
    (lambda: S.constant_with_warmup(2.0, 0), {0: 2.0, 7: 2.0}),
    (
        lambda: S.cosine_with_warmup(1.0, 2, 10),
        {
            0: 0.0,
            1: 0.5,
            2: 1.0,
            4: C45,
            6: 0.5,
            8: C135,
            10: 0.0,
            11: 0.0,
            20: 0.0,
            BIG: 0.0,
        },
    ),
    (
        # A full period: back up to the peak at total_steps, and stays there.
        lambda: S.cosine_with_warmup(1.0, 0, 8, num_cycles=1.0),
        {0: 1.0, 2: 0.5, 4: 0.0, 6: 0.5, 8: 1.0, 9: 1.0, BIG: 1.0},
    ),
    (
        lambda: S.cosine_with_hard_restarts(1.0, 2, 10, num_cycles=2),
        {
            0: 0.0,
            1: 0.5,
            2: 1.0,
            4: 0.5,
            5: C135,
            6: 1.0,
            8: 0.5,
            9: C135,
            10: 0.0,
            11: 0.0,
            BIG: 0.0,
        },
    ),
    (
        lambda: S.cosine_with_hard_restarts(1.0, 0, 4),
        {0: 1.0, 1: C45, 2: 0.5, 3: C135, 4: 0.0},
    ),
    (
        lambda: S.polynomial_with_warmup(1.0, 2, 6, 0.2, power=2.0),
        {
            0: 0.0,
            1: 0.5,
            2: 1.0,
            3: 0.65,
            4: 0.4,
            5: 0.25,
            6: 0.2,
            7: 0.2,
            BIG: 0.2,
        },
    ),
    (
        # HF default end_learning_rate=1e-7, linear.
        lambda: S.polynomial_with_warmup(1e-3, 0, 10),
        {0: 1e-3, 5: 5.0005e-4, 10: 1e-7, 11: 1e-7},
    ),
    (
        lambda: S.inverse_sqrt(1.0, 4),
        {
            0: 0.0,
            2: 0.5,
            4: 1.0,
            16: 0.5,
            36: 1.0 / 3.0,
            BIG: 2.0 / math.sqrt(BIG),
        },
    ),
    (lambda: S.inverse_sqrt(1.0, 0), {0: 1.0, 30_000: 0.5}),
    (
        lambda: S.inverse_sqrt(2.0, 5, timescale=10),
        {0: 0.0, 5: 2.0, 15: math.sqrt(2.0), 35: 1.0},
    ),
    (
        lambda: S.step_with_warmup(1.0, 2, 3, gamma=0.5),
        {0: 0.0, 1: 0.5, 2: 1.0, 4: 1.0, 5: 0.5, 7: 0.5, 8: 0.25, BIG: 0.0},
    ),
    (
        lambda: S.exponential_with_warmup(1.0, 2, 0.5),
        {0: 0.0, 1: 0.5, 2: 1.0, 3: 0.5, 5: 0.125, BIG: 0.0},
    ),
    (
        lambda: S.exponential_with_warmup(1.0, 0, 0.9),
        {0: 1.0, 10: 0.3486784401},
    ),
    (
        lambda: S.warmup_stable_decay(1.0, 2, 10, decay_steps=4, alpha=0.2),
        {
            0: 0.0,
            1: 0.5,
            2: 1.0,
            5: 1.0,
            6: 1.0,
            7: 0.8,
            8: 0.6,
            9: 0.4,
            10: 0.2,
            11: 0.2,
            BIG: 0.2,
        },
    ),
    (
        lambda: S.warmup_stable_decay(1.0, 0, 10, 4, decay_type="cosine"),
        {0: 1.0, 6: 1.0, 7: C45, 8: 0.5, 9: C135, 10: 0.0, BIG: 0.0},
    ),
    (
        lambda: S.warmup_stable_decay(2.0, 0, 8, 4, "1-sqrt", alpha=0.5),
        {4: 2.0, 5: 1.5, 8: 1.0, BIG: 1.0},
    ),
    (
        # Default decay phase: 20% of total_steps.
        lambda: S.warmup_stable_decay(1.0, 0, 10),
        {7: 1.0, 8: 1.0, 9: 0.5, 10: 0.0},
    ),
    (
        lambda: S.Warmup(
            keras.optimizers.schedules.CosineDecayRestarts(1.0, 4), 2
        ),
        {0: 0.0, 1: 0.5, 2: 1.0, 4: 0.5, 6: 1.0},
    ),
    (
        lambda: S.Warmup(
            keras.optimizers.schedules.ExponentialDecay(1.0, 1, 0.5),
            4,
            initial_learning_rate=0.2,
        ),
        {0: 0.2, 2: 0.6, 4: 1.0, 5: 0.5, 7: 0.125},
    ),
    (lambda: S.Warmup(0.3, 3), {0: 0.0, 1: 0.1, 3: 0.3, BIG: 0.3}),
    (lambda: S.Warmup(0.3, 0), {0: 0.3, 5: 0.3}),
    (
        lambda: S.join_schedules(
            [
                S.linear_with_warmup(1.0, 4, 4),
                keras.optimizers.schedules.ExponentialDecay(1.0, 1, 0.5),
                0.1,
            ],
            [4, 6],
        ),
        {0: 0.0, 3: 0.75, 4: 1.0, 5: 0.5, 6: 0.1, BIG: 0.1},
    ),
    (lambda: S.join_schedules([0.7], []), {0: 0.7, 100: 0.7}),
    (
        lambda: S.CyclicalLearningRate(1.0, 3.0, 2, step_size_down=4),
        {
            0: 1.0,
            1: 2.0,
            2: 3.0,
            3: 2.5,
            4: 2.0,
            5: 1.5,
            6: 1.0,
            8: 3.0,
            BIG: 2.0,
        },  # 10**9 mod 6 = 4: height (6 - 4) / 4.
    ),
    (
        lambda: S.CyclicalLearningRate(0.1, 1.0, 2, mode="triangular2"),
        {0: 0.1, 1: 0.55, 2: 1.0, 4: 0.1, 6: 0.55, 10: 0.325, BIG: 0.1},
    ),
    (
        lambda: S.CyclicalLearningRate(
            0.0, 1.0, 1, mode="exp_range", gamma=0.5
        ),
        {0: 0.0, 1: 0.5, 2: 0.0, 3: 0.125},
    ),
    (
        lambda: S.DecayingCyclicalLearningRate(0.0, 1.0, 1, decay_every=2),
        {1: 1.0, 3: 1.0, 5: 0.5, 7: 0.5, 9: 0.25},
    ),
    (
        # Linear decay of the amplitude, floored at the base.
        lambda: S.DecayingCyclicalLearningRate(
            0.1, 1.1, 1, decay_rate=0.5, decay_type="linear"
        ),
        {0: 0.1, 1: 1.1, 3: 0.6, 5: 0.1, 7: 0.1, BIG - 1: 0.1},
    ),
    (
        lambda: S.OneCycle(
            1.0,
            10,
            pct_start=0.5,
            div_factor=10.0,
            final_div_factor=10.0,
            anneal_strategy="linear",
        ),
        {0: 0.1, 2: 0.55, 4: 1.0, 6: 0.604, 9: 0.01, 10: 0.01, BIG: 0.01},
    ),
    (
        lambda: S.OneCycle(
            1.0, 10, pct_start=0.5, div_factor=10.0, final_div_factor=10.0
        ),
        {
            0: 0.1,
            2: 0.55,
            4: 1.0,
            6: 0.01 + 0.99 * 0.5 * (1 + math.cos(0.4 * math.pi)),
            9: 0.01,
            10: 0.01,
            BIG: 0.01,
        },
    ),
    # A multiplier shape: 0 before step 3; then 0.5 * (0.2 + 0.8 * i / 4).
    (
        lambda: S.Thaw(0.5, 3, warmup_steps=4, initial_fraction=0.2),
        {0: 0.0, 2: 0.0, 3: 0.2, 4: 0.3, 5: 0.4, 6: 0.5, BIG: 0.5},
    ),
    (lambda: S.Thaw(2.0, 5), {4: 0.0, 5: 2.0, BIG: 2.0}),
]


def test_value_tables():
    # One test over all tables (the shared conftest resets Keras per test,
    # which is slow on JAX); every failure names its table and step.
    for index, (make, table) in enumerate(VALUE_TABLES):
        schedule = make()
        label = f"table {index} ({type(schedule).__name__})"
        steps = list(table)
        got = S.schedule_values(schedule, steps)
        assert np.all(np.isfinite(got)), label
        np.testing.assert_allclose(
            got,
            list(table.values()),
            rtol=1e-5,
            atol=1e-6,
            err_msg=f"{label} at steps {steps}",
        )
        # A scalar call gives the same values as the vectorized one.
        for step in (steps[0], steps[-1]):
            np.testing.assert_allclose(
                value(schedule, step),
                table[step],
                rtol=1e-5,
                atol=1e-6,
                err_msg=f"{label} at step {step}",
            )


def test_one_cycle_momentum_table():
    s = S.OneCycle(
        1.0,
        10,
        pct_start=0.5,
        anneal_strategy="linear",
        base_momentum=0.8,
        max_momentum=0.9,
    )
    expected = {0: 0.9, 2: 0.85, 4: 0.8, 6: 0.84, 9: 0.9, 12: 0.9}
    for step, m in expected.items():
        np.testing.assert_allclose(value(s.momentum, step), m, rtol=1e-6)


@pytest.mark.filterwarnings("ignore:Explicitly requested dtype int64")
def test_dtype_and_step_types():
    steps = [
        3,
        np.int64(3),
        ops.convert_to_tensor(3, dtype="int32"),
        ops.convert_to_tensor(np.array(3, dtype="int64")),
        keras.Variable(3, dtype="int64", trainable=False),
    ]
    for name, make in ALL_SCHEDULES.items():
        schedule = make()
        reference = value(schedule, 3)
        for step in steps:
            out = schedule(step)
            assert keras.backend.standardize_dtype(out.dtype) == "float32", name
            assert tuple(out.shape) == (), name
            assert float(ops.convert_to_numpy(out)) == pytest.approx(
                reference
            ), (name, step)
        far = S.schedule_values(schedule, [0, 10**6, BIG])
        assert np.all(np.isfinite(far)) and np.all(far >= 0.0), (name, far)


# ---------------------------------------------------------------------------
# PyTorch as an oracle.
# ---------------------------------------------------------------------------


def torch_history(make_scheduler, steps):
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    scheduler = make_scheduler(optimizer)
    lrs, momentums = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(steps):
            lrs.append(optimizer.param_groups[0]["lr"])
            momentums.append(optimizer.param_groups[0]["momentum"])
            optimizer.step()
            scheduler.step()
    return np.array(lrs), np.array(momentums)


CYCLIC_CASES = [
    dict(base=0.001, max=0.006, up=20, down=None, mode="triangular"),
    dict(base=0.01, max=0.1, up=15, down=35, mode="triangular2"),
    dict(base=0.001, max=0.1, up=7, down=3, mode="triangular2"),
    dict(base=0.01, max=0.1, up=25, down=10, mode="exp_range", gamma=0.995),
    dict(base=0.0, max=1.0, up=13, down=None, mode="exp_range", gamma=0.999),
    dict(
        base=0.01,
        max=0.1,
        up=10,
        down=17,
        scale_fn=damped_scale,
        scale_mode="cycle",
    ),
    dict(
        base=0.01,
        max=0.1,
        up=10,
        down=5,
        scale_fn=damped_scale,
        scale_mode="iterations",
    ),
]


def test_cyclical_matches_torch():
    for case in CYCLIC_CASES:
        _check_cyclical_against_torch(case)


def _check_cyclical_against_torch(case):
    n = 400
    kwargs = {}
    if "scale_fn" in case:
        kwargs = dict(scale_fn=case["scale_fn"], scale_mode=case["scale_mode"])
    expected, _ = torch_history(
        lambda opt: torch.optim.lr_scheduler.CyclicLR(
            opt,
            base_lr=case["base"],
            max_lr=case["max"],
            step_size_up=case["up"],
            step_size_down=case["down"],
            mode=case.get("mode", "triangular"),
            gamma=case.get("gamma", 1.0),
            **kwargs,
        ),
        n,
    )
    ours = S.CyclicalLearningRate(
        case["base"],
        case["max"],
        case["up"],
        step_size_down=case["down"],
        mode=case.get("mode", "triangular"),
        gamma=case.get("gamma", 1.0),
        **kwargs,
    )
    got = S.schedule_values(ours, n)
    np.testing.assert_allclose(
        got, expected, rtol=1e-5, atol=1e-9, err_msg=str(case)
    )
    # Element-wise evaluation agrees with the vectorized one.
    for k in (0, 1, case["up"], 199, n - 1):
        np.testing.assert_allclose(
            value(ours, k),
            expected[k],
            rtol=1e-5,
            atol=1e-9,
            err_msg=f"{case} at step {k}",
        )


def test_decaying_clr_with_factor_one_half_is_triangular2():
    a = S.DecayingCyclicalLearningRate(
        0.01, 0.1, 15, 35, decay_every=1, decay_rate=0.5
    )
    b = S.CyclicalLearningRate(0.01, 0.1, 15, 35, mode="triangular2")
    np.testing.assert_allclose(
        S.schedule_values(a, 300), S.schedule_values(b, 300), rtol=1e-6
    )


def _decaying_clr_reference(k, base, peak, up, down, every, rate, kind, target):
    """Hand-written NumPy (float64) reference of DecayingCyclicalLearningRate.

    "amplitude": the triangle's height above base shrinks,
        lr = base + (max - base) * height * factor
    "peak": the seed CLR recipe, `max_lr = max(max_lr * decay, base_lr)`
        every `decay_every` cycles, i.e. peak_n = max(base, max * factor),
        lr = base + (peak_n - base) * height
    """
    k = np.asarray(k, dtype=np.float64)
    total = up + down
    cycle = np.floor(k / total) + 1
    x = k - (cycle - 1) * total
    height = np.where(x <= up, x / up, (total - x) / down)
    n = np.floor((cycle - 1) / every)
    if kind == "exponential":
        factor = np.power(rate, n)
    else:
        factor = np.maximum(0.0, 1.0 - rate * n)
    if target == "amplitude":
        return base + (peak - base) * height * factor
    return base + (np.maximum(base, peak * factor) - base) * height


# Cycle of 5 steps (up 2, down 3), decay every 2 cycles: the decay boundaries
# fall at steps 10, 20, 30, ...; the peaks at 2, 7, 12, 17, 22, ...
DCLR_STEPS = [
    0,
    1,
    2,
    3,
    7,
    9,
    10,
    11,
    12,
    17,
    19,
    20,
    21,
    22,
    29,
    30,
    32,
    42,
    52,
    77,
    997,
    BIG,
    BIG + 2,
]
DCLR_CASES = [
    dict(
        base=0.2, peak=1.0, up=2, down=3, every=2, rate=0.5, kind="exponential"
    ),
    dict(base=0.2, peak=1.0, up=2, down=3, every=2, rate=0.3, kind="linear"),
    dict(
        base=0.05, peak=0.4, up=2, down=3, every=1, rate=0.9, kind="exponential"
    ),
    dict(
        base=0.2, peak=1.0, up=2, down=3, every=2, rate=1.0, kind="exponential"
    ),  # No decay at all: both modes are plain CLR.
    dict(
        base=0.0, peak=1.0, up=2, down=3, every=2, rate=0.5, kind="exponential"
    ),  # base 0: both modes agree.
]


# Steps past int32 (int64 tensors); JAX without x64 cannot hold them.
HUGE = [] if keras.backend.backend() == "jax" else [10**12 + 2]


def test_huge_int64_steps():
    # One cycle is 5 steps; 10**12 + 2 is at the top of cycle 2 * 10**11 + 1.
    clr = S.CyclicalLearningRate(0.3, 1.0, 2, 3, mode="triangular2")
    dclr = S.DecayingCyclicalLearningRate(0.3, 1.0, 2, 3, decay_rate=1.0)
    if keras.backend.backend() == "jax":
        with pytest.raises(ValueError, match="`steps`.*jax_enable_x64"):
            S.schedule_values(clr, [10**12 + 2])
        return
    # Values, not int32 wrap-around (torch once lost the cycle count).
    np.testing.assert_allclose(
        S.schedule_values(clr, [10**12 + 2]), 0.3, rtol=1e-6
    )
    np.testing.assert_allclose(
        S.schedule_values(dclr, [10**12, 10**12 + 2]), [0.3, 1.0], rtol=1e-6
    )
    np.testing.assert_allclose(value(dclr, 10**12 + 2), 1.0, rtol=1e-6)


def test_decaying_clr_both_targets_match_numpy_reference():
    for case in DCLR_CASES:
        for target in ("amplitude", "peak"):
            s = S.DecayingCyclicalLearningRate(
                case["base"],
                case["peak"],
                case["up"],
                case["down"],
                decay_every=case["every"],
                decay_rate=case["rate"],
                decay_type=case["kind"],
                decay_target=target,
            )
            expected = _decaying_clr_reference(
                DCLR_STEPS, **case, target=target
            )
            np.testing.assert_allclose(
                S.schedule_values(s, DCLR_STEPS),
                expected,
                rtol=1e-5,
                atol=1e-7,
                err_msg=f"{case} {target}",
            )
            for k in (12, BIG + 2):
                np.testing.assert_allclose(
                    value(s, k),
                    expected[DCLR_STEPS.index(k)],
                    rtol=1e-5,
                    atol=1e-7,
                    err_msg=f"{case} {target} at {k}",
                )
    # Non-integer step sizes (the float path of the triangle wave).
    case = dict(
        base=0.1,
        peak=0.9,
        up=1.5,
        down=2.0,
        every=1,
        rate=0.5,
        kind="exponential",
    )
    steps = list(range(40))
    for target in ("amplitude", "peak"):
        s = S.DecayingCyclicalLearningRate(
            0.1,
            0.9,
            1.5,
            2.0,
            decay_every=1,
            decay_rate=0.5,
            decay_target=target,
        )
        np.testing.assert_allclose(
            S.schedule_values(s, steps),
            _decaying_clr_reference(steps, **case, target=target),
            rtol=1e-5,
            atol=1e-7,
            err_msg=target,
        )


def test_decaying_clr_targets_differ_when_base_is_positive():
    kwargs = dict(step_size=2, step_size_down=3, decay_every=2, decay_rate=0.5)
    amplitude = S.DecayingCyclicalLearningRate(0.2, 1.0, **kwargs)
    peak = S.DecayingCyclicalLearningRate(
        0.2, 1.0, decay_target="peak", **kwargs
    )
    assert amplitude.decay_target == "amplitude"  # The default.
    peaks = [2, 7, 12, 17, 22, 32, 42]  # Cycles 1-2, 3, 4, 5, 7, 9.
    # amplitude: 0.2 + 0.8 * 0.5 ** n; peak: max(0.2, 1.0 * 0.5 ** n).
    np.testing.assert_allclose(
        S.schedule_values(amplitude, peaks),
        [1.0, 1.0, 0.6, 0.6, 0.4, 0.3, 0.25],
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        S.schedule_values(peak, peaks),
        [1.0, 1.0, 0.5, 0.5, 0.25, 0.2, 0.2],
        rtol=1e-6,
    )
    # Halfway up in cycle 3 (step 11): base + (peak_n - base) / 2.
    assert value(amplitude, 11) == pytest.approx(0.4)
    assert value(peak, 11) == pytest.approx(0.35)
    # Boundaries: cycle 2 ends at step 9 / 10; values at 10 are the base.
    for s in (amplitude, peak):
        assert value(s, 10) == pytest.approx(0.2)
        assert value(s, 9) == pytest.approx(0.2 + 0.8 / 3)  # No decay yet.


def test_decaying_clr_peak_never_below_base():
    for kind, rate in (
        ("exponential", 0.5),
        ("exponential", 0.95),
        ("linear", 0.3),
        ("linear", 1.0),
    ):
        for target in ("amplitude", "peak"):
            s = S.DecayingCyclicalLearningRate(
                0.3,
                1.0,
                2,
                3,
                decay_every=1,
                decay_rate=rate,
                decay_type=kind,
                decay_target=target,
            )
            values = S.schedule_values(s, 600)
            label = (kind, rate, target)
            assert np.all(values >= np.float32(0.3) - 1e-7), label
            cycle_peaks = values[2::5]  # The top of each 5-step cycle.
            assert np.all(cycle_peaks >= np.float32(0.3) - 1e-7), label
            assert np.all(np.diff(cycle_peaks) <= 1e-7), label  # Decaying.
            far = S.schedule_values(s, [BIG, BIG + 2] + HUGE)
            np.testing.assert_allclose(far, 0.3, rtol=1e-6, err_msg=label)
    # In "peak" mode the floor is reached after finitely many decays, and
    # then the schedule is constant at base (amplitude mode only tends to it).
    s = S.DecayingCyclicalLearningRate(
        0.3, 1.0, 2, 3, decay_every=1, decay_rate=0.5, decay_target="peak"
    )
    np.testing.assert_allclose(
        S.schedule_values(s, range(10, 60)), 0.3, rtol=1e-6
    )  # From cycle 3: 0.25 < 0.3.


def test_decaying_clr_decay_target_config():
    s = S.DecayingCyclicalLearningRate(
        0.2, 1.0, 2, decay_every=2, decay_target="peak"
    )
    config = s.get_config()
    assert config["decay_target"] == "peak"
    for clone in assert_round_trip(s):
        assert clone.decay_target == "peak"
        np.testing.assert_array_equal(
            S.schedule_values(clone, 50), S.schedule_values(s, 50)
        )
    # A config saved before `decay_target` existed loads as "amplitude".
    old = dict(config)
    del old["decay_target"]
    assert S.DecayingCyclicalLearningRate.from_config(old).decay_target == (
        "amplitude"
    )
    with pytest.raises(ValueError, match="`decay_target` must be one of"):
        S.DecayingCyclicalLearningRate(0.2, 1.0, 2, decay_target="max")


ONE_CYCLE_CASES = [
    dict(max_lr=0.1, total_steps=300),
    dict(
        max_lr=0.01, total_steps=400, pct_start=0.25, anneal_strategy="linear"
    ),
    dict(max_lr=0.5, total_steps=350, pct_start=0.3, three_phase=True),
    dict(
        max_lr=1.0,
        total_steps=333,
        pct_start=0.4,
        three_phase=True,
        anneal_strategy="linear",
        div_factor=10.0,
        final_div_factor=100.0,
    ),
    dict(
        max_lr=0.2,
        total_steps=301,
        pct_start=0.33,
        div_factor=5.0,
        final_div_factor=1e3,
        base_momentum=0.8,
        max_momentum=0.99,
    ),
]


def test_one_cycle_matches_torch():
    for case in ONE_CYCLE_CASES:
        _check_one_cycle_against_torch(case)


def _check_one_cycle_against_torch(case):
    n = case["total_steps"]
    expected_lr, expected_m = torch_history(
        lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, **case), n
    )
    kwargs = dict(case)
    ours = S.OneCycle(kwargs.pop("max_lr"), kwargs.pop("total_steps"), **kwargs)
    np.testing.assert_allclose(
        S.schedule_values(ours, n),
        expected_lr,
        rtol=1e-5,
        atol=0,
        err_msg=str(case),
    )
    np.testing.assert_allclose(
        S.schedule_values(ours.momentum, n),
        expected_m,
        rtol=1e-5,
        atol=0,
        err_msg=f"momentum {case}",
    )
    # Past the end it stays at the final value (no error, no overshoot).
    final = value(ours, n - 1)
    np.testing.assert_allclose(final, expected_lr[-1], rtol=1e-5)
    past = [n, n + 1, 10 * n, BIG]
    np.testing.assert_allclose(
        S.schedule_values(ours, past), final, rtol=1e-6, err_msg=str(case)
    )
    np.testing.assert_allclose(
        S.schedule_values(ours.momentum, past),
        expected_m[-1],
        rtol=1e-6,
        err_msg=str(case),
    )


# ---------------------------------------------------------------------------
# Monotonic properties.
# ---------------------------------------------------------------------------

MONOTONIC = [
    # (schedule, warmup_steps, last step of the decay phase)
    (lambda: S.constant_with_warmup(1.0, 50), 50, 200),
    (lambda: S.linear_with_warmup(1.0, 50, 200), 50, 260),
    (lambda: S.cosine_with_warmup(1.0, 50, 200), 50, 260),
    (lambda: S.polynomial_with_warmup(1.0, 50, 200, power=3.0), 50, 260),
    (lambda: S.inverse_sqrt(1.0, 50), 50, 260),
    (lambda: S.step_with_warmup(1.0, 50, 7, 0.9), 50, 260),
    (lambda: S.exponential_with_warmup(1.0, 50, 0.99), 50, 260),
    (lambda: S.warmup_stable_decay(1.0, 50, 200, 60, "1-sqrt", 0.1), 50, 260),
    (lambda: S.warmup_stable_decay(1.0, 50, 200, 60, "cosine"), 50, 260),
    (
        lambda: S.Warmup(
            keras.optimizers.schedules.CosineDecay(1.0, 150),
            50,
            initial_learning_rate=0.1,
        ),
        50,
        260,
    ),
    (lambda: S.OneCycle(1.0, 200, pct_start=0.25), 49, 260),
]


def test_warmup_never_decreases_decay_never_increases():
    for index, (make, warmup_steps, end) in enumerate(MONOTONIC):
        schedule = make()
        label = f"case {index} ({type(schedule).__name__})"
        values = S.schedule_values(schedule, end)
        rising = np.diff(values[: warmup_steps + 1])
        falling = np.diff(values[warmup_steps:])
        assert np.all(rising >= -1e-7), (label, rising.min())
        assert np.all(falling <= 1e-7), (label, falling.max())
        assert rising.sum() > 0, label


# ---------------------------------------------------------------------------
# Serialization.
# ---------------------------------------------------------------------------

CHECK_STEPS = [0, 1, 2, 3, 5, 8, 13, 21, 40, BIG]


def test_config_round_trip():
    for name, make in ALL_SCHEDULES.items():
        schedule = make()
        expected = S.schedule_values(schedule, CHECK_STEPS)
        for other in assert_round_trip(schedule):
            np.testing.assert_array_equal(
                S.schedule_values(other, CHECK_STEPS), expected, err_msg=name
            )


def test_unregistered_scale_fn_cannot_be_serialized():
    lam = S.CyclicalLearningRate(0.1, 1.0, 4, scale_fn=lambda x: 1.0 / x)
    assert value(lam, 4) == pytest.approx(1.0)  # Usable for training...
    with pytest.raises(ValueError, match="register_keras_serializable"):
        lam.get_config()  # ...but never put in a config.
    with pytest.raises(ValueError, match="scale_fn"):
        keras.saving.serialize_keras_object(lam)

    def plain(x):
        return 1.0 / x

    with pytest.raises(ValueError, match="not registered"):
        S.CyclicalLearningRate(0.1, 1.0, 4, scale_fn=plain).get_config()


def test_scale_fn_by_registered_name():
    s = S.CyclicalLearningRate(0.1, 1.0, 4, scale_fn="lrx_tests>damped_scale")
    assert s.scale_fn is damped_scale
    assert S.CyclicalLearningRate.from_config(s.get_config()).scale_fn is (
        damped_scale
    )
    with pytest.raises(ValueError, match="scale_fn"):
        S.CyclicalLearningRate(0.1, 1.0, 4, scale_fn="no_such_fn")


# Keras's own CosineDecayRestarts (SGDR) branches with `ops.cond`, which is
# slow to evaluate eagerly on JAX: it is checked here and in a value table
# rather than in the loops over ALL_SCHEDULES.
FIT_SCHEDULES = {
    name: ALL_SCHEDULES[name]
    for name in (
        "linear_with_warmup",
        "warmup_stable_decay",
        "joined",
        "clr_custom",
        "one_cycle",
    )
}
FIT_SCHEDULES["warmup_sgdr"] = lambda: S.Warmup(
    keras.optimizers.schedules.CosineDecayRestarts(0.1, 4), 2
)


def _tiny_model(schedule):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=schedule), loss="mse"
    )
    return model


@pytest.mark.parametrize("name", sorted(FIT_SCHEDULES))
def test_fit_save_load_resume(name, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 4)).astype("float32")
    y = rng.normal(size=(24, 1)).astype("float32")
    schedule = FIT_SCHEDULES[name]()
    model = _tiny_model(schedule)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert int(ops.convert_to_numpy(model.optimizer.iterations)) == 3
    path = tmp_path / "m.keras"
    model.save(path)

    loaded = keras.models.load_model(path)
    assert int(ops.convert_to_numpy(loaded.optimizer.iterations)) == 3
    loaded_schedule = loaded.optimizer._learning_rate
    assert type(loaded_schedule) is type(schedule)
    assert loaded_schedule.get_config() == schedule.get_config()
    np.testing.assert_array_equal(
        S.schedule_values(loaded_schedule, 12), S.schedule_values(schedule, 12)
    )
    np.testing.assert_allclose(
        float(ops.convert_to_numpy(loaded.optimizer.learning_rate)),
        value(schedule, 3),
        rtol=1e-6,
    )

    loaded.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert int(ops.convert_to_numpy(loaded.optimizer.iterations)) == 6
    np.testing.assert_allclose(
        float(ops.convert_to_numpy(loaded.optimizer.learning_rate)),
        value(schedule, 6),
        rtol=1e-6,
    )


def test_schedule_as_adam_learning_rate():
    schedule = S.linear_with_warmup(0.1, 2, 10)
    optimizer = keras.optimizers.Adam(learning_rate=schedule)
    variable = keras.Variable(np.ones((2,), "float32"))
    optimizer.build([variable])
    for _ in range(3):
        optimizer.apply_gradients([(ops.ones((2,)), variable)])
    assert float(ops.convert_to_numpy(optimizer.learning_rate)) == (
        pytest.approx(value(schedule, 3))
    )


def test_schedule_inside_lrx():
    schedule = S.OneCycle(0.1, 20)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(
        optimizer=LRX(keras.optimizers.SGD(), schedule=schedule),
        loss="mse",
    )
    x = np.ones((12, 4), "float32")
    model.fit(x, x[:, :1], batch_size=4, epochs=1, verbose=0)
    assert int(ops.convert_to_numpy(model.optimizer.iterations)) == 3
    assert float(ops.convert_to_numpy(model.optimizer.learning_rate)) == (
        pytest.approx(value(schedule, 3), rel=1e-6)
    )


# ---------------------------------------------------------------------------
# Graph / jit safety.
# ---------------------------------------------------------------------------


def _compiled(fn):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=True)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn


def _step_tensor(step):
    dtype = "int32" if keras.backend.backend() == "jax" else "int64"
    return ops.convert_to_tensor(np.array(step, dtype=dtype))


def test_compiled_matches_eager():
    for name, make in ALL_SCHEDULES.items():
        schedule = make()
        fn = _compiled(schedule.__call__)
        steps = [0, 1, 2, 5, 9, 10, 11, 37, BIG]
        eager = S.schedule_values(schedule, steps)
        for step, expected in zip(steps, eager):
            got = float(ops.convert_to_numpy(fn(_step_tensor(step))))
            np.testing.assert_allclose(
                got,
                expected,
                rtol=1e-6,
                atol=1e-9,
                err_msg=f"{name} at step {step}",
            )


def test_compiled_one_cycle_momentum():
    schedule = S.OneCycle(1.0, 50)
    fn = _compiled(lambda step: schedule.momentum(step))
    for step in (0, 14, 30, 49, 60):
        got = float(ops.convert_to_numpy(fn(_step_tensor(step))))
        assert got == pytest.approx(value(schedule.momentum, step), rel=1e-6)


# ---------------------------------------------------------------------------
# Bad input. TestBadInputTable below holds the bad calls (which are refused,
# with which exception, naming which argument) and the wording of the
# schedules' own rules. The tests before it check what neither can: a
# message's exact form, the one rule of `boundaries`, and the good values
# beside the bad.
# ---------------------------------------------------------------------------


def test_error_message_echoes_the_value():
    with pytest.raises(ValueError) as info:
        S.CyclicalLearningRate(0.1, 1.0, step_size=0)
    assert str(info.value) == (
        "Argument `step_size` must be > 0. Received: step_size=0"
    )


def test_join_boundaries_must_be_increasing_positive_ints():
    rule = (
        "Argument `boundaries` must be a list of increasing positive integers"
    )
    with pytest.raises(TypeError) as info:
        S.join_schedules([0.1, 0.2], boundaries=5)
    assert str(info.value).startswith(rule), str(info.value)
    assert "Received: boundaries=5" in str(info.value)
    # The same rule whatever is wrong: not a list, an entry of the wrong type
    # or value (the table has more bad boundaries, naming `boundaries`).
    for bad, error in [
        ({4: 1}, TypeError),
        ([None], TypeError),
        ([math.inf], ValueError),
        (["a", "b"], TypeError),  # Types first, then length.
    ]:
        with pytest.raises(error, match=re.escape(rule)):
            S.join_schedules([0.1, 0.2], boundaries=bad)
    for bad in ([5, 5], [6, 5]):
        with pytest.raises(ValueError, match="`boundaries` must be strictly"):
            S.join_schedules([0.1, 0.2, 0.3], bad)
    with pytest.raises(ValueError, match="`boundaries` must have one entry"):
        S.join_schedules([0.1, 0.2, 0.3], [4])
    # Tuples, NumPy ints and integral floats are fine, stored as Python ints.
    for good in ((4, 6), [np.int64(4), 6.0], np.array([4, 6])):
        joined = S.join_schedules([0.1, 0.2, 0.3], good)
        assert joined.boundaries == [4, 6]
        assert all(type(b) is int for b in joined.boundaries)
    np.testing.assert_allclose(
        S.schedule_values(joined, [3, 4, 6]), [0.1, 0.2, 0.3]
    )


def test_zero_is_a_valid_constant_rate():
    assert S.Warmup(0.0, 3).schedule == 0.0


def test_schedule_values_accepts_good_steps():
    s = S.linear_with_warmup(1e-3, 1, 10)
    # Good steps: ints, NumPy arrays, integral floats, ranges, empty.
    np.testing.assert_allclose(
        S.schedule_values(s, np.array([1, 2])), [1e-3, 1e-3 * 8 / 9], rtol=1e-6
    )
    np.testing.assert_allclose(
        S.schedule_values(s, [1.0, 2.0]), [1e-3, 1e-3 * 8 / 9], rtol=1e-6
    )
    assert S.schedule_values(s, 2.0).shape == (2,)
    assert S.schedule_values(s, []).shape == (0,)
    assert S.schedule_values(s, range(3, 3)).shape == (0,)
    values = S.schedule_values(s, range(0, 100, 7))
    assert values.shape == (15,) and np.all(values >= 0.0)


# Every public constructor, with valid keyword arguments and the kind of
# each argument; BAD_BY_KIND turns each kind into bad inputs (a kind ending
# in "?" also accepts None).
CONSTRUCTORS = [
    # (label, callable, valid kwargs, {argument: kind})
    (
        "constant_with_warmup",
        S.constant_with_warmup,
        dict(learning_rate=1.0, warmup_steps=2),
        dict(learning_rate="rate", warmup_steps="count0", name="name"),
    ),
    (
        "ConstantWithWarmup",
        S.ConstantWithWarmup,
        dict(learning_rate=1.0, warmup_steps=2),
        dict(learning_rate="rate", warmup_steps="count0", name="name"),
    ),
]
_WARMUP_TOTAL = dict(
    learning_rate="rate",
    warmup_steps="count0",
    total_steps="count",
    name="name",
)
for _label, _fn, _extra_kwargs, _extra_kinds in [
    ("linear_with_warmup", S.linear_with_warmup, {}, {}),
    ("LinearWithWarmup", S.LinearWithWarmup, {}, {}),
    ("cosine_with_warmup", S.cosine_with_warmup, {}, {"num_cycles": "pos"}),
    ("CosineWithWarmup", S.CosineWithWarmup, {}, {"num_cycles": "pos"}),
    (
        "cosine_with_hard_restarts",
        S.cosine_with_hard_restarts,
        {},
        {"num_cycles": "count"},
    ),
    (
        "CosineWithHardRestarts",
        S.CosineWithHardRestarts,
        {},
        {"num_cycles": "count"},
    ),
    (
        "polynomial_with_warmup",
        S.polynomial_with_warmup,
        {},
        {"end_learning_rate": "rate", "power": "pos"},
    ),
    (
        "PolynomialWithWarmup",
        S.PolynomialWithWarmup,
        {},
        {"end_learning_rate": "rate", "power": "pos"},
    ),
    (
        "warmup_stable_decay",
        S.warmup_stable_decay,
        {"decay_steps": 3},
        {"decay_steps": "count?", "alpha": "unit", "decay_type": "choice"},
    ),
    (
        "WarmupStableDecay",
        S.WarmupStableDecay,
        {"decay_steps": 3},
        {"decay_steps": "count?", "alpha": "unit", "decay_type": "choice"},
    ),
]:
    CONSTRUCTORS.append(
        (
            _label,
            _fn,
            dict(
                learning_rate=1.0,
                warmup_steps=2,
                total_steps=10,
                **_extra_kwargs,
            ),
            {**_WARMUP_TOTAL, **_extra_kinds},
        )
    )
for _label, _fn in [
    ("inverse_sqrt", S.inverse_sqrt),
    ("InverseSqrt", S.InverseSqrt),
]:
    CONSTRUCTORS.append(
        (
            _label,
            _fn,
            dict(learning_rate=1.0, warmup_steps=2),
            dict(
                learning_rate="rate",
                warmup_steps="count0",
                timescale="pos?",
                name="name",
            ),
        )
    )
for _label, _fn in [
    ("step_with_warmup", S.step_with_warmup),
    ("StepWithWarmup", S.StepWithWarmup),
]:
    CONSTRUCTORS.append(
        (
            _label,
            _fn,
            dict(learning_rate=1.0, warmup_steps=2, step_size=3),
            dict(
                learning_rate="rate",
                warmup_steps="count0",
                step_size="count",
                gamma="factor",
                name="name",
            ),
        )
    )
for _label, _fn in [
    ("exponential_with_warmup", S.exponential_with_warmup),
    ("ExponentialWithWarmup", S.ExponentialWithWarmup),
]:
    CONSTRUCTORS.append(
        (
            _label,
            _fn,
            dict(learning_rate=1.0, warmup_steps=2, gamma=0.5),
            dict(
                learning_rate="rate",
                warmup_steps="count0",
                gamma="factor",
                name="name",
            ),
        )
    )
CONSTRUCTORS += [
    (
        "Warmup",
        S.Warmup,
        dict(schedule=0.1, warmup_steps=2),
        dict(
            schedule="child",
            warmup_steps="count0",
            initial_learning_rate="rate",
            name="name",
        ),
    ),
    (
        "JoinedSchedule",
        S.JoinedSchedule,
        dict(schedules=[0.1, 0.2], boundaries=[3]),
        dict(schedules="children", boundaries="boundaries", name="name"),
    ),
    (
        "join_schedules",
        S.join_schedules,
        dict(schedules=[0.1, 0.2], boundaries=[3]),
        dict(schedules="children", boundaries="boundaries", name="name"),
    ),
    (
        "CyclicalLearningRate",
        S.CyclicalLearningRate,
        dict(base_learning_rate=0.1, max_learning_rate=1.0, step_size=2),
        dict(
            base_learning_rate="rate",
            max_learning_rate="rate",
            step_size="pos",
            step_size_down="pos?",
            gamma="pos",
            mode="choice",
            scale_mode="choice",
            name="name",
        ),
    ),
    (
        "DecayingCyclicalLearningRate",
        S.DecayingCyclicalLearningRate,
        dict(base_learning_rate=0.1, max_learning_rate=1.0, step_size=2),
        dict(
            base_learning_rate="rate",
            max_learning_rate="rate",
            step_size="pos",
            step_size_down="pos?",
            decay_every="count",
            decay_rate="factor",
            decay_type="choice",
            decay_target="choice",
            name="name",
        ),
    ),
    (
        "OneCycle",
        S.OneCycle,
        dict(max_learning_rate=1.0, total_steps=10),
        dict(
            max_learning_rate="rate",
            total_steps="count",
            pct_start="open01",
            div_factor="pos",
            final_div_factor="pos",
            base_momentum="unit",
            max_momentum="unit",
            anneal_strategy="choice",
            three_phase="bool",
            name="name",
        ),
    ),
    (
        "Thaw",
        S.Thaw,
        dict(multiplier=1.0, start_step=2),
        dict(
            multiplier="rate",
            start_step="count0",
            warmup_steps="count0",
            initial_fraction="unit",
            name="name",
        ),
    ),
]

# The snake_case names are the classes themselves: one row set per class.
CONSTRUCTORS = [
    row
    for row in CONSTRUCTORS
    if not (row[0][0].islower() and row[1] is getattr(S, row[1].__name__))
]
assert len({id(fn) for _, fn, _, _ in CONSTRUCTORS}) == len(CONSTRUCTORS)

_NOT_A_NUMBER = [
    ("1.0", TypeError),
    (True, TypeError),
    (None, TypeError),
    ([1.0], TypeError),
    (math.nan, ValueError),
    (math.inf, ValueError),
    (-math.inf, ValueError),
]
BAD_BY_KIND = {
    # Learning rates: finite numbers >= 0.
    "rate": _NOT_A_NUMBER + [(-0.1, ValueError), (-1, ValueError)],
    # Step counts that must be > 0, and those that may be 0.
    "count": [
        ("3", TypeError),
        (True, TypeError),
        (None, TypeError),
        (math.nan, ValueError),
        (math.inf, ValueError),
        (2.5, ValueError),
        (0, ValueError),
        (-1, ValueError),
    ],
    "count0": [
        ("3", TypeError),
        (True, TypeError),
        (None, TypeError),
        (math.nan, ValueError),
        (2.5, ValueError),
        (-1, ValueError),
    ],
    # Positive floats, factors in (0, 1], fractions in [0, 1] and (0, 1).
    "pos": _NOT_A_NUMBER + [(0.0, ValueError), (-2.0, ValueError)],
    "factor": _NOT_A_NUMBER
    + [(0.0, ValueError), (-0.5, ValueError), (1.5, ValueError)],
    "unit": _NOT_A_NUMBER + [(-0.1, ValueError), (1.1, ValueError)],
    "open01": _NOT_A_NUMBER
    + [(0.0, ValueError), (1.0, ValueError), (-0.3, ValueError)],
    "choice": [("no-such-option", ValueError), ([], TypeError)],
    "bool": [("yes", TypeError), (1, TypeError), (None, TypeError)],
    "name": [(5, TypeError), (["n"], TypeError)],
    # A schedule or a constant learning rate.
    "child": [
        ("0.1", TypeError),
        (True, TypeError),
        (None, TypeError),
        (math.nan, ValueError),
        (math.inf, ValueError),
        (-math.inf, ValueError),
        (np.float32("nan"), ValueError),
        (-0.1, ValueError),
    ],
    "children": [
        (0.1, TypeError),
        ("ab", TypeError),
        ([], ValueError),
        ([0.1, "0.2"], TypeError),
        ([0.1, False], TypeError),
        ([0.1, math.nan], ValueError),
        ([0.1, math.inf], ValueError),
        ([0.1, -0.2], ValueError),
    ],
    "boundaries": [
        (3, TypeError),
        ("3", TypeError),
        (None, TypeError),
        ([True], TypeError),
        (["3"], TypeError),
        ([2.5], ValueError),
        ([math.nan], ValueError),
        ([0], ValueError),
        ([-3], ValueError),
        ([3, 4], ValueError),
        ([], ValueError),
    ],
}


def _expected_name(argument, kind, bad):
    """The argument the message must name (`schedules[i]` for an entry)."""
    if kind == "children" and isinstance(bad, list) and bad:
        return f"{argument}[{len(bad) - 1}]"
    return argument


# Bad input that the kinds above do not make: values bad only beside the
# other arguments, a join of one schedule, `from_config`, and the arguments
# of `schedule_values`. (label, callable, valid kwargs, argument, bad value,
# error[, what the message names when not the argument itself])
_WARMUP_TO_10 = dict(learning_rate=1.0, warmup_steps=1, total_steps=10)
_WARMUP_CONFIG = dict(schedule=0.1, warmup_steps=2)
_JOINED_CONFIG = dict(schedules=[0.1, 0.2], boundaries=[2])
_VALUES_OF = dict(schedule=S.linear_with_warmup(1e-3, 1, 10), steps=3)
EXTRA_BAD_INPUT = [
    # warmup_steps > total_steps (LinearWithWarmup's is in RULE_MESSAGES).
    *[
        (fn.__name__, fn, _WARMUP_TO_10, "warmup_steps", bad)
        for fn, bad in [
            (S.CosineWithWarmup, 11),
            (S.CosineWithHardRestarts, 12),
            (S.PolynomialWithWarmup, 11),
            (S.WarmupStableDecay, 11),
        ]
    ],
    # A function of the step is not a schedule; a NumPy NaN is no rate.
    ("Warmup", S.Warmup, _WARMUP_CONFIG, "schedule", lambda k: 0.1, TypeError),
    (
        "Warmup",
        S.Warmup,
        _WARMUP_CONFIG,
        "initial_learning_rate",
        np.float32("nan"),
    ),
    # The only schedule of a join is `schedules[0]`.
    *[
        (
            "JoinedSchedule",
            S.JoinedSchedule,
            dict(schedules=[0.1], boundaries=[]),
            "schedules",
            [bad],
            error,
            "schedules[0]",
        )
        for bad, error in [
            (math.nan, ValueError),
            (math.inf, ValueError),
            (-1e-3, ValueError),
            (True, TypeError),
        ]
    ],
    # A config is checked as the arguments are.
    (
        "Warmup.from_config",
        S.Warmup.from_config,
        dict(config=_WARMUP_CONFIG),
        "config",
        {**_WARMUP_CONFIG, "schedule": -1.0},
        ValueError,
        "schedule",
    ),
    (
        "JoinedSchedule.from_config",
        S.JoinedSchedule.from_config,
        dict(config=_JOINED_CONFIG),
        "config",
        {**_JOINED_CONFIG, "schedules": [0.1, math.nan]},
        ValueError,
        "schedules[1]",
    ),
    # schedule_values(schedule, steps).
    *[
        ("schedule_values", S.schedule_values, _VALUES_OF, argument, bad, error)
        for argument, bad, error in [
            ("steps", [-1, 2], ValueError),
            ("steps", [3, -5], ValueError),
            ("steps", np.array([0, -1]), ValueError),
            ("steps", range(-2, 2), ValueError),
            ("steps", -3, ValueError),
            ("steps", [1.5], ValueError),
            ("steps", [math.nan], ValueError),
            ("steps", [math.inf], ValueError),
            ("steps", np.array([0.5]), ValueError),
            ("steps", 2.5, ValueError),
            ("steps", [[1, 2]], ValueError),
            ("steps", "abc", TypeError),
            ("steps", [1, "a"], TypeError),
            ("steps", [True, 2], TypeError),
            ("steps", np.array([True]), TypeError),
            ("steps", True, TypeError),
            ("steps", None, TypeError),
            ("steps", [None], TypeError),
            ("steps", 1 + 2j, TypeError),
            ("schedule", math.nan, ValueError),
            ("schedule", -0.5, ValueError),
            ("schedule", "0.1", TypeError),
            ("schedule", False, TypeError),
        ]
    ],
    # Steps are checked for a constant schedule too.
    (
        "schedule_values",
        S.schedule_values,
        dict(schedule=0.5, steps=3),
        "steps",
        [-1],
    ),
]


def _row(label, fn, kwargs, argument, bad, error=ValueError, named=None):
    shown = bad.__name__ if callable(bad) else repr(bad)
    return pytest.param(
        fn,
        kwargs,
        argument,
        bad,
        error,
        named or argument,
        id=f"{label}-{argument}={shown}",
    )


BAD_INPUT_TABLE = [
    _row(
        label,
        fn,
        kwargs,
        argument,
        bad,
        error,
        _expected_name(argument, kind, bad),
    )
    for label, fn, kwargs, kinds in CONSTRUCTORS
    for argument, kind in kinds.items()
    for bad, error in BAD_BY_KIND[kind.rstrip("?")]
    if not (kind.endswith("?") and bad is None)  # "?": None is valid.
] + [_row(*row) for row in EXTRA_BAD_INPUT]

# The wording of the schedules' own rules, one call each: a row checks only
# that the message names the argument (the wording of the shared checks is
# in test_validation.py). The rules between two arguments are here only, but
# for warmup_steps > total_steps of the other warmup schedules (rows above).
RULE_MESSAGES = [
    pytest.param(
        lambda: S.linear_with_warmup(1.0, 20, 10),
        "`warmup_steps` must be <= `total_steps`",
        id="warmup_within_total",
    ),
    pytest.param(  # Its message echoes warmup_steps first: no row.
        lambda: S.warmup_stable_decay(1.0, 5, 10, decay_steps=6),
        r"`warmup_steps` \+ `decay_steps` must be <= `total_steps`",
        id="warmup_and_decay_within_total",
    ),
    pytest.param(
        lambda: S.polynomial_with_warmup(1.0, 0, 10, end_learning_rate=2.0),
        "`end_learning_rate` must be < `learning_rate`",
        id="end_rate_below_rate",
    ),
    pytest.param(
        lambda: S.CyclicalLearningRate(1.0, 0.1, 4),
        "`max_learning_rate` must be >= `base_learning_rate`",
        id="max_rate_above_base",
    ),
    pytest.param(
        lambda: S.OneCycle(1.0, 100, pct_start=0.6, three_phase=True),
        "`pct_start`.*three_phase",
        id="pct_start_three_phase",
    ),
    pytest.param(
        lambda: S.OneCycle(1.0, 100, pct_start=1.5),
        r"`pct_start` must be in \(0, 1",
        id="pct_start_range",
    ),
    pytest.param(
        lambda: S.linear_with_warmup(1.0, 0, 0),
        "`total_steps` must be > 0",
        id="steps_positive",
    ),
    pytest.param(
        lambda: S.exponential_with_warmup(1.0, 0, 1.5),
        "`gamma` must be <= 1",
        id="factor_at_most_one",
    ),
]


class TestBadInputTable:
    # Constructors and schedule_values touch no Keras state: skip the
    # per-test Keras reset of the shared conftest (slow on JAX) for these
    # many small cases.
    @pytest.fixture(autouse=True)
    def _reset_keras_state(self):
        yield

    @pytest.mark.parametrize(
        "fn, kwargs, argument, bad, error, named", BAD_INPUT_TABLE
    )
    def test_rejects(self, fn, kwargs, argument, bad, error, named):
        fn(**kwargs)  # The valid arguments are accepted...
        with pytest.raises(error, match=f"`{re.escape(named)}`") as info:
            fn(**{**kwargs, argument: bad})  # ...and this one is not.
        assert type(info.value) is error
        assert f"Received: {named}=" in str(info.value)

    def test_table_covers_every_public_schedule(self):
        covered = {fn for _, fn, _, _ in CONSTRUCTORS}
        public = {
            getattr(S, name)
            for name in S.__all__
            if name not in ("schedule_values", "plot_schedule")
        }
        assert public == covered

    @pytest.mark.parametrize("call, rule", RULE_MESSAGES)
    def test_rule_wording(self, call, rule):
        with pytest.raises(ValueError, match=rule):
            call()


def test_builtin_mode_ignores_scale_mode_with_warning():
    with pytest.warns(UserWarning, match="scale_mode"):
        s = S.CyclicalLearningRate(
            0.0, 1.0, 2, mode="triangular2", scale_mode="iterations"
        )
    assert value(s, 6) == pytest.approx(0.5)  # Still per cycle, like torch.


# ---------------------------------------------------------------------------
# schedule_values and plot_schedule.
# ---------------------------------------------------------------------------


def test_schedule_values_int_and_iterable():
    s = S.linear_with_warmup(10.0, 2, 10)
    np.testing.assert_allclose(
        S.schedule_values(s, 5), [0.0, 5.0, 10.0, 8.75, 7.5]
    )
    np.testing.assert_allclose(
        S.schedule_values(s, [3, 0, BIG]), [8.75, 0.0, 0.0]
    )
    np.testing.assert_allclose(S.schedule_values(s, range(2, 4)), [10.0, 8.75])
    assert S.schedule_values(s, 0).shape == (0,)
    np.testing.assert_allclose(S.schedule_values(0.25, 3), [0.25] * 3)
    with pytest.raises(ValueError, match="`steps`"):
        S.schedule_values(s, [[1, 2]])


def test_schedule_values_falls_back_for_scalar_only_schedules():
    # Keras's CosineDecay with warmup branches with ops.cond on the step.
    keras_cosine = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=8, warmup_target=1.0, warmup_steps=4
    )
    got = S.schedule_values(keras_cosine, 8)
    expected = [value(keras_cosine, k) for k in range(8)]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.fixture
def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_plot_schedule_lines(pyplot):
    a = S.linear_with_warmup(1.0, 10, 100)
    b = S.OneCycle(1.0, 100)
    ax = S.plot_schedule({"linear": a, "one-cycle": b}, 100)
    lines = ax.get_lines()
    assert len(lines) == 2
    assert [line.get_label() for line in lines] == ["linear", "one-cycle"]
    np.testing.assert_allclose(lines[1].get_ydata(), S.schedule_values(b, 100))
    np.testing.assert_array_equal(lines[1].get_xdata(), np.arange(100))

    plot_schedule = S.plot_schedule
    _, ax2 = pyplot.subplots()
    assert plot_schedule([a, b, 0.5], range(0, 100, 10), ax=ax2) is ax2
    assert len(ax2.get_lines()) == 3
    assert len(plot_schedule(a, 20).get_lines()) == 1


def test_plot_schedule_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install keras-lrx\[plot\]"):
        S.plot_schedule(S.linear_with_warmup(1.0, 1, 10), 10)


def test_public_names():
    for name in S.__all__:
        assert hasattr(S, name), name
        assert getattr(S, name).__doc__, name
