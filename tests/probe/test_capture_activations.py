"""Each activation the probe recognises, at its default parameters and at others: which
registered activation the call is (or that it is none), and its statistics, against a
hand computation on a clone of the model (forward hooks, torch.autograd.grad)."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.nets.activations import activation_of
from depthlab.probe import Probe

pytestmark = pytest.mark.usefixtures("reduced_on")  # each test on the host path and the device path


class Function(nn.Module):
    """A user's module calling an activation function itself."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, s):
        return self.fn(s)


def relu_in_place(s):
    return s.relu_()


class Slopes(nn.Module):
    """A user's module calling F.prelu with its own learned slopes."""

    def __init__(self, slopes):
        super().__init__()
        self.slopes = nn.Parameter(slopes)

    def forward(self, s):
        return F.prelu(s, self.slopes)


def prelu(slopes):
    module = nn.PReLU(len(slopes))
    with torch.no_grad():
        module.weight.copy_(torch.tensor(slopes))
    return module


PER_CHANNEL = [0.25 + 0.1 * k * (-1) ** k for k in range(16)]  # 16 slopes, some negative

# what the activation is, and its saturated units, written out by hand (u its input, a its output)
SATURATED = {
    "relu": lambda u, a: a <= 0, "leaky-relu": lambda u, a: a <= 0, "relu6": lambda u, a: (a <= 0) | (a >= 6),
    "hardtanh": lambda u, a: a.abs() >= 1, "tanh": lambda u, a: a.abs() >= 0.95,
    "sigmoid": lambda u, a: (a <= 0.05) | (a >= 0.95), "softsign": lambda u, a: a.abs() >= 0.95,
    "elu": lambda u, a: a <= -0.95, "selu": lambda u, a: a <= -0.95 * 1.0507009873554805 * 1.6732632423543772,
    "gelu": lambda u, a: u <= -3, "gelu-tanh": lambda u, a: u <= -3, "silu": lambda u, a: u <= -5,
    "mish": lambda u, a: u <= -5, "hardswish": lambda u, a: u <= -3, "hardsigmoid": lambda u, a: (a <= 0) | (a >= 1),
    "softplus": lambda u, a: u <= -5,
    # the families, at other values: on the leaky side; within 5% of ELU's and CELU's bound -α; softplus's
    # tail βs <= -5; clipped at a bound; at or below a threshold; PReLU's and RReLU's leaky side
    "leaky-relu:0.2": lambda u, a: u <= 0, "leaky-relu:0.3": lambda u, a: u <= 0, "leaky-relu:2": lambda u, a: u <= 0,
    "rrelu": lambda u, a: u <= 0, "rrelu:0.1,0.3": lambda u, a: u <= 0, "rrelu:0.2,0.4": lambda u, a: u <= 0,
    "prelu": lambda u, a: u <= 0,
    "elu:0.5": lambda u, a: a <= -0.475, "elu:2": lambda u, a: a <= -1.9,
    "celu:2": lambda u, a: a <= -1.9, "celu:0.5": lambda u, a: a <= -0.475,
    "softplus:2": lambda u, a: u <= -2.5, "softplus:0.5": lambda u, a: u <= -10, "softplus:1,1": lambda u, a: u <= -5,
    "hardtanh:-2,2": lambda u, a: a.abs() >= 2, "hardtanh:0,1": lambda u, a: (a <= 0) | (a >= 1),
    "hardtanh:-1,6": lambda u, a: (a <= -1) | (a >= 6),
    "threshold:0.5,0": lambda u, a: u <= 0.5, "threshold:0,-1": lambda u, a: u <= 0,
    "threshold:-1,-2": lambda u, a: u <= -1,
}

CASES = [  # (the activation, the activation it is, or else what the summary says took the output)
    (nn.ReLU(), "relu"), (nn.ReLU(inplace=True), "relu"), (Function(relu_in_place), "relu"),
    (Function(torch.relu), "relu"), (nn.ReLU6(), "relu6"), (nn.ReLU6(inplace=True), "relu6"),
    (Function(F.relu6), "relu6"), (nn.SELU(), "selu"), (nn.GELU(), "gelu"), (nn.GELU(approximate="tanh"), "gelu-tanh"),
    (Function(lambda s: F.gelu(s, approximate="none")), "gelu"), (Function(lambda s: F.gelu(s, approximate="tanh")),
                                                                 "gelu-tanh"),
    (nn.Sigmoid(), "sigmoid"), (nn.Tanh(), "tanh"), (nn.Softsign(), "softsign"), (nn.SiLU(), "silu"),
    (nn.Mish(), "mish"), (nn.Hardswish(), "hardswish"), (nn.Hardsigmoid(), "hardsigmoid"),
    # leaky ReLU: at its default, at slope 0 (ReLU), at others; a negative slope is no family member
    (nn.LeakyReLU(), "leaky-relu"), (nn.LeakyReLU(0.01, inplace=True), "leaky-relu"),
    (Function(lambda s: torch._C._nn.leaky_relu(s, 0.01)), "leaky-relu"), (nn.LeakyReLU(0.0), "relu"),
    (nn.LeakyReLU(0.2), "leaky-relu:0.2"), (nn.LeakyReLU(0.2, inplace=True), "leaky-relu:0.2"),
    (Function(lambda s: torch._C._nn.leaky_relu(s, 0.2)), "leaky-relu:0.2"),
    (Function(lambda s: F.leaky_relu(s, negative_slope=0.3)), "leaky-relu:0.3"), (nn.LeakyReLU(2.0), "leaky-relu:2"),
    (Function(lambda s: F.leaky_relu(s, -0.5)),
     "leaky_relu(negative_slope=-0.5), outside the leaky-relu family (negative_slope > 0)"),
    # RReLU, which the probe runs in evaluation (a leaky ReLU of slope (lower + upper)/2)
    (nn.RReLU(), "rrelu"), (nn.RReLU(0.1, 0.3), "rrelu:0.1,0.3"),
    (Function(lambda s: F.rrelu(s, 0.2, 0.4, training=False)), "rrelu:0.2,0.4"),
    # PReLU: one learned slope, one per channel, and F.prelu with a module's own slopes
    (nn.PReLU(), "prelu"), (prelu([0.6]), "prelu"), (prelu(PER_CHANNEL), "prelu"),
    (Slopes(torch.tensor(PER_CHANNEL[::-1])), "prelu"),
    # ELU and CELU (CELU at α = 1 is ELU)
    (nn.ELU(), "elu"), (nn.ELU(1.0, inplace=True), "elu"), (nn.ELU(alpha=0.5), "elu:0.5"),
    (Function(lambda s: F.elu(s, 2.0)), "elu:2"), (nn.CELU(), "elu"), (Function(lambda s: torch.celu(s, 1.0)), "elu"),
    (nn.CELU(alpha=2.0), "celu:2"), (Function(lambda s: F.celu(s, alpha=0.5)), "celu:0.5"),
    (Function(lambda s: F.elu(s, -1.0)), "elu(alpha=-1.0), outside the elu family (alpha > 0)"),
    # softplus: β, and a threshold other than 20
    (nn.Softplus(), "softplus"), (nn.Softplus(beta=1, threshold=20), "softplus"),
    (Function(lambda s: torch._C._nn.softplus(s, 1, 20)), "softplus"), (nn.Softplus(beta=2.0), "softplus:2"),
    (Function(lambda s: F.softplus(s, 0.5)), "softplus:0.5"), (nn.Softplus(threshold=1.0), "softplus:1,1"),
    # hardtanh: its default, ReLU6, other bounds
    (nn.Hardtanh(), "hardtanh"), (nn.Hardtanh(-1, 1), "hardtanh"), (nn.Hardtanh(0.0, 6.0), "relu6"),
    (nn.Hardtanh(0, 6), "relu6"), (Function(lambda s: F.hardtanh(s, 0.0, 6.0)), "relu6"),
    (Function(lambda s: torch._C._nn.hardtanh(s, 0.0, 6.0)), "relu6"), (nn.Hardtanh(-2.0, 2.0), "hardtanh:-2,2"),
    (Function(lambda s: F.hardtanh(s, 0.0, 1.0)), "hardtanh:0,1"), (nn.Hardtanh(-1.0, 6.0), "hardtanh:-1,6"),
    # threshold: ReLU at (0, 0), others
    (nn.Threshold(0.0, 0.0), "relu"), (nn.Threshold(0, 0), "relu"),
    (Function(lambda s: torch.threshold(s, 0.0, 0.0)), "relu"), (nn.Threshold(0.5, 0), "threshold:0.5,0"),
    (Function(lambda s: F.threshold(s, 0.0, -1.0)), "threshold:0,-1"), (nn.Threshold(-1.0, -2.0), "threshold:-1,-2"),
    # no activation the probe knows: named as what took the output
    (nn.Tanhshrink(), "tanhshrink()"), (nn.Softshrink(), "softshrink()"), (nn.LogSigmoid(), "log_sigmoid()"),
    (nn.Hardshrink(), "hardshrink()"),
]


class Net(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.lin1, self.act, self.lin2 = nn.Linear(6, 16), act, nn.Linear(16, 3)

    def forward(self, x):
        return self.lin2(self.act(self.lin1(x)))


def by_hand(model, x, y):
    """lin1's output s, the activation's output a and ∂C/∂s, on a clone of the model."""
    clone = copy.deepcopy(model).eval()
    kept = {}

    def keep(module, inputs, output):
        kept["s"] = output
        return output.clone()  # an in-place activation works on the copy: s stays what lin1 gave

    clone.lin1.register_forward_hook(keep)
    clone.act.register_forward_hook(lambda m, i, o: kept.__setitem__("a", o.detach().clone()))
    loss = F.cross_entropy(clone(x), y)
    (grad,) = torch.autograd.grad(loss, kept["s"])
    return kept["s"].detach(), kept["a"], grad


@pytest.mark.parametrize(("act", "expected"), CASES, ids=lambda v: repr(v) if isinstance(v, nn.Module) else None)
def test_each_activation_is_read_with_its_parameters(act, expected):
    torch.manual_seed(0)
    model = Net(act)
    x, y = torch.randn(64, 6) * 6, torch.randint(0, 3, (64,))
    model.train()  # RReLU samples its slopes in training: the probe measures in eval mode, RNG untouched
    before, rng = [p.detach().clone() for p in model.parameters()], torch.get_rng_state()
    probe = Probe(model, x, y, F.cross_entropy)
    stats = {r["stat"]: r["value"] for r in probe.measure(0, with_jacobians=False).rows if r["layer"] == "lin1"}
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before)) and model.training and act.training
    assert all(p.requires_grad for p in model.parameters())
    assert torch.equal(torch.get_rng_state(), rng) and all(p.grad is None for p in model.parameters())
    s, a, grad = by_hand(model, x, y)
    then = {row["layer"]: row["then"] for row in probe.summary()}
    assert stats["preactivation_mean"] == pytest.approx(s.mean().item(), rel=1e-4, abs=1e-7)
    assert stats["preactivation_std"] == pytest.approx(s.std().item(), rel=1e-4)
    assert stats["backprop_grad_std"] == pytest.approx(grad.std().item(), rel=1e-4)
    if expected in SATURATED:
        assert then["lin1"] == expected and probe.activations["lin1"].name == expected
        assert stats["activation_mean"] == pytest.approx(a.mean().item(), rel=1e-4, abs=1e-7)
        assert stats["activation_std"] == pytest.approx(a.std().item(), rel=1e-4)
        saturated = SATURATED[expected](s, a).float().mean().item()
        assert stats["saturated_fraction"] == pytest.approx(saturated)
    else:
        assert then["lin1"] == f"no activation: {expected}" and "lin1" not in probe.activations
        assert "activation_mean" not in stats
    assert len(then) == 2  # lin1 and lin2: a PReLU's slopes are no layer "not recognised"


@pytest.mark.parametrize(("act", "expected"), [(act, expected) for act, expected in CASES
                                               if type(act).__module__ == "torch.nn.modules.activation"],
                         ids=repr)
def test_a_module_is_read_with_the_same_parameters(act, expected):
    """activation_of (which pairs the composite activation modules of other libraries)
    reads a torch module's attributes as the probe reads its function's arguments. RReLU
    is a leaky ReLU in evaluation only: in training its slopes are random."""
    act = copy.deepcopy(act)
    found = activation_of(act.eval())
    assert (found.name if found is not None else None) == (expected if expected in SATURATED else None)
    if isinstance(act, nn.RReLU):
        assert activation_of(act.train()) is None


@pytest.mark.parametrize("act", [nn.LeakyReLU(0.2), nn.RReLU(0.1, 0.3), prelu(PER_CHANNEL), nn.ELU(0.5), nn.CELU(2.0),
                                 nn.Softplus(beta=2.0), nn.Hardtanh(-2.0, 2.0), nn.Threshold(0.5, 0.0)], ids=repr)
def test_a_family_members_slope_is_in_the_layer_jacobian(act):
    """The layer Jacobian diag(φ'(s)) W of each of the first two examples, φ' by autograd
    through torch's own module on a clone: its mean, min and max singular values,
    averaged over the examples."""
    torch.manual_seed(0)
    model = Net(act)
    x, y = torch.randn(64, 6) * 2, torch.randint(0, 3, (64,))
    probe = Probe(model, x, y, F.cross_entropy, jacobian_examples=2)
    stats = {r["stat"]: r["value"] for r in probe.measure(0).rows if r["layer"] == "lin1"}
    clone = copy.deepcopy(model).eval()
    s = clone.lin1(x[:2]).detach().requires_grad_()
    (slope,) = torch.autograd.grad(clone.act(s).sum(), s)
    values = torch.stack([torch.linalg.svdvals(slope[i, :, None] * clone.lin1.weight.detach()) for i in range(2)])
    assert [row["not measured"] for row in probe.summary() if row["layer"] == "lin1"] == [""]
    assert stats["jacobian_sv_mean"] == pytest.approx(values.mean(dim=1).mean().item(), rel=1e-4)
    assert stats["jacobian_sv_max"] == pytest.approx(values.max(dim=1).values.mean().item(), rel=1e-4)
    assert stats["jacobian_sv_min"] == pytest.approx(values.min(dim=1).values.mean().item(), rel=1e-4, abs=1e-6)


def test_prelus_slopes_are_read_at_each_measure():
    torch.manual_seed(0)
    model = Net(prelu([0.1 + 0.05 * k for k in range(16)]))
    x, y = torch.randn(64, 6) * 6, torch.randint(0, 3, (64,))
    probe = Probe(model, x, y, F.cross_entropy)
    first = {r["stat"]: r["value"] for r in probe.measure(0, with_jacobians=False).rows if r["layer"] == "lin1"}
    with torch.no_grad():  # as an optimizer step would
        model.act.weight.mul_(3.0)
    second = {r["stat"]: r["value"] for r in probe.measure(1, with_jacobians=False).rows if r["layer"] == "lin1"}
    s, a, _ = by_hand(model, x, y)
    assert second["activation_mean"] == pytest.approx(a.mean().item(), rel=1e-4)
    assert second["activation_std"] == pytest.approx(a.std().item(), rel=1e-4)
    assert second["activation_mean"] != pytest.approx(first["activation_mean"], rel=1e-3)
    member = probe.activations["lin1"]
    assert torch.allclose(member.module()(s), a) and torch.allclose(member.derivative(a), torch.where(
        s > 0, torch.ones(()), model.act.weight.detach().expand_as(s)))


def test_prelu_per_channel_after_a_convolution():
    """Slopes per channel of a convolution's output (its dimension 1): statistics against
    the clone's own modules, and a member's φ'(s) against autograd through F.prelu."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3), prelu([0.05, 0.3, 1.5, -0.2]), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    x, y = torch.randn(16, 2, 8, 8) * 3, torch.randint(0, 3, (16,))
    probe = Probe(model, x, y, F.cross_entropy)
    stats = {r["stat"]: r["value"] for r in probe.measure(0, with_jacobians=False).rows if r["layer"] == "0"}
    clone = copy.deepcopy(model).eval()
    s = clone[0](x).detach().requires_grad_()
    a = clone[1](s).detach()
    assert [row["then"] for row in probe.summary()] == ["prelu", "no activation: the model's output"]
    assert stats["activation_mean"] == pytest.approx(a.mean().item(), rel=1e-4)
    assert stats["activation_std"] == pytest.approx(a.std().item(), rel=1e-4)
    assert stats["saturated_fraction"] == pytest.approx((s <= 0).float().mean().item())
    member = probe.activations["0"]
    assert member.derivative is None  # a negative slope: φ' is not a function of a
    positive = activation_of(prelu([0.05, 0.3, 1.5, 0.7]))
    b = F.prelu(s, torch.tensor([0.05, 0.3, 1.5, 0.7]))
    (slope,) = torch.autograd.grad(b.sum(), s)
    assert torch.equal(positive.derivative(b.detach()), slope)
