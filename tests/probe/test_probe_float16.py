"""The probe's gradients in float16 (issue 26): in a float16 model, or a float32 model in a
float16 autocast region under a user's ``GradScaler``, what the probe reports is the
cost's true gradient, not 0 where float16 underflows and never the scaler's scaled one.

The reference is float64 on a copy of the very same weights and inputs (hooks retaining
each layer's output, ``backward`` on the unscaled cost). Tolerance: 5e-3 relative, ten of
float16's unit roundoffs (4.9e-4). What is left between the two is float16's rounding in
the pass the probe measures (the model's own): every layer's output and gradient is
rounded to float16, and ∂C/∂W sums 50 products. Measured on these nets: at most 7.6e-4
on ∂C/∂s and 2.0e-3 on ∂C/∂W. Without loss scaling the sigmoid net's first two layers
read 0 (their gradients, ~3e-10 and ~3e-9, are below float16's smallest subnormal, 6e-8)
and the third 26% too high.
"""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.probe import Probe
from depthlab.probe.probe import LOSS_SCALES

FLOAT16_TINIEST = 2.0 ** -24  # float16's smallest subnormal
TOLERANCE = 5e-3  # relative: ten float16 unit roundoffs (see the module docstring)


def sigmoid_net(depth=8, width=64, inputs=32, classes=10):
    """A deep sigmoid net at PyTorch's default (Glorot's "standard") initialization: the
    back-propagated gradient shrinks about 8× a layer going down."""
    torch.manual_seed(0)
    layers, n = [], inputs
    for _ in range(depth):
        layers += [nn.Linear(n, width), nn.Sigmoid()]
        n = width
    return nn.Sequential(*layers, nn.Linear(n, classes))


def probe_set(examples=50, inputs=32, classes=10):
    generator = torch.Generator().manual_seed(1)
    return torch.randn(examples, inputs, generator=generator), torch.randint(0, classes, (examples,),
                                                                             generator=generator)


def float64_reference(model, x, y):
    """Entry → {backprop_grad_std, weight_grad_std, weight_grad_norm} of a float64 copy of ``model`` on
    ``x`` (cast as the model's dtype first, so both see the same inputs)."""
    reference = copy.deepcopy(model).double().eval()
    outputs = {}
    for name, module in reference.named_modules():
        if isinstance(module, nn.Linear):
            module.register_forward_hook(lambda m, args, out, name=name: outputs.setdefault(name, out).retain_grad())
    F.cross_entropy(reference(x.double()), y).backward()
    modules = dict(reference.named_modules())
    return {name: {"backprop_grad_std": out.grad.std().item(),
                   "weight_grad_std": modules[name].weight.grad.std().item(),
                   "weight_grad_norm": modules[name].weight.grad.norm().item()} for name, out in outputs.items()}


def values_of(measure):
    return {(row["layer"], row["stat"]): row["value"] for row in measure.rows}


def test_a_float16_model_s_gradients_are_the_true_ones_where_float16_underflows():
    model = sigmoid_net().half()
    x, y = probe_set()
    x = x.half()
    values = values_of(Probe(model, x, y, jacobian_examples=0).measure(0))
    expected = float64_reference(model, x, y)
    assert expected["0"]["backprop_grad_std"] < FLOAT16_TINIEST / 100  # below what float16 holds
    for name, stats in expected.items():
        for stat, value in stats.items():
            assert values[name, stat] == pytest.approx(value, rel=TOLERANCE), (name, stat)
    # autograd's own float16 gradient of the unscaled cost, as the probe read it before: 0
    kept = {}
    model[0].register_forward_hook(lambda m, args, out: kept.__setitem__("s", out))
    (grad,) = torch.autograd.grad(F.cross_entropy(model(x), y), [kept["s"]])
    assert grad.abs().max().item() == 0.0


class Exploding(nn.Module):
    """A linear chain whose gradients grow 3× a layer going down: the bottom one's ∂C/∂s
    overflows float16 at the first loss scale but not at the second."""

    def __init__(self, depth=6, width=16):
        super().__init__()
        torch.manual_seed(2)
        self.layers = nn.ModuleList(nn.Linear(width, width, bias=False) for _ in range(depth))
        for layer in self.layers:
            nn.init.orthogonal_(layer.weight, gain=3.0)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def test_a_scale_that_overflows_falls_back_to_a_smaller_one():
    model = Exploding().half()
    x = torch.randn(4, 16, generator=torch.Generator().manual_seed(3)).half() / 8
    y = torch.arange(4)
    values = values_of(Probe(model, x, y, jacobian_examples=0).measure(0))
    expected = float64_reference(model, x, y)
    kept = {}
    model.layers[0].register_forward_hook(lambda m, args, out: kept.__setitem__("s", out))
    loss = F.cross_entropy(model(x), y)
    scaled = [torch.autograd.grad(loss, [kept["s"]], torch.full_like(loss, scale), retain_graph=True)[0]
              for scale in LOSS_SCALES]
    assert not scaled[0].isfinite().all() and scaled[1].isfinite().all()  # the first scale overflows
    for k in range(len(model.layers)):
        assert values[f"layers.{k}", "backprop_grad_std"] == pytest.approx(
            expected[f"layers.{k}"]["backprop_grad_std"], rel=TOLERANCE), k


def test_in_a_user_s_float16_amp_loop_the_probe_reports_the_true_gradients_not_the_scaled_ones():
    """torch.autocast(float16) with a GradScaler, as ``torch.amp`` recommends: between
    backward and ``scaler.step`` each ``.grad`` is the scaler's scale times the true one.
    The probe, measured there inside the autocast region, reports the true one (and leaves
    ``.grad`` and the scaler as they were)."""
    model = sigmoid_net()
    x, y = probe_set()
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 16)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with torch.autocast("cpu", dtype=torch.float16):
        loss = F.cross_entropy(model(x), y)
    scaler.scale(loss).backward()
    scaled = [p.grad.clone() for p in model.parameters()]
    with torch.autocast("cpu", dtype=torch.float16):
        measure = Probe(model, x, y, jacobian_examples=0).measure(0)
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), scaled, strict=True))
    assert scaler.get_scale() == 2.0 ** 16
    values = values_of(measure)
    expected = float64_reference(model, x, y)
    top = model[-1]
    user = top.weight.grad.norm().item()
    assert user / values["16", "weight_grad_norm"] == pytest.approx(scaler.get_scale(), rel=1e-3)
    for name, stats in expected.items():
        for stat, value in stats.items():
            assert values[name, stat] == pytest.approx(value, rel=TOLERANCE), (name, stat)
    scaler.step(optimizer)  # the loop goes on: the scaler found its gradients finite and stepped
    scaler.update()
    assert scaler.get_scale() == 2.0 ** 16
