"""Declarative parameter validation shared by every estimator.

Each estimator class declares ``_param_constraints``: a dict from parameter name to a list of
constraints, any one of which accepts a valid value. Subclasses add to (or override) the dicts
of their bases. :func:`validate_params` checks an estimator's current parameters at the start
of ``fit`` and raises one :class:`InvalidParameterError` naming the parameter, the allowed
values and the value given.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "Boolean",
    "Callbacks",
    "InstanceOf",
    "IntSequence",
    "Interval",
    "InvalidParameterError",
    "Options",
    "RandomState",
    "draw_seed",
    "param_constraints",
    "validate_function_params",
    "validate_params",
]


class InvalidParameterError(ValueError, TypeError):
    """A parameter value outside its declared constraints.

    Both a ``ValueError`` and a ``TypeError`` (as scikit-learn's own), so code catching either
    keeps working whether the value had the wrong type or the wrong range.
    """


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


class Interval:
    """Numbers of a kind (``"int"`` or ``"real"``) within ``[low, high]``.

    ``closed`` is ``"both"``, ``"left"``, ``"right"`` or ``"neither"``; ``None`` bounds are
    infinite and open (``inf`` itself is not accepted). NaN is never accepted.
    """

    def __init__(self, kind, low=None, high=None, closed="both"):
        if kind not in ("int", "real"):
            raise ValueError(f"kind must be 'int' or 'real', got {kind!r}")
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def accepts(self, value):
        if not (_is_int(value) if self.kind == "int" else _is_real(value)):
            return False
        if value != value:  # NaN, of any float type
            return False
        if isinstance(value, numbers.Real) and math.isinf(value) and (
                (value > 0 and self.high is None) or (value < 0 and self.low is None)):
            return False
        if self.low is not None:
            if value < self.low or (value == self.low and self.closed in ("right", "neither")):
                return False
        if self.high is not None:
            if value > self.high or (value == self.high and self.closed in ("left", "neither")):
                return False
        return True

    def __str__(self):
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        low = "-inf" if self.low is None else self.low
        high = "inf" if self.high is None else self.high
        name = "an int" if self.kind == "int" else "a float"
        return f"{name} in the range {left}{low}, {high}{right}"


class Options:
    """Exactly one of the given values (strings, ``None``, ``True`` / ``False``)."""

    def __init__(self, *values):
        self.values = values

    def accepts(self, value):
        for option in self.values:
            if option is None or isinstance(option, bool):
                if value is option or (isinstance(value, np.bool_) and bool(value) is option):
                    return True
            elif isinstance(value, str) and value == option:
                return True
        return False

    def __str__(self):
        return " or ".join(repr(v) for v in self.values)


class Boolean:
    """``True`` or ``False`` (Python or numpy bool)."""

    def accepts(self, value):
        return isinstance(value, (bool, np.bool_))

    def __str__(self):
        return "a bool"


class InstanceOf:
    """An instance of the given type(s) (or an object passing ``check``), described in words."""

    def __init__(self, types, description, check=None):
        self.types, self.description, self.check = types, description, check

    def accepts(self, value):
        if self.check is not None:
            return bool(self.check(value))
        return isinstance(value, self.types)

    def __str__(self):
        return self.description


class IntSequence:
    """A tuple or list of ints, each at least ``low`` (may be empty unless ``min_length``)."""

    def __init__(self, low=1, min_length=0):
        self.low, self.min_length = low, min_length

    def accepts(self, value):
        return (isinstance(value, (tuple, list)) and len(value) >= self.min_length
                and all(_is_int(v) and v >= self.low for v in value))

    def __str__(self):
        return f"a tuple of ints >= {self.low}"


class RandomState:
    """``None``, an int in ``[0, 2**32 - 1]`` or a ``numpy.random.RandomState``."""

    def accepts(self, value):
        return (value is None or isinstance(value, np.random.RandomState)
                or (_is_int(value) and 0 <= value <= 2**32 - 1))

    def __str__(self):
        return "None, an int in [0, 2**32 - 1] or a numpy RandomState"


def draw_seed(random_state):
    """One integer seed in ``[0, 2**31 - 1)`` drawn from a ``random_state`` parameter.

    Every fit draws its seed here once, so that an int, a ``RandomState`` or None give
    torch, numpy and the data splits one reproducible integer."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


class Callbacks:
    """``None`` or a list / tuple of objects with the callback hooks of :mod:`tabnn.callbacks`."""

    hooks = ("on_train_begin", "on_epoch_begin", "on_epoch_end", "on_train_end")

    def accepts(self, value):
        return value is None or (isinstance(value, (list, tuple)) and all(
            any(callable(getattr(c, h, None)) for h in self.hooks) for c in value))

    def __str__(self):
        return "None or a list of tabnn.callbacks.Callback objects"


def param_constraints(cls):
    """The constraints of ``cls``: the ``_param_constraints`` of its bases, then its own."""
    merged = {}
    for klass in reversed(cls.__mro__):
        merged.update(klass.__dict__.get("_param_constraints", {}))
    return merged


def validate_params(estimator):
    """Check every declared parameter of ``estimator``; raise on the first invalid one.

    Raises
    ------
    InvalidParameterError
        Naming the estimator, the parameter, what it accepts and the value given.
    """
    params = estimator.get_params(deep=False)
    for name, allowed in param_constraints(type(estimator)).items():
        if name not in params:  # a subclass that does not expose a base's parameter
            continue
        value = params[name]
        if any(c.accepts(value) for c in allowed):
            continue
        options = "; or ".join(str(c) for c in allowed)
        raise InvalidParameterError(
            f"The {name!r} parameter of {type(estimator).__name__} must be {options}. "
            f"Got {value!r} instead."
        )


def validate_function_params(function, constraints, params):
    """:func:`validate_params` for the keyword arguments of a public function.

    Parameters
    ----------
    function : str
        The function's name, for the message.
    constraints : dict
        Parameter name to a list of constraints, as ``_param_constraints``.
    params : dict
        The arguments given (e.g. ``locals()`` at the top of the function).

    Raises
    ------
    InvalidParameterError
        Naming the function, the parameter, what it accepts and the value given.
    """
    for name, allowed in constraints.items():
        value = params[name]
        if not any(c.accepts(value) for c in allowed):
            options = "; or ".join(str(c) for c in allowed)
            raise InvalidParameterError(
                f"The {name!r} parameter of {function} must be {options}. "
                f"Got {value!r} instead."
            )
