"""Pictures of fits: coefficient plots, profile likelihoods and drift plots (``hs.coefplot``,
``hs.profileplot``, ``hs.driftplot``).

matplotlib is an optional dependency (the ``plot`` extra: ``pip install "hessstats[plot]"``); it is
imported when a plot is drawn, and a missing matplotlib is an
:class:`~hessstats.errors.OptionalDependencyError` naming the extra. Every function draws on
``ax=`` when given (otherwise on a new figure) and returns the matplotlib ``Axes``, so plots compose
with the rest of a matplotlib figure.

Conventions
-----------
- ``coefplot``: point estimates with Wald intervals ``coef -/+ z_{1-alpha/2} se`` (the fit's own
  covariance, as ``conf_int``), one row per parameter aligned by name across fits (the order in
  which the names first appear, as ``hs.table``), like Stata's ``coefplot`` and R's
  ``modelsummary::modelplot``.
- ``profileplot``: the profile log-likelihood of one parameter (every other parameter refitted at
  each value) against the quadratic (Wald) approximation from the observed information, on the
  signed-root scale ``sign(v - hat) sqrt(2 (llf_hat - llf_profile(v)))`` (a straight line for the
  Wald approximation) or the deviance scale ``2 (llf_hat - llf_profile(v))`` (a parabola), as R's
  ``MASS`` ``plot(profile(fit))``; horizontal lines at the critical value, vertical lines at the
  profile and Wald interval ends.
- ``driftplot``: each compared value of a regression test (:func:`hessstats.testing.compare_estimates`)
  as its difference from the snapshot in units of its tolerance ``atol + rtol |expected|``; the band
  ``[-1, 1]`` is "within tolerance"; the axis is symmetric-log beyond it, so large drifts stay visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.special

from hessstats.errors import OptionalDependencyError, SpecificationError, message
from hessstats.inference.profile import fixed_at, profile_ci

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from hessstats.results import FitResult

__all__ = ["ProfileScale", "coefplot", "driftplot", "profileplot"]

DRIFT_COLUMNS = ("parameter", "quantity", "expected", "actual", "tolerance", "status")
"""The columns :func:`driftplot` reads (those of :func:`hessstats.testing.compare_estimates`)."""


class ProfileScale(Enum):
    """The vertical scale of :func:`profileplot`.

    ``SIGNED_ROOT``: ``sign(v - hat) sqrt(2 (llf_hat - llf_profile(v)))``, compared with ``+/- z``;
    ``DEVIANCE``: ``2 (llf_hat - llf_profile(v))``, compared with the chi2(1) quantile.

    Example
    -------
    >>> ProfileScale("deviance")
    <ProfileScale.DEVIANCE: 'deviance'>
    """

    SIGNED_ROOT = "signed_root"
    DEVIANCE = "deviance"


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    """``ax``, or the axes of a new pyplot figure; a missing matplotlib is a typed error naming the extra."""
    try:
        import matplotlib.pyplot as plt  # optional dependency (the plot extra), needed only to draw
    except ImportError:
        raise OptionalDependencyError(message(
            "plotting needs matplotlib, which is not installed", expected="matplotlib (the 'plot' extra)",
            got="no module named 'matplotlib'", fix='pip install "hessstats[plot]"')) from None
    if ax is not None:
        return ax
    return plt.subplots(figsize=size, layout="constrained")[1]


def coefplot(results: Any, *, labels: Sequence[str] | None = None, names: Sequence[str] | None = None,
             alpha: float = 0.05, reference: float | None = 0.0, ax: Axes | None = None) -> Axes:
    """Point estimates with confidence-interval whiskers for one or several fits.

    Parameters
    ----------
    results : FitResult or sequence of FitResult
        The fits (anything with ``params`` and ``conf_int(alpha)``). Parameters are aligned by name;
        a parameter absent from a fit is simply not drawn for it.
    labels : sequence of str, optional
        One legend label per fit (default ``"(1)"``, ``"(2)"``, ...; no legend for a single fit).
    names : sequence of str, optional
        The parameters to show, top to bottom (default: every name, in order of first appearance).
    alpha : float
        Intervals are ``1 - alpha`` Wald intervals (default 95%).
    reference : float or None
        A vertical reference line (default at 0; ``None`` for none).
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
        One marker line (``Line2D``, label = the fit's label) and one whisker ``LineCollection`` per
        fit; parameters on the y axis, top to bottom.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("spector")
    >>> fits = [hs.logit("GRADE ~ GPA + PSI", df).fit(), hs.probit("GRADE ~ GPA + PSI", df).fit()]
    >>> ax = hs.coefplot(fits, labels=["logit", "probit"])
    >>> [t.get_text() for t in ax.get_yticklabels()], len(ax.lines[0].get_xdata())
    (['Intercept', 'GPA', 'PSI'], 3)
    """
    fits = [results] if hasattr(results, "params") else list(results)
    if not fits:
        raise SpecificationError(message("coefplot needs at least one fit", expected="a FitResult or a list of them",
                                         got="an empty sequence", fix="pass the fits to plot"))
    labels = [f"({i + 1})" for i in range(len(fits))] if labels is None else [str(x) for x in labels]
    if len(labels) != len(fits):
        raise SpecificationError(message("coefplot: one label per fit", expected=f"{len(fits)} labels",
                                         got=f"{len(labels)}", fix="pass as many labels as fits"))
    known = list(dict.fromkeys(name for fit in fits for name in fit.params.index))
    shown = known if names is None else [str(n) for n in names]
    unknown = [n for n in shown if n not in known]
    if unknown:
        raise SpecificationError(message("coefplot: unknown parameter names", expected=f"names among {known}",
                                         got=str(unknown), fix="check the spelling, or leave names= out"))
    ax = _axes(ax, (6.0, 1.0 + 0.45 * len(shown) * max(1.0, len(fits) / 2)))
    rows = {name: i for i, name in enumerate(shown)}
    height = 0.6 / max(len(fits), 1)
    for k, (fit, label) in enumerate(zip(fits, labels)):
        ci = fit.conf_int(alpha)
        present = [n for n in shown if n in fit.params.index]
        y = np.array([rows[n] for n in present], dtype=float) + (k - (len(fits) - 1) / 2) * height
        coef = fit.params.reindex(present).to_numpy(dtype=float)
        lower, upper = ci.reindex(present).to_numpy(dtype=float).T
        (marker,) = ax.plot(coef, y, "o", label=label, zorder=3)
        ax.hlines(y, lower, upper, colors=marker.get_color(), linewidth=1.8, label=f"_{label} interval")
    if reference is not None:
        ax.axvline(reference, color="0.6", linewidth=0.8, linestyle=":", zorder=0, label="_reference")
    ax.set_yticks(range(len(shown)), shown)
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.set_xlabel(f"estimate and {100 * (1 - alpha):g}% Wald interval")
    if len(fits) > 1:
        ax.legend()
    return ax


def profileplot(res: FitResult, name: str, *, scale: str | ProfileScale = ProfileScale.SIGNED_ROOT,
                alpha: float = 0.05, points: int = 15, ax: Axes | None = None) -> Axes:
    """The profile log-likelihood of one parameter with the Wald quadratic overlaid.

    Parameters
    ----------
    res : FitResult
        The fit (its model is refitted with ``name`` held fixed at each grid value).
    name : str
        The parameter to profile (a flat name such as ``"GPA"`` or ``"beta[0]"``).
    scale : {"signed_root", "deviance"} or ProfileScale
        Signed root of the likelihood-ratio statistic (default; the Wald approximation is a straight
        line) or the statistic itself (a parabola). See :class:`ProfileScale`.
    alpha : float
        Level of the interval lines (default: 95%).
    points : int
        Grid values on each side of the estimate (each costs one warm-started restricted fit).
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
        Lines labelled ``"profile"`` and ``"Wald"`` (the curves), ``"profile CI"`` and
        ``"Wald CI"`` (vertical lines at the interval ends) and ``"critical value"`` (horizontal).
        The grid spans both intervals with a quarter of their width to spare.

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit()
    >>> ax = hs.profileplot(res, "GPA", points=5)
    >>> sorted({line.get_label() for line in ax.lines} - {"_critical value", "_profile CI", "_Wald CI"})
    ['Wald', 'Wald CI', 'critical value', 'profile', 'profile CI']
    """
    scale = ProfileScale(scale)
    names = list(res.names)
    if name not in names:
        raise SpecificationError(message("profileplot: unknown parameter", expected=f"one of {names}",
                                         got=repr(name), fix="pass a flat parameter name"))
    if int(points) < 2:
        raise SpecificationError(message("profileplot: too few grid points", expected="points >= 2",
                                         got=str(points), fix="use the default (15)"))
    j = names.index(name)
    hat = float(res.theta[j])
    se = float(np.sqrt(res.inverse_information.cov[j, j]))
    if not np.isfinite(se) or se <= 0:
        raise SpecificationError(message(f"profileplot: {name!r} is not identified", expected="a finite standard error",
                                         got=f"se = {se}", fix="profile an identified parameter"))
    ax = _axes(ax, (6.0, 4.0))
    z = float(scipy.special.ndtri(1 - alpha / 2))
    ends = profile_ci(res, [name], alpha).loc[name]
    wald = (hat - z * se, hat + z * se)
    profile = (float(ends["profile_lower"]), float(ends["profile_upper"]))
    finite = [v for v in (*wald, *profile) if np.isfinite(v)]
    width = max(finite) - min(finite)
    lo, hi = min(finite) - width / 4, max(finite) + width / 4
    grid, llf = _profile_curve(res, name, hat, lo, hi, int(points))
    stat = np.maximum(2.0 * (res.llf - llf), 0.0)
    wald_grid = np.linspace(lo, hi, 200)
    if scale is ProfileScale.SIGNED_ROOT:
        curve, quad, crit = np.sign(grid - hat) * np.sqrt(stat), (wald_grid - hat) / se, [-z, z]
        ax.set_ylabel("signed root of 2 (llf_hat - llf_profile)")
    else:
        curve, quad, crit = stat, ((wald_grid - hat) / se) ** 2, [z * z]
        ax.set_ylabel("2 (llf_hat - llf_profile)")
    (line,) = ax.plot(grid, curve, "o-", label="profile", markersize=3)
    ax.plot(wald_grid, quad, "--", label="Wald", color="0.4")
    for i, value in enumerate(crit):
        ax.axhline(value, color="0.6", linewidth=0.8, label="critical value" if i == 0 else "_critical value")
    for i, value in enumerate(v for v in profile if np.isfinite(v)):
        ax.axvline(value, color=line.get_color(), linewidth=0.8, label="profile CI" if i == 0 else "_profile CI")
    for i, value in enumerate(wald):
        ax.axvline(value, color="0.4", linestyle="--", linewidth=0.8, label="Wald CI" if i == 0 else "_Wald CI")
    ax.set_xlim(lo, hi)
    ax.set_xlabel(name)
    ax.set_title(f"profile likelihood of {name} ({100 * (1 - alpha):g}% intervals)")
    ax.legend(fontsize="small")
    return ax


def _profile_curve(res: FitResult, name: str, hat: float, lo: float, hi: float, points: int) -> tuple[np.ndarray, np.ndarray]:
    """Profile log-likelihood on ``points`` values each side of ``hat``, walking outwards with warm starts."""
    values, llfs = [hat], [float(res.llf)]
    if res.k_params == 1:  # nothing to refit: the profile is the log-likelihood itself
        grid = np.concatenate([np.linspace(lo, hat, points + 1)[:-1], [hat], np.linspace(hat, hi, points + 1)[1:]])
        return grid, np.array([float(res.model.evaluate(np.array([v]))[0]) for v in grid])
    free = [i for i in range(res.k_params) if res.names[i] != name]
    template = res.model.fix({name: float(hat)})  # built (traced) once; refits read the value from its data
    position = list(res.names).index(name)
    for side in (np.linspace(hat, lo, points + 1)[1:], np.linspace(hat, hi, points + 1)[1:]):
        start = np.asarray(res.theta)[free]
        for value in side:
            fit = fixed_at(template, res.theta, position, float(value)).fit(start=start)
            start = np.asarray(fit.theta)
            values.append(float(value))
            llfs.append(float(fit.llf))
    order = np.argsort(values)
    return np.asarray(values)[order], np.asarray(llfs)[order]


def driftplot(table: pd.DataFrame, *, max_rows: int = 40, ax: Axes | None = None) -> Axes:
    """A regression-test comparison as a picture: each value's drift in units of its tolerance.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`hessstats.testing.compare_estimates` (what ``hessstats check`` and
        :func:`~hessstats.testing.assert_estimates_close` print as a drift report).
    max_rows : int
        At most this many rows, the largest drifts first (the title says how many were left out).
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes
        Markers labelled ``"ok"`` and ``"drift"`` at ``(actual - expected) / tolerance`` (a drift
        with zero tolerance sits at the edge of the axis), ``"missing"``/``"extra"`` parameters at 0
        as crosses, and the shaded band ``[-1, 1]`` (within tolerance); one row per
        ``parameter quantity`` on the y axis.

    Example
    -------
    >>> import pandas as pd, hessstats as hs
    >>> a = pd.DataFrame({"coef": [1.0, 2.0], "std_err": [0.1, 0.2]}, index=["x", "y"])
    >>> table = hs.testing.compare_estimates(a.assign(coef=[1.0, 2.1]), a, rtol=0.01)
    >>> ax = hs.driftplot(table)
    >>> {line.get_label(): len(line.get_xdata()) for line in ax.lines if not line.get_label().startswith("_")}
    {'ok': 3, 'drift': 1}
    """
    missing = [c for c in DRIFT_COLUMNS if c not in getattr(table, "columns", [])]
    if missing:
        raise SpecificationError(message(
            "driftplot needs a comparison table", expected=f"a DataFrame with columns {list(DRIFT_COLUMNS)}",
            got=f"{type(table).__name__} without {missing}", fix="pass hs.testing.compare_estimates(res, snapshot)"))
    frame = table.reset_index(drop=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = frame["actual"].to_numpy(float) - frame["expected"].to_numpy(float)
        units = np.where(diff == 0, 0.0, diff / frame["tolerance"].to_numpy(float))
    absent = frame["status"].isin(["missing", "extra"]).to_numpy()
    units[absent] = 0.0
    units[np.isnan(units) & ~absent] = np.inf  # NaN on one side only: a drift without a size
    severity = np.where(absent, np.inf, np.abs(units))
    order = np.argsort(-severity, kind="stable")[: int(max_rows)]
    frame, units = frame.iloc[order].reset_index(drop=True), units[order]
    finite = np.abs(units[np.isfinite(units)])
    edge = 10 ** np.ceil(np.log10(max(10.0, finite.max() if finite.size else 10.0) * 1.5))
    shown = np.clip(units, -edge, edge)
    ax = _axes(ax, (6.5, 1.2 + 0.3 * len(frame)))
    ax.axvspan(-1, 1, color="tab:green", alpha=0.15, label="within tolerance")
    ax.axvline(0, color="0.6", linewidth=0.8, label="_zero")
    styles = {"ok": ("o", "tab:green"), "drift": ("o", "tab:red"), "missing": ("x", "tab:purple"), "extra": ("x", "tab:orange")}
    for status, (mark, color) in styles.items():
        rows = np.flatnonzero(frame["status"].to_numpy() == status)
        if rows.size:
            ax.plot(shown[rows], rows, mark, color=color, label=status, linestyle="none")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(-edge, edge)
    decades = np.arange(1, int(round(np.log10(edge))) + 1)
    outer = [float(10.0 ** k) for k in decades[::-1][:: max(1, -(-len(decades) // 2))]]  # at most ~2 a side
    ax.set_xticks(sorted([-v for v in outer] + [-1.0, 0.0, 1.0] + outer))
    ax.set_yticks(range(len(frame)), [f"{p} {q}" for p, q in zip(frame["parameter"], frame["quantity"])])
    ax.set_ylim(len(frame) - 0.5, -0.5)
    ax.set_xlabel("(actual - expected) / tolerance")
    n_bad, n_all = int((table["status"] != "ok").sum()), len(table)
    source = table.attrs.get("source", "expected")
    more = f"; {n_all - len(frame)} rows not shown" if n_all > len(frame) else ""
    ax.set_title(f"vs {source}: {n_bad} of {n_all} values off{more}", fontsize="medium")
    ax.legend(fontsize="small", loc="best")
    return ax
