import math

from depthlab.config import TrainConfig
from depthlab.data.registry import DATASETS
from depthlab.grid import RunSpec
from depthlab.grid.estimate import Calibration, describe, run_seconds, wall_seconds
from depthlab.grid.runner import run_specs

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
