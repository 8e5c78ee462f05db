"""The training costs, with their gradient with respect to the logits.

All three average over the minibatch of B examples, p = softmax(z), t = one-hot(y):

- ``nll``: C = −(1/B) Σ log p_y (Glorot & Bengio 2010, section 2.2);
  ∂C/∂z = (p − t)/B.
- ``quadratic``: C = (1/B) Σ ‖p − t‖² (the paper's section 4.2 and Figure 5 compare
  it with the NLL); ∂C/∂z_j = (2/B) p_j [(p_j − t_j) − Σ_k p_k (p_k − t_k)].
- ``binary-cross-entropy``: a sigmoid on every output, C = −(1/B) Σ_k [t_k log σ(z_k)
  + (1 − t_k) log(1 − σ(z_k))] (Nielsen 2015, ch. 3 and 5); ∂C/∂z = (σ(z) − t)/B.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from depthlab.errors import unknown_choice


@dataclass(frozen=True)
class Cost:
    name: str
    loss: Callable[[Tensor, Tensor], Tensor]
    grad_logits: Callable[[Tensor, Tensor], Tensor]


def _quadratic(z: Tensor, y: Tensor) -> Tensor:
    p = z.softmax(1)
    return (p - F.one_hot(y, z.shape[1]).to(p.dtype)).pow(2).sum(1).mean()


def _quadratic_grad(z: Tensor, y: Tensor) -> Tensor:
    p = z.softmax(1)
    r = p - F.one_hot(y, z.shape[1]).to(p.dtype)
    return (2 / len(z)) * p * (r - (p * r).sum(1, keepdim=True))


def _bce(z: Tensor, y: Tensor) -> Tensor:
    t = F.one_hot(y, z.shape[1]).to(z.dtype)
    return F.binary_cross_entropy_with_logits(z, t, reduction="sum") / len(z)


COSTS: dict[str, Cost] = {
    "nll": Cost("nll", F.cross_entropy,
                lambda z, y: (z.softmax(1) - F.one_hot(y, z.shape[1]).to(z.dtype)) / len(z)),
    "quadratic": Cost("quadratic", _quadratic, _quadratic_grad),
    "binary-cross-entropy": Cost("binary-cross-entropy", _bce,
                                 lambda z, y: (z.sigmoid() - F.one_hot(y, z.shape[1]).to(z.dtype)) / len(z)),
}


def get_cost(name: str) -> Cost:
    try:
        return COSTS[name]
    except KeyError:
        raise unknown_choice("cost", name, COSTS) from None
