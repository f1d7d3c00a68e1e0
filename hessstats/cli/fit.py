"""``hessstats fit``, ``snapshot`` and ``check``: formula fits from the shell, and estimate snapshots.

DATA is a CSV or Parquet path, or the name of a bundled dataset (``hessstats.datasets.list()``).
A snapshot written by ``hessstats snapshot`` records in its description, under ``"refit"``,
everything ``check`` needs to refit: the data (dataset name, or the file path relative to the
snapshot's directory), model, formula, cov_type, groups and options.

Nothing read from a file is ever evaluated as code. Every formula (from the command line, or
from a snapshot, where a pull request could have put anything) is checked with the restricted
grammar of :mod:`hessstats.models.grammar` against the data's columns *before* formulaic sees it;
a snapshot's ``refit`` record is type-checked field by field (registered model, dataset name or
``.csv``/``.parquet`` path, known options with scalar values). A column the formula uses as a
number that holds a few malformed cells (``"3?"``, ``"1,5"``) is a :class:`DataError` naming the
cells, never silently dummy-coded (wrap it in ``C(...)`` if it really is categorical; numbers
with surrounding whitespace are read as numbers). ``--output``/the snapshot path may not be the
input data file.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hessstats import datasets
from hessstats.core import covariance
from hessstats.errors import DataError, HessstatsError, SnapshotError, SpecificationError, message
from hessstats.formula import MODELS, from_formula
from hessstats.models.grammar import check_formula
from hessstats.testing import DEFAULT_ATOL, DEFAULT_RTOL, compare_estimates, drift_report, load_snapshot, save_snapshot
from hessstats.testing.snapshots import jsonable, write_atomic

DATA_SUFFIXES = (".csv", ".parquet", ".pq")
"""Data file types read by ``fit``/``snapshot``/``check``."""
FORMULA_OPTIONS = frozenset({"inflation", "zero", "precision"})
"""Model options whose value is a one-sided formula (checked with the restricted grammar)."""
EQUATION_OPTIONS = frozenset({"second", "selection"})
"""Model options whose value is a second two-sided formula (biprobit, heckman), checked the same way."""
COLUMN_OPTIONS = frozenset({"exposure", "offset", "left", "right", "event", "trials", "failures"})
"""Model options whose string value names a numeric column."""
REFIT_KEYS = ("data", "model", "formula", "cov_type", "groups", "options")
_MAX_TEXT = 1000

_USAGE_ERROR = "  2  usage error: bad arguments, unreadable data or snapshot, unknown model or dataset\n"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``fit``, ``snapshot`` and ``check``.

    Example
    -------
    >>> parser = argparse.ArgumentParser(prog="hessstats")
    >>> add_parser(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["fit", "spector", "--model", "logit", "--formula", "GRADE ~ GPA"]).cov_type
    'nonrobust'
    """
    fit = _subcommand(
        subparsers, "fit", _run_fit, "fit a formula model and print (or write) its standard-error table",
        "Fit a built-in model by maximum likelihood (exact JAX Hessian) and print the coefficient table: "
        "coef, std_err, z, p_value and Wald confidence interval.",
        ['spector --model logit --formula "GRADE ~ GPA + TUCE + PSI"',
         'data.csv --model poisson --formula "y ~ x1 + x2" --cov-type robust',
         'data.parquet --model logit --formula "y ~ x" --cov-type cluster --groups firm',
         'spector --model probit --formula "GRADE ~ GPA" --output table.tex --alpha 0.1'],
        note="\n--output writes by extension: .csv, .json, .md (Markdown) or .tex (LaTeX tabular).\n" + cov_types_help())
    _model_arguments(fit)
    fit.add_argument("--output", "-o", metavar="FILE", help="also write the table to FILE (.csv .json .md .tex)")
    fit.add_argument("--alpha", type=alpha_level, default=0.05,
                     help="confidence level 1-ALPHA for the intervals, 0 < ALPHA < 1 (default 0.05)")

    snap = _subcommand(
        subparsers, "snapshot", _run_snapshot, "fit a model and save its estimates as a JSON snapshot",
        "Fit like `hessstats fit` and save a snapshot: estimates, standard errors, covariance, log-likelihood, "
        "nobs, a sha256 fingerprint of the data, versions, and everything `hessstats check` needs to refit. "
        "The file is written atomically.",
        ['spector --model logit --formula "GRADE ~ GPA + TUCE + PSI" logit.json',
         'data.csv --model poisson --formula "y ~ x" --cov-type robust snaps/pois.json'], note=cov_types_help())
    _model_arguments(snap)
    snap.add_argument("path", metavar="PATH", help="snapshot file to write (JSON)")

    check = _subcommand(
        subparsers, "check", _run_check, "refit what a snapshot describes and compare the estimates",
        "Refit the model a snapshot describes and compare coef, std_err, llf and nobs with the stored values: "
        "|actual - expected| <= atol + rtol*|expected| (numpy's rule; NaN matches only NaN). Prints one OK "
        "line, or a table of what drifted.",
        ["logit.json", "logit.json --rtol 1e-6 --atol 1e-12", "logit.json --rtol coef=1e-8,std_err=1e-6",
         "logit.json --data refreshed.csv", 'logit.json --formula "GRADE ~ GPA + PSI"'],
        exit_ok=": estimates within tolerance", exit_drift="estimates drifted beyond tolerance")
    check.add_argument("path", metavar="PATH", help="snapshot file written by `hessstats snapshot`")
    check.add_argument("--rtol", type=tolerance, default=None,
                       help="relative tolerance, a number or per quantity (coef=1e-8,std_err=1e-6); default 1e-7")
    check.add_argument("--atol", type=tolerance, default=None,
                       help="absolute tolerance, same forms as --rtol; default 0")
    check.add_argument("--data", metavar="DATA", help="refit on this data instead of the snapshot's")
    check.add_argument("--model", "-m", choices=sorted(MODELS), help="refit this model instead of the snapshot's")
    check.add_argument("--formula", "-f", help="refit this formula instead of the snapshot's")


def cov_types_help(width: int = 100) -> str:
    """The ``--cov-type`` values with the first sentence of each description, for a help epilog.

    Example
    -------
    >>> cov_types_help().splitlines()[2].split()[:4]
    ['HC0', 'Sandwich', 'H^-1', "(S'S)"]
    """
    lines = ["\ncovariance types (--cov-type):"]
    for name, text in covariance.available().items():
        lines += textwrap.wrap(text, width, initial_indent=f"  {name:<11}", subsequent_indent=" " * 13)
    return "\n".join(lines) + "\n"


def _subcommand(subparsers: argparse._SubParsersAction, name: str, func, help: str, description: str,
                examples: list[str], note: str = "", exit_ok: str = "", exit_drift: str | None = None):
    epilog = ("examples:\n" + "".join(f"  hessstats {name} {e}\n" for e in examples) + note
              + f"\nexit status:\n  0  success{exit_ok}\n" + (f"  1  {exit_drift}\n" if exit_drift else "")
              + _USAGE_ERROR)
    parser = subparsers.add_parser(name, help=help, description=description, epilog=epilog,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(func=func)
    return parser


def run(args: argparse.Namespace) -> int:
    """Dispatch to the subcommand's function (``args.func``); returns the exit status.

    Example
    -------
    >>> parser = argparse.ArgumentParser(prog="hessstats")
    >>> add_parser(parser.add_subparsers(dest="command"))
    >>> run(parser.parse_args(["fit", "spector", "-m", "logit", "-f", "GRADE ~ GPA"]))
    Model:          logit
    ...
    0
    """
    return args.func(args)


# ------------------------------------------------------------------------------ commands
def _run_fit(args: argparse.Namespace) -> int:
    """``hessstats fit``: print the coefficient table, optionally write it."""
    data = read_data(args.data)
    if args.output:
        _refuse_overwrite(args.output, data.file, "--output")
        _output_format(args.output)
    res = fit_formula(data.frame, args.model, args.formula, args.cov_type, args.groups, _options(args.option))
    table = res.summary_frame(alpha=args.alpha)
    if args.alpha == 0.05:
        print(res)
    else:  # the same header as str(res), then the table at the requested alpha
        print("\n".join(str(res).splitlines()[:len(res._header())]))
        print(table.to_string(float_format=_fmt))
    if args.output:
        write_table(res, table, args.output, args.alpha)
        print(f"wrote {args.output}")
    return 0


def _run_snapshot(args: argparse.Namespace) -> int:
    """``hessstats snapshot``: fit and save a snapshot that ``check`` can refit."""
    data = read_data(args.data, relative_to=Path(args.path).resolve().parent)
    _refuse_overwrite(args.path, data.file, "the snapshot PATH")
    options = _options(args.option)
    res = fit_formula(data.frame, args.model, args.formula, args.cov_type, args.groups, options)
    refit = {"data": data.source, "model": args.model, "formula": args.formula, "cov_type": args.cov_type,
             "groups": args.groups, "options": options}
    path = save_snapshot(res, args.path, description={**res.model.description, "refit": refit})
    print(f"wrote {path} ({res.k_params} parameters, nobs={res.nobs}, llf={res.llf:.10g})")
    return 0


def _run_check(args: argparse.Namespace) -> int:
    """``hessstats check``: exit 0 within tolerance, 1 with the drift table otherwise."""
    snap = load_snapshot(args.path)
    spec = refit_spec(snap.description, args.path, default_cov_type=snap.cov_type,
                      model=args.model, formula=args.formula)
    if args.data is not None:
        frame = read_data(args.data).frame
    else:
        frame = read_data(spec.data, relative_to=Path(args.path).resolve().parent, origin=f"data in {args.path}").frame
    trusted = args.formula is not None  # typed by the user: errors are about the command, not the file
    res = fit_formula(frame, spec.model, spec.formula, spec.cov_type, spec.groups, spec.options,
                      error=SpecificationError if trusted else SnapshotError,
                      origin="--formula" if trusted else f"formula in {args.path}")
    rtol = DEFAULT_RTOL if args.rtol is None else args.rtol
    atol = DEFAULT_ATOL if args.atol is None else args.atol
    table = compare_estimates(res, snap, rtol=rtol, atol=atol)
    if (table["status"] != "ok").any():
        print(drift_report(table))
        return 1
    quantities = ", ".join(dict.fromkeys(table["quantity"]))
    data_note = {True: "; data fingerprint changed", False: "; same data", None: ""}[table.attrs["data_changed"]]
    print(f"OK {args.path}: {len(snap.names)} parameters ({quantities}) within rtol={rtol}, atol={atol}{data_note}")
    return 0


# ------------------------------------------------------------------------------ inputs
@dataclass(frozen=True)
class RefitSpec:
    """What ``check`` refits, validated from a snapshot's ``description["refit"]`` (see :func:`refit_spec`).

    Example
    -------
    >>> RefitSpec({"dataset": "spector"}, "logit", "GRADE ~ GPA").cov_type
    'nonrobust'
    """

    data: dict[str, str]
    model: str
    formula: str
    cov_type: str = "nonrobust"
    groups: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


def refit_spec(description: Any, path: str | os.PathLike, *, default_cov_type: str = "nonrobust",
               model: str | None = None, formula: str | None = None) -> RefitSpec:
    """Validate the ``refit`` record of a snapshot's description; :class:`SnapshotError` if unusable.

    Every field is type-checked; the model must be registered (:data:`hessstats.formula.MODELS`),
    the data a bundled dataset name or a ``.csv``/``.parquet`` path, the formula (and formula-valued
    options) must pass :func:`hessstats.models.grammar.check_formula`, the options must be options of
    the model with scalar values. ``model``/``formula`` override the stored ones (the user's command).

    Example
    -------
    >>> spec = refit_spec({"refit": {"data": {"dataset": "spector"}, "model": "logit", "formula": "GRADE ~ GPA"}},
    ...                   "snap.json")
    >>> spec.model, spec.formula, spec.options
    ('logit', 'GRADE ~ GPA', {})
    >>> try:
    ...     refit_spec({"refit": {"data": {"dataset": "spector"}, "model": "logit",
    ...                           "formula": "GRADE ~ I(__import__('os').getcwd())"}}, "snap.json")
    ... except SnapshotError as exc:
    ...     print(str(exc).splitlines()[0])
    the formula in snap.json calls a function that is not allowed: '__import__'
    """
    refit = description.get("refit") if isinstance(description, dict) else None
    if not isinstance(refit, dict) or not {"data", "model", "formula"} <= set(refit):
        raise SnapshotError(message(
            f"{path} does not record how to refit the model", expected="a snapshot written by `hessstats snapshot`",
            got="no 'refit' entry in its description (saved from Python?)" if refit is None else
            f"a 'refit' entry without data/model/formula: {_short(refit)}",
            fix="compare it from Python with hs.testing.assert_estimates_close(res, path)"))

    def bad(key: str, expected: str, value: Any) -> SnapshotError:
        return SnapshotError(message(f"invalid refit {key} in snapshot {path}", expected=expected, got=_short(value),
                                     fix="regenerate the snapshot with `hessstats snapshot ...`, or check what changed it"))

    unknown = sorted(str(k) for k in refit if k not in REFIT_KEYS)
    if unknown:
        raise bad("entry", f"keys among {list(REFIT_KEYS)}", f"unknown keys {unknown}")
    data = _data_record(refit["data"], lambda expected, value: bad("data", expected, value))
    if model is None:
        model = refit["model"]
        if not isinstance(model, str) or model not in MODELS:
            raise SnapshotError(message(
                f"unknown model {_short(model)} in snapshot {path}", expected=f"one of {sorted(MODELS)}",
                got=_short(model), fix="regenerate the snapshot, or pass --model NAME"))
    if formula is None:
        formula = refit["formula"]
        check_formula(formula, error=SnapshotError, origin=f"formula in {path}")
    cov_type = refit.get("cov_type", default_cov_type)
    if not isinstance(cov_type, str) or not 0 < len(cov_type) <= 100:
        raise bad("cov_type", "a covariance type name such as 'nonrobust' or 'robust'", cov_type)
    groups = refit.get("groups")
    if groups is not None and (not isinstance(groups, str) or len(groups) > _MAX_TEXT):
        raise bad("groups", "a column name or null", groups)
    options = refit.get("options") or {}
    if not isinstance(options, dict):
        raise bad("options", "a JSON object of model options", options)
    options = check_options(model, options, error=SnapshotError, origin=f"snapshot {path}")
    return RefitSpec(data, model, formula, cov_type, groups, options)


def check_options(model: str, options: dict[str, Any], *, error: type[HessstatsError] = SpecificationError,
                  origin: str = "--option") -> dict[str, Any]:
    """Model options: known keyword options of ``model`` with scalar values (formulas checked).

    Example
    -------
    >>> check_options("zip", {"inflation": "~ idp", "missing": "drop"})
    {'inflation': '~ idp', 'missing': 'drop'}
    >>> try:
    ...     check_options("logit", {"bogus": 1})
    ... except SpecificationError as exc:
    ...     print(str(exc).splitlines()[0])
    unknown option 'bogus' for model logit (--option)
    """
    allowed = model_options(model)
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key not in allowed:
            raise error(message(f"unknown option {_short(key, 40)} for model {model} ({origin})",
                                expected=f"one of {sorted(allowed)}" if allowed else "no options",
                                got=_short(key), fix="drop it or fix its name"))
        scalar = value is None or isinstance(value, (bool, int, str)) or (isinstance(value, float) and not math.isnan(value))
        if not scalar or (isinstance(value, str) and len(value) > _MAX_TEXT) or (
                isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53):
            raise error(message(f"option {key} ({origin}) must be a single value",
                                expected="a number, true/false, null or a short string (a column name)",
                                got=_short(value), fix=f"e.g. --option {key}=VALUE with a scalar VALUE"))
        if key == "separation" and not isinstance(value, bool):
            raise error(message(f"option separation ({origin}) must be true or false", expected="true or false",
                                got=_short(value), fix="--option separation=false"))
        if key in FORMULA_OPTIONS | EQUATION_OPTIONS:
            check_formula(value, outcome=key in EQUATION_OPTIONS, error=error, origin=f"option {key} ({origin})")
        out[str(key)] = value
    return out


def model_options(model: str) -> frozenset[str]:
    """Keyword options the formula constructor of ``model`` accepts.

    Example
    -------
    >>> sorted(model_options("poisson"))
    ['exposure', 'groups', 'missing', 'offset', 'weight_type', 'weights']
    """
    if model not in MODELS:
        raise SpecificationError(message(f"unknown model {_short(model)}", expected=f"one of {sorted(MODELS)}",
                                         got=_short(model), fix="choose one of the listed model names"))
    params = inspect.signature(MODELS[model]).parameters.values()
    return frozenset(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


def _data_record(record: Any, bad) -> dict[str, str]:
    if not isinstance(record, dict) or len(record) != 1 or not set(record) <= {"dataset", "path"}:
        raise bad('{"dataset": NAME} or {"path": "file.csv"}', record)
    (key, value), = record.items()
    if not isinstance(value, str) or not value or len(value) > 4096 or "\0" in value:
        raise bad(f"{key}: a non-empty string", value)
    if key == "dataset" and value not in datasets.list():
        raise bad(f"a bundled dataset name, one of {datasets.list()}", value)
    if key == "path" and Path(value).suffix.lower() not in DATA_SUFFIXES:
        raise bad(f"a data file ending in {', '.join(DATA_SUFFIXES)}", value)
    return {key: value}


@dataclass(frozen=True)
class Data:
    """Data read by :func:`read_data`: the frame, how a snapshot finds it again, the file read (or ``None``).

    Example
    -------
    >>> d = read_data("spector")
    >>> d.frame.shape, d.source, d.file.name
    ((32, 4), {'dataset': 'spector'}, 'spector.csv')
    """

    frame: pd.DataFrame
    source: dict[str, str]
    file: Path | None


def load_data(spec: str | dict, relative_to: Path | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read DATA (CSV/Parquet path or bundled dataset name); also return how to find it again.

    ``spec`` may be the record stored in a snapshot (``{"dataset": name}`` or ``{"path": p}``);
    relative paths in such records, and the path recorded, are relative to ``relative_to``.
    Unreadable or malformed files raise :class:`~hessstats.errors.DataError`.

    Example
    -------
    >>> frame, source = load_data("spector")
    >>> frame.shape, source
    ((32, 4), {'dataset': 'spector'})
    """
    data = read_data(spec, relative_to)
    return data.frame, data.source


def read_data(spec: str | dict, relative_to: Path | None = None, *, origin: str = "DATA") -> Data:
    """As :func:`load_data`, also returning the file that was read (to refuse overwriting it).

    Example
    -------
    >>> try:
    ...     read_data({"path": 3})
    ... except DataError as exc:
    ...     print(str(exc).splitlines()[0])
    invalid DATA record
    """
    if isinstance(spec, dict):
        def bad(expected: str, value: Any) -> DataError:
            return DataError(message(f"invalid {origin} record", expected=expected, got=_short(value),
                                     fix="regenerate the snapshot, or pass --data"))
        spec = _data_record(spec, bad)
        if "dataset" in spec:
            name = spec["dataset"]
            return Data(datasets.load(name), {"dataset": name}, datasets.data_dir() / f"{name}.csv")
        path = Path(spec["path"])
        spec = str(path if path.is_absolute() or relative_to is None else relative_to / path)
    if not isinstance(spec, str) or not spec or "\0" in spec:
        raise DataError(message(f"invalid {origin}", expected="a .csv/.parquet path or a bundled dataset name",
                                got=_short(spec), fix="check the argument"))
    path = Path(spec)
    suffix = path.suffix.lower()
    if suffix in DATA_SUFFIXES or path.exists():
        if not path.is_file():
            raise DataError(message(f"data file not found: {spec}", expected="an existing .csv or .parquet file, "
                                    f"or a bundled dataset name ({', '.join(datasets.list())})",
                                    got=repr(spec) + (" (not a regular file)" if path.exists() else ""),
                                    fix="check the path"))
        if suffix not in DATA_SUFFIXES:
            raise DataError(message(f"unsupported data file type: {spec}", expected=".csv or .parquet",
                                    got=repr(path.suffix), fix="convert the file to CSV or Parquet"))
        frame = _read_file(path, suffix)
        where = os.path.relpath(path.resolve(), relative_to) if relative_to is not None else str(path)
        return Data(frame, {"path": Path(where).as_posix()}, path)
    if spec not in datasets.list():
        raise DataError(message(f"no data file or bundled dataset named {spec!r}",
                                expected=f"a .csv/.parquet path or one of {datasets.list()}", got=repr(spec),
                                fix="check the path, or run `python -c \"import hessstats; print(hessstats.datasets.list())\"`"))
    return Data(datasets.load(spec), {"dataset": spec}, datasets.data_dir() / f"{spec}.csv")


def _read_file(path: Path, suffix: str) -> pd.DataFrame:
    kind = "Parquet" if suffix in (".parquet", ".pq") else "CSV"
    try:
        frame = pd.read_parquet(path) if kind == "Parquet" else pd.read_csv(path)
    except MemoryError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types (ParserError, ArrowInvalid, UnicodeDecodeError, ...)
        raise DataError(message(
            f"cannot read the {kind} file {path}",
            expected=f"a valid {kind} file" + (" (UTF-8 text, a header row, the same number of fields on every line)"
                                               if kind == "CSV" else ""),
            got=f"{type(exc).__name__}: {_short(str(exc), 300)}",
            fix="check the file (truncated? another format?) or re-export it")) from None
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataError(message(f"the {kind} file {path} has no data", expected="a header row and at least one row",
                                got=f"{len(frame)} rows, {frame.shape[1]} columns", fix="check the file"))
    return frame


def _refuse_overwrite(output: str, data_file: Path | None, what: str) -> None:
    """An output path that is the input data file (also via another path, a symlink or a hard link) is refused."""
    if data_file is None or not os.path.exists(output):
        return
    try:
        same = os.path.samefile(output, data_file)
    except OSError:
        same = os.path.realpath(output) == os.path.realpath(data_file)
    if same:
        raise SpecificationError(message(
            f"{what} {output} is the input data file", expected="an output path different from the data",
            got=f"{output} and {data_file} are the same file", fix="write to another file"))


def fit_formula(frame: pd.DataFrame, model: str, formula: str, cov_type: str = "nonrobust",
                groups: str | None = None, options: dict[str, Any] | None = None, *,
                error: type[HessstatsError] = SpecificationError, origin: str = "formula"):
    """Build ``model`` from ``formula`` on ``frame`` and fit it (``groups``: a column of ``frame``).

    The formula (and formula-valued options) must pass the restricted grammar
    (:func:`hessstats.models.grammar.check_formula`) with the frame's columns before formulaic
    sees it; options must be the model's (:func:`check_options`); numeric columns with malformed
    cells raise (:func:`check_numeric_columns`). ``error``/``origin``: the error class and the name
    of the formula in messages (e.g. :class:`SnapshotError` and ``"formula in snap.json"``).

    Example
    -------
    >>> import hessstats as hs
    >>> res = fit_formula(hs.datasets.load("spector"), "logit", "GRADE ~ GPA + TUCE + PSI")
    >>> round(float(res.params["GPA"]), 6)
    2.826113
    """
    options = check_options(model, dict(options or {}), error=error, origin="--option" if origin == "formula" else origin)
    used = check_formula(formula, frame.columns, error=error, origin=origin)
    numeric = set(used.variables - used.categorical)
    for key in (FORMULA_OPTIONS | EQUATION_OPTIONS) & set(options):
        extra = check_formula(options[key], frame.columns, outcome=key in EQUATION_OPTIONS, error=error,
                              origin=f"option {key}")
        numeric |= extra.variables - extra.categorical
    numeric |= {v for k, v in options.items() if k in COLUMN_OPTIONS and isinstance(v, str) and v in frame.columns}
    frame = check_numeric_columns(frame, [c for c in frame.columns if str(c) in numeric])
    labels = None
    if groups is not None:
        if groups not in frame.columns:
            raise SpecificationError(message(
                f"--groups names an unknown column {groups!r}", expected=f"one of {list(map(str, frame.columns))}",
                got=repr(groups), fix="check the column name"))
        labels = frame[groups].to_numpy()
    if not isinstance(cov_type, str):
        raise SpecificationError(message("cov_type must be a name", expected="e.g. 'nonrobust' or 'robust'",
                                         got=_short(cov_type), fix="pass --cov-type NAME"))
    return from_formula(model, formula, frame, **options).fit(cov_type=cov_type, groups=labels)


_NUMERIC_LIKE = re.compile(r"\s*[^\w\s]?\s*[-+]?[\d.,\s]*\d[\d.,\s]*[^\w\s]?\s*")


def check_numeric_columns(frame: pd.DataFrame, columns: list[Any]) -> pd.DataFrame:
    """Text columns that are numbers except for a few malformed cells raise :class:`DataError`.

    A column of ``columns`` stored as text (CSV) is *meant as numbers* when most of its cells
    parse as numbers or look like numbers (``"3?"``, ``"1,5"``); then every cell that does not
    parse is reported with its row (0-based data row; CSV line = row + 2), instead of formulaic
    silently dummy-coding the whole column. Numbers with surrounding whitespace are read as numbers
    (the column is converted). Columns of genuine labels (``"a"``, ``"b"``) are left as they are.

    Example
    -------
    >>> df = pd.DataFrame({"x": ["1.5", "2", "3?", "4"], "g": ["a", "b", "a", "b"]})
    >>> try:
    ...     check_numeric_columns(df, ["x", "g"])
    ... except DataError as exc:
    ...     print(str(exc).splitlines()[0])
    column 'x' is numeric except for 1 malformed cell
    >>> check_numeric_columns(pd.DataFrame({"x": [" 1", "2 "]}), ["x"])["x"].tolist()
    [1.0, 2.0]
    """
    out = frame
    for col in columns:
        values = frame[col]
        if not (pd.api.types.is_object_dtype(values.dtype) or pd.api.types.is_string_dtype(values.dtype)):
            continue
        present = values[values.notna()]
        if len(present) == 0 or not all(isinstance(v, str) for v in present):
            continue
        text = present.str.strip()
        parsed = pd.to_numeric(text, errors="coerce")
        bad = present[parsed.isna() | ~np.isfinite(parsed.astype(float).fillna(0.0))]
        numeric_like = bad[bad.map(lambda v: bool(_NUMERIC_LIKE.fullmatch(v)))]
        if len(bad) == 0:  # whitespace around valid numbers only: read them as numbers
            out = out.copy() if out is frame else out
            out[col] = pd.to_numeric(values.str.strip(), errors="coerce").astype(float)
        elif 2 * (len(present) - len(bad) + len(numeric_like)) > len(present):
            rows = list(bad.index)
            shown = ", ".join(f"row {_row_label(frame, r)}: {_short(str(bad[r]), 30)}" for r in rows[:5])
            raise DataError(message(
                f"column {str(col)!r} is numeric except for {len(bad)} malformed cell{'s' if len(bad) > 1 else ''}",
                expected="numbers in every cell (a decimal point, not a comma; no stray characters)",
                got=shown + (f", ... ({len(bad)} in all)" if len(bad) > 5 else "")
                + " (rows counted from 0 after the header; CSV line = row + 2)",
                fix=f"correct those cells in the data; if {str(col)!r} is really categorical, write C({col}) in the formula"))
    return out


def _row_label(frame: pd.DataFrame, label: Any) -> Any:
    if isinstance(frame.index, pd.RangeIndex):
        return frame.index.get_loc(label)
    return label


def write_table(res: Any, table: pd.DataFrame, path: str, alpha: float) -> None:
    """Write the coefficient table by extension: .csv, .json, .md or .tex (atomically).

    Example
    -------
    >>> import hessstats as hs, tempfile, os
    >>> res = fit_formula(hs.datasets.load("spector"), "logit", "GRADE ~ GPA")
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> write_table(res, res.summary_frame(), path, 0.05)
    >>> open(path).readline().strip()
    'parameter,coef,std_err,z,p_value,ci_lower,ci_upper'
    """
    suffix = _output_format(path)
    if suffix == ".csv":
        text = table.to_csv()
    elif suffix == ".json":
        record = {"model": jsonable(dict(res.model.description)), "nobs": res.nobs, "llf": res.llf,
                  "cov_type": res.cov_type, "alpha": alpha, "converged": bool(res.converged),
                  "parameters": [{"name": n, **row} for n, row in jsonable(table.to_dict(orient="index")).items()]}
        text = json.dumps(jsonable(record), indent=1, allow_nan=False) + "\n"
    elif suffix == ".md":
        text = markdown_table(table)
    else:
        text = latex_table(table)
    write_atomic(path, text)


def _output_format(path: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".json", ".md", ".tex"):
        raise SpecificationError(message(f"unknown output format {path!r}", expected="a file ending in .csv, .json, .md or .tex",
                                         got=repr(Path(path).suffix), fix="choose one of those extensions"))
    return suffix


def markdown_table(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (no ``tabulate`` dependency); numbers to 6 significant digits.

    Example
    -------
    >>> print(markdown_table(pd.DataFrame({"coef": [1.5]}, index=pd.Index(["x"], name="parameter"))), end="")
    | parameter | coef |
    |:--|--:|
    | x | 1.5 |
    """
    head = [str(table.index.name or "")] + [str(c) for c in table.columns]
    lines = ["| " + " | ".join(head) + " |", "|:--|" + "--:|" * len(table.columns)]
    lines += ["| " + " | ".join([str(i)] + [_fmt(v) for v in row]) + " |" for i, row in zip(table.index, table.to_numpy())]
    return "\n".join(lines) + "\n"


def latex_table(table: pd.DataFrame) -> str:
    r"""A LaTeX ``tabular`` (booktabs rules) with names escaped; numbers to 6 significant digits.

    Example
    -------
    >>> print(latex_table(pd.DataFrame({"std_err": [0.5]}, index=["x_1"])), end="")
    \begin{tabular}{lr}
    \toprule
     & std\_err \\
    \midrule
    x\_1 & 0.5 \\
    \bottomrule
    \end{tabular}
    """
    head = [_tex(table.index.name or "")] + [_tex(c) for c in table.columns]
    body = [" & ".join([_tex(i)] + [_fmt(v) for v in row]) + r" \\" for i, row in zip(table.index, table.to_numpy())]
    return "\n".join([r"\begin{tabular}{l" + "r" * len(table.columns) + "}", r"\toprule", " & ".join(head) + r" \\",
                      r"\midrule", *body, r"\bottomrule", r"\end{tabular}"]) + "\n"


def _tex(x: Any) -> str:
    specials = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(specials.get(ch, ch) for ch in str(x))


def _fmt(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, (float, np.floating)) else str(v)


def _model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", metavar="DATA", help="CSV or Parquet file, or a bundled dataset name (e.g. spector)")
    p.add_argument("--model", "-m", required=True, choices=sorted(MODELS), help="the model")
    p.add_argument("--formula", "-f", required=True, help='Wilkinson formula, e.g. "y ~ x1 + x2 + C(group)"')
    p.add_argument("--cov-type", default="nonrobust", choices=sorted(covariance.REGISTRY), metavar="TYPE",
                   help="covariance type (default nonrobust, the inverse observed information); "
                        "the types are listed below")
    p.add_argument("--groups", metavar="COLUMN", help="cluster column for --cov-type cluster")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="model option, repeatable, e.g. --option missing=drop (VALUE read as JSON if it parses)")


def _options(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SpecificationError(message("bad --option", expected="KEY=VALUE", got=repr(pair),
                                             fix="e.g. --option missing=drop"))
        try:
            out[key] = json.loads(value, parse_constant=_no_constant)
        except (ValueError, RecursionError):  # not JSON (or NaN/Infinity): the text itself
            out[key] = value
    return out


def _no_constant(token: str) -> None:
    raise ValueError(token)


def alpha_level(text: str) -> float:
    """``--alpha``: a number strictly between 0 and 1 (argparse ``type``: ValueError -> usage error).

    Example
    -------
    >>> alpha_level("0.1")
    0.1
    """
    value = float(text)
    if not 0 < value < 1:
        raise ValueError(text)
    return value


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def tolerance(text: str) -> float | dict[str, float]:
    """``1e-6`` or ``coef=1e-8,std_err=1e-6`` (argparse ``type``: ValueError -> usage error).

    Example
    -------
    >>> tolerance("1e-6"), tolerance("coef=1e-8,std_err=1e-6")
    (1e-06, {'coef': 1e-08, 'std_err': 1e-06})
    """
    def number(v: str) -> float:
        value = float(v)
        if not value >= 0:  # negative or NaN
            raise ValueError(v)
        return value

    if "=" not in text:
        return number(text)
    pairs = [item.partition("=") for item in text.split(",") if item]
    return {k.strip(): number(v) for k, _, v in pairs}

