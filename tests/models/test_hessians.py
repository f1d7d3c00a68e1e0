"""Every built-in likelihood's exact derivatives against finite differences (issue 4).

DESIGN.md's JAX pitfalls (inf in an unused ``jnp.where`` branch, special functions without
higher derivatives) show up as a wrong or NaN AD Hessian. For each validation case we check, at a
point displaced from the MLE (so the gradient is not ~0): the AD gradient against central
differences of the log-likelihood, and the AD Hessian against central differences of the AD
gradient (step 1e-4 standard errors: truncation ~1e-8 relative, rounding ~eps |llf| / 1e-4).
numdifftools (adaptive Richardson extrapolation, an independent implementation) checks the full
Hessian of the small models.
"""

from __future__ import annotations

import numdifftools as nd
import numpy as np
import pytest

import hessstats as hs
from hessstats.crosscheck.cases import CASES

IDS = [c.key for c in CASES]


@pytest.fixture(scope="module")
def fits() -> dict:
    """Each validation case fitted once per module (both tests below use the same fit), by key."""
    return {}


def _fit(fits: dict, case):
    if case.key not in fits:
        df = hs.datasets.load(case.dataset)
        fits[case.key] = hs.from_formula(case.model, case.formula, df, **case.options).fit()
    return fits[case.key]


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def fitted(request, fits):
    return _fit(fits, request.param)


def _point(res) -> np.ndarray:
    """The MLE moved by a quarter standard error in alternating directions (inside the parameter space)."""
    signs = np.where(np.arange(res.k_params) % 2 == 0, 1.0, -1.0)
    return res.theta + 0.25 * signs * res.bse.to_numpy()


def test_gradient_and_hessian_match_central_differences(fitted):
    model, theta = fitted.model, _point(fitted)
    value, grad, hess = model.evaluate(theta)
    assert np.isfinite(value) and np.all(np.isfinite(hess))
    steps = 1e-4 * fitted.bse.to_numpy()  # in standard-error units the log-likelihood is ~unit-curvature
    fd_grad, fd_hess = np.empty_like(grad), np.empty_like(hess)
    for j, h in enumerate(steps):
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        (f_up, g_up, _), (f_down, g_down, _) = model.evaluate(up), model.evaluate(down)
        fd_grad[j] = (f_up - f_down) / (2 * h)
        fd_hess[:, j] = (g_up - g_down) / (2 * h)
    np.testing.assert_allclose(grad, fd_grad, rtol=1e-5, atol=1e-6 * np.abs(grad).max())
    if fitted.model.description.get("information") == "fisher":  # Firth: -I(b) by design (tests/models/test_firth.py)
        return
    np.testing.assert_allclose(hess, fd_hess, rtol=1e-6, atol=1e-7 * np.abs(hess).max())


@pytest.mark.parametrize("key", ["logit_spector", "ordered_probit_anes96", "weibull_heart", "tobit_fair"])
def test_hessian_matches_numdifftools(key, fits):
    """numdifftools' adaptive central-difference Hessian of the summed log-likelihood."""
    res = _fit(fits, next(c for c in CASES if c.key == key))
    model = res.model
    f = lambda t: float(np.sum(model.loglike_obs(t)))  # noqa: E731
    fd = nd.Hessian(f)(res.theta)
    np.testing.assert_allclose(res.hessian_array, fd, rtol=1e-6, atol=1e-8 * np.abs(fd).max())
