"""Bivariate probit (Stata ``biprobit``; seemingly unrelated probits with correlated errors).

``y1* = X1 b1 + e1``, ``y2* = X2 b2 + e2``, ``(e1, e2)`` standard bivariate normal with correlation
``rho``; ``y_j = 1{y_j* > 0}``. Per observation, with ``q_j = 2 y_j - 1``::

    log Phi2(q1 X1 b1, q2 X2 b2; q1 q2 rho)

Parameters: ``<eq1>_<term>``, ``<eq2>_<term>`` (equation labels default to the outcome names), then
``athrho = atanh(rho)``, as Stata estimates and reports it; ``res.transformed()`` gives ``rho`` with
its delta-method SE (Stata's ``rho`` line). ``res.lr_test_null()`` tests ``rho = 0`` (Stata's
"LR test of rho=0"): the null fixes ``athrho`` at 0, i.e. two independent probits.

The bivariate normal CDF (:func:`bivariate_normal_cdf`) is Genz's (2004) algorithm (Drezner &
Wesolowsky 1990 with Gauss-Legendre quadrature, 20 points, and the asymptotic expansion for
``|rho| >= 0.925``), accurate to about 1e-15; its derivatives are *not* derivatives of the quadrature:
a ``jax.custom_jvp`` supplies the closed forms ``dPhi2/dh = phi(h) Phi((k - rho h)/sqrt(1 - rho^2))``,
``dPhi2/dk`` likewise, and ``dPhi2/drho = phi2(h, k; rho)``, which JAX differentiates exactly again.

Post-estimation defaults: ``res.margins()`` differentiates ``P(y1 = 1, y2 = 1)`` in every
non-constant regressor of either equation (``predict(p11)`` of Stata's ``biprobit``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.stats as jst
import numpy as np
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use

from hessstats.core.compilation import trusted
from hessstats.core.linalg import least_squares
from hessstats.errors import DataError, message
from hessstats.inference.defaults import PostEstimationDefaults
from hessstats.model import Model
from hessstats.models.design import align_rows, build, constant_columns, design, outcome, require

_X20 = np.array([0.9931285991850949, 0.9639719272779138, 0.9122344282513259, 0.8391169718222188,
                 0.7463319064601508, 0.6360536807265150, 0.5108670019508271, 0.3737060887154196,
                 0.2277858511416451, 0.07652652113349733])
_W20 = np.array([0.01761400713915212, 0.04060142980038694, 0.06267204833410906, 0.08327674157670475,
                 0.1019301198172404, 0.1181945319615184, 0.1316886384491766, 0.1420961093183821,
                 0.1491729864726037, 0.1527533871307259])
TWO_PI = 2.0 * np.pi


def _upper(h: jnp.ndarray, k: jnp.ndarray, r: jnp.ndarray) -> jnp.ndarray:
    """``P(X > h, Y > k)`` for a standard bivariate normal with correlation ``r`` (Genz's BVNU)."""
    h, k, r = jnp.broadcast_arrays(h, k, r)
    x = jnp.concatenate([1.0 - _X20, 1.0 + _X20])  # nodes on (0, 2)
    w = jnp.concatenate([_W20, _W20])
    # |r| < 0.925: integrate over asin(r)
    hk, hs = h * k, (h * h + k * k) / 2.0
    asr = jnp.arcsin(jnp.clip(r, -0.925, 0.925))
    sn = jnp.sin(asr[..., None] * x / 2.0)
    inner = jnp.sum(w * jnp.exp((sn * hk[..., None] - hs[..., None]) / (1.0 - sn * sn)), axis=-1)
    small = inner * asr / (2.0 * TWO_PI) + jst.norm.cdf(-h) * jst.norm.cdf(-k)
    # |r| >= 0.925: Genz's expansion around |r| = 1
    kk = jnp.where(r < 0, -k, k)
    hk2 = h * kk
    rr = jnp.clip(jnp.abs(r), 0.925, 1.0 - 1e-16)
    a_s = (1.0 - rr) * (1.0 + rr)
    a = jnp.sqrt(a_s)
    bs = (h - kk) ** 2
    c, d = (4.0 - hk2) / 8.0, (12.0 - hk2) / 16.0
    e1 = -(bs / a_s + hk2) / 2.0
    bvn = jnp.where(e1 > -100, a * jnp.exp(jnp.maximum(e1, -100.0))
                    * (1.0 - c * (bs - a_s) * (1.0 - d * bs / 5.0) / 3.0 + c * d * a_s * a_s / 5.0), 0.0)
    b = jnp.sqrt(bs)
    sp = jnp.sqrt(TWO_PI) * jst.norm.cdf(-b / a)
    bvn = jnp.where(hk2 > -100, bvn - jnp.exp(-jnp.minimum(hk2, 100.0) / 2.0) * sp * b
                    * (1.0 - c * bs * (1.0 - d * bs / 5.0) / 3.0), bvn)
    half = a / 2.0
    xs = (half[..., None] * x) ** 2  # (a/2 (1 -/+ x_i))^2
    rs = jnp.sqrt(1.0 - xs)
    e2 = -(bs[..., None] / xs + hk2[..., None]) / 2.0
    sp2 = 1.0 + c[..., None] * xs * (1.0 + d[..., None] * xs)
    ep = jnp.exp(-hk2[..., None] * xs / (2.0 * (1.0 + rs) ** 2)) / rs
    terms = jnp.where(e2 > -100, half[..., None] * w * jnp.exp(jnp.maximum(e2, -100.0)) * (ep - sp2), 0.0)
    bvn = -(bvn + jnp.sum(terms, axis=-1)) / TWO_PI
    between = jnp.where(h < 0, jst.norm.cdf(kk) - jst.norm.cdf(h), jst.norm.cdf(-h) - jst.norm.cdf(-kk))
    large = jnp.where(r > 0, bvn + jst.norm.cdf(-jnp.maximum(h, kk)),
                      jnp.where(h >= kk, -bvn, between - bvn))
    return jnp.clip(jnp.where(jnp.abs(r) < 0.925, small, large), 0.0, 1.0)


@jax.custom_jvp
def bivariate_normal_cdf(h: Any, k: Any, r: Any) -> jnp.ndarray:
    """``Phi2(h, k; r) = P(X <= h, Y <= k)``, standard bivariate normal with correlation ``|r| < 1``
    (Genz 2004), with closed-form derivatives of every order (``jax.custom_jvp``).

    Example
    -------
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = bivariate_normal_cdf(jnp.array([0.0, 0.0]), jnp.array([0.0, 0.0]), jnp.array([0.5, -0.5]))
    >>> np.asarray(out).round(12).tolist()  # 1/4 + asin(r) / (2 pi)
    [0.333333333333, 0.166666666667]
    """
    return _upper(-jnp.asarray(h), -jnp.asarray(k), jnp.asarray(r))


@bivariate_normal_cdf.defjvp
def _bivariate_normal_cdf_jvp(primals: tuple, tangents: tuple) -> tuple:
    h, k, r = primals
    dh, dk, dr = tangents
    value = bivariate_normal_cdf(h, k, r)
    s = jnp.sqrt((1.0 - r) * (1.0 + r))
    d_h = jst.norm.pdf(h) * jst.norm.cdf((k - r * h) / s)
    d_k = jst.norm.pdf(k) * jst.norm.cdf((h - r * k) / s)
    d_r = jnp.exp(-(h * h - 2.0 * r * h * k + k * k) / (2.0 * s * s)) / (TWO_PI * s)
    return value, d_h * dh + d_k * dk + d_r * dr


class BiprobitParams(NamedTuple):
    """Bivariate probit parameters: equation-1 and equation-2 coefficients, then ``athrho = atanh(rho)``.

    Example
    -------
    >>> BiprobitParams(beta1=np.zeros(2), beta2=np.zeros(1), athrho=0.0)
    BiprobitParams(beta1=array([0., 0.]), beta2=array([0.]), athrho=0.0)
    """

    beta1: Any
    beta2: Any
    athrho: Any


@trusted
def biprobit_loglike(params: BiprobitParams, data: dict) -> jnp.ndarray:
    """Per-observation bivariate probit log-likelihood ``log Phi2(q1 X1 b1, q2 X2 b2; q1 q2 rho)``.

    Example
    -------
    >>> data = {"X1": np.ones((1, 1)), "X2": np.ones((1, 1)), "y1": np.array([1.0]), "y2": np.array([1.0])}
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = biprobit_loglike(BiprobitParams(np.zeros(1), np.zeros(1), 0.0), data)
    >>> np.asarray(out).round(6).tolist()  # log(1/4)
    [-1.386294]
    """
    q1, q2 = 2.0 * data["y1"] - 1.0, 2.0 * data["y2"] - 1.0
    rho = jnp.tanh(params.athrho)
    return jnp.log(bivariate_normal_cdf(q1 * (data["X1"] @ params.beta1), q2 * (data["X2"] @ params.beta2),
                                        q1 * q2 * rho))


def biprobit_predict(params: BiprobitParams, data: dict) -> jnp.ndarray:
    """``P(y1 = 1, y2 = 1) = Phi2(X1 b1, X2 b2; rho)``: the prediction behind ``res.margins()``.

    Example
    -------
    >>> data = {"X1": np.ones((1, 1)), "X2": np.ones((1, 1))}
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = biprobit_predict(BiprobitParams(np.zeros(1), np.zeros(1), 0.0), data)
    >>> np.asarray(out).round(6).tolist()
    [0.25]
    """
    return bivariate_normal_cdf(data["X1"] @ params.beta1, data["X2"] @ params.beta2,
                                jnp.tanh(params.athrho) * jnp.ones(data["X1"].shape[0]))


def probit_start(y: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Probit estimates by Newton's method (at most 25 steps) from the linear-probability fit rescaled by
    the normal density: start values for the multi-equation probit models.

    Example
    -------
    >>> X = np.column_stack([np.ones(6), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]])
    >>> probit_start(np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0]), X).shape
    (2,)
    """
    p = np.clip(y.mean(), 0.01, 0.99)
    z = scipy.stats.norm.ppf(p)
    beta = least_squares(X, z + (y - p) / scipy.stats.norm.pdf(z))
    for _ in range(25):
        eta = np.clip(X @ beta, -8, 8)
        cdf, pdf = scipy.stats.norm.cdf(eta), scipy.stats.norm.pdf(eta)
        lam = pdf * (y / np.maximum(cdf, 1e-300) - (1 - y) / np.maximum(1 - cdf, 1e-300))
        w = pdf ** 2 / np.maximum(cdf * (1 - cdf), 1e-300)
        step = np.linalg.lstsq((X * w[:, None]).T @ X, X.T @ lam, rcond=None)[0]  # a k x k system
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


def biprobit_model(y1: Any, X1: Any, y2: Any, X2: Any, *, equations: Sequence[str] = ("y1", "y2"),
                   names1: Sequence[str] | None = None, names2: Sequence[str] | None = None,
                   description: dict | None = None) -> Model:
    """Bivariate probit of 0/1 outcomes ``y1`` on ``X1`` and ``y2`` on ``X2`` (constants included by you);
    parameter names ``<equations[0]>_<column>``, ``<equations[1]>_<column>``, ``athrho``.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("fair").iloc[::6]  # every 6th row: a quick example
    >>> y1, y2 = (df["affairs"] > 0).astype(float), (df["rate_marriage"] >= 4).astype(float)
    >>> X = df[["age", "educ"]].assign(const=1.0)
    >>> res = biprobit_model(y1, X, y2, X, equations=("affair", "happy")).fit()
    >>> res.names[-1], round(float(res.transformed().loc["rho", "coef"]), 3)
    ('athrho', -0.526)
    """
    rows = align_rows(X1, y1=y1, y2=y2, X2=X2)
    X1, names1 = design(X1, names1, what="X1")
    X2, names2 = design(rows["X2"], names2, what="X2")
    if X2.shape[0] != X1.shape[0]:
        raise DataError(message("X1 and X2 have different numbers of rows", expected=f"{X1.shape[0]} rows in X2",
                                got=f"{X2.shape[0]} rows", fix="build both designs from the same observations"))
    y1, y2 = outcome(rows["y1"], X1.shape[0], what="y1"), outcome(rows["y2"], X1.shape[0], what="y2")
    for y, what in ((y1, "y1"), (y2, "y2")):
        require((y == 0) | (y == 1), y, what=f"bivariate probit outcome {what}", expected="0/1 values",
                fix="recode the outcome as 0/1")
        if y.min() == y.max():
            raise DataError(message(f"bivariate probit outcome {what} is constant", expected="both 0s and 1s",
                                    got=f"all {int(y[0])}", fix="check the outcome (or the rows selected)"))
    e1, e2 = (str(e) for e in equations)
    labels1, labels2 = [f"{e1}_{n}" for n in names1], [f"{e2}_{n}" for n in names2]
    start = BiprobitParams(probit_start(y1, X1), probit_start(y2, X2), float(np.arctanh(
        np.clip(np.corrcoef(y1, y2)[0, 1], -0.9, 0.9))))
    c1, c2 = constant_columns(X1), constant_columns(X2)
    margins_variables = {**{lab: ("X1", j) for j, lab in enumerate(labels1) if not c1[j]},
                         **{lab: ("X2", j) for j, lab in enumerate(labels2) if not c2[j]}}
    defaults = PostEstimationDefaults(null={"athrho": 0.0}, predict=biprobit_predict,
                                      margins_variables=margins_variables,
                                      transforms={"rho": lambda p: jnp.tanh(p.athrho)})
    return build(biprobit_loglike, start, {"y1": y1, "y2": y2, "X1": X1, "X2": X2},
                 {"beta1": labels1, "beta2": labels2, "athrho": "athrho"},
                 {"model": "biprobit", "formula": None, "equations": [e1, e2], **(description or {})},
                 defaults=defaults)
