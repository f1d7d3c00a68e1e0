"""Start-up: an opt-in persistent compilation cache, and where compile time goes.

Within one process every kernel compiles once per model shape (module-level ``jax.jit`` with the
log-likelihood and parameter structure as static arguments) and is reused by later fits, models
and iterations. Across processes, :func:`enable_compilation_cache` stores the compiled XLA
programs on disk (JAX's persistent compilation cache), so a new Python process that fits a model
of the same shape skips compilation. It is opt-in: it changes global JAX configuration.

Compiles are visible: ``hs.compile_stats()`` (process totals per kernel), ``res.compile_stats``
(the traces and seconds a fit's model incurred) and DEBUG records on ``logging.getLogger("hessstats")``.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax


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
