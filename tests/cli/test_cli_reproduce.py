import dataclasses
import hashlib
import json

import pytest

from depthlab.cli import main
from depthlab.cli.reproduce import download_missing
from depthlab.config import TrainConfig
from depthlab.data import registry
from depthlab.data.idx import MNIST_SOURCE
from depthlab.grid import RunSpec
from depthlab.report.document import Section, Verdict
from depthlab.report.html import write_report
from depthlab.studies import STUDIES
from depthlab.studies.study import Plan, Study


def _served_mnist(root, write_mnist, monkeypatch):
    """MNIST-format files behind a file:// URL, and the registry's MNIST pointing at them."""
    write_mnist(root / "server", gz=True)
    digests = {path.name: hashlib.md5(path.read_bytes()).hexdigest() for path in (root / "server").iterdir()}
    files = tuple(dataclasses.replace(f, digest=digests[f.filename], mirrors=((root / "server").as_uri() + "/",))
                  for f in MNIST_SOURCE.files)
    spec = dataclasses.replace(registry.DATASETS.get("mnist"), files=dataclasses.replace(MNIST_SOURCE, files=files))
    real_get = registry.DATASETS.get
    monkeypatch.setattr(registry.DATASETS, "get", lambda name: spec if name == "mnist" else real_get(name))


def test_download_fetches_the_missing_files_of_the_named_data_sets(isolated_roots, write_mnist, monkeypatch):
    _served_mnist(isolated_roots, write_mnist, monkeypatch)
    download_missing(["shapeset", "mnist"], str(isolated_roots / "flag"))
    assert sorted(p.name for p in (isolated_roots / "flag" / "mnist").iterdir()) == sorted(
        f.filename for f in MNIST_SOURCE.files)


def test_reproduce_download_of_an_unknown_data_set_is_one_line(isolated_roots, capsys):
    code = main(["reproduce", "glorot2010", "--smoke", "--download", "--datasets", "mnsit",
                 "--out", str(isolated_roots / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "unknown dataset 'mnsit' (did you mean 'mnist'?)" in err and err.count("\n") == 1
    assert not (isolated_roots / "out").exists()


def test_reproduce_with_an_unknown_stacking_is_one_line_and_writes_nothing(tmp_path, capsys):
    code = main(["reproduce", "nielsen-ch5", "--smoke", "--stacking", "vmap", "--out", str(tmp_path / "out")])
    assert code == 2 and capsys.readouterr().err == (
        "depthlab: error: unknown stacking 'vmap'; valid choices: always, auto, never\n")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", [["reproduce", "nielsen-ch5", "--smoke"], ["sweep", "grid.toml"]])
def test_the_old_engine_flag_is_one_line_naming_stacking_and_writes_nothing(tmp_path, capsys, command):
    with pytest.raises(SystemExit) as stop:
        main([*command, "--engine", "separate", "--out", str(tmp_path / "out")])
    assert stop.value.code == 2 and capsys.readouterr().err == (
        f"depthlab {command[0]}: error: --engine is now --stacking: auto, always or never "
        f"(see depthlab {command[0]} --help)\n")
    assert not (tmp_path / "out").exists()


def test_a_dry_run_prints_the_grid_its_runs_and_updates_and_writes_nothing(tmp_path, monkeypatch, capsys):
    from depthlab.studies import STUDIES

    monkeypatch.chdir(tmp_path)
    code = main(["reproduce", "glorot2010", "--smoke", "--datasets", "shapeset", "--dry-run", "--workers", "2"])
    out = capsys.readouterr().out
    study = STUDIES.get("glorot2010")
    runs = study.plan("smoke", study.budget("smoke"), out=tmp_path / "results", datasets=["shapeset"]).runs
    updates = sum(spec.config.updates for spec in runs)
    assert code == 0 and list(tmp_path.iterdir()) == []
    assert f"{len(runs)} runs, {updates:,} updates in all; {len(runs)} runs and {updates:,} updates left to train " \
           "in results/glorot2010" in out
    assert all(f"  {spec.name}  " in out for spec in runs)
    assert "Expected wall time here: about " in out and " on 2 workers (measured just now" in out


@dataclasses.dataclass(frozen=True)
class TinyBudget:
    updates: int


def tiny_plan(budget_name, budget, out, data_dir=None):
    config = TrainConfig(dataset="shapeset", depth=1, width=4, updates=budget.updates, eval_size=20, probe=False)
    return Plan("tiny", budget_name, budget, {}, [RunSpec("a", config), RunSpec("b", config.replace(seed=1))])


def tiny_report(plan, runs, out, progress=True):
    """Three claims decided from the runs: two errors below 100% (holds), the two seeds
    ending within 0.001 of each other (decided by the data) and twenty seeds (cannot show)."""
    a, b = (runs[name].final["test_error"] for name in ("a", "b"))
    claims = [Verdict.decide("Both seeds stay below 100% error.", max(a, b) < 1, f"Errors {a:.3f} and {b:.3f}. "
                             "Below 1."),
              Verdict.decide("The two seeds end alike.", abs(a - b) < 0.001, f"Apart by {abs(a - b):.3f}."),
              Verdict.decide("Twenty seeds agree.", True, f"{len(runs)} seeds.", shows=False, unshown="Too few.")]
    return write_report(out / "report.html", "Tiny", [Section("Claims", claims)])


def test_a_study_ends_with_its_verdict_table(declare, tmp_path, capsys, monkeypatch, read_report):
    declare(STUDIES, Study("tiny", "A tiny study", {"smoke": TinyBudget(5)}, tiny_plan, tiny_report))
    monkeypatch.setenv("COLUMNS", "90")
    assert main(["reproduce", "tiny", "--smoke", "--out", str(tmp_path / "out"), "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    a, b = (json.loads((tmp_path / "out" / "runs" / name / "final.json").read_text())["test_error"] for name in "ab")
    alike = "reproduced" if abs(a - b) < 0.001 else "not reproduced"
    assert lines[-1] == f"wrote {tmp_path / 'out' / 'report.html'}"
    assert lines[0] == (f"3 claims: {1 + (alike == 'reproduced')} reproduced, {int(alike != 'reproduced')} not "
                        "reproduced, 1 cannot show")
    assert [line for line in lines[2:-1] if not line.startswith(" ")] == [
        "reproduced      Both seeds stay below 100% error.", f"{alike:<16}The two seeds end alike.",
        "cannot show     Twenty seeds agree."]
    assert f"                  Errors {a:.3f} and {b:.3f}." in lines  # the key numbers under their claim
    assert all(len(line) <= 90 for line in lines[:-1])
    page = read_report(tmp_path / "out" / "report.html")
    assert page.headings[0] == "Summary of the verdicts"
    assert page.tables[0]["rows"][1:] == [["1", "reproduced", "Both seeds stay below 100% error."],
                                          ["2", alike, "The two seeds end alike."],
                                          ["3", "cannot show", "Twenty seeds agree."]]
