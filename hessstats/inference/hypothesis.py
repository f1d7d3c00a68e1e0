"""Hypothesis tests on a fitted result: Wald (linear, string or nonlinear), likelihood-ratio and score.

Every function takes a fitted :class:`~hessstats.results.FitResult` and works for any user
log-likelihood; statistics are chi-squared (statsmodels' ``use_f=False``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jax.tree_util as tu
import numpy as np
import pandas as pd
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use

from hessstats._config import float64
from hessstats.core.expression import parse_over_names
from hessstats.core.scores import score_meat
from hessstats.core.survey import NON_SANDWICH
from hessstats.errors import ConvergenceWarning, CovarianceError, ExpressionError, SpecificationError, message, warn
from hessstats.inference.delta import as_texts, delta_values, sandwich, warn_unconverged
from hessstats.inference.restrictions import parse_constraints
from hessstats.rows.weights import pseudo_likelihood

if TYPE_CHECKING:
    from hessstats.model import Model
    from hessstats.results import FitResult


@dataclass(frozen=True)
class TestResult:
    """A test statistic with its degrees of freedom and chi-squared p-value.

    Example
    -------
    >>> TestResult("Wald", 3.84, 1, 0.05)
    <Wald test: statistic=3.84, df=1, p_value=0.05>
    """

    __test__ = False  # not a pytest test class

    test: str
    statistic: float
    df: int
    p_value: float
    detail: str = ""

    @property
    def pvalue(self) -> float:
        """The p-value (statsmodels' spelling of :attr:`p_value`)."""
        return self.p_value

    def __repr__(self) -> str:
        more = f", {self.detail}" if self.detail else ""
        return f"<{self.test} test: statistic={self.statistic:.6g}, df={self.df}, p_value={self.p_value:.6g}{more}>"


def _chi2(test: str, stat: float, df: int, detail: str = "") -> TestResult:
    return TestResult(test, float(stat), int(df), float(scipy.special.chdtrc(df, stat)), detail)


@float64
def wald_test(res: FitResult, R: Any, q: Any = None) -> TestResult:
    """Wald test of ``R theta = q`` (matrix or string constraints) or of ``R(params) = q`` (a function).

    ``R`` may be an ``(m, k)`` matrix, a string such as ``"GPA = PSI, TUCE = 0"`` (or a list of such
    strings) over the parameter names, or a function of the params pytree (nonlinear Wald, exact
    Jacobian). Text constraints that are not linear, such as ``"GPA / PSI = 1"`` or
    ``"exp(PSI) = 10"``, are tested as ``lhs - rhs = 0`` by the delta method (Stata's ``testnl``;
    the grammar of ``res.delta`` text). A string may also name a whole formula term, ``"C(region)"`` (all its levels jointly
    zero), or chain equalities, ``"x1 = x2 = 0"`` (``x1 = x2, x2 = 0``). The statistic is
    chi-squared with ``m`` degrees of freedom (statsmodels' ``wald_test(..., use_f=False)``).

    Parameters
    ----------
    res : FitResult
        The fit (its covariance type is used).
    R : array-like, str, list of str or callable
        The restrictions, as above.
    q : array-like, optional
        Right-hand side (default 0).

    Returns
    -------
    TestResult
        ``statistic``, ``df`` and ``p_value`` (chi-squared).

    Example
    -------
    >>> import numpy as np, hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0]))
    >>> wald_test(res, "mu = 0")
    <Wald test: statistic=8, df=1, p_value=0.00467773>
    """
    warn_unconverged(res, "a Wald test")
    return wald_statistic(res, R, q)


def wald_statistic(res: FitResult, R: Any, q: Any = None) -> TestResult:
    """:func:`wald_test` without its warning for a fit that did not converge (for callers that
    report convergence themselves: term-wise tests, the summary header).

    Example
    -------
    >>> import numpy as np, hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0]))
    >>> wald_statistic(res, np.eye(1)).df
    1
    """
    k = len(res.theta)
    if isinstance(R, str) and q is None:
        R = _whole_terms(res, R)
    texts = as_texts(R) is not None
    if texts:
        try:
            R, q_parsed = parse_constraints(R, res.names)
        except SpecificationError as linear:  # nonlinear constraints, as Stata's testnl: lhs - rhs = 0
            differences = _nonlinear_constraints(R, res.names)
            if differences is None or q is not None:
                raise linear from None
            R = differences
        else:
            q = q_parsed if q is None else q
    if callable(R) or (texts and isinstance(R, list)):
        value, jac, cov, _ = delta_values(res, R, what="the Wald constraint function")
    else:
        R = np.atleast_2d(np.asarray(R, dtype=np.float64))
        if R.ndim != 2 or R.shape[1] != k:
            raise SpecificationError(message(
                "the restriction matrix R has the wrong shape", expected=f"(m, {k}) for {k} parameters",
                got=f"shape {R.shape}", fix="one row per constraint, one column per parameter"))
        value, jac, cov = R @ res.theta, R, sandwich(R, res.cov_array)
    q = np.zeros(value.size) if q is None else np.ravel(np.asarray(q, dtype=np.float64))
    if q.size != value.size:
        raise SpecificationError(message(
            "q does not match the number of constraints", expected=f"{value.size} values",
            got=f"{q.size}", fix="one value per constraint"))
    if not np.all(np.isfinite(cov)):
        raise CovarianceError(message(
            "the constraints involve parameters without a finite covariance",
            expected="constraints on identified parameters", got="NaN in R V R'",
            fix="see res.identification; drop those parameters from the constraints"))
    rank = np.linalg.matrix_rank(jac)
    if rank < value.size:
        raise SpecificationError(message(
            "the constraints are linearly dependent", expected=f"{value.size} independent constraints",
            got=f"rank {rank}", fix="drop redundant constraints"))
    diff = value - q
    stat = float(diff @ np.linalg.solve(cov, diff))
    return _chi2("Wald", stat, value.size)


def _terms(res: FitResult) -> dict[str, list[str]]:
    """``{term: parameter names}`` of a formula model (its design's ``term_parameters``), else ``{}``."""
    design = res.model.extra.get("design")
    finder = getattr(design, "term_parameters", None)
    return finder(res.names) if callable(finder) else {}


def _mask(text: str, names: Sequence[str]) -> tuple[str, dict[str, str]]:
    """``text`` with parameter names replaced by placeholders (longest first), and the inverse map."""
    back: dict[str, str] = {}
    for i, name in enumerate(sorted(names, key=len, reverse=True)):
        token = f"__n{i}__"
        pattern = r"(?<![\w.\[\]])" + re.escape(name) + r"(?![\w.\[\]])"
        new = re.sub(pattern, token, text)
        if new != text:
            back[token] = name
            text = new
    return text, back


def _whole_terms(res: FitResult, text: str) -> str | list[str]:
    """Expand whole-term and chained constraints into ``"name = 0"`` / ``"a = b"`` strings.

    ``"C(region)"`` (a formula term) or ``"x"`` (a parameter) without ``=``: every parameter of
    the term equals 0; ``"x1 = x2 = 0"``: ``x1 = x2, x2 = 0``. Other text is returned unchanged.
    """
    if "==" in text:
        return text  # refused with its own message by the constraint parser
    terms = _terms(res)
    masked, back = _mask(text, list(terms) + [n for n in res.names if n not in terms])
    out: list[str] = []
    for part in masked.split(","):
        sides = [side.strip() for side in part.split("=")]
        if len(sides) == 1 and sides[0]:
            name = back.get(sides[0], sides[0])
            params = terms.get(name, [name] if name in res.names else None)
            if params is None:
                raise SpecificationError(message(
                    f"{name!r} is neither a term nor a parameter", expected=f"a term among {list(terms)} or a "
                    f"parameter name, or constraints such as 'x1 = x2 = 0'", got=repr(text),
                    fix="check the spelling; res.wald_terms() lists the terms"))
            out += [f"{p} = 0" for p in params]
        else:
            out += [f"{a} = {b}" for a, b in zip(sides[:-1], sides[1:])]
    for token, name in back.items():
        out = [o.replace(token, name) for o in out]
    return out


@float64
def wald_terms(res: FitResult) -> pd.DataFrame:
    """Term-wise Wald tests (Type III style): for each term of the formula, all its parameters
    (every equation of mnlogit; ZIP's inflation terms prefixed ``inflate_``) jointly zero.

    Columns ``statistic, df, p_value`` (chi-squared; statsmodels' ``wald_test_terms(scalar=True)``
    with ``use_f=False``: its ``statistic``, ``df_constraint``, ``pvalue``).

    Example
    -------
    >>> import hessstats as hs
    >>> res = hs.logit("GRADE ~ GPA + TUCE + C(PSI)", hs.datasets.load("spector")).fit()
    >>> wald_terms(res).round(3)
               statistic  df  p_value
    term                             
    Intercept      6.972   1    0.008
    GPA            5.007   1    0.025
    TUCE           0.452   1    0.501
    C(PSI)         4.993   1    0.025
    """
    terms = _terms(res)
    if not terms:
        raise SpecificationError(message(
            "term-wise tests need a formula model", expected="a model built from a formula (hs.logit('y ~ ...', df))",
            got=f"model {res.model.description.get('model', 'custom')!r} without a formula design",
            fix="use res.wald_test('a = b = 0') for groups of parameters"))
    warn_unconverged(res, "term-wise Wald tests")
    rows = []
    for term, params in terms.items():
        test = wald_statistic(res, [f"{p} = 0" for p in params])
        rows.append((term, test.statistic, test.df, test.p_value))
    frame = pd.DataFrame(rows, columns=["term", "statistic", "df", "p_value"]).set_index("term")
    return frame


# ----------------------------------------------------------------------------- likelihood-ratio and score tests

def lr_test(restricted: FitResult, full: FitResult, *, check_data: bool = True, force: bool = False,
            boundary: int = 0) -> TestResult:
    """Likelihood-ratio test of a restricted fit against the full fit that nests it.

    ``statistic = 2 (llf_full - llf_restricted)``, chi-squared with
    ``df = k_full - k_restricted``. Refuses (``SpecificationError``) when ``df <= 0``, when the
    restricted fit has the higher log-likelihood (not nested, or a fit did not converge), when the
    numbers of observations differ, or (``check_data=True``) when a data array present in both
    models under the same name and shape holds different values. Like Stata's ``lrtest``, it also
    refuses, unless ``force=True``, fits of different built-in models (logit against probit; a
    GLM family or link against another) and fits whose likelihood is not one the test can use:
    probability weights (a pseudo-likelihood) or a sandwich covariance (``robust``, ``HC*``,
    ``cluster``, ``hac``, ``survey``: the Wald test ``res.wald_test`` uses that covariance).

    Parameters
    ----------
    restricted : FitResult
        The fit of the nested (restricted) model.
    full : FitResult
        The fit of the full model.
    check_data : bool
        Refuse when a data array shared by name and shape differs between the two models.
    force : bool
        Test even across built-in models and with probability weights or sandwich covariances
        (Stata's ``lrtest, force``).
    boundary : int
        How many of the restrictions put a parameter on the boundary of its space (a variance or
        an overdispersion at 0: Poisson within NB2, a GLM within its GLMM). The p-value is then the
        chi-bar-squared mixture ``sum_j C(b, j) / 2^b P(chi2_{df-b+j} >= stat)`` (Self & Liang 1987,
        for boundary parameters orthogonal to each other): for one, half the chi-squared(df) tail
        plus half the chi-squared(df-1) tail, Stata's ``chibar2(01)`` after ``nbreg`` and R
        ``pscl::odTest``. The two fits may then come from different built-in models.

    Returns
    -------
    TestResult
        ``statistic``, ``df`` and ``p_value`` (chi-squared).

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs
    >>> def loglike(p, d):
    ...     return -0.5 * ((d - p["mu"]) / p["sigma"]) ** 2 - jnp.log(p["sigma"])
    >>> full = hs.fit(loglike, {"mu": 1.0, "sigma": 1.0}, np.array([0.5, 1.5, 2.0, 4.0]))
    >>> lr_test(full.fit_restricted({"mu": 0.0}), full)  # 4 log(1 + 4 / 1.625), closed form
    <LR test: statistic=4.96685, df=1, p_value=0.0258376>
    """
    df = full.k_params - restricted.k_params
    problem = None
    if df <= 0:
        problem = (f"the full model must have more parameters (k_full={full.k_params}, "
                   f"k_restricted={restricted.k_params})", "pass (restricted, full) in that order")
    elif restricted.nobs != full.nobs:
        problem = (f"different numbers of observations ({restricted.nobs} vs {full.nobs})",
                   "fit both models on the same rows")
    elif check_data and _differing_data(restricted.model.data, full.model.data):
        problem = (f"data arrays {_differing_data(restricted.model.data, full.model.data)} differ between the fits",
                   "fit both models on the same data, or pass check_data=False if that is intended")
    elif not isinstance(boundary, (int, np.integer)) or isinstance(boundary, bool) or not 0 <= boundary <= df:
        problem = (f"boundary={boundary!r} is not a number of restrictions between 0 and df={df}",
                   "pass how many restricted parameters lie on the boundary of their space (usually 1)")
    elif not force:
        problem = _invalid_lr(restricted, full, same_model=not boundary)
    stat = 2.0 * (full.llf - restricted.llf)
    if problem is None and stat < -1e-8 * max(1.0, abs(full.llf)):
        problem = (f"the restricted model fits better (llf {restricted.llf:.10g} > {full.llf:.10g})",
                   "check that the models are nested and both converged")
    if problem is not None:
        raise SpecificationError(message(
            "the likelihood-ratio test needs nested models fitted to the same data",
            expected="restricted nested in full, same observations", got=problem[0], fix=problem[1]))
    if not (restricted.converged and full.converged):
        warn("likelihood-ratio test between fits that did not both converge", ConvergenceWarning)
    if boundary:
        return chi_bar_squared(max(stat, 0.0), df, int(boundary))
    return _chi2("LR", max(stat, 0.0), df)


def chi_bar_squared(stat: float, df: int, boundary: int) -> TestResult:
    """The LR test's p-value when ``boundary`` of its ``df`` restrictions lie on the boundary of the
    parameter space: ``sum_j C(b, j) / 2^b P(chi2_{df-b+j} >= stat)``, chi2_0 a point mass at 0.

    Example
    -------
    >>> chi_bar_squared(2.7055, 1, 1).p_value.__round__(4)  # half of chi2(1)'s 0.10 tail
    0.05
    """
    weights = [math.comb(boundary, j) / 2.0 ** boundary for j in range(boundary + 1)]
    tails = [float(scipy.special.chdtrc(df - boundary + j, stat)) if df - boundary + j > 0 else float(stat <= 0.0)
             for j in range(boundary + 1)]
    return TestResult("LR", float(stat), int(df), float(np.dot(weights, tails)), f"chi-bar-squared, boundary={boundary}")


LIKELIHOOD_COV_TYPES = NON_SANDWICH | {"bootstrap"}
"""Covariance types that trust the likelihood (every other, a sandwich, makes :func:`lr_test` refuse
without ``force``, as Stata's ``lrtest`` after robust or cluster VCEs)."""


def uses_sandwich(res: FitResult) -> bool:
    """Whether the fit's covariance is a sandwich (``robust``, ``HC*``, ``cluster``, ``hac``, ``survey``,
    or a registered type not in :data:`LIKELIHOOD_COV_TYPES`).

    Example
    -------
    >>> import numpy as np, hessstats as hs
    >>> res = hs.fit(lambda p, d: -0.5 * (d - p["mu"]) ** 2, {"mu": 0.0}, np.array([1.0, 3.0]))
    >>> uses_sandwich(res), uses_sandwich(res.with_cov("HC0"))
    (False, True)
    """
    return res.cov_type not in LIKELIHOOD_COV_TYPES
_SAME_MODEL_KEYS = ("family", "link", "power", "distr")


def _command(res: FitResult) -> str | None:
    """The built-in model a fit comes from (its description's ``model``, restrictions removed)."""
    name = (getattr(res.model, "description", None) or {}).get("model")
    return str(name).split(" with ")[0] if name else None


def _invalid_lr(restricted: FitResult, full: FitResult, same_model: bool = True) -> tuple[str, str] | None:
    """Why a likelihood-ratio test of these fits would be invalid (Stata ``lrtest``'s refusals), or None;
    ``same_model=False`` (a boundary test) allows fits of different built-in models."""
    a, b = _command(restricted), _command(full)
    if same_model and a is not None and b is not None and a != b:
        return (f"the fits come from different models ({a} restricted, {b} full)",
                "fit the same model with and without the restriction; boundary=1 for a model nested at the "
                "boundary (Poisson within NB2); force=True tests anyway")
    da, db = restricted.model.description, full.model.description
    for key in _SAME_MODEL_KEYS if same_model else ():
        if key in da and key in db and da[key] != db[key]:
            return (f"the fits differ in {key} ({da[key]!r} restricted, {db[key]!r} full)",
                    f"use the same {key} in both fits; force=True tests anyway")
    for res, role in ((restricted, "restricted"), (full, "full")):
        if pseudo_likelihood(res.model):
            return (f"the {role} fit has probability weights: its log-likelihood is a pseudo-likelihood, whose "
                    "ratio is not chi-squared", "test with res.wald_test(...) (Stata's lrtest refuses after pweights)")
        if uses_sandwich(res):
            return (f"the {role} fit uses cov_type={res.cov_type!r}, a sandwich covariance: the likelihood-ratio test "
                    "assumes the likelihood is correct", "test with res.wald_test(...), which uses that covariance, or "
                    "force=True (Stata's lrtest refuses after robust or cluster VCEs)")
    return None


def _invalid_score(restricted: FitResult, full_model: Model, check_data: bool, by_name: bool) -> tuple[str, str] | None:
    """``(what, fix)`` when a score test of ``restricted`` within ``full_model`` would be invalid, else None."""
    differing = _differing_data(restricted.model.data, full_model.data) if check_data else []
    if differing:
        return (f"data arrays {differing} differ between the fit and the model",
                "fit and build both on the same data, or pass check_data=False if that is intended")
    if pseudo_likelihood(restricted.model) or pseudo_likelihood(full_model):
        return ("probability weights: the log-likelihood is a pseudo-likelihood",
                "test with res.wald_test(...), which uses the sandwich covariance")
    unknown = [n for n in restricted.names if n not in full_model.names] if by_name else []
    if unknown:
        return (f"restricted parameters {unknown} are not parameters of the full model",
                "name the parameters alike in both models, or pass params= (the full model's parameters)")
    return None


def _nonlinear_constraints(text: str | Sequence[str], names: Sequence[str]) -> list[str] | None:
    """``["(lhs) - (rhs)", ...]`` for constraints ``lhs = rhs`` (comma-separated) that read as
    expressions over the parameter names (:func:`~hessstats.core.expression.parse_over_names`), or
    None when one does not."""
    parts = [part for item in ([text] if isinstance(text, str) else text) for part in item.split(",") if part.strip()]
    out = []
    for part in parts:
        sides = part.split("=")
        if len(sides) != 2 or not all(side.strip() for side in sides):
            return None
        difference = f"({sides[0].strip()}) - ({sides[1].strip()})"
        try:
            parse_over_names(difference, names)
        except ExpressionError:
            return None
        out.append(difference)
    return out or None


def _differing_data(a: Any, b: Any) -> list[str]:
    """Names of data leaves present in both pytrees with the same shape but different values."""
    leaves_a = {tu.keystr(p): x for p, x in tu.tree_flatten_with_path(a)[0]}
    out = []
    for path, y in tu.tree_flatten_with_path(b)[0]:
        x = leaves_a.get(tu.keystr(path))
        if x is not None and np.shape(x) == np.shape(y) and not np.array_equal(np.asarray(x), np.asarray(y)):
            out.append(tu.keystr(path) or "data")
    return out


@float64
def score_test(restricted: FitResult, full_model: Model, params: Any = None, *, information: str = "observed",
               check_data: bool = True) -> TestResult:
    """Score (Lagrange multiplier) test: the full model's score at the restricted estimate.

    ``LM = g' I^-1 g`` with ``g`` the gradient of the full model's log-likelihood at the
    restricted estimate, and ``I`` the information there: ``"observed"`` (``-H``, default, as
    statsmodels' ``score_test(observed=True)``), ``"expected"`` (``full_model.expected_information``)
    or ``"opg"`` (``S'S``). ``df = k_full - k_restricted``. ``params`` is the full model's
    parameter pytree at the restricted estimate; by default it is built by name: parameters of
    the restricted fit keep their estimates, the others are 0 (the usual null "extra terms = 0"),
    and every parameter of the restricted fit must be a parameter of the full model. Refuses
    (``SpecificationError``) different numbers of observations, (``check_data=True``) a data array
    present in both models under the same name and shape with different values, and probability
    weights (a pseudo-likelihood, whose score test needs a sandwich: use ``res.wald_test``).

    Parameters
    ----------
    restricted : FitResult
        The restricted fit (the only fit needed).
    full_model : Model
        The full model (not fitted).
    params : pytree, optional
        The full model's parameters at the restricted estimate (default: built by name, as above).
    information : {"observed", "expected", "opg"}
        The information in ``g' I^-1 g``.
    check_data : bool
        Refuse when a data array shared by name and shape differs between the fit and the model.

    Returns
    -------
    TestResult
        ``statistic``, ``df`` and ``p_value`` (chi-squared).

    Example
    -------
    >>> import numpy as np, jax.numpy as jnp, hessstats as hs
    >>> def loglike(p, d):
    ...     return -0.5 * ((d - p["mu"]) / p["sigma"]) ** 2 - jnp.log(p["sigma"])
    >>> full = hs.Model(loglike, {"mu": 1.0, "sigma": 1.0}, np.array([0.5, 1.5, 2.0, 4.0]))
    >>> score_test(full.fit().fit_restricted({"mu": 0.0}), full, information="opg")  # mu = 0 filled in
    <Score test: statistic=3.92121, df=1, p_value=0.0476806, information=opg>
    """
    df = full_model.k_params - restricted.k_params
    if df <= 0 or restricted.nobs != full_model.nobs:
        raise SpecificationError(message(
            "the score test needs a restricted fit nested in the full model, on the same observations",
            expected="k_full > k_restricted and equal nobs",
            got=f"k {restricted.k_params} vs {full_model.k_params}, nobs {restricted.nobs} vs {full_model.nobs}",
            fix="pass (restricted result, full Model)"))
    problem = _invalid_score(restricted, full_model, check_data, by_name=params is None)
    if problem is not None:
        raise SpecificationError(message("the score test needs a restricted fit nested in the full model, on the "
                                         "same data", expected="the same data, an ordinary likelihood, nested "
                                         "parameter names", got=problem[0], fix=problem[1]))
    if params is None:
        known = dict(zip(restricted.names, restricted.theta))
        theta = np.array([known.get(name, 0.0) for name in full_model.names])
    else:
        theta = np.asarray(full_model.spec.ravel(params), dtype=np.float64)
    _, grad, hess = full_model.evaluate(theta)
    infos = {"observed": lambda: -hess, "opg": lambda: score_meat(full_model, theta),
             "expected": lambda: (full_model.expected_information(theta)
                                  if full_model.expected_information is not None else None)}
    info = infos[information]() if information in infos else None
    if info is None:
        raise CovarianceError(message(
            "information not available for the score test", expected="'observed', 'opg' or 'expected' "
            "(expected needs Model(expected_information=fn))", got=repr(information), fix="choose another"))
    stat = float(grad @ np.linalg.lstsq(np.asarray(info), grad, rcond=None)[0])
    if stat < 0:
        raise CovarianceError(message(
            f"the {information} information is not positive definite at the restricted estimate",
            expected="a positive definite information matrix", got=f"LM statistic {stat:.6g} < 0",
            fix="use information='opg' or 'expected' (the observed information can be indefinite away from the MLE)"))
    return _chi2("Score", stat, df, f"information={information}")
