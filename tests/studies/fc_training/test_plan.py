"""The plan of the lecture's training experiments: every grid and pair."""

from __future__ import annotations

from depthlab.studies.fc_training import plan as study
from depthlab.studies.fc_training.budgets import BUDGETS


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
