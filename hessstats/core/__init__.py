"""Mechanics of estimation, below everything a user names: parameter vectors, exact derivatives,
linear algebra of the information, the evaluation engine, the optimiser, covariances, scores and
Hessian-vector products. Nothing here imports the model, the results or the package face."""

from hessstats.core import bootstrap as bootstrap  # noqa: E402  registers cov_type="bootstrap" in the covariance registry
