"""Observation weights with a declared meaning (Stata's four kinds), validated once.

``weights=`` on :class:`hessstats.Model`, ``hs.fit`` and every built-in model multiplies each
observation's log-likelihood contribution; ``weight_type=`` says what the weights mean, with
Stata's semantics (``help weight``, ``[P] _robust``):

=============  =======  ===========================  =======================  ==============================
weight_type    Stata    weights used                 nobs                     covariance
=============  =======  ===========================  =======================  ==============================
frequency      fweight  as given (integers)          ``sum(w)``               every type, as the expanded rows
analytic       aweight  rescaled to sum to n         n (rows with ``w > 0``)  sandwich meat ``(w s)(w s)'``
probability    pweight  as given                     n (rows with ``w > 0``)  sandwich only (default robust)
importance     iweight  as given (no rescaling)      ``sum(w)``               as frequency weights
=============  =======  ===========================  =======================  ==============================

Zero weights keep their rows (subpopulation analysis: the rows stay in survey designs and
clusters); negative, NaN/inf or all-zero weights, and weights of the wrong length, are a
:class:`~hessstats.errors.DataError`.
"""

from __future__ import annotations

import enum
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from hessstats._config import x64
from hessstats.errors import DataError, SpecificationError, message
from hessstats.rows.prepare import align_to_rows
from hessstats.rows.source import ArraySource, RowSource


class WeightType(enum.Enum):
    """What observation weights mean (Stata's fweight, aweight, pweight, iweight).

    Example
    -------
    >>> WeightType.parse("probability"), WeightType.parse(WeightType.FREQUENCY).stata
    (<WeightType.PROBABILITY: 'probability'>, 'fweight')
    """

    FREQUENCY = "frequency"
    """fweight: row ``i`` stands for ``w_i`` identical observations (integer weights)"""
    ANALYTIC = "analytic"
    """aweight: inverse-variance weights, rescaled to sum to the number of observations"""
    PROBABILITY = "probability"
    """pweight: inverse sampling probabilities; sandwich (robust/cluster/survey) covariances only"""
    IMPORTANCE = "importance"
    """iweight: weights used as given (computationally fweights that need not be integers)"""

    @property
    def stata(self) -> str:
        """Stata's name of this kind of weight."""
        return {"frequency": "fweight", "analytic": "aweight", "probability": "pweight", "importance": "iweight"}[self.value]

    @property
    def counts_rows(self) -> bool:
        """True when a row of weight ``w`` counts as ``w`` observations (frequency, importance)."""
        return self in (WeightType.FREQUENCY, WeightType.IMPORTANCE)

    @classmethod
    def parse(cls, value: Any) -> WeightType:
        """A :class:`WeightType` from itself or its name (case-insensitive); else a SpecificationError."""
        if isinstance(value, WeightType):
            return value
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
            stata = {t.stata: t for t in cls}
            if value.strip().lower() in stata:
                return stata[value.strip().lower()]
        raise SpecificationError(message(
            "unknown weight_type", expected=f"one of {[t.value for t in cls]} (or hs.WeightType members)",
            got=repr(value)[:100], fix="say what the weights mean, e.g. weight_type='probability' for survey weights"))


def pseudo_likelihood(fitted: Any) -> bool:
    """Whether a model or fit weights its rows with probability weights, which make its
    log-likelihood a pseudo-likelihood (no LR or score tests; Stata labels it so).

    Example
    -------
    >>> class Fit:
    ...     weight_type = WeightType.PROBABILITY
    >>> pseudo_likelihood(Fit()), pseudo_likelihood(object())
    (True, False)
    """
    return getattr(fitted, "weight_type", None) is WeightType.PROBABILITY


def resolve_weights(weights: Any, weight_type: Any, data: Any, labels: Any,
                    nrows: int | None) -> tuple[WeightType | None, np.ndarray | None]:
    """``(weight type, raw weights as a read-only float64 copy)``, or ``(None, None)`` without weights.

    ``weights`` is an array (a pandas Series is aligned with the data's row ``labels``) or the
    name of a column of ``data`` (a dict or DataFrame). The caller's objects are never modified.

    Example
    -------
    >>> kind, w = resolve_weights("w", "frequency", {"w": [1, 2, 0]}, None, 3)
    >>> kind.stata, w.tolist()
    ('fweight', [1.0, 2.0, 0.0])
    """
    if weights is None:
        if weight_type is not None:
            raise SpecificationError(message(
                "weight_type given without weights", expected="weights= together with weight_type=",
                got=f"weight_type={weight_type!r}, weights=None", fix="pass the weights, or drop weight_type"))
        return None, None
    if weight_type is None:
        raise SpecificationError(message(
            "weights need a declared meaning", expected="weight_type= one of 'frequency', 'analytic', 'probability', "
            "'importance' (Stata fweight, aweight, pweight, iweight)", got="weights without weight_type",
            fix="e.g. weight_type='probability' for survey (sampling) weights, 'frequency' for counts of identical rows"))
    kind = WeightType.parse(weight_type)
    if isinstance(weights, str):
        if isinstance(data, pd.DataFrame):
            columns = [str(c) for c in data.columns]
            found = weights in columns
        elif isinstance(data, dict):
            columns = sorted(map(str, data))
            found = weights in data
        else:
            columns, found = [], False
        if not found:
            raise DataError(message(
                "weights names a data column that does not exist", expected=f"one of the data columns {columns[:20]}",
                got=repr(weights), fix="pass the weights as an array, or a valid column name"))
        weights = data[weights]
    weights = align_to_rows(weights, labels, nrows, "weights")
    return kind, check_weights(weights, nrows, kind)


def check_weights(weights: Any, nrows: int | None, kind: WeightType) -> np.ndarray:
    """A read-only float64 copy of valid weights (finite, >= 0, not all 0, one per row; integers
    for frequency weights); a :class:`DataError` otherwise.

    Example
    -------
    >>> check_weights([0.5, 2.0], 2, WeightType.PROBABILITY).tolist()
    [0.5, 2.0]
    >>> try:
    ...     check_weights([1.0, -1.0], 2, WeightType.PROBABILITY)
    ... except DataError as e:
    ...     print(str(e).splitlines()[0])
    weights has negative values
    """
    if isinstance(weights, (pd.Series, pd.DataFrame)):
        weights = weights.to_numpy()
    try:
        w = np.array(weights, dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        raise DataError(message("weights are not numeric", expected="numbers >= 0, one per observation",
                                got=f"{type(weights).__name__}", fix="pass a numeric array")) from None
    w = w.reshape(-1) if w.ndim == 2 and 1 in w.shape else w
    if w.ndim != 1 or (nrows is not None and w.shape[0] != nrows):
        raise DataError(message(
            "weights have the wrong shape", expected=f"one weight per observation: shape ({nrows},)",
            got=f"shape {w.shape}", fix="pass a 1-d array aligned with the data rows"))
    bad = ~np.isfinite(w)
    if bad.any():
        raise DataError(message(
            "weights have missing or infinite values", expected="finite weights >= 0",
            got=f"{int(bad.sum())} non-finite of {w.size}, first at row {int(np.flatnonzero(bad)[0])}",
            fix="drop those rows (formula interface: missing='drop'), or give them weight 0"))
    if (w < 0).any():
        raise DataError(message(
            "weights has negative values", expected="weights >= 0 (0 keeps a row out of the estimate)",
            got=f"{int((w < 0).sum())} negative, e.g. {w[w < 0][:3].tolist()}", fix="check the weight column"))
    if not (w > 0).any():
        raise DataError(message(
            "all weights are zero", expected="at least one positive weight", got=f"{w.size} zero weights",
            fix="check the weight column"))
    if kind is WeightType.FREQUENCY and not np.all(w == np.round(w)):
        raise DataError(message(
            "frequency weights must be integers", expected="whole numbers (counts of identical rows), as Stata's fweight",
            got=f"e.g. {w[w != np.round(w)][:3].tolist()}",
            fix="use weight_type='importance' (used as given) or 'probability' for non-integer weights"))
    w.flags.writeable = False
    return w


def effective_weights(raw: np.ndarray, kind: WeightType) -> np.ndarray:
    """The weights that multiply the log-likelihood contributions: analytic weights rescaled to
    sum to the number of rows with positive weight (Stata), every other kind as given.

    Example
    -------
    >>> effective_weights(np.array([1.0, 3.0]), WeightType.ANALYTIC).tolist()
    [0.5, 1.5]
    """
    if kind is WeightType.ANALYTIC:
        out = raw * (np.count_nonzero(raw) / raw.sum())
    else:
        out = np.array(raw, dtype=np.float64, copy=True)
    out.flags.writeable = False
    return out


def weighted_nobs(raw: np.ndarray, kind: WeightType) -> int | float:
    """The number of observations the weights stand for: ``sum(w)`` for frequency (an int) and
    importance weights (Stata: iweights count as fweights that need not be integers), the number of
    rows with positive weight for analytic and probability weights (Stata drops zero-weight rows from N).

    Example
    -------
    >>> weighted_nobs(np.array([2.0, 3.0, 0.0]), WeightType.FREQUENCY), weighted_nobs(np.array([2.0, 3.0, 0.0]), WeightType.PROBABILITY)
    (5, 2)
    """
    if kind is WeightType.FREQUENCY:
        return int(round(float(raw.sum())))
    if kind is WeightType.IMPORTANCE:
        total = float(raw.sum())
        return int(round(total)) if total == round(total) else total
    return int(np.count_nonzero(raw))


def meat_row_factors(effective: np.ndarray, kind: WeightType) -> np.ndarray:
    """Per-row factors ``m_i`` with the score meat ``sum_i m_i (w_i s_i)(w_i s_i)'`` on the weighted
    scores ``w_i s_i``: ``1 / w_i`` (0 for ``w_i = 0``) for frequency and importance weights, so the
    meat is ``sum_i w_i s_i s_i'`` (the expanded rows); 1 for analytic and probability weights.

    Example
    -------
    >>> meat_row_factors(np.array([2.0, 0.0]), WeightType.FREQUENCY).tolist()
    [0.5, 0.0]
    """
    if kind.counts_rows:
        out = np.zeros_like(effective)
        np.divide(1.0, effective, out=out, where=effective > 0)
        return out
    return np.ones_like(effective)


# ----------------------------------------------------------------------------- how a model's rows are visited

def model_source(model: Any) -> RowSource | None:
    """The row blocks a model is evaluated on: its row source, or its in-memory rows (with their case
    weights, sliced with the rows) in blocks of ``chunk_size``; None for an in-memory evaluation.

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(4.0), chunk_size=2)
    >>> type(model_source(m)).__name__
    'ArraySource'
    """
    if isinstance(model.data, RowSource):
        return model.data
    if model.chunk_size is not None:
        if getattr(model, "case_weights", None) is not None:  # the weights are sliced with the rows
            return ArraySource({"data": model.data, "weights": model.case_weights}, model.nobs)
        return ArraySource(model.data, model.nobs)
    return None


def _weighted_call(fn: Any, key: str | None, scale: float, data: Any, pad: Any) -> Any:
    """``fn(data, weights)`` on a block whose case weights travel with it: ``data["weights"]`` of an
    in-memory chunked model (``key`` None), or the row source's column ``data[key]`` times ``scale``."""
    with x64():  # float64 products even when the caller did not enable x64
        if key is None:
            rows, w = data["data"], data["weights"]
        else:
            rows, w = data, data[key] * scale
        return fn(rows, w if pad is None else pad * w)


def weighted_blocks(model: Any, fn: Any) -> Any:
    """``fn(data, pad)`` for the blocks of :func:`model_source`, with the model's case weights folded
    into the row weights (1 real rows, 0 padding) that ``fn`` receives.

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(3.0), chunk_size=2,
    ...              weights=[1, 2, 3], weight_type="frequency")
    >>> model_source(m).reduce(weighted_blocks(m, lambda d, w: (float((d * w).sum()),)), 2)
    (8.0,)
    """
    if getattr(model, "weight_type", None) is None:
        return fn
    if isinstance(model.data, RowSource):
        return partial(_weighted_call, fn, model.weight_key, model.weight_scale)
    return partial(_weighted_call, fn, None, 1.0)


def memory_weights(model: Any) -> Any:
    """The row weights of an in-memory evaluation: padding x case weights (sharded), the case weights,
    or None (unweighted, unsharded).

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(2.0), weights=[1, 3], weight_type="importance")
    >>> np.asarray(memory_weights(m)).tolist()
    [1.0, 3.0]
    """
    if model.weights is not None:
        return model.weights
    return getattr(model, "case_weights", None)
