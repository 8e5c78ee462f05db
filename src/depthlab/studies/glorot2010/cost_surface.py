"""The cost over two weights of a one-hidden-layer tanh network: Figure 5 of Glorot &
Bengio (2010), section 4.2, where the quadratic cost shows plateaus that the
cross-entropy (NLL) lacks.

The network is z = W2 tanh(W1 x), p = softmax(z) (biases at their initial 0), on a fixed
Shapeset-3×2 batch. Two weights move over a grid around their initial values, W1[i, j] (input pixel j
to hidden unit i) and W2[k, i] (hidden unit i to class k); the others stay put. Moving
W1[i, j] by Δ changes only s_i, by Δ·x_j, and moving W2[k, i] changes only z_k, so the
whole grid is one batched pass, exact, and autograd gives each point's gradient
(∂C/∂W1[i, j], ∂C/∂W2[k, i]). The costs are :mod:`depthlab.training.costs`' ``nll``,
C = −mean log p_y, and ``quadratic``, C = mean ‖p − t‖².

A point is on a *plateau* when the surface is flat there, ‖∇C‖ ≤ :data:`FLAT_GRADIENT`
of the surface's largest gradient norm, but the cost is not low, C above its lowest
:data:`LOW_COST` of the range: flat ground away from the minimum, where descent stalls.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.func import vmap

from depthlab.data.shapeset import CLASS_NAMES, generate
from depthlab.errors import DepthlabError
from depthlab.nets.init import INITS
from depthlab.report.document import ReportFigure
from depthlab.report.plotting import new_figure, save_figure
from depthlab.training.costs import COSTS

COMPARED = ("nll", "quadratic")

FLAT_GRADIENT = 0.05
"""A point is flat where ‖∇C‖ is at most this fraction of the surface's largest."""

LOW_COST = 0.25
"""Flat points in the lowest quarter of the cost range are the minimum's valley, not a
plateau."""

COST_TITLES = {"nll": "cross-entropy (NLL)", "quadratic": "quadratic ‖p − t‖²"}


@dataclass(frozen=True)
class CostSurface:
    """Costs and gradients over the grid: ``costs[name][a, b]`` is the cost with
    W1[i, j] = ``w1[a]`` and W2[k, i] = ``w2[b]``; ``gradients[name][a, b]`` is
    (∂C/∂W1[i, j], ∂C/∂W2[k, i]) there. ``centre`` holds the initial values of the two
    weights, ``units`` (i, j, k) and ``setup`` the network and grid in words."""

    w1: np.ndarray
    w2: np.ndarray
    centre: tuple[float, float]
    units: tuple[int, int, int]
    costs: dict[str, np.ndarray]
    gradients: dict[str, np.ndarray]
    setup: str

    def plateau(self, cost: str) -> np.ndarray:
        """The grid points on a plateau of ``cost`` (boolean, like the cost grid)."""
        values, slope = self.costs[cost], np.linalg.norm(self.gradients[cost], axis=-1)
        low = values.min() + LOW_COST * (values.max() - values.min())
        return (slope <= FLAT_GRADIENT * slope.max()) & (values > low)

    def numbers(self) -> dict[str, float]:
        """The plateau fraction and cost range of each surface, and the rule's thresholds."""
        numbers = {"flat_gradient": FLAT_GRADIENT, "low_cost": LOW_COST}
        for cost in COMPARED:
            numbers |= {f"{cost}_plateau_fraction": float(self.plateau(cost).mean()),
                        f"{cost}_min": float(self.costs[cost].min()), f"{cost}_max": float(self.costs[cost].max())}
        return numbers


def surface_network(seed: int = 0, examples: int = 200, hidden: int = 20,
                    init: str = "normalized") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The batch and weights of the surface, in float64: ``examples`` Shapeset images
    flattened to x (n, 1024) with labels y, and W1 (``hidden``, 1024), W2 (9, ``hidden``)
    drawn by ``init``, all from ``seed`` (the global RNG is left as it was)."""
    for name, value in (("examples", examples), ("hidden", hidden)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise DepthlabError(f"{name} {value!r} must be a positive integer")
    x, y = generate(examples, seed)
    fill = INITS.get(init).fill
    w1 = torch.empty(hidden, x[0].numel(), dtype=torch.float64)
    w2 = torch.empty(len(CLASS_NAMES), hidden, dtype=torch.float64)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        fill(w1)
        fill(w2)
    return x.flatten(1).double(), y, w1, w2


def cost_surface(seed: int = 0, examples: int = 200, hidden: int = 20, span: float = 12.0,
                 resolution: int = 41, init: str = "normalized") -> CostSurface:
    """The NLL and quadratic costs of the 1024–``hidden``–9 tanh network of
    :func:`surface_network` over a ``resolution`` × ``resolution`` grid of
    W1[0, j] and W2[0, 0] within ``span`` of their initial values; j is the pixel that
    varies most over the batch. The default span reaches the saturated outputs where the
    quadratic cost flattens."""
    if not isinstance(resolution, (int, np.integer)) or resolution < 3:
        raise DepthlabError(f"resolution {resolution!r} must be an integer >= 3")
    if not span > 0:
        raise DepthlabError(f"span {span!r} must be positive")
    x, y, w1, w2 = surface_network(seed, examples, hidden, init)
    i, j, k = 0, int(x.var(0).argmax()), 0

    offsets = torch.linspace(-span, span, resolution, dtype=torch.float64)
    grid1, grid2 = torch.meshgrid(w1[i, j] + offsets, w2[k, i] + offsets, indexing="ij")
    a = grid1.flatten().requires_grad_()
    b = grid2.flatten().requires_grad_()
    s = x @ w1.T
    h = torch.tanh(s)
    h_i = torch.tanh(s[:, i] + (a - w1[i, j])[:, None] * x[:, j])            # (G, n)
    z_rest = h @ w2.T - h[:, i:i + 1] * w2[:, i]                              # (n, 9)
    column = w2[:, i] + (b - w2[k, i])[:, None] * torch.eye(len(w2), dtype=w2.dtype)[k]  # (G, 9)
    z = z_rest + h_i[:, :, None] * column[:, None, :]                         # (G, n, 9)
    costs, gradients = {}, {}
    for name in COMPARED:
        values = vmap(COSTS.get(name).loss, in_dims=(0, None))(z, y)
        grad_a, grad_b = torch.autograd.grad(values.sum(), (a, b), retain_graph=True)
        costs[name] = values.detach().reshape(resolution, resolution).numpy()
        gradients[name] = torch.stack([grad_a, grad_b], -1).reshape(resolution, resolution, 2).numpy()
    setup = (f"{x.shape[1]}–{hidden}–{len(w2)} tanh net, {init} init, {examples} Shapeset images, seed {seed}; "
             f"W1[{i}, {j}] and W2[{k}, {i}] within ±{span:g} of their initial values, "
             f"{resolution}×{resolution} grid")
    return CostSurface(grid1[:, 0].numpy(), grid2[0].numpy(), (float(w1[i, j]), float(w2[k, i])), (i, j, k),
                       costs, gradients, setup)


def draw_cost_surface(surface: CostSurface, out_dir: str | Path, stem: str = "figure05") -> ReportFigure:
    """Contour panels of the NLL and quadratic surfaces with their plateaus outlined."""
    fig, axes = new_figure(1, len(COMPARED), width=5.5)
    i, j, k = surface.units
    numbers = surface.numbers()
    for ax, cost in zip(axes[0], COMPARED):
        filled = ax.contourf(surface.w2, surface.w1, surface.costs[cost], levels=20, cmap="viridis")
        fig.colorbar(filled, ax=ax, label="cost")
        plateau = surface.plateau(cost)
        if plateau.any():
            ax.contourf(surface.w2, surface.w1, plateau.astype(float), levels=[0.5, 1.5], colors="none",
                        hatches=["//"])
            ax.contour(surface.w2, surface.w1, plateau.astype(float), levels=[0.5], colors="white")
        ax.plot(*surface.centre[::-1], "w+", ms=10)
        ax.set_title(f"{COST_TITLES[cost]}: plateau {100 * numbers[f'{cost}_plateau_fraction']:.0f}%")
        ax.set_xlabel(f"W2[{k}, {i}]")
        ax.set_ylabel(f"W1[{i}, {j}]")
    caption = (f"Figure 5 (Glorot & Bengio 2010, section 4.2): training cost over two weights, one per layer, of a "
               f"{surface.setup}; left the cross-entropy, right the quadratic cost; + marks the initial weights. "
               f"Hatched: plateaus, where ‖∇C‖ ≤ {FLAT_GRADIENT:g} of the surface's largest and C is above the "
               f"lowest {LOW_COST:g} of its range: {100 * numbers['nll_plateau_fraction']:.1f}% of the grid for the "
               f"NLL, {100 * numbers['quadratic_plateau_fraction']:.1f}% for the quadratic cost.")
    return ReportFigure(save_figure(fig, out_dir, stem), caption)
