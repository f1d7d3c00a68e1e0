"""Bad input to the core (issue 2 item 7) and the float64 policy (item 3)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import hessstats as hs
from hessstats.errors import DataError, PrecisionWarning, SpecificationError


def normal_ll(p, d):
    return -0.5 * ((d["y"] - p["mu"]) / p["sigma"]) ** 2 - jnp.log(p["sigma"])


START = {"mu": 0.0, "sigma": 1.0}


@pytest.mark.parametrize("bad, pattern", [
    (np.array([1.0, np.nan, 2.0]), "(?s)non-finite.*1 NaN"),
    (np.array([1.0, np.inf, 2.0]), "(?s)non-finite.*1 inf"),
    (np.array(["a", "b", "c"]), "not numeric"),
    (np.array([1.0, None, 2.0], dtype=object), "not numeric"),
])
def test_bad_data_values(bad, pattern):
    with pytest.raises(DataError, match=pattern) as info:
        hs.fit(normal_ll, START, {"y": bad})
    assert "expected:" in str(info.value) and "fix:" in str(info.value)


def test_dataframe_with_missing_and_categorical_columns():
    df = pd.DataFrame({"y": [1.0, None, 3.0]})
    with pytest.raises(DataError, match="(?s)'y'.*missing.*1 missing of 3"):
        hs.fit(normal_ll, START, df)
    cat = pd.DataFrame({"y": [1.0, 2.0, 3.0], "g": pd.Categorical(["a", "b", "a"])})
    with pytest.raises(DataError, match="(?s)'g'.*not numeric"):
        hs.fit(normal_ll, START, cat)


def test_dataframe_data_is_accepted_as_columns():
    df = pd.DataFrame({"y": [1.0, 2.0, 4.0]})
    res = hs.fit(normal_ll, START, df)
    np.testing.assert_allclose(res.params["mu"], 7.0 / 3.0, rtol=1e-12)


def test_wrong_output_shape():
    with pytest.raises(SpecificationError, match=r"(?s)wrong shape.*\(3, 1\)"):
        hs.fit(lambda p, d: normal_ll(p, d)[:, None], START, {"y": np.ones(3)})


def test_wrong_output_kind():
    with pytest.raises(SpecificationError, match="wrong kind"):
        hs.fit(lambda p, d: (d["y"] > p["mu"]), START, {"y": np.ones(3)})


def test_loglike_that_fails_on_start():
    with pytest.raises(SpecificationError, match="KeyError"):
        hs.fit(lambda p, d: d["missing"] * p["mu"], START, {"y": np.ones(3)})
    with pytest.raises(SpecificationError, match="not callable"):
        hs.fit("not a function", START, {"y": np.ones(3)})


def test_non_finite_at_start_names_observations():
    with pytest.raises(SpecificationError, match=r"(?s)not finite at the start.*observations \[0, 1, 2\]"):
        hs.fit(normal_ll, {"mu": 0.0, "sigma": -1.0}, {"y": np.array([1.0, 2.0, 3.0])})


def test_start_and_names_mismatch():
    with pytest.raises(SpecificationError, match=r"names\['beta'\] has the wrong length"):
        hs.Model(lambda p, d: -jnp.sum(p["beta"] ** 2), {"beta": np.zeros(3)}, names={"beta": ["a", "b"]})
    with pytest.raises(SpecificationError, match="unknown keys"):
        hs.Model(lambda p, d: -jnp.sum(p["beta"] ** 2), {"beta": np.zeros(2)}, names={"gamma": ["a", "b"]})
    with pytest.raises(SpecificationError, match="not unique"):
        hs.Model(lambda p, d: -jnp.sum(p["beta"] ** 2), {"beta": np.zeros(2)}, names={"beta": ["a", "a"]})
    with pytest.raises(SpecificationError, match="not finite"):
        hs.Model(lambda p, d: -jnp.sum(p["beta"] ** 2), {"beta": np.array([0.0, np.nan])})


def test_callers_arrays_are_not_modified():
    X = np.random.default_rng(1).normal(size=(50, 2))
    y = X @ [1.0, 2.0] + np.random.default_rng(2).normal(size=50)
    data = {"X": X, "y": y}
    start = {"beta": np.zeros(2), "sigma": np.float64(1.0)}
    copies = {k: v.copy() for k, v in data.items()}, start["beta"].copy()

    def ll(p, d):
        return -0.5 * ((d["y"] - d["X"] @ p["beta"]) / p["sigma"]) ** 2 - jnp.log(p["sigma"])

    res = hs.fit(ll, start, data)
    assert res.converged
    for k in data:
        np.testing.assert_array_equal(data[k], copies[0][k])
    np.testing.assert_array_equal(start["beta"], copies[1])
    assert set(data) == {"X", "y"}


def test_float32_constant_captured_is_reported():
    scale = jnp.asarray(np.array([1.1, 1.1, 1.1]), dtype=jnp.float32)

    def ll(p, d):
        return normal_ll(p, d) * scale

    with pytest.warns(PrecisionWarning, match="captured constant"):
        hs.Model(ll, START, {"y": np.array([1.0, 2.0, 4.0])})


def test_float32_data_is_reported():
    with pytest.warns(PrecisionWarning, match="float32"):
        hs.Model(normal_ll, START, {"y": np.array([1.0, 2.0, 4.0], dtype=np.float32)})


def test_global_x64_flag_is_left_alone():
    before = jax.config.jax_enable_x64
    hs.fit(normal_ll, START, {"y": np.array([1.0, 2.0, 4.0])})
    assert jax.config.jax_enable_x64 == before


FRESH = textwrap.dedent("""
    import numpy as np, jax, jax.numpy as jnp, pandas as pd, statsmodels.api as sm
    import hessstats as hs
    assert not jax.config.jax_enable_x64          # the user never touched the flag
    assert jnp.ones(1).dtype == jnp.float32       # ... and JAX defaults to float32
    df = pd.read_csv("data/spector.csv")
    X = np.column_stack([df[["GPA", "TUCE", "PSI"]].to_numpy(), np.ones(len(df))])
    y = df["GRADE"].to_numpy()
    def ll(p, d):
        eta = d["X"] @ p["beta"]
        return d["y"] * eta - jnp.logaddexp(0.0, eta)
    res = hs.fit(ll, {"beta": jnp.zeros(4)}, {"X": X, "y": y})   # start created as float32
    ref = sm.Logit(y, X).fit(disp=0, method="newton", tol=1e-12)
    assert res.params.dtype == np.float64 and res.bse.dtype == np.float64
    assert res.hessian_array.dtype == np.float64
    np.testing.assert_allclose(res.bse.to_numpy(), ref.bse, rtol=1e-8)
    np.testing.assert_allclose(res.params.to_numpy(), ref.params, rtol=1e-8)
    assert hs.hessian(lambda v: jnp.sum(v ** 3) / 3.0, [1.0 + 1e-9]).dtype == np.float64
    np.testing.assert_allclose(hs.hessian(lambda v: jnp.sum(v ** 3) / 3.0, [1.0 + 1e-9])[0, 0], 2.0 + 2e-9, rtol=1e-15)
    assert not jax.config.jax_enable_x64          # still untouched afterwards
    print("OK")
""")


def test_float64_in_a_fresh_process_that_never_enabled_x64():
    """Parity to 1e-8 with statsmodels needs float64; float32 would be ~1e-6 off (DESIGN.md §4)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", FRESH], cwd=root, capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "JAX_ENABLE_X64": "0"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("OK")


# ----------------------------------------------------------------------------- layout issue: Model as a value

def test_model_replace_returns_a_new_value_and_refuses_unknown_fields():
    """Model.replace copies (dataclasses.replace semantics, no re-validation); the original is unchanged."""
    m = hs.Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 3.0]))
    renamed = m.replace(description={"model": "renamed"})
    assert renamed.description == {"model": "renamed"} and m.description == {}
    assert type(renamed) is type(m) and renamed.names == m.names
    with pytest.raises(SpecificationError, match="unknown fields"):
        m.replace(colour="red")


def test_fit_start_is_validated_like_model_start():
    """A start pytree with a missing key is a typed error, not a raw JAX TypeError."""
    def loglike(p, d):
        return -0.5 * ((d - p["mu"]) / p["sigma"]) ** 2 - jnp.log(p["sigma"])

    m = hs.Model(loglike, {"mu": 0.0, "sigma": 1.0}, data=np.array([1.0, 2.0, 4.0]))
    with pytest.raises(SpecificationError, match="parameter structure"):
        m.fit(start={"mu": 1.0})
    with pytest.raises(SpecificationError, match="non-finite"):
        m.fit(start={"mu": np.nan, "sigma": 1.0})
    assert m.fit(start={"mu": 2.0, "sigma": 1.5}).converged
