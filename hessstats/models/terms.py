"""Data preparation for the formula interface: complete rows, extra per-row options, formulaic designs.

Missing values in any variable a model uses raise a :class:`~hessstats.errors.DataError` naming the
columns and counts, unless ``missing="drop"``; formulaic's own silent row dropping is never used
(designs are built with ``na_action="raise"`` on complete rows).
"""

from __future__ import annotations

import ast
import functools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hessstats.errors import DataError, SpecificationError, message
from hessstats.rows.prepare import align_to_rows

MISSING = ("raise", "drop")
PREDICT_OPTIONS = frozenset({"exposure", "offset", "left", "right"})
"""Per-row options that predictions at new rows read (given as column names, new rows must have them)."""


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


def expression_names(expr: str) -> set[str]:
    """Identifiers and string literals in a formula term (parsed with :mod:`ast`, never evaluated):
    what a stateful transform such as ``scale(x)`` or ``bs(x, df=3)`` reads from the data.

    Example
    -------
    >>> sorted(expression_names("bs(GPA, df=3)"))
    ['GPA', 'bs', 'df']
    """
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        return {expr.strip().strip("`")}
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.keyword) and node.arg:
            out.add(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.add(node.value)
    return out


def _columns(data: pd.DataFrame, *formulas: str) -> list[str]:
    """Columns of ``data`` that the formulas use (unknown names are reported by formulaic later).

    formulaic lists only plain variables as required; the arguments of stateful transforms
    (``scale(x)``, ``center(x)``, ``bs(x)``, ``poly(x)``) are found by reading each term's
    expression (:func:`expression_names`).
    """
    used: set[str] = set()
    for f in formulas:
        parsed = parse(f, need_lhs=False)
        used |= {str(v) for v in parsed.required_variables}
        for part in _parts(parsed):
            for term in part:
                for factor in getattr(term, "factors", ()):
                    used |= expression_names(str(getattr(factor, "expr", factor)))
    return [c for c in data.columns if str(c) in used]


def _parts(parsed: Any) -> list[Any]:
    """The term lists of a parsed formula (``lhs``/``rhs`` of a two-sided one, or itself)."""
    if hasattr(parsed, "rhs"):
        return [getattr(parsed, "lhs", []), parsed.rhs]
    return [parsed]


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
        renamed = renamed.loc[:, ~renamed.columns.duplicated()]
        rows = renamed.index[renamed.isna().any(axis=1).to_numpy()]
        if len(rows):  # name the rows by the user's labels, then the columns
            counts = renamed.isna().sum()
            raise DataError(message(
                "data has missing values", expected="no missing values",
                got=f"missing counts by column {dict((str(k), int(v)) for k, v in counts[counts > 0].items())} of "
                    f"{len(renamed)} rows; rows (labels) {list(rows[:5])}{' ...' if len(rows) > 5 else ''}",
                fix="pass missing='drop' to drop those rows, or drop/impute them yourself (df.dropna(subset=[...]))"))
    else:
        keep = frame.notna().all(axis=1).to_numpy()
        frame.attrs["dropped_rows"] = data.index[~keep]
        frame = frame[keep]
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
    X = pd.DataFrame(mm.rhs)
    X.attrs["model_spec"] = mm.rhs.model_spec  # what FormulaDesign keeps to encode new rows
    return lhs.iloc[:, 0], X


def rhs_matrix(formula: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Design of a one-sided formula (``"~ x1 + x2"``), e.g. the inflation part of ``hs.zip``.

    Example
    -------
    >>> list(rhs_matrix("~ x", pd.DataFrame({"x": [0.5, 1.5]})).columns)
    ['Intercept', 'x']
    """
    rhs = formula if formula.strip().startswith("~") else "~ " + formula
    from formulaic import model_matrix  # first use only: keeps `import hessstats` fast

    mm = model_matrix(parse(rhs, need_lhs=False), frame, na_action="raise")
    out = pd.DataFrame(mm)
    out.attrs["model_spec"] = mm.model_spec
    return out


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




# ----------------------------------------------------------------------------- the fitted design, kept


@dataclass(frozen=True, eq=False)
class FormulaDesign:
    """What a formula model remembers of its design, to encode new rows exactly as the fitted ones.

    - ``specs``: ``(data key, formulaic ModelSpec, dropped columns)`` per design matrix (``"X"``,
      and ``"Z"`` for a second formula): the ModelSpec holds the factor levels, contrasts and the
      state of stateful transforms (``scale``/``center`` means, ``bs`` knots, ``poly`` bases);
    - ``variables``: the raw data columns the right-hand sides read; ``outcome``: the outcome column;
    - ``options``: per-row options by name: ``("column", (name, values of the kept rows))``,
      ``("value", scalar)`` or ``("array", values of the kept rows)``;
    - ``frame``: the complete rows used (raw columns, index = the user's row labels) and
      ``dropped_rows``: labels of the rows ``missing="drop"`` left out (empty otherwise).

    Example
    -------
    >>> df = pd.DataFrame({"y": [0.0, 1, 0, 1], "g": ["a", "b", "a", "c"], "x": [0.5, 1.5, 2.0, None]})
    >>> frame, _ = prepare(df, ("y ~ x + C(g)",), {}, "drop")
    >>> y, X = matrices("y ~ x + C(g)", frame)
    >>> d = FormulaDesign.build("y ~ x + C(g)", frame, {"X": X}, outcome="y")
    >>> list(d.dropped_rows), d.variables
    ([3], ('x', 'g'))
    >>> d.encode(pd.DataFrame({"x": [1.0], "g": ["b"]}))[1]["X"].tolist()
    [[1.0, 1.0, 1.0]]
    """

    formula: str
    specs: tuple[tuple[str, Any, tuple[str, ...]], ...]
    variables: tuple[str, ...]
    outcome: str | None
    options: Mapping[str, tuple[str, Any]]
    frame: pd.DataFrame
    dropped_rows: pd.Index
    factors: Mapping[str, tuple[str, tuple[Any, ...]]] = field(default_factory=dict)
    """Categorical factors by expression (``"C(g)"``): ``(data column, levels)`` (levels in coding order)."""
    equations: tuple[str, ...] = ()
    """Equation labels of a multi-equation model whose parameters are named ``"label:column"`` (mnlogit)."""

    @classmethod
    def build(cls, formula: str, frame: pd.DataFrame, designs: Mapping[str, pd.DataFrame], *,
              outcome: str | None = None, options: Mapping[str, Any] | None = None,
              arrays: Mapping[str, Any] | None = None, drop: Mapping[str, tuple[str, ...]] | None = None,
              data_columns: Any = None) -> FormulaDesign:
        """The design of a model built from ``frame`` (complete rows) with formulaic ``designs``
        (``{key: DataFrame from matrices/rhs_matrix}``); ``options`` as passed by the user
        (column names, scalars, arrays), ``arrays`` their per-row values on the kept rows."""
        specs, variables, factors = [], [], {}
        for key, X in designs.items():
            spec = X.attrs.get("model_spec")
            specs.append((key, spec, tuple((drop or {}).get(key, ()))))
            if spec is None:
                continue
            ordered = [str(v) for term_vars in spec.term_variables.values() for v in sorted(map(str, term_vars))]
            names = {str(v) for v in spec.required_variables} | set(ordered)
            for name, (kind, state) in spec.encoder_state.items():
                columns = [c for c in frame.columns if str(c) in expression_names(str(name))]
                if getattr(kind, "value", kind) == "categorical" and len(columns) == 1:
                    factors[str(name)] = (str(columns[0]), tuple(state.get("categories", ())))
            columns = {str(c) for c in frame.columns}
            for v in ordered + sorted(names):  # in the order the terms use them
                if v in columns and v != outcome and v not in variables:
                    variables.append(v)
        kept: dict[str, tuple[str, Any]] = {}
        for key, value in (options or {}).items():
            fitted = (arrays or {}).get(key)
            if isinstance(value, str):
                kept[key] = ("column", (value, None if fitted is None else np.asarray(fitted)))
            elif value is None or np.ndim(value) == 0:
                kept[key] = ("value", value)
            else:
                kept[key] = ("array", np.asarray(fitted))
        dropped = frame.attrs.get("dropped_rows", pd.Index([]))
        return cls(formula, tuple(specs), tuple(variables), outcome, kept, frame, pd.Index(dropped), factors)

    @property
    def row_labels(self) -> pd.Index:
        """Labels of the rows the model was fitted on."""
        return self.frame.index

    def base_level(self, factor: str) -> Any:
        """The reference level of a categorical factor (its treatment-contrast base, else the first level)."""
        for _, spec, _ in self.specs:
            state = getattr(spec, "encoder_state", {}).get(factor)
            if state is not None:
                contrasts = state[1].get("contrasts")
                base = getattr(getattr(contrasts, "contrasts", None), "base", None)
                levels = self.factors[factor][1]
                if base is not None and base in levels:
                    return base
        return self.factors[factor][1][0]

    def term_parameters(self, names: Any) -> dict[str, list[str]]:
        """Parameters of each formula term (all equations of a multi-equation model), in formula
        order: ``{"Intercept": [...], "C(g)": ["C(g)[T.b]", ...], ...}``; the terms of a second
        design (ZIP inflation) are prefixed ``inflate_``. What whole-term Wald tests use.

        Example
        -------
        >>> df = pd.DataFrame({"y": [0.0, 1, 0, 1, 1], "g": ["a", "b", "a", "c", "c"], "x": [0.5, 1.5, 2.0, 1.0, 0.1]})
        >>> y, X = matrices("y ~ x + C(g)", df)
        >>> FormulaDesign.build("y ~ x + C(g)", df, {"X": X}).term_parameters(["Intercept", "x", "C(g)[T.b]", "C(g)[T.c]"])
        {'Intercept': ['Intercept'], 'x': ['x'], 'C(g)': ['C(g)[T.b]', 'C(g)[T.c]']}
        """
        names = [str(n) for n in names]
        out: dict[str, list[str]] = {}
        for key, spec, dropped in self.specs:
            if spec is None:
                continue
            prefix = "" if key == "X" else "inflate_"
            for term, columns in spec.term_slices.items() if hasattr(spec, "term_slices") else []:
                cols = [c for c in spec.column_names[columns] if c not in dropped]
                wanted = [prefix + c for c in cols] if not (key == "X" and self.equations) else [
                    f"{e}:{c}" for c in cols for e in self.equations]
                found = [w for w in wanted if w in names]
                if found:
                    out[prefix + ("Intercept" if str(term) == "1" else str(term))] = found
        return out

    def check(self, new_data: Any, *, columns: tuple[str, ...] = ()) -> pd.DataFrame:
        """``new_data`` as a DataFrame with the columns the design needs, complete and with known
        factor levels; a :class:`DataError` naming the missing columns, the rows (by label) with
        missing values, or the unseen levels otherwise."""
        if isinstance(new_data, Mapping) and not isinstance(new_data, pd.DataFrame):
            new_data = pd.DataFrame(dict(new_data))
        new_data = _check_frame(new_data)
        need = list(self.variables) + [c for c in columns if c not in self.variables]
        absent = [c for c in need if c not in new_data.columns]
        if absent:
            raise DataError(message(
                f"new_data lacks columns {absent}", expected=f"the columns the model uses: {need}",
                got=f"columns {list(new_data.columns)[:20]}", fix=f"add {absent} to new_data"))
        frame = new_data[need]
        bad = frame.isna()
        if bad.any().any():
            rows = list(frame.index[bad.any(axis=1).to_numpy()][:5])
            raise DataError(message(
                "new_data has missing values", expected="complete rows in the columns the model uses",
                got=f"missing in columns {[c for c in need if bad[c].any()]}, rows (labels) {rows}",
                fix="drop or impute those rows before predicting"))
        for factor, (column, levels) in self.factors.items():
            unseen = ~frame[column].isin(list(levels))
            if unseen.any():
                values = sorted({str(v) for v in frame.loc[unseen.to_numpy(), column]})
                raise DataError(message(
                    f"new_data has levels of {factor} the model was not fitted with",
                    expected=f"levels among {list(levels)}",
                    got=f"unseen levels {values[:10]} in rows (labels) {list(frame.index[unseen.to_numpy()][:5])}",
                    fix="predict only for the fitted levels (a coefficient for a new level does not exist)"))
        return frame

    def matrices(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The design matrices of complete, checked rows (``{key: (n, k) float64}``)."""
        out = {}
        for key, spec, dropped in self.specs:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # formulaic's DataMismatchWarning casts unseen levels to NaN
                try:
                    mm = pd.DataFrame(spec.get_model_matrix(frame, na_action="raise"))
                except Exception as exc:
                    raise DataError(message(
                        "new_data cannot be encoded with the fitted design", expected="the fitted formula's columns",
                        got=f"{type(exc).__name__}: {exc}"[:400], fix="check the columns and their types")) from None
            out[key] = mm.drop(columns=[c for c in dropped if c in mm.columns]).to_numpy(dtype=np.float64)
        return out

    def encode(self, new_data: Any = None, *, outcome: bool = False) -> tuple[pd.Index, dict[str, Any], dict[str, Any]]:
        """``(row labels, design matrices, per-row options)`` of ``new_data`` (``None``: the fitted rows).

        Options given as column names are read from ``new_data``; scalars are repeated; options
        given as arrays apply to the fitted rows only (new rows get ``None``: the model's neutral
        value). The outcome column is included (``"y"`` in the options) when present.
        """
        if new_data is None:
            frame = self.frame
            opts = {}
            for key, (kind, value) in self.options.items():
                opts[key] = value[1] if kind == "column" else value
            if self.outcome is not None and self.outcome in frame:
                opts["y"] = frame[self.outcome].to_numpy()
            return frame.index, self.matrices(frame), opts
        columns = tuple(v[0] for key, (kind, v) in self.options.items() if kind == "column" and key in PREDICT_OPTIONS)
        if outcome and self.outcome is not None:
            columns += (self.outcome,)
        raw = new_data if isinstance(new_data, pd.DataFrame) else pd.DataFrame(dict(new_data))
        with_y = self.outcome is not None and self.outcome in raw.columns
        frame = self.check(raw, columns=columns + ((self.outcome,) if with_y and self.outcome not in columns else ()))
        opts = {}
        for key, (kind, value) in self.options.items():
            if key in PREDICT_OPTIONS:
                opts[key] = frame[value[0]].to_numpy(dtype=np.float64) if kind == "column" else (
                    value if kind == "value" else None)
        if with_y:
            opts["y"] = frame[self.outcome].to_numpy()
        return frame.index, self.matrices(frame), opts
