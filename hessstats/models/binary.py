"""Binary outcome models: logit and probit, with a linear-programming check for separation.

Log-likelihoods (per observation, ``eta = X @ beta``):

- logit: ``y*eta - log(1 + exp(eta))`` (statsmodels ``Logit``; its Hessian is analytic);
- probit: ``y*log Phi(eta) + (1-y)*log Phi(-eta)`` (statsmodels ``Probit``; analytic).

Built-in post-estimation defaults (``Model.defaults``): ``res.margins()`` differentiates
``P(y=1)`` with respect to every non-constant column of ``X`` (statsmodels ``get_margeff()``), and
``res.lr_test_null()`` fixes every slope at 0 when ``X`` has a constant (statsmodels ``llnull``).

Separation (Albert & Anderson 1984): the MLE does not exist when some ``b != 0`` has
``(2y-1) * x_i'b >= 0`` for every row. Before fitting, :func:`check_separation` solves the linear
programme of Konis (2007) with ``scipy.optimize.linprog``: complete separation (every row strictly
predicted) raises :class:`~hessstats.errors.PerfectSeparationError`, quasi-separation warns
:class:`~hessstats.errors.SeparationWarning`; both name the variables of the separating direction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.stats as jstats
import numpy as np
import scipy.optimize
import scipy.special

from hessstats.errors import PerfectSeparationError, SeparationWarning, message, warn
from hessstats.model import Model
from hessstats.models.design import align_rows, build, design, index_defaults, outcome, require, sparse_direction, weighted

SEPARATION_TOL = 1e-7
"""Rows with ``(2y-1) x_i'b`` above this (columns scaled to max |x| = 1, |b| <= 1) count as predicted."""


class BinaryParams(NamedTuple):
    """Parameters of a binary model: one coefficient per column of X.

    Example
    -------
    >>> BinaryParams(beta=np.zeros(2))
    BinaryParams(beta=array([0., 0.]))
    """

    beta: Any


def logit_loglike(params: BinaryParams, data: dict) -> jnp.ndarray:
    """Per-observation logit log-likelihood ``y*eta - log(1 + exp(eta))``.

    Example
    -------
    >>> data = {"X": np.array([[1.0, 0.5], [1.0, -1.0]]), "y": np.array([1.0, 0.0])}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = logit_loglike(BinaryParams(np.zeros(2)), data)
    >>> np.asarray(out).round(6).tolist()  # log(1/2)
    [-0.693147, -0.693147]
    """
    eta = data["X"] @ params.beta
    return data["y"] * eta - jnp.logaddexp(0.0, eta)


def probit_loglike(params: BinaryParams, data: dict) -> jnp.ndarray:
    """Per-observation probit log-likelihood ``y*log Phi(eta) + (1-y)*log Phi(-eta)``.

    Example
    -------
    >>> data = {"X": np.array([[1.0, 0.5], [1.0, -1.0]]), "y": np.array([1.0, 0.0])}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = probit_loglike(BinaryParams(np.zeros(2)), data)
    >>> np.asarray(out).round(6).tolist()  # log Phi(0)
    [-0.693147, -0.693147]
    """
    eta = data["X"] @ params.beta
    return data["y"] * jstats.norm.logcdf(eta) + (1.0 - data["y"]) * jstats.norm.logcdf(-eta)


def logit_predict(params: BinaryParams, data: dict) -> jnp.ndarray:
    """``P(y=1) = expit(X beta)``: the prediction behind ``res.margins()`` for logit.

    Example
    -------
    >>> data = {"X": np.array([[1.0, 0.0], [1.0, 2.0]])}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = logit_predict(BinaryParams(np.array([0.0, 1.0])), data)
    >>> np.asarray(out).round(6).tolist()
    [0.5, 0.880797]
    """
    return jax.nn.sigmoid(data["X"] @ params.beta)


def probit_predict(params: BinaryParams, data: dict) -> jnp.ndarray:
    """``P(y=1) = Phi(X beta)``: the prediction behind ``res.margins()`` for probit.

    Example
    -------
    >>> data = {"X": np.array([[1.0, 0.0], [1.0, 1.96]])}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = probit_predict(BinaryParams(np.array([0.0, 1.0])), data)
    >>> np.asarray(out).round(6).tolist()
    [0.5, 0.975002]
    """
    return jstats.norm.cdf(data["X"] @ params.beta)


def check_separation(y: np.ndarray, X: np.ndarray, names: Sequence[str]) -> None:
    """Detect complete (raise) or quasi-complete (warn) separation by linear programming.

    Example
    -------
    >>> X = np.column_stack([np.ones(4), [1.0, 2.0, 3.0, 4.0]])
    >>> try:
    ...     check_separation(np.array([0.0, 0.0, 1.0, 1.0]), X, ["const", "x"])
    ... except PerfectSeparationError as e:
    ...     print(str(e).splitlines()[0])
    perfect separation: the outcome is predicted exactly by ['const', 'x']
    """
    scale = np.max(np.abs(X), axis=0)
    signed = (2.0 * y - 1.0)[:, None] * (X / scale)
    k = X.shape[1]
    out = scipy.optimize.linprog(-signed.sum(axis=0), A_ub=-signed, b_ub=np.zeros(len(y)),
                                 bounds=[(-1.0, 1.0)] * k, method="highs")
    if out.status != 0 or -out.fun <= SEPARATION_TOL:
        return
    b = out.x
    # complete separation: maximise t subject to signed @ b >= t
    full = scipy.optimize.linprog(np.r_[np.zeros(k), -1.0], A_ub=np.c_[-signed, np.ones(len(y))],
                                  b_ub=np.zeros(len(y)), bounds=[(-1.0, 1.0)] * k + [(None, 1.0)], method="highs")
    complete = full.status == 0 and -full.fun > SEPARATION_TOL
    predicted_rows = np.ones(len(y), bool) if complete else signed @ b > SEPARATION_TOL
    b = sparse_direction(signed, predicted_rows, b)
    variables = [names[j] for j in np.flatnonzero(np.abs(b) > 1e-6 * np.abs(b).max())]
    predicted = int(predicted_rows.sum())
    if complete:
        raise PerfectSeparationError(message(
            f"perfect separation: the outcome is predicted exactly by {variables}",
            expected="both outcomes at some values of every combination of regressors",
            got=f"a linear combination of {variables} classifies all {len(y)} observations",
            fix="drop or combine those variables, collect more data, or use a penalised (Firth) model"))
    warn(f"quasi-separation: a linear combination of {variables} predicts {predicted} of {len(y)} observations "
         "exactly, so some estimates diverge and their standard errors are meaningless. Drop or combine those "
         "variables, or merge sparse categories.", SeparationWarning)


def _binary(kind: str, y: Any, X: Any, names: Sequence[str] | None, description: dict | None,
            separation: bool) -> Model:
    y = align_rows(X, y=y)["y"]
    X, names = design(X, names)
    y = outcome(y, X.shape[0])
    require((y == 0) | (y == 1), y, what=f"{kind} outcome y", expected="only 0 and 1",
            fix="recode the outcome to 0/1 (e.g. (df.y == 'yes').astype(int))")
    if separation:
        check_separation(y, X, names)
    loglike = logit_loglike if kind == "logit" else probit_loglike
    predict = logit_predict if kind == "logit" else probit_predict

    def expected_information(theta: np.ndarray) -> np.ndarray:
        eta = X @ theta
        if kind == "logit":
            w = scipy.special.expit(eta) * scipy.special.expit(-eta)
        else:
            w = (np.exp(-0.5 * eta**2) / np.sqrt(2 * np.pi)) ** 2 / (scipy.special.ndtr(eta) * scipy.special.ndtr(-eta))
        return (X * w[:, None]).T @ X

    desc = {"model": kind, "formula": None, **(description or {})}
    return build(loglike, BinaryParams(np.zeros(X.shape[1])), {"y": y, "X": X},
                 {"beta": list(names)}, desc, expected_information, defaults=index_defaults(X, names, predict))


@weighted
def logit_model(y: Any, X: Any, *, names: Sequence[str] | None = None, description: dict | None = None,
                separation: bool = True) -> Model:
    """Logistic regression of a 0/1 outcome ``y`` on the columns of ``X`` (include a constant yourself).

    ``separation=True`` runs :func:`check_separation` first.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("spector")
    >>> res = logit_model(df["GRADE"], df[["GPA", "TUCE", "PSI"]].assign(const=1.0)).fit()
    >>> round(float(res.params["GPA"]), 6)
    2.826113
    """
    return _binary("logit", y, X, names, description, separation)


@weighted
def probit_model(y: Any, X: Any, *, names: Sequence[str] | None = None, description: dict | None = None,
                 separation: bool = True) -> Model:
    """Probit regression of a 0/1 outcome ``y`` on the columns of ``X``.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("spector")
    >>> res = probit_model(df["GRADE"], df[["GPA", "TUCE", "PSI"]].assign(const=1.0)).fit()
    >>> round(float(res.params["GPA"]), 6)
    1.62581
    """
    return _binary("probit", y, X, names, description, separation)
