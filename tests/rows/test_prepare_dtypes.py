"""Data dtypes inside the log-likelihood: numbers are float64 (integer arithmetic overflowed
silently), index arrays stay integer, and anything that is not numeric is a typed DataError.

References: closed-form sums of squares (exact in float64), and integer overflow of int32
(70000^2 = 4.9e9 > 2^31).
"""

from __future__ import annotations

import datetime

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import hessstats as hs
from hessstats._config import x64
from hessstats.errors import DataError
from hessstats.rows.prepare import IndexArray, index_array, prepare_data


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint16, np.int8])
def test_integer_columns_are_float64_inside_the_function(dtype):
    """mu_hat = mean(x^2 * 1e-9) (closed form); int32 x^2 overflowed for x = 70000."""
    x = np.array([70000, 100, 2], dtype=dtype) if np.iinfo(dtype).max >= 70000 else np.array([100, 2, 1], dtype=dtype)
    res = hs.fit(lambda p, d: -0.5 * (d["x"] ** 2 * 1e-9 - p["mu"]) ** 2, {"mu": 0.0}, {"x": x})
    np.testing.assert_allclose(res.params["mu"], np.mean(x.astype(np.float64) ** 2 * 1e-9), rtol=1e-12)


def test_booleans_pandas_integers_and_dataframes_become_float64():
    """Every numeric leaf is float64 after preparation, including nullable and DataFrame columns."""
    frame = pd.DataFrame({"a": np.array([1, 2], dtype=np.int32), "b": [True, False],
                          "c": pd.array([3, 4], dtype="Int64")})
    with x64():
        out = prepare_data(frame)
        nested = prepare_data({"t": (np.array([True, False]), [1, 2]), "s": 3})
    assert {str(v.dtype) for v in out.values()} == {"float64"}
    assert {str(v.dtype) for v in jax.tree_util.tree_leaves(nested)} == {"float64"}


def test_index_arrays_keep_their_integer_dtype_for_indexing():
    """Group effects p["a"][g]: the estimate of each group effect is its group mean (closed form)."""
    g = np.array([0, 0, 1, 1, 2, 2])
    y = np.array([1.0, 3.0, 2.0, 4.0, 10.0, 12.0])
    res = hs.fit(lambda p, d: -0.5 * (d["y"] - p["a"][d["g"]]) ** 2, {"a": np.zeros(3)},
                 {"y": y, "g": index_array(g)})
    np.testing.assert_allclose(res.params.to_numpy(), [2.0, 3.0, 11.0], rtol=1e-10)
    assert isinstance(index_array(pd.Series(g)), IndexArray)
    with pytest.raises(DataError, match="integer"):
        index_array([0.5, 1.0])


def test_the_builtin_ordered_model_still_indexes_with_its_codes():
    """Ordered logit codes are index arrays inside the model (Model.data keeps int64)."""
    m = hs.ordered_logit("PID ~ logpopul + age", hs.datasets.load("anes96"))
    assert str(m.data["y"].dtype) == "int64" and str(m.data["X"].dtype) == "float64"


@pytest.mark.parametrize("leaf, match", [
    (jax.random.key(0), "random key"),
    (np.array(["a", "b", "c"]), "strings"),
    (np.array([object(), object(), object()], dtype=object), "Python objects"),
    (np.array(["2020-01-01", "2020-01-02", "2020-01-03"], dtype="datetime64[D]"), "dates"),
    (pd.Series(pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"])), "not numeric"),
    (np.array([1 + 1j, 2, 3]), "complex"),
    ({1.0, 2.0}, "Python objects"),
    (["a", 1.0, 2.0], "strings"),
    ("text", "strings"),
])
def test_non_numeric_leaves_are_typed_data_errors(leaf, match):
    """A PRNG key, strings, objects, dates, complex numbers and ragged lists in the data raised
    raw TypeErrors/ValueErrors (or were mis-converted); each is a DataError naming the leaf."""
    data = {"y": np.arange(3.0), "bad": leaf}
    with pytest.raises(DataError, match=match) as info:
        hs.fit(lambda p, d: -0.5 * (d["y"] - p["mu"]) ** 2, {"mu": 0.0}, data)
    assert "data['bad']" in str(info.value) and "fix:" in str(info.value)


def test_dates_point_to_a_numeric_encoding():
    """The fix for dates names a numeric encoding (reference: the error message contract)."""
    with pytest.raises(DataError, match="days since"):
        with x64():
            prepare_data({"d": np.array([datetime.date(2020, 1, 1)], dtype="datetime64[D]")})


def test_key_data_passed_as_an_index_array_works():
    """The documented route for a key: key_data as an index array, rebuilt inside (uint32 kept)."""
    key = index_array(np.asarray(jax.random.key_data(jax.random.key(1))))
    with x64():
        out = prepare_data({"k": key})
    assert str(out["k"].dtype) == "uint32"
    res = hs.fit(lambda p, d: -0.5 * (d["y"] - p["mu"] + 0.0 * jnp.sum(d["k"])) ** 2, {"mu": 0.0},
                 {"y": np.array([1.0, 3.0]), "k": key})
    np.testing.assert_allclose(res.params["mu"], 2.0, rtol=1e-12)
