"""``hessstats validate``: every built-in model on its bundled dataset against statsmodels.

Prints one row per (model, dataset, covariance, reference) with the largest relative differences
of the estimates and standard errors, the tolerance and pass/fail; exits 1 if any row fails.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from hessstats.crosscheck.cases import CASES
from hessstats.crosscheck.validation import statsmodels_available, validate

FORMATS = {"max_rel_params": "{:.1e}".format, "max_rel_se": "{:.1e}".format, "rtol": "{:.0e}".format,
           "seconds": "{:.1f}".format}


def add_parser(subparsers) -> None:
    """Register the ``validate`` subcommand on an argparse ``subparsers`` object.

    Example
    -------
    >>> parser = argparse.ArgumentParser(prog="hessstats")
    >>> add_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["validate", "--no-live", "--model", "logit"])
    >>> args.live, args.models
    (False, ['logit'])
    """
    parser = subparsers.add_parser(
        "validate", help="check every built-in model against statsmodels (stored and live)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    live = parser.add_mutually_exclusive_group()
    live.add_argument("--live", dest="live", action="store_true", default=None,
                      help="also refit with statsmodels now (default: when statsmodels is installed)")
    live.add_argument("--no-live", dest="live", action="store_false", help="only the stored references")
    parser.add_argument("--model", action="append", dest="models", metavar="NAME",
                        choices=sorted({case.model for case in CASES}),
                        help="only this model (repeatable), e.g. --model logit; one of "
                        + ", ".join(sorted({case.model for case in CASES})))
    parser.set_defaults(_run=run)


def format_table(table: pd.DataFrame) -> str:
    """The validation table as text (``passed`` shown as PASS/FAIL).

    Example
    -------
    >>> table = pd.DataFrame({"model": ["logit"], "max_rel_params": [3.2e-10], "rtol": [1e-8], "passed": [True]})
    >>> print(format_table(table))
    model max_rel_params  rtol passed
    logit        3.2e-10 1e-08   PASS
    """
    shown = table.assign(passed=table["passed"].map({True: "PASS", False: "FAIL"}))
    return shown.to_string(index=False, formatters=FORMATS)


def run(args: argparse.Namespace) -> int:
    """Run the validation; print the table and a summary line; 0 if every row passes, else 1.

    Example
    -------
    >>> import contextlib, io
    >>> parser = argparse.ArgumentParser(prog="hessstats")
    >>> add_parser(parser.add_subparsers(dest="command"))
    >>> with contextlib.redirect_stdout(io.StringIO()) as out:
    ...     code = run(parser.parse_args(["validate", "--no-live", "--model", "logit"]))
    >>> code, out.getvalue().splitlines()[-1]
    (0, '2 of 2 comparisons passed (live statsmodels: no)')
    """
    live = args.live
    if live and not statsmodels_available():
        print("statsmodels is not installed: comparing with the stored references only")
        live = False
    table = validate(live=live, models=args.models)
    if len(table) == 0:  # nothing compared is not a pass
        print("hessstats validate: error: no comparisons to run", file=sys.stderr)
        return 2
    print(format_table(table))
    failed = int((~table["passed"]).sum())
    print(f"\n{len(table) - failed} of {len(table)} comparisons passed"
          + (f"; {failed} FAILED" if failed else "")
          + f" (live statsmodels: {'yes' if (statsmodels_available() if live is None else live) else 'no'})")
    return 1 if failed else 0
