"""Reproduce Glorot & Bengio (2010), "Understanding the difficulty of training deep
feedforward neural networks" (AISTATS, PMLR 9), end to end.

The grid (:mod:`.grid`): sigmoid, tanh and softsign with the standard init U[±1/√n],
tanh and softsign with the normalized init U[±√6/√(n_in+n_out)] ("N"), and ReLU with He
init as a modern reference; 5 hidden layers, SGD with minibatches of 10, the NLL cost,
each configuration's learning rate chosen on validation error (section 2.3). The report
(:mod:`.report`) reads only the run directories: Table 1 and the Jacobian table
(:mod:`.tables`), Figures 1–12 (:mod:`.figures`, Figure 5 from :mod:`.cost_surface`) and
a verdict on each claim (:mod:`.claims`).
"""

from __future__ import annotations

from dataclasses import dataclass

from depthlab.registry import deferred
from depthlab.studies.study import Study


@dataclass(frozen=True)
class Budget:
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
    "smoke": Budget(depth=3, width=48, updates=300, file_updates=200, learning_rates=(0.05,), eval_size=300,
                    eval_every=100, probe_every=100, probe_size=100, jacobian_examples=2, surface_points=15),
    "quick": Budget(depth=5, width=500, updates=30_000, file_updates=10_000, learning_rates=(0.05, 0.1),
                    eval_size=2_000, eval_every=2_500, probe_every=2_500, probe_size=300, jacobian_examples=4,
                    surface_points=41),
    "long": Budget(depth=5, width=500, updates=100_000, file_updates=30_000, learning_rates=(0.01, 0.05, 0.1),
                   eval_size=None, eval_every=5_000, probe_every=5_000, probe_size=300, jacobian_examples=4,
                   surface_points=41),
    "full": Budget(depth=5, width=1000, updates=5_000_000, file_updates=1_000_000,
                   learning_rates=(0.001, 0.003, 0.01, 0.03, 0.1), eval_size=None, eval_every=50_000,
                   probe_every=50_000, probe_size=300, jacobian_examples=8, surface_points=61),
}

STUDY = Study("glorot2010", "Glorot & Bengio (2010), reproduced", BUDGETS,
              plan=deferred("depthlab.studies.glorot2010.grid:plan"),
              report=deferred("depthlab.studies.glorot2010.report:report"), options=("datasets",))
