"""Survey designs: Taylor-linearised (design-based) covariances on the exact scores.

``cov_type="survey"`` with ``design={"strata": ..., "psu": ..., "fpc": ..., "nest": False}``
(``fit(design=...)``, ``with_cov("survey", design=...)`` or ``cov_options={"design": ...}``) gives

    V = B M B,   M = sum_h (1 - f_h) n_h / (n_h - 1) sum_j (z_hj - zbar_h)(z_hj - zbar_h)'

where ``B`` is the inverse observed information of the (probability-)weighted log-likelihood,
``z_hj`` the total of the weighted scores ``w_i s_i`` over the rows of PSU ``j`` in stratum ``h``,
``zbar_h`` their stratum mean, ``n_h`` the number of PSUs in stratum ``h`` and ``f_h`` its sampling
fraction (0 without ``fpc``): stratified, first-stage PSUs sampled with replacement (or without,
with the finite population correction), as R ``survey::svyrecvar`` (``svyglm``) and Stata ``svy``.
No other small-sample factor is applied (``svyglm``'s ``vcov`` has none).

- ``strata``, ``psu``: labels per row, or data column names; ``None``: one stratum / every row its
  own PSU. ``nest=True`` makes PSU labels unique within strata (R ``svydesign(nest=TRUE)``);
  without it a PSU label found in two strata is an error, as in R.
- ``fpc``: per row, constant within strata: the number of PSUs in the stratum's population
  (values > 1), or the sampling fraction ``n_h / N_h`` (values <= 1), as R's ``svydesign(fpc=)``.
- ``cov_options={"lonely_psu": ...}`` for strata with one PSU, R's ``options(survey.lonely.psu=)``:
  ``"fail"`` (default, an error), ``"remove"`` and ``"certainty"`` (no contribution), ``"adjust"``
  (centred at the grand mean of the PSU totals instead of the stratum mean), ``"average"`` (the
  other strata's sum scaled by ``#strata / #strata with several PSUs``).
- Rows with weight 0 stay in the design (subpopulation / domain analysis, as R ``subset(design)``):
  their PSUs count in ``n_h`` with zero totals.

Design degrees of freedom ``#PSU - #strata`` (:func:`design_df`) are reported as
``FitResult.df_design`` and used for t-based p-values and intervals (Stata ``svy``; R's
``summary.svyglm`` uses ``degf + 1 - k`` instead).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from hessstats.core.covariance import CovarianceInputs, register
from hessstats.errors import CovarianceError, DataError, message
from hessstats.rows.prepare import align_to_rows
from hessstats.rows.source import RowSource
from hessstats.rows.weights import WeightType


class LonelyPSU(enum.Enum):
    """How a stratum with a single PSU enters the variance (R ``options(survey.lonely.psu=)``).

    Example
    -------
    >>> LonelyPSU("adjust")
    <LonelyPSU.ADJUST: 'adjust'>
    """

    FAIL = "fail"
    REMOVE = "remove"
    ADJUST = "adjust"
    CERTAINTY = "certainty"
    AVERAGE = "average"


NON_SANDWICH = frozenset({"nonrobust", "opg", "expected"})
"""Covariance types that are not sandwiches (refused with probability weights)."""
DESIGN_KEYS = ("strata", "psu", "fpc", "nest")


def check_weights_cov(weight_type: WeightType | None, cov_type: str) -> None:
    """Refuse covariance types that the weights do not allow: probability weights need a sandwich
    (robust, cluster, survey, ...), analytic weights have no OPG (Stata's ``ml`` takes no aweights);
    a survey design takes probability weights or none.

    Example
    -------
    >>> try:
    ...     check_weights_cov(WeightType.PROBABILITY, "nonrobust")
    ... except CovarianceError as e:
    ...     print(str(e).splitlines()[0])
    probability weights need a sandwich covariance
    """
    if weight_type is WeightType.PROBABILITY and cov_type in NON_SANDWICH:
        raise CovarianceError(message(
            "probability weights need a sandwich covariance",
            expected="cov_type 'robust', 'HC0', 'cluster' or 'survey' with weight_type='probability' (Stata pweight)",
            got=f"cov_type={cov_type!r}: the inverse information of a weighted likelihood is not the variance of "
                "a survey estimate", fix="leave cov_type out (robust), or pass cov_type='robust'/'cluster'/'survey'"))
    if weight_type is WeightType.ANALYTIC and cov_type == "opg":
        raise CovarianceError(message(
            "analytic weights have no OPG covariance", expected="cov_type 'nonrobust', 'robust', 'HC0', 'cluster'",
            got="cov_type='opg'", fix="use another covariance type (Stata's ml does not take aweights)"))
    if cov_type == "survey" and weight_type not in (None, WeightType.PROBABILITY):
        raise CovarianceError(message(
            "survey designs take probability weights", expected="weight_type='probability' (or no weights)",
            got=f"weight_type={weight_type.value!r}", fix="declare the sampling weights as weight_type='probability'"))


def resolve_cov(weight_type: WeightType | None, cov_type: str | None, cov_options: Mapping[str, Any] | None,
                design: Any = None) -> tuple[str, dict[str, Any]]:
    """``(cov_type, cov_options)`` of a fit: the default covariance (``"nonrobust"``; ``"robust"`` with
    probability weights; ``"survey"`` with a design), ``design`` moved into the options, checked
    against the weights (:func:`check_weights_cov`).

    Example
    -------
    >>> resolve_cov(WeightType.PROBABILITY, None, None)
    ('robust', {})
    >>> resolve_cov(None, None, None, design={"psu": [0, 1]})[0]
    'survey'
    """
    options = dict(cov_options or {})
    if design is not None:
        if "design" in options:
            raise CovarianceError(message(
                "the design is given twice", expected="design= or cov_options={'design': ...}, not both",
                got="both", fix="pass it once"))
        options["design"] = design
    if cov_type is None:
        cov_type = "survey" if "design" in options else ("robust" if weight_type is WeightType.PROBABILITY else "nonrobust")
    if "design" in options and cov_type != "survey":
        raise CovarianceError(message(
            "a survey design needs cov_type='survey'", expected="cov_type='survey' (or leave cov_type out) with design=",
            got=f"cov_type={cov_type!r} with a design", fix="pass cov_type='survey', or drop the design"))
    check_weights_cov(weight_type, cov_type)
    return cov_type, options


@dataclass(frozen=True)
class Design:
    """A resolved survey design: integer codes per row and per-stratum counts.

    ``strata[i]`` in ``0..H-1``; ``psu[i]`` in ``0..P-1`` (unique over strata); ``psu_stratum[j]``
    the stratum of PSU ``j``; ``fraction[h]`` the sampling fraction ``f_h`` (0 without FPC).

    Example
    -------
    >>> d = resolve_design({"strata": [1, 1, 2, 2], "psu": [1, 2, 1, 2], "nest": True}, None, None, 4)
    >>> d.n_strata, d.n_psu, d.df
    (2, 4, 2)
    """

    strata: np.ndarray
    psu: np.ndarray
    psu_stratum: np.ndarray
    fraction: np.ndarray

    @property
    def n_strata(self) -> int:
        return len(self.fraction)

    @property
    def n_psu(self) -> int:
        return len(self.psu_stratum)

    @property
    def df(self) -> int:
        """Design degrees of freedom ``#PSU - #strata``."""
        return self.n_psu - self.n_strata

    def psu_counts(self) -> np.ndarray:
        """``n_h``: the number of PSUs of each stratum."""
        return np.bincount(self.psu_stratum, minlength=self.n_strata)


def _column(value: Any, data: Any, labels: Any, nrows: int, what: str) -> np.ndarray | None:
    """A design variable as a 1-d numpy array of one entry per row (a column name, an array or a Series)."""
    if value is None:
        return None
    if isinstance(value, str):
        if isinstance(data, RowSource):
            sample = data.sample()
            if not isinstance(sample, dict) or value not in sample:
                raise CovarianceError(message(
                    f"design {what!r} names a column the data do not have", expected="a key of the source's data",
                    got=repr(value), fix="pass the values as an array"))
            return data.rows(partial(_source_column, value), data.default_chunk_size, progress=False)
        if not isinstance(data, Mapping) or value not in data:
            keys = sorted(data) if isinstance(data, Mapping) else []
            raise CovarianceError(message(
                f"design {what!r} names a data column that does not exist", expected=f"one of the data keys {keys[:20]}",
                got=repr(value), fix="pass the design variable as an array (or a Series aligned with the data)"))
        value = np.asarray(data[value])
    value = align_to_rows(value, labels, nrows, what)
    arr = np.asarray(value.to_numpy() if isinstance(value, (pd.Series, pd.DataFrame)) else value)
    arr = arr.reshape(-1) if arr.ndim == 2 and 1 in arr.shape else arr
    if arr.ndim != 1 or len(arr) != nrows:
        raise DataError(message(
            f"design {what!r} has the wrong shape", expected=f"one value per row: shape ({nrows},)",
            got=f"shape {arr.shape}", fix="pass a 1-d array aligned with the data rows"))
    if pd.Series(arr).isna().any():
        raise DataError(message(
            f"design {what!r} has missing values", expected="a value for every row",
            got=f"{int(pd.Series(arr).isna().sum())} missing", fix="drop those rows before fitting"))
    return arr


def _source_column(key: str, data: Any, pad: Any) -> np.ndarray:
    return np.asarray(data[key])


def resolve_design(design: Any, data: Any, labels: Any, nrows: int) -> Design:
    """Check a design mapping and return its :class:`Design` (codes per row, FPC per stratum).

    Example
    -------
    >>> d = resolve_design({"psu": ["a", "b", "b"]}, None, None, 3)
    >>> d.psu.tolist(), d.n_strata
    ([0, 1, 1], 1)
    """
    if not isinstance(design, Mapping):
        raise CovarianceError(message(
            "the survey design must be a mapping", expected="design={'strata': ..., 'psu': ..., 'fpc': ..., 'nest': bool}",
            got=type(design).__name__, fix="pass a dict"))
    unknown = sorted(set(design) - set(DESIGN_KEYS))
    if unknown:
        raise CovarianceError(message(
            "unknown survey design keys", expected=f"keys among {list(DESIGN_KEYS)}", got=str(unknown),
            fix="check the spelling (PSUs: 'psu')"))
    nest = design.get("nest", False)
    if not isinstance(nest, (bool, np.bool_)):
        raise CovarianceError(message("design 'nest' must be True or False", expected="a bool", got=repr(nest),
                                      fix="nest=True makes PSU labels unique within strata"))
    strata = _column(design.get("strata"), data, labels, nrows, "strata")
    psu = _column(design.get("psu"), data, labels, nrows, "psu")
    fpc = _column(design.get("fpc"), data, labels, nrows, "fpc")
    s_codes = np.zeros(nrows, dtype=np.int64) if strata is None else pd.factorize(pd.Series(list(strata)), sort=True)[0]
    if psu is None:
        p_codes = np.arange(nrows, dtype=np.int64)
    elif nest:
        p_codes = pd.factorize(pd.Series(list(zip(s_codes.tolist(), list(psu)))), sort=True)[0]
    else:
        p_codes = pd.factorize(pd.Series(list(psu)), sort=True)[0]
    p_codes = np.asarray(p_codes, dtype=np.int64)
    n_psu = int(p_codes.max()) + 1
    pairs = pd.DataFrame({"psu": p_codes, "stratum": s_codes}).drop_duplicates()
    if len(pairs) != n_psu:
        shared = pairs[pairs["psu"].duplicated(keep=False)]["psu"].unique()[:5].tolist()
        raise DataError(message(
            "PSUs are not nested in strata", expected="each PSU label in one stratum only",
            got=f"{len(pairs) - n_psu} PSU label(s) found in several strata (PSU codes {shared})",
            fix="pass design={'nest': True, ...} when PSU labels restart in every stratum (R svydesign(nest=TRUE))"))
    psu_stratum = pairs.sort_values("psu")["stratum"].to_numpy(dtype=np.int64)
    n_strata = int(s_codes.max()) + 1
    fraction = np.zeros(n_strata)
    if fpc is not None:
        fraction = _fractions(np.asarray(fpc, dtype=np.float64), s_codes, np.bincount(psu_stratum, minlength=n_strata))
    return Design(np.asarray(s_codes, dtype=np.int64), p_codes, psu_stratum, fraction)


def _fractions(fpc: np.ndarray, strata: np.ndarray, n_h: np.ndarray) -> np.ndarray:
    """Sampling fractions per stratum from the FPC column (R: population PSU counts, or fractions if <= 1)."""
    out = np.zeros(len(n_h))
    for h in range(len(n_h)):
        values = np.unique(fpc[strata == h])
        if len(values) != 1 or not np.isfinite(values[0]) or values[0] <= 0:
            raise DataError(message(
                "the fpc is not one positive number per stratum", expected="a constant, positive fpc within each stratum",
                got=f"stratum {h}: values {values[:5].tolist()}", fix="pass the population PSU count (or the fraction) per stratum"))
        value = float(values[0])
        if value <= 1.0:
            out[h] = value
        elif value < n_h[h]:
            raise DataError(message(
                "the fpc is smaller than the number of sampled PSUs", expected=f"a population of at least {n_h[h]} PSUs",
                got=f"stratum {h}: fpc {value:g}", fix="give the population number of PSUs, or the sampling fraction (<= 1)"))
        else:
            out[h] = n_h[h] / value
    return out


def survey_meat(scores: np.ndarray, design: Design, lonely: LonelyPSU = LonelyPSU.FAIL) -> np.ndarray:
    """``M = sum_h (1 - f_h) n_h/(n_h - 1) sum_j (z_hj - zbar_h)(z_hj - zbar_h)'`` from the weighted
    per-row scores (``z_hj``: PSU totals), with the lonely-PSU rule for strata of one PSU.

    Example
    -------
    >>> d = resolve_design({"strata": [0, 0, 1, 1], "psu": [0, 1, 2, 3]}, None, None, 4)
    >>> survey_meat(np.array([[1.0], [3.0], [-2.0], [-2.0]]), d).tolist()  # 2/1 * ((1-2)^2 + (3-2)^2) + 0
    [[4.0]]
    """
    scores = np.asarray(scores, dtype=np.float64)
    k = scores.shape[1]
    totals = np.zeros((design.n_psu, k))
    np.add.at(totals, design.psu, scores)
    n_h = design.psu_counts()
    grand = totals.mean(axis=0)
    meat = np.zeros((k, k))
    lonely_strata = np.flatnonzero(n_h == 1)
    if len(lonely_strata) and lonely is LonelyPSU.FAIL:
        raise CovarianceError(message(
            f"{len(lonely_strata)} stratum/strata with a single PSU", expected="at least two PSUs per stratum",
            got=f"strata codes {lonely_strata[:5].tolist()} with one PSU",
            fix="cov_options={'lonely_psu': 'adjust'} (or 'remove', 'certainty', 'average'), as R's survey.lonely.psu"))
    ok = 0
    for h in range(design.n_strata):
        z = totals[design.psu_stratum == h]
        f = design.fraction[h]
        if len(z) > 1:
            centred = z - z.mean(axis=0)
            meat += (1.0 - f) * len(z) / (len(z) - 1.0) * centred.T @ centred
            ok += 1
        elif lonely is LonelyPSU.ADJUST:
            centred = z - grand
            meat += (1.0 - f) * centred.T @ centred
    if lonely is LonelyPSU.AVERAGE and ok and ok < design.n_strata:
        meat *= design.n_strata / ok
    return meat


LONELY_VALUES = tuple(rule.value for rule in LonelyPSU)


@register("survey", options={"design": (), "lonely_psu": LONELY_VALUES})
def survey(inputs: CovarianceInputs) -> np.ndarray:
    """Taylor-linearised survey covariance ``B M B`` (R ``svyglm``, Stata ``svy``): stratified PSU
    totals of the weighted scores; ``cov_options={"design": {...}, "lonely_psu": "fail"}``.

    Example
    -------
    >>> import hessstats as hs
    >>> y = np.array([1.0, 3.0, 8.0, 4.0, 2.0, 6.0])
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, y,
    ...              design={"strata": [0, 0, 0, 1, 1, 1], "psu": [0, 0, 1, 2, 3, 3]})
    >>> res.cov_type, res.df_design
    ('survey', 2)
    """
    model = inputs.model
    design = inputs.option("design")
    if design is None or model is None:
        raise CovarianceError(message(
            "cov_type='survey' needs a design", expected="design={'strata': ..., 'psu': ..., 'fpc': ...}",
            got="no design", fix="pass design= to fit or with_cov"))
    resolved = model_design(model, design)
    lonely = LonelyPSU(str(inputs.option("lonely_psu", "fail")))
    meat = survey_meat(inputs.scores(), resolved, lonely)
    inverse = inputs.inverse_information
    bread = inverse.pseudo_inverse if inverse.pseudo_inverse is not None else np.nan_to_num(inverse.cov)
    cov = np.array(bread @ meat @ bread, dtype=np.float64)
    cov[inverse.bad, :] = np.nan
    cov[:, inverse.bad] = np.nan
    return cov


def model_design(model: Any, design: Any) -> Design:
    """The :class:`Design` of ``design`` for a model's rows (column names read from its data).

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.Model(lambda p, d: -(d["y"] - p["mu"]) ** 2, {"mu": 0.0}, {"y": np.arange(4.0), "s": np.array([0, 0, 1, 1])})
    >>> model_design(m, {"strata": "s"}).n_strata
    2
    """
    return resolve_design(design, model.data, getattr(model, "row_labels", None), int(model.nobs))


def design_df(model: Any, design: Any) -> int:
    """Design degrees of freedom ``#PSU - #strata`` of ``design`` on a model's rows.

    Example
    -------
    >>> import hessstats as hs
    >>> m = hs.Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(4.0))
    >>> design_df(m, {"strata": [0, 0, 1, 1], "psu": [0, 1, 2, 3]})
    2
    """
    return model_design(model, design).df
