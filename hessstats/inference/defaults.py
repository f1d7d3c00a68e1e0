"""What post-estimation uses when the user does not say: typed defaults a model declares."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hessstats.core.covariance import Dispersion, MeanPart


class Inference(enum.Enum):
    """The reference distribution of Wald statistics a model declares.

    Example
    -------
    >>> Inference("t").name
    'T'
    """

    Z = "z"
    """normal / chi-squared (ML: statsmodels discrete models, Stata ``ml``)"""
    T = "t"
    """t / F with the residual degrees of freedom (statsmodels OLS, R ``lm``, Stata ``regress``)"""


@dataclass(frozen=True)
class PostEstimationDefaults:
    """Defaults for post-estimation that a model declares (the built-in models fill them in).

    - ``null``: ``{name: value}`` fixed by the null model of ``res.lr_test_null()`` (built-ins with
      a constant: every slope at 0, as statsmodels' ``llnull``);
    - ``predict``: ``predict(params, data) -> (n,)`` differentiated by ``res.margins()``;
    - ``margins_variables``: ``{label: (data key, column)}`` for ``res.margins()``;
    - ``transforms``: ``{name: fn(params)}`` reported by ``res.transformed()``;
    - ``mean``: the mean/index parameters (:class:`~hessstats.core.covariance.MeanPart`: the ``k``
      of HC1, the ``"regress"`` cluster factor and the residual df; the design for HC2/HC3);
    - ``dispersion``: how ``"nonrobust"`` can scale the mean part by the Pearson dispersion
      (:class:`~hessstats.core.covariance.Dispersion`; OLS by default, Gamma on request);
    - ``inference``: :class:`Inference` ``Z`` (default) or ``T`` (t/F with ``nobs - k_mean``
      degrees of freedom, as statsmodels OLS / R ``lm`` / Stata ``regress``).

    Example
    -------
    >>> d = PostEstimationDefaults(null={"x": 0.0})
    >>> d.null, d.predict is None
    ({'x': 0.0}, True)
    """

    null: Mapping[str, float] | None = None
    predict: Callable[[Any, Any], Any] | None = None
    margins_variables: Mapping[str, Any] | None = None
    transforms: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    mean: MeanPart | None = None
    dispersion: Dispersion | None = None
    inference: Inference = Inference.Z
