"""Cluster labels and the score meat of the robust covariances (hessstats.core.scores), through
``FitResult.with_cov`` and ``score_meat``.

References: closed forms for the mean of a unit-variance normal, where the Hessian is ``-n`` and
the per-observation score is ``y_i - ybar``, so the cluster variance is
``c * sum_g (sum_{i in g} (y_i - ybar))^2 / n^2`` (``c = 1`` uncorrected, ``G/(G-1)`` Stata);
``S'S`` from the full score matrix for the blockwise meat. Covered elsewhere: statsmodels HC0 /
cluster parity, label errors (NaN, wrong length, one cluster), string labels (core/test_covariance).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import hessstats as hs
from hessstats.core.scores import score_meat
from hessstats.errors import CovarianceError

Y = np.array([1.0, 3.0, 8.0, 4.0, 2.0, 7.0, 5.0])
LABELS = ["b", "b", "a", "a", "a", "c", "c"]


@pytest.fixture(scope="module")
def res():
    return hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, Y)


def closed_form_cluster_se(labels, factor=1.0):
    e = Y - Y.mean()
    sums = pd.Series(e).groupby(np.asarray(labels)).sum().to_numpy()
    return np.sqrt(factor * np.sum(sums ** 2)) / len(Y)


@pytest.mark.parametrize("correction, factor", [("none", 1.0), ("stata", 1.5)], ids=["none", "stata"])
def test_cluster_se_of_a_mean_is_the_closed_form(res, correction, factor):
    """Unequal clusters (2, 3, 2 rows); Stata's factor G/(G-1) = 3/2."""
    out = res.with_cov("cluster", groups=LABELS, cov_options={"correction": correction})
    np.testing.assert_allclose(out.bse["mu"], closed_form_cluster_se(LABELS, factor), rtol=1e-12)


@pytest.mark.parametrize("groups", [
    LABELS,
    np.array(LABELS),
    pd.Series(LABELS, index=[6, 5, 4, 3, 2, 1, 0]),  # labels are taken by position, not by index
    pd.Categorical(LABELS),
    [1.5, 1.5, 0.5, 0.5, 0.5, 2.5, 2.5],
    (7, 7, 3, 3, 3, 9, 9),
], ids=["list", "ndarray", "series", "categorical", "floats", "tuple"])
def test_any_labelling_of_the_same_partition_gives_the_same_covariance(res, groups):
    """Only the partition matters (closed form), and codes follow the sorted labels."""
    out = res.with_cov("cluster", groups=groups)
    np.testing.assert_allclose(out.bse["mu"], closed_form_cluster_se(LABELS, 1.5), rtol=1e-12)
    assert out.groups.tolist() == [1, 1, 0, 0, 0, 2, 2]
    assert "Covariance:     cluster (groups: 3)" in str(out)


def test_a_column_of_labels_shaped_n_by_1_is_refused(res):
    with pytest.raises(CovarianceError, match=r"(?s)wrong shape.*\(7,\).*\(7, 1\)"):
        res.with_cov("cluster", groups=np.array(LABELS)[:, None])


def test_none_labels_are_missing(res):
    with pytest.raises(CovarianceError, match="first at row 2"):
        res.with_cov("cluster", groups=["b", "b", None, "a", "a", "c", "c"])


def test_blockwise_meat_with_a_lookup_table_in_the_data():
    """Row blocks of the meat pass non-row leaves (a table of cluster effects) whole; the result is
    S'S and C'C of the full score matrix, for blocks that split clusters."""
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(5), [4, 9, 2, 7, 8])
    y = rng.normal(size=30) + g

    def loglike(p, d):
        effect = d["table"][d["g"].astype(jnp.int32)]
        return -0.5 * (d["y"] - p["mu"] - p["slope"] * effect) ** 2

    model = hs.Model(loglike, {"mu": 0.0, "slope": 0.0}, {"y": y, "g": g.astype(float), "table": np.arange(5.0) * 0.5})
    theta = np.array([0.3, 1.1])
    S = model.scores(theta)
    C = np.vstack([S[g == c].sum(0) for c in range(5)])
    np.testing.assert_allclose(score_meat(model, theta, chunk_rows=4), S.T @ S, rtol=1e-12)
    np.testing.assert_allclose(score_meat(model, theta, g, chunk_rows=4), C.T @ C, rtol=1e-12)
