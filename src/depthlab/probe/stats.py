"""The histograms a probe reduces a quantity's values to (the statistics are the
quantities' own: :mod:`depthlab.probe.quantities`), the precision every statistic,
histogram and spectrum is computed in (:func:`wide`), and where values are reduced.

Values on a device type in :data:`HOST_REDUCED` (the CPU) are reduced with numpy and read
at once, as floats: numpy is the faster there. Values elsewhere (a GPU) are reduced on
their device and left there: a statistic is a 0-d tensor (:func:`read`), a histogram a
pair of tensors, and the probe reads all of a measure's at its end in one transfer
(:func:`settle`): one host synchronisation per measure, nothing copied per layer (the
Jacobian spectra's checks add at most two, and on CUDA torch's SVD checks its convergence
on the host once per spectrum). Both give the same numbers.

Importing this module imports no torch (the quantities, which readers import for their
names, use it): the functions reducing values import it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

HOST_REDUCED = {"cpu"}
"""Device types whose values are reduced on the host, with numpy, and read at once."""


def on_host(tensor: Tensor) -> bool:
    """Whether ``tensor``'s values are reduced on the host (see :data:`HOST_REDUCED`)."""
    return tensor.device.type in HOST_REDUCED


def read(value: Tensor) -> float | Tensor:
    """A 0-d statistic: its float where it is reduced on the host, else the tensor itself,
    read with the rest of the measure by :func:`settle`."""
    return value.item() if on_host(value) else value.detach()


def all_finite(tensor: Tensor) -> Tensor:
    """Whether every value of ``tensor`` is finite, as an unread 0-d bool tensor: NaN and
    ±inf reach the extremes, so no mask the size of ``tensor`` is made."""
    import torch

    if not tensor.numel():
        return torch.ones((), dtype=torch.bool, device=tensor.device)
    low, high = torch.aminmax(tensor.detach())
    return torch.isfinite(low) & torch.isfinite(high)


def wide(tensor: Tensor) -> Tensor:
    """``tensor`` in float32 when its floating-point type is narrower (bfloat16, float16),
    else as it is: a bfloat16 model's statistics are reduced from its own values, upcast,
    not in its 8-bit mantissa (three significant digits)."""
    return tensor.float() if tensor.is_floating_point() and tensor.dtype.itemsize < 4 else tensor


def histogram(values: Tensor, value_range: tuple[Any, Any] | None = None,
              bins: int = 100) -> tuple[list[float] | Tensor, list[int] | Tensor]:
    """Bin edges and counts (numpy.histogram's) of the finite ``values`` over
    ``value_range`` (values beyond it are counted in the end bins), or over ±max|value|
    when no range is given (±1 when no value is finite and non-zero); an empty range
    [r, r] is widened to [r − ½, r + ½], as numpy does. The edges are in float32, or in
    float64 where float32 cannot tell ``bins`` edges apart (values in the denormal range
    of a deep saturated net). Lists where ``values`` are reduced on the host, tensors
    (float64 edges, int64 counts) for :func:`settle` elsewhere."""
    values = values.detach().flatten().float()
    return (_host_histogram if on_host(values) else _device_histogram)(values, value_range, bins)


def _host_histogram(values: Tensor, value_range: tuple[float, float] | None,
                    bins: int) -> tuple[list[float], list[int]]:
    import torch

    low, high = torch.aminmax(values) if values.numel() else (values.new_zeros(()), values.new_zeros(()))
    if not (torch.isfinite(low) and torch.isfinite(high)):  # NaN and ±inf reach the extremes
        values = values[torch.isfinite(values)]
        low, high = torch.aminmax(values) if values.numel() else (values.new_zeros(()), values.new_zeros(()))
    if value_range is None:  # nothing lies beyond ±max|value|: no copy clipped to the range
        bound = max(-low.item(), high.item())
        value_range = (-bound, bound) if bound > 0 else (-1.0, 1.0)
    else:
        values = values.clamp(*value_range)
    array = values.cpu().numpy()
    if not _float32_resolves(*value_range, bins):
        array = array.astype(np.float64)
    counts, edges = np.histogram(array, bins=bins, range=value_range)
    return edges.tolist(), counts.tolist()


def _float32_resolves(low: float, high: float, bins: int) -> bool:
    """Whether ``bins`` equal bins over [low, high] have distinct float32 edges (numpy's
    test before it refuses with "Too many bins for data range")."""
    if low == high:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1, dtype=np.float32)
    return bool(np.all(edges[:-1] < edges[1:]))


CHUNK = 1 << 22
"""Values binned at a time on a device: the temporaries (a mask, float64 copies, bin
indices) stay within a few times this many, whatever the size of the values."""


def _device_histogram(values: Tensor, value_range: tuple[Any, Any] | None, bins: int) -> tuple[Tensor, Tensor]:
    """numpy.histogram's numbers, on the device and without a read: the edges as
    numpy.linspace makes them (k·step + low, the last one high; rounded to float32 where
    float32 tells them apart), each finite value counted in the bin i with
    edges[i] ≤ value < edges[i + 1] (the last bin closed), the others with weight 0;
    :data:`CHUNK` values at a time."""
    import torch

    double = {"dtype": torch.float64, "device": values.device}
    if value_range is None:
        bound = torch.zeros((), **double)
        for part in values.split(CHUNK) if values.numel() else ():
            bound = torch.maximum(bound, torch.where(torch.isfinite(part), part.abs(), 0.0).amax().double())
        high = torch.where(bound > 0, bound, 1.0)
        low = -high
    else:
        low, high = (torch.as_tensor(end, **double) for end in value_range)
        empty = low == high
        low, high = torch.where(empty, low - 0.5, low), torch.where(empty, high + 0.5, high)
    edges = torch.arange(bins + 1, **double) * ((high - low) / bins) + low
    edges[-1] = high
    rounded = edges.float().double()
    edges = torch.where((rounded[:-1] < rounded[1:]).all(), rounded, edges)
    inner = edges[1:-1].contiguous()
    counts = torch.zeros(bins, dtype=torch.int32, device=values.device)
    for part in values.split(CHUNK):
        finite = torch.isfinite(part)
        index = torch.bucketize(torch.where(finite, part.double().clamp(low, high), low), inner, right=True,
                                out_int32=True)
        counts.scatter_add_(0, index.long(), finite.int())
    return edges, counts.long()


def settle(rows: list[dict[str, Any]], histograms: list[dict[str, Any]]) -> None:
    """Replace, in place, every value left on a device (a row's 0-d "value", a histogram's
    "edges" and "counts") by its number, reading all of a device's at once: one
    ``tolist()`` per device (one per measure on a one-GPU model)."""
    import torch

    slots = [(row, "value") for row in rows] + [(h, key) for h in histograms for key in ("edges", "counts")]
    pending: dict[Any, list[tuple[dict[str, Any], str]]] = defaultdict(list)
    for holder, key in slots:
        if isinstance(holder[key], torch.Tensor):
            pending[holder[key].device].append((holder, key))
    for found in pending.values():
        flat = torch.cat([holder[key].detach().double().flatten() for holder, key in found]).tolist()
        start = 0
        for holder, key in found:
            size = holder[key].numel()
            numbers = flat[start:start + size]
            start += size
            holder[key] = [int(n) for n in numbers] if key == "counts" else numbers if key == "edges" else numbers[0]
