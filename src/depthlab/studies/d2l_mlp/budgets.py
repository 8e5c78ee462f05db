"""The budgets of the d2l multilayer-perceptron chapter; the chapter's own settings are :data:`CHAPTER`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class D2LBudget:
    """The sizes of one reproduction; the chapter's own are the ``quick`` budget.

    ``image_epochs``: epochs of the Fashion-MNIST MLP and dropout nets (chapter: 10);
    ``image_train_size``, ``image_eval_size``: their training and validation/test images
    (None: the whole split); ``polynomial_epochs``, ``overfit_epochs``: epochs of the
    polynomial fits (chapter: 400, and 1,500 for the overfitting one); ``decay_epochs``:
    epochs of the weight-decay and K-fold fits (chapter: 100).
    """

    image_epochs: int
    image_train_size: int | None
    image_eval_size: int | None
    polynomial_epochs: int
    overfit_epochs: int
    decay_epochs: int


CHAPTER = D2LBudget(image_epochs=10, image_train_size=None, image_eval_size=None, polynomial_epochs=400,
                    overfit_epochs=1500, decay_epochs=100)
BUDGETS = {
    "smoke": D2LBudget(image_epochs=1, image_train_size=1000, image_eval_size=500, polynomial_epochs=20,
                       overfit_epochs=40, decay_epochs=10),
    "quick": CHAPTER,
}
"""``quick`` runs the chapter's own settings in minutes, so there is no bigger budget."""
