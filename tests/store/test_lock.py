"""One writer per run directory and per study folder, with locks that die with their process."""

import json
import os
import signal
import subprocess
import sys

import pytest

from depthlab.config import TrainConfig
from depthlab.errors import DepthlabError
from depthlab.grid import RunSpec
from depthlab.grid.runner import run_specs
from depthlab.store import RunDir
from depthlab.store.lock import LOCK, FolderLock
from depthlab.studies import reproduce
from depthlab.training.trainer import resume, train

HOLD = """
import sys, time
from depthlab.store.lock import FolderLock
lock = FolderLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(600)
"""

SMALL = dict(dataset="shapeset", depth=1, width=8, updates=20, eval_every=10, eval_size=50, probe=False)


@pytest.fixture
def holder():
    """hold(folder): a child process that holds folder's lock; it is killed at the end."""
    children = []

    def hold(folder):
        folder.mkdir(parents=True, exist_ok=True)
        child = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "held"
        children.append(child)
        return child

    yield hold
    for child in children:
        child.kill()
        child.wait()


def test_a_held_folder_is_refused_with_the_holder_s_pid_and_freed_when_it_is_killed(tmp_path, holder):
    child = holder(tmp_path / "run")
    with pytest.raises(DepthlabError) as error:
        FolderLock(tmp_path / "run", "run directory").acquire()
    assert str(error.value) == (f"run directory {tmp_path / 'run'} is in use by process {child.pid} (another "
                                "depthlab run or study writing it); wait for it to end or choose another --out")
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert (tmp_path / "run" / LOCK).exists()  # the stale lock file stays, and never blocks
    with FolderLock(tmp_path / "run") as lock:
        assert lock.held and (tmp_path / "run" / LOCK).read_text() == f"{os.getpid()}\n"


def test_a_run_held_by_another_process_is_not_resumed(tmp_path, holder):
    run = train(SMALL, out=tmp_path / "run", progress=False).run
    metrics = (run.path / "metrics.jsonl").read_bytes()
    child = holder(run.path)
    with pytest.raises(DepthlabError, match=f"in use by process {child.pid}"):
        resume(run.path, updates=40, progress=False)
    assert (run.path / "metrics.jsonl").read_bytes() == metrics and run.status["update"] == 20


def test_a_run_is_held_while_it_trains_and_free_after(tmp_path):
    seen = []

    def try_to_hold(trainer, update):
        if update == 5:
            with pytest.raises(DepthlabError, match="in use by process"):
                RunDir(trainer.run.path).hold()
            seen.append(update)

    result = train(SMALL, out=tmp_path / "run", progress=False, callbacks=[try_to_hold])
    assert seen == [5] and result.status == "completed"
    RunDir(tmp_path / "run").hold().release()  # free once training ended


def test_a_new_run_into_a_held_empty_folder_is_refused_and_leaves_it_as_it_was(tmp_path, holder):
    holder(tmp_path / "run")
    with pytest.raises(DepthlabError, match="in use by process"):
        train(SMALL, out=tmp_path / "run", progress=False)
    assert [p.name for p in (tmp_path / "run").iterdir()] == [LOCK]


def test_a_second_study_on_one_folder_is_refused_before_it_writes(tmp_path, holder):
    holder(tmp_path / "study")
    with pytest.raises(DepthlabError, match="study folder .* is in use by process"):
        reproduce("glorot2010", "smoke", out=tmp_path / "study", progress=False, datasets=["shapeset"])
    assert [p.name for p in (tmp_path / "study").iterdir()] == [LOCK]


def test_a_study_of_another_budget_is_refused_before_budget_json_is_rewritten(tmp_path):
    spec = RunSpec("shapeset/softsign/lr0.05", TrainConfig(**SMALL, lr=0.05))  # a smoke run's name, other settings
    run_specs([spec], tmp_path, progress=False)
    (tmp_path / "budget.json").write_text(json.dumps({"budget": "smoke"}))
    with pytest.raises(DepthlabError, match="holds a run made with other settings"):
        reproduce("glorot2010", "smoke", out=tmp_path, progress=False, datasets=["shapeset"])
    assert json.loads((tmp_path / "budget.json").read_text()) == {"budget": "smoke"}


def test_a_sweep_does_not_delete_a_run_another_process_is_making(tmp_path, holder):
    path = tmp_path / "runs" / "a" / "lr0.05"
    holder(path)  # made, locked, nothing written yet: it looks broken
    with pytest.raises(DepthlabError, match="in use by process"):
        run_specs([RunSpec("a/lr0.05", TrainConfig(**SMALL, lr=0.05))], tmp_path, progress=False)
    assert path.is_dir()
