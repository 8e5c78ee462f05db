"""Every registered study through the one interface: the same command runs each, the
same errors guard each, and a new study needs one declaration and nothing else."""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from depthlab.cli import main
from depthlab.config import TrainConfig
from depthlab.grid import RunSpec
from depthlab.report.document import Outcome, Section, Verdict
from depthlab.report.html import write_report
from depthlab.studies import STUDIES, Study, reproduce
from depthlab.studies.study import Plan

NAMES = [study.name for study in STUDIES]
VERDICTS = set(Outcome.names())


def test_the_registry_holds_the_studies():
    assert NAMES == ["glorot2010", "nielsen-ch5", "init-statistics", "d2l-mlp", "fc-training", "trainable-depth"]
    for study in STUDIES:
        assert {"smoke", "quick"} <= set(study.budgets)


@pytest.mark.parametrize("name", NAMES)
def test_every_study_smoke_writes_a_report_with_computed_verdicts(name, smoke_reproduction, read_report):
    smoke = smoke_reproduction(name)
    page = read_report(smoke.report)
    assert page.verdicts and set(page.verdicts) <= VERDICTS
    assert page.images and all(src.startswith("data:image/png;base64,") for src in page.images)
    budget = json.loads((smoke.out / "budget.json").read_text())
    assert (budget["study"], budget["budget"]) == (name, "smoke")


@pytest.mark.parametrize("name", NAMES)
def test_every_study_names_its_budgets_for_an_unknown_one(name, tmp_path, capsys):
    assert main(["reproduce", name, "--budget", "huge", "--out", str(tmp_path / "out")]) == 2
    budgets = ", ".join(sorted(STUDIES.get(name).budgets))
    assert capsys.readouterr().err == f"depthlab: error: unknown budget of {name} 'huge'; valid choices: {budgets}\n"
    assert not (tmp_path / "out").exists()


def test_an_unknown_study_is_one_line_with_a_suggestion(capsys):
    assert main(["reproduce", "glorot2011"]) == 2
    assert capsys.readouterr().err == ("depthlab: error: unknown study 'glorot2011' (did you mean 'glorot2010'?); "
                                       "valid choices: d2l-mlp, fc-training, glorot2010, init-statistics, "
                                       "nielsen-ch5, trainable-depth\n")


def test_an_option_the_study_does_not_take_is_refused(tmp_path, capsys):
    assert main(["reproduce", "init-statistics", "--datasets", "mnist", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == ("depthlab: error: study init-statistics takes no datasets option "
                                       "(--datasets); its options: none\n")


@dataclass(frozen=True)
class ToyBudget:
    updates: int


def toy_plan(budget_name, budget, out, data_dir=None):
    config = TrainConfig(dataset="shapeset", depth=1, width=4, updates=budget.updates, eval_size=20, probe=False)
    return Plan("toy", budget_name, budget, {"note": "two tiny runs"},
                [RunSpec("a", config), RunSpec("b", config.replace(seed=1))])


def toy_report(plan, runs, out: Path, progress=True) -> Path:
    errors = {name: run.final["test_error"] for name, run in runs.items()}
    verdict = Verdict("Two seeds train", Outcome.REPRODUCED if len(errors) == 2 else Outcome.CANNOT_SHOW, str(errors))
    return write_report(out / "report.html", "Toy", [Section("Claims", [verdict])])


def test_a_new_study_is_one_declaration(declare, tmp_path, read_report):
    declare(STUDIES, Study("toy", "A toy study", {"smoke": ToyBudget(5), "quick": ToyBudget(10)}, toy_plan,
                           toy_report))
    assert main(["reproduce", "toy", "--smoke", "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert read_report(tmp_path / "out" / "report.html").verdicts == ["reproduced"]
    assert json.loads((tmp_path / "out" / "budget.json").read_text()) == {
        "study": "toy", "budget": "smoke", "updates": 5, "note": "two tiny runs"}
    assert reproduce("toy", "smoke", out=tmp_path / "out", progress=False) == tmp_path / "out" / "report.html"


def test_a_dry_run_leaves_nothing_a_plan_wrote_and_keeps_what_was_there(declare, tmp_path, monkeypatch, capsys):
    """A plan may cut a data subset into OUT/data (as fc-training's does): the dry run
    reads it, then removes it and the folders it made, and only those."""
    def writing_plan(budget_name, budget, out, data_dir=None):
        (out / "data").mkdir(parents=True, exist_ok=True)
        (out / "data" / "subset.npz").write_text("cut")
        return toy_plan(budget_name, budget, out, data_dir)

    declare(STUDIES, Study("toy", "A toy study", {"smoke": ToyBudget(5)}, writing_plan, toy_report))
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "toy", "--smoke", "--dry-run"]) == 0
    assert "2 runs, 10 updates in all" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []  # results/ and results/toy were made by the plan: gone
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    assert main(["reproduce", "toy", "--smoke", "--dry-run", "--out", "mine"]) == 0
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["mine", "mine/notes.txt"]


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a GPU here would take the runs")
def test_a_device_this_machine_lacks_is_one_line_and_nothing_is_written(tmp_path, capsys):
    assert main(["reproduce", "glorot2010", "--smoke", "--device", "cuda", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == ("depthlab: error: device 'cuda' is not available on this machine (no CUDA GPU); "
                                       "use --device cpu\n")
    assert not (tmp_path / "out").exists()
