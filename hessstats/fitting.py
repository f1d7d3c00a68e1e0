"""``hs.fit``: build a :class:`~hessstats.Model` from a log-likelihood and fit it in one call."""

from __future__ import annotations

from typing import Any

from hessstats._config import float64
from hessstats.errors import SpecificationError, message
from hessstats.model import LogLike, Model
from hessstats.models.autoindex import detect_index
from hessstats.models.mixed import laplace_model
from hessstats.results import FitResult

MODEL_KEYWORDS = ("names", "nobs", "transforms", "expected_information", "description", "extra",
                  "chunk_size", "index", "shard", "progress", "weights", "weight_type", "row_buckets")
FIT_KEYWORDS = ("start", "method", "cov_type", "groups", "cov_options", "maxiter", "nr_tol", "hessian_rtol", "design")


@float64
def fit(loglike: LogLike, start: Any, data: Any = None, **options: Any) -> FitResult:
    """Fit ``loglike(params, data)`` by maximum likelihood; standard errors from the exact Hessian.

    ``loglike`` returns per-observation values (shape ``(n,)``) that hessstats *sums*; ``start`` is
    a pytree (dict of scalars/arrays). Keywords are those of :class:`~hessstats.Model`
    (``names``: start keys to names for their elements; ``nobs``; ``transforms``
    (``{name: fn(params)}``, natural-scale quantities for ``res.transformed()``);
    ``expected_information`` (``fn(theta) -> (k, k)``, for ``cov_type="expected"``); ``chunk_size``,
    ``shard``, ``progress``, ``weights`` and ``weight_type``) and of :meth:`Model.fit <hessstats.Model.fit>` (``method``,
    ``cov_type``, ``groups``, ``cov_options``, ``maxiter``, ``nr_tol``, ``hessian_rtol``, ``design``). An
    unknown keyword is an error.

    ``random=["u", ...]`` names keys of ``start`` that are random effects: ``loglike`` is then the
    joint log-density of the observations and those effects, and the fit maximises the Laplace
    marginal log-likelihood in the other parameters, with exact gradient and Hessian
    (:func:`~hessstats.models.mixed.laplace_model`; ``res.random_effects()`` gives the modes).

    Where coefficient vectors enter ``loglike`` only through products ``d["X"] @ p["beta"]`` with
    data matrices (and the rest is row by row), the Hessian is assembled as ``X' diag(w) X``
    without opting in (:func:`~hessstats.models.autoindex.detect_index`; ``res.model.index`` says so),
    with the same values as the generic path.

    Parameters
    ----------
    loglike : callable
        ``loglike(params, data)`` in ``jax.numpy``: per-observation log-likelihood values, shape
        ``(n,)`` (a scalar total is accepted; then OPG/robust/cluster covariances are unavailable).
    start : pytree
        Start values: a dict of scalars and arrays (or one array); its structure is the ``params``
        your function receives.
    data : any, optional
        Arrays, a dict of arrays, pandas objects, or a row source (``hs.ParquetSource``,
        ``hs.DaskSource``); copied once into float64 device arrays.
    **options
        Model keywords (``names``, ``nobs``, ``transforms``, ``expected_information``,
        ``chunk_size``, ``shard``, ``progress``, ...) and fit keywords (``method``, ``cov_type``,
        ``groups``, ``cov_options``, ``maxiter``, ``nr_tol``, ``hessian_rtol``), as above; ``random``
        (keys of ``start`` integrated out by the Laplace approximation).

    Returns
    -------
    FitResult
        The frozen result: estimates, exact gradient and Hessian at the optimum, the covariance,
        the convergence certificate.

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([rng.normal(size=200), np.ones(200)])
    >>> y = (X @ [1.0, -0.5] + rng.logistic(size=200) > 0).astype(float)
    >>> def loglike(p, d):
    ...     eta = d["X"] @ p["beta"]
    ...     return d["y"] * eta - jnp.logaddexp(0.0, eta)
    >>> res = hs.fit(loglike, {"beta": np.zeros(2)}, {"X": X, "y": y}, names={"beta": ["x", "const"]})
    >>> res.converged, list(res.params.index)
    (True, ['x', 'const'])
    """
    unknown = sorted(set(options) - set(MODEL_KEYWORDS) - set(FIT_KEYWORDS) - {"random"})
    if unknown:
        raise SpecificationError(message(
            f"unknown keyword(s) {unknown} for hs.fit",
            expected=f"model keywords {list(MODEL_KEYWORDS)} or fit keywords {list(FIT_KEYWORDS[1:])}",
            got=", ".join(f"{k}={options[k]!r}"[:80] for k in unknown), fix="check the spelling"))
    random = options.pop("random", None)
    if random is not None:  # random effects integrated out (Laplace): issue 15
        model = laplace_model(loglike, start, data, random=random,
                              **{k: v for k, v in options.items() if k in MODEL_KEYWORDS})
        return model.fit(**{k: v for k, v in options.items() if k in FIT_KEYWORDS and k != "start"})
    model = Model(loglike, start, data, **{k: v for k, v in options.items() if k in MODEL_KEYWORDS})
    model = detect_index(model, loglike)  # linear predictors X @ beta: the index Hessian, same values (issue 17)
    return model.fit(**{k: v for k, v in options.items() if k in FIT_KEYWORDS})


def fit_model(model: Model, **options: Any) -> FitResult:
    """Fit an existing :class:`~hessstats.Model` (the same as ``model.fit(**options)``).

    Example
    -------
    >>> import numpy as np
    >>> m = Model(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, data=np.array([1.0, 2.0]))
    >>> round(float(fit_model(m).bse["mu"]), 12)
    0.707106781187
    """
    return model.fit(**options)
