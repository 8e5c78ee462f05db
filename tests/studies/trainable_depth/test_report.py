"""`depthlab reproduce trainable-depth --smoke`: the table beside the theory, the report
with its theory line, and the same grid on Ray."""

from __future__ import annotations

import pytest

from depthlab.data import download
from depthlab.store.run import RunDir
from depthlab.studies import reproduce
from depthlab.studies.trainable_depth.budgets import BUDGETS
from depthlab.theory import trainable_depth


@pytest.fixture(scope="module")
def smoke(smoke_reproduction):
    return smoke_reproduction("trainable-depth")


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
    assert '<span class="tag">cannot show</span>' in text and "critical line χ₁ = 1 is at σ_w² = 2.5" in text


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
