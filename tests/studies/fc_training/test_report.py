"""`depthlab reproduce fc-training --smoke`: the clipping figure's gradient norm is a
hand-computed one, and the smoke reproduction writes every figure, table and verdict."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from depthlab.store.run import RunDir
from depthlab.studies.fc_training import plan as study
from depthlab.studies.fc_training.quadratic import QUADRATIC_RATES
from depthlab.studies.fc_training.report import final_training_cost, gradient_norm
from depthlab.training.costs import COSTS
from depthlab.training.trainer import build_model, load_data

STEMS = ("optimizers", "quadratic", "clipping", "batchnorm", "activations")
SECTIONS = ("Setup", "Optimizers on a deep MLP", "Optimizers on an ill-conditioned quadratic", "Gradient clipping",
            "Batch normalization", "Activations")


@pytest.fixture(scope="module")
def smoke(smoke_reproduction):
    return smoke_reproduction("fc-training")


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
    assert [r["optimizer"] for r in read_csv(out / "quadratic.csv")] == list(QUADRATIC_RATES)
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
