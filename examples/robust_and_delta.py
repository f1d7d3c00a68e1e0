"""Robust and clustered SEs, delta method, tests, profile intervals and marginal effects.

Run: ``python examples/robust_and_delta.py`` (a few seconds). Logit of GRADE on GPA, TUCE, PSI
(Spector & Mazzeo 1980, the statsmodels ``spector`` dataset shipped in ``data/``).
"""

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
try:
    import hessstats as hs
except ImportError:  # running from a source checkout without installing
    sys.path.insert(0, str(ROOT))
    import hessstats as hs

df = pd.read_csv(ROOT / "data" / "spector.csv")
names = ["GPA", "TUCE", "PSI", "const"]
data = {"X": np.column_stack([df[names[:3]].to_numpy(), np.ones(len(df))]), "y": df["GRADE"].to_numpy(),
        "school": np.arange(len(df)) % 7}  # made-up clusters: row index mod 7


def loglike(p, d):
    eta = d["X"] @ p["beta"]
    return d["y"] * eta - jnp.logaddexp(0.0, eta)


res = hs.fit(loglike, {"beta": np.zeros(4)}, data, names={"beta": names},
             transforms={"odds_ratio_PSI": lambda p: jnp.exp(p["beta"][2])})
pd.set_option("display.width", 120)
print(res.summary_frame().round(4))
print("\nstandard errors by covariance type")
print(pd.DataFrame({t: res.with_cov(t).bse for t in ["nonrobust", "opg", "HC0", "robust"]}
                   | {"cluster": res.with_cov("cluster", groups="school").bse}).round(4))
print("\n", res.transformed().round(4), sep="")
print("\n", res.delta(lambda p: p["beta"][0] / p["beta"][2], names="GPA/PSI").round(4), sep="")
print("\n", res.wald_test("GPA = PSI, TUCE = 0"), sep="")
print(res.lr_test_null({"GPA": 0.0, "TUCE": 0.0, "PSI": 0.0}))
print("\n", res.profile_ci(["GPA", "PSI"]).round(4), sep="")
effects = res.margins(lambda p, d: jax.nn.sigmoid(d["X"] @ p["beta"]),
                      {"GPA": ("X", 0), "TUCE": ("X", 1), "PSI": ("X", 2)})
print("\naverage marginal effects\n", effects.round(4), sep="")
