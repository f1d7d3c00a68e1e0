"""Argument-range validators: one place for the checks every public entry point shares.

Each validator returns the value in canonical form (``float`` or ``int``) or raises a
:class:`~hessstats.errors.SpecificationError` that names the argument, the allowed range, what
arrived and a fix. Imports only :mod:`hessstats.errors` (a base layer: anything may call it).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from hessstats.errors import SpecificationError, message


def _real(value: Any) -> float | None:
    """``value`` as a float when it is a real number (not a bool, not a string), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        shape = getattr(value, "shape", None)
        if shape == () and getattr(getattr(value, "dtype", None), "kind", "") in "iuf":  # 0-d numpy/jax number
            return float(value)
        return None
    return float(value)


def check_alpha(alpha: Any, name: str = "alpha") -> float:
    """A significance level strictly between 0 and 1 (``alpha=0.05`` gives 95% intervals).

    Example
    -------
    >>> check_alpha(0.05)
    0.05
    >>> try:
    ...     check_alpha(1.5)
    ... except SpecificationError as e:
    ...     print(str(e).splitlines()[0])
    alpha must be strictly between 0 and 1
    """
    value = _real(alpha)
    if value is None or not 0.0 < value < 1.0:
        raise SpecificationError(message(
            f"{name} must be strictly between 0 and 1", expected=f"a number in (0, 1), e.g. {name}=0.05 for 95% intervals",
            got=repr(alpha)[:100], fix=f"pass {name}=1 - confidence level (0.05, 0.1, 0.01)"))
    return value


def check_tolerance(tol: Any, name: str) -> float:
    """A finite, non-negative tolerance (``nr_tol``, ``hessian_rtol``, ...).

    Example
    -------
    >>> check_tolerance(1e-8, "nr_tol")
    1e-08
    >>> try:
    ...     check_tolerance(float("nan"), "nr_tol")
    ... except SpecificationError as e:
    ...     print(str(e).splitlines()[0])
    nr_tol must be a finite number >= 0
    """
    value = _real(tol)
    if value is None or not math.isfinite(value) or value < 0:
        raise SpecificationError(message(
            f"{name} must be a finite number >= 0", expected=f"{name} >= 0 (a small tolerance such as 1e-8)",
            got=repr(tol)[:100], fix=f"pass a small positive {name}, or leave the default"))
    return value


def check_positive_int(value: Any, name: str, *, hint: str = "", minimum: int = 1) -> int:
    """An integer >= ``minimum`` (1: ``chunk_size``, block sizes; 0: ``maxiter``): not a bool, not a float.

    Example
    -------
    >>> check_positive_int(100, "maxiter")
    100
    >>> try:
    ...     check_positive_int(2.5, "maxiter")
    ... except SpecificationError as e:
    ...     print(str(e).splitlines()[0])
    maxiter must be an integer >= 1
    """
    ok = (isinstance(value, numbers.Integral) and not isinstance(value, bool)) or (
        getattr(value, "shape", None) == () and getattr(getattr(value, "dtype", None), "kind", "") in "iu")
    if not ok or int(value) < minimum:
        raise SpecificationError(message(
            f"{name} must be an integer >= {minimum}", expected=f"an int >= {minimum}{hint}", got=repr(value)[:100],
            fix=f"pass a whole number >= {minimum} for {name}"))
    return int(value)


def check_positive(value: Any, name: str) -> float:
    """A finite number > 0 (search widths, step counts given as floats).

    Example
    -------
    >>> check_positive(40, "max_steps")
    40.0
    """
    number = _real(value)
    if number is None or not math.isfinite(number) or number <= 0:
        raise SpecificationError(message(
            f"{name} must be a finite number > 0", expected=f"{name} > 0", got=repr(value)[:100],
            fix=f"pass a positive {name}, or leave the default"))
    return number
