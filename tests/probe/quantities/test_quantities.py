"""Each default quantity against what a hand-written hook computes, and the choice of
quantities: what a probe measures, and the one-line errors."""

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.errors import DepthlabError
from depthlab.nets.activations import ACTIVATIONS
from depthlab.probe import Probe
from depthlab.probe.quantities import (
    ACTIVATION_HIST,
    ACTIVATION_MEAN,
    ACTIVATION_P2,
    ACTIVATION_P98,
    ACTIVATION_STD,
    BACKPROP_GRAD_NORM,
    BACKPROP_GRAD_STD,
    BIAS_GRAD_NORM,
    INPUT_JACOBIAN_SV_MAX,
    INPUT_JACOBIAN_SV_MEAN,
    JACOBIAN_SV_MAX,
    JACOBIAN_SV_MEAN,
    JACOBIAN_SV_MIN,
    PREACTIVATION_MEAN,
    PREACTIVATION_STD,
    QUANTITIES,
    SATURATED_FRACTION,
    UPDATE_RATIO,
    WEIGHT_GRAD_NORM,
    WEIGHT_GRAD_STD,
    WEIGHT_NORM,
    Quantity,
)

pytestmark = pytest.mark.usefixtures("reduced_on")  # each test on the host path and the device path


def _by_hand(model: nn.Sequential, x, y) -> dict[str, torch.Tensor]:
    """Each linear layer's output s (with its gradient ∂C/∂s), by forward hooks, after one
    backward pass of the cost (which fills the parameters' .grad)."""
    outputs = {}

    def keep(name):
        def hook(module, inputs, out):
            out.retain_grad()
            outputs[name] = out
        return hook

    handles = [model[k].register_forward_hook(keep(name)) for k, name in ((0, "layer 1"), (2, "layer 2"),
                                                                             (4, "output"))]
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    for handle in handles:
        handle.remove()
    return outputs


def test_each_quantity_is_what_hooks_and_autograd_compute():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 6), nn.Tanh(), nn.Linear(6, 3))
    x, y = torch.randn(40, 5), torch.randint(0, 3, (40,))
    probe = Probe(model, x, y, F.cross_entropy, jacobian_examples=3, layer_names="positions")
    probe.measure(0)
    before = model[2].weight.detach().clone()
    with torch.no_grad():
        model[2].weight.mul_(1.1)
    measure = probe.measure(2)
    got = {(r["layer"], r["stat"]): r["value"] for r in measure}
    s = _by_hand(model, x, y)
    s1, s2 = s["layer 1"], s["layer 2"]
    a2 = torch.tanh(s2).detach()
    with torch.no_grad():
        expected = {
            ACTIVATION_MEAN: a2.mean(), ACTIVATION_STD: a2.std(),
            ACTIVATION_P2: np.percentile(a2.numpy(), 2), ACTIVATION_P98: np.percentile(a2.numpy(), 98),
            SATURATED_FRACTION: ACTIVATIONS.get("tanh").saturated(s2, a2).float().mean(),
            PREACTIVATION_MEAN: s2.mean(), PREACTIVATION_STD: s2.std(),
            BACKPROP_GRAD_STD: s2.grad.std(), BACKPROP_GRAD_NORM: s2.grad.norm(),
            WEIGHT_GRAD_STD: model[2].weight.grad.std(), WEIGHT_GRAD_NORM: model[2].weight.grad.norm(),
            WEIGHT_NORM: model[2].weight.norm(), BIAS_GRAD_NORM: model[2].bias.grad.norm(),
            UPDATE_RATIO: (model[2].weight - before).norm() / before.norm() / 2,
        }
    for stat, value in expected.items():
        assert got["layer 2", stat] == pytest.approx(float(value), rel=1e-5), stat

    slopes = 1 - torch.tanh(s2[:3]).detach() ** 2  # the layer Jacobian diag(φ'(s)) W of the first 3 examples
    sv = torch.linalg.svdvals(slopes.unsqueeze(2) * model[2].weight.detach())
    assert got["layer 2", JACOBIAN_SV_MEAN] == pytest.approx(sv.mean().item(), rel=1e-5)
    assert got["layer 2", JACOBIAN_SV_MIN] == pytest.approx(sv.min(1).values.mean().item(), rel=1e-5)
    assert got["layer 2", JACOBIAN_SV_MAX] == pytest.approx(sv.max(1).values.mean().item(), rel=1e-5)
    below_output = model[:4]  # the top entry below the output is layer 2: ∂tanh(s²)/∂x per example
    top = torch.stack([torch.linalg.svdvals(torch.autograd.functional.jacobian(below_output, x[i]))
                       for i in range(3)])
    assert got["layer 2", INPUT_JACOBIAN_SV_MEAN] == pytest.approx(top.mean().item(), rel=1e-5)
    assert got["layer 2", INPUT_JACOBIAN_SV_MAX] == pytest.approx(top.max(1).values.mean().item(), rel=1e-5)
    assert not any(stat.startswith("input_jacobian") for layer, stat in got if layer != "layer 2")

    (hist,) = [h for h in measure.histograms if (h["layer"], h["quantity"]) == ("layer 1", ACTIVATION_HIST)]
    counts, _ = np.histogram(torch.tanh(s1).detach().numpy(), bins=100, range=(-1.0, 1.0))
    assert hist["counts"] == counts.tolist()


def test_a_measure_holds_its_update_rows_histograms_and_layers_and_reads_as_its_rows():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    probe = Probe(model, torch.randn(10, 4), torch.randint(0, 3, (10,)), F.cross_entropy)
    measure = probe.measure(3)
    assert measure.update == 3 and list(measure) == measure.rows == probe.log.rows and len(measure) > 0
    assert measure.histograms == probe.histograms_at(3)
    assert measure.layers == [{"layer": "0", "module": "0", "kind": "linear", "activation": "relu"},
                              {"layer": "2", "module": "2", "kind": "linear", "activation": None}]


def test_a_probe_measures_the_quantities_it_is_given_and_no_more():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    x, y = torch.randn(10, 4), torch.randint(0, 3, (10,))
    full = Probe(model, x, y, F.cross_entropy).measure(0)
    probe = Probe(model, x, y, F.cross_entropy, quantities=["activation", QUANTITIES.get("update_ratio")])
    first, second = probe.measure(0), probe.measure(1)
    assert [r for r in first] == [r for r in full if r["stat"] in QUANTITIES.get("activation").stats]
    assert {r["stat"] for r in second} == {*QUANTITIES.get("activation").stats, UPDATE_RATIO}
    assert {h["quantity"] for h in first.histograms} == {ACTIVATION_HIST}


def test_unknown_or_clashing_quantities_are_one_line():
    model, x = nn.Sequential(nn.Linear(4, 3)), torch.randn(5, 4)
    with pytest.raises(DepthlabError, match=r"^unknown probe quantity 'activaton' \(did you mean 'activation'\?\); "
                                            r"valid choices: activation, backprop_grad, input_jacobian"):
        Probe(model, x, quantities=["activaton"])

    class Again(Quantity):
        name, stats = "again", (UPDATE_RATIO,)

    with pytest.raises(DepthlabError, match="^probe quantities update_ratio and again both emit the statistic "
                                            "'update_ratio'$"):
        Probe(model, x, quantities=["update_ratio", Again()])


@pytest.mark.parametrize("quantity", list(QUANTITIES), ids=lambda q: q.name)
def test_each_quantity_emits_only_the_names_it_declares(quantity):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    probe = Probe(model, torch.randn(10, 4), torch.randint(0, 3, (10,)), F.cross_entropy, quantities=[quantity])
    measures = [probe.measure(0), probe.measure(1)]
    assert {r["stat"] for m in measures for r in m} <= set(quantity.stats)
    assert {h["quantity"] for m in measures for h in m.histograms} == set(quantity.histograms)
    assert any(True for m in measures for _ in m)


def test_the_names_are_read_without_torch():
    """Readers (the diagnosis, theory, a study's claims) import the constants without torch."""
    done = subprocess.run([sys.executable, "-c", "import sys, depthlab.probe.quantities; print('torch' in sys.modules)"],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
