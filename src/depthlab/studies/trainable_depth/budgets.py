"""The budgets of the trainable-depth grid."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DepthBudget:
    """One grid: ``sigma_w2s`` × ``depths`` tanh nets of ``width`` units, biases
    N(0, ``sigma_b2``), each trained ``updates`` minibatches of 64 on the first
    ``train_size`` training images (None: all); training accuracy on the first
    ``eval_size`` of them (None: all)."""

    sigma_b2: float
    sigma_w2s: tuple[float, ...]
    depths: tuple[int, ...]
    width: int
    updates: int
    train_size: int | None
    eval_size: int | None


BUDGETS = {
    "smoke": DepthBudget(sigma_b2=0.3, sigma_w2s=(1.0, 4.0), depths=(4, 16), width=16, updates=30, train_size=1000,
                         eval_size=200),
    "quick": DepthBudget(sigma_b2=0.3, sigma_w2s=(0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0),
                         depths=(4, 8, 16, 32, 48, 64), width=64, updates=1500, train_size=None,
                         eval_size=2000),
    "full": DepthBudget(sigma_b2=0.05, sigma_w2s=(1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0),
                        depths=(10, 20, 40, 60, 80, 100, 150, 200, 250, 300), width=300, updates=20_000,
                        train_size=None, eval_size=None),
}
"""``quick`` (48 narrow, short runs) uses σ_b² = 0.3, which brings 6 ξ_c within depth 64 on
both sides of the critical line; ``full`` is the paper's σ_b² = 0.05 with depths to 300
(100 runs of 20,000 updates of width-300 nets: sized for a cluster, ``--backend ray``)."""

DECIDING_UPDATES = 1000
"""Fewer updates than this cannot tell a net that is slow to start from one that cannot
train: the verdict is then "cannot show"."""
