"""Each remedy's change on a copy, and the PyTorch code it gives: the code, run on a
fresh model, makes the same change (same module types, same weight variances)."""

from __future__ import annotations

import copy

import clinic_cases as cases
import pytest
import torch
from torch import nn

from depthlab.clinic.remedies import REMEDIES, Patient, remedies_for
from depthlab.clinic.trial import TrialSettings
from depthlab.nets.activations import activation_of


def by_name(name):
    return next(r for r in REMEDIES if r.name == name)


def patient_of(model, lr=0.1, clip_norm=None):
    """Each Linear's activation: the module after it in the Sequential, None for the last."""
    children = list(model)
    activations = {}
    for k, module in enumerate(children):
        if isinstance(module, nn.Linear):
            after = children[k + 1] if k + 1 < len(children) else None
            activations[str(k)] = activation_of(after) if after is not None else None
    return Patient(activations, torch.randn(128, cases.FEATURES), lr, clip_norm)


def settings():
    return TrialSettings(lambda params: torch.optim.SGD(params, lr=0.1), 0.1)


def test_each_remedy_answers_what_its_finding_advises():
    assert [r.name for r in remedies_for({"dead ReLUs"})] == ["suggested init", "leaky ReLU for ReLU", "lower lr"]
    assert [r.name for r in remedies_for({"divergence"})] == ["lower lr", "gradient clipping"]
    assert remedies_for({"no problem found"}) == []


def test_the_suggested_init_is_he_for_relu_and_zeroes_the_biases():
    torch.manual_seed(0)
    model = cases.mlp(3, 400, nn.ReLU)
    patient = patient_of(model)
    by_name("suggested init").change(model, settings(), patient)
    hidden = model[2]
    assert abs(hidden.weight.var().item() * 400 / 2 - 1) < 0.05  # Var = 2/n_in (He et al. 2015)
    assert all((layer.bias == 0).all() for layer in model if isinstance(layer, nn.Linear))


def test_tanh_for_sigmoid_swaps_the_modules_and_takes_the_normalized_init():
    torch.manual_seed(0)
    model = cases.mlp(3, 400, nn.Sigmoid)
    by_name("tanh for sigmoid").change(model, settings(), patient_of(model))
    assert [type(m).__name__ for m in model] == ["Linear", "Tanh"] * 3 + ["Linear"]
    assert abs(model[2].weight.var().item() * (400 + 400) / 2 - 1) < 0.05  # Var = 2/(n_in + n_out)


@pytest.mark.parametrize("activation", [nn.Tanh, lambda: nn.LeakyReLU(0.2)])
def test_layer_norm_goes_between_each_linear_layer_and_its_activation(activation):
    model = cases.mlp(2, 16, activation)
    by_name("layer norm").change(model, settings(), patient_of(model))
    kind = type(model[1]).__name__
    assert [type(m).__name__ for m in model] == ["Sequential", kind, "Sequential", kind, "Linear"]
    assert isinstance(model[0][1], nn.LayerNorm) and model[0][1].normalized_shape == (16,)


def test_the_learning_rate_and_clipping_remedies_change_the_settings_only():
    model = cases.mlp(2, 16, nn.Tanh)
    lower = by_name("lower lr").change(model, settings(), patient_of(model))
    assert lower.make(model.parameters()).param_groups[0]["lr"] == pytest.approx(0.01)
    assert by_name("gradient clipping").change(model, settings(), patient_of(model)).clip_norm == 1.0
    assert by_name("gradient clipping").applies(patient_of(model, clip_norm=5.0), model) == \
        "the gradients are already clipped (to norm 5)"


def test_a_swap_does_not_apply_without_the_module():
    model = cases.mlp(2, 16, nn.Tanh)
    assert by_name("tanh for sigmoid").applies(patient_of(model), model) == \
        "no sigmoid module to swap (a functional sigmoid cannot be swapped)"


@pytest.mark.parametrize("name, activation", [("suggested init", nn.ReLU), ("orthogonal init", nn.Tanh),
                                              ("tanh for sigmoid", nn.Sigmoid), ("leaky ReLU for ReLU", nn.ReLU),
                                              ("layer norm", nn.Sigmoid), ("LSUV init", nn.Tanh),
                                              ("scaled init", nn.ReLU)])
def test_the_code_to_paste_makes_the_same_change(name, activation):
    torch.manual_seed(0)
    model = cases.mlp(3, 300, activation)
    remedy, patient = by_name(name), patient_of(model)
    code = remedy.code(patient, model)
    pasted = cases.mlp(3, 300, activation)
    exec(code, {"torch": torch, "model": pasted, "x": patient.probe_inputs})  # the user's paste
    remedy.change(model, settings(), patient)
    assert [type(m).__name__ for m in pasted.modules()] == [type(m).__name__ for m in model.modules()]
    ours = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
    theirs = [m.weight for m in pasted.modules() if isinstance(m, nn.Linear)]
    for a, b in zip(ours, theirs):
        assert a.detach().var().item() == pytest.approx(b.detach().var().item(), rel=0.1)


def test_the_output_sigmoid_of_a_binary_classifier_is_not_swapped():
    """Only hidden activations are swapped: a model ending in Sigmoid for binary
    cross-entropy keeps it (a Tanh there would give the loss negative probabilities)."""
    model = nn.Sequential(nn.Linear(64, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Sigmoid(), nn.Linear(16, 1),
                          nn.Sigmoid())
    remedy = by_name("tanh for sigmoid")
    pasted = copy.deepcopy(model)
    exec(remedy.code(patient_of(model), model), {"torch": torch, "model": pasted})
    remedy.change(model, settings(), patient_of(model))
    for changed in (model, pasted):
        assert [type(m).__name__ for m in changed] == ["Linear", "Tanh", "Linear", "Tanh", "Linear", "Sigmoid"]


def test_a_net_mixing_rectifiers_and_tanh_gets_he_and_glorot_by_layer_in_the_trial_and_the_code():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 400), nn.ReLU(), nn.Linear(400, 400), nn.Tanh(), nn.Linear(400, 400),
                          nn.ReLU(), nn.Linear(400, 10))
    remedy, patient = by_name("suggested init"), patient_of(model)
    pasted = copy.deepcopy(model)
    exec(remedy.code(patient, model), {"torch": torch, "model": pasted})
    remedy.change(model, settings(), patient)
    for changed in (model, pasted):  # Var W = 2/n_in where a ReLU follows (He), 2/(n_in + n_out) where a Tanh does
        assert changed[0].weight.var().item() * 64 / 2 == pytest.approx(1, abs=0.05)
        assert changed[2].weight.var().item() * (400 + 400) / 2 == pytest.approx(1, abs=0.05)
        assert changed[4].weight.var().item() * 400 / 2 == pytest.approx(1, abs=0.05)


@pytest.mark.parametrize("activation, gain", [(lambda: nn.LeakyReLU(0.2), 2 ** 0.5), (nn.GELU, 2 ** 0.5),
                                              (nn.Tanh, 5 / 3)])
def test_orthogonal_init_takes_the_gain_of_its_activation(activation, gain):
    """A rectifier torch has no gain name for (GELU, a leaky ReLU of another slope) takes
    ReLU's √2, not the linear gain 1 (which would halve the signal's variance per layer)."""
    model = cases.mlp(3, 64, activation)
    by_name("orthogonal init").change(model, settings(), patient_of(model))
    w = model[2].weight.detach()
    assert torch.linalg.svdvals(w).max().item() == pytest.approx(gain, rel=1e-4)  # orthogonal × gain


def test_the_scaled_init_keeps_the_weights_shape_and_sets_fan_in_times_mean_square():
    """N(0, 1) weights into ReLUs (σ_w² = n_in, far past He's 2): rescaled, each layer's
    fan_in · mean(W²) is 2 (1 for the tanh layer's), and the weights are the same up to
    one factor per layer (their distribution kept)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 10))
    for layer in model[::2]:
        nn.init.normal_(layer.weight)
    before = [layer.weight.detach().clone() for layer in model[::2]]
    by_name("scaled init").change(model, settings(), patient_of(model))
    sigma_w2 = [layer.in_features * layer.weight.pow(2).mean().item() for layer in model[::2]]
    assert sigma_w2 == pytest.approx([2.0, 1.0, 2.0])  # the top layer follows the main activation (ReLU)
    for old, layer in zip(before, model[::2]):
        ratio = layer.weight.detach() / old
        assert torch.allclose(ratio, ratio.flatten()[0].expand_as(ratio))


def test_the_learning_rate_code_scales_each_of_the_users_groups():
    model = cases.mlp(2, 16, nn.Tanh)
    optimizer = torch.optim.SGD([{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": 0.5}],
                                lr=0.1)
    exec(by_name("lower lr").code(patient_of(model, lr=0.1), model), {"optimizer": optimizer})
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([0.01, 0.05])


def test_a_convolution_gets_batch_norm_and_the_code_does_the_same():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 8),
                          nn.Tanh(), nn.Linear(8, 2))
    pasted = copy.deepcopy(model)
    remedy = by_name("layer norm")
    exec(remedy.code(patient_of(model), model), {"torch": torch, "model": pasted})
    remedy.change(model, settings(), patient_of(model))
    for changed in (model, pasted):
        assert [type(m[1]).__name__ for m in changed if isinstance(m, nn.Sequential)] == \
            ["BatchNorm2d", "BatchNorm2d", "LayerNorm"]
        assert changed(torch.randn(2, 1, 8, 8)).shape == (2, 2)
