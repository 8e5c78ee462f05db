"""Mean-field theory beside a plain stack: the predicted q per layer against the measured,
χ₁ and the phase; and why it does not apply to other models."""

from __future__ import annotations

import clinic_cases as cases
import numpy as np
import pytest
import torch
from torch import nn

from depthlab.clinic.theory import mean_field_check
from depthlab.probe.probe import Probe


def checked(model, x):
    targets = torch.zeros(len(x), dtype=torch.long)
    probe = Probe(model, x, targets, torch.nn.functional.cross_entropy, quantities=["preactivation"],
                  jacobian_examples=0)
    probe.measure(0, with_jacobians=False, with_histograms=False)
    return mean_field_check(model, x, probe)


def test_a_tanh_stack_at_the_normalized_init_is_near_critical_and_q_is_predicted():
    torch.manual_seed(0)
    model = cases.tanh_normalized(0)[0]
    x = torch.randn(512, cases.FEATURES)
    check = checked(model, x)
    # q¹ = σ_w²₁ q⁰ by hand: n_in · mean(W²) · mean(x²)
    first = model[0]
    by_hand = 64 * first.weight.pow(2).mean().item() * x.pow(2).mean().item()
    assert check.rows[0]["q predicted"] == pytest.approx(by_hand)
    for row in check.rows:  # width 64: the measured second moments agree with theory within 15%
        assert row["q measured"] == pytest.approx(row["q predicted"], rel=0.15)
    # σ_w² = n_in · 2/(n_in + n_out) = 1 and q* = 0 for tanh at σ_b² = 0: χ₁ = σ_w² tanh'(0)² = 1,
    # up to sampling
    assert check.chi1 == pytest.approx(1.0, abs=0.03) and check.depth == 5


def test_a_sigmoid_stack_at_the_standard_init_is_ordered_far_past_its_trainable_depth():
    model = cases.sigmoid_standard(0)[0]
    check = checked(model, torch.randn(256, cases.FEATURES))
    # σ_w² = n · 1/(3n) = 1/3 for U[-1/√n, 1/√n]; χ₁ = σ_w² E[σ'(√q* z)²] < 1/3 · 1/16
    assert check.sigma_w2 == pytest.approx(1 / 3, rel=0.02) and check.chi1 < 1 / 48
    assert check.phase == "ordered (gradients vanish)" and check.trainable_depth < check.depth


@pytest.mark.parametrize("model, why", [
    (cases.SmallResNet18(), "the model is not an nn.Sequential of Linear and activation modules"),
    (nn.Sequential(nn.Linear(64, 8), nn.LayerNorm(8), nn.Tanh(), nn.Linear(8, 2)),
     "the model is not a plain stack of Linear layers with one activation module between each two"),
    (nn.Sequential(nn.Linear(64, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2)),
     "the model is not a plain stack of Linear layers with one activation module between each two"),
])
def test_theory_says_why_it_does_not_apply(model, why):
    x = torch.randn(16, 1, 8, 8) if isinstance(model, cases.SmallResNet18) else torch.randn(16, 64)
    assert checked(model, x) == why


def test_the_rows_name_each_hidden_layer():
    check = checked(cases.tanh_normalized(0)[0], torch.randn(64, cases.FEATURES))
    assert [row["module"] for row in check.rows] == ["0", "2", "4", "6", "8"]
    assert np.all(np.isfinite([row["q measured"] for row in check.rows]))


def test_chi1_reads_the_hidden_to_hidden_layers_not_the_input_layer():
    """64 inputs into 200-wide tanh layers at Glorot's normalized init: the hidden layers'
    σ_w² = 200 · 2/(200 + 200) = 1 (critical, χ₁ = 1 at q* = 0), while the input layer's is
    64 · 2/(64 + 200) = 0.48 and would pull a mean over all layers to 0.9 (ordered)."""
    torch.manual_seed(0)
    model = cases.mlp(5, 200, nn.Tanh)
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    check = checked(model, torch.randn(256, cases.FEATURES))
    by_hand = np.mean([200 * model[k].weight.pow(2).mean().item() for k in (2, 4, 6, 8)])
    assert check.sigma_w2 == pytest.approx(by_hand) and check.chi1 == pytest.approx(1.0, abs=0.02)
    assert check.phase == "critical"
