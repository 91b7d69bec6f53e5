"""The documentation's pictures, drawn from the library's own plotting code.

`docs/hooks.py` runs `make_all` before every `mkdocs build`, so a picture
cannot drift from the code: each schedule of `keras_lrx.schedules` is drawn
by `plot_schedule` with its parameters in the title, a finder curve by
`LRFinderResult.plot` with each suggestion marked, a layer-wise decay over a
keras-hub BERT by `LRX.plot_multipliers`, the per-group rates of README's
first example (run as it is written there) and of a gradual unfreezing.
Needs matplotlib (the `plot` extra) and keras-hub (the BERT).
"""

import contextlib
import io
import os
import pathlib
import re
import warnings

import keras
import numpy as np

STEPS = 200
#: Sharp on high-density screens; the pages size the pictures themselves.
DPI = 160
README = pathlib.Path(__file__).parents[1] / "README.md"

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
        elif isinstance(value, list):  # JoinedSchedule's
            value = "[" + ", ".join(_short(v) for v in value) + "]"
        elif isinstance(value, float):
            value = f"{value:g}"
        parts.append(f"{key}={value}")
    lines, line = [name], ""
    for part in parts:
        if line and len(line) + len(part) > 44:
            lines.append(line.rstrip(", "))
            line = ""
        line += part + ", "
    if line:
        lines.append(line.rstrip(", "))
    return "\n".join(lines)


def _short(value):
    """A list item of a config: a schedule's class name, a number."""
    if isinstance(value, dict):
        return value.get("class_name", "schedule")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _save(fig, out, name):
    fig.savefig(os.path.join(out, name), dpi=DPI)
    import matplotlib.pyplot as plt

    plt.close(fig)


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
        # Thaw is a multiplier of the base rate, not a rate.
        ax.set_ylabel("multiplier" if name == "Thaw" else "learning rate")
        fig.tight_layout()
        _save(fig, out, f"schedule_{name}.png")
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
    fig, ax = plt.subplots(figsize=(8, 4.2))
    result.plot(ax=ax, method=sorted(SUGGESTERS) + ["probe"])
    ax.set_ylim(0, 2 * float(result.losses[0]))  # the divergence off the top
    ax.set_title("find_lr on digits (MLP, Adam): every suggestion")
    # The legend beside the curve, not on it.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    _save(fig, out, "finder_curve.png")


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
    fig, ax = plt.subplots(figsize=(8, 4.4))
    optimizer.plot_multipliers(ax=ax)
    # A layer-object key reads `<layer transformer_layer_0> (layer)`: the
    # layer's name is the label, and layers of a few variables each (the
    # embeddings) at one multiplier share one tick instead of overprinting
    # each other.
    names = [
        re.sub(r"^<layer (.*)> \(layer\)$", r"\1", t.get_text())
        for t in ax.get_xticklabels()
    ]
    heights = [bar.get_height() for bar in ax.patches]
    ticks, labels = [], []
    for position, name in zip(ax.get_xticks(), names):
        height = heights[int(round(position))]
        if (
            ticks
            and position - ticks[-1][-1] < 4
            and height == heights[int(round(ticks[-1][0]))]
        ):
            ticks[-1].append(position)
            labels[-1].append(name)
        else:
            ticks.append([position])
            labels.append([name])
    ax.set_xticks(
        [run[0] for run in ticks],
        [
            run[0] if len(run) == 1 else f"{run[0]} (+{len(run) - 1} more)"
            for run in labels
        ],
        rotation=30,
        ha="right",
        fontsize=8,
    )
    ax.set_xlabel("variables, input side first (a tick per layer)")
    ax.set_title("layerwise_decay(bert, 0.7): each variable's multiplier")
    fig.tight_layout()
    _save(fig, out, "layerwise_decay.png")
    return True


def readme_example():
    """README's `LRX` example (the one that records a `BatchHistory`), run
    as written; returns its namespace."""
    text = README.read_text()
    section = text.split("[start:example]")[1].split("[end:example]")[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    code = next(block for block in blocks if "BatchHistory()" in block)
    namespace = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, "README.md example", "exec"), namespace)
    return namespace


def _group_rates(ax, history, title, groups, base_label):
    """Each of `groups`' rate per step (`learning_rate/<group>` columns of a
    `BatchHistory`), and the base rate."""
    from matplotlib.ticker import MaxNLocator

    steps = np.asarray(history["step"])
    if base_label:
        ax.plot(steps, history["learning_rate"], label=base_label,
                drawstyle="steps-post", linestyle="--")  # fmt: skip
    for group in groups:
        ax.plot(steps, history[f"learning_rate/{group}"], label=group,
                drawstyle="steps-post")  # fmt: skip
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)


def landing_rates(out):
    """The per-group rates of README's example, batch by batch."""
    import matplotlib.pyplot as plt

    history = readme_example()["batches"].history
    fig, ax = plt.subplots(figsize=(7, 3.2))
    _group_rates(
        ax,
        history,
        "README's example: each group's rate per step",
        groups=["body"],
        base_label="base rate (the head's)",
    )
    ax.set_yscale("log")
    fig.tight_layout()
    _save(fig, out, "landing_rates.png")


def unfreezing_rates(out):
    """Gradual unfreezing with layer-wise decay: each group's rate."""
    import matplotlib.pyplot as plt

    from keras_lrx import LRX
    from keras_lrx import BatchHistory
    from keras_lrx import LearningRateMetric
    from keras_lrx import combine
    from keras_lrx import gradual_unfreezing
    from keras_lrx import layerwise_decay

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, name="stem")]
        + [keras.layers.Dense(16, name=f"block_{i}") for i in range(3)]
        + [keras.layers.Dense(1, name="head")],
        name="net",
    )
    optimizer = LRX(
        keras.optimizers.AdamW(3e-3),
        multipliers=combine(
            layerwise_decay(model, 0.7, head=["head"]),
            gradual_unfreezing(
                model, every_steps=4, warmup_steps=2, head=["head"]
            ),
        ),
    )
    model.compile(
        optimizer=optimizer,
        loss="mse",
        metrics=[LearningRateMetric(optimizer, groups=True)],
    )
    x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
    history = BatchHistory()
    model.fit(x, x[:, :1] ** 2, batch_size=16, epochs=5, verbose=0,
              callbacks=[history])  # fmt: skip
    fig, ax = plt.subplots(figsize=(7, 3.2))
    _group_rates(
        ax,
        history.history,
        "gradual_unfreezing(every_steps=4) x layerwise_decay(0.7)",
        groups=["head", "block_2", "block_1", "block_0", "stem"],
        base_label=None,
    )
    fig.tight_layout()
    _save(fig, out, "unfreezing_rates.png")


def group_statistics(out):
    """A small keras-hub BERT, pretrained here on one synthetic task, then
    fine-tuned on a related one under `layerwise_decay(backbone, 0.5)`:
    each group's rate and update ratio per step (`plot_groups`)."""
    import keras_hub
    import matplotlib.pyplot as plt

    from keras_lrx import LRX
    from keras_lrx import BatchHistory
    from keras_lrx import GroupStatistics
    from keras_lrx import LearningRateMetric
    from keras_lrx import layerwise_decay
    from keras_lrx.schedules import CosineWithWarmup

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    seq, vocab = 12, 40

    def task(token, n=512):
        """Token ids; label 1 where `token` occurs."""
        ids = rng.integers(1, vocab, size=(n, seq)).astype("int32")
        x = {"token_ids": ids, "padding_mask": np.ones_like(ids)}
        return x, (ids == token).any(axis=1).astype("int32")

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=vocab, num_layers=3, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=seq, dropout=0.0,
        name="bert",
    )  # fmt: skip

    def classifier(name):
        inputs = {
            "token_ids": keras.Input((seq,), dtype="int32", name="token_ids"),
            "padding_mask": keras.Input(
                (seq,), dtype="int32", name="padding_mask"
            ),
        }
        features = backbone(
            dict(inputs, segment_ids=keras.ops.zeros_like(inputs["token_ids"]))
        )["pooled_output"]
        head = keras.layers.Dense(2, name=name)(features)
        return keras.Model(inputs, head)

    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    pretrain = classifier("pretrain_head")
    pretrain.compile(keras.optimizers.AdamW(3e-3), loss)
    pretrain.fit(*task(token=3), batch_size=32, epochs=3, verbose=0)

    model = classifier("head")
    total = 64
    decay = layerwise_decay(backbone, 0.5, head=[model.get_layer("head")])
    optimizer = LRX(
        keras.optimizers.AdamW(),
        schedule=CosineWithWarmup(2e-3, warmup_steps=8, total_steps=total),
        multipliers=decay,
    )
    model.compile(optimizer, loss, metrics=[
        LearningRateMetric(optimizer, groups=True),
        GroupStatistics(optimizer, every=1, statistics=["update_ratio"]),
    ])  # fmt: skip
    batches = BatchHistory()
    x, y = task(token=5, n=32 * total // 4)
    model.fit(x, y, batch_size=32, epochs=4, verbose=0, callbacks=[batches])
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    rates, ratios = batches.plot_groups(axes=axes)
    rates.set_yscale("log")
    rates.set_title("each group's rate", fontsize=10)
    ratios.set_title("each group's update ratio (GroupStatistics)", fontsize=10)
    handles = {}
    for ax in axes:
        for line in ax.get_lines():
            handles.setdefault(line.get_label(), line)
        ax.get_legend().remove()
    names = sorted(handles)
    fig.legend([handles[n] for n in names], names, loc="outside right center",
               fontsize=8)  # fmt: skip
    fig.set_layout_engine("constrained")
    _save(fig, out, "group_statistics.png")


def learned_scale(out):
    """The experimental estimators over one run (digits, an MLP from
    scratch, a cosine schedule at a nominal peak of 1): the scale each
    learns (Mechanic's `s`, Prodigy's `d`) and the rate it applies."""
    import matplotlib.pyplot as plt
    from sklearn.datasets import load_digits

    from keras_lrx import LRX
    from keras_lrx import experimental
    from keras_lrx.schedules import CosineWithWarmup

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int32")
    epochs, batch = 6, 32
    total = epochs * -(-len(y) // batch)
    runs = {
        "Mechanic around Adam (s)": (
            lambda schedule: LRX(
                keras.optimizers.Adam(),
                schedule=schedule,
                scale=experimental.Mechanic(),
            ),
            lambda optimizer: optimizer.scale_value(),
        ),
        "Prodigy (d)": (
            lambda schedule: LRX(experimental.Prodigy(), schedule=schedule),
            lambda optimizer: float(optimizer.optimizer.d),
        ),
    }

    class Scales(keras.callbacks.Callback):
        def __init__(self, read):
            super().__init__()
            self.read, self.values = read, []

        def on_train_batch_end(self, batch, logs=None):
            self.values.append(self.read(self.model.optimizer))

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for label, (make, read) in runs.items():
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(10),
            ]
        )
        schedule = CosineWithWarmup(1.0, warmup_steps=20, total_steps=total)
        model.compile(
            make(schedule),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        scales = Scales(read)
        model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0,
                  callbacks=[scales])  # fmt: skip
        steps = np.arange(len(scales.values))
        nominal = np.asarray([float(schedule(k)) for k in steps])
        axes[0].plot(steps, scales.values, label=label)
        axes[1].plot(steps, nominal * np.asarray(scales.values), label=label)
    axes[0].set(yscale="log", xlabel="step", ylabel="learned scale",
                title="The scale each learns, from 1e-6")  # fmt: skip
    axes[1].set(yscale="log", xlabel="step",
                ylabel="rate applied = schedule(t) x scale",
                title="The rate it applies (cosine, peak 1)")  # fmt: skip
    axes[0].legend(fontsize=8)
    fig.set_layout_engine("constrained")
    _save(fig, out, "learned_scale.png")


def make_all(out):
    import matplotlib

    matplotlib.use("Agg")
    os.makedirs(out, exist_ok=True)
    with warnings.catch_warnings():
        # Drawing on torch converts tensors the way torch 2.x deprecates in
        # Keras's own code; that is not the build's business.
        warnings.simplefilter("ignore", DeprecationWarning)
        _make_all(out)
    return np.array(sorted(os.listdir(out)))


def _make_all(out):
    schedules(out)
    finder_curve(out)
    landing_rates(out)
    unfreezing_rates(out)
    group_statistics(out)
    learned_scale(out)
    if not layerwise_profile(out):
        raise RuntimeError(
            "The gallery draws layerwise_decay over a keras-hub BERT: "
            "install keras-hub to build the documentation."
        )
