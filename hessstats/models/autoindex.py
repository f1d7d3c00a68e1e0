"""Linear predictors found in a user's log-likelihood: the index Hessian without opting in.

:func:`hessstats.fit` hands every model it builds to :func:`detect_index`. It traces
``loglike(params, data)`` (a jaxpr at the start values' shapes) and looks for products
``data[X] @ params[b]`` of an ``(n, k)`` data matrix and a ``(k,)`` coefficient vector (written
``X @ b``, ``jnp.dot(X, b)``, ``X.dot(b)``, ``jnp.matmul`` or ``jnp.einsum("ij,j->i", ...)``: all
one ``dot_general``). A coefficient vector that enters *only* through such products with one
matrix is an index: the jaxpr is rewritten with the products' outputs as inputs, which gives
``obs_loglike(eta, extra, data)`` for :func:`~hessstats.models.index.with_index_hessian`, and the
Hessian is assembled as ``X' diag(w) X`` (:mod:`hessstats.models.index`).

Nothing changes when in doubt: a function without such products, a coefficient vector used
anywhere else (a penalty, a product computed inside a ``jax.jit`` helper), a scalar total, models
with observation weights, row blocks or shards, small models (``nobs * k^2`` at most
:data:`~hessstats.models.index.INDEX_MIN_CELLS`), or one whose rewritten function fails the
row-separability check (an observation depending on other rows' linear predictors, e.g. a lag) or
differs from the original on a sample of rows keep the generic Hessian. The detected path is
observable: ``res.model.index`` is an :class:`AutoIndex` (None on the generic path).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hessstats._config import x64
from hessstats.core.compilation import TRACES, same_function
from hessstats.core.interpret import is_literal
from hessstats.core.params import ParamSpec
from hessstats.errors import SpecificationError
from hessstats.model import Model
from hessstats.models.index import INDEX_MIN_CELLS, IndexHessian, with_index_hessian
from hessstats.rows.leaves import row_block
from hessstats.rows.source import RowSource

_DOT_NUMBERS = (((1,), (0,)), ((), ()))
"""``dot_general`` dimension numbers of ``X @ b`` for an ``(n, k)`` ``X`` and a ``(k,)`` ``b``."""


@dataclass(frozen=True, eq=False)
class AutoIndex:
    """The index Hessian :func:`detect_index` found for a user's log-likelihood (``Model.index``).

    ``design`` maps each coefficient vector to its data matrix; ``hessian`` is the
    :class:`~hessstats.models.index.IndexHessian` the engine evaluates. Unlike an
    :class:`~hessstats.IndexModel`, nothing else about the model changes (e.g. the ``HC1`` degrees
    of freedom still count every parameter).

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20_000, 5))
    >>> y = (X @ np.full(5, 0.3) + rng.logistic(size=20_000) > 0).astype(float)
    >>> def logit(p, d):
    ...     eta = d["X"] @ p["beta"]
    ...     return d["y"] * eta - jnp.logaddexp(0.0, eta)
    >>> res = hs.fit(logit, {"beta": np.zeros(5)}, {"X": X, "y": y})
    >>> isinstance(res.model.index, AutoIndex), res.model.index.design
    (True, {'beta': 'X'})
    """

    hessian: IndexHessian
    design: dict[str, str]

    def value_grad_hess(self, theta: Any, data: Any, spec: ParamSpec, weights: Any = None) -> tuple:
        """``(value, gradient, Hessian)`` from the index path (what the engine calls)."""
        return self.hessian.value_grad_hess(theta, data, spec, weights)


@dataclass(frozen=True, eq=False)
class RewrittenLoglike:
    """``obs_loglike(eta, extra, data)`` of a user's ``loglike(params, data)``: its jaxpr at the
    shapes of ``data`` with each product ``data[design[name]] @ params[name]`` replaced by
    ``eta[name]`` (traced once per data shape). Equal and hashed by the user's function, the
    parameter structure and the design, so compiled kernels are shared across fits.

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp
    >>> def normal(p, d):
    ...     return -0.5 * (d["y"] - d["X"] @ p["beta"]) ** 2
    >>> spec = ParamSpec.from_start({"beta": np.zeros(2)})
    >>> obs = RewrittenLoglike(normal, spec, (("beta", "X"),))
    >>> data = {"X": np.ones((2, 2)), "y": np.array([1.0, 3.0])}
    >>> with x64():
    ...     obs({"beta": jnp.array([1.0, 2.0])}, {}, data).tolist()   # eta given, X unused
    [-0.0, -0.5]
    """

    loglike: Callable[..., Any]
    spec: ParamSpec
    design: tuple[tuple[str, str], ...]
    _cache: dict = field(default_factory=dict, repr=False)

    def _key(self) -> tuple:
        return (self.spec, self.design)

    def __hash__(self) -> int:
        try:
            fn = hash(self.loglike)
        except TypeError:
            fn = id(self.loglike)
        return hash((fn, self._key()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RewrittenLoglike) and self._key() == other._key() and same_function(self.loglike, other.loglike)

    def __call__(self, eta: Mapping[str, Any], extra: Mapping[str, Any], data: Any) -> Any:
        leaves, tree = jax.tree_util.tree_flatten(data)
        key = (tree, tuple((tuple(np.shape(a)), jnp.result_type(a)) for a in leaves))
        found = self._cache.get(key)
        if found is None:
            abstract = jax.tree_util.tree_unflatten(tree, [jax.ShapeDtypeStruct(s, d) for s, d in key[1]])
            found = self._cache.setdefault(key, _rewrite(self.loglike, self.spec, abstract, dict(self.design)))
        jaxpr, consts, kept = found
        params = dict(extra)
        for name, _ in self.design:
            params[name] = jnp.zeros(())  # placeholder: a product's coefficients are not inputs
        param_leaves, param_tree = jax.tree_util.tree_flatten(params)
        if param_tree != self.spec.treedef:
            raise SpecificationError("the parameters do not have the model's structure")
        args = [param_leaves[i] for i in kept] + leaves + [eta[name] for name, _ in self.design]
        (out,) = jax.core.eval_jaxpr(jaxpr, consts, *args)
        return out


def _trace(loglike: Callable[..., Any], spec: ParamSpec, data: Any) -> Any:
    """The closed jaxpr of ``loglike(params, data)`` at the parameters' and data's shapes."""
    params = jax.tree_util.tree_unflatten(spec.treedef, [jax.ShapeDtypeStruct(s, jnp.float64) for s in spec.shapes])
    with x64():
        return jax.make_jaxpr(lambda p, d: loglike(p, d))(params, data)


def _top_level(tree: Any, treedef: Any = None) -> dict[str, int]:
    """Top-level keys of a dict pytree whose value is one leaf: ``{key: leaf position}``."""
    if not isinstance(tree, Mapping):
        return {}
    if treedef is None:
        treedef = jax.tree_util.tree_structure(tree)
    positions = jax.tree_util.tree_unflatten(treedef, list(range(treedef.num_leaves)))
    return {str(k): v for k, v in positions.items() if isinstance(v, int)}


def _products(jaxpr: Any, param_vars: Mapping[str, Any], matrix_vars: Mapping[Any, str]
              ) -> tuple[dict[str, str], dict[str, list[Any]], set[int]]:
    """For each coefficient vector used only in ``X @ b`` with one data matrix: its matrix key, the
    products' output variables and the equations to drop (the products and dtype casts of ``b``)."""
    design: dict[str, str] = {}
    outputs: dict[str, list[Any]] = {}
    dropped: set[int] = set()
    for name, var in param_vars.items():
        aliases, cols, outs, drop, ok = {var}, set(), [], set(), True
        for i, eqn in enumerate(jaxpr.eqns):
            used = [v for v in eqn.invars if not is_literal(v) and v in aliases]
            if not used:
                continue
            prim = eqn.primitive.name
            if prim == "convert_element_type" and eqn.params.get("new_dtype") == jnp.float64:
                aliases.add(eqn.outvars[0])
                drop.add(i)
            elif prim == "dot_general" and len(eqn.invars) == 2 and eqn.invars[1] in aliases \
                    and not (not is_literal(eqn.invars[0]) and eqn.invars[0] in aliases) \
                    and not is_literal(eqn.invars[0]) and eqn.invars[0] in matrix_vars \
                    and _numbers(eqn.params.get("dimension_numbers")) == _DOT_NUMBERS \
                    and len(eqn.outvars[0].aval.shape) == 1:
                cols.add(matrix_vars[eqn.invars[0]])
                outs.append(eqn.outvars[0])
                drop.add(i)
            else:  # used for anything else (a penalty, a slice, a jitted helper): not an index
                ok = False
                break
        if ok and len(cols) == 1 and not any(not is_literal(v) and v in aliases for v in jaxpr.outvars):
            design[name] = cols.pop()
            outputs[name] = outs
            dropped |= drop
    return design, outputs, dropped


def _numbers(numbers: Any) -> Any:
    try:
        return tuple(tuple(tuple(int(i) for i in part) for part in pair) for pair in numbers)
    except TypeError:
        return None


def _candidates(jaxpr: Any, spec: ParamSpec, data: Any) -> tuple[dict[str, Any], dict[Any, str]]:
    """Coefficient vectors (top-level 1-d parameters) and data matrices (top-level 2-d leaves) as
    jaxpr input variables."""
    n_params = spec.treedef.num_leaves
    params = jax.tree_util.tree_unflatten(spec.treedef, list(range(n_params)))
    vectors = {name: jaxpr.invars[i] for name, i in _top_level(params, spec.treedef).items()
               if len(spec.shapes[i]) == 1}
    matrices = {jaxpr.invars[n_params + i]: key for key, i in _top_level(data).items()
                if len(jaxpr.invars[n_params + i].aval.shape) == 2}
    return vectors, matrices


def _rewrite(loglike: Callable[..., Any], spec: ParamSpec, data: Any, design: Mapping[str, str]) -> tuple:
    """``(jaxpr, consts, positions of the kept parameter leaves)``: the inputs of the jaxpr are the
    other parameter leaves, the data leaves and one ``eta`` per design entry (in design order)."""
    closed = _trace(loglike, spec, data)
    jaxpr = closed.jaxpr
    vectors, matrices = _candidates(jaxpr, spec, data)
    if any(name not in vectors for name in design):
        raise SpecificationError("a design entry is not a coefficient vector")
    found, outputs, dropped = _products(jaxpr, {name: vectors[name] for name in design}, matrices)
    if found != dict(design):
        raise SpecificationError(f"the products differ at these shapes: {found} != {dict(design)}")
    etas = {name: outputs[name][0] for name in design}
    subst = {v: etas[name] for name in design for v in outputs[name][1:]}  # a product computed twice

    def sub(atoms):
        return [subst.get(v, v) if not is_literal(v) else v for v in atoms]

    eqns = [eqn.replace(invars=sub(eqn.invars)) for i, eqn in enumerate(jaxpr.eqns) if i not in dropped]
    n_params = spec.treedef.num_leaves
    removed = {jaxpr.invars.index(vectors[name]) for name in design}
    kept = [i for i in range(n_params) if i not in removed]
    invars = [jaxpr.invars[i] for i in kept] + list(jaxpr.invars[n_params:]) + [etas[name] for name in sorted(design)]
    info = jaxpr.debug_info
    if info is not None and getattr(info, "arg_names", None) is not None and hasattr(info, "_replace"):
        names = list(info.arg_names)
        info = info._replace(arg_names=tuple([names[i] for i in kept] + names[n_params:] + [f"eta[{name!r}]" for name in sorted(design)]))
    new = jaxpr.replace(invars=invars, eqns=eqns, outvars=sub(jaxpr.outvars), debug_info=info)
    return new, tuple(closed.consts), kept


def find_design(model: Model, loglike: Callable[..., Any]) -> dict[str, str]:
    """``{coefficient vector: data matrix}`` for the linear predictors of ``loglike`` in ``model``
    (empty when there are none, or the model cannot take the index path).

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs
    >>> def tobit_like(p, d):
    ...     return -0.5 * ((d["y"] - d["X"] @ p["beta"]) / p["sigma"]) ** 2 - jnp.log(p["sigma"])
    >>> m = hs.Model(tobit_like, {"beta": np.zeros(2), "sigma": 1.0}, {"X": np.ones((4, 2)), "y": np.ones(4)})
    >>> find_design(m, tobit_like)
    {'beta': 'X'}
    >>> def penalised(p, d):
    ...     return tobit_like(p, d) - 0.1 * jnp.sum(p["beta"] ** 2)
    >>> find_design(hs.Model(penalised, {"beta": np.zeros(2), "sigma": 1.0}, {"X": np.ones((4, 2)), "y": np.ones(4)}),
    ...             penalised)
    {}
    """
    if not model.per_observation or not isinstance(model.data, Mapping):
        return {}
    jaxpr = _trace(loglike, model.spec, _abstract(model.data)).jaxpr
    vectors, matrices = _candidates(jaxpr, model.spec, model.data)
    matrices = {v: key for v, key in matrices.items() if v.aval.shape[0] == model.nobs}
    design, _, _ = _products(jaxpr, vectors, matrices)
    return design


def _abstract(data: Any) -> Any:
    return jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(np.shape(a), jnp.result_type(a)), data)


def detect_index(model: Model, loglike: Callable[..., Any]) -> Model:
    """``model`` with the index Hessian when ``loglike`` is an index model (see the module
    docstring), else ``model`` itself: never an error, never other values (the rewritten function
    is checked for row separability and against the original on a sample of rows).

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(20_000, 4))
    >>> y = rng.poisson(np.exp(X @ np.full(4, 0.1))).astype(float)
    >>> def poisson(p, d):
    ...     eta = d["X"] @ p["b"]
    ...     return d["y"] * eta - jnp.exp(eta)
    >>> m = hs.Model(poisson, {"b": np.zeros(4)}, {"X": X, "y": y})
    >>> fast = detect_index(m, poisson)
    >>> fast.index.design, bool(np.allclose(fast.evaluate(m.start + 0.1)[2], m.evaluate(m.start + 0.1)[2], rtol=1e-12))
    ({'b': 'X'}, True)
    """
    if model.index is not None or model.chunk_size is not None or model.weights is not None \
            or isinstance(model.data, RowSource) or (model.nobs or 0) * model.k_params ** 2 <= INDEX_MIN_CELLS:
        return model
    try:
        design = find_design(model, loglike)
        if not design:
            return model
        obs = RewrittenLoglike(loglike, model.spec, tuple(sorted(design.items())))
        fast = with_index_hessian(model, obs, design, check=True)
        if fast.index is None or not isinstance(fast.index, IndexHessian) or not _same_values(model, fast):
            return model
    except Exception:  # any doubt (a trace that fails, rows that mix, values that differ): the generic path
        return model
    return fast.replace(index=AutoIndex(fast.index, dict(sorted(design.items()))))


@partial(jax.jit, static_argnames=("program", "index", "spec"))
def _both_values(theta, sample, program: Any, index: Any, spec: ParamSpec, consts=(), index_consts=()):
    """The model's per-observation values and the rewritten function's on a sample of rows."""
    TRACES["autoindex_check"] += 1
    betas, extra = index.split(spec.unravel(theta))
    eta = index.etas(betas, sample)
    mat = jnp.stack([eta[name] for name in index.index_names], axis=1)
    return (jnp.asarray(program(consts, theta, sample), dtype=jnp.float64),
            jnp.asarray(index.observations(index_consts, mat, extra, sample), dtype=jnp.float64))


def _same_values(model: Model, fast: Model, rows: int = 8) -> bool:
    """The rewritten per-observation values equal the model's on the first rows, near the start."""
    n = model.nobs or 0
    rows = min(n, rows)
    sample = row_block(model.data, n, 0, rows)
    theta = model.start + 0.05 * np.random.default_rng(1).standard_normal(model.k_params)
    with x64():
        generic, rewritten = (np.asarray(a) for a in _both_values(
            jnp.asarray(theta), sample, model.program, fast.index.loglike, model.spec,
            consts=model.consts, index_consts=fast.index.consts))
    scale = max(float(np.max(np.abs(generic))), 1.0) if generic.size else 1.0
    return generic.shape == rewritten.shape and bool(np.all(np.abs(generic - rewritten) <= 1e-12 * scale))
