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


# what the activation is, and its saturated units, written out by hand (u its input, a its output)
SATURATED = {
    "relu": lambda u, a: a <= 0, "leaky-relu": lambda u, a: a <= 0, "relu6": lambda u, a: (a <= 0) | (a >= 6),
    "hardtanh": lambda u, a: a.abs() >= 1, "tanh": lambda u, a: a.abs() >= 0.95,
    "sigmoid": lambda u, a: (a <= 0.05) | (a >= 0.95), "softsign": lambda u, a: a.abs() >= 0.95,
    "elu": lambda u, a: a <= -0.95, "selu": lambda u, a: a <= -0.95 * 1.0507009873554805 * 1.6732632423543772,
    "gelu": lambda u, a: u <= -3, "gelu-tanh": lambda u, a: u <= -3, "silu": lambda u, a: u <= -5,
    "mish": lambda u, a: u <= -5, "hardswish": lambda u, a: u <= -3, "hardsigmoid": lambda u, a: (a <= 0) | (a >= 1),
    "softplus": lambda u, a: u <= -5,
}

CASES = [  # (the activation, the registered one it is, or else what the summary says took the output)
    (nn.ReLU(), "relu"), (nn.ReLU(inplace=True), "relu"), (Function(relu_in_place), "relu"),
    (Function(torch.relu), "relu"), (nn.Threshold(0.0, 0.0), "relu"), (nn.Threshold(0, 0), "relu"),
    (nn.Threshold(0.5, 0.0), "threshold(threshold=0.5, value=0.0)"),
    (nn.Threshold(0.0, -1.0), "threshold(threshold=0.0, value=-1.0)"),
    (Function(lambda s: torch.threshold(s, 0.0, 0.0)), "relu"),
    (nn.ReLU6(), "relu6"), (nn.ReLU6(inplace=True), "relu6"), (Function(F.relu6), "relu6"),
    (nn.Hardtanh(0.0, 6.0), "relu6"), (nn.Hardtanh(0, 6), "relu6"),
    (Function(lambda s: F.hardtanh(s, 0.0, 6.0)), "relu6"),
    (Function(lambda s: torch._C._nn.hardtanh(s, 0.0, 6.0)), "relu6"),
    (nn.Hardtanh(), "hardtanh"), (nn.Hardtanh(-1, 1), "hardtanh"),
    (nn.Hardtanh(-2.0, 2.0), "hardtanh(min_val=-2.0, max_val=2.0)"),
    (nn.Hardtanh(0.0, 1.0), "hardtanh(min_val=0.0, max_val=1.0)"),
    (nn.Hardtanh(-1.0, 6.0), "hardtanh(min_val=-1.0, max_val=6.0)"),
    (nn.LeakyReLU(), "leaky-relu"), (nn.LeakyReLU(0.01, inplace=True), "leaky-relu"),
    (Function(lambda s: torch._C._nn.leaky_relu(s, 0.01)), "leaky-relu"), (nn.LeakyReLU(0.0), "relu"),
    (nn.LeakyReLU(0.2), "leaky_relu(negative_slope=0.2)"),
    (Function(lambda s: torch._C._nn.leaky_relu(s, 0.2)), "leaky_relu(negative_slope=0.2)"),
    (nn.ELU(), "elu"), (nn.ELU(1.0, inplace=True), "elu"), (nn.ELU(alpha=0.5), "elu(alpha=0.5)"),
    (nn.CELU(), "elu"), (Function(lambda s: torch.celu(s, 1.0)), "elu"), (nn.CELU(alpha=2.0), "celu(alpha=2.0)"),
    (nn.SELU(), "selu"), (nn.GELU(), "gelu"), (nn.GELU(approximate="tanh"), "gelu-tanh"),
    (Function(lambda s: F.gelu(s, approximate="none")), "gelu"),
    (nn.Softplus(), "softplus"), (nn.Softplus(beta=1, threshold=20), "softplus"),
    (Function(lambda s: torch._C._nn.softplus(s, 1, 20)), "softplus"),
    (nn.Softplus(beta=2.0), "softplus(beta=2.0, threshold=20.0)"),
    (nn.Softplus(threshold=1.0), "softplus(beta=1.0, threshold=1.0)"), (nn.RReLU(), "rrelu()"), (nn.PReLU(), "prelu()"),
    (nn.Sigmoid(), "sigmoid"), (nn.Tanh(), "tanh"), (nn.Softsign(), "softsign"), (nn.SiLU(), "silu"),
    (nn.Mish(), "mish"), (nn.Hardswish(), "hardswish"), (nn.Hardsigmoid(), "hardsigmoid"),
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
        words = f"{expected}, at parameters no registered activation has" if "=" in expected else expected
        assert then["lin1"] == f"no activation: {words}" and "lin1" not in probe.activations
        assert "activation_mean" not in stats


@pytest.mark.parametrize(("act", "expected"), [(act, expected) for act, expected in CASES
                                               if type(act).__module__ == "torch.nn.modules.activation"],
                         ids=repr)
def test_a_module_is_read_with_the_same_parameters(act, expected):
    """activation_of (which pairs the composite activation modules of other libraries)
    reads a torch module's attributes as the probe reads its function's arguments; only
    Threshold and LeakyReLU(0), ReLU by their function, are no ReLU module."""
    by_function_only = isinstance(act, nn.Threshold) or isinstance(act, nn.LeakyReLU) and expected == "relu"
    wanted = expected if expected in SATURATED and not by_function_only else None
    found = activation_of(act)
    assert (found.name if found is not None else None) == wanted
