"""The numbers a probe reduces a tensor to: fixed-range histograms and the activation
statistics of Glorot & Bengio (2010), section 2.3 and Figures 2–4 (mean, standard
deviation, 2nd/50th/98th percentiles, saturated fraction)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from depthlab.nets.activations import Activation


def histogram(values: Tensor, value_range: tuple[float, float] | None = None,
              bins: int = 100) -> tuple[list[float], list[int]]:
    """Bin edges and counts (numpy.histogram) of the finite ``values`` over
    ``value_range`` (values beyond it are counted in the end bins), or over ±max|value|
    when no range is given."""
    values = values.detach().flatten().float()
    low, high = torch.aminmax(values) if values.numel() else (values.new_zeros(()), values.new_zeros(()))
    if not (torch.isfinite(low) and torch.isfinite(high)):  # NaN and ±inf reach the extremes
        values = values[torch.isfinite(values)]
        low, high = torch.aminmax(values) if values.numel() else (values.new_zeros(()), values.new_zeros(()))
    if value_range is None:  # nothing lies beyond ±max|value|: no copy clipped to the range
        bound = max(-low.item(), high.item())
        value_range = (-bound, bound) if bound > 0 else (-1.0, 1.0)
    else:
        values = values.clamp(*value_range)
    counts, edges = np.histogram(values.cpu().numpy(), bins=bins, range=value_range)
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
