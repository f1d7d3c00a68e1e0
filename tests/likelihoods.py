"""The shared hand-written log-likelihoods now live in the problem catalogue (``tests/catalogue.py``);
this module re-exports the original four so that ``from likelihoods import ...`` keeps working."""

from __future__ import annotations

from catalogue import logit_ll, normal_ll, poisson_ll, probit_ll

__all__ = ["logit_ll", "normal_ll", "poisson_ll", "probit_ll"]
