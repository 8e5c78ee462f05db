"""`depthlab reproduce d2l-mlp --smoke`: every figure, table and verdict (on a small fake
MNIST, the fallback for Fashion-MNIST)."""

from __future__ import annotations

import numpy as np
import pytest

from depthlab.errors import DepthlabError
from depthlab.store.run import RunDir
from depthlab.studies import reproduce
from depthlab.studies.d2l_mlp import plan as study
from depthlab.studies.d2l_mlp.budgets import BUDGETS

STEMS = ("mlp_fashion_mnist", "polynomial_fits", "weight_decay", "kfold", "dropout", "numerical_stability")
SECTIONS = ("Setup", "MLP on Fashion-MNIST", "Underfitting and overfitting", "Weight decay", "K-fold model selection",
            "Dropout", "Numerical stability")


@pytest.fixture(scope="module")
def smoke(smoke_reproduction):
    return smoke_reproduction("d2l-mlp")


def test_smoke_writes_every_figure_in_png_and_svg(smoke, assert_figures):
    assert_figures(smoke.out, STEMS)


def test_smoke_tables_hold_every_row(smoke, read_csv):
    out = smoke.out
    assert [(r["fit"], int(r["features"]), float(r["epochs"])) for r in read_csv(out / "polynomial_fits.csv")] == [
        ("normal", 4, 20.0), ("underfitting", 2, 20.0), ("overfitting", 20, 40.0)]
    assert [float(r["lambda"]) for r in read_csv(out / "weight_decay.csv")] == list(study.DECAY_LAMBDAS)
    folds = read_csv(out / "kfold.csv")
    assert [(float(r["lambda"]), int(r["fold"])) for r in folds] == \
        [(lam, k) for lam in study.DECAY_LAMBDAS for k in range(1, 6)]
    assert all(float(r["validation_loss"]) > 0 for r in folds)
    choice = read_csv(out / "kfold_choice.csv")
    for row in choice:
        mine = [float(r["validation_loss"]) for r in folds if float(r["lambda"]) == float(row["lambda"])]
        assert float(row["mean_validation_loss"]) == pytest.approx(np.mean(mine))
    assert [r["dropout"] for r in read_csv(out / "dropout.csv")] == ["none", "0.2, 0.5"]
    mlp = read_csv(out / "mlp_fashion_mnist.csv")
    assert [int(r["epoch"]) for r in mlp] == list(range(1, BUDGETS["smoke"].image_epochs + 1))
    assert all(0 <= float(r[k]) <= 1 for r in mlp for k in ("scratch_test_accuracy", "nn_test_accuracy"))


def test_smoke_weight_norm_is_the_checkpoints(smoke):
    run = RunDir(smoke.out / "runs" / "decay" / "lambda3")
    _, norms = run.probes.series("weight_norm", "output")
    assert norms[-1] == pytest.approx(run.load_checkpoint()["model"]["1.weight"].norm().item(), rel=1e-5)


def test_smoke_report_has_every_section_and_says_what_the_budget_cannot_show(smoke, read_study_report):
    text = read_study_report(smoke.report, STEMS, SECTIONS)
    assert "Data: mnist: Fashion-MNIST was not found" in text
    assert text.count("cannot show") >= 7  # every claim that needs the chapter's epochs
    assert "The budget trains less than the chapter does" in text


def test_smoke_report_loads_in_a_headless_browser(smoke, assert_loads_in_browser):
    assert_loads_in_browser(smoke.report, len(STEMS))


def test_missing_images_are_one_line_and_nothing_written(isolated_roots):
    with pytest.raises(DepthlabError) as error:
        reproduce("d2l-mlp", "smoke", out=isolated_roots / "out", data_dir=str(isolated_roots), progress=False)
    assert "needs Fashion-MNIST (or MNIST)" in str(error.value) and "\n" not in str(error.value)
    assert not (isolated_roots / "out").exists()
