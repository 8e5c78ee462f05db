"""The claim of Schoenholz et al. (2017) and the rule that decides it from the grid."""

from __future__ import annotations

import numpy as np

from depthlab.report.document import Verdict

TRAINED = 0.5
"""A net has trained when its training accuracy reaches 50% (chance: 10%)."""
AGREEMENT = 0.8
"""The trainable region follows 6 ξ_c when "trained" and "depth ≤ 6 ξ_c" agree on at least
80% of the grid's cells."""


def follows_theory(accuracy: np.ndarray, depths: np.ndarray, trainable: np.ndarray, decides: bool) -> Verdict:
    """``accuracy[i, j]``: training accuracy of depth ``depths[i]`` at the j-th σ_w², whose
    predicted trainable depth is ``trainable[j]`` = 6 ξ_c (NaN accuracy: a diverged run,
    counted as not trained)."""
    trained = np.nan_to_num(accuracy, nan=0.0) >= TRAINED
    predicted = depths[:, None] <= trainable[None, :]
    agree = float(np.mean(trained == predicted))
    outside = int(np.sum(trained & ~predicted))
    inside = int(np.sum(~trained & predicted))
    claim = ("Random tanh networks train only where their depth is below about 6 ξ_c, the depth scale over which "
             "mean-field theory says the signal about the input survives.")
    evidence = (f"Trained (training accuracy ≥ {100 * TRAINED:g}%) and predicted (depth ≤ 6 ξ_c) agree on "
                f"{100 * agree:.0f}% of {trained.size} cells: {outside} trained beyond the line, {inside} failed "
                f"within it (reproduced at ≥ {100 * AGREEMENT:g}%).")
    return Verdict.decide(claim, agree >= AGREEMENT, evidence, decides,
                          "The runs are too short to tell a slow start from a net that cannot train.")
