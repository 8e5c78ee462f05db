import csv

import pytest
from fakes import write_run

from depthlab.references import GLOROT_JACOBIAN, GLOROT_TABLE1
from depthlab.report.tables import write_table
from depthlab.store import RunDir
from depthlab.studies.glorot2010.tables import jacobian_table, selection_table, table1, table1_caption

# Glorot & Bengio (2010), Table 1, transcribed column by column:
# Shapeset-3×2, MNIST, CIFAR-10, Small-ImageNet.
PAPER = {
    "Softsign": (16.27, 1.64, 55.78, 69.14),
    "Softsign N": (16.06, 1.72, 53.8, 68.13),
    "Tanh": (27.15, 1.76, 55.9, 70.58),
    "Tanh N": (15.60, 1.64, 52.92, 68.57),
    "Sigmoid": (82.61, 2.21, 57.28, 70.66),
}


def fake_run(path, test_error=None, status="completed", lr=0.01, update=5000, probes=()):
    return write_run(path, probes, status=status, update=update,
                     final={"test_error": test_error} if test_error is not None else None, dataset="shapeset", lr=lr)


def test_paper_table_holds_the_published_numbers():
    assert GLOROT_TABLE1 == {label: dict(zip(("shapeset", "mnist", "cifar10", "small-imagenet"), values))
                            for label, values in PAPER.items()}
    assert GLOROT_JACOBIAN == {"Tanh": 0.5, "Tanh N": 0.8}


def test_table1_sets_ours_beside_the_paper(tmp_path):
    runs = {
        "shapeset": {"Tanh": fake_run(tmp_path / "a", 0.2412, lr=0.05, update=1200),
                     "Sigmoid": fake_run(tmp_path / "b", status="diverged", update=37),
                     "ReLU He": fake_run(tmp_path / "c", 0.18)},
        "fashion-mnist": {"Tanh N": fake_run(tmp_path / "d", 0.101)},
    }
    rows = {row["configuration"]: row for row in table1(runs)}
    assert list(rows) == ["Softsign", "Softsign N", "Tanh", "Tanh N", "Sigmoid", "ReLU He"]
    tanh = rows["Tanh"]
    assert tanh["Shapeset-3×2 ours (%)"] == pytest.approx(24.12)
    assert tanh["Shapeset-3×2 paper (%)"] == 27.15
    assert (tanh["Shapeset-3×2 lr"], tanh["Shapeset-3×2 updates"]) == (0.05, 1200)
    assert tanh["Fashion-MNIST ours (%)"] is None and "Fashion-MNIST paper (%)" not in tanh  # the paper has none
    assert rows["Sigmoid"]["Shapeset-3×2 ours (%)"] == "diverged at update 37"
    assert rows["Sigmoid"]["Shapeset-3×2 paper (%)"] == 82.61
    assert rows["Softsign N"]["Shapeset-3×2 ours (%)"] is None
    assert rows["Softsign N"]["Shapeset-3×2 paper (%)"] == 16.06
    assert rows["ReLU He"]["Shapeset-3×2 ours (%)"] == pytest.approx(18.0)
    assert rows["ReLU He"]["Shapeset-3×2 paper (%)"] is None  # an empty cell, the caption says why
    assert rows["Tanh N"]["Fashion-MNIST ours (%)"] == pytest.approx(10.1)
    assert list(tanh) == ["configuration", "Shapeset-3×2 ours (%)", "Shapeset-3×2 paper (%)", "Shapeset-3×2 lr",
                          "Shapeset-3×2 updates", "Fashion-MNIST ours (%)", "Fashion-MNIST lr",
                          "Fashion-MNIST updates"]


def test_table1_caption_says_what_the_paper_has_not():
    assert table1_caption(["shapeset", "mnist"]) == (
        "Test error (%) of the configuration chosen on validation error, ours beside Glorot & Bengio (2010), "
        "Table 1. An empty paper cell: not in the paper (ReLU He, a modern reference).")
    assert table1_caption(["shapeset", "fashion-mnist"]).endswith(
        "(ReLU He, a modern reference). The paper has no Fashion-MNIST results, so no paper column for "
        "Fashion-MNIST.")


def test_selection_table_marks_the_chosen_rate(tmp_path):
    runs = {f"shapeset/tanh/lr{lr}": fake_run(tmp_path / f"t{lr}", 0.3, lr=lr) for lr in (0.01, 0.1)}
    runs["shapeset/sigmoid/lr0.1"] = fake_run(tmp_path / "s", 0.8, lr=0.1)
    chosen = {"shapeset": {"Tanh": runs["shapeset/tanh/lr0.1"], "Sigmoid": runs["shapeset/sigmoid/lr0.1"]}}
    rows = {row["run"]: row for row in selection_table(runs, chosen)}
    assert {name: row["chosen"] for name, row in rows.items()} == {
        "shapeset/tanh/lr0.01": "", "shapeset/tanh/lr0.1": "✓", "shapeset/sigmoid/lr0.1": "✓"}
    assert rows["shapeset/tanh/lr0.01"]["learning rate"] == 0.01


def jacobian_rows(means):
    return [{"update": 0, "layer": f"layer {k}", "stat": f"jacobian_sv_{stat}", "value": value}
            for k, mean in enumerate(means, start=1)
            for stat, value in (("mean", mean), ("min", mean / 2), ("max", 2 * mean))]


def test_jacobian_table_per_layer_and_averaged(tmp_path):
    runs = {"Tanh": fake_run(tmp_path / "t", status="diverged", probes=jacobian_rows([0.6, 0.5, 0.4]))}
    rows = jacobian_table(runs)
    standard = [row for row in rows if row["configuration"] == "Tanh"]
    assert [row["layer"] for row in standard] == ["layer 1", "layer 2", "layer 3", "average"]
    assert standard[1]["mean sv"] == 0.5 and standard[1]["min sv"] == 0.25 and standard[1]["max sv"] == 1.0
    assert standard[-1]["mean sv"] == pytest.approx(0.5) and standard[-1]["max sv"] == pytest.approx(1.0)
    assert standard[-1]["paper"] == 0.5
    assert rows[-1] == {"configuration": "Tanh N", "layer": "missing", "paper": 0.8}


def test_write_table_writes_csv_and_markdown(tmp_path):
    rows = [{"configuration": "Tanh", "ours": 24.125, "paper": 27.15}, {"configuration": "Sigmoid", "ours": None}]
    table = write_table(rows, tmp_path / "tables", "table1", caption="Table 1")
    with open(tmp_path / "tables" / "table1.csv", newline="") as f:
        assert list(csv.DictReader(f)) == [{"configuration": "Tanh", "ours": "24.125", "paper": "27.15"},
                                           {"configuration": "Sigmoid", "ours": "", "paper": ""}]
    markdown = (tmp_path / "tables" / "table1.md").read_text().splitlines()
    assert markdown == ["Table 1", "", "| configuration | ours | paper |", "|---|---|---|",
                        "| Tanh | 24.12 | 27.15 |", "| Sigmoid |  |  |"]
    assert table.rows == rows and table.caption == "Table 1"


def test_the_selection_table_leaves_out_a_run_never_started(tmp_path):
    fake_run(tmp_path / "made", test_error=0.25, lr=0.1)
    rows = selection_table({"made": RunDir(tmp_path / "made"), "never": RunDir(tmp_path / "never")}, {})
    assert [(row["run"], row["learning rate"], row["test error (%)"]) for row in rows] == [("made", 0.1, 25.0)]
