"""Silent wrong answers (issue 11, "Trust"): each test reproduces a case that gave a wrong number
without an error on the earlier code, and checks the fixed behaviour.

References are closed-form maximum-likelihood results for the normal mean with unit variance:
with weights ``w_i`` (entering as ``-0.5 w_i (y_i - mu)^2``) the estimate is ``sum w y / sum w``,
its standard error ``1 / sqrt(sum w)`` and the LR statistic of ``mu = 0`` is ``(sum w y)^2 / sum w``.
"""

from __future__ import annotations

import functools
import itertools

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import hessstats as hs
from hessstats.core import engine
from hessstats.core.compilation import trace_count
from hessstats.errors import SpecificationError, SpecificationWarning
from hessstats.models.binary import logit_model

N = 100
Y = np.random.default_rng(0).normal(size=N) + np.r_[np.zeros(N // 2), np.full(N // 2, 3.0)]


def weighted(w: np.ndarray, y: np.ndarray = Y) -> tuple[float, float]:
    """Closed form: ``(sum w y / sum w, 1 / sqrt(sum w))``."""
    return float(w @ y / w.sum()), float(1.0 / np.sqrt(w.sum()))


# ----------------------------------------------------------------------------- 1. captured arrays

def test_a_changed_global_array_gives_the_new_answer():
    """Closed form: the weighted mean and 1/sqrt(sum w) for the weights at each fit (the same
    function object fitted twice used to return the first answer twice)."""
    W = np.ones(N)

    def ll(p, d):
        return -0.5 * W * (d - p["mu"]) ** 2

    first = hs.fit(ll, {"mu": 0.0}, Y)
    W[: N // 2] = 0.0
    second = hs.fit(ll, {"mu": 0.0}, Y)
    for res, w in ((first, np.ones(N)), (second, np.r_[np.zeros(N // 2), np.ones(N // 2)])):
        mu, se = weighted(w)
        np.testing.assert_allclose(res.params["mu"], mu, rtol=1e-10)
        np.testing.assert_allclose(res.bse["mu"], se, rtol=1e-10)


def test_changed_captured_values_reuse_the_compiled_kernel():
    """Captured arrays are kernel arguments: new values, same shapes, no new trace (closed form as above)."""
    W = np.ones(N)

    def fresh(p, d):
        return -0.5 * W * (d - p["mu"]) ** 2

    before = trace_count("value_grad_hess")
    hs.fit(fresh, {"mu": 0.0}, Y)
    W[:] = 2.0
    res = hs.fit(fresh, {"mu": 0.0}, Y)
    assert trace_count("value_grad_hess") - before == 1
    np.testing.assert_allclose(res.bse["mu"], 1.0 / np.sqrt(2.0 * N), rtol=1e-10)


def test_a_changed_global_scalar_gives_the_new_answer():
    """Closed form: SE = 1/sqrt(scale * n) for -0.5 * scale * (y - mu)^2, scale a Python global."""
    state = {"scale": 1.0}

    def ll(p, d):
        return -0.5 * state["scale"] * (d - p["mu"]) ** 2

    first = hs.fit(ll, {"mu": 0.0}, Y).bse["mu"]
    state["scale"] = 4.0
    second = hs.fit(ll, {"mu": 0.0}, Y).bse["mu"]
    np.testing.assert_allclose([first, second], [1 / np.sqrt(N), 1 / np.sqrt(4.0 * N)], rtol=1e-10)


def test_a_model_keeps_the_values_it_was_built_with():
    """A model is a value: mutating the captured array after Model() does not change its fit
    (closed form with the weights at construction), for every kernel the result uses."""
    W = np.ones(N)
    model = hs.Model(lambda p, d: -0.5 * W * (d - p["mu"]) ** 2 - 0.5 * (p["b"] - 1.0) ** 2 / N, {"b": 0.0, "mu": 0.0}, Y)
    W[:] = 0.0
    res = model.fit()
    mu, se = weighted(np.ones(N))
    np.testing.assert_allclose([res.params["mu"], res.bse["mu"]], [mu, se], rtol=1e-10)
    np.testing.assert_allclose(res.llf, model.loglike_obs(res.theta).sum(), rtol=1e-12)
    np.testing.assert_allclose(res.with_cov("HC0").bse["mu"], np.sqrt(np.sum((Y - mu) ** 2)) / N, rtol=1e-10)
    np.testing.assert_allclose(res.lr_test_null({"mu": 0.0}).statistic, Y.sum() ** 2 / N, rtol=1e-9)


def test_closures_partials_and_callable_objects_are_read_at_construction():
    """Closed form as above for three ways of capturing the weights."""
    w = np.r_[np.ones(N // 2), np.full(N // 2, 3.0)]

    def base(p, d, weights):
        return -0.5 * weights * (d - p["mu"]) ** 2

    class Weighted:
        def __init__(self, weights):
            self.weights = weights

        def __call__(self, p, d):
            return -0.5 * self.weights * (d - p["mu"]) ** 2

    def make(weights):
        return lambda p, d: base(p, d, weights)

    for fn_of in (make, lambda a: functools.partial(base, weights=a), Weighted):
        arr = w.copy()
        fn = fn_of(arr)
        model = hs.Model(fn, {"mu": 0.0}, Y)
        arr[:] = 1.0  # after construction: ignored by this model
        mu, se = weighted(w)
        res = model.fit()
        np.testing.assert_allclose([res.params["mu"], res.bse["mu"]], [mu, se], rtol=1e-10)
        res2 = hs.fit(fn, {"mu": 0.0}, Y)  # a new model reads the new values
        np.testing.assert_allclose(res2.bse["mu"], 1 / np.sqrt(N), rtol=1e-10)


def test_restricted_fits_and_profiles_use_the_models_values():
    """LR statistic (sum w y)^2 / sum w and the profile interval of a normal mean (closed form:
    mu_hat -/+ z / sqrt(sum w)) with the weights of the model, not the mutated global."""
    W = np.full(N, 2.0)
    res = hs.fit(lambda p, d: -0.5 * W * (d - p["mu"]) ** 2 - 0.5 * (p["b"] - 1.0) ** 2,
                 {"b": 0.0, "mu": 0.0}, Y)
    W[:] = 7.0
    lr = res.lr_test_null({"mu": 0.0})
    np.testing.assert_allclose(lr.statistic, (2.0 * Y.sum()) ** 2 / (2.0 * N), rtol=1e-9)
    before = trace_count()
    prof = res.profile_ci(["mu"])
    middle = trace_count()
    res.profile_ci(["mu"])
    assert trace_count() == middle and middle - before <= 3  # one wrapper kernel shape, reused
    half = 1.959963984540054 / np.sqrt(2.0 * N)
    np.testing.assert_allclose(prof.loc["mu", ["profile_lower", "profile_upper"]].to_numpy(float),
                               [Y.mean() - half, Y.mean() + half], rtol=1e-7)


def test_index_models_use_the_values_captured_at_construction():
    """IndexModel (X'diag(w)X Hessian) and its generic kernels with a captured precision s (a
    (1,) array): closed-form standard errors sqrt(diag(inv(s X'X)))."""
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(size=N), np.ones(N)])
    y = X @ [1.0, 2.0] + rng.normal(size=N)
    S = np.array([4.0])

    def normal(eta, extra, d):
        return -0.5 * S * (d["y"] - eta["beta"]) ** 2

    for index_hessian in (True, False):
        S[:] = 4.0
        model = hs.IndexModel(normal, {"beta": np.zeros(2)}, {"X": X, "y": y}, design={"beta": "X"},
                              index_hessian=index_hessian)
        S[:] = 1.0
        res = model.fit()
        np.testing.assert_allclose(res.bse.to_numpy(), np.sqrt(np.diag(np.linalg.inv(4.0 * X.T @ X))), rtol=1e-10)
        again = hs.IndexModel(normal, {"beta": np.zeros(2)}, {"X": X, "y": y}, design={"beta": "X"},
                              index_hessian=index_hessian).fit()
        np.testing.assert_allclose(again.bse.to_numpy(), np.sqrt(np.diag(np.linalg.inv(X.T @ X))), rtol=1e-10)


def test_impure_functions_are_refused():
    """A function whose two traces differ (numpy random draws, a call counter) is a typed error:
    its kernels would each see a different likelihood (llf and sum(loglike_obs) disagreed)."""
    def noisy(p, d):
        return -0.5 * (d - p["mu"] + np.random.normal(size=N)) ** 2

    counter = itertools.count()

    def counting(p, d):
        return -0.5 * (d - p["mu"]) ** 2 * (1.0 + next(counter))

    for fn in (noisy, counting):
        with pytest.raises(SpecificationError, match="not pure"):
            hs.fit(fn, {"mu": 0.0}, Y)


# ----------------------------------------------------------------------------- 3. mean log-likelihoods

def test_a_mean_log_likelihood_warns():
    """Per-row values divided by n make SEs sqrt(n) too large (closed form: SE 1 instead of
    1/sqrt(n)): the information-matrix check warns, for one and several parameters."""
    rng = np.random.default_rng(4)
    y = rng.normal(size=200)
    with pytest.warns(SpecificationWarning, match="looks like a mean"):
        res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2 / d.shape[0], {"mu": 0.0}, y)
    np.testing.assert_allclose(res.bse["mu"], 1.0, rtol=1e-10)  # still computed as asked
    X = np.column_stack([rng.normal(size=200), np.ones(200)])
    yx = (X @ [1.0, -0.5] + rng.logistic(size=200) > 0).astype(float)

    def mean_logit(p, d):
        eta = d["X"] @ p["b"]
        return (d["y"] * eta - jnp.logaddexp(0.0, eta)) / 200.0

    with pytest.warns(SpecificationWarning, match="looks like a mean"):
        hs.fit(mean_logit, {"b": np.zeros(2)}, {"X": X, "y": yx}, cov_type="HC0")


def test_a_scalar_mean_or_one_value_warns_unless_nobs_is_given():
    """A scalar (or shape (1,)) total over n > 1 rows cannot be checked: warn; nobs= confirms it
    is a sum (closed form SE 1/sqrt(n) then)."""
    for fn in (lambda p, d: jnp.mean(-0.5 * (d - p["mu"]) ** 2),
               lambda p, d: jnp.sum(-0.5 * (d - p["mu"]) ** 2, keepdims=True)):
        with pytest.warns(SpecificationWarning, match="cannot check"):
            hs.Model(fn, {"mu": 0.0}, Y)
    res = hs.fit(lambda p, d: jnp.sum(-0.5 * (d - p["mu"]) ** 2), {"mu": 0.0}, Y, nobs=N)
    np.testing.assert_allclose(res.bse["mu"], 1 / np.sqrt(N), rtol=1e-10)


def test_built_in_log_likelihoods_skip_the_mean_check_and_hand_written_ones_do_not(monkeypatch):
    """The check guards hand-written log-likelihoods; a built-in (trusted) one is a sum by construction
    and is not checked (no scores' squares computed), while the same logit written by hand is."""
    calls = []
    real = engine.opg_diagonal
    monkeypatch.setattr(engine, "opg_diagonal", lambda *a, **k: calls.append(1) or real(*a, **k))
    rng = np.random.default_rng(5)
    X = np.column_stack([rng.normal(size=200), np.ones(200)])
    y = (X @ [1.0, -0.5] + rng.logistic(size=200) > 0).astype(float)
    built_in = logit_model(y, X).fit()
    assert not calls
    by_hand = hs.fit(lambda p, d: d["y"] * (d["X"] @ p["b"]) - jnp.logaddexp(0.0, d["X"] @ p["b"]),
                     {"b": np.zeros(2)}, {"X": X, "y": y})
    assert len(calls) == 1
    np.testing.assert_allclose(by_hand.params.to_numpy(), built_in.params.to_numpy(), rtol=1e-10)


def test_summed_misspecified_likelihoods_do_not_warn():
    """A Poisson likelihood on over- and under-dispersed counts (OPG/-H near the dispersion, not
    1/n) and a heteroskedastic normal: no warning (hessstats warnings are errors in this suite)."""
    rng = np.random.default_rng(2)
    X = np.column_stack([rng.normal(size=400), np.ones(400)])

    def poisson(p, d):
        eta = d["X"] @ p["b"]
        return d["y"] * eta - jnp.exp(eta)

    over = rng.negative_binomial(1, 1 / (1 + np.exp(X @ [0.5, 1.0])), size=400).astype(float)
    under = np.minimum(rng.poisson(np.exp(X @ [0.2, 1.0])), 3).astype(float)
    for y in (over, under):
        hs.fit(poisson, {"b": np.zeros(2)}, {"X": X, "y": y})
    hs.fit(lambda p, d: -0.5 * (d["y"] - d["X"] @ p["b"]) ** 2,
           {"b": np.zeros(2)}, {"X": X, "y": X @ [1.0, 1.0] + rng.normal(size=400) * np.exp(X[:, 0])})


# ----------------------------------------------------------------------------- 6. flat names

def test_flat_names_for_an_unsorted_dict_are_refused_and_the_dict_form_works():
    """start={"sigma", "b0"} with names=["sigma", "const"] gave 'sigma' the constant's estimate.
    Reference: closed-form normal MLE, mean(y) and the population standard deviation."""
    def ll(p, d):
        return -0.5 * ((d - p["b0"]) / p["sigma"]) ** 2 - jnp.log(p["sigma"])

    with pytest.raises(SpecificationError, match="flat list of names is ambiguous"):
        hs.fit(ll, {"sigma": 1.0, "b0": 0.0}, Y, names=["sigma", "const"])
    res = hs.fit(ll, {"sigma": 1.0, "b0": 0.0}, Y, names={"sigma": "sigma", "b0": "const"})
    np.testing.assert_allclose([res.params["const"], res.params["sigma"]], [Y.mean(), Y.std()], rtol=1e-8)
    sorted_res = hs.fit(ll, {"b0": 0.0, "sigma": 1.0}, Y, names=["const", "sigma"])  # written in flat order
    np.testing.assert_allclose(sorted_res.params["const"], Y.mean(), rtol=1e-8)


# ----------------------------------------------------------------------------- 7. frozen results

def test_results_cannot_be_changed_through_what_they_return():
    """params/bse/cov_params()/hessian are fresh or read-only: the summary keeps the closed-form
    estimate mean(y) and SE 1/sqrt(n)."""
    res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, Y)
    for obj in (res.params, res.bse, res.gradient):
        obj.iloc[0] = 99.0
    for frame in (res.cov_params(), res.hessian):
        frame.iloc[0, 0] = 99.0
    tree = res.params_tree
    tree["mu"] = 99.0
    for arr in (res.theta, res.cov_array, res.hessian_array, res.gradient_array, res.model.start,
                res.inverse_information.cov):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 99.0
    with pytest.raises(TypeError):
        res.cov_options["correction"] = "none"
    table = res.summary_frame()
    np.testing.assert_allclose(table.loc["mu", ["coef", "std_err"]].to_numpy(float), [Y.mean(), 1 / np.sqrt(N)],
                               rtol=1e-10)
    np.testing.assert_allclose(res.params["mu"], Y.mean(), rtol=1e-10)


def test_nothing_the_user_passed_is_modified():
    """Data arrays, DataFrames, start dicts and groups are unchanged after fit, with_cov and
    profile (byte-for-byte: np.array_equal against copies)."""
    X = np.column_stack([np.random.default_rng(3).normal(size=N), np.ones(N)])
    frame = pd.DataFrame({"y": Y, "x": X[:, 0]})
    start = {"b": np.zeros(2)}
    groups = pd.Series(np.repeat(np.arange(10), 10))
    copies = (X.copy(), frame.copy(), {"b": start["b"].copy()}, groups.copy())

    def ll(p, d):
        return -0.5 * (d["y"] - p["b"][0] * d["x"] - p["b"][1]) ** 2

    res = hs.fit(ll, start, frame, cov_type="cluster", groups=groups)
    res.with_cov("HC0")
    res.profile_ci()
    res.with_cov("nonrobust").lr_test_null({"b[0]": 0.0})  # lr tests refuse sandwich covariances
    np.testing.assert_array_equal(X, copies[0])
    pd.testing.assert_frame_equal(frame, copies[1])
    np.testing.assert_array_equal(start["b"], copies[2]["b"])
    pd.testing.assert_series_equal(groups, copies[3])


# ----------------------------------------------------------------------------- 9. argument ranges

@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.5, -0.05, float("nan"), True, "0.05"])
def test_alpha_outside_the_unit_interval_is_refused_everywhere(alpha):
    """Every entry point with alpha refuses values outside (0, 1) (scipy's ndtri gave NaN or
    swapped bounds without an error)."""
    res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, Y,
                 transforms={"two_mu": lambda p: 2 * p["mu"]})
    calls = [lambda: res.conf_int(alpha), lambda: res.summary_frame(alpha), lambda: res.delta(lambda p: p["mu"], alpha=alpha),
             lambda: res.transformed(alpha), lambda: res.profile_ci(alpha=alpha),
             lambda: res.margins(lambda p, d: p["mu"] * d, {"y": "y"}, alpha=alpha)]
    for call in calls:
        with pytest.raises(SpecificationError, match="alpha"):
            call()


@pytest.mark.parametrize("options, match", [
    ({"nr_tol": -1.0}, "nr_tol"), ({"nr_tol": float("nan")}, "nr_tol"), ({"hessian_rtol": -1e-9}, "hessian_rtol"),
    ({"hessian_rtol": float("inf")}, "hessian_rtol"), ({"maxiter": -1}, "maxiter"), ({"maxiter": 2.5}, "maxiter"),
    ({"maxiter": True}, "maxiter"), ({"chunk_size": 2.5}, "chunk_size"), ({"chunk_size": -3}, "chunk_size"),
    ({"nobs": 0}, "nobs"),
])
def test_tolerances_and_counts_are_validated(options, match):
    """Out-of-range fit options are typed errors (they silently changed or disabled the convergence
    certificate before). Reference: the documented ranges (tolerances >= 0 and finite, maxiter >= 0,
    chunk_size and nobs >= 1)."""
    with pytest.raises(SpecificationError, match=match):
        hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, Y, **options)
