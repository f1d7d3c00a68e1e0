"""Data sharded across JAX devices along the row axis; the kernels themselves are unchanged.

``Model(..., shard=True)`` places every data array whose leading dimension is the number of
observations on a 1-d device mesh, split by rows (``NamedSharding(mesh, P("rows"))``); other leaves
are replicated. The jitted kernels then run on all devices (XLA partitions the per-observation
work and adds the partial sums across devices). When ``n`` is not a multiple of the device count,
the rows are padded with copies of the last row carrying weight 0.

Works the same on CPU devices (``XLA_FLAGS=--xla_force_host_platform_device_count=4``, set before
JAX starts) and on GPUs.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from hessstats._config import float64
from hessstats.errors import SpecificationError, message
from hessstats.rows.leaves import is_row_leaf, row_block

AXIS = "rows"


def make_mesh(shard: Any = True) -> Mesh:
    """A 1-d mesh named ``"rows"``: all devices (``True``), the first ``k`` (an int), a list, or a Mesh.

    Example
    -------
    >>> make_mesh(1).axis_names
    ('rows',)
    """
    if isinstance(shard, Mesh):
        if shard.axis_names != (AXIS,):
            raise SpecificationError(message(
                "the mesh must have one axis named 'rows'", expected="Mesh(devices, ('rows',))",
                got=f"axis names {shard.axis_names}", fix="build it with hessstats.rows.sharding.make_mesh"))
        return shard
    devices = jax.devices()
    if shard is True:
        chosen = devices
    elif isinstance(shard, int) and not isinstance(shard, bool) and 1 <= shard <= len(devices):
        chosen = devices[:shard]
    elif isinstance(shard, (list, tuple)) and shard:
        chosen = list(shard)
    else:
        raise SpecificationError(message(
            "invalid shard option", expected=f"True, an int between 1 and {len(devices)}, a list of devices or a Mesh",
            got=repr(shard), fix="e.g. shard=True to use every device"))
    return Mesh(np.array(chosen), (AXIS,))


@float64
def shard_rows(data: Any, nobs: int, shard: Any = True) -> tuple[Any, jax.Array]:
    """Pad to a multiple of the device count and place rows on the mesh; returns ``(data, weights)``.

    Example
    -------
    >>> import numpy as np
    >>> data, w = shard_rows({"y": np.arange(3.0)}, 3, shard=1)
    >>> w.tolist(), data["y"].sharding.spec
    ([1.0, 1.0, 1.0], P('rows',))
    """
    mesh = make_mesh(shard)
    ndev = mesh.devices.size
    padded = -(-int(nobs) // ndev) * ndev
    rows = NamedSharding(mesh, PartitionSpec(AXIS))
    whole = NamedSharding(mesh, PartitionSpec())

    def place(leaf):
        if is_row_leaf(leaf, nobs):  # padded with copies of the last row (weight 0)
            return jax.device_put(row_block(jnp.asarray(leaf), nobs, 0, padded), rows)
        return jax.device_put(leaf, whole)

    weights = np.zeros(padded)
    weights[:nobs] = 1.0
    return jax.tree_util.tree_map(place, data), jax.device_put(jnp.asarray(weights), rows)
