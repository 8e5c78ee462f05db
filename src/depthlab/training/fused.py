"""A fused SGD training step for plain MLPs: explicit backpropagation with in-place updates.

For a depthlab :class:`~depthlab.nets.mlp.MLP` without batch normalization or dropout,
with a^0 = x, s^k = a^{k-1} W_kᵀ + b_k, a^k = φ(s^k) and logits z = s^{L+1}
(Glorot & Bengio 2010, section 2; LeCun et al. 1998, "Efficient BackProp"):

    δ^{L+1} = ∂C/∂z                           (the cost's closed form)
    δ^{k-1} = (δ^k W_k) ⊙ φ′(a^{k-1})         (φ′ written in terms of the output)
    ∂C/∂W_k = δ^kᵀ a^{k-1},   ∂C/∂b_k = δ^kᵀ 1

Each layer is updated as soon as its δ is known, after δ has been passed down through
the old weights, so no weight gradient is ever stored: with momentum it is accumulated
straight into the momentum buffer, without momentum straight into the weights. In the
paper's setting (1000-unit layers, minibatches of 10) an update is bound by streaming the
weight matrices: plain SGD passes over each one 4 times (forward read, backward read,
update read and write), where autograd with torch.optim.SGD passes 6 times (it also writes
the gradient and reads it back) and pays per-operation overhead on top.

On CPU in float32 the work runs in depthlab's native kernels
(:mod:`depthlab.training.kernels`) when they can be built here, one call per pass over the
net: the forward products with φ ending in the cost and δ^{L+1}, and a backward pass that
computes δ W ⊙ φ′ and updates W tile by tile while the tile is in cache, so each W is
streamed 3 times per update. Elsewhere (other dtypes, GPUs, no C compiler) the same step
runs on torch operations.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from depthlab.config import StepName
from depthlab.errors import DepthlabError
from depthlab.nets.activations import Activation
from depthlab.nets.mlp import MLP
from depthlab.training.costs import Cost
from depthlab.training.kernels import Kernel, NativeKernels, NativeUnavailable, native_kernels, on_torch_ops
from depthlab.training.optim import OPTIMIZERS, Optimizer

NATIVE_MAX_BATCH = 96
"""Above this many examples per minibatch torch's GEMMs catch up with the native kernels
(the measured crossover, and the command that measures it, are in the README)."""


def fused_unsupported_reason(model: nn.Module, optimizer: Optimizer, clip_norm: float | None) -> str | None:
    """Why ``model`` trained with ``optimizer`` and ``clip_norm`` cannot take the fused step,
    or None when it can: a depthlab MLP that :func:`fused_rules_reason` accepts."""
    if not isinstance(model, MLP):
        return "not a depthlab MLP"
    return fused_rules_reason(model.activation, any(isinstance(m, nn.BatchNorm1d) for m in model),
                              any(isinstance(m, nn.Dropout) for m in model), optimizer, clip_norm)


def fused_rules_reason(activation: Activation, batchnorm: bool, dropout: bool, optimizer: Optimizer,
                       clip_norm: float | None) -> str | None:
    """Why an MLP of these settings cannot take the fused step, or None when it can: an
    activation with a derivative in terms of its output, no batch normalization or
    dropout, a rule the step implements (SGD: plain, momentum or Nesterov), no clipping."""
    if activation.derivative is None:
        return f"the activation {activation.name} has no derivative in terms of its output"
    if batchnorm:
        return "batch normalization"
    if dropout:
        return "dropout"
    if not optimizer.fused:
        return f"optimizer {optimizer.name}"
    if clip_norm is not None:
        return "gradient clipping"
    return None


def native_kernels_for(activation: Activation, cost: Cost) -> NativeKernels:
    """The native kernels for a net of ``activation`` trained on ``cost``, or
    :class:`NativeUnavailable` saying why they cannot run it."""
    if activation.native is None:
        raise NativeUnavailable(f"no native form of the activation {activation.name}")
    if cost.native is None:
        raise NativeUnavailable(f"no native form of the cost {cost.name}")
    return native_kernels()


class FusedSGD:
    """Train a plain MLP by SGD, one fused forward/backward/update per minibatch.

    With learning rate η, momentum μ, weight decay λ and dampening 0, every parameter θ
    (weights and biases alike) follows torch.optim.SGD exactly:

        g = ∂C/∂θ + λθ
        v ← g at the first step, μv + g after         (momentum buffer, when μ > 0)
        d = g + μv (Nesterov),  v (momentum),  g (plain)
        θ ← θ − η d

    Plain SGD is the paper's rule θ ← θ − ε g (Glorot & Bengio 2010, section 2.3); momentum
    and Nesterov follow Sutskever et al. (2013), in PyTorch's formulation. The step works in
    place on the model's own parameter tensors, so probes, checkpoints and evaluation see the
    model as usual.

    ``kernel`` picks how the matrix work runs: ``native`` (depthlab's C kernels; an error
    when they cannot be built or the parameters are not contiguous float32 CPU tensors),
    ``torch`` (torch operations) or ``auto`` (native when possible). :attr:`kernel` says
    which one runs, and why when it is not native. Minibatches of more than
    ``NATIVE_MAX_BATCH`` examples, or not float32 on the CPU, always take torch operations.

    The settings are a validated config's (:meth:`depthlab.config.TrainConfig.validate`
    checks them): η > 0, 0 ≤ μ < 1, λ ≥ 0, Nesterov with μ > 0.
    """

    name = StepName.FUSED

    def __init__(self, model: MLP, cost: Cost, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, kernel: str = Kernel.AUTO):
        reason = fused_unsupported_reason(model, OPTIMIZERS.get("sgd"), None)
        if reason:
            raise DepthlabError(f"the fused step cannot train this model: {reason}")
        self.cost = cost
        self.lr, self.momentum, self.nesterov, self.weight_decay = lr, momentum, nesterov, weight_decay
        self.weights, self.biases = [layer.weight for layer in model.linears], [layer.bias for layer in model.linears]
        self.activation = model.activation
        self.activate = model.activation.module()
        self.derivative = model.activation.derivative
        # Zero buffers make the first update v = μ·0 + g = g exactly, as torch.optim.SGD does.
        self.buffers = [(torch.zeros_like(w), torch.zeros_like(b)) for w, b in zip(self.weights, self.biases)] \
            if momentum else []
        self.native, self.kernel = self._choose_kernel(kernel)
        self._work: tuple[list[Tensor], list[Tensor]] | None = None

    def _choose_kernel(self, kernel: str) -> tuple[NativeKernels | None, str]:
        """(the native kernels or None, a description of what runs)."""
        if kernel not in Kernel.names():
            raise DepthlabError(f"unknown kernel {kernel!r}; choose one of {', '.join(Kernel.names())}")
        if kernel == Kernel.TORCH:
            return None, on_torch_ops("asked for")
        tensors = [*self.weights, *self.biases]
        if not all(t.dtype == torch.float32 and t.device.type == "cpu" and t.is_contiguous() for t in tensors):
            reason = "the parameters are not contiguous float32 CPU tensors"
        else:
            try:
                native = native_kernels_for(self.activation, self.cost)
                return native, native.description
            except NativeUnavailable as error:
                reason = str(error)
        if kernel == Kernel.NATIVE:
            raise DepthlabError(f"the native kernels cannot run: {reason}")
        return None, on_torch_ops(reason)

    @torch.no_grad()
    def step(self, x: Tensor, y: Tensor) -> Tensor:
        """Update the parameters once on the minibatch (x, y); return its loss before the update."""
        x = x.flatten(1).contiguous()
        if self.native is not None and len(x) <= NATIVE_MAX_BATCH and x.dtype == torch.float32 \
                and x.device.type == "cpu":
            return self._native_step(x, y)
        inputs = [x]
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            inputs.append(self.activate(torch.addmm(b, inputs[-1], w.t())))
        z = torch.addmm(self.biases[-1], inputs[-1], self.weights[-1].t())
        loss = self.cost.loss(z, y)
        delta = self.cost.grad_logits(z, y)
        for k in reversed(range(len(self.weights))):
            delta = self._backward_update(k, delta, inputs[k])
        return loss

    def _native_step(self, x: Tensor, y: Tensor) -> Tensor:
        """The step in the native kernels: one call for the forward pass and the cost, one for
        the backward pass and the updates. (Torch operations on the logits here would each
        take several times longer than usual: the passes flush the caches.)"""
        if y.shape != (len(x),):  # the kernels read one label per example
            raise ValueError(f"expected {len(x)} labels, one per example, got a tensor of shape {tuple(y.shape)}")
        outputs, deltas = self._work_tensors(len(x))
        loss = self.native.forward(x, self.weights, self.biases, outputs, self.activation, self.cost,
                                   y.to("cpu", torch.int64).contiguous(), deltas[-1])
        self.native.backward(x, outputs, deltas, self.weights, self.biases, self.buffers or None, self.activation,
                             self.lr, self.weight_decay, self.momentum, self.nesterov)
        return torch.tensor(loss, dtype=x.dtype)

    def _work_tensors(self, batch: int) -> tuple[list[Tensor], list[Tensor]]:
        """Every layer's output and δ for minibatches of ``batch`` examples, which the native
        kernels overwrite: made at the first step of that size, reused while it lasts."""
        if self._work is None or len(self._work[0][0]) != batch:
            self._work = tuple([w.new_empty(batch, w.shape[0]) for w in self.weights] for _ in range(2))
        return self._work

    def _backward_update(self, k: int, delta: Tensor, a: Tensor) -> Tensor | None:
        """Update layer k from its δ and input a in torch operations; return the δ of the
        layer below, (δ W_k) ⊙ φ′(a) with the weights before the update (None for the first
        layer, which has nothing below)."""
        w, b = self.weights[k], self.biases[k]
        w_buffer, b_buffer = self.buffers[k] if self.buffers else (None, None)
        below = torch.mm(delta, w).mul_(self.derivative(a)) if k else None
        self._update(w, w_buffer, delta.t(), a)
        self._update(b.unsqueeze(1), b_buffer, delta.t(), delta.new_ones(len(delta), 1))  # ∂C/∂b = δᵀ1
        return below

    def _update(self, param: Tensor, buffer: Tensor | None, delta_t: Tensor, a: Tensor) -> None:
        """Update ``param`` (a matrix; biases as a column) whose loss gradient is δᵀa."""
        lr, mu, decay = self.lr, self.momentum, self.weight_decay
        if buffer is None:
            param.addmm_(delta_t, a, beta=1 - lr * decay, alpha=-lr)
            return
        buffer = buffer.view_as(param)
        buffer.addmm_(delta_t, a, beta=mu)
        if decay:
            buffer.add_(param, alpha=decay)
        if self.nesterov:
            param.addmm_(delta_t, a, beta=1 - lr * decay, alpha=-lr)
            param.add_(buffer, alpha=-lr * mu)
        else:
            param.add_(buffer, alpha=-lr)

    @property
    def graphable(self) -> str | None:
        """None when an update can be captured in a CUDA graph (on torch operations), else why not."""
        return "the native kernels take the step (on the CPU)" if self.native is not None else None

    def graph_key(self) -> tuple:
        """The settings a captured update holds as constants."""
        return self.lr, self.momentum, self.nesterov, self.weight_decay

    def state_dict(self) -> dict:
        """Copies of the momentum buffers, laid out as torch.optim.SGD's ``state``: keyed by
        the parameter's index in ``model.parameters()``."""
        return buffer_state([t for pair in self.buffers for t in pair])

    def load_state_dict(self, state: dict) -> None:
        """Restore the momentum buffers saved by :meth:`state_dict` (torch.optim.SGD's state
        dict of the same model works too)."""
        load_buffer_state([t for pair in self.buffers for t in pair], state)


def buffer_state(buffers: list[Tensor]) -> dict:
    """Momentum buffers (in ``model.parameters()`` order) as torch.optim.SGD's state dict."""
    return {"state": {i: {"momentum_buffer": t.clone()} for i, t in enumerate(buffers)}}


def load_buffer_state(buffers: list[Tensor], state: dict) -> None:
    """Copy a state dict of :func:`buffer_state`'s layout into ``buffers``; a parameter
    without a saved buffer restarts from zero, as at the first step."""
    saved = state["state"]
    for i, buffer in enumerate(buffers):
        value = saved[i]["momentum_buffer"] if i in saved else torch.zeros_like(buffer)
        if value.shape != buffer.shape:
            raise DepthlabError(f"momentum buffer {i} has shape {tuple(value.shape)}, expected {tuple(buffer.shape)}")
        buffer.copy_(value)
