"""`LRFinderResult`: what a range test recorded, and the rates read off it.

The result holds the curve (rates, smoothed and raw losses, the rates of each
multiplier group of an `LRX`), why the sweep stopped, and turns the curve
into a suggestion (`keras_lrx.suggestions`), cyclical bounds, a schedule, a
plot, or a JSON-friendly dict.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING
from typing import Any

import numpy as np

from keras_lrx import plotting
from keras_lrx import schedules
from keras_lrx._validation import check_bool
from keras_lrx._validation import check_choice
from keras_lrx._validation import check_count
from keras_lrx._validation import check_float
from keras_lrx._validation import check_float_array
from keras_lrx._validation import check_learning_rates
from keras_lrx._validation import check_type
from keras_lrx.suggestions import DEFAULT_METHOD
from keras_lrx.suggestions import MODES
from keras_lrx.suggestions import SUGGESTERS
from keras_lrx.suggestions import clr_bounds
from keras_lrx.suggestions import curve_is_flat
from keras_lrx.suggestions import descent_clr_bounds
from keras_lrx.suggestions import pick_probe
from keras_lrx.suggestions import run_length_factor
from keras_lrx.suggestions import suggest_centered
from keras_lrx.suggestions import suggest_descent

if TYPE_CHECKING:
    import matplotlib.axes

__all__ = ["LRFinderResult"]

_FLAT_ADVICE = (
    "Run the range test longer (`num_steps`), on more data, from a lower "
    "`start_learning_rate` or up to a higher `end_learning_rate`."
)
_FLAT_MESSAGE = (
    "The range test's loss fell by less than its batch-to-batch noise "
    "(`result.is_flat`), so the suggested learning rate is not a "
    "measurement. " + _FLAT_ADVICE
)

#: The rules that read the raw losses (lag-free), not the smoothed ones.
_RAW_LOSS_RULES = {"descent": suggest_descent, "centered": suggest_centered}

#: Every method `suggest` takes: the curve's rules and the probes' pick.
_METHODS = tuple(SUGGESTERS) + ("probe",)

#: Where the probes were scored (`LRFinderResult.probes["scored_on"]`).
_SCORED_ON = ("validation_data", "held_out_split", "training_data")


def _check_probes(probes):
    """The probes' record, checked and copied; None stays None."""
    if probes is None:
        return None
    check_type("probes", probes, dict, "a dict of the probes, or None")
    keys = {"learning_rates", "losses", "steps", "steps_trained", "scored_on"}
    if set(probes) != keys:
        raise ValueError(
            f"Argument `probes` must have exactly the keys {sorted(keys)}. "
            f"Received: probes keys {sorted(map(str, probes))}"
        )
    lrs = check_learning_rates("probes", probes["learning_rates"])
    losses = check_float_array("probes", probes["losses"])
    if losses.size != lrs.size:
        raise ValueError(
            "Argument `probes` must hold one loss per probed rate. Received: "
            f"{lrs.size} rates and {losses.size} losses"
        )
    if np.any(np.isnan(losses)):
        raise ValueError(
            "Argument `probes` must hold losses that are numbers (inf for a "
            f"probe that diverged). Received: losses={losses.tolist()}"
        )
    return {
        "learning_rates": lrs.tolist(),
        "losses": losses.tolist(),
        "steps": check_count("probes", probes["steps"], 1),
        "steps_trained": check_count("probes", probes["steps_trained"], 0),
        "scored_on": check_choice("probes", probes["scored_on"], _SCORED_ON),
    }


#: Why a sweep ended (`LRFinderResult.stop_reason`).
STOP_REASONS = ("completed", "diverged", "non_finite", "incomplete")


def _check_curve(name, values, n):
    """`values` as a float64 array of one value per rate (`n`)."""
    array = check_float_array(name, values)
    if array.size != n:
        raise ValueError(
            f"Argument `{name}` must have one value per learning rate ({n}), "
            f"like `learning_rates`. Received: {name} of length {array.size}"
        )
    return array


def _check_group_rates(group_learning_rates, lrs):
    """`{multiplier: rates}` checked; `{1.0: lrs}` for None."""
    if group_learning_rates is None:
        return {1.0: lrs}
    check_type(
        "group_learning_rates",
        group_learning_rates,
        dict,
        "a dict mapping multipliers to rates, or None",
    )
    groups = {}
    for m, r in group_learning_rates.items():
        multiplier = check_float("group_learning_rates", m, low=0.0)
        rates = check_float_array("group_learning_rates", r)
        if rates.size != lrs.size:
            raise ValueError(
                "Argument `group_learning_rates` must map each multiplier to "
                f"{lrs.size} rates, like `learning_rates`. Received: "
                f"{rates.size} rates for multiplier {m!r}"
            )
        if not np.all(np.isfinite(rates)) or np.any(rates < 0):
            raise ValueError(
                "Argument `group_learning_rates` must hold finite rates >= 0. "
                f"Received: group_learning_rates={{{m!r}: {r!r}}}"
            )
        groups[multiplier] = rates
    return groups


class LRFinderResult:
    """What a range test recorded, and the learning rates read off it.

    Attributes:
        learning_rates: Float64 array, the (base) rate of each recorded
            batch.
        losses: Float64 array, the smoothed loss of each batch (see
            `smooth_losses`). Suggestions are made on these.
        raw_losses: Float64 array, the loss of each batch as trained.
        group_learning_rates: Dict mapping each multiplier of an `LRX`
            optimizer to the array of rates its variables trained at
            (`learning_rates * multiplier`); `{1.0: learning_rates}` for
            other optimizers.
        stop_reason: String. `"completed"` (all `num_steps` batches),
            `"diverged"` (the smoothed loss exceeded `divergence_threshold`
            times its lowest value), `"non_finite"` (a loss was NaN or
            infinite; that batch is the last point) or `"incomplete"` (the
            data or `fit` ended first).
        mode: String. `"exponential"` or `"linear"`.
        probes: None, or a dict describing the probes `find_lr` ran after
            the sweep: `"learning_rates"` (the candidates), `"losses"` (the
            held-out loss of each after `"steps"` steps from the restored
            start), `"steps"`, `"steps_trained"` (all probes together) and
            `"scored_on"` (`"validation_data"`, `"held_out_split"` or
            `"training_data"`). With probes the default suggestion is their
            pick (`default_method == "probe"`; see
            `keras_lrx.suggestions.pick_probe`).
        for_steps: None, or the length (optimizer steps) of the run the
            default suggestion is for, as `find_lr(for_steps=...)` or
            `for_epochs=` described it: `suggested_learning_rate` is then
            the default reading times `run_length_factor` (see `suggest`).
            Settable. None (the default) leaves the suggestion as it is
            without a run.

    Example:

    >>> lrs = np.logspace(-4, 0, 41)
    >>> loss = np.r_[np.full(10, 2.0), np.linspace(2, 0, 21)[1:],
    ...              np.linspace(0.2, 3, 11)]
    >>> result = LRFinderResult(lrs, loss, loss)
    >>> result.suggested_learning_rate == result.suggest("descent")
    True
    >>> result.clr_bounds(method="smith") == (lrs[11], lrs[29])
    True
    >>> lr = result.suggested_learning_rate
    >>> result.clr_bounds() == (lr / 2, lr * 2)
    True
    """

    def __init__(
        self,
        learning_rates: Any,
        losses: Any,
        raw_losses: Any,
        group_learning_rates: dict[float, Any] | None = None,
        stop_reason: str = "completed",
        mode: str = "exponential",
        probes: dict[str, Any] | None = None,
        for_steps: int | None = None,
    ) -> None:
        lrs = check_learning_rates("learning_rates", learning_rates)
        losses = _check_curve("losses", losses, lrs.size)
        raw_losses = _check_curve("raw_losses", raw_losses, lrs.size)
        groups = _check_group_rates(group_learning_rates, lrs)
        stop_reason = check_choice("stop_reason", stop_reason, STOP_REASONS)
        mode = check_choice("mode", mode, MODES)
        self.learning_rates = lrs
        self.losses = losses
        self.raw_losses = raw_losses
        self.group_learning_rates = groups
        self.stop_reason = stop_reason
        self.mode = mode
        self.probes = probes
        self.for_steps = for_steps

    def __len__(self) -> int:
        return int(self.learning_rates.size)

    def __repr__(self) -> str:
        return (
            f"<LRFinderResult: {len(self)} points, "
            f"{self.learning_rates[0] if len(self) else float('nan'):.3g} .. "
            f"{self.learning_rates[-1] if len(self) else float('nan'):.3g}, "
            f"stop_reason={self.stop_reason!r}"
            f"{', flat' if len(self) and self.is_flat else ''}"
            f"{self._probes_repr()}{self._run_repr()}>"
        )

    def _run_repr(self):
        if self.for_steps is None:
            return ""
        return (
            f", for a run of {self.for_steps} steps: "
            f"{self.suggested_learning_rate:.3g}"
        )

    def _probes_repr(self):
        if self.probes is None:
            return ""
        return (
            f", {len(self.probes['learning_rates'])} probes of "
            f"{self.probes['steps']} steps: {self._probe_pick(None, None):.3g}"
        )

    @property
    def probes(self) -> dict[str, Any] | None:
        """The probes `find_lr` ran after the sweep (see the class), or None."""
        return self._probes

    @probes.setter
    def probes(self, probes: dict[str, Any] | None) -> None:
        self._probes = _check_probes(probes)

    @property
    def for_steps(self) -> int | None:
        """The run the default suggestion is for, in steps (None: the
        suggestion without a run); see `suggest`."""
        return self._for_steps

    @for_steps.setter
    def for_steps(self, for_steps: int | None) -> None:
        self._for_steps = check_count("for_steps", for_steps, 1, True)

    @property
    def default_method(self) -> str:
        """What `suggested_learning_rate` reads: `"probe"` when probes ran
        (`pick_probe` over their held-out losses), else `"descent"`."""
        return "probe" if self.probes is not None else DEFAULT_METHOD

    # -- suggestions ---------------------------------------------------- #

    @property
    def is_flat(self) -> bool:
        """Whether the loss fell by less than its noise (`curve_is_flat`).

        A flat curve says nothing about which rate is best: `suggest` warns,
        `clr_bounds` refuses. Run the test longer, on more data, from a
        lower `start_learning_rate` or up to a higher `end_learning_rate`.
        """
        return curve_is_flat(self.learning_rates, self.raw_losses)

    def suggest(
        self,
        method: str | None = None,
        skip_start: int | None = None,
        skip_end: int | None = None,
        *,
        for_steps: int | None = None,
    ) -> float:
        """A suggested learning rate: the best probe, or read off the curve.

        Args:
            method: String or None. `"probe"` (the pick among the probes
                `find_lr` runs: the lowest candidate within 50% of the best
                held-out loss, backed off by sqrt(10) when above the
                reading; see `pick_probe`), `"descent"` (a tenth of the rate
                where the lag-free average of the raw losses has made three
                quarters of its fall, the rule that trains best in the
                grid-search benchmark; see `suggest_descent`), `"centered"`
                (a thirtieth of the rate where that average is lowest; see
                `suggest_centered`), `"valley"` (halfway along the longest
                descent of the smoothed loss, fastai's default; see
                `suggest_valley`), `"steepest"` (where the smoothed loss
                falls fastest per decade, pytorch-lr-finder's; see
                `suggest_steepest`) or `"minimum"` (a tenth of the rate at
                the lowest smoothed loss, fastai's; see `suggest_minimum`).
                Defaults to `None`, meaning `default_method` (`"probe"`
                where probes ran, else `"descent"`).
            skip_start: Int. Points left out at the start, for `"valley"`,
                `"steepest"` and `"minimum"`. Defaults to `None` (a tenth of
                the points).
            skip_end: Int. Points left out at the end, likewise. Defaults to
                `None` (a twentieth of the points).
            for_steps: Int >= 1 or None. The length, in optimizer steps, of
                the constant-rate run the default suggestion is for: the
                default reading times `run_length_factor(for_steps, ...)`,
                which depends on whether the pick is above the curve's
                reading (runs outside 40-640 steps are read as the nearest
                end, the range it was measured on). Only for the default
                method (`method=None` or `default_method`). Defaults to
                None: the result's own `for_steps` for the default method,
                else no adjustment.

        Returns:
            A float, the suggested (base) learning rate.

        Raises:
            ValueError: for an unknown method, `skip_start`/`skip_end` with
                `"probe"`, `"descent"` or `"centered"` (they skip nothing),
                `for_steps` < 1 or with a method that is not the default,
                `"probe"` on a result without probes, or fewer than 2 finite
                points.

        Raises (types):
            TypeError: for `for_steps` that is not an int.

        Warns:
            UserWarning: when the curve is flat (`is_flat`): the number is
                then noise, not a measurement.

        Example:

        >>> lrs = np.logspace(-4, 0, 41)
        >>> loss = np.r_[np.full(10, 2.0), np.linspace(2, 0, 21)[1:],
        ...              np.linspace(0.2, 3, 11)]
        >>> result = LRFinderResult(lrs, loss, loss)
        >>> lr = result.suggest()  # the "descent" reading (no probes)
        >>> bool(result.suggest(for_steps=40) > result.suggest(for_steps=640))
        True
        """
        for_steps = check_count("for_steps", for_steps, 1, True)
        if method is None:
            method = self.default_method
        method = check_choice("method", method, _METHODS)
        if for_steps is not None and method != self.default_method:
            raise ValueError(
                "Argument `for_steps` adjusts the default suggestion (the "
                "rule was measured for it alone): use it with method=None "
                f"or {self.default_method!r}. Received: method={method!r}, "
                f"for_steps={for_steps}"
            )
        if method == self.default_method:
            steps = self.for_steps if for_steps is None else for_steps
            lr = self._read(method, skip_start, skip_end)
            if steps is None:
                return lr
            above = method == "probe" and lr > min(
                self.probes["learning_rates"]
            ) * (1 + 1e-9)
            return lr * run_length_factor(steps, above)
        return self._read(method, skip_start, skip_end)

    def _read(self, method, skip_start, skip_end):
        if method == "probe":
            return self._probe_pick(skip_start, skip_end)
        if method in _RAW_LOSS_RULES:
            if skip_start is not None or skip_end is not None:
                raise ValueError(
                    "Arguments `skip_start` and `skip_end` are not used by "
                    f"method={method!r} (it averages the whole curve). "
                    f"Received: skip_start={skip_start!r}, "
                    f"skip_end={skip_end!r}"
                )
            lr = _RAW_LOSS_RULES[method](self.learning_rates, self.raw_losses)
        else:
            lr = SUGGESTERS[method](
                self.learning_rates, self.losses, skip_start, skip_end
            )
        if self.is_flat:
            warnings.warn(_FLAT_MESSAGE, UserWarning, stacklevel=3)
        return lr

    def _probe_pick(self, skip_start, skip_end):
        if skip_start is not None or skip_end is not None:
            raise ValueError(
                "Arguments `skip_start` and `skip_end` are not used by "
                'method="probe". '
                f"Received: skip_start={skip_start!r}, skip_end={skip_end!r}"
            )
        if self.probes is None:
            raise ValueError(
                'method="probe" needs the probes that `find_lr` runs after '
                "the sweep (`probe=True`, the default); this result has none "
                "(`result.probes` is None). Use another method, e.g. "
                '"descent".'
            )
        return pick_probe(self.probes["learning_rates"], self.probes["losses"])

    @property
    def suggested_learning_rate(self) -> float:
        """The default suggestion, `suggest()`: the probes' pick where
        `find_lr` ran probes, else the `"descent"` reading; for a run of
        `for_steps` steps where that is set."""
        return self.suggest()

    def clr_bounds(
        self, method: str = "descent", fall_fraction: float | None = None
    ) -> tuple[float, float]:
        """`(base_learning_rate, max_learning_rate)` for a cyclical schedule.

        Args:
            method: String. `"descent"` (the default: from half to twice the
                curve's `"descent"` reading -- not the probes' pick, which
                was not measured as a cyclical peak -- see
                `descent_clr_bounds`; they train as
                well as the best constant rate in the grid-search benchmark)
                or `"smith"` (Smith, 2017, see the module function
                `clr_bounds`: the base where the smoothed loss has made
                `fall_fraction` of its total drop, the max at its minimum,
                which can be a rate that diverges). Defaults to
                `"descent"`.
            fall_fraction: Float in `(0, 1)`, for `"smith"` only. Defaults
                to `None` (0.1).

        Raises:
            ValueError: on a flat curve (`is_flat`), whose minimum is noise;
                for an unknown method, or `fall_fraction` with `"descent"`.
        """
        method = check_choice("method", method, ("descent", "smith"))
        if method == "descent" and fall_fraction is not None:
            raise ValueError(
                'Argument `fall_fraction` is only used by method="smith". '
                f"Received: fall_fraction={fall_fraction!r}"
            )
        if self.is_flat:
            raise ValueError(
                "The loss fell by less than its batch-to-batch noise, so "
                "there are no cyclical-rate bounds to read off (they would "
                "be noise). " + _FLAT_ADVICE
            )
        if method == "descent":
            return descent_clr_bounds(self.learning_rates, self.raw_losses)
        if fall_fraction is None:
            fall_fraction = 0.1
        return clr_bounds(self.learning_rates, self.losses, fall_fraction)

    def to_schedule(
        self,
        kind: str = "one_cycle",
        total_steps: int | None = None,
        *,
        method: str | None = None,
        step_size: int | None = None,
        **kwargs: Any,
    ) -> schedules.OneCycle | schedules.CyclicalLearningRate:
        """A `keras_lrx.schedules` schedule built from this range test.

        - `"one_cycle"`: `OneCycle(max_learning_rate=self.suggest(method),
          total_steps=total_steps, **kwargs)` -- the suggestion is the peak,
          as fastai's `fit_one_cycle(lr_max=...)` uses it (not moved by
          `for_steps`: that rule was measured for constant rates only).
        - `"cyclical"`: `CyclicalLearningRate(*self.clr_bounds(),
          step_size=step_size, **kwargs)`; `step_size` defaults to
          `max(1, total_steps // 8)`, i.e. four full cycles in `total_steps`
          (Smith recommends 2 to 10 epochs per half cycle).

        For an `LRX` optimizer the schedule is the base rate: pass it as
        `LRX(optimizer, schedule=...)` and the multipliers apply on top.

        Args:
            kind: String. `"one_cycle"` or `"cyclical"`. Defaults to
                `"one_cycle"`.
            total_steps: Int. Total number of training steps. Required for
                `"one_cycle"`, and for `"cyclical"` without `step_size`.
            method: String. The suggestion method for `"one_cycle"`.
                Defaults to `None`, meaning `default_method`.
            step_size: Int. Steps per half cycle for `"cyclical"`. Defaults
                to `None` (see above).
            **kwargs: Further arguments of the schedule (e.g. `pct_start`,
                `div_factor`, `mode`).

        Returns:
            A `keras.optimizers.schedules.LearningRateSchedule`.
        """
        kind = check_choice("kind", kind, ("one_cycle", "cyclical"))
        if total_steps is not None:
            total_steps = check_count("total_steps", total_steps, 1)
        if step_size is not None:
            step_size = check_count("step_size", step_size, 1)
        if method is not None:
            method = check_choice("method", method, _METHODS)
        if kind == "one_cycle":
            if total_steps is None:
                raise ValueError(
                    'Argument `total_steps` is required for kind="one_cycle". '
                    "Received: total_steps=None"
                )
            # The peak as measured (not `for_steps`' constant-rate rule).
            lr = self._read(method or self.default_method, None, None)
            return schedules.OneCycle(lr, total_steps=total_steps, **kwargs)
        if kind == "cyclical":
            if method is not None:
                raise ValueError(
                    'Argument `method` is not used with kind="cyclical" (its '
                    "bounds come from `clr_bounds()`). "
                    f"Received: method={method!r}"
                )
            if step_size is None:
                if total_steps is None:
                    raise ValueError(
                        'kind="cyclical" needs `step_size` or `total_steps`. '
                        "Received: step_size=None, total_steps=None"
                    )
                step_size = max(1, total_steps // 8)
            base, top = self.clr_bounds()
            return schedules.CyclicalLearningRate(
                base, top, step_size=step_size, **kwargs
            )
        raise ValueError(
            'Argument `kind` must be "one_cycle" or "cyclical". '
            f"Received: kind={kind!r}"
        )

    # -- plotting ------------------------------------------------------- #

    def plot(
        self,
        ax: matplotlib.axes.Axes | None = None,
        method: str | list[str] | tuple[str, ...] | None = "default",
        show_raw: bool = True,
        log_scale: bool | None = None,
    ) -> matplotlib.axes.Axes:
        """Plots the loss against the learning rate and marks a suggestion.

        Args:
            ax: A matplotlib `Axes` to draw on. Defaults to `None`, meaning a
                new figure.
            method: String. The suggestion to mark (see `suggest`),
                `"default"` for `default_method`, a list of them to mark
                each, or None for none. With probes, marking `"probe"` (or
                the default) also draws each probed rate as a tick on the x
                axis. Defaults to `"default"`.
            show_raw: Bool. Whether to draw the raw losses faintly behind
                the smoothed curve. Defaults to True.
            log_scale: Bool. Log scale for the learning rate axis. Defaults
                to `None`, meaning log for an exponential sweep.

        Returns:
            The matplotlib `Axes`.

        Raises:
            ImportError: if matplotlib is not installed.

        Example:

        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> lrs = np.logspace(-4, 0, 41)
        >>> loss = (np.log10(lrs) + 1) ** 2
        >>> ax = LRFinderResult(lrs, loss, loss).plot()
        >>> ax.get_xlabel()
        'learning_rate'
        """
        show_raw = check_bool("show_raw", show_raw)
        log_scale = check_bool("log_scale", log_scale, allow_none=True)
        methods = method if isinstance(method, (list, tuple)) else [method]
        methods = [
            check_choice("method", m, ("default",) + _METHODS)
            for m in methods
            if m is not None
        ]
        methods = [
            self.default_method if m == "default" else m for m in methods
        ]
        if log_scale is None:
            log_scale = self.mode == "exponential"
        lines = [("loss", self.raw_losses, {"alpha": 0.3})] if show_raw else []
        lines.append(("smoothed loss", self.losses))
        ax = plotting.plot_lines(
            self.learning_rates,
            lines,
            ax=ax,
            xlabel="learning_rate",
            ylabel="loss",
            legend=True,
            log_x=log_scale,
        )
        for method in methods:
            lr = self._suggestion_or_none(method)
            if lr is not None:
                i = int(np.argmin(np.abs(self.learning_rates - lr)))
                plotting.mark_point(
                    ax,
                    lr,
                    self.losses[i],
                    f"{method}: {lr:.2e}",
                    color="red" if len(methods) == 1 else None,
                )
        if "probe" in methods and self.probes is not None:
            plotting.mark_ticks(
                ax, self.probes["learning_rates"], "probed rates"
            )
        return ax

    def _suggestion_or_none(self, method):
        """`suggest(method)`, or None where there is nothing to suggest."""
        if method is None or len(self) < 2:
            return None
        try:
            return self.suggest(method)
        except ValueError:
            return None

    # -- saving --------------------------------------------------------- #

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (lists and strings); see `from_dict`."""
        return {
            "learning_rates": self.learning_rates.tolist(),
            "losses": self.losses.tolist(),
            "raw_losses": self.raw_losses.tolist(),
            "group_learning_rates": {
                repr(m): r.tolist()
                for m, r in self.group_learning_rates.items()
            },
            "stop_reason": self.stop_reason,
            "mode": self.mode,
            "probes": None if self.probes is None else dict(self.probes),
            "for_steps": self.for_steps,
        }

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> LRFinderResult:
        """Rebuilds a result from `to_dict()`.

        Raises:
            TypeError: if `config` is not a dict.
            ValueError: if it lacks a key of `to_dict()` or has others, or
                holds values the constructor refuses.
        """
        check_type("config", config, dict, "a dict from `to_dict()`")
        config = dict(config)
        required = {"learning_rates", "losses", "raw_losses"}
        known = required | {
            "group_learning_rates",
            "stop_reason",
            "mode",
            "probes",
            "for_steps",
        }
        missing, unknown = required - set(config), set(config) - known
        if missing or unknown:
            raise ValueError(
                "Argument `config` must hold the keys of `to_dict()`: "
                f"missing {sorted(missing)}, unknown "
                f"{sorted(map(str, unknown))}. "
                f"Received: config keys {sorted(map(str, config))}"
            )
        groups = config.pop("group_learning_rates", None)
        if groups is not None:
            check_type(
                "group_learning_rates",
                groups,
                dict,
                "a dict mapping multipliers to rates, or None",
            )
            parsed = {}
            for m, r in groups.items():
                try:  # to_dict() writes the multipliers as repr() strings
                    multiplier = float(m)
                except (TypeError, ValueError):
                    raise ValueError(
                        "Argument `group_learning_rates` must map numbers "
                        f"(multipliers) to rates. Received: key {m!r}"
                    ) from None
                parsed[multiplier] = r
            groups = parsed
        return cls(group_learning_rates=groups, **config)
