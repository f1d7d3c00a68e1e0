"""The general Hessian toolkit: critical points and the second-derivative test, convexity,
second-order Taylor models, bordered Hessians and Lagrange conditions, and a safe expression
parser for the command line."""
