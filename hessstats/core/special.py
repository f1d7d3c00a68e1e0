"""Special functions of the built-in likelihoods, with derivatives exact to rounding in both tails.

``softplus(x) = log(1 + exp(x))`` is the logit family's log-normaliser: a logit observation's
log-likelihood is ``y x - softplus(x)``, ``log P(y=1) = -softplus(-x)``. Its derivatives are the
logistic function ``p(x) = 1 / (1 + exp(-x))`` and the Hessian weight ``p(x) p(-x)``.

JAX's ``jnp.logaddexp(0.0, x)`` has the right values, but its derivative rule returns the second
derivative as ``p (1 - p)``: for large positive ``x`` the ``1 - p`` cancels (relative error 3e-7 at
``x = 20``, 1% at 30, and 0 instead of ``6.3e-16`` at 35), so observations in the upper tail get
wrong Hessian weights (the lower tail is exact). Here the weight is the product
``expit(x) expit(-x)`` of two values exact to rounding (:func:`expit`), so it is exact to rounding
at every ``x``, and so are the higher derivatives JAX takes through it (the Laplace approximation
of a GLMM differentiates four times).
It also compiles to faster CPU code: XLA evaluated ``logaddexp(0, x)`` at 1e6 points in 7.2 ms
against 1.3 ms for the same value written as below (the NaN guard of the two-argument form is not
needed for one fixed argument).

Example
-------
>>> import jax, numpy as np
>>> with jax.enable_x64(True):
...     w = jax.grad(jax.grad(softplus))(35.0)
>>> bool(abs(float(w) - np.exp(-35.0) / (1 + np.exp(-35.0)) ** 2) <= 1e-15 * float(w))
True
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


@jax.custom_jvp
def softplus(x: Any) -> Any:
    """``log(1 + exp(x))`` for any real ``x`` (no overflow); derivative :func:`expit`.

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):
    ...     out = softplus(jax.numpy.array([-800.0, 0.0, 800.0]))
    >>> [round(float(v), 6) for v in out]
    [0.0, 0.693147, 800.0]
    """
    return jnp.maximum(x, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(x)))


@softplus.defjvp
def _softplus_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x,), (t,) = primals, tangents
    return softplus(x), expit(x) * t


def expit(x: Any) -> Any:
    """The logistic function ``1 / (1 + exp(-x))``, exact to rounding in both tails. Its derivative
    is ``expit(x) expit(-x)``, a product of two such values (no ``1 - p`` cancels), so every higher
    derivative, taken by JAX through that rule, is a polynomial in ``expit(x)`` and ``expit(-x)``:
    exact to rounding at every ``x``, ``x = 0`` included (a formula in ``|x|`` would lose the kink's
    derivatives there).

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):
    ...     p = expit(jax.numpy.array([-40.0, 0.0, 40.0]))
    ...     third = jax.grad(jax.grad(jax.grad(expit)))(0.0)   # (w (1 - 2p))' = -2 w^2 = -1/8 at 0
    >>> [float(v) for v in p[1:]], bool(abs(float(p[0]) / 4.248354255291589e-18 - 1) < 1e-15), float(third)
    ([0.5, 1.0], True, -0.125)
    """
    return _expit_pair(x)[0]


@jax.custom_jvp
def _expit_pair(x: Any) -> tuple[Any, Any]:
    """``(expit(x), expit(-x))`` from one ``exp(-|x|)``; derivatives ``(w, -w)``, ``w`` their product."""
    s = jnp.exp(-jnp.abs(x))
    positive = x >= 0
    return jnp.where(positive, 1.0, s) / (1.0 + s), jnp.where(positive, s, 1.0) / (1.0 + s)


@_expit_pair.defjvp
def _expit_pair_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x,), (t,) = primals, tangents
    p, q = _expit_pair(x)
    dw = p * q * t
    return (p, q), (dw, -dw)


def log_expit(x: Any) -> Any:
    """``log(expit(x)) = -softplus(-x)``: the log-probability of a logit outcome.

    Example
    -------
    >>> import jax
    >>> with jax.enable_x64(True):
    ...     out = log_expit(jax.numpy.array([0.0, -800.0]))
    >>> [round(float(v), 6) for v in out]
    [-0.693147, -800.0]
    """
    return -softplus(-x)
