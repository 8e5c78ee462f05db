import json

import pytest

from depthlab.errors import DepthlabError
from depthlab.store.run import RunDir, append_jsonl, environment, read_jsonl


def make(tmp_path):
    return RunDir.create(tmp_path / "run", {"lr": 0.1}, environment(seed=1, device="cpu"))


def test_a_new_run_describes_itself(tmp_path):
    run = make(tmp_path)
    assert run.config == {"lr": 0.1}
    assert run.env["seed"] == 1 and run.env["device"] == "cpu"
    assert run.status == {"status": "running", "update": 0}
    assert run.final is None


def test_a_non_empty_directory_is_refused(tmp_path):
    make(tmp_path)
    with pytest.raises(DepthlabError, match="already exists and is not empty"):
        make(tmp_path)


def test_open_needs_a_run_directory(tmp_path):
    with pytest.raises(DepthlabError, match="is not a run directory"):
        RunDir.open(tmp_path)


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
    append_jsonl(run.path / "probes.jsonl", {"step": 10, "rows": []})
    append_jsonl(run.path / "probes.jsonl", {"step": 30, "rows": []})
    assert run.series("test_error") == ([10, 20, 30], [0.1, 0.2, 0.3])
    run.truncate_after(20)
    assert run.series("test_error") == ([10, 20], [0.1, 0.2])
    assert [r["step"] for r in read_jsonl(run.path / "probes.jsonl")] == [10]


def test_status_is_one_of_four(tmp_path):
    run = make(tmp_path)
    run.set_status("diverged", update=7, diverged_at=7)
    assert json.loads((run.path / "status.json").read_text())["diverged_at"] == 7
    with pytest.raises(AssertionError):
        run.set_status("exploded")
