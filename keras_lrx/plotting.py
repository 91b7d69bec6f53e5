"""Drawing for keras-lrx: arrays in, matplotlib `Axes` (or text) out.

A leaf module: it imports nothing of keras-lrx. Schedules, the finder and
`BatchHistory` compute their values and hand them over. matplotlib is an
optional extra, imported only when something is drawn.
"""

import numpy as np


def import_pyplot():
    """Returns `matplotlib.pyplot`, or an `ImportError` saying how to get it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(
            "Plotting needs matplotlib, which is not installed. Install it "
            "with `pip install keras-lrx[plot]` (or `pip install matplotlib`)."
        ) from e
    return plt


def plot_lines(
    x, lines, ax=None, xlabel=None, ylabel=None, legend=None, log_x=False
):
    """Plots each `(label, y)` of `lines` against `x`.

    Args:
        x: 1-D array of x values, shared by every line.
        lines: List of `(label, y)` pairs, each `y` as long as `x`, or
            `(label, y, style)` with a dict of matplotlib line properties
            (e.g. `{"alpha": 0.3}`).
        ax: A matplotlib `Axes` to draw on. Defaults to `None`, meaning the
            axes of a new figure.
        xlabel: String. Label of the x axis. Defaults to `None` (none).
        ylabel: String. Label of the y axis. Defaults to `None` (none).
        legend: Bool. Whether to draw a legend. Defaults to `None`, meaning
            when there are several lines.
        log_x: Bool. Whether the x axis is logarithmic. Defaults to `False`.

    Returns:
        The matplotlib `Axes`.

    Raises:
        ImportError: If matplotlib is not installed.

    Example:

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = plot_lines([0, 1, 2], [("a", [1, 2, 3]), ("b", [3, 2, 1])])
    >>> [line.get_label() for line in ax.get_lines()]
    ['a', 'b']
    """
    if ax is None:
        _, ax = import_pyplot().subplots()
    x = np.asarray(x)
    for label, y, *style in lines:
        style = style[0] if style else {}
        ax.plot(x, np.asarray(y, dtype="float64"), label=label, **style)
    if log_x:
        ax.set_xscale("log")
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if legend if legend is not None else len(lines) > 1:
        ax.legend()
    return ax


def mark_point(ax, x, y, label, color="red"):
    """Marks the point `(x, y)` on `ax` with a dot (red, or `color`; None
    for the next of matplotlib's colours), in the legend."""
    ax.plot([x], [y], "o", color=color, label=label)
    ax.legend()
    return ax


def mark_ticks(ax, xs, label):
    """Marks each of `xs` with a short tick at the bottom of `ax`."""
    transform = ax.get_xaxis_transform()  # x in data, y in axes fraction
    ax.plot(
        np.asarray(xs, dtype="float64"),
        np.zeros(len(xs)),
        "|",
        markersize=14,
        color="tab:green",
        transform=transform,
        label=label,
    )
    ax.legend()
    return ax


def plot_bars(labels, values, ax=None, ylabel=None, log_y=None):
    """Draws one bar per value, in order, and names each run of equal labels.

    Used by `LRX.plot_multipliers` (a bar per variable, the runs the keys
    that decided them). `log_y=None` picks a logarithmic y axis when the
    values are positive and span more than a factor of 10.

    Args:
        labels: List of strings, one per value; a tick names the first bar
            of each run of equal labels.
        values: 1-D array of the bars' heights.
        ax: A matplotlib `Axes` to draw on. Defaults to `None`, meaning the
            axes of a new figure.
        ylabel: String. Label of the y axis. Defaults to `None` (none).
        log_y: Bool or `None`. Whether the y axis is logarithmic. Defaults
            to `None` (decided from the values).

    Returns:
        The matplotlib `Axes`.

    Example:

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = plot_bars(["a", "a", "b"], [0.5, 0.5, 1.0])
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['a', 'b']
    """
    if ax is None:
        _, ax = import_pyplot().subplots()
    heights = np.asarray(values, dtype="float64")
    positions = np.arange(heights.size)
    ax.bar(positions, heights, width=0.9)
    starts = [
        i for i in range(len(labels)) if i == 0 or labels[i] != labels[i - 1]
    ]
    ax.set_xticks(positions[starts])
    ax.set_xticklabels([labels[i] for i in starts], rotation=90, fontsize=7)
    if log_y if log_y is not None else _spans_decades(heights):
        ax.set_yscale("log")
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    return ax


def _spans_decades(xs):
    """Whether the positive, finite `xs` span more than a factor of 10."""
    finite = xs[np.isfinite(xs)]
    positive = finite[finite > 0]
    return (
        positive.size > 0
        and positive.size == finite.size
        and positive.max() > 10 * positive.min()
    )


def plot_columns(columns, x, ys, ax=None, log_x=None):
    """Plots `columns[y]` against `columns[x]` for each `y` in `ys`.

    Used by `BatchHistory.plot`. `log_x=None` picks a logarithmic x axis when
    `x` is `"learning_rate"` and its positive values span more than a factor
    of 10. Returns the matplotlib `Axes`.
    """
    xs = np.asarray(columns[x], dtype="float64")
    if log_x is None:
        log_x = x == "learning_rate" and _spans_decades(xs)
    return plot_lines(
        xs,
        [(key, columns[key]) for key in ys],
        ax=ax,
        xlabel=x,
        ylabel=ys[0] if len(ys) == 1 else "value",
        legend=len(ys) > 1,
        log_x=log_x,
    )


def plot_group_panels(steps, rates, statistics, axes=None, statistic=None):
    """Two panels over `steps`: each group's rate (`rates`: label -> values)
    and each group's `statistic` (`statistics`: label -> values) on a log
    axis, where it is > 0 (a frozen group draws nothing there).

    Used by `BatchHistory.plot_groups`. Returns the two matplotlib `Axes`.
    """
    if axes is None:
        _, axes = import_pyplot().subplots(
            1, 2, figsize=(10, 3.6), constrained_layout=True
        )
    left, right = axes
    steps = np.asarray(steps, dtype="float64")
    # One color per group in both panels.
    cycle = import_pyplot().rcParams["axes.prop_cycle"].by_key()["color"]
    labels = sorted(set(rates) | set(statistics))
    color = {label: cycle[i % len(cycle)] for i, label in enumerate(labels)}
    for label, values in rates.items():
        values = np.asarray(values, dtype="float64")
        left.plot(steps, values, label=label, color=color[label])
    left.set_xlabel("step")
    left.set_ylabel("learning rate")
    for label, values in statistics.items():
        values = np.asarray(values, dtype="float64")
        shown = np.where(values > 0, values, np.nan)
        if np.isfinite(shown).any():
            right.plot(steps, shown, label=label, color=color[label])
    right.set_yscale("log")
    right.set_xlabel("step")
    right.set_ylabel(statistic or "value")
    for ax in (left, right):
        if ax.get_lines():
            ax.legend(fontsize="small")
    return left, right


def text_table(header, rows):
    """The lines of a plain-text table: `header`, a rule, then `rows` (all
    strings), each column as wide as its widest cell."""
    table = [tuple(header)] + [tuple(row) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
        for line in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines
