"""The ``hessstats`` command line: ``fit``, ``snapshot``, ``check``, ``hessian``, ``validate``.

Each subcommand lives in a module with ``add_parser(subparsers)`` and ``run(args) -> int``;
:func:`main` builds the parser, dispatches, and turns errors into exit statuses (0 success,
1 estimates drifted, 2 usage error: bad arguments, unreadable data or snapshot, unknown model),
printing a one-paragraph message on stderr and never a traceback.
"""

from __future__ import annotations

import argparse
import sys
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
    except (HessstatsError, OSError, ValueError) as exc:
        # HessstatsError: our typed errors; OSError: files; ValueError: e.g. pandas parsing
        print(f"hessstats {args.command}: error: {_text(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hessstats {args.command}: interrupted", file=sys.stderr)
        return 130


def _text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.strerror or exc}: {exc.filename}"
    return str(exc) or type(exc).__name__
