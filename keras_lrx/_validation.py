"""Argument checks shared by every keras-lrx module.

One rule everywhere, in Keras's message form:

    Argument `name` must be <rule>. Received: name=<value>

`TypeError` when the value has the wrong type (a string where a number
belongs, a bool where an int belongs), `ValueError` when the type is right but
the value is not (NaN, inf, negative, out of range, empty). Each check returns
the value converted to its canonical Python type, so callers store what was
checked. Checks never change any state: call them all before assigning.
"""

import math
import numbers

import numpy as np


def _received(name, value, show_type=False):
    text = f"Received: {name}={value!r}"
    if show_type:
        text += f" (of type {type(value).__name__})"
    return text


def is_number(value):
    """True for a real number that is not a bool (NumPy scalars included)."""
    return isinstance(value, (numbers.Real, np.floating, np.integer)) and not (
        isinstance(value, (bool, np.bool_))
    )


def check_bool(name, value, allow_none=False):
    """Returns `value` if it is a bool (or NumPy bool); else `TypeError`."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    rule = "a bool (True or False)" + (" or None" if allow_none else "")
    raise TypeError(
        f"Argument `{name}` must be {rule}. "
        + _received(name, value, show_type=True)
    )


def check_float(
    name,
    value,
    low=None,
    high=None,
    low_open=False,
    high_open=False,
    allow_none=False,
):
    """Returns `value` as a finite float within the given bounds.

    Args:
        name: The argument's name, as the user wrote it.
        value: What was received.
        low, high: Bounds, or None for none.
        low_open, high_open: Whether the bound itself is excluded.
        allow_none: Whether None is accepted (and returned as None).
    """
    if value is None and allow_none:
        return None
    _check_number_type(name, value, "a number", allow_none)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(
            f"Argument `{name}` must be a finite number. "
            + _received(name, value)
        )
    if low is not None and (number < low or (low_open and number == low)):
        op = ">" if low_open else ">="
        raise ValueError(
            f"Argument `{name}` must be {op} {low:g}. " + _received(name, value)
        )
    if high is not None and (number > high or (high_open and number == high)):
        op = "<" if high_open else "<="
        raise ValueError(
            f"Argument `{name}` must be {op} {high:g}. "
            + _received(name, value)
        )
    return number


def check_int(name, value, low=None, high=None, allow_none=False):
    """Returns `value` as an int within `[low, high]`.

    Integral floats (`10.0`) are accepted; bools and other floats are not.
    """
    if value is None and allow_none:
        return None
    _check_number_type(name, value, "an integer", allow_none)
    if not (math.isfinite(float(value)) and float(value).is_integer()):
        raise ValueError(
            f"Argument `{name}` must be an integer. " + _received(name, value)
        )
    number = int(value)
    if low is not None and number < low:
        raise ValueError(
            f"Argument `{name}` must be >= {low}. " + _received(name, value)
        )
    if high is not None and number > high:
        raise ValueError(
            f"Argument `{name}` must be <= {high}. " + _received(name, value)
        )
    return number


def check_count(name, value, low=0, allow_none=False):
    """Returns `value` if it is an int (not a float, not a bool) >= `low`.

    For counts of steps, points and batches, where `10.0` is a mistake.
    """
    if value is None and allow_none:
        return None
    rule = "an int" + (" or None" if allow_none else "")
    check_type(name, value, (numbers.Integral, np.integer), rule)
    return check_int(name, value, low=low)


def check_float_array(name, values):
    """Returns `values` (a sequence or array of numbers) as 1-D float64."""
    if (
        isinstance(values, (str, bytes, dict))
        or values is None
        or isinstance(values, (bool, np.bool_))
    ):
        raise TypeError(
            f"Argument `{name}` must be a sequence or array of numbers. "
            + _received(name, values, show_type=True)
        )
    try:
        array = np.asarray(values, dtype="float64")
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"Argument `{name}` must be a sequence or array of numbers. "
            + _received(name, values)
        ) from e
    return array.reshape(-1)


def check_learning_rates(name, values):
    """Returns `values` as a non-empty float64 array of finite rates > 0."""
    rates = check_float_array(name, values)
    if not rates.size:
        raise ValueError(
            f"Argument `{name}` must hold at least one rate, not be empty. "
            + _received(name, values)
        )
    bad = np.flatnonzero(~(np.isfinite(rates) & (rates > 0)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"Argument `{name}` must hold finite learning rates > 0. "
            f"Received: {name}[{i}]={float(rates[i])!r}"
        )
    return rates


def _check_number_type(name, value, rule, allow_none):
    if not is_number(value):
        rule += " or None" if allow_none else ""
        raise TypeError(
            f"Argument `{name}` must be {rule}. "
            + _received(name, value, show_type=True)
        )


def check_choice(name, value, choices):
    """Returns `value` if it is one of `choices`."""
    if isinstance(value, str) or value is None or is_number(value):
        if value in choices:
            return value
        raise ValueError(
            f"Argument `{name}` must be one of "
            f"{', '.join(repr(c) for c in choices)}. " + _received(name, value)
        )
    raise TypeError(
        f"Argument `{name}` must be one of "
        f"{', '.join(repr(c) for c in choices)}. "
        + _received(name, value, show_type=True)
    )


def check_type(name, value, types, rule):
    """Returns `value` if it is one of `types`; `rule` says what is wanted."""
    if isinstance(value, types) and not (
        isinstance(value, bool) and bool not in _as_tuple(types)
    ):
        return value
    raise TypeError(
        f"Argument `{name}` must be {rule}. "
        + _received(name, value, show_type=True)
    )


def check_sequence(name, value, rule, allow_empty=False):
    """Returns `value` as a list if it is a list or tuple (not a string)."""
    if not isinstance(value, (list, tuple)):
        raise TypeError(
            f"Argument `{name}` must be {rule}. "
            + _received(name, value, show_type=True)
        )
    if not value and not allow_empty:
        raise ValueError(
            f"Argument `{name}` must be {rule}, not empty. "
            + _received(name, value)
        )
    return list(value)


def _as_tuple(types):
    return types if isinstance(types, tuple) else (types,)


def check_schedule(schedule, delegate):
    """LRX's `schedule` argument: `delegate` for None, the schedule, a
    float >= 0 or a callable of the step."""
    from keras.optimizers.schedules import LearningRateSchedule

    if schedule is None:
        return delegate
    if isinstance(schedule, LearningRateSchedule):
        return schedule
    if isinstance(schedule, numbers.Real) and not isinstance(schedule, bool):
        value = float(schedule)
        if not math.isfinite(value) or value < 0:
            raise ValueError(
                "Argument `schedule` must be a finite number >= 0, a "
                "LearningRateSchedule or a callable of the step. "
                f"Received: schedule={schedule!r}"
            )
        return value
    if callable(schedule):
        return schedule
    raise TypeError(
        "Argument `schedule` must be None, a float, a "
        "`keras.optimizers.schedules.LearningRateSchedule` or a callable "
        f"of the step. Received: schedule={schedule!r} "
        f"(of type {type(schedule).__name__})"
    )
