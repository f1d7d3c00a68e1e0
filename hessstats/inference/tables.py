"""Several fits side by side (``hs.table``), like statsmodels' ``summary_col``, Stata's ``esttab``
and R's ``modelsummary``, with Markdown, LaTeX (booktabs) and HTML renderers written here (no
extra dependency).

Results are read duck-typed (``params``, ``bse``, ``pvalues``, ``conf_int()`` and the statistics
named in ``stats``), so any :class:`~hessstats.results.FitResult` works.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

import pandas as pd

from hessstats.errors import SpecificationError, message

if TYPE_CHECKING:
    from hessstats.results import FitResult


class Interval(Enum):
    """What goes under each coefficient: its standard error in parentheses or its Wald CI in brackets.

    Example
    -------
    >>> Interval("ci")
    <Interval.CI: 'ci'>
    """

    SE = "se"
    CI = "ci"


STATISTICS: dict[str, str] = {
    "nobs": "N", "llf": "Log-likelihood", "llnull": "LL-null", "aic": "AIC", "bic": "BIC",
    "prsquared": "Pseudo R2", "rsquared": "R2", "rsquared_adj": "Adj. R2", "df_model": "Df model",
    "df_resid": "Df resid", "cov_type": "Covariance",
}
"""The statistics ``hs.table`` can put at the bottom, with their row labels."""

STARS_DEFAULT: tuple[float, ...] = (0.05, 0.01, 0.001)
"""Significance levels for ``*``, ``**``, ``***`` (Stata ``esttab``'s and R's convention)."""


@dataclass(frozen=True)
class ResultsTable:
    """Fits side by side: ``cells`` (strings; index ``(row label, part)`` with part ``"coef"``,
    ``"se"``/``"ci"`` or ``"stat"``; one column per model) and a ``note`` (the star convention).

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("spector")
    >>> t = table([hs.logit("GRADE ~ GPA", df).fit(), hs.probit("GRADE ~ GPA + PSI", df).fit()])
    >>> t.to_frame().loc[("PSI", "coef")].tolist()
    ['', '1.422']
    """

    cells: pd.DataFrame
    note: str = ""
    star_width: int = 0
    """The most stars a cell can carry (the text rendering pads to it, so numbers line up)."""

    def to_frame(self) -> pd.DataFrame:
        """The table as a DataFrame of strings (a copy).

        Example
        -------
        >>> import hessstats as hs
        >>> t = table([hs.logit("GRADE ~ GPA", hs.datasets.load("spector")).fit()], stats=["nobs"])
        >>> t.to_frame().index.tolist()
        [('Intercept', 'coef'), ('Intercept', 'se'), ('GPA', 'coef'), ('GPA', 'se'), ('N', 'stat')]
        """
        return self.cells.copy()

    def _rows(self) -> list[tuple[str, list[str], bool]]:
        """(label shown, cells, starts the statistics block) per row."""
        rows, first_stat = [], True
        for (label, part), values in self.cells.iterrows():
            is_stat = part == "stat"
            rows.append(("" if part in ("se", "ci") else str(label), [str(v) for v in values], is_stat and first_stat))
            first_stat = first_stat and not is_stat
        return rows

    def __str__(self) -> str:
        header = ["", *map(str, self.cells.columns)]
        parts = self.cells.index.get_level_values(1)
        pad = lambda c, part: c + " " * max(0, self.star_width - (part in ("se", "ci")) - (len(c) - len(c.rstrip("*"))))
        body = [[label, *(pad(c, part) for c in cells)] for (label, cells, _), part in zip(self._rows(), parts)]
        widths = [max(len(r[j]) for r in [header, *body]) for j in range(len(header))]
        fmt = lambda r: "  ".join(c.ljust(widths[0]) if j == 0 else c.rjust(widths[j]) for j, c in enumerate(r)).rstrip()
        rule = "=" * (sum(widths) + 2 * (len(widths) - 1))
        lines = [rule, fmt(header), "-" * len(rule)]
        for (_, _, starts), row in zip(self._rows(), body):
            if starts:
                lines.append("-" * len(rule))
            lines.append(fmt(row))
        lines.append(rule)
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """A GitHub-flavoured Markdown pipe table (``|`` in cells escaped), then the note.

        Example
        -------
        >>> import hessstats as hs
        >>> t = table([hs.logit("GRADE ~ GPA", hs.datasets.load("spector")).fit()], stats=["nobs"])
        >>> print(t.to_markdown())
        |           | (1)     |
        |:----------|:-------:|
        | Intercept | -9.703  |
        |           | (3.671) |
        | GPA       | 2.840   |
        |           | (1.127) |
        | N         | 32      |
        """
        esc = lambda s: s.replace("|", "\\|")
        header = ["", *map(str, self.cells.columns)]
        body = [[esc(label), *map(esc, cells)] for label, cells, _ in self._rows()]
        widths = [max(3, *(len(r[j]) for r in [header, *body])) for j in range(len(header))]
        line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
        align = "|" + "|".join(":" + "-" * (w + 1) if j == 0 else ":" + "-" * w + ":" for j, w in enumerate(widths)) + "|"
        out = [line(header), align, *map(line, body)]
        if self.note:
            out += ["", esc(self.note)]
        return "\n".join(out)

    def to_latex(self) -> str:
        """A LaTeX ``tabular`` with booktabs rules (``\\toprule``, ``\\midrule``, ``\\bottomrule``;
        needs ``\\usepackage{booktabs}``); special characters escaped.

        Example
        -------
        >>> import hessstats as hs
        >>> t = table([hs.logit("GRADE ~ GPA", hs.datasets.load("spector")).fit()], stats=["nobs"])
        >>> print(t.to_latex())
        \\begin{tabular}{lc}
        \\toprule
         & (1) \\\\
        \\midrule
        Intercept & -9.703 \\\\
         & (3.671) \\\\
        GPA & 2.840 \\\\
         & (1.127) \\\\
        \\midrule
        N & 32 \\\\
        \\bottomrule
        \\end{tabular}
        """
        row = lambda cells: " & ".join(_latex_escape(c) for c in cells) + " \\\\"
        out = [f"\\begin{{tabular}}{{l{'c' * len(self.cells.columns)}}}", "\\toprule",
               row(["", *map(str, self.cells.columns)]), "\\midrule"]
        for label, cells, starts in self._rows():
            if starts:
                out.append("\\midrule")
            out.append(row([label, *cells]))
        out.append("\\bottomrule")
        if self.note:
            out.append(f"\\multicolumn{{{len(self.cells.columns) + 1}}}{{l}}{{\\footnotesize {_latex_escape(self.note)}}} \\\\")
        out.append("\\end{tabular}")
        return "\n".join(out)

    def to_html(self) -> str:
        """An HTML ``<table>`` (cells escaped), the note in a ``<tfoot>`` row.

        Example
        -------
        >>> import hessstats as hs
        >>> t = table([hs.logit("GRADE ~ GPA", hs.datasets.load("spector")).fit()], stats=["nobs"])
        >>> t.to_html().count("<tr>")
        6
        """
        cell = lambda tag, text, style="": f"<{tag}{style}>{html.escape(text)}</{tag}>"
        head = "<tr>" + cell("th", "") + "".join(cell("th", str(c)) for c in self.cells.columns) + "</tr>"
        body = []
        for label, cells, starts in self._rows():
            style = " style='border-top: 1px solid'" if starts else ""
            body.append("<tr>" + cell("th", label, " style='text-align:left'") +
                        "".join(cell("td", c, style) for c in cells) + "</tr>")
        foot = (f"<tfoot><tr><td colspan='{len(self.cells.columns) + 1}'>{html.escape(self.note)}</td></tr></tfoot>"
                if self.note else "")
        return f"<table><thead>{head}</thead><tbody>{''.join(body)}</tbody>{foot}</table>"

    def _repr_html_(self) -> str:
        return self.to_html()


def _latex_escape(text: str) -> str:
    repl = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(repl.get(ch, ch) for ch in text)


def _stars(p: float, levels: Sequence[float]) -> str:
    return "" if math.isnan(p) else "*" * sum(p < level for level in levels)


def _stat(res: Any, name: str, digits: int) -> str:
    value = getattr(res, name)
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if name in ("nobs", "df_model", "df_resid") and float(value).is_integer():
        return str(int(value))
    return f"{float(value):.{digits}f}"


def table(results: Sequence[FitResult], *, labels: Sequence[str] | None = None,
          order: Sequence[str] | None = None, rename: Mapping[str, str] | None = None,
          interval: Interval | str = Interval.SE, stars: bool | Sequence[float] = False,
          stats: Sequence[str] = ("nobs", "llf", "aic", "bic", "prsquared", "cov_type"),
          digits: int = 3, alpha: float = 0.05) -> ResultsTable:
    """Fits side by side: coefficients with SEs ``(se)`` or CIs ``[lo, hi]`` under them, rows aligned
    by parameter name (the union, in first-seen order; blank where a model lacks a parameter), then
    the ``stats`` rows (names from :data:`STATISTICS`).

    Parameters
    ----------
    results : sequence of FitResult
        The fits, one column each.
    labels : sequence of str, optional
        Column labels (default ``(1)``, ``(2)``, ...).
    order : sequence of str, optional
        Parameter names to list first, in this order (the others follow).
    rename : mapping, optional
        ``{parameter: shown label}``.
    interval : {"se", "ci"} or Interval
        Standard errors in parentheses (default) or ``1 - alpha`` Wald intervals in brackets.
    stars : bool or sequence of float
        ``True`` for ``*`` p < 0.05, ``**`` p < 0.01, ``***`` p < 0.001 (:data:`STARS_DEFAULT`), or
        the levels (``(0.1, 0.05, 0.01)`` is statsmodels' ``summary_col`` convention); the table's
        note states the convention. Default: no stars.
    stats : sequence of str
        Statistics for the bottom rows, names from :data:`STATISTICS`.
    digits : int
        Decimals of coefficients, SEs and statistics.
    alpha : float
        Level of the intervals when ``interval="ci"``.

    Returns
    -------
    ResultsTable
        ``str()`` for text; ``.to_frame()``, ``.to_markdown()``, ``.to_latex()`` (booktabs),
        ``.to_html()``.

    Example
    -------
    >>> import hessstats as hs
    >>> df = hs.datasets.load("spector")
    >>> fits = [hs.logit("GRADE ~ GPA", df).fit(), hs.logit("GRADE ~ GPA + TUCE + PSI", df).fit()]
    >>> print(table(fits, labels=["small", "full"], stars=True, stats=["nobs", "prsquared"]))
    ================================
                   small        full
    --------------------------------
    Intercept  -9.703**   -13.021**
               (3.671)     (4.931)
    GPA         2.840*      2.826*
               (1.127)     (1.263)
    TUCE                    0.095
                           (0.142)
    PSI                     2.379*
                           (1.065)
    --------------------------------
    N              32          32
    Pseudo R2   0.213       0.374
    ================================
    * p<0.05, ** p<0.01, *** p<0.001
    """
    results = list(results)
    if not results:
        raise SpecificationError(message("no results to tabulate", expected="a list of fitted results",
                                         got="an empty list", fix="pass e.g. [res1, res2]"))
    interval = Interval(interval)
    if labels is None:
        labels = [f"({j + 1})" for j in range(len(results))]
    labels = [str(lab) for lab in labels]
    if len(labels) != len(results) or len(set(labels)) != len(labels):
        raise SpecificationError(message("labels do not match the results", expected=f"{len(results)} distinct labels",
                                         got=repr(labels)[:200], fix="give one distinct label per result"))
    unknown = [s for s in stats if s not in STATISTICS]
    if unknown:
        raise SpecificationError(message(f"unknown statistics {unknown}", expected=f"names from {sorted(STATISTICS)}",
                                         got=repr(list(stats))[:200], fix="drop or correct the unknown names"))
    levels = tuple(sorted(STARS_DEFAULT if stars is True else (stars or ()), reverse=True))
    names: list[str] = []
    for res in results:
        names += [n for n in res.params.index if n not in names]
    order = list(order or [])
    missing = [n for n in order if n not in names]
    if missing:
        raise SpecificationError(message(f"order names parameters no model has: {missing}",
                                         expected=f"names from {names}"[:300], got=repr(order)[:200],
                                         fix="use the parameter names of the fits (before rename)"))
    names = order + [n for n in names if n not in order]
    rename = dict(rename or {})
    part = interval.value
    index, rows = [], []
    for name in names:
        shown = rename.get(name, name)
        coef, under = [], []
        for res in results:
            if name not in res.params.index:
                coef.append("")
                under.append("")
                continue
            p = float(res.pvalues[name])
            coef.append(f"{float(res.params[name]):.{digits}f}{_stars(p, levels)}")
            if interval is Interval.SE:
                under.append(f"({float(res.bse[name]):.{digits}f})")
            else:
                lo, hi = res.conf_int(alpha).loc[name]
                under.append(f"[{float(lo):.{digits}f}, {float(hi):.{digits}f}]")
        index += [(shown, "coef"), (shown, part)]
        rows += [coef, under]
    for name in stats:
        index.append((STATISTICS[name], "stat"))
        rows.append([_stat(res, name, digits) for res in results])
    failed = [not bool(getattr(res, "converged", True)) for res in results]
    if any(failed):  # a fit that is not a certified maximum is marked in its column, whatever stats asks
        index.append(("Converged", "stat"))
        rows.append(["NO" if bad else "yes" for bad in failed])
    cells = pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["row", "part"]), columns=labels)
    marks = ["*" * (j + 1) for j in range(len(levels))]
    note = ", ".join(f"{m} p<{level:g}" for m, level in zip(marks, levels))
    if any(failed):
        columns = ", ".join(lab for lab, bad in zip(labels, failed) if bad)
        note = "; ".join(filter(None, [note, f"not converged: {columns} (see res.convergence_message)"]))
    return ResultsTable(cells, note, len(levels))
