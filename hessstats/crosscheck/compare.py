"""Compare a hessstats fit with a statsmodels results object, side by side.

statsmodels names differ in small ways: ``const`` (array interface) vs formulaic's ``Intercept``,
``inflate_const``, thresholds ``"0.0/1.0"`` vs ``"0/1"``, and ``MNLogit`` returns a ``(k, J-1)``
DataFrame of parameters whose columns are equation numbers. :func:`align` matches parameters by
normalised name when the name sets agree, else by position after checking that every pair of
names is compatible (statsmodels' generic ``x1``/``par0`` names are compatible with anything).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hessstats.errors import SpecificationError, message

if TYPE_CHECKING:
    from hessstats.results import FitResult

GENERIC = re.compile(r"^(x\d+|par\d+|const|Intercept)$")


def normalize(name: str) -> str:
    """Canonical form of a parameter name: ``const`` -> ``Intercept``, ``1.0`` -> ``1``.

    Example
    -------
    >>> normalize("inflate_const"), normalize("0.0/1.0")
    ('inflate_Intercept', '0/1')
    """
    name = re.sub(r"(?<![\w.])(\d+)\.0(?![\d])", r"\1", str(name))
    return re.sub(r"(^|_|:)const$", r"\1Intercept", name)


def _flat(values: Any, kind: str) -> tuple[np.ndarray, list[str] | None]:
    """Flatten statsmodels params/bse: Series, ndarray, or MNLogit's (k, J-1) DataFrame (column-major)."""
    if isinstance(values, pd.DataFrame):
        terms = [str(i) for i in values.index]
        return values.to_numpy(dtype=float).ravel(order="F"), [f"{c}:{t}" for c in values.columns for t in terms]
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=float), [str(i) for i in values.index]
    arr = np.asarray(values, dtype=float)
    return arr.ravel(order="F"), None


def _compatible(ours: str, theirs: str) -> bool:
    a, b = normalize(ours), normalize(theirs)
    if a == b or GENERIC.match(b.split(":")[-1]) or GENERIC.match(b):
        return True
    return a.split(":")[-1] == b.split(":")[-1]  # MNLogit: equation labels differ, terms must agree


def align(sm_results: Any, names: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """statsmodels ``params`` and ``bse`` reordered to ``names`` (columns ``coef``, ``std_err``).

    Example
    -------
    >>> class Res:  # anything with .params and .bse, as statsmodels results
    ...     params = pd.Series([1.0, 2.0], index=["x", "const"])
    ...     bse = pd.Series([0.1, 0.2], index=["x", "const"])
    >>> align(Res(), ["Intercept", "x"])["coef"].tolist()
    [2.0, 1.0]
    """
    params, sm_names = _flat(sm_results.params, "params")
    bse, _ = _flat(sm_results.bse, "bse")
    names = [str(n) for n in names]
    if len(params) != len(names):
        raise SpecificationError(message(
            "the statsmodels results have a different number of parameters",
            expected=f"{len(names)} parameters {names}", got=f"{len(params)}: {sm_names}",
            fix="fit the same model (same regressors, dispersion/cutpoint/inflation parameters) in both"))
    if sm_names is not None:
        lookup = {normalize(n): i for i, n in enumerate(sm_names)}
        if len(lookup) == len(names) and all(normalize(n) in lookup for n in names):
            order = [lookup[normalize(n)] for n in names]
            return pd.DataFrame({"coef": params[order], "std_err": bse[order]}, index=names)
        bad = [(a, b) for a, b in zip(names, sm_names) if not _compatible(a, b)]
        if bad:
            raise SpecificationError(message(
                "parameter names do not match statsmodels' (by name or by position)",
                expected=f"names matching {names}", got=f"mismatched pairs (ours, statsmodels) {bad[:5]}",
                fix="use the same regressors in the same order, or rename"))
    return pd.DataFrame({"coef": params, "std_err": bse}, index=names)


def relative_difference(ours: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``|ours - reference| / |reference|`` (absolute difference where the reference is 0).

    Example
    -------
    >>> import numpy as np
    >>> relative_difference(np.array([1.01, 0.5]), np.array([1.0, 0.0])).round(6).tolist()
    [0.01, 0.5]
    """
    ours, reference = np.asarray(ours, dtype=float), np.asarray(reference, dtype=float)
    scale = np.where(reference == 0, 1.0, np.abs(reference))
    return np.abs(ours - reference) / scale


def compare(res: FitResult, sm_results: Any) -> pd.DataFrame:
    """Side by side: our ``coef``/``std_err``, statsmodels' (``*_sm``) and relative differences.

    Parameters
    ----------
    res : FitResult
        The hessstats fit.
    sm_results : statsmodels results
        Anything with ``params`` and ``bse`` (pandas Series are matched by name, arrays by position).

    Returns
    -------
    pandas.DataFrame
        ``coef, coef_sm, coef_rel_diff, std_err, std_err_sm, std_err_rel_diff`` by parameter.

    Example
    -------
    >>> import hessstats as hs
    >>> import statsmodels.formula.api as smf
    >>> df = hs.datasets.load("spector")
    >>> res = hs.logit("GRADE ~ GPA + TUCE + PSI", df).fit()
    >>> sm = smf.logit("GRADE ~ GPA + TUCE + PSI", df).fit(disp=0)
    >>> table = compare(res, sm)
    >>> list(table.columns)
    ['coef', 'coef_sm', 'coef_rel_diff', 'std_err', 'std_err_sm', 'std_err_rel_diff']
    >>> bool(table["std_err_rel_diff"].max() < 1e-8)
    True
    """
    theirs = align(sm_results, res.names)
    out = pd.DataFrame({"coef": res.params.to_numpy(), "coef_sm": theirs["coef"].to_numpy(),
                        "std_err": res.bse.to_numpy(), "std_err_sm": theirs["std_err"].to_numpy()},
                       index=pd.Index(list(res.names), name="parameter"))
    out["coef_rel_diff"] = relative_difference(out["coef"], out["coef_sm"])
    out["std_err_rel_diff"] = relative_difference(out["std_err"], out["std_err_sm"])
    return out[["coef", "coef_sm", "coef_rel_diff", "std_err", "std_err_sm", "std_err_rel_diff"]]
