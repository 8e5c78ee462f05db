"""The lecture's demonstrations of why initialization matters (:mod:`.demos`: forward
passes, random matrices and a tiny net; no data set, no trainer runs) and their report
(:mod:`.report`)."""

from __future__ import annotations

from depthlab.registry import deferred
from depthlab.studies.init_statistics.budgets import BUDGETS
from depthlab.studies.study import Study

STUDY = Study("init-statistics", "The lecture's initialization statistics", BUDGETS,
              plan=deferred("depthlab.studies.init_statistics.plan:plan"),
              report=deferred("depthlab.studies.init_statistics.report:report"))
