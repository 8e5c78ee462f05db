"""Nielsen's three rules, each decided both ways on made-up numbers."""

import numpy as np

from depthlab.studies.nielsen import claims


def test_speed_must_grow_toward_the_output_at_every_depth():
    growing = {2: np.array([[0.1, 0.3], [0.1, 0.4]]), 3: np.array([[0.01, 0.06, 0.3]])}
    assert claims.speed_grows_upward(growing).verdict == "reproduced"
    flat = {2: np.array([[0.1, 0.3]]), 3: np.array([[0.01, 0.3, 0.06]])}
    verdict = claims.speed_grows_upward(flat)
    assert verdict.verdict == "not reproduced" and "2 layers: 3 (Nielsen 4.43)" in verdict.evidence


def test_the_training_ratio_must_be_within_the_tolerance_of_100():
    assert claims.first_layer_stays_slower(np.array([50.0, 80.0, 250.0])).verdict == "reproduced"
    assert claims.first_layer_stays_slower(np.array([5.0, 8.0, 20.0])).verdict == "not reproduced"


def test_depth_does_not_help_unless_the_deeper_nets_gain_more_than_the_margin():
    assert claims.depth_does_not_help(96.9, 97.1, 30, True).verdict == "reproduced"
    assert claims.depth_does_not_help(96.9, 97.5, 30, True).verdict == "not reproduced"
    short = claims.depth_does_not_help(96.9, 97.5, 1, True)
    assert short.verdict == "cannot show" and "less than Nielsen's 30 epochs" in short.evidence
    assert claims.depth_does_not_help(96.9, 96.0, 30, False).verdict == "cannot show"
