import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.nets.mlp import MLP
from depthlab.probe import Probe
from depthlab.probe.jacobian import (
    chain_jacobian,
    input_jacobian,
    layer_jacobians,
    spectrum_stats,
)


def _stats(rows, layer):
    return {r["stat"]: r["value"] for r in rows if r["layer"] == layer}


def test_deep_linear_net_has_the_singular_values_of_its_weights():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 6), nn.Identity(), nn.Linear(6, 6), nn.Identity(), nn.Linear(6, 2))
    q1, _ = torch.linalg.qr(torch.randn(6, 6))
    q2, _ = torch.linalg.qr(torch.randn(6, 6))
    with torch.no_grad():
        model[0].weight.copy_(2 * q1)                                   # singular values all 2
        model[2].weight.copy_(q2 @ torch.diag(torch.arange(1.0, 7.0)))  # singular values 1, …, 6
    rows = Probe(model, torch.randn(10, 6), torch.randint(0, 2, (10,)), F.cross_entropy, jacobian_examples=4).measure(0)
    first, second = _stats(rows, "layer 1"), _stats(rows, "layer 2")
    assert (first["jacobian_sv_mean"], first["jacobian_sv_min"], first["jacobian_sv_max"]) == pytest.approx(
        (2, 2, 2), rel=1e-5)
    assert (second["jacobian_sv_mean"], second["jacobian_sv_min"], second["jacobian_sv_max"]) == pytest.approx(
        (3.5, 1, 6), rel=1e-5)
    # input to top: W2 W1 has singular values 2, 4, …, 12
    assert (second["input_jacobian_sv_mean"], second["input_jacobian_sv_max"]) == pytest.approx((7, 12), rel=1e-5)


def test_layer_jacobian_matches_autograd():
    torch.manual_seed(0)
    layer = nn.Linear(5, 4)
    x = torch.randn(5)
    expected = torch.autograd.functional.jacobian(lambda v: torch.tanh(layer(v)), x)
    slope = 1 - torch.tanh(layer(x)).detach() ** 2
    assert torch.allclose(layer_jacobians(slope[None], layer.weight.detach())[0], expected, atol=1e-6)


def test_chain_product_is_applied_bottom_first():
    a, b = torch.randn(2, 3, 4), torch.randn(2, 5, 3)
    assert torch.allclose(chain_jacobian([a, b]), b @ a)


def test_spectrum_stats_average_each_example():
    stats = spectrum_stats(torch.tensor([[3.0, 2.0, 1.0], [6.0, 4.0, 2.0]]))
    assert stats == pytest.approx({"mean": 3.0, "min": 1.5, "max": 4.5})


def test_chain_product_and_jacrev_agree_on_an_mlp():
    torch.manual_seed(0)
    model = MLP(12, [10, 8, 6], 3, "tanh")
    model.initialize("normalized")
    x = torch.randn(20, 12)
    rows = Probe(model, x, torch.randint(0, 3, (20,)), F.cross_entropy, jacobian_examples=4).measure(0)
    sv = torch.linalg.svdvals(input_jacobian(model.eval(), model[6], x[:4]))
    assert _stats(rows, "layer 3")["input_jacobian_sv_mean"] == pytest.approx(sv.mean().item(), rel=1e-4)
    assert _stats(rows, "layer 3")["input_jacobian_sv_max"] == pytest.approx(sv.max(1).values.mean().item(),
                                                                            rel=1e-4)


class SkipNet(nn.Module):
    """z2 = tanh(W2 (z1 + x) + b2): layer 2's input is not z1, so the chain rule for plain
    stacks does not apply and the probe must fall back to jacrev."""

    def __init__(self):
        super().__init__()
        self.fc1, self.act1 = nn.Linear(5, 5), nn.Tanh()
        self.fc2, self.act2 = nn.Linear(5, 4), nn.Tanh()
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        return self.out(self.act2(self.fc2(self.act1(self.fc1(x)) + x)))


def test_a_model_that_is_not_a_plain_chain_gets_its_true_input_jacobian():
    torch.manual_seed(0)
    model = SkipNet()
    x = torch.randn(8, 5)
    rows = Probe(model, x, torch.randint(0, 2, (8,)), F.cross_entropy, jacobian_examples=3).measure(0)
    true = torch.stack([torch.autograd.functional.jacobian(
        lambda v: model.act2(model.fc2(model.act1(model.fc1(v)) + v)), e) for e in x[:3]])
    sv = torch.linalg.svdvals(true)
    assert _stats(rows, "layer 2")["input_jacobian_sv_mean"] == pytest.approx(sv.mean().item(), rel=1e-4)
