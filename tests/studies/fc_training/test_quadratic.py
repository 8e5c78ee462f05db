"""The quadratic's descent is the closed form, and each optimizer keeps its best rate."""

from __future__ import annotations

import numpy as np

from depthlab.studies.fc_training import quadratic as study


def test_gradient_descent_on_the_quadratic_is_the_closed_form():
    path = study.descend_quadratic("sgd", 0.45, steps=10)
    factors = 1 - 0.45 * np.array(study.QUADRATIC)  # x ← (1 − ηλ)x on each axis
    expected = np.array(study.QUADRATIC_START) * factors ** np.arange(11)[:, None]
    assert np.allclose(path, expected, rtol=1e-12)
    assert study.reversals(path) == 9  # 1 − 0.45·4 < 0: every step across the valley turns back


def test_reversals_count_the_turns_across_the_valley():
    path = np.array([[0, 0], [1, 1], [2, 2], [3, 1], [4, 2], [5, 2], [6, 3]], dtype=float)
    assert study.reversals(path) == 2


def test_each_optimizer_keeps_the_rate_that_ends_lowest():
    best = study.best_quadratic_paths()
    assert list(best) == list(study.QUADRATIC_RATES)
    for optimizer, (lr, path) in best.items():
        end = study.quadratic(path[-1], np.array(study.QUADRATIC))
        for other in study.QUADRATIC_RATES[optimizer]:
            assert end <= study.quadratic(study.descend_quadratic(optimizer, other)[-1], np.array(study.QUADRATIC))
