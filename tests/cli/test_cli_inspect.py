"""``depthlab inspect``: a diverged run's diagnosis on stdout, and user errors."""

import json

import pytest

from depthlab.cli import main
from depthlab.training.trainer import train

DIVERGING = dict(dataset="shapeset", depth=3, width=32, updates=60, eval_every=20, probe_every=20, eval_size=200,
                 probe_size=50, jacobian_examples=2, activation="relu", init="he-normal", lr=1e4)


@pytest.fixture
def diverged_run(tmp_path):
    result = train(DIVERGING, out=tmp_path / "run", progress=False)
    assert result.status == "diverged"
    return result.path


def test_a_diverged_run_is_diagnosed_as_diverged(diverged_run, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["inspect", str(diverged_run), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("PROBLEM  divergence: The training cost became nan at update ")
    assert lines[0].endswith("Try: lower --lr (now 10000; e.g. --lr 1000) or add --clip-norm 1.")
    assert all(line.split()[0] in ("PROBLEM", "WARNING") for line in lines[:-1])
    assert lines[-1] == f"wrote {out / 'report.html'}"
    assert "divergence" in (out / "report.html").read_text()


def test_a_directory_that_is_not_a_run_is_a_one_line_error(tmp_path, capsys):
    assert main(["inspect", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"depthlab: error: {tmp_path} is not a run directory written by "
                                       "depthlab train (no config.json) or by Probe.log_to (no probe.json)\n")


def test_widths_edited_in_network_json_are_one_line_not_another_theory(diverged_run, tmp_path, capsys):
    network = json.loads((diverged_run / "network.json").read_text())
    (diverged_run / "network.json").write_text(json.dumps({**network, "widths": [1024, 32, 64, 32, 9]}))
    assert main(["inspect", str(diverged_run), "--out", str(tmp_path / "report")]) == 2
    assert capsys.readouterr().err == (f"depthlab: error: {diverged_run / 'network.json'} does not match the run's "
                                       "config.json: hidden layer 2 is 64 wide, config.json says 32; one of them was "
                                       "edited by hand\n")
    assert not (tmp_path / "report").exists()
