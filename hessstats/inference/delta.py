"""The coefficient table and the delta method: exact Jacobians of functions of the parameters.

Every function takes a fitted :class:`~hessstats.results.FitResult` (``FitResult`` methods delegate
here) and works for any user log-likelihood. Jacobians are exact (``jax.jacfwd``). Covariances are
the result's own (its ``cov_type``), and NaN variances of unidentified parameters reach only the
outputs that actually depend on them.

Inference is normal (Wald z) unless the model declares t-based inference
(:class:`~hessstats.inference.defaults.Inference`; the built-in OLS) or the covariance uses an
estimated Pearson dispersion: then :func:`inference_df` gives the degrees of freedom of the t
reference (``nobs - k`` with ``k`` the mean parameters; ``G - 1`` for cluster covariances and
Driscoll-Kraay, the smaller ``G`` for two-way clustering), as statsmodels OLS, R ``lm``/``glm``
and Stata ``regress`` report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use

from hessstats._checks import check_alpha
from hessstats._config import float64
from hessstats.core import interpret
from hessstats.core.expression import parse_over_names
from hessstats.core.optimize import beyond_identification
from hessstats.errors import ConvergenceWarning, SpecificationError, message, warn

if TYPE_CHECKING:
    from hessstats.results import FitResult

SUMMARY_COLUMNS = ("coef", "std_err", "z", "p_value", "ci_lower", "ci_upper")


def standard_errors(cov: np.ndarray) -> np.ndarray:
    """Square roots of the diagonal of ``cov``; NaN where a variance is negative or NaN.

    Example
    -------
    >>> standard_errors(np.array([[4.0, 0.0], [0.0, -1.0]])).tolist()
    [2.0, nan]
    """
    var = np.diag(cov)
    return np.sqrt(np.where(var >= 0, var, np.nan))


def coef_table(estimates: np.ndarray, std_err: np.ndarray, index: list[str], alpha: float = 0.05,
               df: float | None = None) -> pd.DataFrame:
    """The coefficient table, ``coef, std_err, z, p_value, ci_lower, ci_upper`` indexed by
    ``parameter``, with normal-distribution (Wald z) inference, or with ``df`` given, Student t
    inference on ``df`` degrees of freedom (the third column is then named ``t``): the one place
    it is computed. ``alpha`` must lie in (0, 1) (a :class:`SpecificationError` otherwise).

    Example
    -------
    >>> coef_table(np.array([1.96]), np.array([1.0]), ["b"]).round(4)
               coef  std_err     z  p_value  ci_lower  ci_upper
    parameter                                                  
    b          1.96      1.0  1.96     0.05       0.0      3.92
    >>> coef_table(np.array([2.0]), np.array([1.0]), ["b"], df=10)[["t", "p_value"]].round(4)
                 t  p_value
    parameter              
    b          2.0   0.0734
    """
    alpha = check_alpha(alpha)
    z = estimates / std_err
    if df is None:
        q, p, name = scipy.special.ndtri(1 - alpha / 2), 2 * scipy.special.ndtr(-np.abs(z)), "z"
    else:
        q, p, name = scipy.special.stdtrit(df, 1 - alpha / 2), 2 * scipy.special.stdtr(df, -np.abs(z)), "t"
    frame = pd.DataFrame({"coef": estimates, "std_err": std_err, name: z, "p_value": p,
                          "ci_lower": estimates - q * std_err, "ci_upper": estimates + q * std_err}, index=index)
    frame.index.name = "parameter"
    return frame


def wald_frame(estimates: np.ndarray, cov: np.ndarray, index: list[str], alpha: float = 0.05,
               df: float | None = None) -> pd.DataFrame:
    """:func:`coef_table` of estimates with covariance ``cov`` (t inference with ``df`` given).

    Example
    -------
    >>> wald_frame(np.array([1.96]), np.array([[1.0]]), ["b"])["z"].round(4).tolist()
    [1.96]
    """
    return coef_table(estimates, standard_errors(cov), index, alpha, df)


def inference_df(res: FitResult) -> float | None:
    """Degrees of freedom of the t reference distribution of ``res``, or None for normal (z) inference.

    t applies when the model declares it (``model.defaults.inference``; the built-in OLS, unless
    ``cov_options={"dispersion": "ml"}``) or when ``"nonrobust"`` uses the estimated Pearson
    dispersion (``cov_options={"dispersion": "pearson"}``, R ``summary.glm``). The degrees of
    freedom are ``nobs - k``, ``k`` the mean/index parameters (every parameter when the model
    declares none); with cluster labels (``"cluster"``, Driscoll-Kraay ``"hac"``) ``G - 1``, the
    smaller ``G`` of a two-way clustering (statsmodels OLS, Stata ``regress, vce(cluster)``); with
    ``"survey"`` the design df ``#PSU - #strata`` (Stata ``svy``).

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.ols("TOTEMP ~ GNP + POP", hs.datasets.load("longley")).fit()
    >>> inference_df(res), inference_df(res.with_cov("nonrobust", cov_options={"dispersion": "ml"}))
    (13.0, None)
    """
    if res.cov_type == "survey":  # design df = #PSU - #strata (R survey, Stata svy)
        df = float(res.df_design)
        return df if np.isfinite(df) and df > 0 else None
    defaults = res.model.defaults
    declared = getattr(getattr(defaults, "inference", None), "value", "z")
    dispersion = res.cov_options.get("dispersion") if res.cov_type == "nonrobust" else None
    if dispersion == "ml" or not (declared == "t" or dispersion == "pearson") or not res.nobs:
        return None
    if res.groups is not None:
        codes = np.asarray(res.groups).reshape(len(res.groups), -1)
        return float(min(int(c.max()) + 1 for c in codes.T) - 1)
    mean = getattr(defaults, "mean", None)
    names = set(res.names)
    k = len(mean.parameters) if mean is not None and set(mean.parameters) <= names else res.k_params
    return float(res.nobs - k)


def sandwich(jac: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """``J V J'`` where NaN rows of ``V`` (unidentified parameters) reach only the rows of ``J``
    that load on them.

    Example
    -------
    >>> import numpy as np
    >>> V = np.array([[1.0, np.nan], [np.nan, np.nan]])
    >>> sandwich(np.array([[2.0, 0.0], [1.0, 1.0]]), V).tolist()
    [[4.0, nan], [nan, nan]]
    """
    bad = np.isnan(np.diag(cov))
    out = jac @ np.where(np.isnan(cov), 0.0, cov) @ jac.T
    touched = np.any(jac[:, bad] != 0, axis=1)
    out[touched, :] = np.nan
    out[:, touched] = np.nan
    return out


def warn_unconverged(res: FitResult, what: str) -> None:
    """A :class:`~hessstats.errors.ConvergenceWarning` when ``res`` is not a certified maximum: ``what``
    (standard errors, tests, intervals, margins, predictions) is then computed where the optimiser
    stopped, and inherits its problem.

    Example
    -------
    >>> import warnings, numpy as np, hessstats as hs
    >>> res = hs.fit(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0]))
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error")
    ...     warn_unconverged(res, "delta-method SEs")   # converged: silent
    """
    problems = beyond_identification(str(getattr(res, "convergence_message", "")))
    if not bool(getattr(res, "converged", True)) and problems:  # unidentified alone: NaN confines it
        why = problems[0]
        warn(message(f"{what} of a fit that did not converge", expected="a certified maximum (res.converged)",
                     got=why[:400], fix="fix the fit first (res.convergence_message says what failed): these numbers "
                     "are computed where the optimiser stopped"), ConvergenceWarning)


def _flat(fn: Callable | str | Sequence[str], res: FitResult, what: str) -> tuple[Callable, bool]:
    """``fn`` of the params pytree as a function of the flat vector (output raveled), and whether
    its output is a scalar. The output is checked: float, 0-d or 1-d. Text (one expression, or a
    list of them: a vector) is read over the parameter names (:func:`parse_over_names`)."""
    texts = as_texts(fn)
    if texts is not None:
        parsed = [parse_over_names(text, res.model.names) for text in texts]
        return (lambda theta: jnp.stack([jnp.asarray(ex(theta), dtype=jnp.float64) for ex in parsed])), \
            isinstance(fn, str)
    if not callable(fn):
        raise SpecificationError(message(
            f"{what} is not callable", expected="a function fn(params) of the parameter pytree",
            got=type(fn).__name__, fix="pass a function, e.g. lambda p: jnp.exp(p['beta'][0])"))
    spec = res.model.spec

    def flat(theta):
        return fn(spec.unravel(theta))

    try:
        out = jax.eval_shape(flat, jnp.asarray(res.theta))
    except Exception as exc:
        raise SpecificationError(message(
            f"{what} failed on the parameter pytree", expected="fn(params) written in jax.numpy",
            got=f"{type(exc).__name__}: {exc}"[:300], fix="call it on res.params_tree to debug")) from exc
    shape, dtype = getattr(out, "shape", None), getattr(out, "dtype", None)
    if shape is None or dtype is None or not jnp.issubdtype(dtype, jnp.floating) or len(shape) > 1:
        raise SpecificationError(message(
            f"{what} returned the wrong kind of value", expected="a float scalar or a 1-d float array",
            got=f"{type(out).__name__} of shape {shape} and dtype {dtype}",
            fix="return jnp floats of shape () or (m,); use .ravel() for matrices and float() casts for ints"))
    return (lambda theta: jnp.ravel(jnp.asarray(flat(theta), dtype=jnp.float64))), len(shape) == 0


@float64
def delta_values(res: FitResult, fn: Callable, what: str = "fn") -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """``(value, Jacobian, covariance, is_scalar)`` of ``fn(params)`` by the delta method.

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0]))
    >>> value, jac, cov, scalar = delta_values(res, lambda p: p["mu"] ** 2)
    >>> value.tolist(), jac.round(6).tolist(), cov.round(6).tolist(), scalar
    ([4.0], [[4.0]], [[8.0]], True)
    """
    flat, scalar = _flat(fn, res, what)
    theta = np.asarray(res.theta, dtype=np.float64)
    # one traced program (value and Jacobian), evaluated by numpy or compiled once: op by op, each
    # operation would compile for itself on its first use in a process
    value, jac = interpret.call(lambda t: (flat(t), jax.jacfwd(flat)(t)), theta)
    jac = np.array(jac, dtype=np.float64).reshape(value.size, theta.size)
    jac[~np.isfinite(value)] = np.nan  # no value, no standard error (a finite SE beside NaN would read as a result)
    return value, jac, sandwich(jac, res.cov_array), scalar


def as_texts(fn: Any) -> list[str] | None:
    """The expressions or constraints ``fn`` gives as text (a str, or a non-empty list/tuple of str),
    else None.

    Example
    -------
    >>> as_texts("a / b"), as_texts(["a", "b"]), as_texts(lambda p: p)
    (['a / b'], ['a', 'b'], None)
    """
    if isinstance(fn, str):
        return [fn]
    if isinstance(fn, (list, tuple)) and fn and all(isinstance(f, str) for f in fn):
        return list(fn)
    return None


def _names(names: Any, fn: Callable, size: int, scalar: bool) -> list[str]:
    if names is None and as_texts(fn) is not None:
        return [" ".join(text.split()) for text in as_texts(fn)]
    if names is None:
        base = getattr(fn, "__name__", "fn")
        base = "fn" if base == "<lambda>" else base
        return [base] if scalar else [f"{base}[{i}]" for i in range(size)]
    names = [names] if isinstance(names, str) else [str(n) for n in names]
    if len(names) != size:
        raise SpecificationError(message(
            "names do not match the output of fn", expected=f"{size} names", got=f"{len(names)}: {names}",
            fix="give one name per output element"))
    return names


def delta(res: FitResult, fn: Callable, names: Any = None, alpha: float = 0.05) -> pd.DataFrame:
    """Delta-method table for ``fn(params)`` (scalar or vector) under the result's covariance
    (t inference where the result uses it, :func:`inference_df`).

    ``fn`` is a ``jax.numpy`` function of the parameter pytree, or text over the parameter names as
    ``res.params.index`` shows them (R ``car::deltaMethod(m, "GPA/PSI")``, Stata ``nlcom
    _b[GPA]/_b[PSI]``): one expression, or a list of them for a vector (rows named by the text).

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0]))
    >>> delta(res, lambda p: jnp.exp(p["mu"]), names="exp_mu")[["coef", "std_err"]].round(4)
                 coef  std_err
    parameter                 
    exp_mu     7.3891   5.2249
    >>> delta(res, "exp(mu)")[["coef", "std_err"]].round(4)
                 coef  std_err
    parameter                 
    exp(mu)    7.3891   5.2249
    """
    check_alpha(alpha)
    warn_unconverged(res, "delta-method standard errors")
    value, _, cov, scalar = delta_values(res, fn)
    return wald_frame(value, cov, _names(names, fn, value.size, scalar), alpha, inference_df(res))


def transformed(res: FitResult, alpha: float = 0.05) -> pd.DataFrame:
    """Natural-scale quantities declared as ``transforms={name: fn(params)}`` with delta-method SEs.

    Vector-valued transforms are named ``name[i]``.

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0]),
    ...              transforms={"exp_mu": lambda p: jnp.exp(p["mu"])})
    >>> transformed(res)[["coef", "std_err"]].round(4)
                 coef  std_err
    parameter                 
    exp_mu     7.3891   5.2249
    """
    check_alpha(alpha)
    transforms = res.model.defaults.transforms
    if not transforms:
        raise SpecificationError(message(
            "this model declares no transforms", expected="hs.fit(..., transforms={'sigma': fn})",
            got="no transforms", fix="declare transforms when fitting, or use res.delta(fn)"))
    warn_unconverged(res, "transformed parameters")
    values, jacs, labels = [], [], []
    for name, fn in transforms.items():
        value, jac, _, scalar = delta_values(res, fn, what=f"transform {name!r}")
        values.append(value)
        jacs.append(jac)
        labels += [str(name)] if scalar else [f"{name}[{i}]" for i in range(value.size)]
    jac = np.vstack(jacs)
    return wald_frame(np.concatenate(values), sandwich(jac, res.cov_array), labels, alpha, inference_df(res))
