"""The budgets of the Glorot & Bengio (2010) reproduction."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GlorotBudget:
    """How much work a reproduction does.

    ``updates`` is per run on Shapeset (trained online) and ``file_updates`` on the file
    data sets; every configuration trains once per learning rate in ``learning_rates``.
    """

    depth: int
    width: int
    updates: int
    file_updates: int
    learning_rates: tuple[float, ...]
    eval_size: int | None
    eval_every: int
    probe_every: int
    probe_size: int
    jacobian_examples: int
    surface_points: int


BUDGETS = {
    "smoke": GlorotBudget(depth=3, width=48, updates=300, file_updates=200, learning_rates=(0.05,), eval_size=300,
                    eval_every=100, probe_every=100, probe_size=100, jacobian_examples=2, surface_points=15),
    "quick": GlorotBudget(depth=5, width=500, updates=30_000, file_updates=10_000, learning_rates=(0.05, 0.1),
                    eval_size=None, eval_every=2_500, probe_every=2_500, probe_size=300, jacobian_examples=4,
                    surface_points=41),
    "long": GlorotBudget(depth=5, width=500, updates=100_000, file_updates=30_000, learning_rates=(0.01, 0.05, 0.1),
                   eval_size=None, eval_every=5_000, probe_every=5_000, probe_size=300, jacobian_examples=4,
                   surface_points=41),
    "full": GlorotBudget(depth=5, width=1000, updates=5_000_000, file_updates=1_000_000,
                   learning_rates=(0.001, 0.003, 0.01, 0.03, 0.1), eval_size=None, eval_every=50_000,
                   probe_every=50_000, probe_size=300, jacobian_examples=8, surface_points=61),
}
