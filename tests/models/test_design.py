"""Input checks shared by the built-in models (hessstats.models.design), through the array
interface ``hs.models.<name>_model(y, X, ...)``.

References: statsmodels 0.15 ``Logit`` (``llr``, the constant-only null model) and ``Poisson``
(``offset=``), both analytic; the exact linear dependence built into a design; column labels.
Covered elsewhere: missing cells by column (rows/test_prepare, test_formula), collinearity through
formulas and 0/1 outcomes (models/test_binary), count and exposure checks (models/test_count).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import hessstats as hs
from hessstats.errors import CollinearityError, DataError, SpecificationError

SPECTOR = hs.datasets.load("spector")
Y = SPECTOR["GRADE"]
X = SPECTOR[["GPA", "TUCE"]].assign(const=1.0)


@pytest.mark.parametrize("design, names, expected", [
    (X, None, ("GPA", "TUCE", "const")),                            # DataFrame columns
    (X.to_numpy(), None, ("x0", "x1", "x2")),                       # arrays: x0, x1, ...
    (X.to_numpy(), ["a", "b", "c"], ("a", "b", "c")),               # names= wins
    (X.assign(flag=SPECTOR["PSI"].astype(bool)), None, ("GPA", "TUCE", "const", "flag")),  # booleans are numeric
], ids=["frame", "array", "names", "bool-column"])
def test_parameter_names_follow_the_design_columns(design, names, expected):
    assert hs.models.logit_model(Y, design, names=names).names == expected


def test_outcome_as_a_one_column_frame_or_column_vector():
    """y may be a Series, a one-column DataFrame or an (n, 1) array: the same fit (statsmodels Logit)."""
    ref = sm.Logit(Y.to_numpy(), X.to_numpy()).fit(disp=0, method="newton", tol=1e-12)
    for y in (Y, Y.to_frame(), Y.to_numpy()[:, None]):
        np.testing.assert_allclose(hs.models.logit_model(y, X).fit().params.to_numpy(), ref.params, rtol=1e-8)


@pytest.mark.parametrize("y, design, kwargs, error, pattern", [
    (Y, X.assign(s="a"), {}, DataError, r"non-numeric columns \['s'\]"),
    (Y, X.assign(c=pd.Categorical(SPECTOR["PSI"])), {}, DataError, r"(?s)non-numeric columns \['c'\].*formula"),
    (Y, X.to_numpy(), {"names": ["a", "b"]}, DataError, "names do not match the columns"),
    (Y, X.iloc[:0], {}, DataError, r"wrong shape(?s:.*)\(0, 3\)"),
    (Y, np.ones((32, 0)), {}, DataError, "wrong shape"),
    (Y[:-1], X, {}, DataError, r"y has the wrong shape(?s:.*)length 32"),
    ("v" + Y.astype(str), X, {}, DataError, "y is not numeric"),
    (Y.where(Y.index != 4, np.inf), X, {}, DataError, "y has missing or infinite values"),
], ids=["text-column", "categorical-column", "names-count", "no-rows", "no-columns", "y-length", "y-text", "y-inf"])
def test_bad_designs_and_outcomes_are_typed_errors(y, design, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        hs.models.logit_model(y, design, **kwargs)


def test_collinearity_names_the_dependence():
    """b = GPA + 2 const by construction: the message states exactly that relation."""
    with pytest.raises(CollinearityError, match=r"(?s)\['GPA', 'const', 'b'\].*b = \+1\*GPA \+2\*const"):
        hs.models.logit_model(Y, X.assign(b=X["GPA"] + 2 * X["const"]))
    with pytest.raises(CollinearityError, match=r"all-zero columns \['z'\]"):
        hs.models.logit_model(Y, X.assign(z=0.0))
    with pytest.raises(CollinearityError, match="more columns than rows"):
        hs.models.poisson_model(np.arange(5.0), np.random.default_rng(0).normal(size=(5, 8)))


def test_the_model_keeps_a_copy_of_the_design():
    """Changing the caller's arrays after building the model does not change the fit (statsmodels Logit)."""
    Xa, ya = X.to_numpy().copy(), Y.to_numpy().copy()
    model = hs.models.logit_model(ya, Xa)
    Xa[:] = 0.0
    ya[:] = 1.0
    ref = sm.Logit(Y.to_numpy(), X.to_numpy()).fit(disp=0, method="newton", tol=1e-12)
    np.testing.assert_allclose(model.fit().params.to_numpy(), ref.params, rtol=1e-8)


def test_a_scalar_offset_is_a_constant_vector():
    """offset=c equals offset=[c]*n and equals statsmodels Poisson with that offset."""
    rng = np.random.default_rng(4)
    Xp = np.column_stack([rng.normal(size=60), np.ones(60)])
    y = rng.poisson(np.exp(0.3 * Xp[:, 0] + 0.2)).astype(float)
    scalar = hs.models.poisson_model(y, Xp, offset=0.7).fit()
    vector = hs.models.poisson_model(y, Xp, offset=np.full(60, 0.7)).fit()
    ref = sm.Poisson(y, Xp, offset=np.full(60, 0.7)).fit(disp=0, method="newton", tol=1e-12)
    np.testing.assert_allclose(scalar.params.to_numpy(), vector.params.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(scalar.params.to_numpy(), ref.params, rtol=1e-8)
    with pytest.raises(DataError, match="offset has missing or infinite values"):
        hs.models.poisson_model(y, Xp, offset=np.r_[np.nan, np.zeros(59)])


def test_the_null_model_is_defined_by_a_zero_variance_column():
    """A constant column of 2.0 (not 1.0) is the constant: lr_test_null() fixes the slopes and equals
    statsmodels Logit's llr; without a constant column there is no default null."""
    Xc = X.assign(const=2.0)
    res = hs.models.logit_model(Y, Xc).fit()
    ref = sm.Logit(Y.to_numpy(), Xc.to_numpy()).fit(disp=0, method="newton", tol=1e-12)
    out = res.lr_test_null()
    np.testing.assert_allclose(out.statistic, ref.llr, rtol=1e-8)
    assert out.df == 2
    no_constant = hs.models.logit_model(Y, X[["GPA", "TUCE"]]).fit()
    with pytest.raises(SpecificationError, match="no null model"):
        no_constant.lr_test_null()


def test_rank_screen_agrees_with_the_svd_rule():
    """The Gram screen certifies only clearly full-rank designs; near-collinear ones (a column equal to
    another up to 1e-14 noise: numpy's matrix_rank rule calls it rank deficient) still go to the exact
    SVD and raise (reference: numpy.linalg.matrix_rank of the column-scaled design)."""
    from hessstats.errors import CollinearityError
    from hessstats.models.design import check_rank

    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(1000), rng.normal(size=(1000, 3))])
    assert np.linalg.matrix_rank(X / np.linalg.norm(X, axis=0)) == 4
    check_rank(X, ["c", "a", "b", "d"])  # full rank: no error
    near = np.column_stack([X, X[:, 1] + 1e-14 * rng.normal(size=1000)])
    assert np.linalg.matrix_rank(near / np.linalg.norm(near, axis=0)) == 4
    with pytest.raises(CollinearityError, match=r"1 linear dependence"):
        check_rank(near, ["c", "a", "b", "d", "a2"])
    with pytest.raises(CollinearityError, match=r"all-zero columns \['z'\]"):
        check_rank(np.column_stack([X, np.zeros(1000)]), ["c", "a", "b", "d", "z"])


def test_design_names_non_finite_columns_after_the_gram_pass():
    """NaN and inf make the Gram diagonal non-finite; the exact count names the columns (reference:
    numpy isfinite counts by hand: 1 NaN in 'b', 2 inf in 'c')."""
    from hessstats.errors import DataError
    from hessstats.models.design import design

    X = np.ones((10, 3))
    X[0, 1] = np.nan
    X[[2, 3], 2] = np.inf
    with pytest.raises(DataError, match=r"\{'b': 1, 'c': 2\}"):
        design(X, ["a", "b", "c"])


@pytest.mark.parametrize("scale, size", [(1e200, "large"), (1e160, "large"), (1e-170, "small"), (1e-160, "small")])
def test_columns_whose_squares_leave_float64_are_named_not_called_collinear(scale, size):
    """A finite column at 1e160 has squares beyond float64 (1e320 > 1.8e308), one at 1e-160 squares
    below the smallest normal (2.2e-308): every Hessian entry on it over- or underflows, and the
    column norms of the rank check did too, which called such a column collinear or all-zero. The
    error names it and its size (reference: the float64 limits, numpy.finfo)."""
    rng = np.random.default_rng(2)
    X = np.column_stack([np.ones(200), rng.normal(size=200) * scale, rng.normal(size=200)])
    y = (rng.random(200) < 0.5).astype(float)
    with pytest.raises(DataError, match=rf"columns too {size} for float64 arithmetic: \['x'\]") as info:
        hs.models.logit_model(y, X, names=["const", "x", "z"])
    assert f"x: {np.max(np.abs(X[:, 1])):.3g}" in str(info.value)


def test_extreme_but_representable_scales_fit_as_rescaled():
    """At 1e100 and 1e-100 the squares stay normal floats: the fit is the rescaled one (estimate and
    SE divided by the scale; reference: statsmodels Logit on the unscaled column, live)."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=200)
    y = (0.5 * x + rng.logistic(size=200) > 0).astype(float)
    ref = sm.Logit(y, np.column_stack([np.ones(200), x])).fit(disp=0, method="newton", tol=1e-12)
    for scale in (1e100, 1e-100):
        res = hs.models.logit_model(y, np.column_stack([np.ones(200), x * scale]), names=["const", "x"]).fit()
        np.testing.assert_allclose(res.params.to_numpy() * [1.0, scale], ref.params, rtol=1e-8)
        np.testing.assert_allclose(res.bse.to_numpy() * [1.0, scale], ref.bse, rtol=1e-8)
