"""Plots for keras-lrx. matplotlib is an optional extra, imported lazily."""

import numbers


def _import_pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(
            "Plotting needs matplotlib, which is not installed. Install it "
            "with `pip install keras-lrx[plot]` (or `pip install matplotlib`)."
        ) from e
    return plt


def _label(schedule):
    if isinstance(schedule, numbers.Real):
        return f"constant {schedule:g}"
    return getattr(schedule, "name", None) or type(schedule).__name__


def plot_schedule(schedules, steps, ax=None):
    """Plots learning-rate schedules against the optimizer step.

    Args:
        schedules: A `keras.optimizers.schedules.LearningRateSchedule`, a
            list of them, or a dict mapping labels to them. Floats are
            plotted as constant learning rates.
        steps: Int `N`, meaning `range(N)`, or an iterable of int steps.
        ax: A matplotlib `Axes` to draw on. Defaults to `None`, meaning the
            current axes of a new figure.

    Returns:
        The matplotlib `Axes`, with one line per schedule; a legend is drawn
        when there are several schedules or a dict of labels.

    Raises:
        ImportError: If matplotlib is not installed.

    Example:

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from keras_lrx import schedules
    >>> ax = plot_schedule(
    ...     {"linear": schedules.linear_with_warmup(1.0, 10, 100),
    ...      "cosine": schedules.cosine_with_warmup(1.0, 10, 100)},
    ...     steps=100)
    >>> len(ax.get_lines())
    2
    """
    plt = _import_pyplot()
    from keras_lrx.schedules import _as_steps
    from keras_lrx.schedules import schedule_values

    if isinstance(schedules, dict):
        items = [(str(label), s) for label, s in schedules.items()]
        legend = True
    elif isinstance(schedules, (list, tuple)):
        items = [(_label(s), s) for s in schedules]
        legend = len(items) > 1
    else:
        items = [(_label(schedules), schedules)]
        legend = False
    steps = _as_steps(steps)
    if ax is None:
        _, ax = plt.subplots()
    for label, schedule in items:
        ax.plot(steps, schedule_values(schedule, steps), label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("learning_rate")
    if legend:
        ax.legend()
    return ax


def plot_columns(columns, x, ys, ax=None, log_x=None):
    """Plots `columns[y]` against `columns[x]` for each `y` in `ys`.

    Used by `BatchHistory.plot`. `log_x=None` picks a logarithmic x axis when
    `x` is `"learning_rate"` and its positive values span more than a factor
    of 10. Returns the matplotlib `Axes`.
    """
    import numpy as np

    plt = _import_pyplot()
    xs = np.asarray(columns[x], dtype="float64")
    if ax is None:
        _, ax = plt.subplots()
    for key in ys:
        ax.plot(xs, np.asarray(columns[key], dtype="float64"), label=key)
    if log_x is None:
        positive = xs[np.isfinite(xs) & (xs > 0)]
        log_x = (
            x == "learning_rate"
            and positive.size > 0
            and positive.size == np.isfinite(xs).sum()
            and positive.max() > 10 * positive.min()
        )
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(ys[0] if len(ys) == 1 else "value")
    if len(ys) > 1:
        ax.legend()
    return ax
