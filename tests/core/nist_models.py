"""The 27 NIST StRD nonlinear regression problems: a parser for the ``.dat`` files and the model
functions in ``jax.numpy``, as normal likelihoods for ``hs.fit``.

Source: NIST Statistical Reference Datasets, nonlinear regression
(https://www.itl.nist.gov/div898/strd/nls/nls_main.shtml), public domain; the files in
``data/nist/`` are the originals, obtained unchanged from the lmfit 1.3.4 sdist (see
``data/README.md``). Each file holds two certified starts, certified parameters (11 digits) and
their standard deviations: Gauss-Newton SEs ``sqrt(diag((J'J)^-1) RSS / (n - p))``.

The likelihood is ``y_i ~ N(f(x_i; b), sigma^2)`` with parameters ``b`` and ``log_sigma``; its
maximum over ``b`` is the least-squares fit (``sigma_hat^2 = RSS / n``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from hessstats._config import x64

NIST_DIR = Path(__file__).resolve().parents[2] / "data" / "nist"
HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


@dataclass(frozen=True)
class Problem:
    """One NIST StRD problem: data, certified values and the two starts."""

    name: str
    y: np.ndarray
    x: np.ndarray
    """Shape (n,) or, for Nelson, (n, 2)."""
    starts: tuple[np.ndarray, np.ndarray]
    certified: np.ndarray
    certified_sd: np.ndarray
    rss: float
    difficulty: str

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def p(self) -> int:
        return len(self.certified)

    @property
    def response(self) -> np.ndarray:
        """The regression's left-hand side (``log y`` for Nelson)."""
        return np.log(self.y) if self.name == "Nelson" else self.y


def parse(path: Path) -> Problem:
    """Parse a NIST StRD nonlinear ``.dat`` file."""
    text = Path(path).read_text()
    lines = text.splitlines()
    rows = []
    for line in lines:
        m = re.match(rf"^\s*b\d+\s*=\s*({_NUMBER})\s+({_NUMBER})\s+({_NUMBER})\s+({_NUMBER})\s*$", line)
        if m:
            rows.append([float(v) for v in m.groups()])
    params = np.array(rows)
    rss = float(re.search(rf"Residual Sum of Squares:\s+({_NUMBER})", text).group(1))
    difficulty = re.search(r"(Lower|Average|Higher) Level of Difficulty", text).group(1)
    start = next(i for i, line in enumerate(lines) if re.match(r"^Data:\s+y\b", line))
    block = np.array([[float(v) for v in line.split()] for line in lines[start + 1:] if line.strip()])
    x = block[:, 1] if block.shape[1] == 2 else block[:, 1:]
    name = Path(path).stem
    return Problem(name, block[:, 0], x, (params[:, 0], params[:, 1]), params[:, 2], params[:, 3], rss, difficulty)


def _gauss(b, x):
    return (b[0] * jnp.exp(-b[1] * x) + b[2] * jnp.exp(-((x - b[3]) ** 2) / b[4] ** 2)
            + b[5] * jnp.exp(-((x - b[6]) ** 2) / b[7] ** 2))


def _lanczos(b, x):
    return b[0] * jnp.exp(-b[1] * x) + b[2] * jnp.exp(-b[3] * x) + b[4] * jnp.exp(-b[5] * x)


def _misra1a(b, x):
    return b[0] * (1.0 - jnp.exp(-b[1] * x))


def _rational33(b, x):
    return (b[0] + b[1] * x + b[2] * x ** 2 + b[3] * x ** 3) / (1.0 + b[4] * x + b[5] * x ** 2 + b[6] * x ** 3)


def _chwirut(b, x):
    return jnp.exp(-b[0] * x) / (b[1] + b[2] * x)


MODELS = {
    "Bennett5": lambda b, x: b[0] * (b[1] + x) ** (-1.0 / b[2]),
    "BoxBOD": _misra1a,
    "Chwirut1": _chwirut,
    "Chwirut2": _chwirut,
    "DanWood": lambda b, x: b[0] * x ** b[1],
    "ENSO": lambda b, x: (b[0] + b[1] * jnp.cos(2 * jnp.pi * x / 12) + b[2] * jnp.sin(2 * jnp.pi * x / 12)
                          + b[4] * jnp.cos(2 * jnp.pi * x / b[3]) + b[5] * jnp.sin(2 * jnp.pi * x / b[3])
                          + b[7] * jnp.cos(2 * jnp.pi * x / b[6]) + b[8] * jnp.sin(2 * jnp.pi * x / b[6])),
    "Eckerle4": lambda b, x: (b[0] / b[1]) * jnp.exp(-0.5 * ((x - b[2]) / b[1]) ** 2),
    "Gauss1": _gauss,
    "Gauss2": _gauss,
    "Gauss3": _gauss,
    "Hahn1": _rational33,
    "Kirby2": lambda b, x: (b[0] + b[1] * x + b[2] * x ** 2) / (1.0 + b[3] * x + b[4] * x ** 2),
    "Lanczos1": _lanczos,
    "Lanczos2": _lanczos,
    "Lanczos3": _lanczos,
    "MGH09": lambda b, x: b[0] * (x ** 2 + x * b[1]) / (x ** 2 + x * b[2] + b[3]),
    "MGH10": lambda b, x: b[0] * jnp.exp(b[1] / (x + b[2])),
    "MGH17": lambda b, x: b[0] + b[1] * jnp.exp(-x * b[3]) + b[2] * jnp.exp(-x * b[4]),
    "Misra1a": _misra1a,
    "Misra1b": lambda b, x: b[0] * (1.0 - (1.0 + b[1] * x / 2) ** (-2)),
    "Misra1c": lambda b, x: b[0] * (1.0 - (1.0 + 2 * b[1] * x) ** (-0.5)),
    "Misra1d": lambda b, x: b[0] * b[1] * x * ((1.0 + b[1] * x) ** (-1)),
    "Nelson": lambda b, x: b[0] - b[1] * x[:, 0] * jnp.exp(-b[2] * x[:, 1]),
    "Rat42": lambda b, x: b[0] / (1.0 + jnp.exp(b[1] - b[2] * x)),
    "Rat43": lambda b, x: b[0] / ((1.0 + jnp.exp(b[1] - b[2] * x)) ** (1.0 / b[3])),
    "Roszman1": lambda b, x: b[0] - b[1] * x - jnp.arctan(b[2] / (x - b[3])) / jnp.pi,
    "Thurber": _rational33,
}
"""``f(b, x)`` for each problem, written from the model line of its ``.dat`` file."""

NAMES = tuple(sorted(MODELS))


def load(name: str) -> Problem:
    """The problem ``name`` from ``data/nist/<name>.dat``."""
    return parse(NIST_DIR / f"{name}.dat")


class NormalLoglike:
    """Per-observation normal log-likelihood of a NIST model; hashable by problem name, so the
    two starts of a problem share compiled kernels."""

    def __init__(self, name: str):
        self.name, self.f = name, MODELS[name]

    def __call__(self, p, d):
        r = d["y"] - self.f(p["b"], d["x"])
        return -HALF_LOG_2PI - p["log_sigma"] - 0.5 * (r * jnp.exp(-p["log_sigma"])) ** 2

    def __hash__(self) -> int:
        return hash(("nist", self.name))

    def __eq__(self, other) -> bool:
        return isinstance(other, NormalLoglike) and other.name == self.name


def data(problem: Problem) -> dict:
    """The data pytree of :class:`NormalLoglike`."""
    return {"y": problem.response, "x": problem.x}


def rss(problem: Problem, b: np.ndarray) -> float:
    """The residual sum of squares at ``b`` (numpy float64)."""
    with x64():
        r = problem.response - np.asarray(MODELS[problem.name](jnp.asarray(b, dtype=jnp.float64), problem.x))
    return float(r @ r)


def start(problem: Problem, which: int) -> dict:
    """Certified start ``which`` (1 or 2) for ``b``, with ``log_sigma`` at its maximum given ``b``
    (``sigma^2 = RSS(b) / n``)."""
    b0 = np.array(problem.starts[which - 1], dtype=np.float64)
    return {"b": b0, "log_sigma": 0.5 * math.log(rss(problem, b0) / problem.n)}


def gauss_newton_se(problem: Problem, b: np.ndarray) -> np.ndarray:
    """NIST's certified standard deviations at ``b``: ``sqrt(diag((J'J)^-1) RSS(b) / (n - p))``,
    with the exact Jacobian ``J`` of ``f`` (forward-mode AD)."""
    with x64():
        jac = np.asarray(jax.jacfwd(MODELS[problem.name])(jnp.asarray(b, dtype=jnp.float64), problem.x))
    _, r = np.linalg.qr(jac)
    with np.errstate(all="ignore"):
        r_inv = np.linalg.pinv(r)  # a singular Jacobian (a degenerate fit) gives meaningless, not failing, SEs
    return np.sqrt(np.sum(r_inv ** 2, axis=1) * rss(problem, b) / (problem.n - problem.p))


class ExpectedInformation:
    """The expected (Fisher) information of :class:`NormalLoglike` at the flat vector
    ``theta = (b, log_sigma)``: ``J'J / sigma^2`` for ``b`` (``J`` the exact Jacobian of ``f``),
    ``2 n`` for ``log_sigma``, zero between them. Passed as ``expected_information=``, it lets the
    optimiser take Fisher-scoring (Gauss-Newton) steps far from the maximum."""

    def __init__(self, problem: Problem):
        self.problem = problem
        f = MODELS[problem.name]
        with x64():
            self._jac = jax.jit(jax.jacfwd(lambda b, x: f(b, x)))
            self._x = jnp.asarray(problem.x, dtype=jnp.float64)

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        p, n = self.problem.p, self.problem.n
        with x64():
            jac = np.asarray(self._jac(jnp.asarray(theta[:p], dtype=jnp.float64), self._x))
        info = np.zeros((p + 1, p + 1))
        info[:p, :p] = jac.T @ jac * np.exp(-2.0 * theta[p])
        info[p, p] = 2.0 * n
        return info
