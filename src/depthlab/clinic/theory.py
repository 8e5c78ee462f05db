"""Mean-field theory beside a user's model, where it applies: a plain stack of Linear
layers with one activation (an ``nn.Sequential``, nested or not, of Linear and
activation modules, with Flatten, Dropout or Identity between). A residual or normalized
net is not one, and the check says so.

From the model's own weights, σ_w²_l = n_in · mean(W_l²) and σ_b²_l = mean(b_l²) per
layer, and the input's q⁰ = mean(x²) on the probe set, it predicts the pre-activation
second moments (Poole et al. 2016)

    q^1 = σ_w²_1 q⁰ + σ_b²_1,  q^l = σ_w²_l E_z[φ(√q^{l-1} z)²] + σ_b²_l,

beside the measured mean(s²) of each hidden layer at initialization; and, at the mean
(σ_w², σ_b²) of the hidden-to-hidden layers (the first layer's σ_w² only scales q⁰),
χ₁ = σ_w² E[φ'(√q* z)²] (vanishing below 1, exploding above) and the depth against
6 ξ_c (Schoenholz et al. 2017), so a user sees why a remedy works: it moves χ₁ to 1 and
6 ξ_c past the depth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from depthlab.errors import DepthlabError
from depthlab.nets.activations import ACTIVATIONS, Activation
from depthlab.probe.quantities import PREACTIVATION_MEAN, PREACTIVATION_STD
from depthlab.theory.meanfield import chi1, classify_phase, depth_scales, fixed_point, length_map

PASSIVE = (nn.Flatten, nn.Dropout, nn.Identity)
"""Modules a plain stack may hold between its layers: they change no variance at init
(Dropout is off in the probe's eval mode)."""


@dataclass(frozen=True)
class MeanFieldCheck:
    """Theory beside measurement for one plain stack: ``rows`` per hidden layer (q
    measured and predicted), the activation, the hidden layers' mean σ_w² and σ_b², χ₁,
    the depth (hidden layers) and 6 ξ_c."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    chi1: float
    depth: int
    trainable_depth: float
    rows: list[dict[str, Any]]

    @property
    def phase(self) -> str:
        """:func:`~depthlab.theory.meanfield.classify_phase` of χ₁, with what it means."""
        phase = classify_phase(self.chi1)
        return {"ordered": "ordered (gradients vanish)", "chaotic": "chaotic (gradients explode)"}.get(phase, phase)

    def line(self) -> str:
        return (f"Mean-field theory ({self.activation}, σ_w² = {self.sigma_w2:.3g}, σ_b² = {self.sigma_b2:.3g}): "
                f"χ₁ = {self.chi1:.3g}, {self.phase}; depth {self.depth} against "
                f"6 ξ_c = {self.trainable_depth:.3g}; "
                f"top hidden layer's q measured {self.rows[-1]['q measured']:.3g}, predicted "
                f"{self.rows[-1]['q predicted']:.3g}.")


def plain_stack(model: nn.Module) -> tuple[list[nn.Linear], Activation] | str:
    """The Linear layers and the one activation of a plain stack, or why ``model`` is not one."""
    if not isinstance(model, nn.Sequential):
        return "the model is not an nn.Sequential of Linear and activation modules"
    leaves = [m for m in model.modules() if not list(m.children()) and not isinstance(m, PASSIVE)]
    linears = [m for m in leaves if isinstance(m, nn.Linear)]
    others = [m for m in leaves if not isinstance(m, nn.Linear)]
    found = {a.name for m in others for a in ACTIVATIONS if a.computed_by(m)}
    if len(linears) < 2 or len(others) != len(linears) - 1 or len(found) != 1:
        return "the model is not a plain stack of Linear layers with one activation module between each two"
    if any(isinstance(a, nn.Linear) == isinstance(b, nn.Linear) for a, b in zip(leaves, leaves[1:])):
        return "the model's Linear layers and activations do not alternate"
    activation = ACTIVATIONS.get(found.pop())
    if activation.gaussian is None:
        return f"mean-field theory cannot integrate {activation.name}"
    return linears, activation


def mean_field_check(model: nn.Module, inputs: Any, probe) -> MeanFieldCheck | str:
    """Theory beside the measured pre-activations of ``model`` (probed at update 0), or
    why theory does not apply."""
    stack = plain_stack(model)
    if isinstance(stack, str):
        return stack
    linears, activation = stack
    if not isinstance(inputs, torch.Tensor):
        return "the probe inputs are not one tensor"
    with torch.no_grad():
        q0 = float(inputs.double().pow(2).mean())
        sigma_w2 = [layer.in_features * float(layer.weight.double().pow(2).mean()) for layer in linears]
        sigma_b2 = [float(layer.bias.double().pow(2).mean()) if layer.bias is not None else 0.0 for layer in linears]
    modules = probe.module_names
    names = {module: entry for entry, module in modules.items()}
    by_module = dict(model.named_modules())
    hidden = [next(name for name, m in by_module.items() if m is layer) for layer in linears[:-1]]
    update = probe.log.updates[0]
    stds, means = probe.log.values_at(PREACTIVATION_STD, update), probe.log.values_at(PREACTIVATION_MEAN, update)
    rows, q = [], None
    for k, module in enumerate(hidden):
        q = sigma_w2[k] * q0 + sigma_b2[k] if k == 0 else float(length_map(q, activation.name, sigma_w2[k],
                                                                           sigma_b2[k]))
        entry = names.get(module)
        measured = stds[entry] ** 2 + means.get(entry, 0.0) ** 2 if entry in stds else math.nan
        rows.append({"layer": k + 1, "module": module, "σ_w²": sigma_w2[k], "q measured": measured,
                     "q predicted": q})
    # χ₁ is the recursion's slope from one hidden layer to the next: the hidden-to-hidden
    # layers' mean (the first layer's σ_w² scales the input's q⁰ only; its fan-in is the input's)
    between = slice(1, -1) if len(linears) > 2 else slice(0, 1)
    w2, b2 = float(np.mean(sigma_w2[between])), float(np.mean(sigma_b2[between]))
    try:
        q_star = float(fixed_point(activation.name, w2, b2, q0=max(q0, 1e-12)))
        chi = float(chi1(activation.name, w2, b2, q=q_star if math.isfinite(q_star) else None))
        depth = depth_scales(activation.name, w2, b2).trainable_depth
    except (DepthlabError, ValueError, ArithmeticError):
        return f"mean-field theory has no fixed point for {activation.name} at σ_w² = {w2:.3g}, σ_b² = {b2:.3g}"
    return MeanFieldCheck(activation.name, w2, b2, chi, len(hidden), depth, rows)
