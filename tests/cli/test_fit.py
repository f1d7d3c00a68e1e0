"""hessstats.cli.fit: option checks of the fit/snapshot/check commands."""

from __future__ import annotations

import pytest


def test_equation_options_are_checked_by_the_restricted_grammar():
    """Closed form (security): biprobit's ``second`` and heckman's ``selection`` are formulas too; code in
    them is refused by the grammar before any formula library sees it (exit status 2, typed message)."""
    from hessstats.cli.fit import check_options
    from hessstats.errors import SpecificationError

    ok = check_options("biprobit", {"second": "y2 ~ x"}, error=SpecificationError, origin="--option")
    assert ok == {"second": "y2 ~ x"}
    for model, key in (("biprobit", "second"), ("heckman", "selection")):
        with pytest.raises(SpecificationError):
            check_options(model, {key: "y ~ I(__import__('os').system('id'))"}, error=SpecificationError,
                          origin="--option")
