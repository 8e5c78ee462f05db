"""The activations a = φ(u) of each entry with one, as Glorot & Bengio (2010) monitor them
(section 2.3, Figures 2–4): mean, standard deviation, 2nd and 98th percentiles (the
markers of Figure 3) and the saturated fraction (the activation's ``saturation_rule``,
which may read the input u φ was applied to); histogram over the activation's fixed
``value_range`` (values beyond it count in the end bins)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from depthlab.probe.quantities.base import Need, Quantity, Reading
from depthlab.probe.stats import on_host, read

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


def activation_stats(u: Tensor, a: Tensor, activation: Activation) -> dict[str, float | Tensor]:
    """Mean, standard deviation, 2nd and 98th percentiles of the activations a = φ(u),
    and their saturated fraction (per ``activation.saturation_rule``); floats, or 0-d
    tensors where ``a`` is reduced on its device (:func:`depthlab.probe.stats.read`)."""
    p2, p98 = percentiles(a, (2, 98))
    return {
        ACTIVATION_MEAN: read(a.mean()),
        ACTIVATION_STD: read(a.std()),
        ACTIVATION_P2: p2,
        ACTIVATION_P98: p98,
        SATURATED_FRACTION: read(activation.saturated(u, a).count_nonzero().double() / max(a.numel(), 1)),
    }


SAMPLE_SIZE = 8192
"""Values in the sample that brackets the percentiles (see :func:`percentiles`)."""


def percentiles(values: Tensor, qs: tuple[float, ...]) -> tuple[float | Tensor, ...]:
    """``numpy.percentile(values, qs)`` of the finite ``values`` (NaN when none is): floats
    found with numpy (:func:`_host_percentiles`) where ``values`` are reduced on the host,
    else 0-d tensors found on their device (:func:`_device_percentiles`), equal to them
    within float rounding (1e-6 relative)."""
    if not on_host(values):
        return _device_percentiles(values.detach().flatten(), qs)
    array = values.detach().flatten().cpu().numpy()
    if not (np.isfinite(array.min(initial=0.0)) and np.isfinite(array.max(initial=0.0))):
        array = array[np.isfinite(array)]  # a diverging network: the percentiles of what is left
    return _host_percentiles(array, qs) if array.size else tuple(np.nan for _ in qs)


def _device_percentiles(values: Tensor, qs: tuple[float, ...]) -> tuple[Tensor, ...]:
    """The percentiles of :func:`_host_percentiles` without a read: the order statistics at
    ranks a = ⌊h⌋ and a + 1, h = q/100 · (m − 1), m the (unread) count of finite values, come
    from the k smallest values (q ≤ 50) or the k largest (q > 50), k bounded through the
    count n of all values (m ≤ n) and the others set beyond every finite value; then
    v_a + (h − a)(v_{a+1} − v_a) in float64."""
    import torch

    n = values.numel()
    if n == 0:
        return tuple(torch.full((), torch.nan, dtype=torch.float64, device=values.device) for _ in qs)
    finite = torch.isfinite(values)
    m = finite.sum()
    found = []
    for q in qs:
        h = q / 100 * (m - 1).double()
        a = h.floor()
        ranks = torch.stack([a, torch.minimum(a + 1, (m - 1).double())]).long().clamp(min=0)
        if q <= 50:  # ranks a and a + 1 among the k smallest, the others at +inf
            k = min(int(q / 100 * (n - 1)) + 3, n)
            tail = torch.topk(torch.where(finite, values, torch.inf), k, largest=False).values
            positions = ranks
        else:  # ranks from the top, m − 1 − rank, among the k largest, the others at −inf
            k = min(int((1 - q / 100) * (n - 1)) + 3, n)
            tail = torch.topk(torch.where(finite, values, -torch.inf), k).values
            positions = (m - 1) - ranks
        low, high = tail.index_select(0, positions.clamp(0, k - 1)).double()
        value = low + (h - a) * (high - low)
        found.append(torch.where(m > 0, value, torch.nan))
    return tuple(found)


def _host_percentiles(values: np.ndarray, qs: tuple[float, ...]) -> tuple[float, ...]:
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
