"""Nielsen's chapter-5 study on a small fake MNIST written in IDX format, so the tests
never depend on the data installed on the machine."""

from __future__ import annotations

import json

import pytest

from depthlab.errors import DepthlabError
from depthlab.studies import reproduce
from depthlab.studies.nielsen import plan as study
from depthlab.studies.nielsen.budgets import BUDGETS

FAKE_TRAIN, FAKE_TEST = 11_000, 500  # 1000 training images once the 10,000 validation ones are held out
STEMS = ("learning_speed_init", "learning_speed_training", "accuracy_vs_depth")
SECTIONS = ("Setup", "Learning speed at initialization", "Learning speed during training",
            "Validation accuracy against depth")


@pytest.fixture(scope="module")
def smoke(smoke_reproduction):
    result = smoke_reproduction("nielsen-ch5")
    return result.out, result.report


def test_smoke_writes_every_figure_in_png_and_svg(smoke, assert_figures):
    assert_figures(smoke[0], STEMS)


def test_smoke_tables_put_ours_beside_nielsens(smoke, read_csv):
    out, _ = smoke
    init = read_csv(out / "learning_speed_init.csv")
    assert [(int(r["hidden_layers"]), int(r["layer"]), float(r["nielsen"])) for r in init] == [
        (2, 1, 0.07), (2, 2, 0.31), (3, 1, 0.012), (3, 2, 0.060), (3, 3, 0.283),
        (4, 1, 0.003), (4, 2, 0.017), (4, 3, 0.070), (4, 4, 0.285)]
    training = read_csv(out / "learning_speed_training.csv")
    assert [int(r["epoch"]) for r in training] == list(range(BUDGETS["smoke"].speed_epochs))
    for row in training:
        assert float(row["last_over_first"]) == pytest.approx(float(row["layer_4"]) / float(row["layer_1"]))
    accuracy = read_csv(out / "accuracy_vs_depth.csv")
    assert [(int(r["hidden_layers"]), float(r["nielsen"])) for r in accuracy] == [
        (1, 96.48), (2, 96.90), (3, 96.57), (4, 96.53)]
    for row in accuracy:
        assert 0 <= float(row["ours_final"]) <= float(row["ours_best"]) <= 100


def test_smoke_depth_runs_train_the_budget(smoke):
    out, _ = smoke
    budget = BUDGETS["smoke"]
    for depth in study.DEPTHS:
        run = out / "runs" / f"depth{depth}"
        assert (run / "final.json").is_file()
        config = json.loads((run / "config.json").read_text())
        assert config["widths"] == [30] * depth
        assert config["weight_decay"] == pytest.approx(5.0 / budget.depth_train_size)


def test_smoke_report_embeds_figures_and_has_every_section(smoke, read_study_report):
    out, report = smoke
    assert report == out / "report.html"
    text = read_study_report(report, STEMS, SECTIONS)
    assert "Budget &#x27;smoke&#x27;. Data: mnist from" in text
    assert '<span class="tag">cannot show</span>' in text  # one epoch on 1000 images cannot decide whether depth helps


def test_missing_data_is_a_one_line_error_naming_both(isolated_roots):
    with pytest.raises(DepthlabError) as error:
        reproduce("nielsen-ch5", "smoke", out=isolated_roots / "out", data_dir=str(isolated_roots), progress=False)
    message = str(error.value)
    assert "\n" not in message
    assert "MNIST or Fashion-MNIST" in message and "apt-get install dataset-fashion-mnist" in message
    assert not (isolated_roots / "out").exists()
