import json
import shutil
import sys

import pytest
import torch

from depthlab.config import TrainConfig
from depthlab.errors import DepthlabError
from depthlab.store import best_by_validation, run_state
from depthlab.grid import RunSpec
from depthlab.grid.runner import run_specs
from depthlab.threads import available_cores, share

BASE = dict(dataset="shapeset", depth=2, width=16, updates=40, eval_every=20, eval_size=100, probe=False)


def specs():
    return [RunSpec("a/lr0.05", TrainConfig(**BASE, lr=0.05)),
            RunSpec("a/lr1e4", TrainConfig(**{**BASE, "activation": "linear", "init": "he-normal"}, lr=1e4)),
            RunSpec("a/lr0.01", TrainConfig(**BASE, lr=0.01))]


def test_sweep_goes_on_after_a_divergence_and_keeps_finished_runs(tmp_path):
    runs = run_specs(specs(), tmp_path, progress=False)
    statuses = {name: run.status["status"] for name, run in runs.items()}
    assert statuses == {"a/lr0.05": "completed", "a/lr1e4": "diverged", "a/lr0.01": "completed"}
    best = best_by_validation(list(runs.values()))
    assert best.final["validation_error"] == min(r.final["validation_error"] for r in runs.values()
                                                 if r.status["status"] == "completed")
    stamp = (tmp_path / "runs/a/lr0.05/final.json").stat().st_mtime_ns
    shutil.rmtree(tmp_path / "runs/a/lr0.01")
    (tmp_path / "runs/a/lr0.01").mkdir()  # a run that died before writing anything
    assert run_state(tmp_path / "runs/a/lr0.01") == "broken"
    again = run_specs(specs(), tmp_path, progress=False)
    assert (tmp_path / "runs/a/lr0.05/final.json").stat().st_mtime_ns == stamp  # kept, not retrained
    assert again["a/lr0.01"].status["status"] == "completed"


def test_two_workers_give_the_same_numbers_as_one(tmp_path):
    one = run_specs(specs()[:1], tmp_path / "one", progress=False)
    two = run_specs(specs(), tmp_path / "two", workers=2, progress=False)
    assert one["a/lr0.05"].final["validation_error"] == two["a/lr0.05"].final["validation_error"]
    assert two["a/lr1e4"].status["status"] == "diverged"


def test_each_worker_trains_on_its_share_of_the_cores_or_on_the_threads_asked_for(tmp_path):
    two = run_specs(specs()[::2], tmp_path / "two", workers=2, progress=False, stacking="never")
    assert {json.loads((run.path / "env.json").read_text())["torch_threads"] for run in two.values()} == {share(2)}
    before = torch.get_num_threads()
    one = run_specs(specs()[:1], tmp_path / "one", threads=1, progress=False)
    assert json.loads((one["a/lr0.05"].path / "env.json").read_text())["torch_threads"] == 1
    assert torch.get_num_threads() == before  # the caller's own count given back
    with pytest.raises(DepthlabError, match=f"threads 0 must be a whole number from 1 to {available_cores()}"):
        run_specs(specs(), tmp_path / "bad", threads=0, progress=False)
    assert not (tmp_path / "bad").exists()


def test_runs_of_another_budget_are_not_reused(tmp_path):
    run_specs(specs()[:1], tmp_path, progress=False)
    longer = [RunSpec("a/lr0.05", TrainConfig(**{**BASE, "updates": 80}, lr=0.05))]
    with pytest.raises(DepthlabError, match="holds a run made with other settings \\(updates\\)"):
        run_specs(longer, tmp_path, progress=False)


def test_a_configuration_whose_every_rate_diverged_is_reported_as_diverged(tmp_path):
    runs = run_specs(specs()[1:2], tmp_path, progress=False)
    assert best_by_validation(list(runs.values())).status["status"] == "diverged"


def test_parallel_workers_are_handed_one_run_each_so_ctrl_c_leaves_none_queued(tmp_path, monkeypatch):
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from depthlab.grid import runner

    handed, finished, most = [], [], []
    lock = threading.Lock()

    class Pool(ThreadPoolExecutor):
        def __init__(self, workers, mp_context=None, initializer=None, initargs=()):
            super().__init__(workers)

        def submit(self, fn, *args):
            with lock:
                handed.extend(spec.name for spec in args[0])
                most.append(len(handed) - len(finished))
            return super().submit(fn, *args)

    def execute(group, paths, threads, stacking, parent):
        time.sleep(0.05)
        with lock:
            finished.extend(spec.name for spec in group)
        return [(spec.name, "completed", None) for spec in group]

    monkeypatch.setattr(runner, "ProcessPoolExecutor", Pool)
    monkeypatch.setattr(runner, "_execute_in_worker", execute)
    grid = [RunSpec(f"a/lr{k}", TrainConfig(**BASE, lr=0.01 * (k + 1))) for k in range(6)]
    run_specs(grid, tmp_path, workers=2, progress=False, stacking="never")
    assert sorted(handed) == sorted(spec.name for spec in grid) and max(most) <= 2


def test_a_sweep_never_removes_what_it_did_not_write(tmp_path):
    folder = tmp_path / "runs/a/lr0.05"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")  # no status.json: once taken for a broken run and removed
    with pytest.raises(DepthlabError, match=r"lr0.05 already exists and is not empty"):
        run_specs(specs()[:1], tmp_path, progress=False)
    assert (folder / "notes.txt").read_text() == "mine"


def test_a_run_killed_after_its_last_checkpoint_is_finished_by_the_next_sweep(tmp_path, monkeypatch):
    from depthlab.training.trainer import Trainer

    whole = run_specs(specs()[:1], tmp_path / "whole", progress=False)["a/lr0.05"].final
    real = Trainer.finish

    def killed(self, sharing=1):
        raise SystemExit("killed")  # after the checkpoint at the last update, before the status

    monkeypatch.setattr(Trainer, "finish", killed)
    with pytest.raises(SystemExit):
        run_specs(specs()[:1], tmp_path / "cut", progress=False)
    monkeypatch.setattr(Trainer, "finish", real)
    assert run_state(tmp_path / "cut/runs/a/lr0.05") == "resumable"
    again = run_specs(specs()[:1], tmp_path / "cut", progress=False)["a/lr0.05"].final
    keys = ("status", "update", "validation_error", "validation_cost", "test_error", "test_cost")
    assert {k: again[k] for k in keys} == {k: whole[k] for k in keys}


# -- #27 item 4: workers die with their sweep --------------------------------------------
LONG = [RunSpec(f"long/s{seed}", TrainConfig(**{**BASE, "updates": 1_000_000, "eval_every": 50}, seed=seed))
        for seed in (1, 2)]


def _alive(pid):
    """Whether process ``pid`` runs (a zombie no one reaped has ended)."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _worker_pids(root, count, runs="long/*"):
    """The pids of the workers holding ``count`` runs under ``root``, once each has checkpointed."""
    import time

    for _ in range(1200):
        locks = list(root.glob(f"runs/{runs}/.lock"))
        if len(locks) == count and all((lock.parent / "checkpoint.pt").is_file() for lock in locks):
            return [int(lock.read_text()) for lock in locks]
        time.sleep(0.1)
    raise AssertionError("the workers never checkpointed")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_of_a_killed_sweep_checkpoint_and_end(tmp_path):
    import os
    import signal
    import subprocess
    import time
    from pathlib import Path

    script = ("import sys; from depthlab.grid.runner import run_specs; from tests.grid.test_runner import LONG; "
              "run_specs(LONG, sys.argv[1], workers=2, progress=False, stacking='never')")
    root = Path(__file__).resolve().parents[2]
    sweep = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=root,
                             env={**os.environ, "PYTHONPATH": f"{root / 'src'}:{root}"})
    try:
        workers = _worker_pids(tmp_path, 2)
    finally:
        sweep.send_signal(signal.SIGKILL)
        sweep.wait()
    for _ in range(300):  # the grace they have is 60 s; a clean stop takes a moment
        if not any(_alive(pid) for pid in workers):
            break
        time.sleep(0.1)
    survivors = [pid for pid in workers if _alive(pid)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert survivors == []
    for spec in LONG:  # each stopped cleanly at a checkpoint, as on SIGTERM
        status = json.loads((tmp_path / "runs" / spec.name / "status.json").read_text())
        assert status["status"] == "interrupted" and run_state(tmp_path / "runs" / spec.name) == "resumable"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_worker_killed_in_a_sweep_is_one_line(tmp_path):
    import os
    import signal
    import threading

    def kill_one():
        pid = _worker_pids(tmp_path, 2)[0]
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_one)
    killer.start()
    with pytest.raises(DepthlabError, match=r"^a worker process of the sweep ended abruptly \(killed, or out of "
                                            r"memory\): run the same command again to resume its runs$"):
        run_specs(LONG, tmp_path, workers=2, progress=False, stacking="never")
    killer.join()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_without_prctl_a_worker_watching_its_parent_ends_with_it(tmp_path):
    import os
    import signal
    import subprocess
    import time
    from pathlib import Path

    src = str(Path(__file__).resolve().parents[2] / "src")
    worker = ("import ctypes, os, time\n"
              "from depthlab.grid.runner import _die_with_parent\n"
              "def no_prctl(*args, **kwargs): raise OSError('not Linux')\n"
              "ctypes.CDLL = no_prctl\n"
              "_die_with_parent(os.getppid())\n"
              "print(os.getpid(), flush=True)\n"
              "time.sleep(600)\n")
    parent = ("import subprocess, sys, time\n"
              f"worker = subprocess.Popen([sys.executable, '-c', {worker!r}])\n"
              "time.sleep(1)\n"
              "while worker.poll() is None: time.sleep(0.1)\n")
    middle = subprocess.Popen([sys.executable, "-c", parent], env={**os.environ, "PYTHONPATH": src},
                              stdout=subprocess.PIPE, text=True)
    line = middle.stdout.readline()  # empty if the worker failed (and the middle process then ends)
    if not line:
        middle.kill()
    pid = int(line)
    middle.send_signal(signal.SIGKILL)
    middle.wait()
    for _ in range(300):
        if not _alive(pid):
            break
        time.sleep(0.1)
    ended = not _alive(pid)
    if not ended:
        os.kill(pid, signal.SIGKILL)
    assert ended


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum, code", [("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_signal_to_the_sweep_reaches_its_workers(tmp_path, signum, code):
    import os
    import signal
    import subprocess
    from pathlib import Path

    grid = tmp_path / "grid.toml"
    grid.write_text('dataset = "shapeset"\ndepth = 2\nwidth = 16\nupdates = 1000000\neval-every = 50\n'
                    'eval-size = 50\nprobe = false\n[axes]\nseed = [1, 2]\n')
    sweep = subprocess.Popen([sys.executable, "-m", "depthlab", "sweep", str(grid), "--out", str(tmp_path / "out"),
                              "--workers", "2", "--stacking", "never", "--quiet"],
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        workers = _worker_pids(tmp_path / "out", 2, "seed*")
    except AssertionError:
        sweep.kill()
        raise
    sweep.send_signal(getattr(signal, signum))
    out, err = sweep.communicate(timeout=300)
    assert (sweep.returncode, err) == (code, "")
    assert out == f"interrupted: finished runs are kept in {tmp_path / 'out'}; run the same command again to resume\n"
    assert not any(_alive(pid) for pid in workers)  # the pool waited for them
    for seed in (1, 2):
        assert json.loads((tmp_path / f"out/runs/seed{seed}/status.json").read_text())["status"] == "interrupted"


def test_a_signal_stops_the_whole_group_not_only_its_current_run(tmp_path, monkeypatch):
    import signal

    from depthlab.grid import runner
    from depthlab.signals import Stopped
    from depthlab.training.trainer import RunResult

    started = []

    def train(config, out, data=None, progress=True):
        started.append(out.name)
        return RunResult(out, "interrupted", {}, signal.SIGTERM)  # as SIGTERM stops it

    monkeypatch.setattr(runner, "train", train)
    monkeypatch.setattr(runner, "load_data", lambda config: None)  # a group of runs that do not stack
    group = [specs()[0], specs()[2]]
    paths = {spec.name: tmp_path / spec.name for spec in group}
    assert runner._execute(group, paths, None) == [("a/lr0.05", "interrupted", signal.SIGTERM)]
    assert started == ["lr0.05"]
    with pytest.raises(Stopped) as stop:  # and the sweep stops as the signal says
        run_specs(specs(), tmp_path, progress=False, stacking="never")
    assert stop.value.signum == signal.SIGTERM
