"""The optimiser on hard problems: the 27 NIST StRD nonlinear regressions, both certified starts,
as normal likelihoods for ``hs.fit`` (parameters ``b`` and ``log_sigma``).

Reference: NIST certified values (https://www.itl.nist.gov/div898/strd/nls/nls_main.shtml; the
original ``.dat`` files are in ``data/nist``): parameters to 1e-6 relative, standard deviations to
1e-4 relative. NIST's standard deviations are Gauss-Newton ones, ``sqrt(diag((J'J)^-1) RSS / (n - p))``;
they are compared with that quantity computed from the exact Jacobian at hessstats' optimum
(``nist_models.gauss_newton_se``), and once with ``res.with_cov("expected")`` scaled by
``sqrt(n / (n - p))``, which is the same number.

Each start is fitted two ways: plain (the observed information only) and with the expected
information ``J'J / sigma^2`` given (``expected_information=``), which the optimiser uses for
Fisher-scoring (Gauss-Newton) steps where the observed information is indefinite. Invariants for
every fit: no exception escapes; ``converged=True`` only at the certified values; a fit that does
not reach them is flagged (``ConvergenceWarning``). Which starts must reach the certified values
is pinned per mode below. The default run covers the hard problems; the whole catalogue is
``slow`` and runs with ``HESSSTATS_FULL_SCALE=1``.
"""

from __future__ import annotations

import os
import warnings

import nist_models as nm
import numpy as np
import pytest

import hessstats as hs
from hessstats.errors import ConvergenceWarning, HessstatsWarning

PARAM_RTOL = 1e-6
SE_RTOL = 1e-4
SE_RTOL_LANCZOS1 = 1e-2
"""Lanczos1's residuals are rounding errors of its data (certified RSS 1.4e-25): the minimum RSS
found in float64 differs from the certified one by ~0.1%, and the SEs scale with sqrt(RSS)."""

HARD = ("MGH09", "MGH10", "Lanczos1", "Bennett5", "Eckerle4", "BoxBOD", "Rat43", "Thurber")

MUST_REACH = {
    "plain": {("BoxBOD", 1), ("BoxBOD", 2), ("Rat43", 1), ("Rat43", 2), ("Thurber", 1), ("Thurber", 2),
              ("Eckerle4", 2), ("MGH09", 2)},
    "scoring": {("Bennett5", 1), ("Bennett5", 2), ("Eckerle4", 1), ("Eckerle4", 2), ("Lanczos1", 1),
                ("Lanczos1", 2), ("Lanczos2", 1), ("Lanczos2", 2), ("Lanczos3", 1), ("Lanczos3", 2),
                ("MGH10", 2), ("BoxBOD", 2), ("Rat43", 1), ("Rat43", 2), ("Thurber", 1), ("Thurber", 2),
                ("MGH09", 2)},
}
"""Starts that reach the certified values within the default limits (maxiter=100), per mode."""

FLOOR = {"plain": 40, "scoring": 48}
"""Of the 54 starts, at least this many reach the certified values (measured: 41 and 50)."""


def fit(name: str, which: int, mode: str) -> tuple[nm.Problem, hs.FitResult, list[warnings.WarningMessage]]:
    """Fit one start; hessstats warnings are recorded, not raised."""
    problem = nm.load(name)
    options = {"expected_information": nm.ExpectedInformation(problem)} if mode == "scoring" else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", HessstatsWarning)
        res = hs.fit(nm.NormalLoglike(name), nm.start(problem, which), nm.data(problem), **options)
    return problem, res, [w for w in caught if issubclass(w.category, HessstatsWarning)]


def reached(problem: nm.Problem, res: hs.FitResult) -> bool:
    """Parameters and (Gauss-Newton) standard errors at NIST's certified values."""
    b = res.params.to_numpy()[: problem.p]
    if not np.all(np.isfinite(b)) or np.max(np.abs(b / problem.certified - 1)) > PARAM_RTOL:
        return False
    se = nm.gauss_newton_se(problem, b)
    tol = SE_RTOL_LANCZOS1 if problem.name == "Lanczos1" else SE_RTOL
    return bool(np.max(np.abs(se / problem.certified_sd - 1)) <= tol)


def check_invariants(problem: nm.Problem, res: hs.FitResult, caught: list) -> bool:
    """No silent failure: converged implies certified values; not converged implies a warning."""
    ok = reached(problem, res)
    if res.converged:
        assert ok, f"{problem.name}: converged=True away from the certified values"
    else:
        assert any(issubclass(w.category, ConvergenceWarning) for w in caught), f"{problem.name}: not flagged"
    return ok


@pytest.mark.parametrize("mode", ["plain", "scoring"])
@pytest.mark.parametrize("which", [1, 2])
@pytest.mark.parametrize("name", HARD)
def test_hard_problems(name, which, mode):
    """The hard NIST problems from both certified starts (NIST certified values)."""
    problem, res, caught = fit(name, which, mode)
    ok = check_invariants(problem, res, caught)
    if (name, which) in MUST_REACH[mode]:
        assert ok, f"{name} start {which} ({mode}): {res.convergence_message}"
        assert res.iterations <= 100


@pytest.mark.parametrize("which", [1, 2])
@pytest.mark.parametrize("name", ["Lanczos2", "Lanczos3"])
def test_ill_conditioned_lanczos_converge_with_scoring(name, which):
    """Lanczos2/3 (condition number of the equilibrated J'J ~1e8): certified values and a
    certified convergence within the default limits (NIST certified values)."""
    problem, res, caught = fit(name, which, "scoring")
    assert res.converged and not caught
    assert reached(problem, res)


def test_expected_covariance_equals_nist_standard_deviations():
    """``res.with_cov("expected")`` is ``sigma_hat^2 (J'J)^-1`` with ``sigma_hat^2 = RSS / n``;
    scaled by n / (n - p) it is NIST's Gauss-Newton covariance (NIST certified SDs, Rat43)."""
    problem, res, _ = fit("Rat43", 2, "scoring")
    assert res.converged
    bse = res.with_cov("expected").bse.to_numpy()[: problem.p] * np.sqrt(problem.n / (problem.n - problem.p))
    np.testing.assert_allclose(bse, problem.certified_sd, rtol=SE_RTOL)


def test_parser_reads_certified_values():
    """The parser against numbers copied by hand from MGH09.dat and Nelson.dat (NIST files)."""
    mgh09 = nm.load("MGH09")
    assert mgh09.n == 11 and mgh09.p == 4 and mgh09.difficulty == "Higher"
    np.testing.assert_allclose(mgh09.starts[0], [25, 39, 41.5, 39], rtol=1e-15)
    np.testing.assert_allclose(mgh09.certified[0], 1.9280693458e-01, rtol=1e-15)
    np.testing.assert_allclose(mgh09.certified_sd[3], 9.0025542308e-02, rtol=1e-15)
    np.testing.assert_allclose(mgh09.rss, 3.0750560385e-04, rtol=1e-15)
    nelson = nm.load("Nelson")
    assert nelson.x.shape == (128, 2)
    np.testing.assert_allclose([nelson.y[0], *nelson.x[0]], [15.0, 1.0, 180.0], rtol=1e-15)
    # every model function reproduces the certified RSS at the certified values (not Lanczos1: its
    # RSS, 1.4e-25, is below what 11-digit parameters can reproduce)
    for name in nm.NAMES:
        problem = nm.load(name)
        if name != "Lanczos1":
            np.testing.assert_allclose(nm.rss(problem, problem.certified), problem.rss, rtol=1e-9, err_msg=name)


@pytest.mark.slow
def test_full_catalogue():
    """All 27 problems, both starts, both modes (NIST certified values): the invariants for every
    fit, the pinned starts, and a floor on how many reach the certified values.
    Runs with HESSSTATS_FULL_SCALE=1 (about two minutes)."""
    if os.environ.get("HESSSTATS_FULL_SCALE") != "1":
        pytest.skip("the full NIST catalogue runs with HESSSTATS_FULL_SCALE=1; the hard problems run by default")
    for mode in ("plain", "scoring"):
        count = 0
        for name in nm.NAMES:
            for which in (1, 2):
                problem, res, caught = fit(name, which, mode)
                ok = check_invariants(problem, res, caught)
                if (name, which) in MUST_REACH[mode]:
                    assert ok, f"{name} start {which} ({mode})"
                count += ok
        assert count >= FLOOR[mode], f"{mode}: {count} of 54 reached the certified values"
