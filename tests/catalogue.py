"""The problem catalogue: named maximum-likelihood problems with their references, shared by the tests.

Each :class:`Problem` carries a per-observation log-likelihood written in jax.numpy, start values,
data (a bundled dataset from ``data/`` via ``hs.datasets.load``, or a simulation with a fixed seed),
parameter names, a fixed cluster grouping, and a :class:`Reference` computed *now* from an
independent source: statsmodels fitted live (analytic derivatives), or closed-form mathematics.
``tests/test_catalogue.py`` runs every problem against every covariance type of the registry that
applies and against every row source (in memory, row blocks, Parquet, sharded); other tests import
the log-likelihoods below (``tests/likelihoods.py`` re-exports the original four).

Tolerance tiers (DESIGN.md): ``1e-8`` against statsmodels' analytic models and closed forms,
``1e-5`` where statsmodels differentiates numerically (``GenericLikelihoodModel.bsejac``: scores by
finite differences), ``1e-10`` between our own row sources (the same exact sums in another order).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import jax.scipy.special as jsp
import jax.scipy.stats as jst
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.special
import scipy.stats

import hessstats as hs

ANALYTIC, NUMERIC, SOURCES_RTOL = 1e-8, 1e-5, 1e-10

# ----------------------------------------------------------------------------- log-likelihoods


def logit_ll(p, d):
    """Logit, ``y eta - log(1 + exp(eta))`` (statsmodels ``Logit.loglikeobs``)."""
    eta = d["X"] @ p["beta"]
    return d["y"] * eta - jnp.logaddexp(0.0, eta)


def probit_ll(p, d):
    """Probit, ``log Phi((2y - 1) eta)`` (statsmodels ``Probit.loglikeobs``)."""
    eta = d["X"] @ p["beta"]
    return jst.norm.logcdf((2 * d["y"] - 1) * eta)


def poisson_ll(p, d):
    """Poisson without the -log(y!) constant (it does not change estimates, SEs or tests)."""
    eta = d["X"] @ p["beta"]
    return d["y"] * eta - jnp.exp(eta)


def poisson_full_ll(p, d):
    """Poisson with the -log(y!) constant, so the log-likelihood equals statsmodels' ``llf``."""
    return poisson_ll(p, d) - jsp.gammaln(d["y"] + 1.0)


def normal_ll(p, y):
    """iid normal on the log-sigma scale, up to the constant -log(2 pi)/2."""
    return -0.5 * ((y - p["mu"]) / jnp.exp(p["log_sigma"])) ** 2 - p["log_sigma"]


def normal_sigma_ll(p, d):
    """iid normal on the sigma scale, with every constant: ``log phi((y - mu) / sigma) - log sigma``."""
    return jst.norm.logpdf(d["y"], p["mu"], p["sigma"])


def linear_regression_ll(p, d):
    """Normal linear regression ``y = X beta + e``, ``e ~ N(0, sigma^2)``, with every constant."""
    return jst.norm.logpdf(d["y"], d["X"] @ p["beta"], p["sigma"])


# ----------------------------------------------------------------------------- problems and references

COV_TYPES = ("nonrobust", "opg", "HC0", "HC1", "robust", "cluster", "hac", "expected", "survey")
"""Every covariance type the catalogue has references for (``tests/test_catalogue.py`` checks that
this and :data:`COV_TYPES_ELSEWHERE` are the whole registry, so a new estimator comes with its references)."""

COV_TYPES_ELSEWHERE = {
    "HC2": "tests/core/test_covariance.py: single-index models only (built-ins vs statsmodels OLS and R vcovHC)",
    "HC3": "tests/core/test_covariance.py: single-index models only (built-ins vs statsmodels OLS and R vcovHC)",
    "bootstrap": "tests/core/test_bootstrap.py: Monte Carlo (closed forms, statsmodels, exact per-replicate refits)",
}
"""Registered types the catalogue's user log-likelihoods cannot have (they declare no single index
for the hat-matrix leverage), with where their references live."""

HAC_LAGS = 2
"""``cov_options={"maxlags": HAC_LAGS}`` of the catalogue's ``"hac"`` (rows in data order)."""


def newey_west_meat(S: np.ndarray, lags: int) -> np.ndarray:
    """Bartlett-kernel meat ``G_0 + sum_l (1 - l/(L+1)) (G_l + G_l')`` (Newey and West 1987, eq. 2)."""
    meat = S.T @ S
    for lag in range(1, lags + 1):
        g = S[lag:].T @ S[:-lag]
        meat = meat + (1.0 - lag / (lags + 1.0)) * (g + g.T)
    return meat


@dataclass(frozen=True)
class ReferenceSE:
    """Reference standard errors of one covariance type (NaN: no reference for that parameter)."""

    bse: np.ndarray
    rtol: float
    source: str


@dataclass(frozen=True)
class Reference:
    """Estimates, log-likelihood and standard errors by covariance type, from an independent source."""

    params: np.ndarray
    llf: float
    bse: Mapping[str, ReferenceSE]
    source: str
    params_rtol: float = ANALYTIC


@dataclass(frozen=True, eq=False)
class Problem:
    """One named maximum-likelihood problem (see the module docstring)."""

    name: str
    loglike: Callable
    start: Mapping[str, Any]
    data: Mapping[str, np.ndarray]
    names: Mapping[str, list[str]]
    groups: np.ndarray
    make_reference: Callable[[Problem], Reference] = field(repr=False)
    cluster_correction: str = "regress"
    expected_information: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)

    @property
    def nobs(self) -> int:
        return len(self.data["y"])

    @property
    def chunk_size(self) -> int:
        """A row-block size that does not divide ``nobs`` (the last block is padded)."""
        c = self.nobs // 3 + 1
        return c if self.nobs % c else c + 1

    @cached_property
    def reference(self) -> Reference:
        """The reference, computed once (statsmodels fits run live), with the survey covariance derived
        from the cluster reference (:func:`_survey_reference`)."""
        ref = self.make_reference(self)
        return dataclasses.replace(ref, bse={**ref.bse, "survey": _survey_reference(self, ref)})

    def applies(self, cov_type: str) -> bool:
        """Whether ``cov_type`` can be computed for this problem (``expected`` needs the Fisher information)."""
        return cov_type != "expected" or self.expected_information is not None

    def cov_types(self) -> list[str]:
        return [c for c in COV_TYPES if self.applies(c)]

    def cov_kwargs(self, cov_type: str) -> dict[str, Any]:
        """``with_cov``/``fit`` keywords for ``cov_type`` (the fixed grouping and correction for clusters)."""
        if cov_type == "cluster":
            return {"groups": self.groups, "cov_options": {"correction": self.cluster_correction}}
        if cov_type == "hac":
            return {"cov_options": {"maxlags": HAC_LAGS}}
        if cov_type == "survey":  # one stratum, the clusters as PSUs
            return {"design": {"psu": self.groups}}
        return {}

    def model(self, data: Any = None, **options: Any) -> hs.Model:
        """The problem as a :class:`hessstats.Model` (``data`` defaults to the in-memory arrays)."""
        return hs.Model(self.loglike, self.start, self.data if data is None else data, names=self.names,
                        expected_information=self.expected_information, description={"model": self.name}, **options)

    def parquet_columns(self) -> dict[str, str | list[str]]:
        """Data key -> Parquet column(s): ``y`` -> ``"y"``, a matrix ``X`` -> ``["X0", "X1", ...]``."""
        return {key: key if np.ndim(a) == 1 else [f"{key}{j}" for j in range(np.shape(a)[1])]
                for key, a in self.data.items()}

    def write_parquet(self, path: Path) -> hs.ParquetSource:
        """Write the data to ``path`` (row groups that do not divide ``nobs`` nor match the blocks)."""
        columns = {}
        for key, cols in self.parquet_columns().items():
            a = np.asarray(self.data[key])
            if isinstance(cols, str):
                columns[cols] = a
            else:
                columns.update({c: a[:, j] for j, c in enumerate(cols)})
        pq.write_table(pa.table(columns), path, row_group_size=max(2, self.nobs // 4 - 1))
        return hs.ParquetSource(path, self.parquet_columns())


def _survey_reference(problem: Problem, ref: Reference) -> ReferenceSE:
    """Survey design with one stratum and the clusters as PSUs (R svyrecvar / Stata svy): at the MLE the
    PSU totals sum to the gradient, 0, so the stratum mean drops out and ``V`` is the cluster sandwich
    with ``G/(G-1)``: the problem's cluster reference rescaled from its own correction (closed form)."""
    g = len(np.unique(problem.groups))
    n, k = problem.nobs, len(ref.params)
    own = {"stata": g / (g - 1.0), "regress": g / (g - 1.0) * (n - 1.0) / (n - k), "none": 1.0}[problem.cluster_correction]
    cluster = ref.bse["cluster"]
    return ReferenceSE(cluster.bse * np.sqrt(g / (g - 1.0) / own), cluster.rtol,
                       f"{cluster.source}, rescaled to the survey factor G/(G-1) (one stratum, PSUs = clusters)")


def _sm_discrete(kind: str, problem: Problem) -> Reference:
    """statsmodels ``Logit``/``Probit``/``Poisson`` (analytic score and Hessian), fitted live."""
    import statsmodels.api as sm

    X, y = problem.data["X"], problem.data["y"]
    model = getattr(sm, kind)(y, X)
    fit = dict(method="newton", tol=1e-14, maxiter=200, disp=0)
    res = model.fit(**fit)
    hc0 = model.fit(cov_type="HC0", **fit).bse
    clu = model.fit(cov_type="cluster", cov_kwds={"groups": problem.groups}, **fit).bse
    hac = model.fit(cov_type="HAC", cov_kwds={"maxlags": HAC_LAGS, "use_correction": False}, **fit).bse
    S = model.score_obs(res.params)  # analytic per-observation scores
    n, k = X.shape
    sm_name = f"statsmodels {kind}"
    bse = {
        "nonrobust": ReferenceSE(res.bse, ANALYTIC, f"{sm_name} bse"),
        "opg": ReferenceSE(np.sqrt(np.diag(np.linalg.inv(S.T @ S))), ANALYTIC,
                           f"inverse outer product of {sm_name}.score_obs (analytic)"),
        "HC0": ReferenceSE(hc0, ANALYTIC, f'{sm_name} cov_type="HC0"'),
        "robust": ReferenceSE(hc0 * np.sqrt(n / (n - 1)), ANALYTIC,
                              f'{sm_name} cov_type="HC0" times sqrt(n/(n-1)) (Stata vce(robust))'),
        "cluster": ReferenceSE(clu, ANALYTIC, f'{sm_name} cov_type="cluster" (use_correction=True)'),
        # statsmodels' discrete models return HC0 for cov_type="HC1" (no cov_HC1 attribute): the definition instead
        "HC1": ReferenceSE(hc0 * np.sqrt(n / (n - k)), ANALYTIC, f'{sm_name} cov_type="HC0" times sqrt(n/(n-k))'),
        "hac": ReferenceSE(hac, ANALYTIC, f'{sm_name} cov_type="HAC", maxlags={HAC_LAGS}, use_correction=False'),
    }
    if problem.expected_information is not None:
        eta = X @ res.params
        if kind == "Probit":  # Fisher information of the probit: X' diag(phi^2 / (Phi (1 - Phi))) X
            w = scipy.stats.norm.pdf(eta) ** 2 / (scipy.special.ndtr(eta) * scipy.special.ndtr(-eta))
            what = "closed-form probit Fisher information X' diag(phi^2/(Phi(1-Phi))) X"
        else:  # Poisson, canonical log link: X' diag(mu) X
            w = np.exp(eta)
            what = "closed-form Poisson Fisher information X' diag(mu) X"
        bse["expected"] = ReferenceSE(np.sqrt(np.diag(np.linalg.inv((X * w[:, None]).T @ X))), ANALYTIC,
                                      f"{what} at statsmodels' estimates")
    return Reference(np.asarray(res.params), float(res.llf), bse, f"statsmodels {kind} (live)")


def _normal_reference(problem: Problem) -> Reference:
    """Closed forms of the iid normal MLE: mu = mean, sigma^2 = m2 (central moments m_j), and

    - observed = expected information ``diag(n/sigma^2, 2n/sigma^2)``: se = sigma/sqrt(n), sigma/sqrt(2n);
    - HC0: var(mu) = m2/n, var(sigma) = (m4 - m2^2)/(4 n m2);
    - OPG / cluster: from the analytic scores ``((y-mu)/sigma^2, ((y-mu)^2 - sigma^2)/sigma^3)``.
    """
    y = problem.data["y"]
    n = len(y)
    e = y - y.mean()
    m2, m4 = np.mean(e ** 2), np.mean(e ** 4)
    s = np.sqrt(m2)
    info = np.array([s / np.sqrt(n), s / np.sqrt(2 * n)])
    hc0 = np.array([np.sqrt(m2 / n), np.sqrt((m4 - m2 ** 2) / (4 * n * m2))])
    S = np.column_stack([e / s ** 2, (e ** 2 - s ** 2) / s ** 3])
    bread = np.diag([s ** 2 / n, s ** 2 / (2 * n)])
    G = int(problem.groups.max()) + 1
    C = np.vstack([S[problem.groups == g].sum(0) for g in range(G)])
    clu = bread @ C.T @ C @ bread * G / (G - 1)
    bse = {
        "nonrobust": ReferenceSE(info, ANALYTIC, "closed form sigma/sqrt(n), sigma/sqrt(2n)"),
        "expected": ReferenceSE(info, ANALYTIC, "closed form: Fisher information diag(n/sigma^2, 2n/sigma^2)"),
        "HC0": ReferenceSE(hc0, ANALYTIC, "closed form sqrt(m2/n), sqrt((m4 - m2^2)/(4 n m2))"),
        "robust": ReferenceSE(hc0 * np.sqrt(n / (n - 1)), ANALYTIC, "closed-form HC0 times sqrt(n/(n-1))"),
        "opg": ReferenceSE(np.sqrt(np.diag(np.linalg.inv(S.T @ S))), ANALYTIC, "inverse outer product of the analytic scores"),
        "cluster": ReferenceSE(np.sqrt(np.diag(clu)), ANALYTIC,
                               "closed-form bread diag(sigma^2/n, sigma^2/(2n)) around cluster sums of the analytic "
                               "scores, times G/(G-1) (Stata)"),
        "HC1": ReferenceSE(hc0 * np.sqrt(n / (n - 2)), ANALYTIC, "closed-form HC0 times sqrt(n/(n-k)), k = 2"),
        "hac": ReferenceSE(np.sqrt(np.diag(bread @ newey_west_meat(S, HAC_LAGS) @ bread)), ANALYTIC,
                           f"closed-form bread around the Bartlett (L={HAC_LAGS}) meat of the analytic scores"),
    }
    llf = -0.5 * n * (np.log(2 * np.pi * m2) + 1.0)
    return Reference(np.array([y.mean(), s]), float(llf), bse, "closed form (iid normal MLE)")


def _ols_reference(problem: Problem) -> Reference:
    """statsmodels OLS, exactly rescaled to maximum likelihood (sigma^2 = SSR/n).

    The information is block diagonal at the MLE, so every sandwich splits into a beta block (what
    statsmodels OLS reports for HC0 / cluster with ``use_correction=False``) and sigma's closed form
    ``sum (e^2 - sigma^2)^2 / (4 n^2 sigma^2)`` (HC0; cluster: sums of ``e^2 - sigma^2`` within
    clusters). OPG: ``GenericLikelihoodModel.bsejac`` on an independent scipy.stats log-likelihood
    (numerical scores, hence the 1e-5 tier).
    """
    import statsmodels.api as sm
    from statsmodels.base.model import GenericLikelihoodModel

    X, y = problem.data["X"], problem.data["y"]
    n, k = X.shape
    res = sm.OLS(y, X).fit()
    e = res.resid
    s2 = res.ssr / n
    s = np.sqrt(s2)
    hc0_beta = res.get_robustcov_results(cov_type="HC0").bse
    clu_beta = res.get_robustcov_results(cov_type="cluster", groups=problem.groups, use_correction=False).bse
    u = e ** 2 - s2
    sums = np.array([u[problem.groups == g].sum() for g in range(int(problem.groups.max()) + 1)])
    hc0 = np.r_[hc0_beta, np.sqrt(np.sum(u ** 2)) / (2 * n * s)]

    class NormalRegression(GenericLikelihoodModel):
        def loglikeobs(self, params):
            return scipy.stats.norm.logpdf(self.endog, self.exog @ params[:-1], params[-1])

    ml = np.r_[res.params, s]
    generic = NormalRegression(y, X).fit(start_params=ml, method="newton", maxiter=0, disp=0)
    hac_beta = res.get_robustcov_results(cov_type="HAC", maxlags=HAC_LAGS, use_correction=False).bse
    hac_sigma = np.sqrt(newey_west_meat(u[:, None], HAC_LAGS)[0, 0]) / (2 * n * s)
    bse = {
        "nonrobust": ReferenceSE(np.r_[res.bse * np.sqrt((n - k) / n), s / np.sqrt(2 * n)], ANALYTIC,
                                 "statsmodels OLS bse * sqrt((n-k)/n); sigma/sqrt(2n)"),
        "HC0": ReferenceSE(hc0, ANALYTIC, 'statsmodels OLS cov_type="HC0"; sigma in closed form'),
        "robust": ReferenceSE(hc0 * np.sqrt(n / (n - 1)), ANALYTIC, "the HC0 reference times sqrt(n/(n-1))"),
        "cluster": ReferenceSE(np.r_[clu_beta, np.sqrt(sums @ sums) / (2 * n * s)], ANALYTIC,
                               'statsmodels OLS cov_type="cluster", use_correction=False; sigma in closed form'),
        "opg": ReferenceSE(generic.bsejac, NUMERIC, "statsmodels GenericLikelihoodModel.bsejac (numerical scores)"),
        "HC1": ReferenceSE(hc0 * np.sqrt(n / (n - k - 1)), ANALYTIC,
                           "the HC0 reference times sqrt(n/(n-k)), k = every parameter of the user model (beta, sigma)"),
        "hac": ReferenceSE(np.r_[hac_beta, hac_sigma], ANALYTIC,
                           f'statsmodels OLS cov_type="HAC", maxlags={HAC_LAGS}, use_correction=False; sigma in '
                           "closed form (Bartlett meat of e^2 - sigma^2)"),
    }
    return Reference(ml, float(res.llf), bse, "statsmodels OLS (live), rescaled to ML")


def _spector() -> dict[str, Any]:
    df = hs.datasets.load("spector")
    X = np.column_stack([df[["GPA", "TUCE", "PSI"]].to_numpy(), np.ones(len(df))])
    return {"X": X, "y": df["GRADE"].to_numpy(dtype=float)}


SPECTOR_NAMES = ["GPA", "TUCE", "PSI", "const"]
RANDHIE_COLUMNS = ["lncoins", "idp", "lpi", "fmde", "physlm", "disea", "hlthg", "hlthf", "hlthp"]
RANDHIE_ROWS = 5_000
"""The first rows of randhie: enough for stable Poisson estimates, small enough for every row source."""


def _randhie() -> dict[str, Any]:
    df = hs.datasets.load("randhie").iloc[:RANDHIE_ROWS]
    X = np.column_stack([df[RANDHIE_COLUMNS].to_numpy(), np.ones(len(df))])
    return {"X": X, "y": df["mdvis"].to_numpy(dtype=float)}


def _fair() -> dict[str, Any]:
    df = hs.datasets.load("fair")
    cols = ["age", "yrs_married", "children", "religious", "educ"]
    return {"X": np.column_stack([df[cols].to_numpy(), np.ones(len(df))]), "y": df["rate_marriage"].to_numpy(dtype=float)}


def _normal_sample() -> dict[str, Any]:
    return {"y": np.random.default_rng(20240601).normal(3.0, 2.0, size=157)}


def _fisher_probit(X: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    def info(theta: np.ndarray) -> np.ndarray:
        eta = X @ theta
        w = scipy.stats.norm.pdf(eta) ** 2 / (scipy.special.ndtr(eta) * scipy.special.ndtr(-eta))
        return (X * w[:, None]).T @ X
    return info


def _fisher_poisson(X: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    return lambda theta: (X * np.exp(X @ theta)[:, None]).T @ X


def _fisher_normal(n: int) -> Callable[[np.ndarray], np.ndarray]:
    return lambda theta: np.diag([n / theta[1] ** 2, 2 * n / theta[1] ** 2])


def _problems() -> tuple[Problem, ...]:
    spector, randhie, fair, normal = _spector(), _randhie(), _fair(), _normal_sample()
    return (
        Problem("iid_normal", normal_sigma_ll, {"mu": 0.0, "sigma": 1.0}, normal, {},
                np.arange(157) % 5, _normal_reference, cluster_correction="stata",
                expected_information=_fisher_normal(157)),
        Problem("logit_spector", logit_ll, {"beta": np.zeros(4)}, spector, {"beta": SPECTOR_NAMES},
                np.arange(32) % 7, lambda p: _sm_discrete("Logit", p)),
        Problem("probit_spector", probit_ll, {"beta": np.zeros(4)}, spector, {"beta": SPECTOR_NAMES},
                np.arange(32) % 7, lambda p: _sm_discrete("Probit", p), expected_information=_fisher_probit(spector["X"])),
        Problem("poisson_randhie", poisson_full_ll, {"beta": np.zeros(10)}, randhie, {"beta": RANDHIE_COLUMNS + ["const"]},
                np.arange(RANDHIE_ROWS) % 11, lambda p: _sm_discrete("Poisson", p),
                expected_information=_fisher_poisson(randhie["X"])),
        Problem("ols_fair", linear_regression_ll, {"beta": np.zeros(6), "sigma": 1.0}, fair,
                {"beta": ["age", "yrs_married", "children", "religious", "educ", "const"]},
                np.arange(len(fair["y"])) % 13, _ols_reference, cluster_correction="none"),
    )


PROBLEMS: tuple[Problem, ...] = _problems()
"""The catalogue, in a fixed order."""

BY_NAME: dict[str, Problem] = {p.name: p for p in PROBLEMS}
