"""Ctrl-C at each phase of a run's start-up leaves nothing behind (or a run that resumes),
and a run killed before its first checkpoint never blocks its folder."""

import json

import pytest

from depthlab.cli import main
from depthlab.errors import DepthlabError
from depthlab.training import trainer
from depthlab.training.trainer import resume, train

SMALL = dict(dataset="shapeset", depth=2, width=16, updates=40, eval_every=20, eval_size=100, probe_size=20,
             jacobian_examples=0)
PHASES = ["load_data", "build_model", "Probe", "evaluate", "measure_probe"]


def interrupt_at(monkeypatch, phase):
    """Make the first call of ``phase`` raise KeyboardInterrupt, as a Ctrl-C there would."""
    owner = trainer.Trainer if phase in ("evaluate", "measure_probe") else trainer
    real = getattr(owner, phase)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(owner, phase, interrupted)
    return real


@pytest.mark.parametrize("phase", PHASES)
def test_ctrl_c_before_the_first_checkpoint_leaves_no_run(tmp_path, monkeypatch, phase):
    interrupt_at(monkeypatch, phase)
    with pytest.raises(KeyboardInterrupt):
        train(SMALL, out=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_ctrl_c_into_a_given_empty_folder_leaves_it_empty(tmp_path, monkeypatch):
    (tmp_path / "run").mkdir()
    interrupt_at(monkeypatch, "evaluate")
    with pytest.raises(KeyboardInterrupt):
        train(SMALL, out=tmp_path / "run", progress=False)
    assert list((tmp_path / "run").iterdir()) == []


def test_the_command_says_interrupted_in_one_line(tmp_path, monkeypatch, capsys):
    interrupt_at(monkeypatch, "evaluate")
    code = main(["train", "--depth", "2", "--width", "16", "--updates", "40", "--eval-every", "20", "--eval-size",
                 "100", "--quiet", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 130 and err == "depthlab: interrupted\n" and not (tmp_path / "run").exists()


def test_ctrl_c_after_a_checkpoint_leaves_a_run_that_resumes(tmp_path, monkeypatch):
    real = trainer.Trainer.evaluate
    calls = []

    def evaluate(self):
        calls.append(self.update)
        if self.update == 40:  # the last evaluation, after the checkpoint at update 20
            raise KeyboardInterrupt
        return real(self)

    monkeypatch.setattr(trainer.Trainer, "evaluate", evaluate)
    with pytest.raises(KeyboardInterrupt):
        train(SMALL, out=tmp_path / "run", progress=False)
    monkeypatch.undo()
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status == {"status": "interrupted", "update": 40}
    assert resume(tmp_path / "run", progress=False).status == "completed"


def test_a_run_killed_before_its_first_checkpoint_does_not_block_its_folder(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / "status.json").write_text(json.dumps({"status": "running", "update": 0}))  # as SIGKILL left it
    assert train(SMALL, out=run, progress=False).status == "completed"


# -- #27 item 2: killed after the final checkpoint, before the status --------------------
FINAL_KEYS = ("status", "update", "validation_error", "validation_cost", "test_error", "test_cost",
              "best_validation_error")


def _killed_in_finish(monkeypatch, out, where):
    """Train SMALL into ``out`` and die at ``where`` inside Trainer.finish, after the
    checkpoint at the last update (as a SIGKILL there would leave it)."""
    from depthlab.store.run import RunDir

    owner, name = {"probe": (trainer.Trainer, "measure_probe"), "metrics": (RunDir, "metrics"),
                   "status": (RunDir, "set_status"), "ctrl-c": (trainer.Trainer, "measure_probe")}[where]
    real = getattr(owner, name)

    def dying(self, *args, **kwargs):
        last = getattr(self, "update", None) == SMALL["updates"] or where in ("metrics", "status")
        if last and (where != "status" or args[0] == "completed"):
            raise KeyboardInterrupt if where == "ctrl-c" else SystemExit("killed")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(owner, name, dying)
    with pytest.raises((SystemExit, KeyboardInterrupt)):
        train(SMALL, out=out, progress=False)
    monkeypatch.undo()


@pytest.mark.parametrize("where", ["probe", "metrics", "status", "ctrl-c"])
def test_a_run_killed_between_its_last_checkpoint_and_its_status_finishes_on_resume(tmp_path, monkeypatch, where):
    whole = train(SMALL, out=tmp_path / "whole", progress=False)
    _killed_in_finish(monkeypatch, tmp_path / "cut", where)
    status = json.loads((tmp_path / "cut" / "status.json").read_text())
    assert status["status"] == ("interrupted" if where == "ctrl-c" else "running")
    assert (tmp_path / "cut" / "final.json").exists() == (where == "status")  # final.json comes first
    finished = resume(tmp_path / "cut", progress=False)
    assert {k: finished.final.get(k) for k in FINAL_KEYS} == {k: whole.final.get(k) for k in FINAL_KEYS}
    for name in ("metrics.jsonl", "probes.jsonl"):
        assert (tmp_path / "cut" / name).read_text() == (tmp_path / "whole" / name).read_text()
    assert json.loads((tmp_path / "cut" / "status.json").read_text()) == {"status": "completed", "update": 40}


def test_the_command_finishes_such_a_run_and_inspect_advises_it(tmp_path, monkeypatch, capsys):
    from depthlab.report.diagnosis import diagnose_run

    _killed_in_finish(monkeypatch, tmp_path / "cut", "probe")
    advice = {f.name: f.advice for f in diagnose_run(tmp_path / "cut")}
    assert advice["unfinished run"] == "finish it with depthlab train --resume on this run directory."
    assert main(["train", "--resume", str(tmp_path / "cut"), "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("completed: 40 updates")
    assert main(["train", "--resume", str(tmp_path / "cut"), "--quiet"]) == 2  # completed now: nothing to do
    assert "is completed at update 40: give --updates above it" in capsys.readouterr().err


def test_a_run_without_a_checkpoint_is_not_advised_to_resume(tmp_path):
    from depthlab.report.diagnosis import diagnose_run

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(SMALL))
    (run / "status.json").write_text(json.dumps({"status": "running", "update": 0}))
    advice = {f.name: f.advice for f in diagnose_run(run)}["unfinished run"]
    assert advice.startswith("it stopped before its first checkpoint, so there is nothing to resume")


def test_sigterm_before_the_loop_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    import os
    import signal
    import time

    def evaluate(self):  # the first evaluation, before the loop listens for a stop
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)

    monkeypatch.setattr(trainer.Trainer, "evaluate", evaluate)
    code = main(["train", "--depth", "2", "--width", "16", "--updates", "40", "--eval-every", "20", "--eval-size",
                 "100", "--quiet", "--out", str(tmp_path / "run")])
    assert (code, capsys.readouterr().err) == (143, "depthlab: interrupted\n") and not (tmp_path / "run").exists()


@pytest.mark.parametrize("left", [["config.json", "network.json.4242-deadbeef.tmp"], ["config.json.4242-0123abcd.tmp"],
                                  ["config.json.tmp"], ["config.json", "network.json", "env.json", "status.json",
                                                        "checkpoint.pt.77-00ff00ff.tmp"]])
def test_a_run_killed_while_it_was_made_is_made_anew(tmp_path, left):
    run = tmp_path / "run"
    run.mkdir()
    made = train(SMALL, out=tmp_path / "whole", progress=False)
    for name in left:  # killed in a first write (its temporary file left), or before the first checkpoint's rename
        (run / name).write_bytes((made.path / name).read_bytes() if (made.path / name).is_file() else b"{")
    if (run / "status.json").exists():
        (run / "status.json").write_text('{"status": "running", "update": 0}')
    assert train(SMALL, out=run, progress=False).status == "completed"
    assert not [path.name for path in run.iterdir() if path.name.endswith(".tmp")]


def test_a_folder_with_a_config_json_of_the_user_s_own_is_refused_and_kept(tmp_path):
    run = tmp_path / "mine"
    (run / "tensorboard").mkdir(parents=True)
    (run / "config.json").write_text('{"my": "own settings"}')
    (run / "tensorboard" / "events.out").write_text("mine")
    with pytest.raises(DepthlabError, match="already exists and is not empty"):
        train(SMALL, out=run, progress=False)
    assert (run / "config.json").read_text() == '{"my": "own settings"}'
    assert (run / "tensorboard" / "events.out").read_text() == "mine"


def test_a_completed_status_without_final_numbers_finishes_on_resume(tmp_path):
    whole = train(SMALL, out=tmp_path / "run", progress=False)
    (tmp_path / "run" / "final.json").unlink()  # killed between the two, as runs before #27 wrote them
    assert resume(tmp_path / "run", progress=False).final["test_error"] == whole.final["test_error"]
