"""Post-estimation defaults a model declares (hessstats.inference.defaults.PostEstimationDefaults):
what ``lr_test_null()``, ``margins()`` and ``transformed()`` use when called without arguments.

References: the same calls with the arguments spelled out, and closed forms for the normal linear
model with unit variance, ``y = a + b x + e``: LR statistic of ``b = 0`` equals
``SSR(null) - SSR(full)`` and the average marginal effect of ``x`` on ``a + b x`` is ``b``.
Covered elsewhere: the built-in models' defaults against statsmodels (inference/test_margins_builtin,
models/*), a model without a null (inference/test_hypothesis).
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

import hessstats as hs
from hessstats.inference.defaults import PostEstimationDefaults

RNG = np.random.default_rng(8)
X = RNG.normal(size=40)
Y = 0.5 + 0.3 * X + RNG.normal(size=40)
DATA = {"x": X, "y": Y}


def loglike(p, d):
    return -0.5 * (d["y"] - p["a"] - p["b"] * d["x"]) ** 2


def predict(p, d):
    return p["a"] + p["b"] * d["x"]


DEFAULTS = PostEstimationDefaults(null={"b": 0.0}, predict=predict, margins_variables={"x": "x"},
                                  transforms={"b2": lambda p: p["b"] * 2.0})


@pytest.fixture(scope="module")
def res():
    return hs.Model(loglike, {"a": 0.0, "b": 0.0}, DATA, defaults=DEFAULTS).fit()


def test_defaults_are_a_frozen_value_with_empty_defaults():
    empty = PostEstimationDefaults()
    assert empty.null is None and empty.predict is None and empty.margins_variables is None
    assert dict(empty.transforms) == {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        empty.null = {"b": 0.0}


def test_lr_test_null_uses_the_declared_null(res):
    """LR = SSR(null) - SSR(full) with unit variance (closed form), df = 1."""
    out = res.lr_test_null()
    ssr_full = np.sum((Y - np.polyval(np.polyfit(X, Y, 1), X)) ** 2)
    ssr_null = np.sum((Y - Y.mean()) ** 2)
    np.testing.assert_allclose(out.statistic, ssr_null - ssr_full, rtol=1e-10)
    assert out.df == 1
    np.testing.assert_allclose(res.lr_test_null({"b": 0.0}).statistic, out.statistic, rtol=1e-13)


def test_margins_use_the_declared_prediction_and_variables(res):
    """dy/dx of a + b x is b, with se(b) (closed form); equal to the explicit call."""
    out = res.margins()
    np.testing.assert_allclose(out.loc["x", ["coef", "std_err"]].to_numpy(float), [res.params["b"], res.bse["b"]],
                               rtol=1e-12)
    explicit = res.margins(predict, {"x": "x"})
    np.testing.assert_allclose(explicit.to_numpy(float), out.to_numpy(float), rtol=1e-13)


def test_transforms_keyword_merges_into_the_declared_transforms():
    """transforms= adds to defaults.transforms and wins on a shared name; the defaults value is unchanged."""
    model = hs.Model(loglike, {"a": 0.0, "b": 0.0}, DATA, defaults=DEFAULTS,
                     transforms={"b2": lambda p: p["b"] * 3.0, "ea": lambda p: jnp.exp(p["a"])})
    out = model.fit().transformed()
    assert list(out.index) == ["b2", "ea"]
    np.testing.assert_allclose(out.loc["b2", "coef"], 3.0 * model.fit().params["b"], rtol=1e-12)
    assert list(DEFAULTS.transforms) == ["b2"]
