"""pandas per-row arguments are aligned by row label, never silently by position.

References: the same fit with the arguments aligned by hand (``.loc[frame.index]``, then numpy),
statsmodels 0.15 ``Poisson`` with ``exposure`` at 1e-8, and closed-form cluster sums.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import hessstats as hs
from hessstats.errors import DataError

RNG = np.random.default_rng(5)
N = 60
FRAME = pd.DataFrame({"x": RNG.normal(size=N), "y": RNG.poisson(2.0, size=N).astype(float)},
                     index=pd.Index(np.arange(N)[::-1] * 10, name="id"))  # labels in reverse order
EXPOSURE = pd.Series(np.r_[np.ones(N // 2), np.full(N // 2, 4.0)], index=np.arange(N) * 10)  # ascending labels


def aligned(series: pd.Series) -> np.ndarray:
    return series.loc[FRAME.index].to_numpy()


def test_formula_exposure_series_is_aligned_with_the_frame():
    """hs.poisson(..., exposure=Series) equals statsmodels with the exposure aligned by hand (1e-8)."""
    res = hs.poisson("y ~ x", FRAME, exposure=EXPOSURE).fit()
    X = sm.add_constant(FRAME[["x"]].to_numpy())
    ref = sm.Poisson(FRAME["y"].to_numpy(), X, exposure=aligned(EXPOSURE)).fit(disp=0, method="newton", tol=1e-12)
    np.testing.assert_allclose(res.params.to_numpy(), ref.params, rtol=1e-8)
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse, rtol=1e-8)


def test_array_interface_offset_and_outcome_are_aligned_with_X():
    """poisson_model(y, X, offset=...) with y and offset in another label order: the hand-aligned fit."""
    X = FRAME[["x"]].assign(const=1.0)
    y_shuffled = FRAME["y"].sort_index()
    offset = np.log(EXPOSURE)
    res = hs.models.count.poisson_model(y_shuffled, X, offset=offset).fit()
    ref = hs.models.count.poisson_model(FRAME["y"].to_numpy(), X.to_numpy(), offset=aligned(offset)).fit()
    np.testing.assert_allclose(res.params.to_numpy(), ref.params.to_numpy(), rtol=1e-10)


def test_different_labels_are_a_data_error_naming_them():
    """An exposure for other rows cannot be aligned: DataError with the missing labels."""
    other = EXPOSURE.set_axis(np.arange(N) + 1000)
    with pytest.raises(DataError, match="row labels"):
        hs.poisson("y ~ x", FRAME, exposure=other)
    with pytest.raises(DataError, match="row labels"):
        hs.models.count.poisson_model(FRAME["y"], FRAME[["x"]].assign(c=1.0), exposure=other)


def test_data_dict_series_are_aligned_by_label():
    """{"y": Series, "x": Series in another order}: the fit equals the hand-aligned numpy fit."""
    def ll(p, d):
        eta = p["b"][0] + p["b"][1] * d["x"]
        return d["y"] * eta - jnp.exp(eta)

    res = hs.fit(ll, {"b": np.zeros(2)}, {"y": FRAME["y"], "x": FRAME["x"].sort_index()})
    ref = hs.fit(ll, {"b": np.zeros(2)}, {"y": FRAME["y"].to_numpy(), "x": FRAME["x"].to_numpy()})
    np.testing.assert_allclose(res.params.to_numpy(), ref.params.to_numpy(), rtol=1e-10)
    with pytest.raises(DataError, match="row labels"):
        hs.fit(ll, {"b": np.zeros(2)}, {"y": FRAME["y"], "x": FRAME["x"].set_axis(np.arange(N))})
    with pytest.raises(DataError, match="no row labels"):  # reordered pandas next to positional numpy: ambiguous
        hs.fit(ll, {"b": np.zeros(2)}, {"y": FRAME["y"], "x": FRAME["x"].sort_index(), "w": np.ones(N)})


def test_groups_series_is_aligned_with_dataframe_data():
    """Cluster SEs with groups in another label order equal those with hand-aligned groups."""
    groups = pd.Series(np.arange(N) % 6, index=np.arange(N) * 10)

    def ll(p, d):
        eta = p["b"][0] + p["b"][1] * d["x"]
        return d["y"] * eta - jnp.exp(eta)

    res = hs.fit(ll, {"b": np.zeros(2)}, FRAME, cov_type="cluster", groups=groups)
    ref = hs.fit(ll, {"b": np.zeros(2)}, FRAME, cov_type="cluster", groups=aligned(groups))
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(res.with_cov("cluster", groups=groups).bse, ref.bse, rtol=1e-12)
    with pytest.raises(DataError, match="row labels"):
        res.with_cov("cluster", groups=groups.set_axis(np.arange(N)))


def test_series_next_to_unlabelled_data_are_positional():
    """numpy data have only positions: a groups Series is taken by position whatever its labels
    (the same SEs as its numpy values), and only same-length pandas objects are aligned."""
    y = FRAME["y"].to_numpy()
    ll = lambda p, d: d * p["b"] - jnp.exp(p["b"])
    labelled = pd.Series(np.arange(N) % 5, index=np.arange(N)[::-1] + 7)
    res = hs.fit(ll, {"b": 0.0}, y, cov_type="cluster", groups=labelled)
    ref = hs.fit(ll, {"b": 0.0}, y, cov_type="cluster", groups=labelled.to_numpy())
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse.to_numpy(), rtol=1e-12)
