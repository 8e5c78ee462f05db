"""Mean-field maps against closed forms, finite differences, an independent integrator and
a finite-width simulation."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from depthlab.errors import DepthlabError
from depthlab.theory import (
    chi1,
    classify_phase,
    correlation_fixed_point,
    correlation_map,
    critical_sigma_w2,
    depth_scales,
    fixed_point,
    gaussian_mean,
    gaussian_mean2,
    init_sigma_w2,
    length_map,
    predict_layers,
    trainable_depth,
)


def relu(x):
    return np.maximum(x, 0.0)


# --- quadrature -------------------------------------------------------------------------

def test_gaussian_means_match_moments_of_the_normal():
    # E[(√q z)²] = q, E[(√q z)⁴] = 3q², E[relu(√q z)] = √(q / 2π), for q from tiny to huge.
    q = np.array([1e-4, 0.3, 1.0, 25.0, 1e4])
    assert np.allclose(gaussian_mean(np.square, q), q, rtol=1e-12)
    assert np.allclose(gaussian_mean(lambda x: x**4, q), 3 * q**2, rtol=1e-12)
    assert np.allclose(gaussian_mean(relu, q), np.sqrt(q / (2 * np.pi)), rtol=1e-12)


@pytest.mark.parametrize("q", [1.0, 100.0])
def test_softsign_derivative_moment_matches_an_adaptive_integrator(q):
    # softsign'(x)² = (1 + |x|)^-4 has a kink at 0 where Gauss-Hermite loses 5 % at q = 1;
    # scipy's adaptive quad on the half line (even integrand) is the independent reference.
    def integrand(x):
        return (1 + x) ** -4 * math.exp(-x * x / (2 * q)) / math.sqrt(2 * math.pi * q)

    reference = 2 * integrate.quad(integrand, 0, np.inf, epsabs=0, epsrel=1e-13, limit=500)[0]
    value = gaussian_mean(lambda x: (1 + np.abs(x)) ** -4.0, q)
    assert value == pytest.approx(reference, rel=1e-9)


def test_bivariate_gaussian_means():
    # u1, u2 have variance q and covariance qc: E[u1 u2] = qc, E[u1² u2²] = q² (1 + 2c²).
    q, c = 2.0, np.array([-0.7, 0.0, 0.5, 0.999])
    assert np.allclose(gaussian_mean2(lambda x: x, lambda x: x, q, c), q * c, atol=1e-12)
    assert np.allclose(gaussian_mean2(np.square, np.square, q, c), q**2 * (1 + 2 * c**2), rtol=1e-10)


# --- ReLU, leaky ReLU and linear closed forms -------------------------------------------

def test_relu_correlation_map_at_zero_is_one_over_pi():
    # At c = 0, u1 and u2 are independent: E[relu(u1) relu(u2)] = E[relu(u)]² = q/(2π).
    # With σ_w² = 2, σ_b² = 0 every q is fixed, so c' = 2 · q/(2π) / q = 1/π.
    assert correlation_map(0.0, "relu", 2.0, 0.0) == pytest.approx(1 / np.pi, rel=1e-14)
    # At c = -1, u2 = -u1 and relu(u) relu(-u) = 0.
    assert correlation_map(-1.0, "relu", 2.0, 0.0) == pytest.approx(0.0, abs=1e-15)


def test_relu_at_sigma_w2_two_preserves_q_and_is_critical():
    # E[relu(√q z)²] = q/2, so σ_w² = 2, σ_b² = 0 maps q to q, and χ₁ = 2 · P(z > 0) = 1.
    q = np.array([0.1, 1.0, 7.0])
    assert np.allclose(length_map(q, "relu", 2.0, 0.0), q, rtol=1e-15)
    assert fixed_point("relu", 2.0, 0.0, q0=3.0) == 3.0
    assert chi1("relu", 2.0, 0.0) == 1.0
    assert classify_phase(chi1("relu", 2.0, 0.0)) == "critical"


def test_relu_fixed_point_and_depth_scale():
    # q = σ_w² q/2 + σ_b² has the root q* = σ_b² / (1 - σ_w²/2) = 0.3 / 0.5 = 0.6; the map's
    # slope σ_w²/2 = 1/2 gives ξ_q = ξ_c = 1/ln 2 (φ'' = 0, c* = 1 in the ordered phase).
    assert fixed_point("relu", 1.0, 0.3) == pytest.approx(0.6, rel=1e-14)
    assert fixed_point("relu", 2.5, 0.0) == np.inf
    xi_q, xi_c = depth_scales("relu", 1.0, 0.3)
    assert xi_q == pytest.approx(1 / math.log(2), rel=1e-12)
    assert xi_c == pytest.approx(1 / math.log(2), rel=1e-12)


@pytest.mark.parametrize("activation, phi", [("relu", relu), ("leaky-relu", lambda x: np.where(x > 0, x, 0.01 * x))])
@pytest.mark.parametrize("c", [-0.9, 0.0, 0.5, 0.99])
def test_arc_cosine_closed_form_matches_quadrature(activation, phi, c):
    # The same activation given as a plain callable goes through the quadrature path.
    exact = correlation_map(c, activation, 1.5, 0.1)
    numeric = correlation_map(c, phi, 1.5, 0.1)
    assert numeric == pytest.approx(exact, rel=1e-9)


def test_linear_network_closed_forms():
    # φ(x) = x: q* = σ_b² / (1 - σ_w²) = 0.1 / 0.5 = 0.2, χ₁ = σ_w² = 0.5,
    # c' = (σ_w² q* c + σ_b²) / q* = 0.5 c + 0.5, so c* = 1, and ξ_q = ξ_c = 1/ln 2.
    # The identity as a callable (quadrature, finite-difference derivatives) agrees.
    for activation in ("linear", lambda x: x):
        assert fixed_point(activation, 0.5, 0.1) == pytest.approx(0.2, rel=1e-10)
        assert chi1(activation, 0.5, 0.1) == pytest.approx(0.5, rel=1e-8)
        assert correlation_map(0.3, activation, 0.5, 0.1) == pytest.approx(0.65, rel=1e-9)
        assert correlation_fixed_point(activation, 0.5, 0.1) == 1.0
        assert np.allclose(depth_scales(activation, 0.5, 0.1), 1 / math.log(2), rtol=1e-6)
    assert critical_sigma_w2("linear", 0.2) == pytest.approx(1.0, rel=1e-9)


# --- tanh and the smooth activations ------------------------------------------------------

def test_tanh_at_the_critical_point_decays_like_one_over_2l():
    # σ_w² = 1, σ_b² = 0: tanh²x = x² - (2/3)x⁴ + O(x⁶) and E[z⁴] = 3 give
    # q' = q - 2q² + O(q³), so 1/q' = 1/q + 2 + O(q) and q^l ≈ 1/(2l), with a relative
    # error of order log(l)/l.
    q, errors = 1.0, {}
    for layer in range(1, 2001):
        q = length_map(q, "tanh", 1.0, 0.0)
        if layer in (10, 100, 2000):
            errors[layer] = abs(2 * layer * q - 1)
    assert errors[10] > errors[100] > errors[2000]
    assert errors[2000] < 2e-3


@pytest.mark.parametrize("activation, sigma_w2, sigma_b2",
                         [("tanh", 1.5, 0.05), ("tanh", 3.0, 0.2), ("softsign", 2.0, 0.1), ("sigmoid", 4.0, 0.1)])
def test_chi1_is_the_slope_of_the_correlation_map_at_one(activation, sigma_w2, sigma_b2):
    # χ₁ = dc'/dc at c = 1 (Poole et al. 2016): a one-sided difference, error O(h).
    h = 1e-5
    slope = (1 - correlation_map(1 - h, activation, sigma_w2, sigma_b2)) / h
    assert correlation_map(1.0, activation, sigma_w2, sigma_b2) == pytest.approx(1.0, abs=1e-12)
    assert slope == pytest.approx(chi1(activation, sigma_w2, sigma_b2), rel=1e-4)


@pytest.mark.parametrize("activation, sigma_w2, sigma_b2", [("tanh", 1.5, 0.05), ("softsign", 2.0, 0.1)])
def test_xi_q_is_set_by_the_slope_of_the_length_map(activation, sigma_w2, sigma_b2):
    # χ₁ + σ_w² E[φ''φ] = dq'/dq at q* (Gaussian integration by parts).
    q, h = fixed_point(activation, sigma_w2, sigma_b2), 1e-5
    assert length_map(q, activation, sigma_w2, sigma_b2) == pytest.approx(q, rel=1e-12)
    above, below = (length_map(q + d, activation, sigma_w2, sigma_b2) for d in (h, -h))
    slope = (above - below) / (2 * h)
    assert depth_scales(activation, sigma_w2, sigma_b2).xi_q == pytest.approx(-1 / math.log(slope), rel=1e-6)


def test_chaotic_tanh_has_an_interior_correlation_fixed_point():
    sigma_w2, sigma_b2 = 4.0, 0.1
    assert classify_phase(chi1("tanh", sigma_w2, sigma_b2)) == "chaotic"
    c = correlation_fixed_point("tanh", sigma_w2, sigma_b2)
    assert 0 < c < 1
    assert correlation_map(c, "tanh", sigma_w2, sigma_b2) == pytest.approx(c, abs=1e-10)
    # ξ_c = -1/log of the map's slope at c*.
    h = 1e-6
    above, below = (correlation_map(c + d, "tanh", sigma_w2, sigma_b2) for d in (h, -h))
    slope = (above - below) / (2 * h)
    xi_c = depth_scales("tanh", sigma_w2, sigma_b2).xi_c
    assert xi_c == pytest.approx(-1 / math.log(slope), rel=1e-5)
    assert trainable_depth("tanh", sigma_w2, sigma_b2) == pytest.approx(6 * xi_c, rel=1e-12)
    # Without bias the map is odd in c, so c = 0 is the fixed point.
    assert correlation_fixed_point("tanh", 2.0, 0.0) == 0.0


def test_ordered_tanh():
    # q* solves q = 1.5 E[tanh(√q z)²] + 0.05; χ₁ < 1, so c* = 1.
    q = fixed_point("tanh", 1.5, 0.05)
    assert 1.5 * gaussian_mean(lambda x: np.tanh(x) ** 2, q) + 0.05 == pytest.approx(q, rel=1e-12)
    assert classify_phase(chi1("tanh", 1.5, 0.05)) == "ordered"
    assert correlation_fixed_point("tanh", 1.5, 0.05) == 1.0


def test_critical_line():
    # tanh at σ_b² = 0: q* = 0 below σ_w² = 1, where χ₁ = σ_w² φ'(0)² = σ_w².
    assert critical_sigma_w2("tanh", 0.0) == pytest.approx(1.0, abs=1e-6)
    assert critical_sigma_w2("relu", 0.1) == pytest.approx(2.0, rel=1e-9)
    line = critical_sigma_w2("tanh", np.array([0.05, 0.2]))
    assert np.all(np.diff(line) > 0)
    assert np.allclose(chi1("tanh", line, np.array([0.05, 0.2])), 1.0, atol=1e-8)


def test_chi1_broadcasts_over_a_grid():
    w2, b2 = np.array([0.5, 1.5, 3.0]), np.array([0.0, 0.1])
    grid = chi1("tanh", w2[None, :], b2[:, None])
    assert grid.shape == (2, 3)
    assert grid[1, 2] == pytest.approx(chi1("tanh", 3.0, 0.1), rel=1e-12)


# --- per-layer predictions and inits ------------------------------------------------------

def test_predict_layers_linear_with_unequal_widths():
    # Widths 4 -> 8 -> 2 -> 6, normalized init: σ_w²_l = 2 n_{l-1} / (n_{l-1} + n_l) =
    # 2/3, 8/5, 1/2. Linear φ: q^1 = 2/3, q^2 = 8/5 · 2/3 = 16/15, q^3 = 1/2 · 16/15 = 8/15.
    # Backward: n_{l+1} Var[W^{l+1}] = 2 n_{l+1} / (n_l + n_{l+1}): layer 2 ← 3: 12/8 = 3/2,
    # layer 1 ← 2: 4/10 = 2/5, so the ratios are 3/5, 3/2, 1.
    p = predict_layers([4, 8, 2, 6], "linear", "normalized")
    assert np.allclose(p.sigma_w2, [2 / 3, 8 / 5, 1 / 2])
    assert np.allclose(p.q, [2 / 3, 16 / 15, 8 / 15])
    assert np.allclose(p.grad_var_ratio, [3 / 5, 3 / 2, 1.0])


def test_standard_init_makes_tanh_gradients_shrink_toward_the_input():
    # Glorot & Bengio (2010), Fig. 7: σ_w² = 1/3, so each layer down multiplies the
    # gradient variance by at most 1/3 · E[tanh'²] < 1/3.
    p = predict_layers([1000] * 6, "tanh", "standard", q0=1.0)
    assert np.all(np.diff(p.grad_var_ratio) > 0)
    assert p.grad_var_ratio[0] < 3.0**-4


@pytest.mark.slow
def test_predicted_variances_match_a_finite_width_simulation():
    # Width 2000, 20 tanh layers, σ_w² = 1.5, σ_b² = 0.05, Gaussian inputs (q⁰ = 1): the
    # empirical pre-activation variance, pooled over 3 networks of 16 inputs each (one
    # network alone fluctuates by about 3 % per layer), within 5 % of the prediction.
    width, depth, sigma_w2, sigma_b2 = 2000, 20, 1.5, 0.05
    predicted = predict_layers([width] * (depth + 1), "tanh", sigma_w2, sigma_b2, q0=1.0).q
    generator = torch.Generator().manual_seed(0)
    measured = np.zeros(depth)
    for _ in range(3):
        h = torch.randn(16, width, generator=generator)
        for layer in range(depth):
            x = h if layer == 0 else torch.tanh(h)
            weight = torch.randn(width, width, generator=generator).mul_(math.sqrt(sigma_w2 / width))
            h = x @ weight.T + torch.randn(width, generator=generator) * math.sqrt(sigma_b2)
            measured[layer] += h.square().mean().item() / 3
    assert np.all(np.abs(measured / predicted - 1) < 0.05)


@pytest.mark.parametrize("init, n_in, n_out, expected", [
    ("standard", 1000, 1000, 1 / 3),       # n Var U[-1/√n, 1/√n] = n · (1/n)/3
    ("normalized", 1000, 1000, 1.0),        # n_in · 2/(n_in + n_out)
    ("normalized", 784, 1000, 2 * 784 / 1784),
    ("xavier-normal", 500, 1500, 0.5),
    ("lecun-normal", 300, 10, 1.0),
    ("he-normal", 300, 10, 2.0),
    ("he-uniform", 300, 10, 2.0),
    ("orthogonal", 1000, 500, 1.0),         # orthonormal rows: each row has unit norm
    ("orthogonal", 500, 1000, 0.5),         # orthonormal columns: entry variance 1/n_out
    ("gaussian:0.01", 1000, 10, 0.1),       # n STD²
])
def test_init_sigma_w2(init, n_in, n_out, expected):
    assert init_sigma_w2(init, n_in, n_out) == pytest.approx(expected, rel=1e-12)


def test_user_errors_are_one_line():
    with pytest.raises(DepthlabError, match=r"^unknown activation 'tahn' \(did you mean 'tanh'\?\); valid choices: "):
        fixed_point("tahn", 1.0)
    with pytest.raises(DepthlabError, match=r"^unknown init 'xavier'"):
        init_sigma_w2("xavier", 10, 10)
    with pytest.raises(DepthlabError, match=r"^n_in 0 must be a positive integer$"):
        init_sigma_w2("standard", 0, 10)
    with pytest.raises(DepthlabError, match=r"^widths \[5\] must be two or more positive integers$"):
        predict_layers([5], "tanh", 1.0)
