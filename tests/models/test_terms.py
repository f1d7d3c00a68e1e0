"""Formula data preparation: the formula is parsed once per distinct formula string.

Reference: the layout issue (the formula was parsed twice per model); formulaic's own parser.
"""

from __future__ import annotations

import pandas as pd

import hessstats as hs
from hessstats.models import terms


def test_one_parse_per_formula():
    terms._parsed.cache_clear()
    df = hs.datasets.load("spector")
    hs.logit("GRADE ~ GPA + TUCE", df)
    info = terms._parsed.cache_info()
    assert info.misses == 1 and info.hits >= 1  # prepare and matrices share one parse
    hs.probit("GRADE ~ GPA + TUCE", df)
    assert terms._parsed.cache_info().misses == 1


def test_rhs_matrix_uses_the_same_parser():
    X = terms.rhs_matrix("~ x", pd.DataFrame({"x": [0.5, 1.5, 2.0]}))
    assert list(X.columns) == ["Intercept", "x"]
