"""The text and HTML report of one fit: ``res.summary()`` (header statistics, then the coefficients).

Rendering only: the statistics are computed by :class:`~hessstats.results.FitResult` (which calls
:func:`summary`); this module reads them duck-typed and formats them as statisticians print them
(p-values below 0.001 as ``<0.001``, others with 3 significant digits).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hessstats.inference.hypothesis import uses_sandwich, wald_statistic
from hessstats.rows.weights import pseudo_likelihood

if TYPE_CHECKING:
    from hessstats.results import FitResult


def format_pvalue(p: float) -> str:
    """A p-value as statisticians print it: ``<0.001`` below 0.001, else 3 significant digits.

    NaN gives an empty string.

    Example
    -------
    >>> [format_pvalue(p) for p in (0.0, 2.1e-310, 0.0004, 0.0123456, 0.05, 1.0, float("nan"))]
    ['<0.001', '<0.001', '<0.001', '0.0123', '0.0500', '1.00', '']
    """
    p = float(p)
    if math.isnan(p):
        return ""
    if p < 0.001:
        return "<0.001"
    return f"{p:#.3g}"


def format_number(value: float, digits: int = 6) -> str:
    """A statistic in a report: ``digits`` significant digits, ``nan`` as an empty string.

    Example
    -------
    >>> format_number(-12.8896335), format_number(float("nan")), format_number(20190)
    ('-12.8896', '', '20190')
    """
    value = float(value)
    if math.isnan(value):
        return ""
    return f"{value:.{digits}g}"


def coefficient_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """The coefficient table of ``summary_frame()`` as strings: 6 significant digits, p-values formatted.

    Example
    -------
    >>> f = pd.DataFrame({"coef": [1.5], "std_err": [0.5], "z": [3.0], "p_value": [0.0027],
    ...                   "ci_lower": [0.52], "ci_upper": [2.48]}, index=["x"])
    >>> coefficient_strings(f).loc["x"].tolist()
    ['1.5', '0.5', '3', '0.00270', '0.52', '2.48']
    """
    out = pd.DataFrame(index=list(frame.index))  # no index name: the text starts with the table
    for column in frame.columns:
        fmt = format_pvalue if column == "p_value" else format_number
        out[column] = [fmt(v) for v in frame[column]]
    return out


@dataclass(frozen=True)
class Summary:
    """A fit's report: ``header`` (label, value) pairs, the coefficient ``table`` (raw floats) and a
    ``warning`` (empty when the fit is certified). ``str()`` is the text report; notebooks show
    ``_repr_html_``.

    Example
    -------
    >>> t = pd.DataFrame({"coef": [1.5], "std_err": [0.5], "z": [3.0], "p_value": [1e-5],
    ...                   "ci_lower": [0.52], "ci_upper": [2.48]}, index=["x"])
    >>> print(Summary((("Model", "custom"), ("Observations", "10")), t))
    Model:          custom
    Observations:   10
    ===================================================
      coef std_err  z p_value ci_lower ci_upper
    x  1.5     0.5  3  <0.001     0.52     2.48
    """

    header: tuple[tuple[str, str], ...]
    table: pd.DataFrame
    warning: str = ""

    def header_text(self) -> str:
        """The header block alone, one ``label: value`` line per statistic."""
        width = max([len(k) for k, _ in self.header] + [14]) + 2
        return "\n".join(f"{k + ':':<{width}}{v}" for k, v in self.header)

    def __str__(self) -> str:
        body = coefficient_strings(self.table).to_string()
        rule = "=" * max([51] + [len(line) for line in body.splitlines()])
        tail = f"\nWARNING: {self.warning}" if self.warning else ""
        return f"{self.header_text()}\n{rule}\n{body}{tail}"

    def _repr_html_(self) -> str:
        head = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                       for k, v in self.header)
        warn = f"<p><b>Warning:</b> {html.escape(self.warning)}</p>" if self.warning else ""
        return f"<table>{head}</table>{coefficient_strings(self.table).to_html()}{warn}"


def header(res: FitResult) -> tuple[tuple[str, str], ...]:
    """The header statistics of a fit, as (label, value) strings (see :meth:`FitResult.summary`).

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit()
    >>> dict(header(res))["LR chi2 (df, p)"]
    '15.4042 (3, 0.00150)'
    """
    desc = res.model.description
    rows: list[tuple[str, str]] = [("Model", str(desc.get("model", getattr(res.model.loglike, "__name__", "custom"))))]
    if desc.get("formula"):
        rows.append(("Formula", str(desc["formula"])))
    nobs = str(res.nobs)
    if res.groups is not None:
        codes = np.asarray(res.groups).reshape(len(res.groups), -1)  # (n,) one-way, (n, 2) two-way
        nobs += f" ({' x '.join(str(len(np.unique(c))) for c in codes.T)} clusters)"
    rows.append(("Observations", nobs))
    if math.isnan(res.df_model):
        rows.append(("Df resid", format_number(res.df_resid)))
    else:
        rows.append(("Df model / resid", f"{format_number(res.df_model)} / {format_number(res.df_resid)}"))
    pseudo = pseudo_likelihood(res)  # no LR test (Stata)
    rows.append(("Log pseudolikelihood" if pseudo else "Log-likelihood", format_number(res.llf)))  # Stata's label
    null = res.model.defaults.null
    if (pseudo or uses_sandwich(res)) and null:  # Stata: a Wald test with that covariance
        positions = res.model.spec.positions(list(null))
        R = np.zeros((len(positions), len(res.theta)))
        R[np.arange(len(positions)), positions] = 1.0
        test = wald_statistic(res, R, np.array([float(v) for v in null.values()]))
        rows.append(("Wald chi2 (df, p)", f"{format_number(test.statistic)} ({test.df}, {format_pvalue(test.p_value)})"))
    elif not pseudo and not math.isnan(res.llnull):
        rows.append(("LL-null", format_number(res.llnull)))
        rows.append(("LR chi2 (df, p)", f"{format_number(res.llr)} ({format_number(res.df_model)}, "
                                         f"{format_pvalue(res.llr_pvalue)})"))
    if not math.isnan(res.rsquared):
        rows.append(("R2 / adj. R2", f"{res.rsquared:.4f} / {res.rsquared_adj:.4f}"))
    elif not math.isnan(res.prsquared):
        rows.append(("Pseudo R2", f"{res.prsquared:.4f}"))
    rows.append(("AIC / BIC", f"{format_number(res.aic)} / {format_number(res.bic)}"))
    rows.append(("Covariance", res.cov_type))
    weight_type = getattr(res, "weight_type", None)
    if weight_type is not None:
        rows.append(("Weights", f"{weight_type.value} ({weight_type.stata})"))
    if res.cov_type == "survey":
        rows.append(("Design df", f"{res.df_design} (t-based p-values and intervals)"))
    if res.converged:
        rows.append(("Converged", f"yes: certified maximum ({res.iterations} iterations)"))
    else:
        rows.append(("Converged", f"NO ({res.iterations} iterations)"))
    return tuple(rows)


def summary(res: FitResult, alpha: float = 0.05) -> Summary:
    """The report of ``res``: :func:`header`, ``res.summary_frame(alpha)`` and the convergence warning.

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit()
    >>> summary(res).table.shape
    (4, 6)
    """
    return Summary(header(res), res.summary_frame(alpha), "" if res.converged else res.convergence_message)
