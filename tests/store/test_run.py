import json

import pytest

from depthlab.config import TrainConfig
from depthlab.errors import DepthlabError
from depthlab.store.files import append_jsonl, read_jsonl
from depthlab.store.run import Network, RunDir, environment, recorded_step

CONFIG = TrainConfig(lr=0.1, widths=[30, 20])
NETWORK = Network((1, 28, 28), (784, 30, 20, 10))


def make(tmp_path):
    return RunDir.create(tmp_path / "run", CONFIG, environment(seed=1, device="cpu"), NETWORK)


def test_a_new_run_describes_itself(tmp_path):
    run = make(tmp_path)
    assert run.config == CONFIG and isinstance(run.config, TrainConfig)
    assert run.network == NETWORK and run.network.hidden == (30, 20)
    assert json.loads((run.path / "network.json").read_text()) == {"input_shape": [1, 28, 28],
                                                                   "widths": [784, 30, 20, 10], "activation": "tanh"}
    assert run.env["seed"] == 1 and run.env["device"] == "cpu"
    assert run.status == {"status": "running", "update": 0}
    assert run.final is None and not run.has_probes and not run.probes
    assert run.describe() == "30-20 tanh/normalized, lr 0.1, 0 updates (run)"


def test_a_run_from_before_the_network_was_recorded_has_none(tmp_path):
    run = make(tmp_path)
    (run.path / "network.json").unlink()
    assert run.network is None


@pytest.mark.parametrize("network, message", [
    ({"input_shape": [1, 28, 28], "widths": [784, 32, 20, 10]},
     " does not match the run's config.json: hidden layer 1 is 32 wide, config.json says 30; one of them "
     "was edited by hand"),
    ({"input_shape": [1, 28, 28], "widths": [784, 30, 10]},
     " does not match the run's config.json: 1 hidden layers, config.json 2;"),
    ({"input_shape": [1, 28, 28], "widths": [784, 30, 20, 10], "activation": "relu"},
     " does not match the run's config.json: activation 'relu', config.json 'tanh'; one of them was edited by hand"),
    ({"input_shape": [1, 28, 28], "widths": [100, 30, 20, 10]},
     ": input width 100 is not the size of input shape [1, 28, 28]; it was damaged or edited by hand"),
    ({"input_shape": [1, 28, 28], "widths": "784"}, " does not hold \"input_shape\" and \"widths\" lists"),
    ({"input_shape": [1, 28, 28], "widths": [784, 30, 20, -1]},
     " does not hold \"input_shape\" and \"widths\" lists of whole numbers"),
    ({"input_shape": [1, 28, 28], "widths": [784, 30.5, 20, 10]}, " does not hold"),
])
def test_a_network_json_edited_apart_from_config_json_is_one_line_on_opening(tmp_path, network, message):
    run = make(tmp_path)
    (run.path / "network.json").write_text(json.dumps(network))
    run.release()
    with pytest.raises(DepthlabError) as error:
        RunDir.open(run.path)
    assert str(error.value).startswith(f"{run.path / 'network.json'}{message}")
    assert "\n" not in str(error.value)


def test_a_non_empty_directory_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    with pytest.raises(DepthlabError, match="already exists and is not empty"):
        make(tmp_path)
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"


def test_a_live_run_or_one_with_a_checkpoint_is_refused(tmp_path):
    live = make(tmp_path)  # held by this object
    with pytest.raises(DepthlabError, match="in use by process"):
        make(tmp_path)
    live.save_checkpoint({"update": 1})
    live.release()
    with pytest.raises(DepthlabError, match="already exists and is not empty"):
        make(tmp_path)


def test_open_needs_a_run_directory(tmp_path):
    with pytest.raises(DepthlabError, match=r"written by depthlab train \(no config.json\) or by Probe.log_to \(no probe.json\)$"):
        RunDir.open(tmp_path)
    (make(tmp_path).path / "status.json").unlink()
    with pytest.raises(DepthlabError, match=r"\(no status.json\)$"):
        RunDir.open(tmp_path / "run")


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path):
    path = tmp_path / "log.jsonl"
    append_jsonl(path, {"update": 1})
    append_jsonl(path, {"update": 2})
    with open(path, "a") as f:
        f.write('{"update": 3, "tra')
    assert read_jsonl(path) == [{"update": 1}, {"update": 2}]


def test_series_and_truncation_for_resume(tmp_path):
    run = make(tmp_path)
    for t in (10, 20, 30):
        run.append_metrics({"update": t, "test_error": t / 100})
    for update in (10, 30):
        run.append_probes([{"update": update, "layer": "output", "stat": "weight_norm", "value": 1.0}], [])
    assert run.series("test_error") == ([10, 20, 30], [0.1, 0.2, 0.3])
    run.truncate_after(20)
    assert run.series("test_error") == ([10, 20], [0.1, 0.2])
    assert [r["update"] for r in read_jsonl(run.path / "probes.jsonl")] == [10]


def test_status_is_one_of_four(tmp_path):
    run = make(tmp_path)
    run.set_status("diverged", update=7, diverged_at=7)
    assert json.loads((run.path / "status.json").read_text())["diverged_at"] == 7
    with pytest.raises(AssertionError):
        run.set_status("exploded")


class _RunsCode:
    def __reduce__(self):
        import os
        return os.system, ("touch ran-code",)


def test_a_checkpoint_holding_code_is_refused_without_running_it(tmp_path, monkeypatch):
    import torch

    run = make(tmp_path)
    monkeypatch.chdir(tmp_path)
    torch.save({"update": 3, "payload": _RunsCode()}, run.path / "checkpoint.pt")
    with pytest.raises(DepthlabError, match="checkpoint.pt is not a checkpoint depthlab wrote"):
        run.load_checkpoint()
    assert not (tmp_path / "ran-code").exists()
    run.save_checkpoint({"update": 3, "weights": torch.ones(2)})
    assert run.load_checkpoint()["update"] == 3


def test_a_truncated_checkpoint_is_named(tmp_path):
    run = make(tmp_path)
    (run.path / "checkpoint.pt").write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(DepthlabError, match="checkpoint.pt is not a checkpoint depthlab wrote"):
        run.load_checkpoint()


def test_a_run_stored_with_the_old_engine_key_opens_and_records_its_step(tmp_path):
    run = make(tmp_path)
    stored = json.loads((run.path / "config.json").read_text())
    stored["engine"] = stored.pop("step")
    (run.path / "config.json").write_text(json.dumps({**stored, "engine": "autograd"}))
    assert run.config == TrainConfig(lr=0.1, widths=[30, 20], step="autograd")
    (run.path / "env.json").write_text(json.dumps({**run.env, "engine": "stacked"}))
    assert recorded_step(run.env) == "fused" and recorded_step({"engine": "autograd"}) == "autograd"
    run.record_step("fused", "torch ops (asked for)", 100, None, "the device is cpu")
    assert "engine" not in run.env and (run.env["step"], run.env["stack"]) == ("fused", None)
    assert (run.env["graphs"], run.env["graphs_off"]) == (False, "the device is cpu")
    assert recorded_step(run.env) == "fused"
    run.record_step("fused", "torch ops", 100, None, None)  # replayed in graphs: no reason left behind
    assert run.env["graphs"] is True and "graphs_off" not in run.env


def test_only_a_train_run_that_died_before_its_first_checkpoint_is_cleared(tmp_path):
    run = make(tmp_path)
    run.append_metrics({"update": 0, "validation_error": 0.5})
    run.release()
    assert RunDir(run.path).died_before_checkpoint
    make(tmp_path).release()  # cleared and made anew
    assert not (run.path / "metrics.jsonl").exists()
    (run.path / "notes.txt").write_text("mine")  # a file depthlab never writes: refused, nothing removed
    assert not RunDir(run.path).died_before_checkpoint
    with pytest.raises(DepthlabError, match="already exists and is not empty"):
        make(tmp_path)
    assert sorted(p.name for p in run.path.iterdir()) == [".lock", "config.json", "env.json", "network.json",
                                                          "notes.txt", "status.json"]


def test_a_loops_run_never_counts_as_dead(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "probe.json").write_text('{"layers": []}')
    (tmp_path / "run" / "status.json").write_text('{"status": "running", "update": 7}')
    assert not RunDir(tmp_path / "run").died_before_checkpoint
    with pytest.raises(DepthlabError, match="already exists and is not empty"):
        make(tmp_path)
    assert (tmp_path / "run" / "probe.json").is_file()


def test_a_checkpoint_removes_what_a_writer_killed_mid_checkpoint_left(tmp_path):
    (tmp_path / "checkpoint.pt.4242-deadbeef.tmp").write_bytes(b"half a checkpoint")
    (tmp_path / "checkpoint.pt.tmp").write_bytes(b"before #27")
    (tmp_path / "notes.pt.4242-deadbeef.tmp").write_bytes(b"not ours")
    RunDir(tmp_path).save_checkpoint({"update": 3})
    assert sorted(path.name for path in tmp_path.iterdir()) == ["checkpoint.pt", "notes.pt.4242-deadbeef.tmp"]
    assert RunDir(tmp_path).load_checkpoint() == {"update": 3}
