"""The d2l chapter's rules, each decided both ways on made-up numbers."""

from __future__ import annotations

import numpy as np
import pytest

from depthlab.studies.d2l_mlp import claims
from depthlab.studies.d2l_mlp.scratch import sigmoid_gradient


@pytest.mark.parametrize("verdict, expected", [
    (claims.mlp_accuracy(0.845, True), "reproduced"), (claims.mlp_accuracy(0.80, True), "not reproduced"),
    (claims.mlp_accuracy(0.845, False), "cannot show"),
    (claims.scratch_agrees(0.846, 0.845, True), "reproduced"),
    (claims.scratch_agrees(0.80, 0.845, True), "not reproduced"),
    (claims.normal_fit([5.0, 1.25, -3.3, 5.6], [5, 1.2, -3.4, 5.6], True), "reproduced"),
    (claims.normal_fit([5.0, 1.2, -3.4, 4.9], [5, 1.2, -3.4, 5.6], True), "not reproduced"),
    (claims.underfitting(18.0, 9.0, 0.01, True), "reproduced"),
    (claims.underfitting(0.02, 9.0, 0.01, True), "not reproduced"),
    (claims.overfitting(0.010, 0.012, True), "reproduced"), (claims.overfitting(0.010, 0.0105, True), "not reproduced"),
    (claims.weight_decay((1e-10, 200.0), (3e-4, 0.19), (14.0, 0.39), True), "reproduced"),
    (claims.weight_decay((1e-10, 200.0), (3e-4, 210.0), (14.0, 0.39), True), "not reproduced"),
    (claims.weight_decay((50.0, 200.0), (3e-4, 0.19), (14.0, 0.39), True), "not reproduced"),
    (claims.dropout((0.030, 0.020), (0.86, 0.865), True), "reproduced"),
    (claims.dropout((0.0221, 0.0215), (0.868, 0.867), True), "not reproduced"),
    (claims.dropout((0.030, 0.020), (0.86, 0.80), True), "not reproduced"),
    (claims.kfold_selection({0: 100.0, 3: 0.5, 10: 0.017}, {0: 200.0, 3: 0.19, 10: 0.028}, True), "reproduced"),
    (claims.kfold_selection({0: 100.0, 3: 0.01, 10: 0.017}, {0: 200.0, 3: 0.19, 10: 0.028}, True), "not reproduced"),
    (claims.sigmoid_vanishes(*sigmoid_gradient()[::2]), "reproduced"),
    (claims.sigmoid_vanishes(np.linspace(-8, 8, 161), np.full(161, 0.25)), "not reproduced"),
    (claims.product_explodes(np.array([1.0, 1e99])), "reproduced"),
    (claims.product_explodes(np.ones(100)), "not reproduced"),
])
def test_every_rule_decides_both_ways(verdict, expected):
    assert verdict.verdict == expected
    assert verdict.evidence and "nan" not in verdict.evidence
