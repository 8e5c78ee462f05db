"""A grid's expected time: the runs and updates a dry run prints, the wall time from a
calibration here (the CPU), and on a GPU the memory roof of each group as the runner trains it."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from depthlab.config import TrainConfig
from depthlab.data.registry import DATASETS
from depthlab.grid import RunSpec
from depthlab.grid.estimate import Calibration, describe, expected_seconds, run_seconds, wall_seconds
from depthlab.grid.runner import run_specs
from depthlab.studies.glorot2010.budgets import BUDGETS
from depthlab.studies.glorot2010.plan import plan
from depthlab.training.speed import update_bytes

BASE = dict(dataset="shapeset", depth=2, width=16, eval_every=20, eval_size=100, probe=False)


def test_runs_go_to_the_first_free_worker_and_the_last_to_end_sets_the_wall_time():
    assert wall_seconds([3, 3, 2, 2, 2], 2) == 7  # 3 | 3, then 2 → 5 | 5, then 2 → 7
    assert wall_seconds([3, 3, 2, 2, 2], 1) == 12
    assert wall_seconds([5, 1, 1, 1], 3) == 5


def test_a_runs_seconds_scale_its_updates_and_evaluations_by_its_parameters():
    dataset = DATASETS.get("shapeset").load(None, False, 100)
    spec = RunSpec("a", TrainConfig(**BASE, updates=50))
    parameters = 1024 * 16 + 16 + 16 * 16 + 16 + 16 * 9 + 9
    calibration = Calibration(parameters * 2, update_seconds=0.01, example_seconds=0.001, threads=1)
    evaluations = math.ceil(50 / 20) + 1  # at 20, 40, 50 and at update 0
    assert math.isclose(run_seconds(spec, 50, dataset, calibration), (50 * 0.01 + evaluations * 200 * 0.001) / 2)


def test_a_finished_grid_has_nothing_left_to_train(tmp_path):
    specs = [RunSpec("a", TrainConfig(**BASE, updates=40)), RunSpec("b", TrainConfig(**BASE, updates=60))]
    run_specs(specs[:1], tmp_path, progress=False)
    text = describe(specs, tmp_path, 1, None, "grid:")
    assert f"2 runs, 100 updates in all; 1 run and 60 updates left to train in {tmp_path}" in text
    assert "  a  " in text and "(finished)" in text.splitlines()[3]
    run_specs(specs, tmp_path, progress=False)
    assert "Nothing left to train" in describe(specs, tmp_path, 1, None, "grid:")


def test_a_grid_without_runs_says_so(tmp_path):
    assert describe([], tmp_path, 2, None, "study:") == \
        "study:\n\nNo runs to train: running it only computes and writes the report."


GLOROT = [1024, *[1000] * 5, 9]  # Shapeset's 32×32 images, 9 classes


def test_the_paper_budget_on_an_h100_is_its_thirty_runs_at_the_memory_roof():
    full = plan("full", BUDGETS["full"], out=None, datasets=["shapeset"])
    assert len(full.runs) == 30  # 6 configurations × 5 learning rates, each stacked with its activation's others
    seconds = expected_seconds(full, "cuda", device_name="NVIDIA H100 80GB HBM3")
    assert seconds == pytest.approx(30 * 5_000_000 * update_bytes(GLOROT, 10) / 3.35e12)
    assert 55 * 60 < seconds < 65 * 60  # about an hour
    session = plan("gpu-session", BUDGETS["gpu-session"], out=None, datasets=["shapeset"])
    assert expected_seconds(session, "cuda", device_name="NVIDIA H100 80GB HBM3") == pytest.approx(
        18 * 200_000 * update_bytes(GLOROT, 10) / 3.35e12)


def spec(name, **settings) -> RunSpec:
    return RunSpec(name, TrainConfig(dataset="shapeset", depth=2, width=30, eval_size=10, **settings))


def test_the_groups_add_up_as_the_runner_trains_them():
    runs = [spec(f"t{i}", activation="tanh", lr=0.01 * (i + 1), updates=100 * (i + 1)) for i in range(3)] + \
           [spec("r", activation="relu", updates=50, optimizer="adam")]
    grid, widths, t4 = SimpleNamespace(runs=runs), [1024, 30, 30, 9], 0.32e12
    adam = 50 * update_bytes(widths, 10, passes=6) / t4  # autograd: SGD's 4 passes and the gradient's 2
    # never: every run alone
    assert expected_seconds(grid, "cuda", stacking="never", device_name="Tesla T4") == pytest.approx(
        (100 + 200 + 300) * update_bytes(widths, 10) / t4 + adam)
    # always: the three tanh runs as one stack of 3 for the longest run's 300 updates
    assert expected_seconds(grid, "cuda", stacking="always", device_name="Tesla T4") == pytest.approx(
        300 * update_bytes(widths, 10, k=3) / t4 + adam)


def test_on_a_gpu_the_rule_sets_the_passes_over_the_weights():
    widths = [1024, 30, 30, 9]
    sgd = SimpleNamespace(runs=[spec("a", updates=1000, optimizer="sgd")])
    nesterov = SimpleNamespace(runs=[spec("a", updates=1000, optimizer="nesterov")])
    adam = SimpleNamespace(runs=[spec("a", updates=1000, optimizer="adam")])
    at = {name: expected_seconds(g, "cuda", device_name="Tesla T4") for name, g in
          [("sgd", sgd), ("nesterov", nesterov), ("adam", adam)]}
    assert at["sgd"] == pytest.approx(1000 * update_bytes(widths, 10, passes=4) / 0.32e12)
    assert at["nesterov"] == pytest.approx(1000 * update_bytes(widths, 10, passes=9) / 0.32e12)
    assert at["adam"] == pytest.approx(1000 * update_bytes(widths, 10, passes=6) / 0.32e12)  # + gradient write, read
