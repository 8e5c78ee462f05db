"""A grid's expected time: on a GPU the memory roof of each group as the runner trains
it, on the CPU the measured update of each distinct shape."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from depthlab.config import TrainConfig
from depthlab.grid.estimate import expected_seconds
from depthlab.grid.spec import RunSpec
from depthlab.studies.glorot2010.budgets import BUDGETS
from depthlab.studies.glorot2010.plan import plan
from depthlab.training.speed import update_bytes

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


def test_on_the_cpu_each_shape_is_measured_once_and_groups_add_up():
    calls = []

    def calibrate(widths, activation, batch, k, stacked, device):
        calls.append((tuple(widths), activation, batch, k, stacked))
        return 0.001 * k if stacked else 0.002 * k

    runs = [spec(f"t{i}", activation="tanh", lr=0.01 * (i + 1), updates=100 * (i + 1)) for i in range(3)] + \
           [spec("r", activation="relu", updates=50, optimizer="adam")]
    grid = SimpleNamespace(runs=runs)
    # never: every run alone; the adam run takes autograd and is measured on the fused step's shape
    assert expected_seconds(grid, "cpu", stacking="never", calibrate=calibrate) == pytest.approx(
        0.002 * (100 + 200 + 300) + 0.002 * 50)
    assert calls == [((1024, 30, 30, 9), "tanh", 10, 1, False), ((1024, 30, 30, 9), "relu", 10, 1, False)]
    calls.clear()
    # always: the three tanh runs as one stack of 3 for the longest run's 300 updates
    assert expected_seconds(grid, "cpu", stacking="always", calibrate=calibrate) == pytest.approx(
        0.003 * 300 + 0.002 * 50)
    assert calls[0] == ((1024, 30, 30, 9), "tanh", 10, 3, True)


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
