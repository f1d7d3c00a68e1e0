"""Built-in likelihoods with an array interface; each returns an ordinary :class:`hessstats.Model`.

The formula interface (``hs.logit("y ~ x", data=df)``) lives in :mod:`hessstats.formula`.
"""

from .binary import check_separation, logit_model, probit_model
from .count import negbin_model, poisson_model, zip_model

__all__ = ["check_separation", "logit_model", "negbin_model", "poisson_model", "probit_model", "zip_model"]
