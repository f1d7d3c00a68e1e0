"""Hand-written jax log-likelihoods shared by the inference tests (issue 3)."""

from __future__ import annotations

import jax.numpy as jnp
import jax.scipy.stats as jst


def logit_ll(p, d):
    eta = d["X"] @ p["beta"]
    return d["y"] * eta - jnp.logaddexp(0.0, eta)


def probit_ll(p, d):
    eta = d["X"] @ p["beta"]
    return jst.norm.logcdf((2 * d["y"] - 1) * eta)


def poisson_ll(p, d):
    """Poisson without the -log(y!) constant (it does not change estimates, SEs or tests)."""
    eta = d["X"] @ p["beta"]
    return d["y"] * eta - jnp.exp(eta)


def normal_ll(p, y):
    """iid normal on the log-sigma scale, up to the constant -log(2 pi)/2."""
    return -0.5 * ((y - p["mu"]) / jnp.exp(p["log_sigma"])) ** 2 - p["log_sigma"]
