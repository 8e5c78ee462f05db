"""The activation functions of the studies, each declared once with everything depthlab
needs of it: the torch module, the derivative written in terms of the output (for the
fused training step), what "saturated" means (for the probes), the Gaussian form that
mean-field theory integrates, and the name of its form in the native kernels.

Glorot & Bengio (2010), section 2.3, compare the logistic sigmoid 1/(1+e^{-x}), the
hyperbolic tangent and the softsign x/(1+|x|); ReLU (Nair & Hinton 2010) and leaky ReLU
(Maas et al. 2013) are the modern references.

Add one with ``ACTIVATIONS.register(Activation(name=..., ...))``: training, probes,
theory and the command line then know it. Importing this module imports no torch.
"""

from __future__ import annotations

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


@dataclass(frozen=True, kw_only=True)
class Activation:
    """An elementwise nonlinearity a = φ(s).

    ``module()`` makes a torch module computing φ; ``modules`` are the qualified class
    names of the modules of any model that compute it, at the ``parameters`` (name,
    value) φ has, read from a module's attributes and a torch function's arguments of
    those names (``negative_slope``, ``alpha``, GELU's ``approximate``…): a
    ``LeakyReLU(0.2)`` or a ``Softplus(beta=2)`` is not the registered one, and a
    ``Hardtanh(0, 6)`` is ReLU6. ``derivative(a)``
    gives φ'(s) from the output a alone, so the fused step needs no stored
    pre-activations (None where φ' is not a function of a: that activation trains with
    autograd). ``saturated(s, a)`` marks the units in the flat part of φ, as
    ``saturation_rule`` says in words; ``value_range`` is the fixed histogram range.
    ``gaussian`` is what mean-field theory integrates (None: theory does not cover it);
    ``native`` names its form in the C kernels (a member of ``enum activation`` in
    ``fused_mlp.c``, as :mod:`depthlab.training.kernels.ids` reads it: ``"tanh"``; None:
    the fused step runs it on torch operations). ``saturation`` says what its saturated
    units are, for the diagnosis: ``"asymptote"`` (in a flat part of φ, where φ' ≈ 0),
    ``"dead"`` (exactly 0, where φ' = 0) or ``""`` (harmless); ``suggested_init`` is the
    weight init that keeps its signal's scale. Every field is given by keyword.
    """

    name: str
    summary: str
    module: Callable[[], nn.Module]
    derivative: Callable[[Tensor], Tensor] | None
    saturated: Callable[[Tensor, Tensor], Tensor]
    saturation_rule: str
    value_range: tuple[float, float]
    gaussian: PiecewiseLinear | Smooth | None = None
    native: str | None = None
    saturation: str = ""
    suggested_init: str = "normalized"
    modules: tuple[str, ...] = ()
    parameters: tuple[tuple[str, float | str], ...] = ()

    def __call__(self, s: Tensor) -> Tensor:
        return self.module()(s)

    def computed_by(self, module: nn.Module) -> bool:
        """Whether ``module`` (of any model) computes this activation: its class is one of
        :attr:`modules` and its attributes named in :attr:`parameters` (where it has them)
        have their values."""
        kind = type(module)
        return f"{kind.__module__}.{kind.__qualname__}" in self.modules and \
            all(same_value(getattr(module, name, value), value) for name, value in self.parameters)


def same_value(given: object, wanted: float | str) -> bool:
    """Whether a parameter's value is ``wanted`` (numbers by value: 0 and 0.0 alike)."""
    if isinstance(wanted, str):
        return given == wanted
    try:
        return float(given) == wanted
    except (TypeError, ValueError, RuntimeError):
        return False


def _near_plus_minus_one(s: Tensor, a: Tensor) -> Tensor:
    return a.abs() >= 1 - SATURATION_MARGIN


def _torch(*names: str) -> tuple[str, ...]:
    return tuple(f"torch.nn.modules.activation.{name}" for name in names)


def _transformers(*names: str) -> tuple[str, ...]:
    return tuple(f"transformers.activations.{name}" for name in names)


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


SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805
"""SELU's α and λ (Klambauer et al. 2017), as torch.nn.SELU has them."""

_ndtr = deferred("scipy.special:ndtr")


def _elu(x, alpha=1.0, scale=1.0):
    return scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _elu_d1(x, alpha=1.0, scale=1.0):
    return scale * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0)))


def _elu_d2(x, alpha=1.0, scale=1.0):
    return scale * np.where(x > 0, 0.0, alpha * np.exp(np.minimum(x, 0)))


def _normal_pdf(x):
    return np.exp(-x * x / 2) / np.sqrt(2 * np.pi)


def _gelu(x):
    return x * _ndtr(x)


def _gelu_d1(x):
    return _ndtr(x) + x * _normal_pdf(x)


def _gelu_d2(x):
    return (2 - x * x) * _normal_pdf(x)


def _silu(x):
    return x * _expit(x)


def _silu_d1(x):
    sig = _expit(x)
    return sig * (1 + x * (1 - sig))


def _silu_d2(x):
    sig = _expit(x)
    return sig * (1 - sig) * (2 + x * (1 - 2 * sig))


def _softplus(x):
    return np.logaddexp(0, x)


def _softplus_d2(x):
    return _sigmoid_d1(x)


def _where_positive(a: Tensor, positive: float, otherwise: Tensor) -> Tensor:
    """``positive`` where a > 0, ``otherwise`` elsewhere (ELU's derivatives from a)."""
    return otherwise.where(a <= 0, a.new_tensor(positive))


def _negative_tail(bound: float) -> Callable[[Tensor, Tensor], Tensor]:
    """Saturated where the input is at or below ``bound``, in φ's flat negative tail."""
    return lambda s, a: s <= bound


ACTIVATIONS: Registry[Activation] = Registry("activation", [
    Activation(
        name="sigmoid", summary="logistic sigmoid 1/(1 + e^-s)", module=deferred("torch.nn:Sigmoid"),
        derivative=lambda a: a * (1 - a),
        saturated=lambda s, a: (a <= SATURATION_MARGIN) | (a >= 1 - SATURATION_MARGIN),
        saturation_rule="a <= 0.05 or a >= 0.95", value_range=(0.0, 1.0),
        gaussian=Smooth(_expit, _sigmoid_d1, _sigmoid_d2), native="sigmoid", saturation="asymptote",
        modules=_torch("Sigmoid"),
    ),
    Activation(
        name="tanh", summary="hyperbolic tangent", module=deferred("torch.nn:Tanh"), derivative=lambda a: 1 - a * a,
        saturated=_near_plus_minus_one, saturation_rule="|a| >= 0.95", value_range=(-1.0, 1.0),
        gaussian=Smooth(np.tanh, _tanh_d1, _tanh_d2), native="tanh", saturation="asymptote",
        modules=_torch("Tanh"),
    ),
    Activation(
        name="softsign", summary="s / (1 + |s|) (Bergstra et al. 2009)", module=deferred("torch.nn:Softsign"),
        derivative=lambda a: (1 - a.abs()) ** 2, saturated=_near_plus_minus_one, saturation_rule="|a| >= 0.95",
        value_range=(-1.0, 1.0), gaussian=Smooth(_softsign, _softsign_d1, _softsign_d2), native="softsign",
        saturation="asymptote", modules=_torch("Softsign"),
    ),
    Activation(
        name="relu", summary="rectifier max(0, s)", module=deferred("torch.nn:ReLU"),
        derivative=lambda a: (a > 0).to(a.dtype), saturated=lambda s, a: a <= 0, saturation_rule="a == 0 (dead)",
        value_range=(0.0, 5.0), gaussian=PiecewiseLinear(0.0), native="relu", saturation="dead",
        suggested_init="he-normal", modules=_torch("ReLU"),
    ),
    Activation(
        name="leaky-relu", summary=f"max(s, {LEAKY_SLOPE:g} s)", module=deferred("torch.nn:LeakyReLU", LEAKY_SLOPE),
        derivative=lambda a: (a > 0).to(a.dtype).clamp(min=LEAKY_SLOPE), saturated=lambda s, a: a <= 0,
        saturation_rule="a <= 0 (on the leaky side)", value_range=(-0.05, 5.0),
        gaussian=PiecewiseLinear(LEAKY_SLOPE), native="leaky-relu", suggested_init="he-normal",
        modules=_torch("LeakyReLU"), parameters=(("negative_slope", LEAKY_SLOPE),),
    ),
    Activation(
        name="linear", summary="the identity (a deep linear network; no module of a model counts as it)",
        module=deferred("torch.nn:Identity"), derivative=lambda a: a.new_ones(a.shape),
        saturated=lambda s, a: a.new_zeros(a.shape).bool(), saturation_rule="never", value_range=(-5.0, 5.0),
        gaussian=PiecewiseLinear(1.0), native="linear",
    ),
    Activation(
        name="hardtanh", summary="clamp(s, -1, 1)", module=deferred("torch.nn:Hardtanh"),
        derivative=lambda a: (a.abs() < 1).to(a.dtype), saturated=lambda s, a: a.abs() >= 1,
        saturation_rule="|a| >= 1 (clipped)", value_range=(-1.0, 1.0), saturation="asymptote",
        modules=_torch("Hardtanh"), parameters=(("min_val", -1.0), ("max_val", 1.0)),
    ),
    Activation(
        name="relu6", summary="clamp(s, 0, 6) (Howard et al. 2017)", module=deferred("torch.nn:ReLU6"),
        derivative=lambda a: ((a > 0) & (a < 6)).to(a.dtype), saturated=lambda s, a: (a <= 0) | (a >= 6),
        saturation_rule="a == 0 (dead) or a == 6", value_range=(0.0, 6.0), saturation="dead",
        suggested_init="he-normal", modules=_torch("ReLU6", "Hardtanh"),
        parameters=(("min_val", 0.0), ("max_val", 6.0)),
    ),
    Activation(
        name="elu", summary="s, or e^s - 1 below 0 (Clevert et al. 2016)", module=deferred("torch.nn:ELU"),
        derivative=lambda a: _where_positive(a, 1.0, a + 1), saturated=lambda s, a: a <= -1 + SATURATION_MARGIN,
        saturation_rule="a <= -0.95 (near the bound -1)", value_range=(-1.0, 5.0),
        gaussian=Smooth(_elu, _elu_d1, _elu_d2), saturation="asymptote", suggested_init="he-normal",
        modules=_torch("ELU", "CELU"), parameters=(("alpha", 1.0),),
    ),
    Activation(
        name="selu", summary="λ ELU_α(s), self-normalizing (Klambauer et al. 2017)", module=deferred("torch.nn:SELU"),
        derivative=lambda a: _where_positive(a, SELU_SCALE, a + SELU_SCALE * SELU_ALPHA),
        saturated=lambda s, a: a <= -(1 - SATURATION_MARGIN) * SELU_SCALE * SELU_ALPHA,
        saturation_rule="a <= -0.95 λα (near the bound -λα)", value_range=(-1.8, 5.0),
        gaussian=Smooth(lambda x: _elu(x, SELU_ALPHA, SELU_SCALE), lambda x: _elu_d1(x, SELU_ALPHA, SELU_SCALE),
                        lambda x: _elu_d2(x, SELU_ALPHA, SELU_SCALE)),
        saturation="asymptote", suggested_init="lecun-normal", modules=_torch("SELU"),
    ),
    Activation(
        name="gelu", summary="s Φ(s) (Hendrycks & Gimpel 2016)", module=deferred("torch.nn:GELU"), derivative=None,
        saturated=_negative_tail(-3.0), saturation_rule="s <= -3 (the flat negative tail, |φ'| < 0.012)",
        value_range=(-0.2, 5.0), gaussian=Smooth(_gelu, _gelu_d1, _gelu_d2), saturation="asymptote",
        suggested_init="he-normal", modules=(*_torch("GELU"), *_transformers("GELUActivation")),
        parameters=(("approximate", "none"),),
    ),
    Activation(
        name="gelu-tanh", summary="GELU's tanh approximation (GPT-2)",
        module=deferred("torch.nn:GELU", approximate="tanh"), derivative=None, saturated=_negative_tail(-3.0),
        saturation_rule="s <= -3 (the flat negative tail, |φ'| < 0.012)", value_range=(-0.2, 5.0),
        saturation="asymptote", suggested_init="he-normal",
        modules=(*_torch("GELU"), *_transformers("NewGELUActivation", "GELUTanh", "PytorchGELUTanh",
                                                 "FastGELUActivation")),
        parameters=(("approximate", "tanh"),),
    ),
    Activation(
        name="silu", summary="s σ(s), swish (Ramachandran et al. 2017)", module=deferred("torch.nn:SiLU"),
        derivative=None, saturated=_negative_tail(-5.0),
        saturation_rule="s <= -5 (the flat negative tail, |φ'| < 0.027)", value_range=(-0.3, 5.0),
        gaussian=Smooth(_silu, _silu_d1, _silu_d2), saturation="asymptote", suggested_init="he-normal",
        modules=(*_torch("SiLU"), *_transformers("SiLUActivation")),
    ),
    Activation(
        name="mish", summary="s tanh(softplus(s)) (Misra 2019)", module=deferred("torch.nn:Mish"), derivative=None,
        saturated=_negative_tail(-5.0), saturation_rule="s <= -5 (the flat negative tail, |φ'| < 0.03)",
        value_range=(-0.31, 5.0), saturation="asymptote", suggested_init="he-normal",
        modules=(*_torch("Mish"), *_transformers("MishActivation")),
    ),
    Activation(
        name="hardswish", summary="s relu6(s + 3)/6 (Howard et al. 2019)", module=deferred("torch.nn:Hardswish"),
        derivative=None, saturated=_negative_tail(-3.0), saturation_rule="s <= -3 (exactly 0: dead)",
        value_range=(-0.4, 5.0), saturation="dead", suggested_init="he-normal", modules=_torch("Hardswish"),
    ),
    Activation(
        name="hardsigmoid", summary="relu6(s + 3)/6", module=deferred("torch.nn:Hardsigmoid"),
        derivative=lambda a: ((a > 0) & (a < 1)).to(a.dtype) / 6, saturated=lambda s, a: (a <= 0) | (a >= 1),
        saturation_rule="a == 0 or a == 1 (clipped)", value_range=(0.0, 1.0), saturation="asymptote",
        modules=_torch("Hardsigmoid"),
    ),
    Activation(
        name="softplus", summary="log(1 + e^s)", module=deferred("torch.nn:Softplus"),
        derivative=lambda a: -(-a).expm1(), saturated=_negative_tail(-5.0),
        saturation_rule="s <= -5 (the flat negative tail, φ' = σ(s) < 0.007)", value_range=(0.0, 5.0),
        gaussian=Smooth(_softplus, _expit, _softplus_d2), saturation="asymptote", suggested_init="he-normal",
        modules=_torch("Softplus"), parameters=(("beta", 1.0), ("threshold", 20.0)),
    ),
])


def activation_of(module: nn.Module) -> Activation | None:
    """The registered activation a module of any model computes (by the qualified name of
    its class, see :attr:`Activation.modules`), or None."""
    return next((a for a in ACTIVATIONS if a.computed_by(module)), None)
