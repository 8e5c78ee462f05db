"""The training costs, each declared once with its gradient with respect to the logits.

The classification costs average over the minibatch of B examples, p = softmax(z),
t = one-hot(y):

- ``nll``: C = −(1/B) Σ log p_y (Glorot & Bengio 2010, section 2.2);
  ∂C/∂z = (p − t)/B.
- ``quadratic``: C = (1/B) Σ ‖p − t‖² (the paper's section 4.2 and Figure 5 compare
  it with the NLL); ∂C/∂z_j = (2/B) p_j [(p_j − t_j) − Σ_k p_k (p_k − t_k)].
- ``binary-cross-entropy``: a sigmoid on every output, C = −(1/B) Σ_k [t_k log σ(z_k)
  + (1 − t_k) log(1 − σ(z_k))] (Nielsen 2015, ch. 3 and 5); ∂C/∂z = (σ(z) − t)/B.

The regression cost takes real-valued targets y of shape (B, outputs):

- ``squared-error``: C = (1/B) Σ ‖z − y‖², the mean squared error of one target
  (``torch.nn.MSELoss``, as the d2l chapter trains its regressions); ∂C/∂z = 2(z − y)/B.

Importing this module imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from depthlab.registry import Registry, deferred

if TYPE_CHECKING:
    from torch import Tensor


@dataclass(frozen=True, kw_only=True)
class Cost:
    """A cost C(z, y) of outputs z and targets y: ``loss`` (the mean over examples),
    ``grad_logits`` = ∂C/∂z and ``per_example`` (each example's cost, shape (B,));
    ``native`` names its form in the C kernels (a member of ``enum cost`` in ``fused_mlp.c``,
    as :mod:`depthlab.training.kernels.ids` reads it: ``"nll"``; None: none);
    ``regression``: its targets are real values, not class labels. Every field is given by
    keyword."""

    name: str
    summary: str
    loss: Callable[[Tensor, Tensor], Tensor]
    grad_logits: Callable[[Tensor, Tensor], Tensor]
    per_example: Callable[[Tensor, Tensor], Tensor]
    native: str | None = None
    regression: bool = False

    @property
    def measure(self) -> str:
        """What a run under this cost is judged by: its "error" rate on class labels, or
        its "cost" on real-valued targets (which have no error rate)."""
        return "cost" if self.regression else "error"


_one_hot = deferred("torch.nn.functional:one_hot")


def _targets(z: Tensor, y: Tensor) -> Tensor:
    return _one_hot(y, z.shape[1]).to(z.dtype)


def _nll_grad(z: Tensor, y: Tensor) -> Tensor:
    return (z.softmax(1) - _targets(z, y)) / len(z)


def _quadratic_each(z: Tensor, y: Tensor) -> Tensor:
    p = z.softmax(1)
    return (p - _targets(p, y)).pow(2).sum(1)


def _quadratic(z: Tensor, y: Tensor) -> Tensor:
    return _quadratic_each(z, y).mean()


def _quadratic_grad(z: Tensor, y: Tensor) -> Tensor:
    p = z.softmax(1)
    r = p - _targets(p, y)
    return (2 / len(z)) * p * (r - (p * r).sum(1, keepdim=True))


_bce_with_logits = deferred("torch.nn.functional:binary_cross_entropy_with_logits", reduction="sum")
_bce_each_output = deferred("torch.nn.functional:binary_cross_entropy_with_logits", reduction="none")
_cross_entropy_each = deferred("torch.nn.functional:cross_entropy", reduction="none")


def _bce(z: Tensor, y: Tensor) -> Tensor:
    return _bce_with_logits(z, _targets(z, y)) / len(z)


def _bce_each(z: Tensor, y: Tensor) -> Tensor:
    return _bce_each_output(z, _targets(z, y)).sum(1)


def _bce_grad(z: Tensor, y: Tensor) -> Tensor:
    return (z.sigmoid() - _targets(z, y)) / len(z)


def _squared_error_each(z: Tensor, y: Tensor) -> Tensor:
    return (z - y).pow(2).sum(1)


def _squared_error(z: Tensor, y: Tensor) -> Tensor:
    return _squared_error_each(z, y).mean()


def _squared_error_grad(z: Tensor, y: Tensor) -> Tensor:
    return (2 / len(z)) * (z - y)


COSTS: Registry[Cost] = Registry("cost", [
    Cost(name="nll", summary="softmax, then −log P(y|x)", loss=deferred("torch.nn.functional:cross_entropy"),
         grad_logits=_nll_grad, per_example=_cross_entropy_each, native="nll"),
    Cost(name="quadratic", summary="‖softmax(z) − one-hot(y)‖²", loss=_quadratic, grad_logits=_quadratic_grad,
         per_example=_quadratic_each, native="quadratic"),
    Cost(name="binary-cross-entropy", summary="a sigmoid per output, cross-entropy per output", loss=_bce,
         grad_logits=_bce_grad, per_example=_bce_each, native="binary-cross-entropy"),
    Cost(name="squared-error", summary="‖z − y‖² on real-valued targets (regression)", loss=_squared_error,
         grad_logits=_squared_error_grad, per_example=_squared_error_each, regression=True),
])
