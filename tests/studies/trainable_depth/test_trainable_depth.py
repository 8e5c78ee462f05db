"""`depthlab reproduce trainable-depth`: the rule both ways, the grid's configurations,
the smoke report with its theory line, and the same grid on Ray."""

from __future__ import annotations

import numpy as np
import pytest

from depthlab.data import download
from depthlab.nets.init import BIAS_INITS, INITS
from depthlab.store.run import RunDir
from depthlab.studies import reproduce
from depthlab.studies.trainable_depth import BUDGETS, claims
from depthlab.studies.trainable_depth import experiments as study
from depthlab.theory import trainable_depth


@pytest.fixture(scope="module")
def smoke(smoke_reproduction):
    return smoke_reproduction("trainable-depth")


def test_the_rule_counts_agreement_with_the_line_both_ways():
    depths, line = np.array([4, 16, 64]), np.array([10.0, 50.0])
    follows = np.array([[0.8, 0.9], [0.1, 0.7], [0.1, 0.1]])  # trains below the line only
    assert claims.follows_theory(follows, depths, line, True).verdict == "reproduced"
    against = np.array([[0.1, 0.1], [0.8, 0.1], [0.9, 0.9]])
    verdict = claims.follows_theory(against, depths, line, True)
    assert verdict.verdict == "not reproduced" and "3 trained beyond the line, 3 failed within it" in verdict.evidence
    assert claims.follows_theory(follows, depths, line, False).verdict == "cannot show"
    diverged = np.where(follows > 0.5, follows, np.nan)  # a diverged run counts as not trained
    assert claims.follows_theory(diverged, depths, line, True).verdict == "reproduced"


def test_each_cell_is_the_mean_field_parameterization(tmp_path, study_data):
    budget = BUDGETS["smoke"]
    plan = study.plan("smoke", budget, tmp_path, data_dir=str(study_data))
    assert [s.name for s in plan.runs] == ["sw1/depth4", "sw1/depth16", "sw4/depth4", "sw4/depth16"]
    config = plan.runs[2].config
    assert (config.activation, config.width, config.depth, config.eval_train) == ("tanh", 16, 4, True)
    w = INITS.get(config.init)
    assert w.variance(16, 16) == pytest.approx(4.0 / 16)
    assert BIAS_INITS.get(config.bias_init).variance == pytest.approx(budget.sigma_b2)


def test_smoke_table_holds_every_cell_beside_the_theory(smoke, read_csv):
    rows = read_csv(smoke.out / "trainable_depth.csv")
    budget = BUDGETS["smoke"]
    assert [(float(r["sigma_w2"]), int(r["depth"])) for r in rows] == [
        (sw, d) for d in budget.depths for sw in budget.sigma_w2s]
    for row in rows:
        six_xi = trainable_depth("tanh", float(row["sigma_w2"]), budget.sigma_b2)
        assert float(row["six_xi_c"]) == pytest.approx(six_xi)
        assert row["predicted"] == ("trainable" if int(row["depth"]) <= six_xi else "untrainable")
        run = RunDir(smoke.out / "runs" / f"sw{float(row['sigma_w2']):g}" / f"depth{row['depth']}")
        assert float(row["training_accuracy"]) == pytest.approx(1 - run.series("train_error")[1][-1])


def test_smoke_report_draws_the_heat_map_and_cannot_show(smoke, read_study_report, assert_figures):
    assert_figures(smoke.out, ("trainable_depth",))
    text = read_study_report(smoke.report, ("trainable_depth",), ("Setup", "Trainable depth"))
    assert "cannot show" in text and "critical line χ₁ = 1 is at σ_w² = 2.5" in text


def test_smoke_report_loads_in_a_headless_browser(smoke, assert_loads_in_browser):
    assert_loads_in_browser(smoke.report, 1)


def test_the_study_on_ray_gives_the_local_numbers(smoke, tmp_path, study_data, read_csv, monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.delenv("DEPTHLAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(download, "SYSTEM_DATA_ROOT", tmp_path / "system")
    reproduce("trainable-depth", "smoke", out=tmp_path / "ray", data_dir=str(study_data), progress=False,
              backend="ray", workers=2)
    assert read_csv(tmp_path / "ray" / "trainable_depth.csv") == read_csv(smoke.out / "trainable_depth.csv")
