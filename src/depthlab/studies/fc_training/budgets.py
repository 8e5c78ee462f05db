"""The budgets of the lecture's training experiments."""

from __future__ import annotations

from dataclasses import dataclass


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
