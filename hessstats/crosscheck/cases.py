"""The validation cases: each built-in model on a bundled dataset, and how statsmodels fits the same.

Used by :mod:`hessstats.crosscheck.validation` (``hessstats validate``) and by ``scripts/make_reference.py``,
which stores the statsmodels numbers in ``data/reference/*.json`` so validation runs without
statsmodels. Tiers: ``1e-8`` where statsmodels' Hessian is analytic (or the reference is closed
form); ``1e-5`` where the reference is differentiated numerically: ``OrderedModel`` (its own finite
differences, and BFGS estimates), ``ZeroInflatedPoisson`` (central differences of its analytic
score, because its analytic Hessian is wrong, see :func:`_zip`), the truncated and hurdle count
models (statsmodels' estimates and log-likelihood, a numdifftools Hessian of its ``loglike``, see
:func:`_numeric_count`), and the Tobit and Weibull models, which statsmodels lacks:
``GenericLikelihoodModel`` (BFGS) on an independent scipy.stats log-likelihood with a numdifftools
Hessian. ``1e-6`` for Longley (ill-conditioned, see
:data:`LONGLEY`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use
import scipy.special

from hessstats.crosscheck.compare import align, normalize

ANALYTIC, NUMERIC = 1e-8, 1e-5
LONGLEY = 1e-6
"""Longley is the NIST ill-conditioning benchmark: the equilibrated information has condition number
1.9e9, so any inverse of an explicit Hessian (ours) is accurate only to about cond * eps = 4e-7
(statsmodels OLS works from the QR/SVD of X instead). Measured: 4.4e-8 (nonrobust), 1.2e-7 (HC0)."""
RANDHIE = "mdvis ~ lncoins + idp + lpi + fmde + physlm + disea + hlthg + hlthf + hlthp"
ANES = "PID ~ logpopul + selfLR + age + educ + income"
FAIR = "affairs ~ rate_marriage + age + yrs_married + children + religious + educ"
PSID_SELECTION = "{(participation == 'yes') * 1.0} ~ age + I(age**2) + fincome + {youngkids + oldkids} + education"
FAIR_HAPPY = "{rate_marriage >= 4} ~ age + yrs_married + children + educ"
BIOCHEMISTS = "art ~ C(fem) + C(mar) + kid5 + phd + ment"
STAR98_COUNTS = "NABOVE ~ LOWINC + PERASIAN + PERBLACK + PERHISP + PCTCHRT"


@dataclass(frozen=True)
class Case:
    """One model on one dataset; ``covs`` maps a label to ``fit`` keywords (``groups`` a column name).

    Example
    -------
    >>> case = next(c for c in CASES if c.model == "logit")
    >>> case.dataset, case.formula, case.rtol
    ('spector', 'GRADE ~ GPA + TUCE + PSI', 1e-08)
    """

    model: str
    dataset: str
    formula: str
    reference: str
    rtol: float
    statsmodels: Callable[[pd.DataFrame, tuple[str, ...]], dict]
    options: dict[str, Any] = field(default_factory=dict)
    covs: dict[str, dict[str, Any]] = field(default_factory=lambda: {"nonrobust": {}})

    @property
    def key(self) -> str:
        """File stem of the stored reference, e.g. ``logit_spector``."""
        return f"{self.model}_{self.dataset}"


def _out(params: pd.Series, bse: dict[str, pd.Series], cov: np.ndarray, llf: float, nobs: int) -> dict:
    return {"params": params, "bse": bse, "cov": np.asarray(cov), "llf": float(llf), "nobs": int(nobs)}


def _from_results(res: Any, names: tuple[str, ...], robust: dict[str, Any] | None = None) -> dict:
    """Reference from statsmodels results (plus results refitted with other ``cov_type``s)."""
    table = align(res, names)
    bse = {"nonrobust": table["std_err"]}
    for label, other in (robust or {}).items():
        bse[label] = align(other, names)["std_err"]
    cov = np.asarray(res.cov_params())
    if isinstance(res.params, pd.DataFrame):  # MNLogit: cov is already equation-major
        cov = np.asarray(cov)
    else:
        order = [list(map(str, res.params.index)).index(n) for n in _sm_order(res, names)]
        cov = cov[np.ix_(order, order)]
    return _out(table["coef"], bse, cov, res.llf, res.nobs)


def _sm_order(res: Any, names: tuple[str, ...]) -> list[str]:
    lookup = {normalize(n): str(n) for n in res.params.index}
    return [lookup[normalize(n)] for n in names]


def _discrete(kind: str, **kw: Any) -> Callable:
    def fit(df: pd.DataFrame, names: tuple[str, ...], formula: str) -> dict:
        import statsmodels.formula.api as smf  # reference side: statsmodels/numdifftools are test extras, not dependencies

        model = getattr(smf, kind)(formula, df, **kw)
        res = model.fit(method="newton", maxiter=200, tol=1e-14, disp=0)
        hc0 = model.fit(method="newton", maxiter=200, tol=1e-14, disp=0, cov_type="HC0")
        return _from_results(res, names, {"HC0": hc0})
    return fit


def _ships(df: pd.DataFrame, names: tuple[str, ...], formula: str) -> dict:
    import statsmodels.formula.api as smf  # reference side: statsmodels/numdifftools are test extras, not dependencies

    df = df.dropna()
    model = smf.poisson(formula, df, exposure=df["service"])
    res = model.fit(method="newton", tol=1e-14, disp=0)
    clu = model.fit(method="newton", tol=1e-14, disp=0, cov_type="cluster", cov_kwds={"groups": df["ship"].to_numpy()})
    return _from_results(res, names, {"cluster_statsmodels": clu})


def _ols(df: pd.DataFrame, names: tuple[str, ...], formula: str) -> dict:
    """statsmodels OLS rescaled to ML exactly: se_ML = se_OLS * sqrt((n-k)/n), se(sigma) = sigma/sqrt(2n)."""
    import statsmodels.formula.api as smf  # reference side: statsmodels/numdifftools are test extras, not dependencies

    res = smf.ols(formula, df).fit()
    n, k = res.nobs, len(res.params)
    sigma = np.sqrt(res.ssr / n)
    factor = (n - k) / n
    params = pd.Series(np.r_[res.params.to_numpy(), sigma], index=names)
    cov = np.zeros((k + 1, k + 1))
    cov[:k, :k] = res.cov_params().to_numpy() * factor
    cov[k, k] = sigma ** 2 / (2 * n)
    hc0 = res.get_robustcov_results(cov_type="HC0").bse
    bse = {"nonrobust": pd.Series(np.sqrt(np.diag(cov)), index=names),
           "HC0": pd.Series(np.r_[hc0, np.nan], index=names)}  # sigma's HC0 has no OLS counterpart
    return _out(params, bse, cov, res.llf, n)


def _gamma(df: pd.DataFrame, names: tuple[str, ...], formula: str) -> dict:
    """GLM Gamma(log) coefficients; ML scale from its one-dimensional score equation (brentq);
    covariance closed form at the MLE: beta block ``scale * inv(X' diag(y/mu) X)`` (observed
    information), ``var(scale) = scale^4 / (n (trigamma(1/scale) - scale))``, zero cross term."""
    import statsmodels.api as sm  # reference side: statsmodels/numdifftools are test extras, not dependencies
    import statsmodels.formula.api as smf  # reference side: statsmodels/numdifftools are test extras, not dependencies

    glm = smf.glm(formula, df, family=sm.families.Gamma(sm.families.links.Log()))
    res = glm.fit(tol=1e-14, maxiter=200)
    y, X, mu = glm.endog, glm.exog, res.fittedvalues.to_numpy()
    r = y / mu
    c = np.mean(r - np.log(r) - 1.0)  # ML shape nu solves log(nu) - digamma(nu) = c
    nu = scipy.optimize.brentq(lambda v: np.log(v) - scipy.special.digamma(v) - c, 1e-8, 1e12, xtol=1e-300, rtol=1e-15)
    scale, n = 1.0 / nu, len(y)
    k = X.shape[1]
    cov = np.zeros((k + 1, k + 1))
    cov[:k, :k] = scale * np.linalg.inv((X * r[:, None]).T @ X)
    cov[k, k] = scale ** 4 / (n * (scipy.special.polygamma(1, nu) - scale))
    params = pd.Series(np.r_[res.params.to_numpy(), scale], index=names)
    from scipy import stats  # reference side only: kept off `import hessstats`

    llf = np.sum(stats.gamma.logpdf(y, a=nu, scale=mu / nu))
    return _out(params, {"nonrobust": pd.Series(np.sqrt(np.diag(cov)), index=names)}, cov, llf, n)


def _mnlogit(df: pd.DataFrame, names: tuple[str, ...], formula: str) -> dict:
    import statsmodels.formula.api as smf  # reference side: statsmodels/numdifftools are test extras, not dependencies

    res = smf.mnlogit(formula, df).fit(method="newton", tol=1e-14, maxiter=200, disp=0)
    return _from_results(res, names)


def _ordered(distr: str) -> Callable:
    def fit(df: pd.DataFrame, names: tuple[str, ...], formula: str) -> dict:
        from statsmodels.miscmodels.ordinal_model import (
            OrderedModel,  # reference side: statsmodels/numdifftools are test extras, not dependencies
        )

        terms = [t.strip() for t in formula.split("~")[1].split("+")]
        model = OrderedModel(df["PID"].astype(int), df[terms], distr=distr)
        res = model.fit(method="bfgs", maxiter=1000, gtol=1e-8, disp=0)
        return _from_results(res, names)
    return fit


def _zip(df: pd.DataFrame, names: tuple[str, ...], formula: str) -> dict:
    """statsmodels ZeroInflatedPoisson estimates; covariance from a *numerical* Hessian, the
    central-difference Jacobian of statsmodels' analytic score (``approx_fprime(..., centered=True)``):
    its analytic ``hessian`` (0.15.0) loses the inflation/count cross block
    (``GenericZeroInflated.hessian`` fills the upper triangle, then overwrites it with the zero
    lower triangle), so its own standard errors are off by up to 1e-2 here."""
    import statsmodels.api as sm  # reference side: statsmodels/numdifftools are test extras, not dependencies
    from formulaic import model_matrix  # reference side: statsmodels/numdifftools are test extras, not dependencies
    from statsmodels.tools.numdiff import (
        approx_fprime,  # reference side: statsmodels/numdifftools are test extras, not dependencies
    )

    mm = model_matrix(formula, df)
    y, X = mm.lhs.iloc[:, 0], pd.DataFrame(mm.rhs)
    model = sm.ZeroInflatedPoisson(y, X, exog_infl=np.ones((len(y), 1)), inflation="logit")
    res = model.fit(method="newton", maxiter=200, tol=1e-14, disp=0)
    hess = approx_fprime(res.params.to_numpy(), model.score, centered=True)
    order = [list(res.params.index).index(n) for n in _sm_order(res, names)]
    cov = np.linalg.inv(-(hess + hess.T) / 2)[np.ix_(order, order)]
    params = pd.Series(res.params.to_numpy()[order], index=names)
    return _out(params, {"nonrobust": pd.Series(np.sqrt(np.diag(cov)), index=names)}, cov, res.llf, res.nobs)


def _generic(loglike_obs: Callable, start: Callable) -> Callable:
    """statsmodels ``GenericLikelihoodModel`` on an independent scipy.stats log-likelihood."""

    def fit(df: pd.DataFrame, names: tuple[str, ...], formula: str) -> dict:
        from formulaic import model_matrix  # reference side: statsmodels/numdifftools are test extras, not dependencies
        from statsmodels.base.model import (
            GenericLikelihoodModel,  # reference side: statsmodels/numdifftools are test extras, not dependencies
        )

        mm = model_matrix(formula, df)
        y, X = mm.lhs.iloc[:, 0].to_numpy(), np.asarray(mm.rhs, dtype=float)

        class Model(GenericLikelihoodModel):
            def loglikeobs(self, params):
                return loglike_obs(params, y, X, df)

        model = Model(y, X)
        res = model.fit(start_params=start(y, X), method="bfgs", maxiter=1000, gtol=1e-8, disp=0)
        cov = np.linalg.inv(-_numerical_hessian(model.loglike, res.params))
        params = pd.Series(res.params, index=names)
        return _out(params, {"nonrobust": pd.Series(np.sqrt(np.diag(cov)), index=names)}, cov, res.llf, len(y))
    return fit


def _numerical_hessian(f: Callable, x: np.ndarray) -> np.ndarray:
    """numdifftools' adaptive (Richardson-extrapolated) Hessian when installed (~1e-8 here), else
    statsmodels' central differences ``approx_hess3`` (~1e-5 on the Tobit likelihood)."""
    try:
        import numdifftools as nd  # reference side: statsmodels/numdifftools are test extras, not dependencies
    except ImportError:
        from statsmodels.tools.numdiff import (
            approx_hess3,  # reference side: statsmodels/numdifftools are test extras, not dependencies
        )

        return approx_hess3(x, f)
    return nd.Hessian(f)(x)


def _tobit_ll(p, y, X, df):
    from scipy import stats  # reference side only: kept off `import hessstats`

    xb, sigma = X @ p[:-1], p[-1]
    return np.where(y <= 0, stats.norm.logcdf(-xb / sigma), stats.norm.logpdf(y, xb, sigma))


def _weibull_ll(p, t, X, df):
    from scipy import stats  # reference side only: kept off `import hessstats`

    lam, shape = np.exp(X @ p[:-1]), p[-1]
    event = df["censors"].to_numpy()
    return np.where(event == 1, stats.weibull_min.logpdf(t, shape, scale=lam),
                    stats.weibull_min.logsf(t, shape, scale=lam))


def _ols_start(y, X):
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    return np.r_[beta, np.std(y - X @ beta)]


def _log_start(y, X):
    return np.r_[np.linalg.lstsq(X, np.log(y), rcond=None)[0], 1.0]


def _count_class(path: str, cls_name: str, **kw: Any) -> Callable:
    """A statsmodels count model class (``from_formula``) fitted by Newton, nonrobust and HC0."""
    def fit(df: pd.DataFrame, names: tuple[str, ...], formula: str) -> dict:
        import importlib  # reference side: statsmodels/numdifftools are test extras, not dependencies
        cls = getattr(importlib.import_module(path), cls_name)
        model = cls.from_formula(formula, df, **kw)
        res = model.fit(method="newton", maxiter=200, tol=1e-14, disp=0)
        hc0 = model.fit(method="newton", maxiter=200, tol=1e-14, disp=0, cov_type="HC0")
        return _from_results(res, names, {"HC0": hc0})
    return fit


def _design(formula: str, df: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    from formulaic import model_matrix  # reference side: statsmodels/numdifftools are test extras, not dependencies
    mm = model_matrix(formula, df)
    return mm.lhs.iloc[:, 0].to_numpy(dtype=float), pd.DataFrame(mm.rhs)


def _numeric_count(path: str, cls_name: str, **kw: Any) -> Callable:
    """statsmodels truncated/hurdle count models (no analytic Hessian): its Newton estimates and
    log-likelihood, covariance from the numdifftools Hessian of its ``loglike`` (its own
    ``approx_hess`` is off by up to 1.3e-5 of se_i * se_j on hurdle_negbin_randhie). On the formulaic
    design; the parameter order is ours (zero part, count part, alpha), names by position (the hurdle
    model renames the regressors ``x1, ...``)."""
    def fit(df: pd.DataFrame, names: tuple[str, ...], formula: str) -> dict:
        import importlib  # reference side: statsmodels/numdifftools are test extras, not dependencies
        cls = getattr(importlib.import_module(path), cls_name)
        y, X = _design(formula, df)
        model = cls(y, X, **kw)
        res = model.fit(method="newton", maxiter=200, tol=1e-14, disp=0)
        theta = np.asarray(res.params)
        cov = np.linalg.inv(-_numerical_hessian(model.loglike, theta))
        params = pd.Series(theta, index=names)
        bse = pd.Series(np.sqrt(np.diag(cov)), index=names)
        return _out(params, {"nonrobust": bse}, cov, res.llf, res.nobs)
    return fit


def _betareg(df: pd.DataFrame, names: tuple[str, ...], formula: str) -> dict:
    """statsmodels BetaModel (logit mean, constant log precision) on the formulaic design."""
    from statsmodels.othermod.betareg import (
        BetaModel,  # reference side: statsmodels/numdifftools are test extras, not dependencies
    )
    y, X = _design(formula, df)
    res = BetaModel(y, X).fit(method="newton", maxiter=200, tol=1e-14, disp=0)
    return _from_results(res, names)


def _binomial(df: pd.DataFrame, names: tuple[str, ...], formula: str) -> dict:
    """statsmodels GLM Binomial (logit) with the two-column endog [successes, NBELOW], by Newton."""
    import statsmodels.api as sm  # reference side: statsmodels/numdifftools are test extras, not dependencies
    y, X = _design(formula, df)
    glm = sm.GLM(np.column_stack([y, df["NBELOW"].to_numpy(dtype=float)]), X, family=sm.families.Binomial())
    res = glm.fit(method="newton", maxiter=200, tol=1e-14)
    return _from_results(res, names)


def _frozen_r(stem: str) -> Callable:
    """A reference computed in R and frozen in ``data/reference/<stem>.json`` by the R script next to it
    (R packages are not a test dependency): ``names``, ``params``, ``bse`` and ``cov`` (the model's
    default covariance), the log-likelihood (``penalised_loglik``, else ``loglik``) and ``nobs``."""
    def fit(df: pd.DataFrame, names: tuple[str, ...], formula: str) -> dict:
        import json  # reference side only

        from hessstats import datasets  # reference side only: the bundled data directory

        ref = json.loads((datasets.data_dir() / "reference" / f"{stem}.json").read_text())
        labels = [normalize(n.replace("(Intercept)", "Intercept")) for n in ref["names"]]
        params = pd.Series(ref["params"], index=labels)[list(names)]
        bse = pd.Series(ref["bse"], index=labels)[list(names)]
        order = [labels.index(n) for n in names]
        cov = np.asarray(ref["cov"], dtype=float)[np.ix_(order, order)]
        llf = ref.get("penalised_loglik", ref.get("loglik", np.nan))
        return _out(params, {"nonrobust": bse}, cov, llf, ref.get("nobs", len(df)))
    return fit


def _glm(family: str, link: str | None = None, **kw: Any) -> Callable:
    """statsmodels GLM on the formulaic design: observed-information SEs from its Newton fit
    (``cov_type="nonrobust"``), expected-information SEs from its default IRLS fit; the dispersion is
    its default (Pearson chi2 / df_resid; 1 for binomial/Poisson). Binomial: endog [successes, NBELOW]."""
    def fit(df: pd.DataFrame, names: tuple[str, ...], formula: str) -> dict:
        import statsmodels.api as sm  # reference side: statsmodels/numdifftools are test extras, not dependencies
        links = {"log": sm.families.links.Log(), "probit": sm.families.links.Probit()}
        fam = getattr(sm.families, family)(**({} if link is None else {"link": links[link]}), **kw)
        y, X = _design(formula, df)
        endog = np.column_stack([y, df["NBELOW"].to_numpy(dtype=float)]) if family == "Binomial" else y
        model = sm.GLM(endog, X, family=fam)
        irls = model.fit(tol=1e-14, maxiter=500)
        newton = model.fit(method="newton", tol=1e-14, maxiter=500, start_params=irls.params.to_numpy())
        return _from_results(newton, names, {"expected": irls})
    return fit


def _zero_inflated(cls_name: str, inflation: str, link: str, **kw: Any) -> Callable:
    """statsmodels zero-inflated count model (``inflation=link``) on the formulaic designs. Its estimate
    maximises *its* ``loglike`` by BFGS on numdifftools gradients, polished by Newton steps on the
    numdifftools Hessian; covariance from the numdifftools Hessian in standard-error units. Not its own Newton fit: its analytic score is
    inaccurate for the probit inflation (3e-4 at the optimum, and 6-12% off SEs from its
    central-difference Jacobian), and its analytic ZIP Hessian drops the cross block (see
    :func:`_zip`). Parameter order ours (count, inflation, alpha); names by position."""
    def fit(df: pd.DataFrame, names: tuple[str, ...], formula: str) -> dict:
        import importlib  # reference side: statsmodels/numdifftools are test extras, not dependencies

        import numdifftools as nd  # reference side: statsmodels/numdifftools are test extras, not dependencies
        from formulaic import model_matrix  # reference side: statsmodels/numdifftools are test extras, not dependencies

        cls = getattr(importlib.import_module("statsmodels.discrete.count_model"), cls_name)
        y, X = _design(formula, df)
        Z = np.asarray(model_matrix(inflation, df), dtype=float)
        model = cls(y, X, exog_infl=Z, inflation=link, **kw)
        kx, kz = X.shape[1], Z.shape[1]
        start = model.fit(method="nm", maxiter=20000, disp=0).params
        theta = scipy.optimize.minimize(lambda t: -model.loglike(t), np.asarray(start),
                                        jac=lambda t: -nd.Gradient(model.loglike)(t), method="BFGS",
                                        options={"gtol": 1e-8, "maxiter": 2000}).x
        for _ in range(3):
            theta = theta - np.linalg.solve(nd.Hessian(model.loglike)(theta), nd.Gradient(model.loglike)(theta))
        order = np.r_[np.arange(kz, kz + kx), np.arange(kz), np.arange(kz + kx, len(theta))]
        size = np.sqrt(np.diag(np.linalg.inv(-nd.Hessian(model.loglike)(theta))))  # then steps in SE units:
        hess = nd.Hessian(lambda z: model.loglike(theta + z * size))(np.zeros(len(theta))) / np.outer(size, size)
        cov = np.linalg.inv(-hess)[np.ix_(order, order)]  # 6e-10 vs 9e-6 in raw units (phd's scale)
        params = pd.Series(theta[order], index=names)
        return _out(params, {"nonrobust": pd.Series(np.sqrt(np.diag(cov)), index=names)}, cov,
                    model.loglike(theta), len(y))
    return fit


def _owen_bvn(h: np.ndarray, k: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Bivariate normal CDF by Owen's (1956) T-function formula (scipy ``owens_t``; h, k non-zero):
    independent of the Genz quadrature in :mod:`hessstats.models.biprobit`."""
    s = np.sqrt((1 - r) * (1 + r))
    beta = np.where(h * k > 0, 0.0, 0.5)
    return (0.5 * (scipy.stats.norm.cdf(h) + scipy.stats.norm.cdf(k)) - scipy.special.owens_t(h, (k - r * h) / (h * s))
            - scipy.special.owens_t(k, (h - r * k) / (k * s)) - beta)


def _biprobit(second: str) -> Callable:
    """Bivariate probit by statsmodels ``GenericLikelihoodModel`` on an independent log-likelihood
    (:func:`_owen_bvn`, athrho parametrisation), BFGS then Newton steps on numdifftools derivatives;
    covariance from the numdifftools Hessian in standard-error units (statsmodels has no biprobit)."""
    def fit(df: pd.DataFrame, names: tuple[str, ...], formula: str) -> dict:
        import numdifftools as nd  # reference side: statsmodels/numdifftools are test extras, not dependencies
        from statsmodels.base.model import (
            GenericLikelihoodModel,  # reference side: statsmodels/numdifftools are test extras, not dependencies
        )
        y1, X1 = _design(formula, df)
        y2, X2 = _design(second, df)
        X1, X2 = np.asarray(X1, dtype=float), np.asarray(X2, dtype=float)
        k1 = X1.shape[1]
        q1, q2 = 2 * y1 - 1, 2 * y2 - 1

        class Biprobit(GenericLikelihoodModel):
            def loglikeobs(self, params):
                rho = np.tanh(params[-1])
                return np.log(_owen_bvn(q1 * (X1 @ params[:k1]), q2 * (X2 @ params[k1:-1]), q1 * q2 * rho))

        import statsmodels.api as sm  # reference side: statsmodels/numdifftools are test extras, not dependencies
        model = Biprobit(y1, np.column_stack([X1, X2]))
        start = np.r_[sm.Probit(y1, X1).fit(disp=0).params, sm.Probit(y2, X2).fit(disp=0).params, 0.0]
        res = model.fit(start_params=start, method="bfgs", maxiter=5000, gtol=1e-8, disp=0)
        theta = np.asarray(res.params)
        for _ in range(3):
            theta = theta - np.linalg.solve(nd.Hessian(model.loglike)(theta), nd.Gradient(model.loglike)(theta))
        size = np.sqrt(np.diag(np.linalg.inv(-nd.Hessian(model.loglike)(theta))))
        hess = nd.Hessian(lambda z: model.loglike(theta + z * size))(np.zeros(len(theta))) / np.outer(size, size)
        cov = np.linalg.inv(-hess)
        return _out(pd.Series(theta, index=names), {"nonrobust": pd.Series(np.sqrt(np.diag(cov)), index=names)}, cov,
                    model.loglike(theta), len(y1))
    return fit


def _heckman(selection: str) -> Callable:
    """Heckman selection ML by statsmodels ``GenericLikelihoodModel`` on an independent scipy.stats
    log-likelihood (``norm.logcdf``/``logpdf``; athrho/lnsigma as Stata), BFGS from the two-step
    estimates, then Newton steps on numdifftools derivatives; covariance from the numdifftools Hessian
    in standard-error units (statsmodels has no Heckman ML)."""
    def fit(df: pd.DataFrame, names: tuple[str, ...], formula: str) -> dict:
        import numdifftools as nd  # reference side: statsmodels/numdifftools are test extras, not dependencies
        import statsmodels.api as sm  # reference side: statsmodels/numdifftools are test extras, not dependencies
        from statsmodels.base.model import (
            GenericLikelihoodModel,  # reference side: statsmodels/numdifftools are test extras, not dependencies
        )
        y, X = _design(formula, df)
        s, Z = _design(selection, df)
        X, Z = np.asarray(X, dtype=float), np.asarray(Z, dtype=float)
        kx, kz = X.shape[1], Z.shape[1]

        def loglike_obs(p):
            zg, r = Z @ p[kx:kx + kz], (y - X @ p[:kx]) / np.exp(p[-1])
            rho = np.tanh(p[-2])
            return np.where(s > 0, scipy.stats.norm.logcdf((zg + rho * r) / np.sqrt(1 - rho ** 2))
                            + scipy.stats.norm.logpdf(r) - p[-1], scipy.stats.norm.logcdf(-zg))

        class Heckman(GenericLikelihoodModel):
            def loglikeobs(self, params):
                return loglike_obs(params)

        probit = sm.Probit(s, Z).fit(disp=0)
        zg = Z @ probit.params
        sel = s > 0
        imr = scipy.stats.norm.pdf(zg[sel]) / scipy.stats.norm.cdf(zg[sel])
        ols = sm.OLS(y[sel], np.column_stack([X[sel], imr])).fit()
        sigma = np.sqrt(np.mean(ols.resid ** 2) + ols.params[-1] ** 2 * np.mean(imr * (imr + zg[sel])))
        start = np.r_[ols.params[:-1], probit.params, np.arctanh(np.clip(ols.params[-1] / sigma, -0.9, 0.9)),
                      np.log(sigma)]
        model = Heckman(y, np.column_stack([X, Z]))
        theta = np.asarray(model.fit(start_params=start, method="bfgs", maxiter=5000, gtol=1e-8, disp=0).params)
        size = np.sqrt(np.diag(np.linalg.inv(-nd.Hessian(model.loglike)(theta))))
        for _ in range(4):  # Newton in standard-error units (the regressors' scales differ by 1e4)
            f = lambda z, t=theta: model.loglike(t + z * size)  # noqa: E731
            zero = np.zeros(len(theta))
            theta = theta - size * np.linalg.solve(nd.Hessian(f)(zero), nd.Gradient(f)(zero))
        hess = nd.Hessian(lambda z: model.loglike(theta + z * size))(np.zeros(len(theta))) / np.outer(size, size)
        cov = np.linalg.inv(-hess)
        return _out(pd.Series(theta, index=names), {"nonrobust": pd.Series(np.sqrt(np.diag(cov)), index=names)}, cov,
                    model.loglike(theta), len(y))
    return fit


SM = "statsmodels {} (analytic Hessian)"
NDT = "; numdifftools Hessian of its loglike"
GLM = ("statsmodels GLM {} (analytic; nonrobust = observed information of its Newton fit, expected = its IRLS fit; "
       "Pearson scale)")
GLM_COVS = {"nonrobust": {}, "expected": {"cov_type": "expected"}}
TRUNCATED = "statsmodels.discrete.truncated_model"
OLS = "statsmodels OLS, rescaled exactly to ML (se * sqrt((n-k)/n); se(sigma) = sigma/sqrt(2n))"
CASES: tuple[Case, ...] = (
    Case("ols", "longley", "TOTEMP ~ GNPDEFL + GNP + UNEMP + ARMED + POP + YEAR", OLS + "; ill-conditioned, "
         "see LONGLEY", LONGLEY, _ols, options={"variance": "ml"}, covs={"nonrobust": {}, "HC0": {"cov_type": "HC0"}}),
    Case("ols", "fair", "rate_marriage ~ age + yrs_married + children + religious + educ", OLS, ANALYTIC, _ols,
         options={"variance": "ml"}, covs={"nonrobust": {}, "HC0": {"cov_type": "HC0"}}),
    Case("logit", "spector", "GRADE ~ GPA + TUCE + PSI", SM.format("Logit"), ANALYTIC, _discrete("logit"),
         covs={"nonrobust": {}, "HC0": {"cov_type": "HC0"}}),
    Case("probit", "spector", "GRADE ~ GPA + TUCE + PSI", SM.format("Probit"), ANALYTIC, _discrete("probit"),
         covs={"nonrobust": {}, "HC0": {"cov_type": "HC0"}}),
    Case("poisson", "randhie", RANDHIE, SM.format("Poisson"), ANALYTIC, _discrete("poisson"),
         covs={"nonrobust": {}, "HC0": {"cov_type": "HC0"}}),
    Case("poisson", "ships", "accident ~ yr_con + op_75_79", SM.format("Poisson, exposure=service"), ANALYTIC,
         _ships, options={"exposure": "service", "missing": "drop"},
         covs={"nonrobust": {}, "cluster_statsmodels": {"cov_type": "cluster", "groups": "ship",
                                                        "cov_options": {"correction": "regress"}}}),
    Case("negbin", "randhie", RANDHIE, SM.format('NegativeBinomial(loglike_method="nb2")'), ANALYTIC,
         _discrete("negativebinomial", loglike_method="nb2"), covs={"nonrobust": {}, "HC0": {"cov_type": "HC0"}}),
    Case("gamma", "scotland", "YES ~ COUTAX + UNEMPF + MOR + ACT + GDP + AGE + COUTAX_FEMALEUNEMP",
         "statsmodels GLM Gamma(log) coefficients; ML scale and covariance in closed form", ANALYTIC, _gamma),
    Case("mnlogit", "anes96", ANES, SM.format("MNLogit"), ANALYTIC, _mnlogit),
    Case("ordered_logit", "anes96", ANES, "statsmodels OrderedModel(distr='logit') (numerical Hessian)", NUMERIC,
         _ordered("logit")),
    Case("ordered_probit", "anes96", ANES, "statsmodels OrderedModel(distr='probit') (numerical Hessian)", NUMERIC,
         _ordered("probit")),
    Case("zip", "randhie", RANDHIE, "statsmodels ZeroInflatedPoisson(inflation='logit'); covariance from central "
         "differences of its score (its analytic Hessian drops the cross block)", NUMERIC, _zip),
    Case("tobit", "fair", FAIR, "statsmodels GenericLikelihoodModel (BFGS) on scipy.stats norm logcdf/logpdf; "
         "numdifftools Hessian", NUMERIC, _generic(_tobit_ll, _ols_start), options={"left": 0}),
    Case("weibull", "heart", "survival ~ age", "statsmodels GenericLikelihoodModel (BFGS) on scipy.stats weibull_min "
         "logpdf/logsf; numdifftools Hessian", NUMERIC, _generic(_weibull_ll, _log_start), options={"event": "censors"}),
    Case("nb1", "randhie", RANDHIE, SM.format('NegativeBinomial(loglike_method="nb1")'), ANALYTIC,
         _discrete("negativebinomial", loglike_method="nb1"), covs={"nonrobust": {}, "HC0": {"cov_type": "HC0"}}),
    Case("genpoisson", "randhie", RANDHIE, SM.format("GeneralizedPoisson(p=1)"), ANALYTIC,
         _count_class("statsmodels.discrete.discrete_model", "GeneralizedPoisson", p=1),
         covs={"nonrobust": {}, "HC0": {"cov_type": "HC0"}}),
    Case("truncated_poisson", "star98", STAR98_COUNTS, "statsmodels TruncatedLFPoisson" + NDT, NUMERIC,
         _numeric_count(TRUNCATED, "TruncatedLFPoisson")),
    Case("truncated_negbin", "star98", STAR98_COUNTS, "statsmodels TruncatedLFNegativeBinomialP(p=2)" + NDT, NUMERIC,
         _numeric_count(TRUNCATED, "TruncatedLFNegativeBinomialP", p=2)),
    Case("hurdle_poisson", "randhie", RANDHIE, "statsmodels HurdleCountModel (zerodist='poisson' = link cloglog)" + NDT,
         NUMERIC, _numeric_count(TRUNCATED, "HurdleCountModel"), options={"link": "cloglog"}),
    Case("hurdle_negbin", "randhie", RANDHIE, "statsmodels HurdleCountModel(dist='negbin') (zerodist='poisson' = link "
         "cloglog)" + NDT, NUMERIC, _numeric_count(TRUNCATED, "HurdleCountModel", dist="negbin"),
         options={"link": "cloglog"}),
    Case("betareg", "star98", "{NABOVE / (NABOVE + NBELOW)} ~ LOWINC + PERASIAN + PERBLACK + PERHISP + PCTCHRT",
         SM.format("BetaModel"), ANALYTIC, _betareg),
    Case("binomial", "star98", STAR98_COUNTS, SM.format("GLM Binomial, endog [NABOVE, NBELOW], Newton"), ANALYTIC,
         _binomial, options={"failures": "NBELOW"}),
    Case("firth_logit", "endometrial", "HG ~ NV + PI + EH", "R brglm2 brglmFit(type='AS_mean') = logistf (frozen "
         "in data/reference/firth_endometrial.json by firth_endometrial.R; SEs from the inverse Fisher information)",
         1e-8, _frozen_r("firth_endometrial")),
    Case("glm", "scotland", "YES ~ COUTAX + UNEMPF + MOR + ACT + GDP + AGE + COUTAX_FEMALEUNEMP", GLM.format("Gamma(log)"),
         ANALYTIC, _glm("Gamma", "log"), options={"family": "gamma", "link": "log"}, covs=GLM_COVS),
    Case("glm", "star98", STAR98_COUNTS, GLM.format("Binomial(probit), endog [NABOVE, NBELOW]"), ANALYTIC,
         _glm("Binomial", "probit"), options={"family": "binomial", "link": "probit", "failures": "NBELOW"},
         covs=GLM_COVS),
    Case("glm", "heart", "survival ~ age", GLM.format("InverseGaussian(log)"), ANALYTIC, _glm("InverseGaussian", "log"),
         options={"family": "inverse_gaussian", "link": "log"}, covs=GLM_COVS),
    Case("glm", "fair", "rate_marriage ~ age + yrs_married + children + religious + educ", GLM.format("Gaussian(log)"),
         ANALYTIC, _glm("Gaussian", "log"), options={"family": "gaussian", "link": "log"}, covs=GLM_COVS),
    Case("glm", "randhie", RANDHIE, GLM.format("Tweedie(var_power=1.5, log)"), ANALYTIC,
         _glm("Tweedie", var_power=1.5), options={"family": "tweedie", "power": 1.5}, covs=GLM_COVS),
    Case("zip", "biochemists", BIOCHEMISTS, "statsmodels ZeroInflatedPoisson(inflation='probit') loglike maximised and "
         "differentiated by numdifftools", NUMERIC, _zero_inflated("ZeroInflatedPoisson", "~ kid5 + ment", "probit"),
         options={"inflation": "~ kid5 + ment", "inflation_link": "probit"}),
    Case("zinb", "biochemists", BIOCHEMISTS, "statsmodels ZeroInflatedNegativeBinomialP(p=2, inflation='logit') "
         "loglike maximised and differentiated by numdifftools", NUMERIC,
         _zero_inflated("ZeroInflatedNegativeBinomialP", "~ kid5 + ment", "logit", p=2),
         options={"inflation": "~ kid5 + ment"}),
    Case("biprobit", "fair", "{affairs > 0} ~ age + yrs_married + religious + educ", "statsmodels "
         "GenericLikelihoodModel on Owen's T-function bivariate normal CDF (scipy owens_t); numdifftools Newton "
         "polish and Hessian", NUMERIC, _biprobit(FAIR_HAPPY),
         options={"second": FAIR_HAPPY, "equations": ["affair", "happy"]}),
    Case("heckman", "psid1976", "wage ~ education + experience + {experience**2} + city", "statsmodels "
         "GenericLikelihoodModel on scipy.stats norm logcdf/logpdf (Stata heckman's likelihood); numdifftools Newton "
         "polish and Hessian", NUMERIC, _heckman(PSID_SELECTION), options={"selection": PSID_SELECTION}),
)
"""Every built-in model on a bundled dataset, with its statsmodels reference."""
