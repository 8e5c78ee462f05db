"""depthlab's native kernels: ``fused_mlp.c``, built with this machine's C compiler.

The source is compiled on first use with ``$CC`` (default ``cc``), the first of
``FLAG_SETS`` that builds and loads winning (``-march=native`` for this machine's vector
units, OpenMP for its cores), into ``<user cache>/kernels/fused_mlp-<hash>.so``; the hash
covers the source, the compiler's identity, the flags and the CPU's model and features (a
``-march=native`` build must not run on another machine sharing the home folder), so a
change of any of them builds anew. The library is loaded with ctypes and called on the tensors' own memory. When no
compiler is found or none of the builds works, :func:`native_kernels` raises
:class:`NativeUnavailable` with the reason, and the fused step falls back to torch
operations. ``DEPTHLAB_NATIVE=0`` turns the kernels off.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch
from torch import Tensor

from depthlab.data.download import user_cache_dir
from depthlab.nets.activations import LEAKY_SLOPE

SOURCE = Path(__file__).with_name("fused_mlp.c")
# -ffp-contract=fast: with -std=c11 GCC would not fuse a * b + c into one FMA instruction,
# which halves the multiply-add rate of every tile.
FLAG_SETS = (
    ("-O3", "-march=native", "-ffp-contract=fast", "-fopenmp"),
    ("-O3", "-march=native", "-ffp-contract=fast"),
    ("-O3",),
)
NATIVE_ACTIVATIONS = ("linear", "tanh", "sigmoid", "softsign", "relu", "leaky-relu")
"""The activations of :mod:`depthlab.nets.activations` that the kernels compute (φ and
φ′), in the order of the C source's enum."""
_INT, _FLOAT, _POINTER = ctypes.c_int, ctypes.c_float, ctypes.c_void_p


class NativeUnavailable(RuntimeError):
    """The native kernels cannot be used here; the message says why."""


class NativeKernels:
    """The compiled kernels, called on contiguous float32 CPU tensors.

    Every call runs on ``torch.get_num_threads()`` threads (OpenMP builds) and checks
    nothing: the caller (:class:`depthlab.train.fused.FusedSGD`) owns the shapes.
    """

    def __init__(self, path: Path, flags: tuple[str, ...]):
        self.path, self.flags = path, flags
        library = ctypes.CDLL(str(path))
        self._forward = library.dl_linear_forward
        self._forward.argtypes = [_INT] * 5 + [_FLOAT] + [_POINTER] * 4
        self._forward.restype = None
        self._backward = library.dl_backward_update
        self._backward.argtypes = [_INT] * 4 + [_POINTER] * 7 + [_INT] + [_FLOAT] * 4 + [_INT]
        self._backward.restype = _INT

    @property
    def description(self) -> str:
        """How the kernels were built, e.g. ``native (cc -O3 -march=native -ffp-contract=fast -fopenmp)``."""
        return f"native ({_compiler()} {' '.join(self.flags)})"

    def linear_forward(self, a: Tensor, weight: Tensor, bias: Tensor, out: Tensor,
                       activation: str = "linear") -> Tensor:
        """out = φ(a Wᵀ + b), for a (B × n_in), W (n_out × n_in), out (B × n_out), φ one of
        :data:`NATIVE_ACTIVATIONS`."""
        (batch, n_in), n_out = a.shape, weight.shape[0]
        self._forward(torch.get_num_threads(), batch, n_in, n_out, NATIVE_ACTIVATIONS.index(activation), LEAKY_SLOPE,
                      a.data_ptr(), weight.data_ptr(), bias.data_ptr(), out.data_ptr())
        return out

    def backward_update(self, delta: Tensor, a: Tensor, weight: Tensor, bias: Tensor,
                        buffers: tuple[Tensor, Tensor] | None, below: Tensor | None, activation: str,
                        lr: float, decay: float, momentum: float, nesterov: bool) -> None:
        """below = (δ W) ⊙ φ′(a), the δ of the layer below whose activation φ gave a (with the
        weights before the update; skipped when ``below`` is None), then the SGD update of W
        and b from ∂C/∂W = δᵀa and ∂C/∂b = δᵀ1 (see fused_mlp.c for the rule): plain SGD when
        ``buffers`` is None, else momentum with the buffers of W and b."""
        (batch, n_in), n_out = a.shape, weight.shape[0]
        w_buffer, b_buffer = (buffers[0].data_ptr(), buffers[1].data_ptr()) if buffers else (None, None)
        failed = self._backward(torch.get_num_threads(), batch, n_in, n_out, delta.data_ptr(), a.data_ptr(),
                                weight.data_ptr(), w_buffer, bias.data_ptr(), b_buffer,
                                below.data_ptr() if below is not None else None,
                                NATIVE_ACTIVATIONS.index(activation), LEAKY_SLOPE, lr, decay, momentum, int(nesterov))
        if failed:
            raise MemoryError(f"the backward kernel could not allocate {batch} x {n_out} floats")


def native_kernels() -> NativeKernels:
    """The kernels, built on first use; raises :class:`NativeUnavailable` with the reason."""
    kernels = _load()
    if isinstance(kernels, str):
        raise NativeUnavailable(kernels)
    return kernels


@functools.cache
def _load() -> NativeKernels | str:
    """The loaded kernels, or why they cannot be had (computed once per process)."""
    if os.environ.get("DEPTHLAB_NATIVE", "1") == "0":
        return "turned off by DEPTHLAB_NATIVE=0"
    compiler = _compiler()
    if shutil.which(shlex.split(compiler)[0]) is None:
        return f"no C compiler found (looked for {compiler!r}; set $CC)"
    failures = []
    for flags in FLAG_SETS:
        try:
            return NativeKernels(_build(compiler, flags), flags)
        except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            failures.append(f"{' '.join(flags)}: {_first_line(error)}")
    return f"{compiler} could not build {SOURCE.name} ({'; '.join(failures)})"


def _compiler() -> str:
    return os.environ.get("CC") or "cc"


def _cpu_identity() -> str:
    """The CPU's model name and feature flags (Linux), else what the platform says."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        lines = cpuinfo.read_text().splitlines()
        found = {line.split(":")[0].strip(): line for line in reversed(lines) if ":" in line}
        return "\n".join(found.get(key, "") for key in ("model name", "flags", "Features"))
    return f"{platform.machine()} {platform.processor()}"


def _build(compiler: str, flags: tuple[str, ...]) -> Path:
    """Compile the source with ``flags`` into the cache (once), return the library's path.
    The library is written under a temporary name and renamed, so concurrent runs never
    load a half-written file."""
    command = [*shlex.split(compiler), *flags, "-shared", "-fPIC", "-std=c11"]
    identity = subprocess.run([*shlex.split(compiler), "--version"], capture_output=True, text=True, check=False).stdout
    digest = hashlib.sha256("\0".join([SOURCE.read_text(), identity, *command, _cpu_identity()]).encode())
    target = user_cache_dir() / "kernels" / f"{SOURCE.stem}-{digest.hexdigest()[:16]}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(handle)
        try:
            subprocess.run([*command, str(SOURCE), "-o", partial], check=True, capture_output=True, text=True,
                           timeout=300)
            os.replace(partial, target)
        finally:
            Path(partial).unlink(missing_ok=True)
    return target


def _first_line(error: Exception) -> str:
    """The compiler's first error line (or its exit status), or the error's own first line."""
    if isinstance(error, subprocess.CalledProcessError):
        lines = [line for line in (error.stderr or "").splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line.lower()]
        return (errors or lines or [f"exit status {error.returncode}"])[0]
    return (str(error).splitlines() or [type(error).__name__])[0]
