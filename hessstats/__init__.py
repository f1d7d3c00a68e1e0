"""hessstats: maximum-likelihood fits with exact JAX Hessians and trustworthy standard errors.

The package face: the user's vocabulary (``fit``, ``Model``, ``FitResult``, the built-in models,
post-estimation, the Hessian toolkit). Mechanics live in layered subpackages (``core``, ``rows``,
``inference``, ``models``, ``toolkit``, ``testing``, ``crosscheck``, ``cli``); nothing below this
module imports it.
"""

from __future__ import annotations

from hessstats import datasets, errors, formula
from hessstats._version import __version__
from hessstats.core.compilation import compile_stats, enable_compilation_cache
from hessstats.core.derivatives import gradient, hessian
from hessstats.core.hvp import hessian_blocked, selected_se
from hessstats.core.special import expit, log_expit, log_ndtr, softplus
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
from hessstats.model import Model
from hessstats.models.index import IndexModel
from hessstats.results import FitResult
from hessstats.rows.prepare import index_array
from hessstats.rows.weights import WeightType

__all__ = [
    "BorderedHessian", "ConstrainedClassification", "ConvexityCheck", "CriticalPoint", "CriticalPoints",
    "DaskSource", "Expression", "FitResult", "IndexModel", "LagrangeSolution", "Model", "ParquetSource",
    "SearchReport", "SecondDerivativeTest", "Smoothness", "Taylor2", "TaylorError", "TestResult", "WeightType",
    "__version__", "betareg", "binomial", "biprobit", "bordered_hessian", "check_convexity",
    "classify_constrained", "classify_critical_point", "coefplot", "compare", "compile_stats", "datasets",
    "driftplot", "enable_compilation_cache", "errors", "expit", "find_critical_points", "firth_logit", "fit",
    "formula", "from_formula", "gamma", "genpoisson", "glm", "glmer", "gradient", "heckman", "hessian",
    "hessian_blocked", "hurdle_negbin", "hurdle_poisson", "ic_table", "index_array", "log_expit", "log_ndtr",
    "logit", "lr_test", "margins", "mnlogit", "nb1", "negbin", "ols", "ordered_logit", "ordered_probit",
    "parse_expression", "poisson", "probit", "profile_ci", "profileplot", "score_test",
    "second_derivative_test", "selected_se", "softplus", "solve_lagrange", "table", "taylor2", "testing",
    "tobit", "truncated_negbin", "truncated_poisson", "validate", "vuong", "wald_test", "weibull", "zinb",
    "zip",
]


# Imported on first use (PEP 562): what a fitting script does not need stays out of `import hessstats`.
_LAZY = {
    'compare': 'hessstats.crosscheck.compare',
    'validate': 'hessstats.crosscheck.validation',
    'coefplot': 'hessstats.plotting',
    'driftplot': 'hessstats.plotting',
    'profileplot': 'hessstats.plotting',
    'ConvexityCheck': 'hessstats.toolkit.convexity',
    'check_convexity': 'hessstats.toolkit.convexity',
    'CriticalPoint': 'hessstats.toolkit.critical',
    'CriticalPoints': 'hessstats.toolkit.critical',
    'SearchReport': 'hessstats.toolkit.critical',
    'SecondDerivativeTest': 'hessstats.toolkit.critical',
    'Smoothness': 'hessstats.toolkit.critical',
    'classify_critical_point': 'hessstats.toolkit.critical',
    'find_critical_points': 'hessstats.toolkit.critical',
    'second_derivative_test': 'hessstats.toolkit.critical',
    'Expression': 'hessstats.core.expression',
    'parse_expression': 'hessstats.core.expression',
    'BorderedHessian': 'hessstats.toolkit.lagrange',
    'ConstrainedClassification': 'hessstats.toolkit.lagrange',
    'LagrangeSolution': 'hessstats.toolkit.lagrange',
    'bordered_hessian': 'hessstats.toolkit.lagrange',
    'classify_constrained': 'hessstats.toolkit.lagrange',
    'solve_lagrange': 'hessstats.toolkit.lagrange',
    'Taylor2': 'hessstats.toolkit.taylor',
    'TaylorError': 'hessstats.toolkit.taylor',
    'taylor2': 'hessstats.toolkit.taylor',
    'DaskSource': 'hessstats.rows.dask',
    'ParquetSource': 'hessstats.rows.parquet',
    'table': 'hessstats.inference.tables',
    'ic_table': 'hessstats.inference.selection',
    'vuong': 'hessstats.inference.selection',
    'glmer': 'hessstats.models.glmm',
    "testing": "hessstats.testing",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hessstats' has no attribute {name!r}")
    import importlib

    imported = importlib.import_module(module)
    value = imported if module == f"hessstats.{name}" else getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
