"""Integer data used as indices: codes out of range are refused, not clamped, wrapped or dropped.

JAX's behaviour that the check guards against (shown in ``test_jax_does_not_check``): ``a[g]``
clamps a code past the end to the last entry and counts -1 from the end; ``.at[g].add`` drops the
row. References: statsmodels' ``Logit`` on dummy columns (live) for the fits with valid codes;
the codes themselves (constructed) for the errors.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import hessstats as hs
from hessstats._config import x64
from hessstats.core import indices
from hessstats.core.indices import check_indices
from hessstats.errors import DataError

G = 4
RNG = np.random.default_rng(11)
N = 300
CODES = RNG.integers(0, G, N)
X = RNG.normal(size=N)
Y = (0.5 * X + np.array([-1.0, 0.0, 0.5, 1.0])[CODES] + RNG.logistic(size=N) > 0).astype(float)


def _group_logit(p, d):
    eta = d["x"] * p["b"] + p["a"][d["g"]]
    return d["y"] * eta - hs.softplus(eta)


def _fit(codes, loglike=_group_logit, start=None):
    return hs.fit(loglike, start or {"b": 0.0, "a": np.zeros(G)}, {"x": X, "y": Y, "g": hs.index_array(codes)})


def test_jax_does_not_check():
    """The hazard itself: a code past the end reads the last entry, -1 reads the last entry, a scatter drops."""
    a = jnp.arange(4.0)
    assert float(a[jnp.array([7])][0]) == pytest.approx(3.0)
    assert float(a[jnp.array([-1])][0]) == pytest.approx(3.0)
    assert float(jnp.zeros(4).at[jnp.array([9])].add(1.0).sum()) == pytest.approx(0.0)


def test_valid_codes_fit_as_statsmodels_dummies():
    res = _fit(CODES)
    ref = sm.Logit(Y, np.column_stack([X, np.eye(G)[CODES]])).fit(disp=0)
    order = [G, *range(G)]  # hessstats sorts the keys: a[0..3], then b
    np.testing.assert_allclose(res.params.to_numpy()[order], ref.params, rtol=1e-8)
    np.testing.assert_allclose(res.bse.to_numpy()[order], ref.bse, rtol=1e-8)


def test_code_past_the_end_is_refused():
    codes = CODES.copy()
    codes[[3, 8]] = G  # one level more than the parameter has: JAX would fold it into level G - 1
    with pytest.raises(DataError, match="out of range") as info:
        _fit(codes)
    text = str(info.value)
    assert "'g'" in text and "2 value(s)" in text and "rows [3, 8]" in text and "codes 0..3" in text


def test_missing_category_code_is_refused():
    """pandas marks a missing category with -1: JAX would count it from the end (the last level)."""
    labels = pd.Series(np.array(["a", "b", "c", "d"], dtype=object)[CODES])
    labels[[0, 5]] = None
    codes, _ = pd.factorize(labels)
    assert (codes == -1).sum() == 2
    with pytest.raises(DataError, match="missing value") as info:
        _fit(codes)
    assert "from -1 to -1" in str(info.value)


def test_computed_codes_are_checked_before_negative_wrapping():
    """1-based codes shifted in the function: a 0 among them becomes -1, which is refused."""
    def one_based(p, d):
        eta = d["x"] * p["b"] + p["a"][d["g"] - 1]
        return d["y"] * eta - hs.softplus(eta)

    assert _fit(CODES + 1, one_based).converged
    with pytest.raises(DataError, match="out of range"):
        _fit(CODES, one_based)


def test_scatter_sum_that_would_drop_rows_is_refused():
    def conditional(p, d):  # a conditional-logit-style group sum
        eta = d["x"] * p["b"]
        total = jnp.zeros(G).at[d["g"]].add(jnp.exp(eta))
        return d["y"] * eta - jnp.log(total[d["g"]])

    assert _fit(CODES, conditional, {"b": 0.0}).converged
    codes = CODES.copy()
    codes[10] = G + 3
    with pytest.raises(DataError, match="rows \\[10\\]"):
        _fit(codes, conditional, {"b": 0.0})


def test_clamping_asked_for_is_allowed():
    def clipped(p, d):
        eta = d["x"] * p["b"] + jnp.take(p["a"], d["g"], mode="clip")
        return d["y"] * eta - hs.softplus(eta)

    codes = CODES.copy()
    codes[0] = G
    assert _fit(codes, clipped).converged


def test_codes_masked_by_a_fill_gather_are_allowed():
    """Codes of -1 that the function masks, reading them with mode="fill": no error, and the fit is the
    one without a group effect for those rows. Reference: statsmodels' Logit on dummy columns whose
    masked rows are all zero (live)."""
    def masked(p, d):
        effect = p["a"].at[d["g"]].get(mode="fill", fill_value=0.0)
        eta = d["x"] * p["b"] + jnp.where(d["g"] >= 0, effect, 0.0)
        return d["y"] * eta - hs.softplus(eta)

    codes = CODES.copy()
    codes[:20] = -1
    res = _fit(codes, masked)
    dummies = np.eye(G)[CODES]
    dummies[:20] = 0.0
    ref = sm.Logit(Y, np.column_stack([X, dummies])).fit(disp=0)
    order = [G, *range(G)]
    np.testing.assert_allclose(res.params.to_numpy()[order], ref.params, rtol=1e-8)
    np.testing.assert_allclose(res.bse.to_numpy()[order], ref.bse, rtol=1e-8)


def test_two_axes_and_codes_too_wide_for_int32():
    h = RNG.integers(0, 2, N)

    def cells(p, d):
        eta = d["x"] * p["b"] + p["A"][d["g"], d["h"]]
        return d["y"] * eta - hs.softplus(eta)

    def fit(g, hh):
        return hs.fit(cells, {"b": 0.0, "A": np.zeros((G, 2))},
                      {"x": X, "y": Y, "g": hs.index_array(g), "h": hs.index_array(hh)})

    assert fit(CODES, h).converged
    bad = h.copy()
    bad[7] = 2
    with pytest.raises(DataError, match="codes 0..3 x 0..1") as info:
        fit(CODES, bad)
    assert "'g' and 'h'" in str(info.value)
    wide = CODES.astype(np.int64)
    wide[0] = 2**32 + 1  # would wrap to 1 in JAX's int32 indices
    with pytest.raises(DataError, match="does not fit the index type"):
        fit(wide, h)


def test_random_effect_codes_are_checked():
    def joint(p, d):
        eta = d["x"] * p["b"] + p["c"] + p["u"][d["g"]] * jnp.exp(p["log_sd"])
        return jnp.sum(d["y"] * eta - hs.softplus(eta)) - 0.5 * jnp.sum(p["u"] ** 2)

    codes = CODES.copy()
    codes[4] = -1
    with pytest.raises(DataError, match="out of range"):
        hs.fit(joint, {"b": 0.0, "c": 0.0, "log_sd": 0.0, "u": np.zeros(G)},
               {"x": X, "y": Y, "g": hs.index_array(codes)}, random=["u"])


def test_indices_from_parameters_are_not_evaluated():
    """An index computed from the parameters is unknown before the fit: nothing to check, no error."""
    with x64():
        closed = jax.make_jaxpr(lambda p, d: p[jnp.argmax(p)] * d)(jnp.zeros(3), jnp.ones(2))
    check_indices(closed, np.ones(2))


def test_user_data_not_modified():
    codes = CODES.copy()
    codes[1] = -1
    before = codes.copy()
    with pytest.raises(DataError):
        _fit(codes)
    np.testing.assert_array_equal(codes, before)


def test_a_program_the_check_cannot_read_is_not_refused(monkeypatch):
    """The check guards; it never blocks a model on its own failure (here: reading the program fails)."""
    def unreadable(closed):
        raise RuntimeError("simulated")

    monkeypatch.setattr(indices, "_Flat", unreadable)
    assert _fit(CODES).converged


# --------------------------------------------------------------------------- row sources: every block
# A model on a row source is built on the source's first rows; the other rows arrive block by block
# while it fits. Reference: the group means of a normal model (closed form: the MLE of a[g] is the
# mean of y in group g) and the codes themselves (constructed).

def _normal_by_group(p, d):
    return -0.5 * (d["y"] - p["a"][d["g"].astype(jnp.int32)]) ** 2


def _parquet(tmp_path, codes, y):
    path = tmp_path / "codes.parquet"
    pd.DataFrame({"y": y, "g": codes}).to_parquet(path, row_group_size=100)
    return hs.ParquetSource(str(path), {"y": "y", "g": "g"})


def test_row_source_codes_in_range_fit_the_group_means(tmp_path):
    y = RNG.normal(size=N) + CODES
    res = hs.fit(_normal_by_group, {"a": np.zeros(G)}, _parquet(tmp_path, CODES, y), chunk_size=128)
    means = [y[CODES == g].mean() for g in range(G)]
    np.testing.assert_allclose(res.params.to_numpy(), means, rtol=1e-10)


@pytest.mark.parametrize("bad", [7, -1])
def test_row_source_code_out_of_range_past_the_first_block_is_refused(tmp_path, bad):
    codes = CODES.copy()
    codes[300 - 1] = bad  # row 299: the third block of 128 rows, far past the 64 rows the model is built on
    y = RNG.normal(size=N)
    model = hs.Model(_normal_by_group, {"a": np.zeros(G)}, _parquet(tmp_path, codes, y), chunk_size=128)
    with pytest.raises(DataError, match="out of range") as info:
        model.fit()
    text = str(info.value)
    assert "data 'g'" in text and f"from {bad} to {bad}" in text and "rows [43]" in text and "row source" in text


def test_row_source_check_reads_only_user_programs(tmp_path):
    # a log-likelihood without data-derived indices gets no per-block check at all
    y = RNG.normal(size=N)
    model = hs.Model(lambda p, d: -0.5 * (d["y"] - p["mu"]) ** 2, {"mu": 0.0}, _parquet(tmp_path, CODES, y),
                     chunk_size=128)
    fn = lambda data, weights: 0.0
    assert indices.with_block_codes(model, fn) is fn
    coded = hs.Model(_normal_by_group, {"a": np.zeros(G)}, _parquet(tmp_path, CODES, y), chunk_size=128)
    assert indices.with_block_codes(coded, fn) is not fn
