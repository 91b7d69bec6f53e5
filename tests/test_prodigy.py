"""`keras_lrx.experimental.Prodigy` and `DAdaptAdam` against their references.

The problem: a 6-4-1 tanh MLP regression on fixed data, four batches of 8
in turn, 100 steps, float32. Each reference trains on its own, the MLP's
gradient computed by hand (NumPy) at its weights every step; the Keras
optimizer is then fed that gradient sequence and must reach the same
weights and `d` at every step. Feeding the gradients, not letting two
implementations run free, is deliberate: without bias correction Prodigy's
first steps are several times `d`, and on this MLP a 1-ulp change of one
initial weight moves prodigyopt's own weights by 4e-4 within 100 steps
(measured), so free runs would compare float32 chaos, not update rules.

References (never the code under test):

* prodigyopt 1.1.2's `Prodigy` and dadaptation 3.2's `DAdaptAdam` on torch
  (the torch backend; `decouple=True`, `lr=1`);
* optax 0.2.8's `optax.contrib.prodigy` on JAX, in the one configuration
  where it agrees with prodigyopt: optax always applies Adam's bias
  correction and keeps `d = max(d, d_hat)` (no `d0` rule, `d_max` or
  `growth_rate`), which is prodigyopt with `use_bias_correction=True` and
  `growth_rate=inf`; it does not skip a step without gradients. We follow
  prodigyopt;
* a NumPy reference written here for per-variable multipliers:
  prodigyopt's rule with D-Adaptation's `layer_scale` weighting (`r` on the
  first moment, the numerator and the L1 sum), itself checked against
  prodigyopt at scale 1;
* on TensorFlow and JAX (no torch in those processes), the prodigyopt and
  dadaptation runs stored in `tests/fixtures/prodigy_references.npz`
  (gradients, weights and `d` per step). Regenerate it (needs torch,
  prodigyopt and dadaptation; a JAX process, as the fixture's readers) with

      KERAS_BACKEND=jax python tests/test_prodigy.py

  and the torch run checks that the file still equals a live run.

Tolerances: `rtol=1e-5` on `d` and `rtol=1e-5, atol=2e-5` on the weights
(of order 0.1-1.5; elements near 0 need the absolute part). Keras trains in
float32 and the references sum in float64 (`.item()`) or in another order:
measured, that stays below 6e-6 on the weights and 5e-6 on `d`. Prodigy
adds one deviation by design: a Keras step moves each variable with the
`d` of the step's start, where prodigyopt uses the step's new `d` in the
`d * epsilon` of the denominator (see `Prodigy`); in the default
configuration that adds up to 1.3e-5 on the weights over 100 steps
(measured against prodigyopt; against the step-start reading Keras agrees
to float32 noise, `test_prodigy_reads_d_epsilon_at_the_step_start`), and
under a cosine schedule 1.6e-4: that comparison takes `epsilon` out of
the way (`COSINE_CASE`).
"""

import contextlib
import io
import math
import os
import pathlib

import keras
import numpy as np
import pytest
from conftest import BACKEND
from conftest import assert_round_trip
from conftest import to_np

import keras_lrx
from keras_lrx import LRX
from keras_lrx.experimental import DAdaptAdam
from keras_lrx.experimental import Prodigy
from keras_lrx.schedules import Thaw

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "prodigy_references.npz"
STEPS = 100
BATCH = 8
HIDDEN = 4
RTOL, ATOL, NOISE = 1e-5, 2e-5, 5e-6

#: Prodigy configurations checked against prodigyopt.
PRODIGY_CASES = {
    "default": {},
    "decay_bias_correction": {"weight_decay": 0.1, "use_bias_correction": True},
    "growth_safeguard": {
        "growth_rate": 1.5,
        "safeguard_warmup": True,
        "d_coef": 0.5,
        "beta_3": 0.95,
        "d0": 1e-4,
    },
}
#: Prodigy under a cosine schedule: `epsilon` (its `d * epsilon` read at
#: the step's start here, at its end in prodigyopt) out of the way, so that
#: the check is on how the rate enters `dlr`. Here the epsilon reading
#: alone would move the weights by 1.6e-4 (measured; the default
#: configuration, 1.3e-5: `test_prodigy_reads_d_epsilon_at_the_step_start`).
COSINE_CASE = {"epsilon": 1e-20}
#: DAdaptAdam configurations checked against dadaptation.
DADAPT_CASES = {
    "default": {},
    "decay_bias_correction": {"weight_decay": 0.1, "use_bias_correction": True},
    "growth": {"growth_rate": 1.5, "d0": 1e-4},
}
#: dadaptation's `layer_scale` per layer, LRX's multipliers.
SCALES = {"body": 0.1, "head": 1.0}


# --------------------------------------------------------------------------
# The problem: a 6-4-1 tanh MLP, fixed data, 4 batches of 8 in turn. Its
# gradient is computed by hand (NumPy) at the reference's weights each step
# and fed to both the reference and the Keras optimizer.
# --------------------------------------------------------------------------
def _problem():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(32, 6)).astype("float32")
    y = np.tanh(x @ rng.normal(size=(6, 1))).astype("float32")
    weights = [
        rng.normal(scale=0.5, size=(6, HIDDEN)).astype("float32"),
        rng.normal(scale=0.1, size=(HIDDEN,)).astype("float32"),
        rng.normal(scale=0.5, size=(HIDDEN, 1)).astype("float32"),
        rng.normal(scale=0.1, size=(1,)).astype("float32"),
    ]
    return x, y, weights


def _gradients(weights, k):
    """The MLP's mean-squared-error gradient on batch `k`, by hand (in
    float64, returned as float32)."""
    x, y, _ = _problem()
    i = (k % (len(x) // BATCH)) * BATCH
    xb, yb = x[i : i + BATCH].astype("float64"), y[i : i + BATCH]
    w1, b1, w2, b2 = (np.asarray(w, "float64") for w in weights)
    h = np.tanh(xb @ w1 + b1)
    dy = 2.0 * (h @ w2 + b2 - yb) / yb.size
    dh = (dy @ w2.T) * (1.0 - h * h)
    grads = [xb.T @ dh, dh.sum(0), h.T @ dy, dy.sum(0)]
    return [g.astype("float32") for g in grads]


def _model(weights):
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(HIDDEN, activation="tanh", name="body"),
            keras.layers.Dense(1, name="head"),
        ]
    )
    model.set_weights(weights)
    return model


def _keras_run(optimizer, grads):
    """Applies the gradient sequence `grads` with `optimizer` (compiled
    with `tf.function` on TensorFlow): (weights per step, d per step)."""
    model = _model(_problem()[2])
    variables = model.trainable_variables
    inner = getattr(optimizer, "optimizer", optimizer)
    optimizer.build(variables)

    def step(g):
        optimizer.apply(g, variables)

    if BACKEND == "tensorflow":
        import tensorflow as tf

        step = tf.function(step)
    out_weights, out_d = [], []
    for g in grads:
        step([keras.ops.convert_to_tensor(a) for a in g])
        out_weights.append([to_np(v.value).copy() for v in variables])
        out_d.append(float(to_np(inner.d)))
    return out_weights, np.array(out_d)


def _assert_runs_equal(ours, theirs, rtol=RTOL, atol=ATOL):
    (weights, d), (ref_weights, ref_d) = ours, theirs
    assert len(weights) == len(ref_weights) == STEPS
    for k, (a_step, b_step) in enumerate(zip(weights, ref_weights)):
        for a, b in zip(a_step, b_step):
            np.testing.assert_allclose(
                a, b, rtol=rtol, atol=atol, err_msg=f"step {k}"
            )
    np.testing.assert_allclose(d, ref_d, rtol=rtol)
    assert ref_d[-1] > 100 * ref_d[0]  # d did adapt: the check is not vacuous


# --------------------------------------------------------------------------
# References. Each returns (gradients, weights, d), one entry per step.
# --------------------------------------------------------------------------
def _prodigyopt_arguments(config):
    config = dict(config)
    for ours, theirs in (("beta_3", "beta3"), ("epsilon", "eps")):
        if ours in config:
            config[theirs] = config.pop(ours)
    return {"lr": 1.0, **config}  # the other names are the same


def _torch_run(make_optimizer, scales=None, lr_at=None):
    """A torch optimizer on the MLP's weights (Keras layout), fed the
    gradient by hand at its own weights each step."""
    import torch

    params = [torch.tensor(w) for w in _problem()[2]]
    if scales is None:
        groups = params
    else:  # body's kernel and bias, head's kernel and bias
        groups = [
            {"params": params[:2], "layer_scale": scales["body"]},
            {"params": params[2:], "layer_scale": scales["head"]},
        ]
    with contextlib.redirect_stdout(io.StringIO()):  # "Using decoupled ..."
        optimizer = make_optimizer(groups)
    grads, weights, d = [], [], []
    for k in range(STEPS):
        if lr_at is not None:  # as a torch LR scheduler sets it
            for group in optimizer.param_groups:
                group["lr"] = lr_at(k)
        g = _gradients([p.numpy() for p in params], k)
        for p, gp in zip(params, g):
            p.grad = torch.tensor(gp)
        optimizer.step()
        grads.append(g)
        weights.append([p.numpy().copy() for p in params])
        d.append(float(optimizer.param_groups[0]["d"]))
    return grads, weights, np.array(d)


def _prodigyopt_run(config, lr_at=None):
    import prodigyopt

    return _torch_run(
        lambda params: prodigyopt.Prodigy(
            params, **_prodigyopt_arguments(config)
        ),
        lr_at=lr_at,
    )


def _cosine(k):
    """`CosineDecay(1.0, STEPS, alpha=0.1)` at step `k`, in float64."""
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * k / STEPS))


def _dadaptation_run(config, scales=None):
    import dadaptation

    return _torch_run(
        lambda params: dadaptation.DAdaptAdam(
            params, lr=1.0, decouple=True, **config
        ),
        scales,
    )


def _optax_run(config):
    """`optax.contrib.prodigy`, fed the gradient at its own weights."""
    import jax
    import jax.numpy as jnp
    import optax

    optimizer = optax.contrib.prodigy(
        learning_rate=1.0, weight_decay=config.get("weight_decay", 0.0)
    )
    params = [jnp.asarray(w) for w in _problem()[2]]
    state = optimizer.init(params)
    update = jax.jit(optimizer.update)
    grads, weights, d = [], [], []
    for k in range(STEPS):
        g = _gradients([np.asarray(p) for p in params], k)
        updates, state = update([jnp.asarray(a) for a in g], state, params)
        params = optax.apply_updates(params, updates)
        grads.append(g)
        weights.append([np.asarray(p) for p in params])
        d.append(float(state.estim_lr))
    return grads, weights, np.array(d)


def _numpy_prodigy(scale, weight_decay=0.0, eps_d="new", grads=None):
    """prodigyopt's rule (its defaults otherwise) with D-Adaptation's
    `layer_scale` `r = scale(k, i)` for weight `i` at step `k` (0: the
    weight takes no part in the step), written like prodigyopt: float32
    weights and slots, float64 scalars. `eps_d`: the `d` of `d * epsilon`,
    the step's `"new"` one (prodigyopt) or its `"start"` (keras_lrx).
    `grads`: a gradient sequence to follow instead of the MLP's gradient at
    the weights reached."""
    beta_1, beta_2, epsilon, d0 = 0.9, 0.999, 1e-8, 1e-6
    decays_each = isinstance(weight_decay, list)  # one per weight
    beta_3 = math.sqrt(beta_2)
    w = [a.copy() for a in _problem()[2]]
    m, v, s = ([np.zeros_like(a) for a in w] for _ in range(3))
    p0 = [None] * len(w)
    d, d_max, numerator = d0, d0, 0.0
    seen, weights, ds = [], [], []
    for k in range(STEPS):
        g = _gradients(w, k) if grads is None else grads[k]
        dlr = d
        numerator *= beta_3
        step_numerator, denominator = 0.0, 0.0
        rs = [scale(k, i) for i in range(len(w))]
        for i, r in enumerate(rs):
            if r == 0:
                continue
            if p0[i] is None:
                p0[i] = w[i].copy()
            step_numerator += (
                r
                * (d / d0)
                * dlr
                * float(np.dot(g[i].ravel(), (p0[i] - w[i]).ravel()))
            )
            m[i] = m[i] * beta_1 + g[i] * np.float32(r * d * (1 - beta_1))
            v[i] = v[i] * beta_2 + g[i] * g[i] * np.float32(
                d * d * (1 - beta_2)
            )
            s[i] = s[i] * beta_3 + g[i] * np.float32((d / d0) * dlr)
            denominator += r * float(np.abs(s[i]).sum())
        d_start = d
        if denominator > 0:
            numerator += step_numerator
            d_hat = numerator / denominator
            if d == d0:
                d = max(d, d_hat)
            d_max = max(d_max, d_hat)
            d = d_max  # growth_rate = inf
        eps_term = np.float32((d if eps_d == "new" else d_start) * epsilon)
        for i, r in enumerate(rs):
            if r == 0:
                continue
            decay = weight_decay[i] if decays_each else weight_decay
            w[i] = w[i] + w[i] * np.float32(-decay * dlr * r)
            w[i] = w[i] + np.float32(-dlr) * (m[i] / (np.sqrt(v[i]) + eps_term))
        seen.append(g)
        weights.append([a.copy() for a in w])
        ds.append(d)
    return seen, weights, np.array(ds)


# --------------------------------------------------------------------------
# Fixtures for TensorFlow: prodigyopt's and dadaptation's runs.
# --------------------------------------------------------------------------
def _live_reference(key):
    family, case = key.split("/")
    if key == "prodigy/cosine":
        return _prodigyopt_run(COSINE_CASE, lr_at=_cosine)
    if family == "prodigy":
        return _prodigyopt_run(PRODIGY_CASES[case])
    if case == "scaled":
        return _dadaptation_run({}, SCALES)
    return _dadaptation_run(DADAPT_CASES[case])


REFERENCE_KEYS = [f"prodigy/{case}" for case in [*PRODIGY_CASES, "cosine"]] + [
    f"dadapt/{case}" for case in [*DADAPT_CASES, "scaled"]
]


def _as_arrays(runs):
    arrays = {}
    for key, (grads, weights, d) in runs.items():
        for j in range(4):
            arrays[f"{key}/g{j}"] = np.stack([g[j] for g in grads])
            arrays[f"{key}/w{j}"] = np.stack([w[j] for w in weights])
        arrays[f"{key}/d"] = np.asarray(d, "float32")
    return arrays


def _from_fixture(key):
    with np.load(FIXTURE) as data:
        g = [data[f"{key}/g{j}"] for j in range(4)]
        w = [data[f"{key}/w{j}"] for j in range(4)]
        d = data[f"{key}/d"].astype("float64")
    per_step = lambda arrays: [[a[k] for a in arrays] for k in range(STEPS)]  # noqa: E731
    return per_step(g), per_step(w), d


def _reference(key):
    """A torch reference run: live on torch, from the fixture elsewhere
    (TensorFlow and JAX processes do not import torch)."""
    return _live_reference(key) if BACKEND == "torch" else _from_fixture(key)


def _check(optimizer, reference, **tolerances):
    grads, weights, d = reference
    _assert_runs_equal(_keras_run(optimizer, grads), (weights, d), **tolerances)


# --------------------------------------------------------------------------
# (a), (d): Prodigy and LRX(Prodigy) against prodigyopt.
# --------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(PRODIGY_CASES))
def test_prodigy_follows_prodigyopt(case):
    _check(Prodigy(**PRODIGY_CASES[case]), _reference(f"prodigy/{case}"))


def test_lrx_prodigy_with_multipliers_of_one_follows_prodigyopt():
    config = PRODIGY_CASES["decay_bias_correction"]
    optimizer = LRX(Prodigy(**config), multipliers={"body": 1.0})
    _check(optimizer, _reference("prodigy/decay_bias_correction"))


def _cosine_decay():
    return keras.optimizers.schedules.CosineDecay(1.0, STEPS, alpha=0.1)


@pytest.mark.parametrize("where", ["prodigy", "lrx"])
def test_a_learning_rate_schedule_scales_dlr_as_prodigyopt_lr(where):
    # prodigyopt's lr set each step (as a torch scheduler does) against
    # Prodigy's own schedule, or LRX's schedule as the global rate.
    if where == "prodigy":
        optimizer = Prodigy(learning_rate=_cosine_decay(), **COSINE_CASE)
    else:
        optimizer = LRX(Prodigy(**COSINE_CASE), schedule=_cosine_decay())
    _check(optimizer, _reference("prodigy/cosine"))


# --------------------------------------------------------------------------
# (b): against optax on JAX, where optax agrees with prodigyopt.
# --------------------------------------------------------------------------
@pytest.mark.skipif(BACKEND != "jax", reason="optax runs on the JAX backend")
def test_prodigy_follows_optax_where_optax_agrees_with_prodigyopt():
    # optax computes `1 - beta_2^k` of its bias correction in float32
    # (1.3e-5 off at k = 1: 0.999 is not a float32), which moves its `d`
    # from prodigyopt's by up to 3e-5 relative on this run (measured): the
    # tolerance here is that, with a margin. With weight decay, optax
    # rounds `x - wd * dlr * x - step` once where prodigyopt rounds twice,
    # and the first steps' `x0 - x` (a few ulps) make the two `d`s differ
    # by 0.6%: not compared.
    config = {"use_bias_correction": True}
    _check(LRX(Prodigy(**config)), _optax_run(config), rtol=5e-5, atol=1e-4)


# --------------------------------------------------------------------------
# (c): multipliers as D-Adaptation's layer_scale.
# --------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(DADAPT_CASES))
def test_dadapt_adam_follows_dadaptation(case):
    _check(DAdaptAdam(**DADAPT_CASES[case]), _reference(f"dadapt/{case}"))


def test_lrx_multipliers_are_dadaptation_layer_scales():
    optimizer = LRX(DAdaptAdam(), multipliers={"body": SCALES["body"]})
    _check(optimizer, _reference("dadapt/scaled"))


def _by_layer(body):
    """`layer_scale(k, i)`: `body(k)` for body's kernel and bias, 1 for
    head's."""
    return lambda k, i: body(k) if i < 2 else 1.0


@pytest.mark.parametrize("decay", [0.0, 0.1])
def test_lrx_prodigy_multipliers_follow_the_layer_scale_reference(decay):
    optimizer = LRX(Prodigy(weight_decay=decay), multipliers={"body": 0.1})
    reference = _numpy_prodigy(_by_layer(lambda k: 0.1), weight_decay=decay)
    _check(optimizer, reference)


def test_the_layer_scale_reference_is_prodigyopt_at_scale_one():
    # The NumPy reference above is checked where prodigyopt can check it,
    # on prodigyopt's gradients.
    if BACKEND != "torch":
        pytest.skip("prodigyopt runs on the torch backend")
    grads, weights, d = _prodigyopt_run({"weight_decay": 0.1})
    ours = _numpy_prodigy(_by_layer(lambda k: 1.0), 0.1, grads=grads)
    _assert_runs_equal(ours[1:], (weights, d), rtol=1e-6, atol=1e-6)


def test_a_frozen_group_takes_no_part_in_the_estimate():
    optimizer = LRX(Prodigy(), multipliers={"body": 0.0})
    _check(optimizer, _numpy_prodigy(_by_layer(lambda k: 0.0)))
    # Built on head's two weights only: no slot for body's.
    assert len(optimizer.optimizer.variables) == 2 + 7 + 4 * 2


def test_a_thawing_group_joins_the_estimate_when_it_thaws():
    optimizer = LRX(Prodigy(), multipliers={"body": Thaw(0.5, start_step=40)})
    reference = _numpy_prodigy(_by_layer(lambda k: 0.0 if k < 40 else 0.5))
    _check(optimizer, reference)


def test_groups_thawing_at_different_steps_share_one_estimate():
    # Nothing trains for 10 steps (no update, no estimate), then head, then
    # body: each group under its own condition, one `d`.
    multipliers = {"head": Thaw(1.0, start_step=10), "body": Thaw(0.3, 30)}
    optimizer = LRX(Prodigy(), multipliers=multipliers)

    def scale(k, i):
        if i < 2:
            return 0.3 if k >= 30 else 0.0
        return 1.0 if k >= 10 else 0.0

    _check(optimizer, _numpy_prodigy(scale))


def test_exclude_from_weight_decay_applies():
    optimizer = Prodigy(weight_decay=0.5)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    reference = _numpy_prodigy(
        _by_layer(lambda k: 1.0), weight_decay=[0.5, 0.0, 0.5, 0.0]
    )
    _check(optimizer, reference)


def test_lrx_weight_decay_multipliers_are_refused():
    # Prodigy decays inside its update step: LRX's per-variable decay
    # factors could not reach it, and would be silently ignored.
    with pytest.raises(ValueError, match="exclude_from_weight_decay"):
        LRX(
            Prodigy(weight_decay=0.1),
            weight_decay_multipliers=keras_lrx.no_decay_on_biases_and_norms,
        )


def test_prodigy_reads_d_epsilon_at_the_step_start():
    # The one deviation from prodigyopt by design (see `Prodigy`): on the
    # same gradients, the two readings of `d * epsilon` differ by less than
    # the comparisons' tolerance, and Keras follows the step-start reading
    # at float32 noise.
    grads, new_weights, new_d = _numpy_prodigy(_by_layer(lambda k: 1.0))
    _, start_weights, start_d = _numpy_prodigy(
        _by_layer(lambda k: 1.0), eps_d="start", grads=grads
    )
    _assert_runs_equal((start_weights, start_d), (new_weights, new_d))
    ours = _keras_run(Prodigy(), grads)
    _assert_runs_equal(ours, (start_weights, start_d), atol=NOISE)


# --------------------------------------------------------------------------
# The estimate: lazily finalised, read without side effects.
# --------------------------------------------------------------------------
def test_reading_d_changes_nothing():
    x, y, weights = _problem()
    model = _model(weights)
    optimizer = Prodigy()
    model.compile(optimizer, "mse")
    model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    state = [to_np(v.value).copy() for v in optimizer.variables]
    first = float(to_np(optimizer.d))
    assert first == float(to_np(optimizer.d)) > 1e-6
    for a, b in zip(state, optimizer.variables):
        np.testing.assert_array_equal(a, to_np(b.value))


def test_d_before_build_is_d0():
    assert float(to_np(Prodigy(d0=1e-5).d)) == pytest.approx(1e-5)


# --------------------------------------------------------------------------
# Saving and resuming.
# --------------------------------------------------------------------------
@pytest.mark.parametrize("wrapped", [False, True])
def test_save_load_mid_run_continues_bit_for_bit(tmp_path, wrapped):
    def optimizer():
        inner = Prodigy(weight_decay=0.05, use_bias_correction=True)
        return LRX(inner, multipliers={"body": 0.3}) if wrapped else inner

    x, y, weights = _problem()
    kwargs = dict(batch_size=8, shuffle=False, verbose=0)
    straight = _model(weights)
    straight.compile(optimizer(), "mse")
    straight.fit(x, y, epochs=4, **kwargs)

    first = _model(weights)
    first.compile(optimizer(), "mse")
    first.fit(x, y, epochs=2, **kwargs)
    path = str(tmp_path / "m.keras")
    first.save(path)
    resumed = keras.saving.load_model(path)
    resumed.fit(x, y, epochs=2, **kwargs)
    for a, b in zip(straight.weights, resumed.weights):
        np.testing.assert_array_equal(to_np(a.value), to_np(b.value))
    for a, b in zip(straight.optimizer.variables, resumed.optimizer.variables):
        np.testing.assert_array_equal(to_np(a.value), to_np(b.value))


@pytest.mark.skipif(BACKEND != "jax", reason="JAX's stateless_apply")
def test_jax_jitted_stateless_apply_follows_apply():
    # Under `jax.jit`, with a thawing group (updated inside `lax.cond`,
    # with the optimizer's variables as the condition's state). XLA fuses
    # the arithmetic differently from eager JAX: equal to float32 noise.
    import jax

    grads = _numpy_prodigy(_by_layer(lambda k: 1.0))[0][:12]

    def made():
        model = _model(_problem()[2])
        multipliers = {"body": Thaw(0.5, start_step=5)}
        optimizer = LRX(Prodigy(weight_decay=0.1), multipliers=multipliers)
        optimizer.build(model.trainable_variables)
        return model.trainable_variables, optimizer

    eager_variables, eager = made()
    jit_variables, jitted = made()
    step = jax.jit(jitted.stateless_apply)
    values = [v.value for v in jit_variables]
    state = [v.value for v in jitted.variables]
    for g in grads:
        eager.apply(g, eager_variables)
        values, state = step(state, g, values)
    for v, w in zip(eager_variables, values):
        np.testing.assert_allclose(to_np(v.value), np.asarray(w), rtol=1e-6)
    for v, w in zip(eager.variables, state):
        np.testing.assert_allclose(to_np(v.value), np.asarray(w), rtol=1e-5)
    assert not np.allclose(to_np(eager_variables[0].value), _problem()[2][0])


# --------------------------------------------------------------------------
# Configuration and arguments.
# --------------------------------------------------------------------------
def test_config_round_trip():
    for optimizer in (
        Prodigy(
            beta_3=0.9,
            weight_decay=0.1,
            use_bias_correction=True,
            safeguard_warmup=True,
            d0=1e-5,
            d_coef=0.5,
            growth_rate=1.02,
            clipnorm=1.0,
        ),
        Prodigy(),  # growth_rate=inf, beta_3=None
        DAdaptAdam(weight_decay=0.1, growth_rate=2.0),
    ):
        _, restored = assert_round_trip(optimizer)
        assert restored.get_config() == optimizer.get_config()
    assert keras_lrx.experimental.Prodigy is Prodigy
    assert "DAdaptAdam" in keras_lrx.experimental.__all__


BAD_ARGUMENTS = [
    ("beta_1", 1.0, ValueError, "must be < 1"),
    ("beta_1", -0.1, ValueError, "must be >= 0"),
    ("beta_2", float("nan"), ValueError, "finite"),
    ("beta_2", "0.9", TypeError, "a number"),
    ("beta_3", 1.5, ValueError, "must be < 1"),
    ("beta_3", [0.9], TypeError, "a number or None"),
    ("epsilon", 0.0, ValueError, "must be > 0"),
    ("epsilon", None, TypeError, "a number"),
    ("weight_decay", -0.1, ValueError, "must be >= 0"),
    ("weight_decay", float("inf"), ValueError, "finite"),
    ("use_bias_correction", 1, TypeError, "a bool"),
    ("safeguard_warmup", "yes", TypeError, "a bool"),
    ("d0", 0.0, ValueError, "must be > 0"),
    ("d0", -1e-6, ValueError, "must be > 0"),
    ("d_coef", float("nan"), ValueError, "finite"),
    ("d_coef", True, TypeError, "a number"),
    ("growth_rate", 0.5, ValueError, "must be >= 1"),
    ("growth_rate", float("nan"), ValueError, "finite"),
    ("growth_rate", "inf", TypeError, "a number"),
    ("learning_rate", -1.0, ValueError, "must be >= 0"),
    ("learning_rate", float("nan"), ValueError, "finite"),
    ("learning_rate", "0.1", TypeError, "a float >= 0"),
]


@pytest.mark.parametrize("name, value, error, rule", BAD_ARGUMENTS)
def test_bad_arguments_raise_keras_errors(name, value, error, rule):
    with pytest.raises(error, match=f"`{name}`.*{rule}.*Received: {name}="):
        Prodigy(**{name: value})
    if name not in ("beta_3", "safeguard_warmup", "d_coef"):
        with pytest.raises(error, match=f"`{name}`"):
            DAdaptAdam(**{name: value})


# --------------------------------------------------------------------------
# Regenerating the fixture.
# --------------------------------------------------------------------------
def test_fixture_equals_a_live_reference_run():
    if BACKEND != "torch":
        pytest.skip("the torch references run on the torch backend")
    live = _as_arrays({key: _live_reference(key) for key in REFERENCE_KEYS})
    with np.load(FIXTURE) as stored:
        assert sorted(stored.files) == sorted(live)
        for key, value in live.items():
            np.testing.assert_allclose(stored[key], value, rtol=1e-6)


if __name__ == "__main__":
    arrays = _as_arrays({key: _live_reference(key) for key in REFERENCE_KEYS})
    os.makedirs(FIXTURE.parent, exist_ok=True)
    np.savez_compressed(FIXTURE, **arrays)
    print(f"wrote {FIXTURE} ({FIXTURE.stat().st_size} bytes)")
