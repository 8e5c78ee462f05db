"""How fast an update can be: the bytes it must move and the memory bandwidth that moves
them.

With minibatches of 10, an update of a plain MLP reads and writes each weight matrix a
few times and does little arithmetic per byte (2 FLOPs per weight and pass against 4
bytes), so its time is bounded below by the *memory roof*:

    t_update ≥ bytes moved / memory bandwidth  (Williams, Waterman & Patterson 2009, "Roofline")

The bytes of a stack of K networks of P parameters on the torch-operation engines
(:class:`~depthlab.training.stacked.StackedSGD`, and the fused step on torch ops):

    bytes = 4 · K · (passes · P + ACTIVATION_PASSES · B · Σ widths)

with ``passes`` per parameter as :func:`weight_passes` counts them for the rule, B the
minibatch and the widths input to output (float32). A GPU's bandwidth is read from
:data:`KNOWN_BANDWIDTHS` by its name (the makers' data sheets), or measured by a large
copy (:func:`copy_bandwidth`). On the CPU, where the native kernels and caches change the
count, a dry run times a few real updates instead (:func:`depthlab.grid.estimate.calibrate`).
"""

from __future__ import annotations

import time

import torch

from depthlab.errors import DepthlabError
from depthlab.limits import FLOAT_BYTES, parameter_count

KNOWN_BANDWIDTHS: tuple[tuple[str, float], ...] = (
    ("H200", 4.8e12),
    ("H100 NVL", 3.9e12),
    ("H100 PCIe", 2.0e12),
    ("H100", 3.35e12),  # SXM5 ("NVIDIA H100 80GB HBM3")
    ("A100-PCIE-40GB", 1.555e12),
    ("A100-SXM4-40GB", 1.555e12),
    ("A100 80GB PCIe", 1.935e12),
    ("A100", 2.039e12),  # SXM4 80 GB
    ("L40S", 0.864e12),
    ("A10G", 0.6e12),
    ("V100", 0.9e12),
    ("L4", 0.3e12),
    ("T4", 0.32e12),
)
"""Peak memory bandwidth in bytes/s of GPUs by a part of the name CUDA gives them
(``torch.cuda.get_device_name``), the most specific first: NVIDIA's data sheets (H200
4.8 TB/s; H100 SXM5 3.35, NVL 3.9, PCIe 2.0; A100 80 GB SXM4 2.039, PCIe 1.935, 40 GB
1.555; L40S 0.864; A10G 0.6; V100 0.9; L4 0.3; T4 0.32)."""

ACTIVATION_PASSES = 6
"""Passes over each layer's output per update, per example: written and read forward,
φ′ and δ written and read backward."""


def known_bandwidth(name: str) -> float | None:
    """The peak memory bandwidth (bytes/s) of the GPU called ``name``, or None when it is
    not in :data:`KNOWN_BANDWIDTHS`."""
    return next((bandwidth for part, bandwidth in KNOWN_BANDWIDTHS if part in name), None)


def weight_passes(momentum: bool = False, nesterov: bool = False, decay: bool = False) -> int:
    """Passes over each parameter per update on the torch-operation engines: plain SGD 4
    (forward read, δ read, the update's read and write); momentum 7 (the buffer read and
    written, then read again with the weight read and written); Nesterov 9 (and the
    gradient step's read and write); weight decay 3 more with momentum (v += λθ reads
    both, writes v), 2 without (θ ← (1 − ηλ)θ)."""
    passes = 9 if nesterov else 7 if momentum else 4
    return passes + (3 if momentum and decay else 2 if decay else 0)


def update_bytes(widths: list[int], batch: int, k: int = 1, passes: int = 4) -> int:
    """The bytes an update of ``k`` networks of layer ``widths`` (input to output) on
    minibatches of ``batch`` must move (module docstring)."""
    return FLOAT_BYTES * k * (passes * parameter_count(widths) + ACTIVATION_PASSES * batch * sum(widths))


def copy_bandwidth(device: torch.device | str = "cpu", megabytes: int = 256, repeats: int = 5) -> float:
    """Measured memory bandwidth of ``device`` in bytes/s: the best of ``repeats`` copies
    of a ``megabytes`` tensor, each counted as its read and its write."""
    device = torch.device(device)
    source = torch.empty(megabytes * 2**20 // FLOAT_BYTES, device=device).fill_(1.0)
    target = torch.empty_like(source)
    best = float("inf")
    for _ in range(repeats + 1):  # the first copy warms the pages up
        _synchronize(device)
        start = time.perf_counter()
        target.copy_(source)
        _synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * source.numel() * FLOAT_BYTES / best


def device_bandwidth(device: torch.device | str, name: str | None = None) -> tuple[float, str]:
    """(memory bandwidth in bytes/s, where it comes from) of ``device``: a GPU's from its
    name (``name``, else CUDA's) when known, else measured by a copy."""
    device = torch.device(device)
    if device.type == "cuda":
        if name is None and not torch.cuda.is_available():
            raise DepthlabError(f"device '{device}' is not on this machine: name its GPU to look its bandwidth up "
                                f"(one of {', '.join(part for part, _ in KNOWN_BANDWIDTHS)})")
        name = name or torch.cuda.get_device_name(device)
        known = known_bandwidth(name)
        if known is not None:
            return known, f"{name}: {known / 1e12:g} TB/s (data sheet)"
        if not torch.cuda.is_available():
            raise DepthlabError(f"no bandwidth is known for the GPU '{name}' (known: "
                                f"{', '.join(part for part, _ in KNOWN_BANDWIDTHS)}) and there is none here to measure")
    measured = copy_bandwidth(device)
    return measured, f"{name or device.type}: {measured / 1e9:.1f} GB/s (measured copy)"


def roof_seconds_per_update(widths: list[int], batch: int, k: int, passes: int, bandwidth: float) -> float:
    """The memory roof's time for one update of ``k`` networks: :func:`update_bytes` ÷ bandwidth."""
    return update_bytes(widths, batch, k, passes) / bandwidth


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
