"""The budgets of Nielsen's chapter 5 reproduction."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NielsenBudget:
    """The sizes of one reproduction.

    ``init_seeds``: networks averaged for the learning speed at initialization;
    ``speed_epochs``: full-batch epochs of the learning speed during training (Nielsen: 500);
    ``depth_epochs``: epochs of each depth run (Nielsen: 30);
    ``depth_train_size``, ``depth_eval_size``: training and validation/test images of the
    depth runs (None: the whole split, 50,000 and 10,000).
    """

    init_seeds: int
    speed_epochs: int
    depth_epochs: int
    depth_train_size: int | None
    depth_eval_size: int | None


BUDGETS = {
    "smoke": NielsenBudget(init_seeds=2, speed_epochs=30, depth_epochs=1, depth_train_size=1000, depth_eval_size=500),
    "quick": NielsenBudget(init_seeds=5, speed_epochs=200, depth_epochs=5, depth_train_size=None,
                           depth_eval_size=None),
    "full": NielsenBudget(init_seeds=10, speed_epochs=500, depth_epochs=30, depth_train_size=None,
                          depth_eval_size=None),
}
