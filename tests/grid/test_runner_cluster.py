"""The Ray backend on a real cluster (#27): a head node and a worker node started on this
machine as separate ``ray start`` processes, one CPU each (the worker with a resource of
its own, so it can be told apart). The worker node is killed (its raylet, SIGKILL) in the
middle of a sweep and of a study run with ``--address``; running the same command again
completes every run with the numbers of an uninterrupted run on local processes.

Select it with ``pytest -m cluster`` (or leave it out with ``-m "not cluster"``); it takes
about two minutes on two cores."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import depthlab

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

SRC = str(Path(depthlab.__file__).resolve().parents[1])
WORKER_RESOURCE = "spare_node"
"""The worker node's own resource: its raylet's command line names it."""

TIMING = {"seconds", "probe_seconds", "updates_per_second"}
"""final.json's keys that time the run: the only ones a resumed run may change."""

GRID = """dataset = "shapeset"
depth = 2
width = 16
updates = 1500
eval_every = 100
probe_every = 500
eval_size = 100
probe_size = 20
jacobian_examples = 0

[axes]
lr = [0.01, 0.1]
seed = [1, 2]
"""


class Cluster:
    """A head and a worker node on this machine, in a temporary directory of their own
    (their processes are found by it, so no other Ray instance here is touched)."""

    def __init__(self):
        self.ray = shutil.which("ray")
        self.temp = tempfile.mkdtemp(prefix="dlray", dir="/tmp")  # short: Ray's socket paths are limited
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0",
                    "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        self._start("--head", f"--port={self.port}", f"--temp-dir={self.temp}", "--include-dashboard=false")

    def _start(self, *args: str) -> None:
        subprocess.run([self.ray, "start", "--num-cpus=1", "--object-store-memory=100000000",
                        "--disable-usage-stats", *args], env=self.env, check=True, capture_output=True, timeout=180)

    def start_worker(self) -> None:
        self._start(f"--address={self.address}", f"--resources={json.dumps({WORKER_RESOURCE: 1})}")

    def pids(self, *words: str) -> list[int]:
        """The processes of this cluster whose command line holds every one of ``words``."""
        found = []
        for proc in Path("/proc").iterdir():
            try:
                line = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if proc.name.isdigit() and self.temp in line and all(word in line for word in words):
                found.append(int(proc.name))
        return found

    def kill_worker(self) -> list[int]:
        """SIGKILL the worker node's raylet, as a lost machine would end it; return the
        processes it had started (its Ray workers: the runs training there)."""
        (raylet,) = self.pids("raylet/raylet", WORKER_RESOURCE)
        children = [int(proc.name) for proc in Path("/proc").iterdir() if proc.name.isdigit()
                    and _parent(proc) == raylet]
        os.kill(raylet, signal.SIGKILL)
        return children

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            time.sleep(2)
        shutil.rmtree(self.temp, ignore_errors=True)


def _parent(proc: Path) -> int | None:
    """The parent of the process at ``proc`` (/proc/PID), None once it is gone."""
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie does not)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("ray")
    if shutil.which("ray") is None:
        pytest.skip("no ray command")
    cluster = Cluster()
    try:
        cluster.start_worker()
        yield cluster
    finally:
        cluster.stop()


def depthlab_command(cluster: Cluster, *args: str) -> list[str]:
    return [sys.executable, "-m", "depthlab", *args, "--backend", "ray", "--address", cluster.address,
            "--stacking", "never", "--quiet"]


def kill_worker_when(cluster: Cluster, command: list[str], ready, command_too: bool = False) \
        -> tuple[subprocess.CompletedProcess, object]:
    """Run ``command``, kill the worker node once ``ready()`` says what it saw (not None)
    (and the command itself, SIGKILL, with ``command_too``), let the command end; return
    its outcome and what ``ready`` saw."""
    process = subprocess.Popen(command, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen, deadline = None, time.monotonic() + 300
    while seen is None and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        seen = ready()
    assert seen is not None, (f"the worker node was never seen at work (the command ended with "
                              f"{process.poll()}: {process.stderr.read()[-2000:] if process.poll() is not None else ''})")
    workers = cluster.kill_worker()
    assert workers, "the worker node ran nothing"
    if command_too:
        process.kill()
    out, err = process.communicate(timeout=600)
    deadline = time.monotonic() + 60
    while [pid for pid in workers if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if alive(pid)]  # what trained there died with its node
    cluster.start_worker()  # the machine comes back, empty
    return subprocess.CompletedProcess(command, process.returncode, out, err), seen


def statuses(runs: Path) -> dict[str, tuple[str, bool]]:
    """Each run's status and whether it has a checkpoint."""
    found = {}
    for status in runs.glob("**/status.json"):
        try:
            found[str(status.parent.relative_to(runs))] = (json.loads(status.read_text())["status"],
                                                           (status.parent / "checkpoint.pt").is_file())
        except (ValueError, KeyError, OSError):  # being replaced
            continue
    return found


def numbers(run: Path) -> tuple:
    """What a run computed: its metrics, its probes and its final numbers without their timing."""
    final = json.loads((run / "final.json").read_text())
    return ((run / "metrics.jsonl").read_text(), (run / "probes.jsonl").read_text() if (run / "probes.jsonl").is_file()
            else None, {k: v for k, v in final.items() if k not in TIMING})


def assert_same_runs(runs: Path, reference: Path) -> None:
    names = sorted(str(p.parent.relative_to(reference)) for p in reference.glob("**/final.json"))
    assert names and sorted(str(p.parent.relative_to(runs)) for p in runs.glob("**/final.json")) == names
    for name in names:
        assert numbers(runs / name) == numbers(reference / name), name


def lost_or_done(done: subprocess.CompletedProcess) -> None:
    """The interrupted command ended at once or after Ray retried the lost task: done, or
    one line naming the lost run (or killed)."""
    assert done.returncode in (0, -signal.SIGKILL) or (done.returncode == 2 and done.stderr.count("depthlab: error:") == 1
                                    and "Traceback" not in done.stderr), done.stderr[-2000:]


@pytest.mark.parametrize("command_too", [False, True], ids=["ray-retries", "command-killed-too"])
def test_a_sweep_whose_worker_node_dies_completes_with_the_uninterrupted_numbers(cluster, tmp_path, command_too):
    """Ray retries a task its node lost (the run resumes on the head); killed too, the
    command leaves the worker node's run in the middle, and running it again resumes it."""
    from depthlab.sweeps.sweep import sweep

    (tmp_path / "grid.toml").write_text(GRID)
    sweep(tmp_path / "grid.toml", tmp_path / "local", workers=1, progress=False, stacking="never")
    command = depthlab_command(cluster, "sweep", str(tmp_path / "grid.toml"), "--out", str(tmp_path / "ray"))

    def two_checkpointed_runs():  # one CPU a node: two runs at once are one on each
        running = [name for name, (status, checkpoint) in statuses(tmp_path / "ray" / "runs").items()
                   if status == "running" and checkpoint]
        return running if len(running) == 2 else None

    done, running = kill_worker_when(cluster, command, two_checkpointed_runs, command_too)
    lost_or_done(done)
    if command_too:  # the worker node's run was left in the middle, resumable (the head's may have ended)
        assert ("running", True) in {statuses(tmp_path / "ray" / "runs")[name] for name in running}
    again = subprocess.run(command, env=cluster.env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert_same_runs(tmp_path / "ray" / "runs", tmp_path / "local" / "runs")
    assert (tmp_path / "ray" / "summary.csv").read_text() == (tmp_path / "local" / "summary.csv").read_text()


def test_a_study_whose_worker_node_dies_completes_with_the_uninterrupted_numbers(cluster, tmp_path, write_mnist):
    from depthlab.studies import reproduce

    write_mnist(tmp_path / "data" / "mnist", n_train=11_000, n_test=500, learnable=True)
    data = str(tmp_path / "data")
    reproduce("trainable-depth", "smoke", out=tmp_path / "local", data_dir=data, progress=False, stacking="never")
    command = depthlab_command(cluster, "reproduce", "trainable-depth", "--smoke", "--data-dir", data, "--out",
                               str(tmp_path / "ray"))

    def a_run_started():
        running = [name for name, (status, _) in statuses(tmp_path / "ray" / "runs").items() if status == "running"]
        return running or None

    done, _ = kill_worker_when(cluster, command, a_run_started)
    lost_or_done(done)
    again = subprocess.run(command, env=cluster.env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert_same_runs(tmp_path / "ray" / "runs", tmp_path / "local" / "runs")
