import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.nets.mlp import MLP
from depthlab.probe import Probe
from depthlab.probe.jacobian import (
    SEQUENCE_ROWS,
    Spectrum,
    chain_jacobian,
    layer_jacobians,
    layer_spectrum,
    largest_singular_values,
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
    rows = Probe(model, torch.randn(10, 6), torch.randint(0, 2, (10,)), F.cross_entropy, jacobian_examples=4,
                 layer_names="positions").measure(0)
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
    values = torch.tensor([[3.0, 2.0, 1.0], [6.0, 4.0, 2.0]])
    assert Spectrum(values, True).stats("sv") == pytest.approx({"sv_mean": 3.0, "sv_min": 1.5, "sv_max": 4.5})
    assert Spectrum(values, False).stats("sv") == pytest.approx({"sv_max": 4.5, "sv_count": 3.0})


def test_chain_product_and_jacrev_agree_on_an_mlp():
    torch.manual_seed(0)
    model = MLP(12, [10, 8, 6], 3, "tanh")
    model.initialize("normalized")
    x = torch.randn(20, 12)
    rows = Probe(model, x, torch.randint(0, 3, (20,)), F.cross_entropy, jacobian_examples=4,
                 layer_names="positions").measure(0)
    top = nn.Sequential(*list(model)[:7]).eval()  # flatten, then three linear + tanh layers
    sv = torch.linalg.svdvals(torch.stack([torch.autograd.functional.jacobian(top, e[None])[0, :, 0] for e in x[:4]]))
    assert _stats(rows, "layer 3")["input_jacobian_sv_mean"] == pytest.approx(sv.mean().item(), rel=1e-4)
    assert _stats(rows, "layer 3")["input_jacobian_sv_max"] == pytest.approx(sv.max(1).values.mean().item(),
                                                                            rel=1e-4)


class SkipNet(nn.Module):
    """z2 = tanh(W2 (z1 + x) + b2): layer 2's input is not z1, so the chain rule for plain
    stacks does not apply and the probe must take the Jacobian matrix-free."""

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
    rows = Probe(model, x, torch.randint(0, 2, (8,)), F.cross_entropy, jacobian_examples=3,
                 layer_names="positions").measure(0)
    true = torch.stack([torch.autograd.functional.jacobian(
        lambda v: model.act2(model.fc2(model.act1(model.fc1(v)) + v)), e) for e in x[:3]])
    sv = torch.linalg.svdvals(true)
    assert _stats(rows, "layer 2")["input_jacobian_sv_mean"] == pytest.approx(sv.mean().item(), rel=1e-4)


def test_lanczos_finds_the_largest_singular_values_of_a_known_spectrum():
    torch.manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(300, 300, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(200, 200, dtype=torch.float64))
    sv = torch.cat([torch.tensor([50.0, 40, 30, 20, 10], dtype=torch.float64), torch.full((195,), 0.01,
                                                                                          dtype=torch.float64)])
    j = (u[:, :200] * sv) @ v.T  # 300 × 200 with singular values sv
    found = largest_singular_values(lambda i, x: j @ x, lambda i, y: j.T @ y, 1, 200, 300, j, count=5)
    assert found[0].tolist() == pytest.approx([50, 40, 30, 20, 10], rel=1e-6)


def test_a_wide_layer_gets_its_largest_singular_values_matrix_free():
    torch.manual_seed(0)
    weight = torch.randn(1100, 1200, dtype=torch.float64) / 1200 ** 0.5
    slope = torch.rand(2, 1100, dtype=torch.float64)
    spectrum = layer_spectrum(slope, weight)
    exact = torch.linalg.svdvals(layer_jacobians(slope, weight))
    assert not spectrum.complete and spectrum.values.shape == (2, 8)
    assert spectrum.values.numpy() == pytest.approx(exact[:, :8].numpy(), rel=1e-4)


def test_a_linear_layer_on_sequences_has_one_jacobian_per_position():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    x = torch.randn(5, 6, 4)  # 5 examples, 6 positions
    probe = Probe(model, x, None, lambda out, _: out.square().mean(), jacobian_examples=1)
    stats = _stats(probe.measure(0), "0")
    with torch.no_grad():
        slope = 1 - torch.tanh(model[0](x[0])) ** 2  # the 6 positions of the first example
    sv = torch.linalg.svdvals(slope[:, :, None] * model[0].weight)
    assert stats["jacobian_sv_mean"] == pytest.approx(sv.mean().item(), rel=1e-5)
    assert stats["jacobian_sv_max"] == pytest.approx(sv.max(1).values.mean().item(), rel=1e-5)


def test_a_long_sequence_takes_its_spectra_on_evenly_spaced_positions():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    x = torch.randn(5, 10, 4)  # two examples of 10 positions: 20 rows, more than SEQUENCE_ROWS
    probe = Probe(model, x, None, lambda out, _: out.square().mean(), jacobian_examples=2)
    stats = _stats(probe.measure(0), "0")
    with torch.no_grad():
        rows = (1 - torch.tanh(model[0](x[:2])) ** 2).reshape(20, 3)
    chosen = rows[torch.linspace(0, 19, SEQUENCE_ROWS).round().long()]
    assert SEQUENCE_ROWS < 20 and len(set(torch.linspace(0, 19, SEQUENCE_ROWS).round().tolist())) == SEQUENCE_ROWS
    sv = torch.linalg.svdvals(chosen[:, :, None] * model[0].weight)
    assert stats["jacobian_sv_mean"] == pytest.approx(sv.mean().item(), rel=1e-5)


def test_an_attention_model_gets_its_input_spectrum_though_fused_attention_is_differentiable_once():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
    model = nn.Sequential(nn.TransformerEncoder(layer, 1, enable_nested_tensor=False), nn.Flatten(),
                          nn.Linear(16 * 9, 4)).eval()
    x = torch.randn(6, 9, 16)  # a Jacobian of 144 × 144 per example: too wide to form, found by ARPACK
    stats = _stats(Probe(model, x, torch.randint(0, 4, (6,)), jacobian_examples=2).measure(0),
                   "0.layers.0.norm2")
    true = torch.stack([torch.autograd.functional.jacobian(lambda e: model[0](e[None])[0], x[i]).reshape(144, 144)
                        for i in range(2)])
    assert stats["input_jacobian_sv_max"] == pytest.approx(torch.linalg.svdvals(true).max(1).values.mean().item(),
                                                          rel=1e-3)


class TokenNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.fc, self.head = nn.Embedding(11, 6), nn.Linear(6, 5), nn.Linear(5, 11)

    def forward(self, ids):
        return self.head(torch.tanh(self.fc(self.emb(ids))))


def test_integer_inputs_take_the_input_jacobian_from_the_first_floating_output():
    torch.manual_seed(0)
    model = TokenNet()
    ids = torch.randint(0, 11, (7,))
    rows = Probe(model, ids, ids, jacobian_examples=2).measure(0)
    stats = _stats(rows, "fc")
    true = torch.stack([torch.autograd.functional.jacobian(lambda e: torch.tanh(model.fc(e)), model.emb(i).detach())
                        for i in ids[:2]])
    assert stats["input_jacobian_sv_mean"] == pytest.approx(torch.linalg.svdvals(true).mean().item(), rel=1e-4)


MEMORY = """
import sys, torch, torch.nn as nn, torch.nn.functional as F
from depthlab.probe import Probe
def peak():  # this process's own high-water mark (ru_maxrss would start at the parent's, kept across exec)
    return int(next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1])
torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(1, 64, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(65536, 2048), nn.ReLU(),
                      nn.Linear(2048, 10))
probe = Probe(model, torch.randn(8, 1, 32, 32), torch.randint(0, 10, (8,)), F.cross_entropy, jacobian_examples=1)
before = peak()
rows = probe.measure(0, with_jacobians=sys.argv[1] == "spectra")
print(peak() - before, sorted({r["stat"] for r in rows if r["layer"] == "3"}))
"""


def test_the_spectra_of_a_65536_wide_layer_cost_under_twice_the_memory_of_the_pass():
    import subprocess
    import sys

    def peak(kind):
        done = subprocess.run([sys.executable, "-c", MEMORY, kind], capture_output=True, text=True, timeout=600)
        kilobytes, stats = done.stdout.split(" ", 1)
        return int(kilobytes), stats

    plain, _ = peak("plain")
    spectra, stats = peak("spectra")
    assert spectra < 2 * plain, (spectra, plain)
    assert "jacobian_sv_max" in stats and "jacobian_sv_count" in stats and "input_jacobian_sv_max" in stats
