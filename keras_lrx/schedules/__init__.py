"""Learning-rate schedules and their composition.

Every schedule here is a `keras.optimizers.schedules.LearningRateSchedule`:
it is evaluated once per optimizer step with `keras.ops` only (no Python
`if` on tensors, so it runs under `tf.function(jit_compile=True)`, `jax.jit`
and torch alike), returns a float scalar (`keras.config.floatx()`, float32 by
default), accepts the step as an integer tensor or a Python int, and
serializes through `get_config` / `from_config` and inside `model.save`.

Pass a schedule directly as the `learning_rate` of any Keras optimizer:

```python
optimizer = keras.optimizers.AdamW(
    learning_rate=keras_lrx.schedules.CosineWithWarmup(
        1e-3, warmup_steps=500, total_steps=10_000
    )
)
```

Contents:

- The warmup family, with the step conventions of Hugging Face
  transformers' `get_*_schedule_with_warmup` (the value at step `k` is the
  `k`-th value; warmup is counted inside `total_steps`; warmup rises
  linearly from 0): `ConstantWithWarmup`, `LinearWithWarmup`,
  `CosineWithWarmup`, `CosineWithHardRestarts`, `PolynomialWithWarmup`,
  `InverseSqrt`, `StepWithWarmup`, `ExponentialWithWarmup` and
  `WarmupStableDecay`.
- Composition: `Warmup` (put a linear warmup in front of any schedule) and
  `JoinedSchedule` (run schedules one after another, as
  `optax.join_schedules`).
- Cyclical schedules: `CyclicalLearningRate` (same values as PyTorch's
  `CyclicLR`), `DecayingCyclicalLearningRate` and `OneCycle` (same values as
  PyTorch's `OneCycleLR`, with the cycled momentum).
- Multiplier shapes for `keras_lrx.LRX(multipliers=...)`: `Thaw` (frozen
  until a step, then a warmup to the group's multiplier).
- Looking at them: `schedule_values` and `plot_schedule`.

Each schedule is one class. The Hugging Face-style snake_case names
(`constant_with_warmup`, `linear_with_warmup`, `cosine_with_warmup`,
`cosine_with_hard_restarts`, `polynomial_with_warmup`, `inverse_sqrt`,
`step_with_warmup`, `exponential_with_warmup`, `warmup_stable_decay`) and
optax's `join_schedules` are aliases of those classes, not separate
factories: `cosine_with_warmup is CosineWithWarmup`.
"""

from keras_lrx.schedules.composition import JoinedSchedule
from keras_lrx.schedules.composition import Warmup
from keras_lrx.schedules.composition import join_schedules
from keras_lrx.schedules.cyclical import CyclicalLearningRate
from keras_lrx.schedules.cyclical import DecayingCyclicalLearningRate
from keras_lrx.schedules.cyclical import OneCycle
from keras_lrx.schedules.thaw import Thaw
from keras_lrx.schedules.values import plot_schedule
from keras_lrx.schedules.values import schedule_values
from keras_lrx.schedules.warmup import ConstantWithWarmup
from keras_lrx.schedules.warmup import CosineWithHardRestarts
from keras_lrx.schedules.warmup import CosineWithWarmup
from keras_lrx.schedules.warmup import ExponentialWithWarmup
from keras_lrx.schedules.warmup import InverseSqrt
from keras_lrx.schedules.warmup import LinearWithWarmup
from keras_lrx.schedules.warmup import PolynomialWithWarmup
from keras_lrx.schedules.warmup import StepWithWarmup
from keras_lrx.schedules.warmup import WarmupStableDecay
from keras_lrx.schedules.warmup import constant_with_warmup
from keras_lrx.schedules.warmup import cosine_with_hard_restarts
from keras_lrx.schedules.warmup import cosine_with_warmup
from keras_lrx.schedules.warmup import exponential_with_warmup
from keras_lrx.schedules.warmup import inverse_sqrt
from keras_lrx.schedules.warmup import linear_with_warmup
from keras_lrx.schedules.warmup import polynomial_with_warmup
from keras_lrx.schedules.warmup import step_with_warmup
from keras_lrx.schedules.warmup import warmup_stable_decay

__all__ = [
    # The warmup family.
    "ConstantWithWarmup",
    "LinearWithWarmup",
    "CosineWithWarmup",
    "CosineWithHardRestarts",
    "PolynomialWithWarmup",
    "InverseSqrt",
    "StepWithWarmup",
    "ExponentialWithWarmup",
    "WarmupStableDecay",
    # Their Hugging Face-style names (aliases of the classes above).
    "constant_with_warmup",
    "linear_with_warmup",
    "cosine_with_warmup",
    "cosine_with_hard_restarts",
    "polynomial_with_warmup",
    "inverse_sqrt",
    "step_with_warmup",
    "exponential_with_warmup",
    "warmup_stable_decay",
    # Composition (`join_schedules`: optax's name for `JoinedSchedule`).
    "Warmup",
    "JoinedSchedule",
    "join_schedules",
    # Cyclical.
    "CyclicalLearningRate",
    "DecayingCyclicalLearningRate",
    "OneCycle",
    # Multiplier shapes (a group that thaws at a step).
    "Thaw",
    # Seeing them.
    "schedule_values",
    "plot_schedule",
]
