"""The run report of real tiny Shapeset runs: the page's sections, embedded figures and
the theory table against depthlab.theory."""

import base64

import pytest
import torch

from depthlab.config import TrainConfig
from depthlab.errors import DepthlabError
from depthlab.report.run_report import own_settings, write_run_report
from depthlab.theory import init_sigma_w2, predict_layers
from depthlab.training.trainer import train

TINY = dict(dataset="shapeset", depth=3, width=32, updates=60, eval_every=20, probe_every=20, eval_size=200,
            probe_size=50, jacobian_examples=2)
SHAPESET_PIXELS = 32 * 32
SECTIONS = ["Run", "Diagnosis", "Training curves", "Activations", "Gradients", "Histograms",
            "Theory beside measurement"]


@pytest.fixture(scope="module")
def tanh_run(tmp_path_factory):
    return train(dict(TINY), out=tmp_path_factory.mktemp("runs") / "tanh", progress=False).run


@pytest.fixture(scope="module")
def report(tanh_run):
    return write_run_report(tanh_run.path)


@pytest.fixture(scope="module")
def page(report, read_report):
    return read_report(report.path)


def test_the_page_has_every_section(report, page, tanh_run):
    assert report.path == tanh_run.path / "report" / "report.html"
    assert page.headings == SECTIONS


def test_every_image_is_embedded_and_every_figure_written(report, page):
    assert len(page.images) == 5
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    for stem in ("training", "activations", "gradients", "histograms", "theory"):
        assert (report.path.parent / f"{stem}.png").stat().st_size > 0
        assert "<svg" in (report.path.parent / f"{stem}.svg").read_text()


def test_the_run_section_holds_config_and_final_numbers(page, tanh_run):
    config = {row["setting"]: row["value"] for row in page.table("The run's configuration")}
    assert config["activation"] == "tanh" and config["width"] == "32" and config["updates"] == "60"
    assert config["optimizer"] == "sgd" and "momentum" not in config  # plain SGD takes no μ
    final = {row["final"]: row["value"] for row in page.table("The run's final numbers")}
    assert final["status"] == "completed" and float(final["test_error"]) == pytest.approx(
        tanh_run.final["test_error"], rel=1e-3)


def test_theory_table_is_predict_layers(report, page, tanh_run):
    at_init = tanh_run.probes.values_at("preactivation_std", 0)
    assert tanh_run.network.widths == (SHAPESET_PIXELS, 32, 32, 32, 9)
    q0 = at_init["layer 1"] ** 2 / init_sigma_w2("normalized", SHAPESET_PIXELS, 32)
    expected = predict_layers([SHAPESET_PIXELS, 32, 32, 32], "tanh", "normalized", q0=q0)
    shown = page.table("Per hidden layer at update 0")
    assert [row["layer"] for row in shown] == ["layer 1", "layer 2", "layer 3"]
    for k, row in enumerate(shown):  # the page shows 4 significant digits
        assert float(row["q predicted"]) == pytest.approx(expected.q[k], rel=1e-3)
        assert float(row["Var[∂C/∂s] / top predicted"]) == pytest.approx(expected.grad_var_ratio[k], rel=1e-3)
        assert float(row["Var[s] measured"]) == pytest.approx(at_init[f"layer {k + 1}"] ** 2, rel=1e-3)
    for k, row in enumerate(report.theory.rows):
        assert row["q predicted"] == expected.q[k]
        assert row["Var[∂C/∂s] / top predicted"] == expected.grad_var_ratio[k]
    assert report.theory.rows[0]["q predicted"] == pytest.approx(at_init["layer 1"] ** 2, rel=1e-12)


def test_theory_summary_of_a_square_normalized_tanh_net(report, tanh_run):
    theory = report.theory
    assert theory.sigma_w2 == pytest.approx(1.0)  # 2 n / (n + n) between the 32-wide layers
    assert theory.chi1 == pytest.approx(1.0, abs=1e-9)  # q* = 0, tanh'(0)² = 1
    assert theory.phase == "critical"
    sv = list(tanh_run.probes.values_at("jacobian_sv_mean", 0).values())
    assert len(sv) == 3 and theory.jacobian_sv_mean == pytest.approx(sum(sv) / 3)
    page = report.path.read_text()
    assert "the critical phase" in page and "edge of chaos (ξ_c is infinite)" in page and "= inf" not in page


def test_the_diagnosis_is_on_the_page(report):
    text = report.path.read_text()
    assert report.findings
    for finding in report.findings:
        assert finding.name in text and finding.severity in text


def test_a_run_without_probes_gets_curves_and_a_note(tmp_path, read_report):
    run = train(dict(TINY, probe=False, updates=20), out=tmp_path / "run", progress=False).run
    report = write_run_report(run.path, tmp_path / "elsewhere")
    page = read_report(report.path)
    assert report.path == tmp_path / "elsewhere" / "report.html"
    assert page.headings == ["Run", "Diagnosis", "Training curves", "Layer statistics"]
    assert len(page.images) == 1 and report.theory is None
    assert "stored no probe statistics" in report.path.read_text()


def test_not_a_run_directory(tmp_path):
    with pytest.raises(DepthlabError, match=r"is not a run directory written by depthlab train \(no config.json\)"):
        write_run_report(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(DepthlabError, match=r"\(no status.json\)$"):
        write_run_report(tmp_path)


def test_out_must_not_be_a_file(tanh_run, tmp_path):
    (tmp_path / "taken").write_text("")
    with pytest.raises(DepthlabError, match="is a file, not a directory"):
        write_run_report(tanh_run.path, tmp_path / "taken")


def test_a_killed_run_still_gets_its_report(tmp_path):
    """A run killed mid-way leaves status "running" and no final.json."""
    run = train(dict(TINY, probe=False, updates=20), out=tmp_path / "run", progress=False).run
    (run.path / "final.json").unlink()
    run.set_status("running", update=10)
    report = write_run_report(run.path)
    assert "Status: running at update 10: still going, or killed" in report.path.read_text()
    assert "final numbers" not in report.path.read_text()
    assert report.findings[0].name == "unfinished run"


def test_a_users_own_loop_writes_a_run_that_inspect_reports(tmp_path, read_report):
    import torch.nn.functional as F
    from torch import nn

    from depthlab.cli import main
    from depthlab.probe import Probe

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    x, y = torch.randn(50, 6), torch.randint(0, 3, (50,))
    probe = Probe(model, x[:20], y[:20], F.cross_entropy).log_to(tmp_path / "mine", lr=0.1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for update in range(6):
        if update in (0, 2, 5):
            probe.measure(update)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        probe.log_metrics(update + 1, train_cost=loss.item())
    probe.finish()
    assert main(["inspect", str(tmp_path / "mine")]) == 0
    page = read_report(tmp_path / "mine" / "report" / "report.html")
    assert page.headings[:3] == ["Run", "Diagnosis", "Training curves"]
    layers = page.table("The probed layers")
    assert [(row["layer"], row.get("activation", "")) for row in layers] == [("0", "relu"), ("2", "")]
    text = (tmp_path / "mine" / "report" / "report.html").read_text()
    assert "a user&#x27;s own" in text and "Sequential probed by its own loop, lr 0.1" in text


def test_a_directory_with_probes_but_no_facts_is_a_one_line_error(tmp_path, capsys):
    from depthlab.cli import main

    (tmp_path / "probes.jsonl").write_text("")
    assert main(["inspect", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no config.json" in err and "Probe.log_to (no probe.json)" in err


@pytest.mark.parametrize("facts, named", [
    ({"layers": [{"module": "fc"}]}, 'layer 0 needs a "layer" name'),
    ({"layers": "fc"}, 'it needs "layers": a list'),
    ({"layers": [], "lr": "fast"}, '"lr" must be a number or null'),
])
def test_a_probe_record_missing_a_field_is_a_one_line_error(tmp_path, capsys, facts, named):
    import json

    from depthlab.cli import main

    (tmp_path / "probe.json").write_text(json.dumps(facts))
    (tmp_path / "status.json").write_text(json.dumps({"status": "completed", "update": 1}))
    assert main(["inspect", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err and "probe.json" in err
    assert not (tmp_path / "report").exists()  # nothing half-written


def test_a_regression_run_reports_its_costs_and_no_error_rates(tmp_path, read_report):
    for depth, theory in ((0, "the network has no hidden layer"), (2, None)):
        run = train(dict(dataset="polynomial:features=4", depth=depth, width=8, cost="squared-error", updates=40,
                         eval_every=20, probe_every=20), out=tmp_path / f"depth{depth}", progress=False).run
        page = read_report(write_run_report(run.path).path)
        text = (run.path / "report" / "report.html").read_text()
        assert "a regression: no error rates" in text and "error (%)" not in text
        assert len(page.images) >= 1
        if theory:
            assert theory in text


@pytest.mark.parametrize("optimizer, momentum", [("sgd", False), ("momentum", True), ("nesterov", True),
                                                 ("adam", False), ("rmsprop", False), ("adagrad", False)])
def test_the_configuration_shows_only_the_optimizers_own_settings(optimizer, momentum):
    config = TrainConfig(optimizer=optimizer, momentum=0.5)
    settings = own_settings(config)
    assert ("momentum" in settings) is momentum
    assert {k: v for k, v in config.to_dict().items() if k != "momentum"} == {
        k: v for k, v in settings.items() if k != "momentum"}
