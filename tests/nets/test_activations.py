import pytest
import torch

from depthlab.errors import DepthlabError
from depthlab.nets.activations import ACTIVATIONS, activation_of


@pytest.mark.parametrize("name", [a.name for a in ACTIVATIONS])
def test_derivative_from_output_matches_autograd(name):
    act = ACTIVATIONS.get(name)
    s = torch.linspace(-4, 4, 101, dtype=torch.float64).requires_grad_()
    a = act.module()(s)
    (grad,) = torch.autograd.grad(a.sum(), s)
    assert torch.allclose(act.derivative(a.detach()), grad, atol=1e-12)


def test_softsign_formula():
    s = torch.tensor([-3.0, 0.0, 1.0])
    assert torch.allclose(ACTIVATIONS.get("softsign")(s), torch.tensor([-0.75, 0.0, 0.5]))


def test_unknown_activation_names_the_choices():
    with pytest.raises(DepthlabError) as err:
        ACTIVATIONS.get("tahn")
    assert str(err.value) == ("unknown activation 'tahn' (did you mean 'tanh'?); valid choices: "
                              "leaky-relu, linear, relu, sigmoid, softsign, tanh")


def test_modules_of_any_model_map_back_to_the_registry():
    assert activation_of(torch.nn.Tanh()).name == "tanh"
    assert activation_of(torch.nn.Softsign()).name == "softsign"
    assert activation_of(torch.nn.Linear(2, 2)) is None


# -- an activation declared once reaches everything ------------------------------------
SCALE, GAIN = 1.7159, 2 / 3


class LeCunTanh(torch.nn.Module):
    """LeCun et al. (1998)'s scaled tanh, a = 1.7159 tanh(2s/3)."""

    def forward(self, s):
        return SCALE * torch.tanh(GAIN * s)


def lecun_tanh():
    import numpy as np

    from depthlab.nets.activations import Activation, Smooth

    def phi(x):
        return SCALE * np.tanh(GAIN * x)

    def dphi(x):
        return SCALE * GAIN * (1 - np.tanh(GAIN * x) ** 2)

    def d2phi(x):
        t = np.tanh(GAIN * x)
        return -2 * SCALE * GAIN**2 * t * (1 - t**2)

    return Activation(
        "lecun-tanh", "1.7159 tanh(2s/3) (LeCun et al. 1998)", LeCunTanh,
        lambda a: GAIN * (SCALE - a * a / SCALE), lambda a: a.abs() >= 0.95 * SCALE, "|a| >= 0.95 * 1.7159",
        (-SCALE, SCALE), Smooth(phi, dphi, d2phi), saturation="asymptote")


def test_a_declared_activation_reaches_training_probes_theory_and_the_cli(declare, tmp_path, capsys):
    import json

    import numpy as np

    from depthlab.cli import main
    from depthlab.probe import Probe
    from depthlab.store import RunDir
    from depthlab.theory import fixed_point

    declare(ACTIVATIONS, lecun_tanh())
    # training, through the command line: the fused step takes it on torch operations
    out = tmp_path / "run"
    assert main(["train", "--activation", "lecun-tanh", "--depth", "2", "--width", "16", "--updates", "30",
                 "--eval-size", "50", "--probe-size", "40", "--out", str(out), "--quiet"]) == 0
    run = RunDir(out)
    assert run.env["engine"] == "fused"
    assert run.env["kernel"] == "torch ops (no native form of the activation lecun-tanh)"
    assert run.final["test_error"] < 0.95
    # the probes found its modules and applied its saturation rule: as a hand-written check
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), LeCunTanh(), torch.nn.Linear(5, 3))
    x, y = torch.randn(50, 6) * 4, torch.randint(0, 3, (50,))
    rows = Probe(model, x, y, torch.nn.functional.cross_entropy, jacobian_examples=0).measure(0)
    fraction = {r["stat"]: r["value"] for r in rows if r["layer"] == "layer 1"}["saturated_fraction"]
    with torch.no_grad():
        assert fraction == pytest.approx((model[1](model[0](x)).abs() >= 0.95 * SCALE).float().mean().item())
    assert {r["layer"] for r in run.probes.rows} == {"layer 1", "layer 2", "output"}
    # theory integrates its declared Gaussian form; the same φ as a bare callable agrees
    capsys.readouterr()
    assert main(["theory", "--activation", "lecun-tanh", "--sigma-w2", "1.0", "--depth", "3", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["q_star"] == pytest.approx(float(fixed_point(lambda s: SCALE * np.tanh(GAIN * s), 1.0)),
                                              rel=1e-6)
    # and the command's help lists it
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "lecun-tanh" in capsys.readouterr().out
