"""The two ways a run takes a training step (``--step``), and the choice between them.

``autograd``: forward, ``loss.backward()``, optional gradient clipping, a torch.optim
step — works for every model and optimizer. ``fused``: depthlab.training.fused, an explicit
layer-by-layer SGD step for plain MLPs that never materialises weight gradients.
``auto`` picks fused whenever the run qualifies. A run's stepper says its ``name`` (the
step it takes), its ``kernel`` (what runs the matrix work: for fused, depthlab's native
kernels, or torch ops and why) and holds its optimizer state (``state_dict``).

The training loop (:func:`depthlab.training.trainer.loop`) steps K runs at once: a stack
(:class:`depthlab.training.stacked.StackedSGD`), or one run as a stack of one
(:class:`StackOfOne`).
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor, nn

from depthlab.config import StepName, TrainConfig
from depthlab.errors import DepthlabError
from depthlab.training.costs import Cost
from depthlab.training.fused import FusedSGD, fused_unsupported_reason
from depthlab.training.kernels import TORCH_AUTOGRAD
from depthlab.training.optim import OPTIMIZERS


class RunStep(Protocol):
    """A run's stepper as its books see it: the step it takes, the kernel that runs it,
    and its optimizer state, checkpointed with the run."""

    name: StepName
    kernel: str

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class Stepper(Protocol):
    """What the loop steps: K runs at once. ``step`` takes one update of every run on its
    minibatch and returns their costs (K,), left on the device; ``freeze(k)`` stops
    updating run k, which ended."""

    def step(self, x: Tensor, y: Tensor) -> Tensor: ...

    def freeze(self, k: int) -> None: ...


class AutogradStep:
    """One update with autograd and a torch.optim optimizer; optional global-norm clipping
    (Pascanu et al. 2013): g ← g · min(1, c/‖g‖)."""

    name = StepName.AUTOGRAD
    kernel = TORCH_AUTOGRAD

    def __init__(self, model: nn.Module, cost: Cost, optimizer: torch.optim.Optimizer,
                 clip_norm: float | None = None):
        self.model, self.cost, self.optimizer, self.clip_norm = model, cost, optimizer, clip_norm

    def step(self, x: Tensor, y: Tensor) -> Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.cost.loss(self.model(x), y)
        loss.backward()
        if self.clip_norm is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_norm)
        self.optimizer.step()
        return loss.detach()

    @property
    def graphable(self) -> str | None:
        """None when an update can be captured in a CUDA graph: torch.optim.SGD (plain,
        momentum, Nesterov: no step count) on a net without dropout (whose masks are not
        checked against a graph here); else why not."""
        if not isinstance(self.optimizer, torch.optim.SGD):
            return f"torch.optim.{type(self.optimizer).__name__} counts its steps outside the device's work"
        if any(isinstance(m, nn.Dropout) for m in self.model.modules()):
            return "dropout"
        return None

    def graph_key(self) -> tuple:
        """The optimizer's hyper-parameters, held as Python numbers (a schedule changing the
        learning rate makes the update captured again), and the clipping norm."""
        return self.clip_norm, tuple(tuple((k, v) for k, v in sorted(group.items()) if k != "params")
                                     for group in self.optimizer.param_groups)

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state)


def make_step(config: TrainConfig, model: nn.Module, cost: Cost) -> AutogradStep | FusedSGD:
    """The stepper of a validated ``config``'s run; ``--step fused`` on a run that does not
    qualify is an error that says why."""
    rule = OPTIMIZERS.get(config.optimizer)
    reason = fused_unsupported_reason(model, rule, config.clip_norm)
    if config.step == StepName.FUSED and reason:
        raise DepthlabError(f"--step fused cannot run this configuration ({reason}); use --step autograd or auto")
    if config.step != StepName.AUTOGRAD and reason is None:
        return FusedSGD(model, cost, config.lr, momentum=config.momentum if rule.momentum else 0.0,
                        nesterov=rule.nesterov, weight_decay=config.weight_decay)
    optimizer = rule.make(model.parameters(), config.lr, config.momentum, config.weight_decay)
    return AutogradStep(model, cost, optimizer, config.clip_norm)


class StackOfOne:
    """One run's stepper as the loop steps K runs: its cost as a (1,) tensor, left on
    the device."""

    def __init__(self, stepper: AutogradStep | FusedSGD):
        self.stepper = stepper

    def step(self, x: Tensor, y: Tensor) -> Tensor:
        return self.stepper.step(x, y).view(1)

    def freeze(self, k: int) -> None:
        """Nothing to do: the loop ends with its one run."""

    @property
    def graphable(self) -> str | None:
        return self.stepper.graphable

    def graph_key(self):
        return self.stepper.graph_key()
