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

from . import diff
from ._config import float64, x64
from .errors import SpecificationError, message
from .params import ParamSpec


@dataclass(frozen=True)
class IndexLoglike:
    """``loglike(params, data)`` built from a per-observation function of linear predictors.

    Hashable (by the function and the design), so kernels compile once per model shape and are
    reused by every model built from the same function.
    """

    obs_loglike: Callable[..., Any]
    design: tuple[tuple[str, str], ...]

    @property
    def index_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.design)

    def split(self, params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        betas = {name: params[name] for name in self.index_names}
        return betas, {key: value for key, value in params.items() if key not in betas}

    def etas(self, betas: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
        return {name: data[col] @ betas[name] for name, col in self.design}

    def __call__(self, params: Mapping[str, Any], data: Mapping[str, Any]) -> Any:
        betas, extra = self.split(params)
        return self.obs_loglike(self.etas(betas, data), extra, data)


@partial(jax.jit, static_argnames=("loglike", "spec"))
def value_grad_hess(theta, data, loglike: IndexLoglike, spec: ParamSpec, weights=None):
    """``(sum loglike, gradient, Hessian)`` of an index model, assembled as ``X' diag(w) X``."""
    diff.TRACES["index_value_grad_hess"] += 1
    params = spec.unravel(theta)
    betas, extra = loglike.split(params)
    names = loglike.index_names
    eta = jnp.stack([loglike.etas(betas, data)[name] for name in names], axis=1)  # (n, m)
    e_flat, unravel_extra = ravel_pytree(extra)
    e_flat = jnp.asarray(e_flat, dtype=theta.dtype)  # an empty ravel is float32
    n, m, p = eta.shape[0], eta.shape[1], e_flat.shape[0]

    def total(eta_mat, e):
        out = loglike.obs_loglike({nm: eta_mat[:, j] for j, nm in enumerate(names)}, unravel_extra(e), data)
        out = jnp.asarray(out, dtype=jnp.float64)
        return jnp.sum(out if weights is None else out * weights)

    value, (g_eta, g_e) = jax.value_and_grad(total, argnums=(0, 1))(eta, e_flat)
    grad_fn = jax.grad(total, argnums=(0, 1))
    # m directions "all rows of eta_j" then p directions "extra q": per-row second derivatives
    t_eta = jnp.concatenate([jnp.broadcast_to(jnp.eye(m)[:, None, :], (m, n, m)), jnp.zeros((p, n, m))])
    t_e = jnp.concatenate([jnp.zeros((m, p)), jnp.eye(p)])
    d_eta, d_e = jax.vmap(lambda a, b: jax.jvp(grad_fn, (eta, e_flat), (a, b))[1])(t_eta, t_e)

    index = _flat_positions(spec)
    rows_b = [index[name] for name in names]
    rows_e = np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(loglike.split(index)[1])] or [np.zeros(0, int)])
    k = theta.shape[0]
    grad = jnp.zeros(k, dtype=theta.dtype)
    hess = jnp.zeros((k, k), dtype=theta.dtype)
    xs = [data[col] for _, col in loglike.design]
    for j in range(m):
        grad = grad.at[rows_b[j]].set(xs[j].T @ g_eta[:, j])
        for l in range(j, m):
            block = (xs[j] * d_eta[l][:, j][:, None]).T @ xs[l]
            hess = hess.at[np.ix_(rows_b[j], rows_b[l])].set(block)
            hess = hess.at[np.ix_(rows_b[l], rows_b[j])].set(block.T)
        if p:
            cross = xs[j].T @ d_eta[m:, :, j].T  # (k_j, p)
            hess = hess.at[np.ix_(rows_b[j], rows_e)].set(cross)
            hess = hess.at[np.ix_(rows_e, rows_b[j])].set(cross.T)
    if p:
        grad = grad.at[rows_e].set(g_e)
        ee = d_e[m:]
        hess = hess.at[np.ix_(rows_e, rows_e)].set((ee + ee.T) / 2.0)
    return value, grad, hess


def _flat_positions(spec: ParamSpec) -> dict[str, np.ndarray]:
    """For each top-level parameter, its positions in the flat vector (numpy, static)."""
    leaves, i = [], 0
    for shape in spec.shapes:
        size = int(np.prod(shape, dtype=int))
        leaves.append(np.arange(i, i + size).reshape(shape))
        i += size
    return jax.tree_util.tree_unflatten(spec.treedef, leaves)


@float64
def IndexModel(obs_loglike: Callable[..., Any], start: Mapping[str, Any], data: Mapping[str, Any], *,
               design: Mapping[str, str], index_hessian: bool = True, **model_options: Any):
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
    >>> bool(np.allclose(fast.bse, generic.bse, rtol=1e-12))
    True
    """
    from .model import Model

    if not isinstance(start, Mapping) or not isinstance(design, Mapping) or not design:
        raise SpecificationError(message(
            "IndexModel needs dict start values and a non-empty design mapping",
            expected="start={'beta': zeros(k), ...}, design={'beta': 'X'}",
            got=f"start {type(start).__name__}, design {design!r}", fix="pass dicts"))
    for name, col in design.items():
        if name not in start or np.ndim(start[name]) != 1:
            raise SpecificationError(message(
                f"design entry {name!r} does not name a vector in start",
                expected=f"start[{name!r}] a 1-d vector of coefficients for data[{col!r}]",
                got=f"start keys {sorted(start)}", fix="use the same key in start and design"))
        if not isinstance(data, Mapping) or col not in data or np.ndim(data[col]) != 2 \
                or np.shape(data[col])[1] != np.size(start[name]):
            raise SpecificationError(message(
                f"design column {col!r} is not an (n, {np.size(start[name])}) matrix in data",
                expected=f"data[{col!r}] with {np.size(start[name])} columns (one per element of start[{name!r}])",
                got=f"shape {np.shape(data[col]) if isinstance(data, Mapping) and col in data else 'missing'}",
                fix="pass the design matrix in data under that key"))
    loglike = IndexLoglike(obs_loglike, tuple(sorted((str(k), str(v)) for k, v in design.items())))
    model = Model(loglike, start, data, index=loglike if index_hessian else None, **model_options)
    if index_hessian and not hasattr(model.data, "blocks"):
        _check_row_separable(model)
    return model


def _check_row_separable(model) -> None:
    """Compare the index Hessian with ``jax.hessian`` on a few rows: a row-mixing likelihood fails."""
    n = model.nobs or 0
    rows = min(n, 16)
    sample = jax.tree_util.tree_map(lambda a: a[:rows] if np.ndim(a) >= 1 and np.shape(a)[0] == n else a, model.data)
    rng = np.random.default_rng(0)
    theta = model.start + 0.01 * rng.standard_normal(model.k_params)
    with x64():
        t = jnp.asarray(theta)
        fast = np.asarray(value_grad_hess(t, sample, model.index, model.spec)[2])
        slow = np.asarray(diff.value_grad_hess(t, sample, model.loglike, model.spec)[2])
    scale = max(float(np.max(np.abs(slow))), 1e-300)
    if not np.all(np.isfinite(fast)) or np.max(np.abs(fast - slow)) > 1e-8 * scale:
        raise SpecificationError(message(
            "the index-model Hessian disagrees with the generic Hessian on the first rows",
            expected="obs_loglike to be a per-observation function of row i of each eta (and the extra parameters)",
            got=f"max abs difference {np.max(np.abs(fast - slow)):.3g} (scale {scale:.3g})",
            fix="make each observation's term depend only on its own row, or use hs.Model / index_hessian=False"))
