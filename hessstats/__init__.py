"""hessstats: maximum-likelihood fits with exact JAX Hessians and trustworthy standard errors.

The package face: the user's vocabulary (``fit``, ``Model``, ``FitResult``, the built-in models,
post-estimation, the Hessian toolkit). Mechanics live in layered subpackages (``core``, ``rows``,
``inference``, ``models``, ``toolkit``, ``testing``, ``crosscheck``, ``cli``); nothing below this
module imports it.
"""

from __future__ import annotations

from hessstats import datasets, errors, formula, testing
from hessstats._version import __version__
from hessstats.core.compilation import compile_stats, enable_compilation_cache
from hessstats.core.derivatives import gradient, hessian
from hessstats.core.hvp import hessian_blocked, selected_se
from hessstats.crosscheck.compare import compare
from hessstats.crosscheck.validation import validate
from hessstats.fitting import fit
from hessstats.formula import (
    betareg,
    binomial,
    biprobit,
    firth_logit,
    from_formula,
    gamma,
    genpoisson,
    glm,
    heckman,
    hurdle_negbin,
    hurdle_poisson,
    logit,
    mnlogit,
    nb1,
    negbin,
    ols,
    ordered_logit,
    ordered_probit,
    poisson,
    probit,
    tobit,
    truncated_negbin,
    truncated_poisson,
    weibull,
    zinb,
    zip,
)
from hessstats.inference.hypothesis import TestResult, lr_test, score_test, wald_test
from hessstats.inference.margins import margins
from hessstats.inference.profile import profile_ci
from hessstats.inference.selection import ic_table, vuong
from hessstats.inference.tables import table
from hessstats.model import Model
from hessstats.models.glmm import glmer
from hessstats.models.index import IndexModel
from hessstats.plotting import coefplot, driftplot, profileplot
from hessstats.results import FitResult
from hessstats.rows.dask import DaskSource
from hessstats.rows.parquet import ParquetSource
from hessstats.rows.prepare import index_array
from hessstats.rows.weights import WeightType
from hessstats.toolkit.convexity import ConvexityCheck, check_convexity
from hessstats.toolkit.critical import (
    CriticalPoint,
    CriticalPoints,
    SearchReport,
    SecondDerivativeTest,
    Smoothness,
    classify_critical_point,
    find_critical_points,
    second_derivative_test,
)
from hessstats.toolkit.expression import Expression, parse_expression
from hessstats.toolkit.lagrange import (
                               BorderedHessian,
                               ConstrainedClassification,
                               LagrangeSolution,
                               bordered_hessian,
                               classify_constrained,
                               solve_lagrange,
)
from hessstats.toolkit.taylor import Taylor2, TaylorError, taylor2

__all__ = [
    "BorderedHessian", "ConstrainedClassification", "ConvexityCheck", "CriticalPoint", "CriticalPoints",
    "DaskSource", "Expression", "FitResult", "IndexModel", "LagrangeSolution", "Model", "ParquetSource",
    "SearchReport", "SecondDerivativeTest", "Smoothness", "Taylor2", "TaylorError", "TestResult",
    "WeightType", "__version__", "betareg", "binomial", "biprobit", "bordered_hessian", "check_convexity",
    "classify_constrained", "classify_critical_point", "coefplot", "compare", "compile_stats", "datasets",
    "driftplot", "enable_compilation_cache", "errors", "find_critical_points", "firth_logit", "fit",
    "formula", "from_formula", "gamma", "genpoisson", "glm", "glmer", "gradient", "heckman", "hessian",
    "hessian_blocked", "hurdle_negbin", "hurdle_poisson", "ic_table", "index_array", "logit", "lr_test",
    "margins", "mnlogit", "nb1", "negbin", "ols", "ordered_logit", "ordered_probit", "parse_expression",
    "poisson", "probit", "profile_ci", "profileplot", "score_test", "second_derivative_test", "selected_se",
    "solve_lagrange", "table", "taylor2", "testing", "tobit", "truncated_negbin", "truncated_poisson",
    "validate", "vuong", "wald_test", "weibull", "zinb", "zip",
]
