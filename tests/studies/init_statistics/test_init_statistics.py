"""The lecture's initialization demonstrations: the numbers they rest on, and the smoke
reproduction's files and report."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from depthlab.studies.init_statistics import demos as study
from depthlab.studies.init_statistics.report import LECTURE_RTOL

STEMS = ("tanh_histograms", "tanh_std", "relu_histograms", "relu_std", "matrix_products", "symmetry")
SECTIONS = ("Setup", "Weight scale and tanh activations", "ReLU: N(0, 1/n) against He N(0, 2/n)", "Products of random matrices",
            "Symmetry of constant initialization")


@pytest.fixture(scope="module")
def smoke(smoke_reproduction):
    result = smoke_reproduction("init-statistics")
    return result.out, result.report


def std_by_layer(activation, init, examples=200):
    return np.array([a.std().item() for _, a in study.layer_activations(activation, init, examples)])


def test_smoke_writes_every_figure_in_png_and_svg(smoke, assert_figures):
    assert_figures(smoke[0], STEMS)


def test_smoke_tables_hold_every_row_beside_the_lecture(smoke, read_csv):
    out, _ = smoke
    tanh = read_csv(out / "tanh_std.csv")
    assert len(tanh) == 4 * study.DEPTH
    assert [r["lecture_std"] for r in tanh if r["init"] == "0.01·N(0,1)"][:4] == ["0.21", "0.048", "0.011", ""]
    assert [r["lecture_std"] for r in tanh if r["init"] == "LeCun N(0,1/n)"][:3] == ["0.63", "0.49", "0.41"]
    for row in tanh:
        if row["lecture_std"]:
            assert float(row["std"]) == pytest.approx(float(row["lecture_std"]), rel=LECTURE_RTOL)
    relu = read_csv(out / "relu_std.csv")
    assert {r["init"] for r in relu} == {"LeCun N(0,1/n)", "He N(0,2/n)"} and len(relu) == 2 * study.DEPTH
    products = read_csv(out / "matrix_products.csv")
    assert [int(r["factors"]) for r in products] == list(range(1, study.PRODUCT_FACTORS + 1))
    assert float(products[-1]["expected σ² = 1"]) == pytest.approx(1e100)
    symmetry = read_csv(out / "symmetry.csv")
    assert [(float(r["dropout"]), int(r["layer"])) for r in symmetry] == [(0.0, 1), (0.0, 2), (0.5, 1), (0.5, 2)]
    assert [float(r["max_row_difference"]) == 0 for r in symmetry] == [True, True, False, False]


def test_smoke_report_embeds_figures_and_has_every_section(smoke, read_study_report):
    out, report = smoke
    assert report == out / "report.html"
    text = read_study_report(report, STEMS, SECTIONS)
    assert "Budget &#x27;smoke&#x27;" in text and "not reproduced" not in text


def test_small_weights_collapse_tanh_below_1e_3_by_layer_10():
    std = std_by_layer("tanh", "gaussian:0.01")
    assert std[:3] == pytest.approx([0.21, 0.048, 0.011], rel=0.1)
    assert std[-1] < 1e-3
    # each layer multiplies the variance by n·Var[W] = 500·1e-4 near zero, so the std by √0.05
    assert std[-1] / std[-2] == pytest.approx(0.05 ** 0.5, rel=0.05)


def test_unit_gaussian_weights_saturate_every_tanh_layer():
    for _, a in study.layer_activations("tanh", "gaussian:1", 200):
        assert (a.abs() > 0.95).float().mean().item() > 0.5


def test_lecun_tanh_std_decays_slowly_as_in_the_lecture():
    assert std_by_layer("tanh", "lecun-normal")[:3] == pytest.approx([0.63, 0.49, 0.41], rel=0.05)


def test_he_keeps_relu_while_lecun_loses_it():
    he, lecun = std_by_layer("relu", "he-normal"), std_by_layer("relu", "lecun-normal")
    assert he.max() / he.min() < 3
    assert lecun[0] / lecun[-1] > 10
    # N(0, 1/n) halves the second moment of ReLU layers: the std falls by about √2 per layer
    assert (lecun[0] / lecun[-1]) ** (1 / 9) == pytest.approx(2 ** 0.5, rel=0.1)


def test_unit_variance_products_explode_and_scaled_ones_stay_order_one():
    unscaled, scaled = study.product_norms(1.0), study.product_norms(1 / study.PRODUCT_SIZE)
    assert unscaled[0] == pytest.approx(study.PRODUCT_SIZE ** 0.5, rel=0.05)
    assert unscaled[-1] > 1e10
    assert np.all((scaled >= 1e-3) & (scaled <= 1e3))
    assert np.log10(unscaled[-1]) == pytest.approx(100, abs=2)


def test_constant_init_keeps_units_identical_and_dropout_breaks_them():
    initial = study.unit_parameters(study.train_constant_init(0.0, 0))
    for trained, start in zip(study.unit_parameters(study.train_constant_init(0.0, 30)), initial):
        assert torch.equal(trained, trained[:1].expand_as(trained))
        assert not torch.equal(trained, start)
    for trained in study.unit_parameters(study.train_constant_init(0.5, 30)):
        assert (trained - trained[0]).abs().max().item() > 1e-4
