"""`depthlab reproduce d2l-mlp`: the plan holds the chapter's settings, the from-scratch
MLP is the nn one, every rule decides both ways, and the smoke reproduction writes every
figure, table and verdict (on a small fake MNIST, the fallback for Fashion-MNIST)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from depthlab.data.base import FixedDataset
from depthlab.errors import DepthlabError
from depthlab.store.run import RunDir
from depthlab.studies import reproduce
from depthlab.studies.d2l_mlp import BUDGETS, CHAPTER, claims
from depthlab.studies.d2l_mlp import experiments as study
from depthlab.training.trainer import build_model, train

STEMS = ("mlp_fashion_mnist", "polynomial_fits", "weight_decay", "kfold", "dropout", "numerical_stability")
SECTIONS = ("Setup", "MLP on Fashion-MNIST", "Underfitting and overfitting", "Weight decay", "K-fold model selection",
            "Dropout", "Numerical stability")


@pytest.fixture(scope="module")
def smoke(smoke_reproduction):
    return smoke_reproduction("d2l-mlp")


def test_the_plan_holds_the_chapters_settings(tmp_path, study_data):
    plan = study.plan("quick", CHAPTER, tmp_path, data_dir=str(study_data))
    runs = {spec.name: spec.config for spec in plan.runs}
    mlp = runs["mlp"]
    assert (mlp.hidden_widths, mlp.activation, mlp.init, mlp.lr, mlp.batch_size, mlp.epochs) == \
        ([256], "relu", "gaussian:0.01", 0.1, 256, 10.0)
    dropout = runs["dropout/d2l"]
    assert (dropout.hidden_widths, dropout.dropouts, dropout.lr) == ([256, 256], [0.2, 0.5], 0.5)
    assert runs["dropout/none"].dropouts == [0.0, 0.0]
    assert {name: (c.dataset, c.epochs) for name, c in runs.items() if name.startswith("polynomial/")} == {
        "polynomial/normal": ("polynomial:features=4", 400.0),
        "polynomial/underfitting": ("polynomial:features=2", 400.0),
        "polynomial/overfitting": ("polynomial:features=20", 1500.0)}
    decay = runs["decay/lambda3"]
    assert (decay.dataset, decay.depth, decay.init, decay.lr, decay.batch_size, decay.epochs, decay.weight_decay) == \
        ("linear", 0, "gaussian:1", 0.003, 5, 100.0, 3.0)
    folds = sorted(c.dataset for name, c in runs.items() if name.startswith("kfold/lambda3/"))
    assert folds == [f"linear:fold={k}/5" for k in range(1, 6)]
    assert len(runs) == 1 + 2 + 3 + 5 * 6


def test_the_mlp_from_scratch_is_the_nn_mlp_on_the_same_minibatches(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(812, 20, generator=g)
    y = x[:, :3].argmax(1)
    data = FixedDataset("toy", (20,), 3, (x[:512], y[:512]), (x[512:662], y[512:662]), (x[662:], y[662:]))
    config = study.image_config("toy", 512, epochs=3, probe=False)
    result = train(config, out=tmp_path / "nn", data=data, progress=False)
    model = build_model(config, data)  # the run's initial parameters: the seed draws them again
    w1, w2 = model.linears
    scratch = study.mlp_from_scratch(data, 3, params=[w1.weight.t(), w1.bias, w2.weight.t(), w2.bias])
    updates, costs = RunDir(result.path).series("train_cost")
    assert updates == [2, 4, 6]  # two minibatches of 256 an epoch
    assert [row["train_loss"] for row in scratch] == pytest.approx(costs, rel=1e-5)
    assert scratch[-1]["test_accuracy"] == pytest.approx(1 - result.final["test_error"])


def test_scratch_parameters_are_the_chapters_scale():
    w1, b1, w2, b2 = study.scratch_parameters(seed=0)
    assert (w1.shape, w2.shape) == ((784, 256), (256, 10))
    assert w1.std().item() == pytest.approx(0.01, rel=0.01) and not b1.any() and not b2.any()
    assert torch.equal(study.relu(torch.tensor([-1.0, 0.0, 2.0])), torch.tensor([0.0, 0.0, 2.0]))


def test_sigmoid_gradient_is_the_closed_form():
    x, y, grad = study.sigmoid_gradient()
    assert np.allclose(grad, y * (1 - y)) and x[len(x) // 2] == 0.0


@pytest.mark.parametrize("verdict, expected", [
    (claims.mlp_accuracy(0.845, True), "reproduced"), (claims.mlp_accuracy(0.80, True), "not reproduced"),
    (claims.mlp_accuracy(0.845, False), "cannot show"),
    (claims.scratch_agrees(0.846, 0.845, True), "reproduced"),
    (claims.scratch_agrees(0.80, 0.845, True), "not reproduced"),
    (claims.normal_fit([5.0, 1.25, -3.3, 5.6], [5, 1.2, -3.4, 5.6], True), "reproduced"),
    (claims.normal_fit([5.0, 1.2, -3.4, 4.9], [5, 1.2, -3.4, 5.6], True), "not reproduced"),
    (claims.underfitting(18.0, 9.0, 0.01, True), "reproduced"),
    (claims.underfitting(0.02, 9.0, 0.01, True), "not reproduced"),
    (claims.overfitting(0.010, 0.012, True), "reproduced"), (claims.overfitting(0.010, 0.0105, True), "not reproduced"),
    (claims.weight_decay((1e-10, 200.0), (3e-4, 0.19), (14.0, 0.39), True), "reproduced"),
    (claims.weight_decay((1e-10, 200.0), (3e-4, 210.0), (14.0, 0.39), True), "not reproduced"),
    (claims.weight_decay((50.0, 200.0), (3e-4, 0.19), (14.0, 0.39), True), "not reproduced"),
    (claims.dropout((0.030, 0.020), (0.86, 0.865), True), "reproduced"),
    (claims.dropout((0.0221, 0.0215), (0.868, 0.867), True), "not reproduced"),
    (claims.dropout((0.030, 0.020), (0.86, 0.80), True), "not reproduced"),
    (claims.kfold_selection({0: 100.0, 3: 0.5, 10: 0.017}, {0: 200.0, 3: 0.19, 10: 0.028}, True), "reproduced"),
    (claims.kfold_selection({0: 100.0, 3: 0.01, 10: 0.017}, {0: 200.0, 3: 0.19, 10: 0.028}, True), "not reproduced"),
    (claims.sigmoid_vanishes(*study.sigmoid_gradient()[::2]), "reproduced"),
    (claims.sigmoid_vanishes(np.linspace(-8, 8, 161), np.full(161, 0.25)), "not reproduced"),
    (claims.product_explodes(np.array([1.0, 1e99])), "reproduced"),
    (claims.product_explodes(np.ones(100)), "not reproduced"),
])
def test_every_rule_decides_both_ways(verdict, expected):
    assert verdict.verdict == expected
    assert verdict.evidence and "nan" not in verdict.evidence


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
