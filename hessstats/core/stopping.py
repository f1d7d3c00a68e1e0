"""The constants of the trust-region Newton iteration: acceptance, radius and the relative stopping
rule, shared by the host iteration (:mod:`hessstats.core.optimize`) and the one-call kernel
(:mod:`hessstats.core.fused`), so both make the same decisions.

Example
-------
>>> NEGLIGIBLE_DECREMENT < ROUNDING_DECREMENT < ACCEPT < POLISH_SHRINK < MAX_RADIUS_GROWTH
True
"""

from __future__ import annotations

NEGLIGIBLE_DECREMENT = 1e-20
"""Stop at once when ``g'(-H)^-1 g <= NEGLIGIBLE_DECREMENT``: the next Newton step would move the
parameters by about 1e-10 standard errors."""

ROUNDING_DECREMENT = 1e-13
"""The log-likelihood's rounding scale relative to ``max(1, |llf|)``. A decrement below this
times ``max(1, |llf|)`` promises a gain that comparing log-likelihoods cannot confirm: from there
on, full Newton steps are taken without the sufficient-increase test (each can only improve the
estimate, quadratically) until the decrement stops shrinking (:data:`POLISH_SHRINK`)."""

ACCEPT = 1e-4
"""A step is accepted when it gains at least this fraction of what the quadratic model promised."""

POLISH_SHRINK = 0.1
"""Polishing stops when a Newton step shrinks the decrement by less than this factor (quadratic
convergence shrinks it far more, so a smaller reduction means the decrement is at its rounding floor)."""

MIN_RADIUS = 1e-8
"""The trust region is given up (stalled) when its radius falls below this many conditional
standard errors: the log-likelihood is not smooth at that scale (rounding, a kink or a boundary)."""

MAX_RADIUS_GROWTH = 2.0
"""A very successful step on the trust region's boundary doubles the radius."""
