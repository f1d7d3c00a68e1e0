"""Heckman selection model by maximum likelihood (Stata ``heckman``; R ``sampleSelection::selection``
with ``method="ml"``).

Outcome ``y = X b + e``, observed only when the selection index ``s* = Z g + u > 0``; ``(u, e)``
bivariate normal with ``var(u) = 1``, ``sd(e) = sigma`` and ``corr(u, e) = rho``. Per observation,
with ``r = (y - X b) / sigma``::

    s = 0:  log Phi(-Z g)
    s = 1:  log Phi((Z g + rho r) / sqrt(1 - rho^2)) + log phi(r) - log sigma

Parameters, as Stata estimates them: the outcome coefficients (``<term>``), the selection
coefficients (``select_<term>``), ``athrho = atanh(rho)`` and ``lnsigma = log(sigma)``;
``res.transformed()`` reports ``rho``, ``sigma`` and ``lambda = rho sigma`` with delta-method SEs
(Stata's ``rho``/``sigma``/``lambda`` lines). ``res.lr_test_null()`` is Stata's "LR test of indep.
eqns. (rho = 0)". Start values: Heckman's two-step estimator.

The outcome ``y`` and ``X`` of unselected rows do not enter the likelihood, but must be finite
(fill them with 0 if they are missing).

Post-estimation defaults: ``res.margins()`` differentiates the unconditional mean ``E(y) = X b`` in
every non-constant column of ``X``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use

from hessstats.core.compilation import trusted
from hessstats.core.linalg import least_squares
from hessstats.core.special import log_ndtr
from hessstats.errors import DataError, message
from hessstats.inference.defaults import PostEstimationDefaults
from hessstats.model import Model
from hessstats.models.biprobit import probit_start
from hessstats.models.design import align_rows, build, constant_columns, design, outcome, require

LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


class HeckmanParams(NamedTuple):
    """Heckman parameters: outcome coefficients, selection coefficients, ``athrho``, ``lnsigma``.

    Example
    -------
    >>> HeckmanParams(beta=np.zeros(2), gamma=np.zeros(2), athrho=0.0, lnsigma=0.0)
    HeckmanParams(beta=array([0., 0.]), gamma=array([0., 0.]), athrho=0.0, lnsigma=0.0)
    """

    beta: Any
    gamma: Any
    athrho: Any
    lnsigma: Any


@trusted
def heckman_loglike(params: HeckmanParams, data: dict) -> jnp.ndarray:
    """Per-observation Heckman selection log-likelihood (see the module docstring).

    Example
    -------
    >>> import jax
    >>> data = {"X": np.ones((2, 1)), "Z": np.ones((2, 1)), "y": np.array([0.0, 0.0]), "s": np.array([0.0, 1.0])}
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = heckman_loglike(HeckmanParams(np.zeros(1), np.zeros(1), 0.0, 0.0), data)
    >>> np.asarray(out).round(6).tolist()  # log(1/2); log(1/2) + log phi(0)
    [-0.693147, -1.612086]
    """
    sigma = jnp.exp(params.lnsigma)
    rho = jnp.tanh(params.athrho)
    z = data["Z"] @ params.gamma
    r = (data["y"] - data["X"] @ params.beta) / sigma
    # sqrt(1 - rho^2) = 1 / cosh(athrho), stable for large |athrho|
    selected = (log_ndtr((z + rho * r) * jnp.cosh(params.athrho)) - 0.5 * r * r - LOG_SQRT_2PI
                - params.lnsigma)
    return jnp.where(data["s"] > 0, selected, log_ndtr(-z))


def heckman_predict(params: HeckmanParams, data: dict) -> jnp.ndarray:
    """The unconditional mean ``E(y) = X b``: the prediction behind ``res.margins()``.

    Example
    -------
    >>> heckman_predict(HeckmanParams(np.array([2.0]), np.zeros(1), 0.0, 0.0), {"X": np.ones((1, 1))}).tolist()
    [2.0]
    """
    return data["X"] @ params.beta


def two_step(y: np.ndarray, X: np.ndarray, s: np.ndarray, Z: np.ndarray) -> HeckmanParams:
    """Heckman's (1979) two-step estimator (probit, then OLS with the inverse Mills ratio): the ML start.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> Z = np.column_stack([np.ones(500), rng.normal(size=500)])
    >>> s = (Z @ [0.3, 1.0] + rng.normal(size=500) > 0).astype(float)
    >>> start = two_step(1.0 + rng.normal(size=500), Z[:, :1], s, Z)
    >>> round(float(start.beta[0]))
    1
    """
    gamma = probit_start(s, Z)
    zg = Z @ gamma
    sel = s > 0
    imr = scipy.stats.norm.pdf(zg[sel]) / scipy.stats.norm.cdf(zg[sel])
    coef = least_squares(np.column_stack([X[sel], imr]), y[sel])
    beta, beta_lambda = coef[:-1], coef[-1]
    resid = y[sel] - X[sel] @ beta - beta_lambda * imr
    delta = imr * (imr + zg[sel])
    sigma = float(np.sqrt(max(np.mean(resid ** 2) + beta_lambda ** 2 * np.mean(delta), 1e-12)))
    rho = float(np.clip(beta_lambda / sigma, -0.9, 0.9))
    return HeckmanParams(beta, gamma, float(np.arctanh(rho)), float(np.log(sigma)))


def heckman_model(y: Any, X: Any, selected: Any, Z: Any, *, names: Sequence[str] | None = None,
                  select_names: Sequence[str] | None = None, description: dict | None = None) -> Model:
    """Heckman selection model by ML: outcome ``y`` on ``X`` observed where ``selected`` is 1, selection
    probit of ``selected`` on ``Z``; parameters ``<column>``, ``select_<column>``, ``athrho``, ``lnsigma``.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("psid1976")
    >>> s = (df["participation"] == "yes").astype(float)
    >>> Z = df[["age", "education"]].assign(kids=df["youngkids"] + df["oldkids"], const=1.0)
    >>> res = heckman_model(df["wage"], df[["education", "experience"]].assign(const=1.0), s, Z).fit()
    >>> res.names[-2:], round(float(res.transformed().loc["sigma", "coef"]), 1)
    (('athrho', 'lnsigma'), 4.2)
    """
    rows = align_rows(X, y=y, selected=selected, Z=Z)
    X, names = design(X, names)
    Z, select_names = design(rows["Z"], select_names, what="Z (selection design)")
    if Z.shape[0] != X.shape[0]:
        raise DataError(message("Z and X have different numbers of rows", expected=f"{X.shape[0]} rows in Z",
                                got=f"{Z.shape[0]} rows", fix="build both designs from the same observations"))
    y = outcome(rows["y"], X.shape[0])
    s = outcome(rows["selected"], X.shape[0], what="selected")
    require((s == 0) | (s == 1), s, what="selection indicator", expected="0/1 values",
            fix="pass 1 where the outcome is observed, 0 elsewhere")
    if s.sum() <= X.shape[1] or s.sum() == len(s):
        raise DataError(message("the selection indicator leaves too few selected or no unselected rows",
                                expected=f"more than {X.shape[1]} selected rows and some unselected",
                                got=f"{int(s.sum())} selected of {len(s)}",
                                fix="check the selection variable (with every row selected, use hs.ols)"))
    start = two_step(y, X, s, Z)
    const = constant_columns(X)
    defaults = PostEstimationDefaults(
        null={"athrho": 0.0}, predict=heckman_predict,
        margins_variables={str(n): ("X", j) for j, n in enumerate(names) if not const[j]},
        transforms={"rho": lambda p: jnp.tanh(p.athrho), "sigma": lambda p: jnp.exp(p.lnsigma),
                    "lambda": lambda p: jnp.tanh(p.athrho) * jnp.exp(p.lnsigma)})
    return build(heckman_loglike, start, {"y": y, "X": X, "s": s, "Z": Z},
                 {"beta": list(names), "gamma": [f"select_{n}" for n in select_names], "athrho": "athrho",
                  "lnsigma": "lnsigma"},
                 {"model": "heckman", "formula": None, **(description or {})},
                 extra={"selected": int(s.sum()), "censored": int(len(s) - s.sum())}, defaults=defaults)
