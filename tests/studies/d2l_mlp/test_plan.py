"""The plan of the d2l chapter: every run with the chapter's settings."""

from __future__ import annotations

from depthlab.studies.d2l_mlp import plan as study
from depthlab.studies.d2l_mlp.budgets import CHAPTER


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
