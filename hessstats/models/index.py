"""Index models: the data enter through linear predictors ``eta_j = X_j @ beta_j``.

For such a log-likelihood ``sum_i f(eta_i1, ..., eta_im, extra; data_i)`` the Hessian is

    H[beta_j, beta_l] = X_j' diag(d2f/deta_j deta_l) X_l
    H[beta_j, extra]  = X_j' (d2f/deta_j dextra)
    H[extra, extra]   = sum_i d2f_i/dextra^2

with the per-observation second derivatives from JAX (forward-over-reverse in the ``m`` linear
predictors and the few extra parameters only: ``m + p`` directions of length ``n``). The ``k x k``
work is then one weighted Gram product per pair of designs, the BLAS-bound minimum, instead of
``jax.hessian``'s ``k`` forward passes through the whole likelihood.

Assumption (checked on a sample of rows when the model is built): observation ``i``'s term depends
on the parameters only through row ``i`` of the linear predictors and the extra parameters.

The per-observation function is traced once when the model is built (a
:class:`~hessstats.core.compilation.Program`, like the model's own log-likelihood): the index
kernels run that program with the arrays it captured then, so they agree with every other kernel
of the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from hessstats._config import float64, x64
from hessstats.core import engine
from hessstats.core.compilation import TRACES, Program, cached_program, call_kernel
from hessstats.core.linalg import gram_products
from hessstats.core.params import ParamSpec
from hessstats.errors import SpecificationError, message
from hessstats.model import Model
from hessstats.rows.leaves import row_block
from hessstats.rows.prepare import prepare_data
from hessstats.rows.source import RowSource


@dataclass(frozen=True)
class IndexLoglike:
    """``loglike(params, data)`` built from a per-observation function of linear predictors.

    Hashable (by the function and the design), so kernels compile once per model shape and are
    reused by every model built from the same function.

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp
    >>> def normal(eta, extra, d):
    ...     return -0.5 * (d["y"] - eta["beta"]) ** 2
    >>> ll = IndexLoglike(normal, (("beta", "X"),))
    >>> data = {"X": jnp.eye(2), "y": jnp.array([1.0, 2.0])}
    >>> ll({"beta": jnp.array([1.0, 0.0])}, data).tolist()
    [-0.0, -2.0]
    >>> ll == IndexLoglike(normal, (("beta", "X"),))
    True
    """

    obs_loglike: Callable[..., Any]
    design: tuple[tuple[str, str], ...]
    program: Program | None = None
    """The traced ``obs_loglike`` (set by :class:`IndexModel`); None: call it directly."""
    widths: tuple[int, ...] = ()
    """Per design entry: 0 for a coefficient vector (one linear predictor ``X @ beta``), ``J`` for a
    ``(J, k)`` coefficient matrix (``J`` linear predictors ``X @ beta.T`` sharing the design, e.g.
    multinomial logit); empty: every entry a vector."""

    @property
    def index_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.design)

    def eta_matrix(self, etas: Mapping[str, Any]) -> Any:
        """The ``(n, M)`` matrix of every linear predictor (a matrix entry contributes its ``J`` columns)."""
        return jnp.concatenate([jnp.reshape(etas[name], (jnp.shape(etas[name])[0], -1))
                                for name in self.index_names], axis=1)

    def observations(self, consts: tuple, eta: Any, extra: Any, data: Any) -> Any:
        """Per-observation values from the ``(n, m)`` matrix of linear predictors: the traced
        program with its captured constants ``consts`` when there is one."""
        if self.program is not None:
            return self.program(consts, eta, extra, data)
        return IndexObservations(self.obs_loglike, self.index_names, self.widths)(eta, extra, data)

    def split(self, params: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(coefficients of each linear predictor, the other parameters)`` of a dict or a
        NamedTuple of parameters (the built-in models' parameter tuples)."""
        if hasattr(params, "_asdict"):
            params = params._asdict()
        betas = {name: params[name] for name in self.index_names}
        return betas, {key: value for key, value in params.items() if key not in betas}

    def etas(self, betas: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
        return {name: data[col] @ (betas[name] if jnp.ndim(betas[name]) == 1 else betas[name].T)
                for name, col in self.design}

    def __call__(self, params: Mapping[str, Any], data: Mapping[str, Any]) -> Any:
        betas, extra = self.split(params)
        return self.obs_loglike(self.etas(betas, data), extra, data)

    def value_grad_hess(self, theta: Any, data: Any, spec: ParamSpec, weights: Any = None) -> tuple:
        """``(value, gradient, Hessian)`` assembled as ``X' diag(w) X``."""
        return value_grad_hess(theta, data, self, spec, weights)


@dataclass(frozen=True)
class IndexObservations:
    """``obs_loglike`` as a function of the ``(n, m)`` matrix of linear predictors (what is traced).

    Example
    -------
    >>> f = IndexObservations(lambda eta, extra, d: -eta["beta"] ** 2, ("beta",))
    >>> f(np.array([[1.0], [2.0]]), {}, None).tolist()
    [-1.0, -4.0]
    """

    obs_loglike: Callable[..., Any]
    names: tuple[str, ...]
    widths: tuple[int, ...] = ()
    """As :attr:`IndexLoglike.widths`: a width ``J > 0`` passes ``J`` columns as one ``(n, J)`` entry."""

    def __call__(self, eta: Any, extra: Any, data: Any) -> Any:
        out, j = {}, 0
        for nm, width in zip(self.names, self.widths or (0,) * len(self.names)):
            out[nm] = eta[:, j] if width == 0 else eta[:, j:j + width]
            j += max(width, 1)
        return self.obs_loglike(out, extra, data)


@dataclass(frozen=True, eq=False)
class IndexHessian:
    """An index model's Hessian path: its traced :class:`IndexLoglike` and captured constants
    (``Model.index``; the engine calls :meth:`value_grad_hess`).

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs
    >>> def normal(eta, extra, d):
    ...     return -0.5 * (d["y"] - eta["beta"]) ** 2
    >>> m = IndexModel(normal, {"beta": np.zeros(1)}, {"X": np.ones((3, 1)), "y": np.arange(3.0)}, design={"beta": "X"})
    >>> isinstance(m.index, IndexHessian), m.index.loglike.program is not None
    (True, True)
    """

    loglike: IndexLoglike
    consts: tuple

    def value_grad_hess(self, theta: Any, data: Any, spec: ParamSpec, weights: Any = None) -> tuple:
        """``(value, gradient, Hessian)`` assembled as ``X' diag(w) X`` (what the engine calls)."""
        return value_grad_hess(theta, data, self.loglike, spec, weights, consts=self.consts)

    def one_call(self, data: Any) -> tuple[Any, IndexLoglike, tuple] | None:
        """``(traced kernel body, static log-likelihood, constants)`` for a fit in one compiled call
        (:mod:`hessstats.core.fused`, which bounds the size), or None where the data span several
        devices. Inside one call the Gram products are XLA's: at 5,000 x 10 a logit fit took 2.2 ms
        that way against 5.1 ms with a host BLAS Hessian per iteration (20,000 x 10: 8.1 vs 11.3 ms)."""
        leaves = jax.tree_util.tree_leaves(data)
        if any(len(getattr(a, "devices", lambda: [0])()) > 1 for a in leaves):
            return None
        return value_grad_hess_traced, self.loglike, self.consts


@partial(jax.jit, static_argnames=("loglike", "spec"))
def observation_derivatives(theta, data, loglike: IndexLoglike, spec: ParamSpec, weights=None, consts=()):
    """The per-observation pieces: ``(value, d/deta (n, m), d2/deta.. (m+p, n, m), d2/dextra.. (m+p, p))``.

    Direction ``j < m`` moves every row of ``eta_j`` by one; direction ``m + q`` moves extra
    parameter ``q``. ``d_eta[d][i, j]`` is the second derivative of observation ``i`` in ``eta_ij``
    and direction ``d``; ``d_e[d]`` the (summed) derivative of the extra gradient.
    """
    TRACES["index_derivatives"] += 1
    return _observation_derivatives(theta, data, loglike, spec, weights, consts)


def _observation_derivatives(theta, data, loglike: IndexLoglike, spec: ParamSpec, weights, consts):
    betas, _ = loglike.split(spec.unravel(theta))
    eta = loglike.eta_matrix(loglike.etas(betas, data))  # (n, m)
    return _derivatives(theta, eta, data, loglike, spec, weights, consts)


@partial(jax.jit, static_argnames=("loglike", "spec"))
def derivatives_at(theta, eta, data, loglike: IndexLoglike, spec: ParamSpec, weights=None, consts=()):
    """:func:`observation_derivatives` given the ``(n, m)`` linear predictors ``eta`` (computed by
    the caller: on the CPU with BLAS, which reads the design in place, where XLA's product copies it)."""
    TRACES["index_derivatives"] += 1
    return _derivatives(theta, eta, data, loglike, spec, weights, consts)


def _derivatives(theta, eta, data, loglike: IndexLoglike, spec: ParamSpec, weights, consts):
    _, extra = loglike.split(spec.unravel(theta))
    e_flat, unravel_extra = ravel_pytree(extra)
    e_flat = jnp.asarray(e_flat, dtype=theta.dtype)  # an empty ravel is float32
    n, m, p = eta.shape[0], eta.shape[1], e_flat.shape[0]

    def total(eta_mat, e):
        out = loglike.observations(consts, eta_mat, unravel_extra(e), data)
        out = jnp.asarray(out, dtype=jnp.float64)
        return jnp.sum(out if weights is None else out * weights)

    value, (g_eta, g_e) = jax.value_and_grad(total, argnums=(0, 1))(eta, e_flat)
    grad_fn = jax.grad(total, argnums=(0, 1))
    t_eta = jnp.concatenate([jnp.broadcast_to(jnp.eye(m)[:, None, :], (m, n, m)), jnp.zeros((p, n, m))])
    t_e = jnp.concatenate([jnp.zeros((m, p)), jnp.eye(p)])
    d_eta, d_e = jax.vmap(lambda a, b: jax.jvp(grad_fn, (eta, e_flat), (a, b))[1])(t_eta, t_e)
    return value, g_eta, g_e, d_eta, d_e


def _assemble(xp, products, theta_size, xs, rows_b, rows_e, g_eta, g_e, d_eta, d_e):
    """Gradient and Hessian in the flat order from the per-observation pieces (numpy or jax.numpy).

    ``products(grams, vectors)`` computes, in one go, the weighted Gram products ``x_j' diag(w) x_l``
    of ``grams`` (``(x_j, w, x_l, same)``) and the products ``x_j' V`` of ``vectors`` (``(x_j, V)``,
    ``V`` with ``n`` rows): :func:`_jax_products` or :func:`gram_products`."""
    m, p = len(xs), len(rows_e)
    grad = xp.zeros(theta_size)
    hess = xp.zeros((theta_size, theta_size))

    def put(a, idx, block):
        if xp is np:
            a[idx] = block
            return a
        return a.at[idx].set(block)

    pairs = [(j, l) for j in range(m) for l in range(j, m)]
    grams = [(xs[j], d_eta[l][:, j], xs[l], xs[j] is xs[l]) for j, l in pairs]
    # index j's gradient X_j' g_j and its cross derivatives with the extra parameters X_j' d_(m+q),j
    vectors = [(xs[j], xp.concatenate([g_eta[:, j:j + 1], d_eta[m:, :, j].T], axis=1)) for j in range(m)]
    blocks, crossed = products(grams, vectors)
    for (j, l), block in zip(pairs, blocks):
        hess = put(hess, np.ix_(rows_b[j], rows_b[l]), block)
        hess = put(hess, np.ix_(rows_b[l], rows_b[j]), block.T)
    for j, xv in enumerate(crossed):
        grad = put(grad, rows_b[j], xv[:, 0])
        if p:
            hess = put(hess, np.ix_(rows_b[j], rows_e), xv[:, 1:])
            hess = put(hess, np.ix_(rows_e, rows_b[j]), xv[:, 1:].T)
    if p:
        grad = put(grad, rows_e, g_e)
        ee = d_e[m:]
        hess = put(hess, np.ix_(rows_e, rows_e), (ee + ee.T) / 2.0)
    return grad, hess


def _jax_products(grams, vectors):
    return [(xj * w[:, None]).T @ xl for xj, w, xl, _ in grams], [x.T @ v for x, v in vectors]


@partial(jax.jit, static_argnames=("loglike", "spec"))
def value_grad_hess_jit(theta, data, loglike: IndexLoglike, spec: ParamSpec, weights=None, consts=()):
    """The whole index-model ``(value, gradient, Hessian)`` in one compiled call (GPU, sharded data)."""
    TRACES["index_value_grad_hess"] += 1
    return value_grad_hess_traced(theta, data, loglike, spec, weights, consts)


def value_grad_hess_traced(theta, data, loglike: IndexLoglike, spec: ParamSpec, weights=None, consts=()):
    """The body of :func:`value_grad_hess_jit`, for kernels that evaluate inside their own program
    (:mod:`hessstats.core.fused`): not jitted, not counted.

    Example
    -------
    >>> import jax, numpy as np, jax.numpy as jnp
    >>> spec = ParamSpec.from_start({"beta": np.zeros(1)})
    >>> normal = IndexLoglike(lambda eta, extra, d: -0.5 * (d["y"] - eta["beta"]) ** 2, (("beta", "X"),))
    >>> with jax.enable_x64(True):   # the same numbers as value_grad_hess (whose example shows them)
    ...     out = value_grad_hess_traced(jnp.zeros(1), {"X": np.ones((2, 1)), "y": np.array([1.0, 3.0])}, normal, spec)
    >>> [np.asarray(a).tolist() for a in out]   # -(1 + 9) / 2, X'y, -X'X
    [-5.0, [4.0], [[-2.0]]]
    """
    value, g_eta, g_e, d_eta, d_e = _observation_derivatives(theta, data, loglike, spec, weights, consts)
    xs, rows_b, rows_e = _layout(data, loglike, spec)
    grad, hess = _assemble(jnp, _jax_products, theta.shape[0], xs, rows_b, rows_e, g_eta, g_e, d_eta, d_e)
    return value, grad, hess


def value_grad_hess(theta, data, loglike: IndexLoglike, spec: ParamSpec, weights=None, consts=()):
    """``(sum loglike, gradient, Hessian)`` of an index model, assembled as ``X' diag(w) X``.

    On the CPU backend the per-observation derivatives come from the compiled kernel and the Gram
    products from BLAS (dsyrk, in cache-sized row blocks); on other backends (GPU), for data
    sharded over several devices and for small problems (``rows * k^2 <= SMALL_CELLS``)
    everything runs in one compiled XLA call.

    Example
    -------
    >>> import jax, numpy as np, jax.numpy as jnp
    >>> def normal(eta, extra, d):
    ...     return -0.5 * (d["y"] - eta["beta"]) ** 2
    >>> spec = ParamSpec.from_start({"beta": np.zeros(2)})
    >>> data = {"X": np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]), "y": np.array([1.0, 2.0, 4.0])}
    >>> with jax.enable_x64(True):
    ...     value, grad, hess = value_grad_hess(jnp.zeros(2), data, IndexLoglike(normal, (("beta", "X"),)), spec)
    >>> float(value), grad.tolist(), hess.tolist()  # gradient X'y, Hessian -X'X
    (-10.5, [7.0, 10.0], [[-3.0, -3.0], [-3.0, -5.0]])
    """
    leaves = jax.tree_util.tree_leaves(data)
    if jax.default_backend() != "cpu" or any(len(getattr(a, "devices", lambda: [0])()) > 1 for a in leaves) \
            or _small(data, loglike, theta.shape[0]):
        return call_kernel("index_value_grad_hess", value_grad_hess_jit, theta, data, loglike, spec, weights, consts)
    xs, rows_b, rows_e = _layout(data, loglike, spec)
    host: dict[int, np.ndarray] = {}
    xs = [host.setdefault(id(x), np.asarray(x)) for x in xs]  # keep `is` for a shared design
    eta = _host_eta(xs, rows_b, np.asarray(theta))
    value, g_eta, g_e, d_eta, d_e = call_kernel("index_derivatives", derivatives_at, theta, eta, data, loglike, spec,
                                                weights, consts)
    used = _weighted_rows(weights, eta.shape[0])  # trailing zero-weight rows (bucket padding) add exact zeros
    trimmed: dict[int, np.ndarray] = {}
    xs = [trimmed.setdefault(id(x), x[:used]) for x in xs]  # `is` kept for a shared design
    grad, hess = _assemble(np, gram_products, theta.shape[0], xs, rows_b, rows_e,
                           np.asarray(g_eta)[:used], np.asarray(g_e), np.asarray(d_eta)[:, :used], np.asarray(d_e))
    return np.asarray(value), grad, hess


def _host_eta(xs: list, rows_b: list, theta: np.ndarray) -> np.ndarray:
    """The ``(n, m)`` linear predictors with BLAS (the design read in place, once per design).

    Example
    -------
    >>> x = np.array([[1.0, 0.0], [1.0, 2.0]])
    >>> _host_eta([x, x], [np.array([0, 1]), np.array([2, 3])], np.array([1.0, 2.0, 3.0, -1.0])).tolist()
    [[1.0, 3.0], [5.0, 1.0]]
    """
    eta = np.empty((xs[0].shape[0], len(xs)))
    done: set[int] = set()
    for j, x in enumerate(xs):
        if id(x) in done:
            continue
        done.add(id(x))
        cols = [q for q in range(j, len(xs)) if xs[q] is x]
        eta[:, cols] = x @ np.stack([theta[rows_b[q]] for q in cols], axis=1)
    return eta


def _weighted_rows(weights: Any, n: int) -> int:
    """The number of leading rows up to the last one with a non-zero weight (``n`` without weights).

    Example
    -------
    >>> _weighted_rows(np.array([1.0, 0.0, 2.0, 0.0, 0.0]), 5), _weighted_rows(None, 5)
    (3, 5)
    """
    if weights is None:
        return n
    nonzero = np.flatnonzero(np.asarray(weights))
    return int(nonzero[-1]) + 1 if nonzero.size else 0


SMALL_CELLS = 200_000
"""Below this many ``rows * k^2`` multiply-adds, the CPU index path runs as one compiled call (the
host BLAS path's fixed cost of about 0.15 ms per evaluation, the numpy assembly, dominates there)."""


def _small(data, loglike: IndexLoglike, k: int) -> bool:
    """True when the Gram products are small enough that one compiled call is faster than BLAS."""
    x = data[loglike.design[0][1]]
    return int(np.shape(x)[0]) * k * k <= SMALL_CELLS


def _layout(data, loglike: IndexLoglike, spec: ParamSpec):
    """Design matrices (same object for a shared column) and flat positions of each block."""
    cache: dict[str, Any] = {}
    betas, others = loglike.split(_flat_positions(spec))
    xs, rows_b = [], []
    for name, col in loglike.design:  # a (J, k) coefficient matrix: J linear predictors on one design
        for rows in (betas[name] if betas[name].ndim == 2 else [betas[name]]):
            xs.append(cache.setdefault(col, data[col]))
            rows_b.append(rows)
    extra = jax.tree_util.tree_leaves(others)
    rows_e = np.concatenate([np.ravel(x) for x in extra]) if extra else np.zeros(0, int)
    return xs, rows_b, rows_e


def _flat_positions(spec: ParamSpec) -> dict[str, np.ndarray]:
    """For each top-level parameter, its positions in the flat vector (numpy, static)."""
    leaves, i = [], 0
    for shape in spec.shapes:
        size = int(np.prod(shape, dtype=int))
        leaves.append(np.arange(i, i + size).reshape(shape))
        i += size
    return jax.tree_util.tree_unflatten(spec.treedef, leaves)


class IndexModel(Model):
    """A :class:`~hessstats.Model` whose data enter through linear predictors ``eta = X @ beta``.

    ``obs_loglike(eta, params, data)`` returns the per-observation log-likelihood, shape ``(n,)``,
    where ``eta`` is a dict ``{name: X @ beta_name}`` for every entry ``name: column`` of
    ``design`` (``data[column]`` is an ``(n, k_name)`` matrix and ``start[name]`` a vector), and
    ``params`` holds the remaining parameters (e.g. ``sigma``, ``alpha``). The Hessian is assembled
    as ``X' diag(w) X`` from per-observation second derivatives (exact, from JAX); set
    ``index_hessian=False`` for the generic ``jax.hessian`` kernels on the same likelihood.
    Other keywords (``names``, ``chunk_size``, ``shard``, ...) go to :class:`~hessstats.Model`.

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([rng.normal(size=300), np.ones(300)])
    >>> y = (X @ [1.0, -0.5] + rng.logistic(size=300) > 0).astype(float)
    >>> def logit(eta, params, d):
    ...     return d["y"] * eta["beta"] - jnp.logaddexp(0.0, eta["beta"])
    >>> model = hs.IndexModel(logit, {"beta": np.zeros(2)}, {"X": X, "y": y}, design={"beta": "X"})
    >>> fast, generic = model.fit(), hs.IndexModel(logit, {"beta": np.zeros(2)}, {"X": X, "y": y},
    ...                                            design={"beta": "X"}, index_hessian=False).fit()
    >>> bool(np.allclose(fast.bse, generic.bse, rtol=1e-12)), isinstance(model, hs.Model)
    (True, True)
    """

    @float64
    def __init__(self, obs_loglike: Callable[..., Any], start: Mapping[str, Any], data: Mapping[str, Any], *,
                 design: Mapping[str, str], index_hessian: bool = True, **model_options: Any) -> None:
        loglike = _index_loglike(obs_loglike, start, data, design)
        super().__init__(loglike, start, data, **model_options)
        if index_hessian:
            object.__setattr__(self, "index", _traced_index(self, loglike))
            if not isinstance(self.data, RowSource):
                _check_row_separable(self)


INDEX_MIN_CELLS = 200_000
"""Models with at most this many ``nobs * k^2`` keep the generic Hessian in :func:`with_index_hessian`."""


def with_index_hessian(model: Model, obs_loglike: Callable[..., Any], design: Mapping[str, str], *,
                       check: bool = True) -> Model:
    """``model`` with its Hessian assembled as ``X' diag(w) X`` (an :class:`IndexHessian`): what the
    built-in models use, so that a model built by ``hessstats.models.design.build`` (its own
    log-likelihood, parameter tuple and kernels for scores and values) gets the BLAS Hessian path.

    ``obs_loglike(eta, extra, data)`` must equal the model's per-observation log-likelihood with
    ``eta = {name: data[column] @ params.name}`` for each ``design`` entry and ``extra`` the other
    parameters (a dict by field name). A design entry may name a ``(J, k)`` coefficient matrix: ``J``
    linear predictors on one design, passed as ``eta[name] = data[column] @ beta.T`` of shape
    ``(n, J)`` (multinomial logit). ``check`` verifies row separability on a few rows (the
    built-in models, known to be separable, skip it). Models with row blocks (``chunk_size``, row
    sources, shards) are returned unchanged, and so are small ones (``nobs * k^2`` at most
    :data:`INDEX_MIN_CELLS`), where the generic kernel is as fast and compiles in about half the time.

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs
    >>> def loglike(p, d):
    ...     return -0.5 * (d["y"] - d["X"] @ p["beta"]) ** 2
    >>> X = np.ones((300_000, 1))
    >>> m = hs.Model(loglike, {"beta": np.zeros(1)}, {"X": X, "y": np.zeros(300_000)})
    >>> fast = with_index_hessian(m, lambda eta, extra, d: -0.5 * (d["y"] - eta["beta"]) ** 2, {"beta": "X"})
    >>> fast.evaluate(np.zeros(1))[2].tolist(), isinstance(fast.index, IndexHessian)
    ([[-300000.0]], True)
    """
    if model.index is not None or model.chunk_size is not None or model.weights is not None \
            or isinstance(model.data, RowSource) or not isinstance(model.data, Mapping) \
            or (model.nobs or 0) * model.k_params ** 2 <= INDEX_MIN_CELLS:
        return model
    entries = tuple(sorted((str(k), str(v)) for k, v in design.items()))
    betas, _ = IndexLoglike(obs_loglike, entries).split(model.spec.unravel(model.start))
    widths = tuple(int(np.shape(betas[name])[0]) if np.ndim(betas[name]) == 2 else 0 for name, _ in entries)
    loglike = IndexLoglike(obs_loglike, entries, widths=widths if any(widths) else ())
    fast = model.replace(index=_traced_index(model, loglike))
    if check:
        _check_row_separable(fast)
    return fast


def _traced_index(model: Model, loglike: IndexLoglike) -> IndexHessian:
    """Trace ``obs_loglike`` on the model's data (a row source: its sample) at the start values."""
    with x64():
        # in memory: the rows the kernels run on (padded to their bucket size, see Model.padding)
        data = prepare_data(model.data.sample()) if isinstance(model.data, RowSource) else engine.kernel_rows(model)[0]
        # on the host: jnp slices and reshapes would compile once per shape
        betas, extra = loglike.split(model.spec.unravel_host(model.start))
        # the linear predictors by BLAS on the host (XLA's product would copy the design)
        eta = jax.device_put(np.column_stack([np.asarray(data[col]) @ np.asarray(betas[name]).T
                                              for name, col in loglike.design]))
        try:
            fn = IndexObservations(loglike.obs_loglike, loglike.index_names, loglike.widths)
            # a trusted built-in's program is shared by every model of its shapes (no second trace)
            found = cached_program(fn, loglike.obs_loglike, eta, extra, data)
            program, consts, _ = found if found is not None else Program.trace(fn, eta, extra, data)
            if model.chunk_size is not None:  # the row blocks the model evaluates: traced now
                rows = eta.shape[0]
                program.prepare(row_block(eta, rows, 0, model.chunk_size), extra,
                                row_block(data, rows, 0, model.chunk_size))
        except SpecificationError:
            raise
        except Exception as exc:  # the model itself traced, so this is unexpected: say where
            raise SpecificationError(message(
                "obs_loglike failed on the linear predictors", expected="obs_loglike(eta, params, data) of (n,) arrays",
                got=f"{type(exc).__name__}: {exc}"[:300], fix="call it yourself on the start values to debug")) from exc
    return IndexHessian(IndexLoglike(loglike.obs_loglike, loglike.design, program, loglike.widths), consts)


def _index_loglike(obs_loglike: Callable[..., Any], start: Mapping[str, Any], data: Any,
                   design: Mapping[str, str]) -> IndexLoglike:
    """Check that ``design`` names start vectors and data matrices of matching sizes."""
    if not isinstance(start, Mapping) or not isinstance(design, Mapping) or not design:
        raise SpecificationError(message(
            "IndexModel needs dict start values and a non-empty design mapping",
            expected="start={'beta': zeros(k), ...}, design={'beta': 'X'}",
            got=f"start {type(start).__name__}, design {design!r}", fix="pass dicts"))
    table = data.sample() if isinstance(data, RowSource) else data
    for name, col in design.items():
        if name not in start or np.ndim(start[name]) != 1:
            raise SpecificationError(message(
                f"design entry {name!r} does not name a vector in start",
                expected=f"start[{name!r}] a 1-d vector of coefficients for data[{col!r}]",
                got=f"start keys {sorted(start)}", fix="use the same key in start and design"))
        if not isinstance(table, Mapping) or col not in table or np.ndim(table[col]) != 2 \
                or np.shape(table[col])[1] != np.size(start[name]):
            raise SpecificationError(message(
                f"design column {col!r} is not an (n, {np.size(start[name])}) matrix in data",
                expected=f"data[{col!r}] with {np.size(start[name])} columns (one per element of start[{name!r}])",
                got=f"shape {np.shape(table[col]) if isinstance(table, Mapping) and col in table else 'missing'}",
                fix="pass the design matrix in data under that key"))
    return IndexLoglike(obs_loglike, tuple(sorted((str(k), str(v)) for k, v in design.items())))


@partial(jax.jit, static_argnames=("loglike", "spec"))
def _row_jacobian(theta, sample, loglike: IndexLoglike, spec: ParamSpec, consts=()):
    """d(observation i) / d(eta row r) on a few rows: ``(rows, rows, m)``; diagonal in (i, r) if separable."""
    TRACES["index_check"] += 1
    betas, extra = loglike.split(spec.unravel(theta))
    eta = loglike.eta_matrix(loglike.etas(betas, sample))

    def rows(e):
        return jnp.asarray(loglike.observations(consts, e, extra, sample), dtype=jnp.float64)

    return jax.jacfwd(rows)(eta)


def _check_row_separable(model) -> None:
    """Observation i must depend on row i of the linear predictors only (checked on 8 rows)."""
    n = model.nobs or 0
    length = len(model.weights) if model.weights is not None else n  # sharded: rows padded to the mesh
    rows = min(n, 8)
    sample = row_block(model.data, length, 0, rows)
    theta = model.start + 0.01 * np.random.default_rng(0).standard_normal(model.k_params)
    with x64():
        jac = np.asarray(_row_jacobian(jnp.asarray(theta), sample, model.index.loglike, model.spec,
                                       consts=model.index.consts))
    off = jac * (1.0 - np.eye(rows))[:, :, None]
    if not np.all(np.isfinite(jac)) or np.max(np.abs(off)) > 1e-12 * max(float(np.max(np.abs(jac))), 1e-300):
        raise SpecificationError(message(
            "the index-model log-likelihood mixes observations",
            expected="obs_loglike to be a per-observation function of row i of each eta (and the extra parameters)",
            got=f"observation values depend on other rows' eta (max cross-derivative {np.max(np.abs(off)):.3g})",
            fix="make each observation's term depend only on its own row, or use hs.Model / index_hessian=False"))
