"""What `LRX.build` decided about each variable; immutable afterwards.

As Keras's `MultiOptimizer` decides its groups once and then reads them as
data, `Plan` holds, in the order of the variables LRX was built with: each
variable's resolution (path, multiplier as given, the key that decided it),
its multiplier (equal schedules made one object, so each is evaluated once a
step), whether it is frozen for good (a constant 0: no slots, never updated),
the time-varying multipliers, one condition key per thaw start, and the
weight-decay factors. Every backend's path through the step, `describe()`,
`current_multipliers()` and the metric read the groups from here.

The lists Keras's pipeline hands over are the same objects every step, so
what is derived from one (the multiplier of each variable, the positions that
train) is worked out once per list and kept in one bounded cache.
"""

from __future__ import annotations

from keras_lrx import multipliers as _multipliers


def is_frozen_for_good(multiplier):
    """A constant multiplier of 0: a variable that never trains."""
    return _multipliers.is_constant(multiplier) and multiplier == 0.0


class _ByList:
    """A bounded cache keyed by the objects of a list (their ids).

    The key's objects are kept alive by the entry, so an id is never reused
    while its entry exists. At `limit` entries the cache starts afresh
    (per-step multiplier values of a warmup are new every step).
    """

    def __init__(self, limit):
        self._limit = limit
        self._entries = {}

    def get(self, key, make):
        found = self._entries.get(key)
        if found is None:
            if len(self._entries) >= self._limit:
                self._entries.clear()
            found = self._entries[key] = make()
        return found


class Plan:
    """The groups of one built LRX, as data.

    Args:
        resolutions: One `keras_lrx.multipliers` resolution per variable
            (in the order LRX was built with).
        decay_factors: Dict variable path -> weight-decay factor.
        index_of: Callable `variable -> position` in that order (it accepts
            TensorFlow's per-replica variables inside `extended.update`).
    """

    def __init__(self, resolutions, decay_factors, index_of):
        self.resolutions = tuple(resolutions)
        self.multipliers = tuple(
            _multipliers.shared_schedules([r.multiplier for r in resolutions])
        )
        self.frozen = tuple(
            is_frozen_for_good(r.multiplier) for r in resolutions
        )
        #: Time-varying multipliers, by id.
        self.schedules = {
            id(m): m
            for m in self.multipliers
            if not _multipliers.is_constant(m)
        }
        #: The condition each time-varying multiplier's variables update
        #: under, by id: thaws that start at one step share one (their
        #: values may differ, the condition "started" does not).
        self.condition_keys = {
            key: _condition_key(m) for key, m in self.schedules.items()
        }
        self.decay_factors = dict(decay_factors)
        self._index_of = index_of
        # Per variable list: unbounded in practice (Keras hands over one
        # list per step function), bounded against misuse.
        self._lists = _ByList(64)
        # Torch: the variables training now, per set of values (a warmup
        # gives new values every step).
        self._now = _ByList(8)

    @property
    def paths(self):
        return [r.path for r in self.resolutions]

    def multiplier_of(self, variable):
        """`variable`'s multiplier (a float, or a schedule of the step)."""
        return self.multipliers[self._index_of(variable)]

    def multipliers_of(self, variables):
        """The multiplier of each variable: one list object per list."""
        return self._lists.get(
            ("multipliers",) + tuple(map(id, variables)),
            lambda: [self.multiplier_of(v) for v in variables],
        )

    def training_positions(self, variables):
        """Positions in `variables` of those not frozen for good."""
        return self._lists.get(
            ("training",) + tuple(map(id, variables)),
            lambda: [
                p
                for p, v in enumerate(variables)
                if not is_frozen_for_good(self.multiplier_of(v))
            ],
        )

    def training_now(self, multipliers, floats):
        """Torch's one pass: `(positions, floats)` of the variables whose
        multiplier (`floats`, this step's values of `multipliers`) is > 0,
        and their multipliers as one list object per set of values (the
        pass plans by list)."""
        return self._now.get(
            (id(multipliers), floats),
            lambda: (
                multipliers,  # keeps the id taken
                [p for p, m in enumerate(floats) if m > 0.0],
                [m for m in floats if m > 0.0],
            ),
        )[1:]


def _condition_key(multiplier):
    start = _multipliers.active_from(multiplier)
    if start is not None:
        return ("from", start)
    return ("id", id(multiplier))
