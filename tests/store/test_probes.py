"""The probe measures as data, and the probe file: its queries, its round trip, its
errors."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.errors import DepthlabError
from depthlab.probe import Probe
from depthlab.store.probes import ProbeLog, append_measure, read_measures


def test_series_names_unknown_statistics():
    log = ProbeLog([{"update": 0, "layer": "layer 1", "stat": "activation_std", "value": 1.0}])
    with pytest.raises(DepthlabError, match=r"^unknown probe statistic 'activation_sdt' \(did you mean"):
        log.series("activation_sdt", "layer 1")
    with pytest.raises(DepthlabError, match="^unknown probe layer 'layer 9'"):
        log.series("activation_std", "layer 9")


def test_queries_of_a_log():
    rows = [{"update": u, "layer": layer, "stat": "activation_std", "value": u + k}
            for u in (5, 0) for k, layer in enumerate(["layer 2", "layer 10", "output"])]
    log = ProbeLog(rows)
    assert log.updates == [0, 5]
    assert log.layers == ["layer 2", "layer 10", "output"]
    assert log.hidden_layers() == ["layer 2", "layer 10"]
    assert log.values_at("activation_std", 5) == {"layer 2": 5, "layer 10": 6, "output": 7}
    updates, values = log.series("activation_std", "layer 10")
    assert updates.tolist() == [0, 5] and values.tolist() == [1.0, 6.0]


def test_jsonl_round_trip_survives_a_crash_mid_line(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.Softsign(), nn.Linear(5, 3))
    probe = Probe(model, torch.randn(30, 4), torch.randint(0, 3, (30,)), F.cross_entropy, jacobian_examples=3, layer_names="positions")
    path = tmp_path / "probes.jsonl"
    for update in (0, 5):
        append_measure(path, probe.measure(update), probe.histograms_at(update))
    assert [json.loads(line)["update"] for line in path.read_text().splitlines()] == [0, 5]
    with open(path, "a") as f:
        f.write('{"update": 9, "rows": [{"st')  # a crash in the middle of the third write
    log = read_measures(path)
    assert log == probe.log
    updates, values = log.series("weight_norm", "output")
    assert updates.tolist() == [0, 5] and np.all(values > 0)


def test_a_file_written_when_rows_said_step_reads_the_same(tmp_path):
    path = tmp_path / "probes.jsonl"
    path.write_text(json.dumps({"step": 3, "rows": [{"step": 3, "layer": "layer 1", "stat": "x", "value": 1.0}],
                                "histograms": [{"step": 3, "layer": "layer 1", "quantity": "q", "edges": [0, 1],
                                                "counts": [2]}]}) + "\n")
    log = read_measures(path)
    assert log.updates == [3] and log.histograms_at(3)[0]["counts"] == [2]


def test_corrupt_probe_file_names_the_path_and_line(tmp_path):
    path = tmp_path / "probes.jsonl"
    path.write_text('{"update": 0, "rows": [], "histograms": []}\nnot json\n{"update": 1, "rows": [], "histograms": []}\n')
    with pytest.raises(DepthlabError, match=f"^{path}:2: not a JSON record$"):
        read_measures(path)
    path.write_text('{"update": 0, "rows": [], "histograms": []}\n{"update": 1}\n')
    with pytest.raises(DepthlabError, match=f"^{path}:2: not a probe record \\(it needs"):
        read_measures(path)
    assert not read_measures(tmp_path / "missing.jsonl")


def _record(update, layers, stat="x"):
    return json.dumps({"update": update, "rows": [{"update": update, "layer": layer, "stat": stat, "value": 1.0}
                                                  for layer in layers], "histograms": []}) + "\n"


def test_measures_may_probe_different_layers(tmp_path):
    path = tmp_path / "probes.jsonl"  # update_ratio alone has no rows at update 0; a loop may probe more later
    path.write_text(_record(0, []) + _record(1, ["layer 1", "output"]) + _record(5, ["layer 1", "layer 9", "output"]))
    assert read_measures(path).layers == ["layer 1", "output", "layer 9"]


@pytest.mark.parametrize("line, message", [
    ('{"update": 1, "rows": [[1]], "histograms": []}', "row 1: [1] is not an object"),
    ('{"update": 1, "rows": [{"update": 1.0, "layer": "a", "stat": "x", "value": 1}], "histograms": []}',
     "row 1: \"update\" is 1.0, not its record's 1"),
    ('{"update": 1, "rows": [{"update": 1, "layer": "a", "stat": "x", "value": true}], "histograms": []}',
     "row 1: \"value\" is True, not a number"),
    ('{"update": 1, "rows": [], "histograms": [{"update": 1, "layer": "a", "quantity": "q", "edges": [0, 1], '
     '"counts": [1, 2]}]}', "histogram 1: \"edges\" and \"counts\" must be lists of numbers, one more edge than "
                            "counts"),
    ('{"update": -1, "rows": [], "histograms": []}', "not a probe record (it needs \"update\", a whole number, and "
                                                     "\"rows\" and \"histograms\", lists)"),
])
def test_a_record_not_as_written_names_its_line_and_entry(tmp_path, line, message):
    path = tmp_path / "probes.jsonl"
    path.write_text(_record(0, ["a"]) + line + "\n")
    with pytest.raises(DepthlabError) as raised:
        read_measures(path)
    assert str(raised.value) == f"{path}:2: {message}; the file was damaged or edited by hand"


def test_lines_ending_in_crlf_read_the_same_and_invalid_utf8_is_named(tmp_path):
    path = tmp_path / "probes.jsonl"
    path.write_text(_record(0, ["a"]) + _record(3, ["a"]))
    log = read_measures(path)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert read_measures(path) == log
    path.write_bytes(path.read_bytes() + b'{"update": 4, "rows": ["\xff"]}\n')
    with pytest.raises(DepthlabError, match=f"^{path}:3: not UTF-8 text$"):
        read_measures(path)
    path.write_bytes(path.read_bytes()[:-1])  # the same bytes, cut short by a crash: skipped
    assert read_measures(path) == log
