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

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import jax.scipy.stats as jstats
import numpy as np
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use

from hessstats.core.compilation import trusted
from hessstats.core.linalg import gram
from hessstats.core.special import expit, log_ndtr, softplus
from hessstats.errors import PerfectSeparationError, SeparationWarning, message, warn
from hessstats.model import Model
from hessstats.models.design import (
    RANK_SCREEN,
    align_rows,
    build,
    design,
    index_defaults,
    outcome,
    require,
    sparse_direction,
    weighted,
)
from hessstats.models.index import with_index_hessian

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


@trusted
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
    return logit_obs({"beta": data["X"] @ params.beta}, {}, data)


@trusted
def logit_obs(eta: dict, extra: dict, data: dict) -> jnp.ndarray:
    """The logit log-likelihood as a function of the linear predictor ``eta["beta"] = X @ beta``
    (the index form: the model's Hessian is assembled as ``X' diag(w) X``).

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):
    ...     out = logit_obs({"beta": np.zeros(2)}, {}, {"y": np.array([1.0, 0.0])})
    >>> np.asarray(out).round(6).tolist()
    [-0.693147, -0.693147]
    """
    e = eta["beta"]
    return data["y"] * e - softplus(e)


@trusted
def probit_obs(eta: dict, extra: dict, data: dict) -> jnp.ndarray:
    """The probit log-likelihood as a function of the linear predictor ``eta["beta"] = X @ beta``.

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):
    ...     out = probit_obs({"beta": np.zeros(2)}, {}, {"y": np.array([1.0, 0.0])})
    >>> np.asarray(out).round(6).tolist()
    [-0.693147, -0.693147]
    """
    e = eta["beta"]
    return data["y"] * log_ndtr(e) + (1.0 - data["y"]) * log_ndtr(-e)


@trusted
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
    return probit_obs({"beta": data["X"] @ params.beta}, {}, data)


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
    return expit(data["X"] @ params.beta)


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


SCREEN_ROWS = 2000
"""Rows of the first subsample that the separation screen tries (more for many columns or sparse ones)."""

SCREEN_PER_COLUMN = 64
"""Rows added to the screen's subsample for each sparse column (at most half its values non-zero)."""


def screen_rows(X: np.ndarray, m: int, seed: int = 0) -> np.ndarray:
    """Sorted row numbers of a screening subsample: ``m`` random rows plus up to
    :data:`SCREEN_PER_COLUMN` rows where each sparse column (dummies of rare categories) is non-zero.

    Example
    -------
    >>> X = np.column_stack([np.ones(100), np.r_[np.zeros(98), 1.0, 1.0]])
    >>> rows = screen_rows(X, 5)
    >>> {98, 99} <= set(rows.tolist()), len(rows) <= 7
    (True, True)
    """
    n = X.shape[0]
    rng = np.random.default_rng(seed)
    picked = [rng.choice(n, size=min(m, n), replace=False)]
    counts = np.count_nonzero(X, axis=0)
    sparse = np.flatnonzero(counts <= n // 2)
    if sparse.size:
        nonzero = X[:, sparse] != 0
        for j in range(sparse.size):
            rows = np.flatnonzero(nonzero[:, j])
            picked.append(rows if rows.size <= SCREEN_PER_COLUMN else rng.choice(rows, SCREEN_PER_COLUMN, replace=False))
    return np.unique(np.concatenate(picked))


def _full_column_rank(Xs: np.ndarray) -> bool:
    """True when the scaled Gram matrix of ``Xs`` is clearly non-singular (the screen's rank condition)."""
    if Xs.shape[0] < Xs.shape[1]:
        return False
    G = gram(Xs)
    diag = np.diag(G)
    if not (np.all(np.isfinite(G)) and np.all(diag > 0)):
        return False
    d = np.sqrt(diag)
    eigenvalues = np.linalg.eigvalsh(G / d[:, None] / d[None, :])
    return bool(eigenvalues[0] > RANK_SCREEN * eigenvalues[-1])


def overlap_certificate(inequality: np.ndarray, equality: np.ndarray | None = None) -> bool:
    """True when there are weights ``lam >= 1`` (and free ``mu``) with
    ``inequality' lam + equality' mu = 0``: then no ``b`` other than those with
    ``inequality @ b = 0`` and ``equality @ b = 0`` has ``inequality @ b >= 0`` and
    ``equality @ b = 0`` (Stiemke's alternative), i.e. no separating direction on these rows.

    Found by a linear programme (scipy ``linprog``, HiGHS) with ``k`` equality rows; accepted only
    when the residual is at rounding level. Rows must be scaled (entries at most 1 in size).

    Example
    -------
    >>> overlap_certificate(np.array([[1.0], [-1.0]])), overlap_certificate(np.array([[1.0], [2.0]]))
    (True, False)
    """
    m, k = inequality.shape
    q = 0 if equality is None else equality.shape[0]
    A = inequality.T if not q else np.hstack([inequality.T, equality.T])
    out = scipy.optimize.linprog(np.r_[np.ones(m), np.zeros(q)], A_eq=A, b_eq=np.zeros(k),
                                 bounds=[(1.0, None)] * m + [(None, None)] * q, method="highs")
    if out.status != 0:
        return False
    residual = float(np.max(np.abs(A @ out.x)))
    return residual <= 1e-9 * max(float(np.sum(np.abs(out.x))), 1.0)


def overlap_certified(X: np.ndarray, scale: np.ndarray, rows_of: Any, equality_of: Any = None) -> bool:
    """The separation/existence screen: certify on subsamples (:func:`screen_rows`, then 4 times as
    many rows) that no separating direction exists, so the linear programme on all rows is not needed.

    ``rows_of(rows)`` gives the scaled inequality rows (``>= 0``) among the row numbers ``rows``,
    ``equality_of(rows)`` the equality rows (``= 0``; count models). A certificate needs the
    subsample's design to have full column rank. False (not certified) with up to
    ``4 * SCREEN_ROWS`` rows or fewer than ``2 * SCREEN_ROWS`` rows in all: the caller decides exactly.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(10_000), rng.normal(size=10_000)])
    >>> sign = np.where(X[:, 1] + rng.logistic(size=10_000) > 0, 1.0, -1.0)
    >>> overlap_certified(X, np.abs(X).max(axis=0), lambda r: sign[r][:, None] * X[r])
    True
    """
    n, k = X.shape
    m = max(SCREEN_ROWS, 40 * k)
    while 2 * m <= n:
        rows = screen_rows(X, m)
        if _full_column_rank(X[rows]):
            equality = None if equality_of is None else equality_of(rows)
            if overlap_certificate(rows_of(rows), equality):
                return True
        m *= 4
        if m > 4 * max(SCREEN_ROWS, 40 * k):
            break
    return False


NEWTON_CERTIFICATE_STEPS = 20
"""Newton steps that :func:`newton_overlap_certificate` takes at most before it gives up."""

NEWTON_CERTIFICATE_CELLS = 200_000
"""Designs with at most this many cells (``n * k``), or too few rows for the subsample screen, try
:func:`newton_overlap_certificate` on all rows first (measured faster than the screen's programme
up to about this size: 6 ms against 12 ms at 20,000 x 4, 13 against 24 at 10,000 x 20)."""


def _certificate_objective(u: np.ndarray, v: np.ndarray | None) -> float:
    value = float(np.sum(u - np.sqrt(1.0 + u * u)))
    return value if v is None else value - 0.5 * float(v @ v)


def _balanced(signed: np.ndarray, lam: np.ndarray, E: np.ndarray | None = None, mu: np.ndarray | None = None) -> bool:
    """True when ``|signed' lam + E' mu|_1 <= SEPARATION_TOL`` is proved, rounding included.

    First with BLAS products and the a-priori bound of a dot product of ``m`` terms in any order
    (Higham, *Accuracy and Stability of Numerical Algorithms*, 3.1: error at most
    ``gamma_m |a|'|lam|``, ``gamma_m = m u / (1 - m u)``; ``2 m eps`` here, which also covers
    the rounding of the bound itself); where that bound is too coarse to decide, with ``math.fsum``
    (each column's sum correctly rounded, the products' rounding added).

    Example
    -------
    >>> a = np.array([[1.0, 0.5], [-1.0, -0.5]])
    >>> _balanced(a, np.array([1.0, 1.0])), _balanced(a, np.array([1.0, 2.0]))
    (True, False)
    """
    eps = float(np.finfo(np.float64).eps)
    k = signed.shape[1]
    rows = signed.shape[0] + (0 if E is None else E.shape[0])
    total = signed.T @ lam
    size = np.abs(signed).T @ np.abs(lam)
    if E is not None:
        total, size = total + E.T @ mu, size + np.abs(E).T @ np.abs(mu)
    bound = 2.0 * rows * eps * float(size.sum())
    if (float(np.abs(total).sum()) + bound) * (1.0 + 2.0 * k * eps) <= SEPARATION_TOL:
        return True
    residual, weight = 0.0, float(np.abs(lam).sum()) + (0.0 if mu is None else float(np.abs(mu).sum()))
    for j in range(k):
        terms = signed[:, j] * lam if mu is None else np.concatenate([signed[:, j] * lam, E[:, j] * mu])
        residual += abs(math.fsum(terms))
    return residual + k * eps * weight <= SEPARATION_TOL


def newton_overlap_certificate(signed: np.ndarray, equality: np.ndarray | None = None) -> bool:
    """True when weights ``lam >= 1`` (and free ``mu`` for the ``equality`` rows) with
    ``|signed' lam + equality' mu|_1 <= SEPARATION_TOL`` are found (proved with rounding included:
    :func:`_balanced`): then every ``b`` with ``|b| <= 1``,
    ``signed @ b >= 0`` and ``equality @ b = 0`` has ``sum(signed @ b) <= b' (signed' lam + equality' mu)
    <= |signed' lam + equality' mu|_1`` (as ``lam >= 1``), so the linear programme of
    :func:`check_separation` (or of :func:`~hessstats.models.count.check_existence`) cannot exceed
    :data:`SEPARATION_TOL`: no separation (Stiemke's alternative). An exact certificate, never a guess.

    ``signed`` holds the rows ``(2 y_i - 1) x_i`` (columns scaled to max |x| = 1; count models: the
    rows ``-x_i`` of zero counts, with ``equality`` the rows ``x_i`` of positive counts). The weights
    come from damped Newton steps maximising ``sum phi(signed @ b) - |equality @ b|^2 / 2`` with
    ``phi(u) = u - sqrt(1 + u^2)`` (strictly concave and increasing, so a maximum exists exactly
    when no separating direction does; ``phi'`` decays like ``1 / (2 u^2)``, not exponentially as a
    likelihood's weights do, so the weights stay within a few orders of magnitude of each other): at
    ``b`` the gradient's weights moved by the Newton step to first order, ``lam = phi'(u) + phi''(u)
    * (signed @ step)`` and ``mu = -(v + equality @ step)``, cancel the gradient up to rounding, and
    ``lam`` is positive near the maximum (a few steps of ``O(n k^2)``). Separated data are never
    certified; then, or when the steps do not settle within :data:`NEWTON_CERTIFICATE_STEPS`, it
    returns False and the linear programme decides.

    Example
    -------
    >>> x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 0.2])
    >>> y = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0])
    >>> X = np.column_stack([np.ones(6), x])
    >>> newton_overlap_certificate((2 * y - 1)[:, None] * X)
    True
    >>> newton_overlap_certificate(np.sign(x[:, None] + 0.1) * X)  # y = 1 exactly when x > -0.1
    False
    """
    n, k = signed.shape
    E = None if equality is None or equality.shape[0] == 0 else equality
    rows = n + (0 if E is None else E.shape[0])
    blocks = [signed] if E is None else [signed, E]
    if n == 0 or rows <= k or any(not np.all(np.isfinite(a)) or np.abs(a).max() > 1.0 for a in blocks):
        return False
    b, u = np.zeros(k), np.zeros(n)
    v = None if E is None else np.zeros(E.shape[0])
    value = _certificate_objective(u, v)
    with np.errstate(all="ignore"):
        for _ in range(NEWTON_CERTIFICATE_STEPS):
            r = np.sqrt(1.0 + u * u)
            d1, d2 = 1.0 - u / r, -1.0 / (r * r * r)  # phi' > 0, phi'' < 0
            hessian, gradient = (signed * d2[:, None]).T @ signed, signed.T @ d1
            if E is not None:
                hessian, gradient = hessian - E.T @ E, gradient - E.T @ v
            try:
                step = np.linalg.solve(hessian, -gradient)
            except np.linalg.LinAlgError:
                return False
            du = signed @ step
            dv = None if E is None else E @ step
            lam = d1 + d2 * du
            low = float(lam.min())
            if not np.all(np.isfinite(lam)):
                return False
            if low > 0.0:
                lam = lam / low
                mu = None if E is None else -(v + dv) / low
                if _balanced(signed, lam, E, mu):
                    return True
            t = 1.0  # damped: the objective must not decrease
            while True:
                trial_u = u + t * du
                trial_v = None if E is None else v + t * dv
                new_value = _certificate_objective(trial_u, trial_v)
                if new_value >= value or t < 1e-4:
                    break
                t *= 0.5
            b, u, v, value = b + t * step, trial_u, trial_v, new_value
            if float(np.abs(b).max()) > 1e4:  # running off: separated, or nearly
                return False
    return False


def check_separation(y: np.ndarray, X: np.ndarray, names: Sequence[str]) -> None:
    """Detect complete (raise) or quasi-complete (warn) separation by linear programming.

    With many rows a subsample is tried first (:func:`overlap_certified`): a certificate of
    overlap on some rows proves that the full data are not separated either (more rows only add
    constraints), so the linear programmes on all rows run only when the screen does not certify.
    Small designs (fewer rows than the screen needs, or at most :data:`NEWTON_CERTIFICATE_CELLS`
    cells) first seek a certificate on all rows by Newton steps (:func:`newton_overlap_certificate`,
    exact: verified weights); the screen and the linear programmes run only when it is not found.

    Example
    -------
    >>> X = np.column_stack([np.ones(4), [1.0, 2.0, 3.0, 4.0]])
    >>> try:
    ...     check_separation(np.array([0.0, 0.0, 1.0, 1.0]), X, ["const", "x"])
    ... except PerfectSeparationError as e:
    ...     print(str(e).splitlines()[0])
    perfect separation: the outcome is predicted exactly by ['const', 'x']
    """
    scale = np.maximum(np.max(X, axis=0), -np.min(X, axis=0))  # max |x| without an (n, k) temporary
    sign = 2.0 * y - 1.0
    n, k = X.shape
    signed = None
    if n * k <= NEWTON_CERTIFICATE_CELLS or n < 2 * max(SCREEN_ROWS, 40 * k):  # a certificate on all rows
        signed = sign[:, None] * (X / scale)
        if newton_overlap_certificate(signed):
            return
    if overlap_certified(X, scale, lambda rows: sign[rows][:, None] * (X[rows] / scale)):
        return
    if signed is None:
        signed = sign[:, None] * (X / scale)
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
    model = build(loglike, BinaryParams(np.zeros(X.shape[1])), {"y": y, "X": X},
                  {"beta": list(names)}, desc, expected_information, defaults=index_defaults(X, names, predict))
    return with_index_hessian(model, logit_obs if kind == "logit" else probit_obs, {"beta": "X"}, check=False)


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
