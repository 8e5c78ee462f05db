"""Layers whose weight the model computes (``torch.nn.utils.parametrize``'s weight norm,
spectral norm and orthogonal maps, the legacy ``nn.utils.weight_norm``) and recurrent
cells looped over time: each call an ordinary entry under its module's name, its
statistics against a hand computation on a clone of the model (forward hooks,
torch.autograd.grad on the retained tensors), and the model left as it was."""

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrizations, parametrize

from depthlab.probe import Probe

REL = 1e-4

pytestmark = pytest.mark.usefixtures("reduced_on")  # each test on the host path and the device path


def legacy_weight_norm(module):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return nn.utils.weight_norm(module)


PARAMETRIZED = {
    "weight_norm": parametrizations.weight_norm, "spectral_norm": parametrizations.spectral_norm,
    "orthogonal": parametrizations.orthogonal, "legacy weight_norm": legacy_weight_norm,
}


class Parametrized(nn.Module):
    def __init__(self, wrap, bias=True):
        super().__init__()
        self.lin1, self.lin2 = wrap(nn.Linear(6, 8, bias=bias)), nn.Linear(8, 3)

    def forward(self, x):
        return self.lin2(torch.tanh(self.lin1(x)))


def built(make):
    """A model made from seed 0 (twice: the probed one and its clone)."""
    torch.manual_seed(0)
    return make()


def stats_of(probe, update=0):
    rows = probe.measure(update).rows
    found = {}
    for row in rows:
        found.setdefault(row["layer"], {})[row["stat"]] = row["value"]
    return found


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", list(PARAMETRIZED))
def test_a_parametrized_weight_is_an_ordinary_entry_with_the_effective_weights_statistics(kind, bias):
    model, clone = (built(lambda: Parametrized(PARAMETRIZED[kind], bias)) for _ in range(2))  # no deepcopy: the
    x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))  # legacy weight norm's computed weight refuses it
    probe = Probe(model, x, y, F.cross_entropy)
    stats = stats_of(probe)["lin1"]

    clone.eval()
    kept = {}
    clone.lin1.register_forward_hook(lambda m, i, o: kept.update(s=o))
    with parametrize.cached():  # the effective weight the forward uses is the one read here
        loss = F.cross_entropy(clone(x), y)
        weight = clone.lin1.weight
    s_grad, w_grad = torch.autograd.grad(loss, [kept["s"], weight])
    s = kept["s"].detach()
    a = torch.tanh(s)
    assert stats["preactivation_mean"] == pytest.approx(s.mean().item(), rel=REL)
    assert stats["preactivation_std"] == pytest.approx(s.std().item(), rel=REL)
    assert stats["activation_mean"] == pytest.approx(a.mean().item(), rel=REL)
    assert stats["activation_std"] == pytest.approx(a.std().item(), rel=REL)
    assert stats["backprop_grad_std"] == pytest.approx(s_grad.std().item(), rel=REL)
    assert stats["weight_norm"] == pytest.approx(weight.norm().item(), rel=REL)  # the effective W, not an original
    assert stats["weight_grad_std"] == pytest.approx(w_grad.std().item(), rel=REL)  # ∂C/∂(effective W)
    assert "jacobian_sv_max" in stats
    rows = {row["layer"]: row for row in probe.summary() if row["kind"] != "not recognised"}
    assert list(rows) == ["lin1", "lin2"]
    assert rows["lin1"]["then"] == "tanh" and rows["lin1"]["weight"] == "8×6"
    assert {id(p) for p in probe.calls[0].sources} >= {id(p) for p in model.lin1.parameters()}


class Loop(nn.Module):
    """A cell looped over the sequence by hand, then a linear head on the last state."""

    def __init__(self, cell):
        super().__init__()
        self.cell, self.head = cell, nn.Linear(5, 3)

    def forward(self, x):
        state = None
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
        return self.head(state[0] if isinstance(state, tuple) else state)


CELLS = {
    "RNNCell": lambda: nn.RNNCell(4, 5), "RNNCell relu": lambda: nn.RNNCell(4, 5, nonlinearity="relu"),
    "LSTMCell": lambda: nn.LSTMCell(4, 5), "GRUCell": lambda: nn.GRUCell(4, 5),
    "GRUCell without bias": lambda: nn.GRUCell(4, 5, bias=False),
    "weight-normed LSTMCell": lambda: parametrizations.weight_norm(nn.LSTMCell(4, 5), "weight_hh"),
}


@pytest.mark.parametrize("kind", list(CELLS))
def test_each_step_of_a_looped_cell_is_an_entry(kind):
    model, clone, steps = built(lambda: Loop(CELLS[kind]())), built(lambda: Loop(CELLS[kind]())), 4
    x, y = torch.randn(16, steps, 4), torch.randint(0, 3, (16,))
    probe = Probe(model, x, y, F.cross_entropy)
    stats = stats_of(probe)

    clone.eval()
    states = []
    clone.cell.register_forward_hook(lambda m, i, o: states.append(o[0] if isinstance(o, tuple) else o))
    loss = F.cross_entropy(clone(x), y)
    grads = torch.autograd.grad(loss, states)
    names = ["cell", *(f"cell#{k}" for k in range(2, steps + 1))]
    for name, h, grad in zip(names, states, grads):
        assert stats[name]["preactivation_mean"] == pytest.approx(h.mean().item(), rel=REL)
        assert stats[name]["preactivation_std"] == pytest.approx(h.std().item(), rel=REL)
        assert stats[name]["backprop_grad_std"] == pytest.approx(grad.std().item(), rel=REL)
        assert "activation_mean" not in stats[name]  # h is the cell's own activated state
    then = {row["layer"]: row["then"] for row in probe.summary() if row["kind"] != "not recognised"}
    assert list(then) == [*names, "head"]
    assert [then[name] for name in names] == ["no activation: a recurrent layer"] * (steps - 1) + \
        ["no activation: a linear layer"]
    assert {row["layer"]: row["kind"] for row in probe.layers}["cell#3"] == "recurrent"


MODELS = {
    **{f"parametrized {kind}": (lambda wrap=wrap: Parametrized(wrap), (32, 6)) for kind, wrap in PARAMETRIZED.items()},
    **{f"looped {kind}": (lambda make=make: Loop(make()), (16, 3, 4)) for kind, make in CELLS.items()},
}


@pytest.mark.parametrize("kind", list(MODELS))
def test_a_probe_leaves_the_model_as_it_was(kind):
    torch.manual_seed(0)
    make, shape = MODELS[kind]
    model = make().train()
    model.head.requires_grad_(False) if hasattr(model, "head") else model.lin2.bias.requires_grad_(False)
    for p in model.parameters():
        if p.requires_grad:
            p.grad = torch.randn_like(p)
    params = [(p, p.detach().clone(), None if p.grad is None else p.grad.clone(), p.requires_grad)
              for p in model.parameters()]
    buffers = [(b, b.clone()) for b in model.buffers()]
    modes = [(m, m.training) for m in model.modules()]
    x, y = torch.randn(*shape), torch.randint(0, 3, (shape[0],))
    probe = Probe(model, x, y, F.cross_entropy)
    rng = torch.get_rng_state()
    probe.measure(0)
    probe.summary()
    assert torch.equal(torch.get_rng_state(), rng)
    for p, value, grad, requires_grad in params:
        assert torch.equal(p, value) and p.requires_grad == requires_grad
        assert (p.grad is None) if grad is None else torch.equal(p.grad, grad)
    for b, value in buffers:
        assert torch.equal(b, value)
    assert all(m.training == mode for m, mode in modes)
    # spectral norm's power iteration keeps u and v, the orthogonal map its base
    assert len(buffers) == {"parametrized spectral_norm": 2, "parametrized orthogonal": 1}.get(kind, 0)


class EqualizedLinear(nn.Module):
    """StyleGAN's equalized learning rate: the weight scaled at every call (kept here for
    the hand computation)."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight, self.bias = nn.Parameter(torch.randn(n_out, n_in)), nn.Parameter(torch.zeros(n_out))
        self.scale = n_in ** -0.5

    def forward(self, x):
        self.effective = self.weight * self.scale
        return F.linear(x, self.effective, self.bias)


class Patterns(nn.Module):
    """wav2vec2's positional convolution (weight norm over dim 2, then GELU), a GAN
    discriminator's spectral-normed convolution and LeakyReLU(0.2), StyleGAN's equalized
    linear layer and leaky ReLU."""

    def __init__(self):
        super().__init__()
        self.pos_conv = parametrizations.weight_norm(nn.Conv1d(4, 4, 3, padding=1, groups=2), dim=2)
        self.disc = parametrizations.spectral_norm(nn.Conv1d(4, 6, 3))
        self.mapping, self.head = EqualizedLinear(6 * 6, 5), nn.Linear(5, 3)

    def forward(self, x):
        h = F.gelu(self.pos_conv(x))
        h = F.leaky_relu(self.disc(h), 0.2)
        return self.head(F.leaky_relu(self.mapping(h.flatten(1))))


def test_computed_weights_of_real_model_patterns():
    model, clone = built(Patterns), built(Patterns)
    x, y = torch.randn(12, 4, 8), torch.randint(0, 3, (12,))
    probe = Probe(model, x, y, F.cross_entropy)
    stats = stats_of(probe)
    then = {row["layer"]: row["then"] for row in probe.summary() if row["kind"] != "not recognised"}
    assert then == {"pos_conv": "gelu", "mapping": "leaky-relu", "head": "no activation: the model's output",
                    "disc": "leaky-relu:0.2"}

    clone.eval()
    kept = {}
    for name in ("pos_conv", "disc", "mapping"):
        getattr(clone, name).register_forward_hook(lambda m, i, o, name=name: kept.update({name: o}))
    with parametrize.cached():
        loss = F.cross_entropy(clone(x), y)
        weights = [clone.pos_conv.weight, clone.disc.weight, clone.mapping.effective]
    names = ["pos_conv", "disc", "mapping"]
    grads = torch.autograd.grad(loss, [*(kept[name] for name in names), *weights])
    for name, s, s_grad, weight, w_grad in zip(names, (kept[n] for n in names), grads[:3], weights, grads[3:]):
        assert stats[name]["preactivation_std"] == pytest.approx(s.std().item(), rel=REL)
        assert stats[name]["backprop_grad_std"] == pytest.approx(s_grad.std().item(), rel=REL)
        assert stats[name]["weight_norm"] == pytest.approx(weight.norm().item(), rel=REL)
        assert stats[name]["weight_grad_std"] == pytest.approx(w_grad.std().item(), rel=REL)
    assert stats["pos_conv"]["activation_std"] == pytest.approx(F.gelu(kept["pos_conv"]).std().item(), rel=REL)
    assert stats["mapping"]["activation_mean"] == pytest.approx(F.leaky_relu(kept["mapping"]).mean().item(), rel=REL)
    assert stats["disc"]["activation_std"] == pytest.approx(F.leaky_relu(kept["disc"], 0.2).std().item(), rel=REL)
