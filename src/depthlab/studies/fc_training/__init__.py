"""The lecture on fully-connected networks, its training half: optimizers (on a deep MLP
and on an ill-conditioned quadratic), gradient clipping, batch normalization and the
choice of activation (:mod:`.plan`), each statement with a verdict by a stated
rule (:mod:`.claims`), in one report (:mod:`.report`). Its initialization half is the
``init-statistics`` study."""

from __future__ import annotations

from depthlab.registry import deferred
from depthlab.studies.fc_training.budgets import BUDGETS
from depthlab.studies.study import Study

STUDY = Study("fc-training", "The lecture on fully-connected nets: what makes them train", BUDGETS,
              plan=deferred("depthlab.studies.fc_training.plan:plan"),
              report=deferred("depthlab.studies.fc_training.report:report"))
