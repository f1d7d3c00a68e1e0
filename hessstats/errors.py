"""One tree of errors and warnings for hessstats.

Every message says what was expected, what arrived, and how to fix it (see :func:`message`).

Errors (all subclass :class:`HessstatsError`, and ``ValueError`` where the input is at fault)::

    HessstatsError
    ├── DataError            data: NaN/inf, non-numeric, wrong length, missing values
    ├── SpecificationError   the model: log-likelihood shape, start/names mismatch, bad formula
    ├── CovarianceError      covariance: unknown cov_type, no scores, bad groups
    ├── ExpressionError      the safe expression parser of the CLI
    └── SnapshotError        snapshot files: missing, corrupt, old format

Warnings (all subclass :class:`HessstatsWarning`)::

    HessstatsWarning
    ├── ConvergenceWarning       the convergence certificate failed
    │   └── IdentificationWarning   singular or indefinite information at the optimum
    ├── SeparationWarning        (quasi-)perfect separation in a binary/count model
    ├── PrecisionWarning         float32 data or constants lose precision
    └── SpecificationWarning     a likely mis-specification, e.g. a mean log-likelihood
"""

from __future__ import annotations

import os
import sys
import warnings


def message(problem: str, *, expected: str, got: str, fix: str) -> str:
    """Format an error message with the three parts every hessstats message carries.

    Example
    -------
    >>> print(message("bad data", expected="finite numbers", got="NaN in 'x'", fix="drop rows"))
    bad data
      expected: finite numbers
      got:      NaN in 'x'
      fix:      drop rows
    """
    return f"{problem}\n  expected: {expected}\n  got:      {got}\n  fix:      {fix}"


class HessstatsError(Exception):
    """Base class of every error raised by hessstats.

    Example
    -------
    >>> all(issubclass(cls, HessstatsError) for cls in (DataError, SpecificationError, CovarianceError))
    True
    """


class DataError(HessstatsError, ValueError):
    """The data cannot be used: non-finite, non-numeric, misaligned or missing values.

    Example
    -------
    >>> try:
    ...     raise DataError(message("y has NaN", expected="finite numbers", got="NaN in row 3", fix="drop row 3"))
    ... except HessstatsError as e:
    ...     print(type(e).__name__, isinstance(e, ValueError), str(e).splitlines()[0])
    DataError True y has NaN
    """


class SpecificationError(HessstatsError, ValueError):
    """The model is mis-specified: log-likelihood shape, start values, names, formula.

    Example
    -------
    >>> issubclass(SpecificationError, HessstatsError), issubclass(SpecificationError, ValueError)
    (True, True)
    """


class CovarianceError(HessstatsError, ValueError):
    """A covariance cannot be computed as asked (unknown type, no scores, bad groups).

    Example
    -------
    >>> issubclass(CovarianceError, HessstatsError), issubclass(CovarianceError, ValueError)
    (True, True)
    """


class ExpressionError(HessstatsError, ValueError):
    """A typed expression (on the command line, or a function of the parameters such as
    ``res.delta("GPA / PSI")``) is not valid or not allowed.

    Example
    -------
    >>> issubclass(ExpressionError, HessstatsError), issubclass(ExpressionError, ValueError)
    (True, True)
    """


class SnapshotError(HessstatsError, ValueError):
    """A snapshot file is missing, corrupt or of an unsupported format.

    Example
    -------
    >>> issubclass(SnapshotError, HessstatsError)
    True
    """


class HessstatsWarning(UserWarning):
    """Base class of every warning issued by hessstats.

    Example
    -------
    >>> issubclass(ConvergenceWarning, HessstatsWarning), issubclass(HessstatsWarning, UserWarning)
    (True, True)
    """


class ConvergenceWarning(HessstatsWarning):
    """The optimiser stopped without the convergence certificate (small scaled gradient and a
    negative definite Hessian).

    Example
    -------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("the optimiser stopped early", ConvergenceWarning)
    >>> issubclass(caught[0].category, HessstatsWarning), str(caught[0].message)
    (True, 'the optimiser stopped early')
    """


class IdentificationWarning(ConvergenceWarning):
    """The observed information is singular or indefinite at the optimum: some parameters are not
    identified and get NaN standard errors.

    Example
    -------
    >>> issubclass(IdentificationWarning, ConvergenceWarning)
    True
    """


class SeparationWarning(HessstatsWarning):
    """Perfect or quasi-perfect separation: some estimates diverge.

    Example
    -------
    >>> issubclass(SeparationWarning, HessstatsWarning), issubclass(SeparationWarning, UserWarning)
    (True, True)
    """


class PrecisionWarning(HessstatsWarning):
    """Some input was float32 (data, or constants captured by the log-likelihood).

    Example
    -------
    >>> issubclass(PrecisionWarning, HessstatsWarning)
    True
    """


def warn(text: str, category: type[Warning]) -> None:
    """Issue a warning attributed to the first caller outside the hessstats package.

    Example
    -------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("check this", PrecisionWarning)
    >>> caught[0].category.__name__
    'PrecisionWarning'
    """
    package = os.path.dirname(os.path.abspath(__file__))
    level, frame = 1, sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    warnings.warn(text, category, stacklevel=level + 1)


class PerfectSeparationError(DataError):
    """Perfect (complete) separation: some linear combination of regressors predicts the outcome
    exactly, so the maximum-likelihood estimates do not exist (they diverge).

    Example
    -------
    >>> issubclass(PerfectSeparationError, DataError)
    True
    """


class CollinearityError(DataError):
    """The design matrix does not have full column rank: some columns are linear combinations of
    others, so their coefficients are not identified.

    Example
    -------
    >>> issubclass(CollinearityError, DataError)
    True
    """


class SpecificationWarning(HessstatsWarning):
    """The model may be mis-specified in a way that silently rescales the results, e.g. a mean
    log-likelihood instead of a sum (every standard error sqrt(n) times too large).

    Example
    -------
    >>> issubclass(SpecificationWarning, HessstatsWarning)
    True
    """


class OptionalDependencyError(HessstatsError, ImportError):
    """A feature needs an optional dependency that is not installed; the message names the extra
    that installs it (e.g. ``pip install "hessstats[plot]"`` for matplotlib).

    Example
    -------
    >>> issubclass(OptionalDependencyError, ImportError), issubclass(OptionalDependencyError, HessstatsError)
    (True, True)
    """


class CovarianceWarning(HessstatsWarning):
    """A covariance estimate was adjusted or is unreliable (e.g. a two-way cluster covariance that
    was not positive semi-definite had its negative eigenvalues set to 0).

    Example
    -------
    >>> issubclass(CovarianceWarning, HessstatsWarning)
    True
    """


class BoundaryWarning(HessstatsWarning):
    """A parameter's estimate is at the boundary of its space (e.g. a random-effect SD estimated as 0):
    its Wald standard error is meaningless; use a profile-likelihood interval.

    Example
    -------
    >>> issubclass(BoundaryWarning, HessstatsWarning)
    True
    """
