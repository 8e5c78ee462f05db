"""`depthlab reproduce glorot2010 --smoke` end to end, on Shapeset and a small learnable
fake MNIST, checked file by file and in a real headless browser."""

import csv
import json
import re

import pytest

from depthlab.cli import main
from depthlab.references import GLOROT_TABLE1
from depthlab.report.document import Outcome, format_duration
from depthlab.report.summary import VerdictSummary
from depthlab.studies.glorot2010.budgets import BUDGETS
from depthlab.studies.glorot2010.plan import CONFIGURATIONS, grid

FIGURES = [f"figure{n:02d}" for n in range(1, 13)] + ["figure_theory"]


@pytest.fixture(scope="module")
def smoke(smoke_reproduction):
    result = smoke_reproduction("glorot2010")
    return result.out, result.argv


def test_every_figure_in_png_and_svg(smoke):
    out, _ = smoke
    for stem in FIGURES:
        for suffix in ("png", "svg"):
            path = out / "figures" / f"{stem}.{suffix}"
            assert path.is_file() and path.stat().st_size > 1000, path


def test_table1_has_ours_beside_the_papers(smoke):
    out, _ = smoke
    rows = list(csv.DictReader(open(out / "table1.csv")))
    by_label = {row[next(iter(row))]: row for row in rows}
    assert set(GLOROT_TABLE1) <= set(by_label)
    text = (out / "table1.md").read_text()
    assert "27.15" in text and "15.6" in text  # the paper's Tanh and Tanh N on Shapeset
    ours = [v for row in rows for k, v in row.items() if "ours" in k.lower() and v not in ("", None)]
    assert len(ours) >= 2 * 5  # five paper rows on two data sets
    assert all(re.fullmatch(r"\d+(\.\d+)?|diverged.*", v) for v in ours)


def test_every_run_is_an_ordinary_run_directory(smoke):
    out, _ = smoke
    budget = json.loads((out / "budget.json").read_text())
    assert budget["budget"] == "smoke" and budget["datasets"] == ["shapeset", "mnist"]
    specs = grid(BUDGETS["smoke"], ["shapeset", "mnist"])
    assert len(specs) == 2 * len(CONFIGURATIONS) * len(BUDGETS["smoke"].learning_rates)
    for spec in specs:
        status = json.loads((out / "runs" / spec.name / "status.json").read_text())["status"]
        assert status in ("completed", "diverged")


def test_report_holds_every_figure_table_and_a_computed_verdict(smoke, read_report):
    out, _ = smoke
    page = read_report(out / "report.html")
    assert all(src.startswith("data:image/") for src in page.images)
    assert len(page.images) >= len(FIGURES)
    assert any("Table 1" in h for h in page.headings) and any("Claims" in h for h in page.headings)
    assert len(page.verdicts) >= 6
    assert set(page.verdicts) <= set(Outcome.names())


def test_running_again_keeps_finished_runs(smoke, isolated_roots):
    out, argv = smoke
    stamp = (out / "runs/shapeset/tanh/lr0.05/final.json").stat().st_mtime_ns
    assert main(argv) == 0
    assert (out / "runs/shapeset/tanh/lr0.05/final.json").stat().st_mtime_ns == stamp


def test_unavailable_dataset_is_a_one_line_error(tmp_path, capsys):
    code = main(["reproduce", "glorot2010", "--smoke", "--datasets", "cifar10", "--out", str(tmp_path / "o"),
                 "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "data set 'cifar10' has no files here" in err and err.count("\n") == 1


def test_report_loads_in_a_headless_browser_with_every_figure(smoke, assert_loads_in_browser):
    out, _ = smoke
    assert_loads_in_browser(out / "report.html", len(FIGURES))


def test_the_page_opens_with_the_summary_and_shows_each_figure_once(smoke, read_report):
    out, _ = smoke
    text = (out / "report.html").read_text()
    page = read_report(out / "report.html")
    assert page.headings[:2] == ["Summary of the verdicts", "Claims of the paper, checked on our runs"]
    summary = VerdictSummary.read(out / "verdicts.json")
    assert [row.verdict for row in summary.rows] == page.verdicts  # the cards, in order
    for stem in FIGURES:
        assert text.count(f'<figure id="figure-{stem}">') == 1, stem
    assert len(page.images) == len(FIGURES)


def test_the_intro_says_the_run_time_in_the_unit_it_needs(smoke):
    out, _ = smoke
    seconds = sum(json.loads(path.read_text()).get("seconds", 0.0) for path in (out / "runs").glob("**/final.json"))
    assert f"trained in {format_duration(seconds)} of run time" in (out / "report.html").read_text()


def test_the_selection_marks_each_chosen_rate_and_the_environment_reads_down(smoke, read_report):
    out, _ = smoke
    page = read_report(out / "report.html")
    rows = page.table("Every run of the grid")
    by_run = {}
    for row in rows:
        by_run.setdefault(row["run"].rsplit("/", 1)[0], []).append(row)
    for runs in by_run.values():  # per data set and configuration: the lowest validation error is chosen
        best = min((r for r in runs if r["validation error (%)"]), key=lambda r: float(r["validation error (%)"]))
        assert [r["run"] for r in runs if r.get("chosen") == "✓"] == [best["run"]]
    environment = page.table("Versions and machine")
    assert [list(row) for row in environment] == [["setting", "value"]] * len(environment)
    assert {"torch", "python", "platform"} <= {row["setting"] for row in environment}
