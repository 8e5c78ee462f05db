"""Singular values of the Jacobians a network applies to a signal going up.

For a linear hidden layer z^{i+1} = φ(s^{i+1}), s^{i+1} = W^{i+1} z^i + b^{i+1}, the
layer-to-layer Jacobian on one example is

    J^i = ∂z^{i+1}/∂z^i = diag(φ'(s^{i+1})) W^{i+1}

(Glorot & Bengio 2010, section 4.2: its mean singular value is about 0.8 with the
normalized initialization and 0.5 with the standard one, for tanh on Shapeset). Singular
values near 1 keep both the forward signal and the back-propagated gradient at their
scale; the input-to-top Jacobian ∂z^L/∂x = J^{L-1} ⋯ J^0 shows what the whole stack does.
Convolutional layers get no per-layer spectrum; the input-to-top one of any model comes
from ``torch.func.jacrev``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def layer_jacobians(slope: Tensor, weight: Tensor) -> Tensor:
    """J = diag(φ'(s)) W for each example: ``slope`` (k, n_out) holds φ'(s), ``weight``
    is (n_out, n_in); returns (k, n_out, n_in)."""
    return slope.unsqueeze(2) * weight


def chain_jacobian(jacobians: list[Tensor]) -> Tensor:
    """The product J^{L-1} ⋯ J^0 of per-layer Jacobians listed bottom to top, batched."""
    product = jacobians[0]
    for jacobian in jacobians[1:]:
        product = jacobian @ product
    return product


def input_jacobian(model: nn.Module, module: nn.Module, examples: Tensor) -> Tensor:
    """∂(output of ``module``)/∂x on each example x of ``examples``, by
    ``torch.func.jacrev`` on ``model`` run one example at a time; (k, n_out, n_in)."""

    def output_of_module(x: Tensor) -> Tensor:
        seen = []
        handle = module.register_forward_hook(lambda m, i, out: seen.append(out))
        try:
            model(x.unsqueeze(0))
        finally:
            handle.remove()
        return seen[-1][0]

    return torch.stack([torch.func.jacrev(output_of_module)(x).reshape(-1, x.numel()) for x in examples])


def spectrum_stats(singular_values: Tensor) -> dict[str, float]:
    """Mean, smallest and largest singular value of each example's Jacobian, averaged
    over the examples; ``singular_values`` is (k, r), as ``torch.linalg.svdvals`` of a
    batch of k Jacobians returns them."""
    sv = singular_values
    return {"mean": sv.mean().item(), "min": sv.min(1).values.mean().item(), "max": sv.max(1).values.mean().item()}
