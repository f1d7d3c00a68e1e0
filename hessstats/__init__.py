"""hessstats: maximum-likelihood fits with exact JAX Hessians and trustworthy standard errors."""

from __future__ import annotations

from . import errors
from .diff import gradient, hessian

__version__ = "0.1.0"

# --- core (issue 2) ---
from .fitting import fit
from .model import Model
from .results import FitResult

# --- inference (issue 3) ---
from .inference import TestResult, lr_test, score_test, wald_test
from .margins import margins
from .profile import profile_ci

# --- models, formula, datasets, bridge (issue 4) ---
from . import datasets, formula, models
from .bridge import compare
from .formula import (from_formula, gamma, logit, mnlogit, negbin, ols, ordered_logit, ordered_probit, poisson,
                      probit, tobit, weibull, zip)
from .validation import validate

# --- Hessian toolkit (issue 5) ---
from .constrained import (BorderedHessian, ConstrainedClassification, LagrangeSolution,
                          bordered_hessian, classify_constrained, solve_lagrange)
from .convexity import ConvexityCheck, check_convexity
from .critical import (CriticalPoint, SecondDerivativeTest, classify_critical_point, find_critical_points,
                       second_derivative_test)
from .expr import Expression, parse_expression
from .taylor import Taylor2, TaylorError, taylor2

# --- testing (issue 6) ---
from . import testing

# --- scale (issue 7) ---
from .cache import enable_compilation_cache
from .chunked import ParquetSource
from .diff import compile_stats
from .distributed import DaskSource
from .index import IndexModel
from .matrix_free import hessian_blocked, selected_se
