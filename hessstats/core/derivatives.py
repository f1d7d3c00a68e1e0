"""Exact derivatives with JAX: public ``gradient``/``hessian`` and the compiled likelihood kernels.

The likelihood kernels are module-level ``jax.jit`` functions whose static arguments are the
model's log-likelihood program (a :class:`~hessstats.core.compilation.Program`: the user's function
as traced and validated when the model was built) and the (hashable)
:class:`~hessstats.core.params.ParamSpec`, and whose dynamic arguments are the flat parameter
vector, the data and the constants the function captured (``consts``). So a kernel compiles once
per (log-likelihood, parameter structure, data shapes) and is reused across iterations, repeated
fits and new ``Model`` objects, while captured arrays are always the model's own. Every trace is
counted in :data:`TRACES` (see :func:`trace_count`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hessstats._config import float64
from hessstats.core.compilation import TRACES, Program
from hessstats.core.params import ParamSpec
from hessstats.errors import SpecificationError, message


def _flat_function(f: Callable, x: Any) -> tuple[Callable, jnp.ndarray, ParamSpec]:
    """``(f on the flat vector, the flat vector, spec)``; refuses an ``f`` that is not scalar."""
    if isinstance(x, (list, tuple)) and all(np.ndim(v) == 0 for v in x):
        x = np.asarray(x, dtype=np.float64)  # a list of numbers is a vector, not a pytree
    spec = ParamSpec.from_start(x)

    def flat(v):
        return jnp.asarray(f(spec.unravel(v)), dtype=jnp.float64)

    vec = spec.ravel(x)
    shape = jax.eval_shape(flat, vec).shape
    if shape != ():
        raise SpecificationError(message(
            "f must return a scalar: expected a scalar function",
            expected="f: R^n -> R returning a 0-d value", got=f"output shape {shape}",
            fix="sum the components (jnp.sum(f(x))) or pick one (f(x)[i])"))
    return flat, vec, spec


@float64
def gradient(f: Callable[[Any], Any], x: Any) -> np.ndarray:
    """Exact gradient of a scalar function ``f`` at ``x`` as a float64 vector.

    ``x`` may be a number, list, array or pytree; a pytree is flattened in ``jax.tree_util`` order
    (dict keys sorted).

    Example
    -------
    >>> gradient(lambda v: v[0] ** 2 * v[1], [1.0, 3.0]).tolist()
    [6.0, 1.0]
    """
    g, v, _ = _flat_function(f, x)
    return np.asarray(jax.grad(g)(v), dtype=np.float64)


@float64
def hessian(f: Callable[[Any], Any], x: Any) -> np.ndarray:
    """Exact, symmetrised Hessian of a scalar function ``f`` at ``x`` as a float64 matrix.

    Computed as ``jax.jacfwd(jax.jacrev(f))`` (forward-over-reverse) in float64 and symmetrised as
    ``(H + H.T) / 2``. For a pytree ``x`` the matrix is over the flattened vector.

    Example
    -------
    >>> hessian(lambda v: v[0] ** 2 * v[1] + v[1] ** 2 * v[0], [1.0, 1.0]).tolist()
    [[2.0, 4.0], [4.0, 2.0]]
    """
    g, v, _ = _flat_function(f, x)
    h = np.asarray(jax.hessian(g)(v), dtype=np.float64)
    return (h + h.T) / 2.0


# ----------------------------------------------------------------------------- likelihood kernels
# ``weights`` (optional, shape (n,)) multiplies each observation: 1 for real rows, 0 for the padding
# rows that keep every chunk of a chunked or sharded fit the same shape (one compile per shape).
# ``loglike`` is a Program (what models pass; ``consts`` are its captured constants) or, for direct
# calls, a plain ``loglike(params, data)``.


@dataclass(frozen=True)
class FlatLoglike:
    """``loglike(params, data)`` as a function of the flat parameter vector: what a model traces.

    Hashable by the user's function and the parameter structure (not the names).

    Example
    -------
    >>> spec = ParamSpec.from_start({"mu": 0.0})
    >>> FlatLoglike(lambda p, d: d - p["mu"], spec)(np.array([1.0]), np.array([3.0])).tolist()
    [2.0]
    """

    loglike: Callable[[Any, Any], Any]
    spec: ParamSpec

    def __call__(self, theta: Any, data: Any) -> Any:
        return self.loglike(self.spec.unravel(theta), data)


def _loglike_obs(theta, data, loglike, spec, weights=None, consts=()):
    if isinstance(loglike, Program):
        out = loglike(consts, theta, data)
    else:
        out = loglike(spec.unravel(theta), data)
    out = jnp.asarray(out, dtype=jnp.float64)
    return out if weights is None else out * weights


def _loglike_sum(theta, data, loglike, spec, weights=None, consts=()):
    return jnp.sum(_loglike_obs(theta, data, loglike, spec, weights, consts))


@partial(jax.jit, static_argnames=("loglike", "spec"))
def loglike_obs(theta, data, loglike, spec, weights=None, consts=()):
    """Per-observation log-likelihood values at the flat parameter vector ``theta``."""
    TRACES["loglike_obs"] += 1
    return _loglike_obs(theta, data, loglike, spec, weights, consts)


@partial(jax.jit, static_argnames=("loglike", "spec"))
def value_grad_hess(theta, data, loglike, spec, weights=None, consts=()):
    """``(sum loglike, gradient, symmetrised Hessian)`` at ``theta``, in one compiled call.

    The Hessian is reverse-over-reverse (``jax.jacrev(jax.grad)``) of the summed log-likelihood:
    measured 10-25% faster than ``jax.hessian`` (forward-over-reverse) on CPU for logit designs
    (n=1e5..1e6, k=20..50), equal to rounding (~1e-15 relative). For
    likelihoods that depend on the data through linear predictors, :mod:`hessstats.models.index` assembles
    it as ``X' diag(w) X`` instead (much less work); :mod:`hessstats.rows.source` bounds the memory.
    """
    TRACES["value_grad_hess"] += 1
    return value_grad_hess_traced(theta, data, loglike, spec, weights, consts)


def value_grad_hess_traced(theta, data, loglike, spec, weights=None, consts=()):
    """The body of :func:`value_grad_hess`, for kernels that evaluate inside their own program
    (:mod:`hessstats.core.fused`): not jitted, not counted.

    Example
    -------
    >>> spec = ParamSpec.from_start({"mu": 0.0})
    >>> with jax.enable_x64(True):
    ...     v, g, h = value_grad_hess_traced(jnp.zeros(1), np.array([1.0, 3.0]), lambda p, d: -(d - p["mu"]) ** 2, spec)
    >>> float(v), g.tolist(), h.tolist()
    (-10.0, [8.0], [[-4.0]])
    """
    value, grad = jax.value_and_grad(_loglike_sum)(theta, data, loglike, spec, weights, consts)
    hess = jax.jacrev(jax.grad(_loglike_sum))(theta, data, loglike, spec, weights, consts)
    return value, grad, (hess + hess.T) / 2.0


@partial(jax.jit, static_argnames=("loglike", "spec"))
def value_grad(theta, data, loglike, spec, weights=None, consts=()):
    """``(sum loglike, gradient)`` at ``theta``."""
    TRACES["value_grad"] += 1
    return jax.value_and_grad(_loglike_sum)(theta, data, loglike, spec, weights, consts)


@partial(jax.jit, static_argnames=("loglike", "spec"))
def scores(theta, data, loglike, spec, weights=None, consts=()):
    """Per-observation scores, an ``(n, k)`` matrix: row i is the gradient of observation i.

    Forward mode (k Jacobian-vector products), so memory is O(n k), never O(n^2).
    """
    TRACES["scores"] += 1
    return jax.jacfwd(_loglike_obs)(theta, data, loglike, spec, weights, consts)


@partial(jax.jit, static_argnames=("loglike", "spec"))
def score_squares(theta, data, directions, loglike, spec, weights=None, consts=()):
    """``sum_i w_i (s_i . v)^2`` for each column ``v`` of ``directions`` (shape ``(k, b)``): diagonal
    entries of the outer product of the scores (OPG) from ``b`` forward passes, memory O(n b).

    Additive over row blocks; what the mean-log-likelihood check (``Model.fit``) compares with the
    Hessian's diagonal.
    """
    TRACES["score_squares"] += 1
    return score_squares_traced(theta, data, directions, loglike, spec, weights, consts)


def score_squares_traced(theta, data, directions, loglike, spec, weights=None, consts=()):
    """The body of :func:`score_squares` (not jitted, not counted; see :func:`value_grad_hess_traced`).

    Example
    -------
    >>> spec = ParamSpec.from_start({"mu": 0.0})
    >>> with jax.enable_x64(True):   # scores 2 (d - mu): 2^2 + 6^2
    ...     out = score_squares_traced(jnp.zeros(1), np.array([1.0, 3.0]), np.ones((1, 1)),
    ...                                lambda p, d: -(d - p["mu"]) ** 2, spec)
    >>> out.tolist()
    [40.0]
    """

    def projected(v):
        slope = jax.jvp(lambda t: _loglike_obs(t, data, loglike, spec, None, consts), (theta,), (v,))[1]
        return jnp.sum(slope ** 2 if weights is None else weights * slope ** 2)

    return jax.vmap(projected, in_axes=1)(directions)


@partial(jax.jit, static_argnames=("loglike", "spec"))
def hessian_columns(theta, data, directions, loglike, spec, weights=None, consts=()):
    """Hessian times a block of directions, ``H @ directions`` (shape ``(k, b)``), as jvp-of-grad.

    Memory is O(n b) for a block of ``b`` directions instead of O(n k): the building block of the
    many-parameter Hessian and of Hessian-vector products (:mod:`hessstats.core.hvp`).
    """
    TRACES["hessian_columns"] += 1
    grad = jax.grad(_loglike_sum)

    def hvp(v):
        return jax.jvp(lambda t: grad(t, data, loglike, spec, weights, consts), (theta,), (v,))[1]

    return jax.vmap(hvp, in_axes=1, out_axes=1)(directions)
