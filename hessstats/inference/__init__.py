"""Post-estimation on the exact derivatives: delta method and the coefficient table, Wald / LR /
score tests, restrictions, profile-likelihood intervals and marginal effects. Functions take a
fitted result (duck-typed) and never import the model or the results module."""
