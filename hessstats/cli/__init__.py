"""The ``hessstats`` command line: ``fit``, ``snapshot``, ``check``, ``hessian``, ``validate``.

Each subcommand lives in a module with ``add_parser(subparsers)`` and ``run(args) -> int``;
:func:`main` builds the parser, dispatches, and turns errors into exit statuses (0 success,
1 estimates drifted, 2 usage error: bad arguments, unreadable data or snapshot, unknown model),
printing a one-paragraph message on stderr and never a traceback. Exit status 1 is returned only
by a subcommand that found drift (or failed validation rows); every exception, typed or not,
becomes exit 2, so a crash can never be mistaken for drift. Set ``HESSSTATS_TRACEBACK=1`` to also
print the traceback of an unexpected (non-hessstats) exception when reporting a bug.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Sequence

from hessstats._version import __version__
from hessstats.cli import fit as cli_fit
from hessstats.cli import hessian as cli_hessian
from hessstats.cli import validate as cli_validate
from hessstats.errors import HessstatsError, HessstatsWarning

SUBCOMMAND_MODULES = (cli_fit, cli_hessian, cli_validate)
"""Modules providing subcommands (``add_parser`` + ``run``), in ``--help`` order: fit/snapshot/check
(issue 6), hessian (issue 5), validate (issue 4)."""

DESCRIPTION = """\
Maximum-likelihood fits with exact (JAX, float64) Hessians: standard-error tables, estimate
snapshots for regression testing, and Hessian tools for expressions."""

EPILOG = """\
examples:
  hessstats fit spector --model logit --formula "GRADE ~ GPA + TUCE + PSI"
  hessstats fit data.csv --model poisson --formula "y ~ x1 + x2" --cov-type robust --output se.md
  hessstats snapshot spector --model logit --formula "GRADE ~ GPA + TUCE + PSI" snap.json
  hessstats check snap.json --rtol 1e-6
  hessstats hessian "x**2 + x*y + y**2 - 3*x" --at x=2,y=-1
  hessstats validate

Run `hessstats COMMAND --help` for the options of a command.

exit status:
  0  success (check: estimates within tolerance)
  1  check: estimates drifted beyond tolerance (the drift table is printed)
  2  usage error: bad arguments, unreadable data or snapshot, unknown model or dataset
"""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered.

    Example
    -------
    >>> parser = build_parser()
    >>> parser.parse_args(["check", "snap.json"]).command
    'check'
    """
    parser = argparse.ArgumentParser(
        prog="hessstats", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"hessstats {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for module in SUBCOMMAND_MODULES:
        before = set(subparsers.choices)
        module.add_parser(subparsers)
        for name in set(subparsers.choices) - before:  # dispatch to the module that added it
            subparsers.choices[name].set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring).

    Example
    -------
    >>> main(["--version"])
    hessstats 0.1.0
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or an argparse usage error (already printed)
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    run = getattr(args, "func", None) or args._run
    try:
        with warnings.catch_warnings():  # warnings as one readable stderr line each, never errors
            warnings.simplefilter("always", HessstatsWarning)
            warnings.showwarning = lambda msg, category, *rest, **kw: print(
                f"hessstats {args.command}: {category.__name__}: {msg}", file=sys.stderr)
            return int(run(args))
    except KeyboardInterrupt:
        print(f"hessstats {args.command}: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # a subcommand that exits itself: keep 0 and 2, never turn anything into 1
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        return code if code in (0, 2) else 2
    except HessstatsError as exc:  # our typed errors: what went wrong, expected, got, fix
        print(f"hessstats {args.command}: error: {_text(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # anything else (a file, a library, a bug): still one paragraph, exit 2, not 1
        if os.environ.get("HESSSTATS_TRACEBACK"):
            traceback.print_exc()
        kind = "" if isinstance(exc, (OSError, ValueError)) else f"unexpected {type(exc).__name__}: "
        print(f"hessstats {args.command}: error: {kind}{_text(exc)}"
              + ("" if not kind else " (set HESSSTATS_TRACEBACK=1 to see where; please report it)"),
              file=sys.stderr)
        return 2


def _text(exc: BaseException, limit: int = 4000) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        text = f"{exc.strerror or exc}: {exc.filename}"
    else:
        try:
            text = str(exc) or type(exc).__name__
        except Exception:  # a str() that fails itself
            text = type(exc).__name__
    return text if len(text) <= limit else text[:limit] + " ..."
