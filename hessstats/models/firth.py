"""Firth's penalised (bias-reduced) logistic regression (Firth 1993; Heinze & Schemper 2002; R
``logistf``, ``brglm2::brglmFit(type="AS_mean")``).

The estimate maximises the penalised log-likelihood ::

    l*(b) = l(b) + 0.5 log det I(b),    I(b) = X' diag(p (1 - p)) X,   p = expit(X b)

(Jeffreys-prior penalty), which is finite even under complete or quasi-complete separation: Firth's
logit is the remedy for separation, so no separation check runs. ``res.llf`` is ``l*`` at the
estimate; likelihood-ratio tests and ``res.profile_ci`` work on ``l*`` (the penalised
profile-likelihood intervals of ``logistf``, its default).

Standard errors (``information=``, a :class:`FirthInformation`):

- ``"fisher"`` (default): ``sqrt(diag(inv(I(b))))``, the inverse *unpenalised* Fisher information at
  the penalised estimate, which is what ``logistf`` (``fit$var``) and ``brglm2`` (``vcov``) report.
  The log-likelihood the model differentiates is ``l(b) + P(b0) + grad P(b0)'(b - b0)`` with
  ``b0 = stop_gradient(b)``: its value and gradient are exactly those of ``l*`` (the estimate is
  Firth's), and its Hessian is the logit's ``-I(b)`` (so ``cov_type="nonrobust"`` is the
  ``logistf`` covariance, and Newton's method is logistf's modified scoring).
- ``"penalised"``: the exact Hessian of ``l*`` (JAX derivatives of the log-determinant),
  ``inv(-d2 l*/db2)``.

The penalty is not a sum over rows: each row carries ``1/n`` of it, so per-observation scores
(``"opg"``, sandwich covariances) are not meaningful for this model.

Post-estimation defaults: ``res.margins()`` differentiates ``P(y=1) = expit(X b)`` in every
non-constant column of ``X``; ``res.lr_test_null()`` fixes every slope at 0 (the penalised LR test of
``logistf``'s ``anova``/``drop1`` against the constant-only model).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hessstats.core.special import expit, softplus
from hessstats.model import Model
from hessstats.models.design import align_rows, build, design, index_defaults, outcome, require


class FirthInformation(enum.Enum):
    """Which information the standard errors of the Firth logit invert.

    Example
    -------
    >>> FirthInformation("fisher")
    <FirthInformation.FISHER: 'fisher'>
    """

    FISHER = "fisher"
    PENALISED = "penalised"


class FirthParams(NamedTuple):
    """Firth logit parameters: one coefficient per column of X.

    Example
    -------
    >>> FirthParams(beta=np.zeros(2))
    FirthParams(beta=array([0., 0.]))
    """

    beta: Any


def firth_penalty(beta: jnp.ndarray, X: jnp.ndarray) -> jnp.ndarray:
    """``0.5 log det(X' diag(p (1 - p)) X)`` at ``p = expit(X beta)`` (by Cholesky).

    Example
    -------
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = firth_penalty(np.zeros(1), np.ones((4, 1)))
    >>> round(float(out), 6)  # 0.5 log(4 / 4)
    0.0
    """
    eta = X @ beta
    w = expit(eta) * expit(-eta)  # p (1 - p) without the cancellation of 1 - p (hessstats.core.special)
    chol = jnp.linalg.cholesky((X * w[:, None]).T @ X)
    return jnp.sum(jnp.log(jnp.diag(chol)))


def _logit_rows(beta: jnp.ndarray, data: dict) -> jnp.ndarray:
    eta = data["X"] @ beta
    return data["y"] * eta - softplus(eta)


def firth_loglike(params: FirthParams, data: dict) -> jnp.ndarray:
    """Per-observation penalised logit log-likelihood ``l_i(b) + P(b) / n`` (sums to ``l*(b)``);
    its Hessian is the exact Hessian of ``l*``.

    Example
    -------
    >>> data = {"X": np.ones((2, 1)), "y": np.array([1.0, 0.0])}
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = firth_loglike(FirthParams(np.zeros(1)), data)
    >>> np.asarray(out).round(6).tolist()  # log(1/2) + 0.5 log(1/2) / 2
    [-0.866434, -0.866434]
    """
    n = data["X"].shape[0]
    return _logit_rows(params.beta, data) + firth_penalty(params.beta, data["X"]) / n


def firth_fisher_loglike(params: FirthParams, data: dict) -> jnp.ndarray:
    """As :func:`firth_loglike` in value and gradient, with the penalty linearised at the current
    point (``P(b0) + grad P(b0)'(b - b0)``, ``b0 = stop_gradient(b)``), so that the Hessian is the
    logit's ``-I(b)``: standard errors from the inverse Fisher information, as ``logistf`` reports.

    Example
    -------
    >>> data = {"X": np.ones((2, 1)), "y": np.array([1.0, 0.0])}
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = firth_fisher_loglike(FirthParams(np.zeros(1)), data)
    >>> np.asarray(out).round(6).tolist()
    [-0.866434, -0.866434]
    """
    X = data["X"]
    n = X.shape[0]
    b0 = jax.lax.stop_gradient(params.beta)
    value, slope = jax.value_and_grad(firth_penalty)(b0, X)
    penalty = value + jnp.dot(jax.lax.stop_gradient(slope), params.beta - b0)
    return _logit_rows(params.beta, data) + penalty / n


def firth_predict(params: FirthParams, data: dict) -> jnp.ndarray:
    """``P(y = 1) = expit(X b)``: the prediction behind ``res.margins()``.

    Example
    -------
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = firth_predict(FirthParams(np.zeros(1)), {"X": np.ones((1, 1))})
    >>> np.asarray(out).round(6).tolist()
    [0.5]
    """
    return expit(data["X"] @ params.beta)


def firth_logit_model(y: Any, X: Any, *, information: FirthInformation | str = FirthInformation.FISHER,
                      names: Sequence[str] | None = None, description: dict | None = None) -> Model:
    """Firth's penalised logistic regression of a 0/1 outcome ``y`` on ``X`` (include a constant yourself).

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("endometrial")
    >>> res = firth_logit_model(df["HG"], df[["NV", "PI", "EH"]].assign(const=1.0)).fit()
    >>> res.params.round(4).tolist()
    [2.9293, -0.0348, -2.6042, 3.7746]
    """
    information = FirthInformation(information)
    y = align_rows(X, y=y)["y"]
    X, names = design(X, names)
    y = outcome(y, X.shape[0])
    require((y == 0) | (y == 1), y, what="Firth logit outcome y", expected="0/1 values",
            fix="recode the outcome as 0/1 (for successes out of trials use hs.binomial)")
    loglike = firth_fisher_loglike if information is FirthInformation.FISHER else firth_loglike

    def expected_information(theta: np.ndarray) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-(X @ theta)))
        return (X * (p * (1 - p))[:, None]).T @ X

    return build(loglike, FirthParams(np.zeros(X.shape[1])), {"y": y, "X": X}, {"beta": list(names)},
                 {"model": "firth_logit", "formula": None, "information": information.value, **(description or {})},
                 expected_information, defaults=index_defaults(X, names, firth_predict))
