"""The numbers a probe reduces a tensor to: fixed-range histograms and the activation
statistics of Glorot & Bengio (2010), section 2.3 and Figures 2–4 (mean, standard
deviation, 2nd and 98th percentiles, saturated fraction)."""

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
    """Mean, standard deviation, 2nd and 98th percentiles (the markers of Glorot & Bengio's
    Figure 3) of the activations a = φ(s), and their saturated fraction (per
    ``activation.saturation_rule``, which may read the input ``s`` φ was applied to)."""
    values = a.detach().flatten().float().cpu().numpy()
    if not (np.isfinite(values.min(initial=0.0)) and np.isfinite(values.max(initial=0.0))):
        values = values[np.isfinite(values)]  # a diverging network: the percentiles of what is left
    p2, p98 = percentiles(values, (2, 98)) if values.size else (np.nan, np.nan)
    return {
        "activation_mean": a.mean().item(),
        "activation_std": a.std().item(),
        "activation_p2": p2,
        "activation_p98": p98,
        "saturated_fraction": torch.count_nonzero(activation.saturated(s, a)).item() / max(a.numel(), 1),
    }


SAMPLE_SIZE = 8192
"""Values in the sample that brackets the percentiles (see :func:`percentiles`)."""


def percentiles(values: np.ndarray, qs: tuple[float, ...]) -> tuple[float, ...]:
    """Exactly ``numpy.percentile(values, qs)`` (linear interpolation between the order
    statistics at ranks ⌊h⌋ and ⌊h⌋ + 1, h = q/100 · (n − 1)), in about one pass over
    ``values`` when the qs are in the tails (Glorot & Bengio's 2nd and 98th).

    A sorted strided sample of about :data:`SAMPLE_SIZE` values gives two bounds, lo and
    hi, placed eight binomial standard deviations beyond the wanted ranks. The values
    ≤ lo are the smallest L of all and those ≥ hi the largest U, so when the lower ranks
    are below L and the upper ones above n − U, the order statistics are those of the
    few values outside (lo, hi), which alone are partitioned. When a bound misses (a
    sample unlike the whole), numpy.percentile decides."""
    n = values.size
    if n <= 16 * SAMPLE_SIZE:
        return tuple(float(v) for v in np.percentile(values, qs))
    sample = np.sort(values[:: n // SAMPLE_SIZE])
    m = sample.size
    h = [q / 100 * (n - 1) for q in qs]
    pairs = [(int(np.floor(x)), min(int(np.floor(x)) + 1, n - 1)) for x in h]
    low = [r for q, pair in zip(qs, pairs, strict=True) if q <= 50 for r in pair]
    high = [r for q, pair in zip(qs, pairs, strict=True) if q > 50 for r in pair]

    def at(rank: int, direction: int) -> float:
        p = rank / (n - 1)
        spread = int(8 * np.sqrt(m * p * (1 - p))) + 2
        return sample[int(np.clip(round(p * (m - 1)) + direction * spread, 0, m - 1))]

    lo = at(max(low), +1) if low else -np.inf
    hi = at(min(high), -1) if high else np.inf
    side = values[(values <= lo) | (values >= hi)] if lo < hi else values
    below = int(np.count_nonzero(side <= lo)) if lo < hi else n
    above = side.size - below if lo < hi else n
    if not (all(r < below for r in low) and all(r >= n - above for r in high)):
        return tuple(float(v) for v in np.percentile(values, qs))
    offset = n - side.size
    kth = sorted({*low, *(r - offset for r in high)})
    order = np.partition(side, kth)
    value = {r: float(order[r]) for r in low} | {r: float(order[r - offset]) for r in high}
    return tuple(value[a] + (x - a) * (value[b] - value[a]) for x, (a, b) in zip(h, pairs, strict=True))
