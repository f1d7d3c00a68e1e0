"""Generalised linear mixed models from lme4-style formulas: ``hs.glmer``.

``glmer("cbind(incidence, size - incidence) ~ C(period) + (1 | herd)", data, family="binomial")``
builds a :class:`GlmerModel` (a :class:`~hessstats.models.mixed.LaplaceModel`): the random effects
are written, as in lme4, as spherical effects ``b ~ N(0, I)`` with ``u = Lambda(theta) b`` (one lower
triangular factor per term), and integrated out by the Laplace approximation (exact for the
Gaussian family) with the exact outer gradient and Hessian (no finite differences).

Random-effect terms: ``(1 | g)`` intercepts, ``(x | g)`` correlated intercept and slope, ``(x || g)``
uncorrelated (separate terms, as lme4), ``(1 | a/b)`` nested (``a`` and ``a:b``), several terms
(crossed factors). Families: ``"binomial"`` (0/1 or ``cbind(successes, failures)``), ``"poisson"``
(``offset=``), ``"gaussian"`` (ML, or ``reml=True``), ``"negbin"`` (NB2, ``var = mu + alpha mu^2``).

Parameters (flat order: fixed effects first): ``beta`` (named by the design's columns), then per
term the log-Cholesky factor of the effects' covariance (``log_sd(...)`` on the diagonal, ``chol(...)``
below it; for a scalar term just the log-SD), then ``log_sigma`` (Gaussian) or ``log_alpha``
(negbin). ``res.transformed()`` reports the natural scale (SDs and correlations, delta-method SEs),
:func:`variance_components` the same table with boundary flags and profile intervals.

Structure: with one grouping factor the inner Hessian is block-diagonal (one ``b x b`` block per
group, vectorised solves: 1e5 groups are routine); with two factors (crossed, or nested ``(1 | a/b)``)
the larger factor's effects are eliminated group by group and the smaller one's solved densely (a
Schur complement: memory ``O(q_large q_small + q_small^2)``, never ``q^2``); with three or more
factors (or REML) it is dense ``q x q`` (a few thousand effects).
"""

from __future__ import annotations

import dataclasses
import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use
import scipy.special
from formulaic import model_matrix

from hessstats._config import float64, x64
from hessstats.core import interpret
from hessstats.core.laplace import LOG_2PI, Laplace, Structure, at_mode, mode
from hessstats.core.linalg import least_squares
from hessstats.core.special import softplus
from hessstats.errors import BoundaryWarning, DataError, SpecificationError, message, warn
from hessstats.inference.profile import fixed_at
from hessstats.model import Model
from hessstats.models.mixed import LaplaceMarginal, LaplaceModel, _Warm
from hessstats.rows.prepare import index_array

BOUNDARY_SD = 1e-4
"""A random-effect SD below this (relative to sigma for the Gaussian family, to 1 otherwise) is at the boundary."""


class Family(enum.Enum):
    """Response distributions of :func:`glmer`.

    Example
    -------
    >>> Family("poisson").name
    'POISSON'
    """

    BINOMIAL = "binomial"
    POISSON = "poisson"
    GAUSSIAN = "gaussian"
    NEGBIN = "negbin"


@dataclass(frozen=True)
class RandomTerm:
    """One random-effect term ``(expr | factor)``: its design columns' names and grouping levels.

    Example
    -------
    >>> RandomTerm("herd", ("(Intercept)",), 15).size
    15
    """

    factor: str
    columns: tuple[str, ...]
    levels: int

    @property
    def size(self) -> int:
        return self.levels * len(self.columns)


_TERM = re.compile(r"\(([^()|]*(?:\([^()]*\)[^()|]*)*)(\|\|?)([^()]+)\)")


def parse_formula(formula: str) -> tuple[str, str, list[tuple[str, str, bool]]]:
    """``(response, fixed right-hand side, [(expr, factor, correlated), ...])`` of an lme4 formula.

    ``(x || g)`` becomes ``(1 | g)`` and ``(0 + x | g)``; ``(e | a/b)`` becomes ``(e | a)`` and ``(e | a:b)``.

    Example
    -------
    >>> parse_formula("y ~ x + (x || g) + (1 | a/b)")
    ('y', 'x', [('1', 'g', True), ('0 + x', 'g', True), ('1', 'a', True), ('1', 'a:b', True)])
    """
    if "~" not in formula:
        raise SpecificationError(message("the formula has no '~'", expected="'response ~ terms + (1 | group)'",
                                         got=formula, fix="write it as in lme4"))
    response, rhs = (s.strip() for s in formula.split("~", 1))
    terms: list[tuple[str, str, bool]] = []
    for expr, bar, factor in _TERM.findall(rhs):
        expr, factor = expr.strip(), factor.strip()
        factors = [factor]
        if "/" in factor:
            parts = [p.strip() for p in factor.split("/")]
            factors = [":".join(parts[: i + 1]) for i in range(len(parts))]
        for f in factors:
            if bar == "||":
                pieces = [p.strip() for p in expr.split("+") if p.strip() not in ("", "0", "1", "-1")]
                if not re.search(r"(^|\+)\s*0\s*(\+|$)|-\s*1", expr):
                    terms.append(("1", f, True))
                terms.extend((f"0 + {p}", f, True) for p in pieces)
            else:
                terms.append((expr, f, True))
    fixed = _TERM.sub("", rhs)
    fixed = re.sub(r"\+\s*(\+\s*)+", "+ ", fixed).strip().strip("+").strip() or "1"
    if not terms:
        raise SpecificationError(message(
            "the formula has no random-effect term", expected="a term like (1 | group)", got=formula,
            fix="add (1 | group), or use a fixed-effects model (hs.logit, hs.poisson, ...)"))
    return response, fixed, terms


def _response(response: str, data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """``(y, trials or None)``; ``cbind(s, f)`` with ``s``, ``f`` column names or ``a - b`` differences."""
    match = re.fullmatch(r"cbind\((.*),(.*)\)", response.replace(" ", ""))
    if match is None:
        return _column(response, data), None
    successes, failures = (_column(e, data) for e in match.groups())
    return successes, successes + failures


def _column(expr: str, data: pd.DataFrame) -> np.ndarray:
    parts = [p.strip() for p in expr.replace(" ", "").split("-")]
    missing = [p for p in parts if p not in data.columns]
    if missing or not parts:
        raise SpecificationError(message(
            f"cannot read the response {expr!r}", expected="a column name, or a difference of two column names",
            got=f"unknown columns {missing}", fix="compute the column first (data.assign(...))"))
    out = np.asarray(data[parts[0]], dtype=np.float64)
    for p in parts[1:]:
        out = out - np.asarray(data[p], dtype=np.float64)
    return out


def _codes(factor: str, data: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    names = [f.strip() for f in factor.split(":")]
    missing = [f for f in names if f not in data.columns]
    if missing:
        raise SpecificationError(message(f"unknown grouping factor {missing}", expected="columns of data",
                                         got=str(list(data.columns))[:200], fix="check the spelling"))
    if len(names) == 1:  # levels in sorted order of the values (numbers numerically), as R's factor()
        values = data[names[0]]
        levels = [str(v) for v in sorted(pd.unique(values))]
        key = values.astype(str)
    else:
        key = data[names].astype(str).agg(":".join, axis=1)
        levels = sorted(pd.unique(key))
    codes = pd.Categorical(key, categories=levels).codes.astype(np.int64)
    return codes, levels


@dataclass(frozen=True, eq=False)
class _Design:
    """Everything the joint density needs, except the data arrays (which it receives)."""

    family: Family
    terms: tuple[RandomTerm, ...]
    layout_groups: bool
    reml: bool
    p: int
    order: tuple[int, ...] = ()
    """The order of the terms' effects in ``b`` (default: term order); ``crossed``: the larger first."""
    crossed: bool = False
    """Two factors solved by the Schur complement (:attr:`Structure.CROSSED`): ``neg_hessian`` gives
    ``(A blocks, C, B)``."""

    def _key(self) -> tuple:
        return (self.family, self.terms, self.layout_groups, self.reml, self.p, self.order, self.crossed)

    def __hash__(self) -> int:
        return hash(self._key())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Design) and hash(self) == hash(other) and self._key() == other._key()

    def offsets(self) -> dict[int, int]:
        """Where each term's effects start in ``b`` (after ``beta`` for REML)."""
        out, at = {}, 0
        for j in self.order or range(len(self.terms)):
            out[j] = at
            at += self.terms[j].size
        return out

    @property
    def q(self) -> int:
        return sum(t.size for t in self.terms)

    def factors(self, params: Any) -> list[jnp.ndarray]:
        """The lower-triangular factor ``Lambda_t`` of each term from its log-Cholesky parameters."""
        out, start = [], 0
        for t in self.terms:
            b = len(t.columns)
            v = params["cov"][start: start + b * (b + 1) // 2]
            start += b * (b + 1) // 2
            rows, cols = np.tril_indices(b)
            lower = jnp.zeros((b, b)).at[rows, cols].set(v)
            diag = jnp.exp(jnp.diagonal(lower))
            out.append(lower.at[np.arange(b), np.arange(b)].set(diag))
        return out

    def effects(self, params: Any, b: jnp.ndarray) -> list[jnp.ndarray]:
        """Per term the ``(levels, columns)`` random effects ``u = Lambda b``."""
        out, col, offsets = [], 0, self.offsets()
        if self.layout_groups:
            mat = b.reshape(self.terms[0].levels, -1)
        for j, (t, lam) in enumerate(zip(self.terms, self.factors(params))):
            k = len(t.columns)
            if self.layout_groups:
                piece = mat[:, col: col + k]
                col += k
            else:
                piece = b[offsets[j]: offsets[j] + t.size].reshape(t.levels, k)
            out.append(piece @ lam.T)
        return out

    def __call__(self, params: Any, b: jnp.ndarray, d: Any) -> jnp.ndarray:
        """The joint log-density ``log p(y | b) + log phi(b)`` (``b`` spherical; REML: ``beta`` first in ``b``)."""
        eta = self.eta(params, b, d)
        b = b[self.p:] if self.reml else b
        return jnp.sum(self.loglike_obs(params, eta, d)) - 0.5 * jnp.sum(b ** 2) - 0.5 * b.size * LOG_2PI

    def eta(self, params: Any, b: jnp.ndarray, d: Any) -> jnp.ndarray:
        if self.reml:
            beta, b = b[: self.p], b[self.p:]
        else:
            beta = params["beta"]
        eta = d["X"] @ beta + d["offset"]
        for j, u in enumerate(self.effects(params, b)):
            eta = eta + jnp.sum(d["Z"][f"t{j}"] * u[d["g"][f"t{j}"]], axis=1)
        return eta

    def neg_hessian(self, params: Any, b: jnp.ndarray, d: Any) -> jnp.ndarray:
        """``-H_bb = A' W A + I`` (REML: ``[X A]' W [X A] + diag(0, I)``) with ``W`` the working weights
        ``-d2 l_i / d eta_i^2`` and ``A`` the rows ``Lambda' z_i`` placed at their groups' effects."""
        eta = self.eta(params, b, d)
        w = -jax.grad(lambda e: jnp.sum(jax.grad(lambda e2: jnp.sum(self.loglike_obs(params, e2, d)))(e)))(eta)
        lams = self.factors(params)
        rows = [d["Z"][f"t{j}"] @ lam for j, lam in enumerate(lams)]  # (n, b_t): Lambda_t' z_i
        if self.layout_groups:
            a = jnp.concatenate(rows, axis=1)
            g = d["g"]["t0"]
            outer = w[:, None, None] * a[:, :, None] * a[:, None, :]
            blocks = jax.ops.segment_sum(outer, g, num_segments=self.terms[0].levels)
            return blocks + jnp.eye(a.shape[1])
        offsets = self.offsets()
        if self.crossed:  # (A blocks of the leading factor, C, B of the other): Structure.CROSSED
            first, second = self.order
            ra, rb = rows[first], rows[second]
            ka, kb = ra.shape[1], rb.shape[1]
            ga, gb = d["g"][f"t{first}"], d["g"][f"t{second}"]
            a = jax.ops.segment_sum(w[:, None, None] * ra[:, :, None] * ra[:, None, :], ga,
                                    num_segments=self.terms[first].levels) + jnp.eye(ka)
            ia = ga[:, None] * ka + jnp.arange(ka)[None, :]
            ib = gb[:, None] * kb + jnp.arange(kb)[None, :]
            qa, qb = self.terms[first].size, self.terms[second].size
            c = jnp.zeros((qa, qb)).at[ia[:, :, None], ib[:, None, :]].add(
                w[:, None, None] * ra[:, :, None] * rb[:, None, :])
            bb = jnp.zeros((qb, qb)).at[ib[:, :, None], ib[:, None, :]].add(
                w[:, None, None] * rb[:, :, None] * rb[:, None, :]) + jnp.eye(qb)
            return a, c, bb
        vals, idx, offset = [], [], 0
        if self.reml:
            vals.append(d["X"])
            idx.append(jnp.broadcast_to(jnp.arange(self.p), d["X"].shape))
            offset = self.p
        for j, (t, r) in enumerate(zip(self.terms, rows)):
            k = len(t.columns)
            vals.append(r)
            idx.append(offset + offsets[j] + d["g"][f"t{j}"][:, None] * k + jnp.arange(k)[None, :])
        vals_all, idx_all = jnp.concatenate(vals, axis=1), jnp.concatenate(idx, axis=1)
        outer = w[:, None, None] * vals_all[:, :, None] * vals_all[:, None, :]
        q = offset + sum(t.size for t in self.terms)
        h = jnp.zeros((q, q)).at[idx_all[:, :, None], idx_all[:, None, :]].add(outer)
        diag = jnp.concatenate([jnp.zeros(self.p), jnp.ones(q - self.p)]) if self.reml else jnp.ones(q)
        return h + jnp.diag(diag)

    def loglike_obs(self, params: Any, eta: jnp.ndarray, d: Any) -> jnp.ndarray:
        y, n = d["y"], d["trials"]
        if self.family is Family.BINOMIAL:  # d["const"]: log binomial coefficients, computed once
            return y * eta - n * softplus(eta) + d["const"]
        if self.family is Family.POISSON:  # d["const"]: -log y!
            return y * eta - jnp.exp(eta) + d["const"]
        if self.family is Family.GAUSSIAN:
            log_sigma = params["disp"][0]
            return -0.5 * ((y - eta) * jnp.exp(-log_sigma)) ** 2 - log_sigma - 0.5 * LOG_2PI
        alpha = jnp.exp(params["disp"][0])
        size = 1.0 / alpha
        lg = jax.scipy.special.gammaln
        return (lg(y + size) - lg(size) - lg(y + 1) - size * softplus(eta + jnp.log(alpha))
                + y * (eta + jnp.log(alpha) - softplus(eta + jnp.log(alpha))))


@dataclass(frozen=True)
class AGQMarginal:
    """Adaptive Gauss-Hermite quadrature (``nAGQ`` nodes) of the marginal log-likelihood of a GLMM
    with a single scalar random-effect term: per group ``log sum_k w_k sqrt(2) s_g exp(l_g(b_g + sqrt(2)
    s_g x_k) + x_k^2)`` with ``b_g`` the exact (implicitly differentiated) mode and ``s_g = (-h_g)^-1/2``;
    one node is the Laplace approximation. ``data = {"data": ..., "u0": inner start}``.

    Example
    -------
    >>> AGQMarginal(None, 3).nodes()[0].round(6).tolist()
    [-1.224745, 0.0, 1.224745]
    """

    laplace: Laplace
    nagq: int
    solved: bool = False

    def nodes(self) -> tuple[np.ndarray, np.ndarray]:
        return np.polynomial.hermite.hermgauss(self.nagq)

    def __call__(self, params: Any, data: Any) -> Any:
        lap, d = self.laplace, data["data"]
        design = lap.joint
        b = at_mode(lap, params, d, data["u0"]) if self.solved else mode(lap, params, d, data["u0"])
        scale = 1.0 / jnp.sqrt(lap.neg_hessian(params, b, d)[:, 0, 0])  # (G,)
        eta = design.eta(params, b, d)
        lam = design.factors(params)[0][0, 0]
        g, z = d["g"]["t0"], d["Z"]["t0"][:, 0]
        x, w = self.nodes()
        levels = design.terms[0].levels

        def at(node):
            shift = jnp.sqrt(2.0) * scale * node  # (G,)
            obs = design.loglike_obs(params, eta + lam * z * shift[g], d)
            bg = b + shift
            return jax.ops.segment_sum(obs, g, num_segments=levels) - 0.5 * bg ** 2 - 0.5 * LOG_2PI + node ** 2

        values = jnp.stack([at(float(node)) for node in x])  # (K, G)
        logw = jnp.log(jnp.asarray(w))[:, None] + jnp.log(jnp.sqrt(2.0) * scale)[None, :]
        return jnp.sum(jax.scipy.special.logsumexp(values + logw, axis=0))


@dataclass(frozen=True)
class _NegHessian:
    """``design.neg_hessian`` as a value equal across equal designs (so equal models share compiled kernels)."""

    design: _Design

    def __call__(self, params: Any, b: jnp.ndarray, d: Any) -> jnp.ndarray:
        return self.design.neg_hessian(params, b, d)


@dataclass(frozen=True, eq=False, init=False)
class GlmerModel(LaplaceModel):
    """The model :func:`glmer` returns: a :class:`~hessstats.models.mixed.LaplaceModel` that knows its
    terms (natural-scale SDs/correlations, random effects by group and term).

    Example
    -------
    >>> import hessstats as hs
    >>> m = glmer("cbind(incidence, size - incidence) ~ C(period) + (1 | herd)", hs.datasets.load("cbpp"),
    ...           family="binomial")
    >>> m.names[-1], m.laplace.structure.name
    ('herd: log_sd(Intercept)', 'GROUPS')
    """

    design: Any = None
    levels: tuple = ()
    fixed_names: tuple[str, ...] = ()

    def sd_scale(self, theta: np.ndarray) -> float:
        if self.design.family is Family.GAUSSIAN:
            return float(np.exp(self.params_tree(theta)["disp"][0]))
        return 1.0

    def random_effects(self, theta: np.ndarray, cov: np.ndarray) -> pd.DataFrame:
        """Conditional modes of ``u = Lambda b`` by term, group and column, with ``cond_se`` (variance
        parameters as known, lme4's ``condVar``) and ``std_err`` (TMB's generalised delta method).
        For REML fits the fixed effects come first (term ``"fixed"``): their ``cond_se`` is lme4's SE."""
        report = self.check_inner(theta)
        design, spec = self.design, self.spec
        with x64():
            start = jnp.asarray(self.warm.u)
            data = self.data["data"]

            def natural(t):
                params = spec.unravel(t)
                b = mode(self.laplace, params, data, start)
                out = [b[: design.p]] if design.reml else []
                bb = b[design.p:] if design.reml else b
                return jnp.concatenate(out + [u.reshape(-1) for u in design.effects(params, bb)])

            def quantities(t, b):
                return natural(t), jax.jacfwd(natural)(t), self._conditional_variance(t, b)

            # one traced program, evaluated by numpy (or compiled once): op by op, JAX would compile
            # each operation of the modes' derivatives separately (9 s for cbpp)
            values, jac, cond = interpret.call(quantities, np.asarray(theta, dtype=np.float64),
                                               np.asarray(report["mode"], dtype=np.float64))
        cov = np.where(np.isfinite(cov), cov, np.nan)
        total = cond + np.einsum("ij,jk,ik->i", jac, cov, jac)
        rows = [("fixed", "", c) for c in self.fixed_names] if design.reml else []
        for term, levels in zip(design.terms, self.levels):
            rows += [(term.factor, lev, c) for lev in levels for c in term.columns]
        index = pd.MultiIndex.from_tuples(rows, names=["term", "group", "column"])
        return pd.DataFrame({"mode": values, "cond_se": np.sqrt(cond), "std_err": np.sqrt(total)}, index=index)

    def _conditional_variance(self, t: jnp.ndarray, b: jnp.ndarray) -> jnp.ndarray:
        """``diag(A (-H_bb)^-1 A')`` for the map ``A`` from spherical effects to the reported values."""
        design, lap = self.design, self.laplace
        params = self.spec.unravel(t)
        neg_h = lap.neg_hessian(params, b, self.data["data"])
        lams = design.factors(params)
        if lap.structure is Structure.GROUPS:
            inv = lap.inverse_blocks(lap.cholesky(neg_h))  # (G, B, B) blocks
            big = jax.scipy.linalg.block_diag(*lams)
            cov = jnp.einsum("ij,gjk,lk->gil", big, inv, big)
            return jnp.diagonal(cov, axis1=1, axis2=2).reshape(-1)
        if lap.structure is Structure.CROSSED:  # each term's (levels, k, k) blocks of the inverse
            lead, tail = lap.inverse_blocks(lap.cholesky(neg_h))
            first, second = design.order
            t2 = design.terms[second]
            k2 = len(t2.columns)
            tail_blocks = jnp.moveaxis(jnp.diagonal(tail.reshape(t2.levels, k2, t2.levels, k2), axis1=0, axis2=2), -1, 0)
            blocks = {first: lead, second: tail_blocks}
            return jnp.concatenate([
                jnp.diagonal(jnp.einsum("ij,gjk,lk->gil", lam, blocks[j], lam), axis1=1, axis2=2).reshape(-1)
                for j, lam in enumerate(lams)])
        inv = jnp.linalg.inv(neg_h)
        blocks = [jnp.eye(design.p)] if design.reml else []
        for term, lam in zip(design.terms, lams):
            blocks.append(jnp.kron(jnp.eye(term.levels), lam))
        a = jax.scipy.linalg.block_diag(*blocks)
        return jnp.einsum("ij,jk,ik->i", a, inv, a)

    def boundary(self, theta: np.ndarray) -> list[str]:
        """Names of the SDs at the boundary (below :data:`BOUNDARY_SD` x sigma, or x 1)."""
        tr = self.transforms_at(theta)
        scale = self.sd_scale(theta)
        return [k for k, v in tr.items() if k.startswith("sd") and v < BOUNDARY_SD * scale]

    def reports_boundary(self, theta: np.ndarray) -> bool:
        """True when an SD is at the boundary (:meth:`boundary`): :meth:`fit` warns of it itself."""
        return bool(self.boundary(theta))

    def transforms_at(self, theta: np.ndarray) -> dict[str, float]:
        params = self.params_tree(theta)
        with x64():  # numpy evaluates the traced transforms: no compile per transform and shape
            return {k: float(interpret.call(f, params)) for k, f in self.defaults.transforms.items()}

    @float64
    def fit(self, **options: Any) -> Any:
        """:meth:`LaplaceModel.fit`, then a :class:`~hessstats.errors.BoundaryWarning` for SDs at 0."""
        res = super().fit(**options)
        at = self.boundary(res.theta)
        if at:
            warn(f"variance component(s) {at} at the boundary (SD estimate ~ 0): the log-SD runs off to -inf, "
                 "so its Wald SE is meaningless (reported as NaN or huge). Use variance_components(res, profile=True) "
                 "for a profile-likelihood interval [0, upper], or drop the term.", BoundaryWarning)
        return res


def _transforms(terms: list[RandomTerm], family: Family) -> dict[str, Any]:
    out: dict[str, Any] = {}
    first = 0
    for t in terms:
        b = len(t.columns)
        rows, cols = np.tril_indices(b)

        def cov_of(p, i=first, b=b, rows=rows, cols=cols):
            lower = jnp.zeros((b, b)).at[rows, cols].set(p["cov"][i: i + b * (b + 1) // 2])
            lower = lower.at[np.arange(b), np.arange(b)].set(jnp.exp(jnp.diagonal(lower)))
            return lower @ lower.T

        for j, c in enumerate(t.columns):
            out[f"sd({c}) | {t.factor}"] = lambda p, f=cov_of, j=j: jnp.sqrt(f(p)[j, j])
        first += b * (b + 1) // 2
        for j in range(b):
            for k in range(j):
                out[f"cor({t.columns[k]}, {t.columns[j]}) | {t.factor}"] = (
                    lambda p, f=cov_of, j=j, k=k: f(p)[j, k] / jnp.sqrt(f(p)[j, j] * f(p)[k, k]))
    if family is Family.GAUSSIAN:
        out["sigma"] = lambda p: jnp.exp(p["disp"][0])
    if family is Family.NEGBIN:
        out["alpha"] = lambda p: jnp.exp(p["disp"][0])
    return out


@float64
def glmer(formula: str, data: pd.DataFrame, family: str | Family = "binomial", *, reml: bool = False,
          offset: Any = None, start: Mapping[str, Any] | None = None, nagq: int = 1) -> GlmerModel:
    """An lme4-style generalised linear mixed model, fitted by the Laplace approximation with exact derivatives.

    ``formula``: ``response ~ fixed terms + (expr | factor) + ...`` (module docstring); the response
    is a column, or ``cbind(successes, failures)`` for the binomial (each a column or ``a - b``).
    ``family``: ``"binomial"``, ``"poisson"``, ``"gaussian"``, ``"negbin"``. ``reml=True`` (Gaussian
    only) integrates the fixed effects out as well (lme4's REML): the fit's parameters are then the
    variance components only, and ``res.random_effects()`` lists the fixed effects first with
    lme4's SEs in ``cond_se``. ``offset``: a column name or array added to the linear predictor.
    ``nagq > 1``: adaptive Gauss-Hermite quadrature with that many nodes (:class:`AGQMarginal`; one
    scalar random-effect term, not Gaussian), lme4's ``nAGQ``; 1 (default) is the Laplace approximation.

    Example
    -------
    >>> import hessstats as hs
    >>> res = glmer("cbind(incidence, size - incidence) ~ C(period) + (1 | herd)", hs.datasets.load("cbpp"),
    ...             family="binomial").fit()
    >>> round(res.llf, 6), round(float(res.transformed()["coef"].iloc[0]), 5)
    (-92.026282, 0.64226)
    """
    family = Family(family)
    if reml and family is not Family.GAUSSIAN:
        raise SpecificationError(message("REML is for the Gaussian family", expected="family='gaussian' with reml=True",
                                         got=f"family={family.value!r}", fix="use reml=False (ML, Laplace)"))
    if not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(data)
    response, fixed, raw_terms = parse_formula(formula)
    y, trials = _response(response, data)
    if trials is None:
        trials = np.ones_like(y)
    x = model_matrix(fixed, data)
    fixed_names = tuple(str(c) for c in x.columns)
    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] != len(data):
        raise DataError(message("rows were dropped from the fixed-effects design (missing values?)",
                                expected=f"{len(data)} complete rows", got=f"{x.shape[0]} rows",
                                fix="drop the rows with missing values first (data.dropna())"))
    off = np.zeros(len(data)) if offset is None else (
        np.asarray(data[offset], dtype=np.float64) if isinstance(offset, str) else np.asarray(offset, dtype=np.float64))
    terms, zs, gs, levels = [], [], [], []
    for expr, factor, _ in raw_terms:
        z = model_matrix(expr, data)
        codes, levs = _codes(factor, data)
        terms.append(RandomTerm(factor, tuple(str(c) for c in z.columns), len(levs)))
        zs.append(np.asarray(z, dtype=np.float64))
        gs.append(index_array(codes))
        levels.append(tuple(levs))
    if not all(np.isfinite(a).all() for a in [y, trials, x, off, *zs]):
        raise DataError(message("the data have missing or non-finite values", expected="finite values",
                                got="NaN or inf in the response, design or offset", fix="drop those rows first"))
    same_factor = len({t.factor for t in terms}) == 1
    crossed = len(terms) == 2 and not same_factor and not reml
    order = tuple(sorted(range(len(terms)), key=lambda j: -terms[j].size)) if crossed else ()
    design = _Design(family, tuple(terms), same_factor and not reml, reml, x.shape[1], order, crossed)
    q = design.q + (design.p if reml else 0)
    if crossed:
        lap = Laplace(design, q, Structure.CROSSED, len(terms[order[0]].columns), hessian=_NegHessian(design),
                      lead=terms[order[0]].size)
    else:
        structure = Structure.GROUPS if design.layout_groups else Structure.DENSE
        block = sum(len(t.columns) for t in terms) if design.layout_groups else 1
        lap = Laplace(design, q, structure, block, hessian=_NegHessian(design))
    # start values: least squares on the link scale, unit-ish SDs (Gaussian: scaled by the residual SD)
    link = {Family.BINOMIAL: lambda m: np.log((m + 0.5) / (1.5 - m)), Family.POISSON: lambda m: np.log(m + 0.1),
            Family.NEGBIN: lambda m: np.log(m + 0.1), Family.GAUSSIAN: lambda m: m}[family]
    beta0 = least_squares(x, link(y / trials) - off)
    resid_sd = float(np.std(y - x @ beta0)) if family is Family.GAUSSIAN else 1.0
    cov0 = []
    for t in terms:
        b = len(t.columns)
        v = np.zeros(b * (b + 1) // 2)
        rows, cols = np.tril_indices(b)
        v[rows == cols] = math.log(0.5 * resid_sd)
        cov0.append(v)
    params0: dict[str, Any] = {"cov": np.concatenate(cov0)}
    names: dict[str, Any] = {"cov": [n for t in terms for n in _cov_names(t)]}
    if not reml:
        params0["beta"] = beta0
        names["beta"] = list(fixed_names)
    if family is Family.GAUSSIAN:
        params0["disp"] = np.array([math.log(resid_sd)])
        names["disp"] = ["log_sigma"]
    if family is Family.NEGBIN:
        params0["disp"] = np.array([0.0])
        names["disp"] = ["log_alpha"]
    if start:
        params0.update({k: start[k] for k in start})
    lg = scipy.special.gammaln
    const = {Family.BINOMIAL: lg(trials + 1) - lg(y + 1) - lg(trials - y + 1), Family.POISSON: -lg(y + 1)}.get(
        family, np.zeros_like(y))
    d = {"y": y, "trials": trials, "const": const, "X": x, "offset": off, "Z": {f"t{j}": z for j, z in enumerate(zs)},
         "g": {f"t{j}": g for j, g in enumerate(gs)}}
    u0 = np.zeros(q)
    if reml:
        u0[: design.p] = beta0
    desc = {"model": f"glmer ({family.value}{', REML' if reml else ''})", "formula": formula}
    nagq = int(nagq)
    if nagq > 1 and (len(terms) != 1 or len(terms[0].columns) != 1 or family is Family.GAUSSIAN):
        raise SpecificationError(message(
            "nagq > 1 needs a single scalar random-effect term and a non-Gaussian family",
            expected="e.g. y ~ x + (1 | g), family='binomial'", got=f"{formula!r}, family={family.value!r}",
            fix="use nagq=1 (Laplace; exact for the Gaussian family)"))
    marginal_fn = AGQMarginal(lap, nagq) if nagq > 1 else LaplaceMarginal(lap)
    if nagq > 1:
        desc["nAGQ"] = nagq
    model = GlmerModel(marginal_fn, params0, {"data": d, "u0": u0}, names=names, nobs=len(y),
                       description=desc, transforms=_transforms(terms, family))
    # the same marginal taking data["u0"] as the converged mode (LaplaceModel.evaluate); it borrows the data
    twin = Model(dataclasses.replace(marginal_fn, solved=True), params0, {"data": d, "u0": u0}, names=names,
                 nobs=len(y)).replace(data=None)
    for key, value in {"laplace": lap, "random_names": (), "warm": _Warm(u0), "design": design,
                       "levels": tuple(levels), "fixed_names": fixed_names,
                       "solved_twin": (model.program, twin)}.items():
        object.__setattr__(model, key, value)
    return model


def _cov_names(t: RandomTerm) -> list[str]:
    b = len(t.columns)
    rows, cols = np.tril_indices(b)
    return [f"{t.factor}: log_sd({t.columns[r]})" if r == c else f"{t.factor}: chol({t.columns[r]}, {t.columns[c]})"
            for r, c in zip(rows, cols)]


def variance_components(res: Any, *, profile: bool = False, alpha: float = 0.05) -> pd.DataFrame:
    """The variance components of a :func:`glmer` fit on the natural scale: SDs and correlations with
    delta-method SEs and Wald intervals (``res.transformed()``), a ``boundary`` flag, and with
    ``profile=True`` profile-likelihood intervals for the SDs (lower end 0 at the boundary).

    Example
    -------
    >>> import hessstats as hs
    >>> res = glmer("cbind(incidence, size - incidence) ~ C(period) + (1 | herd)", hs.datasets.load("cbpp"),
    ...             family="binomial").fit()
    >>> variance_components(res)["boundary"].tolist()
    [False]
    """
    model = res.model
    table = res.transformed().copy()
    at = set(model.boundary(res.theta))
    table["boundary"] = [k in at for k in table.index]
    if profile:
        lower, upper = [], []
        for name in table.index:
            if not name.startswith("sd(") or name.count(",") or not _scalar_term(model, name):
                lower.append(np.nan)
                upper.append(np.nan)
                continue
            lo, hi = _profile_sd(res, name, alpha, name in at)
            lower.append(lo)
            upper.append(hi)
        table["profile_lower"], table["profile_upper"] = lower, upper
    return table


def _scalar_term(model: GlmerModel, name: str) -> bool:
    return any(len(t.columns) == 1 and name == f"sd({t.columns[0]}) | {t.factor}" for t in model.design.terms)


def _profile_sd(res: Any, name: str, alpha: float, at_boundary: bool) -> tuple[float, float]:
    """Profile-likelihood interval of a scalar term's SD: refits with its log-SD fixed, bisection on
    ``2 (l_hat - l(sd)) = chi2_1(1 - alpha)``."""
    model = res.model
    term = next(t for t in model.design.terms if len(t.columns) == 1 and name == f"sd({t.columns[0]}) | {t.factor}")
    pname = f"{term.factor}: log_sd({term.columns[0]})"
    crit = scipy.stats.chi2.ppf(1 - alpha, 1) / 2.0
    hat = float(np.log(max(model.transforms_at(res.theta)[name], 1e-8)))

    template = model.fix({pname: hat})  # built (traced) once; refits read the fixed value from its data
    position = list(model.names).index(pname)

    def drop(log_sd: float) -> float:
        sub = fixed_at(template, res.theta, position, log_sd).fit()
        return res.llf - sub.llf - crit

    def solve(a: float, b: float) -> float:
        fa = drop(a)
        for _ in range(40):
            m = 0.5 * (a + b)
            fm = drop(m)
            if (fm > 0) == (fa > 0):
                a, fa = m, fm
            else:
                b = m
            if abs(b - a) < 1e-6:
                break
        return float(np.exp(0.5 * (a + b)))

    step = 0.5
    hi = hat + step
    while drop(hi) < 0 and hi < hat + 20:
        hi += step
    upper = solve(hi - step, hi)
    if at_boundary or drop(-12.0) < 0:
        return 0.0, upper
    lo = hat - step
    while drop(lo) < 0 and lo > -12:
        lo -= step
    return solve(lo + step, lo), upper
