"""What a probe pass leaves behind: nothing (the model's parameters, gradients, buffers,
modes and random state as they were), and training that is the same with or without it."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthlab.nets.mlp import MLP
from depthlab.probe import Probe
from depthlab.probe.state import preserved_state


def test_in_place_activation_does_not_overwrite_the_captured_pre_activation():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(inplace=True), nn.Linear(7, 2))
    x, y = torch.randn(50, 5), torch.randint(0, 2, (50,))
    Probe(model, x, y, F.cross_entropy).measure(0)  # must not raise on the modified s
    rows = Probe(model, x, y, F.cross_entropy, jacobian_examples=0).measure(0)
    s = model[0](x).detach()
    measured = {r["stat"]: r["value"] for r in rows if r["layer"] == "0"}
    assert measured["preactivation_mean"] == pytest.approx(s.mean().item(), abs=1e-6)
    assert measured["activation_mean"] == pytest.approx(s.clamp(min=0).mean().item(), abs=1e-6)


def test_a_train_mode_pass_leaves_parameters_grads_buffers_modes_and_rng_as_they_were():
    torch.manual_seed(0)
    model = MLP(6, [8, 8], 3, "tanh", batchnorm=True, dropout=0.3)
    model.train()
    model[2].eval()  # one BatchNorm frozen by the user: its mode must come back too
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]
    modes = [m.training for m in model.modules()]
    x, y = torch.randn(40, 6), torch.randint(0, 3, (40,))
    rng = torch.get_rng_state()
    Probe(model, x, y, F.cross_entropy, train_mode=True, jacobian_examples=2).measure(0)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))
    assert [m.training for m in model.modules()] == modes
    assert torch.equal(torch.get_rng_state(), rng)


def test_preserved_state_really_restores_what_a_train_mode_forward_changes():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.5))
    model.eval()
    mean = model[1].running_mean.clone()
    rng = torch.get_rng_state()
    with preserved_state(model, train_mode=True):
        assert model.training and model[2].training
        model(torch.randn(16, 4) + 3)
        assert not torch.equal(model[1].running_mean, mean)
    assert torch.equal(model[1].running_mean, mean) and not model.training
    assert torch.equal(torch.get_rng_state(), rng)


def test_training_is_identical_with_and_without_probes():
    x, y = torch.randn(200, 6), torch.randint(0, 3, (200,))

    def train(probe_kwargs):
        torch.manual_seed(1)
        model = MLP(6, [10, 10], 3, "tanh", batchnorm=True, dropout=0.2)
        probes = [Probe(model, x[:30], y[:30], F.cross_entropy, **kw) for kw in probe_kwargs]
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for step in range(20):
            for probe in probes:
                probe.measure(step)
            batch = torch.randint(0, 200, (10,))
            optimizer.zero_grad()
            F.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
        return model.state_dict()

    plain = train([])
    probed = train([{"jacobian_examples": 2}, {"train_mode": True, "jacobian_examples": 2}])
    assert all(torch.equal(plain[k], probed[k]) for k in plain)
