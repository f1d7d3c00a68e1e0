"""The one progress-bar rule (hessstats._progress): a tqdm bar when asked (``True``), never when
told not to (``False``), and by default only when stderr is a terminal and the loop is long.

Reference: the rule as documented in ``progress()``'s docstring and the ``progress=`` options of
``hs.Model``, ``hs.hessian_blocked`` and ``res.profile_ci`` ("only on a terminal and for 5+
parameters"); the values with the bar must equal those without (exact). Covered elsewhere: row-block
bars (rows/test_source), ``profile_ci(progress=True)`` (inference/test_profile).
"""

from __future__ import annotations

import io
import sys

import jax.numpy as jnp
import numpy as np
import pytest

import hessstats as hs
from hessstats._progress import progress


class Terminal(io.StringIO):
    """A stand-in stderr that says it is a terminal."""

    def isatty(self):
        return True


def terminal(monkeypatch):
    """Make stderr a terminal (inside the test body: pytest re-installs its capture after fixtures)."""
    fake = Terminal()
    monkeypatch.setattr(sys, "stderr", fake)
    return fake


@pytest.mark.parametrize("show", [True, False, None])
def test_items_pass_through_unchanged(show, capsys):
    assert list(progress(iter(range(40)), 40, desc="demo", show=show)) == list(range(40))
    err = capsys.readouterr().err
    assert ("demo" in err) == (show is True)  # stderr is captured here: not a terminal, no default bar


@pytest.mark.parametrize("total, shown", [(15, False), (16, True)])
def test_default_on_a_terminal_needs_enough_items(monkeypatch, total, shown):
    """On a terminal the default bar needs at least ``minimum`` (16) items."""
    fake = terminal(monkeypatch)
    assert list(progress(range(total), total, desc="demo", unit="block")) == list(range(total))
    assert ("demo" in fake.getvalue()) == shown


def test_false_wins_even_on_a_terminal(monkeypatch):
    fake = terminal(monkeypatch)
    list(progress(range(100), 100, desc="demo", show=False))
    assert fake.getvalue() == ""


def test_hessian_columns_bar_when_asked(capsys):
    """hs.hessian_blocked(progress=True) shows 'Hessian columns'; the Hessian is the same (-n I)."""
    y = np.arange(6.0).reshape(3, 2)
    model = hs.Model(lambda p, d: -0.5 * jnp.sum((d - p["b"]) ** 2, axis=1), {"b": np.zeros(2)}, y)
    quiet = hs.hessian_blocked(model, np.zeros(2), block_size=1)
    assert "Hessian columns" not in capsys.readouterr().err
    loud = hs.hessian_blocked(model, np.zeros(2), block_size=1, progress=True)
    assert "Hessian columns" in capsys.readouterr().err
    np.testing.assert_array_equal(loud, quiet)
    np.testing.assert_array_equal(quiet, -3.0 * np.eye(2))


def test_profile_default_bar_needs_five_parameters_on_a_terminal(monkeypatch):
    """profile_ci's default: a bar on a terminal for 5+ parameters only."""
    fake = terminal(monkeypatch)
    y = np.array([0.5, 1.5, 2.0, 4.0, 3.0, 2.5])

    def loglike(p, d):
        return -0.5 * jnp.sum((d[:, None] - p["m"]) ** 2, axis=1)

    two = hs.fit(loglike, {"m": np.zeros(2)}, y)
    two.profile_ci()
    assert "profiling" not in fake.getvalue()
    five = hs.fit(loglike, {"m": np.zeros(5)}, y)
    five.profile_ci()
    assert "profiling" in fake.getvalue()
