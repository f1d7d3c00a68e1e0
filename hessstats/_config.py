"""float64 policy: every public entry point computes under a scoped ``jax.enable_x64(True)``.

hessstats never flips the user's global ``jax_enable_x64`` flag. Instead each public function is
wrapped with :func:`float64`, which enters JAX's x64 context for the duration of the call, so
results are float64 whatever the caller's configuration, and the caller's other JAX code keeps its
own settings. Arrays are converted with :func:`as_float64` (a copy: the caller's data is never
modified).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import jax
import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

DTYPE = np.float64


def x64():
    """Context manager under which JAX creates and computes in float64."""
    return jax.enable_x64(True)


def float64(fn: F) -> F:
    """Decorator: run ``fn`` inside :func:`x64`.

    Example
    -------
    >>> @float64
    ... def ones():
    ...     import jax.numpy as jnp
    ...     return jnp.ones(2).dtype
    >>> str(ones())
    'float64'
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with x64():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def as_float64(x: Any) -> np.ndarray:
    """A float64 numpy copy of ``x`` (never a view of the caller's array)."""
    return np.array(x, dtype=DTYPE, copy=True)
