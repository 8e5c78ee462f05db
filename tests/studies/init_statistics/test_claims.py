"""The lecture's rules on initialization, each decided both ways on made-up numbers."""

from depthlab.studies.init_statistics import claims


def test_relu_needs_he_to_keep_the_std_and_lecun_to_lose_it():
    rows = [{"init": "LeCun N(0,1/n)", "std": s} for s in (0.5, 0.1, 0.01)]
    kept = [{"init": "He N(0,2/n)", "std": s} for s in (0.8, 0.7, 0.6)]
    assert claims.relu_verdict(rows + kept).verdict == "reproduced"
    lost = [{"init": "He N(0,2/n)", "std": s} for s in (0.8, 0.2, 0.05)]
    assert claims.relu_verdict(rows + lost).verdict == "not reproduced"


def test_products_explode_unscaled_and_stay_bounded_scaled():
    assert claims.products_explode(1e99, 1.3).verdict == "reproduced"
    assert claims.products_explode(1e5, 1.3).verdict == "not reproduced"
    assert claims.products_explode(1e99, 1e-6).verdict == "not reproduced"


def test_symmetry_holds_without_dropout_and_breaks_with_it():
    assert claims.symmetry_breaks(0.0, 0.02).verdict == "reproduced"
    assert claims.symmetry_breaks(1e-7, 0.02).verdict == "not reproduced"
    assert claims.symmetry_breaks(0.0, 0.0).verdict == "not reproduced"
