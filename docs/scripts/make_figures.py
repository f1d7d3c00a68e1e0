"""Draw the figures of the documentation (docs/img/*.png) with the calls the pages show.

    python docs/scripts/make_figures.py              # writes docs/img/
    python docs/scripts/make_figures.py --out DIR    # writes elsewhere (the test suite does this)

Needs the plot extra (matplotlib). Prints one line per file written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

import hessstats as hs  # noqa: E402

IMG = Path(__file__).resolve().parent.parent / "img"


def coefplot(out: Path) -> Path:
    """docs/reporting.md, the five lines: three fits of the Spector & Mazzeo data."""
    df = hs.datasets.load("spector")
    fits = [hs.logit("GRADE ~ GPA + PSI", df).fit(), hs.logit("GRADE ~ GPA + TUCE + PSI", df).fit(),
            hs.probit("GRADE ~ GPA + TUCE + PSI", df).fit()]
    path = out / "coefplot.png"
    hs.coefplot(fits, labels=["small", "logit", "probit"]).figure.savefig(path, dpi=120)
    return path


def profile_and_drift(out: Path) -> Path:
    """docs/reporting.md, plots: the profile likelihood of GPA and a drift plot after one GPA value changes."""
    df = hs.datasets.load("spector")
    r_logit = hs.logit("GRADE ~ GPA + TUCE + PSI", df).fit()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    hs.profileplot(r_logit, "GPA", points=8, ax=left)
    edited = df.assign(GPA=df["GPA"].where(df.index != 1, df["GPA"] + 0.1))
    drift = hs.testing.compare_estimates(hs.logit("GRADE ~ GPA + TUCE + PSI", edited).fit(), r_logit,
                                         rtol={"coef": 1e-3, "std_err": 0.1})
    hs.driftplot(drift, ax=right)
    path = out / "profile_and_drift.png"
    fig.savefig(path, dpi=100)
    return path


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=IMG, help="output directory (default: docs/img)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    written = [coefplot(args.out), profile_and_drift(args.out)]
    for path in written:
        print(f"wrote {path}")
    plt.close("all")
    return written


if __name__ == "__main__":
    main()
