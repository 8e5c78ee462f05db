"""Mean-field theory beside a measured run, at its first probe (the network at
initialization).

Per hidden layer l: the measured pre-activation variance Var[s^l] beside the mean-field
q^l, and the back-propagated gradient variance Var[∂C/∂s^l] / Var[∂C/∂s^L] (L the top
hidden layer) beside Π_{k≥l} σ_w²_{k+1} (n_{k+1}/n_k) E[φ'(√q^k z)²] (Glorot & Bengio
2010, section 4.2.1; see :func:`depthlab.theory.predict_layers`). The input's second
moment is not stored, so q⁰ = max(Var[s¹] − σ_b², 0) / σ_w²_1 makes the prediction start
from the measured layer-1 variance: the comparison is of how variances propagate upward
and gradients downward. The layer widths are those the run recorded at its creation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from depthlab.config import TrainConfig
from depthlab.nets.activations import ACTIVATIONS
from depthlab.nets.init import BIAS_INITS, INITS
from depthlab.probe.quantities import BACKPROP_GRAD_STD, JACOBIAN_SV_MEAN, PREACTIVATION_STD
from depthlab.store.probes import ProbeLog
from depthlab.store.run import Network
from depthlab.theory.meanfield import (
    DepthScales,
    chi1,
    classify_phase,
    depth_scales,
    init_sigma_w2,
    predict_layers,
)


@dataclass
class TheoryComparison:
    """Measured vs predicted variances per hidden layer at probe update ``update``, and the
    run's mean-field summary: χ₁, the phase and the depth scales at σ_w² of the top hidden
    layer, and the mean layer-Jacobian singular value averaged over the hidden layers (None
    if not measured)."""

    update: int
    rows: list[dict[str, Any]]
    q0: float
    sigma_w2: float
    sigma_b2: float
    chi1: float
    phase: str
    scales: DepthScales
    jacobian_sv_mean: float | None


def theory_skip_reason(config: TrainConfig, network: Network | None) -> str | None:
    """Why mean-field theory does not describe this run's network at initialization, or
    None when it does."""
    init = INITS.get(config.init)
    if init.no_mean_field:
        return init.no_mean_field
    if config.batchnorm:
        return "batch normalization rescales the pre-activations, outside the mean-field recursion"
    if ACTIVATIONS.get(config.activation).gaussian is None:
        return f"the activation {config.activation} declares no Gaussian form to integrate"
    if network is None:
        return "the run did not record its network's shape (it was made by an older depthlab)"
    if len(network.widths) < 3:
        return "the network has no hidden layer (a linear model): there is no signal to propagate"
    if config.probe_stats is not None and not {PREACTIVATION_STD, BACKPROP_GRAD_STD} <= set(config.probe_stats):
        return (f"the run kept only some probe statistics (probe-stats), not both {PREACTIVATION_STD} and "
                f"{BACKPROP_GRAD_STD}, which it compares")
    return None


def compare_with_theory(config: TrainConfig, network: Network, probes: ProbeLog) -> TheoryComparison:
    """The measured variances at the first probe beside :func:`predict_layers` for the
    run's widths, activation, init and σ_b², with q⁰ as in the module docstring."""
    update = probes.updates[0]
    layers = probes.hidden_layers()
    measured_q = np.array([probes.values_at(PREACTIVATION_STD, update)[layer] ** 2 for layer in layers])
    grad_var = np.array([probes.values_at(BACKPROP_GRAD_STD, update)[layer] ** 2 for layer in layers])
    widths = list(network.widths[:-1])
    sigma_b2 = BIAS_INITS.get(config.bias_init).variance
    q0 = max(measured_q[0] - sigma_b2, 0.0) / init_sigma_w2(config.init, widths[0], widths[1])
    predicted = predict_layers(widths, config.activation, config.init, sigma_b2=sigma_b2, q0=q0)
    jacobian = probes.values_at(JACOBIAN_SV_MEAN, update)
    table = [{"layer": layer, "σ_w²": float(predicted.sigma_w2[k]),
              "Var[s] measured": float(measured_q[k]), "q predicted": float(predicted.q[k]),
              "Var[∂C/∂s] / top measured": float(grad_var[k] / grad_var[-1]),
              "Var[∂C/∂s] / top predicted": float(predicted.grad_var_ratio[k]),
              **({"Jacobian mean sv": jacobian[layer]} if layer in jacobian else {})}
             for k, layer in enumerate(layers)]
    sigma_w2 = float(predicted.sigma_w2[-1])
    chi = float(chi1(config.activation, sigma_w2, sigma_b2))
    measured_sv = [v for v in jacobian.values() if math.isfinite(v)]
    return TheoryComparison(update, table, q0, sigma_w2, sigma_b2, chi, classify_phase(chi),
                            depth_scales(config.activation, sigma_w2, sigma_b2),
                            float(np.mean(measured_sv)) if measured_sv else None)
