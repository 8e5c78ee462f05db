"""The GPU session's script, checked on the CPU: its dry run goes through every step and
brings back only small files; a run it stopped is reported at the update it reached."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest

from fakes import interrupt_at

from depthlab.config import TrainConfig
from depthlab.store import RunDir
from depthlab.training import fused
from depthlab.training.trainer import train

ROOT = Path(__file__).parents[2]


def session_report():
    spec = importlib.util.spec_from_file_location("gpu_session_report", ROOT / "benchmarks" / "gpu_session_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_stopped_run_is_evaluated_and_ended_at_the_update_it_reached(tmp_path, monkeypatch):
    config = TrainConfig(dataset="shapeset", depth=1, width=16, updates=200, eval_every=100, eval_size=50,
                         probe=False, step="fused")
    interrupt_at(monkeypatch, fused.FusedSGD, 130)
    assert train(config, out=tmp_path / "run", progress=False).status == "interrupted"
    monkeypatch.undo()
    run = RunDir(tmp_path / "run")
    session_report().end_where_stopped(run)
    assert run.status == {"status": "completed", "update": 130}
    last = [row for row in run.metrics() if "validation_error" in row][-1]
    assert last["update"] == 130 and run.final["validation_error"] == last["validation_error"]
    assert run.final["update"] == 130


@pytest.mark.slow
def test_the_dry_run_goes_through_every_step_and_brings_back_small_files(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path / "out"), "WORK": str(tmp_path / "work"),
           "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_session.sh"), "--dry-run", "--device", "cpu",
                           "--seconds", "150"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert {"cuda-tests.txt", "bench.json", "bench.txt", "session.log", "table1.md", "table1.csv", "metrics.csv",
            "runs.json", "glorot2010/report.md", "glorot2010/figures/figure11.png"} <= files
    assert not [f for f in files if f.endswith((".pt", ".jsonl"))]  # no checkpoint, no run directory
    assert sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) < 5_000_000
    bench = json.loads((out / "bench.json").read_text())
    assert [(row["net"], row["stack"], row["graphs"]) for row in bench["rows"]] == [("nielsen", 0, False),
                                                                                   ("nielsen", 1, False)]
    runs = json.loads((out / "runs.json").read_text())
    assert len(runs) == 6 and {r["env"]["graphs"] for r in runs.values()} == {False}
