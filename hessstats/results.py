"""The frozen results value of a maximum-likelihood fit."""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.special

from hessstats._config import x64
from hessstats.core.compilation import MODEL_STATS
from hessstats.core.covariance import covariance_for
from hessstats.core.linalg import InverseInformation
from hessstats.errors import SpecificationError, message
from hessstats.inference.delta import coef_table, delta, standard_errors, transformed
from hessstats.inference.hypothesis import TestResult, lr_test, wald_test
from hessstats.inference.margins import margins
from hessstats.inference.profile import fit_restricted, profile_ci
from hessstats.inference.report import Summary
from hessstats.inference.report import summary as _summary

if TYPE_CHECKING:
    from hessstats.model import Model


@dataclass(frozen=True, eq=False)
class FitResult:
    """A maximum-likelihood fit: estimates, exact derivatives at the optimum, and a covariance.

    Inference is Wald with the normal (z) distribution, as statsmodels' discrete models and
    Stata's ``ml``. Every pandas object is indexed by parameter name.

    Frozen: the arrays it holds (``theta``, ``gradient_array``, ``hessian_array``, ``cov_array``,
    ``groups``, the inverse information) are read-only copies, ``cov_options`` is a read-only
    mapping, and every pandas object (``params``, ``bse``, ``cov_params()``, ...) is built fresh on
    each access: changing one never changes the result or what it reports later.

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs
    >>> y = np.array([0.5, 1.5, 2.0, 4.0])
    >>> def loglike(p, d):
    ...     return -0.5 * ((d - p["mu"]) / p["sigma"]) ** 2 - jnp.log(p["sigma"])
    >>> res = hs.fit(loglike, {"mu": 0.0, "sigma": 1.0}, data=y)
    >>> list(res.summary_frame().columns)
    ['coef', 'std_err', 'z', 'p_value', 'ci_lower', 'ci_upper']
    """

    model: Model
    theta: np.ndarray
    llf: float
    gradient_array: np.ndarray
    hessian_array: np.ndarray
    cov_type: str
    cov_array: np.ndarray
    inverse_information: InverseInformation
    converged: bool
    iterations: int
    convergence_message: str
    groups: np.ndarray | None = None
    cov_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("theta", "gradient_array", "hessian_array", "cov_array", "groups"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _frozen(value))
        object.__setattr__(self, "cov_options", types.MappingProxyType(dict(self.cov_options)))
        inverse = self.inverse_information
        for name in ("cov", "eigenvalues", "bad", "pseudo_inverse"):
            value = getattr(inverse, name, None)
            if isinstance(value, np.ndarray):
                value.flags.writeable = False  # the result owns its inverse information

    # ------------------------------------------------------------------ basic quantities
    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names, in the flat order of the parameter vector."""
        return self.model.names

    @property
    def nobs(self) -> int | None:
        """Number of observations (length of the per-observation log-likelihood)."""
        return self.model.nobs

    @property
    def k_params(self) -> int:
        """Number of free parameters (every one counts for AIC/BIC)."""
        return len(self.theta)

    @property
    def params(self) -> pd.Series:
        """Estimates, indexed by parameter name (a new Series on each access)."""
        return pd.Series(self.theta.copy(), index=list(self.names), name="coef")

    @property
    def params_tree(self) -> Any:
        """Estimates as the same pytree as ``start`` (new arrays on each access)."""
        return self.model.params_tree(self.theta)

    def random_effects(self) -> pd.DataFrame:
        """Random effects of a Laplace fit (``hs.fit(..., random=[...])``, ``hs.glmer``): conditional
        modes with ``cond_se`` (fixed parameters taken as known) and ``std_err`` (including their
        uncertainty, TMB's generalised delta method). Other models raise SpecificationError.

        Example
        -------
        >>> import numpy as np, jax.numpy as jnp, hessstats as hs
        >>> y = np.array([0.5, 1.0, 2.0])
        >>> def joint(p, d):
        ...     return (-0.5 * (d - p["u"]) ** 2 - 0.5 * (p["u"] - p["mu"]) ** 2 - jnp.log(2 * jnp.pi)).sum()
        >>> res = hs.fit(joint, {"mu": 0.0, "u": np.zeros(3)}, y, random=["u"], nobs=3)
        >>> res.random_effects()["mode"].round(6).tolist()
        [0.833333, 1.083333, 1.583333]
        """
        method = getattr(self.model, "random_effects", None)
        if method is None:
            raise SpecificationError(message(
                "this model has no random effects", expected="a fit with random= (or hs.glmer)",
                got=type(self.model).__name__, fix="fit with hs.fit(..., random=[...]) or hs.glmer(...)"))
        return method(self.theta, self.cov_array)

    def cov_params(self) -> pd.DataFrame:
        """Covariance matrix of the estimates under ``cov_type``."""
        return pd.DataFrame(self.cov_array.copy(), index=list(self.names), columns=list(self.names))

    @property
    def bse(self) -> pd.Series:
        """Standard errors; NaN for parameters the data do not identify."""
        return pd.Series(standard_errors(self.cov_array), index=list(self.names), name="std_err")

    @property
    def zvalues(self) -> pd.Series:
        """Wald z statistics ``coef / std_err``."""
        return self.summary_frame()["z"].rename_axis(None)

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values from the standard normal."""
        return self.summary_frame()["p_value"].rename_axis(None)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald confidence intervals ``coef -/+ z_{1-alpha/2} std_err`` (``alpha`` in (0, 1))."""
        return self.summary_frame(alpha)[["ci_lower", "ci_upper"]].rename_axis(None)

    @property
    def hessian(self) -> pd.DataFrame:
        """Exact (symmetrised) Hessian of the summed log-likelihood at the estimate."""
        return pd.DataFrame(self.hessian_array.copy(), index=list(self.names), columns=list(self.names))

    @property
    def gradient(self) -> pd.Series:
        """Exact gradient of the summed log-likelihood at the estimate."""
        return pd.Series(self.gradient_array.copy(), index=list(self.names), name="gradient")

    @property
    def identification(self) -> pd.DataFrame:
        """Bad eigenvectors of the information: eigenvalue, problem, parameter, loading (empty if none)."""
        return self.inverse_information.diagnostics.copy()

    @cached_property
    def aic(self) -> float:
        """Akaike information criterion ``-2 llf + 2 k``."""
        return -2.0 * self.llf + 2.0 * self.k_params

    @cached_property
    def bic(self) -> float:
        """Bayesian information criterion ``-2 llf + k log(nobs)`` (NaN when nobs is unknown)."""
        return -2.0 * self.llf + self.k_params * np.log(self.nobs) if self.nobs else float("nan")

    # ------------------------------------------------------------------ fit statistics (issue 14)
    @cached_property
    def llnull(self) -> float:
        """Log-likelihood of the null model: this model refitted with ``model.defaults.null`` fixed
        (statsmodels' ``llnull``: slopes at 0, constant and ancillary parameters free); NaN when the
        model declares no null (a custom log-likelihood, a built-in without a constant, ZIP).

        Example
        -------
        >>> import hessstats as hs
        >>> res = hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit()
        >>> round(res.llnull, 6)
        -20.59173
        """
        fixed = self.model.defaults.null
        if not fixed:
            return float("nan")
        return float(self.fit_restricted(dict(fixed)).llf)

    @cached_property
    def llr(self) -> float:
        """Likelihood-ratio statistic against the null model, ``2 (llf - llnull)`` (NaN without a null).

        Example
        -------
        >>> import hessstats as hs
        >>> round(hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit().llr, 4)
        15.4042
        """
        return 2.0 * (self.llf - self.llnull)

    @cached_property
    def df_model(self) -> float:
        """Degrees of freedom of the model: the number of parameters the null model fixes
        (statsmodels' ``df_model`` for the built-ins: regressors without the constant); NaN without a null.

        Example
        -------
        >>> import hessstats as hs
        >>> hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit().df_model
        3.0
        """
        fixed = self.model.defaults.null
        return float(len(fixed)) if fixed else float("nan")

    @cached_property
    def df_resid(self) -> float:
        """Residual degrees of freedom ``nobs - k``, statsmodels' convention: for the built-in logit,
        probit, poisson, negbin and ols, ``k`` counts the regressors only (not ``alpha``/``sigma``);
        otherwise every free parameter. NaN when nobs is unknown.

        Example
        -------
        >>> import hessstats as hs
        >>> hs.negbin("mdvis ~ lncoins + idp", hs.datasets.load("randhie")).fit().df_resid
        20187.0
        """
        if not self.nobs:
            return float("nan")
        k = self.k_params
        data = self.model.data
        if self.model.description.get("model") in _EXOG_DF_MODELS and isinstance(data, Mapping) and "X" in data:
            k = int(np.shape(data["X"])[1])
        return float(self.nobs - k)

    @cached_property
    def llr_pvalue(self) -> float:
        """Chi-squared p-value of :attr:`llr` with :attr:`df_model` degrees of freedom (NaN without a null).

        Example
        -------
        >>> import hessstats as hs
        >>> round(hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit().llr_pvalue, 8)
        0.00150188
        """
        if np.isnan(self.llr):
            return float("nan")
        return float(scipy.special.chdtrc(self.df_model, self.llr))

    @cached_property
    def prsquared(self) -> float:
        """McFadden's pseudo R-squared ``1 - llf / llnull`` (NaN without a null).

        Example
        -------
        >>> import hessstats as hs
        >>> round(hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit().prsquared, 6)
        0.374038
        """
        return 1.0 - self.llf / self.llnull

    @cached_property
    def rsquared(self) -> float:
        """R-squared of the built-in OLS, ``1 - RSS/TSS`` (TSS centred when the design has a constant
        column, as statsmodels OLS); NaN for every other model.

        Example
        -------
        >>> import hessstats as hs
        >>> round(hs.ols("TOTEMP ~ GNP + POP", hs.datasets.load("longley")).fit().rsquared, 6)
        0.979059
        """
        return self._ols_fit()[0]

    @cached_property
    def rsquared_adj(self) -> float:
        """Adjusted R-squared of the built-in OLS, ``1 - (nobs - c) / df_resid (1 - R2)`` with ``c`` = 1
        with a constant, else 0 (statsmodels OLS); NaN for every other model.

        Example
        -------
        >>> import hessstats as hs
        >>> round(hs.ols("TOTEMP ~ GNP + POP", hs.datasets.load("longley")).fit().rsquared_adj, 6)
        0.975837
        """
        return self._ols_fit()[1]

    def _ols_fit(self) -> tuple[float, float]:
        data = self.model.data
        if self.model.description.get("model") != "ols" or not isinstance(data, Mapping) or "X" not in data:
            return float("nan"), float("nan")
        y = np.asarray(data["y"], dtype=np.float64)
        X = np.asarray(data["X"], dtype=np.float64)
        resid = y - X @ self.theta[: X.shape[1]]
        constant = bool(np.any(np.all(X == X[:1], axis=0) & (X[0] != 0)))
        centre = y.mean() if constant else 0.0
        r2 = 1.0 - float(resid @ resid) / float(((y - centre) ** 2).sum())
        return r2, 1.0 - (len(y) - int(constant)) / self.df_resid * (1.0 - r2)

    def summary(self, alpha: float = 0.05) -> Summary:
        """The report statisticians expect: a header (model, formula, nobs/clusters, df, llf, llnull,
        LR chi2 against the null, pseudo-R2 or R2, AIC/BIC, covariance, convergence), then the
        coefficients with p-values as ``<0.001`` or 3 significant digits (``summary_frame()`` keeps
        raw floats). ``str()`` gives the text; notebooks render ``_repr_html_``.

        Example
        -------
        >>> import hessstats as hs
        >>> res = hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit()
        >>> print(str(res.summary()).splitlines()[6])
        LR chi2 (df, p):  15.4042 (3, 0.00150)
        """
        return _summary(self, alpha)

    # ------------------------------------------------------------------ inference (issue 3)
    def with_cov(self, cov_type: str, groups: Any = None, cov_options: dict[str, Any] | None = None) -> FitResult:
        """The same fit under another covariance type, without refitting (a new frozen result).

        ``cov_type``: ``"nonrobust"``, ``"opg"``, ``"HC0"``, ``"robust"``, ``"cluster"`` (with
        ``groups``: labels or a data column name) or ``"expected"``; see :mod:`hessstats.core.covariance`.

        Example
        -------
        >>> import numpy as np, hessstats as hs
        >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 2.0, 4.0]))
        >>> res.with_cov("HC0").cov_type, round(float(res.with_cov("HC0").bse["mu"]), 6)
        ('HC0', 0.720082)
        """
        with x64():
            cov, codes = covariance_for(self.model, self.theta, self.inverse_information, cov_type, groups, cov_options)
        return dataclasses.replace(self, cov_type=cov_type, cov_array=cov, groups=codes,
                                   cov_options=dict(cov_options or {}))

    def delta(self, fn: Any, names: Any = None, alpha: float = 0.05) -> pd.DataFrame:
        """Delta-method table for ``fn(params)`` (see :func:`hessstats.inference.delta.delta`).

        Example
        -------
        >>> import numpy as np, jax.numpy as jnp, hessstats as hs
        >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0]))
        >>> float(res.delta(lambda p: 2 * p["mu"]).loc["fn", "std_err"]).__round__(6)
        1.414214
        """
        return delta(self, fn, names, alpha)

    def transformed(self, alpha: float = 0.05) -> pd.DataFrame:
        """Natural-scale ``transforms`` declared at fit time, with delta-method SEs.

        Example
        -------
        >>> import numpy as np, jax.numpy as jnp, hessstats as hs
        >>> def loglike(p, d):
        ...     return -0.5 * ((d - p["mu"]) / jnp.exp(p["log_sigma"])) ** 2 - p["log_sigma"]
        >>> res = hs.fit(loglike, {"mu": 0.0, "log_sigma": 0.0}, np.array([1.0, 2.0, 4.0, 5.0]),
        ...              transforms={"sigma": lambda p: jnp.exp(p["log_sigma"])})
        >>> round(float(res.transformed().loc["sigma", "coef"]), 6)
        1.581139
        """
        return transformed(self, alpha)

    def wald_test(self, R: Any, q: Any = None) -> TestResult:
        """Wald test of ``R b = q`` (matrix, ``"GPA = PSI, TUCE = 0"`` strings, or a function).

        Example
        -------
        >>> import numpy as np, hessstats as hs
        >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0]))
        >>> res.wald_test("mu = 0")
        <Wald test: statistic=8, df=1, p_value=0.00467773>
        """
        return wald_test(self, R, q)

    def fit_restricted(self, fixed: dict[str, float], **fit_options: Any) -> FitResult:
        """Refit with the parameters in ``fixed`` (``{name: value}``) held fixed.

        Example
        -------
        >>> import numpy as np, jax.numpy as jnp, hessstats as hs
        >>> def loglike(p, d):
        ...     return -0.5 * ((d - p["mu"]) / p["sigma"]) ** 2 - jnp.log(p["sigma"])
        >>> res = hs.fit(loglike, {"mu": 0.0, "sigma": 1.0}, np.array([1.0, 2.0, 4.0, 5.0]))
        >>> res.fit_restricted({"mu": 3.0}).names
        ('sigma',)
        """
        return fit_restricted(self, fixed, **fit_options)

    def lr_test_null(self, fixed: dict[str, float] | None = None, **fit_options: Any) -> TestResult:
        """LR test against the null model: this model refitted with ``fixed`` parameters held.

        ``fixed`` defaults to ``model.defaults.null``: every built-in model whose design has a
        constant column fixes all slopes at 0 and keeps the constant and the ancillary parameters
        (``alpha``, ``sigma``, ``scale``, ``shape``) free, which is statsmodels' ``llnull`` /
        ``llr`` / ``llr_pvalue`` (``df = df_model``); ordered models fix all slopes (cutpoints
        free), mnlogit every non-constant coefficient of every equation. ZIP defines no default.

        Example
        -------
        >>> import numpy as np, jax.numpy as jnp, hessstats as hs
        >>> def loglike(p, d):
        ...     return -0.5 * ((d - p["mu"]) / p["sigma"]) ** 2 - jnp.log(p["sigma"])
        >>> res = hs.fit(loglike, {"mu": 0.0, "sigma": 1.0}, np.array([1.0, 2.0, 4.0, 5.0]))
        >>> res.lr_test_null({"mu": 0.0}).df
        1
        >>> hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit().lr_test_null()
        <LR test: statistic=15.4042, df=3, p_value=0.00150188>
        """
        fixed = fixed if fixed is not None else self.model.defaults.null
        if not fixed:
            raise SpecificationError(message(
                "no null model is defined for this model", expected="fixed={name: value, ...}",
                got="no fixed= and no model.defaults.null (built-in models define it only with an intercept)",
                fix="say which parameters the null model fixes, e.g. {'x1': 0.0, 'x2': 0.0}"))
        return lr_test(self.fit_restricted(fixed, **fit_options), self, check_data=False)

    def profile_ci(self, names: Any = None, alpha: float = 0.05, **options: Any) -> pd.DataFrame:
        """Profile-likelihood intervals beside Wald ones (see :func:`hessstats.inference.profile.profile_ci`).

        Example
        -------
        >>> import numpy as np, hessstats as hs
        >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0]))
        >>> res.profile_ci()["status"].tolist()
        ['ok']
        """
        return profile_ci(self, names, alpha, **options)

    def margins(self, predict: Any = None, variables: Any = None, *, kind: str = "average",
                alpha: float = 0.05) -> pd.DataFrame:
        """Marginal effects dy/dx with delta-method SEs (see :func:`hessstats.inference.margins.margins`).

        With no arguments, for the built-in logit, probit, poisson and negbin models: statsmodels'
        ``get_margeff()`` (``kind="mean"``: ``at="mean"``), every regressor except the constant.

        Example
        -------
        >>> import numpy as np, jax.numpy as jnp, hessstats as hs
        >>> d = {"x": np.array([0.0, 1.0, 2.0, 3.0]), "y": np.array([0.1, 1.2, 1.9, 3.2])}
        >>> res = hs.fit(lambda p, d: -0.5 * (d["y"] - p["b"] * d["x"]) ** 2, {"b": 0.0}, d)
        >>> bool(np.isclose(res.margins(lambda p, d: p["b"] * d["x"], ["x"]).loc["x", "coef"], res.params["b"]))
        True
        """
        return margins(self, predict, variables, kind=kind, alpha=alpha)

    # ------------------------------------------------------------------ reporting
    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """The coefficient table: ``coef, std_err, z, p_value, ci_lower, ci_upper`` by parameter."""
        return coef_table(self.theta, self.bse.to_numpy(), list(self.names), alpha)

    def _header(self) -> list[tuple[str, str]]:
        desc = self.model.description
        cov = self.cov_type + (f" (groups: {len(np.unique(self.groups))})" if self.groups is not None else "")
        return [
            ("Model", str(desc.get("model", getattr(self.model.loglike, "__name__", "custom")))),
            *([("Formula", str(desc["formula"]))] if desc.get("formula") else []),
            ("Observations", str(self.nobs)),
            ("Log-likelihood", f"{self.llf:.6g}"),
            ("AIC / BIC", f"{self.aic:.6g} / {self.bic:.6g}"),
            ("Covariance", cov),
            ("Converged", f"{self.converged} ({self.iterations} iterations)"),
        ]

    def __str__(self) -> str:
        head = "\n".join(f"{k + ':':<16}{v}" for k, v in self._header())
        table = self.summary_frame().to_string(float_format=lambda v: f"{v:.6g}")
        tail = "" if self.converged else f"\nWARNING: {self.convergence_message}"
        return f"{head}\n{table}{tail}"

    def __repr__(self) -> str:
        return f"<FitResult {self.model.description.get('model', 'custom')}: k={self.k_params}, nobs={self.nobs}, llf={self.llf:.6g}>"

    def _repr_html_(self) -> str:
        head = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{v}</td></tr>" for k, v in self._header())
        warn = "" if self.converged else f"<p><b>Warning:</b> {self.convergence_message}</p>"
        return f"<table>{head}</table>{self.summary_frame().to_html(float_format=lambda v: f'{v:.6g}')}{warn}"

    @property
    def compile_stats(self) -> dict[str, float]:
        """Kernel traces (compiles) and compile seconds incurred by this model's evaluations (issue 7).

        A repeated fit of a model with the same log-likelihood and shapes shows 0 traces.
        """
        return dict(MODEL_STATS.get(self.model, {"traces": 0, "compile_seconds": 0.0}))


_EXOG_DF_MODELS = frozenset({"logit", "probit", "poisson", "negbin", "ols"})
"""Built-ins whose df_resid counts the regressors only (statsmodels: ``nobs - rank(exog)``)."""


def _frozen(value: Any) -> np.ndarray:
    """A read-only copy of an array (what a frozen result holds); an array that is already
    read-only (a result's own, passed on by ``with_cov``) is kept as it is."""
    if isinstance(value, np.ndarray) and not value.flags.writeable:
        return value
    arr = np.array(value, copy=True)
    arr.flags.writeable = False
    return arr
