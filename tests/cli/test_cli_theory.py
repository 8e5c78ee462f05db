"""``depthlab theory``: text, JSON, the phase-diagram plot and user errors."""

import argparse
import json

import pytest

from depthlab.cli.theory import add_parser
from depthlab.errors import DepthlabError
from depthlab.theory import chi1, fixed_point


def run_theory(argv, capsys):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["theory", *argv])
    assert args.run(args) == 0
    return capsys.readouterr().out


EXAMPLE = ["--activation", "tanh", "--sigma-w2", "1.5", "--sigma-b2", "0.05", "--depth", "20"]


def test_text_report(capsys):
    out = run_theory(EXAMPLE, capsys)
    lines = out.splitlines()
    summary = dict(line.split(maxsplit=1) for line in lines[1:8])
    assert set(summary) == {"q_star", "c_star", "chi1", "xi_q", "xi_c", "trainable_depth", "phase"}
    assert float(summary["q_star"]) == pytest.approx(fixed_point("tanh", 1.5, 0.05), rel=1e-5)
    assert float(summary["chi1"]) == pytest.approx(chi1("tanh", 1.5, 0.05), rel=1e-5)
    assert summary["phase"] == "ordered"  # χ₁ ≈ 0.94
    table = [line.split() for line in lines[10:]]
    assert [int(row[0]) for row in table] == list(range(1, 21))
    assert float(table[0][1]) == pytest.approx(1.5 * 1.0 + 0.05)  # q¹ = σ_w² q⁰ + σ_b²
    assert float(table[-1][2]) == 1.0  # gradient variance relative to the top layer


def test_json_report(capsys):
    report = json.loads(run_theory([*EXAMPLE, "--json"], capsys))
    assert report["phase"] == "ordered" and report["c_star"] == 1.0
    assert report["q_star"] == pytest.approx(fixed_point("tanh", 1.5, 0.05), rel=1e-12)
    assert len(report["layers"]) == 20
    assert report["layers"][0]["layer"] == 1 and report["layers"][0]["q"] == pytest.approx(1.55)
    assert 0 < report["layers"][0]["grad_var_ratio"] < report["layers"][1]["grad_var_ratio"] < 1
    assert report["trainable_depth"] == pytest.approx(6 * report["xi_c"], rel=1e-12)


def test_init_replaces_sigma_w2_and_infinities_become_null(capsys):
    report = json.loads(run_theory(["--init", "standard", "--width", "100", "--json"], capsys))
    assert report["init"] == "standard" and report["sigma_w2"] == pytest.approx(1 / 3)
    critical = json.loads(run_theory(["--activation", "relu", "--sigma-w2", "2", "--json"], capsys))
    assert critical["phase"] == "critical" and critical["chi1"] == 1.0
    assert critical["xi_c"] is None and critical["trainable_depth"] is None


def test_plot_writes_a_phase_diagram(tmp_path, capsys):
    path = tmp_path / "phase.svg"
    out = run_theory([*EXAMPLE, "--plot", str(path)], capsys)
    assert out.splitlines()[-1] == f"wrote {path}"
    svg = path.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "critical line" in svg  # the legend labels the line


@pytest.mark.parametrize("argv, message", [
    (["--activation", "tahn"], "unknown activation 'tahn' (did you mean 'tanh'?); valid choices: "
                               "elu, gelu, gelu-tanh, hardsigmoid, hardswish, hardtanh, leaky-relu, linear, mish, relu, relu6, selu, sigmoid, silu, softplus, softsign, tanh"),
    (["--depth", "0"], "--depth 0 must be at least 1"),
    (["--sigma-b2", "-1"], "--sigma-b2 -1.0 must be a finite number >= 0"),
    (["--plot", "phase.jpg"], "--plot phase.jpg: the file must end in .png, .svg, .pdf"),
])
def test_user_errors_are_one_line(argv, message, capsys):
    with pytest.raises(DepthlabError) as error:
        run_theory(argv, capsys)
    assert str(error.value) == message
