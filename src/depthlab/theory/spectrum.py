"""Moments of the singular-value spectrum of a deep random network's input-output Jacobian.

For h^l = W^l φ(h^{l-1}) + b^l the Jacobian J = ∂φ(h^L)/∂φ(h^0) = D^L W^L ⋯ D^1 W^1 with
D^l = diag φ'(h^l). Its squared singular values are the eigenvalues λ of JJᵀ; gradients
neither vanish nor explode when their mean is 1 (χ₁ = 1), and every direction is
treated alike ("dynamical isometry") when in addition their variance is small
(Pennington, Schoenholz & Ganguli 2017, "Resurrecting the sigmoid in deep learning
through dynamical isometry: theory and practice").

With μ_k = E_z[φ'(√q z)^{2k}] (pre-activations at the fixed point q*, wide square
layers, D and W asymptotically free), free probability gives the two first moments.
The S-transform S_X(w) = (1 + w)/w · ψ_X⁻¹(w) of ψ_X(w) = Σ_k m_k(X) w^k expands as
S_X(w) = (1 - v(X) w + O(w²)) / m_1(X), with v(X) = m_2/m_1² - 1 the spectrum's
normalized variance. S-transforms of free matrices multiply, and JJᵀ has those of
W^lᵀW^l and (D^l)² for every layer, so means multiply and normalized variances add:

    mean      E[λ] = (σ_w² μ_1)^L,
    variance  Var[λ] = E[λ]² · L · (μ_2/μ_1² - 1 + v_W),

with v_W = v(WᵀW) = 1 for Gaussian weights (Marchenko-Pastur: m_2 = 2 σ_w⁴) and 0 for
scaled orthogonal ones (WᵀW = σ_w² I). At criticality (E[λ] = 1) Var[λ] = L μ_2/μ_1² for
Gaussian and L (μ_2/μ_1² - 1) for orthogonal weights: linear orthogonal nets are
isometric at any depth, ReLU nets (μ_2/μ_1² = 2) are not, and a sigmoidal net with
orthogonal weights gets close when q* is small (μ_2/μ_1² → 1).
"""

from __future__ import annotations

from typing import NamedTuple

from depthlab.errors import DepthlabError, unknown_choice
from depthlab.theory.meanfield import ActivationLike, activation_moments, fixed_point

WEIGHT_EXCESS_VARIANCE = {"gaussian": 1.0, "orthogonal": 0.0}
"""v(WᵀW) = m_2/m_1² - 1 of each weight ensemble (square layers)."""


class JacobianMoments(NamedTuple):
    """Mean and variance of the eigenvalues of JJᵀ (the squared singular values of J)."""

    mean: float
    variance: float


def jacobian_spectrum_moments(activation: ActivationLike, sigma_w2: float, sigma_b2: float = 0.0,
                              depth: int = 1, weights: str = "gaussian", q: float | None = None
                              ) -> JacobianMoments:
    """E[λ] = (σ_w² μ_1)^L and Var[λ] = E[λ]² L (μ_2/μ_1² - 1 + v_W) for the eigenvalues λ
    of JJᵀ, J the Jacobian of ``depth`` = L layers, v_W = 1 for ``weights`` 'gaussian' and
    0 for 'orthogonal', μ_k = E_z[φ'(√q z)^{2k}] at ``q`` (default q*); derived in the
    module docstring after Pennington, Schoenholz & Ganguli (2017)."""
    if weights not in WEIGHT_EXCESS_VARIANCE:
        raise unknown_choice("weight ensemble", weights, WEIGHT_EXCESS_VARIANCE)
    if not (isinstance(depth, int) and depth > 0):
        raise DepthlabError(f"depth {depth!r} must be a positive integer")
    moments = activation_moments(activation)
    q = fixed_point(activation, sigma_w2, sigma_b2) if q is None else q
    mu1, mu2 = moments.derivative_moment(q, 2), moments.derivative_moment(q, 4)
    mean = (sigma_w2 * mu1) ** depth
    variance = mean**2 * depth * (mu2 / mu1**2 - 1 + WEIGHT_EXCESS_VARIANCE[weights])
    return JacobianMoments(float(mean), float(variance))
