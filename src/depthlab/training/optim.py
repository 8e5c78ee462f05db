"""The optimizers of the lecture, each declared once, all from torch.optim.

sgd: θ ← θ − ε g (Glorot & Bengio 2010); momentum / nesterov: SGD with momentum μ
(Polyak 1964; Sutskever et al. 2013); adagrad (Duchi et al. 2011); rmsprop (Tieleman &
Hinton 2012); adam with bias correction (Kingma & Ba 2015). Weight decay adds λθ to g.
Importing this module imports no torch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from depthlab.registry import Registry, deferred

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class Optimizer:
    """A training rule: ``torch_class`` is its torch.optim class; ``momentum`` says it
    takes the momentum coefficient μ (``--momentum``), ``nesterov`` that it looks ahead;
    ``fused`` that depthlab's fused SGD step (:class:`depthlab.training.fused.FusedSGD`)
    implements it exactly."""

    name: str
    summary: str
    torch_class: deferred
    momentum: bool = False
    nesterov: bool = False
    fused: bool = False

    def make(self, params: Iterable[nn.Parameter], lr: float, momentum: float = 0.9,
             weight_decay: float = 0.0) -> torch.optim.Optimizer:
        """The torch.optim optimizer of ``params``; ``momentum`` is used only by the rules
        that take it."""
        extra = {"momentum": momentum, "nesterov": self.nesterov} if self.momentum else {}
        return self.torch_class(list(params), lr=lr, weight_decay=weight_decay, **extra)


OPTIMIZERS: Registry[Optimizer] = Registry("optimizer", [
    Optimizer("sgd", "θ ← θ − ε g (Glorot & Bengio 2010)", deferred("torch.optim:SGD"), fused=True),
    Optimizer("momentum", "SGD with momentum μ (Polyak 1964)", deferred("torch.optim:SGD"), momentum=True, fused=True),
    Optimizer("nesterov", "SGD with Nesterov momentum (Sutskever et al. 2013)", deferred("torch.optim:SGD"),
              momentum=True, nesterov=True, fused=True),
    Optimizer("adagrad", "AdaGrad (Duchi et al. 2011)", deferred("torch.optim:Adagrad")),
    Optimizer("rmsprop", "RMSProp (Tieleman & Hinton 2012)", deferred("torch.optim:RMSprop")),
    Optimizer("adam", "Adam (Kingma & Ba 2015)", deferred("torch.optim:Adam")),
])
