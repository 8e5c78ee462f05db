import math

import pytest
import torch
from torch import nn

from depthlab.errors import DepthlabError
from depthlab.nets.init import BIAS_INITS, INITS
from depthlab.nets.mlp import MLP


@pytest.mark.parametrize("scheme", [*(init.name for init in INITS), "gaussian:0.05", "sigma-w2:1.76"])
def test_empirical_weight_variance_matches_formula(scheme):
    torch.manual_seed(0)
    w = torch.empty(1000, 1000)
    INITS.get(scheme).fill(w)
    expected = INITS.get(scheme).variance(1000, 1000)
    assert w.var().item() == pytest.approx(expected, rel=0.03)
    assert abs(w.mean().item()) < 0.03 * math.sqrt(expected)


def test_formulas_on_a_rectangular_layer():
    # Var = 1/(3 n_in) and 2/(n_in + n_out): the paper's eqs. 1 and 16 for 1000 -> 500.
    assert INITS.get("standard").variance(1000, 500) == pytest.approx(1 / 3000)
    assert INITS.get("normalized").variance(1000, 500) == pytest.approx(2 / 1500)
    torch.manual_seed(1)
    w = torch.empty(500, 1000)
    INITS.get("normalized").fill(w)
    assert w.abs().max().item() <= math.sqrt(6 / 1500)
    assert w.var().item() == pytest.approx(2 / 1500, rel=0.03)


def test_the_mean_field_parameterization_scales_by_fan_in():
    w = torch.empty(300, 50)
    torch.manual_seed(2)
    INITS.get("sigma-w2:2").fill(w)
    assert INITS.get("sigma-w2:2").variance(50, 300) == pytest.approx(2 / 50)
    assert w.var().item() == pytest.approx(2 / 50, rel=0.03)
    b = torch.empty(100_000)
    BIAS_INITS.get("sigma-b2:0.3").fill(b)
    assert BIAS_INITS.get("sigma-b2:0.3").variance == 0.3 and b.var().item() == pytest.approx(0.3, rel=0.03)
    with pytest.raises(DepthlabError, match="init 'sigma-b2:-1': σ_b² must be positive"):
        BIAS_INITS.get("sigma-b2:-1")


def test_constant_init_fills_every_weight():
    w = torch.empty(30, 20)
    INITS.get("constant:0.25").fill(w)
    assert torch.all(w == 0.25)


@pytest.mark.parametrize("spec, message", [
    ("xavier", "unknown init 'xavier'"),
    ("gaussian:abc", "needs a number"),
    ("gaussian:-1", "must be positive"),
    ("sigma-w2:0", "init 'sigma-w2:0': σ_w² must be positive"),
    ("sigma-w2:x", "needs a number"),
])
def test_bad_init_names_are_one_line_errors(spec, message):
    with pytest.raises(DepthlabError, match=message) as err:
        INITS.get(spec)
    assert "\n" not in str(err.value)
    if spec == "xavier":
        assert all(choice in str(err.value) for choice in INITS.choices())
        assert "gaussian:STD" in str(err.value) and "constant:C" in str(err.value)


def test_lsuv_reaches_unit_output_variance():
    torch.manual_seed(0)
    x = torch.randn(500, 100) * 3
    model = MLP(100, [200, 200, 200], 10, "tanh")
    model.initialize("lsuv", data=x)
    for k in range(3):
        assert model.pre_activation(k, x).var().item() == pytest.approx(1.0, abs=0.1)


def test_biases_start_at_zero_or_unit_gaussian():
    torch.manual_seed(0)
    model = MLP(50, [400, 400], 10, "sigmoid")
    model.initialize("standard")
    assert all(torch.all(l.bias == 0) for l in model.linears)
    model.initialize("standard", bias="normal")
    b = torch.cat([l.bias for l in model.linears[:2]])
    assert b.std().item() == pytest.approx(1.0, abs=0.1)
    assert isinstance(model[0], nn.Flatten)
