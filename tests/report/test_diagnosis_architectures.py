"""The gradient rule on real architectures: standard ones at their own initialization are
not called broken, whatever their heads do to ∂C/∂s; deep plain stacks at a bad init
still are, with the ratio hooks on the model measure."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import depthlab
from depthlab.probe.probe import Probe
from depthlab.report.diagnosis import EXPLODING_RATIO, VANISHING_RATIO


def problems(model, inputs, targets=None, loss_fn=None):
    return [f for f in depthlab.diagnose(model, inputs, targets, loss_fn) if f.severity != "ok"]


def std_ratio(layers, loss_fn=None):
    """std(∂C/∂s) of ``layers``' first module's output over that of its last, by hooks."""
    def run(model, x, y):
        kept = []
        hooks = [layer.register_forward_hook(lambda m, args, out: (out.retain_grad(), kept.append(out))[1])
                 for layer in (layers[0], layers[-1])]
        F.cross_entropy(model(x), y).backward()
        for hook in hooks:
            hook.remove()
        model.zero_grad()
        return (kept[0].grad.std() / kept[1].grad.std()).item()
    return run


def test_a_bert_classifier_at_its_own_init_is_not_called_broken():
    """Its pooler reads only [CLS], with small N(0, 0.02²) weights: its ∂C/∂s is far larger
    than the encoder's, as it should be; along the encoder's own layers it keeps its size."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.BertConfig(hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
                                     intermediate_size=128, vocab_size=100, num_labels=3)
    model = transformers.BertForSequenceClassification(config)
    ids = torch.randint(0, 100, (16, 12))
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids[:, 0] % 3}
    assert problems(model, inputs) == []
    probe = Probe(model, inputs)
    probe.measure(0, with_jacobians=False)
    grad = {r["layer"]: r["value"] for r in probe.log.rows if r["stat"] == "backprop_grad_std"}
    assert grad["bert.encoder.layer.0.intermediate.dense"] / grad["bert.pooler.dense"] < VANISHING_RATIO / 10
    along = grad["bert.encoder.layer.0.intermediate.dense"] / grad["bert.encoder.layer.3.intermediate.dense"]
    assert 0.5 < along < 2


def test_a_gpt2_at_its_own_init_is_not_called_broken():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=4, n_embd=64, n_head=4, vocab_size=100,
                                                                 n_positions=32))
    ids = torch.randint(0, 100, (8, 32))
    assert problems(model, {"input_ids": ids, "labels": ids}) == []


class Block(nn.Module):
    """A ResNet basic block: conv-BN-ReLU-conv-BN, added to the (projected) input, ReLU."""

    def __init__(self, width_in, width, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(width_in, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width)
        self.shortcut = (nn.Sequential(nn.Conv2d(width_in, width, 1, stride, bias=False), nn.BatchNorm2d(width))
                         if stride != 1 or width_in != width else nn.Identity())

    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + self.shortcut(x))


def test_a_resnet_at_its_own_init_is_not_called_broken():
    """Four stages of two blocks, He init on fan-out as torchvision's: the gradient per
    entry changes with the stages' widths and resolutions, and stays within the limits."""
    torch.manual_seed(0)
    widths = (8, 16, 32, 64)
    blocks = [Block(widths[max(i - 1, 0)] if b == 0 else w, w, 2 if i and b == 0 else 1)
              for i, w in enumerate(widths) for b in range(2)]
    model = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), *blocks,
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    x, y = torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))
    assert problems(model, x, y, F.cross_entropy) == []


def stack(activation, depth=10, width=100):
    torch.manual_seed(0)
    layers = [nn.Linear(20, width), activation()]
    for _ in range(depth - 1):
        layers += [nn.Linear(width, width), activation()]
    return nn.Sequential(*layers, nn.Linear(width, 4))


def test_a_sigmoid_stack_at_the_standard_init_still_has_vanishing_gradients():
    """PyTorch's default Linear init is Glorot's standard one, U[-1/√n, 1/√n]."""
    model = stack(nn.Sigmoid)
    x, y = torch.randn(256, 20), torch.randint(0, 4, (256,))
    (found,) = problems(model, x, y, F.cross_entropy)
    ratio = std_ratio([model[0], model[18]])(model, x, y)
    assert found.name == "vanishing gradients" and ratio < VANISHING_RATIO
    assert (f"∂C/∂s of model[0] (linear) has {ratio:.2g}× the standard deviation of model[18] (linear), the bottom "
            "and top of the 10 layers named model[#]:") in found.evidence


def test_a_relu_stack_at_unit_normal_weights_still_has_exploding_gradients():
    model = stack(nn.ReLU)
    with torch.no_grad():
        for layer in model[::2]:
            layer.weight.normal_(0, 1)
    x, y = torch.randn(256, 20), torch.randint(0, 4, (256,))
    found = {f.name: f for f in problems(model, x, y, F.cross_entropy)}
    ratio = std_ratio([model[0], model[18]])(model, x, y)
    assert ratio > EXPLODING_RATIO
    assert f"of model[0] (linear) has {ratio:.2g}× the standard deviation of model[18] (linear)" \
        in found["exploding gradients"].evidence
