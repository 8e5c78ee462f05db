"""Reproduce Glorot & Bengio (2010), "Understanding the difficulty of training deep
feedforward neural networks" (AISTATS, PMLR 9), end to end.

The grid (:mod:`.plan`): sigmoid, tanh and softsign with the standard init U[±1/√n],
tanh and softsign with the normalized init U[±√6/√(n_in+n_out)] ("N"), and ReLU with He
init as a modern reference; 5 hidden layers, SGD with minibatches of 10, the NLL cost,
each configuration's learning rate chosen on validation error (section 2.3). The report
(:mod:`.report`) reads only the run directories: Table 1 and the Jacobian table
(:mod:`.tables`), Figures 1–12 (:mod:`.figures`, Figure 5 from :mod:`.cost_surface`) and
a verdict on each claim (:mod:`.claims`).
"""

from __future__ import annotations

from depthlab.registry import deferred
from depthlab.studies.glorot2010.budgets import BUDGETS
from depthlab.studies.study import Study

STUDY = Study("glorot2010", "Glorot & Bengio (2010), reproduced", BUDGETS,
              plan=deferred("depthlab.studies.glorot2010.plan:plan"),
              report=deferred("depthlab.studies.glorot2010.report:report"), options=("datasets",))
