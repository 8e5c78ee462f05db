"""Trainable depth (Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017, "Deep information
propagation"): tanh networks over a grid of σ_w² and depth, each trained for a fixed
number of updates (:mod:`.plan`), their training accuracy drawn as a heat map with
mean-field theory's 6 ξ_c over it, and a verdict on whether the trainable region follows
it (:mod:`.claims`, :mod:`.report`)."""

from __future__ import annotations

from depthlab.registry import deferred
from depthlab.studies.trainable_depth.budgets import BUDGETS
from depthlab.studies.study import Study

STUDY = Study("trainable-depth", "Schoenholz et al. (2017): trainable depth against 6 ξ_c", BUDGETS,
              plan=deferred("depthlab.studies.trainable_depth.plan:plan"),
              report=deferred("depthlab.studies.trainable_depth.report:report"))
