"""Every catalogue problem against every covariance type that applies and every row source.

References: per problem, ``tests/catalogue.py`` (statsmodels Logit/Probit/Poisson/OLS fitted live,
statsmodels ``GenericLikelihoodModel.bsejac``, and closed forms of the iid normal MLE); each
reference names its own source in ``Reference.source`` / ``ReferenceSE.source``, and a failing
assertion prints it. Row sources (row blocks, Parquet, sharded) are checked against the in-memory
fit of the same problem: the same exact sums in a different order, 1e-10 relative.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from catalogue import COV_TYPES, COV_TYPES_ELSEWHERE, PROBLEMS, SOURCES_RTOL, Problem

from hessstats.core.covariance import REGISTRY

SOURCES = ("chunked", "parquet", "sharded")
PAIRS = [(p, c) for p in PROBLEMS for c in p.cov_types()]
TRIPLES = [(p, s, c) for p in PROBLEMS for s in SOURCES for c in p.cov_types()]


class Fits:
    """Fits of catalogue problems by row source, each computed once for the module."""

    def __init__(self, directory):
        self.directory, self.cache = directory, {}

    def get(self, problem: Problem, source: str = "memory"):
        key = (problem.name, source)
        if key not in self.cache:
            if source == "memory":
                model = problem.model()
            elif source == "chunked":
                model = problem.model(chunk_size=problem.chunk_size)
            elif source == "parquet":
                model = problem.model(problem.write_parquet(self.directory / f"{problem.name}.parquet"),
                                      chunk_size=problem.chunk_size)
            else:
                model = problem.model(shard=1)
            self.cache[key] = model.fit()
        return self.cache[key]


@pytest.fixture(scope="module")
def fits(tmp_path_factory):
    return Fits(tmp_path_factory.mktemp("catalogue"))


def reference(problem: Problem):
    with warnings.catch_warnings():  # statsmodels' own notes (e.g. on the cluster df) are not ours to report
        warnings.simplefilter("ignore")
        return problem.reference


def test_catalogue_covers_every_registered_covariance_type():
    """The registry (hessstats.core.covariance.REGISTRY) is the list of covariance types; the
    catalogue must hold a reference for each (or say where its references live, COV_TYPES_ELSEWHERE),
    so a new estimator arrives with its checks."""
    assert set(REGISTRY) == set(COV_TYPES) | set(COV_TYPES_ELSEWHERE)
    for problem in PROBLEMS:
        assert set(problem.cov_types()) <= set(reference(problem).bse), problem.name


@pytest.mark.parametrize("problem", PROBLEMS, ids=[p.name for p in PROBLEMS])
def test_estimates_and_loglikelihood_match_the_reference(problem, fits):
    """Estimates (1e-8) and the log-likelihood (1e-10) against the problem's reference
    (statsmodels fitted live, or the closed-form MLE)."""
    res, ref = fits.get(problem), reference(problem)
    assert res.converged, res.convergence_message
    assert res.nobs == problem.nobs
    np.testing.assert_allclose(res.params.to_numpy(), ref.params, rtol=ref.params_rtol, err_msg=ref.source)
    np.testing.assert_allclose(res.llf, ref.llf, rtol=1e-10, err_msg=ref.source)


@pytest.mark.parametrize("problem, cov_type", PAIRS, ids=[f"{p.name}-{c}" for p, c in PAIRS])
def test_standard_errors_match_the_reference(problem, cov_type, fits):
    """Standard errors of each covariance type against the reference's (statsmodels HC0 / cluster /
    analytic score_obs, bsejac at 1e-5, or closed forms; ReferenceSE.source names each)."""
    res = fits.get(problem).with_cov(cov_type, **problem.cov_kwargs(cov_type))
    ref = reference(problem).bse[cov_type]
    assert res.cov_type == cov_type
    keep = np.isfinite(ref.bse)
    assert keep.sum() >= 1
    np.testing.assert_allclose(res.bse.to_numpy()[keep], ref.bse[keep], rtol=ref.rtol, err_msg=ref.source)
    assert np.isfinite(res.bse.to_numpy()).all()


@pytest.mark.parametrize("problem, source", [(p, s) for p in PROBLEMS for s in SOURCES],
                         ids=[f"{p.name}-{s}" for p in PROBLEMS for s in SOURCES])
def test_row_source_gives_the_in_memory_estimates(problem, source, fits):
    """Reference: the in-memory fit of the same problem (exact derivatives; only the order of the
    sums differs). Row blocks of chunk_size rows with chunk_size not dividing nobs, a Parquet file
    read in such blocks, or rows placed on a one-device mesh (shard=1)."""
    whole, other = fits.get(problem), fits.get(problem, source)
    assert other.converged and other.nobs == whole.nobs
    assert other.names == whole.names
    np.testing.assert_allclose(other.params.to_numpy(), whole.params.to_numpy(), rtol=SOURCES_RTOL)
    np.testing.assert_allclose(other.llf, whole.llf, rtol=SOURCES_RTOL)
    scale = np.abs(whole.hessian_array).max()  # entries that cancel to ~0 (e.g. d2/dmu dsigma) get an absolute floor
    np.testing.assert_allclose(other.hessian_array, whole.hessian_array, rtol=SOURCES_RTOL, atol=SOURCES_RTOL * scale)


@pytest.mark.parametrize("problem, source, cov_type", TRIPLES, ids=[f"{p.name}-{s}-{c}" for p, s, c in TRIPLES])
def test_row_source_gives_the_in_memory_standard_errors(problem, source, cov_type, fits):
    """Reference: the in-memory fit's standard errors of the same covariance type (1e-10)."""
    whole = fits.get(problem).with_cov(cov_type, **problem.cov_kwargs(cov_type))
    other = fits.get(problem, source).with_cov(cov_type, **problem.cov_kwargs(cov_type))
    np.testing.assert_allclose(other.bse.to_numpy(), whole.bse.to_numpy(), rtol=SOURCES_RTOL)
