"""The frozen results value of a maximum-likelihood fit."""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use

from hessstats._config import x64
from hessstats.core import survey
from hessstats.core.bootstrap import BootstrapReplicates, replicates_of
from hessstats.core.compilation import MODEL_STATS
from hessstats.core.covariance import covariance_for
from hessstats.core.linalg import InverseInformation
from hessstats.errors import CovarianceError, SpecificationError, message
from hessstats.inference.delta import coef_table, delta, inference_df, standard_errors, transformed
from hessstats.inference.hypothesis import TestResult, lr_test, wald_terms, wald_test
from hessstats.inference.margins import margins
from hessstats.inference.prediction import PredictionResult
from hessstats.inference.prediction import get_prediction as _get_prediction
from hessstats.inference.prediction import predict as _predict
from hessstats.inference.profile import fit_restricted, profile_ci
from hessstats.inference.report import Summary
from hessstats.inference.report import summary as _summary
from hessstats.rows.weights import pseudo_likelihood

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
        """Number of observations (length of the per-observation log-likelihood); with weights, the
        number they stand for (``Model.weighted_nobs``: ``sum(w)`` for frequency/importance weights)."""
        weighted = getattr(self.model, "weighted_nobs", None)
        return self.model.nobs if weighted is None else weighted

    @property
    def weight_type(self) -> Any:
        """What the model's weights mean (:class:`~hessstats.rows.weights.WeightType`), None without weights."""
        return getattr(self.model, "weight_type", None)

    @cached_property
    def df_design(self) -> float:
        """Design degrees of freedom ``#PSU - #strata`` of a survey covariance (NaN otherwise); with
        ``cov_type="survey"`` p-values and intervals use the t distribution with these df (Stata ``svy``).

        Example
        -------
        >>> import numpy as np, hessstats as hs
        >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(6.0),
        ...              design={"strata": [0, 0, 0, 1, 1, 1], "psu": [0, 1, 1, 2, 3, 4]})
        >>> res.df_design
        3
        """
        if self.cov_type != "survey" or "design" not in self.cov_options:
            return float("nan")
        return survey.design_df(self.model, self.cov_options["design"])

    @property
    def k_params(self) -> int:
        """Number of free parameters (every one counts for AIC/BIC)."""
        return len(self.theta)

    @property
    def params(self) -> pd.Series:
        """Estimates, indexed by parameter name (a new Series on each access)."""
        return pd.Series(self.theta.copy(), index=_names_index(self.names), name="coef")

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
        return pd.DataFrame(self.cov_array.copy(), index=_names_index(self.names), columns=_names_index(self.names))

    @property
    def bse(self) -> pd.Series:
        """Standard errors; NaN for parameters the data do not identify."""
        return pd.Series(standard_errors(self.cov_array), index=_names_index(self.names), name="std_err")

    @property
    def zvalues(self) -> pd.Series:
        """Wald statistics ``coef / std_err`` (z, or t where :attr:`df_inference` is set)."""
        return self.summary_frame().iloc[:, 2].rename("z").rename_axis(None)

    @property
    def df_inference(self) -> float | None:
        """Degrees of freedom of the t reference distribution, or None for normal (z) inference
        (see :func:`hessstats.inference.delta.inference_df`): the built-in OLS reports t with
        ``nobs - k`` df (``G - 1`` clustered), as statsmodels OLS / R ``lm`` / Stata ``regress``.

        Example
        -------
        >>> import hessstats as hs
        >>> hs.ols("TOTEMP ~ GNP + POP", hs.datasets.load("longley")).fit().df_inference
        13.0
        """
        return inference_df(self)

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values from the standard normal (Student t with :attr:`df_inference` df where set)."""
        return self.summary_frame()["p_value"].rename_axis(None)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald confidence intervals ``coef -/+ q_{1-alpha/2} std_err`` (``alpha`` in (0, 1)), ``q``
        the normal quantile, or the t quantile with :attr:`df_inference` df where set."""
        return self.summary_frame(alpha)[["ci_lower", "ci_upper"]].rename_axis(None)

    @property
    def hessian(self) -> pd.DataFrame:
        """Exact (symmetrised) Hessian of the summed log-likelihood at the estimate."""
        return pd.DataFrame(self.hessian_array.copy(), index=_names_index(self.names), columns=_names_index(self.names))

    @property
    def gradient(self) -> pd.Series:
        """Exact gradient of the summed log-likelihood at the estimate."""
        return pd.Series(self.gradient_array.copy(), index=_names_index(self.names), name="gradient")

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

        Parameters
        ----------
        alpha : float
            Confidence intervals are ``1 - alpha`` Wald intervals.

        Returns
        -------
        Summary
            ``str()`` gives the text; ``header`` (label, value pairs) and ``table`` (the formatted
            coefficients) are attributes.

        Example
        -------
        >>> import hessstats as hs
        >>> res = hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit()
        >>> print(str(res.summary()).splitlines()[6])
        LR chi2 (df, p):  15.4042 (3, 0.00150)
        """
        return _summary(self, alpha)

    # ------------------------------------------------------------------ inference (issue 3)
    def with_cov(self, cov_type: str, groups: Any = None, cov_options: dict[str, Any] | None = None, *,
                 design: Any = None) -> FitResult:
        """The same fit under another covariance type, without refitting (a new frozen result).

        ``cov_type``: ``"nonrobust"``, ``"opg"``, ``"HC0"``, ``"HC1"``, ``"HC2"``, ``"HC3"``,
        ``"robust"``, ``"cluster"`` (with ``groups``: labels or a data column name; two-way:
        ``[g1, g2]``), ``"hac"`` (Newey-West; ``groups=time``: Driscoll-Kraay) or ``"expected"``;
        see :mod:`hessstats.core.covariance` and ``docs/covariance.md``; ``"survey"`` with
        ``design={"strata": ..., "psu": ..., "fpc": ...}`` (:mod:`hessstats.core.survey`).

        Parameters
        ----------
        cov_type : str
            A registered covariance type (``hs.covariance_types()`` or ``docs/covariance.md``).
        groups : array-like or str, optional
            Cluster labels or a data column name (two for two-way clustering; also the time index of
            Driscoll-Kraay ``"hac"``).
        cov_options : dict, optional
            Covariance options, e.g. ``{"correction": "regress"}`` for clusters.
        design : mapping, optional
            A survey design for ``cov_type="survey"`` (see ``docs/weights.md``).

        Returns
        -------
        FitResult
            A new frozen result with the same estimates and the new covariance.

        Example
        -------
        >>> import numpy as np, hessstats as hs
        >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 2.0, 4.0]))
        >>> res.with_cov("HC0").cov_type, round(float(res.with_cov("HC0").bse["mu"]), 6)
        ('HC0', 0.720082)
        """
        cov_type, cov_options = survey.resolve_cov(getattr(self.model, "weight_type", None), cov_type, cov_options, design)
        with x64():
            cov, codes = covariance_for(self.model, self.theta, self.inverse_information, cov_type, groups, cov_options)
        return dataclasses.replace(self, cov_type=cov_type, cov_array=cov, groups=codes,
                                   cov_options=dict(cov_options or {}))

    def delta(self, fn: Any, names: Any = None, alpha: float = 0.05) -> pd.DataFrame:
        """Delta-method table for ``fn(params)`` (see :func:`hessstats.inference.delta.delta`).

        Parameters
        ----------
        fn : callable, str or list of str
            ``fn(params)`` in ``jax.numpy``, a scalar or a vector; or text over the parameter names
            as ``res.params.index`` shows them, e.g. ``"GPA / PSI"`` or ``["exp(PSI)", "GPA / PSI"]``
            (R ``car::deltaMethod``, Stata ``nlcom``). Its Jacobian is exact.
        names : str or list of str, optional
            Row labels of the result (default ``"fn"`` or ``"fn[i]"``; the text for text).
        alpha : float
            Level of the Wald intervals.

        Returns
        -------
        pandas.DataFrame
            ``coef, std_err, z, p_value, ci_lower, ci_upper``, one row per output of ``fn``.

        Example
        -------
        >>> import numpy as np, jax.numpy as jnp, hessstats as hs
        >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0]))
        >>> float(res.delta(lambda p: 2 * p["mu"]).loc["fn", "std_err"]).__round__(6)
        1.414214
        >>> float(res.delta("2 * mu").loc["2 * mu", "std_err"]).__round__(6)
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
        """Wald test of ``R b = q`` (matrix, ``"GPA = PSI, TUCE = 0"`` strings, a whole formula term
        ``"C(region)"``, chained ``"x1 = x2 = 0"``, or a function): chi-squared, or where
        :attr:`df_inference` is set the F form ``W / m`` on ``(m, df)`` degrees of freedom (statsmodels
        OLS ``wald_test``, Stata ``test`` after ``regress``); the result has ``.statistic``, ``.df`` and
        ``.pvalue``.

        Parameters
        ----------
        R : array-like, str or callable
            Restriction matrix, a string of linear restrictions by parameter name, a formula term, or a
            function of the parameters (tested at 0).
        q : array-like, optional
            Right-hand side (default 0).

        Returns
        -------
        TestResult
            ``statistic``, ``df``, ``p_value`` (chi2, or F where :attr:`df_inference` is set).

        Example
        -------
        >>> import numpy as np, hessstats as hs
        >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0]))
        >>> res.wald_test("mu = 0")
        <Wald test: statistic=8, df=1, p_value=0.00467773>
        """
        out = wald_test(self, R, q)
        df = self.df_inference
        if df is None:
            return out
        stat = out.statistic / out.df
        return TestResult("Wald F", stat, out.df, float(scipy.special.fdtrc(out.df, df, stat)), f"df_denom={df:g}")

    def wald_terms(self) -> pd.DataFrame:
        """Term-wise Wald tests of a formula model (Type III style; statsmodels ``wald_test_terms``):
        ``statistic, df, p_value`` by term (see :func:`hessstats.inference.hypothesis.wald_terms`).

        Example
        -------
        >>> import hessstats as hs
        >>> res = hs.logit("GRADE ~ GPA + TUCE + C(PSI)", hs.datasets.load("spector")).fit()
        >>> res.wald_terms()["df"].tolist()
        [1, 1, 1, 1]
        """
        return wald_terms(self)

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

        Parameters
        ----------
        names : str or list of str, optional
            Parameters to profile (default: all).
        alpha : float
            Intervals are at level ``1 - alpha``.
        **options
            ``max_steps``, ``progress`` (see :func:`~hessstats.inference.profile.profile_ci`).

        Returns
        -------
        pandas.DataFrame
            ``coef, profile_lower, profile_upper, wald_lower, wald_upper, status`` by parameter.

        Example
        -------
        >>> import numpy as np, hessstats as hs
        >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0]))
        >>> res.profile_ci()["status"].tolist()
        ['ok']
        """
        return profile_ci(self, names, alpha, **options)

    def margins(self, predict: Any = None, variables: Any = None, *, at: Any = "overall", kind: str | None = None,
                dummy: bool = True, count: bool = False, predictive: bool = False, contrast: str = "base",
                alpha: float = 0.05) -> pd.DataFrame:
        """Marginal effects (or predictive margins) with delta-method SEs (see
        :func:`hessstats.inference.margins.margins`).

        With no arguments, for the built-in formula models: every right-hand-side variable,
        discrete changes for factors and 0/1 columns, derivatives otherwise (statsmodels
        ``get_margeff(dummy=True)``, Stata ``margins, dydx(*)`` with ``i.`` factors); ``at="mean"``
        at the means; ``predictive=True`` the average predictions (Stata ``margins``).

        Parameters
        ----------
        predict : callable, optional
            ``predict(params, data)``: the prediction whose derivatives are the effects (not needed for
            the built-in logit, probit, poisson and negbin models).
        variables : mapping or list, optional
            ``{name: (data key, column)}`` (or names for built-ins): the regressors to differentiate.
        kind : {"average", "mean"}
            Average of the observation-level effects (default) or the effect at the means.
        alpha : float
            Level of the Wald intervals.

        Returns
        -------
        pandas.DataFrame
            ``coef, std_err, z, p_value, ci_lower, ci_upper``, one row per variable.

        Example
        -------
        >>> import numpy as np, jax.numpy as jnp, hessstats as hs
        >>> d = {"x": np.array([0.0, 1.0, 2.0, 3.0]), "y": np.array([0.1, 1.2, 1.9, 3.2])}
        >>> res = hs.fit(lambda p, d: -0.5 * (d["y"] - p["b"] * d["x"]) ** 2, {"b": 0.0}, d)
        >>> bool(np.isclose(res.margins(lambda p, d: p["b"] * d["x"], ["x"]).loc["x", "coef"], res.params["b"]))
        True
        """
        return margins(self, predict, variables, at=at, kind=kind, dummy=dummy, count=count, predictive=predictive,
                       contrast=contrast, alpha=alpha)

    # ------------------------------------------------------------------ predictions (issue 13)
    def predict(self, new_data: Any = None, which: Any = None, *, predict: Any = None) -> pd.Series | pd.DataFrame:
        """Predictions at the estimate (see :func:`hessstats.inference.prediction.predict`): the fitted
        rows, or ``new_data`` encoded as the fitted design; ``which`` a
        :class:`~hessstats.inference.prediction.Which` or its name (``"mean"``, ``"linear"``, ``"probs"``, ...);
        a custom likelihood passes ``predict=fn(params, data)``.

        Example
        -------
        >>> import pandas as pd, hessstats as hs
        >>> res = hs.logit("GRADE ~ GPA + TUCE + C(PSI)", hs.datasets.load("spector")).fit()
        >>> res.predict(pd.DataFrame({"GPA": [3.0], "TUCE": [20], "PSI": [1]}), which="linear").round(6).tolist()
        [-0.261168]
        """
        return _predict(self, new_data, which, predict=predict)

    def get_prediction(self, new_data: Any = None, which: Any = None, *, alpha: float = 0.05,
                       interval: str | None = None, predict: Any = None) -> PredictionResult:
        """Predictions with delta-method standard errors and intervals; ``.summary_frame()`` has the
        columns ``predicted, se, ci_lower, ci_upper`` (see :func:`hessstats.inference.prediction.get_prediction`).

        Example
        -------
        >>> import pandas as pd, hessstats as hs
        >>> res = hs.logit("GRADE ~ GPA + TUCE + C(PSI)", hs.datasets.load("spector")).fit()
        >>> new = pd.DataFrame({"GPA": [3.0], "TUCE": [20], "PSI": [1]})
        >>> res.get_prediction(new).summary_frame().round(4).to_numpy().tolist()
        [[0.4351, 0.1812, 0.1536, 0.7657]]
        """
        return _get_prediction(self, new_data, which, alpha=alpha, interval=interval, predict=predict)

    @property
    def bootstrap_replicates(self) -> BootstrapReplicates:
        """The replicates behind ``cov_type="bootstrap"`` (estimates, convergence, percentile intervals;
        see :mod:`hessstats.core.bootstrap`): regenerated from the seed or taken from a cache.

        Example
        -------
        >>> import numpy as np, hessstats as hs
        >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(10.0),
        ...              cov_type="bootstrap", cov_options={"reps": 30, "seed": 0})
        >>> res.bootstrap_replicates.frame.shape  # 30 replicates: mu and converged
        (30, 2)
        """
        if self.cov_type != "bootstrap":
            raise CovarianceError(message(
                "this result has no bootstrap replicates", expected="cov_type='bootstrap'",
                got=f"cov_type={self.cov_type!r}",
                fix="res.with_cov('bootstrap', cov_options={'reps': 999, 'seed': 0})"))
        with x64():
            return replicates_of(self.model, self.theta, self.inverse_information, self.cov_options, self.groups)

    def bootstrap_ci(self, alpha: float = 0.05) -> pd.DataFrame:
        """Bootstrap percentile intervals (``alpha/2`` and ``1 - alpha/2`` quantiles of the converged
        replicates) for a result with ``cov_type="bootstrap"``.

        Example
        -------
        >>> import numpy as np, hessstats as hs
        >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(10.0),
        ...              cov_type="bootstrap", cov_options={"reps": 30, "seed": 0})
        >>> list(res.bootstrap_ci().columns)
        ['ci_lower', 'ci_upper']
        """
        return self.bootstrap_replicates.conf_int(alpha)

    # ------------------------------------------------------------------ reporting
    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """The coefficient table: ``coef, std_err, z, p_value, ci_lower, ci_upper`` by parameter
        (the third column is ``t`` where :attr:`df_inference` is set: the built-in OLS, Pearson
        dispersion, survey designs)."""
        return coef_table(self.theta, self.bse.to_numpy(), list(self.names), alpha, self.df_inference)

    def _header(self) -> list[tuple[str, str]]:
        desc = self.model.description
        cov = self.cov_type + (f" (groups: {_group_counts(self.groups)})" if self.groups is not None else "")
        return [
            ("Model", str(desc.get("model", getattr(self.model.loglike, "__name__", "custom")))),
            *([("Formula", str(desc["formula"]))] if desc.get("formula") else []),
            ("Observations", str(self.nobs)),
            ("Log pseudolikelihood" if pseudo_likelihood(self) else "Log-likelihood",
             f"{self.llf:.6g}"),
            ("AIC / BIC", f"{self.aic:.6g} / {self.bic:.6g}"),
            ("Covariance", cov),
            *([("Weights", f"{self.weight_type.value} ({self.weight_type.stata})")] if self.weight_type is not None else []),
            *([("Design df", str(self.df_design))] if self.cov_type == "survey" else []),
            ("Converged", f"{self.converged} ({self.iterations} iterations)"),
        ]

    def __str__(self) -> str:
        rows = self._header()
        width = max(16, max(len(k) for k, _ in rows) + 2)
        head = "\n".join(f"{k + ':':<{width}}{v}" for k, v in rows)
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


def _group_counts(groups: np.ndarray) -> str:
    """Clusters per clustering: ``"7"``, or ``"500 x 10"`` for two-way codes ``(n, 2)``."""
    codes = np.asarray(groups).reshape(len(groups), -1)
    return " x ".join(str(len(np.unique(c))) for c in codes.T)


def _frozen(value: Any) -> np.ndarray:
    """A read-only copy of an array (what a frozen result holds); an array that is already
    read-only (a result's own, passed on by ``with_cov``) is kept as it is."""
    if isinstance(value, np.ndarray) and not value.flags.writeable:
        return value
    arr = np.array(value, copy=True)
    arr.flags.writeable = False
    return arr


@lru_cache(maxsize=512)
def _names_cache(names: tuple[str, ...]) -> pd.Index:
    return pd.Index(list(names))


def _names_index(names: tuple[str, ...]) -> pd.Index:
    """The parameter names as a pandas Index: a view of one cached Index per tuple of names (building
    an Index from a list of strings costs more than the rest of a small Series), so renaming it on
    one result does not reach another."""
    return _names_cache(tuple(names)).view()

