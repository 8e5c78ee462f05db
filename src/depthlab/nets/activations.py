"""The activation functions of the studies, each declared once with everything depthlab
needs of it: the torch module, the derivative written in terms of the output (for the
fused training step), what "saturated" means (for the probes), the Gaussian form that
mean-field theory integrates, and its number in the native kernels.

Glorot & Bengio (2010), section 2.3, compare the logistic sigmoid 1/(1+e^{-x}), the
hyperbolic tangent and the softsign x/(1+|x|); ReLU (Nair & Hinton 2010) and leaky ReLU
(Maas et al. 2013) are the modern references.

Add one with ``ACTIVATIONS.register(Activation(...))``: training, probes, theory and the
command line then know it. Importing this module imports no torch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from depthlab.registry import Registry, deferred

if TYPE_CHECKING:
    from torch import Tensor, nn

LEAKY_SLOPE = 0.01

SATURATION_MARGIN = 0.05
"""A unit counts as saturated within this distance of an asymptote of a bounded φ."""


@dataclass(frozen=True)
class PiecewiseLinear:
    """φ(x) = x for x ≥ 0 and ``slope``·x below: mean-field theory takes its Gaussian
    moments in closed form (linear: slope 1, ReLU: 0)."""

    slope: float


@dataclass(frozen=True)
class Smooth:
    """φ and its first two derivatives on NumPy arrays: mean-field theory takes its
    Gaussian moments by quadrature."""

    phi: Callable[[np.ndarray], np.ndarray]
    dphi: Callable[[np.ndarray], np.ndarray]
    d2phi: Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Activation:
    """An elementwise nonlinearity a = φ(s).

    ``module()`` makes a torch module computing φ. ``derivative(a)`` gives φ'(s) from the
    output a alone, so the fused step needs no stored pre-activations (None where φ' is
    not a function of a: that activation trains with autograd). ``saturated(a)`` marks
    the units in the flat part of φ, as ``saturation_rule`` says in words;
    ``value_range`` is the fixed histogram range. ``gaussian`` is what mean-field theory
    integrates (None: theory does not cover it); ``native`` its number in the C kernels'
    enum (``fused_mlp.c``; None: the fused step runs it on torch operations).
    ``saturation`` says what its saturated units are, for the diagnosis: ``"asymptote"``
    (stuck near a bound of φ, where φ' ≈ 0), ``"dead"`` (exactly 0, where φ' = 0) or ``""``
    (harmless); ``suggested_init`` is the weight init that keeps its signal's scale.
    """

    name: str
    summary: str
    module: Callable[[], nn.Module]
    derivative: Callable[[Tensor], Tensor] | None
    saturated: Callable[[Tensor], Tensor]
    saturation_rule: str
    value_range: tuple[float, float]
    gaussian: PiecewiseLinear | Smooth | None = None
    native: int | None = None
    saturation: str = ""
    suggested_init: str = "normalized"

    def __call__(self, s: Tensor) -> Tensor:
        return self.module()(s)


def _near_plus_minus_one(a: Tensor) -> Tensor:
    return a.abs() >= 1 - SATURATION_MARGIN


def _tanh_d1(x: np.ndarray) -> np.ndarray:
    return 1 - np.tanh(x) ** 2


def _tanh_d2(x: np.ndarray) -> np.ndarray:
    return -2 * np.tanh(x) * _tanh_d1(x)


_expit = deferred("scipy.special:expit")


def _sigmoid_d1(x: np.ndarray) -> np.ndarray:
    return _expit(x) * _expit(-x)


def _sigmoid_d2(x: np.ndarray) -> np.ndarray:
    return _sigmoid_d1(x) * (1 - 2 * _expit(x))


def _softsign(x: np.ndarray) -> np.ndarray:
    return x / (1 + np.abs(x))


def _softsign_d1(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.abs(x)) ** 2


def _softsign_d2(x: np.ndarray) -> np.ndarray:
    return -2 * np.sign(x) / (1 + np.abs(x)) ** 3


ACTIVATIONS: Registry[Activation] = Registry("activation", [
    Activation(
        "sigmoid", "logistic sigmoid 1/(1 + e^-s)", deferred("torch.nn:Sigmoid"), lambda a: a * (1 - a),
        lambda a: (a <= SATURATION_MARGIN) | (a >= 1 - SATURATION_MARGIN), "a <= 0.05 or a >= 0.95", (0.0, 1.0),
        Smooth(_expit, _sigmoid_d1, _sigmoid_d2), native=2, saturation="asymptote",
    ),
    Activation(
        "tanh", "hyperbolic tangent", deferred("torch.nn:Tanh"), lambda a: 1 - a * a, _near_plus_minus_one,
        "|a| >= 0.95", (-1.0, 1.0), Smooth(np.tanh, _tanh_d1, _tanh_d2), native=1, saturation="asymptote",
    ),
    Activation(
        "softsign", "s / (1 + |s|) (Bergstra et al. 2009)", deferred("torch.nn:Softsign"),
        lambda a: (1 - a.abs()) ** 2, _near_plus_minus_one, "|a| >= 0.95", (-1.0, 1.0),
        Smooth(_softsign, _softsign_d1, _softsign_d2), native=3, saturation="asymptote",
    ),
    Activation(
        "relu", "rectifier max(0, s)", deferred("torch.nn:ReLU"), lambda a: (a > 0).to(a.dtype), lambda a: a <= 0,
        "a == 0 (dead)", (0.0, 5.0), PiecewiseLinear(0.0), native=4, saturation="dead", suggested_init="he-normal",
    ),
    Activation(
        "leaky-relu", f"max(s, {LEAKY_SLOPE:g} s)", deferred("torch.nn:LeakyReLU", LEAKY_SLOPE),
        lambda a: (a > 0).to(a.dtype).clamp(min=LEAKY_SLOPE), lambda a: a <= 0, "a <= 0 (on the leaky side)",
        (-0.05, 5.0), PiecewiseLinear(LEAKY_SLOPE), native=5, suggested_init="he-normal",
    ),
    Activation(
        "linear", "the identity (a deep linear network)", deferred("torch.nn:Identity"),
        lambda a: a.new_ones(a.shape), lambda a: a.new_zeros(a.shape).bool(), "never", (-5.0, 5.0),
        PiecewiseLinear(1.0), native=0,
    ),
])


@functools.lru_cache(maxsize=None)
def _module_type(activation: Activation) -> type:
    return type(activation.module())


def activation_of(module: nn.Module) -> Activation | None:
    """The registered activation a module of any model computes (by the module's exact
    type), or None."""
    return next((a for a in ACTIVATIONS if type(module) is _module_type(a)), None)
