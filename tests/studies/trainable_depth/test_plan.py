"""The trainable-depth grid: every cell a tanh net in the mean-field parameterization."""

from __future__ import annotations

import pytest

from depthlab.nets.init import BIAS_INITS, INITS
from depthlab.studies.trainable_depth import plan as study
from depthlab.studies.trainable_depth.budgets import BUDGETS


def test_each_cell_is_the_mean_field_parameterization(tmp_path, study_data):
    budget = BUDGETS["smoke"]
    plan = study.plan("smoke", budget, tmp_path, data_dir=str(study_data))
    assert [s.name for s in plan.runs] == ["sw1/depth4", "sw1/depth16", "sw4/depth4", "sw4/depth16"]
    config = plan.runs[2].config
    assert (config.activation, config.width, config.depth, config.eval_train) == ("tanh", 16, 4, True)
    w = INITS.get(config.init)
    assert w.variance(16, 16) == pytest.approx(4.0 / 16)
    assert BIAS_INITS.get(config.bias_init).variance == pytest.approx(budget.sigma_b2)
