"""The activation functions of the studies, each declared once with everything depthlab
needs of it: the torch module, the derivative written in terms of the output (for the
fused training step), what "saturated" means (for the probes), the Gaussian form that
mean-field theory integrates, and the name of its form in the native kernels.

Glorot & Bengio (2010), section 2.3, compare the logistic sigmoid 1/(1+e^{-x}), the
hyperbolic tangent and the softsign x/(1+|x|); ReLU (Nair & Hinton 2010) and leaky ReLU
(Maas et al. 2013) are the modern references.

Add one with ``ACTIVATIONS.register(Activation(name=..., ...))``: training, probes,
theory and the command line then know it. Importing this module imports no torch.

An activation with parameters (a leaky ReLU's slope, ELU's α, softplus's β, hardtanh's
bounds, PReLU's learned slopes) is a :class:`Family` in :data:`FAMILIES`: at any value
it covers, it builds the :class:`Activation` φ is there, which the probe uses for a
model's ``LeakyReLU(0.2)`` or ``F.softplus(s, beta=2)``. At the values a registered
activation has, the member *is* that one (``LeakyReLU(0.01)`` is ``leaky-relu``,
``Hardtanh(0, 6)`` is ``relu6``); elsewhere it is named ``family:values``
(``leaky-relu:0.2``, ``hardtanh:-2,2``). Families are for the probe: ``depthlab train
--activation`` takes the registered names only, whose native kernels and run names they
are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from depthlab.errors import DepthlabError, unknown_choice
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
    ``LeakyReLU(0.2)`` or a ``Softplus(beta=2)`` is not the registered one (it is a
    :class:`Family` member), and a ``Hardtanh(0, 6)`` is ReLU6. ``derivative(a)``
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
    """The activation a module of any model computes, or None: a registered one (by the
    qualified name of its class, see :attr:`Activation.modules`), else the member of a
    :class:`Family` its attributes give (``LeakyReLU(0.2)`` is ``leaky-relu:0.2``)."""
    found = next((a for a in ACTIVATIONS if a.computed_by(module)), None)
    if found is not None:
        return found
    kind = type(module)
    family = next((f for f in FAMILIES if f"{kind.__module__}.{kind.__qualname__}" in f.modules), None)
    return None if family is None else family.member({name: getattr(module, name, None) for name, _ in
                                                      family.parameters})


# -- families: activations with parameters ---------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Family:
    """An activation φ_θ with parameters θ, each a member :class:`Activation`.

    ``parameters`` are θ's names and defaults (None: no default), as torch's module has
    them as attributes and its functional form takes them as arguments after the input,
    in that order. At the values a registered activation of one of the family's classes
    declares (:attr:`Activation.parameters`: ``leaky-relu`` at slope 0.01, ``relu6`` at
    Hardtanh's 0 and 6), the member is that activation; ``known`` maps further values to
    the registered activation φ is there (a leaky ReLU of slope 0 is ReLU). At other
    values where ``accepts(*θ)`` (``rule`` in words), the member is ``build(name, *θ)``,
    named ``family:values`` (see :meth:`spell`; ``written=0``: learned values, never in
    the name). ``modules`` are the qualified names of torch's classes of this family."""

    name: str
    summary: str
    parameters: tuple[tuple[str, Any], ...]
    rule: str
    accepts: Callable[..., bool]
    build: Callable[..., Activation]
    known: tuple[tuple[tuple[Any, ...], str], ...] = ()
    modules: tuple[str, ...] = ()
    written: int = 1

    def member(self, given: Mapping[str, Any]) -> Activation | None:
        """φ at the values ``given`` (by parameter name; None or absent: the default), or
        None where the family does not cover them."""
        values = [default if given.get(name) is None else given[name] for name, default in self.parameters]
        if any(value is None for value in values):
            return None
        registered = self._registered(dict(zip([name for name, _ in self.parameters], values, strict=True)))
        if registered is not None:
            return registered
        if self.written:
            try:
                values = [_plain(value, default) for value, (_, default) in zip(values, self.parameters, strict=True)]
            except (TypeError, ValueError, RuntimeError):
                return None
        if not self.accepts(*values):
            return None
        return self.build(self.spell(values), *values)

    def _registered(self, values: dict[str, Any]) -> Activation | None:
        """The registered activation φ is at these values: one of this family's classes
        declaring them (:attr:`Activation.parameters`), or one of :attr:`known`."""
        for activation in ACTIVATIONS:
            declared = dict(activation.parameters)
            if declared and set(activation.modules) & set(self.modules) and declared.keys() <= values.keys() and \
                    all(same_value(values[name], value) for name, value in declared.items()):
                return activation
        for at, entry in self.known:
            if entry in ACTIVATIONS and all(same_value(v, k) for v, k in zip(values.values(), at, strict=True)):
                return ACTIVATIONS.get(entry)
        return None

    def spell(self, values: list[Any]) -> str:
        """The member's name: ``family:v1,v2`` (``leaky-relu:0.2``, ``hardtanh:0,1``), its
        first :attr:`written` values and any later ones not at their defaults; the
        family's name alone at its defaults."""
        defaults = [default for _, default in self.parameters]
        if not self.written or all(same_value(v, d) for v, d in zip(values, defaults, strict=True)):
            return self.name
        shown = list(values)
        while len(shown) > self.written and same_value(shown[-1], defaults[len(shown) - 1]):
            shown.pop()
        return f"{self.name}:{','.join(map(_number, shown))}"

    def spelling(self) -> str:
        """How a member is named, in words: ``hardtanh:MIN_VAL,MAX_VAL``."""
        return f"{self.name}:" + ",".join(name.upper() for name, default in self.parameters
                                          if not isinstance(default, bool))

    def given(self, values: Mapping[str, Any]) -> str:
        """The values, in words: ``negative_slope=0.2``."""
        return ", ".join(f"{name}={values.get(name, default)!r}" for name, default in self.parameters)


def _plain(value: Any, default: Any) -> Any:
    """A parameter's value as its default's type (a number as a float, a one-element
    tensor as well)."""
    if isinstance(default, str):
        return str(value)
    if isinstance(default, bool):
        return bool(value)
    return float(value)


def _number(value: Any) -> str:
    """A value as short as it is exact: 0.2, 2, -2 (and repr where ``g`` would round)."""
    if isinstance(value, str):
        return value
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


def activation_named(name: str) -> Activation:
    """The activation a name gives: a registered one (``relu``) or a family member
    (``leaky-relu:0.2``, ``hardtanh:-2,2``, ``softplus:2``), as the probe names them."""
    if name in ACTIVATIONS:
        return ACTIVATIONS.get(name)
    head, _, argument = str(name).partition(":")
    if head not in FAMILIES or not FAMILIES.get(head).written and argument:
        spellings = [*ACTIVATIONS.choices(), *(f.spelling() for f in FAMILIES if f.written)]
        raise unknown_choice("activation", name, spellings)
    family = FAMILIES.get(head)
    texts = argument.split(",") if argument else []
    names = [n for n, _ in family.parameters]
    if len(texts) > len(names):
        plural = "s" * (len(names) > 1)
        raise DepthlabError(f"activation '{name}': {family.name} takes {len(names)} value{plural} at most "
                            f"({', '.join(names)})")
    try:
        given = {n: _plain(text, default) for text, (n, default) in zip(texts, family.parameters, strict=False)}
    except ValueError:
        raise DepthlabError(f"activation '{name}': {family.name}'s values are numbers "
                            f"({', '.join(names)})") from None
    member = family.member(given)
    if member is None:
        raise DepthlabError(f"activation '{name}': {family.name} needs {family.rule} ({family.given(given)})")
    return member


def _leaky(name: str, slope: float, summary: str = "") -> Activation:
    return Activation(
        name=name, summary=summary or f"max(s, {slope:g} s)", module=deferred("torch.nn:LeakyReLU", slope),
        derivative=lambda a: _where_positive(a, 1.0, a.new_full(a.shape, slope)), saturated=lambda s, a: a <= 0,
        saturation_rule="a <= 0 (on the leaky side)", value_range=(-5.0 * slope, 5.0),
        gaussian=PiecewiseLinear(slope), suggested_init="he-normal", parameters=(("negative_slope", slope),),
    )


def _rrelu(name: str, lower: float, upper: float, training: bool) -> Activation:
    """RReLU (Xu et al. 2015) in evaluation: a leaky ReLU of slope (lower + upper)/2."""
    slope = (lower + upper) / 2
    return _leaky(name, slope, f"RReLU in evaluation: max(s, {slope:g} s), the slope halfway in "
                               f"[{lower:g}, {upper:g}]")


def _elu_member(name: str, alpha: float) -> Activation:
    return Activation(
        name=name, summary=f"s, or {alpha:g}(e^s - 1) below 0", module=deferred("torch.nn:ELU", alpha),
        derivative=lambda a: _where_positive(a, 1.0, a + alpha),
        saturated=lambda s, a: a <= -(1 - SATURATION_MARGIN) * alpha,
        saturation_rule=f"a <= {-(1 - SATURATION_MARGIN) * alpha:g} (near the bound {-alpha:g})",
        value_range=(-alpha, 5.0),
        gaussian=Smooth(lambda x: _elu(x, alpha), lambda x: _elu_d1(x, alpha), lambda x: _elu_d2(x, alpha)),
        saturation="asymptote", suggested_init="he-normal", parameters=(("alpha", alpha),),
    )


def _celu(name: str, alpha: float) -> Activation:
    """CELU (Barron 2017): s, or α(e^{s/α} − 1) below 0, which is α·ELU(s/α)."""
    return Activation(
        name=name, summary=f"s, or {alpha:g}(e^(s/{alpha:g}) - 1) below 0 (Barron 2017)",
        module=deferred("torch.nn:CELU", alpha), derivative=lambda a: _where_positive(a, 1.0, a / alpha + 1),
        saturated=lambda s, a: a <= -(1 - SATURATION_MARGIN) * alpha,
        saturation_rule=f"a <= {-(1 - SATURATION_MARGIN) * alpha:g} (near the bound {-alpha:g})",
        value_range=(-alpha, 5.0),
        gaussian=Smooth(lambda x: alpha * _elu(x / alpha), lambda x: _elu_d1(x / alpha),
                        lambda x: _elu_d2(x / alpha) / alpha),
        saturation="asymptote", suggested_init="he-normal", parameters=(("alpha", alpha),),
    )


SOFTPLUS_EXACT = 20.0
"""Softplus's threshold from which φ' is a function of a (torch's default): above it, φ
is linear where βs > threshold, and the outputs near threshold/β are reached from both
sides only within e^{-threshold}/β."""


def _softplus_member(name: str, beta: float, threshold: float) -> Activation:
    """log(1 + e^{βs})/β, and s where βs > threshold (torch's Softplus); φ' = σ(βs) =
    1 − e^{−βa}."""
    exact = threshold >= SOFTPLUS_EXACT
    return Activation(
        name=name, summary=f"log(1 + e^({beta:g} s))/{beta:g}, linear beyond {beta:g} s > {threshold:g}",
        module=deferred("torch.nn:Softplus", beta, threshold),
        derivative=(lambda a: -(-beta * a).expm1()) if exact else None, saturated=_negative_tail(-5.0 / beta),
        saturation_rule=f"s <= {-5.0 / beta:g} (the flat negative tail, φ' = σ({beta:g} s) < 0.007)",
        value_range=(0.0, 5.0),
        gaussian=Smooth(lambda x: np.logaddexp(0, beta * x) / beta, lambda x: _expit(beta * x),
                        lambda x: beta * _sigmoid_d1(beta * x)) if exact else None,
        saturation="asymptote", suggested_init="he-normal", parameters=(("beta", beta), ("threshold", threshold)),
    )


def _hardtanh(name: str, low: float, high: float) -> Activation:
    dead = low == 0
    return Activation(
        name=name, summary=f"clamp(s, {low:g}, {high:g})", module=deferred("torch.nn:Hardtanh", low, high),
        derivative=lambda a: ((a > low) & (a < high)).to(a.dtype), saturated=lambda s, a: (a <= low) | (a >= high),
        saturation_rule=f"a <= {low:g}{' (dead)' if dead else ''} or a >= {high:g} (clipped)",
        value_range=(low, high), saturation="dead" if dead else "asymptote",
        suggested_init="he-normal" if dead else "normalized", parameters=(("min_val", low), ("max_val", high)),
    )


def _threshold(name: str, threshold: float, value: float) -> Activation:
    """s where s > threshold, else ``value`` (torch's Threshold): φ' = 0 at or below."""
    return Activation(
        name=name, summary=f"s where s > {threshold:g}, else {value:g}",
        module=deferred("torch.nn:Threshold", threshold, value),
        derivative=(lambda a: (a > threshold).to(a.dtype)) if value <= threshold else None,
        saturated=_negative_tail(threshold), saturation_rule=f"s <= {threshold:g} (set to {value:g}: dead)",
        value_range=(min(value, threshold), max(threshold, 0.0) + 5.0), saturation="dead",
        suggested_init="he-normal", parameters=(("threshold", threshold), ("value", value)),
    )


def _per_channel(slopes: Tensor, a: Tensor) -> Tensor:
    """PReLU's slopes shaped to act on ``a``'s channels (its dimension 1; one slope: all)."""
    if slopes.numel() == 1 or a.dim() < 2:
        return slopes.reshape(()).to(a)
    return slopes.to(a).reshape(1, -1, *[1] * (a.dim() - 2))


def _prelu_module(slopes: Tensor) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        from torch import nn

        module = nn.PReLU(slopes.numel())
        module.weight.data.copy_(slopes)
        return module
    return make


def _prelu(name: str, weight: Tensor) -> Activation:
    """PReLU (He et al. 2015): max(s, w s) with learned slopes w, one or one per channel,
    as they are at this measure."""
    slopes = weight.detach().clone()
    positive = bool((slopes > 0).all())
    widest = float(slopes.abs().max()) if slopes.numel() else 0.0
    return Activation(
        name=name, summary=f"max(s, w s) with {slopes.numel()} learned slope(s) w (He et al. 2015)",
        module=_prelu_module(slopes),
        derivative=(lambda a: _where_positive(a, 1.0, _per_channel(slopes, a).expand(a.shape))) if positive else None,
        saturated=_negative_tail(0.0), saturation_rule="s <= 0 (on the learned-slope side)",
        value_range=(-5.0 * widest, 5.0), gaussian=PiecewiseLinear(float(slopes)) if slopes.numel() == 1 else None,
        suggested_init="he-normal",
    )


FAMILIES: Registry[Family] = Registry("activation family", [
    Family(name="leaky-relu", summary="max(s, α s) for a slope α > 0 (Maas et al. 2013)",
           parameters=(("negative_slope", LEAKY_SLOPE),), rule="negative_slope > 0",
           accepts=lambda slope: slope > 0, build=_leaky,
           known=(((0.0,), "relu"),), modules=_torch("LeakyReLU")),
    Family(name="rrelu", summary="RReLU in evaluation, a leaky ReLU of slope (lower + upper)/2 (Xu et al. 2015)",
           parameters=(("lower", 1 / 8), ("upper", 1 / 3), ("training", False)),
           rule="0 <= lower <= upper, not training (a random slope per unit)",
           accepts=lambda lower, upper, training: 0 <= lower <= upper and upper > 0 and not training,
           build=_rrelu, modules=_torch("RReLU"), written=2),
    Family(name="prelu", summary="max(s, w s), learned slopes w (He et al. 2015)", parameters=(("weight", None),),
           rule="a slope tensor", accepts=lambda weight: True, build=_prelu, modules=_torch("PReLU"),
           written=0),
    Family(name="elu", summary="s, or α(e^s - 1) below 0, for α > 0", parameters=(("alpha", 1.0),),
           rule="alpha > 0", accepts=lambda alpha: alpha > 0, build=_elu_member, modules=_torch("ELU")),
    Family(name="celu", summary="s, or α(e^(s/α) - 1) below 0, for α > 0", parameters=(("alpha", 1.0),),
           rule="alpha > 0", accepts=lambda alpha: alpha > 0, build=_celu, modules=_torch("CELU")),
    Family(name="softplus", summary="log(1 + e^(β s))/β for β > 0, linear beyond β s > threshold",
           parameters=(("beta", 1.0), ("threshold", SOFTPLUS_EXACT)), rule="beta > 0",
           accepts=lambda beta, threshold: beta > 0, build=_softplus_member, modules=_torch("Softplus")),
    Family(name="hardtanh", summary="clamp(s, min_val, max_val)", parameters=(("min_val", -1.0), ("max_val", 1.0)),
           rule="min_val < max_val", accepts=lambda low, high: low < high, build=_hardtanh,
           modules=_torch("Hardtanh", "ReLU6"), written=2),
    Family(name="threshold", summary="s where s > threshold, else value",
           parameters=(("threshold", None), ("value", None)), rule="finite threshold and value",
           accepts=lambda threshold, value: bool(np.isfinite(threshold) and np.isfinite(value)), build=_threshold,
           known=(((0.0, 0.0), "relu"),), modules=_torch("Threshold"), written=2),
    Family(name="gelu", summary="s Φ(s), exact or by its tanh approximation", parameters=(("approximate", "none"),),
           rule="approximate 'none' or 'tanh'", accepts=lambda approximate: False, build=None,
           modules=_torch("GELU"), written=0),
])
"""The activations with parameters; see :class:`Family`."""
