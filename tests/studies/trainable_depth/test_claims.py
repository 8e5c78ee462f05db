"""The trainable-depth rule, both ways, on made-up grids."""

from __future__ import annotations

import numpy as np

from depthlab.studies.trainable_depth import claims


def test_the_rule_counts_agreement_with_the_line_both_ways():
    depths, line = np.array([4, 16, 64]), np.array([10.0, 50.0])
    follows = np.array([[0.8, 0.9], [0.1, 0.7], [0.1, 0.1]])  # trains below the line only
    assert claims.follows_theory(follows, depths, line, True).verdict == "reproduced"
    against = np.array([[0.1, 0.1], [0.8, 0.1], [0.9, 0.9]])
    verdict = claims.follows_theory(against, depths, line, True)
    assert verdict.verdict == "not reproduced" and "3 trained beyond the line, 3 failed within it" in verdict.evidence
    assert claims.follows_theory(follows, depths, line, False).verdict == "cannot show"
    diverged = np.where(follows > 0.5, follows, np.nan)  # a diverged run counts as not trained
    assert claims.follows_theory(diverged, depths, line, True).verdict == "reproduced"
