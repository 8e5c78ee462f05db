"""Mean-field theory of deep random networks: signal propagation (Poole et al. 2016;
Schoenholz et al. 2017), per-layer variance predictions (Glorot & Bengio 2010), Jacobian
spectra (Pennington et al. 2017) and the order-to-chaos phase diagram."""

from depthlab.theory.meanfield import (
    CRITICAL_TOLERANCE,
    TRAINABLE_DEPTH_FACTOR,
    DepthScales,
    LayerPredictions,
    activation_moments,
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
from depthlab.theory.phase import plot_phase_diagram
from depthlab.theory.spectrum import JacobianMoments, jacobian_spectrum_moments

__all__ = [
    "CRITICAL_TOLERANCE", "TRAINABLE_DEPTH_FACTOR", "DepthScales", "JacobianMoments",
    "LayerPredictions", "activation_moments", "chi1", "classify_phase", "correlation_fixed_point",
    "correlation_map", "critical_sigma_w2", "depth_scales", "fixed_point", "gaussian_mean", "gaussian_mean2",
    "init_sigma_w2", "jacobian_spectrum_moments", "length_map", "plot_phase_diagram", "predict_layers",
    "trainable_depth",
]
