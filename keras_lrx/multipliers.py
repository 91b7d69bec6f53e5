"""Which learning-rate multiplier each variable gets.

This module only maps *keys* (layer names, path patterns, layer objects, exact
variable paths, or a callable) to one multiplier per variable. It knows nothing
about optimizers, so the rules can be read, tested and serialized on their own.

Resolution rules (docs/guides/lrx.md, "How multiplier keys resolve"):

* A variable that no key selects trains at multiplier 1.0.
* A string key selects a variable when it is
  1. the variable's path, or its last segments if the key has two or more
     (``"head/bias"`` selects ``"sequential/head/bias"``) -- a *path* match;
  2. a layer name: the key, split at ``/``, equals one or more consecutive
     segments of the variable's path, not counting the variable's own name
     (``"encoder"`` selects ``"sequential/encoder/dense/kernel"``) -- a
     *layer* match;
  3. a regular expression that ``re.fullmatch``-es the whole path
     (``r".*/bias"``) -- a *pattern* match.
* A ``keras.layers.Layer`` key selects that layer's variables and those of its
  sublayers -- a *layer* match.
* When several keys select one variable, the most specific key wins, whatever
  the order of the dict: a path match beats any layer key, a layer key beats
  any pattern. Between two layer keys (names, layer objects or both) the one
  nearer the variable in the layer tree wins: it selects a subset of what the
  other selects (``transformer_layer_1`` inside a keras-hub backbone beats the
  backbone, although a nested functional model's variable paths do not name
  the backbone). Likewise between two patterns, the one selecting fewer
  variables wins. Keys that select the very same variables (a sub-model and
  its only layer) rank by nesting depth -- a name by where it matches the
  path, a layer object by where its name sits in the path, or, for a nested
  functional model that paths do not name, above the layers inside it --
  and only then by the later key in the dict.
* A key with ``/`` (a path, a layer path or a pattern starting with literal
  segments) that selects nothing is retried without its leading segments
  (``"sequential/body"`` becomes ``"body"``): Keras roots the same variable
  differently after `load_model` (a reloaded Sequential model's paths lose
  the model name), and a saved LRX must still resolve. A layer-object key is
  saved as its name plus the paths of its weights, and retried the same way.
* A multiplier may change over time: a `LearningRateSchedule` (such as
  ``keras_lrx.schedules.Thaw``) or a callable of the step, beside numbers.
* ``MultiplierMap.product(a, b, ...)`` (``keras_lrx.combine``) resolves each
  source on its own and multiplies what they give a variable, in any order
  (``layerwise_decay(model, 0.8)`` times a LoRA+ ratio times a thaw).
* A key that selects no variable at all is an error when the optimizer is
  built: a typo must not silently train at the default rate. A key that
  selects only non-trainable variables (a layer frozen with
  ``trainable = False``, the base weights after ``enable_lora``) is not a
  typo and is accepted -- unless ``strict=True``.
"""

from __future__ import annotations

import json
import numbers
import re
import warnings
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import keras
from keras.optimizers.schedules import LearningRateSchedule

from keras_lrx import _keras_compat as compat
from keras_lrx import _validation

_EXACT, _LAYER, _PATTERN = 3, 2, 1
_KIND_NAMES = {_EXACT: "path", _LAYER: "layer", _PATTERN: "pattern"}
# A leading path segment of a pattern that matches only itself.
_LITERAL_SEGMENT = re.compile(r"[A-Za-z0-9_\-]+")


def check_multiplier(value, name="multipliers"):
    """A multiplier: a finite float >= 0, or a schedule of the step.

    Numbers come back as floats. A `LearningRateSchedule` (such as
    `keras_lrx.schedules.Thaw`) or any other callable of the step is kept as
    it is: it is evaluated at every step, and must return values >= 0.
    """
    if isinstance(value, LearningRateSchedule):
        return value
    if callable(value) and not isinstance(value, (type, keras.layers.Layer)):
        return value
    if not _validation.is_number(value):
        raise TypeError(
            f"Argument `{name}` must be a number >= 0, a "
            "`keras.optimizers.schedules.LearningRateSchedule` or a "
            f"callable of the step (per key). Received: {value!r} (of type "
            f"{type(value).__name__})"
        )
    return _validation.check_float(name, value, low=0.0)


def is_constant(multiplier):
    """Whether a resolved multiplier is a number (not a schedule)."""
    return isinstance(multiplier, float)


def multiplier_at(multiplier, step):
    """The value of a resolved multiplier at `step` (a float32 tensor for a
    schedule, the float itself for a number)."""
    if is_constant(multiplier):
        return multiplier
    return keras.ops.cast(multiplier(step), "float32")


def multiplier_float(multiplier, step):
    """The value of a resolved multiplier at the integer `step`, a float.

    A schedule with a `value_at(step)` method (`Thaw`, a product) is read
    without tensors; any other is evaluated and converted.
    """
    if is_constant(multiplier):
        return multiplier
    value_at = getattr(multiplier, "value_at", None)
    if value_at is not None:
        return float(value_at(step))
    return float(keras.ops.convert_to_numpy(multiplier(step)))


def active_from(multiplier):
    """The step from which a time-varying multiplier is > 0 for good and
    before which it is 0, or None where that is not known (a schedule
    without an `active_from()` method, such as any callable)."""
    if is_constant(multiplier):
        return 0 if multiplier > 0 else None
    method = getattr(multiplier, "active_from", None)
    return None if method is None else method()


def values_at(schedules, step):
    """`{id(schedule): value at step}` for time-varying multipliers.

    Evaluates each schedule once; the `Thaw`s among them and among the
    factors of products as one vector (a few ops for any number of them).
    """
    from keras_lrx.schedules.thaw import Thaw

    leaves = {}
    for m in schedules:
        for leaf in m.factors if isinstance(m, _Product) else [m]:
            if not is_constant(leaf):
                leaves[id(leaf)] = leaf
    values = {}
    thaws = [m for m in leaves.values() if type(m) is Thaw]
    if len(thaws) > 1:
        vector = Thaw.values_of(thaws, step)
        for thaw, value in zip(thaws, keras.ops.unstack(vector)):
            values[id(thaw)] = value
    for key, m in leaves.items():
        if key not in values:
            values[key] = multiplier_at(m, step)
    for m in schedules:
        if isinstance(m, _Product):
            value = None
            for f in m.factors:
                term = f if is_constant(f) else values[id(f)]
                value = (
                    term if value is None else keras.ops.multiply(value, term)
                )
            values[id(m)] = value
    return values


def shared_schedules(multipliers):
    """`multipliers` with equal schedules made one object.

    Two schedules are equal when they are of one class with one config
    (`gradual_unfreezing` gives every layer of a block its own `Thaw`);
    LRX evaluates each object once per step and, on TensorFlow, updates the
    variables of one object under one condition.
    """
    seen = {}
    return [
        m if is_constant(m) else seen.setdefault(_schedule_key(m), m)
        for m in multipliers
    ]


def _schedule_key(multiplier):
    if isinstance(multiplier, _Product):
        return ("product",) + tuple(
            f if is_constant(f) else _schedule_key(f)
            for f in multiplier.factors
        )
    get_config = getattr(multiplier, "get_config", None)
    if get_config is None:
        return ("object", id(multiplier))
    try:
        config = json.dumps(get_config(), sort_keys=True, default=repr)
    except (NotImplementedError, TypeError, ValueError):
        return ("object", id(multiplier))
    return (type(multiplier), config)


def describe_multiplier(multiplier):
    """A short label: `0.1`, `Thaw(1, start_step=200)`."""
    if is_constant(multiplier):
        return f"{multiplier:g}"
    text = repr(multiplier)
    if text.startswith("<"):  # a default object repr: name the type
        text = getattr(multiplier, "name", None) or type(multiplier).__name__
    return text


class _Product:
    """The product of a variable's factors when one is a schedule."""

    def __init__(self, factors):
        self.factors = factors

    def __call__(self, step):
        value = None
        for factor in self.factors:
            term = multiplier_at(factor, step)
            value = term if value is None else keras.ops.multiply(value, term)
        return value

    def active_from(self):
        starts = [active_from(f) for f in self.factors]
        return None if None in starts else max(starts)

    def value_at(self, step):
        value = 1.0
        for factor in self.factors:
            value *= multiplier_float(factor, step)
        return value

    def __repr__(self):
        return " x ".join(describe_multiplier(f) for f in self.factors)


def product_of(values):
    """One multiplier equal to the product of `values` (numbers and
    schedules of the step): a float, a schedule, or a product of both."""
    constant = 1.0
    schedules = []
    for value in values:
        if isinstance(value, numbers.Real):
            constant *= float(value)
        else:
            schedules.append(value)
    if not schedules or constant == 0.0:
        return constant
    factors = ([constant] if constant != 1.0 else []) + schedules
    return factors[0] if len(factors) == 1 else _Product(factors)


def _combine(resolutions):
    """One variable's `Resolution` from its resolution in every factor."""
    path = resolutions[0].path
    values = [r.multiplier for r in resolutions]
    chosen = [r for r in resolutions if r.source != "default"]
    source = " x ".join(r.source for r in chosen) or "default"
    labels = [r.label for r in chosen if r.label is not None]
    return Resolution(
        path, product_of(values), source, labels[0] if labels else None
    )


class _Candidate:
    """One key selecting one variable: how, and through which group."""

    __slots__ = ("key", "kind", "group", "depth")

    def __init__(self, key, kind, group, depth=None):
        self.key = key
        self.kind = kind
        self.group = group  # ids of the variables the matched layer/key holds
        self.depth = depth  # nesting depth of the match, where known

    def beats(self, other):
        """Whether this candidate is more specific than `other`."""
        if self.kind != other.kind:
            return self.kind > other.kind
        if self.group != other.group:
            if self.group < other.group:
                return True
            if other.group < self.group:
                return False
            if len(self.group) != len(other.group):
                return len(self.group) < len(other.group)
        else:
            mine, theirs = self.key.layer, other.key.layer
            if mine is not None and theirs is not None and mine is not theirs:
                if id(mine) in other.key.descendants:
                    return True
                if id(theirs) in self.key.descendants:
                    return False
            nearer = self._nearer_than_unplaced(other)
            if nearer is not None:
                return nearer
            if (
                self.depth is not None
                and other.depth is not None
                and self.depth != other.depth
            ):
                return self.depth > other.depth
        return self.key.order > other.key.order

    def _nearer_than_unplaced(self, other):
        """Between a layer object the paths do not name (no depth: a nested
        functional model) and a name key: the name key is nearer the
        variable if it names one of the object's sublayers, else the object
        is. None when that is not the case at hand."""
        for obj, name, obj_is_self in (
            (self, other, True),
            (other, self, False),
        ):
            if (
                obj.key.layer is not None
                and obj.depth is None
                and name.key.text is not None
                and name.kind == _LAYER
            ):
                below = name.key.segments[-1] in obj.key.descendant_names
                return below != obj_is_self
        return None


class _Key:
    """One key of a multiplier dict, with the rule that matches it."""

    def __init__(self, key, value, order, argument="multipliers"):
        self.value = value
        self.order = order
        self.layer = None  # a keras.layers.Layer key
        self.saved_name = None  # a saved layer key: its name ...
        self.saved_paths = None  # ... and the paths of its weights
        self.text = None  # a string key
        self.regex = None
        self.descendants = frozenset()
        self.descendant_names = frozenset()
        if isinstance(key, keras.layers.Layer):
            self.layer = key
        elif isinstance(key, dict) and "layer" in key:
            self._init_saved_layer(key, argument)
        elif isinstance(key, str):
            if not key:
                raise ValueError(
                    f"Argument `{argument}` keys must be non-empty strings "
                    "or layers. Received: an empty string key"
                )
            self.text = key
            try:
                self.regex = re.compile(key)
            except re.error as e:
                self.regex_error = e
        else:
            raise TypeError(
                f"Argument `{argument}` keys must be layer names, variable "
                "paths, regular expressions (str) or `keras.layers.Layer` "
                "objects. Keras variables are not hashable: use "
                f"`variable.path` instead. Received: key={key!r} (of type "
                f"{type(key).__name__})"
            )
        if self.text is not None:
            self.segments = self.text.split("/")

    def _init_saved_layer(self, key, argument):
        unknown = set(key) - {"layer", "paths"}
        name = key["layer"]
        paths = key.get("paths")
        if (
            unknown
            or not isinstance(name, str)
            or not (paths is None or isinstance(paths, (list, tuple)))
        ):
            raise TypeError(
                f"Argument `{argument}`: a saved layer key must be "
                '{"layer": <name>, "paths": [<variable paths>]}. '
                f"Received: key={key!r}"
            )
        self.saved_name = name
        if paths:
            self.saved_paths = [str(p) for p in paths]
        else:  # 0.1.0 saved a layer key as its path: match it as a name.
            self.text = name

    @property
    def name(self):
        """The key as a log label: the string, or the layer's name."""
        if self.layer is not None:
            return self.layer.name
        return self.saved_name if self.saved_name is not None else self.text

    def label(self):
        if self.layer is not None or self.saved_name is not None:
            return f"<layer {self.name}>"
        return repr(self.text)

    def to_config(self):
        if self.layer is not None:
            paths = [w.path for w in self.layer.weights]
            if not paths:  # not built yet: only the name can be kept
                return {"layer": self.layer.name}
            return {"layer": self.layer.name, "paths": paths}
        if self.saved_name is not None:
            config = {"layer": self.saved_name}
            if self.saved_paths:
                config["paths"] = list(self.saved_paths)
            return config
        return self.text

    # -------------------------------------------------------------- #
    # Matching.
    # -------------------------------------------------------------- #
    def prepare(self, variables):
        """Collects what matching needs before ranking `variables`."""
        if self.layer is not None:
            self._ids = frozenset(id(w) for w in self.layer.weights)
            below = [
                sub
                for sub in compat.sublayers(self.layer)
                if sub is not self.layer
            ]
            self.descendants = frozenset(id(sub) for sub in below)
            self.descendant_names = frozenset(sub.name for sub in below)
            return
        if self.saved_paths is not None:
            self._prepare_saved_paths(variables)
            return
        if self.regex is None and not hasattr(self, "regex_error"):
            return
        # Keras may root the same variable differently (a reloaded
        # Sequential model drops its own name from the paths), so a key
        # with '/' that selects nothing retries without its leading
        # segments, keeping at least one.
        full = self.text.split("/")
        self._retry_regex = None
        for start in range(len(full)):
            self.segments = full[start:]
            if start and self.regex is not None:
                if not all(_LITERAL_SEGMENT.fullmatch(s) for s in full[:start]):
                    break
                self._retry_regex = re.compile("/".join(full[start:]))
            if any(self._rank_path(v.path) for v in variables):
                return
        self.segments = full
        self._retry_regex = None

    def _prepare_saved_paths(self, variables):
        by_path = {}
        for v in variables:
            by_path.setdefault(v.path, []).append(id(v))
        longest = max(len(p.split("/")) for p in self.saved_paths)
        self._ids = frozenset()
        for start in range(longest):
            tails = {"/".join(p.split("/")[start:]) for p in self.saved_paths}
            ids = {i for tail in tails if tail for i in by_path.get(tail, ())}
            if ids:
                self._ids = frozenset(ids)
                return

    def selects_by_id(self):
        return self.layer is not None or self.saved_paths is not None

    def candidate(self, variable, prefix_groups, pattern_group):
        """A `_Candidate` if this key selects `variable`, else None."""
        if self.selects_by_id():
            if id(variable) not in self._ids:
                return None
            return _Candidate(
                self, _LAYER, self._ids_in_variables, self._depth_in(variable)
            )
        rank = self._rank_path(variable.path)
        if rank is None:
            return None
        kind, end = rank
        if kind == _EXACT:
            return _Candidate(self, _EXACT, frozenset([id(variable)]), None)
        if kind == _LAYER:
            prefix = tuple(variable.path.split("/")[:end])
            return _Candidate(self, _LAYER, prefix_groups[prefix], end)
        return _Candidate(self, _PATTERN, pattern_group, None)

    def _depth_in(self, variable):
        """Where a layer key's layer sits in `variable`'s path, as a name
        key's match would (segments up to and including its name); None if
        the path does not name it."""
        owners = variable.path.split("/")[:-1]
        for end in range(len(owners), 0, -1):
            if owners[end - 1] == self.name:
                return end
        return None

    def _rank_path(self, path):
        if self.text is None:
            return None
        segments = path.split("/")
        n = len(self.segments)
        if segments[-n:] == self.segments and (n > 1 or path == self.text):
            return (_EXACT, 0)
        owners = segments[:-1]
        for end in range(len(owners), n - 1, -1):
            if owners[end - n : end] == self.segments:
                return (_LAYER, end)
        regex = getattr(self, "_retry_regex", None) or self.regex
        if regex is not None and regex.fullmatch(path):
            return (_PATTERN, 0)
        return None


class Resolution:
    """The multiplier of one variable and the key that decided it.

    `source` describes the key (`'body' (layer)`); `label` is its log label
    (the key string or layer name, as `LearningRateMetric(groups=True)` and
    `GroupStatistics` name it), or None when no key decided (a callable, or
    no key selects the variable).
    """

    def __init__(self, path, multiplier, source, label=None):
        self.path = path
        self.multiplier = multiplier
        self.source = source
        self.label = label

    def __repr__(self):
        return (
            f"Resolution(path={self.path!r}, multiplier={self.multiplier}, "
            f"source={self.source!r})"
        )


def _prefix_groups(variables):
    """Maps each leading run of path segments to the ids of its variables."""
    groups = {}
    for v in variables:
        owners = v.path.split("/")[:-1]
        for end in range(1, len(owners) + 1):
            groups.setdefault(tuple(owners[:end]), set()).add(id(v))
    return {prefix: frozenset(ids) for prefix, ids in groups.items()}


class MultiplierMap:
    """Maps variables to learning-rate multipliers.

    A multiplier is a finite number >= 0 or a schedule of the step (a
    `LearningRateSchedule` such as `keras_lrx.schedules.Thaw`, or a callable
    `step -> value`); `LRX` then trains the variable at
    `schedule(t) * m(t)`. `MultiplierMap.product(a, b, ...)` (also
    `keras_lrx.combine`) multiplies several sources.

    Args:
        multipliers: None (every variable at 1.0), a dict of key -> multiplier,
            a list of `(key, multiplier)` pairs (the serialized form of a
            dict), or a callable `variable -> multiplier | None` (None means
            1.0).

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((3,)),
    ...                           keras.layers.Dense(2, name="body"),
    ...                           keras.layers.Dense(1, name="head")],
    ...                          name="net")
    >>> m = MultiplierMap({"body": 0.1, r".*/bias": 0.0})
    >>> [(r.path, r.multiplier) for r in m.resolve(model.trainable_variables)]
    [('net/body/kernel', 0.1), ('net/body/bias', 0.1), \
('net/head/kernel', 1.0), ('net/head/bias', 0.0)]
    """

    def __init__(
        self,
        multipliers: Mapping[
            Any, float | LearningRateSchedule | Callable[[Any], Any]
        ]
        | Sequence[
            tuple[Any, float | LearningRateSchedule | Callable[[Any], Any]]
        ]
        | Callable[[keras.Variable], Any]
        | MultiplierMap
        | None = None,
        argument: str = "multipliers",
    ) -> None:
        self.function = None
        self.keys = []
        self.factors = []
        # The argument named in error messages (`weight_decay_multipliers`
        # for an LRX's decay rules).
        self.argument = argument
        if multipliers is None:
            return
        if isinstance(multipliers, MultiplierMap):
            self.function = multipliers.function
            self.keys = list(multipliers.keys)
            self.factors = [
                MultiplierMap(f, argument) for f in multipliers.factors
            ]
            return
        if isinstance(multipliers, Mapping):
            items = list(multipliers.items())
        elif isinstance(multipliers, (list, tuple)):
            items = []
            for item in multipliers:
                if not (isinstance(item, (list, tuple)) and len(item) == 2):
                    raise TypeError(
                        f"Argument `{argument}` given as a list must hold "
                        f"(key, multiplier) pairs. Received item: {item!r}"
                    )
                items.append(tuple(item))
        elif callable(multipliers):
            self.function = multipliers
            return
        else:
            raise TypeError(
                f"Argument `{argument}` must be None, a dict mapping keys to "
                "multipliers, or a callable `variable -> float | None`. "
                f"Received: {argument}={multipliers!r}"
            )
        keys = []
        for order, (key, value) in enumerate(items):
            value = check_multiplier(value, argument)
            keys.append(_Key(key, value, order, argument))
        self.keys = keys

    def resolve(
        self,
        variables: Iterable[keras.Variable],
        other_variables: Iterable[keras.Variable] | None = None,
        strict: bool = False,
    ) -> list[Resolution]:
        """Returns one `Resolution` per variable, in order.

        A key that selects none of `variables` is decided from what is
        given, never from where the call comes from:

        * a `Layer`-object key carries its weights: if it has any, it names
          a frozen layer (fine unless `strict`);
        * with `other_variables` given (the model's other weights), a key
          that selects some of them names frozen weights (fine unless
          `strict`), and a key that selects nothing at all is an error;
        * without `other_variables` (an optimizer's `build`, which gets the
          trainable variables only), a name or pattern that selects nothing
          trainable may be a frozen layer or a typo: a `UserWarning` lists
          the trainable paths, and `strict=True` makes it an error.

        Args:
            variables: The trainable variables to resolve.
            other_variables: The model's other (non-trainable) variables, or
                None where they are not known. Defaults to None.
            strict: Whether a key that selects no trainable variable is an
                error even when it selects non-trainable ones.

        Raises:
            ValueError: if a key is an invalid regular expression that
                selects nothing, selects no variable at all (`other_variables`
                given), selects no trainable variable under `strict`, or a
                callable returns something other than None or a finite
                number >= 0.
        """
        variables = list(variables)
        resolutions, unused = self._resolve_keys(variables)
        # Here, for every source of a product at once: the warning's
        # `stacklevel` points at the caller of `resolve`'s caller.
        self._check_unused(unused, variables, other_variables, strict)
        return resolutions

    def _resolve_keys(self, variables):
        """`(resolutions, keys that select none of variables)`."""
        if self.factors:
            each = [factor._resolve_keys(variables) for factor in self.factors]
            resolutions = [_combine(rs) for rs in zip(*(r for r, _ in each))]
            return resolutions, [key for _, unused in each for key in unused]
        if self.function is not None:
            return [self._call_function(v) for v in variables], []
        ids = frozenset(id(v) for v in variables)
        for key in self.keys:
            key.prepare(variables)
            if key.selects_by_id():
                key._ids_in_variables = key._ids & ids
        prefix_groups = _prefix_groups(variables)
        pattern_groups = {
            key.order: frozenset(
                id(v)
                for v in variables
                if (key._rank_path(v.path) or (None,))[0] == _PATTERN
            )
            for key in self.keys
            if key.regex is not None
        }
        used = set()
        resolutions = [
            self._resolve_one(v, prefix_groups, pattern_groups, used)
            for v in variables
        ]
        return resolutions, [k for k in self.keys if k.order not in used]

    def _resolve_one(self, variable, prefix_groups, pattern_groups, used):
        """The most specific key's `Resolution` for `variable`; adds every
        key that selects it to `used`."""
        best = None
        for key in self.keys:
            found = key.candidate(
                variable, prefix_groups, pattern_groups.get(key.order)
            )
            if found is None:
                continue
            used.add(key.order)
            if best is None or found.beats(best):
                best = found
        if best is None:
            return Resolution(variable.path, 1.0, "default")
        source = f"{best.key.label()} ({_KIND_NAMES[best.kind]})"
        return Resolution(variable.path, best.key.value, source, best.key.name)

    def _check_unused(self, unused, variables, other_variables, strict):
        if not unused:
            return
        known = other_variables is not None
        others = list(other_variables or [])
        frozen_only = [k for k in unused if _selects_any(k, others)]
        typos = [k for k in unused if k not in frozen_only]
        invalid = [k for k in typos if hasattr(k, "regex_error")]
        if invalid:
            key = invalid[0]
            raise ValueError(
                f"Argument `{self.argument}`: key {key.label()} is not a valid "
                f"regular expression ({key.regex_error}) and is no variable "
                "path or layer name either. Received: "
                f"key={key.text!r}"
            )
        if typos:
            paths = [v.path for v in variables]
            shown = ", ".join(repr(p) for p in paths[:6])
            more = f", ... ({len(paths)} in all)" if len(paths) > 6 else ""
            names = ", ".join(k.label() for k in typos)
            grammar = (
                "A key is an exact variable path, a layer name (one or more "
                "'/'-separated path segments), a layer object, or a regular "
                "expression matched with re.fullmatch against the whole path. "
                f"Trainable variable paths are: {shown}{more}"
            )
            if known or strict:
                raise ValueError(
                    f"Argument `{self.argument}`: key(s) {names} match no "
                    f"{'' if known else 'trainable '}variable. {grammar}"
                )
            warnings.warn(
                f"Argument `{self.argument}`: key(s) {names} match no "
                "trainable variable: a frozen layer's name, or a typo. Key a "
                "frozen layer by the layer object, check the keys against the "
                "model with `LRX.check_multipliers(model)`, or pass "
                f"strict=True to make this an error. {grammar}",
                stacklevel=4,
            )
        if strict and frozen_only:
            names = ", ".join(k.label() for k in frozen_only)
            raise ValueError(
                f"Argument `{self.argument}`: key(s) {names} select only "
                "non-trainable variables (a frozen layer, or base weights "
                "after `enable_lora`), and `strict=True` was given. Remove "
                "the key(s), unfreeze the layer, or pass strict=False."
            )

    def _call_function(self, variable):
        value = self.function(variable)
        if value is None:
            return Resolution(variable.path, 1.0, "default")
        try:
            value = check_multiplier(value, self.argument)
        except (TypeError, ValueError) as e:
            raise type(e)(
                f"The `{self.argument}` callable returned {value!r} for "
                f"variable {variable.path!r}; it must return None, a finite "
                "number >= 0 or a schedule of the step."
            ) from e
        return Resolution(variable.path, value, "callable")

    @classmethod
    def product(
        cls,
        *factors: Mapping[
            Any, float | LearningRateSchedule | Callable[[Any], Any]
        ]
        | Callable[[keras.Variable], Any]
        | MultiplierMap,
    ) -> MultiplierMap:
        """The product of several multiplier sources, one factor each.

        Each factor (a dict, a callable, a `MultiplierMap`) resolves on its
        own, by the rules above; a variable's multiplier is the product of
        what every factor gives it (1 where a factor selects it with no
        key). The order of the factors does not matter. `keras_lrx.combine`
        calls this.
        """
        if not factors:
            raise ValueError(
                "`combine` needs at least one multiplier source. Received: "
                "no arguments"
            )
        maps = [MultiplierMap(f) for f in factors]  # may raise
        combined = cls()
        combined.factors = maps
        return combined

    def all_keys(self) -> list[Any]:
        """The keys of this map and of each factor of a product."""
        if self.factors:
            return [k for f in self.factors for k in f.all_keys()]
        return list(self.keys)

    def get_config(self) -> dict[str, Any] | list[Any] | None:
        """Returns a JSON-friendly form that `from_config` turns back."""
        if self.factors:
            return {"product": [f.get_config() for f in self.factors]}
        if self.function is not None:
            return keras.saving.serialize_keras_object(self.function)
        if not self.keys:
            return None
        return [[k.to_config(), _value_config(k.value)] for k in self.keys]

    @classmethod
    def from_config(
        cls,
        config: dict[str, Any] | list[Any] | None,
        custom_objects: dict[str, Any] | None = None,
        argument: str = "multipliers",
    ) -> MultiplierMap:
        if isinstance(config, dict) and set(config) == {"product"}:
            product = cls.product(
                *[
                    cls.from_config(c, custom_objects, argument)
                    for c in config["product"]
                ]
            )
            return cls(product, argument)
        if isinstance(config, dict):
            config = keras.saving.deserialize_keras_object(
                config, custom_objects=custom_objects
            )
        elif isinstance(config, (list, tuple)):
            config = [
                (
                    key,
                    keras.saving.deserialize_keras_object(
                        value, custom_objects=custom_objects
                    )
                    if isinstance(value, dict)
                    else value,
                )
                for key, value in config
            ]
        return cls(config, argument)


def combine(
    *sources: Mapping[Any, float | LearningRateSchedule | Callable[[Any], Any]]
    | Callable[[keras.Variable], Any]
    | MultiplierMap,
) -> MultiplierMap:
    """The product of several multiplier sources.

    Each source (a dict of keys, a callable of the variable, a
    `MultiplierMap`, or the dict `layerwise_decay` or `gradual_unfreezing`
    returns) resolves on its own by its own rules; a variable trains at the
    product of what each gives it (1 from a source that does not select
    it). The order of the sources does not matter; a constant 0 from any of
    them freezes the variable for good. The product saves with the
    optimizer, and `LRX.describe()` shows each factor's key.

    Args:
        *sources: One or more multiplier sources.

    Returns:
        A `MultiplierMap` for `LRX(multipliers=...)`.

    Raises:
        TypeError: if a source is not a dict, callable or `MultiplierMap`.
        ValueError: if no source is given.

    Example:

    >>> import keras
    >>> from keras_lrx import LRX, combine, layerwise_decay
    >>> model = keras.Sequential(
    ...     [keras.Input((4,))]
    ...     + [keras.layers.Dense(4, name=f"block_{i}") for i in range(2)]
    ...     + [keras.layers.Dense(1, name="head")], name="toy")
    >>> both = combine(layerwise_decay(model, 0.5, head=["head"]),
    ...                {r".*/bias": 2.0})
    >>> {r.path: r.multiplier for r in both.resolve(model.trainable_variables)}
    {'toy/block_0/kernel': 0.25, 'toy/block_0/bias': 0.5, \
'toy/block_1/kernel': 0.5, 'toy/block_1/bias': 1.0, 'toy/head/kernel': 1.0, \
'toy/head/bias': 2.0}
    """
    return MultiplierMap.product(*sources)


def _value_config(value):
    if is_constant(value):
        return value
    return keras.saving.serialize_keras_object(value)


def _selects_any(key, variables):
    """Whether `key` selects any of `variables` (a layer: has weights)."""
    if key.layer is not None:
        return bool(key.layer.weights)
    if not variables:
        return False
    key.prepare(variables)
    if key.selects_by_id():
        return bool(key._ids)
    return any(key._rank_path(v.path) for v in variables)
