"""The reproduction's grid: --full is the paper's protocol, stacked per activation on a
GPU; a reproduction stopped at any update resumes to the numbers of one never stopped."""

from __future__ import annotations

import dataclasses

import pytest

from fakes import interrupt_at

from depthlab.grid.runner import run_specs
from depthlab.grid.stacking import plan_stacks, stacking_pays
from depthlab.limits import parameter_count
from depthlab.store import RunDir
from depthlab.studies import on_device
from depthlab.studies.glorot2010.budgets import BUDGETS
from depthlab.studies.glorot2010.plan import CONFIGURATIONS, plan
from depthlab.training import stacked

TABLE_1 = {"Softsign": ("softsign", "standard"), "Softsign N": ("softsign", "normalized"),
           "Tanh": ("tanh", "standard"), "Tanh N": ("tanh", "normalized"), "Sigmoid": ("sigmoid", "standard")}
"""The paper's Table 1 rows (section 4, "N": normalized initialization)."""


def test_full_is_the_papers_protocol():
    full = plan("full", BUDGETS["full"], out=None, datasets=["shapeset"])
    assert TABLE_1.items() <= CONFIGURATIONS.items()
    for spec in full.runs:  # 5 hidden layers of 1000, minibatches of 10, plain SGD on the NLL, 5M updates
        c = spec.config
        assert (c.hidden_widths, c.batch_size, c.optimizer, c.cost, c.updates) == ([1000] * 5, 10, "sgd", "nll",
                                                                                    5_000_000)
        assert c.bias_init == "zero" and c.eval_size is None
    chosen = {(s.config.activation, s.config.init) for s in full.runs}
    assert set(TABLE_1.values()) <= chosen


def test_on_a_gpu_the_full_grid_trains_one_stack_per_activation():
    full = on_device(plan("full", BUDGETS["full"], out=None, datasets=["shapeset"]), "cuda")
    assert {s.config.device for s in full.runs} == {"cuda"}
    groups = plan_stacks(full.runs, "auto")
    widths = [1024, *[1000] * 5, 9]
    assert sorted((g[0].config.activation, len(g)) for g in groups) == [
        ("relu", 5), ("sigmoid", 5), ("softsign", 10), ("tanh", 10)]
    assert all(stacking_pays("auto", [s.config for s in g], parameter_count(widths)) for g in groups)
    assert all(len({s.config.activation for s in g}) == 1 for g in groups)


TINY = dataclasses.replace(BUDGETS["smoke"], depth=2, width=16, updates=120, eval_size=50, eval_every=40,
                           probe_every=40, probe_size=20, jacobian_examples=0, learning_rates=(0.05, 0.1))


def test_a_reproduction_stopped_mid_stack_resumes_to_the_numbers_of_one_never_stopped(tmp_path, monkeypatch):
    grid = plan("tiny", TINY, out=None, datasets=["shapeset"])
    real = stacked.StackedSGD.step
    interrupt_at(monkeypatch, stacked.StackedSGD, 77)  # inside the first stack, between two checkpoints
    with pytest.raises(KeyboardInterrupt):
        run_specs(grid.runs, tmp_path / "stopped", progress=False, stacking="always")
    monkeypatch.setattr(stacked.StackedSGD, "step", real)
    statuses = {s.name: RunDir(tmp_path / "stopped" / "runs" / s.name).status for s in grid.runs
                if (tmp_path / "stopped" / "runs" / s.name).exists()}
    assert statuses and {s["status"] for s in statuses.values()} == {"interrupted"}
    assert {s["update"] for s in statuses.values()} == {77}
    resumed = run_specs(grid.runs, tmp_path / "stopped", progress=False, stacking="always")
    whole = run_specs(grid.runs, tmp_path / "whole", progress=False, stacking="always")
    for name, run in whole.items():
        again = resumed[name]
        assert again.status["status"] == run.status["status"] == "completed"
        assert again.metrics() == run.metrics(), name
