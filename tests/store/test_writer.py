"""A run written from a user's own loop (depthlab.store.writer): the probe facts, measures,
metrics and status, as depthlab inspect reads them."""

import json

import pytest

from depthlab.errors import DepthlabError
from depthlab.store.probes import Measure
from depthlab.store.run import RunDir
from depthlab.store.writer import ProbeWriter

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
