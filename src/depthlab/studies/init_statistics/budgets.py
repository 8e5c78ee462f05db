"""The budgets of the lecture's initialization demonstrations."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InitStatisticsBudget:
    """The sizes of one run: ``examples`` fed through the 10 × 500 stack (the lecture:
    1000) and ``symmetry_steps`` SGD steps of the symmetry demonstration."""

    examples: int
    symmetry_steps: int


BUDGETS = {
    "smoke": InitStatisticsBudget(examples=300, symmetry_steps=30),
    "quick": InitStatisticsBudget(examples=1000, symmetry_steps=60),
}
"""``quick`` runs the lecture's own sizes in seconds, so there is no bigger budget."""
