"""The budgets of the Glorot & Bengio (2010) reproduction.

``full`` is the paper's protocol (section 2.3 and Table 1): 5 hidden layers of 1000 units,
minibatches of 10, each configuration's learning rate chosen on validation error after
5,000,000 updates. On a GPU the runs of one activation train as one stack
(``--device cuda``); its Shapeset updates take about an hour at an H100 SXM's memory roof
(:func:`depthlab.grid.estimate.expected_seconds`). ``gpu-session`` is what one short
device session completes: the paper's widths, 200,000 updates (the paper's first 4%),
three learning rates, every configuration: about 1.5 minutes of updates at an H100 SXM's
memory roof for Shapeset's 18 runs, the rest of a 10-minute session left to the
evaluations, probes and report — with Shapeset drawn on the device; drawn on the host,
its ~16,000 images/s per core bound the 18 runs to about 90 updates/s.
"""

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
    "gpu-session": GlorotBudget(depth=5, width=1000, updates=200_000, file_updates=50_000,
                          learning_rates=(0.01, 0.05, 0.1), eval_size=None, eval_every=20_000, probe_every=20_000,
                          probe_size=300, jacobian_examples=4, surface_points=41),
    "full": GlorotBudget(depth=5, width=1000, updates=5_000_000, file_updates=1_000_000,
                   learning_rates=(0.001, 0.003, 0.01, 0.03, 0.1), eval_size=None, eval_every=50_000,
                   probe_every=50_000, probe_size=300, jacobian_examples=8, surface_points=61),
}
