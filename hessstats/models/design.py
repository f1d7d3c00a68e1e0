"""Shared input checks for the built-in models: design matrices, outcomes, rank, model assembly.

Every built-in model goes through :func:`build`, which makes an ordinary :class:`hessstats.Model`
(the same path as user code). The log-likelihoods are module-level functions (options such as a
link bound by :class:`WithOptions`, equal by value), so each model compiles once per data shape and
is reused across fits and models; they are :func:`~hessstats.core.compilation.trusted`, so a new model
of a seen shape is not traced again either.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy  # its submodules (linalg, special, stats, optimize, sparse) load on first use

from hessstats.core.compilation import trusted
from hessstats.core.covariance import MeanPart
from hessstats.core.linalg import conditioned_gram
from hessstats.core.linalg import gram as gram_matrix
from hessstats.errors import CollinearityError, DataError, message
from hessstats.inference.defaults import PostEstimationDefaults
from hessstats.model import Model
from hessstats.rows.prepare import align_to_rows, finite_array, index_array, owned_copy


@trusted
@dataclass(frozen=True)
class WithOptions:
    """``fn(*args, *options)``: a built-in function (log-likelihood, its index form, a prediction) with
    its options (link, family, power) bound. Equal and hashed by ``fn`` and the options, so models
    built again with the same options share compiled kernels (a ``lambda`` would be a new function,
    and a new compile, per model); trusted as a log-likelihood when ``fn`` is
    (:func:`~hessstats.core.compilation.trusted`) and the options are plain values.

    Example
    -------
    >>> import operator
    >>> WithOptions(operator.add, (2.0,))(1.0), WithOptions(operator.add, (2.0,)) == WithOptions(operator.add, (2.0,))
    (3.0, True)
    """

    fn: Callable[..., Any]
    options: tuple

    @property
    def __name__(self) -> str:  # the function's name, for report labels
        return getattr(self.fn, "__name__", type(self.fn).__name__)

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args, *self.options)


def align_rows(X: Any, **per_row: Any) -> dict[str, Any]:
    """Per-row arguments (``y``, ``offset``, ``exposure``, limits, events, ``Z``) in the row order of
    the design ``X``, aligned by pandas row label.

    The reference labels are ``X``'s (a DataFrame), else those of the first pandas argument (in the
    order given). A pandas argument of the same length with the same labels in another order is
    reordered; different labels are a :class:`DataError`. numpy arrays, scalars and ``None`` are
    positional and returned unchanged (see :func:`hessstats.rows.prepare.align_to_rows`).

    Example
    -------
    >>> X = pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=[10, 11, 12])
    >>> align_rows(X, y=pd.Series([0.0, 1.0, 2.0], index=[12, 10, 11]))["y"].tolist()
    [1.0, 2.0, 0.0]
    """
    objects = [X, *per_row.values()]
    labels = next((o.index for o in objects if isinstance(o, (pd.Series, pd.DataFrame))), None)
    n = None if labels is None else len(labels)
    return {key: align_to_rows(value, labels, n, key) for key, value in per_row.items()}


def design(X: Any, names: Sequence[str] | None = None, *, what: str = "X") -> tuple[np.ndarray, tuple[str, ...]]:
    """A float64 copy of the design matrix and its column names, checked for NaN and rank.

    Names come from ``names``, else from DataFrame columns, else ``x0, x1, ...``.

    Example
    -------
    >>> X, names = design(pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0]}))
    >>> names, X.dtype.name
    (('a', 'b'), 'float64')
    """
    if isinstance(X, pd.Series):
        X = X.to_frame()
    if isinstance(X, pd.DataFrame):  # missing cells become NaN: one finiteness scan below covers both
        default = [str(c) for c in X.columns]
        bad = [c for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))]
        if bad:
            raise DataError(message(
                f"{what} has non-numeric columns {bad}", expected="numeric columns",
                got=f"dtypes {[str(X[c].dtype) for c in bad]}",
                fix="use the formula interface (e.g. hs.logit('y ~ C(g) + x', data=df)), which encodes categories"))
        arr = owned_copy(X.to_numpy(dtype=np.float64, copy=False))
    else:
        try:
            arr = owned_copy(X)
        except (TypeError, ValueError) as exc:
            raise DataError(message(f"{what} is not numeric", expected="a numeric 2-d array or DataFrame",
                                    got=f"{type(X).__name__}: {exc}", fix="convert or encode the columns")) from None
        if arr.ndim == 1:
            arr = arr[:, None]
        default = [f"x{i}" for i in range(arr.shape[1] if arr.ndim == 2 else 0)]
    if arr.ndim != 2 or arr.shape[1] == 0 or arr.shape[0] == 0:
        raise DataError(message(f"{what} has the wrong shape", expected="a non-empty 2-d array (n, k)",
                                got=f"shape {arr.shape}", fix="pass one column per regressor"))
    names = tuple(str(n) for n in (default if names is None else names))
    if len(names) != arr.shape[1]:
        raise DataError(message(f"names do not match the columns of {what}", expected=f"{arr.shape[1]} names",
                                got=f"{len(names)}: {list(names)}", fix="give one name per column"))
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # what overflows is named below
        G = gram_matrix(arr)  # one pass over the data: the finiteness, scale and rank checks all read it
    squares = np.diag(G)
    if not np.all(np.isfinite(squares)):  # NaN/inf (or squares overflowing): count them exactly
        _check_finite(arr, names, what)
    if not np.all(np.isfinite(squares) & (squares >= np.finfo(np.float64).tiny)):  # 0: all-zero, or underflow
        _check_scale(arr, names, what, squares)
    check_rank(arr, names, what=what, gram=G)
    return arr, names


def _check_scale(arr: np.ndarray, names: Sequence[str], what: str, squares: np.ndarray) -> None:
    """Finite columns whose sums of squares overflow or underflow float64: every likelihood's
    Hessian (a sum of ``w x_j x_l``) would too, and the rank check's column norms with them."""
    suspect = np.flatnonzero(~np.isfinite(squares) | (squares < np.finfo(np.float64).tiny))
    largest = np.max(np.abs(arr[:, suspect]), axis=0)
    big = [(names[j], m) for j, m, q in zip(suspect, largest, squares[suspect]) if not np.isfinite(q)]
    small = [(names[j], m) for j, m, q in zip(suspect, largest, squares[suspect]) if np.isfinite(q) and m > 0]
    for found, size, bound in ((big, "large", "below about 1e150"), (small, "small", "above about 1e-150")):
        if found:
            raise DataError(message(
                f"{what} has columns too {size} for float64 arithmetic: {[n for n, _ in found]}",
                expected=f"columns whose squares sum to a normal float64 (largest |value| {bound} for thousands of rows)",
                got="largest |value| " + ", ".join(f"{n}: {m:.3g}" for n, m in found)
                    + f" (the sums of squares {'overflow to inf' if size == 'large' else 'underflow to zero'})",
                fix="rescale those columns (e.g. divide or multiply by a power of ten); the estimates and standard "
                    "errors of a rescaled column scale by the same factor"))


def _check_finite(arr: np.ndarray, names: Sequence[str], what: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        counts = {n: int(c) for n, c in zip(names, bad.sum(axis=0)) if c}
        raise DataError(message(
            f"{what} has missing or infinite values", expected="finite numbers",
            got=f"non-finite counts by column {counts}",
            fix="drop those rows (formula interface: missing='drop') or impute them"))


def check_missing(frame: pd.DataFrame, what: str = "data") -> None:
    """Raise a :class:`DataError` naming each column with missing values and how many.

    Example
    -------
    >>> check_missing(pd.DataFrame({"x": [1.0, 2.0]})) is None
    True
    """
    counts = frame.isna().sum()
    counts = counts[counts > 0]
    if len(counts):
        raise DataError(message(
            f"{what} has missing values", expected="no missing values",
            got=f"missing counts by column {dict((str(k), int(v)) for k, v in counts.items())} of {len(frame)} rows",
            fix="pass missing='drop' to drop those rows, or drop/impute them yourself (df.dropna(subset=[...]))"))


def check_rank(X: np.ndarray, names: Sequence[str], *, what: str = "X", gram: np.ndarray | None = None) -> None:
    """Raise a :class:`CollinearityError` naming collinear columns (SVD of the column-scaled design).

    Columns are scaled to unit length; singular values below ``max(n, k) * eps * largest`` (numpy's
    ``matrix_rank`` rule) span the null space, and every column loading on it is named.

    The SVD (a copy of ``X`` and ``O(n k^2)`` work with a large constant) runs only when needed:
    first the scaled Gram matrix ``X'X`` (``gram``, one BLAS pass; computed when not given) is
    checked, and a smallest eigenvalue above ``RANK_SCREEN`` times the largest certifies full
    column rank (its singular values then exceed ``sqrt(RANK_SCREEN)`` times the largest, far above
    the SVD rule's threshold, while the Gram eigenvalues are accurate to about ``k * eps``).
    Otherwise the exact SVD decides, so the errors are the same.

    Example
    -------
    >>> X = np.column_stack([np.ones(4), [1.0, 2, 3, 4], [2.0, 3, 4, 5]])
    >>> try:
    ...     check_rank(X, ["const", "a", "b"])
    ... except CollinearityError as e:
    ...     print(str(e).splitlines()[0])
    X is rank deficient: 1 linear dependence(s) among columns ['const', 'a', 'b']
    """
    n, k = X.shape
    if k <= n:
        if conditioned_gram(gram_matrix(X) if gram is None else gram, RANK_SCREEN) is not None:
            return
    _check_rank_svd(X, names, what)


RANK_SCREEN = 1e-8
"""A scaled Gram matrix whose eigenvalues are all above this times the largest has full column rank."""


def _check_rank_svd(X: np.ndarray, names: Sequence[str], what: str) -> None:
    """The exact rank check: SVD of the column-scaled design, naming the dependences."""
    n, k = X.shape
    norms = np.linalg.norm(X, axis=0)
    zero = [names[j] for j in np.flatnonzero(norms == 0)]
    if zero:
        raise CollinearityError(message(
            f"{what} has all-zero columns {zero}", expected="columns with some non-zero values",
            got=f"all-zero columns {zero}", fix=f"drop {zero}"))
    _, s, vt = np.linalg.svd(X / norms, full_matrices=False)
    null = vt[s <= max(n, k) * np.finfo(float).eps * s[0]]
    if k > n:
        raise CollinearityError(message(
            f"{what} has more columns than rows", expected=f"at most {n} columns",
            got=f"{k} columns", fix="drop regressors or add observations"))
    if len(null):
        involved = [names[j] for j in np.flatnonzero(np.any(np.abs(null) > 1e-8, axis=0))]
        relations = []
        for v in null[:3]:
            j = int(np.argmax(np.abs(v)))
            terms = [f"{-v[i] / v[j] * norms[j] / norms[i]:+.4g}*{names[i]}" for i in np.flatnonzero(np.abs(v) > 1e-8) if i != j]
            relations.append(f"{names[j]} = " + " ".join(terms))
        raise CollinearityError(message(
            f"{what} is rank deficient: {len(null)} linear dependence(s) among columns {involved}",
            expected="linearly independent columns (full column rank)",
            got="; ".join(relations),
            fix=f"drop one column of each dependence (e.g. {relations[0].split(' =')[0]!r}), or use "
                "full-rank coding of categorical variables (the formula interface does this)"))


def outcome(y: Any, n: int | None = None, *, what: str = "y") -> np.ndarray:
    """A float64 1-d copy of an outcome, checked for length and missing values.

    Example
    -------
    >>> outcome([1, 0, 1], 3).tolist()
    [1.0, 0.0, 1.0]
    """
    if isinstance(y, pd.DataFrame) and y.shape[1] == 1:
        y = y.iloc[:, 0]
    try:
        arr = np.array(y, dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        raise DataError(message(f"{what} is not numeric", expected="numbers",
                                got=f"{type(y).__name__} e.g. {list(np.ravel(y))[:3]}",
                                fix="encode the outcome as numbers")) from None
    arr = arr.reshape(-1) if arr.ndim == 2 and 1 in arr.shape else arr
    if arr.ndim != 1 or (n is not None and arr.shape[0] != n):
        raise DataError(message(f"{what} has the wrong shape", expected=f"a vector of length {n}",
                                got=f"shape {arr.shape}", fix=f"pass one {what} value per row of X"))
    if not np.all(np.isfinite(arr)):
        raise DataError(message(f"{what} has missing or infinite values", expected="finite numbers",
                                got=f"{int((~np.isfinite(arr)).sum())} non-finite of {arr.size}",
                                fix="drop those rows (formula interface: missing='drop')"))
    return finite_array(arr)


def require(ok: np.ndarray, y: np.ndarray, *, what: str, expected: str, fix: str) -> None:
    """Raise a :class:`DataError` listing the first offending values where ``ok`` is False.

    Example
    -------
    >>> y = np.array([1.0, -2.0])
    >>> try:
    ...     require(y >= 0, y, what="y", expected="counts >= 0", fix="drop negative rows")
    ... except DataError as e:
    ...     print(str(e).splitlines()[0])
    y has invalid values
    """
    bad = np.flatnonzero(~np.asarray(ok))
    if bad.size:
        raise DataError(message(
            f"{what} has invalid values", expected=expected,
            got=f"{bad.size} invalid of {y.size}, e.g. rows {bad[:5].tolist()} with values {y[bad[:5]].tolist()}",
            fix=fix))


def vector_option(value: Any, n: int, *, what: str, default: float) -> np.ndarray:
    """An optional per-observation vector (offset, exposure, limits): ``None`` -> ``default``.

    Example
    -------
    >>> vector_option(None, 2, what="offset", default=0.0).tolist(), vector_option(3, 2, what="left", default=0).tolist()
    ([0.0, 0.0], [3.0, 3.0])
    """
    if value is None:
        return finite_array(np.full(n, float(default)))
    if np.ndim(value) == 0:
        return finite_array(np.full(n, float(value)))
    return outcome(value, n, what=what)


def sparse_direction(signed: np.ndarray, rows: np.ndarray, fallback: np.ndarray,
                     equal: np.ndarray | None = None) -> np.ndarray:
    """The separating direction with the smallest L1 norm, so that it names few variables.

    Minimise ``sum|b|`` subject to ``signed @ b >= 1`` on ``rows``, ``>= 0`` on the other rows,
    and ``equal @ b == 0``; ``fallback`` if the linear programme fails.

    Example
    -------
    >>> signed = np.array([[1.0, 0.0], [1.0, 1.0]])  # rows already signed by the outcome
    >>> (sparse_direction(signed, np.array([True, True]), np.zeros(2)).round(6) + 0.0).tolist()  # + 0.0: no -0.0
    [1.0, 0.0]
    """
    n, k = signed.shape
    eye = np.eye(k)
    A = np.block([[eye, -eye], [-eye, -eye], [-signed, np.zeros((n, k))]])
    b_ub = np.r_[np.zeros(2 * k), -rows.astype(float)]
    A_eq = None if equal is None or not len(equal) else np.c_[equal, np.zeros((len(equal), k))]
    out = scipy.optimize.linprog(np.r_[np.zeros(k), np.ones(k)], A_ub=A, b_ub=b_ub, A_eq=A_eq,
                                 b_eq=None if A_eq is None else np.zeros(len(equal)),
                                 bounds=[(None, None)] * k + [(0, None)] * k, method="highs")
    return out.x[:k] if out.status == 0 else fallback


def constant_columns(X: np.ndarray) -> np.ndarray:
    """Mask of the constant columns of ``X`` (zero variance, the rule of statsmodels'
    ``discrete_margins._get_const_index``).

    Example
    -------
    >>> constant_columns(np.array([[1.0, 2.0], [1.0, 3.0]])).tolist()
    [True, False]
    """
    X = np.asarray(X)
    const = np.max(X, axis=0) == np.min(X, axis=0)  # two reductions, no (n, k) temporary
    for j in np.flatnonzero(const):  # the rule itself on the few candidates only
        const[j] = np.var(X[:, j]) == 0
    return const


def null_fixed(X: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """``{name: 0.0}`` for the slopes (non-constant columns) when ``X`` has a constant column, else
    ``{}``: the parameters that the null (constant-only) model of ``FitResult.lr_test_null`` fixes.
    ``names`` are the parameter names of the columns (in column order, repeated per equation for
    multi-equation models).

    Example
    -------
    >>> null_fixed(np.column_stack([np.ones(3), [1.0, 2.0, 4.0]]), ["const", "x"])
    {'x': 0.0}
    """
    return _null_fixed(constant_columns(X), names)


def _null_fixed(const: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """:func:`null_fixed` from the mask of constant columns."""
    if not const.any() or const.all():
        return {}
    return {str(n): 0.0 for j, n in enumerate(names) if not const[j % len(const)]}


def index_defaults(X: np.ndarray, names: Sequence[str], predict: Callable | None = None) -> PostEstimationDefaults:
    """Post-estimation defaults of a single-index model on ``data["X"]``: the null model
    (:func:`null_fixed`) and, with ``predict(params, data) -> (n,)``, what ``FitResult.margins()``
    uses by default: ``predict`` and ``margins_variables`` (``{name: ("X", column)}`` for every
    non-constant column, as statsmodels' ``get_margeff`` leaves out the constant). The mean part
    (:class:`~hessstats.core.covariance.MeanPart`) is the coefficients on ``X``, a single index
    with design ``"X"`` (HC1's ``k``; HC2/HC3 leverage).

    Example
    -------
    >>> index_defaults(np.column_stack([np.ones(3), [1.0, 2.0, 4.0]]), ["const", "x"]).null
    {'x': 0.0}
    """
    const = constant_columns(X)
    null = _null_fixed(const, names) or None
    mean = MeanPart(tuple(str(n) for n in names), design="X")
    if predict is None:
        return PostEstimationDefaults(null=null, mean=mean)
    return PostEstimationDefaults(null=null, predict=predict, mean=mean,
                                  margins_variables={str(n): ("X", j) for j, n in enumerate(names) if not const[j]})


def weighted(constructor: Callable[..., Model]) -> Callable[..., Model]:
    """Give a built-in array constructor ``weights=`` and ``weight_type=`` (keyword-only): the model it
    builds, with those observation weights (:meth:`hessstats.Model.with_weights`; a pandas Series is
    aligned with the rows of ``X``, else taken by position). See :mod:`hessstats.rows.weights`.

    Example
    -------
    >>> @weighted
    ... def demo_model(y, X):
    ...     return build(lambda p, d: -(d["y"] - p["mu"]) ** 2, {"mu": 0.0}, {"y": np.asarray(y, float)}, None, {})
    >>> demo_model([1.0, 3.0], None, weights=[3, 1], weight_type="frequency").weighted_nobs
    4
    """

    @functools.wraps(constructor)
    def constructed(*args: Any, weights: Any = None, weight_type: Any = None, **kwargs: Any) -> Model:
        model = constructor(*args, **kwargs)
        if weights is None and weight_type is None:
            return model
        X = args[1] if len(args) > 1 else kwargs.get("X")
        y = args[0] if args else next((kwargs[k] for k in ("y", "time") if k in kwargs), None)
        if not isinstance(X, (pd.Series, pd.DataFrame)) and isinstance(y, (pd.Series, pd.DataFrame)):
            X = y
        if isinstance(weights, pd.Series):
            weights = align_rows(X, weights=weights)["weights"]
        return model.with_weights(weights, weight_type)

    signature = inspect.signature(constructor)
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Any)
             for name in ("weights", "weight_type")]
    constructed.__signature__ = signature.replace(parameters=[*signature.parameters.values(), *extra])  # type: ignore[attr-defined]
    return constructed


def build(loglike: Callable, start: Any, data: Mapping[str, Any], names: Any, description: Mapping[str, Any],
          expected_information: Callable[[np.ndarray], np.ndarray] | None = None,
          extra: Mapping[str, Any] | None = None, defaults: PostEstimationDefaults | None = None) -> Model:
    """Assemble the :class:`hessstats.Model` of a built-in likelihood.

    Integer arrays in ``data`` are category codes that the built-in likelihoods index with (ordered
    models): they are passed as :func:`~hessstats.rows.prepare.index_array` (every other array is
    float64).

    Example
    -------
    >>> m = build(lambda p, d: -(d["y"] - p["mu"]) ** 2, {"mu": 0.0}, {"y": np.ones(2)}, None, {"model": "demo"})
    >>> m.names, m.description["model"]
    (('mu',), 'demo')
    """
    data = {key: index_array(value) if np.asarray(value).dtype.kind in "iu" else value for key, value in data.items()}
    return Model(loglike, start, data, names=names, description=dict(description),
                 expected_information=expected_information, extra=extra, defaults=defaults)
