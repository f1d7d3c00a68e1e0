"""Mechanics of estimation, below everything a user names: parameter vectors, exact derivatives,
linear algebra of the information, the evaluation engine, the optimiser, covariances, scores and
Hessian-vector products. Nothing here imports the model, the results or the package face."""
