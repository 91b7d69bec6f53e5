"""Which learning-rate multiplier each variable gets.

This module only maps *keys* (layer names, path patterns, layer objects, exact
variable paths, or a callable) to one multiplier per variable. It knows nothing
about optimizers, so the rules can be read, tested and serialized on their own.

Resolution rules (documented in the README under "How multiplier keys resolve"):

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
* When several keys select one variable, the most specific key wins: a path
  match beats any layer key, a layer key beats any pattern; between two layer
  keys the deeper (more nested) layer wins; remaining ties go to the key that
  comes later in the dict. So layer-wise decay is written outermost first:
  ``{"encoder": 0.1, "encoder/block_11": 0.5}``.
* A key with ``/`` that selects nothing is retried without its leading
  segments (``"sequential/body"`` becomes ``"body"``): Keras roots the same
  variable differently after `load_model` (a reloaded Sequential model's
  paths lose the model name), and a saved LRX must still resolve.
* A key that selects no variable is an error when the optimizer is built: a
  typo must not silently train at the default rate.
"""

import math
import numbers
import re

import keras

_EXACT, _LAYER, _PATTERN = 3, 2, 1
_KIND_NAMES = {_EXACT: "path", _LAYER: "layer", _PATTERN: "pattern"}


def check_multiplier(value, name="multipliers"):
    """Returns `value` as a float after checking it is finite and >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(
            f"Argument `{name}` values must be finite numbers >= 0. "
            f"Received: {name}={value!r} (type {type(value).__name__})"
        )
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(
            f"Argument `{name}` values must be finite numbers >= 0. "
            f"Received: {name}={value!r}"
        )
    return value


class _Key:
    """One key of a multiplier dict, with the rule that matches it."""

    def __init__(self, key, value, order):
        self.value = value
        self.order = order
        self.layer = None
        self.text = None
        self.regex = None
        if isinstance(key, keras.layers.Layer):
            self.layer = key
        elif isinstance(key, dict) and set(key) == {"layer"}:
            # The serialized form of a Layer key: its path, matched as a name.
            self.text = str(key["layer"])
        elif isinstance(key, str):
            if not key:
                raise ValueError(
                    "Argument `multipliers` keys must be non-empty strings or "
                    "layers. Received an empty string key."
                )
            self.text = key
            try:
                self.regex = re.compile(key)
            except re.error:
                self.regex = None  # only usable as a name or an exact path
        else:
            raise TypeError(
                "Argument `multipliers` keys must be layer names, variable "
                "paths, regular expressions (str) or `keras.layers.Layer` "
                "objects. Keras variables are not hashable: use "
                f"`variable.path` instead. Received key {key!r} of type "
                f"{type(key).__name__}"
            )
        if self.text is not None:
            self.segments = self.text.split("/")

    @property
    def name(self):
        """The key as a log label: the string, or the layer's name."""
        return self.layer.name if self.layer is not None else self.text

    def label(self):
        if self.layer is not None:
            return f"<layer {self.layer.name}>"
        return repr(self.text)

    def to_config(self):
        if self.layer is None:
            return self.text
        return {"layer": self.layer.path or self.layer.name}

    def prepare(self, variables):
        """Collects what matching needs before ranking `variables`."""
        if self.layer is not None:
            self._ids = {id(w) for w in self.layer.weights}
            path = self.layer.path
            self._depth = len(path.split("/")) if path else 1
            return
        # Keras may root the same variable differently (a reloaded
        # Sequential model drops its own name from the paths), so a key
        # with '/' that selects nothing retries without its leading
        # segments, keeping at least one.
        full = self.text.split("/")
        for start in range(len(full)):
            self.segments = full[start:]
            if any(self._rank_path(v.path) for v in variables):
                return
        self.segments = full

    def rank(self, variable):
        """Returns `(kind, depth)` if this key selects `variable`, else None."""
        if self.layer is not None:
            if id(variable) in self._ids:
                return (_LAYER, self._depth)
            return None
        return self._rank_path(variable.path)

    def _rank_path(self, path):
        segments = path.split("/")
        n = len(self.segments)
        if segments[-n:] == self.segments and (n > 1 or path == self.text):
            return (_EXACT, 0)
        owners = segments[:-1]
        for end in range(len(owners), n - 1, -1):
            if owners[end - n : end] == self.segments:
                return (_LAYER, end)
        if self.regex is not None and self.regex.fullmatch(path):
            return (_PATTERN, 0)
        return None


class Resolution:
    """The multiplier of one variable and the key that decided it."""

    def __init__(self, path, multiplier, source):
        self.path = path
        self.multiplier = multiplier
        self.source = source

    def __repr__(self):
        return (
            f"Resolution(path={self.path!r}, multiplier={self.multiplier}, "
            f"source={self.source!r})"
        )


class MultiplierMap:
    """Maps variables to learning-rate multipliers.

    Args:
        multipliers: None (every variable at 1.0), a dict of key -> multiplier,
            a list of `(key, multiplier)` pairs (the serialized form of a
            dict), or a callable `variable -> float | None` (None means 1.0).

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

    def __init__(self, multipliers=None):
        self.function = None
        self.keys = []
        if multipliers is None:
            return
        if isinstance(multipliers, MultiplierMap):
            self.function = multipliers.function
            self.keys = list(multipliers.keys)
            return
        if isinstance(multipliers, dict):
            items = list(multipliers.items())
        elif isinstance(multipliers, (list, tuple)):
            items = []
            for item in multipliers:
                if not (isinstance(item, (list, tuple)) and len(item) == 2):
                    raise TypeError(
                        "Argument `multipliers` given as a list must hold "
                        f"(key, multiplier) pairs. Received item: {item!r}"
                    )
                items.append(tuple(item))
        elif callable(multipliers):
            self.function = multipliers
            return
        else:
            raise TypeError(
                "Argument `multipliers` must be None, a dict mapping keys to "
                "multipliers, or a callable `variable -> float | None`. "
                f"Received: multipliers={multipliers!r}"
            )
        for order, (key, value) in enumerate(items):
            value = check_multiplier(value, "multipliers")
            self.keys.append(_Key(key, value, order))

    def resolve(self, variables):
        """Returns one `Resolution` per variable, in order.

        Raises:
            ValueError: if a key selects no variable, or a callable returns
                something other than None or a finite number >= 0.
        """
        variables = list(variables)
        if self.function is not None:
            return [self._call_function(v) for v in variables]
        for key in self.keys:
            key.prepare(variables)
        used = set()
        resolutions = []
        for variable in variables:
            best, best_key = None, None
            for key in self.keys:
                rank = key.rank(variable)
                if rank is None:
                    continue
                used.add(key.order)
                candidate = rank + (key.order,)
                if best is None or candidate > best:
                    best, best_key = candidate, key
            if best_key is None:
                resolutions.append(Resolution(variable.path, 1.0, "default"))
            else:
                source = f"{best_key.label()} ({_KIND_NAMES[best[0]]})"
                resolutions.append(
                    Resolution(variable.path, best_key.value, source)
                )
        unused = [k for k in self.keys if k.order not in used]
        if unused:
            paths = [v.path for v in variables]
            shown = ", ".join(repr(p) for p in paths[:6])
            more = f", ... ({len(paths)} in all)" if len(paths) > 6 else ""
            names = ", ".join(k.label() for k in unused)
            raise ValueError(
                f"Argument `multipliers`: key(s) {names} match no trainable "
                "variable. A key is an exact variable path, a layer name "
                "(one or more '/'-separated path segments), a layer object, "
                "or a regular expression matched with re.fullmatch against "
                f"the whole path. Variable paths are: {shown}{more}"
            )
        return resolutions

    def _call_function(self, variable):
        value = self.function(variable)
        if value is None:
            return Resolution(variable.path, 1.0, "default")
        try:
            value = check_multiplier(value, "multipliers")
        except ValueError as e:
            raise ValueError(
                f"The `multipliers` callable returned {value!r} for variable "
                f"{variable.path!r}; it must return None or a finite number "
                ">= 0."
            ) from e
        return Resolution(variable.path, value, "callable")

    def get_config(self):
        """Returns a JSON-friendly form that `from_config` turns back."""
        if self.function is not None:
            return keras.saving.serialize_keras_object(self.function)
        if not self.keys:
            return None
        return [[k.to_config(), k.value] for k in self.keys]

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if isinstance(config, dict):
            config = keras.saving.deserialize_keras_object(
                config, custom_objects=custom_objects
            )
        return cls(config)
