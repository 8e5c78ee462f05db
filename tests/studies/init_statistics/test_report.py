"""`depthlab reproduce init-statistics --smoke`: its files and report."""

from __future__ import annotations

import pytest

from depthlab.report.document import Outcome
from depthlab.report.summary import VerdictSummary
from depthlab.studies.init_statistics import demos as study
from depthlab.studies.init_statistics.claims import LECTURE_RTOL

STEMS = ("tanh_histograms", "tanh_std", "relu_histograms", "relu_std", "matrix_products", "symmetry")
SECTIONS = ("Setup", "Weight scale and tanh activations", "ReLU: N(0, 1/n) against He N(0, 2/n)", "Products of random matrices",
            "Symmetry of constant initialization")


@pytest.fixture(scope="module")
def smoke(smoke_reproduction):
    result = smoke_reproduction("init-statistics")
    return result.out, result.report


def test_smoke_writes_every_figure_in_png_and_svg(smoke, assert_figures):
    assert_figures(smoke[0], STEMS)


def test_smoke_tables_hold_every_row_beside_the_lecture(smoke, read_csv):
    out, _ = smoke
    tanh = read_csv(out / "tanh_std.csv")
    assert len(tanh) == 4 * study.DEPTH
    assert [r["lecture_std"] for r in tanh if r["init"] == "0.01·N(0,1)"][:4] == ["0.21", "0.048", "0.011", ""]
    assert [r["lecture_std"] for r in tanh if r["init"] == "LeCun N(0,1/n)"][:3] == ["0.63", "0.49", "0.41"]
    for row in tanh:
        if row["lecture_std"]:
            assert float(row["std"]) == pytest.approx(float(row["lecture_std"]), rel=LECTURE_RTOL)
    relu = read_csv(out / "relu_std.csv")
    assert {r["init"] for r in relu} == {"LeCun N(0,1/n)", "He N(0,2/n)"} and len(relu) == 2 * study.DEPTH
    products = read_csv(out / "matrix_products.csv")
    assert [int(r["factors"]) for r in products] == list(range(1, study.PRODUCT_FACTORS + 1))
    assert float(products[-1]["expected σ² = 1"]) == pytest.approx(1e100)
    symmetry = read_csv(out / "symmetry.csv")
    assert [(float(r["dropout"]), int(r["layer"])) for r in symmetry] == [(0.0, 1), (0.0, 2), (0.5, 1), (0.5, 2)]
    assert [float(r["max_row_difference"]) == 0 for r in symmetry] == [True, True, False, False]


def test_smoke_report_embeds_figures_and_has_every_section(smoke, read_study_report):
    out, report = smoke
    assert report == out / "report.html"
    text = read_study_report(report, STEMS, SECTIONS)
    assert "Budget &#x27;smoke&#x27;" in text
    assert VerdictSummary.read(out / "verdicts.json").counts()[Outcome.NOT_REPRODUCED] == 0
    assert '<span class="tag">not reproduced</span>' not in text
