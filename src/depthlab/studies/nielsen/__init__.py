"""Nielsen's vanishing-gradient experiments (Neural Networks and Deep Learning, 2015,
ch. 5): learning speed per layer at initialization and during training
(:mod:`.plan`), and validation accuracy against depth from trainer runs; the
report (:mod:`.report`) sets ours beside Nielsen's numbers."""

from __future__ import annotations

from depthlab.registry import deferred
from depthlab.studies.nielsen.budgets import BUDGETS
from depthlab.studies.study import Study

STUDY = Study("nielsen-ch5", "Nielsen, chapter 5: the vanishing gradient problem", BUDGETS,
              plan=deferred("depthlab.studies.nielsen.plan:plan"),
              report=deferred("depthlab.studies.nielsen.report:report"))
