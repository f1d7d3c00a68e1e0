"""``hs.compare`` and name alignment with statsmodels results (issue 4).

References: statsmodels 0.15 ``Logit`` (array and formula interfaces) and ``MNLogit`` fits of the
same models; the relative differences are computed from those numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import hessstats as hs
from hessstats.crosscheck.compare import align, normalize
from hessstats.errors import SpecificationError


@pytest.fixture(scope="module")
def fits():
    df = hs.datasets.load("spector")
    ours = hs.logit("GRADE ~ GPA + TUCE + PSI", df).fit()
    X = sm.add_constant(df[["GPA", "TUCE", "PSI"]], prepend=False)  # const last, named 'const'
    theirs = sm.Logit(df["GRADE"], X).fit(method="newton", tol=1e-14, disp=0)
    return ours, theirs


def test_compare_matches_by_name_across_order_and_const(fits):
    ours, theirs = fits
    table = hs.compare(ours, theirs)
    assert list(table.index) == ["Intercept", "GPA", "TUCE", "PSI"]
    np.testing.assert_allclose(table.loc["Intercept", "coef_sm"], theirs.params["const"], rtol=0)
    np.testing.assert_allclose(table["std_err_sm"], theirs.bse[["const", "GPA", "TUCE", "PSI"]], rtol=0)
    assert table["coef_rel_diff"].max() < 1e-8 and table["std_err_rel_diff"].max() < 1e-8
    expected = np.abs(table["coef"] - table["coef_sm"]) / np.abs(table["coef_sm"])
    np.testing.assert_allclose(table["coef_rel_diff"], expected, rtol=1e-12)


def test_plain_arrays_are_matched_by_position(fits):
    ours, theirs = fits

    class Raw:  # statsmodels' unwrapped results: ndarrays without names
        params = theirs.params[["const", "GPA", "TUCE", "PSI"]].to_numpy()
        bse = theirs.bse[["const", "GPA", "TUCE", "PSI"]].to_numpy()

    assert hs.compare(ours, Raw())["std_err_rel_diff"].max() < 1e-8


def test_mismatched_names_or_sizes_raise(fits):
    ours, _ = fits

    class Other:
        params = pd.Series([1.0, 2.0, 3.0, 4.0], index=["a", "b", "c", "d"])
        bse = params

    with pytest.raises(SpecificationError, match="do not match"):
        hs.compare(ours, Other())
    with pytest.raises(SpecificationError, match="different number"):
        align(Other(), ["a", "b"])


def test_normalize():
    assert normalize("const") == "Intercept" and normalize("inflate_const") == "inflate_Intercept"
    assert normalize("1.0:x") == "1:x" and normalize("x1.05") == "x1.05"
