"""Built-in models on bundled real data, checked against statsmodels where it is installed.

    python examples/builtin_models.py
"""

from __future__ import annotations

import numpy as np

import hessstats as hs

# Logit by formula on the Spector & Mazzeo PSI data
spector = hs.datasets.load("spector")
logit = hs.logit("GRADE ~ GPA + TUCE + PSI", spector).fit()
print(logit)

# Poisson with exposure and Stata-style cluster-robust SEs on the MASS ships data
ships = hs.datasets.load("ships")
model = hs.poisson("accident ~ yr_con + op_75_79", ships, exposure="service", missing="drop")
clustered = model.fit(cov_type="cluster", groups=ships.dropna()["ship"].to_numpy() - 1)
print("\nPoisson, exposure(service), vce(cluster ship):")
print(clustered.summary_frame()[["coef", "std_err"]])
# Stata's published standard errors (statsmodels' test suite, results_count_robust_cluster.py)
assert np.allclose(clustered.bse, [0.0968656626603, 0.03817694295902, 0.09213163536669], rtol=1e-6)

# Tobit for the Fair affairs data, left-censored at 0; Weibull survival with censoring
tobit = hs.tobit("affairs ~ rate_marriage + age + yrs_married + religious", hs.datasets.load("fair"), left=0).fit()
print(f"\nTobit: sigma = {tobit.params['sigma']:.4f} (se {tobit.bse['sigma']:.4f}), "
      f"{tobit.model.extra['censored']['left']} left-censored")
weibull = hs.weibull("survival ~ age", hs.datasets.load("heart"), event="censors").fit()
print(f"Weibull: shape = {weibull.params['shape']:.4f} (se {weibull.bse['shape']:.4f})")
assert logit.converged and tobit.converged and weibull.converged

try:
    import statsmodels.formula.api as smf
except ImportError:
    print("\n(statsmodels not installed: skipping the side-by-side comparison)")
else:
    theirs = smf.logit("GRADE ~ GPA + TUCE + PSI", spector).fit(disp=0)
    table = hs.compare(logit, theirs)
    print("\nhs.compare(logit, statsmodels Logit):")
    print(table.to_string(float_format=lambda v: f"{v:.3g}"))
    assert table["std_err_rel_diff"].max() < 1e-6
