"""Finding the layers of any model, and one probe pass that captures their tensors.

A probed layer is a weighted module — ``nn.Linear`` or ``nn.Conv1d/2d/3d`` — with its
pre-activation s = W x + b (the module's output) and, where one follows, its activation
a = φ(s): the first module after it, in registration order and before the next weighted
module, whose type the activation registry knows (``depthlab.nets.activations``).
BatchNorm or Dropout in between are fine. The last layer with no activation after it is
the output layer.

The pass runs forward hooks on those modules and takes every derivative with
``torch.autograd.grad``, so no parameter's ``.grad`` is touched; :func:`preserved_state`
also restores the modules' train/eval modes, the buffers and the global RNG, so that a
training run is the same with or without probes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from depthlab.errors import DepthlabError, unknown_choice
from depthlab.nets.activations import Activation, activation_of

WEIGHTED_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


@dataclass(frozen=True)
class ProbedLayer:
    """A weighted module and the activation module that follows it (None for the output
    layer or where the model applies no registered activation module)."""

    name: str
    module_name: str
    module: nn.Module
    activation: Activation | None
    activation_module: nn.Module | None

    @property
    def is_linear(self) -> bool:
        return isinstance(self.module, nn.Linear)


def find_layers(model: nn.Module, names: Sequence[str] | None = None) -> list[ProbedLayer]:
    """The probed layers of ``model`` bottom to top, named "layer 1", "layer 2", … and
    "output"; all its Linear/Conv modules, or those whose qualified names are ``names``."""
    modules = list(model.named_modules())
    weighted = [i for i, (_, m) in enumerate(modules) if isinstance(m, WEIGHTED_TYPES)]
    if names is None:
        chosen = weighted
    else:
        position = {name: i for i, (name, _) in enumerate(modules)}
        for name in names:
            if name not in position:
                raise unknown_choice("layer", name, [modules[i][0] for i in weighted])
            if position[name] not in weighted:
                kind = type(modules[position[name]][1]).__name__
                raise DepthlabError(f"layer '{name}' is a {kind}, not a Linear or Conv module")
        chosen = sorted({position[name] for name in names})
    if not chosen:
        raise DepthlabError(f"{type(model).__name__} has no Linear or Conv layer to probe")
    found = []
    for i in chosen:
        stop = next((j for j in weighted if j > i), len(modules))
        follower = next((m for _, m in modules[i + 1:stop] if activation_of(m) is not None), None)
        found.append((*modules[i], follower))
    has_output = found[-1][2] is None
    return [
        ProbedLayer("output" if has_output and k == len(found) else f"layer {k}", name, module,
                    activation_of(follower) if follower is not None else None, follower)
        for k, (name, module, follower) in enumerate(found, start=1)
    ]


@dataclass
class LayerTensors:
    """What one probe pass saw of one layer, detached. ``slope`` is ∂a/∂s on the first
    few examples, read elementwise (φ'(s) when the activation follows s directly)."""

    layer_input: Tensor
    pre_activation: Tensor
    activation: Tensor | None
    activation_input: Tensor | None
    grad_pre_activation: Tensor
    grad_weight: Tensor
    grad_bias: Tensor | None
    slope: Tensor | None


@contextmanager
def preserved_state(model: nn.Module, train_mode: bool) -> Iterator[None]:
    """Put ``model`` in train (``train_mode``) or eval mode for the duration; restore every
    module's mode, every buffer and the global RNG (CPU and the model's CUDA devices)."""
    modes = [(m, m.training) for m in model.modules()]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    cuda = sorted({p.device.index or 0 for p in model.parameters() if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=cuda):
        model.train(train_mode)
        try:
            yield
        finally:
            for m, mode in modes:
                m.training = mode
            with torch.no_grad():
                for b, saved in buffers:
                    b.copy_(saved)


@contextmanager
def captured_outputs(layers: Sequence[ProbedLayer]) -> Iterator[dict[str, dict[str, Tensor]]]:
    """Record, per layer name, its module's input ``x`` and output ``s``, and its
    activation module's input ``u`` and output ``a``, during the forward passes inside the
    block. ``u`` and ``a`` are copies (in the graph), so that an in-place activation or a
    later in-place operation cannot overwrite what was captured."""
    seen: dict[str, dict[str, Tensor]] = {layer.name: {} for layer in layers}

    def on_layer(record: dict[str, Tensor]) -> Callable:
        def hook(module: nn.Module, inputs: tuple, output: Tensor) -> Tensor:
            record["x"], record["s"] = inputs[0], output
            return output.clone()  # so that an in-place activation cannot overwrite s
        return hook

    def before_activation(record: dict[str, Tensor]) -> Callable:
        def hook(module: nn.Module, inputs: tuple) -> None:
            record["u"] = inputs[0].clone()
        return hook

    def on_activation(record: dict[str, Tensor]) -> Callable:
        def hook(module: nn.Module, inputs: tuple, output: Tensor) -> None:
            record["a"] = output.clone()
        return hook

    handles = [layer.module.register_forward_hook(on_layer(seen[layer.name])) for layer in layers]
    for layer in layers:
        if layer.activation_module is not None:
            handles.append(layer.activation_module.register_forward_pre_hook(before_activation(seen[layer.name])))
            handles.append(layer.activation_module.register_forward_hook(on_activation(seen[layer.name])))
    try:
        yield seen
    finally:
        for handle in handles:
            handle.remove()


def probe_pass(model: nn.Module, layers: Sequence[ProbedLayer], inputs: Tensor, targets: Tensor,
               loss_fn: Callable[[Tensor, Tensor], Tensor], slope_examples: int) -> list[LayerTensors]:
    """One forward/backward pass of C = loss_fn(model(inputs), targets) that returns, per
    layer, x, s, a, ∂C/∂s, ∂C/∂W, ∂C/∂b and ∂a/∂s on the first ``slope_examples`` examples
    (the diagonal of the activation's Jacobian: exact when the modules between s and a
    act elementwise, as φ, Dropout and BatchNorm in eval mode do)."""
    with torch.enable_grad(), captured_outputs(layers) as seen:
        loss = loss_fn(model(inputs), targets)
    for layer in layers:
        if "s" not in seen[layer.name] or (layer.activation_module is not None and "a" not in seen[layer.name]):
            raise DepthlabError(f"layer '{layer.module_name}' or its activation did not run in the forward pass")
    slopes = [_slope(seen[layer.name], slope_examples, layer.name == "output") for layer in layers]
    s = [seen[layer.name]["s"] for layer in layers]
    weights = [layer.module.weight for layer in layers]
    biases = [layer.module.bias for layer in layers if layer.module.bias is not None]
    grads = torch.autograd.grad(loss, [*s, *weights, *biases], allow_unused=True, materialize_grads=True)
    grad_s, grad_w, grad_b = grads[:len(s)], grads[len(s):2 * len(s)], iter(grads[2 * len(s):])
    return [
        LayerTensors(
            layer_input=seen[layer.name]["x"].detach(),
            pre_activation=s[k].detach(),
            activation=seen[layer.name]["a"].detach() if "a" in seen[layer.name] else None,
            activation_input=seen[layer.name]["u"].detach() if "u" in seen[layer.name] else None,
            grad_pre_activation=grad_s[k],
            grad_weight=grad_w[k],
            grad_bias=next(grad_b) if layer.module.bias is not None else None,
            slope=slopes[k],
        )
        for k, layer in enumerate(layers)
    ]


def _slope(record: dict[str, Tensor], examples: int, is_output: bool) -> Tensor | None:
    """∂a/∂s on the first ``examples`` examples, as the gradient of Σ a w.r.t. s; 1 for a
    hidden layer no activation follows (a linear layer: a = s)."""
    if examples == 0 or is_output:
        return None
    if "a" not in record:
        return torch.ones_like(record["s"][:examples]).detach()
    a = record["a"][:examples]
    (slope,) = torch.autograd.grad(a, record["s"], torch.ones_like(a), retain_graph=True, allow_unused=True)
    return None if slope is None else slope[:examples].detach()
