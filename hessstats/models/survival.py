"""Weibull regression for right-censored durations (accelerated failure time form).

``S(t | x) = exp(-(t / lam)^shape)`` with ``lam = exp(X beta)``; an observation contributes
``event * log f(t) + (1 - event) * log S(t)``:
``event * (log shape - log t + z) - exp(z)`` with ``z = shape * (log t - X beta)``.
Parameters ``beta`` then ``shape`` (lifelines' ``WeibullAFTFitter`` ``lambda_`` and ``rho_``;
R ``survreg`` reports ``Log(scale)`` with ``scale = 1 / shape``). ``shape=1`` fixed gives
exponential regression, whose intercept-only MLE is ``log(sum t / sum event)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from hessstats.core.compilation import trusted
from hessstats.core.linalg import least_squares
from hessstats.model import Model
from hessstats.models.design import align_rows, build, design, index_defaults, outcome, require, vector_option, weighted
from hessstats.models.index import with_index_hessian


class WeibullParams(NamedTuple):
    """Coefficients of ``log lam``, then the Weibull ``shape`` (> 0).

    Example
    -------
    >>> WeibullParams(beta=np.zeros(2), shape=1.5)
    WeibullParams(beta=array([0., 0.]), shape=1.5)
    """

    beta: Any
    shape: Any


class FixedShapeParams(NamedTuple):
    """Coefficients of ``log lam`` only (the shape is fixed in the data).

    Example
    -------
    >>> FixedShapeParams(beta=np.zeros(2))
    FixedShapeParams(beta=array([0., 0.]))
    """

    beta: Any


@trusted
def weibull_loglike(params: WeibullParams, data: dict) -> jnp.ndarray:
    """Per-observation right-censored Weibull log-likelihood.

    Example
    -------
    >>> data = {"X": np.ones((2, 1)), "logt": np.zeros(2), "event": np.array([1.0, 0.0])}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = weibull_loglike(WeibullParams(np.array([0.0]), 1.0), data)
    >>> np.asarray(out).round(6).tolist()  # exponential(1) at t = 1: -1 (event), -1 (censored)
    [-1.0, -1.0]
    """
    return weibull_obs({"beta": data["X"] @ params.beta}, {"shape": params.shape}, data)


@trusted
def weibull_obs(eta: dict, extra: dict, data: dict) -> jnp.ndarray:
    """The Weibull log-likelihood as a function of ``eta["beta"] = X @ beta`` and ``extra["shape"]``
    (the index form, whose Hessian is assembled as ``X' diag(w) X``).

    Example
    -------
    >>> import jax
    >>> data = {"logt": np.zeros(2), "event": np.array([1.0, 0.0])}
    >>> with jax.enable_x64(True):
    ...     out = weibull_obs({"beta": np.zeros(2)}, {"shape": 1.0}, data)
    >>> np.asarray(out).round(6).tolist()
    [-1.0, -1.0]
    """
    shape = extra["shape"]
    z = shape * (data["logt"] - eta["beta"])
    return data["event"] * (jnp.log(shape) - data["logt"] + z) - jnp.exp(z)


@trusted
def weibull_fixed_obs(eta: dict, extra: dict, data: dict) -> jnp.ndarray:
    """:func:`weibull_obs` with the shape fixed at ``data["shape"]`` (no extra parameters).

    Example
    -------
    >>> import jax
    >>> data = {"logt": np.zeros(1), "event": np.ones(1), "shape": np.float64(1.0)}
    >>> with jax.enable_x64(True):
    ...     out = weibull_fixed_obs({"beta": np.zeros(1)}, {}, data)
    >>> np.asarray(out).round(6).tolist()
    [-1.0]
    """
    return weibull_obs(eta, {"shape": data["shape"]}, data)


@trusted
def weibull_fixed_loglike(params: FixedShapeParams, data: dict) -> jnp.ndarray:
    """The same with the shape fixed at ``data["shape"]`` (``1``: exponential regression).

    Example
    -------
    >>> data = {"X": np.ones((2, 1)), "logt": np.log([1.0, 2.0]), "event": np.ones(2), "shape": 1.0}
    >>> import jax
    >>> with jax.enable_x64(True):  # float64, as inside hs.fit
    ...     out = weibull_fixed_loglike(FixedShapeParams(np.array([0.0])), data)
    >>> np.asarray(out).round(6).tolist()  # exponential(1): -t
    [-1.0, -2.0]
    """
    return weibull_loglike(WeibullParams(params.beta, data["shape"]), data)


@weighted
def weibull_model(time: Any, X: Any, *, event: Any = None, shape: float | None = None,
                  names: Sequence[str] | None = None, description: dict | None = None) -> Model:
    """Weibull AFT regression of positive durations ``time``; ``event`` is 1 (observed) or 0 (censored).

    ``event=None`` means every duration is observed; ``shape`` fixes the shape (``1.0``: exponential).

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("heart")
    >>> res = weibull_model(df["survival"], df[["age"]].assign(const=1.0), event=df["censors"]).fit()
    >>> res.names
    ('age', 'const', 'shape')
    """
    rows = align_rows(X, time=time, event=event)
    time, event = rows["time"], rows["event"]
    X, names = design(X, names)
    t = outcome(time, X.shape[0], what="time")
    require(t > 0, t, what="time", expected="positive durations", fix="durations must be > 0 (add a small "
            "amount to zero durations, or drop them)")
    d = vector_option(event, X.shape[0], what="event", default=1.0)
    require((d == 0) | (d == 1), d, what="event", expected="1 (event observed) or 0 (censored)",
            fix="recode the event indicator to 0/1")
    beta = least_squares(X, np.log(t))
    data = {"logt": np.log(t), "X": X, "event": d}
    desc = {"model": "weibull", "formula": None, "shape": shape, **(description or {})}
    if shape is None:
        model = build(weibull_loglike, WeibullParams(beta, 1.0), data, {"beta": list(names), "shape": "shape"}, desc,
                      defaults=index_defaults(X, names))
        return with_index_hessian(model, weibull_obs, {"beta": "X"}, check=False)
    data["shape"] = np.float64(shape)
    model = build(weibull_fixed_loglike, FixedShapeParams(beta), data, {"beta": list(names)}, desc,
                  defaults=index_defaults(X, names))
    return with_index_hessian(model, weibull_fixed_obs, {"beta": "X"}, check=False)
