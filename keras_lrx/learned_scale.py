"""A learned global scale for LRX: Mechanic (Cutkosky, Defazio, Mehta 2023).

`LRX(optimizer, scale=Mechanic())` trains each variable at
`schedule(t) * s * multiplier(v)`: the schedule gives the shape (warmup,
decay) and the nominal peak, the multipliers the ratios between groups, and
`s` is learned while training. This module holds the estimator: its
configuration and the rule that turns one step's inner product into the new
scale. The engine (`keras_lrx._engine.learned_scale`) forms the inner
product from the step's gradient and the update LRX already made.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from keras_lrx import _validation


@keras.saving.register_keras_serializable(package="keras_lrx")
class Mechanic:
    """Learns the scale of LRX's updates while training (Mechanic).

    The update `u_t` LRX forms at the nominal rate (the wrapped optimizer at
    `schedule(t) * multiplier(v)`) is not applied as it is: the weights are

        x_{t+1} = x_0 + s_{t+1} * sum_{k <= t} u_k

    where `x_0` are the weights at the first step and `s` is learned by
    Mechanic's rule (one online learner per `beta` in
    `1 - 10**-1, ..., 1 - 10**-num_betas`, their scales summed). With the
    offset `Delta_t = (x_t - x_0) / s_t`, the gradient `g_t` and
    `lambda = weight_decay`, one step is

        h   = < g_t + lambda * s_t * |g_t| / |x_t| * x_t , -Delta_t >
        m_i = max(beta_i * m_i, |h| + eps)
        v_i = beta_i**2 * v_i + h**2
        r_i = beta_i * r_i + clip(h, -m_i', m_i') * s_i   (m_i' before)
        s_i = (s_init / n * m_i + max(r_i, 0)) / (sqrt(v_i) + eps)
        x_{t+1} = x_0 + (sum_i s_i) * (Delta_t + u_t)

    as `optax.contrib.mechanize` (optax 0.2.8) does; `mechanic_pytorch`
    differs in the start (`s_init=1e-8`, `m` from 1e-6) and clips `r` at 0
    instead of `h`. Because the whole update is scaled, the ratios the
    multipliers set hold. Variables that do not train at a step (a
    multiplier of 0, for good or for now) take no part: no reference copy
    for a frozen one, nothing in the norms or the inner product, no move.

    The state -- `s`, `m`, `v`, `r` (`num_betas` floats each) and one
    reference copy `x_0` per training variable -- lives in the LRX's
    variables, so `model.save`, `BackupAndRestore`, JAX's stateless step and
    distribution carry it. The memory is one extra copy of the trained
    weights (as an EMA would add).

    Args:
        weight_decay: Float >= 0, Mechanic's own decay term in the inner
            product (`lambda`; not the wrapped optimizer's weight decay).
            Defaults to 0.01.
        eps: Float > 0. Defaults to 1e-8.
        s_init: Float > 0, the scale the learners start from (their sum
            starts at `s_init`). Defaults to 1e-6.
        num_betas: Int in [1, 7], how many learners (`beta_i = 1 -
            10**-i`). Defaults to 6.

    Example:

    >>> import numpy as np
    >>> from keras_lrx import LRX
    >>> from keras_lrx.experimental import Mechanic
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> opt = LRX(keras.optimizers.Adam(), schedule=1.0, scale=Mechanic())
    >>> model.compile(opt, "mse")
    >>> _ = model.fit(np.ones((32, 4)), np.ones((32, 1)), epochs=2,
    ...               batch_size=8, verbose=0)
    >>> 0.0 < opt.scale_value() < 1.0   # learned from 1e-6
    True
    """

    def __init__(
        self,
        weight_decay: float = 0.01,
        eps: float = 1e-8,
        s_init: float = 1e-6,
        num_betas: int = 6,
    ) -> None:
        weight_decay = _validation.check_float("weight_decay", weight_decay, 0)
        eps = _validation.check_float("eps", eps, 0, low_open=True)
        s_init = _validation.check_float("s_init", s_init, 0, low_open=True)
        # beta_8 = 1 - 1e-8 is 1.0 in float32 (the state's dtype).
        num_betas = _validation.check_count("num_betas", num_betas, low=1)
        if num_betas > 7:
            raise ValueError(
                "Argument `num_betas` must be <= 7 (beta = 1 - 10**-8 is 1.0 "
                f"in float32). Received: num_betas={num_betas!r}"
            )
        self.weight_decay = weight_decay
        self.eps = eps
        self.s_init = s_init
        self.num_betas = num_betas

    # The rule, on the state `(s, m, v, r)` (float32 vectors of num_betas).
    def betas(self) -> Any:
        """The learners' betas, `1 - 10**-i` for i in 1..num_betas."""
        return ops.convert_to_tensor(
            [1.0 - 0.1**i for i in range(1, self.num_betas + 1)], "float32"
        )

    def initial_state(self) -> dict[str, float]:
        """Dict name -> the value every entry of that state vector starts
        at (each vector has `num_betas` entries)."""
        return {"s": self.s_init / self.num_betas, "m": 0.0, "v": 0.0, "r": 0.0}

    def update(self, state: dict[str, Any], h: Any) -> dict[str, Any]:
        """The new state after a step whose inner product is `h`."""
        betas = self.betas()
        s, m, v, r = state["s"], state["m"], state["v"], state["r"]
        clipped = ops.minimum(ops.maximum(h, ops.negative(m)), m)
        m = ops.maximum(betas * m, ops.abs(h) + self.eps)
        v = betas * betas * v + h * h
        r = betas * r + clipped * s
        wealth = (self.s_init / self.num_betas) * m + ops.maximum(r, 0.0)
        s = wealth / (ops.sqrt(v) + self.eps)
        return {"s": s, "m": m, "v": v, "r": r}

    # Serialization.
    def get_config(self) -> dict[str, Any]:
        return {
            "weight_decay": self.weight_decay,
            "eps": self.eps,
            "s_init": self.s_init,
            "num_betas": self.num_betas,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Mechanic:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"Mechanic({args})"


def check_scale(scale):
    """LRX's `scale` argument: None or a `Mechanic` (a dict config or the
    name "mechanic" deserializes)."""
    if scale is None or isinstance(scale, Mechanic):
        return scale
    if isinstance(scale, str) and scale.lower() == "mechanic":
        return Mechanic()
    if isinstance(scale, dict):
        scale = keras.saving.deserialize_keras_object(scale)
        if isinstance(scale, Mechanic):
            return scale
    raise TypeError(
        "Argument `scale` must be None or a learned-scale estimator "
        "(`keras_lrx.experimental.Mechanic()`). "
        f"Received: scale={scale!r} (of type {type(scale).__name__})"
    )
