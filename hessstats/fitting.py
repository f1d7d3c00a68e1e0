"""``hs.fit``: optimise, certify convergence, compute the covariance, return a frozen result."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._config import float64
from .covariance import DEFAULT_RTOL, covariance_for, invert_information
from .errors import ConvergenceWarning, IdentificationWarning, SpecificationError, message, warn
from .model import LogLike, Model
from .optimize import maximize
from .results import FitResult

NR_TOL = 1e-5
"""Convergence needs the scaled gradient ``g' (-H)^-1 g`` below this (Stata's ``nrtolerance``)."""


MODEL_KEYWORDS = ("names", "nobs", "transforms", "expected_information", "description", "extra",
                  "chunk_size", "index", "shard", "progress")
FIT_KEYWORDS = ("start", "method", "cov_type", "groups", "cov_options", "maxiter", "nr_tol", "hessian_rtol")


@float64
def fit(loglike: LogLike, start: Any, data: Any = None, **options: Any) -> FitResult:
    """Fit ``loglike(params, data)`` by maximum likelihood; standard errors from the exact Hessian.

    ``loglike`` returns per-observation values (shape ``(n,)``) that hessstats *sums*; ``start`` is
    a pytree (dict of scalars/arrays). Keywords are those of :class:`~hessstats.model.Model`
    (``names``: start keys to names for their elements; ``nobs``; ``transforms``
    (``{name: fn(params)}``, natural-scale quantities for ``res.transformed()``);
    ``expected_information`` (``fn(theta) -> (k, k)``, for ``cov_type="expected"``); ``chunk_size``,
    ``shard``, ``progress``) and of :func:`fit_model` (``method``, ``cov_type``, ``groups``,
    ``cov_options``, ``maxiter``, ``nr_tol``, ``hessian_rtol``). An unknown keyword is an error.

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([rng.normal(size=200), np.ones(200)])
    >>> y = (X @ [1.0, -0.5] + rng.logistic(size=200) > 0).astype(float)
    >>> def loglike(p, d):
    ...     eta = d["X"] @ p["beta"]
    ...     return d["y"] * eta - jnp.logaddexp(0.0, eta)
    >>> res = hs.fit(loglike, {"beta": np.zeros(2)}, {"X": X, "y": y}, names={"beta": ["x", "const"]})
    >>> res.converged, list(res.params.index)
    (True, ['x', 'const'])
    """
    unknown = sorted(set(options) - set(MODEL_KEYWORDS) - set(FIT_KEYWORDS))
    if unknown:
        raise SpecificationError(message(
            f"unknown keyword(s) {unknown} for hs.fit",
            expected=f"model keywords {list(MODEL_KEYWORDS)} or fit keywords {list(FIT_KEYWORDS[1:])}",
            got=", ".join(f"{k}={options[k]!r}"[:80] for k in unknown), fix="check the spelling"))
    model = Model(loglike, start, data, **{k: v for k, v in options.items() if k in MODEL_KEYWORDS})
    return fit_model(model, **{k: v for k, v in options.items() if k in FIT_KEYWORDS})


@float64
def fit_model(model: Model, *, start: Any = None, method: str = "auto", cov_type: str = "nonrobust",
              groups: Any = None, cov_options: Mapping[str, Any] | None = None, maxiter: int = 100,
              nr_tol: float = NR_TOL, hessian_rtol: float = DEFAULT_RTOL) -> FitResult:
    """Fit an existing :class:`Model` (what ``Model.fit`` calls).

    - ``method``: ``"auto"`` (default: Newton with line search, handing over to scipy's
      trust-region ``"trust-exact"`` on negative curvature), ``"newton"`` or ``"trust-exact"``.
    - ``cov_type``: a name in :data:`hessstats.covariance.REGISTRY`: ``"nonrobust"`` (default,
      inverse observed information), ``"opg"``, ``"HC0"``, ``"robust"`` (HC0 x n/(n-1)),
      ``"cluster"`` (needs ``groups``: labels or a data column name; ``cov_options={"correction":
      "stata"|"statsmodels"|"none"}``) or ``"expected"``. See :mod:`hessstats.covariance`.
    - ``nr_tol``: converged means ``g'(-H)^-1 g < nr_tol`` **and** a negative definite Hessian.
    - ``hessian_rtol``: eigenvalues of the equilibrated information below ``hessian_rtol`` times
      the largest count as zero (unidentified).

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp
    >>> m = Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 2.0]))
    >>> float(fit_model(m).bse["mu"])
    0.7071067811865476
    """
    theta0 = model.start if start is None else np.asarray(model.spec.ravel(start), dtype=np.float64)
    opt = maximize(model, theta0, method=method, maxiter=maxiter)
    inverse = invert_information(opt.hessian, model.names, rtol=hessian_rtol)
    converged, why = _certify(opt, inverse, nr_tol, model.names)
    cov, codes = covariance_for(model, opt.theta, inverse, cov_type, groups, cov_options)
    return FitResult(model=model, theta=opt.theta, llf=opt.llf, gradient_array=opt.gradient,
                     hessian_array=opt.hessian, cov_type=cov_type, cov_array=cov,
                     inverse_information=inverse, converged=converged, iterations=opt.iterations,
                     convergence_message=why, groups=codes, cov_options=dict(cov_options or {}))


def _certify(opt, inverse, nr_tol: float, names: tuple[str, ...]) -> tuple[bool, str]:
    """Stata-style certificate: small scaled gradient and a negative definite Hessian; warn otherwise."""
    grad = opt.gradient
    step = np.linalg.lstsq(-opt.hessian, grad, rcond=None)[0] if np.all(np.isfinite(opt.hessian)) else grad * np.nan
    decrement = abs(float(grad @ step))
    problems = []
    if not np.isfinite(decrement) or decrement > nr_tol or opt.hit_maxiter:
        problems.append(
            f"the optimiser stopped after {opt.iterations} iterations with scaled gradient "
            f"g'(-H)^-1 g = {decrement:.3g} (tolerance {nr_tol:g}; optimiser said: {opt.message})")
        warn(
            f"not converged: {problems[-1]}. Try better start values, a larger maxiter, or rescaling "
            "the data/parameters; the estimates below are not a certified maximum.", ConvergenceWarning)
    if not inverse.ok:
        groups = []
        for eig, frame in inverse.diagnostics.groupby("eigenvalue", sort=True):
            loads = ", ".join(f"{p} ({l:+.3f})" for p, l in zip(frame["parameter"], frame["loading"]))
            groups.append(f"eigenvalue {eig:.3g} [{frame['problem'].iloc[0]}]: {loads}")
        bad = [n for n, b in zip(names, inverse.bad) if b]
        problems.append(f"the information matrix is not positive definite; NaN standard errors for {bad}")
        warn(
            "the Hessian is not negative definite at the optimum, so these parameters are not identified "
            f"and get NaN standard errors: {bad}.\n  " + "\n  ".join(groups) +
            "\n  Fix: drop or combine the collinear parameters, fix one of them, or reparametrise; "
            "inspect res.identification.", IdentificationWarning)
    return (not problems), ("converged" if not problems else "; ".join(problems))
