"""The frozen results value of a maximum-likelihood fit."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats

from .covariance import InverseInformation
from .model import Model

SUMMARY_COLUMNS = ("coef", "std_err", "z", "p_value", "ci_lower", "ci_upper")


@dataclass(frozen=True, eq=False)
class FitResult:
    """A maximum-likelihood fit: estimates, exact derivatives at the optimum, and a covariance.

    Inference is Wald with the normal (z) distribution, as statsmodels' discrete models and
    Stata's ``ml``. Every pandas object is indexed by parameter name.

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs
    >>> y = np.array([0.5, 1.5, 2.0, 4.0])
    >>> def loglike(p, d):
    ...     return -0.5 * ((d - p["mu"]) / p["sigma"]) ** 2 - jnp.log(p["sigma"])
    >>> res = hs.fit(loglike, {"mu": 0.0, "sigma": 1.0}, data=y)
    >>> list(res.summary_frame().columns)
    ['coef', 'std_err', 'z', 'p_value', 'ci_lower', 'ci_upper']
    """

    model: Model
    theta: np.ndarray
    llf: float
    gradient_array: np.ndarray
    hessian_array: np.ndarray
    cov_type: str
    cov_array: np.ndarray
    inverse_information: InverseInformation
    converged: bool
    iterations: int
    convergence_message: str
    groups: np.ndarray | None = None
    cov_options: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ basic quantities
    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names, in the flat order of the parameter vector."""
        return self.model.names

    @property
    def nobs(self) -> int | None:
        """Number of observations (length of the per-observation log-likelihood)."""
        return self.model.nobs

    @property
    def k_params(self) -> int:
        """Number of free parameters (every one counts for AIC/BIC)."""
        return len(self.theta)

    @cached_property
    def params(self) -> pd.Series:
        """Estimates, indexed by parameter name."""
        return pd.Series(self.theta, index=list(self.names), name="coef")

    @cached_property
    def params_tree(self) -> Any:
        """Estimates as the same pytree as ``start``."""
        return self.model.params_tree(self.theta)

    def cov_params(self) -> pd.DataFrame:
        """Covariance matrix of the estimates under ``cov_type``."""
        return pd.DataFrame(self.cov_array, index=list(self.names), columns=list(self.names))

    @cached_property
    def bse(self) -> pd.Series:
        """Standard errors; NaN for parameters the data do not identify."""
        var = np.diag(self.cov_array)
        return pd.Series(np.sqrt(np.where(var >= 0, var, np.nan)), index=list(self.names), name="std_err")

    @cached_property
    def zvalues(self) -> pd.Series:
        """Wald z statistics ``coef / std_err``."""
        return (self.params / self.bse).rename("z")

    @cached_property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values from the standard normal."""
        return pd.Series(2 * scipy.stats.norm.sf(np.abs(self.zvalues.to_numpy())), index=list(self.names), name="p_value")

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald confidence intervals ``coef -/+ z_{1-alpha/2} std_err``."""
        q = scipy.stats.norm.ppf(1 - alpha / 2)
        return pd.DataFrame({"ci_lower": self.params - q * self.bse, "ci_upper": self.params + q * self.bse})

    @property
    def hessian(self) -> pd.DataFrame:
        """Exact (symmetrised) Hessian of the summed log-likelihood at the estimate."""
        return pd.DataFrame(self.hessian_array, index=list(self.names), columns=list(self.names))

    @property
    def gradient(self) -> pd.Series:
        """Exact gradient of the summed log-likelihood at the estimate."""
        return pd.Series(self.gradient_array, index=list(self.names), name="gradient")

    @property
    def identification(self) -> pd.DataFrame:
        """Bad eigenvectors of the information: eigenvalue, problem, parameter, loading (empty if none)."""
        return self.inverse_information.diagnostics

    @cached_property
    def aic(self) -> float:
        """Akaike information criterion ``-2 llf + 2 k``."""
        return -2.0 * self.llf + 2.0 * self.k_params

    @cached_property
    def bic(self) -> float:
        """Bayesian information criterion ``-2 llf + k log(nobs)`` (NaN when nobs is unknown)."""
        return -2.0 * self.llf + self.k_params * np.log(self.nobs) if self.nobs else float("nan")

    # ------------------------------------------------------------------ reporting
    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """The coefficient table: ``coef, std_err, z, p_value, ci_lower, ci_upper`` by parameter."""
        frame = pd.concat([self.params, self.bse, self.zvalues, self.pvalues, self.conf_int(alpha)], axis=1)
        frame.index.name = "parameter"
        return frame[list(SUMMARY_COLUMNS)]

    def _header(self) -> list[tuple[str, str]]:
        desc = self.model.description
        return [
            ("Model", str(desc.get("model", getattr(self.model.loglike, "__name__", "custom")))),
            ("Observations", str(self.nobs)),
            ("Log-likelihood", f"{self.llf:.6g}"),
            ("AIC / BIC", f"{self.aic:.6g} / {self.bic:.6g}"),
            ("Covariance", self.cov_type),
            ("Converged", f"{self.converged} ({self.iterations} iterations)"),
        ]

    def __str__(self) -> str:
        head = "\n".join(f"{k + ':':<16}{v}" for k, v in self._header())
        table = self.summary_frame().to_string(float_format=lambda v: f"{v:.6g}")
        tail = "" if self.converged else f"\nWARNING: {self.convergence_message}"
        return f"{head}\n{table}{tail}"

    def __repr__(self) -> str:
        return f"<FitResult {self.model.description.get('model', 'custom')}: k={self.k_params}, nobs={self.nobs}, llf={self.llf:.6g}>"

    def _repr_html_(self) -> str:
        head = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{v}</td></tr>" for k, v in self._header())
        warn = "" if self.converged else f"<p><b>Warning:</b> {self.convergence_message}</p>"
        return f"<table>{head}</table>{self.summary_frame().to_html(float_format=lambda v: f'{v:.6g}')}{warn}"
