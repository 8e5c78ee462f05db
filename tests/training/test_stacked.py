"""The stacked engine against each network trained alone: same parameters and costs
after 200 updates, on every activation and cost, and a diverging member that leaves the
others untouched."""

from __future__ import annotations

import copy

import pytest
import torch

from depthlab.errors import DepthlabError
from depthlab.nets.activations import ACTIVATIONS
from depthlab.nets.mlp import MLP
from depthlab.training.costs import COSTS
from depthlab.training.stacked import StackedSGD

MEMBERS = [  # (lr, momentum, nesterov, weight decay, seed): every rule the stack takes
    dict(lr=0.1, momentum=0.0, nesterov=False, weight_decay=0.0, seed=0),
    dict(lr=0.01, momentum=0.9, nesterov=False, weight_decay=1e-3, seed=1),
    dict(lr=0.02, momentum=0.5, nesterov=True, weight_decay=0.0, seed=2),
    dict(lr=0.2, momentum=0.0, nesterov=False, weight_decay=0.05, seed=3),
]
FUSED_ACTIVATIONS = [a.name for a in ACTIVATIONS if a.derivative is not None]


def net(activation: str, seed: int) -> MLP:
    torch.manual_seed(seed)
    return MLP(12, [16, 16], 5, activation).double()


def batches(cost, seed: int, updates: int = 200):
    g = torch.Generator().manual_seed(100 + seed)
    for _ in range(updates):
        x = torch.randn(8, 12, generator=g, dtype=torch.float64)
        y = torch.randn(8, 5, generator=g, dtype=torch.float64) if cost.regression else \
            torch.randint(0, 5, (8,), generator=g)
        yield x, y


def alone(model: MLP, cost, member: dict, updates: int = 200) -> tuple[MLP, list[float]]:
    model = copy.deepcopy(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=member["lr"], momentum=member["momentum"],
                                nesterov=member["nesterov"], weight_decay=member["weight_decay"])
    losses = []
    for x, y in batches(cost, member["seed"], updates):
        optimizer.zero_grad(set_to_none=True)
        loss = cost.loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model, losses


def stacked(models, costs, members, updates: int = 200, freeze_diverged: bool = True):
    """Train copies of ``models`` in a stack; return (the stack, the copies, each one's costs)."""
    models = [copy.deepcopy(m) for m in models]
    stack = StackedSGD(models, costs, [m["lr"] for m in members], [m["momentum"] for m in members],
                       [m["nesterov"] for m in members], [m["weight_decay"] for m in members])
    streams = [batches(c, m["seed"], updates) for c, m in zip(costs, members)]
    losses = []
    for _ in range(updates):
        xs, ys = zip(*(next(s) for s in streams))
        step = stack.step(torch.stack(xs), torch.stack(ys))
        for k in torch.nonzero(~torch.isfinite(step)).flatten().tolist():
            if freeze_diverged:
                stack.freeze(k)
        losses.append(step.tolist())
    return stack, models, list(zip(*losses))


def assert_same(mine: MLP, model: MLP, losses, solo_losses) -> None:
    for p, q in zip(mine.parameters(), model.parameters()):  # relative to the tensor, as test_fused measures
        assert ((p - q).norm() / q.norm()).item() < 1e-5
    assert list(losses) == pytest.approx(solo_losses, rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("cost", [c.name for c in COSTS])
@pytest.mark.parametrize("activation", FUSED_ACTIVATIONS)
def test_four_stacked_networks_are_the_four_alone(activation, cost):
    cost = COSTS.get(cost)
    models = [net(activation, m["seed"]) for m in MEMBERS]
    stack, trained, losses = stacked(models, [cost] * 4, MEMBERS)
    for k, (model, member) in enumerate(zip(models, MEMBERS)):
        solo, solo_losses = alone(model, cost, member)
        assert_same(trained[k], solo, losses[k], solo_losses)


def test_members_may_take_different_costs():
    costs = [COSTS.get(name) for name in ("nll", "quadratic", "binary-cross-entropy", "nll")]
    models = [net("tanh", m["seed"]) for m in MEMBERS]
    stack, trained, losses = stacked(models, costs, MEMBERS)
    for k, (model, cost, member) in enumerate(zip(models, costs, MEMBERS)):
        solo, solo_losses = alone(model, cost, member)
        assert_same(trained[k], solo, losses[k], solo_losses)


def test_a_diverging_member_is_frozen_and_the_others_are_their_solo_runs():
    members = [dict(m) for m in MEMBERS]
    members[1].update(lr=1e4, momentum=0.9)  # blows up within a few updates
    cost = COSTS.get("nll")
    models = [net("relu", m["seed"]) for m in members]
    stack, trained, losses = stacked(models, [cost] * 4, members)
    assert bool(stack.frozen[1]) and not stack.frozen[[0, 2, 3]].any()
    for k in (0, 2, 3):
        solo, solo_losses = alone(models[k], cost, members[k])
        assert_same(trained[k], solo, losses[k], solo_losses)


def test_a_stack_refuses_networks_of_other_shapes_or_rules():
    cost = COSTS.get("nll")
    with pytest.raises(DepthlabError, match="share one shape and activation"):
        StackedSGD([net("tanh", 0), MLP(12, [16], 5, "tanh").double()], [cost] * 2, [0.1, 0.1])
    with pytest.raises(DepthlabError, match="plain MLPs only: dropout"):
        StackedSGD([MLP(12, [16], 5, "tanh", dropout=0.5)], [cost], [0.1])
