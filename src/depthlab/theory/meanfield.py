"""Mean-field theory of signal propagation through a deep random network.

A layer computes h^l = W^l φ(h^{l-1}) + b^l with W_ij ~ (0, σ_w²/n_in) and b_i ~ (0, σ_b²).
For wide layers each pre-activation is Gaussian, and two numbers per layer describe the
signal (Poole et al. 2016, "Exponential expressivity in deep neural networks through
transient chaos"; Schoenholz et al. 2017, "Deep information propagation"):

- the length map   q^l = σ_w² E_z[φ(√q^{l-1} z)²] + σ_b²,  z ~ N(0, 1), with fixed point q*;
- the correlation map  c^l = (σ_w² E[φ(u1) φ(u2)] + σ_b²) / q*,  u1 = √q* z1,
  u2 = √q* (c^{l-1} z1 + √(1 - c^{l-1}²) z2), with stable fixed point c*;

and the slope of the correlation map at c = 1, χ₁ = σ_w² E[φ'(√q* z)²], splits the plane
(σ_w², σ_b²) into an ordered phase (χ₁ < 1: inputs converge, gradients vanish) and a
chaotic one (χ₁ > 1: inputs decorrelate, gradients explode). Glorot & Bengio's (2010)
variance argument is the same recursion for the back-propagated gradient.

Expectations use closed forms for the piecewise-linear activations (linear, ReLU, leaky
ReLU: the arc-cosine kernel of Cho & Saul 2009) and composite Gauss-Legendre quadrature
otherwise, with panels graded toward the kink of φ at 0 and toward the width 1/√q of φ's
transition: plain Gauss-Hermite misses E[softsign'(√q z)²] by 5 % at q = 1 with 201
nodes, the graded rule by 1e-12.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from depthlab.errors import DepthlabError
from depthlab.nets.activations import ACTIVATIONS, PiecewiseLinear
from depthlab.nets.init import INITS

ActivationLike = str | Callable[[np.ndarray], np.ndarray]

TRAINABLE_DEPTH_FACTOR = 6.0
"""Schoenholz et al. (2017) find random networks trainable up to about 6 ξ_c layers."""

CRITICAL_TOLERANCE = 1e-3
"""|χ₁ - 1| below which :func:`classify_phase` calls a point critical."""

_Z_MAX = 10.0  # P(|z| > 10) = 1.5e-23
_UNIFORM_CUTS = np.linspace(-_Z_MAX, _Z_MAX, 21)
_LEGENDRE_NODES, _LEGENDRE_WEIGHTS = np.polynomial.legendre.leggauss(10)
_MAX_LEVELS = 20  # the finest panel is 2^-20 ≈ 1e-6 wide


def _levels(scale) -> int:
    """How many halvings of a unit panel resolve a feature as narrow as min(scale)."""
    smallest = np.min(scale, initial=1.0)
    if not smallest > 2.0**-_MAX_LEVELS:
        return _MAX_LEVELS
    return max(0, math.ceil(-math.log2(smallest)))


def _normal_rule(center, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z and weights w with Σ w h(z) ≈ E[h(z)], z ~ N(0, 1), for an h with a kink
    at ``center`` (broadcast; the nodes run along a new last axis): 10-point
    Gauss-Legendre on unit panels over [-10, 10], cut at the center and at center ± 2^-j
    for j = 0..``levels`` to resolve features down to 2^-levels wide."""
    center = np.clip(center, -_Z_MAX, _Z_MAX)[..., None]
    offsets = 2.0 ** -np.arange(levels + 1)
    uniform = np.broadcast_to(_UNIFORM_CUTS, center.shape[:-1] + _UNIFORM_CUTS.shape)
    cuts = np.concatenate([uniform, center, center - offsets, center + offsets], axis=-1)
    cuts = np.sort(np.clip(cuts, -_Z_MAX, _Z_MAX), axis=-1)
    left, half = cuts[..., :-1, None], (cuts[..., 1:, None] - cuts[..., :-1, None]) / 2
    z = (left + half * (1 + _LEGENDRE_NODES)).reshape(center.shape[:-1] + (-1,))
    w = (half * _LEGENDRE_WEIGHTS).reshape(z.shape) * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    return z, w


@functools.lru_cache(maxsize=None)
def _centered_rule(levels: int) -> tuple[np.ndarray, np.ndarray]:
    return _normal_rule(0.0, levels)


def gaussian_mean(f: Callable, q) -> np.ndarray:
    """E_z[f(√q z)], z ~ N(0, 1), by graded Gauss-Legendre quadrature (panels down to the
    width 1/√q of φ's transition); broadcasts over q."""
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore"):
        z, w = _centered_rule(_levels(1 / np.sqrt(q)))
    return f(np.sqrt(q)[..., None] * z) @ w


def gaussian_mean2(f: Callable, g: Callable, q, c) -> np.ndarray:
    """E[f(u1) g(u2)] for u1 = √q z1, u2 = √q (c z1 + √(1-c²) z2), z1, z2 ~ N(0, 1)
    independent: the inner integral over z2 is cut at the kink of g, the outer one graded
    toward 0 down to √(1-c²), the width over which the inner mean smooths that kink."""
    q, c = np.broadcast_arrays(np.asarray(q, dtype=float), np.clip(c, -1.0, 1.0))
    root, s = np.sqrt(q), np.sqrt(1 - c * c)
    with np.errstate(divide="ignore", invalid="ignore"):
        z1, w1 = _centered_rule(_levels(np.minimum(1 / root, s)))
        kink = np.nan_to_num(-c[..., None] * z1 / s[..., None], nan=0.0)  # 0/0 at c = ±1, z1 = 0
        z2, w2 = _normal_rule(kink, _levels(1 / (root * s)))
    x1 = root[..., None] * z1
    x2 = root[..., None, None] * (c[..., None, None] * z1[:, None] + s[..., None, None] * z2)
    return (f(x1) * (g(x2) * w2).sum(-1)) @ w1


class PiecewiseLinearMoments:
    """Gaussian moments of φ(x) = x for x ≥ 0, a·x for x < 0 (linear: a = 1, ReLU: a = 0),
    in closed form. With k(c) = (√(1-c²) + (π - arccos c) c) / 2π, the arc-cosine kernel
    E[relu(u1) relu(u2)] / q (Cho & Saul 2009), and relu(-u) correlated as relu(u):

        E[φ(u1) φ(u2)] = q ((1 + a²) k(c) - 2a k(-c)),
        E[φ'(u1) φ'(u2)] = a + (1 - a)² (π - arccos c) / 2π,
        E[φ(u)²] = q (1 + a²) / 2,  E[φ'(u)^{2m}] = (1 + a^{2m}) / 2,  φ'' = 0.
    """

    def __init__(self, negative_slope: float):
        self.a = negative_slope

    def second_moment(self, q):
        return np.asarray(q, dtype=float) * (1 + self.a**2) / 2

    def derivative_moment(self, q, power: int = 2):
        return np.broadcast_to((1 + self.a**power) / 2, np.shape(q)).astype(float)

    def curvature_moment(self, q):
        return np.zeros(np.shape(q))

    def normalized_kernel(self, q, c):
        def k(c):
            return (np.sqrt(1 - c * c) + (np.pi - np.arccos(c)) * c) / (2 * np.pi)
        c = np.clip(c, -1.0, 1.0) + np.zeros(np.shape(q))
        return (1 + self.a**2) * k(c) - 2 * self.a * k(-c)

    def derivative_kernel(self, q, c):
        c = np.clip(c, -1.0, 1.0) + np.zeros(np.shape(q))
        return self.a + (1 - self.a) ** 2 * (np.pi - np.arccos(c)) / (2 * np.pi)


@dataclass(frozen=True)
class QuadratureMoments:
    """Gaussian moments of a smooth φ with derivatives φ', φ'', by quadrature."""

    phi: Callable
    dphi: Callable
    d2phi: Callable

    def second_moment(self, q):
        return gaussian_mean(lambda x: self.phi(x) ** 2, q)

    def derivative_moment(self, q, power: int = 2):
        return gaussian_mean(lambda x: self.dphi(x) ** power, q)

    def curvature_moment(self, q):
        return gaussian_mean(lambda x: self.phi(x) * self.d2phi(x), q)

    def normalized_kernel(self, q, c):
        return gaussian_mean2(self.phi, self.phi, q, c) / np.asarray(q, dtype=float)

    def derivative_kernel(self, q, c):
        return gaussian_mean2(self.dphi, self.dphi, q, c)


def _finite_difference_moments(phi: Callable) -> QuadratureMoments:
    def step(x):
        return 1e-4 * (1 + np.abs(x))

    def dphi(x):
        h = step(x)
        return (phi(x + h) - phi(x - h)) / (2 * h)

    def d2phi(x):
        h = step(x)
        return (phi(x + h) - 2 * phi(x) + phi(x - h)) / (h * h)

    return QuadratureMoments(phi, dphi, d2phi)


def activation_moments(activation: ActivationLike) -> PiecewiseLinearMoments | QuadratureMoments:
    """The Gaussian moments of an activation given by name (its registry entry's
    ``gaussian`` form: closed forms for a piecewise-linear φ, quadrature otherwise) or as
    a callable that maps a NumPy array elementwise (derivatives then by central
    differences)."""
    if callable(activation):
        return _finite_difference_moments(activation)
    form = ACTIVATIONS.get(activation).gaussian
    if form is None:
        raise DepthlabError(f"activation '{activation}' declares no Gaussian form: mean-field theory cannot "
                            "integrate it")
    if isinstance(form, PiecewiseLinear):
        return PiecewiseLinearMoments(form.slope)
    return QuadratureMoments(form.phi, form.dphi, form.d2phi)


def length_map(q, activation: ActivationLike, sigma_w2, sigma_b2=0.0) -> np.ndarray:
    """q^l = σ_w² E_z[φ(√q^{l-1} z)²] + σ_b²: the variance of a pre-activation given that
    of the layer below (Poole et al. 2016). Broadcasts over all numeric arguments."""
    return sigma_w2 * activation_moments(activation).second_moment(q) + sigma_b2


def fixed_point(activation: ActivationLike, sigma_w2, sigma_b2=0.0, q0=1.0) -> np.ndarray:
    """q* = lim q^l of the length map started from q⁰ = ``q0`` > 0.

    Piecewise-linear φ makes the map affine, q ↦ σ_w² κ q + σ_b² with κ = E[φ(z)²]:
    q* = σ_b² / (1 - σ_w² κ) if σ_w² κ < 1, q⁰ if σ_w² κ = 1 and σ_b² = 0 (every q is
    fixed), else ∞. Otherwise q* is where L(q) - q changes sign from + to -, found by
    bisection (for the named activations L is increasing with a single such crossing,
    reached from any q⁰ > 0); ∞ if there is none below 1e12. Broadcasts over arguments.
    """
    moments = activation_moments(activation)
    sigma_w2, sigma_b2, q0 = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (sigma_w2, sigma_b2, q0)))
    if isinstance(moments, PiecewiseLinearMoments):
        slope = sigma_w2 * moments.second_moment(1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            q_star = np.where(slope < 1, sigma_b2 / (1 - slope), np.inf)
        return np.where((slope == 1) & (sigma_b2 == 0), q0, q_star)[()]

    def gap(q):
        return length_map(q, activation, sigma_w2, sigma_b2) - q

    low, high = np.zeros_like(sigma_w2), np.ones_like(sigma_w2)
    growing = gap(high) > 0
    while growing.any():
        low, high = np.where(growing, high, low), np.where(growing, 4 * high, high)
        growing = (gap(high) > 0) & (high < 1e12)
    unbounded = gap(high) > 0
    for _ in range(50):
        middle = (low + high) / 2
        above = gap(middle) > 0
        low, high = np.where(above, middle, low), np.where(above, high, middle)
    return np.where(unbounded, np.inf, np.where(low == 0, 0.0, (low + high) / 2))[()]


def chi1(activation: ActivationLike, sigma_w2, sigma_b2=0.0, q=None) -> np.ndarray:
    """χ₁ = σ_w² E_z[φ'(√q* z)²], the slope of the correlation map at c = 1 and the mean
    squared singular value of one layer's Jacobian (Poole et al. 2016). ``q``
    overrides q*. Broadcasts over arguments."""
    q = fixed_point(activation, sigma_w2, sigma_b2) if q is None else q
    return sigma_w2 * activation_moments(activation).derivative_moment(q)


def classify_phase(chi: float, tolerance: float = CRITICAL_TOLERANCE) -> str:
    """'ordered' (χ₁ < 1), 'chaotic' (χ₁ > 1) or 'critical' (|χ₁ - 1| < ``tolerance``)."""
    if abs(chi - 1) < tolerance:
        return "critical"
    return "ordered" if chi < 1 else "chaotic"


def correlation_map(c, activation: ActivationLike, sigma_w2, sigma_b2=0.0, q=None) -> np.ndarray:
    """c^l = (σ_w² E[φ(u1) φ(u2)] + σ_b²) / q*, u1 = √q* z1, u2 = √q* (c z1 + √(1-c²) z2):
    the correlation of two inputs' pre-activations one layer up (Poole et al. 2016).
    For another ``q`` the denominator is the next layer's variance σ_w² E[φ(u1)²]
    + σ_b², which keeps c = 1 fixed; for a piecewise-linear φ with q* = ∞ this gives the
    limit E[φ(u1) φ(u2)] / E[φ(u1)²]. Broadcasts over c and q."""
    moments = activation_moments(activation)
    q = fixed_point(activation, sigma_w2, sigma_b2) if q is None else np.asarray(q, dtype=float)
    with np.errstate(divide="ignore"):
        bias = sigma_b2 / q
    kernel = moments.normalized_kernel(q, c)
    return (sigma_w2 * kernel + bias) / (sigma_w2 * moments.normalized_kernel(q, 1.0) + bias)


def correlation_fixed_point(activation: ActivationLike, sigma_w2: float, sigma_b2: float = 0.0) -> float:
    """c*: the stable fixed point of the correlation map. c* = 1 when χ₁ ≤ 1; in the
    chaotic phase the map, a power series in c with non-negative coefficients, crosses
    the diagonal once in [0, 1), where Brent's method finds c* (Poole et al. 2016). Where
    q* = ∞ (an exploding piecewise-linear net) the limiting map has slope 1 at c = 1 and
    c* = 1."""
    from scipy.optimize import brentq

    q = fixed_point(activation, sigma_w2, sigma_b2)
    if chi1(activation, sigma_w2, sigma_b2, q) <= 1 or np.isinf(q):
        return 1.0

    def gap(c):
        return float(correlation_map(c, activation, sigma_w2, sigma_b2, q)) - c

    if gap(0.0) <= 0:
        return 0.0
    distance = 0.5
    while gap(1 - distance) >= 0:
        distance /= 4
        if distance < 1e-12:
            return 1.0
    return brentq(gap, 0.0, 1 - distance, xtol=1e-14)


class DepthScales(NamedTuple):
    """ξ_q, ξ_c: the depths over which q^l and c^l approach their fixed points."""

    xi_q: float
    xi_c: float

    @property
    def trainable_depth(self) -> float:
        """≈ 6 ξ_c: the largest depth at which Schoenholz et al. (2017) could train
        random-initialized networks; beyond it the signal about the input is lost."""
        return TRAINABLE_DEPTH_FACTOR * self.xi_c


def _depth_scale(slope) -> float:
    """-1/log(slope); infinite from 1 - 1e-12 up (the quadrature's rounding of 1)."""
    with np.errstate(divide="ignore"):
        return float(np.inf if slope >= 1 - 1e-12 else -1 / np.log(slope))


def depth_scales(activation: ActivationLike, sigma_w2: float, sigma_b2: float = 0.0) -> DepthScales:
    """Schoenholz et al. (2017): |q^l - q*| ~ e^{-l/ξ_q} and |c^l - c*| ~ e^{-l/ξ_c} with

        ξ_q = -1 / log(χ₁ + σ_w² E_z[φ''(√q* z) φ(√q* z)])   (= -1/log L'(q*)),
        ξ_c = -1 / log(σ_w² E[φ'(u1) φ'(u2)])  at c = c*,

    both infinite where the slope reaches 1 (at criticality, ξ_c = ∞)."""
    moments = activation_moments(activation)
    q = fixed_point(activation, sigma_w2, sigma_b2)
    length_slope = sigma_w2 * (moments.derivative_moment(q) + moments.curvature_moment(q))
    c = correlation_fixed_point(activation, sigma_w2, sigma_b2)
    correlation_slope = sigma_w2 * moments.derivative_kernel(q, c)
    return DepthScales(_depth_scale(length_slope), _depth_scale(correlation_slope))


def trainable_depth(activation: ActivationLike, sigma_w2: float, sigma_b2: float = 0.0) -> float:
    """≈ 6 ξ_c (:attr:`DepthScales.trainable_depth`) at (σ_w², σ_b²)."""
    return depth_scales(activation, sigma_w2, sigma_b2).trainable_depth


def critical_sigma_w2(activation: ActivationLike, sigma_b2=0.0) -> np.ndarray:
    """The critical line: the σ_w² at which χ₁(σ_w², σ_b²) = 1 (Poole et al. 2016;
    Schoenholz et al. 2017), for each σ_b² (broadcasts); NaN where χ₁ < 1 on all of
    σ_w² ∈ [1e-2, 1e3].
    Linear: 1; ReLU: 2; tanh at σ_b² = 0: 1. Takes the first crossing on a log grid,
    refined by bisection."""
    grid = np.geomspace(1e-2, 1e3, 51)
    sigma_b2 = np.asarray(sigma_b2, dtype=float)
    crossed = chi1(activation, grid, sigma_b2[..., None]) >= 1
    first = crossed.argmax(axis=-1)
    low, high = grid[np.maximum(first - 1, 0)], grid[first]
    for _ in range(40):
        middle = np.sqrt(low * high)
        above = chi1(activation, middle, sigma_b2) >= 1
        low, high = np.where(above, low, middle), np.where(above, middle, high)
    return np.where(crossed.any(axis=-1), high, np.nan)[()]


def init_sigma_w2(init_name: str, n_in: int, n_out: int) -> float:
    """σ_w² = n_in Var[W] for an init scheme of :mod:`depthlab.nets.init` (its declared
    variance): 'standard' U[-1/√n, 1/√n] → 1/3; 'normalized' and 'xavier-normal' →
    2 n_in / (n_in + n_out) (Glorot & Bengio 2010, eq. 16); 'lecun-normal' → 1;
    'he-normal', 'he-uniform' → 2; 'gaussian:STD' → n_in STD². A scheme mean-field theory
    does not describe (lsuv, constant) is a one-line error saying why.

    'orthogonal' → n_in / max(n_in, n_out), i.e. 1 for square and narrowing layers: the
    mean-field maps only see this second moment, but orthogonal weights change the
    Jacobian spectrum (see :func:`depthlab.theory.spectrum.jacobian_spectrum_moments`).
    """
    for name, n in (("n_in", n_in), ("n_out", n_out)):
        if not (isinstance(n, (int, np.integer)) and n > 0):
            raise DepthlabError(f"{name} {n!r} must be a positive integer")
    init = INITS.get(init_name)
    if init.no_mean_field:
        raise DepthlabError(f"init '{init_name}' has no fixed weight variance for mean-field theory: "
                            f"{init.no_mean_field}")
    return n_in * init.variance(n_in, n_out)


@dataclass(frozen=True)
class LayerPredictions:
    """Mean-field predictions for layers 1..L of one network (index 0 is layer 1)."""

    sigma_w2: np.ndarray
    q: np.ndarray
    grad_var_ratio: np.ndarray


def predict_layers(widths: Sequence[int], activation: ActivationLike, init: str | float,
                   sigma_b2: float = 0.0, q0: float = 1.0) -> LayerPredictions:
    """Per-layer variances of a network with layer widths n_0 (input), n_1, ..., n_L.

    ``init`` is a scheme name (σ_w² of layer l by :func:`init_sigma_w2`) or one σ_w² for
    every layer; q⁰ is the input's second moment E[x²]. Forward (Poole et al. 2016):
    q^1 = σ_w²_1 q⁰ + σ_b², q^l = σ_w²_l E[φ(√q^{l-1} z)²] + σ_b². Backward, for
    δ^l = ∂C/∂s^l (Glorot & Bengio 2010, section 4.2.1, with each layer's own q^l):

        Var[δ^l] / Var[δ^{l+1}] = n_{l+1} Var[W^{l+1}] E[φ'(√q^l z)²]
                                = σ_w²_{l+1} (n_{l+1} / n_l) E[φ'(√q^l z)²],

    reported as ``grad_var_ratio`` = Var[δ^l] / Var[δ^L] (1 at the top layer).
    """
    if len(widths) < 2 or any(not (isinstance(n, (int, np.integer)) and n > 0) for n in widths):
        raise DepthlabError(f"widths {list(widths)!r} must be two or more positive integers")
    moments = activation_moments(activation)
    if isinstance(init, str):
        sigma_w2 = np.array([init_sigma_w2(init, n_in, n_out) for n_in, n_out in zip(widths, widths[1:])])
    else:
        sigma_w2 = np.full(len(widths) - 1, float(init))
    q = np.empty(len(sigma_w2))
    q[0] = sigma_w2[0] * q0 + sigma_b2
    for layer in range(1, len(q)):
        q[layer] = length_map(q[layer - 1], activation, sigma_w2[layer], sigma_b2)
    gain = moments.derivative_moment(q[:-1]) * sigma_w2[1:] * np.asarray(widths[2:]) / np.asarray(widths[1:-1])
    grad_var_ratio = np.append(np.cumprod(gain[::-1])[::-1], 1.0)
    return LayerPredictions(sigma_w2, q, grad_var_ratio)
