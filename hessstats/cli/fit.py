"""``hessstats fit``, ``snapshot`` and ``check``: formula fits from the shell, and estimate snapshots.

DATA is a CSV or Parquet path, or the name of a bundled dataset (``hessstats.datasets.list()``).
A snapshot written by ``hessstats snapshot`` records in its description, under ``"refit"``,
everything ``check`` needs to refit: the data (dataset name, or the file path relative to the
snapshot's directory), model, formula, cov_type, groups and options.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hessstats import datasets
from hessstats.errors import DataError, SnapshotError, SpecificationError, message
from hessstats.formula import MODELS, from_formula
from hessstats.testing import DEFAULT_ATOL, DEFAULT_RTOL, compare_estimates, drift_report, load_snapshot, save_snapshot
from hessstats.testing.snapshots import jsonable, write_atomic

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
        note="\n--output writes by extension: .csv, .json, .md (Markdown) or .tex (LaTeX tabular).\n")
    _model_arguments(fit)
    fit.add_argument("--output", "-o", metavar="FILE", help="also write the table to FILE (.csv .json .md .tex)")
    fit.add_argument("--alpha", type=float, default=0.05, help="confidence level 1-ALPHA for the intervals (default 0.05)")

    snap = _subcommand(
        subparsers, "snapshot", _run_snapshot, "fit a model and save its estimates as a JSON snapshot",
        "Fit like `hessstats fit` and save a snapshot: estimates, standard errors, covariance, log-likelihood, "
        "nobs, a sha256 fingerprint of the data, versions, and everything `hessstats check` needs to refit. "
        "The file is written atomically.",
        ['spector --model logit --formula "GRADE ~ GPA + TUCE + PSI" logit.json',
         'data.csv --model poisson --formula "y ~ x" --cov-type robust snaps/pois.json'])
    _model_arguments(snap)
    snap.add_argument("path", metavar="PATH", help="snapshot file to write (JSON)")

    check = _subcommand(
        subparsers, "check", _run_check, "refit what a snapshot describes and compare the estimates",
        "Refit the model a snapshot describes and compare coef, std_err, llf and nobs with the stored values: "
        "|actual - expected| <= atol + rtol*|expected| (numpy's rule; NaN matches only NaN). Prints one OK "
        "line, or a table of what drifted.",
        ["logit.json", "logit.json --rtol 1e-6 --atol 1e-12", "logit.json --rtol coef=1e-8,std_err=1e-6",
         "logit.json --data refreshed.csv"],
        exit_ok=": estimates within tolerance", exit_drift="estimates drifted beyond tolerance")
    check.add_argument("path", metavar="PATH", help="snapshot file written by `hessstats snapshot`")
    check.add_argument("--rtol", type=tolerance, default=None,
                       help="relative tolerance, a number or per quantity (coef=1e-8,std_err=1e-6); default 1e-7")
    check.add_argument("--atol", type=tolerance, default=None,
                       help="absolute tolerance, same forms as --rtol; default 0")
    check.add_argument("--data", metavar="DATA", help="refit on this data instead of the snapshot's")


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
    frame, _ = load_data(args.data)
    res = fit_formula(frame, args.model, args.formula, args.cov_type, args.groups, _options(args.option))
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
    frame, source = load_data(args.data, relative_to=Path(args.path).resolve().parent)
    options = _options(args.option)
    res = fit_formula(frame, args.model, args.formula, args.cov_type, args.groups, options)
    refit = {"data": source, "model": args.model, "formula": args.formula, "cov_type": args.cov_type,
             "groups": args.groups, "options": options}
    path = save_snapshot(res, args.path, description={**res.model.description, "refit": refit})
    print(f"wrote {path} ({res.k_params} parameters, nobs={res.nobs}, llf={res.llf:.10g})")
    return 0


def _run_check(args: argparse.Namespace) -> int:
    """``hessstats check``: exit 0 within tolerance, 1 with the drift table otherwise."""
    snap = load_snapshot(args.path)
    refit = snap.description.get("refit")
    if not isinstance(refit, dict) or not {"data", "model", "formula"} <= set(refit):
        raise SnapshotError(message(
            f"{args.path} does not record how to refit the model", expected="a snapshot written by `hessstats snapshot`",
            got="no 'refit' entry in its description (saved from Python?)",
            fix="compare it from Python with hs.testing.assert_estimates_close(res, path)"))
    if args.data is not None:
        frame, _ = load_data(args.data)
    else:
        frame, _ = load_data(refit["data"], relative_to=Path(args.path).resolve().parent)
    res = fit_formula(frame, refit["model"], refit["formula"], refit.get("cov_type", snap.cov_type),
                      refit.get("groups"), dict(refit.get("options") or {}))
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


# ------------------------------------------------------------------------------ helpers
def load_data(spec: str | dict, relative_to: Path | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read DATA (CSV/Parquet path or bundled dataset name); also return how to find it again.

    ``spec`` may be the record stored in a snapshot (``{"dataset": name}`` or ``{"path": p}``);
    relative paths in such records, and the path recorded, are relative to ``relative_to``.

    Example
    -------
    >>> frame, source = load_data("spector")
    >>> frame.shape, source
    ((32, 4), {'dataset': 'spector'})
    """
    if isinstance(spec, dict):
        if "dataset" in spec:
            return datasets.load(spec["dataset"]), dict(spec)
        path = Path(spec["path"])
        spec = str(path if path.is_absolute() or relative_to is None else relative_to / path)
    path = Path(spec)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".parquet", ".pq") or path.exists():
        if not path.is_file():
            raise DataError(message(f"data file not found: {spec}", expected="an existing .csv or .parquet file, "
                                    f"or a bundled dataset name ({', '.join(datasets.list())})",
                                    got=repr(spec), fix="check the path"))
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        elif suffix == ".csv":
            frame = pd.read_csv(path)
        else:
            raise DataError(message(f"unsupported data file type: {spec}", expected=".csv or .parquet",
                                    got=repr(path.suffix), fix="convert the file to CSV or Parquet"))
        where = os.path.relpath(path.resolve(), relative_to) if relative_to is not None else str(path)
        return frame, {"path": Path(where).as_posix()}
    if spec not in datasets.list():
        raise DataError(message(f"no data file or bundled dataset named {spec!r}",
                                expected=f"a .csv/.parquet path or one of {datasets.list()}", got=repr(spec),
                                fix="check the path, or run `python -c \"import hessstats; print(hessstats.datasets.list())\"`"))
    return datasets.load(spec), {"dataset": spec}


def fit_formula(frame: pd.DataFrame, model: str, formula: str, cov_type: str = "nonrobust",
                groups: str | None = None, options: dict[str, Any] | None = None):
    """Build ``model`` from ``formula`` on ``frame`` and fit it (``groups``: a column of ``frame``).

    Example
    -------
    >>> import hessstats as hs
    >>> res = fit_formula(hs.datasets.load("spector"), "logit", "GRADE ~ GPA + TUCE + PSI")
    >>> round(float(res.params["GPA"]), 6)
    2.826113
    """
    labels = None
    if groups is not None:
        if groups not in frame.columns:
            raise SpecificationError(message(
                f"--groups names an unknown column {groups!r}", expected=f"one of {list(map(str, frame.columns))}",
                got=repr(groups), fix="check the column name"))
        labels = frame[groups].to_numpy()
    return from_formula(model, formula, frame, **dict(options or {})).fit(cov_type=cov_type, groups=labels)


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
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        text = table.to_csv()
    elif suffix == ".json":
        record = {"model": jsonable(dict(res.model.description)), "nobs": res.nobs, "llf": res.llf,
                  "cov_type": res.cov_type, "alpha": alpha, "converged": bool(res.converged),
                  "parameters": [{"name": n, **row} for n, row in jsonable(table.to_dict(orient="index")).items()]}
        text = json.dumps(jsonable(record), indent=1, allow_nan=False) + "\n"
    elif suffix == ".md":
        text = markdown_table(table)
    elif suffix == ".tex":
        text = latex_table(table)
    else:
        raise SpecificationError(message(f"unknown output format {path!r}", expected="a file ending in .csv, .json, .md or .tex",
                                         got=repr(Path(path).suffix), fix="choose one of those extensions"))
    write_atomic(path, text)


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
    p.add_argument("--cov-type", default="nonrobust",
                   help="nonrobust (inverse observed information, default), opg, HC0, robust, cluster, expected")
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
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def tolerance(text: str) -> float | dict[str, float]:
    """``1e-6`` or ``coef=1e-8,std_err=1e-6`` (argparse ``type``: ValueError -> usage error).

    Example
    -------
    >>> tolerance("1e-6"), tolerance("coef=1e-8,std_err=1e-6")
    (1e-06, {'coef': 1e-08, 'std_err': 1e-06})
    """
    if "=" not in text:
        return float(text)
    pairs = [item.partition("=") for item in text.split(",") if item]
    return {k.strip(): float(v) for k, _, v in pairs}

