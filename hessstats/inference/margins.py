"""Marginal effects and predictive margins with delta-method standard errors.

**What is varied.** For a formula model (its :class:`~hessstats.inference.prediction.Predictor`
keeps the fitted design) the *variables* are the raw data columns of the right-hand side, as
Stata's ``margins, dydx(*)``: each is changed in the data and the rows are re-encoded with the
fitted design, so interactions, ``I(x**2)``, ``C(g)`` and stateful transforms move together.

- a categorical factor (``C(g)`` or a string column) gets the **discrete change** from its base
  level, one row per other level, labelled like formulaic's treatment columns (``C(g)[T.b]``):
  the average over rows of ``predict(g = b) - predict(g = base)`` (Stata ``i.g``);
- a 0/1 numeric column (``dummy=True``, the default) gets the discrete change ``1`` vs ``0``
  (statsmodels ``get_margeff(dummy=True)``, Stata ``i.psi``);
- with ``count=True`` a column of non-negative whole numbers gets the centred unit change
  ``(predict(x + 1) - predict(x - 1)) / 2`` (statsmodels ``get_margeff(count=True)``);
- every other column gets the **derivative** ``d predict / d x``: exact in the prediction (AD),
  times the derivative of the encoded design in ``x``, which is taken by a central difference of
  the formulaic encoding (exact for designs linear or quadratic in ``x``: ``x``, ``x:z``,
  ``C(g):x``, ``I(x**2)``; for ``log(x)``, splines, ... accurate to about 1e-9 relative).

``dummy=False`` differentiates every non-constant *design column* instead (statsmodels' default
``get_margeff()``, the behaviour before issue 13).

Without a formula design (custom log-likelihoods, array constructors), ``variables`` name data
columns: a list of keys of 1-d arrays (``["age"]``) or ``{label: (key, column)}`` for a column of a
2-d array (``{"GPA": ("X", 0)}``); 0/1 columns get the discrete change when ``dummy=True``.

**Where.** ``at="overall"`` (default; statsmodels ``at="overall"``, Stata ``margins`` as observed):
the average over the fitted rows; ``at="mean"``: at the means of the design columns (statsmodels
``at="mean"``, Stata ``atmeans``: for designs with interactions Stata averages the covariates
first, here the design columns are averaged); ``at={"x": 1.0, "g": ["a", "b"]}``: every row with
those values set (Stata ``at(x=1 g=(a b))``), one block per combination of listed values.

**What.** ``predict`` is the quantity (a :class:`~hessstats.inference.prediction.Which` or its
name: ``"mean"``, ``"linear"``, ``"probs"``, ``"rate"``, ...) or a function ``predict(params,
data) -> (n,)`` (or ``(n, J)``). Defaults: the model's (``P(y=1)`` for logit/probit, the
per-category probabilities for mnlogit and ordered models, one block per outcome as Stata
``predict(outcome(#))``, and ``exp(x'b)`` without the exposure for count models as statsmodels
``get_margeff``; ``predict="mean"`` includes the exposure, Stata ``predict(n)``).
``predictive=True`` reports the average prediction itself (Stata ``margins``, predictive margins)
instead of effects. ``contrast="pairwise"`` reports every pair of factor levels instead of each
level against the base.

Effects and their Jacobians in the parameters are exact (``jax.jacfwd``); the covariance is the
result's (its ``cov_type``). Each prediction ``i`` is assumed to depend on row ``i`` only.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from hessstats._checks import check_alpha
from hessstats._config import float64
from hessstats.core.compilation import TRACES, Program, call_kernel
from hessstats.core.engine import case_weights
from hessstats.errors import SpecificationError, message
from hessstats.inference.delta import inference_df, sandwich, wald_frame, warn_unconverged
from hessstats.inference.prediction import Predictor, Which
from hessstats.rows.leaves import map_row_leaves

if TYPE_CHECKING:
    from hessstats.results import FitResult

KINDS = ("average", "mean")
"""Legacy ``kind=`` values: ``"average"`` is ``at="overall"``, ``"mean"`` is ``at="mean"``."""


class Contrast(enum.Enum):
    """Which differences of factor levels ``margins`` reports.

    Example
    -------
    >>> Contrast("pairwise")
    <Contrast.PAIRWISE: 'pairwise'>
    """

    BASE = "base"
    """Each level against the base level (Stata ``r.`` / ``i.`` default)."""
    PAIRWISE = "pairwise"
    """Every pair of levels, ``b`` vs ``a`` for ``a`` before ``b`` (Stata ``pwcompare``)."""


@dataclass(frozen=True)
class _Scenario:
    data: Any
    tangent: Mapping[str, Any] | None = None


def _variables(variables: Any, data: Any) -> dict[str, tuple[str, int | None]]:
    if variables is None:
        raise SpecificationError(message(
            "margins needs the variables to differentiate", expected="variables=['x1', ...] or {'GPA': ('X', 0)}",
            got="None", fix="name data keys (1-d) or (key, column) pairs for 2-d arrays"))
    items = {str(v): v for v in variables} if not isinstance(variables, Mapping) else dict(variables)
    out = {}
    for label, where in items.items():
        key, col = (where, None) if isinstance(where, str) else tuple(where)
        leaf = data.get(key) if isinstance(data, dict) else None
        ok = leaf is not None and jnp.issubdtype(leaf.dtype, jnp.floating) and (
            (col is None and leaf.ndim == 1) or (col is not None and leaf.ndim == 2 and 0 <= int(col) < leaf.shape[1]))
        if not ok:
            raise SpecificationError(message(
                f"margins variable {label!r} does not point at a float data column",
                expected="a key of a 1-d float array, or (key, column) of a 2-d float array",
                got=f"{where!r} (data keys {sorted(data) if isinstance(data, dict) else type(data).__name__})",
                fix="check the key and column index; integer columns must be float to differentiate"))
        out[label] = (key, None if col is None else int(col))
    return out


def _at_means(data: dict, n: int, weights: Any = None) -> dict:
    if weights is None:
        return map_row_leaves(lambda v: jnp.mean(v, axis=0, keepdims=True), dict(data), n)
    w = jnp.asarray(weights) / jnp.sum(jnp.asarray(weights))
    return map_row_leaves(lambda v: jnp.tensordot(w, v, axes=1)[None], dict(data), n)


def _averages(theta, scenarios: tuple, predict: Callable, spec: Any, weights: Any = None) -> jax.Array:
    """``(S, ...)``: the average prediction (or directional derivative along a data tangent) per scenario;
    ``weights`` (summing to 1) make it the weighted average (Stata ``margins`` with weights)."""
    params = spec.unravel(theta)
    out = []
    for scenario in scenarios:
        data, tangent = scenario
        if tangent is None:
            value = predict(params, data)
        else:
            keys = tuple(tangent)

            def moved(sub, data=data, keys=keys):
                return predict(params, {**data, **dict(zip(keys, sub))})

            value = jax.jvp(moved, (tuple(data[k] for k in keys),), (tuple(tangent[k] for k in keys),))[1]
        value = jnp.asarray(value, dtype=jnp.float64)
        out.append(jnp.mean(value, axis=0) if weights is None or value.shape[0] != weights.shape[0]
                   else jnp.tensordot(weights, value, axes=1))
    return jnp.stack(out)


@partial(jax.jit, static_argnames=("predict", "spec"))
def _averages_and_jacobian(theta, scenarios, predict: Callable, spec: Any, consts: tuple = (), weights=None):
    """Averages and their exact Jacobian in ``theta``, compiled once per (predict program, spec,
    scenario structure); data and the arrays ``predict`` captures (``consts``) are arguments."""
    TRACES["margins"] += 1
    fn = partial(_averages, scenarios=scenarios, predict=lambda p, d: predict(consts, p, d), spec=spec,
                 weights=weights)
    # reverse mode: jit(jacfwd) of a mean over ~2e4 rows gave Jacobians 0.2% off on CPU (jax 0.10.2; see the report)
    return fn(theta), jax.jacrev(fn)(theta)


def _check_shape(res: FitResult, predict: Callable, data: Any, rows: int) -> int | None:
    """Number of outcome columns of ``predict`` (None for one per row); a typed error otherwise."""
    theta = jnp.asarray(res.theta)
    shape = jax.eval_shape(lambda t: predict(res.model.spec.unravel(t), data), theta)
    dims = getattr(shape, "shape", None)
    ok = dims is not None and jnp.issubdtype(shape.dtype, jnp.floating) and len(dims) in (1, 2) and dims[0] == rows
    if not ok:
        raise SpecificationError(message(
            "predict returned the wrong shape or dtype", expected=f"float predictions of shape ({rows},) or ({rows}, J)",
            got=f"shape {dims}, dtype {getattr(shape, 'dtype', None)}",
            fix="return one prediction per observation, e.g. jax.nn.sigmoid(d['X'] @ p['beta'])"))
    return dims[1] if len(dims) == 2 else None


def _at(at: Any, kind: str | None) -> Any:
    if kind is not None:
        if kind not in KINDS:
            raise SpecificationError(message(
                "unknown margins kind", expected=f"one of {KINDS}", got=repr(kind),
                fix="'average' (statsmodels at='overall') or 'mean' (at='mean'); or use at="))
        return "overall" if kind == "average" else "mean"
    if isinstance(at, str) and at not in ("overall", "mean"):
        raise SpecificationError(message(
            "unknown at", expected="'overall', 'mean' or {variable: value(s)}", got=repr(at),
            fix="at='overall' (average over rows), 'mean' (at the means) or a dict of values"))
    if not isinstance(at, (str, Mapping)):
        raise SpecificationError(message("unknown at", expected="'overall', 'mean' or a dict", got=repr(at),
                                         fix="e.g. at={'GPA': 3.0}"))
    return at


def _at_grid(at: Any) -> list[dict[str, Any]]:
    """The ``at`` scenarios: ``[{}]`` for 'overall'/'mean', else the cross product of listed values."""
    if not isinstance(at, Mapping):
        return [{}]
    keys = list(at)
    values = [list(v) if isinstance(v, (list, tuple, np.ndarray, pd.Index)) else [v] for v in at.values()]
    return [dict(zip(keys, combo)) for combo in itertools.product(*values)]


def _label(setting: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in setting.items())


def _is_binary(values: np.ndarray) -> bool:
    values = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    unique = np.unique(values)
    return len(unique) == 2 and set(unique.tolist()) == {0, 1}


def _is_count(values: np.ndarray) -> bool:
    """statsmodels' ``_iscount``: non-negative whole numbers that vary."""
    values = np.asarray(values, dtype=np.float64)
    return bool(np.all(values % 1.0 == 0) and np.all(values >= 0) and values.var() > 0)


# ----------------------------------------------------------------------------- effects on data columns


def _data_effects(data: dict, chosen: dict[str, tuple[str, int | None]], dummy: bool, count: bool,
                  n: int) -> tuple[list[_Scenario], list[tuple[str, dict[int, float]]]]:
    """Scenarios and effect weights for effects on data columns (no formula design)."""
    scenarios: list[_Scenario] = []
    effects: list[tuple[str, dict[int, float]]] = []

    def add(scenario: _Scenario) -> int:
        scenarios.append(scenario)
        return len(scenarios) - 1

    for label, (key, col) in chosen.items():
        leaf = data[key]
        column = np.asarray(leaf if col is None else leaf[:, col])

        def setting(value, key=key, col=col, leaf=leaf):
            new = jnp.full_like(leaf, value) if col is None else leaf.at[:, col].set(value)
            return {**data, key: new}

        if dummy and _is_binary(column):
            one, zero = add(_Scenario(setting(1.0))), add(_Scenario(setting(0.0)))
            effects.append((label, {one: 1.0, zero: -1.0}))
        elif count and _is_count(column) and column.size > 0 and not _is_binary(column):
            up = add(_Scenario({**data, key: leaf + 1.0 if col is None else leaf.at[:, col].add(1.0)}))
            down = add(_Scenario({**data, key: leaf - 1.0 if col is None else leaf.at[:, col].add(-1.0)}))
            effects.append((label, {up: 0.5, down: -0.5}))
        else:
            tangent = jnp.ones_like(leaf) if col is None else jnp.zeros_like(leaf).at[:, col].set(1.0)
            effects.append((label, {add(_Scenario(data, {key: tangent})): 1.0}))
    return scenarios, effects


# ----------------------------------------------------------------------------- effects on formula variables


def _encode(design: Any, base: dict, frame: pd.DataFrame) -> dict:
    return {**base, **{k: jnp.asarray(v) for k, v in design.matrices(frame).items()}}


def _formula_effects(design: Any, base: dict, frame: pd.DataFrame, variables: list[str], dummy: bool, count: bool,
                     contrast: Contrast) -> tuple[list[_Scenario], list[tuple[str, dict[int, float]]]]:
    scenarios: list[_Scenario] = []
    effects: list[tuple[str, dict[int, float]]] = []
    cache: dict[Any, int] = {}

    def scenario_at(column: str, value: Any) -> int:
        key = (column, repr(value))
        if key not in cache:
            changed = frame.assign(**{column: [value] * len(frame)})
            if isinstance(frame[column].dtype, pd.CategoricalDtype):
                changed[column] = pd.Categorical(changed[column], categories=frame[column].cat.categories)
            scenarios.append(_Scenario(_encode(design, base, changed)))
            cache[key] = len(scenarios) - 1
        return cache[key]

    factor_of = {column: name for name, (column, _) in design.factors.items()}
    for variable in variables:
        if variable in design.factors or variable in factor_of:
            name = variable if variable in design.factors else factor_of[variable]
            column, levels = design.factors[name]
            base_level = design.base_level(name)
            if contrast is Contrast.BASE:
                pairs = [(level, base_level) for level in levels if level != base_level]
            else:
                pairs = list(itertools.combinations(levels, 2))
                pairs = [(b, a) for a, b in pairs]
            for level, reference in pairs:
                label = f"{name}[T.{level}]" if contrast is Contrast.BASE else f"{name}[{level} vs {reference}]"
                effects.append((label, {scenario_at(column, level): 1.0, scenario_at(column, reference): -1.0}))
            continue
        if variable not in frame.columns:
            raise SpecificationError(message(
                f"margins variable {variable!r} is not a variable of the formula",
                expected=f"one of {list(design.variables)} (or a factor among {list(design.factors)})",
                got=repr(variable), fix="name the raw data columns of the right-hand side"))
        values = frame[variable].to_numpy()
        if dummy and _is_binary(values):
            effects.append((variable, {scenario_at(variable, 1): 1.0, scenario_at(variable, 0): -1.0}))
        elif count and _is_count(values) and not _is_binary(values):
            scenarios.append(_Scenario(_encode(design, base, frame.assign(**{variable: values + 1}))))
            scenarios.append(_Scenario(_encode(design, base, frame.assign(**{variable: values - 1}))))
            effects.append((variable, {len(scenarios) - 2: 0.5, len(scenarios) - 1: -0.5}))
        else:
            x = values.astype(np.float64)
            h = 1e-5 * (1.0 + np.abs(x))
            plus = design.matrices(frame.assign(**{variable: x + h}))
            minus = design.matrices(frame.assign(**{variable: x - h}))
            tangent = {k: jnp.asarray((plus[k] - minus[k]) / (2.0 * h[:, None])) for k in plus}
            scenarios.append(_Scenario(_encode(design, base, frame), tangent))
            effects.append((variable, {len(scenarios) - 1: 1.0}))
    return scenarios, effects


# ----------------------------------------------------------------------------- the entry point


def _prediction(res: FitResult, predict: Any, variables: Any, dummy: bool, predictive: bool
                ) -> tuple[Callable, Predictor | None, tuple[str, ...] | None, Any]:
    """``(predict function, predictor with a design or None, outcome labels, variables)``."""
    predictor = res.model.extra.get("predictor")
    design = getattr(predictor, "design", None) if isinstance(predictor, Predictor) else None
    defaults = res.model.defaults
    use_design = design is not None and (dummy or predictive or isinstance(predict, (str, Which))) and not (
        isinstance(variables, Mapping))
    if callable(predict):
        return predict, predictor if use_design else None, None, variables
    if isinstance(predict, (str, Which)) or (predict is None and use_design):
        if not isinstance(predictor, Predictor):
            raise SpecificationError(message(
                "this model declares no predictions to choose from", expected="predict=fn(params, data)",
                got=repr(predict), fix="pass a prediction function"))
        which, quantity = predictor.quantity(predictor.extra.get("margins", predictor.default)
                                             if predict is None else predict)
        return quantity.fn, predictor if use_design else None, quantity.labels, variables
    missing = [name for name, value, default in (("predict", predict, defaults.predict),
                                                  ("variables", variables, defaults.margins_variables))
               if value is None and default is None and not (name == "variables" and predictive)]
    if missing:
        raise SpecificationError(message(
            f"margins needs a prediction function and variables; this model declares no default "
            f"for {' and '.join(missing)}",
            expected="predict(params, data) -> (n,) in jax.numpy and variables=['x1', ...] or {'GPA': ('X', 0)}",
            got=f"margins called without {' and '.join(missing)}",
            fix="pass them, e.g. res.margins(lambda p, d: jax.nn.sigmoid(d['X'] @ p['beta']), {'x': ('X', 1)}); "
                "the built-in formula models need neither"))
    predict = defaults.predict if predict is None else predict
    variables = defaults.margins_variables if variables is None else variables
    if not callable(predict):
        raise SpecificationError(message(
            "margins needs a prediction function", expected="predict(params, data) -> (n,) in jax.numpy",
            got=type(predict).__name__, fix="pass predict=..."))
    return predict, None, None, variables


def _frame_index(rows: list[tuple[str, str, str]], multi_at: bool, width: int | None, predictive: bool) -> pd.Index:
    if predictive:  # one row per at-setting: its label is the row's name
        multi_at = False
    names = (["outcome"] if width is not None else []) + (["at"] if multi_at else []) + \
        (["at" if predictive else "variable"])
    tuples = [tuple(part for part, keep in zip(row, (width is not None, multi_at, True)) if keep) for row in rows]
    if len(names) == 1:
        return pd.Index([t[0] for t in tuples], name=names[0])
    return pd.MultiIndex.from_tuples(tuples, names=names)


@float64
def margins(res: FitResult, predict: Any = None, variables: Any = None, *, at: Any = "overall",
            kind: str | None = None, dummy: bool = True, count: bool = False, predictive: bool = False,
            contrast: Contrast | str = "base", alpha: float = 0.05) -> pd.DataFrame:
    """Marginal effects (or predictive margins) with delta-method SEs: a ``summary_frame``-like
    table (``coef, std_err, z, p_value, ci_lower, ci_upper``) indexed by variable (with
    ``outcome`` and ``at`` levels where there are several). See the module docstring for the
    conventions; ``kind="average"|"mean"`` is the older spelling of ``at="overall"|"mean"``.

    Example
    -------
    >>> import numpy as np, jax, jax.numpy as jnp, hessstats as hs
    >>> spector = hs.logit("GRADE ~ GPA + TUCE + PSI", hs.datasets.load("spector")).fit()
    >>> margins(spector)["coef"].round(6).tolist()  # statsmodels get_margeff(dummy=True); PSI a discrete change
    [0.362581, 0.012208, 0.357515]
    >>> margins(spector, dummy=False)["coef"].round(6).tolist()  # statsmodels get_margeff()
    [0.362581, 0.012208, 0.305178]
    >>> margins(spector, predictive=True, at={"PSI": [0, 1]})["coef"].round(4).tolist()  # Stata margins, at(psi=(0 1))
    [0.1799, 0.5374]
    >>> rng = np.random.default_rng(1)
    >>> X = np.column_stack([rng.normal(size=100), np.ones(100)])
    >>> y = rng.poisson(np.exp(X @ [0.3, 0.5])).astype(float)
    >>> res = hs.fit(lambda p, d: d["y"] * (d["X"] @ p["b"]) - jnp.exp(d["X"] @ p["b"]),
    ...              {"b": np.zeros(2)}, {"X": X, "y": y})
    >>> me = margins(res, lambda p, d: jnp.exp(d["X"] @ p["b"]), {"x": ("X", 0)})
    >>> bool(np.isclose(me.loc["x", "coef"], res.params.iloc[0] * y.mean()))
    True
    """
    warn_unconverged(res, "marginal effects")
    check_alpha(alpha)
    at = _at(at, kind)
    contrast = Contrast(contrast)
    fn, predictor, labels, variables = _prediction(res, predict, variables, dummy, predictive)
    n = res.model.nobs  # rows (res.nobs is the sum of frequency weights)
    case = case_weights(res.model)  # Stata margins: weighted averages and means
    row_weights = None if case is None else jnp.asarray(case / case.sum())
    if predictor is not None:
        design = predictor.design
        _, base = predictor.encode(None)
        frame = design.frame
        chosen_vars = list(design.variables) if variables is None else [str(v) for v in
                                                                         ([variables] if isinstance(variables, str)
                                                                          else variables)]
    else:
        base = res.model.data
        if not isinstance(base, dict):
            raise SpecificationError(message(
                "margins needs dict-like data", expected="data passed as a dict or DataFrame",
                got=type(base).__name__, fix="pass the data as {'X': ..., 'y': ...}"))
        chosen = {} if predictive and variables is None else _variables(variables, base)
    width = _check_shape(res, fn, base, n)
    settings = _at_grid(at)
    all_scenarios: list[_Scenario] = []
    rows: list[tuple[str, str, str]] = []
    weights: list[dict[int, float]] = []
    for setting in settings:
        if predictor is not None:
            unknown = [k for k in setting if k not in frame.columns]
            if unknown:
                raise SpecificationError(message(
                    f"at= names columns the model does not use: {unknown}", expected=f"among {list(design.variables)}",
                    got=str(list(setting)), fix="set only variables of the formula"))
            here = frame.assign(**{k: [v] * len(frame) for k, v in setting.items()}) if setting else frame
            data = _encode(design, base, here) if setting else base
            if predictive:
                scenarios, effects = [_Scenario(data)], [(_label(setting) or "margin", {0: 1.0})]
            else:
                scenarios, effects = _formula_effects(design, base, here, chosen_vars, dummy, count, contrast)
        else:
            data = dict(base)
            for key, value in setting.items():
                if key not in data:
                    raise SpecificationError(message(f"at= names an unknown data key {key!r}",
                                                     expected=f"among {sorted(data)}", got=repr(key),
                                                     fix="set data keys of 1-d columns"))
                data[key] = jnp.full_like(data[key], value)
            if predictive:
                scenarios, effects = [_Scenario(data)], [(_label(setting) or "margin", {0: 1.0})]
            else:
                scenarios, effects = _data_effects(data, chosen, dummy, count, n)
        if at == "mean":
            scenarios = [_Scenario(_at_means(s.data, n, row_weights),
                                   None if s.tangent is None else _at_means(dict(s.tangent), n, row_weights))
                         for s in scenarios]
        offset = len(all_scenarios)
        all_scenarios += scenarios
        for label, w in effects:
            weights.append({offset + i: v for i, v in w.items()})
            rows.append(("", _label(setting), label))
    packed = tuple((s.data, None if s.tangent is None else dict(s.tangent)) for s in all_scenarios)
    theta = jnp.asarray(res.theta)
    program, consts, _ = Program.trace(fn, res.model.spec.unravel(theta), all_scenarios[0].data)
    value, jac = call_kernel("margins", _averages_and_jacobian, theta, packed, program, res.model.spec, consts,
                             None if row_weights is None or at == "mean" else row_weights)
    value, jac = np.asarray(value), np.asarray(jac)
    W = np.zeros((len(weights), len(all_scenarios)))
    for r, w in enumerate(weights):
        for i, v in w.items():
            W[r, i] = v
    k = theta.size
    if width is None:
        est, J = W @ value, W @ jac.reshape(len(all_scenarios), k)
        index = _frame_index(rows, len(settings) > 1, None, predictive)
    else:
        est = (W @ value).T.reshape(-1)  # outcome-major, as Stata's blocks
        J = np.einsum("rs,sjk->jrk", W, jac).reshape(-1, k)
        outcome = list(labels) if labels is not None and len(labels) == width else [str(j) for j in range(width)]
        rows = [(o, a, v) for o in outcome for (_, a, v) in rows]
        index = _frame_index(rows, len(settings) > 1, width, predictive)
    frame_out = wald_frame(est, sandwich(J, res.cov_array), list(range(len(est))), alpha, inference_df(res))
    frame_out.index = index
    return frame_out
