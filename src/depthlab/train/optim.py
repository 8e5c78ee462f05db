"""The optimizers of the lecture, by name, all from torch.optim.

sgd: θ ← θ − ε g (Glorot & Bengio 2010); momentum / nesterov: SGD with momentum μ
(Polyak 1964; Sutskever et al. 2013); adagrad (Duchi et al. 2011); rmsprop (Tieleman &
Hinton 2012); adam with bias correction (Kingma & Ba 2015). Weight decay adds λθ to g.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from depthlab.config import OPTIMIZERS
from depthlab.errors import unknown_choice


def make_optimizer(name: str, params: Iterable[nn.Parameter], lr: float, momentum: float = 0.9,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    params = list(params)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=name == "nesterov",
                               weight_decay=weight_decay)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise unknown_choice("optimizer", name, OPTIMIZERS)
