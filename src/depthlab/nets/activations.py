"""The activation functions of the studies, each with what the rest of depthlab needs
to know about it: the module, the derivative written in terms of the output (for the
fused training step), and what "saturated" means for it (for the probes).

Glorot & Bengio (2010), section 2.3, compare the logistic sigmoid 1/(1+e^{-x}), the
hyperbolic tangent and the softsign x/(1+|x|); ReLU (Nair & Hinton 2010) and leaky ReLU
(Maas et al. 2013) are the modern references.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from depthlab.errors import unknown_choice

LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Activation:
    """An elementwise nonlinearity a = φ(s).

    ``derivative(a)`` gives φ'(s) from the output a alone (every function here allows
    it), so backpropagation needs no stored pre-activations. ``saturated(a)`` marks the
    units in the flat part of φ; ``value_range`` is the fixed histogram range.
    """

    name: str
    module: Callable[[], nn.Module]
    derivative: Callable[[Tensor], Tensor]
    saturated: Callable[[Tensor], Tensor]
    value_range: tuple[float, float]
    saturation_rule: str

    def __call__(self, s: Tensor) -> Tensor:
        return self.module()(s)


SATURATION_MARGIN = 0.05
"""A unit counts as saturated within this distance of an asymptote of a bounded φ."""


class Softsign(nn.Module):
    """softsign(s) = s / (1 + |s|) (Bergstra et al. 2009; Glorot & Bengio 2010, section 2.3)."""

    def forward(self, s: Tensor) -> Tensor:
        return s / (1 + s.abs())


def _near_plus_minus_one(a: Tensor) -> Tensor:
    return a.abs() >= 1 - SATURATION_MARGIN


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation(
            "sigmoid", nn.Sigmoid, lambda a: a * (1 - a),
            lambda a: (a <= SATURATION_MARGIN) | (a >= 1 - SATURATION_MARGIN),
            (0.0, 1.0), "a <= 0.05 or a >= 0.95",
        ),
        Activation("tanh", nn.Tanh, lambda a: 1 - a * a, _near_plus_minus_one, (-1.0, 1.0), "|a| >= 0.95"),
        Activation(
            "softsign", Softsign, lambda a: (1 - a.abs()) ** 2, _near_plus_minus_one, (-1.0, 1.0), "|a| >= 0.95"
        ),
        Activation("relu", nn.ReLU, lambda a: (a > 0).to(a.dtype), lambda a: a <= 0, (0.0, 5.0), "a == 0 (dead)"),
        Activation(
            "leaky-relu", lambda: nn.LeakyReLU(LEAKY_SLOPE),
            lambda a: torch.where(a > 0, a.new_tensor(1.0), a.new_tensor(LEAKY_SLOPE)), lambda a: a <= 0,
            (-0.05, 5.0), "a <= 0 (on the leaky side)",
        ),
        Activation(
            "linear", nn.Identity, torch.ones_like, lambda a: torch.zeros_like(a, dtype=torch.bool),
            (-5.0, 5.0), "never",
        ),
    ]
}

MODULE_TYPES: dict[type, str] = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", Softsign: "softsign",
                                 nn.Softsign: "softsign", nn.ReLU: "relu", nn.LeakyReLU: "leaky-relu",
                                 nn.Identity: "linear"}
"""Which registry entry a module of a user's model corresponds to."""


def get_activation(name: str) -> Activation:
    """Look an activation up by name, with a one-line error listing the valid names."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise unknown_choice("activation", name, ACTIVATIONS) from None


def activation_of(module: nn.Module) -> Activation | None:
    """The registry entry for an activation module of any model, or None."""
    name = MODULE_TYPES.get(type(module))
    return ACTIVATIONS[name] if name else None
