"""The lecture's initialization demonstrations: the numbers they rest on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from depthlab.studies.init_statistics import demos as study


def std_by_layer(activation, init, examples=200):
    return np.array([a.std().item() for _, a in study.layer_activations(activation, init, examples)])


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
