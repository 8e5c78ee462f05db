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
from depthlab.nets.activations import LEAKY_SLOPE, Activation
from depthlab.training.costs import Cost

SOURCE = Path(__file__).with_name("fused_mlp.c")
# -ffp-contract=fast: with -std=c11 GCC would not fuse a * b + c into one FMA instruction,
# which halves the multiply-add rate of every tile.
FLAG_SETS = (
    ("-O3", "-march=native", "-ffp-contract=fast", "-fopenmp"),
    ("-O3", "-march=native", "-ffp-contract=fast"),
    ("-O3",),
)
_INT, _FLOAT, _POINTER = ctypes.c_int, ctypes.c_float, ctypes.c_void_p


class NativeUnavailable(RuntimeError):
    """The native kernels cannot be used here; the message says why."""


class NativeKernels:
    """The compiled kernels, called on contiguous float32 CPU tensors.

    Every call runs on ``torch.get_num_threads()`` threads (OpenMP builds) and checks
    nothing but the labels' range: the caller (:class:`depthlab.training.fused.FusedSGD`) owns
    the shapes and dtypes.
    """

    def __init__(self, path: Path, flags: tuple[str, ...]):
        self.path, self.flags = path, flags
        library = ctypes.CDLL(str(path))
        self._forward = library.dl_forward
        self._forward.argtypes = [_INT] * 3 + [_POINTER, _INT, _FLOAT] + [_POINTER] * 4 + [_INT] + [_POINTER] * 3
        self._forward.restype = _INT
        self._backward = library.dl_backward
        self._backward.argtypes = [_INT] * 3 + [_POINTER, _INT, _FLOAT] + [_POINTER] * 7 + [_FLOAT] * 3 + [_INT]
        self._backward.restype = _INT

    @property
    def description(self) -> str:
        """How the kernels were built, e.g. ``native (cc -O3 -march=native -ffp-contract=fast -fopenmp)``."""
        return f"native ({_compiler()} {' '.join(self.flags)})"

    def forward(self, x: Tensor, weights: list[Tensor], biases: list[Tensor], outputs: list[Tensor],
                activation: Activation, cost: Cost | None = None, y: Tensor | None = None,
                delta: Tensor | None = None) -> float | None:
        """The forward pass of an MLP: outputs[k] = φ(a W_kᵀ + b_k), with a = x (B × n_in) for
        the first layer and outputs[k − 1] after, φ the ``activation`` (its ``native`` form) on
        the hidden layers and linear on the last (the logits). With a ``cost`` (a native one)
        and the labels ``y`` (int64), also ∂C/∂logits into ``delta``;
        returns the cost C then, else None. A label outside the classes raises IndexError."""
        loss = ctypes.c_double()
        cost_args = (cost.native, y.data_ptr(), delta.data_ptr()) if cost else (-1, None, None)
        failed = self._forward(torch.get_num_threads(), len(x), len(weights), _sizes(x, weights),
                               activation.native, LEAKY_SLOPE, x.data_ptr(), _addresses(weights),
                               _addresses(biases), _addresses(outputs), *cost_args, ctypes.byref(loss))
        if failed:
            raise IndexError(f"label {int(y[failed - 1])} of example {failed - 1} is not one of the "
                             f"{weights[-1].shape[0]} classes (0 to {weights[-1].shape[0] - 1})")
        return loss.value if cost else None

    def backward(self, x: Tensor, outputs: list[Tensor], deltas: list[Tensor], weights: list[Tensor],
                 biases: list[Tensor], buffers: list[tuple[Tensor, Tensor]] | None, activation: Activation,
                 lr: float, decay: float, momentum: float, nesterov: bool) -> None:
        """The backward pass and SGD update of the MLP of :meth:`forward`, from the last layer
        down. ``deltas[-1]`` holds ∂C/∂logits; each layer k writes the δ of the layer below,
        deltas[k − 1] = (δ_k W_k) ⊙ φ′(outputs[k − 1]) with the weights before the update, then
        updates W_k and b_k from ∂C/∂W = δ_kᵀa and ∂C/∂b = δ_kᵀ1 (see fused_mlp.c for the rule):
        plain SGD when ``buffers`` is None, else momentum with each layer's buffers of W and b."""
        w_buffers, b_buffers = (_addresses([w for w, _ in buffers]), _addresses([b for _, b in buffers])) \
            if buffers else (None, None)
        failed = self._backward(torch.get_num_threads(), len(x), len(weights), _sizes(x, weights),
                                activation.native, LEAKY_SLOPE, x.data_ptr(), _addresses(outputs),
                                _addresses(deltas), _addresses(weights), w_buffers, _addresses(biases), b_buffers,
                                lr, decay, momentum, int(nesterov))
        if failed:
            widest = max(w.shape[0] for w in weights)
            raise MemoryError(f"the backward kernel could not allocate {len(x)} x {widest} floats")


def _sizes(x: Tensor, weights: list[Tensor]) -> ctypes.Array:
    """The net's widths, input first, as a C array of ints."""
    return _int_array((x.shape[1], *(w.shape[0] for w in weights)))


def _addresses(tensors: list[Tensor]) -> ctypes.Array:
    """The tensors' data pointers as a C array."""
    return _pointer_array(tuple(map(Tensor.data_ptr, tensors)))


# Making a ctypes array costs microseconds per call, as much as the rest of a call; a step
# passes the same parameters and (see FusedSGD) the same work tensors every time.
@functools.lru_cache(maxsize=64)
def _int_array(values: tuple[int, ...]) -> ctypes.Array:
    return (_INT * len(values))(*values)


@functools.lru_cache(maxsize=64)
def _pointer_array(pointers: tuple[int, ...]) -> ctypes.Array:
    return (_POINTER * len(pointers))(*pointers)


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
    command = [*shlex.split(compiler), *flags, "-shared", "-fPIC", "-std=c11"]  # then the source, -lm
    identity = subprocess.run([*shlex.split(compiler), "--version"], capture_output=True, text=True, check=False).stdout
    digest = hashlib.sha256("\0".join([SOURCE.read_text(), identity, *command, _cpu_identity()]).encode())
    target = user_cache_dir() / "kernels" / f"{SOURCE.stem}-{digest.hexdigest()[:16]}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(handle)
        try:
            subprocess.run([*command, str(SOURCE), "-o", partial, "-lm"], check=True, capture_output=True,
                           text=True, timeout=300)
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
