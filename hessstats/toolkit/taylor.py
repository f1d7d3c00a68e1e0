"""The second-order Taylor model ``T(x) = f(a) + g'(x - a) + (x - a)' H (x - a) / 2``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp
import numpy as np

from hessstats._config import as_float64, float64
from hessstats.core import derivatives
from hessstats.core.params import ParamSpec
from hessstats.errors import SpecificationError, message
from hessstats.toolkit._machinery import flatten_function


@dataclass(frozen=True)
class TaylorError:
    """How well the model approximates ``f`` at ``x``: ``rel_error = abs_error / |actual|``
    (``inf`` when ``actual`` is 0 and the model is not).

    Example
    -------
    >>> e = taylor2(lambda v: v[0]**3, [1.0]).error([2.0])
    >>> e.x, round(e.actual, 12), round(e.model, 12), round(e.abs_error, 12), round(e.rel_error, 12)
    ((2.0,), 8.0, 7.0, 1.0, 0.125)
    """

    x: tuple[float, ...]
    actual: float
    model: float
    abs_error: float
    rel_error: float


@dataclass(frozen=True, eq=False)
class Taylor2:
    """Second-order Taylor model of ``f`` at ``a``; call it at a point (same structure as ``a``,
    or a flat vector) to evaluate the model.

    Example
    -------
    >>> T = taylor2(lambda v: v[0]**3, [1.0])     # 1 + 3 (x - 1) + 3 (x - 1)^2
    >>> round(T.value, 12), T.gradient.round(12).tolist(), T.hessian.round(12).tolist(), round(T([2.0]), 12)
    (1.0, [3.0], [[6.0]], 7.0)
    """

    f: Callable[[Any], Any]
    spec: ParamSpec
    a: np.ndarray
    value: float
    gradient: np.ndarray
    hessian: np.ndarray

    def _flat(self, x: Any) -> np.ndarray:
        v = None
        if _same_structure(x, self.spec):
            v = as_float64(self.spec.ravel(x))
        else:
            try:
                v = as_float64(x).ravel()
            except (TypeError, ValueError):
                pass
        if v is None or v.size != self.a.size:
            raise SpecificationError(message(
                "point does not match the expansion point", expected=f"{self.a.size} coordinates "
                f"({', '.join(self.spec.names)})", got=repr(x), fix="pass a point shaped like a"))
        return v

    @float64
    def __call__(self, x: Any) -> float:
        """The model value ``T(x)``."""
        d = self._flat(x) - self.a
        return float(self.value + self.gradient @ d + 0.5 * d @ self.hessian @ d)

    @float64
    def error(self, x: Any) -> TaylorError:
        """Compare ``f(x)`` with the model at ``x`` (actual, model, absolute and relative error)."""
        v = self._flat(x)
        actual = float(self.f(self.spec.unravel(jnp.asarray(v))))
        model = self(v)
        err = abs(actual - model)
        rel = err / abs(actual) if actual != 0 else (0.0 if err == 0 else float("inf"))
        return TaylorError(tuple(v.tolist()), actual, model, err, rel)


def _same_structure(x: Any, spec: ParamSpec) -> bool:
    try:
        return ParamSpec.from_start(x).shapes == spec.shapes
    except Exception:  # noqa: BLE001 - any failure means "not the same structure"
        return False


@float64
def taylor2(f: Callable[[Any], Any], a: Any) -> Taylor2:
    """The second-order Taylor model of ``f`` at ``a`` with exact gradient and Hessian.

    ``a`` may be a number, list, array or pytree (flattened in ``jax.tree_util`` order).

    Example
    -------
    >>> T = taylor2(lambda v: jnp.exp(v[0]) * jnp.cos(v[1]), [0.0, 0.0])   # 1 + x + (x^2 - y^2)/2
    >>> round(T.value, 12), (T.gradient.round(12) + 0.0).tolist(), (T.hessian.round(12) + 0.0).tolist()
    (1.0, [1.0, 0.0], [[1.0, 0.0], [0.0, -1.0]])
    >>> round(T([0.1, 0.2]), 12)
    1.085
    >>> e = T.error([0.1, 0.2])
    >>> round(e.actual, 6), round(e.abs_error, 6)
    (1.083141, 0.001859)
    """
    flat, v, spec = flatten_function(f, a)
    value = float(flat(jnp.asarray(v)))
    if not np.isfinite(value):
        raise SpecificationError(message(
            "f is not finite at the expansion point", expected="a finite value",
            got=f"f(a) = {value}", fix="expand at a point inside the domain of f"))
    return Taylor2(f, spec, v, value, derivatives.gradient(f, a), derivatives.hessian(f, a))
