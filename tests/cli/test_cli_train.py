"""The `depthlab train` and `show-data` commands, run through `depthlab.cli.main`."""

import json
import subprocess
import sys

import numpy as np
import pytest

from depthlab.cli import main

FAST = ["--depth", "2", "--width", "16", "--updates", "30", "--eval-every", "10", "--eval-size", "100",
        "--probe-every", "10", "--probe-size", "20", "--jacobian-examples", "0", "--quiet"]


def test_train_writes_a_run_and_reports_it(tmp_path, capsys):
    assert main(["train", *FAST, "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("completed: 30 updates") and str(tmp_path / "run") in out
    assert json.loads((tmp_path / "run" / "status.json").read_text())["status"] == "completed"


def test_threads_chooses_the_runs_thread_count_and_a_bad_one_is_one_line(tmp_path, capsys):
    assert main(["train", *FAST, "--threads", "1", "--out", str(tmp_path / "run")]) == 0
    assert json.loads((tmp_path / "run" / "env.json").read_text())["torch_threads"] == 1
    assert main(["train", *FAST, "--threads", "0", "--out", str(tmp_path / "bad")]) == 2
    assert capsys.readouterr().err.startswith("depthlab: error: threads 0 must be a whole number from 1 to ")
    assert not (tmp_path / "bad").exists()


def test_config_file_and_flags(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('activation = "softsign"\ninit = "standard"\nbatch-size = 5\n')
    assert main(["train", "--config", str(config), "--batch-size", "4", *FAST, "--out", str(tmp_path / "run")]) == 0
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (saved["activation"], saved["init"], saved["batch_size"]) == ("softsign", "standard", 4)


def test_probe_stats_keep_only_those_statistics(tmp_path):
    run = tmp_path / "run"
    assert main(["train", *FAST, "--probe-stats", "activation_mean,backprop_grad_std", "--out", str(run)]) == 0
    assert json.loads((run / "config.json").read_text())["probe_stats"] == ["activation_mean", "backprop_grad_std"]
    measures = [json.loads(line) for line in (run / "probes.jsonl").read_text().splitlines()]
    assert {row["stat"] for measure in measures for row in measure["rows"]} == {"activation_mean",
                                                                                "backprop_grad_std"}
    assert {row["layer"] for row in measures[0]["rows"]} == {"layer 1", "layer 2", "output"}
    assert main(["inspect", str(run)]) == 0  # the report draws what the run kept, and says what it cannot compare
    assert "the run kept only some probe statistics (probe-stats)" in (run / "report" / "report.html").read_text()


@pytest.mark.parametrize("args, message", [
    (["--activation", "swish"], "unknown activation 'swish'"),
    (["--width", "-3"], "width -3 must be a positive number of units"),
    (["--init", "xavier"], "unknown init 'xavier'"),
    (["--dataset", "mnist", "--data-dir", "{tmp}"], "mnist"),
    (["--dataset", "arrays:{tmp}/missing.npz"], "missing.npz"),
    (["--config", "{tmp}/typo.toml"], "unknown key in {tmp}/typo.toml: 'lerning-rate'"),
    (["--optimizer", "lbfgs"], "valid choices: adagrad, adam, momentum, nesterov, rmsprop, sgd"),
    (["--width", "wide"], "argument --width: invalid int value: 'wide'"),
    (["--seed", "-1"], "seed -1 must not be negative"),
    (["--jacobian-examples", "-1"], "jacobian-examples -1 must not be negative"),
    (["--optimizer", "nesterov", "--momentum", "0"], "nesterov needs a momentum above 0"),
    (["--dataset", "arrays:{tmp}/tiny.npz", "--batch-size", "64"], "batch size 64 exceeds the 27 training examples"),
    (["--depth", str(10**23)], "depth 1e+23 is beyond 10000, the largest depthlab accepts"),
    (["--width", str(10**10)], "a network of widths 1024-10000000000x2-9 would take 745,058,"),
    (["--seed", str(10**20)], "seed 1e+20 is beyond"),
    (["--eval-size", str(10**9)], "Shapeset's validation and test sets of 1,000,000,000 and 1,000,000,000 images "
                                  "would take 7,629 GB, more than this machine's"),
    (["--device", "meta"], "unknown device 'meta'; valid choices: cpu, cuda, cuda:N, mps"),
    (["--device", "xpu"], "unknown device 'xpu'"),
    (["--device", "cpu:5"], "the CPU has no index"),
    (["--lr", "inf"], "lr inf must be a positive finite number"),
    (["--weight-decay", "nan"], "weight-decay nan must be a finite number"),
    (["--config", "{tmp}/list.json"], "list.json holds a list, not a table of keys and values"),
    (["--dataset", "arrays:{tmp}/tiny.npz", "--updates", "0", "--epochs", "1e300"], "--updates or --epochs"),
    (["--dataset", "arrays:{tmp}/nan.npz"], "x_train holds a non-finite value (NaN or infinity) in example 5"),
    (["--dataset", "arrays:{tmp}/empty.npz"], "x_test holds no examples"),
    (["--dataset", "arrays:{tmp}/oned.npz"], "x_train has shape (27,) (expected one row"),
    (["--dataset", "arrays:{tmp}/zero.npz"], "zero.npz: not a readable .npz archive"),
    (["--dataset", "arrays:{tmp}/labels.npz"], "its largest label 1099511627776 would make 1,099,511,627,777 classes"),
    (["--engine", "fused"], "--engine is now --step: auto, autograd or fused"),
    (["--config", "{tmp}/engine.toml"], "engine.toml: 'engine' is now 'step': auto, autograd or fused"),
    (["--step", "stacked"], "unknown step 'stacked'; valid choices: auto, autograd, fused"),
    (["--probe-stats", "activation_mean,weight_std"], "unknown probe statistic 'weight_std' (did you mean "),
])
def test_bad_input_is_one_line_exit_2_and_no_run_directory(tmp_path, monkeypatch, args, message):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DEPTHLAB_DATA", raising=False)
    from depthlab.data import download
    monkeypatch.setattr(download, "SYSTEM_DATA_ROOT", tmp_path / "system")
    (tmp_path / "typo.toml").write_text("lerning-rate = 0.1\n")
    (tmp_path / "engine.toml").write_text('engine = "fused"\n')
    rng = np.random.default_rng(0)
    x, y = rng.random((30, 4, 4)), rng.integers(0, 3, 30)
    np.savez(tmp_path / "tiny.npz", x_train=x, y_train=y, x_test=x[:6], y_test=y[:6])
    with_nan = x.copy()
    with_nan[5, 1, 2] = np.nan
    np.savez(tmp_path / "nan.npz", x_train=with_nan, y_train=y, x_test=x[:6], y_test=y[:6])
    np.savez(tmp_path / "empty.npz", x_train=x, y_train=y, x_test=x[:0], y_test=y[:0])
    np.savez(tmp_path / "oned.npz", x_train=x[:, 0, 0], y_train=y, x_test=x[:6], y_test=y[:6])
    np.savez(tmp_path / "labels.npz", x_train=x, y_train=np.where(np.arange(30) == 0, 2**40, y), x_test=x[:6],
             y_test=y[:6])
    (tmp_path / "zero.npz").write_bytes(b"")
    (tmp_path / "list.json").write_text("[1, 2]")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "depthlab", "train", *FAST, *args, "--out", str(run)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("depthlab")
    assert message.replace("{tmp}", str(tmp_path)) in proc.stderr
    assert not run.exists()


def test_the_step_is_chosen_recorded_and_reported(tmp_path, capsys):
    assert main(["train", *FAST, "--step", "autograd", "--out", str(tmp_path / "run")]) == 0
    assert "30 updates (autograd, " in capsys.readouterr().out
    env = json.loads((tmp_path / "run" / "env.json").read_text())
    assert (env["step"], env["kernel"], env["stack"]) == ("autograd", "torch autograd", None)


def test_diverged_run_exits_3(tmp_path, capsys):
    code = main(["train", *FAST, "--lr", "10000", "--activation", "linear", "--init", "he-normal",
                 "--out", str(tmp_path / "run")])
    assert code == 3 and capsys.readouterr().out.startswith("diverged at update")


def test_show_data_draws_the_shapeset_grid(tmp_path):
    assert main(["show-data", "shapeset", "--out", str(tmp_path / "grid.png"), "--rows", "2", "--cols", "3"]) == 0
    assert (tmp_path / "grid.png").stat().st_size > 1000


def test_resume_extends_a_finished_run(tmp_path, capsys):
    assert main(["train", *FAST, "--out", str(tmp_path / "run")]) == 0
    assert main(["train", "--resume", str(tmp_path / "run"), "--updates", "40", "--quiet"]) == 0
    assert "completed: 40 updates" in capsys.readouterr().out
