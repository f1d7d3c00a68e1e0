"""Marginal effects (dy/dx) of a prediction function with delta-method standard errors.

``predict(params, data) -> (n,)`` is any jax function of the parameter pytree and the data (for
an index model, e.g. ``lambda p, d: jax.nn.sigmoid(d["X"] @ p["beta"])``). ``variables`` says
which data columns to differentiate with respect to:

- a list of data keys holding 1-d arrays: ``["age", "income"]``;
- a mapping ``{label: key}`` or ``{label: (key, column)}`` for a column of a 2-d array:
  ``{"GPA": ("X", 0), "TUCE": ("X", 1)}``.

``kind="average"`` (statsmodels ``get_margeff(at="overall")``): the mean over observations of
``d predict_i / d x_i``. ``kind="mean"`` (``at="mean"``): the derivative at the data means (every
row-aligned data array averaged over rows, as statsmodels averages ``exog``). Both assume that
prediction ``i`` depends only on row ``i``. Effects are exact (AD), and their Jacobian with respect
to the parameters is exact too (``jax.jacfwd``); the covariance is the result's (its ``cov_type``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from hessstats._checks import check_alpha
from hessstats._config import float64
from hessstats.core.compilation import TRACES, Program
from hessstats.core.engine import case_weights
from hessstats.errors import SpecificationError, message
from hessstats.inference.delta import sandwich, wald_frame
from hessstats.rows.leaves import map_row_leaves

if TYPE_CHECKING:
    from hessstats.results import FitResult

KINDS = ("average", "mean")


def _variables(variables: Any, data: Any) -> dict[str, tuple[str, int | None]]:
    if variables is None:
        raise SpecificationError(message(
            "margins needs the variables to differentiate", expected="variables=['x1', ...] or {'GPA': ('X', 0)}",
            got="None", fix="name data keys (1-d) or (key, column) pairs for 2-d arrays"))
    items = {str(v): v for v in variables} if not isinstance(variables, Mapping) else dict(variables)
    out = {}
    for label, where in items.items():
        key, col = (where, None) if isinstance(where, str) else tuple(where)
        leaf = data.get(key) if isinstance(data, dict) else None
        ok = leaf is not None and jnp.issubdtype(leaf.dtype, jnp.floating) and (
            (col is None and leaf.ndim == 1) or (col is not None and leaf.ndim == 2 and 0 <= int(col) < leaf.shape[1]))
        if not ok:
            raise SpecificationError(message(
                f"margins variable {label!r} does not point at a float data column",
                expected="a key of a 1-d float array, or (key, column) of a 2-d float array",
                got=f"{where!r} (data keys {sorted(data) if isinstance(data, dict) else type(data).__name__})",
                fix="check the key and column index; integer columns must be float to differentiate"))
        out[label] = (key, None if col is None else int(col))
    return out


def _at_means(data: dict, n: int, weights: Any = None) -> dict:
    if weights is None:
        return map_row_leaves(lambda v: jnp.mean(v, axis=0, keepdims=True), dict(data), n)
    w = jnp.asarray(weights) / jnp.sum(jnp.asarray(weights))
    return map_row_leaves(lambda v: jnp.tensordot(w, v, axes=1)[None], dict(data), n)


def _effects(theta, data, predict: Callable, spec: Any, variables: tuple, weights: Any = None) -> jax.Array:
    """``(m,)`` average derivative of ``predict`` with respect to each ``(key, column)`` variable."""
    params = spec.unravel(theta)
    out = []
    for key, col in variables:
        column = data[key] if col is None else data[key][:, col]

        def total(x, key=key, col=col):
            new = x if col is None else data[key].at[:, col].set(x)
            return jnp.sum(predict(params, {**data, key: new}))

        slopes = jax.grad(total)(column)
        out.append(jnp.mean(slopes) if weights is None else jnp.sum(weights * slopes) / jnp.sum(weights))
    return jnp.stack(out)


@partial(jax.jit, static_argnames=("predict", "spec", "variables"))
def _effects_and_jacobian(theta, data, predict: Callable, spec: Any, variables: tuple, consts: tuple = (), weights=None):
    """Effects and their exact Jacobian in ``theta``, compiled once per (predict program, spec,
    variables); data and the arrays ``predict`` captures (``consts``) are arguments, not baked in, so
    a changed captured array gives new effects instead of the first call's."""
    TRACES["margins"] += 1
    effects = partial(_effects, data=data, predict=lambda p, d: predict(consts, p, d), spec=spec, variables=variables,
                      weights=weights)
    return effects(theta), jax.jacfwd(effects)(theta)


def _defaults(res: FitResult, predict: Any, variables: Any) -> tuple[Callable, Any]:
    """``predict`` and ``variables``, filled in from ``res.model.defaults`` where omitted."""
    defaults = res.model.defaults
    missing = [name for name, value, default in (("predict", predict, defaults.predict),
                                                  ("variables", variables, defaults.margins_variables))
               if value is None and default is None]
    if missing:
        raise SpecificationError(message(
            f"margins needs a prediction function and variables; this model declares no default "
            f"for {' and '.join(missing)}",
            expected="predict(params, data) -> (n,) in jax.numpy and variables=['x1', ...] or {'GPA': ('X', 0)}",
            got=f"margins called without {' and '.join(missing)}",
            fix="pass them, e.g. res.margins(lambda p, d: jax.nn.sigmoid(d['X'] @ p['beta']), {'x': ('X', 1)}); "
                "the built-in logit, probit, poisson and negbin models need neither"))
    predict = defaults.predict if predict is None else predict
    variables = defaults.margins_variables if variables is None else variables
    if not callable(predict):
        raise SpecificationError(message(
            "margins needs a prediction function", expected="predict(params, data) -> (n,) in jax.numpy",
            got=type(predict).__name__, fix="pass predict=..."))
    return predict, variables


@float64
def margins(res: FitResult, predict: Callable | None = None, variables: Any = None, *, kind: str = "average",
            alpha: float = 0.05) -> pd.DataFrame:
    """Marginal effects with delta-method SEs: a ``summary_frame``-like table indexed by variable.

    ``predict`` defaults to ``res.model.defaults.predict`` and ``variables`` to
    ``res.model.defaults.margins_variables``, which the built-in logit, probit (``P(y=1)``),
    poisson and negbin (``exp(X beta)``, per unit of exposure) declare: then ``res.margins()`` is
    statsmodels' ``get_margeff()`` (``kind="mean"``: ``get_margeff(at="mean")``), dy/dx for every
    column of the design except the constant. Dummy columns (``C(g)``) are differentiated like
    any other column, as statsmodels' default ``dummy=False``; for the discrete change pass your own
    ``predict``. A model without those defaults raises :class:`SpecificationError` naming what to pass.

    Example
    -------
    >>> import numpy as np, jax, jax.numpy as jnp, hessstats as hs
    >>> rng = np.random.default_rng(1)
    >>> X = np.column_stack([rng.normal(size=100), np.ones(100)])
    >>> y = rng.poisson(np.exp(X @ [0.3, 0.5])).astype(float)
    >>> res = hs.fit(lambda p, d: d["y"] * (d["X"] @ p["b"]) - jnp.exp(d["X"] @ p["b"]),
    ...              {"b": np.zeros(2)}, {"X": X, "y": y})
    >>> me = margins(res, lambda p, d: jnp.exp(d["X"] @ p["b"]), {"x": ("X", 0)})
    >>> bool(np.isclose(me.loc["x", "coef"], res.params.iloc[0] * y.mean()))
    True
    >>> spector = hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit()
    >>> margins(spector)["coef"].round(6).tolist()  # statsmodels Logit(...).fit().get_margeff().margeff
    [0.362581, 0.012208, 0.305178]
    """
    predict, variables = _defaults(res, predict, variables)
    check_alpha(alpha)
    if kind not in KINDS:
        raise SpecificationError(message(
            "unknown margins kind", expected=f"one of {KINDS}", got=repr(kind),
            fix="'average' (statsmodels at='overall') or 'mean' (at='mean')"))
    data = res.model.data
    if not isinstance(data, dict):
        raise SpecificationError(message(
            "margins needs dict-like data", expected="data passed as a dict or DataFrame",
            got=type(data).__name__, fix="pass the data as {'X': ..., 'y': ...}"))
    chosen = _variables(variables, data)
    n = res.model.nobs  # rows (res.nobs counts what weighted rows stand for)
    weights = case_weights(res.model)  # Stata margins: weighted averages and means
    data = _at_means(data, n, weights) if kind == "mean" else data
    theta = jnp.asarray(res.theta)
    rows = 1 if kind == "mean" else n
    shape = jax.eval_shape(lambda t: predict(res.model.spec.unravel(t), data), theta)
    if getattr(shape, "shape", None) != (rows,) or not jnp.issubdtype(shape.dtype, jnp.floating):
        raise SpecificationError(message(
            "predict returned the wrong shape or dtype", expected=f"float predictions of shape ({rows},)",
            got=f"shape {getattr(shape, 'shape', None)}, dtype {getattr(shape, 'dtype', None)}",
            fix="return one prediction per observation, e.g. jax.nn.sigmoid(d['X'] @ p['beta'])"))
    program, consts, _ = Program.trace(predict, res.model.spec.unravel(theta), data)
    w = None if weights is None or kind == "mean" else jnp.asarray(weights)
    value, jac = _effects_and_jacobian(theta, data, program, res.model.spec, tuple(chosen.values()), consts, weights=w)
    value, jac = np.asarray(value), np.asarray(jac)
    frame = wald_frame(value, sandwich(jac, res.cov_array), list(chosen), alpha)
    frame.index.name = "variable"
    return frame
