"""The formula interface and its stable contract for the CLI (issue 4).

References: statsmodels 0.15 formula models (patsy) for the same fits; the formulaic design
itself for names; refits from ``description`` must reproduce the original estimates exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hessstats as hs
from hessstats.errors import DataError, SpecificationError
from hessstats.formula import MODELS, from_formula

EXPECTED_MODELS = {"nb1", "genpoisson", "truncated_poisson", "truncated_negbin", "hurdle_poisson", "hurdle_negbin",
                   "betareg", "binomial", "ols", "logit", "probit", "poisson", "negbin", "gamma", "mnlogit", "ordered_logit",
                   "ordered_probit", "zip", "tobit", "weibull", "firth_logit", "glm", "zinb", "biprobit", "heckman"}


@pytest.fixture(scope="module")
def spector() -> pd.DataFrame:
    return hs.datasets.load("spector")


def test_models_registry_and_public_names():
    assert set(MODELS) == EXPECTED_MODELS
    for name in EXPECTED_MODELS:
        assert getattr(hs, name) is MODELS[name]


def test_unknown_model_lists_valid_names(spector):
    with pytest.raises(SpecificationError, match=r"unknown model 'lgit'[\s\S]*'logit'[\s\S]*'weibull'"):
        from_formula("lgit", "GRADE ~ GPA", spector)


def test_returns_model_whose_description_refits(spector):
    """description = {model, formula, options}: from_formula(**description) gives the same fit."""
    model = hs.poisson("accident ~ yr_con + op_75_79", hs.datasets.load("ships"), exposure="service",
                       missing="drop")
    assert isinstance(model, hs.Model)
    desc = dict(model.description)
    assert desc["model"] == "poisson" and desc["formula"] == "accident ~ yr_con + op_75_79"
    assert desc["exposure"] == "service" and desc["missing"] == "drop"
    again = from_formula(desc.pop("model"), desc.pop("formula"), hs.datasets.load("ships"),
                         **{k: v for k, v in desc.items() if k in ("exposure", "offset", "missing")})
    np.testing.assert_allclose(again.fit().params, model.fit().params, rtol=1e-13)  # same optimum to rounding


def test_fit_accepts_cov_type(spector):
    res = hs.logit("GRADE ~ GPA + PSI", spector).fit(cov_type="HC0")
    assert res.cov_type == "HC0" and list(res.params.index) == ["Intercept", "GPA", "PSI"]


def test_array_interface_equals_formula(spector):
    X = spector[["GPA", "TUCE", "PSI"]].assign(Intercept=1.0)[["Intercept", "GPA", "TUCE", "PSI"]]
    by_array = hs.models.logit_model(spector["GRADE"], X).fit()
    by_formula = hs.logit("GRADE ~ GPA + TUCE + PSI", spector).fit()
    np.testing.assert_array_equal(by_array.params.index, by_formula.params.index)
    np.testing.assert_allclose(by_array.params, by_formula.params, rtol=1e-13)
    assert by_array.model.description["formula"] is None


def test_string_columns_and_interactions(spector):
    df = spector.assign(group=np.where(spector["TUCE"] > 22, "b", "a"))
    model = hs.logit("GRADE ~ GPA * C(group)", df)
    assert model.names == ("Intercept", "GPA", "C(group)[T.b]", "GPA:C(group)[T.b]")


def test_string_outcome_is_rejected_with_a_fix(spector):
    df = spector.assign(passed=np.where(spector["GRADE"] > 0, "yes", "no"))
    with pytest.raises(SpecificationError, match="one numeric column"):
        hs.logit("passed ~ GPA", df)


def test_missing_values_raise_or_drop(spector):
    df = spector.copy()
    df.loc[0, "GPA"] = np.nan
    with pytest.raises(DataError, match=r"\{'GPA': 1\} of 32 rows"):
        hs.probit("GRADE ~ GPA", df)
    assert hs.probit("GRADE ~ GPA", df, missing="drop").nobs == 31
    with pytest.raises(SpecificationError, match="missing"):
        hs.probit("GRADE ~ GPA", df, missing="ignore")


def test_bad_formula_and_unknown_column(spector):
    with pytest.raises(SpecificationError, match="formulaic could not build"):
        hs.logit("GRADE ~ GPAA", spector)
    with pytest.raises(DataError, match="DataFrame"):
        hs.logit("GRADE ~ GPA", spector.to_dict())


def test_options_as_arrays_are_aligned_and_recorded():
    ships = hs.datasets.load("ships").dropna()
    model = hs.poisson("accident ~ yr_con", ships, exposure=ships["service"].to_numpy())
    assert model.description["exposure"] == "<array>"
    with pytest.raises(DataError, match="wrong length"):
        hs.poisson("accident ~ yr_con", ships, exposure=np.ones(3))


def test_zip_inflation_formula():
    df = hs.datasets.load("randhie").head(3000)
    model = hs.zip("mdvis ~ lncoins", df, inflation="~ idp + physlm")
    assert model.names == ("Intercept", "lncoins", "inflate_Intercept", "inflate_idp", "inflate_physlm")
    assert model.description["inflation"] == "~ idp + physlm"


# ----------------------------------------------------------------------------- issue 13: formula gaps

@pytest.mark.parametrize("term,columns", [("scale(GPA)", ["scale(GPA)"]), ("center(GPA)", ["center(GPA)"]),
                                          ("bs(GPA, df=3)", ["bs(GPA, df=3)[1]", "bs(GPA, df=3)[2]", "bs(GPA, df=3)[3]"]),
                                          ("poly(GPA, 2)", ["poly(GPA, 2)[1]", "poly(GPA, 2)[2]"])])
def test_stateful_transforms_find_their_columns(spector, term, columns):
    """Stateful transforms used to fail with a NameError (formulaic lists only plain variables as
    required). Reference: formulaic's own model_matrix on the full data gives the same design
    columns, and the same fit as passing the transformed columns by hand (closed form for scale:
    (x - mean) / sd with ddof=1)."""
    from formulaic import model_matrix

    res = hs.logit(f"GRADE ~ {term} + TUCE", spector).fit()
    assert list(res.names) == ["Intercept", *columns, "TUCE"]
    X = model_matrix(f"~ {term} + TUCE", spector)
    by_hand = hs.models.binary.logit_model(spector["GRADE"], pd.DataFrame(X)).fit()
    np.testing.assert_allclose(res.params.to_numpy(), by_hand.params.to_numpy(), rtol=1e-8)
    if term == "scale(GPA)":
        z = (spector["GPA"] - spector["GPA"].mean()) / spector["GPA"].std()
        np.testing.assert_allclose(np.asarray(res.model.data["X"])[:, 1], z, rtol=1e-12)


def test_dropped_rows_are_reported_by_label(spector):
    """missing='drop': the model says which rows (by the user's labels) it left out, and its row
    labels are those of the kept rows (so a Series aligned to them is taken by label)."""
    df = spector.copy()
    df.index = [f"r{i}" for i in range(len(df))]
    df.loc[["r3", "r10"], "GPA"] = np.nan
    model = hs.logit("GRADE ~ GPA + PSI", df, missing="drop")
    assert list(model.extra["dropped_rows"]) == ["r3", "r10"]
    assert model.nobs == len(df) - 2 and "r3" not in model.row_labels
    assert list(hs.logit("GRADE ~ GPA + PSI", spector).extra["dropped_rows"]) == []
    groups = pd.Series(np.arange(len(df)) % 4, index=df.index).drop(["r3", "r10"]).iloc[::-1]
    res = model.fit(cov_type="cluster", groups=groups)  # reversed order: aligned by label
    in_order = model.fit(cov_type="cluster", groups=groups.loc[model.row_labels].to_numpy())
    np.testing.assert_allclose(res.bse, in_order.bse, rtol=1e-12)


def test_missing_value_errors_name_the_users_row_labels(spector):
    """missing='raise' names the rows by the DataFrame's own labels (not positions)."""
    df = spector.copy()
    df.index = [f"r{i}" for i in range(len(df))]
    df.loc["r7", "TUCE"] = np.nan
    with pytest.raises(DataError, match=r"rows \(labels\) \['r7'\]"):
        hs.logit("GRADE ~ GPA + TUCE", df)


def test_groups_column_follows_dropped_rows_and_is_the_cluster_default():
    """statsmodels live (OLS ``cov_type="cluster"`` with ``groups``) and R ``sandwich::vcovCL`` (stored in
    data/reference/sandwich_petersen.json): ``groups="firm"`` on the formula model keeps the labels of the
    rows that survive ``missing="drop"`` and is the default of ``fit(cov_type="cluster")``; two names give
    two-way clustering; a name among them selects one."""
    import json

    import statsmodels.formula.api as smf

    df = hs.datasets.load("petersen")
    ref = json.loads((hs.datasets.data_dir() / "reference" / "sandwich_petersen.json").read_text())
    res = hs.ols("y ~ x", df, groups=["firm", "year"]).fit(cov_type="cluster")
    assert res.groups.shape == (len(df), 2)
    np.testing.assert_allclose(res.cov_params().to_numpy()[:2, :2], ref["petersen"]["vcovCL_firm_year"], rtol=1e-10)
    by_firm = hs.ols("y ~ x", df, groups="firm").fit(cov_type="cluster")
    np.testing.assert_allclose(by_firm.cov_params().to_numpy()[:2, :2], ref["petersen"]["vcovCL_firm"], rtol=1e-10)
    by_year = res.model.fit(cov_type="cluster", groups="year")
    np.testing.assert_allclose(by_year.bse["x"], hs.ols("y ~ x", df).fit(cov_type="cluster", groups=df["year"]).bse["x"],
                               rtol=1e-12)
    holed = df.copy()
    holed.loc[[3, 10, 4000], "x"] = np.nan
    model = hs.ols("y ~ x", holed, missing="drop", groups="firm")
    assert model.dropped_rows == [3, 10, 4000]
    ours = model.fit(cov_type="cluster")
    kept = holed.dropna()
    sm = smf.ols("y ~ x", kept).fit(cov_type="cluster", cov_kwds={"groups": kept["firm"]})
    np.testing.assert_allclose(ours.bse[["Intercept", "x"]], sm.bse[["Intercept", "x"]], rtol=1e-8)
    with pytest.raises(DataError, match="not in the data"):
        hs.ols("y ~ x", df, groups="frim")
