"""The lecture's demonstrations of why initialization matters (forward passes only).

1. Weight scale: 10 layers of 500 units, a^l = φ(a^{l−1} W_lᵀ) with no biases, fed 1000
   examples x ~ N(0, 1)^500. Each layer multiplies the activation variance by about
   n·Var[W]·E[φ'(s)²]: with tanh, 0.01·N(0, 1) (n·Var = 0.05) collapses it (lecture: std
   0.21, 0.048, 0.011, … → 0), N(0, 1) (n·Var = 500) saturates every layer at ±1, and
   N(0, 1/n_in) (LeCun et al. 1998; the lecture calls it Xavier) lets it decay slowly
   (≈ 0.63, 0.49, 0.41, …). ReLU halves the second moment, so N(0, 1/n_in) collapses it
   and He N(0, 2/n_in) (He et al. 2015) keeps it.
2. Exploding products: for W_i ~ N(0, σ²) of size n × n, E‖W_k⋯W_1‖²_F / n = (nσ²)^k, so
   with σ² = 1 the product of 100 factors explodes (n = 100: 10^100) while σ² = 1/n keeps
   it O(1).
3. Symmetry: with every weight equal (``constant:C``), every hidden unit of a layer gets
   the same gradient, so SGD keeps the units identical; dropout gives each unit its own
   mask and breaks the tie.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from depthlab.nets.activations import ACTIVATIONS
from depthlab.nets.init import INITS
from depthlab.nets.mlp import MLP
from depthlab.training.costs import COSTS

DEPTH, WIDTH = 10, 500
SCHEMES = {"0.01·N(0,1)": "gaussian:0.01", "N(0,1)": "gaussian:1", "LeCun N(0,1/n)": "lecun-normal",
           "He N(0,2/n)": "he-normal"}
"""The weight scales of the demonstration: label → init spec (depthlab.nets.init). The
lecture calls N(0, 1/n_in) "Xavier"; it is LeCun's (Glorot & Bengio's is 2/(n_in + n_out))."""
STUDIED = {"tanh": tuple(SCHEMES), "relu": ("LeCun N(0,1/n)", "He N(0,2/n)")}

PRODUCT_SIZE, PRODUCT_FACTORS = 100, 100
PRODUCT_VARIANCES = {"σ² = 1": 1.0, "σ² = 1/n": 1.0 / PRODUCT_SIZE}

SYMMETRY_INPUTS, SYMMETRY_WIDTH, SYMMETRY_CLASSES, SYMMETRY_EXAMPLES = 20, 16, 4, 256
SYMMETRY_CONSTANT, SYMMETRY_LR, SYMMETRY_BATCH = 0.1, 0.1, 32
SYMMETRY_DROPOUTS = (0.0, 0.5)


@torch.no_grad()
def layer_activations(activation: str, init: str, examples: int, seed: int = 0) -> list[tuple[Tensor, Tensor]]:
    """The pre-activations and activations (s^l, a^l) of the lecture's stack for l = 1 …
    10: a^0 ~ N(0, 1) of shape (examples, 500), s^l = a^{l−1} W_lᵀ, a^l = φ(s^l), every
    W_l (500 × 500) filled by ``init``."""
    torch.manual_seed(seed)
    fill, phi = INITS.get(init).fill, ACTIVATIONS.get(activation).module()
    a, weight = torch.randn(examples, WIDTH), torch.empty(WIDTH, WIDTH)
    layers = []
    for _ in range(DEPTH):
        fill(weight)
        s = a @ weight.t()
        a = phi(s)
        layers.append((s, a))
    return layers


@torch.no_grad()
def product_norms(variance: float, factors: int = PRODUCT_FACTORS, size: int = PRODUCT_SIZE,
                  seed: int = 0) -> np.ndarray:
    """‖W_k⋯W_1‖_F / √n for k = 1 … ``factors``, W_i ~ N(0, ``variance``) of size n × n, in
    float64; its expected square is (n·variance)^k."""
    generator = torch.Generator().manual_seed(seed)
    product = torch.eye(size, dtype=torch.float64)
    norms = []
    for _ in range(factors):
        factor = torch.randn(size, size, generator=generator, dtype=torch.float64) * variance ** 0.5
        product = factor @ product
        norms.append(product.norm().item() / size ** 0.5)
    return np.array(norms)


def train_constant_init(dropout: float, steps: int, seed: int = 0) -> MLP:
    """A tanh MLP 20 → 16 → 16 → 4 with every weight 0.1 and zero biases, trained by SGD
    (η = 0.1, minibatch 32, NLL) for ``steps`` steps on a random linear teacher's labels."""
    torch.manual_seed(seed)
    x = torch.randn(SYMMETRY_EXAMPLES, SYMMETRY_INPUTS)
    y = (x @ torch.randn(SYMMETRY_INPUTS, SYMMETRY_CLASSES)).argmax(1)
    model = MLP(SYMMETRY_INPUTS, [SYMMETRY_WIDTH] * 2, SYMMETRY_CLASSES, "tanh", dropout=dropout)
    model.initialize(f"constant:{SYMMETRY_CONSTANT}")
    optimizer = torch.optim.SGD(model.parameters(), lr=SYMMETRY_LR)
    loss_fn = COSTS.get("nll").loss
    for _ in range(steps):
        batch = torch.randint(SYMMETRY_EXAMPLES, (SYMMETRY_BATCH,))
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x[batch]), y[batch]).backward()
        optimizer.step()
    return model


def unit_parameters(model: MLP) -> list[Tensor]:
    """Per hidden layer, the matrix whose row i is unit i's incoming weights and bias."""
    return [torch.cat([layer.weight, layer.bias[:, None]], 1).detach() for layer in model.linears[:-1]]
