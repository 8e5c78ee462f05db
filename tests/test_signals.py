"""SIGTERM and SIGHUP stop a run as Ctrl-C does (depthlab.signals): in the loop a first
signal checkpoints and marks the run interrupted, exiting 128 + the signal's number."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from depthlab.signals import Stopped, interrupts, stop_requests, stopped_exit_code

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_each_stop_signal_stops_at_once_outside_the_loop(signum, code):
    with pytest.raises(Stopped) as caught, interrupts():
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the handler runs before this returns
    assert caught.value.signum == signum and stopped_exit_code(caught.value) == code
    assert stopped_exit_code(KeyboardInterrupt()) == 130


def test_in_the_loop_a_first_signal_asks_and_a_second_ctrl_c_stops():
    before = signal.getsignal(signal.SIGTERM)  # Python's default, or what an earlier ray.init left in this process
    with stop_requests() as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested and stop.signum == signal.SIGTERM
        os.kill(os.getpid(), signal.SIGHUP)  # already stopping: a repeated SIGTERM or a SIGHUP changes nothing
        assert stop.signum == signal.SIGTERM
        with pytest.raises(Stopped) as caught:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
    assert caught.value.signum == signal.SIGINT
    assert signal.getsignal(signal.SIGTERM) is before  # the handlers before are back


def test_an_ignored_signal_stays_ignored():
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup starts a process
    try:
        with stop_requests() as stop:
            os.kill(os.getpid(), signal.SIGHUP)
            assert not stop.requested
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)


def _started(out: Path) -> subprocess.Popen:
    """`depthlab train` of a run long enough to be stopped in the middle, once it has
    checkpointed (its first evaluation row is written)."""
    env = {**os.environ, "PYTHONPATH": SRC}
    process = subprocess.Popen([sys.executable, "-m", "depthlab", "train", "--dataset", "shapeset", "--depth", "2",
                                "--width", "16", "--updates", "1000000", "--eval-every", "50", "--eval-size", "50",
                                "--no-probe", "--quiet", "--out", str(out)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(1200):  # until the first checkpoint, or the process ended
        if (out / "checkpoint.pt").is_file() or process.poll() is not None:
            break
        time.sleep(0.1)
    return process


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_a_signalled_run_checkpoints_says_so_in_one_line_and_resumes(tmp_path, signum, code):
    process = _started(tmp_path / "run")
    assert process.poll() is None, process.communicate()
    process.send_signal(signum)
    out, err = process.communicate(timeout=300)
    assert process.returncode == code, err
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["status"] == "interrupted" and out.count("\n") == 1 and err == ""
    assert out.startswith(f"interrupted: {status['update']} updates") and "--resume" in out
    import torch

    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["update"] == status["update"]
