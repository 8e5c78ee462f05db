"""What studies ask of stored runs, on runs written through the store."""

from fakes import write_run

from depthlab.config import TrainConfig
from depthlab.store import RunDir, best_by_validation, final_test_error, run_problem, run_state, usable_runs
from depthlab.store.queries import changed_settings

ROW = {"update": 0, "layer": "layer 1", "stat": "activation_std", "value": 0.5}


def test_run_state_tells_missing_finished_resumable_and_broken(tmp_path):
    assert run_state(tmp_path / "nothing") == "missing"
    (tmp_path / "empty").mkdir()
    assert run_state(tmp_path / "empty") == "broken"
    assert run_state(write_run(tmp_path / "done").path) == "finished"
    running = write_run(tmp_path / "running", status="running")
    assert run_state(running.path) == "broken"  # never checkpointed
    (running.path / "checkpoint.pt").write_bytes(b"")
    assert run_state(running.path) == "resumable"


def test_run_problem_and_usable_runs(tmp_path):
    diverged = write_run(tmp_path / "d", [ROW], status="diverged", update=7)
    plain = write_run(tmp_path / "p")
    assert run_problem(None) == "missing" and run_problem(RunDir(tmp_path / "none")) == "missing"
    assert run_problem(diverged) == "diverged at update 7"
    assert run_problem(diverged, trained=False, probes=True) is None
    assert run_problem(plain, probes=True) == "no probes"
    kept, skipped = usable_runs({"a": diverged, "b": plain, "c": None}, ["a", "b", "c"], trained=False, probes=True)
    assert list(kept) == ["a"] and skipped == ["b (no probes)", "c (missing)"]


def test_final_errors_and_the_learning_rate_chosen_on_validation(tmp_path):
    worse = write_run(tmp_path / "a", final={"status": "completed", "validation_error": 0.3, "test_error": 0.31})
    better = write_run(tmp_path / "b", final={"status": "completed", "validation_error": 0.2, "test_error": 0.25})
    diverged = write_run(tmp_path / "c", status="diverged", final={"status": "diverged"})
    assert final_test_error(better) == 25.0 and final_test_error(diverged) is None
    assert best_by_validation([worse, diverged, better]).path == better.path
    assert best_by_validation([diverged]).path == diverged.path


def test_a_tie_on_validation_error_goes_to_the_lower_validation_cost(tmp_path):
    def run(name, cost):
        return write_run(tmp_path / name, final={"status": "completed", "validation_error": 0.8316,
                                                 "validation_cost": cost})

    first, second = run("a", 2.10), run("b", 2.05)  # two sigmoid nets answering the majority class
    assert best_by_validation([first, second]).path == second.path


def test_changed_settings_names_the_keys_that_differ(tmp_path):
    run = write_run(tmp_path / "r", lr=0.1, depth=3)
    assert changed_settings(run, TrainConfig(lr=0.1, depth=3)) == []
    assert changed_settings(run, TrainConfig(lr=0.05, depth=4)) == ["depth", "lr"]
    assert changed_settings(RunDir(tmp_path / "not-yet"), TrainConfig()) == []
