"""Regression-test estimates: tolerance-aware comparison, drift tables, snapshots.

Conventions
-----------
- Closeness is numpy's: ``|actual - expected| <= atol + rtol * |expected|`` (``numpy.isclose``),
  so ``expected`` is the reference and the test is not symmetric. Defaults are those of
  ``numpy.testing.assert_allclose``: ``rtol=1e-7``, ``atol=0``. Both may be a float or a dict by
  quantity (``{"coef": 1e-8, "std_err": 1e-6}``); quantities missing from the dict use the default.
- NaN equals NaN only where *both* sides are NaN (an unidentified parameter that stays
  unidentified passes; one that becomes NaN, or stops being NaN, fails). ``inf`` equals ``inf`` of
  the same sign.
- ``nobs`` is compared exactly unless a tolerance dict names ``"nobs"``; so is ``converged`` (1 or 0)
  where both sides know it (fit results and snapshots): a fit that stops being a certified maximum,
  or becomes one, has drifted whatever its numbers.
- Like Stata's ``storedresults compare`` (which exits with return code 9 on a difference), every
  expected value is checked *and* values present now but absent before are reported: missing and
  extra parameter names fail the comparison.

``expected`` may be a snapshot path or :class:`~hessstats.testing.Snapshot`, another FitResult,
a statsmodels results object (``.params``/``.bse``: matched by *name* when they are pandas Series,
by *position* when numpy arrays, and the report says which), or a DataFrame shaped like
``summary_frame()`` (statsmodels ``summary2()`` column names such as ``Coef.``/``Std.Err.`` are
understood).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hessstats.errors import SpecificationError, message
from hessstats.results import FitResult
from hessstats.testing.snapshots import Snapshot, data_fingerprint, load_snapshot, save_snapshot

__all__ = ["assert_estimates_close", "compare_estimates", "drift_report", "load_snapshot", "save_snapshot",
           "Snapshot", "DEFAULT_RTOL", "DEFAULT_ATOL"]

DEFAULT_RTOL = 1e-7
DEFAULT_ATOL = 0.0
SCALARS = ("llf", "nobs", "converged")
EXACT = ("nobs", "converged")
"""Quantities compared exactly unless a tolerance dict names them."""
_ALIASES = {"Coef.": "coef", "params": "coef", "Std.Err.": "std_err", "std err": "std_err", "bse": "std_err",
            "P>|z|": "p_value", "pvalues": "p_value", "tvalues": "z", "[0.025": "ci_lower", "0.975]": "ci_upper"}
MAX_ROWS = 40


@dataclass(frozen=True)
class _Estimates:
    frame: pd.DataFrame
    scalars: dict[str, float]
    cov: pd.DataFrame | None
    positional: bool
    source: str
    fingerprint: dict | None = None


def compare_estimates(actual: Any, expected: Any, *, rtol: float | dict = DEFAULT_RTOL,
                      atol: float | dict = DEFAULT_ATOL, columns: list[str] | None = None) -> pd.DataFrame:
    """Every compared value as a row: parameter, quantity, expected, actual, diffs, tolerance, status.

    ``status`` is ``ok``, ``drift`` (beyond tolerance), ``missing`` (a parameter expected but
    absent) or ``extra`` (present but not expected). ``tolerance`` is the allowed absolute
    difference ``atol + rtol * |expected|``. The frame's ``attrs`` carry ``source``, ``positional``
    and ``data_changed`` (fingerprints differ; ``None`` when unknown).

    Example
    -------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"coef": [1.0, 2.0], "std_err": [0.1, 0.2]}, index=["x", "y"])
    >>> b = pd.DataFrame({"coef": [1.0, 2.1], "std_err": [0.1, 0.2]}, index=["x", "y"])
    >>> compare_estimates(a, b, rtol=0.01)["status"].tolist()
    ['ok', 'drift', 'ok', 'ok']
    """
    act, exp = _as_estimates(actual, "actual"), _as_estimates(expected, "expected")
    cols = _resolve_columns(columns, act, exp)
    rtols, atols = _resolve_tol(rtol, DEFAULT_RTOL, cols, "rtol"), _resolve_tol(atol, DEFAULT_ATOL, cols, "atol")
    positional = act.positional or exp.positional
    pairs, missing, extra = _match(list(act.frame.index), list(exp.frame.index), positional)
    rows = []
    for col in cols:
        if col in SCALARS:
            rows.append(_row("(model)", col, exp.scalars[col], act.scalars[col], rtols[col], atols[col]))
        elif col == "cov":
            for i, (name, a, e) in enumerate(pairs):
                rows += [_row(f"{name}, {name2}", "cov", exp.cov.loc[e, e2], act.cov.loc[a, a2], rtols[col], atols[col])
                         for name2, a2, e2 in pairs[i:]]
        else:
            rows += [_row(name, col, exp.frame.loc[e, col], act.frame.loc[a, col], rtols[col], atols[col])
                     for name, a, e in pairs]
    rows += [_absent(name, "missing", exp.frame.loc[e, "coef"], np.nan) for name, e in missing]
    rows += [_absent(name, "extra", np.nan, act.frame.loc[a, "coef"]) for name, a in extra]
    out = pd.DataFrame(rows, columns=["parameter", "quantity", "expected", "actual", "abs_diff", "rel_diff",
                                      "tolerance", "status"])
    changed = None if act.fingerprint is None or exp.fingerprint is None else act.fingerprint != exp.fingerprint
    out.attrs.update(source=exp.source, positional=positional, data_changed=changed, rtol=rtol, atol=atol)
    return out


def assert_estimates_close(res: Any, expected: Any, *, rtol: float | dict = DEFAULT_RTOL,
                           atol: float | dict = DEFAULT_ATOL, columns: list[str] | None = None) -> None:
    """Raise ``AssertionError`` with a drift table unless ``res`` matches ``expected``.

    ``columns`` defaults to ``coef`` and ``std_err``, plus ``llf`` and ``nobs`` when both sides
    have them; other summary columns (``z``, ``p_value``, ``ci_lower``, ``ci_upper``) and ``cov``
    (upper triangle of the covariance) may be named. See the module docstring for the rules.

    Example
    -------
    >>> import numpy as np, hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 2.0]))
    >>> assert_estimates_close(res, res, rtol=0)
    >>> class SM:  # a statsmodels-like result with numpy arrays: compared by position
    ...     params, bse = np.array([1.5]), np.array([0.8])
    >>> assert_estimates_close(res, SM(), rtol=1e-3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AssertionError: estimates differ from statsmodels-like SM: 1 of 2 values beyond tolerance ...
    """
    table = compare_estimates(res, expected, rtol=rtol, atol=atol, columns=columns)
    if (table["status"] != "ok").any():
        raise AssertionError(drift_report(table))


def drift_report(table: pd.DataFrame) -> str:
    """Format the failing rows of :func:`compare_estimates` as a readable table.

    Example
    -------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"coef": [1.0, 2.0]}, index=["x", "y"])
    >>> print(drift_report(compare_estimates(a, a.assign(coef=[1.0, 2.5]), rtol=0.01)))
    estimates differ from DataFrame: 1 of 2 values beyond tolerance
      rule: |actual - expected| <= atol + rtol*|expected|  (rtol=0.01, atol=0.0)
    parameter  quantity  expected  actual  abs diff  rel diff  tolerance  status
    y          coef           2.5       2       0.5       0.2      0.025  drift
    """
    bad = table[table["status"] != "ok"]
    n_drift, n_missing, n_extra = ((bad["status"] == s).sum() for s in ("drift", "missing", "extra"))
    parts = [f"{n_drift} of {(table['status'].isin(['ok', 'drift'])).sum()} values beyond tolerance"] if n_drift else []
    parts += [f"{n} parameter(s) {s}" for n, s in ((n_missing, "missing"), (n_extra, "extra")) if n]
    lines = [f"estimates differ from {table.attrs.get('source', 'expected')}: " + ", ".join(parts or ["no differences"]),
             f"  rule: |actual - expected| <= atol + rtol*|expected|  (rtol={table.attrs.get('rtol')}, "
             f"atol={table.attrs.get('atol')})"]
    if table.attrs.get("positional"):
        lines.append("  parameters matched by position (expected values carry no names)")
    shown = bad.head(MAX_ROWS).copy()
    for col in ("expected", "actual"):
        shown[col] = shown[col].map(lambda v: f"{v:.12g}")
    for col in ("abs_diff", "rel_diff", "tolerance"):
        shown[col] = shown[col].map(lambda v: "" if pd.isna(v) else f"{v:.3g}")
    shown.loc[shown["status"] == "missing", "actual"] = "(absent)"
    shown.loc[shown["status"] == "extra", "expected"] = "(absent)"
    shown = shown.rename(columns={"abs_diff": "abs diff", "rel_diff": "rel diff"})
    lines += _text_table(shown, left=("parameter", "quantity", "status"))
    if len(bad) > MAX_ROWS:
        lines.append(f"... and {len(bad) - MAX_ROWS} more")
    if table.attrs.get("data_changed"):
        lines.append("note: the data fingerprint differs from the expected one (the data changed)")
    return "\n".join(lines)


def _text_table(frame: pd.DataFrame, left: tuple[str, ...]) -> list[str]:
    """Plain-text table: ``left`` columns left-aligned, the others (numbers) right-aligned."""
    cells = [list(map(str, frame.columns))] + [[str(v) for v in row] for row in frame.to_numpy()]
    widths = [max(len(row[j]) for row in cells) for j in range(len(frame.columns))]
    align = [str.ljust if c in left else str.rjust for c in frame.columns]
    return ["  ".join(f(v, w) for f, v, w in zip(align, row, widths)).rstrip() for row in cells]


# ---------------------------------------------------------------------- normalisation
def _as_estimates(obj: Any, role: str) -> _Estimates:

    if isinstance(obj, (str, os.PathLike)):
        obj = load_snapshot(obj)
    if isinstance(obj, Snapshot):
        return _Estimates(obj.summary_frame(), _scalars(obj.llf, obj.nobs, obj.converged), obj.cov_params(), False,
                          f"snapshot {obj.path or ''}".strip(), obj.data_fingerprint)
    if isinstance(obj, FitResult):
        return _Estimates(obj.summary_frame(), _scalars(obj.llf, obj.nobs, obj.converged), obj.cov_params(), False,
                          "FitResult", data_fingerprint(obj.model.data))
    if isinstance(obj, pd.DataFrame):
        frame = obj.rename(columns=_ALIASES)
        if "coef" not in frame.columns:
            raise SpecificationError(message(
                f"the {role} DataFrame has no coefficient column", expected="a 'coef' (or 'Coef.', 'params') column",
                got=f"columns {list(obj.columns)}", fix="pass res.summary_frame() or a frame with coef/std_err columns"))
        positional = isinstance(frame.index, pd.RangeIndex)
        return _Estimates(_str_index(frame), {}, None, positional, "DataFrame")
    if hasattr(obj, "params") and hasattr(obj, "bse"):
        params, bse = obj.params, obj.bse
        positional = not isinstance(params, pd.Series)
        frame = pd.DataFrame({"coef": np.asarray(params, dtype=float), "std_err": np.asarray(bse, dtype=float)},
                             index=None if positional else [str(n) for n in params.index])
        cov = getattr(obj, "cov_params", None)
        cov_frame = None
        if callable(cov) and not positional:
            cov_frame = pd.DataFrame(np.asarray(cov(), dtype=float), index=frame.index, columns=frame.index)
        llf, nobs = getattr(obj, "llf", None), getattr(obj, "nobs", None)
        return _Estimates(frame, _scalars(llf, nobs), cov_frame, positional, f"statsmodels-like {type(obj).__name__}")
    raise SpecificationError(message(
        f"cannot compare estimates with the {role} value",
        expected="a snapshot path, Snapshot, FitResult, statsmodels results (.params/.bse) or summary DataFrame",
        got=f"{type(obj).__name__}", fix="pass one of the expected kinds"))


def _str_index(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.index = [str(i) for i in frame.index]
    return out


def _scalars(llf: Any, nobs: Any, converged: Any = None) -> dict[str, float]:
    out = {} if converged is None else {"converged": float(bool(converged))}
    if llf is not None and np.ndim(llf) == 0:
        out["llf"] = float(llf)
    if nobs is not None and np.ndim(nobs) == 0:
        out["nobs"] = float(nobs)
    return out


def _available(est: _Estimates) -> set[str]:
    return set(est.frame.columns) | set(est.scalars) | ({"cov"} if est.cov is not None else set())


def _resolve_columns(columns: list[str] | None, act: _Estimates, exp: _Estimates) -> list[str]:
    both = _available(act) & _available(exp)
    if columns is None:
        return (["coef", "std_err"] if "std_err" in both else ["coef"]) + [s for s in SCALARS if s in both]
    cols = [columns] if isinstance(columns, str) else list(columns)
    unknown = [c for c in cols if c not in both]
    if unknown:
        raise SpecificationError(message(
            f"cannot compare column(s) {unknown}", expected=f"columns both sides have: {sorted(both)}",
            got=f"columns={cols}", fix="drop those columns or compare with a richer expected value (a snapshot or FitResult)"))
    return cols


def _resolve_tol(tol: float | dict, default: float, cols: list[str], label: str) -> dict[str, float]:
    if isinstance(tol, dict):
        unknown = [k for k in tol if k not in cols]
        if unknown:
            raise SpecificationError(message(
                f"{label} names quantities that are not compared: {unknown}", expected=f"keys among {cols}",
                got=f"{label}={tol}", fix="fix the key names or add them to columns="))
        values = {c: float(tol.get(c, 0.0 if c in EXACT else default)) for c in cols}
    else:
        values = {c: 0.0 if c in EXACT else float(tol) for c in cols}
    bad = {c: v for c, v in values.items() if not v >= 0}
    if bad:
        raise SpecificationError(message(
            f"invalid {label}", expected="non-negative numbers", got=f"{bad}", fix=f"use {label} >= 0"))
    return values


def _match(a_labels: list, e_labels: list, positional: bool):
    """``(shown name, actual label, expected label)`` pairs, then missing and extra ``(name, label)``."""
    if positional:
        n = min(len(a_labels), len(e_labels))
        return ([(str(a_labels[i]), a_labels[i], e_labels[i]) for i in range(n)],
                [(f"position {i}", e_labels[i]) for i in range(n, len(e_labels))],
                [(str(a_labels[i]), a_labels[i]) for i in range(n, len(a_labels))])
    a_set, e_set = set(a_labels), set(e_labels)
    return ([(e, e, e) for e in e_labels if e in a_set], [(e, e) for e in e_labels if e not in a_set],
            [(a, a) for a in a_labels if a not in e_set])


def _row(param: str, quantity: str, expected: float, actual: float, rtol: float, atol: float) -> dict:
    e, a = float(expected), float(actual)
    tol = atol + rtol * abs(e)
    if np.isfinite(e) and np.isfinite(a):
        diff = abs(a - e)
        ok = diff <= tol
    else:  # like numpy.isclose(equal_nan=True): NaN only matches NaN, inf only the same inf
        ok = (np.isnan(e) and np.isnan(a)) or e == a
        diff = 0.0 if ok else abs(a - e) if not np.isnan(a - e) else np.nan
    rel = diff / abs(e) if e != 0 and np.isfinite(e) else (0.0 if diff == 0 else np.inf)
    return dict(parameter=param, quantity=quantity, expected=e, actual=a, abs_diff=diff, rel_diff=rel,
                tolerance=tol, status="ok" if ok else "drift")


def _absent(param: str, status: str, expected: float, actual: float) -> dict:
    return dict(parameter=param, quantity="coef", expected=float(expected), actual=float(actual),
                abs_diff=np.nan, rel_diff=np.nan, tolerance=np.nan, status=status)
