"""Covariance estimators: one registry of small functions over the exact derivatives.

Each estimator is registered once with :func:`register`, declaring its options and the inputs it
needs; :data:`REGISTRY` is the list of covariance types (error messages and docs read it). The
observed information is inverted once, by :func:`hessstats.core.linalg.invert_information`.

Small-sample conventions use ``k`` = the parameters of the *mean/index part* (:class:`MeanPart`,
declared by the built-in models: the regression coefficients, not ``sigma``, dispersion or cut
points); a model that declares none (a user log-likelihood) uses every parameter. The conventions
table (hessstats name -> statsmodels / Stata / R ``sandwich``) is in ``docs/covariance.md``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import jax
import numpy as np
import pandas as pd
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use

from hessstats.core import derivatives
from hessstats.core.compilation import call_kernel
from hessstats.core.engine import case_weights
from hessstats.core.linalg import InverseInformation, gram_inverse, invert_information
from hessstats.core.scores import accumulate_meat, cluster_sums, model_scores, resolve_groups, score_meat
from hessstats.errors import CovarianceError, CovarianceWarning, message, warn
from hessstats.rows.leaves import row_block
from hessstats.rows.source import RowSource

if TYPE_CHECKING:
    from hessstats.model import Model

# ----------------------------------------------------------------------------- declarations

@dataclass(frozen=True)
class MeanPart:
    """The parameters of a model's mean/index part, as the built-in models declare them.

    ``parameters`` are flat parameter names (the regression coefficients: not ``sigma``, a
    dispersion, cut points or inflation parameters); they are the ``k`` of ``"HC1"`` (``n/(n-k)``),
    of the ``"regress"`` cluster correction and of the residual degrees of freedom of t-based
    inference. ``design`` names the data key of the single-index design ``X`` (the likelihood
    depends on these coefficients only through ``eta_i = x_i' beta``, and on the rest of the
    parameters not row by row): then the hat-matrix leverage of ``"HC2"``/``"HC3"`` is defined.
    A model that declares no mean part (a user log-likelihood) uses every parameter as ``k`` and
    has no leverage.

    Example
    -------
    >>> MeanPart(("const", "x"), design="X").parameters
    ('const', 'x')
    """

    parameters: tuple[str, ...]
    design: str | None = None


@dataclass(frozen=True)
class Dispersion:
    """How a model's mean-part covariance can be scaled by the Pearson dispersion (GLM-style).

    ``parameter`` is the flat name of the dispersion parameter (None: the family fixes ``phi = 1``,
    Poisson and binomial, whose Pearson option is R's quasi-families), ``to_dispersion`` maps its
    value to the dispersion ``phi`` (normal: ``sigma -> sigma^2``; Gamma: ``scale -> scale``), ``pearson``
    returns the Pearson residuals ``(y - mu) / sqrt(V(mu))`` from ``(params, data)``, and
    ``default`` is the model's default for ``cov_options={"dispersion": ...}`` of ``"nonrobust"``:
    ``"ml"`` (the inverse observed information) or ``"pearson"`` (see :func:`nonrobust`).
    ``weights(params, data)``, if given, are the GLM working (Fisher) weights at unit dispersion
    (the mean block of the expected information is ``X' diag(w) X / phi``, ``X`` the
    :class:`MeanPart` design): then ``(X'WX)^-1`` comes from a QR decomposition of ``sqrt(w) X``
    (as R ``lm``/``glm``), not from inverting the information (accurate on ill-conditioned designs).

    Example
    -------
    >>> d = Dispersion("sigma", lambda s: s ** 2, lambda p, d: d["y"] - d["X"] @ p.beta, default="pearson")
    >>> d.to_dispersion(2.0), d.default
    (4.0, 'pearson')
    """

    parameter: str | None
    to_dispersion: Callable[[float], float]
    pearson: Callable[[Any, Any], Any]
    default: str = "ml"
    weights: Callable[[Any, Any], Any] | None = None


class Correction(enum.Enum):
    """Small-sample factors of the cluster-robust covariance (``cov_options={"correction": ...}``).

    Example
    -------
    >>> Correction("regress").name
    'REGRESS'
    """

    STATA = "stata"
    """``G/(G-1)``: Stata ``vce(cluster)`` for ML estimators (``ml``, ``logit``, ``poisson``, ...)"""
    REGRESS = "regress"
    """``G/(G-1) (n-1)/(n-k)``, ``k`` the mean parameters: Stata ``regress``, statsmodels OLS, R ``vcovCL`` (HC1)"""
    NONE = "none"
    """no factor"""
    HAC = "hac"
    """``n/(n-k)`` (HAC only): statsmodels ``use_correction=True``, R ``NeweyWest(adjust=TRUE)``"""


CLUSTER_CORRECTIONS = ("stata", "regress", "none", "statsmodels")
"""``"statsmodels"`` is a deprecated alias of ``"regress"`` (same factor; ``k`` = mean parameters)."""
HAC_CORRECTIONS = ("none", "hac", "regress")
DISPERSIONS = ("ml", "pearson")
NEGATIVE_EIGENVALUE_RTOL = 1e-10
"""A symmetric covariance counts as not positive semi-definite when an eigenvalue is below
``-NEGATIVE_EIGENVALUE_RTOL`` times the largest absolute eigenvalue."""

# ----------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class CovarianceInputs:
    """What a covariance estimator may use; ``scores``, ``meat`` and ``expected`` run on demand.

    ``groups`` holds validated integer cluster codes ``0..G-1`` (shape ``(n,)``, or ``(n, 2)``
    for two-way clustering); ``meat(codes)`` returns ``sum_g s_g s_g'`` (per-observation scores
    summed within cluster ``g``; every observation its own cluster when ``codes`` is None),
    accumulated in row chunks by :func:`score_meat`. ``k_mean`` is the number of mean/index
    parameters (:class:`MeanPart`; None: every parameter), ``leverage()`` the hat-matrix diagonal
    of a single-index model, ``pearson_scale()`` the pair ``(phi at the estimate, Pearson phi)``.

    Example
    -------
    >>> inputs = CovarianceInputs(invert_information(-np.diag([4.0]), ("mu",)),
    ...                           scores=lambda: np.array([[1.0], [-1.0]]), nobs=2)
    >>> compute("nonrobust", inputs).round(12).tolist(), compute("opg", inputs).round(12).tolist()
    ([[0.25]], [[0.5]])
    """

    inverse_information: InverseInformation
    scores: Callable[[], np.ndarray]
    nobs: int | None
    groups: np.ndarray | None = None
    expected: Callable[[], np.ndarray] | None = None
    options: tuple[tuple[str, object], ...] = ()
    meat: Callable[[np.ndarray | None], np.ndarray] | None = None
    model: Any = None
    """the fitted :class:`~hessstats.model.Model` (for estimators that refit or need the data)"""
    theta: np.ndarray | None = None
    """the estimate, flat, in ``model.names`` order"""
    k_mean: int | None = None
    """parameters of the mean/index part (:class:`MeanPart`); None: every parameter"""
    mean_positions: tuple[int, ...] | None = None
    """flat positions of the mean/index parameters; None: every parameter"""
    leverage: Callable[[], np.ndarray] | None = None
    """hat-matrix diagonal ``h_i`` (single-index models); None where it is not defined"""
    pearson_scale: Callable[[], tuple[float, float]] | None = None
    """``(phi at the estimate, Pearson phi = sum r_i^2 / (n - k_mean))`` (models declaring a :class:`Dispersion`)"""
    unit_mean_covariance: Callable[[], np.ndarray] | None = None
    """``(X'WX)^-1`` of the mean part at unit dispersion by QR (a :class:`Dispersion` with ``weights``)"""
    default_dispersion: str = "ml"
    default_correction: str = "stata"
    index_weights: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None
    """``(X, w)`` of a single-index model (:func:`index_weights`); None where not declared"""
    hessian: Callable[[], np.ndarray] | None = None
    """the exact Hessian at the estimate, on demand (:func:`index_bread`)"""

    def option(self, key: str, default: object = None) -> object:
        """The value of a ``cov_options`` entry."""
        return dict(self.options).get(key, default)

    @property
    def k(self) -> int:
        """``k`` of the small-sample factors: the mean/index parameters, else every parameter."""
        return int(self.k_mean) if self.k_mean is not None else int(self.inverse_information.cov.shape[0])

    def score_meat(self, codes: np.ndarray | None = None) -> np.ndarray:
        """``S'S`` (or the cluster-summed version) from ``meat`` or, failing that, ``scores()``."""
        if self.meat is not None:
            return self.meat(codes)
        return accumulate_meat(self.scores(), codes)


Estimator = Callable[[CovarianceInputs], np.ndarray]
REGISTRY: dict[str, Estimator] = {}
OPTIONS: dict[str, dict[str, tuple]] = {}
"""Allowed ``cov_options`` per covariance type: ``{name: {key: allowed values or ()}}``."""


class Needs(enum.Enum):
    """Inputs a covariance estimator declares it needs (beyond the inverse information).

    Example
    -------
    >>> sorted(name for name, needs in NEEDS.items() if Needs.GROUPS in needs)
    ['cluster']
    """

    GROUPS = "groups"
    """cluster labels, ``groups=``"""
    OPTIONAL_GROUPS = "optional groups"
    """accepts ``groups=`` without requiring them (``"hac"``: time periods, Driscoll-Kraay)"""


NEEDS: dict[str, frozenset[Needs]] = {}
"""What each covariance type needs; ``covariance_for`` checks it, so adding an estimator touches one file."""


def register(name: str, options: dict[str, tuple] | None = None,
             needs: frozenset[Needs] = frozenset()) -> Callable[[Estimator], Estimator]:
    """Add a covariance estimator under ``name`` (used as a decorator), with its allowed options and
    the inputs it needs (:class:`Needs`).

    Example
    -------
    >>> @register("half_nonrobust")
    ... def half_nonrobust(inputs):
    ...     return inputs.inverse_information.cov / 2
    >>> inputs = CovarianceInputs(invert_information(-np.diag([4.0]), ("mu",)), scores=lambda: None, nobs=2)
    >>> compute("half_nonrobust", inputs).round(12).tolist()
    [[0.125]]
    >>> _ = REGISTRY.pop("half_nonrobust"), OPTIONS.pop("half_nonrobust"), NEEDS.pop("half_nonrobust")
    """

    def decorate(fn: Estimator) -> Estimator:
        REGISTRY[name] = fn
        OPTIONS[name] = dict(options or {})
        NEEDS[name] = frozenset(needs)
        return fn

    return decorate


def _confine(inputs: CovarianceInputs, cov: np.ndarray) -> np.ndarray:
    """NaN rows/columns for the parameters the observed information does not identify."""
    bad = inputs.inverse_information.bad
    cov = np.array(cov, dtype=np.float64)
    cov[bad, :] = np.nan
    cov[:, bad] = np.nan
    return cov


def _bread_meat(inputs: CovarianceInputs, meat: np.ndarray) -> np.ndarray:
    """``B M B`` with the pseudo-inverse bread (identified eigenspace), then NaN for the
    unidentified parameters: the identified ones get exactly the reduced model's sandwich."""
    inverse = inputs.inverse_information
    bread = index_bread(inputs)
    if bread is None:
        bread = inverse.pseudo_inverse if inverse.pseudo_inverse is not None else np.nan_to_num(inverse.cov)
    return _confine(inputs, bread @ meat @ bread)


def _sandwich(inputs: CovarianceInputs, codes: np.ndarray | None) -> np.ndarray:
    """The sandwich around ``score_meat(codes)`` (see :func:`_bread_meat`)."""
    return _bread_meat(inputs, inputs.score_meat(codes))


@register("nonrobust", options={"dispersion": DISPERSIONS})
def nonrobust(inputs: CovarianceInputs) -> np.ndarray:
    """Inverse observed information ``inv(-H)`` (statsmodels' and Stata's default for ML).

    ``cov_options={"dispersion": "pearson"}`` (the default of the built-in OLS; an option for the
    built-in Gamma GLM) reports the mean part as R ``summary.lm``/``summary.glm``, statsmodels
    OLS/GLM (``scale="X2"``) and Stata ``regress``/``glm`` do: ``phi_P inv(I_beta)``, where
    ``I_beta`` is the expected information of the mean parameters at unit dispersion and
    ``phi_P = sum r_i^2 / (n - k)`` the Pearson dispersion (``k`` the mean parameters; for OLS
    ``phi_P = RSS / (n - k) = s^2``). The dispersion parameter keeps its ML variance and the cross
    terms are 0 (the expected information is block diagonal). ``"ml"``: the inverse observed
    information.

    Example
    -------
    >>> inverse = invert_information(-np.diag([4.0, 1.0]), ("a", "b"))
    >>> inputs = CovarianceInputs(inverse, scores=lambda: None, nobs=3)
    >>> (nonrobust(inputs).round(12) + 0.0).tolist()
    [[0.25, 0.0], [0.0, 1.0]]
    """
    mode = str(inputs.option("dispersion", inputs.default_dispersion))
    if mode == "ml":
        return inputs.inverse_information.cov
    if inputs.pearson_scale is None or inputs.mean_positions is None or (
            inputs.expected is None and inputs.unit_mean_covariance is None):
        raise CovarianceError(message(
            "cov_options={'dispersion': 'pearson'} needs a model that declares its dispersion",
            expected="a built-in with a dispersion parameter and expected information (hs.ols, hs.gamma)",
            got="a model without a declared dispersion", fix="use cov_options={'dispersion': 'ml'} (the default)"))
    phi_ml, phi_pearson = inputs.pearson_scale()
    mean = np.asarray(inputs.mean_positions, dtype=np.int64)
    if inputs.unit_mean_covariance is not None:
        unit = inputs.unit_mean_covariance()
    else:
        info = np.asarray(inputs.expected(), dtype=np.float64)
        block = info[np.ix_(mean, mean)]
        unit = invert_information(-(block + block.T) / 2.0, _dummy_names(block)).cov / phi_ml  # inv(phi I_beta)
    cov = np.array(inputs.inverse_information.cov, dtype=np.float64)
    cov[mean, :] = 0.0
    cov[:, mean] = 0.0
    cov[np.ix_(mean, mean)] = phi_pearson * unit
    return _confine(inputs, cov)


@register("opg")
def opg(inputs: CovarianceInputs) -> np.ndarray:
    """Inverse outer product of the per-observation scores, ``inv(S'S)`` (BHHH; Stata ``vce(opg)``).

    Example
    -------
    >>> inputs = CovarianceInputs(invert_information(-np.diag([2.0]), ("mu",)),
    ...                           scores=lambda: np.array([[1.0], [-2.0]]), nobs=2)
    >>> opg(inputs).round(12).tolist()  # 1 / (1 + 4)
    [[0.2]]
    """
    info = inputs.score_meat(None)
    pseudo = invert_information(-info, _dummy_names(info)).pseudo_inverse
    return _confine(inputs, np.full(info.shape, np.nan) if pseudo is None else pseudo)


@register("HC0")
def hc0(inputs: CovarianceInputs) -> np.ndarray:
    """Sandwich ``H^-1 (S'S) H^-1`` without small-sample scaling (statsmodels ``cov_type="HC0"``,
    R ``sandwich::vcovHC(type="HC0")``).

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0, 8.0]))
    >>> round(float(res.with_cov("HC0").bse["mu"]), 6)  # sqrt(sum (y - ybar)^2) / n
    1.699673
    """
    return _sandwich(inputs, None)


@register("HC1")
def hc1(inputs: CovarianceInputs) -> np.ndarray:
    """HC0 times ``n/(n-k)``, ``k`` the mean/index parameters (:class:`MeanPart`; every parameter
    for a model that declares none): for the built-in OLS this is Stata ``regress, vce(robust)``,
    statsmodels OLS ``cov_type="HC1"`` and R ``vcovHC(type="HC1")``.

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0, 8.0]))
    >>> round(float(res.with_cov("HC1").bse["mu"] / res.with_cov("HC0").bse["mu"]) ** 2, 6)  # n / (n - 1)
    1.5
    """
    n = _nobs(inputs)
    return _sandwich(inputs, None) * (n / (n - float(inputs.k)))


def _leverage_sandwich(inputs: CovarianceInputs, power: int, name: str) -> np.ndarray:
    if inputs.leverage is None:
        raise CovarianceError(message(
            f"cov_type={name!r} needs the hat-matrix leverage, which this model does not define",
            expected="a single-index model: a built-in regression or hs.IndexModel with one design",
            got="a model without a declared single index (a user log-likelihood, or several indices)",
            fix="use cov_type='HC0' or 'HC1'"))
    if getattr(inputs.model, "weight_type", None) is not None:
        raise CovarianceError(message(
            f"cov_type={name!r} is not defined here for weighted fits",
            expected="an unweighted single-index model",
            got=f"weights of type {getattr(inputs.model.weight_type, 'value', inputs.model.weight_type)!r}",
            fix="use cov_type='HC0' or 'HC1' (or 'robust'), which use the weighted scores"))
    h = np.asarray(inputs.leverage(), dtype=np.float64)
    if np.any(h >= 1.0 - 1e-10):
        i = int(np.argmax(h))
        raise CovarianceError(message(
            f"cov_type={name!r} is not defined: an observation has leverage 1", expected="h_i < 1 for every row",
            got=f"h = {h[i]:.6g} at row {i}", fix="use cov_type='HC0' or 'HC1', or drop that observation"))
    S = inputs.scores()
    a = (1.0 - h) ** (-power)
    return _bread_meat(inputs, (S * a[:, None]).T @ S)


@register("HC2")
def hc2(inputs: CovarianceInputs) -> np.ndarray:
    """Sandwich with meat ``sum s_i s_i' / (1 - h_i)``, ``h_i`` the hat-matrix leverage
    ``w_i x_i' (X'WX)^-1 x_i`` with working weights ``w_i = -d^2 l_i / d eta_i^2`` (the exact
    Hessian of the single index): statsmodels OLS ``cov_type="HC2"`` and R ``vcovHC(type="HC2")``
    for OLS; for canonical-link GLMs the same as R's ``vcovHC`` (observed = expected weights).
    Single-index models only (a :class:`CovarianceError` elsewhere).

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.ols("TOTEMP ~ GNP", hs.datasets.load("longley")).fit(cov_type="HC2")
    >>> round(float(res.bse["GNP"]), 8)  # statsmodels OLS HC2: 0.00141122
    0.00141122
    """
    return _leverage_sandwich(inputs, 1, "HC2")


@register("HC3")
def hc3(inputs: CovarianceInputs) -> np.ndarray:
    """Sandwich with meat ``sum s_i s_i' / (1 - h_i)^2`` (see :func:`hc2` for ``h_i``):
    statsmodels OLS ``cov_type="HC3"``, R ``vcovHC(type="HC3")``. Single-index models only.

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.ols("TOTEMP ~ GNP", hs.datasets.load("longley")).fit(cov_type="HC3")
    >>> round(float(res.bse["GNP"]), 8)  # statsmodels OLS HC3: 0.00156192
    0.00156192
    """
    return _leverage_sandwich(inputs, 2, "HC3")


@register("robust")
def robust(inputs: CovarianceInputs) -> np.ndarray:
    """Stata ``vce(robust)``: for ML estimators the HC0 sandwich times ``n/(n-1)``; for models with
    linear-regression conventions (the built-in OLS: t inference) ``n/(n-k)``, i.e. ``"HC1"``, as
    Stata ``regress, vce(robust)``.

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0, 8.0]))
    >>> round(float(res.with_cov("robust").bse["mu"] / res.with_cov("HC0").bse["mu"]) ** 2, 6)  # n / (n - 1)
    1.5
    """
    n = _nobs(inputs)
    k = float(inputs.k) if inputs.default_correction == "regress" else 1.0
    return _sandwich(inputs, None) * (n / (n - k))


def _cluster_correction(inputs: CovarianceInputs) -> Correction:
    value = str(inputs.option("correction", inputs.default_correction))
    if value == "statsmodels":
        warn("cov_options={'correction': 'statsmodels'} is deprecated: it is the same factor as 'regress' "
             "(G/(G-1) (n-1)/(n-k), k the mean/index parameters); use 'regress'", FutureWarning)
        return Correction.REGRESS
    return Correction(value)


def intersection_codes(codes: np.ndarray) -> np.ndarray:
    """Cluster codes of the intersection of two clusterings (each pair of labels is one cluster).

    Example
    -------
    >>> intersection_codes(np.array([[0, 0], [0, 1], [0, 0], [1, 1]])).tolist()
    [0, 1, 0, 2]
    """
    return pd.factorize(pd.MultiIndex.from_arrays([codes[:, 0], codes[:, 1]]), sort=True)[0].astype(np.int64)


@register("cluster", options={"correction": CLUSTER_CORRECTIONS}, needs=frozenset({Needs.GROUPS}))
def cluster(inputs: CovarianceInputs) -> np.ndarray:
    """Cluster-robust sandwich ``H^-1 (sum_g s_g s_g') H^-1`` with a small-sample factor;
    one-way (``groups=g``) or two-way (``groups=[g1, g2]``).

    ``cov_options={"correction": ...}``: ``"stata"`` (default for ML; Stata ``vce(cluster)`` for
    ML, ``G/(G-1)``), ``"regress"`` (default of the built-in OLS: ``G/(G-1) (n-1)/(n-k)`` with ``k``
    the mean/index parameters: Stata ``regress, vce(cluster)``, statsmodels OLS ``cov_type="cluster"``
    and R ``sandwich::vcovCL``'s default ``type="HC1"``), ``"none"``; ``"statsmodels"`` is a
    deprecated alias of ``"regress"``.

    Two-way (Cameron, Gelbach and Miller 2011): ``V1 + V2 - V12``, ``V12`` clustered on the
    intersection, each component with its own ``G/(G-1)`` and, for ``"regress"``, the whole times
    ``(n-1)/(n-k)`` (R ``vcovCL(cluster = ~ g1 + g2)``, statsmodels ``cov_cluster_2groups``). When
    the result is not positive semi-definite its negative eigenvalues are set to 0 (CGM 2011;
    R ``vcovCL(fix = TRUE)``), with a :class:`~hessstats.errors.CovarianceWarning`.

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0, 8.0, 4.0]))
    >>> round(float(res.with_cov("cluster", groups=[0, 0, 1, 1]).bse["mu"]), 6)
    2.0
    """
    codes = np.asarray(inputs.groups)
    correction = _cluster_correction(inputs)
    parts = [(codes, 1.0)] if codes.ndim == 1 else [(codes[:, 0], 1.0), (codes[:, 1], 1.0),
                                                     (intersection_codes(codes), -1.0)]
    meat = 0.0
    for part, sign in parts:
        n_groups = int(part.max()) + 1
        factor = 1.0 if correction is Correction.NONE else n_groups / (n_groups - 1.0)
        meat = meat + sign * factor * inputs.score_meat(part)
    if correction is Correction.REGRESS:
        n = _nobs(inputs)
        meat = meat * ((n - 1.0) / (n - float(inputs.k)))
    cov = _bread_meat(inputs, meat)
    return cov if codes.ndim == 1 else clip_negative_eigenvalues(cov, "two-way cluster covariance")


def clip_negative_eigenvalues(cov: np.ndarray, what: str = "covariance") -> np.ndarray:
    """``cov`` with its negative eigenvalues set to 0 when it is not positive semi-definite (over
    its finite rows/columns), with a :class:`~hessstats.errors.CovarianceWarning`; else unchanged.

    Example
    -------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     clip_negative_eigenvalues(np.array([[1.0, 2.0], [2.0, 1.0]])).round(6).tolist()
    [[1.5, 1.5], [1.5, 1.5]]
    """
    cov = np.array(cov, dtype=np.float64)
    good = np.isfinite(np.diag(cov))
    sub = cov[np.ix_(good, good)]
    if sub.size == 0:
        return cov
    values, vectors = np.linalg.eigh((sub + sub.T) / 2.0)
    scale = max(float(np.max(np.abs(values))), np.finfo(float).tiny)
    if values.min() >= -NEGATIVE_EIGENVALUE_RTOL * scale:
        return cov
    warn(f"the {what} is not positive semi-definite (smallest eigenvalue {values.min():.3g}, largest "
         f"{values.max():.3g}): its negative eigenvalues were set to 0 (Cameron, Gelbach and Miller 2011; "
         "R sandwich::vcovCL(fix = TRUE))", CovarianceWarning)
    cov[np.ix_(good, good)] = (vectors * np.clip(values, 0.0, None)) @ vectors.T
    return cov


def default_maxlags(periods: int) -> int:
    """The default Newey-West bandwidth ``floor(4 (T/100)^(2/9))`` (Newey and West 1994's rule of
    thumb; statsmodels ``cov_hac`` with ``nlags=None``), ``T`` the number of time periods.

    Example
    -------
    >>> default_maxlags(100), default_maxlags(1000)
    (4, 6)
    """
    return int(np.floor(4.0 * (periods / 100.0) ** (2.0 / 9.0)))


@register("hac", options={"maxlags": (), "correction": HAC_CORRECTIONS}, needs=frozenset({Needs.OPTIONAL_GROUPS}))
def hac(inputs: CovarianceInputs) -> np.ndarray:
    """Newey-West (Bartlett kernel) sandwich for time-ordered rows; with ``groups=time``,
    Driscoll-Kraay: the same on the scores summed by time period.

    Meat ``G_0 + sum_{l=1..L} (1 - l/(L+1)) (G_l + G_l')``, ``G_l = sum_t s_t s_{t-l}'``, rows in
    data order (``groups``: periods in sorted label order; equally spaced periods assumed).
    ``cov_options``: ``"maxlags"`` ``L`` (an int >= 0; default :func:`default_maxlags` of the
    number of periods) and ``"correction"``: ``"none"`` (default; statsmodels OLS ``cov_type="HAC"``
    with its default ``use_correction=False``, R ``NeweyWest(lag=L, prewhite=FALSE, adjust=FALSE)``,
    R ``vcovPL(adjust=FALSE)`` and, with ``groups``, Stata ``xtscc``), ``"hac"`` (``n/(n-k)``, ``k``
    the mean parameters: statsmodels ``use_correction=True``, R ``adjust=TRUE``, Stata ``newey``,
    whose ``lag(0)`` is ``regress, vce(robust)``) or ``"regress"`` (``G/(G-1) (n-1)/(n-k)``, ``G``
    the periods: statsmodels ``cov_type="hac-groupsum"``'s default).

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0, 8.0, 4.0]))
    >>> round(float(res.with_cov("hac", cov_options={"maxlags": 1}).bse["mu"]), 6)  # statsmodels OLS HAC: 1.25
    1.25
    """
    S = np.asarray(inputs.scores(), dtype=np.float64)
    codes = inputs.groups
    if codes is not None:
        if np.ndim(codes) != 1:
            raise CovarianceError(message(
                "cov_type='hac' takes one time variable", expected="groups= one label (time period) per row",
                got=f"groups of shape {np.shape(codes)}", fix="pass the time periods only"))
        S = cluster_sums(S, np.asarray(codes))
    periods = S.shape[0]
    lags = inputs.option("maxlags", None)
    lags = default_maxlags(periods) if lags is None else lags
    if isinstance(lags, bool) or not isinstance(lags, (int, np.integer)) or not 0 <= lags < periods:
        raise CovarianceError(message(
            "bad value for cov_options['maxlags']", expected=f"an int in [0, {periods - 1}] (the number of periods - 1)",
            got=repr(lags), fix="pass a smaller non-negative integer, or leave it out for the default"))
    meat = S.T @ S
    for lag in range(1, int(lags) + 1):
        gamma = S[lag:].T @ S[:-lag]
        meat = meat + (1.0 - lag / (lags + 1.0)) * (gamma + gamma.T)
    correction = Correction(str(inputs.option("correction", "none")))
    n = _nobs(inputs) if correction is not Correction.NONE else 0
    factor = {Correction.NONE: 1.0, Correction.HAC: n / (n - float(inputs.k)),
              Correction.REGRESS: periods / (periods - 1.0) * (n - 1.0) / (n - float(inputs.k))}[correction]
    return _bread_meat(inputs, meat) * factor
@register("expected", options={"information": ()})
def expected(inputs: CovarianceInputs) -> np.ndarray:
    """Inverse expected (Fisher) information: ``Model(expected_information=fn)`` or
    ``cov_options={"information": fn}``, ``fn(theta) -> (k, k)`` positive definite.

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0]))
    >>> res.with_cov("expected", cov_options={"information": lambda theta: np.array([[2.0]])}).cov_array.round(12).tolist()
    [[0.5]]
    """
    if inputs.expected is None:
        raise CovarianceError(message(
            "the expected information is not available for this model",
            expected="Model(expected_information=fn) or cov_options={'information': fn}, fn(theta) -> (k, k)",
            got="neither", fix="supply the expected information, or use cov_type='nonrobust' (observed information)"))
    k = inputs.inverse_information.cov.shape[0]
    info = np.asarray(inputs.expected(), dtype=np.float64)
    if info.shape != (k, k) or not np.all(np.isfinite(info)):
        raise CovarianceError(message(
            "the expected information has the wrong shape or non-finite values",
            expected=f"a finite ({k}, {k}) matrix", got=f"shape {info.shape}, finite={bool(np.all(np.isfinite(info)))}",
            fix="return the k x k Fisher information at theta (positive definite)"))
    return invert_information(-info, _dummy_names(info)).cov


def _dummy_names(info: np.ndarray) -> tuple[str, ...]:
    return tuple(f"p{i}" for i in range(info.shape[0]))


def _nobs(inputs: CovarianceInputs) -> int:
    if not inputs.nobs or inputs.nobs < 2:
        raise CovarianceError(message(
            "this covariance needs the number of observations", expected="nobs >= 2",
            got=f"nobs={inputs.nobs}", fix="use a per-observation log-likelihood or pass nobs="))
    return int(inputs.nobs)


def compute(cov_type: str, inputs: CovarianceInputs) -> np.ndarray:
    """The covariance of type ``cov_type``; unknown names or options raise a :class:`CovarianceError`.

    Example
    -------
    >>> inputs = CovarianceInputs(invert_information(-np.diag([4.0]), ("mu",)), scores=lambda: None, nobs=2)
    >>> compute("nonrobust", inputs).round(12).tolist()
    [[0.25]]
    >>> try:
    ...     compute("hc9", inputs)
    ... except CovarianceError as e:
    ...     print(str(e).splitlines()[0])
    unknown cov_type
    """
    _check_known(cov_type)
    if Needs.GROUPS in NEEDS[cov_type] and inputs.groups is None:
        raise CovarianceError(message(
            f"cov_type={cov_type!r} needs groups", expected="groups= an array of cluster labels, one per observation",
            got="groups=None", fix="pass groups=array or groups='column name'"))
    allowed = OPTIONS[cov_type]
    for key, value in inputs.options:
        if key not in allowed:
            raise CovarianceError(message(
                f"unknown cov_options key for cov_type={cov_type!r}",
                expected=f"keys among {sorted(allowed)}", got=repr(key), fix="remove it or fix the spelling"))
        if allowed[key] and value not in allowed[key]:
            raise CovarianceError(message(
                f"bad value for cov_options[{key!r}]", expected=f"one of {allowed[key]}", got=repr(value),
                fix=f"choose one of {allowed[key]}"))
    cov = np.asarray(REGISTRY[cov_type](inputs), dtype=np.float64)
    return (cov + cov.T) / 2.0


def available() -> dict[str, str]:
    """Every registered covariance type with the first sentence of its description, as plain text
    (reStructuredText markup removed: what command-line help shows).

    Example
    -------
    >>> {"HC0", "HC1", "HC3", "cluster", "hac", "nonrobust"} <= set(available())
    True
    >>> available()["opg"]
    "Inverse outer product of the per-observation scores, inv(S'S) (BHHH; Stata vce(opg))."
    """
    return {name: first_sentence(fn.__doc__ or "") for name, fn in sorted(REGISTRY.items())}


_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")
_SENTENCE_END = re.compile(r"(?<!e\.g)(?<!i\.e)(?<!\bcf)\.(?=\s+[A-Z]|$)")


def first_sentence(doc: str) -> str:
    r"""The first sentence of a docstring's first paragraph as plain text: lines joined, roles
    (``:class:`X``` -> ``X``) and literal markup (double backquotes) removed.

    Example
    -------
    >>> first_sentence("Sandwich ``H^-1 M H^-1`` (see :func:`hc2`;\n  i.e. HC1). More text.\n\nDetails.")
    'Sandwich H^-1 M H^-1 (see hc2; i.e. HC1).'
    """
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    text = _ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1], paragraph).replace("``", "")
    end = _SENTENCE_END.search(text)
    return text[: end.end()] if end else text


def _check_known(cov_type: str) -> None:
    if cov_type not in REGISTRY:
        raise CovarianceError(message(
            "unknown cov_type", expected=f"one of {sorted(REGISTRY)}", got=repr(cov_type),
            fix="choose one of the listed covariance types"))


def covariance_for(model: Model, theta: np.ndarray, inverse: InverseInformation, cov_type: str,
                   groups: Any = None, cov_options: dict | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``(cov, cluster codes)`` of type ``cov_type`` for ``model`` at ``theta`` (what ``fit`` and
    ``FitResult.with_cov`` call). ``groups`` (labels or a data column name; for two-way clustering
    a list of two, or a two-column array or DataFrame) only with the types that take them
    (``"cluster"``; ``"hac"``: time periods); a pandas Series is aligned with the data's row labels
    (``model.row_labels``). Two-way codes come back as an ``(n, 2)`` array.

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0, 8.0]))
    >>> inverse = invert_information(-np.array([[3.0]]), ("mu",))
    >>> cov, codes = covariance_for(m, np.array([4.0]), inverse, "HC0")
    >>> cov.round(6).tolist(), codes
    ([[2.888889]], None)
    """
    options = dict(cov_options or {})
    _check_known(cov_type)
    groups = _model_groups(model, cov_type, groups)
    if groups is not None and not NEEDS[cov_type] & {Needs.GROUPS, Needs.OPTIONAL_GROUPS}:
        takes = sorted(name for name, needs in NEEDS.items() if needs & {Needs.GROUPS, Needs.OPTIONAL_GROUPS})
        raise CovarianceError(message(
            "groups given for a covariance that does not use them", expected=f"cov_type in {takes} with groups",
            got=f"cov_type={cov_type!r} and groups", fix=f"use cov_type={takes[0]!r}, or drop groups"))
    codes = None if groups is None else _resolve_groups(groups, model)
    user_info = options.get("information")
    if user_info is not None and not callable(user_info):
        raise CovarianceError(message(
            "cov_options['information'] is not callable", expected="fn(theta) -> (k, k) information matrix",
            got=type(user_info).__name__, fix="pass a function"))
    info_fn = user_info or model.expected_information
    theta = np.asarray(theta, dtype=np.float64)
    mean = mean_part(model)
    positions = None if mean is None else _positions(model, mean.parameters)
    if positions is None:
        mean = None
    dispersion = getattr(getattr(model, "defaults", None), "dispersion", None)
    inputs = CovarianceInputs(
        inverse, scores=lambda: model_scores(model, theta), nobs=getattr(model, "weighted_nobs", None) or model.nobs, groups=codes,
        expected=None if info_fn is None else (lambda: info_fn(theta)),
        options=tuple(sorted(options.items(), key=lambda kv: kv[0])),
        meat=lambda c: score_meat(model, theta, c), model=model, theta=theta,
        k_mean=None if positions is None else len(positions), mean_positions=positions,
        leverage=None if mean is None or mean.design is None else (
            lambda: index_leverage(model, theta, positions, mean.design)),
        index_weights=None if mean is None or mean.design is None or isinstance(model.data, RowSource) else (
            lambda: index_weights(model, theta, positions, mean.design)),
        hessian=lambda: model.evaluate(theta)[2],
        pearson_scale=None if dispersion is None or positions is None else (
            lambda: _pearson_scale(model, theta, dispersion, len(positions))),
        unit_mean_covariance=None if dispersion is None or dispersion.weights is None or mean is None
        or mean.design is None else (lambda: _unit_mean_covariance(model, theta, dispersion, mean.design)),
        default_dispersion=getattr(dispersion, "default", "ml"),
        default_correction="regress" if uses_t(model) else "stata")
    return compute(cov_type, inputs), codes


def uses_t(model: Any) -> bool:
    """Whether the model declares t-based inference (``defaults.inference``; the built-in OLS).

    Example
    -------
    >>> import hessstats as hs
    >>> uses_t(hs.ols("TOTEMP ~ GNP", hs.datasets.load("longley"))), uses_t(hs.Model(lambda p, d: -p["a"] ** 2, {"a": 0.0}))
    (True, False)
    """
    value = getattr(getattr(model, "defaults", None), "inference", None)
    return str(getattr(value, "value", value)) == "t"


def mean_part(model: Any) -> MeanPart | None:
    """The model's mean/index part: declared in ``model.defaults.mean`` (the built-ins), derived
    from the design of an :class:`~hessstats.IndexModel` (every index coefficient; a leverage only
    with one design), else None (every parameter counts as ``k``).

    Example
    -------
    >>> import hessstats as hs
    >>> mean_part(hs.ols("TOTEMP ~ GNP", hs.datasets.load("longley")))
    MeanPart(parameters=('Intercept', 'GNP'), design='X')
    """
    declared = getattr(getattr(model, "defaults", None), "mean", None)
    if declared is not None:
        return declared
    design = getattr(getattr(getattr(model, "index", None), "loglike", None), "design", None)
    if not design:
        return None
    flat = jax.tree_util.tree_unflatten(model.spec.treedef, _position_leaves(model.spec.shapes))
    flat = flat._asdict() if hasattr(flat, "_asdict") else flat  # NamedTuple parameters: by field name
    names = [model.names[int(i)] for block, _ in design for i in np.ravel(flat[block])]
    return MeanPart(tuple(names), design=design[0][1] if len(design) == 1 else None)


def _position_leaves(shapes: tuple[tuple[int, ...], ...]) -> list[np.ndarray]:
    leaves, i = [], 0
    for shape in shapes:
        size = int(np.prod(shape, dtype=int))
        leaves.append(np.arange(i, i + size).reshape(shape))
        i += size
    return leaves


def _positions(model: Any, names: tuple[str, ...]) -> tuple[int, ...] | None:
    """Flat positions of ``names``; None when one is not a parameter (a restricted model)."""
    index = {name: i for i, name in enumerate(model.names)}
    if not names or any(name not in index for name in names):
        return None
    return tuple(index[name] for name in names)


def _model_groups(model: Any, cov_type: str, groups: Any) -> Any:
    """Cluster labels kept by the model (formula ``groups=``, ``model.extra["groups"]``): the default
    of ``"cluster"`` when none are passed, and what a name among them stands for."""
    stored = dict(getattr(model, "extra", {}).get("groups") or {})
    if not stored:
        return groups
    if groups is None:
        if Needs.GROUPS not in NEEDS[cov_type]:
            return None
        values = list(stored.values())
        return values[0] if len(values) == 1 else values
    if isinstance(groups, str) and groups in stored:
        return stored[groups]
    if isinstance(groups, (list, tuple)) and groups and all(isinstance(g, str) and g in stored for g in groups):
        return [stored[g] for g in groups]
    return groups


def _resolve_groups(groups: Any, model: Any) -> np.ndarray:
    """One-way codes ``(n,)`` or two-way codes ``(n, 2)`` (a list of two label arrays or column
    names, or a two-column array/DataFrame)."""
    data, n, labels = model.data, model.nobs, getattr(model, "row_labels", None)
    columns = _two_way(groups, data, n)
    if columns is None:
        return resolve_groups(groups, data, n, labels)
    if len(columns) != 2:
        raise CovarianceError(message(
            "cluster-robust covariance takes one- or two-way clustering", expected="groups=g or groups=[g1, g2]",
            got=f"{len(columns)} clusterings", fix="pass at most two cluster variables"))
    return np.column_stack([resolve_groups(c, data, n, labels) for c in columns])


def _two_way(groups: Any, data: Any, n: int | None) -> list | None:
    """The clusterings of a multi-way ``groups``, or None for one-way labels."""
    if isinstance(groups, pd.DataFrame):
        return [groups.iloc[:, j] for j in range(groups.shape[1])] if groups.shape[1] > 1 else None
    if isinstance(groups, np.ndarray) and groups.ndim == 2 and groups.shape[1] > 1 and groups.shape[0] == n:
        return [groups[:, j] for j in range(groups.shape[1])]
    if isinstance(groups, (list, tuple)) and 1 < len(groups) <= 8:
        def column(g: Any) -> bool:
            if isinstance(g, str):
                return isinstance(data, dict) and g in data
            return np.ndim(g) == 1 and (n is None or len(g) == n)
        if all(column(g) for g in groups) and not (n == len(groups) and not all(isinstance(g, str) for g in groups)):
            return list(groups)
    return None


def _pearson_scale(model: Any, theta: np.ndarray, dispersion: Dispersion, k_mean: int) -> tuple[float, float]:
    """``(phi at theta, sum r_i^2 / (n - k_mean))`` from the model's Pearson residuals (in-memory data)."""
    if isinstance(model.data, RowSource):
        raise CovarianceError(message(
            "the Pearson dispersion needs in-memory data", expected="data as arrays or a DataFrame",
            got=type(model.data).__name__, fix="use cov_options={'dispersion': 'ml'}"))
    n = int(model.nobs)
    with jax.enable_x64(True):
        r = np.asarray(dispersion.pearson(model.params_tree(theta), model.data), dtype=np.float64)[:n]
    phi = 1.0 if dispersion.parameter is None else float(
        dispersion.to_dispersion(theta[list(model.names).index(dispersion.parameter)]))
    weights = case_weights(model)  # weighted fits: sum w_i r_i^2 / (N - k), N the weighted count (Stata)
    if weights is None:
        return phi, float(r @ r) / (n - k_mean)
    total = float(getattr(model, "weighted_nobs", None) or n)
    return phi, float(np.asarray(weights)[:n] @ (r * r)) / (total - k_mean)


def _unit_mean_covariance(model: Any, theta: np.ndarray, dispersion: Dispersion, design: str) -> np.ndarray:
    """``(X'WX)^-1`` (Fisher weights ``w``): :func:`gram_inverse` where the weighted Gram matrix is
    well conditioned, else ``R^-1 R^-T`` from the QR decomposition of ``sqrt(w) X`` (its error grows
    with the condition number of ``X``, not of ``X'WX``: NIST's Longley and Wampler designs)."""
    n = int(model.nobs)
    X = np.asarray(model.data[design], dtype=np.float64)[:n]
    with jax.enable_x64(True):
        w = np.broadcast_to(np.asarray(dispersion.weights(model.params_tree(theta), model.data), dtype=np.float64), (n,))
    weights = case_weights(model)
    if weights is not None:  # X' diag(c w) X with the case weights c
        w = w * np.asarray(weights)[:n]
    inverse = gram_inverse(X, w)
    if inverse is not None:
        return inverse
    r = np.linalg.qr(np.sqrt(w)[:, None] * X, mode="r")
    rinv = scipy.linalg.solve_triangular(r, np.eye(r.shape[0]))
    return rinv @ rinv.T


@partial(jax.jit, static_argnames=("loglike", "spec"))
def observation_curvature(theta, data, directions, loglike, spec, consts=()):
    """Second directional derivatives ``v' H_i v`` of every observation's log-likelihood, for each
    column ``v`` of ``directions`` (``(k, b)``): a ``(b, n)`` array, forward over forward mode.

    Example
    -------
    >>> import hessstats as hs, jax.numpy as jnp
    >>> m = hs.Model(lambda p, d: -0.5 * (d * p["b"]) ** 2, {"b": 1.0}, np.array([1.0, 2.0]))
    >>> with jax.enable_x64(True):
    ...     out = observation_curvature(jnp.ones(1), m.data, jnp.ones((1, 1)), m.program, m.spec, m.consts)
    >>> np.asarray(out).tolist()  # -x^2
    [[-1.0, -4.0]]
    """
    def second(v):
        def slope(t):
            return jax.jvp(lambda u: derivatives.loglike_obs(u, data, loglike, spec, None, consts), (t,), (v,))[1]
        return jax.jvp(slope, (theta,), (v,))[1]

    return jax.vmap(second, in_axes=1)(directions)


def index_weights(model: Any, theta: np.ndarray, positions: tuple[int, ...], design: str) -> tuple[np.ndarray, np.ndarray]:
    """``(X, w)``: the single-index design and the working weights ``w_i = -d^2 l_i / d eta_i^2``
    from the exact per-observation curvature (so the mean block of ``-H`` is ``X' diag(w) X``).

    ``d^2 l_i / d eta_i^2`` is read off the second derivative along the coefficient ``j`` of the
    largest ``|x_ij|`` (``x_ij^2`` times it: exact, no differencing). Needs in-memory data.

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.ols("TOTEMP ~ GNP", hs.datasets.load("longley"))
    >>> res = m.fit()
    >>> X, w = index_weights(m, res.theta, (0, 1), "X")
    >>> bool(np.allclose(w, 1 / res.params["sigma"] ** 2, rtol=1e-12))  # OLS: 1/sigma^2 for every row
    True
    """
    data = model.data
    if isinstance(data, RowSource) or not isinstance(data, dict) or design not in data:
        raise CovarianceError(message(
            "the hat-matrix leverage needs the design matrix in memory",
            expected=f"in-memory data with the design under {design!r}", got=type(data).__name__,
            fix="use cov_type='HC0' or 'HC1' for data read from a row source"))
    n = int(model.nobs)
    X = np.asarray(data[design], dtype=np.float64)[:n]
    if X.ndim != 2 or X.shape[1] != len(positions):
        raise CovarianceError(message(
            "the declared design does not match the mean parameters",
            expected=f"data[{design!r}] with {len(positions)} columns", got=f"shape {X.shape}",
            fix="declare MeanPart(parameters, design) consistently"))
    pick = np.argmax(np.abs(X), axis=1)
    x_pick = X[np.arange(n), pick]
    needed = np.unique(pick)
    directions = np.zeros((model.k_params, len(needed)))
    directions[np.asarray(positions)[needed], np.arange(len(needed))] = 1.0
    column = np.searchsorted(needed, pick)
    kernel = {"loglike": model.program if model.program is not None else model.loglike,
              "spec": model.spec, "consts": model.consts}
    rows = n if model.weights is not None else max(256, (2 ** 22) // max(len(needed), 1))
    curvature = np.empty(n)
    with jax.enable_x64(True):
        t, v = np.asarray(theta, dtype=np.float64), directions  # host arrays: no conversion kernels
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            block = data if (start, stop) == (0, n) and rows >= n else row_block(data, n, start, rows)
            out = np.asarray(call_kernel("observation_curvature", observation_curvature, t, block, v, **kernel))
            curvature[start:stop] = out[column[start:stop], np.arange(stop - start)]
    nonzero = x_pick != 0
    return X, np.where(nonzero, -curvature / np.where(nonzero, x_pick, 1.0) ** 2, 0.0)


def index_leverage(model: Any, theta: np.ndarray, positions: tuple[int, ...], design: str) -> np.ndarray:
    """Hat-matrix diagonal ``h_i = w_i x_i' (X'WX)^-1 x_i`` of a single-index model, with the
    working weights of :func:`index_weights`; for OLS ``w_i = 1/sigma^2`` and ``h_i`` is the usual
    ``x_i' (X'X)^-1 x_i``. Needs in-memory data.

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.ols("TOTEMP ~ GNP", hs.datasets.load("longley"))
    >>> res = m.fit()
    >>> round(float(index_leverage(m, res.theta, (0, 1), "X").sum()), 8)  # trace of the hat matrix = k
    2.0
    """
    X, w = index_weights(model, theta, positions, design)
    if np.all(w >= 0):  # h_i = |q_i|^2 with sqrt(W) X = QR: no normal equations (ill-conditioned X)
        q = np.linalg.qr(np.sqrt(w)[:, None] * X)[0]
        return np.einsum("ij,ij->i", q, q)
    A = (X * w[:, None]).T @ X  # indefinite working weights: equilibrated normal equations
    d = 1.0 / np.sqrt(np.maximum(np.abs(np.diag(A)), np.finfo(float).tiny))
    Xd = X * d
    return w * np.einsum("ij,ij->i", Xd, np.linalg.solve((A * d[:, None] * d[None, :]), Xd.T).T)


ILL_CONDITIONED = 1e6
"""Equilibrated condition number of the information above which sandwiches of a single-index
model take the mean block of their bread from a QR decomposition (:func:`index_bread`)."""


def index_bread(inputs: CovarianceInputs) -> np.ndarray | None:
    """An accurate bread ``inv(-H)`` for an ill-conditioned single-index model, or None.

    The mean block of ``-H`` is ``A = X' diag(w) X`` (:func:`index_weights`); with ``w >= 0`` its
    inverse comes from a QR decomposition of ``sqrt(w) X`` (error ~ cond(X) eps rather than
    cond(X)^2 eps), and the rest by the Schur complement with the exact Hessian's other blocks.
    Used when the equilibrated condition number exceeds :data:`ILL_CONDITIONED` and every parameter
    is identified (Longley: the HC1 SEs move from 1.7e-7 to 1.8e-8 of statsmodels', the level at which
    any two correct computations differ there, since the residuals cancel ~5 digits); None otherwise,
    or when ``X'WX`` does not reproduce the Hessian's mean block (no single index after all).

    Example
    -------
    >>> inputs = CovarianceInputs(invert_information(-np.diag([4.0]), ("mu",)), scores=lambda: None, nobs=2)
    >>> index_bread(inputs) is None  # no declared single index
    True
    """
    inverse = inputs.inverse_information
    eigen = np.asarray(getattr(inverse, "eigenvalues", np.zeros(0)), dtype=np.float64)
    if (inputs.index_weights is None or inputs.hessian is None or inverse.bad.any() or eigen.size == 0
            or eigen.min() <= 0 or eigen.max() / eigen.min() < ILL_CONDITIONED):
        return None
    X, w = inputs.index_weights()
    if not np.all(w >= 0) or not np.any(w > 0):
        return None
    info = -np.asarray(inputs.hessian(), dtype=np.float64)
    info = (info + info.T) / 2.0
    mean = np.asarray(inputs.mean_positions, dtype=np.int64)
    rest = np.setdiff1d(np.arange(info.shape[0]), mean)
    A = (X * w[:, None]).T @ X
    block = info[np.ix_(mean, mean)]
    if np.max(np.abs(A - block)) > 1e-8 * max(float(np.max(np.abs(block))), np.finfo(float).tiny):
        return None
    r = np.linalg.qr(np.sqrt(w)[:, None] * X, mode="r")
    rinv = scipy.linalg.solve_triangular(r, np.eye(r.shape[0]))
    a_inv = rinv @ rinv.T
    bread = np.zeros_like(info)
    if rest.size == 0:
        bread[np.ix_(mean, mean)] = a_inv
        return bread
    C, D = info[np.ix_(mean, rest)], info[np.ix_(rest, rest)]
    ac = a_inv @ C
    s_inv = np.linalg.inv(D - C.T @ ac)
    bread[np.ix_(mean, mean)] = a_inv + ac @ s_inv @ ac.T
    bread[np.ix_(mean, rest)] = -ac @ s_inv
    bread[np.ix_(rest, mean)] = (-ac @ s_inv).T
    bread[np.ix_(rest, rest)] = s_inv
    return bread
