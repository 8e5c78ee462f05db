"""``depthlab doctor RUN_DIR``: a run of depthlab's own rebuilt and treated, and user errors."""

from __future__ import annotations

from depthlab.cli import main
from depthlab.training.trainer import train

SIGMOID = dict(dataset="shapeset", depth=4, width=64, updates=10, eval_every=10, probe_every=10, eval_size=100,
               probe_size=50, jacobian_examples=0, activation="sigmoid", init="standard", lr=0.1)


def test_a_sigmoid_run_at_the_standard_init_is_treated(tmp_path, capsys):
    run = train(SIGMOID, out=tmp_path / "run", progress=False).path
    files = sorted(p.name for p in run.iterdir())
    assert main(["doctor", str(run), "--steps", "60", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("depthlab doctor: trial of 60 updates, cost ")
    assert "PROBLEM  vanishing gradients" in out
    assert "- tanh for sigmoid: " in out
    assert out.rstrip().endswith(f"wrote {run / 'doctor' / 'doctor.html'}")
    assert sorted(p.name for p in run.iterdir()) == sorted([*files, "doctor"])  # the run itself unchanged


def test_a_directory_that_is_not_a_run_is_one_line(tmp_path, capsys):
    assert main(["doctor", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("depthlab: error: ") and err.count("\n") == 1
    assert not (tmp_path / "doctor").exists()


def test_too_few_steps_is_one_line(tmp_path, capsys):
    run = train({**SIGMOID, "updates": 2, "eval_every": 2, "probe_every": 2}, out=tmp_path / "run",
                progress=False).path
    assert main(["doctor", str(run), "--steps", "1"]) == 2
    assert capsys.readouterr().err == "depthlab: error: steps 1 must be an integer of at least 2\n"
    assert not (run / "doctor").exists()
