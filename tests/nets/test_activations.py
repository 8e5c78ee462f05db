import json

import numpy as np
import pytest
import torch

from depthlab.cli import main
from depthlab.errors import DepthlabError
from depthlab.nets.activations import (
    ACTIVATIONS,
    FAMILIES,
    Activation,
    PiecewiseLinear,
    Smooth,
    activation_named,
    activation_of,
)
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


# -- families: activations with parameters, at their defaults and at other values -------
MEMBERS = {  # a family member's name → torch's own module computing it
    "leaky-relu:0.2": torch.nn.LeakyReLU(0.2), "leaky-relu:2": torch.nn.LeakyReLU(2.0),
    "leaky-relu:0.3333333333333333": torch.nn.LeakyReLU(1 / 3), "rrelu:0.1,0.3": torch.nn.RReLU(0.1, 0.3).eval(),
    "rrelu": torch.nn.RReLU().eval(), "elu:0.5": torch.nn.ELU(0.5), "elu:2": torch.nn.ELU(2.0),
    "celu:2": torch.nn.CELU(2.0), "celu:0.5": torch.nn.CELU(0.5), "softplus:2": torch.nn.Softplus(2.0),
    "softplus:0.5": torch.nn.Softplus(0.5), "softplus:1,1": torch.nn.Softplus(1.0, 1.0),
    "softplus:2,5": torch.nn.Softplus(2.0, 5.0), "hardtanh:-2,2": torch.nn.Hardtanh(-2.0, 2.0),
    "hardtanh:0,1": torch.nn.Hardtanh(0.0, 1.0), "hardtanh:-1,6": torch.nn.Hardtanh(-1.0, 6.0),
    "threshold:0.5,0": torch.nn.Threshold(0.5, 0.0), "threshold:0,-1": torch.nn.Threshold(0.0, -1.0),
    "threshold:-1,-2": torch.nn.Threshold(-1.0, -2.0), "threshold:0,1": torch.nn.Threshold(0.0, 1.0),
}


@pytest.mark.parametrize("name", MEMBERS)
def test_a_family_member_is_torchs_module_at_those_values(name):
    """Its name reads back to it, its module computes what torch's does, and torch's module
    is read as it."""
    member = activation_named(name)
    s = torch.linspace(-8, 8, 401, dtype=torch.float64)
    assert member.name == name and activation_of(MEMBERS[name]).name == name
    assert torch.equal(member.module()(s), MEMBERS[name](s))


@pytest.mark.parametrize("name", MEMBERS)
def test_a_family_members_derivative_from_its_output_is_autograds(name):
    """φ'(s) from a alone, where a determines it (None where it does not: a softplus
    linear from a low threshold, a threshold whose value lies above it)."""
    member = activation_named(name)
    if name in ("softplus:1,1", "softplus:2,5", "threshold:0,1"):
        assert member.derivative is None
        return
    s = torch.linspace(-4, 4, 101, dtype=torch.float64).requires_grad_()
    a = MEMBERS[name](s)
    (grad,) = torch.autograd.grad(a.sum(), s)
    assert torch.allclose(member.derivative(a.detach()), grad, atol=1e-12)


@pytest.mark.parametrize(("name", "s", "saturated"), [
    ("leaky-relu:0.2", [-1.0, 0.0, 0.5], [True, True, False]),
    ("elu:0.5", [-4.0, -2.0, 1.0], [True, False, False]),  # a <= -0.475: s <= log(0.05) ≈ -3.0
    ("celu:2", [-7.0, -5.0, 1.0], [True, False, False]),  # a <= -1.9: s <= 2 log(0.05) ≈ -6.0
    ("softplus:2", [-2.6, -2.4, 1.0], [True, False, False]),  # s <= -5/2
    ("hardtanh:-2,2", [-2.5, -1.9, 1.9, 2.0], [True, False, False, True]),
    ("threshold:0.5,0", [0.4, 0.5, 0.6], [True, True, False]),
])
def test_a_family_members_saturation_on_hand_picked_inputs(name, s, saturated):
    member = activation_named(name)
    s = torch.tensor(s)
    assert member.saturated(s, member.module()(s)).tolist() == saturated


@pytest.mark.parametrize("name", ["elu:0.5", "elu:2", "celu:2", "celu:0.5", "softplus:2", "softplus:0.5"])
def test_a_family_members_gaussian_form_is_the_function_and_its_derivatives(name):
    form = activation_named(name).gaussian
    x = np.linspace(-4, 4, 161)
    x = x[np.abs(x) > 0.03]
    assert np.allclose(form.phi(x), MEMBERS[name](torch.tensor(x)).numpy(), atol=1e-12)
    h = 1e-5
    assert np.allclose(form.dphi(x), (form.phi(x + h) - form.phi(x - h)) / (2 * h), atol=1e-6)
    assert np.allclose(form.d2phi(x), (form.dphi(x + h) - form.dphi(x - h)) / (2 * h), atol=1e-5)


def test_piecewise_linear_members_and_members_theory_does_not_cover():
    assert activation_named("leaky-relu:0.2").gaussian == PiecewiseLinear(0.2)
    assert activation_named("rrelu:0.1,0.3").gaussian == PiecewiseLinear(pytest.approx(0.2))
    assert activation_named("softplus:1,1").gaussian is None  # linear beyond s > 1: not log(1 + e^s)
    assert activation_named("hardtanh:-2,2").gaussian is None


@pytest.mark.parametrize(("module", "name"), [
    (torch.nn.LeakyReLU(), "leaky-relu"), (torch.nn.LeakyReLU(0.0), "relu"), (torch.nn.ELU(), "elu"),
    (torch.nn.CELU(), "elu"), (torch.nn.CELU(1), "elu"), (torch.nn.Softplus(), "softplus"),
    (torch.nn.Softplus(1, 20), "softplus"), (torch.nn.Hardtanh(), "hardtanh"), (torch.nn.Hardtanh(0, 6), "relu6"),
    (torch.nn.ReLU6(), "relu6"), (torch.nn.Threshold(0, 0), "relu"), (torch.nn.GELU(), "gelu"),
])
def test_at_a_registered_activations_values_a_family_member_is_that_activation(module, name):
    assert activation_of(module) is ACTIVATIONS.get(name)
    family = next(f for f in FAMILIES if any(m.endswith(f".{type(module).__name__}") for m in f.modules))
    values = {key: getattr(module, key) for key, _ in family.parameters}
    assert family.member(values) is ACTIVATIONS.get(name)


def test_prelu_takes_its_slopes_per_channel_from_the_learned_weight():
    module = torch.nn.PReLU(3)
    with torch.no_grad():
        module.weight.copy_(torch.tensor([0.1, 0.5, 2.0]))
    member = activation_of(module)
    s = torch.randn(2, 3, 4, 4, dtype=torch.float64).requires_grad_()
    a = torch.nn.functional.prelu(s, module.weight.double())
    (grad,) = torch.autograd.grad(a.sum(), s)
    assert member.name == "prelu" and member.gaussian is None
    assert torch.allclose(member.derivative(a.detach()), grad, atol=1e-12)
    assert torch.allclose(member.module().double()(s), a)
    with torch.no_grad():  # the slopes as they are when read: a later change is a later member's
        module.weight.mul_(-1)
    assert torch.allclose(member.module().double()(s), a) and activation_of(module).derivative is None
    single = activation_of(torch.nn.PReLU(init=0.3))
    assert single.gaussian == PiecewiseLinear(pytest.approx(0.3))
    assert torch.allclose(single.derivative(a.detach()), torch.where(a > 0, 1.0, 0.3).double())


@pytest.mark.parametrize(("name", "message"), [
    ("leaky-relu:-1", "activation 'leaky-relu:-1': leaky-relu needs negative_slope > 0 (negative_slope=-1.0)"),
    ("hardtanh:2,-2", "activation 'hardtanh:2,-2': hardtanh needs min_val < max_val (min_val=2.0, max_val=-2.0)"),
    ("hardtanh:x", "activation 'hardtanh:x': hardtanh's values are numbers (min_val, max_val)"),
    ("elu:1,2", "activation 'elu:1,2': elu takes 1 value at most (alpha)"),
    ("rrelu:0.1,0.3,1", "activation 'rrelu:0.1,0.3,1': rrelu needs 0 <= lower <= upper, not training "
                        "(a random slope per unit) (lower=0.1, upper=0.3, training=True)"),
])
def test_a_family_name_outside_its_rule_is_one_line(name, message):
    with pytest.raises(DepthlabError) as err:
        activation_named(name)
    assert str(err.value) == message


def test_unknown_names_list_the_families_spellings():
    with pytest.raises(DepthlabError) as err:
        activation_named("prelu:0.2")  # learned: never written
    assert str(err.value).startswith("unknown activation 'prelu:0.2' (did you mean 'relu'?); valid choices: "
                                     "celu:ALPHA, elu, elu:ALPHA, gelu, gelu-tanh, hardsigmoid, hardswish, hardtanh, "
                                     "hardtanh:MIN_VAL,MAX_VAL, leaky-relu, leaky-relu:NEGATIVE_SLOPE, linear, mish, "
                                     "relu, relu6, rrelu:LOWER,UPPER, selu, ")


def test_training_takes_registered_activations_only(tmp_path, capsys):
    """Families are for the probe: ``--activation leaky-relu:0.2`` is one line, nothing written."""
    out = tmp_path / "run"
    assert main(["train", "--activation", "leaky-relu:0.2", "--depth", "2", "--width", "8", "--updates", "5",
                 "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("depthlab: error: unknown activation 'leaky-relu:0.2' (did you mean "
                                              "'leaky-relu'?); valid choices: elu, ")
    assert not out.exists()
