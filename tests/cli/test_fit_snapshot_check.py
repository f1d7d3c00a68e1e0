"""The ``hessstats`` command line (issue 6): fit, snapshot, check, help, exit statuses.

Reference values: statsmodels 0.15 ``smf.logit`` on the spector data (analytic Newton; 1e-8
relative per DESIGN.md); for pass-through options (cov_type, groups) the Python API on the same
data; exit statuses as documented in ``hessstats --help`` (0 ok, 1 drift, 2 usage).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from hessstats import datasets, formula
from hessstats.cli import main
from hessstats.core import covariance

ROOT = Path(__file__).resolve().parents[2]
SPEC = "GRADE ~ GPA + TUCE + PSI"
LOGIT = ["--model", "logit", "--formula", SPEC]


@pytest.fixture(scope="module")
def sm_logit():
    return smf.logit(SPEC, datasets.load("spector")).fit(disp=0)


@pytest.fixture
def csv_copy(tmp_path):
    path = tmp_path / "spector.csv"
    datasets.load("spector").to_csv(path, index=False)
    return path


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_fit_prints_table_and_writes_csv(tmp_path, capsys, sm_logit):
    out_csv = tmp_path / "se.csv"
    code, out, _ = run(["fit", "spector", *LOGIT, "--output", str(out_csv)], capsys)
    assert code == 0 and "Log-likelihood:" in out and "GPA" in out and f"wrote {out_csv}" in out
    table = pd.read_csv(out_csv, index_col="parameter")
    assert list(table.columns) == ["coef", "std_err", "z", "p_value", "ci_lower", "ci_upper"]
    np.testing.assert_allclose(table["coef"], sm_logit.params[table.index], rtol=1e-8)
    np.testing.assert_allclose(table["std_err"], sm_logit.bse[table.index], rtol=1e-8)


def test_fit_output_formats(tmp_path, capsys, sm_logit):
    for ext in ("json", "md", "tex"):
        assert main(["fit", "spector", *LOGIT, "--alpha", "0.1", "-o", str(tmp_path / f"t.{ext}")]) == 0
    out = capsys.readouterr().out
    assert "ci_lower" in out
    record = json.loads((tmp_path / "t.json").read_text())
    coefs = {p["name"]: p["coef"] for p in record["parameters"]}
    np.testing.assert_allclose([coefs[n] for n in sm_logit.params.index], sm_logit.params, rtol=1e-8)
    lower = {p["name"]: p["ci_lower"] for p in record["parameters"]}
    np.testing.assert_allclose([lower[n] for n in sm_logit.params.index], sm_logit.conf_int(0.1)[0], rtol=1e-8)
    md = (tmp_path / "t.md").read_text().splitlines()
    assert md[0] == "| parameter | coef | std_err | z | p_value | ci_lower | ci_upper |" and len(md) == 2 + 4
    assert md[3].startswith(f"| GPA | {sm_logit.params['GPA']:.6g} |")
    tex = (tmp_path / "t.tex").read_text()
    assert tex.startswith("\\begin{tabular}{lrrrrrr}") and "std\\_err" in tex and tex.count("\\\\") == 5
    assert main(["fit", "spector", *LOGIT, "-o", str(tmp_path / "t.xlsx")]) == 2


def test_fit_passes_cov_type_and_groups(tmp_path, capsys):
    """--cov-type cluster --groups COLUMN gives what the Python API gives with those labels."""
    df = datasets.load("spector").assign(firm=np.arange(32) // 4)
    df.to_csv(tmp_path / "g.csv", index=False)
    assert main(["fit", str(tmp_path / "g.csv"), *LOGIT, "--cov-type", "cluster", "--groups", "firm",
                 "-o", str(tmp_path / "c.csv")]) == 0
    api = formula.from_formula("logit", SPEC, df).fit(cov_type="cluster", groups=df["firm"].to_numpy())
    np.testing.assert_allclose(pd.read_csv(tmp_path / "c.csv", index_col=0)["std_err"], api.bse, rtol=1e-12)
    code, _, err = run(["fit", str(tmp_path / "g.csv"), *LOGIT, "--cov-type", "cluster", "--groups", "nope"], capsys)
    assert code == 2 and "unknown column 'nope'" in err


def test_snapshot_then_check_ok(tmp_path, capsys):
    snap = tmp_path / "snaps" / "logit.json"
    code, out, _ = run(["snapshot", "spector", *LOGIT, str(snap)], capsys)
    assert code == 0 and out.startswith(f"wrote {snap}")
    refit = json.loads(snap.read_text())["description"]["refit"]
    assert refit == {"data": {"dataset": "spector"}, "model": "logit", "formula": SPEC, "cov_type": "nonrobust",
                     "groups": None, "options": {}}
    code, out, _ = run(["check", str(snap)], capsys)
    assert code == 0 and out.startswith(f"OK {snap}: 4 parameters (coef, std_err, llf, nobs, converged)") and "same data" in out


def test_check_detects_drift_in_data(tmp_path, csv_copy, capsys):
    snap = tmp_path / "s.json"
    assert main(["snapshot", str(csv_copy), *LOGIT, str(snap)]) == 0
    assert json.loads(snap.read_text())["description"]["refit"]["data"] == {"path": "spector.csv"}
    df = pd.read_csv(csv_copy)
    df.loc[0, "GPA"] += 0.1  # one data value
    df.to_csv(csv_copy, index=False)
    capsys.readouterr()
    code, out, _ = run(["check", str(snap)], capsys)
    assert code == 1
    assert out.startswith(f"estimates differ from snapshot {snap}")
    assert any(line.split()[:2] == ["GPA", "coef"] for line in out.splitlines())
    assert "data fingerprint differs" in out
    assert run(["check", str(snap), "--rtol", "0.05"], capsys)[0] == 0  # drift is ~0.5%: loose tolerance passes
    assert run(["check", str(snap), "--rtol", "coef=0.05,std_err=0.05,llf=0.05"], capsys)[0] == 0
    assert run(["check", str(snap), "--data", "spector"], capsys)[0] == 0  # the original data again


@pytest.mark.parametrize("setup, argv_tail, needle", [
    (None, [], "snapshot file not found"),
    ("corrupt", [], "corrupt snapshot file"),
    ("old", [], "unsupported snapshot format version"),
    ("unknown-model", [], "unknown model 'nope'"),
    ("no-refit", [], "does not record how to refit"),
    ("ok", ["--rtol", "abc"], "invalid tolerance value"),
    ("ok", ["--data", "no_such.csv"], "data file not found"),
    ("ok", ["--data", "no_such_dataset"], "no data file or bundled dataset"),
])
def test_check_usage_errors_exit_2(tmp_path, capsys, setup, argv_tail, needle):
    snap = tmp_path / "s.json"
    if setup is not None:
        assert main(["snapshot", "spector", *LOGIT, str(snap)]) == 0
        record = json.loads(snap.read_text())
        if setup == "corrupt":
            snap.write_text(snap.read_text()[:100])
        elif setup == "old":
            snap.write_text(json.dumps({**record, "format_version": 0}))
        elif setup == "unknown-model":
            record["description"]["refit"]["model"] = "nope"
            snap.write_text(json.dumps(record))
        elif setup == "no-refit":
            del record["description"]["refit"]
            snap.write_text(json.dumps(record))
    capsys.readouterr()
    code, out, err = run(["check", str(snap), *argv_tail], capsys)
    assert code == 2 and needle in err and "Traceback" not in err + out


def test_usage_errors_on_fit(capsys):
    for argv, needle in ((["fit", "spector", "--model", "nope", "--formula", "y ~ x"], "invalid choice: 'nope'"),
                         (["fit", "nonexistent.parquet", *LOGIT], "data file not found"),
                         (["fit", "spector", "--model", "logit", "--formula", "GRADE ~ nope"], "hessstats fit: error"),
                         (["fit", "spector", *LOGIT, "--option", "novalue"], "bad --option"),
                         ([], "usage: hessstats")):
        code, out, err = run(argv, capsys)
        assert code == 2 and needle in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--help"], ["fit", "--help"], ["snapshot", "--help"], ["check", "--help"]])
def test_help_reads_like_a_tool(argv, capsys):
    code, out, _ = run(argv, capsys)
    assert code == 0 and out.startswith("usage: hessstats") and "examples:" in out and "exit status:" in out


@pytest.mark.parametrize("command", ["fit", "snapshot"])
def test_help_lists_covariance_types_as_plain_sentences(command, capsys):
    """Every --cov-type value is listed once with a whole sentence of plain text (it was a run-on line
    of docstring fragments cut mid-sentence, with reStructuredText markup)."""
    out = run([command, "--help"], capsys)[1]
    listing = out.split("covariance types (--cov-type):\n", 1)[1].split("\n\n", 1)[0]
    names = [line.split()[0] for line in listing.splitlines() if not line.startswith(" " * 13)]
    assert names == sorted(covariance.REGISTRY)
    for text in covariance.available().values():
        assert text.endswith((".", ")")) and "``" not in text and ":class:" not in text and ":func:" not in text
    assert "``" not in out and ":class:" not in out


def test_help_lists_every_subcommand(capsys):
    out = run(["--help"], capsys)[1]
    for name in ("fit", "snapshot", "check", "hessian", "validate"):
        assert f"\n    {name}" in out


def test_real_subprocess(tmp_path):
    """`python -m hessstats` as a user runs it: snapshot, then check (exit 0), then a usage error (2)."""
    snap = tmp_path / "s.json"
    assert main(["snapshot", "spector", *LOGIT, str(snap)]) == 0
    done = subprocess.run([sys.executable, "-m", "hessstats", "check", str(snap)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"OK {snap}")


def test_warnings_are_one_readable_line(monkeypatch, capsys):
    """A HessstatsWarning during a command prints as 'hessstats CMD: Category: text', exit 0."""
    from hessstats.cli import fit as cli_fit
    from hessstats.errors import ConvergenceWarning, warn

    original = cli_fit.fit_formula

    def warning_fit(*args, **kwargs):
        warn("not converged (simulated)", ConvergenceWarning)
        return original(*args, **kwargs)

    monkeypatch.setattr(cli_fit, "fit_formula", warning_fit)
    code, out, err = run(["fit", "spector", *LOGIT], capsys)
    assert code == 0 and "GPA" in out
    assert err == "hessstats fit: ConvergenceWarning: not converged (simulated)\n"


def test_dispatch_to_other_subcommand_modules(capsys):
    """`hessian` (issue 5) and `validate` (issue 4) are reached through the same main()."""
    code, out, _ = run(["hessian", "x**2 + y**2", "--at", "x=0,y=0"], capsys)
    assert code == 0 and "minimum" in out.lower()  # gradient 0, Hessian diag(2, 2): a minimum
    code, _, err = run(["hessian", "x**", "--at", "x=1"], capsys)
    assert code == 2 and "Traceback" not in err
    code, out, _ = run(["validate", "--help"], capsys)
    assert code == 0 and out.startswith("usage: hessstats validate")
