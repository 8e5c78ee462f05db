"""K plain MLPs of one shape trained as one: every layer's weights of all K networks in
one (K, n_out, n_in) tensor, every update one batched matrix product per layer and pass.

Each network k keeps its own initialization, minibatches, cost, learning rate η_k,
momentum μ_k (plain, heavy-ball or Nesterov) and weight decay λ_k, and follows
torch.optim.SGD exactly, as :class:`depthlab.training.fused.FusedSGD` does alone:

    a^0 = x_k,  s^l = a^{l-1} W_lᵀ + b_l,  a^l = φ(s^l),  z = s^{L+1}     (per k, by bmm)
    δ^{L+1} = ∂C_k/∂z,  δ^{l-1} = (δ^l W_l) ⊙ φ′(a^{l-1})
    g = ∂C_k/∂θ + λ_k θ,  v ← μ_k v + g,  d = g + μ_k v (Nesterov) or v,  θ ← θ − η_k d

A batched product computes each network's slice from that network's slices alone, so a
network whose cost turns non-finite cannot reach the others: it is frozen (η_k = 0) and
the rest go on. Training K small networks this way pays the per-operation overhead of an
update once instead of K times.

Each member MLP's parameters become views of its slice of the stack, so evaluating,
probing or checkpointing a member reads its current values with no copy; its
:class:`StackMember` holds its momentum buffers in :class:`~depthlab.training.fused.FusedSGD`'s
layout, so a run trained in a stack resumes alone, and the other way round.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from depthlab.config import StepName
from depthlab.errors import DepthlabError
from depthlab.nets.mlp import MLP
from depthlab.training.costs import Cost
from depthlab.training.fused import buffer_state, fused_unsupported_reason, load_buffer_state
from depthlab.training.kernels import TORCH_BATCHED
from depthlab.training.optim import OPTIMIZERS


def _column(values: Sequence[float], like: Tensor) -> Tensor:
    return torch.tensor([float(v) for v in values], dtype=like.dtype, device=like.device).view(-1, 1, 1)


class StackedSGD:
    """Train ``models`` (depthlab MLPs of one widths and activation) together; member k
    takes ``costs[k]``, ``lrs[k]``, ``momenta[k]``, ``nesterov[k]``, ``weight_decays[k]``,
    each a validated config's (:meth:`depthlab.config.TrainConfig.validate`). The members'
    parameters are copied into the stack and then point at it."""

    kernel = TORCH_BATCHED

    def __init__(self, models: Sequence[MLP], costs: Sequence[Cost], lrs: Sequence[float],
                 momenta: Sequence[float] | None = None, nesterov: Sequence[bool] | None = None,
                 weight_decays: Sequence[float] | None = None):
        k = len(models)
        if k == 0:
            raise DepthlabError("a stack needs at least one network")
        momenta = list(momenta or [0.0] * k)
        nesterov = list(nesterov or [False] * k)
        weight_decays = list(weight_decays or [0.0] * k)
        if not len(costs) == len(lrs) == len(momenta) == len(nesterov) == len(weight_decays) == k:
            raise DepthlabError(f"a stack of {k} networks needs {k} costs, learning rates, momenta, nesterov flags "
                                "and weight decays")
        first = models[0]
        for model in models:
            reason = fused_unsupported_reason(model, OPTIMIZERS.get("sgd"), None)
            if reason:
                raise DepthlabError(f"a stack trains plain MLPs only: {reason}")
            if model.widths != first.widths or model.activation.name != first.activation.name:
                raise DepthlabError(f"a stack's networks share one shape and activation: {first.widths} "
                                    f"{first.activation.name} against {model.widths} {model.activation.name}")
        with torch.no_grad():
            self.weights = [torch.stack([m.linears[i].weight for m in models]).contiguous()
                            for i in range(len(first.linears))]
            self.biases = [torch.stack([m.linears[i].bias for m in models]).contiguous()
                           for i in range(len(first.linears))]
            for member, model in enumerate(models):  # each member's parameters: views of its slice
                for layer, w, b in zip(model.linears, self.weights, self.biases):
                    layer.weight.data, layer.bias.data = w[member], b[member]
        like = self.weights[0]
        self.momenta = [float(mu) for mu in momenta]
        self.lr, self.momentum = _column(lrs, like), _column(momenta, like)
        self.weight_decay = _column(weight_decays, like)
        # heavy-ball members step along v, Nesterov members along g + μv: the coefficient of v
        self.velocity_share = _column([mu if nest else 1.0 for mu, nest in zip(momenta, nesterov)], like)
        self.nesterov = _column([1.0 if nest else 0.0 for nest in nesterov], like)
        self.uses_momentum = any(mu > 0 for mu in momenta)
        self.one_momentum = self.momenta[0] if len(set(self.momenta)) == 1 else None
        self.decays, self.looks_ahead = any(decay > 0 for decay in weight_decays), any(nesterov)
        self.buffers = [(torch.zeros_like(w), torch.zeros_like(b)) for w, b in zip(self.weights, self.biases)] \
            if self.uses_momentum else []
        self.activate, self.derivative = first.activation.module(), first.activation.derivative
        self.costs = list(costs)
        by_cost: dict[str, tuple[Cost, list[int]]] = {}  # one batched cost evaluation per distinct cost
        for index, cost in enumerate(self.costs):
            by_cost.setdefault(cost.name, (cost, []))[1].append(index)
        self.groups = [(cost, torch.tensor(members, device=like.device) if len(members) < k else slice(None))
                       for cost, members in by_cost.values()]
        self.frozen = torch.zeros(k, dtype=torch.bool, device=like.device)
        self._set_rates()

    def _set_rates(self) -> None:
        """The members' coefficients of an update, fixed until one is frozen: rate = −η_k
        (0 for a frozen member), and from it the weight-decay shrink 1 − η_k λ_k, the
        Nesterov members' rate and shrink, and the rate along v. Made at the start, then
        overwritten in place, so an update captured in a CUDA graph
        (:mod:`depthlab.training.graphs`) reads them as they are after a freeze."""
        rate = self.lr.masked_fill(self.frozen.view(-1, 1, 1), 0.0).neg_()
        nesterov_rate = rate * self.nesterov
        rates = {"rate": rate, "shrink": 1 + rate * self.weight_decay, "nesterov_rate": nesterov_rate,
                 "nesterov_shrink": 1 + nesterov_rate * self.weight_decay, "velocity_rate": rate * self.velocity_share}
        for name, value in rates.items():
            if hasattr(self, name):
                getattr(self, name).copy_(value)
            else:
                setattr(self, name, value)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Every layer's output for inputs x of shape (K, B, …): [a^0, …, a^L, z]."""
        outputs = [x.flatten(2)]
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            outputs.append(self.activate(torch.baddbmm(b.unsqueeze(1), outputs[-1], w.transpose(1, 2))))
        outputs.append(torch.baddbmm(self.biases[-1].unsqueeze(1), outputs[-1], self.weights[-1].transpose(1, 2)))
        return outputs

    def costs_and_deltas(self, z: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Each member's mean cost (K,) and ∂C_k/∂z (K, B, outputs)."""
        k, batch = z.shape[:2]
        losses, deltas = z.new_empty(k), torch.empty_like(z)
        for cost, index in self.groups:
            zg, yg = z[index], y[index]
            flat_z, flat_y = zg.reshape(-1, zg.shape[-1]), yg.reshape(-1, *yg.shape[2:])
            losses[index] = cost.per_example(flat_z, flat_y).view(len(zg), batch).mean(1)
            # the closed form divides by the examples it is given: K·B of them flattened
            deltas[index] = (cost.grad_logits(flat_z, flat_y) * len(zg)).view_as(zg)
        return losses, deltas

    @torch.no_grad()
    def step(self, x: Tensor, y: Tensor) -> Tensor:
        """One update of every member on its own minibatch (x[k], y[k]); return each
        member's cost before the update (K,). A frozen member is left as it is."""
        outputs = self.forward(x)
        losses, delta = self.costs_and_deltas(outputs[-1], y)
        for layer in reversed(range(len(self.weights))):
            a = outputs[layer]
            below = torch.bmm(delta, self.weights[layer]).mul_(self.derivative(a)) if layer else None
            self._update(layer, delta.transpose(1, 2), a)
            delta = below
        return losses

    def _update(self, layer: int, delta_t: Tensor, a: Tensor) -> None:
        """θ ← θ − η_k d for the layer's weights and biases, d as in the
        module docstring, with ∂C/∂W = δᵀa and ∂C/∂b = δᵀ1 accumulated straight into the
        weights (plain SGD) or the momentum buffers: no weight gradient is stored, and plain
        SGD passes over each weight matrix 4 times per update (forward and δ reads, the
        update's read and write), as the fused step on torch ops does."""
        w, b = self.weights[layer], self.biases[layer].unsqueeze(2)  # biases as (K, out, 1)
        grad_b = delta_t.sum(2, keepdim=True)
        if not self.buffers:  # θ ← (1 − η_k λ_k) θ − η_k ∂C/∂θ
            self._descend(w, b, delta_t, a, grad_b, self.rate, self.shrink)
            return
        v_w, v_b = self.buffers[layer][0], self.buffers[layer][1].unsqueeze(2)
        if self.one_momentum is not None:  # v ← μ v + ∂C/∂θ (+ λθ)
            v_w.baddbmm_(delta_t, a, beta=self.one_momentum)
        else:
            v_w.mul_(self.momentum).baddbmm_(delta_t, a)
        v_b.mul_(self.momentum).add_(grad_b)
        if self.decays:
            v_w.addcmul_(w, self.weight_decay)
            v_b.addcmul_(b, self.weight_decay)
        if self.looks_ahead:  # Nesterov members: the g of d = g + μv
            self._descend(w, b, delta_t, a, grad_b, self.nesterov_rate, self.nesterov_shrink)
        w.addcmul_(v_w, self.velocity_rate)
        b.addcmul_(v_b, self.velocity_rate)

    def _descend(self, w: Tensor, b: Tensor, delta_t: Tensor, a: Tensor, grad_b: Tensor, rate: Tensor,
                 shrink: Tensor) -> None:
        """θ ← shrink_k θ + rate_k ∂C/∂θ, in place (shrink = 1 + rate·λ: the decay's share)."""
        if self.decays:
            w.mul_(shrink)
            b.mul_(shrink)
        w.baddbmm_(delta_t * rate, a)
        b.addcmul_(grad_b, rate)

    def freeze(self, member: int) -> None:
        """Stop updating ``member`` (it diverged or finished); the others go on unchanged."""
        self.frozen[member] = True
        self._set_rates()

    graphable = None
    """An update can be captured in a CUDA graph: its every choice is made at the start,
    and a freeze changes tensors in place."""

    def graph_key(self) -> tuple:
        """Nothing held in Python changes between updates."""
        return ()

    def member(self, k: int) -> StackMember:
        """Member k as one run's stepper (its kernel and optimizer state)."""
        return StackMember(self, k)


class StackMember:
    """Network k of a stack as a run sees its stepper: the fused step's rules
    (:attr:`name`), the stack's :attr:`kernel`, and a state dict of the member's momentum
    buffers laid out as FusedSGD's (and torch.optim.SGD's): keyed by the parameter's index
    in ``model.parameters()``, empty without momentum. The stack itself takes the updates."""

    name = StepName.FUSED

    def __init__(self, stack: StackedSGD, k: int):
        self.stack, self.k = stack, k
        self.kernel = stack.kernel

    def _buffers(self) -> list[Tensor]:
        return [t[self.k] for pair in self.stack.buffers for t in pair] if self.stack.momenta[self.k] else []

    def state_dict(self) -> dict:
        return buffer_state(self._buffers())

    def load_state_dict(self, state: dict) -> None:
        load_buffer_state(self._buffers(), state)
