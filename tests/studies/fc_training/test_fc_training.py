"""`depthlab reproduce fc-training`: the quadratic's descent is the closed form, the
clipping figure's gradient norm is a hand-computed one, every rule decides both ways,
and the smoke reproduction writes every figure, table and verdict."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from depthlab.store.run import RunDir
from depthlab.studies.fc_training import BUDGETS, claims
from depthlab.studies.fc_training import experiments as study
from depthlab.studies.fc_training.report import final_training_cost, gradient_norm
from depthlab.training.costs import COSTS
from depthlab.training.trainer import build_model, load_data

STEMS = ("optimizers", "quadratic", "clipping", "batchnorm", "activations")
SECTIONS = ("Setup", "Optimizers on a deep MLP", "Optimizers on an ill-conditioned quadratic", "Gradient clipping",
            "Batch normalization", "Activations")


@pytest.fixture(scope="module")
def smoke(smoke_reproduction):
    return smoke_reproduction("fc-training")


def test_gradient_descent_on_the_quadratic_is_the_closed_form():
    path = study.descend_quadratic("sgd", 0.45, steps=10)
    factors = 1 - 0.45 * np.array(study.QUADRATIC)  # x ← (1 − ηλ)x on each axis
    expected = np.array(study.QUADRATIC_START) * factors ** np.arange(11)[:, None]
    assert np.allclose(path, expected, rtol=1e-12)
    assert study.reversals(path) == 9  # 1 − 0.45·4 < 0: every step across the valley turns back


def test_reversals_count_the_turns_across_the_valley():
    path = np.array([[0, 0], [1, 1], [2, 2], [3, 1], [4, 2], [5, 2], [6, 3]], dtype=float)
    assert study.reversals(path) == 2


def test_each_optimizer_keeps_the_rate_that_ends_lowest():
    best = study.best_quadratic_paths()
    assert list(best) == list(study.QUADRATIC_RATES)
    for optimizer, (lr, path) in best.items():
        end = study.quadratic(path[-1], np.array(study.QUADRATIC))
        for other in study.QUADRATIC_RATES[optimizer]:
            assert end <= study.quadratic(study.descend_quadratic(optimizer, other)[-1], np.array(study.QUADRATIC))


def test_the_plan_trains_every_grid_and_pair(tmp_path, study_data):
    plan = study.plan("smoke", BUDGETS["smoke"], tmp_path, data_dir=str(study_data))
    runs = {spec.name: spec.config for spec in plan.runs}
    assert sorted(n for n in runs if n.startswith("optimizers/sgd/")) == [
        "optimizers/sgd/lr0.03", "optimizers/sgd/lr0.1", "optimizers/sgd/lr0.3"]
    assert runs["optimizers/adam/lr0.001"].optimizer == "adam" and runs["optimizers/momentum/lr0.01"].momentum == 0.9
    plain, clipped = runs["clipping/none"], runs["clipping/clipped"]
    assert (plain.clip_norm, clipped.clip_norm) == (None, 1.0)
    assert plain.replace(clip_norm=1.0) == clipped
    assert runs["activations/sigmoid"].replace(batchnorm=True) == runs["batchnorm/sigmoid"]
    assert {n: runs[f"activations/{n}"].init for n in study.ACTIVATION_INITS} == study.ACTIVATION_INITS
    assert len(runs) == 18 + 2 + 4 + 1


def test_the_gradient_norm_is_the_probe_sets_whole_gradient(smoke):
    run = RunDir(smoke.out / "runs" / "clipping" / "clipped")
    config = run.config
    data = load_data(config)
    model = build_model(config, data)  # the run's parameters at update 0
    x, y = data.test
    x, y = x[:config.probe_size], y[:config.probe_size]
    COSTS.get(config.cost).loss(model(x), y).backward()
    by_hand = torch.sqrt(sum(layer.weight.grad.pow(2).sum() for layer in model.linears)).item()
    updates, norms = gradient_norm(run)
    assert updates[0] == 0 and norms[0] == pytest.approx(by_hand, rel=1e-4)


def test_the_final_training_cost_is_the_mean_of_the_last_tenth(smoke):
    run = RunDir(smoke.out / "runs" / "optimizers" / "sgd" / "lr0.1")
    updates, costs = run.series("train_cost")
    tail = [c for u, c in zip(updates, costs) if u >= 0.9 * updates[-1]]
    mean, error = final_training_cost(run)
    assert mean == pytest.approx(np.mean(tail))
    assert error == pytest.approx(np.std(tail, ddof=1) / np.sqrt(len(tail)))


@pytest.mark.parametrize("verdict, expected", [
    (claims.beats_sgd("adam", {"sgd": (0.355, 0.004), "momentum": (0.343, 0.005), "adam": (0.33, 0.004)}, True),
     "reproduced"),
    (claims.beats_sgd("momentum", {"sgd": (0.355, 0.004), "momentum": (0.343, 0.005), "adam": (0.33, 0.004)}, True),
     "not reproduced"),
    (claims.beats_sgd("adam", {"sgd": (0.355, 0.004), "adam": (0.2, 0.004)}, False), "cannot show"),
    (claims.momentum_damps((0.0013, 39), (0.001, 4), 40), "reproduced"),
    (claims.momentum_damps((0.0013, 39), (0.001, 30), 40), "not reproduced"),
    (claims.momentum_damps((0.0013, 39), (0.01, 4), 40), "not reproduced"),
    (claims.clipping("diverged", "completed", 0.2, True), "reproduced"),
    (claims.clipping("completed", "completed", 0.2, True), "not reproduced"),
    (claims.clipping("diverged", "completed", 0.8, True), "not reproduced"),
    (claims.batchnorm(0.9, 0.2, True), "reproduced"), (claims.batchnorm(0.3, 0.2, True), "not reproduced"),
    (claims.batchnorm_gradients(4e5, 2.0, True), "reproduced"),
    (claims.batchnorm_gradients(2.0, 4e5, True), "not reproduced"),
    (claims.sigmoid_gradient_vanishes({"sigmoid": 1e-6, "tanh": 0.5, "relu": 1.0}), "reproduced"),
    (claims.sigmoid_gradient_vanishes({"sigmoid": 0.9, "tanh": 0.5, "relu": 1.0}), "not reproduced"),
    (claims.prefer_relu({"sigmoid": 0.9, "tanh": 0.15, "relu": 0.155, "leaky-relu": 0.2}, True), "reproduced"),
    (claims.prefer_relu({"sigmoid": 0.9, "tanh": 0.15, "relu": 0.3, "leaky-relu": 0.2}, True), "not reproduced"),
])
def test_every_rule_decides_both_ways(verdict, expected):
    assert verdict.verdict == expected
    assert verdict.evidence


def test_smoke_writes_every_figure_in_png_and_svg(smoke, assert_figures):
    assert_figures(smoke.out, STEMS)


def test_smoke_tables_hold_every_run(smoke, read_csv):
    out = smoke.out
    optimizers = read_csv(out / "optimizers.csv")
    assert [(r["optimizer"], float(r["lr"])) for r in optimizers] == \
        [(name, lr) for name, rates in study.LEARNING_RATES.items() for lr in rates]
    for name in study.LEARNING_RATES:
        mine = [r for r in optimizers if r["optimizer"] == name]
        chosen = [r for r in mine if r["best"] == "yes"]
        assert len(chosen) == 1
        assert float(chosen[0]["final_train_cost"]) == min(float(r["final_train_cost"]) for r in mine)
        assert float(chosen[0]["standard_error"]) > 0
    assert [r["optimizer"] for r in read_csv(out / "quadratic.csv")] == list(study.QUADRATIC_RATES)
    clipping = {r["run"]: r["status"] for r in read_csv(out / "clipping.csv")}
    assert clipping == {"no clipping": "diverged", "clipped to 1": "completed"}
    assert [(r["batchnorm"], int(r["layer"])) for r in read_csv(out / "batchnorm.csv")] == \
        [(label, k) for label in ("without", "with") for k in range(1, 11)]
    assert [r["activation"] for r in read_csv(out / "activations.csv")] == list(study.ACTIVATION_INITS)


def test_smoke_report_has_every_section_and_says_what_it_cannot_show(smoke, read_study_report):
    text = read_study_report(smoke.report, STEMS, SECTIONS)
    assert text.count("The runs are too short for the nets to show how they train.") == 6


def test_smoke_report_loads_in_a_headless_browser(smoke, assert_loads_in_browser):
    assert_loads_in_browser(smoke.report, len(STEMS))
