"""The documentation's pictures, drawn from the library's own plotting code.

`docs/hooks.py` runs `make_all` before every `mkdocs build`, so a picture
cannot drift from the code: each schedule of `keras_lrx.schedules` is drawn
by `plot_schedule` with its parameters in the title, a finder curve by
`LRFinderResult.plot` with each suggestion marked, and a layer-wise decay
over a keras-hub BERT by `LRX.plot_multipliers`. Needs matplotlib (the
`plot` extra); the BERT picture needs keras-hub, and is skipped with a note
in the page where it is missing.
"""

import os

import keras
import numpy as np

STEPS = 200

#: An example of every schedule class `keras_lrx.schedules` exports, for
#: the gallery (`tests/test_docs.py` checks none is missing).
SCHEDULES = {
    "ConstantWithWarmup": lambda s: s.ConstantWithWarmup(1e-3, warmup_steps=20),
    "LinearWithWarmup": lambda s: s.LinearWithWarmup(
        1e-3, warmup_steps=20, total_steps=STEPS
    ),
    "CosineWithWarmup": lambda s: s.CosineWithWarmup(
        1e-3, warmup_steps=20, total_steps=STEPS
    ),
    "CosineWithHardRestarts": lambda s: s.CosineWithHardRestarts(
        1e-3, warmup_steps=20, total_steps=STEPS, num_cycles=3
    ),
    "PolynomialWithWarmup": lambda s: s.PolynomialWithWarmup(
        1e-3, warmup_steps=20, total_steps=STEPS, power=2.0
    ),
    "InverseSqrt": lambda s: s.InverseSqrt(1e-3, warmup_steps=20),
    "StepWithWarmup": lambda s: s.StepWithWarmup(
        1e-3, warmup_steps=20, step_size=50, gamma=0.5
    ),
    "ExponentialWithWarmup": lambda s: s.ExponentialWithWarmup(
        1e-3, warmup_steps=20, gamma=0.98
    ),
    "WarmupStableDecay": lambda s: s.WarmupStableDecay(
        1e-3, warmup_steps=20, total_steps=STEPS, decay_steps=40
    ),
    "Warmup": lambda s: s.Warmup(
        keras.optimizers.schedules.ExponentialDecay(1e-3, 50, 0.5),
        warmup_steps=20,
    ),
    "JoinedSchedule": lambda s: s.JoinedSchedule(
        [s.ConstantWithWarmup(1e-3, 10), s.LinearWithWarmup(5e-4, 0, 100)],
        boundaries=[100],
    ),
    "CyclicalLearningRate": lambda s: s.CyclicalLearningRate(
        1e-4, 1e-3, step_size=25, mode="triangular2"
    ),
    "DecayingCyclicalLearningRate": lambda s: s.DecayingCyclicalLearningRate(
        1e-4, 1e-3, step_size=25, decay_every=1, decay_rate=0.7
    ),
    "OneCycle": lambda s: s.OneCycle(1e-3, total_steps=STEPS),
    "Thaw": lambda s: s.Thaw(0.1, start_step=60, warmup_steps=40),
}


def _title(name, schedule):
    """The class name and its non-default parameters, wrapped to fit."""
    config = schedule.get_config()
    parts = []
    for key, value in config.items():
        if key == "name" or value is None:
            continue
        if isinstance(value, dict):  # a wrapped schedule
            value = value.get("class_name", "schedule")
        elif isinstance(value, list):
            value = f"[{len(value)}]"
        elif isinstance(value, float):
            value = f"{value:g}"
        parts.append(f"{key}={value}")
    lines, line = [name], ""
    for part in parts:
        if len(line) + len(part) > 44:
            lines.append(line.rstrip(", "))
            line = ""
        line += part + ", "
    if line:
        lines.append(line.rstrip(", "))
    return "\n".join(lines)


def schedules(out):
    import matplotlib.pyplot as plt

    from keras_lrx import schedules as s

    made = []
    for name, make in SCHEDULES.items():
        schedule = make(s)
        fig, ax = plt.subplots(figsize=(4.2, 2.8))
        s.plot_schedule(schedule, steps=STEPS, ax=ax)
        ax.set_title(_title(name, schedule), fontsize=8)
        ax.set_xlabel("step")
        fig.tight_layout()
        fig.savefig(os.path.join(out, f"schedule_{name}.png"), dpi=90)
        plt.close(fig)
        made.append(name)
    return made


def finder_curve(out):
    """`find_lr` on scikit-learn's digits, from scratch, every suggestion
    marked on the curve."""
    import matplotlib.pyplot as plt
    from sklearn.datasets import load_digits

    from keras_lrx import find_lr
    from keras_lrx.suggestions import SUGGESTERS

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        keras.optimizers.Adam(),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    result = find_lr(model, x, y, batch_size=64, num_steps=100, verbose=0)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    result.plot(ax=ax, method=sorted(SUGGESTERS) + ["probe"])
    ax.set_ylim(0, 2 * float(result.losses[0]))  # the divergence off the top
    ax.set_title("find_lr on digits (MLP, Adam): every suggestion")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "finder_curve.png"), dpi=90)
    plt.close(fig)


def layerwise_profile(out):
    """`layerwise_decay(backbone, 0.7)` over a small keras-hub BERT."""
    try:
        import keras_hub
    except ImportError:
        return False
    import matplotlib.pyplot as plt

    from keras_lrx import LRX
    from keras_lrx import layerwise_decay

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=100,
        num_layers=4,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=16,
        name="bert",
    )
    optimizer = LRX(
        keras.optimizers.AdamW(), multipliers=layerwise_decay(backbone, 0.7)
    )
    optimizer.build(backbone.trainable_variables)
    fig, ax = plt.subplots(figsize=(8, 4))
    optimizer.plot_multipliers(ax=ax)
    ax.set_title("layerwise_decay(bert, 0.7): each variable's multiplier")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "layerwise_decay.png"), dpi=90)
    plt.close(fig)
    return True


def make_all(out):
    import matplotlib

    matplotlib.use("Agg")
    os.makedirs(out, exist_ok=True)
    schedules(out)
    finder_curve(out)
    if not layerwise_profile(out):
        raise RuntimeError(
            "The gallery draws layerwise_decay over a keras-hub BERT: "
            "install keras-hub to build the documentation."
        )
    return np.array(sorted(os.listdir(out)))
