"""The numpy evaluation of traced kernels (hessstats.core.interpret) and its switch to XLA.

Reference values: XLA's compiled evaluation of the same jaxpr (jax.jit), and statsmodels' Logit
(live) for a fit that compiles nothing. Tolerances: both evaluate the same float64 program; exp,
log and the special functions differ by a few units in the last place, so 1e-12 relative.
"""

from __future__ import annotations

import collections

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
import pytest
import statsmodels.api as sm

import hessstats as hs
from hessstats._config import x64
from hessstats.core import compilation, engine, interpret
from hessstats.crosscheck.cases import CASES
from hessstats.datasets import load
from hessstats.formula import from_formula

RNG = np.random.default_rng(7)
X = RNG.normal(size=(40, 3))
Y = (RNG.random(40) < 0.4).astype(float)
COUNTS = RNG.poisson(2.0, size=40).astype(float)


def _compare(fn, *args, rtol=1e-12):
    with x64():
        closed = jax.make_jaxpr(fn)(*args)
        ours = interpret.evaluate(closed, *jax.tree_util.tree_leaves(args))
        xla = jax.tree_util.tree_leaves(jax.jit(fn)(*args))
    assert len(ours) == len(xla)
    for a, b in zip(ours, xla):
        b = np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype
        finite = np.abs(b[np.isfinite(b)]) if b.dtype.kind == "f" else np.abs(b.ravel())
        # NaN where XLA gives NaN (a filled gather), equal values elsewhere
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * (finite.max() if finite.size else 0.0))


def _logit(beta):
    eta = X @ beta
    return jnp.sum(Y * eta - jnp.logaddexp(0.0, eta))


def _probit(beta):
    eta = X @ beta
    return jnp.sum(Y * jsp.log_ndtr(eta) + (1 - Y) * jsp.log_ndtr(-eta))


def _negbin(p):
    mu, alpha = jnp.exp(X @ p[:3]), jnp.exp(p[3])
    r = 1.0 / alpha
    return jnp.sum(jsp.gammaln(COUNTS + r) - jsp.gammaln(r) - jsp.gammaln(COUNTS + 1)
                   + r * jnp.log(r / (r + mu)) + COUNTS * jnp.log(mu / (r + mu)))


@pytest.mark.parametrize("fn, theta", [(_logit, np.array([0.3, -0.2, 0.1])), (_probit, np.array([0.3, -0.2, 0.1])),
                                       (_negbin, np.array([0.1, 0.2, -0.1, -0.5]))])
def test_value_gradient_hessian_match_xla(fn, theta):
    """JAX's derivatives of three likelihoods (logaddexp, log_ndtr's piecewise series, lgamma/digamma/polygamma)."""
    _compare(lambda t: (fn(t), jax.grad(fn)(t), jax.hessian(fn)(t)), theta)


def test_structural_primitives_match_xla():
    """Batched dot_general, transposes, cumulative sums, pad, concatenate, stack and unstack, slices, integer powers, clamps,
    integer division, select on an integer index and boolean reductions (closed form: the same jaxpr under XLA)."""
    a = RNG.normal(size=(2, 3, 4))
    b = RNG.normal(size=(2, 4, 5))
    i = np.array([-7, 7, 5, -5], dtype=np.int32)

    def f(a, b, i):
        c = jnp.einsum("bij,bjk->bik", a, b)
        d = jnp.cumsum(c, axis=1) + jnp.cumsum(c[:, ::-1], axis=2)
        e = jnp.pad(d, ((0, 0), (1, 2), (0, 1)), constant_values=0.5)
        f = jnp.concatenate([e, e ** 3, 1.0 / e ** 2], axis=0)
        g = jnp.clip(f[:, 1:3, ::2], -1.0, 1.0)
        h = lax_select(i)
        stacked = jnp.stack([a[0], a[1] ** 2, -a[0]], axis=1)  # (3, 3, 4)
        unstacked = jnp.unstack(stacked, axis=2)  # four (3, 3)
        return (g.sum(axis=(1, 2)), i // 3, i % 3, h, jnp.max(f, axis=0), jnp.prod(a, axis=2), jnp.all(a > -1.0, axis=1),
                jnp.any(b > 1.0, axis=(0, 2)), stacked, *unstacked)

    def lax_select(i):
        return jax.lax.select_n(jnp.clip(i, 0, 2), jnp.zeros(4), jnp.ones(4), jnp.full(4, 2.0))

    _compare(f, a, b, i)


def test_outputs_are_fresh_arrays():
    """An output that is an input, a folded constant or a broadcast is returned as a new writable array:
    writing into it changes neither the caller's input nor later evaluations."""
    with x64():
        plan = interpret.Plan(jax.make_jaxpr(lambda x: (x, jnp.zeros(3), jnp.broadcast_to(x.sum(), (3,))))(jnp.ones(3)))
    x = np.array([1.0, 2.0, 3.0])
    first = plan.run([x])
    for out in first:
        out[:] = -7.0
    assert x.tolist() == [1.0, 2.0, 3.0]
    for out, expected in zip(plan.run([x]), ([1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [6.0, 6.0, 6.0])):
        np.testing.assert_allclose(out, expected, rtol=1e-15)


def test_repeated_and_unused_equations_are_computed_once_or_not_at_all():
    """Equal equations on equal values run once, values no output needs are not computed, and
    equations that differ only in a parameter (axes, exponent, dtype of a literal) stay apart
    (reference: XLA on the same jaxpr)."""
    a = RNG.normal(size=(3, 4))

    def f(a):
        unused = jnp.sin(a)  # noqa: F841  (traced, never used)
        return (jnp.exp(a).sum(axis=0) + jnp.exp(a).sum(axis=0), jnp.exp(a).sum(axis=1), a ** 2 + a ** 3,
                (a > 0) * 2 + (a > 0) * 2.5)

    with x64():
        closed = jax.make_jaxpr(f)(a)
        plan = interpret.Plan(closed)
    names = [fn.__name__ for fn, *_ in plan._steps]
    assert names.count("exp") == 1 and names.count("reduce_sum") == 2 and names.count("integer_pow") == 2
    assert "sin" not in names
    assert len(names) < len(closed.jaxpr.eqns)
    _compare(f, a)
    # the derivative program of the logit likelihood loses more than a third of its steps
    with x64():
        closed = jax.make_jaxpr(lambda t: (jax.grad(_logit)(t), jax.hessian(_logit)(t)))(np.zeros(3))
    assert len(interpret.Plan(closed)._steps) < 0.67 * _count_equations(closed.jaxpr)


def _count_equations(jaxpr) -> int:
    count = 0
    for eqn in jaxpr.eqns:
        if eqn.primitive.name in interpret._CALLS:
            inner = interpret._inner(eqn.params)
            count += _count_equations(getattr(inner, "jaxpr", inner))
        else:
            count += 1
    return count


def test_indexing_by_integer_arrays_matches_xla():
    """Gathers of points (``x[j]``, ``A[:, j]``, ``A[j]`` with a matrix of indices, ``A[i, j]``), their
    transposes (scatter-adds, from the gradients), scatters that write (``x.at[i].set``), XLA's index
    modes (clamped; ``fill`` and ``drop`` for out-of-range indices) and pads with negative and interior widths: numpy = XLA on the same jaxpr."""
    x = RNG.normal(size=5)
    A = RNG.normal(size=(4, 6))
    j = np.array([0, 4, 2, 2, 1], dtype=np.int32)
    J = np.array([[3, 0, 1], [1, 1, 2]], dtype=np.int32)
    wild = np.array([-2, 0, 5, 9, 3], dtype=np.int32)

    def f(x, A):
        taken = x[j] * A[1, :5] + A[:, j].sum(axis=0) + A[J].sum(axis=(0, 1))[:5] + A[j % 4, j]
        value = jnp.sum(jnp.exp(taken)) + jnp.sum(A[:, J] ** 2)
        return value, jax.grad(lambda x, A: jnp.sum(jnp.sin(x[j]) * A[2, j]) + jnp.sum(A[J] ** 3), argnums=(0, 1))(x, A)

    def modes(x, A):
        filled = x.at[wild].get(mode="fill", fill_value=jnp.nan)
        clipped = x.at[wild].get(mode="clip") + A.at[:, wild].get(mode="clip").sum(axis=0)
        dropped = jnp.zeros(5).at[wild].add(x, mode="drop")
        clamped = jnp.zeros(6).at[wild].add(x * 2.0, mode="clip")
        padded = jax.lax.pad(A, -1.5, [(-1, 2, 1), (2, -3, 0)])
        # XLA's layouts beyond numpy's: the window axis between the batch axes, (2, 6, 3) and back
        gdn = jax.lax.GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,))
        middle = jax.lax.gather(A, J[..., None], gdn, slice_sizes=(1, 6), mode="promise_in_bounds")
        sdn = jax.lax.ScatterDimensionNumbers(update_window_dims=(1,), inserted_window_dims=(0,),
                                              scatter_dims_to_operand_dims=(0,))
        back = jax.lax.scatter_add(A, J[..., None], middle * 2.0, sdn, mode="promise_in_bounds")
        # scatters that write (x.at[i].set): distinct points, along two axes, a window, dropped points
        lower = jnp.zeros((3, 3)).at[np.tril_indices(3)].set(jnp.concatenate([x, x[:1] * 3.0]))
        written = A.at[:, j[:3]].set(-x[:3]) + A.at[2].set(x[0])
        kept = x.at[wild].set(7.0, mode="drop")
        return filled, clipped, dropped, clamped, padded, middle, back, lower, written, kept

    _compare(f, x, A)
    _compare(modes, x, A)


def test_factorisations_and_platform_branches_match_xla():
    """Cholesky factors (NaN where not positive definite, as XLA), triangular solves from both sides,
    transposed and with a unit diagonal, and the derivatives of a log-determinant by Cholesky, whose
    program picks a branch per platform (``lax.platform_dependent``: the CPU's, with a gather and a
    scatter-add over two axes) and reads uninitialised residuals: numpy = XLA on the same jaxpr."""
    B = RNG.normal(size=(4, 4))
    S = B @ B.T + 4.0 * np.eye(4)
    C = RNG.normal(size=(4, 3))
    T = jax.scipy.linalg.solve_triangular

    def f(S, C):
        L = jnp.linalg.cholesky(S)
        logdet = lambda S: 2.0 * jnp.sum(jnp.log(jnp.diagonal(jnp.linalg.cholesky(S))))
        solves = (T(L, C, lower=True), T(L, C, lower=True, trans=1), T(L.T, C, lower=False, unit_diagonal=True),
                  jax.lax.linalg.triangular_solve(L, C.T, left_side=False, lower=True),
                  jax.lax.linalg.triangular_solve(L, C.T, left_side=False, lower=True, transpose_a=True))
        return L, jnp.linalg.cholesky(S - 10.0 * jnp.eye(4)), solves, logdet(S), jax.grad(logdet)(S), jax.hessian(logdet)(S)

    _compare(f, S, C)
    # the CPU's branch reads the diagonal by a gather: finite next to an infinite entry, where the
    # other platform's branch (sum(eye * M)) gives NaN
    M = np.array([[1.0, np.inf, 0.0], [2.0, 3.0, -np.inf], [0.5, 1.0, 4.0]])
    _compare(lambda M: (jnp.diagonal(M), jax.grad(lambda M: jnp.sum(jnp.diagonal(M) ** 2))(M)), M)
    with x64():
        assert np.isfinite(interpret.evaluate(jax.make_jaxpr(jnp.diagonal)(M), M)[0]).all()


def test_loops_and_eigen_decompositions_match_xla():
    """``while`` loops (nested, with constants in the condition and the body: a damped Newton solve with
    a halving line search, as the Laplace approximation's inner mode) and symmetric eigenvalues with
    the derivative of the smallest (sign-free quantities: ``v v'`` and the values): numpy = XLA."""
    B = RNG.normal(size=(4, 4))
    S = B @ B.T + np.eye(4)
    b = RNG.normal(size=4)

    def newton(S, b):
        f = lambda u: -jnp.sum(jnp.logaddexp(0.0, u)) - 0.5 * u @ S @ u + b @ u  # strictly concave

        def body(state):
            u, it = state
            g, h = jax.grad(f)(u), jax.hessian(f)(u)
            d = jax.scipy.linalg.cho_solve((jnp.linalg.cholesky(-h), True), g)
            t = jax.lax.while_loop(lambda t: (f(u + t * d) < f(u)) & (t > 1e-8), lambda t: t / 2.0, 1.0)
            return u + t * d, it + 1

        return jax.lax.while_loop(lambda s: (s[1] < 50) & (jnp.max(jnp.abs(jax.grad(f)(s[0]))) > 1e-8), body,  # well above rounding
                                  (jnp.zeros(4), 0))

    def spectral(S):
        w, v = jnp.linalg.eigh(S)
        return w, v @ jnp.diag(w) @ v.T, jnp.outer(v[:, 0], v[:, 0]), jax.grad(lambda S: jnp.linalg.eigvalsh(S)[0])(S)

    _compare(newton, S, b)
    _compare(spectral, S)


def test_a_long_numpy_loop_gives_way(monkeypatch):
    """A ``while`` loop past its time in numpy raises (call_kernel then compiles the kernel, as for any
    failed numpy evaluation); the loop's body counts in the plan's size, which prices its compile."""
    loop = lambda x: jax.lax.while_loop(lambda s: s[1] < 1000, lambda s: (jnp.sin(s[0]) + 1.0, s[1] + 1), (x, 0))
    with x64():
        plan = interpret.Plan(jax.make_jaxpr(loop)(1.0))
        xla = np.asarray(jax.jit(loop)(1.0)[0])
    assert plan.steps >= 4  # the condition and the body, not one step
    np.testing.assert_allclose(plan.run([np.float64(1.0)])[0], xla, rtol=1e-12)
    monkeypatch.setattr(interpret, "LOOP_SECONDS", 0.0)
    with pytest.raises(NotImplementedError, match="while loop ran past"):
        plan.run([np.float64(1.0)])


def test_unsupported_programs_are_detected():
    """Sorting and data-dependent control flow are left to XLA; so are intermediates above the size
    limit, and gathers of slices wider than a point."""
    with x64():
        assert not interpret.supported(jax.make_jaxpr(jnp.sort)(jnp.ones(3)))
        with pytest.raises(NotImplementedError):  # a branch chosen by the data: compiled
            interpret.Plan(jax.make_jaxpr(lambda x: jax.lax.cond(x > 0, jnp.sin, jnp.cos, x))(1.0))
        window = jax.lax.GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(), start_index_map=(0,))
        with pytest.raises(NotImplementedError):  # slices of two entries: compiled
            interpret.Plan(jax.make_jaxpr(lambda x, j: jax.lax.gather(x, j, window, slice_sizes=(2,)))(
                jnp.ones(5), jnp.array([[0], [2]])))
        with pytest.raises(NotImplementedError):  # float -> integer conversions (nan, overflow) are XLA's
            interpret.Plan(jax.make_jaxpr(lambda x: x.astype(jnp.int32))(jnp.ones(3)))
        big = jax.make_jaxpr(lambda x: jnp.outer(x, x).sum())(jnp.ones(300))
        assert interpret.supported(big) and not interpret.supported(big, max_elements=1000)


@pytest.mark.parametrize("key", ["logit_spector", "probit_spector", "negbin_randhie", "truncated_poisson_star98",
                                 "glm_scotland", "tobit_fair", "mnlogit_anes96", "zip_randhie", "hurdle_poisson_randhie",
                                 "ordered_logit_anes96", "ordered_probit_anes96"])
def test_builtin_kernels_match_xla(key, monkeypatch):
    """The value, gradient and Hessian of built-in models (bundled data, fitted estimates): numpy = XLA
    (the ordered models index their cut points by the outcome: gathers and scatter-adds). Programs with
    control flow, sorting or factorisations (the Firth logit's Cholesky) compile at once."""
    case = next(c for c in CASES if c.key == key)
    model = from_formula(case.model, case.formula, load(case.dataset), **case.options)
    theta = np.asarray(model.fit().params, dtype=float)
    runs = []
    monkeypatch.setattr(compilation, "_ENTRIES", collections.OrderedDict())  # shapes not yet compiled
    monkeypatch.setattr(compilation, "NUMPY_SHARE", 1e9)
    original = interpret.Plan.run
    monkeypatch.setattr(interpret.Plan, "run", lambda plan, args: runs.append(1) or original(plan, args))
    ours = engine.evaluate(model, theta)
    assert runs, "the evaluation did not run with numpy"
    compilation.INTERPRET = False
    try:
        xla = engine.evaluate(model, theta)
    finally:
        compilation.INTERPRET = True
    scale = np.abs(xla[2]).max()
    assert ours[0] == pytest.approx(xla[0], rel=1e-12)
    np.testing.assert_allclose(ours[1], xla[1], rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(ours[2], xla[2], rtol=0, atol=1e-12 * scale)


def _fresh_logit(n, k):
    """Logit data; each test uses its own ``k`` (a kernel shape no other test compiles)."""
    rng = np.random.default_rng(n)
    x = np.column_stack([np.ones(n), rng.normal(size=(n, k - 1))])
    y = (x @ np.linspace(0.2, -0.4, k) + rng.logistic(size=n) > 0).astype(float)
    return y, x


def _logit_loglike(params, data):
    eta = data["X"] @ params["beta"]
    return data["y"] * eta - jnp.logaddexp(0.0, eta)


def test_one_off_fit_compiles_nothing_and_matches_statsmodels():
    """A user likelihood at a new shape: fitted with numpy evaluations only; statsmodels Logit (live) agrees."""
    y, x = _fresh_logit(1237, 3)
    compiles = sum(compilation._COMPILES.values())
    res = hs.fit(_logit_loglike, {"beta": np.zeros(3)}, {"y": y, "X": x})
    assert sum(compilation._COMPILES.values()) == compiles
    ref = sm.Logit(y, x).fit(disp=0, tol=1e-12)
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-8)
    np.testing.assert_allclose(res.bse, ref.bse, rtol=1e-8)


def test_kernel_compiles_once_numpy_has_cost_a_compile(monkeypatch):
    """Ski rental: past the compile estimate the kernel is compiled, with the same values."""
    y, x = _fresh_logit(1311, 5)
    first = hs.fit(_logit_loglike, {"beta": np.zeros(5)}, {"y": y, "X": x})
    compiles = sum(compilation._COMPILES.values())
    monkeypatch.setattr(compilation, "compile_estimate", lambda name, **_: 0.0)
    again = hs.fit(_logit_loglike, {"beta": np.zeros(5)}, {"y": y, "X": x})
    assert sum(compilation._COMPILES.values()) >= compiles + 1
    np.testing.assert_allclose(again.params, first.params, rtol=1e-10)
    np.testing.assert_allclose(again.bse, first.bse, rtol=1e-10)


def test_a_failing_numpy_evaluation_falls_back_to_xla(monkeypatch):
    """Whatever goes wrong in the numpy evaluation, the kernel is compiled and the fit is XLA's."""
    def broken(*args, **kwargs):
        raise ValueError("simulated defect")

    y, x = _fresh_logit(1409, 4)
    monkeypatch.setattr(interpret.Plan, "run", broken)
    compiles = sum(compilation._COMPILES.values())
    res = hs.fit(_logit_loglike, {"beta": np.zeros(4)}, {"y": y, "X": x})
    assert sum(compilation._COMPILES.values()) >= compiles + 1
    ref = sm.Logit(y, x).fit(disp=0, tol=1e-12)
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-8)


def test_captured_data_is_an_argument_not_a_stale_constant():
    """Two models of one shape with different data: each evaluation reads its own model's rows."""
    (y1, x1), (y2, x2) = _fresh_logit(1500, 6), _fresh_logit(1500, 6)
    y2 = 1.0 - y2
    a = hs.fit(_logit_loglike, {"beta": np.zeros(6)}, {"y": y1, "X": x1})
    b = hs.fit(_logit_loglike, {"beta": np.zeros(6)}, {"y": y2, "X": x2})
    np.testing.assert_allclose(a.params, sm.Logit(y1, x1).fit(disp=0, tol=1e-12).params, rtol=1e-8)
    np.testing.assert_allclose(b.params, sm.Logit(y2, x2).fit(disp=0, tol=1e-12).params, rtol=1e-8)


def test_call_evaluates_without_jit_and_falls_back_to_one_compiled_program(monkeypatch):
    """interpret.call: a covered program is evaluated by numpy (jax.jit never called); an uncovered one
    (a sort) is compiled as a whole; both give fn's values (closed form: exp and sort)."""
    def no_jit(*args, **kwargs):
        raise AssertionError("compiled although numpy covers the program")

    params = {"log_sd": np.array([0.0, 1.0])}
    with x64():
        with monkeypatch.context() as patch:
            patch.setattr(interpret.jax, "jit", no_jit)
            out = interpret.call(lambda p: {"sd": jnp.exp(p["log_sd"]), "jac": jax.jacfwd(jnp.exp)(p["log_sd"])}, params)
        sorted_ = interpret.call(lambda x: jnp.sort(x) * 2.0, np.array([3.0, 1.0, 2.0]))
    np.testing.assert_allclose(out["sd"], np.exp([0.0, 1.0]), rtol=1e-15)
    np.testing.assert_allclose(out["jac"], np.diag(np.exp([0.0, 1.0])), rtol=1e-15)
    np.testing.assert_allclose(sorted_, [2.0, 4.0, 6.0], rtol=1e-15)
