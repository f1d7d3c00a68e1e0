"""The command line with untrusted inputs (issue 11): snapshots, data files and options that are
crafted or broken get a typed one-paragraph error and exit 2 -- never code execution, never a
traceback, never exit 1 (which means drift).

References: the exit statuses documented in ``hessstats --help`` (0 ok, 1 drift, 2 usage/input
error); formulaic 1.2 evaluates formula terms as Python (shown in tests/models/test_grammar.py);
statsmodels 0.15 ``smf.logit`` on spector for the fits that must still work (1e-8 relative);
POSIX ``umask(2)`` for the mode of written files.
"""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from hessstats import datasets
from hessstats.cli import fit as cli_fit
from hessstats.cli import main

SPEC = "GRADE ~ GPA + TUCE + PSI"
LOGIT = ["--model", "logit", "--formula", SPEC]


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture
def snapshot(tmp_path):
    path = tmp_path / "snap.json"
    assert main(["snapshot", "spector", *LOGIT, str(path)]) == 0
    return path


def _rewrite(path, **refit):
    record = json.loads(path.read_text())
    record["description"]["refit"].update(refit)
    path.write_text(json.dumps(record))


# ------------------------------------------------------------------------------ 1. code execution
def _payloads(marker):
    touch = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    return [
        {"formula": f"GRADE ~ GPA + I({touch} or GPA)"},
        {"formula": f"GRADE ~ GPA + {touch}"},
        {"formula": f"GRADE ~ np.log(GPA) + {touch}"},
        {"formula": "GRADE ~ GPA + I((lambda: __import__('os'))())"},
        {"formula": "GRADE ~ GPA + I(GPA.__class__)"},
        {"formula": f"GRADE ~ GPA + {{{touch}}}"},
        {"model": "zip", "formula": "GRADE ~ GPA", "options": {"inflation": f"~ I({touch})"}},
        {"formula": "GRADE ~ GPA + Q(\"x) + " + touch.replace("'", "") + " + Q(y\")"},
    ]


@pytest.mark.parametrize("index", range(8))
def test_check_never_runs_code_from_a_snapshot(tmp_path, snapshot, capsys, index):
    marker = tmp_path / "ran"
    _rewrite(snapshot, **_payloads(marker)[index])
    code, out, err = run(["check", str(snapshot)], capsys)
    assert code == 2 and "not allowed" in err and not marker.exists()


def test_check_formula_override_is_the_users(tmp_path, snapshot, capsys):
    """--formula replaces the stored (here malicious) formula; the stored one is never parsed or run."""
    marker = tmp_path / "ran"
    _rewrite(snapshot, formula=f"GRADE ~ I(__import__('pathlib').Path({str(marker)!r}).touch())")
    code, out, _ = run(["check", str(snapshot), "--formula", SPEC], capsys)
    assert code == 0 and out.startswith(f"OK {snapshot}") and not marker.exists()
    code, _, err = run(["check", str(snapshot), "--formula", "GRADE ~ GPA + eval('1')"], capsys)
    assert code == 2 and "not allowed: 'eval'" in err


def test_fit_and_snapshot_check_the_formula_and_options_too(tmp_path, capsys):
    marker = tmp_path / "ran"
    touch = f"I(__import__('pathlib').Path({str(marker)!r}).touch())"
    for argv in (["fit", "spector", "-m", "logit", "-f", f"GRADE ~ GPA + {touch}"],
                 ["snapshot", "spector", "-m", "logit", "-f", f"GRADE ~ {touch}", str(tmp_path / "s.json")],
                 ["fit", "randhie", "-m", "zip", "-f", "mdvis ~ lncoins", "--option", f"inflation=~ {touch}"]):
        code, _, err = run(argv, capsys)
        assert code == 2 and "not allowed" in err
    assert not marker.exists() and not (tmp_path / "s.json").exists()


def test_a_csv_header_is_a_name_never_code(tmp_path, capsys):
    """A column *named* like code is only ever a name: used in backticks it fits like any column.

    (No '.' in the name: formulaic's ``required_variables`` splits backticked names at dots.)"""
    marker = tmp_path / "ran"
    if "." in str(marker):
        pytest.skip("the temporary path has a dot")
    evil = f"exec(\"open({str(marker)!r}, 'w')\")"
    df = datasets.load("spector").rename(columns={"GPA": evil})
    df.to_csv(tmp_path / "d.csv", index=False)
    code, out, _ = run(["fit", str(tmp_path / "d.csv"), "-m", "logit", "-f", f"GRADE ~ `{evil}` + TUCE + PSI"], capsys)
    assert code == 0 and not marker.exists()
    sm = smf.logit(SPEC, datasets.load("spector")).fit(disp=0)
    assert f"{sm.params['GPA']:.6g}" in out
    code, _, err = run(["fit", str(tmp_path / "d.csv"), "-m", "logit", "-f", "GRADE ~ GPA"], capsys)
    assert code == 2 and "unknown column 'GPA'" in err


# ------------------------------------------------------------------------------ 2. crafted snapshots
@pytest.mark.parametrize("refit, needle", [
    ({"model": ["logit"]}, "unknown model"),
    ({"model": "nope"}, "unknown model 'nope'"),
    ({"model": "__import__"}, "unknown model"),
    ({"data": "spector"}, "invalid refit data"),
    ({"data": {}}, "invalid refit data"),
    ({"data": {"dataset": ["spector"]}}, "invalid refit data"),
    ({"data": {"dataset": "../../etc/passwd"}}, "invalid refit data"),
    ({"data": {"path": "evil.py"}}, "invalid refit data"),
    ({"data": {"path": "d.csv", "dataset": "spector"}}, "invalid refit data"),
    ({"formula": 5}, "must be a string"),
    ({"formula": "GRADE ~ nope"}, "unknown column 'nope'"),
    ({"cov_type": 5}, "invalid refit cov_type"),
    ({"cov_type": "x" * 10_000}, "invalid refit cov_type"),
    ({"groups": 5}, "invalid refit groups"),
    ({"options": [1]}, "invalid refit options"),
    ({"options": {"bogus": 1}}, "unknown option 'bogus'"),
    ({"options": {"separation": [1, 2]}}, "must be a single value"),
    ({"options": {"separation": "no"}}, "true or false"),
    ({"options": {"missing": {"a": 1}}}, "must be a single value"),
    ({"options": {"missing": "maybe"}}, "unknown missing"),
    ({"extra": 1}, "unknown keys ['extra']"),
])
def test_crafted_refit_records_exit_2(snapshot, capsys, refit, needle):
    _rewrite(snapshot, **refit)
    code, _, err = run(["check", str(snapshot)], capsys)
    assert code == 2 and needle in err, err


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, "[1, 2]", '{"format": "hessstats-snapshot", "format_version": 1}',
                                  '{"nobs": Infinity}', ""])
def test_crafted_snapshot_files_exit_2(tmp_path, capsys, text):
    path = tmp_path / "s.json"
    path.write_text(text)
    code, _, err = run(["check", str(path)], capsys)
    assert code == 2 and err.startswith("hessstats check: error:")


def test_snapshot_with_infinite_nobs_is_corrupt_not_drift(snapshot, capsys):
    """Before: OverflowError escaped main() as a traceback with exit 1 -- read by CI as "drifted"."""
    snapshot.write_text(snapshot.read_text().replace('"nobs": 32', '"nobs": Infinity'))
    code, _, err = run(["check", str(snapshot)], capsys)
    assert code == 2 and "corrupt snapshot file" in err


def test_unexpected_exceptions_exit_2_not_1(monkeypatch, capsys):
    def boom(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(cli_fit, "fit_formula", boom)
    code, _, err = run(["fit", "spector", *LOGIT], capsys)
    assert code == 2 and "unexpected RuntimeError: simulated bug" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setattr(cli_fit, "fit_formula", lambda *a, **k: (_ for _ in ()).throw(RecursionError("deep")))
    assert run(["fit", "spector", *LOGIT], capsys)[0] == 2


# ------------------------------------------------------------------------------ 3. overwriting inputs, modes
def test_output_that_is_the_input_is_refused(tmp_path, capsys):
    data = tmp_path / "spector.csv"
    datasets.load("spector").to_csv(data, index=False)
    before = data.read_bytes()
    (tmp_path / "link.csv").symlink_to(data)
    os.link(data, tmp_path / "hard.csv")
    (tmp_path / "sub").mkdir()
    for out in (str(data), str(tmp_path / "link.csv"), str(tmp_path / "hard.csv"), str(tmp_path / "sub" / ".." / "spector.csv")):
        code, _, err = run(["fit", str(data), *LOGIT, "--output", out], capsys)
        assert code == 2 and "is the input data file" in err
        code, _, err = run(["snapshot", str(data), *LOGIT, out], capsys)
        assert code == 2 and "is the input data file" in err
    code, _, err = run(["fit", "spector", *LOGIT, "--output", str(datasets.data_dir() / "spector.csv")], capsys)
    assert code == 2 and "is the input data file" in err
    assert data.read_bytes() == before


def test_written_files_get_normal_permissions(tmp_path, capsys):
    old = os.umask(0o022)
    try:
        assert main(["fit", "spector", *LOGIT, "--output", str(tmp_path / "se.md")]) == 0
        assert main(["snapshot", "spector", *LOGIT, str(tmp_path / "s.json")]) == 0
        os.chmod(tmp_path / "s.json", 0o664)
        assert main(["snapshot", "spector", *LOGIT, str(tmp_path / "s.json")]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "se.md").st_mode) == 0o644  # not mkstemp's 0600
    assert stat.S_IMODE(os.stat(tmp_path / "s.json").st_mode) == 0o664  # the replaced file's mode


# ------------------------------------------------------------------------------ 5. write errors
def test_output_write_errors_are_typed(tmp_path, capsys):
    (tmp_path / "dir.md").mkdir()
    (tmp_path / "file").write_text("x")
    for target in (tmp_path / "dir.md", tmp_path / "file" / "se.md"):
        code, _, err = run(["fit", "spector", *LOGIT, "--output", str(target)], capsys)
        assert code == 2 and "cannot write" in err and "fix:" in err
        code, _, err = run(["snapshot", "spector", *LOGIT, str(target.with_suffix(".json"))
                            if target.name == "se.md" else str(target)], capsys)
        assert code == 2 and "cannot write" in err
    assert sorted(os.listdir(tmp_path)) == ["dir.md", "file"] and os.listdir(tmp_path / "dir.md") == []


# ------------------------------------------------------------------------------ 6. malformed numeric cells
@pytest.mark.parametrize("cells", [{3: "3?"}, {3: "1,5"}, {3: "3?", 17: "2..5"}, {0: "n/a?"}])
def test_malformed_numeric_cells_are_reported(tmp_path, capsys, cells):
    df = datasets.load("spector").astype({"GPA": object})
    for row, value in cells.items():
        df.loc[row, "GPA"] = value
    df.to_csv(tmp_path / "d.csv", index=False)
    code, _, err = run(["fit", str(tmp_path / "d.csv"), *LOGIT], capsys)
    assert code == 2 and "column 'GPA' is numeric except for" in err
    for row, value in cells.items():
        assert f"row {row}: '{value}'" in err


def test_whitespace_around_numbers_is_read_as_numbers(tmp_path, capsys):
    """A column whose cells are numbers with spaces gives the statsmodels fit of the clean data."""
    df = datasets.load("spector").astype({"GPA": object})
    df["GPA"] = [f" {v} " if i % 3 == 0 else str(v) for i, v in enumerate(datasets.load("spector")["GPA"])]
    df.to_csv(tmp_path / "d.csv", index=False)
    code, _, _ = run(["fit", str(tmp_path / "d.csv"), *LOGIT, "-o", str(tmp_path / "t.csv")], capsys)
    assert code == 0
    sm = smf.logit(SPEC, datasets.load("spector")).fit(disp=0)
    np.testing.assert_allclose(pd.read_csv(tmp_path / "t.csv", index_col=0)["coef"], sm.params, rtol=1e-8)


def test_categorical_text_columns_still_work(tmp_path, capsys):
    """Labels stay categories; a numeric-looking column is categorical when the formula says C(...)."""
    df = datasets.load("spector").assign(grp=lambda d: np.where(d["TUCE"] > 22, "high", "low"),
                                         code=lambda d: [str(v) if i != 5 else "x" for i, v in enumerate(d["TUCE"])])
    df.to_csv(tmp_path / "d.csv", index=False)
    sm = smf.logit("GRADE ~ GPA + C(grp)", df).fit(disp=0)
    code, out, _ = run(["fit", str(tmp_path / "d.csv"), "-m", "logit", "-f", "GRADE ~ GPA + grp"], capsys)
    assert code == 0 and f"{sm.params['GPA']:.6g}" in out
    assert run(["fit", str(tmp_path / "d.csv"), "-m", "logit", "-f", "GRADE ~ GPA + C(code)"], capsys)[0] == 0
    code, _, err = run(["fit", str(tmp_path / "d.csv"), "-m", "logit", "-f", "GRADE ~ GPA + code"], capsys)
    assert code == 2 and "column 'code' is numeric except for" in err


# ------------------------------------------------------------------------------ 7. bad files and options
@pytest.mark.parametrize("name, content", [
    ("t.parquet", "truncated"), ("e.parquet", b""), ("bin.csv", b"\xff\xfe\x00GRADE,GPA\n\x00\x01,2\n"),
    ("empty.csv", b""), ("header.csv", b"GRADE,GPA,TUCE,PSI\n"), ("ragged.csv", b'GRADE,GPA\n1,2,3,4\n"open\n'),
    ("dir.csv", "directory"),
])
def test_unreadable_data_files_exit_2(tmp_path, capsys, name, content):
    path = tmp_path / name
    if content == "truncated":
        datasets.load("spector").to_parquet(tmp_path / "full.parquet")
        path.write_bytes((tmp_path / "full.parquet").read_bytes()[:300])
    elif content == "directory":
        path.mkdir()
    else:
        path.write_bytes(content)
    code, _, err = run(["fit", str(path), *LOGIT], capsys)
    assert code == 2 and err.startswith("hessstats fit: error:") and ("cannot read" in err or "no data" in err
                                                                     or "not found" in err)


@pytest.mark.parametrize("argv", [
    ["fit", "spector", *LOGIT, "--bogus"], ["snapshot", "spector", *LOGIT, "s.json", "--bogus"],
    ["check", "s.json", "--bogus"], ["hessian", "x**2", "--at", "x=1", "--bogus"], ["validate", "--bogus"],
    ["fit", "spector", *LOGIT, "--alpha", "2"], ["fit", "spector", *LOGIT, "--alpha", "nan"],
    ["check", "s.json", "--rtol", "nan"], ["check", "s.json", "--rtol", "-1"], ["check", "s.json", "--atol", "coef=x"],
])
def test_argument_errors_are_usage_errors(argv, capsys):
    code, _, err = run(argv, capsys)
    assert code == 2 and "usage: hessstats" in err


@pytest.mark.parametrize("option, needle", [
    ("bogus=1", "unknown option 'bogus' for model logit"),
    ("separation=[1,2]", "must be a single value"),
    ("missing=NaN", "unknown missing"),
    ("missing=" + "{\"a\":" * 50 + "1" + "}" * 50, "must be a single value"),
])
def test_model_option_errors_exit_2(option, needle, capsys):
    code, _, err = run(["fit", "spector", *LOGIT, "--option", option], capsys)
    assert code == 2 and needle in err


def test_validate_unknown_model_is_a_usage_error_not_a_pass(capsys):
    """Before: `validate --model nope` printed "0 of 0 comparisons passed" and exited 0 (a silent pass)."""
    code, _, err = run(["validate", "--no-live", "--model", "nope"], capsys)
    assert code == 2 and "invalid choice: 'nope'" in err
