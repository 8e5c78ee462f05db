"""Jacobian spectrum moments against closed forms and a Monte-Carlo of random matrix products."""

import numpy as np
import pytest
import torch

from depthlab.errors import DepthlabError
from depthlab.theory import (
    chi1,
    critical_sigma_w2,
    fixed_point,
    jacobian_spectrum_moments,
)


def test_linear_networks():
    # φ' = 1, so μ_1 = μ_2 = 1. Orthogonal weights with σ_w² = 1 make J orthogonal: every
    # squared singular value is 1. Gaussian ones: a product of L free Wishart factors, whose
    # normalized variances (1 each, Marchenko-Pastur at ratio 1) add up to L.
    assert jacobian_spectrum_moments("linear", 1.0, depth=7, weights="orthogonal") == (1.0, 0.0)
    assert jacobian_spectrum_moments("linear", 1.0, depth=7, weights="gaussian") == (1.0, 7.0)


def test_critical_relu():
    # φ'² is 0 or 1 with probability 1/2 each: μ_1 = μ_2 = 1/2, μ_2/μ_1² = 2, so at
    # σ_w² = 2 the variance is 2L (Gaussian) and L (orthogonal).
    assert jacobian_spectrum_moments("relu", 2.0, depth=5, weights="gaussian") == (1.0, 10.0)
    assert jacobian_spectrum_moments("relu", 2.0, depth=5, weights="orthogonal") == (1.0, 5.0)


def test_mean_is_chi1_to_the_depth():
    mean, _ = jacobian_spectrum_moments("tanh", 1.5, 0.05, depth=6)
    assert mean == pytest.approx(chi1("tanh", 1.5, 0.05) ** 6, rel=1e-12)


def monte_carlo_moments(derivative, q, sigma_w2, depth, width, weights, repeats, generator):
    """Mean and variance of the eigenvalues of JJᵀ, J = D_L W_L ⋯ D_1 W_1, averaged over
    ``repeats`` draws. Each D_l = diag φ'(h) with h = √q × the width's normal quantiles in a
    random order: exactly Gaussian marginals, independent of the W's."""
    pre_activations = np.sqrt(q) * torch.special.ndtri((torch.arange(width, dtype=torch.float64) + 0.5) / width)
    results = []
    for _ in range(repeats):
        jacobian = torch.eye(width, dtype=torch.float64)
        for _ in range(depth):
            gaussian = torch.randn(width, width, generator=generator, dtype=torch.float64)
            if weights == "gaussian":
                weight = gaussian * np.sqrt(sigma_w2 / width)
            else:
                q_factor, r_factor = torch.linalg.qr(gaussian)
                weight = q_factor * torch.sign(torch.diagonal(r_factor)) * np.sqrt(sigma_w2)
            d = derivative(pre_activations[torch.randperm(width, generator=generator)])
            jacobian = d[:, None] * (weight @ jacobian)
        product = jacobian @ jacobian.T
        mean = torch.trace(product).item() / width
        results.append((mean, product.square().sum().item() / width - mean**2))
    return np.mean(results, axis=0)


def tanh_derivative(x):
    return 1 - torch.tanh(x) ** 2


def relu_derivative(x):
    return (x > 0).to(x.dtype)


@pytest.mark.parametrize("weights", ["gaussian", "orthogonal"])
@pytest.mark.parametrize("activation, derivative, sigma_b2",
                         [("tanh", tanh_derivative, 0.05), ("relu", relu_derivative, 0.0)])
def test_moments_match_a_monte_carlo_at_criticality(activation, derivative, sigma_b2, weights):
    # Width 400, depth 4, 6 draws: one draw's moments scatter by about 2 % (mean) and
    # 6 % (variance), so the averages sit well within 5 % and 10 %. The two ensembles'
    # predicted variances differ by 4 (= L), far outside that.
    sigma_w2 = float(critical_sigma_w2(activation, sigma_b2))
    q = fixed_point(activation, sigma_w2, sigma_b2)
    predicted = jacobian_spectrum_moments(activation, sigma_w2, sigma_b2, depth=4, weights=weights)
    mean, variance = monte_carlo_moments(derivative, q, sigma_w2, 4, 400, weights, 6,
                                         torch.Generator().manual_seed(0))
    assert predicted.mean == pytest.approx(1.0, rel=1e-9)
    assert mean == pytest.approx(predicted.mean, rel=0.05)
    assert variance == pytest.approx(predicted.variance, rel=0.10)


def test_user_errors():
    with pytest.raises(DepthlabError, match=r"^unknown weight ensemble 'haar'.*valid choices: gaussian, orthogonal$"):
        jacobian_spectrum_moments("tanh", 1.0, weights="haar")
    with pytest.raises(DepthlabError, match=r"^depth 0 must be a positive integer$"):
        jacobian_spectrum_moments("tanh", 1.0, depth=0)
