"""Parameter pytrees <-> flat float64 vectors, and the names of the flat entries.

One flattening order everywhere: ``jax.tree_util.tree_flatten`` (dict keys sorted), the same order
``jax.flatten_util.ravel_pytree`` uses. Names are derived from that same flatten.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hessstats.errors import SpecificationError, message


@dataclass(frozen=True)
class ParamSpec:
    """The structure of a parameter pytree: hashable, so it can be a static argument of ``jit``.

    Example
    -------
    >>> spec = ParamSpec.from_start({"beta": [0.0, 0.0], "sigma": 1.0})
    >>> spec.names
    ('beta[0]', 'beta[1]', 'sigma')
    >>> spec.unravel(spec.ravel({"beta": [1.0, 2.0], "sigma": 3.0}))["sigma"].item()
    3.0
    """

    treedef: Any
    shapes: tuple[tuple[int, ...], ...]
    names: tuple[str, ...] = field(compare=False)
    """Not part of equality/hash: renaming parameters must not recompile kernels."""

    @property
    def size(self) -> int:
        """Number of free parameters (length of the flat vector)."""
        return len(self.names)

    @classmethod
    def from_start(cls, start: Any, names: Mapping[str, Any] | Sequence[str] | None = None) -> ParamSpec:
        """Build the spec from start values and optional names (see :func:`param_names`)."""
        leaves_with_path, treedef = jax.tree_util.tree_flatten_with_path(start)
        if not leaves_with_path:
            raise SpecificationError(message(
                "start has no parameters",
                expected="a pytree of numbers, e.g. {'beta': jnp.zeros(3), 'sigma': 1.0}",
                got=repr(start), fix="pass at least one start value"))
        shapes = []
        for path, leaf in leaves_with_path:
            arr = np.asarray(leaf)
            if arr.dtype.kind not in "biuf":
                raise SpecificationError(message(
                    f"start value {_path_name(path)!r} is not numeric",
                    expected="real numbers", got=f"dtype {arr.dtype}: {leaf!r}",
                    fix="give float start values"))
            if not np.all(np.isfinite(arr)):
                raise SpecificationError(message(
                    f"start value {_path_name(path)!r} is not finite",
                    expected="finite numbers", got=repr(leaf), fix="give finite start values"))
            shapes.append(tuple(arr.shape))
        if names is not None and not isinstance(names, Mapping) and not isinstance(names, str):
            _check_flat_names_order(start, leaves_with_path, names)
        flat_names = param_names(leaves_with_path, names)
        return cls(treedef, tuple(shapes), flat_names)

    def ravel(self, tree: Any) -> np.ndarray:
        """Flatten a pytree with this structure into a float64 vector (numpy; jax when traced)."""
        leaves = jax.tree_util.tree_leaves(tree)
        if any(isinstance(x, jax.core.Tracer) for x in leaves):  # inside jit/grad: stay traceable
            return jnp.concatenate([jnp.ravel(jnp.asarray(x, dtype=jnp.float64)) for x in leaves])
        return np.concatenate([np.ravel(np.asarray(x, dtype=np.float64)) for x in leaves])

    def flatten(self, tree: Any, *, what: str = "start") -> np.ndarray:
        """``tree`` as a float64 vector after checking it has this structure: the same keys, shapes
        and finite numbers (a flat vector of the right length is accepted as is).

        Example
        -------
        >>> spec = ParamSpec.from_start({"a": 0.0, "b": [0.0, 0.0]})
        >>> spec.flatten({"a": 1.0, "b": [2.0, 3.0]}).tolist()
        [1.0, 2.0, 3.0]
        >>> try:
        ...     spec.flatten({"a": 1.0})
        ... except SpecificationError as e:
        ...     print(str(e).splitlines()[0])
        start does not have the parameter structure of the model
        """
        if isinstance(tree, np.ndarray) and tree.shape == (self.size,) and tree.dtype.kind in "iuf":
            flat = np.asarray(tree, dtype=np.float64)
        else:
            leaves, treedef = jax.tree_util.tree_flatten(tree)
            shapes = tuple(tuple(np.shape(x)) for x in leaves)
            if treedef != self.treedef or shapes != self.shapes:
                raise SpecificationError(message(
                    f"{what} does not have the parameter structure of the model",
                    expected=f"{self.treedef} with leaf shapes {list(self.shapes)}",
                    got=f"{treedef} with leaf shapes {list(shapes)}",
                    fix=f"pass {what} shaped like the model's start values (e.g. res.params_tree), or a flat "
                        f"vector of {self.size} numbers in the order {list(self.names)}"))
            flat = self.ravel(tree)
        if not np.all(np.isfinite(flat)):
            raise SpecificationError(message(
                f"{what} has non-finite values", expected="finite numbers",
                got=f"{flat.tolist()}"[:200], fix=f"give finite {what} values"))
        return flat

    def positions(self, names: Sequence[str], *, context: str = "") -> list[int]:
        """Flat positions of ``names``; an unknown name is a typed error listing the known ones
        (the one unknown-names check for fixing, profiling and selecting parameters).

        Example
        -------
        >>> ParamSpec.from_start({"a": 0.0, "b": 0.0}).positions(["b"])
        [1]
        """
        unknown = [str(n) for n in names if n not in self.names]
        if unknown:
            raise SpecificationError(message(
                f"{context}unknown parameter names", expected=f"names among {list(self.names)}", got=repr(unknown),
                fix="use names exactly as in res.params.index (model.names)"))
        return [self.names.index(n) for n in names]

    def unravel(self, flat: jnp.ndarray) -> Any:
        """Rebuild the pytree from a flat vector (works under ``jit``)."""
        return self._unravel(flat, jnp.reshape)

    def unravel_host(self, flat: Any) -> Any:
        """The pytree of a flat vector on the host: float64 numpy leaves (fresh copies), no JAX
        operation (outside ``jit``, each of :meth:`unravel`'s slices and reshapes compiles once per
        shape).

        Example
        -------
        >>> ParamSpec.from_start({"a": 0.0, "b": np.zeros(2)}).unravel_host(np.array([1.0, 2.0, 3.0]))["b"].tolist()
        [2.0, 3.0]
        """
        return self._unravel(np.array(flat, dtype=np.float64), np.reshape)

    def _unravel(self, flat: Any, reshape: Any) -> Any:
        leaves, i = [], 0
        for shape in self.shapes:
            size = int(np.prod(shape, dtype=int))
            leaves.append(reshape(flat[i:i + size], shape))
            i += size
        return jax.tree_util.tree_unflatten(self.treedef, leaves)


def _written_position(start: Any, path: tuple) -> tuple[int, ...]:
    """Where a leaf sits in the order the user wrote ``start`` (dicts in insertion order)."""
    node, out = start, []
    for key in path:
        if isinstance(key, jax.tree_util.DictKey) and isinstance(node, Mapping):
            out.append(list(node).index(key.key))
            node = node[key.key]
        elif isinstance(key, jax.tree_util.SequenceKey):
            out.append(key.idx)
            node = node[key.idx]
        elif isinstance(key, jax.tree_util.GetAttrKey):
            fields = list(getattr(node, "_fields", ()))
            out.append(fields.index(key.name) if key.name in fields else 0)
            node = getattr(node, key.name)
        else:  # another pytree node: its own order
            out.append(int(getattr(key, "key", 0)) if isinstance(getattr(key, "key", 0), int) else 0)
            return tuple(out)
    return tuple(out)


def _check_flat_names_order(start: Any, leaves_with_path: list, names: Sequence[str]) -> None:
    """A flat list of names is matched to the flat vector, whose order sorts dict keys. When the
    user wrote a dict's keys in another order, the list is ambiguous: refuse it."""
    paths = [p for p, _ in leaves_with_path]
    try:
        written = sorted(range(len(paths)), key=lambda i: _written_position(start, paths[i]))
    except Exception:  # an unusual pytree: nothing to compare with
        return
    if written == list(range(len(paths))):
        return
    sizes = [int(np.size(leaf)) for _, leaf in leaves_with_path]
    flat_order = [_path_name(p) + (f" ({n} values)" if n != 1 else "") for p, n in zip(paths, sizes)]
    written_order = [flat_order[i] for i in written]
    example = ", ".join(f"{_path_name(paths[i])!r}: {'[...]' if sizes[i] != 1 else repr('name')}" for i in written[:3])
    raise SpecificationError(message(
        "a flat list of names is ambiguous for a dict start whose keys are not in sorted order",
        expected=f"names as a dict keyed like start, e.g. {{{example}}}, or a flat list in the flattening "
                 f"order (dict keys sorted): {flat_order}",
        got=f"start written in the order {written_order} and names {list(map(str, names))}",
        fix="pass names as a dict {key: name or [names]}: it cannot be matched to the wrong parameter"))


def _path_name(path: tuple) -> str:
    out = ""
    for key in path:
        if isinstance(key, jax.tree_util.SequenceKey):
            out += f"[{key.idx}]"
        elif isinstance(key, jax.tree_util.DictKey):
            out += ("." if out else "") + str(key.key)
        elif isinstance(key, jax.tree_util.GetAttrKey):
            out += ("." if out else "") + key.name
        else:
            out += str(key)
    return out


def param_names(leaves_with_path: list, names: Mapping[str, Any] | Sequence[str] | None) -> tuple[str, ...]:
    """Names of the flat parameter vector.

    Default: the pytree path, with ``[i]`` (or ``[i,j]``) for array elements: ``beta[0]``, ``sigma``.
    ``names`` may be a flat sequence of all names, or a mapping from a top-level key (or dotted
    path) to a list of names for that leaf (a single string for a scalar leaf). A flat sequence
    follows the flat order (dict keys sorted); :meth:`ParamSpec.from_start` refuses it for a dict
    start written in another key order (ambiguous), asking for the dict form.

    Example
    -------
    >>> import jax, numpy as np
    >>> leaves = jax.tree_util.tree_flatten_with_path({"beta": np.zeros(2), "sigma": 1.0})[0]
    >>> param_names(leaves, None), param_names(leaves, {"beta": ["x", "const"]})
    (('beta[0]', 'beta[1]', 'sigma'), ('x', 'const', 'sigma'))
    """
    paths = [_path_name(p) for p, _ in leaves_with_path]
    sizes = [int(np.size(leaf)) for _, leaf in leaves_with_path]
    shapes = [np.shape(leaf) for _, leaf in leaves_with_path]
    total = sum(sizes)
    if names is not None and not isinstance(names, Mapping):
        flat = [str(n) for n in names]
        if len(flat) != total:
            raise SpecificationError(message(
                "names do not match the number of parameters",
                expected=f"{total} names for parameters {paths} (sizes {sizes})",
                got=f"{len(flat)} names: {flat}",
                fix="give one name per element of every start value, in sorted-key order, "
                    "or a dict {key: [names]}"))
        return _unique(flat)
    given = {str(k): ([v] if isinstance(v, str) else [str(n) for n in v]) for k, v in dict(names or {}).items()}
    owner: list[str | None] = []
    for path in paths:
        hits = [k for k in given if path == k or path.startswith((k + "[", k + "."))]
        owner.append(hits[0] if hits else None)
    unknown = set(given) - {o for o in owner if o}
    if unknown:
        raise SpecificationError(message(
            "names refers to parameters that are not in start",
            expected=f"keys among {sorted(set(p.split('[')[0] for p in paths))}",
            got=f"unknown keys {sorted(unknown)}", fix="use the same keys in names as in start"))
    for key, leaf_names in given.items():
        size = sum(s for s, o in zip(sizes, owner) if o == key)
        if len(leaf_names) != size:
            raise SpecificationError(message(
                f"names[{key!r}] has the wrong length",
                expected=f"{size} names (start[{key!r}] has {size} elements)",
                got=f"{len(leaf_names)} names: {leaf_names}",
                fix=f"give exactly {size} names for {key!r}"))
    out: list[str] = []
    used = {k: 0 for k in given}
    for path, size, shape, key in zip(paths, sizes, shapes, owner):
        if key is not None:
            out.extend(given[key][used[key]:used[key] + size])
            used[key] += size
        elif shape == ():
            out.append(path)
        else:
            out.extend(f"{path}[{','.join(map(str, idx))}]" for idx in np.ndindex(*shape))
    return _unique(out)


def _unique(names: list[str]) -> tuple[str, ...]:
    seen = {n for n in names if names.count(n) > 1}
    if seen:
        raise SpecificationError(message(
            "parameter names are not unique", expected="distinct names",
            got=f"duplicates {sorted(seen)}", fix="rename the duplicated parameters"))
    return tuple(names)
