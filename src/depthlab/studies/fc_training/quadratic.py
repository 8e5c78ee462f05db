"""The ill-conditioned quadratic of the lecture's optimizer comparison (the d2l momentum
section's f(x) = 0.1x₁² + 2x₂²): each optimizer's descent from (−5, −2), the best rate of
its grid, and how often its path zig-zags across the valley."""

from __future__ import annotations

import numpy as np
import torch

from depthlab.studies.fc_training.plan import MOMENTUM
from depthlab.training.optim import OPTIMIZERS

QUADRATIC = (0.2, 4.0)
"""f(x) = ½(0.2x₁² + 4x₂²) = 0.1x₁² + 2x₂²: curvatures 0.2 along the valley, 4 across it."""
QUADRATIC_START, QUADRATIC_STEPS = (-5.0, -2.0), 40
QUADRATIC_RATES = {"sgd": (0.05, 0.1, 0.2, 0.3, 0.45), "momentum": (0.003, 0.01, 0.03, 0.1, 0.3),
                   "nesterov": (0.003, 0.01, 0.03, 0.1, 0.3), "adagrad": (0.1, 0.3, 1.0, 3.0),
                   "rmsprop": (0.01, 0.03, 0.1, 0.3), "adam": (0.03, 0.1, 0.3, 1.0)}
"""Each optimizer's grid on the quadratic (SGD is stable below η = 2/4 = 0.5)."""


def descend_quadratic(optimizer: str, lr: float, steps: int = QUADRATIC_STEPS,
                      start: tuple[float, float] = QUADRATIC_START) -> np.ndarray:
    """The path (steps + 1, 2) of ``optimizer`` (torch.optim's, as the MLP runs use) at
    rate ``lr`` on ½(λ₁x₁² + λ₂x₂²) with λ = :data:`QUADRATIC`, in float64."""
    x = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    rule = OPTIMIZERS.get(optimizer)
    step = rule.make([x], lr, MOMENTUM)
    curvature = torch.tensor(QUADRATIC, dtype=torch.float64)
    path = [x.detach().clone()]
    for _ in range(steps):
        step.zero_grad(set_to_none=True)
        quadratic(x, curvature).backward()
        step.step()
        path.append(x.detach().clone())
    return torch.stack(path).numpy()


def quadratic(x, curvature=QUADRATIC):
    """½ Σ λᵢ xᵢ² on the last axis (tensors or arrays)."""
    return 0.5 * (x * x * curvature).sum(-1)


def best_quadratic_paths() -> dict[str, tuple[float, np.ndarray]]:
    """Each optimizer's (rate, path) at the rate of its grid that ends lowest."""
    best = {}
    for optimizer, rates in QUADRATIC_RATES.items():
        paths = {lr: descend_quadratic(optimizer, lr) for lr in rates}
        ends = {lr: float(quadratic(path[-1], np.array(QUADRATIC))) for lr, path in paths.items()}
        lr = min(rates, key=lambda r: ends[r] if np.isfinite(ends[r]) else np.inf)
        best[optimizer] = (lr, paths[lr])
    return best


def reversals(path: np.ndarray) -> int:
    """How often the step across the valley (along x₂) turns back: the zig-zag."""
    steps = np.sign(np.diff(path[:, 1]))
    return int(np.count_nonzero(steps[1:] * steps[:-1] < 0))
