import torch

from depthlab.probe.stats import histogram


def test_histogram_over_a_fixed_range_counts_outliers_in_the_end_bins():
    edges, counts = histogram(torch.tensor([-1.0, -0.5, 0.2, 0.99, 3.0]), (-1.0, 1.0), bins=4)
    assert edges == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert counts == [1, 1, 1, 2]


def test_histogram_without_range_is_symmetric_and_ignores_non_finite_values():
    edges, counts = histogram(torch.tensor([-0.5, 2.0, float("nan"), float("inf")]), bins=4)
    assert edges == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert counts == [0, 1, 0, 1]
