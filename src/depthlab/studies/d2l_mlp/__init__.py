"""The experiments of the multilayer-perceptron chapter of *Dive into Deep Learning*
(Zhang, Lipton, Li & Smola; chapter 5 of the PyTorch edition), each with the chapter's
settings (:mod:`.plan`), its statements beside our numbers and a verdict by a
stated rule (:mod:`.claims`), in one report (:mod:`.report`)."""

from __future__ import annotations

from depthlab.registry import deferred
from depthlab.studies.d2l_mlp.budgets import BUDGETS
from depthlab.studies.study import Study

STUDY = Study("d2l-mlp", "Dive into Deep Learning, the multilayer-perceptron chapter", BUDGETS,
              plan=deferred("depthlab.studies.d2l_mlp.plan:plan"),
              report=deferred("depthlab.studies.d2l_mlp.report:report"))
