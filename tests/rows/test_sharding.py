"""Data sharded over 4 (forced CPU) devices give the one-device results to 1e-12.

The device count must be set before JAX starts, so the check runs in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=4``. Reference: the unsharded in-memory fit of the
same likelihood in the same process (exact derivatives; only the summation order differs), and
statsmodels 0.15 ``Logit`` (analytic) at 1e-8.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import hessstats as hs
from hessstats.errors import SpecificationError

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np, statsmodels.api as sm
    import hessstats as hs
    assert len(jax.devices()) == 4, jax.devices()
    rng = np.random.default_rng(0)
    n, k = 1_001, 4                                   # not a multiple of 4: padded with weight-0 rows
    X = np.column_stack([rng.normal(size=(n, k - 1)), np.ones(n)])
    y = (X @ [0.5, -0.5, 0.25, 0.1] + rng.logistic(size=n) > 0).astype(float)
    data, start = {"X": X, "y": y}, {"beta": np.zeros(k)}

    def logit(p, d):
        eta = d["X"] @ p["beta"]
        return d["y"] * eta - jnp.logaddexp(0.0, eta)

    def logit_obs(eta, params, d):
        return d["y"] * eta["beta"] - jnp.logaddexp(0.0, eta["beta"])

    one = hs.fit(logit, start, data)
    model = hs.Model(logit, start, data, shard=True)
    assert len(model.data["X"].sharding.device_set) == 4
    four = model.fit(cov_type="nonrobust")
    np.testing.assert_allclose(four.params, one.params, rtol=1e-12)
    np.testing.assert_allclose(four.bse, one.bse, rtol=1e-12)
    np.testing.assert_allclose(four.llf, one.llf, rtol=1e-13)
    assert four.nobs == n
    s4, s1 = model.scores(one.theta), one.model.scores(one.theta)
    assert s4.shape == (n, k)
    np.testing.assert_allclose(s4, s1, rtol=1e-12, atol=1e-15)
    idx = hs.IndexModel(logit_obs, start, data, design={"beta": "X"}, shard=True).fit()
    np.testing.assert_allclose(idx.bse, one.bse, rtol=1e-12)
    two = hs.Model(logit, start, data, shard=2).fit()
    np.testing.assert_allclose(two.bse, one.bse, rtol=1e-12)
    ref = sm.Logit(y, X).fit(disp=0, method="newton", tol=1e-12)
    np.testing.assert_allclose(four.bse.to_numpy(), ref.bse, rtol=1e-8)
    print("SHARDED OK")
""")


def test_four_devices_match_one_device():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "SHARDED OK" in out.stdout, out.stderr[-3000:]


def test_bad_shard_option_is_a_typed_error():
    with pytest.raises(SpecificationError, match="invalid shard option"):
        hs.Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(4.0), shard="all")
    with pytest.raises(SpecificationError, match="invalid shard option"):
        hs.Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(4.0), shard=99)
    with pytest.raises(SpecificationError, match="cannot be combined"):
        hs.Model(lambda p, d: -(d - p["mu"]) ** 2, {"mu": 0.0}, np.arange(4.0), shard=True, chunk_size=2)
