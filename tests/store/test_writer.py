"""A run written from a user's own loop (depthlab.store.writer): the probe facts, measures,
metrics and status, as depthlab inspect reads them."""

import json
import re

import numpy as np
import pytest
import torch

from depthlab.errors import DepthlabError
from depthlab.store.probes import Measure
from depthlab.store.run import RunDir
from depthlab.store.writer import ProbeWriter, checked_update

LAYERS = [{"layer": "fc", "module": "fc", "kind": "linear", "activation": "tanh"}]


def _measure(update, layers=LAYERS):
    return Measure(update, [{"update": update, "layer": "fc", "stat": "x", "value": float(update)}],
                   [{"update": update, "layer": "fc", "quantity": "q", "edges": [0, 1], "counts": [3]}], layers)


def test_a_writer_persists_measures_metrics_and_the_status(tmp_path):
    writer = ProbeWriter(tmp_path / "mine", {"model": "Net", "lr": 0.1, "probe_size": 3})
    writer.write(_measure(0))
    writer.log_metrics(1, train_cost=2.5)
    writer.write(_measure(4))
    run = RunDir.open(tmp_path / "mine")
    assert run.status == {"status": "running", "update": 4}
    writer.finish(5)
    assert run.status == {"status": "completed", "update": 5}
    assert run.probe_facts == {"model": "Net", "lr": 0.1, "probe_size": 3, "layers": LAYERS}
    assert run.probes.updates == [0, 4] and run.probes.histograms_at(4)[0]["counts"] == [3]
    assert run.metrics() == [{"update": 1, "train_cost": 2.5}]
    assert [json.loads(line)["update"] for line in (run.path / "probes.jsonl").read_text().splitlines()] == [0, 4]


def test_the_facts_follow_the_layers_and_a_bad_status_is_one_line(tmp_path):
    writer = ProbeWriter(tmp_path / "mine", {"model": "Net", "lr": None, "probe_size": 3})
    writer.write(_measure(0))
    writer.write(_measure(1, LAYERS + [{"layer": "out", "module": "out", "kind": "linear", "activation": None}]))
    assert [layer["layer"] for layer in RunDir.open(tmp_path / "mine").probe_facts["layers"]] == ["fc", "out"]
    with pytest.raises(DepthlabError, match=r"^unknown run status 'done'.*valid choices: completed, diverged, "
                                            r"interrupted$"):
        writer.finish(1, status="done")


@pytest.mark.parametrize("update, shown", [("5", "'5'"), (float("nan"), "nan"), (2.5, "2.5"), (-1, "-1"),
                                           (True, "True"), (None, "None")])
def test_an_update_that_is_not_a_whole_count_is_one_line_and_nothing_is_written(tmp_path, update, shown):
    writer = ProbeWriter(tmp_path / "mine", {"model": "Net", "lr": None, "probe_size": 3})
    with pytest.raises(DepthlabError, match=rf"^update {re.escape(shown)} is not a training update: give a whole "
                                            r"number ≥ 0 \(the number of updates trained so far\)$"):
        writer.log_metrics(update, train_cost=1.0)
    if update is not None:  # finish(None): at the last update written
        with pytest.raises(DepthlabError, match=r"is not a training update"):
            writer.finish(update)
    run = RunDir.open(tmp_path / "mine")
    assert run.metrics() == [] and run.status == {"status": "running", "update": 0}


def test_whole_counts_of_any_integer_type_are_updates():
    assert [checked_update(u) for u in (0, 7, np.int64(3), torch.tensor(4))] == [0, 7, 3, 4]
    assert all(type(checked_update(u)) is int for u in (np.int32(2), torch.tensor(9)))


@pytest.mark.parametrize("value, shown", [("abc", "'abc'"), (torch.ones(3), "a tensor of shape (3,)"),
                                          (np.zeros((2, 2)), "a tensor of shape (2, 2)"), ([1.0, 2.0], "[1.0, 2.0]"),
                                          (None, "None")])
def test_a_training_number_that_is_not_a_number_is_one_line(tmp_path, value, shown):
    writer = ProbeWriter(tmp_path / "mine", {"model": "Net", "lr": None, "probe_size": 3})
    with pytest.raises(DepthlabError, match=rf"^log_metrics train_cost={re.escape(shown)} is not a number: give a "
                                            r"float \(or a tensor of one element\)$"):
        writer.log_metrics(1, train_cost=value)
    assert RunDir.open(tmp_path / "mine").metrics() == []


def test_numbers_of_one_element_and_non_finite_costs_are_stored_as_floats(tmp_path):
    writer = ProbeWriter(tmp_path / "mine", {"model": "Net", "lr": None, "probe_size": 3})
    writer.log_metrics(1, train_cost=torch.tensor([0.5]), test_error=np.float32(0.25), lr=3)
    writer.log_metrics(2, train_cost=float("inf"))
    metrics = RunDir.open(tmp_path / "mine").metrics()
    assert metrics[0] == {"update": 1, "train_cost": 0.5, "test_error": 0.25, "lr": 3.0}
    assert metrics[1]["train_cost"] == float("inf")


def test_a_path_that_is_a_file_or_cannot_be_made_is_one_line_and_the_file_is_kept(tmp_path):
    (tmp_path / "afile").write_text("mine")
    with pytest.raises(DepthlabError, match=rf"^run directory {re.escape(str(tmp_path / 'afile'))} is a file, not a "
                                            r"folder; choose another path$"):
        ProbeWriter(tmp_path / "afile", {"model": "Net", "lr": None, "probe_size": 3})
    with pytest.raises(DepthlabError, match=rf"^cannot make run directory {re.escape(str(tmp_path / 'afile' / 'run'))}"
                                            r": Not a directory; choose another path$"):
        ProbeWriter(tmp_path / "afile" / "run", {"model": "Net", "lr": None, "probe_size": 3})
    assert (tmp_path / "afile").read_text() == "mine"


# -- #27 item 1: a loop's run is continued, never cleared --------------------------------
def _crashed_run(tmp_path):
    """A run a loop wrote up to update 4 and then died in (status still running)."""
    writer = ProbeWriter(tmp_path / "mine", {"model": "Net", "lr": 0.1, "probe_size": 3})
    writer.write(_measure(0))
    writer.log_metrics(3, train_cost=2.5)
    writer.write(_measure(4))
    writer.run.release()  # as the end of the process would
    return tmp_path / "mine"


def test_a_crashed_loops_run_is_continued_with_everything_it_stored(tmp_path):
    path = _crashed_run(tmp_path)
    writer = ProbeWriter(path, {"model": "Net", "lr": None, "probe_size": 3})
    assert writer.stored_until == 4
    writer.write(_measure(6))
    writer.log_metrics(6, train_cost=1.5)
    writer.finish()
    run = RunDir.open(path)
    assert run.probes.updates == [0, 4, 6]
    assert run.metrics() == [{"update": 3, "train_cost": 2.5}, {"update": 6, "train_cost": 1.5}]
    assert run.status == {"status": "completed", "update": 6}
    assert run.probe_facts["lr"] == 0.1  # the stored fact stays where the new loop gives none


def test_an_update_a_continued_run_holds_is_refused_in_one_line(tmp_path):
    path = _crashed_run(tmp_path)
    writer = ProbeWriter(path, {"model": "Net", "lr": 0.1, "probe_size": 3})
    with pytest.raises(DepthlabError, match=r"^a measure at update 0 is not after update 4, the last one .*mine "
                                            r"holds: continue the loop from update 5 \(or log_to another path\)$"):
        writer.write(_measure(0))
    with pytest.raises(DepthlabError, match=r"^log_metrics at update 4 is not after update 4"):
        writer.log_metrics(4, train_cost=1.0)
    assert RunDir.open(path).probes.updates == [0, 4] and len(RunDir.open(path).metrics()) == 1


def test_an_ended_loops_run_or_a_train_run_is_refused_and_kept(tmp_path):
    path = _crashed_run(tmp_path)
    ProbeWriter(path, {"model": "Net", "lr": 0.1, "probe_size": 3}).finish()
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    with pytest.raises(DepthlabError, match=r"holds a run a loop already ended \(completed at update 4\); log_to "
                                            r"another path"):
        ProbeWriter(path, {"model": "Net", "lr": 0.1, "probe_size": 3})
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "config.json").write_text("{}")
    (tmp_path / "train" / "status.json").write_text('{"status": "running", "update": 0}')
    with pytest.raises(DepthlabError, match="already exists and is not empty; choose another path"):
        ProbeWriter(tmp_path / "train", {"model": "Net"})
    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == [".lock", "config.json", "status.json"]


def test_nothing_is_written_after_finish(tmp_path):
    writer = ProbeWriter(tmp_path / "mine", {"model": "Net", "lr": 0.1, "probe_size": 3})
    writer.write(_measure(0))
    writer.finish(2)
    for act, what in ((lambda: writer.write(_measure(3)), "a measure"),
                      (lambda: writer.log_metrics(3, train_cost=1.0), "log_metrics"),
                      (lambda: writer.skip(3), "a measure")):
        with pytest.raises(DepthlabError, match=rf"^{what} at update 3 after finish\(\): .*mine is completed at "
                                                r"update 2 and is not written to any more$"):
            act()
    with pytest.raises(DepthlabError, match=r"^finish\(\) was called already"):
        writer.finish(3)
    run = RunDir.open(tmp_path / "mine")
    assert run.status == {"status": "completed", "update": 2} and run.metrics() == [] and run.probes.updates == [0]


def test_a_second_writer_on_a_live_run_is_refused(tmp_path):
    path = _crashed_run(tmp_path)
    first = ProbeWriter(path, {"model": "Net"})
    with pytest.raises(DepthlabError, match="in use by process"):
        ProbeWriter(path, {"model": "Net"})
    first.write(_measure(5))
    assert RunDir.open(path).probes.updates == [0, 4, 5]


def test_a_line_the_crash_cut_short_is_dropped_before_the_run_goes_on(tmp_path):
    path = _crashed_run(tmp_path)
    for name in ("probes.jsonl", "metrics.jsonl"):
        with open(path / name, "a") as f:
            f.write('{"update": 5, "cut')  # the kill came in the middle of a line
    writer = ProbeWriter(path, {"model": "Net"})
    writer.write(_measure(6))
    writer.log_metrics(6, train_cost=1.5)
    run = RunDir.open(path)
    assert run.probes.updates == [0, 4, 6]
    assert run.metrics() == [{"update": 3, "train_cost": 2.5}, {"update": 6, "train_cost": 1.5}]


def test_a_loop_s_run_killed_between_its_facts_and_its_first_status_is_continued(tmp_path):
    ProbeWriter(tmp_path / "mine", {"model": "Net", "lr": None, "probe_size": 3}).run.release()
    (tmp_path / "mine" / "status.json").unlink()  # killed before its first status
    writer = ProbeWriter(tmp_path / "mine", {"model": "Net", "lr": None, "probe_size": 3})
    writer.write(_measure(0))
    writer.finish()
    assert RunDir.open(tmp_path / "mine").status == {"status": "completed", "update": 0}


def test_a_continued_run_whose_facts_cannot_be_written_is_let_go(tmp_path, monkeypatch):
    ProbeWriter(tmp_path / "mine", {"model": "Net", "lr": None, "probe_size": 3}).run.release()

    def full_disk(self, facts):
        raise DepthlabError("could not write probe.json: No space left on device")

    monkeypatch.setattr(RunDir, "write_probe_facts", full_disk)
    with pytest.raises(DepthlabError, match="No space left"):
        ProbeWriter(tmp_path / "mine", {"model": "Net", "lr": 0.1, "probe_size": 3})
    monkeypatch.undo()
    ProbeWriter(tmp_path / "mine", {"model": "Net", "lr": 0.1, "probe_size": 3}).finish()  # not held
