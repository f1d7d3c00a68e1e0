"""Compilation: one registry of traces and compile seconds, and the opt-in persistent cache.

Within one process every kernel compiles once per model shape (module-level ``jax.jit`` with the
log-likelihood and parameter structure as static arguments) and is reused by later fits, models
and iterations. Across processes, :func:`enable_compilation_cache` stores the compiled XLA
programs on disk (JAX's persistent compilation cache), so a new Python process that fits a model
of the same shape skips compilation. It is opt-in: it changes global JAX configuration.

Compiles are visible: ``hs.compile_stats()`` (process totals per kernel), ``res.compile_stats``
(the traces and seconds a fit's model incurred) and DEBUG records on ``logging.getLogger("hessstats")``.
"""

from __future__ import annotations

import collections
import logging
import os
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax

TRACES: collections.Counter[str] = collections.Counter()
"""How many times each likelihood kernel has been traced (compiled) in this process."""


def trace_count(kernel: str | None = None) -> int:
    """Number of traces of one kernel (or all kernels) so far in this process.

    Example
    -------
    >>> isinstance(trace_count(), int)
    True
    """
    return TRACES[kernel] if kernel else sum(TRACES.values())

COMPILE_SECONDS: collections.Counter[str] = collections.Counter()
"""Wall time of the calls that traced (compiled) each kernel: compile plus one execution."""

_LOG = logging.getLogger("hessstats")


def call_kernel(name: str, kernel: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call a jitted kernel, blocking until done; count and time it when it (re)compiles.

    Compiles are logged at DEBUG level on ``logging.getLogger("hessstats")``.

    Example
    -------
    >>> import jax, jax.numpy as jnp
    >>> float(call_kernel("square", jax.jit(lambda x: (x ** 2).sum()), jnp.arange(3.0)))
    5.0
    """
    before = trace_count()
    start = time.perf_counter()
    out = jax.block_until_ready(kernel(*args, **kwargs))
    if trace_count() != before:
        elapsed = time.perf_counter() - start
        COMPILE_SECONDS[name] += elapsed
        _LOG.debug("compiled %s in %.3f s (trace %d)", name, elapsed, TRACES[name])
    return out


def compile_stats() -> dict[str, dict[str, float]]:
    """Traces and compile seconds per kernel so far in this process.

    Example
    -------
    >>> sorted(compile_stats()) == sorted(set(TRACES) | set(COMPILE_SECONDS))
    True
    """
    names = sorted(set(TRACES) | set(COMPILE_SECONDS))
    return {n: {"traces": TRACES[n], "seconds": round(float(COMPILE_SECONDS[n]), 4)} for n in names}


MODEL_STATS: weakref.WeakKeyDictionary[Any, dict[str, float]] = weakref.WeakKeyDictionary()
"""Per model: kernel traces and compile seconds incurred by its evaluations (``res.compile_stats``)."""


def counted_for_model(fn):
    """Attribute the traces and compile seconds of a model-level call to that model.

    Example
    -------
    >>> class Owner:  # any weak-referenceable object
    ...     pass
    >>> owner = Owner()
    >>> counted_for_model(lambda model: 1)(owner), MODEL_STATS[owner]["traces"]
    (1, 0)
    """

    def wrapper(model, *args):
        traces, seconds = trace_count(), sum(COMPILE_SECONDS.values())
        try:
            return fn(model, *args)
        finally:
            stats = MODEL_STATS.setdefault(model, {"traces": 0, "compile_seconds": 0.0})
            stats["traces"] += trace_count() - traces
            stats["compile_seconds"] += sum(COMPILE_SECONDS.values()) - seconds

    return wrapper



def enable_compilation_cache(path: str | os.PathLike | None = None, *, min_compile_time_secs: float = 0.0) -> Path:
    """Turn on JAX's persistent compilation cache in ``path`` (default ``~/.cache/hessstats/jax``).

    Sets ``jax_compilation_cache_dir``, ``jax_persistent_cache_min_compile_time_secs`` (default 0:
    cache every kernel, they are small) and ``jax_persistent_cache_min_entry_size_bytes`` (0).
    Call it once, before the first fit; it returns the cache directory. Equivalent environment
    variable for any JAX program: ``JAX_COMPILATION_CACHE_DIR``.

    Example
    -------
    >>> import tempfile
    >>> enable_compilation_cache(tempfile.mkdtemp()).is_dir()
    True
    """
    directory = Path(path) if path is not None else Path.home() / ".cache" / "hessstats" / "jax"
    directory.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_secs))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return directory
