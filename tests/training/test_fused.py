import copy
import dataclasses

import pytest
import torch
from torch import nn

from depthlab.errors import DepthlabError
from depthlab.nets.activations import ACTIVATIONS
from depthlab.nets.mlp import MLP
from depthlab.training.costs import COSTS
from depthlab.training.fused import NATIVE_MAX_BATCH, FusedSGD, fused_unsupported_reason
from depthlab.training.optim import OPTIMIZERS as OPTIMIZERS_BY_NAME

FUSED_ACTIVATIONS = [a.name for a in ACTIVATIONS if a.derivative is not None]
OPTIMIZERS = {
    "sgd": {},
    "momentum": {"momentum": 0.9},
    "nesterov": {"momentum": 0.9, "nesterov": True},
    "weight-decay": {"weight_decay": 0.05},
    "momentum-weight-decay": {"momentum": 0.5, "weight_decay": 0.05},
    "nesterov-weight-decay": {"momentum": 0.5, "nesterov": True, "weight_decay": 0.05},
}
LR = 0.1


def small_net(activation="tanh", dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    return MLP(20, [16, 16, 16], 5, activation).to(dtype)


def minibatches(n, dtype=torch.float64, shape=(20,), seed=1, regression=False):
    """Class labels 0..4, or five real-valued targets per example for a regression cost."""
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(10, *shape, generator=g, dtype=dtype),
             torch.randn(10, 5, generator=g, dtype=dtype) if regression else torch.randint(0, 5, (10,), generator=g))
            for _ in range(n)]


def autograd_step(model, optimizer, cost, x, y):
    optimizer.zero_grad(set_to_none=True)
    loss = cost.loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.detach()


def relative_errors(model, reference):
    return [((p - q).norm() / q.norm()).item() for p, q in zip(model.parameters(), reference.parameters())]


def assert_100_updates_match_torch_sgd(activation, cost, optimizer):
    fused_net = small_net(activation)
    reference = copy.deepcopy(fused_net)
    fused = FusedSGD(fused_net, COSTS.get(cost), LR, **OPTIMIZERS[optimizer])
    torch_sgd = torch.optim.SGD(reference.parameters(), lr=LR, **OPTIMIZERS[optimizer])
    for x, y in minibatches(100, regression=COSTS.get(cost).regression):
        fused_loss = fused.step(x, y)
        torch_loss = autograd_step(reference, torch_sgd, COSTS.get(cost), x, y)
        assert fused_loss.shape == ()
        assert fused_loss.item() == pytest.approx(torch_loss.item(), rel=1e-8)  # float64, two orders of rounding
    assert max(relative_errors(fused_net, reference)) < 1e-5
    assert max(relative_errors(fused_net, small_net(activation))) > 1e-3  # it did train


def assert_native_100_updates_match_torch_sgd(activation, cost, optimizer, batch_sizes=(10,)):
    """The native kernels in float32 against torch.optim.SGD in float64, on layer widths
    that leave vector tails (21, 19 and 13 are not multiples of 8), the minibatches taking
    ``batch_sizes`` in turn."""
    torch.manual_seed(0)
    native_net = MLP(21, [19, 16, 13], 5, activation)
    reference = copy.deepcopy(native_net).double()
    fused = FusedSGD(native_net, COSTS.get(cost), LR, kernel="native", **OPTIMIZERS[optimizer])
    torch_sgd = torch.optim.SGD(reference.parameters(), lr=LR, **OPTIMIZERS[optimizer])
    g = torch.Generator().manual_seed(1)
    for step in range(100):
        batch = batch_sizes[step % len(batch_sizes)]
        x, y = torch.randn(batch, 21, generator=g), torch.randint(0, 5, (batch,), generator=g)
        native_loss = fused.step(x, y)
        torch_loss = autograd_step(reference, torch_sgd, COSTS.get(cost), x.double(), y)
        assert native_loss.item() == pytest.approx(torch_loss.item(), rel=1e-5)
    assert fused.kernel.startswith("native (")
    assert max(relative_errors(native_net, reference)) < 1e-5


@pytest.mark.parametrize("cost", [c.name for c in COSTS if c.native is not None])
@pytest.mark.parametrize("activation", [a.name for a in ACTIVATIONS if a.native is not None])
def test_native_kernels_match_torch_sgd(native, activation, cost):
    assert_native_100_updates_match_torch_sgd(activation, cost, "sgd")


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_native_kernels_match_every_optimizer(native, optimizer):
    assert_native_100_updates_match_torch_sgd("tanh", "nll", optimizer)


@pytest.mark.parametrize("batch", [1, NATIVE_MAX_BATCH + 1])  # one example; torch ops above the limit
def test_native_step_matches_at_any_batch_size(native, batch):
    assert_native_100_updates_match_torch_sgd("sigmoid", "nll", "momentum", (batch,))


def test_native_step_follows_changing_batch_sizes(native):
    """The step's work tensors are remade when the batch size changes (the last minibatch
    of an epoch), and the kernels take over again after a minibatch too large for them."""
    assert_native_100_updates_match_torch_sgd("tanh", "nll", "sgd", (10, 3, 3, NATIVE_MAX_BATCH + 1, 10))


def test_kernel_choice():
    assert FusedSGD(small_net(), COSTS.get("nll"), LR).kernel.startswith("torch ops (the parameters are not")
    assert FusedSGD(MLP(4, [3], 2), COSTS.get("nll"), LR, kernel="torch").kernel == "torch ops (asked for)"
    with pytest.raises(DepthlabError, match="^the native kernels cannot run: the parameters are not contiguous "
                                            "float32 CPU tensors$"):
        FusedSGD(small_net(), COSTS.get("nll"), LR, kernel="native")
    with pytest.raises(DepthlabError, match="^unknown kernel 'fast'; choose one of auto, native, torch$"):
        FusedSGD(MLP(4, [3], 2), COSTS.get("nll"), LR, kernel="fast")


def test_activation_without_native_form_takes_torch_ops(native):
    net = MLP(4, [3], 2, "tanh")
    net.activation = dataclasses.replace(net.activation, native=None)
    assert FusedSGD(net, COSTS.get("nll"), LR).kernel == "torch ops (no native form of the activation tanh)"
    with pytest.raises(DepthlabError, match="^the native kernels cannot run: no native form of the activation tanh$"):
        FusedSGD(net, COSTS.get("nll"), LR, kernel="native")


def test_cost_without_native_form_takes_torch_ops(native):
    net = MLP(4, [3], 2, "tanh")
    quadratic = dataclasses.replace(COSTS.get("quadratic"), native=None)
    assert FusedSGD(net, quadratic, LR).kernel == "torch ops (no native form of the cost quadratic)"
    assert FusedSGD(net, COSTS.get("nll"), LR).kernel.startswith("native (")


def test_native_step_wants_one_label_per_example(native):
    step = FusedSGD(MLP(4, [3], 2, "tanh"), COSTS.get("nll"), LR, kernel="native")
    with pytest.raises(ValueError, match=r"^expected 3 labels, one per example, got a tensor of shape \(2,\)$"):
        step.step(torch.zeros(3, 4), torch.tensor([0, 1]))


def test_native_step_names_a_label_outside_the_classes(native):
    step = FusedSGD(MLP(4, [3], 2, "tanh"), COSTS.get("nll"), LR, kernel="native")
    before = [p.clone() for p in step.weights]
    with pytest.raises(IndexError, match=r"^label 2 of example 1 is not one of the 2 classes \(0 to 1\)$"):
        step.step(torch.zeros(3, 4), torch.tensor([0, 2, 1]))
    assert all(torch.equal(p, q) for p, q in zip(step.weights, before))  # no update


@pytest.mark.parametrize("cost", [c.name for c in COSTS])
@pytest.mark.parametrize("activation", FUSED_ACTIVATIONS)
def test_every_activation_and_cost_matches_torch_sgd(activation, cost):
    assert_100_updates_match_torch_sgd(activation, cost, "sgd")


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_matches_torch_sgd(optimizer):
    assert_100_updates_match_torch_sgd("tanh", "nll", optimizer)


def test_image_batches_in_float32():
    torch.manual_seed(0)
    fused_net = MLP(16, [32, 32], 5, "tanh")
    reference = copy.deepcopy(fused_net)
    fused = FusedSGD(fused_net, COSTS.get("nll"), LR, momentum=0.9)
    torch_sgd = torch.optim.SGD(reference.parameters(), lr=LR, momentum=0.9)
    for x, y in minibatches(100, torch.float32, shape=(1, 4, 4)):
        fused.step(x, y)
        autograd_step(reference, torch_sgd, COSTS.get("nll"), x, y)
    assert max(relative_errors(fused_net, reference)) < 1e-5


def test_updates_the_model_tensors_in_place_without_gradients():
    net = small_net()
    addresses = [p.data_ptr() for p in net.parameters()]
    before = [p.clone() for p in net.parameters()]
    FusedSGD(net, COSTS.get("nll"), LR).step(*minibatches(1)[0])
    assert [p.data_ptr() for p in net.parameters()] == addresses
    assert all(p.grad is None for p in net.parameters())
    assert all(not torch.equal(p, q) for p, q in zip(net.parameters(), before))


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov", "momentum-weight-decay"])
def test_state_dict_round_trip_continues_identically(optimizer):
    batches = minibatches(10)
    net = small_net()
    fused = FusedSGD(net, COSTS.get("nll"), LR, **OPTIMIZERS[optimizer])
    for x, y in batches[:5]:
        fused.step(x, y)
    checkpoint = copy.deepcopy((net.state_dict(), fused.state_dict()))
    for x, y in batches[5:]:
        fused.step(x, y)

    resumed_net = small_net(seed=7)
    resumed_net.load_state_dict(checkpoint[0])
    resumed = FusedSGD(resumed_net, COSTS.get("nll"), LR, **OPTIMIZERS[optimizer])
    resumed.load_state_dict(checkpoint[1])
    for x, y in batches[5:]:
        resumed.step(x, y)
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), resumed_net.parameters()))


def test_state_dict_is_a_copy_in_torch_sgd_layout():
    net = small_net()
    fused = FusedSGD(net, COSTS.get("nll"), LR, momentum=0.9)
    fused.step(*minibatches(1)[0])
    state = fused.state_dict()
    assert sorted(state["state"]) == list(range(len(list(net.parameters()))))
    saved = state["state"][0]["momentum_buffer"].clone()
    fused.step(*minibatches(1, seed=2)[0])
    assert torch.equal(state["state"][0]["momentum_buffer"], saved)
    assert FusedSGD(small_net(), COSTS.get("nll"), LR).state_dict() == {"state": {}}


def test_resumes_from_torch_sgd_state():
    batches = minibatches(10)
    reference = small_net()
    torch_sgd = torch.optim.SGD(reference.parameters(), lr=LR, momentum=0.9, nesterov=True)
    for x, y in batches[:5]:
        autograd_step(reference, torch_sgd, COSTS.get("nll"), x, y)
    fused_net = copy.deepcopy(reference)
    fused = FusedSGD(fused_net, COSTS.get("nll"), LR, momentum=0.9, nesterov=True)
    fused.load_state_dict(torch_sgd.state_dict())
    for x, y in batches[5:]:
        autograd_step(reference, torch_sgd, COSTS.get("nll"), x, y)
        fused.step(x, y)
    assert max(relative_errors(fused_net, reference)) < 1e-12


def test_load_state_dict_names_a_wrong_shape():
    fused = FusedSGD(small_net(), COSTS.get("nll"), LR, momentum=0.9)
    state = {"state": {0: {"momentum_buffer": torch.zeros(3, 3)}}}
    with pytest.raises(DepthlabError, match=r"momentum buffer 0 has shape \(3, 3\), expected \(16, 20\)"):
        fused.load_state_dict(state)


class NotAnMLP(nn.Sequential):
    pass


@pytest.mark.parametrize(("model", "optimizer", "clip_norm", "reason"), [
    (MLP(4, [3], 2, batchnorm=True), "sgd", None, "batch normalization"),
    (MLP(4, [3], 2, dropout=0.5), "sgd", None, "dropout"),
    (MLP(4, [3], 2), "adam", None, "optimizer adam"),
    (MLP(4, [3], 2), "sgd", 1.0, "gradient clipping"),
    (NotAnMLP(nn.Linear(4, 2)), "sgd", None, "not a depthlab MLP"),
    (MLP(4, [3], 2), "sgd", None, None),
    (MLP(4, [3], 2, "relu"), "momentum", None, None),
    (MLP(4, [3], 2), "nesterov", None, None),
])
def test_unsupported_reason(model, optimizer, clip_norm, reason):
    assert fused_unsupported_reason(model, OPTIMIZERS_BY_NAME.get(optimizer), clip_norm) == reason


def test_an_activation_without_derivative_from_its_output_is_not_fused():
    model = MLP(4, [3], 2)
    model.activation = dataclasses.replace(model.activation, name="gelu-like", derivative=None)
    assert fused_unsupported_reason(model, OPTIMIZERS_BY_NAME.get("sgd"), None) == \
        "the activation gelu-like has no derivative in terms of its output"


def test_rejects_a_model_it_cannot_train():
    # its settings (rate, momentum, decay, Nesterov) are a validated config's: tests/test_config.py
    with pytest.raises(DepthlabError, match="^the fused step cannot train this model: dropout$"):
        FusedSGD(MLP(4, [3], 2, dropout=0.5), COSTS.get("nll"), LR)
