"""Restricted fits and profile-likelihood confidence intervals.

A restricted model fixes some parameters at given values and frees the rest. Its log-likelihood
is one hashable wrapper per (log-likelihood, parameter structure) that reads the fixed values and
the free positions from its *data* (``{"data": ..., "base": theta, "free": indices}``), so the
compiled kernels are shared by every fixed value and every profiled parameter: profiling never
re-traces per grid point or per parameter.

The profile interval for parameter ``j`` is ``{v : 2 (llf_hat - llf_profile(v)) <= chi2_1(1-alpha)}``
(as R's ``MASS::confint`` for ``glm``, which interpolates a spline instead of root-finding). Each
end is bracketed by stepping out from the estimate in multiples of the Wald half-width (warm
starts), then solved with ``scipy.optimize.brentq``; an end not reached within ``max_steps``
standard errors is reported as open (NaN, ``status``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use

from hessstats._checks import check_alpha, check_positive
from hessstats._config import float64
from hessstats._progress import progress as progress_bar
from hessstats.core.optimize import maximize
from hessstats.errors import SpecificationError
from hessstats.inference.delta import warn_unconverged

if TYPE_CHECKING:
    from hessstats.model import Model
    from hessstats.results import FitResult


def fit_restricted(res: FitResult, fixed: Mapping[str, float], **fit_options: Any) -> FitResult:
    """Refit ``res``'s model with the parameters in ``fixed`` held fixed (warm-started).

    Example
    -------
    >>> import numpy as np, hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * ((d - p["a"]) ** 2 + (d - p["b"]) ** 2), {"a": 0.0, "b": 0.0},
    ...              np.array([1.0, 3.0]))
    >>> restricted = fit_restricted(res, {"b": 0.0})
    >>> restricted.params.round(6).to_dict()
    {'a': 2.0}
    """
    model = res.model.fix(fixed)
    free = np.asarray(model.data["free"])
    return model.fit(start=np.asarray(res.theta)[free], **fit_options)


def fixed_at(template: Model, theta: Any, j: int, value: float) -> Model:
    """``template`` (a model :meth:`Model.fix <hessstats.Model.fix>` made with one parameter fixed) as the
    model with parameter ``j`` held at ``value`` and the others free: no new model and no new trace, as
    the fixed values (``theta`` with ``value`` at ``j``) and the free positions are its data. What
    profiles refit at each value.

    Example
    -------
    >>> import numpy as np, hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * ((d - p["a"]) ** 2 + (d - p["b"]) ** 2), {"a": 0.0, "b": 0.0},
    ...              np.array([1.0, 3.0]))
    >>> template = res.model.fix({"a": 0.0})
    >>> fixed_at(template, res.theta, 0, 5.0).fit().params.round(6).to_dict()   # b free, a held at 5
    {'b': 2.0}
    """
    base = np.array(theta, dtype=np.float64)
    base[j] = value
    free = np.array([i for i in range(base.size) if i != j], dtype=np.int64)
    return template.replace(data=dict(template.data, base=base, free=free))


class _Profiler:
    """Evaluate the profile log-likelihood of parameter ``j`` at values ``v`` with warm starts."""

    def __init__(self, res: FitResult, template: Model, j: int):
        self.res, self.template, self.j = res, template, j
        self.free = np.array([i for i in range(len(res.theta)) if i != j], dtype=np.int64)
        self.warm = {float(res.theta[j]): np.asarray(res.theta)[self.free]}

    def __call__(self, value: float) -> float:
        model = fixed_at(self.template, self.res.theta, self.j, value)
        start = self.warm[min(self.warm, key=lambda v: abs(v - value))]
        try:
            opt = maximize(model, start)
        except SpecificationError:
            return -np.inf
        if np.isfinite(opt.llf) and np.all(np.isfinite(opt.theta)):
            self.warm[float(value)] = opt.theta
        return float(opt.llf)


def _end(f: Callable[[float], float], hat: float, step: float, side: int, max_steps: float) -> float:
    """The root of ``f`` on one side of ``hat`` (NaN if not bracketed within ``max_steps`` steps)."""
    inner, distance = hat, step
    while distance <= max_steps * step:
        outer = hat + side * distance
        value = f(outer)
        if not np.isfinite(value):
            return np.nan
        if value > 0:
            lo, hi = sorted((inner, outer))
            return float(scipy.optimize.brentq(f, lo, hi, xtol=1e-12 * max(1.0, abs(hat)), rtol=1e-14))
        inner, distance = outer, distance * 1.5
    return np.nan


@float64
def profile_ci(res: FitResult, names: Any = None, alpha: float = 0.05, *, max_steps: float = 40.0,
               progress: bool | None = None) -> pd.DataFrame:
    """Profile-likelihood intervals beside the Wald intervals (see the module docstring).

    Columns: ``coef, profile_lower, profile_upper, wald_lower, wald_upper, status`` (``"ok"``,
    ``"lower open"``, ``"upper open"``, ``"open"`` or ``"not identified"``). ``max_steps``: how far
    (in Wald half-widths, i.e. ``z * se`` with the observed-information SE) to search for an end.
    ``progress``: a tqdm bar over parameters (default: only on a terminal and for 5+ parameters).

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs
    >>> y = np.array([0.5, 1.5, 2.0, 4.0])
    >>> def loglike(p, d):
    ...     return -0.5 * ((d - p["mu"]) / p["sigma"]) ** 2 - jnp.log(p["sigma"])
    >>> res = hs.fit(loglike, {"mu": 0.0, "sigma": 1.0}, y)
    >>> profile_ci(res, ["mu"]).round(4)[["coef", "profile_lower", "profile_upper", "status"]]
               coef  profile_lower  profile_upper status
    parameter                                           
    mu          2.0         0.3812         3.6188     ok
    """
    warn_unconverged(res, "profile-likelihood intervals")
    check_alpha(alpha)
    max_steps = check_positive(max_steps, "max_steps")
    selected = list(res.names) if names is None else ([names] if isinstance(names, str) else list(names))
    res.model.spec.positions(selected, context="profile_ci: ")
    if len(res.theta) < 2:
        template = None
    else:
        template = res.model.fix({res.names[0]: float(res.theta[0])})
    crit = float(scipy.special.chdtri(1, alpha))
    wald = res.conf_int(alpha)
    se_info = np.sqrt(np.abs(np.diag(res.inverse_information.cov)))
    rows = []
    for name in progress_bar(selected, len(selected), desc="profiling", show=progress, minimum=5):
        j = res.names.index(name)
        hat = float(res.theta[j])
        lower = upper = np.nan
        status = "not identified"
        if np.isfinite(se_info[j]) and se_info[j] > 0:
            f = _objective(res, template, j, crit)
            step = se_info[j] * np.sqrt(crit)
            lower, upper = _end(f, hat, step, -1, max_steps), _end(f, hat, step, +1, max_steps)
            status = {(False, False): "ok", (True, False): "lower open", (False, True): "upper open",
                      (True, True): "open"}[(bool(np.isnan(lower)), bool(np.isnan(upper)))]
        rows.append((name, hat, lower, upper, wald.loc[name, "ci_lower"], wald.loc[name, "ci_upper"], status))
    frame = pd.DataFrame(rows, columns=["parameter", "coef", "profile_lower", "profile_upper",
                                        "wald_lower", "wald_upper", "status"]).set_index("parameter")
    return frame


def _objective(res: FitResult, template: Model | None, j: int, crit: float) -> Callable[[float], float]:
    """``f(v) = 2 (llf_hat - llf_profile(v)) - crit`` for parameter ``j``."""
    if template is None:  # one parameter: the profile is the log-likelihood itself
        def f(value: float) -> float:
            llf = res.model.evaluate(np.array([value]))[0]
            return 2.0 * (res.llf - llf) - crit if np.isfinite(llf) else np.nan
        return f
    profiler = _Profiler(res, template, j)

    def f(value: float) -> float:
        llf = profiler(value)
        return 2.0 * (res.llf - llf) - crit if np.isfinite(llf) else np.nan

    return f
