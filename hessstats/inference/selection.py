"""Model selection: an information-criterion table (``hs.ic_table``) and Vuong's test for
non-nested models (``hs.vuong``, as R ``pscl::vuong``).

Both refuse fits that are not on the same observations: the number of observations and a sha256
of the outcome (the ``"y"`` entry of the built-in models' data; the whole data for a custom
log-likelihood) must agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax
import numpy as np
import pandas as pd
import scipy.special

from hessstats.errors import DataError, SpecificationError, message
from hessstats.inference.delta import warn_unconverged

if TYPE_CHECKING:
    from hessstats.results import FitResult


def outcome_fingerprint(res: FitResult) -> tuple[int | None, str]:
    """``(nobs, sha256)`` of the observations a fit used: of ``data["y"]`` for the built-in models,
    else of every data leaf (as little-endian float64 with its shape). Data that cannot be read as
    arrays (a row source) fall back to the identity of the data object.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("spector")
    >>> a = outcome_fingerprint(hs.logit("GRADE ~ GPA", df).fit())
    >>> a == outcome_fingerprint(hs.probit("GRADE ~ GPA + PSI", df).fit()), a[0]
    (True, 32)
    """
    data = res.model.data
    if isinstance(data, Mapping) and "y" in data:
        data = data["y"]
    digest = hashlib.sha256()
    try:
        for leaf in jax.tree_util.tree_leaves(data):
            arr = np.asarray(leaf, dtype="<f8")
            digest.update(repr(arr.shape).encode())
            digest.update(arr.tobytes())
    except (TypeError, ValueError):
        return res.nobs, f"object {id(res.model.data)}"
    return res.nobs, digest.hexdigest()


def _check_same_data(results: Sequence[FitResult], labels: Sequence[str]) -> None:
    for res, label in zip(results, labels):  # criteria of a point that is not a maximum compare nothing
        warn_unconverged(res, f"model selection statistics ({label})")
    prints = [outcome_fingerprint(r) for r in results]
    for label, fp in zip(labels[1:], prints[1:]):
        if fp != prints[0]:
            raise DataError(message(
                f"the fits are not on the same data: {labels[0]!r} and {label!r} differ",
                expected="every fit on the same observations of the same outcome (same nobs and outcome values)",
                got=f"nobs {prints[0][0]} vs {fp[0]}; outcome sha256 {prints[0][1][:12]}... vs {fp[1][:12]}...",
                fix="refit every model on the same rows (same missing-value handling, same sample)"))


def _labels(results: Sequence[Any], labels: Sequence[str] | None) -> list[str]:
    if labels is None:
        return [f"model {j + 1}" for j in range(len(results))]
    labels = [str(lab) for lab in labels]
    if len(labels) != len(results) or len(set(labels)) != len(labels):
        raise SpecificationError(message("labels do not match the results", expected=f"{len(results)} distinct labels",
                                         got=repr(labels)[:200], fix="give one distinct label per result"))
    return labels


def ic_table(results: Sequence[FitResult], labels: Sequence[str] | None = None) -> pd.DataFrame:
    """Information criteria of fits on the same data: ``llf``, ``k`` (free parameters), ``nobs``,
    ``aic`` (``-2 llf + 2k``) and ``bic`` (``-2 llf + k log nobs``), one row per fit.

    Raises :class:`~hessstats.errors.DataError` when the fits are not on the same observations
    (see :func:`outcome_fingerprint`): their criteria would not be comparable.

    Parameters
    ----------
    results : sequence of FitResult
        Fits on the same observations.
    labels : sequence of str, optional
        Distinct row labels (default ``model 1``, ``model 2``, ...).

    Returns
    -------
    pandas.DataFrame
        ``llf, k, nobs, aic, bic``, one row per fit.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("spector")
    >>> t = ic_table([hs.logit("GRADE ~ GPA + PSI", df).fit(), hs.probit("GRADE ~ GPA + PSI", df).fit()],
    ...              labels=["logit", "probit"])
    >>> t.round(3)
               llf  k  nobs     aic    bic
    logit  -13.127  3    32  32.253  36.65
    probit -13.017  3    32  32.033  36.43
    """
    results = list(results)
    if not results:
        raise SpecificationError(message("no results to compare", expected="a list of fitted results",
                                         got="an empty list", fix="pass e.g. [res1, res2]"))
    labels = _labels(results, labels)
    _check_same_data(results, labels)
    return pd.DataFrame({"llf": [float(r.llf) for r in results], "k": [int(r.k_params) for r in results],
                         "nobs": [r.nobs for r in results], "aic": [float(r.aic) for r in results],
                         "bic": [float(r.bic) for r in results]}, index=labels)


def vuong(res1: FitResult, res2: FitResult) -> pd.DataFrame:
    """Vuong's test of two non-nested models fitted to the same observations, as R ``pscl::vuong``.

    With ``m_i = l1_i - l2_i`` the difference of the per-observation log-likelihoods, ``n`` the
    number of observations and ``k1``, ``k2`` the numbers of parameters, the statistic is
    ``z = sum(m_i - c) / (sd(m_i) sqrt(n))`` (``sd`` with ``n - 1``) with ``c = 0`` (raw),
    ``c = (k1 - k2) / n`` (AIC-corrected) or ``c = (k1 - k2) log(n) / (2 n)`` (BIC-corrected).
    Asymptotically N(0, 1) when the models are equally close to the truth; ``z > 0`` favours model 1.
    The p-value is one-sided in the direction of ``z`` (pscl's): ``1 - Phi(z)`` for ``z > 0``, else
    ``Phi(z)``.

    Returns a DataFrame indexed ``raw``, ``aic``, ``bic`` with columns ``z``, ``p_value`` and
    ``favours`` (``"model 1"`` or ``"model 2"``). Needs per-observation log-likelihoods; raises
    :class:`~hessstats.errors.DataError` for fits on different data or non-finite values.

    Parameters
    ----------
    res1, res2 : FitResult
        Two fits on the same observations with per-observation log-likelihoods.

    Returns
    -------
    pandas.DataFrame
        Indexed ``raw``, ``aic``, ``bic``; columns ``z``, ``p_value``, ``favours``.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("spector")
    >>> v = vuong(hs.logit("GRADE ~ GPA + PSI", df).fit(), hs.probit("GRADE ~ GPA + PSI", df).fit())
    >>> v["z"].round(4).tolist(), v.loc["raw", "favours"]
    ([-0.8325, -0.8325, -0.8325], 'model 2')
    """
    _check_same_data([res1, res2], ["model 1", "model 2"])
    l1, l2 = (np.asarray(r.model.loglike_obs(r.theta), dtype=np.float64) for r in (res1, res2))
    for r, l, name in ((res1, l1, "model 1"), (res2, l2, "model 2")):
        if l.ndim != 1 or l.shape[0] != r.nobs:
            raise SpecificationError(message(
                f"Vuong's test needs per-observation log-likelihood values ({name} has none)",
                expected=f"loglike(params, data) returning one value per observation ({r.nobs})",
                got=f"output of shape {l.shape}", fix="return the per-observation values instead of their sum"))
    m = l1 - l2
    if not np.all(np.isfinite(m)):
        raise DataError(message(
            "non-finite per-observation log-likelihoods", expected="finite values for every observation",
            got=f"{int(np.sum(~np.isfinite(m)))} non-finite differences",
            fix="check the fits (an observation with probability 0 under one model)"))
    n = m.shape[0]
    dk = res1.k_params - res2.k_params
    corrections = {"raw": 0.0, "aic": dk / n, "bic": dk / (2.0 * n) * np.log(n)}
    rows = {}
    for name, c in corrections.items():
        d = m - c
        z = float(d.sum() / (d.std(ddof=1) * np.sqrt(n)))
        p = float(scipy.special.ndtr(-z) if z > 0 else scipy.special.ndtr(z))
        rows[name] = {"z": z, "p_value": p, "favours": "model 1" if z > 0 else "model 2"}
    return pd.DataFrame.from_dict(rows, orient="index")
