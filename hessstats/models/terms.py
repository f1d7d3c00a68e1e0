"""Data preparation for the formula interface: complete rows, extra per-row options, formulaic designs.

Missing values in any variable a model uses raise a :class:`~hessstats.errors.DataError` naming the
columns and counts, unless ``missing="drop"``; formulaic's own silent row dropping is never used
(designs are built with ``na_action="raise"`` on complete rows).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd

from hessstats.errors import DataError, SpecificationError, message
from hessstats.models import design as _design
from hessstats.rows.prepare import align_to_rows

MISSING = ("raise", "drop")


def _check_frame(data: Any) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise DataError(message("data must be a pandas DataFrame", expected="a DataFrame with the formula's columns",
                                got=type(data).__name__, fix="wrap it: pd.DataFrame(data)"))
    return data


@functools.lru_cache(maxsize=256)
def _parsed(formula: str) -> Any:
    """formulaic's parse of ``formula``, once per distinct string (the parse depends on nothing else)."""
    from formulaic import Formula  # imported on first use: keeps `import hessstats` fast

    return Formula(formula)


def parse(formula: str, need_lhs: bool = True) -> Any:
    """Parse a formula with formulaic; a syntax error or a missing outcome is a SpecificationError.

    Example
    -------
    >>> sorted(parse("y ~ x + C(g)").required_variables)
    ['g', 'x', 'y']
    """
    try:
        parsed = _parsed(formula)
    except Exception as exc:
        raise SpecificationError(message("the formula cannot be parsed", expected="e.g. 'y ~ x1 + C(g)'",
                                         got=f"{formula!r}: {exc}", fix="fix the formula syntax")) from None
    if need_lhs and not hasattr(parsed, "lhs"):
        raise SpecificationError(message("the formula has no outcome", expected="'outcome ~ regressors'",
                                         got=repr(formula), fix="put the outcome left of '~'"))
    return parsed


def _columns(data: pd.DataFrame, *formulas: str) -> list[str]:
    """Columns of ``data`` that the formulas use (unknown names are reported by formulaic later)."""
    used: set[str] = set()
    for f in formulas:
        used |= {str(v) for v in parse(f, need_lhs=False).required_variables}
    return [c for c in data.columns if str(c) in used]


def prepare(data: Any, formulas: tuple[str, ...], columns: dict[str, Any], missing: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The rows of ``data`` to use and the extra per-row options (column names resolved to values).

    ``columns`` maps option names (exposure, offset, event, ...) to a column name, an array, a
    scalar or ``None``; a pandas Series is aligned with ``data``'s rows by label. Missing values
    raise (``missing="raise"``) or drop their rows (``"drop"``).

    Example
    -------
    >>> df = pd.DataFrame({"y": [1.0, 2.0, None], "x": [0.1, 0.2, 0.3], "t": [1.0, 2.0, 3.0]})
    >>> frame, extra = prepare(df, ("y ~ x",), {"exposure": "t"}, missing="drop")
    >>> len(frame), extra["exposure"].tolist()
    (2, [1.0, 2.0])
    """
    data = _check_frame(data)
    if missing not in MISSING:
        raise SpecificationError(message("unknown missing", expected=f"one of {MISSING}", got=repr(missing),
                                         fix="missing='raise' (default) or missing='drop'"))
    used = _columns(data, *formulas)
    frame = data[used].copy()
    extras: dict[str, Any] = {}
    for key, value in columns.items():
        if isinstance(value, str):
            if value not in data.columns:
                raise SpecificationError(message(f"{key}={value!r} is not a column", expected=f"one of {list(data.columns)}",
                                                 got=repr(value), fix=f"pass {key} as a column name or an array"))
            frame[f"__{key}"] = data[value].to_numpy()
        elif value is not None and np.ndim(value) == 1:
            value = align_to_rows(value, data.index, len(data), key)  # a Series: by row label
            if len(value) != len(data):
                raise DataError(message(f"{key} has the wrong length", expected=f"{len(data)} values (one per row)",
                                        got=f"{len(value)}", fix=f"pass {key} aligned with the rows of data"))
            frame[f"__{key}"] = np.asarray(value)
        else:
            extras[key] = value
    if missing == "raise":
        labels = {f"__{k}": (v if isinstance(v, str) else k) for k, v in columns.items()}
        renamed = frame.rename(columns=labels)
        _design.check_missing(renamed.loc[:, ~renamed.columns.duplicated()])
    else:
        frame = frame.dropna()
        if len(frame) == 0:
            raise DataError(message("no rows left after dropping missing values", expected="some complete rows",
                                    got=f"0 of {len(data)}", fix="check the columns used by the model"))
    for key in columns:
        if f"__{key}" in frame:
            extras[key] = frame.pop(f"__{key}").to_numpy()
    return frame, extras


def matrices(formula: str, frame: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Outcome and design (formulaic) of a two-sided formula on complete rows.

    Example
    -------
    >>> y, X = matrices("y ~ x", pd.DataFrame({"y": [1.0, 0.0], "x": [0.5, 1.5]}))
    >>> list(X.columns)
    ['Intercept', 'x']
    """
    parsed = parse(formula)
    try:
        from formulaic import model_matrix  # first use only: keeps `import hessstats` fast

        mm = model_matrix(parsed, frame, na_action="raise")
    except Exception as exc:
        raise SpecificationError(message("formulaic could not build the design", expected="a valid formula on data",
                                         got=f"{type(exc).__name__}: {exc}"[:500], fix="check the formula")) from None
    lhs = pd.DataFrame(mm.lhs)
    if lhs.shape[1] != 1:
        raise SpecificationError(message("the outcome must be one numeric column", expected="a numeric outcome",
                                         got=f"columns {list(lhs.columns)} (a string outcome is dummy-coded)",
                                         fix="recode the outcome as numbers, e.g. (df.y == 'yes').astype(int)"))
    return lhs.iloc[:, 0], pd.DataFrame(mm.rhs)


def rhs_matrix(formula: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Design of a one-sided formula (``"~ x1 + x2"``), e.g. the inflation part of ``hs.zip``.

    Example
    -------
    >>> list(rhs_matrix("~ x", pd.DataFrame({"x": [0.5, 1.5]})).columns)
    ['Intercept', 'x']
    """
    rhs = formula if formula.strip().startswith("~") else "~ " + formula
    from formulaic import model_matrix  # first use only: keeps `import hessstats` fast

    return pd.DataFrame(model_matrix(parse(rhs, need_lhs=False), frame, na_action="raise"))


def describe(name: str, formula: str, **options: Any) -> dict[str, Any]:
    """A model's ``description``: name, formula and JSON-friendly options (arrays as ``"<array>"``).

    Example
    -------
    >>> describe("poisson", "y ~ x", exposure="t", offset=np.zeros(2))
    {'model': 'poisson', 'formula': 'y ~ x', 'exposure': 't', 'offset': '<array>'}
    """
    out: dict[str, Any] = {"model": name, "formula": formula}
    for key, value in options.items():
        out[key] = value if value is None or isinstance(value, (str, int, float, bool)) else "<array>"
    return out


# ----------------------------------------------------------------------------- constructors


def categorical_outcome(formula: str, frame: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """The raw outcome column (kept categorical, not dummy-coded) and the formulaic design.

    Example
    -------
    >>> y, X = categorical_outcome("g ~ x", pd.DataFrame({"g": ["a", "b"], "x": [0.5, 1.5]}))
    >>> y.tolist(), list(X.columns)
    (['a', 'b'], ['Intercept', 'x'])
    """
    lhs = str(parse(formula).lhs).strip()
    if lhs not in frame.columns:
        raise SpecificationError(message("the outcome of a categorical model must be a column",
                                         expected=f"a column name left of '~', one of {list(frame.columns)}",
                                         got=repr(lhs), fix="create the outcome column first, then use its name"))
    rhs = formula.split("~", 1)[1]
    return frame[lhs], rhs_matrix(rhs, frame)


