"""The lecture's rules on training, each decided both ways on made-up numbers."""

from __future__ import annotations

import pytest

from depthlab.studies.fc_training import claims


@pytest.mark.parametrize("verdict, expected", [
    (claims.beats_sgd("adam", {"sgd": (0.355, 0.004), "momentum": (0.343, 0.005), "adam": (0.33, 0.004)}, True),
     "reproduced"),
    (claims.beats_sgd("momentum", {"sgd": (0.355, 0.004), "momentum": (0.343, 0.005), "adam": (0.33, 0.004)}, True),
     "not reproduced"),
    (claims.beats_sgd("adam", {"sgd": (0.355, 0.004), "adam": (0.2, 0.004)}, False), "cannot show"),
    (claims.momentum_damps((0.0013, 39), (0.001, 4), 40), "reproduced"),
    (claims.momentum_damps((0.0013, 39), (0.001, 30), 40), "not reproduced"),
    (claims.momentum_damps((0.0013, 39), (0.01, 4), 40), "not reproduced"),
    (claims.clipping("diverged", "completed", 0.2, True), "reproduced"),
    (claims.clipping("completed", "completed", 0.2, True), "not reproduced"),
    (claims.clipping("diverged", "completed", 0.8, True), "not reproduced"),
    (claims.batchnorm(0.9, 0.2, True), "reproduced"), (claims.batchnorm(0.3, 0.2, True), "not reproduced"),
    (claims.batchnorm_gradients(4e5, 2.0, True), "reproduced"),
    (claims.batchnorm_gradients(2.0, 4e5, True), "not reproduced"),
    (claims.sigmoid_gradient_vanishes({"sigmoid": 1e-6, "tanh": 0.5, "relu": 1.0}), "reproduced"),
    (claims.sigmoid_gradient_vanishes({"sigmoid": 0.9, "tanh": 0.5, "relu": 1.0}), "not reproduced"),
    (claims.prefer_relu({"sigmoid": 0.9, "tanh": 0.15, "relu": 0.155, "leaky-relu": 0.2}, True), "reproduced"),
    (claims.prefer_relu({"sigmoid": 0.9, "tanh": 0.15, "relu": 0.3, "leaky-relu": 0.2}, True), "not reproduced"),
])
def test_every_rule_decides_both_ways(verdict, expected):
    assert verdict.verdict == expected
    assert verdict.evidence
