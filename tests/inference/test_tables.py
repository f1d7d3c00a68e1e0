"""``hs.table``: several fits side by side and its Markdown / LaTeX / HTML renderers (issue 14, item 2).

References: statsmodels 0.15 ``summary_col(..., stars=True, float_format="%.4f")`` live (same cells for
coefficients, SEs in parentheses and its stars p<0.1/0.05/0.01); Wald intervals against
``res.conf_int()`` computed by hand from statsmodels' SEs; the renderers are parsed back (Markdown
pipes, LaTeX booktabs rules and escapes, HTML through the standard library's ``html.parser``).
"""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pytest
import scipy.stats
import statsmodels.formula.api as smf
from statsmodels.iolib.summary2 import summary_col

import hessstats as hs
from hessstats.errors import ConvergenceWarning, SpecificationError
from hessstats.inference.tables import Interval, ResultsTable, table

SMALL, FULL = "GRADE ~ GPA", "GRADE ~ GPA + TUCE + PSI"


@pytest.fixture(scope="module")
def fits():
    df = hs.datasets.load("spector")
    ours = [hs.logit(SMALL, df).fit(), hs.logit(FULL, df).fit()]
    refs = [smf.logit(SMALL, df).fit(disp=0, tol=1e-12), smf.logit(FULL, df).fit(disp=0, tol=1e-12)]
    return ours, refs


def test_cells_equal_statsmodels_summary_col(fits):
    """Coefficient and SE cells, stars at 0.1/0.05/0.01, union of rows with blanks: statsmodels summary_col live."""
    ours, refs = fits
    t = table(ours, labels=["GRADE I", "GRADE II"], stars=(0.1, 0.05, 0.01), digits=4, stats=[])
    ref = summary_col(refs, stars=True, float_format="%.4f").tables[0]
    frame = t.to_frame()
    assert frame.index.get_level_values(0)[::2].tolist() == ref.index[::2].tolist()
    np.testing.assert_array_equal(frame.to_numpy(), ref.to_numpy().astype(str))
    assert t.note == "* p<0.1, ** p<0.05, *** p<0.01"


def test_statistics_rows_and_default_stars(fits):
    """Bottom rows: N, llf, AIC, BIC, pseudo-R2 (statsmodels Logit live, 3 decimals), covariance; Stata-style stars."""
    ours, refs = fits
    t = table(ours, stars=True)
    frame = t.to_frame()
    stats = frame.xs("stat", level="part")
    assert stats.index.tolist() == ["N", "Log-likelihood", "AIC", "BIC", "Pseudo R2", "Covariance"]
    for j, ref in enumerate(refs):
        col = stats.iloc[:, j]
        assert col["N"] == "32" and col["Covariance"] == "nonrobust"
        for row, value in [("Log-likelihood", ref.llf), ("AIC", ref.aic), ("BIC", ref.bic), ("Pseudo R2", ref.prsquared)]:
            assert col[row] == f"{value:.3f}"
    # p(PSI) = 0.0255 in the full model: one star at 0.05/0.01/0.001; p(Intercept, small) = 0.0082: two
    assert frame.loc[("PSI", "coef"), "(2)"].endswith("2.379*") and frame.loc[("Intercept", "coef"), "(1)"].endswith("**")
    assert t.note == "* p<0.05, ** p<0.01, *** p<0.001"
    assert table(ours).note == "" and "*" not in table(ours).to_frame().to_numpy().sum()


def test_ci_interval_order_and_rename(fits):
    """CIs in brackets equal statsmodels' coef -/+ z_{0.95} se (live, 3 decimals); order and rename applied."""
    ours, refs = fits
    t = table(ours, interval="ci", alpha=0.1, order=["PSI", "GPA"], rename={"GPA": "grade point avg"}, stats=["nobs"])
    frame = t.to_frame()
    assert frame.index.get_level_values(0)[::2].tolist()[:4] == ["PSI", "grade point avg", "Intercept", "TUCE"]
    z = scipy.stats.norm.ppf(0.95)
    b, se = refs[1].params["GPA"], refs[1].bse["GPA"]
    assert frame.loc[("grade point avg", "ci"), "(2)"] == f"[{b - z * se:.3f}, {b + z * se:.3f}]"
    assert frame.loc[("PSI", "ci"), "(1)"] == ""
    assert Interval("se") is Interval.SE


def test_errors(fits):
    """Typed errors for an empty list, bad labels, unknown statistics and unknown order names."""
    ours, _ = fits
    with pytest.raises(SpecificationError, match="no results"):
        table([])
    with pytest.raises(SpecificationError, match="labels"):
        table(ours, labels=["a"])
    with pytest.raises(SpecificationError, match="unknown statistics"):
        table(ours, stats=["r2"])
    with pytest.raises(SpecificationError, match="order names"):
        table(ours, order=["nope"])
    with pytest.raises(ValueError):
        table(ours, interval="bands")


def test_text_rendering_aligns_numbers(fits):
    """str(): numbers right-aligned on the decimal point past the stars (every coefficient ends in the same column)."""
    ours, _ = fits
    lines = str(table(ours, stars=True, stats=["nobs"])).splitlines()
    coef_lines = [line for line in lines if line.startswith(("Intercept", "GPA"))]
    ends = {line.index(".", 20) for line in coef_lines}  # decimal point of the second column
    assert len(ends) == 1


@pytest.fixture(scope="module")
def rendered(fits):
    ours, _ = fits
    return table(ours, labels=["small & simple", "full_model"], stars=True, stats=["nobs", "prsquared"],
                 rename={"TUCE": "TUCE_score"})


def test_to_markdown(rendered: ResultsTable):
    """Markdown: a header, an alignment row, one row per cell row, all with the same number of pipes; the note after."""
    md = rendered.to_markdown().splitlines()
    table_lines = md[: md.index("")]
    assert {line.count("|") for line in table_lines} == {4}
    assert set(table_lines[1].replace("|", "").replace(":", "")) == {"-"}
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in table_lines]
    assert cells[0][1:] == ["small & simple", "full_model"]
    assert len(cells) - 2 == len(rendered.to_frame())
    assert cells[2] == ["Intercept", rendered.to_frame().iloc[0, 0], rendered.to_frame().iloc[0, 1]]
    assert md[-1] == rendered.note


def test_to_latex_booktabs(rendered: ResultsTable):
    """LaTeX: tabular with booktabs rules, '&' and '_' escaped, one row per cell row, a midrule before the statistics."""
    tex = rendered.to_latex().splitlines()
    assert tex[0] == "\\begin{tabular}{lcc}" and tex[1] == "\\toprule" and tex[-1] == "\\end{tabular}"
    assert "\\bottomrule" in tex and tex.count("\\midrule") == 2
    assert tex[2] == " & small \\& simple & full\\_model \\\\"
    assert any(line.startswith("TUCE\\_score & ") for line in tex)
    rows = [line for line in tex if line.endswith("\\\\") and not line.startswith("\\multicolumn")]
    assert len(rows) == 1 + len(rendered.to_frame())
    assert all(line.count("&") - line.count("\\&") == 2 for line in rows)


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.rows[-1].append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def test_to_html(rendered: ResultsTable):
    """HTML: parsed back with html.parser, the cells equal to_frame() (escaped '&' restored), the note in tfoot."""
    parser = _Cells()
    out = rendered.to_html()
    parser.feed(out)
    frame = rendered.to_frame()
    assert parser.rows[0] == ["", "small & simple", "full_model"]
    body = parser.rows[1:-1]
    assert [r[1:] for r in body] == frame.to_numpy().tolist()
    assert parser.rows[-1] == [rendered.note]
    assert "small &amp; simple" in out and rendered._repr_html_() == out


def test_a_fit_that_did_not_converge_is_marked_in_its_column(fits):
    """A column whose fit is not a certified maximum (here maxiter=0 from zeros: its own certificate
    fails) gets a 'Converged' row (NO) and a note naming it, in text, Markdown and LaTeX; tables of
    converged fits have no such row."""
    df = hs.datasets.load("spector")
    with pytest.warns(ConvergenceWarning):
        stopped = hs.logit("GRADE ~ GPA", df).fit(maxiter=0)
    assert not stopped.converged
    t = table([fits[0][0], stopped], labels=["ok", "stopped"])
    frame = t.to_frame()
    assert frame.loc[("Converged", "stat")].tolist() == ["yes", "NO"]
    for text in (str(t), t.to_markdown(), t.to_latex()):
        assert "not converged: stopped" in text
    assert "Converged" not in str(table(fits[0]))
