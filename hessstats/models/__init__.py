"""Built-in likelihoods with an array interface; each returns an ordinary :class:`hessstats.Model`.

The formula interface (``hs.logit("y ~ x", data=df)``) lives in :mod:`hessstats.formula`.
"""

from hessstats.models.binary import check_separation, logit_model, probit_model
from hessstats.models.categorical import mnlogit_model, ordered_model
from hessstats.models.continuous import gamma_model, normal_model, tobit_model
from hessstats.models.count import negbin_model, poisson_model, zip_model
from hessstats.models.survival import weibull_model

__all__ = ["check_separation", "gamma_model", "logit_model", "mnlogit_model", "negbin_model", "normal_model",
           "ordered_model", "poisson_model", "probit_model", "tobit_model", "weibull_model", "zip_model"]
