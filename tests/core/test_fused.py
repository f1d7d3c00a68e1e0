"""The one-call fit (hessstats.core.fused): the host trust-region iteration's full-Newton path in one kernel.

References: the host iteration of hessstats.core.optimize (the same decisions, so the same optimum,
iteration and evaluation counts), statsmodels' Logit (live) for the estimates and standard errors, and
closed-form mathematics for the hand-back cases (a start where the information is indefinite).
"""

from __future__ import annotations

import time

import jax.numpy as jnp
import numpy as np
import pytest

import hessstats as hs
from hessstats.core import fused, optimize
from hessstats.core.compilation import compile_totals, trace_count
from hessstats.models.binary import logit_model


def _data(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=(n, 3)), np.ones(n)])
    y = (X @ np.array([0.5, -0.4, 0.3, 0.1]) + rng.logistic(size=n) > 0).astype(float)
    return y, X


def _host(monkeypatch, model, **kwargs):
    """The same fit with the one-call kernel switched off."""
    with monkeypatch.context() as patch:
        patch.setattr(fused, "fit", lambda *args: None)
        return model.fit(**kwargs)


@pytest.fixture(autouse=True)
def _one_call_from_the_first_fit(monkeypatch):
    """The tests below take the one-call path from the first fit (no host seconds needed first);
    tests/core/test_fused.py::test_break_even_* check the default policy."""
    monkeypatch.setattr(fused, "SWITCH_AFTER_SECONDS", 0.0)


def _fused(model, **kwargs):
    """A fit by the one-call kernel (where it converges by full Newton steps)."""
    return model.fit(**kwargs)


def test_constants_are_the_optimizers():
    """The kernel's stopping and acceptance constants are those of the host iteration (one home:
    hessstats.core.stopping)."""
    names = ("NEGLIGIBLE_DECREMENT", "ROUNDING_DECREMENT", "ACCEPT", "POLISH_SHRINK", "MIN_RADIUS", "MAX_RADIUS_GROWTH")
    assert all(getattr(fused, n) is getattr(optimize, n) for n in names)


def test_one_call_fit_equals_the_host_iteration(monkeypatch):
    """Same optimum (1e-12), standard errors (1e-10), iterations and evaluations as the host iteration
    (reference: optimize._trust_region on the same model); statsmodels Logit agrees to 1e-8."""
    sm = pytest.importorskip("statsmodels.api")
    y, X = _data()
    model = logit_model(y, X)
    before = trace_count("newton_fit")
    host = _host(monkeypatch, model)
    quick = _fused(model)
    assert trace_count("newton_fit") <= before + 1  # compiled at most once (not per fit)
    quick_fit = fused.fit(model, model.start, 100, None)  # what model.fit ran (built-ins: no mean check)
    assert quick_fit is not None and quick_fit.status is fused.FusedStatus.CONVERGED  # it ran in one call
    np.testing.assert_allclose(quick.params, host.params, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(quick.bse, host.bse, rtol=1e-10)
    with monkeypatch.context() as patch:
        patch.setattr(fused, "fit", lambda *args: None)
        host_opt = optimize.maximize(model, model.start)
    assert quick.iterations == host.iterations == quick_fit.iterations
    assert quick_fit.evaluations == host_opt.evaluations
    assert abs(quick.llf - host.llf) <= 1e-12 * abs(host.llf)
    assert quick.converged
    ref = sm.Logit(y, X).fit(method="newton", disp=0)
    np.testing.assert_allclose(quick.params, ref.params, rtol=1e-8)
    np.testing.assert_allclose(quick.bse, ref.bse, rtol=1e-8)


def test_no_recompile_for_new_data_of_the_same_shape():
    """A new model of the same bucket size reuses the compiled one-call kernel (compile counter)."""
    y, X = _data(200, seed=1)
    _fused(logit_model(y, X))
    before = trace_count("newton_fit")
    y2, X2 = _data(230, seed=2)  # 200 and 230 rows share the 256-row bucket
    res = _fused(logit_model(y2, X2))
    assert trace_count("newton_fit") == before
    assert res.converged and res.nobs == 230


def test_mean_check_runs_inside_the_kernel():
    """The scores' squares come from the kernel: a mean log-likelihood still warns (closed form: the
    OPG / information ratio of a mean is 1/n)."""
    rng = np.random.default_rng(3)
    data = rng.normal(size=200)

    def mean_loglike(p, d):
        return -0.5 * (d - p["mu"]) ** 2 / d.shape[0]

    model = hs.Model(mean_loglike, {"mu": 0.0}, data)
    assert optimize.maximize(model, model.start, score_positions=np.array([0])).score_squares is not None
    with pytest.warns(hs.errors.SpecificationWarning, match="looks like a mean"):
        model.fit()


def test_indefinite_start_is_handed_back(monkeypatch):
    """A start where the information is indefinite (loglike -(mu^2 - 1)^2 at mu = 0.1: curvature
    +4 - 12 mu^2 > 0) is handed back; the host trust region finds the maximum mu = +-1 (closed form)."""
    def loglike(p, d):
        return -((p["mu"] ** 2 - 1.0) ** 2) * d

    model = hs.Model(loglike, {"mu": 0.1}, np.ones(50) / 50)
    quick = fused.fit(model, model.start, 100, None)
    assert quick is not None and quick.status is fused.FusedStatus.HANDED_BACK
    res = _fused(model)
    assert res.converged
    np.testing.assert_allclose(abs(res.params["mu"]), 1.0, rtol=1e-10)
    np.testing.assert_allclose(res.params, _host(monkeypatch, model).params, rtol=1e-12)


def test_non_finite_start_still_names_the_problem():
    """A start outside the parameter space is handed back and check_start raises as before."""
    def loglike(p, d):
        return -0.5 * (d / p["sigma"]) ** 2 - jnp.log(p["sigma"])

    model = hs.Model(loglike, {"sigma": -1.0}, np.arange(1.0, 40.0))
    with pytest.raises(hs.errors.SpecificationError, match="not finite at the start"):
        model.fit()


def test_iteration_limit_is_the_hosts(monkeypatch):
    """maxiter=1 cannot converge: the kernel hands back and the host iteration reports the limit."""
    y, X = _data(150, seed=4)
    model = logit_model(y, X)
    with pytest.warns(hs.errors.ConvergenceWarning):
        host = _host(monkeypatch, model, maxiter=1)
    with pytest.warns(hs.errors.ConvergenceWarning):
        res = model.fit(maxiter=1)
    assert res.iterations == host.iterations == 1
    np.testing.assert_allclose(res.params, host.params, rtol=1e-12)


def test_large_models_keep_the_host_iteration():
    """Above FUSED_MAX_CELLS rows x k^2 there is no one-call kernel (arithmetic dominates there)."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(10, 70))
    model = hs.Model(lambda p, d: -0.5 * (d @ p["b"]) ** 2, {"b": np.zeros(70)}, X)
    assert fused.kernel_for(model) is None


def test_index_models_fit_in_one_call_with_the_same_answer(monkeypatch):
    """A logit large enough for the index Hessian (X' diag(w) X) runs it inside the one-call kernel;
    estimates and SEs equal the host iteration's (host BLAS Hessian) to rounding, and statsmodels'."""
    sm = pytest.importorskip("statsmodels.api")
    from hessstats.models import index

    y, X = _data(600, seed=6)
    X = np.column_stack([X, np.random.default_rng(7).normal(size=(600, 16))])  # k = 20: 600 * 400 cells
    model = logit_model(y, X)
    assert isinstance(model.index, index.IndexHessian)
    assert fused.kernel_for(model)[0] is index.value_grad_hess_traced
    host = _host(monkeypatch, model)
    quick = _fused(model)
    assert fused.fit(model, model.start, 100, None).status is fused.FusedStatus.CONVERGED  # in one call
    np.testing.assert_allclose(quick.params, host.params, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(quick.bse, host.bse, rtol=1e-10)
    ref = sm.Logit(y, X).fit(method="newton", disp=0, tol=1e-12)
    np.testing.assert_allclose(quick.bse, ref.bse, rtol=1e-8)


def test_weighted_models_fit_in_one_call_with_the_hosts_answer(monkeypatch):
    """Frequency weights reach the one-call kernel as the kernel rows' weights: the same estimates and
    SEs as the host iteration (itself checked against statsmodels in tests/rows/test_weights.py), and
    the same as the data with each row repeated w times (closed form of frequency weights)."""
    y, X = _data(120, seed=8)
    w = np.random.default_rng(9).integers(1, 4, size=120)
    model = logit_model(y, X, weights=w, weight_type="frequency")
    assert fused.kernel_for(model) is not None
    host = _host(monkeypatch, model)
    quick = _fused(model)
    assert fused.fit(model, model.start, 100, None).status is fused.FusedStatus.CONVERGED  # in one call
    np.testing.assert_allclose(quick.params, host.params, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(quick.bse, host.bse, rtol=1e-10)
    repeated = logit_model(np.repeat(y, w), np.repeat(X, w, axis=0)).fit()
    np.testing.assert_allclose(quick.params, repeated.params, rtol=1e-10)
    np.testing.assert_allclose(quick.bse, repeated.bse, rtol=1e-9)


def test_break_even_keeps_the_host_until_about_one_compile_of_host_time(monkeypatch):
    """Default policy (rent until the rent equals the price): a kernel shape's fits stay on the host
    iteration until they have cost about one compile of the one-call kernel (fused.break_even); the
    seconds counted are the host fits' own, without the compiles they triggered."""
    monkeypatch.setattr(fused, "SWITCH_AFTER_SECONDS", None)
    rng = np.random.default_rng(11)
    data = rng.normal(size=300)
    def loglike(p, d):  # a program no other test compiles
        return -0.5 * (d - p["mu"]) ** 2 - 0.1 * p["mu"] ** 4

    model = hs.Model(loglike, {"mu": 0.0}, data)
    assert fused.fit(model, model.start, 100, None) is None  # nothing spent yet
    started, (_, compiled) = time.perf_counter(), compile_totals()
    model.fit()
    wall, compile_seconds = time.perf_counter() - started, compile_totals()[1] - compiled
    key = fused._key(fused._plan(model), None)
    assert 0 < fused._SPENT[key] <= wall - compile_seconds + 1e-9
    assert fused._SPENT[key] < fused.break_even()
    # as after many host fits of this shape: well past break_even(), which the compile below re-measures (a
    # process's first XLA compile also loads the MLIR dialects, so it can take longer than the 0.5 s guess)
    fused.charge(model, None, 10 * fused.break_even())
    quick = fused.fit(model, model.start, 100, None)
    assert quick is not None and quick.status is fused.FusedStatus.CONVERGED
    other = hs.Model(loglike, {"mu": 0.0}, data[:-20])  # the same kernel shape (300 and 280 rows: bucket 512)
    assert other.program == model.program and fused.fit(other, other.start, 100, None) is not None
