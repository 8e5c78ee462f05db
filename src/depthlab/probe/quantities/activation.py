"""The activations a = φ(u) of each entry with one, as Glorot & Bengio (2010) monitor them
(section 2.3, Figures 2–4): mean, standard deviation, 2nd and 98th percentiles (the
markers of Figure 3) and the saturated fraction (the activation's ``saturation_rule``,
which may read the input u φ was applied to); histogram over the activation's fixed
``value_range`` (values beyond it count in the end bins)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from depthlab.probe.quantities.base import Need, Quantity, Reading

if TYPE_CHECKING:
    from torch import Tensor

    from depthlab.nets.activations import Activation
    from depthlab.probe.entry import Entry

ACTIVATION_MEAN = "activation_mean"
ACTIVATION_STD = "activation_std"
ACTIVATION_P2 = "activation_p2"
ACTIVATION_P98 = "activation_p98"
SATURATED_FRACTION = "saturated_fraction"
ACTIVATION_HIST = "activation"


class Activations(Quantity):
    name = "activation"
    needs = frozenset({Need.ACTIVATION})
    stats = (ACTIVATION_MEAN, ACTIVATION_STD, ACTIVATION_P2, ACTIVATION_P98, SATURATED_FRACTION)
    histograms = (ACTIVATION_HIST,)

    def measure(self, entry: Entry) -> Reading | None:
        activation, a = entry.call.activation, entry.activation_output
        if activation is None:
            return None
        return Reading(activation_stats(entry.activation_input, a, activation),
                       {ACTIVATION_HIST: (a, activation.value_range)})


def activation_stats(u: Tensor, a: Tensor, activation: Activation) -> dict[str, float]:
    """Mean, standard deviation, 2nd and 98th percentiles of the activations a = φ(u),
    and their saturated fraction (per ``activation.saturation_rule``)."""
    values = a.detach().flatten().cpu().numpy()
    if not (np.isfinite(values.min(initial=0.0)) and np.isfinite(values.max(initial=0.0))):
        values = values[np.isfinite(values)]  # a diverging network: the percentiles of what is left
    p2, p98 = percentiles(values, (2, 98)) if values.size else (np.nan, np.nan)
    return {
        ACTIVATION_MEAN: a.mean().item(),
        ACTIVATION_STD: a.std().item(),
        ACTIVATION_P2: p2,
        ACTIVATION_P98: p98,
        SATURATED_FRACTION: activation.saturated(u, a).count_nonzero().item() / max(a.numel(), 1),
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
