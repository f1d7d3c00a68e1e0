"""Plots (issue 14): coefplot, profileplot, driftplot, rendered headlessly (Agg) to PNG and checked
for content: the points, whiskers, lines and limits drawn must be the numbers the fits report.

References: each fit's own ``params``/``conf_int`` (Wald closed form), the closed-form profile
likelihood of a normal mean (``2 (llf_hat - llf_p(mu)) = n log(1 + (ybar - mu)^2 / s2)``, with
``s2`` the ML variance), and ``hs.testing.compare_estimates`` for drift.
"""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")

import jax.numpy as jnp  # noqa: E402
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.special  # noqa: E402

import hessstats as hs  # noqa: E402
from hessstats.errors import OptionalDependencyError, SpecificationError  # noqa: E402
from hessstats.plotting import ProfileScale  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def spector_fits():
    df = hs.datasets.load("spector")
    return [hs.logit("GRADE ~ GPA + PSI", df).fit(), hs.logit("GRADE ~ GPA + TUCE + PSI", df).fit(),
            hs.probit("GRADE ~ GPA + TUCE + PSI", df).fit()]


def _png(ax, path) -> np.ndarray:
    ax.figure.savefig(path, dpi=60)
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50
    assert image[..., :3].std() > 0.01  # something was drawn (not a blank canvas)
    return image


def _visible(ax, kind="lines"):
    return [a for a in getattr(ax, kind) if not a.get_label().startswith("_")]


def test_coefplot_three_fits_points_whiskers_and_labels(spector_fits, tmp_path):
    """Reference: every fit's params and 95% Wald conf_int; rows aligned by name in first-appearance order."""
    ax = hs.coefplot(spector_fits, labels=["small", "logit", "probit"])
    _png(ax, tmp_path / "coef.png")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Intercept", "GPA", "PSI", "TUCE"]
    markers = _visible(ax)
    assert [m.get_label() for m in markers] == ["small", "logit", "probit"]
    assert [len(m.get_xdata()) for m in markers] == [3, 4, 4]  # the small model has no TUCE
    whiskers = [c for c in ax.collections if c.get_label().endswith("interval")]
    assert len(whiskers) == 3
    for fit, marker, segs in zip(spector_fits, markers, whiskers):
        names = [n for n in ["Intercept", "GPA", "PSI", "TUCE"] if n in fit.params.index]
        np.testing.assert_allclose(marker.get_xdata(), fit.params[names].to_numpy(), rtol=1e-12)
        ends = np.array([[seg[0, 0], seg[1, 0]] for seg in segs.get_segments()])
        np.testing.assert_allclose(ends, fit.conf_int().loc[names].to_numpy(), rtol=1e-12)
    # every fit's rows stay inside its parameter's band (offset < 0.5) and the x limits hold every whisker
    ys = np.concatenate([m.get_ydata() for m in markers])
    assert np.all(np.abs(ys - np.round(ys)) < 0.5)
    lo, hi = ax.get_xlim()
    assert lo <= min(f.conf_int()["ci_lower"].min() for f in spector_fits)
    assert hi >= max(f.conf_int()["ci_upper"].max() for f in spector_fits)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["small", "logit", "probit"]


def test_coefplot_single_fit_on_given_axes_with_names_and_alpha(spector_fits):
    """Reference: conf_int(alpha=0.1) of the fit; names= selects and orders rows; ax= is drawn on and returned."""
    fig, ax = plt.subplots()
    out = hs.coefplot(spector_fits[1], names=["PSI", "GPA"], alpha=0.1, reference=None, ax=ax)
    assert out is ax
    assert [t.get_text() for t in ax.get_yticklabels()] == ["PSI", "GPA"]
    (marker,) = _visible(ax)
    np.testing.assert_allclose(marker.get_xdata(), spector_fits[1].params[["PSI", "GPA"]].to_numpy(), rtol=1e-12)
    (segs,) = ax.collections
    ends = np.array([[s[0, 0], s[1, 0]] for s in segs.get_segments()])
    np.testing.assert_allclose(ends, spector_fits[1].conf_int(0.1).loc[["PSI", "GPA"]].to_numpy(), rtol=1e-12)
    assert ax.get_legend() is None and "90%" in ax.get_xlabel()


def test_coefplot_refuses_unknown_names_and_wrong_labels(spector_fits):
    """Reference: the error contract (typed errors saying what was expected)."""
    with pytest.raises(SpecificationError, match="unknown parameter names"):
        hs.coefplot(spector_fits, names=["GPAA"])
    with pytest.raises(SpecificationError, match="one label per fit"):
        hs.coefplot(spector_fits, labels=["a"])


@pytest.fixture(scope="module")
def normal_fit():
    y = np.array([0.3, 1.9, 2.2, 2.8, 4.1, 1.2, 3.3, 2.0])

    def loglike(p, d):
        return -0.5 * ((d - p["mu"]) / p["sigma"]) ** 2 - jnp.log(p["sigma"])

    return y, hs.fit(loglike, {"mu": 0.0, "sigma": 1.0}, y)


def _closed_form_stat(y, mu):
    s2 = np.mean((y - y.mean()) ** 2)
    return len(y) * np.log1p((y.mean() - mu) ** 2 / s2)


def test_profileplot_signed_root_matches_closed_form_profile(normal_fit, tmp_path):
    """Reference: closed-form profile of a normal mean, 2(llf_hat - llf_p(mu)) = n log(1 + (ybar-mu)^2/s2);
    Wald line (mu - ybar)/se with se = sqrt(s2/n); interval ends from hs.profile_ci and ybar -/+ z se."""
    y, res = normal_fit
    ax = hs.profileplot(res, "mu", points=6)
    _png(ax, tmp_path / "profile.png")
    lines = {line.get_label(): line for line in ax.lines}
    profile, wald = lines["profile"], lines["Wald"]
    grid = np.asarray(profile.get_xdata())
    assert len(grid) == 13 and np.isclose(grid, y.mean()).any()
    expected = np.sign(grid - y.mean()) * np.sqrt(_closed_form_stat(y, grid))
    np.testing.assert_allclose(profile.get_ydata(), expected, rtol=1e-6, atol=1e-8)
    se = np.sqrt(np.mean((y - y.mean()) ** 2) / len(y))
    wx = np.asarray(wald.get_xdata())
    np.testing.assert_allclose(wald.get_ydata(), (wx - y.mean()) / se, rtol=1e-8)
    z = scipy.special.ndtri(0.975)
    crit = sorted(line.get_ydata()[0] for line in ax.lines if line.get_label().endswith("critical value"))
    np.testing.assert_allclose(crit, [-z, z], rtol=1e-12)
    ci = res.profile_ci(["mu"]).loc["mu"]
    prof_x = sorted(line.get_xdata()[0] for line in ax.lines if line.get_label().endswith("profile CI"))
    np.testing.assert_allclose(prof_x, [ci["profile_lower"], ci["profile_upper"]], rtol=1e-10)
    wald_x = sorted(line.get_xdata()[0] for line in ax.lines if line.get_label().endswith("Wald CI"))
    np.testing.assert_allclose(wald_x, [y.mean() - z * se, y.mean() + z * se], rtol=1e-8)
    lo, hi = ax.get_xlim()
    assert lo < min(prof_x + wald_x) and hi > max(prof_x + wald_x)
    assert ax.get_xlabel() == "mu"


def test_profileplot_deviance_scale_is_the_lr_statistic(normal_fit):
    """Reference: the same closed form on the deviance scale; the Wald curve is the parabola ((mu-ybar)/se)^2;
    one horizontal line at the chi2(1) 95% quantile 3.841459."""
    y, res = normal_fit
    ax = hs.profileplot(res, "mu", scale="deviance", points=3)
    lines = {line.get_label(): line for line in ax.lines}
    grid = np.asarray(lines["profile"].get_xdata())
    np.testing.assert_allclose(lines["profile"].get_ydata(), _closed_form_stat(y, grid), rtol=1e-6, atol=1e-8)
    (crit,) = [line for line in ax.lines if line.get_label().endswith("critical value")]
    np.testing.assert_allclose(crit.get_ydata()[0], 3.841459, rtol=1e-6)
    assert min(lines["Wald"].get_ydata()) >= 0
    assert ProfileScale("deviance") is ProfileScale.DEVIANCE


def test_profileplot_refuses_unknown_parameter(normal_fit):
    """Reference: the error contract (typed errors)."""
    with pytest.raises(SpecificationError, match="unknown parameter"):
        hs.profileplot(normal_fit[1], "nu")
    with pytest.raises(ValueError):
        hs.profileplot(normal_fit[1], "mu", scale="log")


def test_driftplot_shows_each_compared_value_in_tolerance_units(spector_fits, tmp_path):
    """Reference: hs.testing.compare_estimates of a refit on edited data against the original fit
    (the README's drift example: one GPA value changed): drift points = rows with status 'drift',
    placed at (actual - expected) / tolerance; the band [-1, 1] is the tolerance."""
    df = hs.datasets.load("spector")
    edited = df.copy()
    edited.loc[1, "GPA"] += 0.1
    table = hs.testing.compare_estimates(hs.logit("GRADE ~ GPA + TUCE + PSI", edited).fit(), spector_fits[1],
                                         rtol={"coef": 1e-3, "std_err": 0.1})
    ax = hs.driftplot(table)
    _png(ax, tmp_path / "drift.png")
    shown = {line.get_label(): line for line in _visible(ax)}
    n_drift = int((table["status"] == "drift").sum())
    assert 0 < n_drift < len(table)
    assert len(shown["drift"].get_xdata()) == n_drift
    assert len(shown["ok"].get_xdata()) == len(table) - n_drift
    units = (table["actual"] - table["expected"]) / table["tolerance"]
    np.testing.assert_allclose(sorted(np.abs(shown["drift"].get_xdata())), sorted(np.abs(units[table["status"] == "drift"])),
                               rtol=1e-12)
    assert np.all(np.abs(shown["ok"].get_xdata()) <= 1)
    assert ax.get_xscale() == "symlog"
    (band,) = [p for p in ax.patches if p.get_label() == "within tolerance"]
    assert (band.get_x(), band.get_x() + band.get_width()) == (-1, 1)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == len(table) and labels[0].endswith(("coef", "std_err", "llf", "nobs"))
    assert f"{n_drift} of {len(table)}" in ax.get_title()


def test_driftplot_missing_parameters_and_row_limit(spector_fits):
    """Reference: compare_estimates against a fit with one parameter fewer (status 'missing'/'extra')."""
    table = hs.testing.compare_estimates(spector_fits[0], spector_fits[1], columns=["coef"])
    ax = hs.driftplot(table, max_rows=3)
    shown = {line.get_label(): line for line in _visible(ax)}
    assert len(shown["missing"].get_xdata()) == 1 and shown["missing"].get_xdata()[0] == 0
    assert len(ax.get_yticklabels()) == 3 and "rows not shown" in ax.get_title()
    with pytest.raises(SpecificationError, match="comparison table"):
        hs.driftplot(spector_fits[0].summary_frame())


def test_missing_matplotlib_is_a_typed_error_naming_the_extra(spector_fits, monkeypatch):
    """Reference: the optional-dependency contract (an ImportError subclass naming `hessstats[plot]`)."""
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # `import matplotlib.pyplot` now fails
    with pytest.raises(OptionalDependencyError, match=r"hessstats\[plot\]"):
        hs.coefplot(spector_fits)
    with pytest.raises(ImportError):
        hs.coefplot(spector_fits)


def test_profileplot_one_parameter_quadratic_likelihood_is_its_wald_line():
    """Reference: closed form. For l(mu) = -sum (y - mu)^2 / 2 the profile is the likelihood itself and
    exactly quadratic, so the signed root equals the Wald line (mu - ybar) / se with se = 1/sqrt(n)."""
    y = np.array([1.0, 2.0, 4.0])
    res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, y)
    ax = hs.profileplot(res, "mu", points=4)
    profile = {line.get_label(): line for line in ax.lines}["profile"]
    np.testing.assert_allclose(profile.get_ydata(), (profile.get_xdata() - y.mean()) * np.sqrt(len(y)), rtol=1e-9, atol=1e-12)


def test_profileplot_refuses_an_unidentified_parameter_and_coefplot_draws_the_rest():
    """Reference: y ~ N(a + b, sigma) does not identify a and b (NaN SEs; likelihood.md's example):
    profileplot says so; coefplot draws every point and only sigma's whisker is finite."""
    import jax.scipy.stats as jst

    y = np.random.default_rng(0).normal(3.0, 2.0, size=200)
    with pytest.warns(hs.errors.IdentificationWarning):
        res = hs.fit(lambda p, y: jst.norm.logpdf(y, p["a"] + p["b"], p["sigma"]), {"a": 0.0, "b": 0.0, "sigma": 1.0}, y)
    with pytest.raises(SpecificationError, match="not identified"):
        hs.profileplot(res, "a")
    ax = hs.coefplot(res)
    (marker,) = _visible(ax)
    assert len(marker.get_xdata()) == 3
    drawn = [seg for seg in ax.collections[0].get_segments() if len(seg) == 2 and np.isfinite(seg).all()]
    assert len(drawn) == 1  # sigma's whisker only
    np.testing.assert_allclose(sorted(drawn[0][:, 0]), res.conf_int().loc["sigma"].to_numpy(), rtol=1e-12)
