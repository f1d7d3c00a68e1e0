"""Generic GLM front door ``hs.glm`` (issue 16).

Reference: statsmodels 0.15 ``GLM`` fitted live (analytic derivatives, so 1e-8): coefficients, the
dispersion (its default Pearson chi2 / df_resid, or ``scale="dev"``), standard errors from the
observed information (its ``method="newton"`` fit, ``cov_type="nonrobust"``) and from the expected
information (its default IRLS fit), and HC0. Data: bundled scotland (Gamma), star98 (binomial with
trials), fair (Gaussian) and seeded simulations (inverse Gaussian via numpy ``wald``; Tweedie via a
compound Poisson-gamma draw, zeros included). Finite differences (numdifftools) check the Hessian.
"""

from __future__ import annotations

import warnings

import numdifftools as nd
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import hessstats as hs
from hessstats.errors import SpecificationError

L = sm.families.links
SCOTLAND = "YES ~ COUTAX + UNEMPF + MOR + ACT + GDP + AGE + COUTAX_FEMALEUNEMP"
STAR98 = "NABOVE ~ LOWINC + PERASIAN + PERBLACK + PERHISP + PCTCHRT"


def _simulated() -> pd.DataFrame:
    rng = np.random.default_rng(16)
    x = rng.uniform(0, 2, 400)
    mu_ig = 1 / np.sqrt(0.5 + 0.4 * x)
    counts = rng.poisson(np.exp(0.2 + 0.5 * x))  # compound Poisson-gamma: Tweedie with 1 < p < 2
    tweedie = np.array([rng.gamma(2.0, 0.5, size=c).sum() for c in counts])
    return pd.DataFrame({"x": x, "ig": rng.wald(mu_ig, 4.0), "tw": tweedie})


CASES = {
    "gamma_inverse": ("scotland", SCOTLAND, {"family": "gamma"}, sm.families.Gamma()),
    "gamma_log": ("scotland", SCOTLAND, {"family": "gamma", "link": "log"}, sm.families.Gamma(L.Log())),
    "binomial_cloglog": ("star98", STAR98, {"family": "binomial", "link": "cloglog", "failures": "NBELOW"},
                         sm.families.Binomial(L.CLogLog())),
    "gaussian_identity": ("fair", "rate_marriage ~ age + yrs_married + educ", {"family": "gaussian"},
                          sm.families.Gaussian()),
    "inverse_gaussian": ("sim", "ig ~ x", {"family": "inverse_gaussian"}, sm.families.InverseGaussian()),
    "tweedie": ("sim", "tw ~ x", {"family": "tweedie", "power": 1.6}, sm.families.Tweedie(var_power=1.6)),
}


def _statsmodels(df, formula, options, family, **fit):
    from formulaic import model_matrix
    mm = model_matrix(formula, df)
    y, X = mm.lhs.iloc[:, 0].to_numpy(float), pd.DataFrame(mm.rhs)
    endog = np.column_stack([y, df["NBELOW"].to_numpy(float)]) if "failures" in options else y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' DomainWarning etc.
        model = sm.GLM(endog, X, family=family)
        irls = model.fit(tol=1e-14, maxiter=500, **fit)
        newton = model.fit(method="newton", tol=1e-14, maxiter=500, start_params=irls.params.to_numpy(), **fit)
        hc0 = model.fit(method="newton", tol=1e-14, maxiter=500, start_params=irls.params.to_numpy(), cov_type="HC0",
                        **fit)
    return irls, newton, hc0


@pytest.mark.parametrize("case", list(CASES))
def test_glm_matches_statsmodels(case):
    """statsmodels GLM live: params, Pearson scale, observed (Newton) / expected (IRLS) / HC0 SEs to 1e-8."""
    dataset, formula, options, family = CASES[case]
    df = _simulated() if dataset == "sim" else hs.datasets.load(dataset)
    model = hs.glm(formula, df, **options)
    ours, expected, hc0 = model.fit(), model.fit(cov_type="expected"), model.fit(cov_type="HC0")
    irls, newton, sm_hc0 = _statsmodels(df, formula, options, family)
    assert list(ours.params.index) == list(irls.params.index)
    np.testing.assert_allclose(ours.params, irls.params, rtol=1e-8)
    np.testing.assert_allclose(model.extra["scale"], irls.scale, rtol=1e-8)
    np.testing.assert_allclose(ours.bse, newton.bse, rtol=1e-8)
    np.testing.assert_allclose(expected.bse, irls.bse, rtol=1e-8)
    np.testing.assert_allclose(hc0.bse, sm_hc0.bse, rtol=1e-7)
    if options["family"] != "gaussian":  # statsmodels' Gaussian-identity llf uses the ML scale RSS/n
        np.testing.assert_allclose(ours.llf, irls.llf, rtol=1e-8)


def test_glm_deviance_scale_matches_statsmodels():
    """statsmodels GLM(scale="dev"): deviance / df_resid, and SEs scaled by it, to 1e-8."""
    df = hs.datasets.load("scotland")
    model = hs.glm(SCOTLAND, df, family="gamma", link="log", scale="deviance")
    irls, newton, _ = _statsmodels(df, SCOTLAND, {}, sm.families.Gamma(L.Log()), scale="dev")
    np.testing.assert_allclose(model.extra["scale"], irls.scale, rtol=1e-8)
    np.testing.assert_allclose(model.fit().bse, newton.bse, rtol=1e-8)


def test_glm_hessian_matches_finite_differences():
    """The exact Hessian of the Gamma (inverse link) log-likelihood at the estimate against numdifftools
    on an independent numpy log-density (scipy.stats.gamma with shape 1/scale)."""
    from scipy import stats
    df = hs.datasets.load("scotland")
    model = hs.glm(SCOTLAND, df, family="gamma")
    res = model.fit()
    y, X, s = df["YES"].to_numpy(float), np.asarray(model.data["X"]), model.extra["scale"]

    def loglike(b):
        mu = 1 / (X @ b)
        return np.sum(stats.gamma.logpdf(y, a=1 / s, scale=mu * s))

    b, size = res.params.to_numpy(), np.abs(res.params.to_numpy())  # relative steps: the scales differ by 1e4
    numeric = nd.Hessian(lambda z: loglike(b + z * size), step=1e-4)(np.zeros(len(b))) / np.outer(size, size)
    np.testing.assert_allclose(res.hessian_array, numeric, rtol=1e-6)
    np.testing.assert_allclose(res.llf, loglike(res.params.to_numpy()), rtol=1e-12)


def test_glm_margins_are_derivatives_of_the_mean():
    """Closed form: for the log link, d mu / d x_j = b_j mu, averaged over the rows."""
    df = hs.datasets.load("scotland")
    res = hs.glm("YES ~ COUTAX + UNEMPF", df, family="gamma", link="log").fit()
    b = res.params
    mu = np.exp(b["Intercept"] + b["COUTAX"] * df["COUTAX"] + b["UNEMPF"] * df["UNEMPF"])
    np.testing.assert_allclose(res.margins()["coef"], [b["COUTAX"] * mu.mean(), b["UNEMPF"] * mu.mean()], rtol=1e-10)


def test_glm_rejects_bad_specifications():
    """Input checks: a link the family does not allow, a Tweedie power of 1, trials for Gaussian."""
    df = hs.datasets.load("scotland")
    with pytest.raises(SpecificationError, match="not available for the gamma family"):
        hs.glm(SCOTLAND, df, family="gamma", link="logit")
    with pytest.raises(SpecificationError, match="Tweedie power"):
        hs.glm(SCOTLAND, df, family="tweedie", power=1.0)
    with pytest.raises(SpecificationError, match="non-binomial"):
        hs.glm(SCOTLAND, df, trials="AGE")


def test_poisson_pseudo_likelihood_on_a_non_count_outcome():
    """PPML (Santos Silva & Tenreyro): a Poisson GLM of a non-negative, non-integer outcome with HC0
    standard errors, which ``hs.poisson`` refuses (its error names this route). Reference: statsmodels
    GLM(Poisson).fit(cov_type="HC0"), live."""
    rng = np.random.default_rng(17)
    df = pd.DataFrame({"x": rng.normal(size=300)})
    df["y"] = np.exp(0.3 * df["x"]) * rng.gamma(2.0, 0.5, size=300)  # continuous, zeros impossible
    with pytest.raises(hs.errors.DataError, match="family='poisson'"):
        hs.poisson("y ~ x", df)
    ours = hs.glm("y ~ x", df, family="poisson").fit(cov_type="HC0")
    ref = sm.GLM(df["y"], sm.add_constant(df["x"]), family=sm.families.Poisson()).fit(cov_type="HC0")
    np.testing.assert_allclose(ours.params.to_numpy(), ref.params.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(ours.bse.to_numpy(), ref.bse.to_numpy(), rtol=1e-8)
