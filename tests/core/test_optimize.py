"""The optimiser's globalisation (closed-form reference: a double-well log-likelihood)."""

from __future__ import annotations

import numpy as np
import pytest

import hessstats as hs
from hessstats.errors import ConvergenceWarning

N = 50


def double_well(p, d):
    """Per observation -(m^2 - 1)^2: maxima at m = +-1 with second derivative -8, so the
    inverse observed information gives se(m) = 1 / sqrt(8 N) there (closed form)."""
    return -((p["m"] ** 2 - 1.0) ** 2) * d


def test_auto_hands_over_to_trust_region_on_negative_curvature():
    # at m = 0.1 the log-likelihood curves upwards: a Newton step would go downhill
    res = hs.fit(double_well, {"m": 0.1}, np.ones(N))
    assert res.converged
    np.testing.assert_allclose(res.params["m"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(res.bse["m"], 1 / np.sqrt(8 * N), rtol=1e-12)


def test_pure_newton_refuses_to_go_downhill():
    with pytest.warns(ConvergenceWarning, match="negative curvature|not converged"):
        res = hs.fit(double_well, {"m": 0.1}, np.ones(N), method="newton")
    assert not res.converged


@pytest.mark.parametrize("method", ["auto", "newton", "trust-exact"])
def test_every_method_reaches_the_same_maximum(method):
    res = hs.fit(double_well, {"m": 1.7}, np.ones(N), method=method)
    assert res.converged
    np.testing.assert_allclose(res.params["m"], 1.0, rtol=1e-12)


def test_unknown_method_is_a_clear_error():
    with pytest.raises(hs.errors.SpecificationError, match="one of .*auto"):
        hs.fit(double_well, {"m": 0.5}, np.ones(N), method="bfgs")
