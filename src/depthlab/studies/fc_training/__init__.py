"""The lecture on fully-connected networks, its training half: optimizers (on a deep MLP
and on an ill-conditioned quadratic), gradient clipping, batch normalization and the
choice of activation (:mod:`.experiments`), each statement with a verdict by a stated
rule (:mod:`.claims`), in one report (:mod:`.report`). Its initialization half is the
``init-statistics`` study."""

from __future__ import annotations

from dataclasses import dataclass

from depthlab.registry import deferred
from depthlab.studies.study import Study


@dataclass(frozen=True)
class FCBudget:
    """The sizes of one reproduction: ``updates`` of every run (minibatches of 64),
    ``train_size`` and ``eval_size`` its training and validation/test images (None: the
    whole split). Claims about training are decided from :data:`DECIDING_UPDATES` on."""

    updates: int
    train_size: int | None
    eval_size: int | None


DECIDING_UPDATES = 3000
"""Runs shorter than this (about four epochs of Fashion-MNIST) cannot show how the nets
train: their claims are "cannot show"."""

BUDGETS = {
    "smoke": FCBudget(updates=60, train_size=1000, eval_size=500),
    "quick": FCBudget(updates=DECIDING_UPDATES, train_size=None, eval_size=2000),
    "full": FCBudget(updates=30_000, train_size=None, eval_size=None),
}

STUDY = Study("fc-training", "The lecture on fully-connected nets: what makes them train", BUDGETS,
              plan=deferred("depthlab.studies.fc_training.experiments:plan"),
              report=deferred("depthlab.studies.fc_training.report:report"))
