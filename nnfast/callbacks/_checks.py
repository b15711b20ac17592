"""Argument checks shared by the callbacks: errors name the argument, the expectation, the value."""

import math
import numbers

import numpy as np

__all__ = ["real", "integer", "boolean", "verbosity"]


def real(value, name, *, low=None, low_open=False, high=None, high_open=False):
    """``value`` as a finite float in the given interval (None bounds are open-ended)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Expected {name} to be a real number, received: {name}={value!r}")
    v = float(value)
    bad = not math.isfinite(v)
    bad = bad or (low is not None and (v < low or (low_open and v == low)))
    bad = bad or (high is not None and (v > high or (high_open and v == high)))
    if bad:
        lo = "(-inf" if low is None else ("(" if low_open else "[") + repr(low)
        hi = "inf)" if high is None else repr(high) + (")" if high_open else "]")
        raise ValueError(f"Expected {name} in {lo}, {hi}, received: {name}={value!r}")
    return v


def integer(value, name, *, low=0):
    """``value`` as an int >= ``low`` (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Expected {name} to be an integer, received: {name}={value!r}")
    if value < low:
        raise ValueError(f"Expected {name} >= {low}, received: {name}={value!r}")
    return int(value)


def boolean(value, name):
    """``value`` as a bool (True/False, NumPy bools, or the ints 0 and 1)."""
    if not isinstance(value, (bool, numbers.Integral, np.bool_)) or value not in (0, 1):
        raise TypeError(f"Expected {name} to be a bool, received: {name}={value!r}")
    return bool(value)


def verbosity(value, name="verbose"):
    """A verbosity level: an int >= 0 (a bool counts as 0 or 1)."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    return integer(value, name, low=0)
