"""The histograms a probe reduces a quantity's values to (the statistics are the
quantities' own: :mod:`depthlab.probe.quantities`), and the precision every statistic,
histogram and spectrum is computed in (:func:`wide`)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def wide(tensor: Tensor) -> Tensor:
    """``tensor`` in float32 when its floating-point type is narrower (bfloat16, float16),
    else as it is: a bfloat16 model's statistics are reduced from its own values, upcast,
    not in its 8-bit mantissa (three significant digits)."""
    return tensor.float() if tensor.is_floating_point() and tensor.dtype.itemsize < 4 else tensor


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
