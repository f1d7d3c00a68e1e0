"""The general Hessian toolkit: critical points and the second-derivative test, convexity,
second-order Taylor models, bordered Hessians and Lagrange conditions (expressions typed at the
command line are parsed by :mod:`hessstats.core.expression`)."""
