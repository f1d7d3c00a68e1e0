"""Covariance estimators: one registry of small functions over the exact derivatives.

Each estimator is registered once with :func:`register`, declaring its options and the inputs it
needs; :data:`REGISTRY` is the list of covariance types (error messages and docs read it). The
observed information is inverted once, by :func:`hessstats.core.linalg.invert_information`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hessstats.core.linalg import InverseInformation, invert_information
from hessstats.core.scores import accumulate_meat, model_scores, resolve_groups, score_meat
from hessstats.errors import CovarianceError, message

if TYPE_CHECKING:
    from hessstats.model import Model

# ----------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class CovarianceInputs:
    """What a covariance estimator may use; ``scores``, ``meat`` and ``expected`` run on demand.

    ``groups`` holds validated integer cluster codes ``0..G-1``; ``meat(codes)`` returns
    ``sum_g s_g s_g'`` (per-observation scores summed within cluster ``g``; every observation its
    own cluster when ``codes`` is None), accumulated in row chunks by :func:`score_meat`.

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

    def option(self, key: str, default: object = None) -> object:
        """The value of a ``cov_options`` entry."""
        return dict(self.options).get(key, default)

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


NEEDS: dict[str, frozenset[Needs]] = {}
"""What each covariance type needs; ``covariance_for`` checks it, so adding an estimator touches one file."""

CLUSTER_CORRECTIONS = ("stata", "statsmodels", "none")


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


def _sandwich(inputs: CovarianceInputs, codes: np.ndarray | None) -> np.ndarray:
    """``B M B`` with the pseudo-inverse bread (identified eigenspace), then NaN for the
    unidentified parameters: the identified ones get exactly the reduced model's sandwich."""
    inverse = inputs.inverse_information
    bread = inverse.pseudo_inverse if inverse.pseudo_inverse is not None else np.nan_to_num(inverse.cov)
    return _confine(inputs, bread @ inputs.score_meat(codes) @ bread)


@register("nonrobust")
def nonrobust(inputs: CovarianceInputs) -> np.ndarray:
    """Inverse observed information ``inv(-H)`` (statsmodels' and Stata's default for ML).

    Example
    -------
    >>> inverse = invert_information(-np.diag([4.0, 1.0]), ("a", "b"))
    >>> inputs = CovarianceInputs(inverse, scores=lambda: None, nobs=3)
    >>> (nonrobust(inputs).round(12) + 0.0).tolist()
    [[0.25, 0.0], [0.0, 1.0]]
    """
    return inputs.inverse_information.cov


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
    """Sandwich ``H^-1 (S'S) H^-1`` without small-sample scaling (statsmodels ``cov_type="HC0"``).

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0, 8.0]))
    >>> round(float(res.with_cov("HC0").bse["mu"]), 6)  # sqrt(sum (y - ybar)^2) / n
    1.699673
    """
    return _sandwich(inputs, None)


@register("robust")
def robust(inputs: CovarianceInputs) -> np.ndarray:
    """Stata ``vce(robust)`` for ML estimators: the HC0 sandwich times ``n/(n-1)``.

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0, 8.0]))
    >>> round(float(res.with_cov("robust").bse["mu"] / res.with_cov("HC0").bse["mu"]) ** 2, 6)  # n / (n - 1)
    1.5
    """
    n = _nobs(inputs)
    return _sandwich(inputs, None) * (n / (n - 1.0))


@register("cluster", options={"correction": CLUSTER_CORRECTIONS}, needs=frozenset({Needs.GROUPS}))
def cluster(inputs: CovarianceInputs) -> np.ndarray:
    """Cluster-robust sandwich ``H^-1 (sum_g s_g s_g') H^-1`` with a small-sample factor.

    ``cov_options={"correction": ...}``: ``"stata"`` (default; Stata ``vce(cluster)`` for ML,
    ``G/(G-1)``), ``"statsmodels"`` (statsmodels ``cov_type="cluster"`` with its default
    ``use_correction=True``: ``G/(G-1) * (n-1)/(n-k)``, see ``sandwich_covariance.cov_cluster``),
    or ``"none"``.

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0, 8.0, 4.0]))
    >>> round(float(res.with_cov("cluster", groups=[0, 0, 1, 1]).bse["mu"]), 6)
    2.0
    """
    n_groups = int(inputs.groups.max()) + 1
    n, k = _nobs(inputs), inputs.inverse_information.cov.shape[0]
    factor = {"stata": n_groups / (n_groups - 1.0),
              "statsmodels": n_groups / (n_groups - 1.0) * (n - 1.0) / (n - k),
              "none": 1.0}[str(inputs.option("correction", "stata"))]
    return _sandwich(inputs, inputs.groups) * factor


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
    """Every registered covariance type with the first line of its description (for help texts).

    Example
    -------
    >>> sorted(available())[:3]
    ['HC0', 'cluster', 'expected']
    """
    return {name: ((fn.__doc__ or "").strip().splitlines() or [""])[0] for name, fn in sorted(REGISTRY.items())}


def _check_known(cov_type: str) -> None:
    if cov_type not in REGISTRY:
        raise CovarianceError(message(
            "unknown cov_type", expected=f"one of {sorted(REGISTRY)}", got=repr(cov_type),
            fix="choose one of the listed covariance types"))


def covariance_for(model: Model, theta: np.ndarray, inverse: InverseInformation, cov_type: str,
                   groups: Any = None, cov_options: dict | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``(cov, cluster codes)`` of type ``cov_type`` for ``model`` at ``theta`` (what ``fit`` and
    ``FitResult.with_cov`` call). ``groups`` (labels or a data column name) only with ``"cluster"``;
    a pandas Series is aligned with the data's row labels (``model.row_labels``).

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
    if groups is not None and Needs.GROUPS not in NEEDS[cov_type]:
        takes = sorted(name for name, needs in NEEDS.items() if Needs.GROUPS in needs)
        raise CovarianceError(message(
            "groups given for a covariance that does not use them", expected=f"cov_type in {takes} with groups",
            got=f"cov_type={cov_type!r} and groups", fix=f"use cov_type={takes[0]!r}, or drop groups"))
    codes = None if groups is None else resolve_groups(groups, model.data, model.nobs, getattr(model, "row_labels", None))
    user_info = options.get("information")
    if user_info is not None and not callable(user_info):
        raise CovarianceError(message(
            "cov_options['information'] is not callable", expected="fn(theta) -> (k, k) information matrix",
            got=type(user_info).__name__, fix="pass a function"))
    info_fn = user_info or model.expected_information
    inputs = CovarianceInputs(
        inverse, scores=lambda: model_scores(model, theta), nobs=getattr(model, "weighted_nobs", None) or model.nobs, groups=codes,
        expected=None if info_fn is None else (lambda: info_fn(theta)),
        options=tuple(sorted(options.items(), key=lambda kv: kv[0])),
        meat=lambda c: score_meat(model, theta, c), model=model, theta=np.asarray(theta, dtype=np.float64))
    return compute(cov_type, inputs), codes
