"""Singular values of the Jacobians a network applies to a signal going up, in bounded
memory and time.

For a linear layer s = W z + b followed by a = φ(s), the layer-to-layer Jacobian on one
example (one position, for a layer applied to sequences) is

    J = ∂a/∂z = diag(φ'(s)) W

(Glorot & Bengio 2010, section 4.2: its mean singular value is about 0.8 with the
normalized initialization and 0.5 with the standard one, for tanh on Shapeset). Singular
values near 1 keep both the forward signal and the back-propagated gradient at their
scale; the input-to-top Jacobian ∂a^L/∂x shows what the whole stack does.

A layer Jacobian whose smaller side is at most :data:`FULL_SPECTRUM_MAX` is formed and gets
its whole spectrum (one SVD). A larger one, and the input-to-top Jacobian of a model that is
not a plain stack, are never formed: their :data:`TOP_SINGULAR_VALUES` (layer) or
:data:`INPUT_SINGULAR_VALUES` (model) largest singular values come from ARPACK's
implicitly restarted Lanczos method (``scipy.sparse.linalg.svds``) on an operator that
only multiplies by J and Jᵀ: for a layer, J v = φ'(s) ⊙ (W v) and
Jᵀ w = Wᵀ (φ'(s) ⊙ w); for a model, Jacobian-vector products (by the double-backward trick)
and vector-Jacobian products, one backward pass each, on a few examples only. Memory stays
that of one pass on those examples; a model's Jacobian narrow enough to form from its
products (one side at most :data:`FORMED_FROM_PRODUCTS_MAX`) gets its whole spectrum.
The double-backward trick needs every operation differentiable twice: the model's pass
for it runs attention on PyTorch's composite ("math") kernel, whose fused kernels are not.
Singular values are found in float32, or the model's dtype where it is wider
(:func:`depthlab.probe.stats.wide`): a bfloat16 model's Jacobians are upcast first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from depthlab.probe.stats import all_finite, read, wide

FULL_SPECTRUM_MAX = 1024
"""A layer Jacobian with a side at most this wide is formed (as diag(φ') W) for its whole spectrum."""
FORMED_FROM_PRODUCTS_MAX = 128
"""An input-to-top Jacobian with a side at most this wide is formed from that many
products (one backward pass each) for its whole spectrum."""
TOP_SINGULAR_VALUES = 8
"""How many of a large layer Jacobian's singular values are found (the largest)."""
INPUT_SINGULAR_VALUES = 2
"""How many of a large input-to-top Jacobian's are found: each product is a backward pass."""
SEQUENCE_ROWS = 8
"""A layer applied per position gets its spectrum on at most this many (example, position)
rows, evenly spaced over the first examples' positions: each row is a Jacobian of its own."""
TOLERANCE = 1e-3
"""ARPACK's relative accuracy for the singular values it returns."""
SEED = 2010
"""ARPACK's starting vector is drawn from this seed, so a measure is reproducible (and
the global random state untouched)."""

Product = Callable[[int, Tensor], Tensor]
"""``product(i, v)``: example i's Jacobian (or its transpose) times the vector v."""


@dataclass(frozen=True)
class Spectrum:
    """Singular values (k, r) of k examples' Jacobians; ``complete`` when r is all of them
    (else the r largest)."""

    values: Tensor
    complete: bool

    def stats(self, prefix: str) -> dict[str, float | Tensor]:
        """``{prefix}_mean``, ``_min`` (complete spectra only) and ``_max`` of each example's
        singular values, averaged over the examples; ``_count`` for a partial one (floats,
        or 0-d tensors on a device: :func:`depthlab.probe.stats.read`)."""
        sv = self.values
        if not self.complete:
            return {f"{prefix}_max": read(sv.max(1).values.mean()), f"{prefix}_count": float(sv.shape[1])}
        return {f"{prefix}_mean": read(sv.mean()), f"{prefix}_min": read(sv.min(1).values.mean()),
                f"{prefix}_max": read(sv.max(1).values.mean())}


def layer_spectrum(slope: Tensor, weight: Tensor) -> Spectrum:
    """The spectrum of J = diag(φ'(s)) W for each row of ``slope`` (k, n_out), φ'(s) of
    one example or position; ``weight`` is (n_out, n_in)."""
    slope, weight = wide(slope), wide(weight)
    if min(weight.shape) <= FULL_SPECTRUM_MAX:
        return Spectrum(torch.linalg.svdvals(layer_jacobians(slope, weight)), True)
    values = largest_singular_values(lambda i, v: slope[i] * (weight @ v), lambda i, w: weight.T @ (slope[i] * w),
                                     len(slope), weight.shape[1], weight.shape[0], weight)
    return Spectrum(values, False)


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


def input_spectrum(top: Tensor, variable: Tensor) -> Spectrum:
    """The spectrum of ∂top_i/∂variable_i for each example i (the first dimension of
    both), ``top`` a function of ``variable`` in the autograd graph and the examples not
    interacting."""
    k = len(top)
    n_out, n_in = top[0].numel(), variable[0].numel()
    probe = torch.zeros_like(top, requires_grad=True)
    pulled: list[Tensor] = []  # Jᵀ u as a function of u, made at the first J v

    def in_slot(i: int, v: Tensor, like: Tensor) -> Tensor:
        full = torch.zeros_like(like)
        full[i] = v.reshape(like[i].shape)
        return full

    def jvp(i: int, v: Tensor) -> Tensor:  # J v = ∂(Jᵀ u · v)/∂u: the double-backward trick
        if not pulled:
            pulled.append(torch.autograd.grad(top, variable, probe, create_graph=True, retain_graph=True)[0])
        return torch.autograd.grad(pulled[0], probe, in_slot(i, v, variable), retain_graph=True)[0][i].reshape(n_out)

    def vjp(i: int, w: Tensor) -> Tensor:
        return torch.autograd.grad(top, variable, in_slot(i, w, top), retain_graph=True)[0][i].reshape(n_in)

    values = largest_singular_values(jvp, vjp, k, n_in, n_out, top, INPUT_SINGULAR_VALUES, FORMED_FROM_PRODUCTS_MAX)
    return Spectrum(values, values.shape[1] == min(n_in, n_out))


def largest_singular_values(product: Product, transposed: Product, examples: int, n_in: int, n_out: int,
                            like: Tensor, count: int = TOP_SINGULAR_VALUES, formed_up_to: int = 0) -> Tensor:
    """The ``count`` largest singular values of each example's Jacobian J (n_out × n_in),
    given only J v (``product``) and Jᵀ w (``transposed``), by ARPACK; all of them, from J
    formed by products with the unit vectors, when one side is at most
    max(``formed_up_to``, ``count`` + 1). Returns (examples, r), largest first."""
    from scipy.sparse.linalg import ArpackError, LinearOperator, svds

    limit = max(formed_up_to, count + 1)
    if min(n_in, n_out) <= limit:
        if n_out > limit:  # columns by J products; rows by Jᵀ products (plain backward passes) where they do
            eye = torch.eye(n_in, dtype=like.dtype, device=like.device)
            jacobians = torch.stack([torch.stack([product(i, e) for e in eye], 1) for i in range(examples)])
        else:
            eye = torch.eye(n_out, dtype=like.dtype, device=like.device)
            jacobians = torch.stack([torch.stack([transposed(i, e) for e in eye], 0) for i in range(examples)])
        finite = all_finite(jacobians)  # a diverging network has no spectrum: NaNs, and no read here
        values = torch.linalg.svdvals(wide(torch.where(finite, jacobians, 0)))
        return torch.where(finite, values, torch.nan)

    def as_tensor(v: np.ndarray) -> Tensor:
        return torch.as_tensor(np.ascontiguousarray(v).ravel(), dtype=like.dtype, device=like.device)

    rows = []
    for i in range(examples):
        operator = LinearOperator((n_out, n_in), dtype=np.float64,
                                  matvec=lambda v, i=i: product(i, as_tensor(v)).detach().double().cpu().numpy(),
                                  rmatvec=lambda w, i=i: transposed(i, as_tensor(w)).detach().double().cpu().numpy())
        start = np.random.default_rng(SEED).standard_normal(min(n_in, n_out))
        try:
            values = svds(operator, k=count, tol=TOLERANCE, return_singular_vectors=False, v0=start)
        except (ArithmeticError, ValueError, ArpackError):  # non-finite products: no spectrum to speak of
            values = np.full(count, np.nan)
        rows.append(np.sort(values)[::-1].copy())
    return torch.as_tensor(np.stack(rows), dtype=wide(like).dtype)
