"""The numbers a probe reduces a tensor to: fixed-range histograms and the activation
statistics of Glorot & Bengio (2010), section 2.3 and Figures 2–4 (mean, standard
deviation, 2nd/50th/98th percentiles, saturated fraction)."""

from __future__ import annotations

import numpy as np
from torch import Tensor

from depthlab.nets.activations import Activation


def histogram(values: Tensor, value_range: tuple[float, float] | None = None,
              bins: int = 100) -> tuple[list[float], list[int]]:
    """Bin edges and counts (numpy.histogram) of the finite ``values`` over
    ``value_range`` (values beyond it are counted in the end bins), or over ±max|value|
    when no range is given."""
    x = values.detach().flatten().float().cpu().numpy()
    x = x[np.isfinite(x)]
    if value_range is None:
        bound = float(np.abs(x).max()) if x.size else 0.0
        value_range = (-bound, bound) if bound > 0 else (-1.0, 1.0)
    counts, edges = np.histogram(np.clip(x, *value_range), bins=bins, range=value_range)
    return edges.tolist(), counts.tolist()


def activation_stats(s: Tensor, a: Tensor, activation: Activation) -> dict[str, float]:
    """Mean, standard deviation, 2nd/50th/98th percentiles of the activations a = φ(s),
    and their saturated fraction (per ``activation.saturation_rule``, which may read the
    input ``s`` φ was applied to)."""
    values = a.detach().flatten().float().cpu().numpy()
    values = values[np.isfinite(values)]  # a diverging network: the percentiles of what is left
    p2, p50, p98 = np.percentile(values, [2, 50, 98]) if values.size else (np.nan,) * 3
    return {
        "activation_mean": a.mean().item(),
        "activation_std": a.std().item(),
        "activation_p2": float(p2),
        "activation_p50": float(p50),
        "activation_p98": float(p98),
        "saturated_fraction": activation.saturated(s, a).float().mean().item(),
    }
