import json

import numpy as np
import pytest
import torch

from depthlab.cli import main
from depthlab.errors import DepthlabError
from depthlab.nets.activations import ACTIVATIONS, Activation, Smooth, activation_of
from depthlab.probe import Probe
from depthlab.store import RunDir
from depthlab.theory import fixed_point


@pytest.mark.parametrize("name", [a.name for a in ACTIVATIONS if a.derivative is not None])
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
                              "elu, gelu, gelu-tanh, hardsigmoid, hardswish, hardtanh, leaky-relu, linear, mish, relu, relu6, selu, sigmoid, silu, softplus, softsign, tanh")


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
    def phi(x):
        return SCALE * np.tanh(GAIN * x)

    def dphi(x):
        return SCALE * GAIN * (1 - np.tanh(GAIN * x) ** 2)

    def d2phi(x):
        t = np.tanh(GAIN * x)
        return -2 * SCALE * GAIN**2 * t * (1 - t**2)

    return Activation(
        name="lecun-tanh", summary="1.7159 tanh(2s/3) (LeCun et al. 1998)", module=LeCunTanh,
        derivative=lambda a: GAIN * (SCALE - a * a / SCALE), saturated=lambda s, a: a.abs() >= 0.95 * SCALE,
        saturation_rule="|a| >= 0.95 * 1.7159", value_range=(-SCALE, SCALE), gaussian=Smooth(phi, dphi, d2phi),
        saturation="asymptote", modules=(f"{LeCunTanh.__module__}.{LeCunTanh.__qualname__}",))


def test_a_declared_activation_reaches_training_probes_theory_and_the_cli(declare, tmp_path, capsys):
    declare(ACTIVATIONS, lecun_tanh())
    # training, through the command line: the fused step takes it on torch operations
    out = tmp_path / "run"
    assert main(["train", "--activation", "lecun-tanh", "--depth", "2", "--width", "16", "--updates", "30",
                 "--eval-size", "50", "--probe-size", "40", "--out", str(out), "--quiet"]) == 0
    run = RunDir(out)
    assert run.env["step"] == "fused"
    assert run.env["kernel"] == "torch ops (no native form of the activation lecun-tanh)"
    assert run.final["test_error"] < 0.95
    # the probes found its modules and applied its saturation rule: as a hand-written check
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), LeCunTanh(), torch.nn.Linear(5, 3))
    x, y = torch.randn(50, 6) * 4, torch.randint(0, 3, (50,))
    rows = Probe(model, x, y, torch.nn.functional.cross_entropy, jacobian_examples=0).measure(0)
    fraction = {r["stat"]: r["value"] for r in rows if r["layer"] == "0"}["saturated_fraction"]
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


# -- the activations real models use -----------------------------------------------------
def test_every_activation_but_linear_is_recognised_by_its_own_module():
    for activation in ACTIVATIONS:
        found = activation_of(activation.module())
        assert (found.name if found else None) == (None if activation.name == "linear" else activation.name)


def test_identity_is_not_an_activation_and_gelus_forms_are_told_apart():
    assert activation_of(torch.nn.Identity()) is None
    assert activation_of(torch.nn.GELU()).name == "gelu"
    assert activation_of(torch.nn.GELU(approximate="tanh")).name == "gelu-tanh"
    assert activation_of(torch.nn.ReLU6()).name == "relu6" and activation_of(torch.nn.Hardtanh()).name == "hardtanh"


def test_transformers_activation_classes_are_recognised_by_name():
    def transformers_class(name):
        return type(name, (torch.nn.Module,), {"__module__": "transformers.activations"})

    assert activation_of(transformers_class("GELUActivation")()).name == "gelu"
    assert activation_of(transformers_class("NewGELUActivation")()).name == "gelu-tanh"
    assert activation_of(transformers_class("SomethingElse")()) is None


@pytest.mark.parametrize("name, s, saturated", [
    ("gelu", [-4.0, -3.0, -2.9, 0.0, 3.0], [True, True, False, False, False]),
    ("silu", [-6.0, -5.0, -4.0, 0.0], [True, True, False, False]),
    ("softplus", [-6.0, -4.0, 2.0], [True, False, False]),
    ("hardswish", [-3.5, -3.0, -1.0, 1.0], [True, True, False, False]),
    ("relu6", [-1.0, 0.5, 6.0, 7.0], [True, False, True, True]),
    ("hardtanh", [-2.0, -0.5, 1.0], [True, False, True]),
    ("hardsigmoid", [-4.0, 0.0, 4.0], [True, False, True]),
    ("elu", [-5.0, -2.0, 1.0], [True, False, False]),
    ("selu", [-5.0, -2.0, 1.0], [True, False, False]),
])
def test_saturation_rules_on_hand_picked_inputs(name, s, saturated):
    activation = ACTIVATIONS.get(name)
    s = torch.tensor(s)
    assert activation.saturated(s, activation.module()(s)).tolist() == saturated


@pytest.mark.parametrize("name", [a.name for a in ACTIVATIONS if type(a.gaussian).__name__ == "Smooth"])
def test_gaussian_forms_are_the_function_and_its_derivatives(name):
    activation = ACTIVATIONS.get(name)
    form = activation.gaussian
    x = np.linspace(-4, 4, 161)
    x = x[np.abs(x) > 0.03]  # away from a kink at 0 (ELU's second derivative)
    torch_values = activation.module()(torch.tensor(x)).numpy()
    assert np.allclose(form.phi(x), torch_values, atol=1e-12)
    h = 1e-5
    assert np.allclose(form.dphi(x), (form.phi(x + h) - form.phi(x - h)) / (2 * h), atol=1e-6)
    assert np.allclose(form.d2phi(x), (form.dphi(x + h) - form.dphi(x - h)) / (2 * h), atol=1e-5)
