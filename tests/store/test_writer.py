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
