"""Compilation: one registry of traces and compile seconds, and the opt-in persistent cache.

Within one process every kernel compiles once per model shape (module-level ``jax.jit`` with the
log-likelihood and parameter structure as static arguments) and is reused by later fits, models
and iterations. Across processes, :func:`enable_compilation_cache` stores the compiled XLA
programs on disk (JAX's persistent compilation cache), so a new Python process that fits a model
of the same shape skips compilation. It is opt-in: it changes global JAX configuration.

Compiles are visible: ``hs.compile_stats()`` (process totals per kernel), ``res.compile_stats``
(the traces and seconds a fit's model incurred) and DEBUG records on ``logging.getLogger("hessstats")``.

What a kernel compiles is a :class:`Program`: the user's function traced once when the model is
built (a jaxpr), with the arrays it captures (globals, closures) taken out as *arguments*. The
jit cache key is the function and the jaxpr's text, never the captured values, so a model built
after a captured array changed gets the new values without a recompile, a model keeps the values
it was built with, and every kernel of a model evaluates the same program.

Built-in log-likelihoods opt into :func:`trusted` (pure, no captured arrays, row by row): their
traces and programs are cached per function, parameter structure, argument signature and JAX
settings (:func:`cached_trace`, :func:`cached_program`), so building a model of a seen shape traces
nothing. A user's function is never trusted and is traced (twice) for every model.
"""

from __future__ import annotations

import collections
import enum
import inspect
import logging
import os
import threading
import time
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hessstats.core import interpret
from hessstats.errors import SpecificationError, message

try:  # the JAX settings a trace depends on (dtype promotion, x64, ...): what jit's own trace cache is keyed on
    from jax._src.config import trace_context as _trace_context
except ImportError:  # pragma: no cover (a JAX without it: the float64 setting, the one hessstats changes)
    def _trace_context() -> Any:
        return jax.config.jax_enable_x64

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
"""Wall time of the calls that traced or compiled each kernel: the trace plus one numpy evaluation
(the first calls of a shape), or the compile plus one execution."""

_LOG = logging.getLogger("hessstats")


def call_kernel(name: str, kernel: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call a jitted kernel, blocking until done; count and time it when it (re)compiles.

    A kernel in :data:`INTERPRETED_KERNELS` runs its traced program with numpy
    (:mod:`hessstats.core.interpret`) until that has cost :data:`NUMPY_SHARE` of one compile of its
    shape, then is compiled. Compiles are logged at DEBUG level on ``logging.getLogger("hessstats")``.

    Example
    -------
    >>> import jax, jax.numpy as jnp
    >>> float(call_kernel("square", jax.jit(lambda x: (x ** 2).sum()), jnp.arange(3.0)))
    5.0
    """
    before = trace_count()
    start = time.perf_counter()
    out, shape = _interpreted(name, kernel, args, kwargs) if name in INTERPRETED_KERNELS and INTERPRET else (None, None)
    compiled = out is None
    first = False
    if compiled:
        out = jax.block_until_ready(kernel(*args, **kwargs))
        if shape is not None:  # its first compiled call compiles, whether or not JAX re-runs the trace
            first, shape.compiled = not shape.compiled, True
    if trace_count() != before or first:
        elapsed = time.perf_counter() - start
        COMPILE_SECONDS[name] += elapsed
        if compiled:
            _COMPILES[name] += 1
            _COMPILE_TIME[name] += elapsed
        _LOG.debug("%s %s in %.3f s (trace %d)", "compiled" if compiled else "traced (numpy)", name, elapsed,
                   TRACES[name])
    return out


INTERPRET = True
"""Evaluate the first calls of a kernel shape with numpy instead of compiling (False: compile at once).
Kernels compile at once on other backends than the CPU and with the persistent cache
(:func:`enable_compilation_cache`), whose compiles later processes reuse."""

INTERPRETED_KERNELS = frozenset({"value_grad_hess", "value_grad", "loglike_obs", "scores", "index_value_grad_hess",
                                 "index_derivatives", "score_squares", "laplace_report", "laplace_mode", "margins",
                                 "observation_curvature"})
"""The kernels :func:`call_kernel` may evaluate with numpy (pure functions of their arguments,
static arguments ``loglike``, ``spec``, ``lap`` and ``predict``)."""

COMPILE_GUESS = 0.2
"""Seconds one compile of a kernel is taken to cost before any has been measured (the smallest
value/gradient/Hessian kernels: 0.17-0.27 s on a 2-core CPU, lowering included)."""

NUMPY_SHARE = 1.0
"""A kernel shape is compiled once its numpy evaluations have cost this share of one compile: the
rule of renting until the rent paid equals the price (a loop never spends more than about twice
what the best choice made in hindsight would), with every numpy second counted as rent although a
compiled call is not free. For the small kernels this serves, numpy and XLA now take about as long
per call (a logit's value, gradient and Hessian through ``Model.evaluate``, n = 60 to 10,000:
numpy 0.8-1.2x the compiled call), so compiling such a kernel gains little; a one-off fit and a
loop of a hundred small fits compile nothing."""

_STATIC = ("loglike", "spec", "lap", "predict")
_COMPILES: collections.Counter[str] = collections.Counter()
_COMPILE_TIME: collections.Counter[str] = collections.Counter()


@dataclass(eq=False)
class _Shape:
    """What :func:`call_kernel` knows of one kernel shape."""

    plan: interpret.Plan | None
    """The numpy plan of its program; None: compile it."""
    out_tree: Any
    kernel: Callable
    """Held so that the ``id`` in the key is not reused."""
    spent: float = 0.0
    """Seconds of numpy evaluations so far."""
    compiled: bool = False


_ENTRIES: collections.OrderedDict[tuple, _Shape] = collections.OrderedDict()
"""The kernel shapes seen, least recently used first."""
_MAX_ENTRIES = 256
_ENTRIES_LOCK = threading.Lock()
_STATIC_POSITIONS: dict[int, tuple[int, ...]] = {}


COMPILE_BASE, COMPILE_PER_STEP = 0.1, 1.2e-3
"""A compile's cost grows with the program: about 0.1 s plus 1.2-2 ms per numpy step (measured on a
2-core CPU, trace and lowering included: 34 steps 0.18 s, 331 steps 0.62 s, 1,093 steps 2.0 s,
2,507 steps 5.2 s for a Laplace marginal's Hessian). The lower end prices a program: a big one is
not compiled after a small one's price in numpy time."""


def compile_estimate(name: str, guess: float = COMPILE_GUESS, steps: int = 0) -> float:
    """Seconds one compile of kernel ``name`` costs: the mean of those :func:`call_kernel` measured,
    or ``guess`` before the first; for a program of ``steps`` numpy steps at least
    :data:`COMPILE_BASE` + :data:`COMPILE_PER_STEP` per step.

    Example
    -------
    >>> compile_estimate("a kernel never compiled") == COMPILE_GUESS, compile_estimate("another", guess=0.5)
    (True, 0.5)
    >>> round(compile_estimate("a large program", steps=2000), 6)
    2.5
    """
    measured = _COMPILE_TIME[name] / _COMPILES[name] if _COMPILES[name] else guess
    return max(measured, COMPILE_BASE + COMPILE_PER_STEP * steps) if steps else measured


def _static_positions(kernel: Callable) -> tuple[int, ...]:
    positions = _STATIC_POSITIONS.get(id(kernel))
    if positions is None:
        names = list(inspect.signature(kernel).parameters)
        positions = _STATIC_POSITIONS[id(kernel)] = tuple(names.index(n) for n in _STATIC if n in names)
    return positions


def _interpreted(name: str, kernel: Callable, args: tuple, kwargs: dict) -> tuple[Any, _Shape | None]:
    """``(the kernel's outputs evaluated with numpy, or None: compile it; its shape)``. Compiled:
    another backend, a program with an unsupported primitive or a large intermediate, or one on which
    numpy has cost its share of a compile already."""
    if jax.default_backend() != "cpu" or jax.config.jax_compilation_cache_dir:
        return None, None  # another backend; or a persistent cache, where a compile serves later processes
    statics = _static_positions(kernel)
    dynamic = (tuple(a for i, a in enumerate(args) if i not in statics),
               {k: v for k, v in kwargs.items() if k not in _STATIC})
    leaves, tree = jax.tree_util.tree_flatten(dynamic)
    key = (name, id(kernel), tuple(args[i] for i in statics if i < len(args)),
           tuple((k, kwargs[k]) for k in _STATIC if k in kwargs), tree, _trace_context(),
           tuple((np.shape(x), x.dtype if hasattr(x, "dtype") else type(x), bool(getattr(x, "weak_type", False)))
                 for x in leaves))
    with _ENTRIES_LOCK:  # fits may run in threads (a Dask worker's, a user's pool)
        shape = _ENTRIES.get(key)
        if shape is not None:
            _ENTRIES.move_to_end(key)
    if shape is None:
        traced = kernel.trace(*args, **kwargs)
        plan = None
        if traced.in_tree == tree and interpret.supported(traced.jaxpr):
            try:
                plan = interpret.Plan(traced.jaxpr)
            except Exception as exc:  # a case the numpy steps do not cover: compile
                _LOG.debug("kernel %s compiled: no numpy plan (%s: %s)", name, type(exc).__name__, exc)
        with _ENTRIES_LOCK:
            shape = _ENTRIES.setdefault(key, _Shape(plan, traced.out_tree, kernel))
            while len(_ENTRIES) > _MAX_ENTRIES:
                _ENTRIES.popitem(last=False)
    if shape.compiled or shape.plan is None or shape.spent >= NUMPY_SHARE * compile_estimate(name, steps=shape.plan.steps):
        return None, shape
    start = time.perf_counter()
    try:
        out = shape.plan.run(leaves)
    except Exception as exc:  # any case numpy does not cover (the values come from XLA instead)
        _LOG.debug("kernel %s compiled: numpy evaluation failed (%s: %s)", name, type(exc).__name__, exc)
        shape.plan = None
        return None, shape
    shape.spent += time.perf_counter() - start
    return jax.tree_util.tree_unflatten(shape.out_tree, out), shape


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
    """Attribute the traces and compile seconds of a model-level call to that model (:func:`charge`).

    Example
    -------
    >>> class Owner:  # any weak-referenceable object
    ...     pass
    >>> owner = Owner()
    >>> counted_for_model(lambda model: 1)(owner), MODEL_STATS.get(owner) is None   # nothing compiled
    (1, True)
    """

    def wrapper(model, *args):
        since = compile_totals()
        try:
            return fn(model, *args)
        finally:
            charge(model, since)

    return wrapper


def compile_totals() -> tuple[int, float]:
    """``(traces, compile seconds)`` of all kernels so far: the mark :func:`charge` counts from.

    Example
    -------
    >>> traces, seconds = compile_totals()
    >>> traces == trace_count()
    True
    """
    return trace_count(), float(sum(COMPILE_SECONDS.values()))


def charge(owner: Any, since: tuple[int, float]) -> None:
    """Attribute the traces and compile seconds since the mark ``since`` (:func:`compile_totals`) to
    ``owner`` (``res.compile_stats``): what a model's construction compiled for it (its row bucket).
    An owner that never compiled has no entry (``res.compile_stats`` reads zeros).

    Example
    -------
    >>> class Owner:
    ...     pass
    >>> owner = Owner()
    >>> charge(owner, (trace_count() - 2, float(sum(COMPILE_SECONDS.values())) - 0.5))
    >>> MODEL_STATS[owner]["traces"], round(MODEL_STATS[owner]["compile_seconds"], 6)
    (2, 0.5)
    """
    traces, seconds = compile_totals()
    if traces == since[0] and seconds == since[1]:
        return  # the common call: nothing traced or compiled (no weak reference made)
    stats = MODEL_STATS.setdefault(owner, {"traces": 0, "compile_seconds": 0.0})
    stats["traces"] += traces - since[0]
    stats["compile_seconds"] += seconds - since[1]


def enable_compilation_cache(path: str | os.PathLike | None = None, *, min_compile_time_secs: float = 0.0) -> Path:
    """Turn on JAX's persistent compilation cache in ``path`` (default ``~/.cache/hessstats/jax``).

    Sets ``jax_compilation_cache_dir``, ``jax_persistent_cache_min_compile_time_secs`` (default 0:
    cache every kernel, they are small) and ``jax_persistent_cache_min_entry_size_bytes`` (0).
    Call it once, before the first fit; it returns the cache directory. Equivalent environment
    variable for any JAX program: ``JAX_COMPILATION_CACHE_DIR``.

    The setting is process-wide; the example runs in a child process so that it does not turn the
    cache on for the process running it.

    Example
    -------
    >>> import subprocess, sys, tempfile
    >>> code = "import sys, hessstats as hs; print(hs.enable_compilation_cache(sys.argv[1]).is_dir())"
    >>> subprocess.run([sys.executable, "-c", code, tempfile.mkdtemp()], capture_output=True, text=True).stdout.strip()
    'True'
    """
    directory = Path(path) if path is not None else Path.home() / ".cache" / "hessstats" / "jax"
    directory.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_secs))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return directory


# ----------------------------------------------------------------------------- traced programs

def _signature(args: tuple) -> tuple:
    """``(pytree structure, ((shape, dtype), ...))`` of positional arguments (weak typing, which
    does not change values of a given dtype, is left out)."""
    leaves, tree = jax.tree_util.tree_flatten(args)
    avals = []
    for leaf in leaves:
        aval = jax.typeof(leaf)
        avals.append((tuple(aval.shape), aval.dtype))
    return tree, tuple(avals)


def _abstract(signature: tuple) -> tuple:
    tree, avals = signature
    return jax.tree_util.tree_unflatten(tree, [jax.ShapeDtypeStruct(shape, dtype) for shape, dtype in avals])


def _const_avals(consts: Any) -> tuple:
    return tuple((tuple(np.shape(c)), c.dtype if hasattr(c, "dtype") else np.asarray(c).dtype) for c in consts)


def const_avals(consts: Any) -> tuple:
    """``((shape, dtype), ...)`` of captured constants (what a :class:`Program`'s key holds).

    Example
    -------
    >>> const_avals((np.zeros(2),))
    (((2,), dtype('float64')),)
    """
    return _const_avals(consts)


def same_constants(a: tuple, b: tuple) -> bool:
    """True when two traces captured the same constant arrays (shapes, dtypes and values).

    Example
    -------
    >>> same_constants((np.ones(2),), (np.ones(2),)), same_constants((np.ones(2),), (np.zeros(2),))
    (True, False)
    """
    return len(a) == len(b) and all(_same_values(x, y) for x, y in zip(a, b))


def _const_values(c: Any) -> np.ndarray:
    if jax.dtypes.issubdtype(getattr(c, "dtype", np.float64), jax.dtypes.prng_key):
        c = jax.random.key_data(c)
    return np.asarray(c)


def _same_values(a: Any, b: Any) -> bool:
    a, b = _const_values(a), _const_values(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def _fresh_trace(fn: Callable, args: tuple) -> tuple[Any, Any]:
    """``jax.make_jaxpr(fn, return_shape=True)(*args)`` through a new wrapper object: JAX caches
    traces by function, and a cached trace would keep the constants of an earlier call."""
    return jax.make_jaxpr(lambda *a: fn(*a), return_shape=True)(*args)


def first_trace(fn: Callable, *args: Any) -> tuple[Any, Any]:
    """``(closed jaxpr, output shape)`` of one trace of ``fn(*args)`` (what :meth:`Program.trace`
    can take as its first trace).

    Example
    -------
    >>> import jax.numpy as jnp
    >>> closed, out = first_trace(lambda x: 2.0 * x, jnp.ones(3))
    >>> out.shape
    (3,)
    """
    return _fresh_trace(fn, args)


def _copy_const(c: Any) -> Any:
    """A device copy of a captured constant (device_put of a host copy: jnp.array would compile a
    conversion kernel for every new shape); PRNG keys by jnp.array."""
    if jax.dtypes.issubdtype(getattr(c, "dtype", np.float64), jax.dtypes.prng_key):
        return jnp.array(c, copy=True)
    return jax.device_put(np.array(c, copy=True))


def same_function(a: Any, b: Any) -> bool:
    """Whether two functions (or callable objects) are provably the same: identical, or equal by an
    ``__eq__`` that returns a plain truth value.

    Example
    -------
    >>> same_function(abs, abs), same_function(abs, len)
    (True, False)
    """
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:  # an __eq__ that returns arrays or raises: not provably the same function
        return False


class Program:
    """A function traced once: the static key of the compiled kernels, run with its captured
    constants passed as an argument.

    :meth:`trace` traces ``fn(*args)`` twice (a function whose two traces differ, e.g. one that
    draws numpy random numbers or counts its calls, is refused) and returns the program and a copy
    of the constants it captured (arrays from globals or closures, as device arrays: later changes
    to the caller's arrays do not reach the model). Calling ``program(consts, *args)`` inside a
    kernel evaluates the stored jaxpr with those constants; at other argument shapes (row blocks)
    the function is traced again and its captured constants are replaced, position by position,
    by the ones passed in (such a trace first checks that the function still traces to the validated
    program: captured values changed since construction are a :class:`SpecificationError`, so a
    model builds the row-block shapes it needs when it is constructed, with :meth:`prepare`).
    Equality and hash: the function (identity or its own ``==``), the argument structure, the
    jaxpr's text and the constants' shapes and dtypes.

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp
    >>> from hessstats._config import x64
    >>> w = np.array([1.0, 2.0])
    >>> def f(x):
    ...     return w * x
    >>> with x64():
    ...     program, consts, out = Program.trace(f, jnp.ones(2))
    ...     w[:] = 0.0                              # the model keeps the values it was built with
    ...     program(consts, jnp.ones(2)).tolist()
    [1.0, 2.0]
    """

    def __init__(self, fn: Callable, closed: Any, signature: tuple, out_tree: Any, consts: tuple = (),
                 text: str | None = None):
        self.fn = fn
        self._home, self._home_consts = signature, tuple(consts)
        self.jaxpr = closed.jaxpr
        """The jaxpr traced when the model was built (at the validation shapes)."""
        self.text = str(closed.jaxpr) if text is None else text
        self.const_avals = _const_avals(closed.consts)
        self._rest = (signature[0], self.text, self.const_avals)
        try:
            fn_hash = hash(fn)
        except TypeError:  # an unhashable callable: identity only
            fn_hash = id(fn)
        self._hash = hash((fn_hash, self._rest))
        self._jaxprs: dict[tuple, tuple] = {signature: (closed.jaxpr, tuple(range(len(closed.consts))), (), out_tree)}

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        return (isinstance(other, Program) and self._hash == other._hash and self._rest == other._rest
                and same_function(self.fn, other.fn))

    def __repr__(self) -> str:
        return f"<Program {getattr(self.fn, '__name__', type(self.fn).__name__)}: {len(self.const_avals)} constants>"

    def __getstate__(self) -> dict:  # jaxprs are not pickled: a worker traces again (same key)
        return {"fn": self.fn, "jaxpr": None, "text": self.text, "const_avals": self.const_avals,
                "_rest": self._rest, "_hash": self._hash, "_jaxprs": {}, "_home": self._home,
                "_home_consts": self._home_consts}

    @classmethod
    def trace(cls, fn: Callable, *args: Any, first: tuple | None = None) -> tuple[Program, tuple, Any]:
        """``(program, captured constants, output shape)`` of ``fn(*args)``; see the class docstring.

        ``first``: ``(closed jaxpr, output)`` of a trace of ``fn(*args)`` already made (by
        :func:`first_trace`), used as the first of the two. Exceptions raised by ``fn`` propagate
        (the caller says what failed).
        """
        first, out = _fresh_trace(fn, args) if first is None else first
        second, _ = _fresh_trace(fn, args)
        problem = None
        text = str(first.jaxpr)
        if text != str(second.jaxpr):
            problem = "two calls with the same inputs ran different operations (Python state that changes per call)"
        elif len(first.consts) != len(second.consts) or not all(
                _same_values(a, b) for a, b in zip(first.consts, second.consts)):
            problem = "two calls with the same inputs captured different constant arrays (e.g. numpy random draws)"
        if problem:
            raise SpecificationError(message(
                "the function is not pure: every call with the same inputs must compute the same values",
                expected=f"{getattr(fn, '__name__', type(fn).__name__)} to depend only on its arguments and fixed arrays",
                got=problem,
                fix="draw random numbers once, outside the function, and pass them in `data`; do not update "
                    "counters or other Python state inside it"))
        consts = tuple(_copy_const(c) for c in first.consts)
        program = cls(fn, first, _signature(args), jax.tree_util.tree_structure(out), consts, text)
        return program, consts, out

    @classmethod
    def from_trace(cls, fn: Callable, first: tuple, *args: Any, text: str | None = None) -> tuple[Program, tuple, Any]:
        """``(program, captured constants, output shape)`` from one trace ``first`` (``(closed jaxpr,
        output)`` of ``fn(*args)``, e.g. by :func:`first_trace`) whose purity the caller has checked
        against another trace (:meth:`trace` checks it with a second trace of its own).

        Example
        -------
        >>> import jax.numpy as jnp
        >>> fn = lambda x: 2.0 * x
        >>> program, consts, out = Program.from_trace(fn, first_trace(fn, jnp.ones(2)), jnp.ones(2))
        >>> program(consts, jnp.arange(2.0)).tolist()
        [0.0, 2.0]
        """
        closed, out = first
        consts = tuple(_copy_const(c) for c in closed.consts)
        program = cls(fn, closed, _signature(args), jax.tree_util.tree_structure(out), consts, text)
        return program, consts, out

    def prepare(self, *args: Any) -> None:
        """Trace now for arguments shaped like ``args`` (the row blocks a model will use), while the
        captured values are those of construction."""
        self._at(_signature(args))

    def _at(self, signature: tuple) -> tuple:
        """The jaxpr for arguments of this signature: ``(jaxpr, positions of the passed constants,
        baked constants, output structure)``."""
        found = self._jaxprs.get(signature)
        if found is not None:
            return found
        try:
            closed, out = _fresh_trace(self.fn, _abstract(signature))
        except Exception as exc:  # it ran at the validation shapes: the new shapes are the problem
            raise SpecificationError(message(
                "the function fails on a block of rows although it ran on the whole data",
                expected="a function of the rows it is given (row blocks for chunks, shards, checks)",
                got=f"arguments of shapes {[a[0] for a in signature[1]]}: {type(exc).__name__}: "
                    f"{str(exc).splitlines()[0] if str(exc) else ''}"[:400],
                fix="pass per-row arrays through `data` instead of capturing them from globals or closures")) from exc
        home, _ = _fresh_trace(self.fn, _abstract(self._home))
        if str(home.jaxpr) != self.text or len(home.consts) != len(self._home_consts) or not all(
                _same_values(a, b) for a, b in zip(home.consts, self._home_consts)):
            raise SpecificationError(message(
                "the values the function captures changed after the model was built",
                expected="captured arrays and Python values as when the model was built (evaluating it on a new "
                         f"data shape, {[a[0] for a in signature[1]]}, traces the function again)",
                got="a trace now computes other operations or constants than the validated one",
                fix="build a new model after changing captured values, or pass such values through `data`"))
        if len(closed.consts) != len(self.const_avals):
            raise SpecificationError(message(
                "the function captures different arrays at different data shapes",
                expected=f"{len(self.const_avals)} captured constant arrays at every shape (as when it was validated)",
                got=f"{len(closed.consts)} captured arrays for arguments of shapes {[a[0] for a in signature[1]]}",
                fix="pass arrays through `data` instead of capturing them from globals or closures"))
        # a constant with the validated shape is the validated constant; one whose shape follows
        # the data shape (e.g. np.ones(len(d))) depends on the shape only and stays as traced
        positions = tuple(i if aval == self.const_avals[i] else None for i, aval in enumerate(_const_avals(closed.consts)))
        found = (closed.jaxpr, positions, tuple(closed.consts), jax.tree_util.tree_structure(out))
        self._jaxprs[signature] = found
        return found

    def __call__(self, consts: tuple, *args: Any) -> Any:
        jaxpr, positions, baked, out_tree = self._at(_signature(args))
        values = [consts[i] if i is not None else baked[j] for j, i in enumerate(positions)]
        out = jax.core.eval_jaxpr(jaxpr, values, *jax.tree_util.tree_leaves(args))
        return jax.tree_util.tree_unflatten(out_tree, out)


# ----------------------------------------------------------------------------- trusted built-ins
# A built-in log-likelihood is a module-level function (or an instance of a frozen dataclass whose
# fields are plain values) that captures no arrays and computes row by row. Such functions opt in
# with :func:`trusted`; a user's function is never trusted (it can capture globals that change
# between builds), so it keeps every check of :meth:`Program.trace` and the row-bucket probes.

_TRUSTED_FUNCTIONS: dict[int, Any] = {}  # id -> the function (kept alive, so its id stays its own)
_TRUSTED_CLASSES: set[type] = set()
_PLAIN = (bool, int, float, complex, str, bytes, type(None))

TRACE_CACHE_SIZE = 512
"""At most this many traces of trusted log-likelihoods are kept (least recently used dropped)."""
_TRACE_CACHE: collections.OrderedDict[Any, tuple] = collections.OrderedDict()
TRACE_CACHE_STATS: collections.Counter[str] = collections.Counter()
"""``hits`` and ``misses`` of the trace cache of trusted log-likelihoods in this process."""


def trusted(obj: Any) -> Any:
    """Mark a built-in log-likelihood as *trusted* (a decorator): a module-level function, or a
    frozen dataclass whose instances are the log-likelihood, that is pure, captures no arrays and
    computes each observation from its own row only.

    Trusted log-likelihoods are traced once per parameter structure and argument signature (shapes,
    dtypes, tree structure) and the trace is reused by later models (:func:`cached_trace`); their
    rows are padded to a row bucket without the probes a user's function gets. A dataclass instance
    is trusted only while every field is a plain value (number, string, enum, None, or a tuple of
    them, or another trusted object): one holding a function or an array is not.

    Example
    -------
    >>> @trusted
    ... def double(theta, data):
    ...     return 2.0 * data["y"] * theta[0]
    >>> is_trusted(double), is_trusted(lambda theta, data: data["y"])
    (True, False)
    """
    if isinstance(obj, type):
        params = getattr(obj, "__dataclass_params__", None)
        if params is None or not params.frozen or not params.eq:
            raise TypeError(f"trusted classes are frozen dataclasses compared by their fields, not {obj!r}")
        _TRUSTED_CLASSES.add(obj)
    else:
        if not isinstance(obj, types.FunctionType) or obj.__closure__:
            raise TypeError(f"trusted functions are module-level functions without a closure, not {obj!r}")
        _TRUSTED_FUNCTIONS[id(obj)] = obj
    return obj


def _plain(value: Any) -> bool:
    if isinstance(value, (*_PLAIN, enum.Enum)):
        return True
    if isinstance(value, tuple):
        return all(_plain(v) for v in value)
    return is_trusted(value)


def is_trusted(fn: Any) -> bool:
    """Whether ``fn`` is a log-likelihood marked with :func:`trusted` (a registered function, or an
    instance of a registered dataclass, exactly that class, whose fields are all plain values).

    Example
    -------
    >>> is_trusted(abs)
    False
    """
    if _TRUSTED_FUNCTIONS.get(id(fn)) is fn:
        return True
    if type(fn) in _TRUSTED_CLASSES:
        return all(_plain(getattr(fn, name)) for name in fn.__dataclass_fields__)
    return False


def _config_key() -> tuple:
    """The JAX settings a trace depends on besides its arguments."""
    config = jax.config
    return (bool(config.jax_enable_x64), str(config.jax_default_matmul_precision),
            str(config.jax_numpy_rank_promotion), str(config.jax_numpy_dtype_promotion))


def abstract_signature(args: tuple) -> tuple | None:
    """``(tree structure, ((shape, dtype, weak type), ...))`` of ``args`` (arrays or
    ``jax.ShapeDtypeStruct``), or None when a leaf is not an array (then nothing is cached).

    Example
    -------
    >>> tree, avals = abstract_signature((np.zeros(2), {"y": np.zeros((3, 1))}))
    >>> [a[0] for a in avals]
    [(2,), (3, 1)]
    """
    leaves, tree = jax.tree_util.tree_flatten(args)
    avals = []
    for leaf in leaves:
        if isinstance(leaf, jax.ShapeDtypeStruct):
            avals.append((tuple(leaf.shape), np.dtype(leaf.dtype), bool(leaf.weak_type)))
        elif isinstance(leaf, (np.ndarray, jax.Array)):
            aval = jax.typeof(leaf)
            avals.append((tuple(aval.shape), np.dtype(aval.dtype), bool(getattr(aval, "weak_type", False))))
        else:
            return None
    return tree, tuple(avals)


def _cache_get(key: Any) -> tuple | None:
    found = _TRACE_CACHE.get(key)
    if found is not None:
        try:
            _TRACE_CACHE.move_to_end(key)
        except KeyError:  # dropped by another thread meanwhile: the value found is still valid
            pass
        TRACE_CACHE_STATS["hits"] += 1
    return found


def _cache_put(key: Any, value: tuple) -> None:
    TRACE_CACHE_STATS["misses"] += 1
    _TRACE_CACHE[key] = value
    while len(_TRACE_CACHE) > TRACE_CACHE_SIZE:
        try:
            _TRACE_CACHE.popitem(last=False)
        except KeyError:  # emptied by another thread
            break


def _key(fn: Any, owner: Any, args: tuple) -> Any:
    signature = abstract_signature(args)
    if signature is None or not is_trusted(owner):
        return None
    key = (fn, signature, _config_key())
    try:
        hash(key)
    except TypeError:  # an unhashable field: not cached
        return None
    return key


def cached_trace(fn: Callable, owner: Any, *args: Any) -> tuple[Any, Any]:
    """``(closed jaxpr, output shape)`` of ``fn(*args)`` (:func:`first_trace`), from the trace cache
    when ``owner`` is :func:`trusted` and ``fn`` is a hashable wrapper of ``owner`` made of plain
    values only (e.g. ``FlatLoglike(owner, spec)``, equal by ``owner`` and the parameter structure):
    the jaxpr of a pure function that captures no constants depends only on the function, the
    arguments' signature (shapes, dtypes, weak types, tree structure) and JAX's settings, the key.
    A trace that captured constants is not cached; an untrusted ``owner`` is always traced.
    ``args`` may be ``jax.ShapeDtypeStruct`` (a trace at another number of rows).

    Example
    -------
    >>> from hessstats._config import x64
    >>> @trusted
    ... def half(theta, data):
    ...     return 0.5 * data * theta[0]
    >>> with x64():
    ...     a = cached_trace(half, half, np.ones(1), np.ones(3))
    ...     b = cached_trace(half, half, np.ones(1), np.zeros(3))
    >>> a is b
    True
    """
    key = _key(fn, owner, args)
    if key is not None:
        found = _cache_get(("trace", key))
        if found is not None:
            return found
    out = _fresh_trace(fn, args)
    if key is not None and not out[0].consts:
        _cache_put(("trace", key), out)
    return out


def cached_program(fn: Callable, owner: Any, *args: Any) -> tuple[Program, tuple, Any] | None:
    """``(program, constants, output shape)`` of a trusted ``owner`` (see :func:`cached_trace`), the
    same :class:`Program` object for every model with the same key (no second trace: a trusted
    function is pure), or None when ``owner`` is not trusted or its trace captured constants.

    Example
    -------
    >>> from hessstats._config import x64
    >>> @trusted
    ... def third(theta, data):
    ...     return data * theta[0] / 3.0
    >>> with x64():
    ...     p1, consts, out = cached_program(third, third, np.ones(1), np.ones(3))
    ...     p2, _, _ = cached_program(third, third, np.ones(1), np.ones(3))
    >>> p1 is p2, consts, out.shape
    (True, (), (3,))
    """
    key = _key(fn, owner, args)
    if key is None:
        return None
    found = _cache_get(("program", key))
    if found is not None:
        return found
    closed, out = cached_trace(fn, owner, *args)
    if closed.consts:
        return None
    tree, avals = key[1]
    signature = (tree, tuple((shape, dtype) for shape, dtype, _ in avals))  # what Program looks jaxprs up by
    program = Program(fn, closed, signature, jax.tree_util.tree_structure(out), ())
    value = (program, (), out)
    _cache_put(("program", key), value)
    return value
