"""depthlab's native kernels: ``fused_mlp.c``, built with this machine's C compiler.

The source is compiled on first use with ``$CC`` (default ``cc``), the first of
``FLAG_SETS`` that builds and loads winning (``-march=native`` for this machine's vector
units, OpenMP for its cores), into ``<user cache>/kernels/fused_mlp-<hash>.so``; the hash
covers the source, the compiler's identity, the flags and the CPU's model and features (a
``-march=native`` build must not run on another machine sharing the home folder), so a
change of any of them builds anew. Beside each library its SHA-256 is recorded at the
build (``.sha256``); a library whose bytes differ (truncated, replaced, unrecorded) is
never loaded but built anew, and a loaded one must compute one SGD step of a tiny
network as torch does before it is used (once per process), else it too is rebuilt. The
library is loaded with ctypes and called on the tensors' own memory. When no
compiler is found or none of the builds works, :func:`native_kernels` raises
:class:`NativeUnavailable` with the reason, and the fused step falls back to torch
operations. ``DEPTHLAB_NATIVE=0`` turns the kernels off.

An activation or a cost names its native form (``native="tanh"``); :mod:`.ids` reads the
numbers the C source gives those names. :class:`Kernel` is what a fused step may ask to
run its matrix work on, and the ``kernel`` a run's ``env.json`` records (what did run it)
is one of the strings made here: :data:`TORCH_AUTOGRAD`, :data:`TORCH_BATCHED`,
:func:`on_torch_ops` and :attr:`NativeKernels.description`.
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
from depthlab.errors import DepthlabError, unknown_choice
from depthlab.nets.activations import ACTIVATIONS, LEAKY_SLOPE, Activation
from depthlab.registry import Choice
from depthlab.training.costs import COSTS, Cost
from depthlab.training.kernels.ids import ACTIVATION_IDS, COST_IDS, SOURCE

# -ffp-contract=fast: with -std=c11 GCC would not fuse a * b + c into one FMA instruction,
# which halves the multiply-add rate of every tile.
FLAG_SETS = (
    ("-O3", "-march=native", "-ffp-contract=fast", "-fopenmp"),
    ("-O3", "-march=native", "-ffp-contract=fast"),
    ("-O3",),
)
_INT, _FLOAT, _POINTER = ctypes.c_int, ctypes.c_float, ctypes.c_void_p
VERSION_TIMEOUT = 10.0
"""Seconds ``$CC --version`` may take (a hung compiler is not waited for)."""
CHECK_LR, CHECK_TOLERANCE = 0.1, 1e-5
"""The self-check's learning rate, and how far its results may be from torch's."""


class Kernel(Choice, kind="kernel"):
    """What a fused step (:class:`depthlab.training.fused.FusedSGD`) asks to run its matrix
    work on: depthlab's ``native`` kernels, ``torch`` operations, or ``auto`` (native where
    they can run)."""

    AUTO = "auto"
    NATIVE = "native"
    TORCH = "torch"


TORCH_AUTOGRAD = "torch autograd"
"""The ``kernel`` recorded for a run stepped by autograd and a torch.optim optimizer."""
TORCH_BATCHED = "torch batched products (bmm)"
"""The ``kernel`` recorded for a run trained in a stack (:mod:`depthlab.training.stacked`)."""


def on_torch_ops(reason: str) -> str:
    """The ``kernel`` recorded for a fused step on torch operations, and why:
    ``torch ops (asked for)``. (On the native kernels: :attr:`NativeKernels.description`.)"""
    return f"torch ops ({reason})"


class NativeUnavailable(RuntimeError):
    """The native kernels cannot be used here; the message says why."""


class NativeKernels:
    """The compiled kernels, called on contiguous float32 CPU tensors.

    Every call runs on ``torch.get_num_threads()`` threads (OpenMP builds) and checks
    nothing but the labels' range: the caller (:class:`depthlab.training.fused.FusedSGD`) owns
    the shapes and dtypes.
    """

    def __init__(self, path: Path, flags: tuple[str, ...], loaded_from: Path | None = None):
        self.path, self.flags = path, flags
        library = ctypes.CDLL(str(loaded_from or path))
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
        returns the cost C then, else None. A label outside the classes raises IndexError; an
        activation or cost whose ``native`` names no form here, one-line DepthlabError."""
        loss = ctypes.c_double()
        try:
            phi = ACTIVATION_IDS[activation.native]
            cost_args = (COST_IDS[cost.native], y.data_ptr(), delta.data_ptr()) if cost else (-1, None, None)
        except KeyError:
            raise _unknown_native(activation, cost) from None
        failed = self._forward(torch.get_num_threads(), len(x), len(weights), _sizes(x, weights),
                               phi, LEAKY_SLOPE, x.data_ptr(), _addresses(weights),
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
        try:
            phi = ACTIVATION_IDS[activation.native]
        except KeyError:
            raise _unknown_native(activation) from None
        failed = self._backward(torch.get_num_threads(), len(x), len(weights), _sizes(x, weights),
                                phi, LEAKY_SLOPE, x.data_ptr(), _addresses(outputs),
                                _addresses(deltas), _addresses(weights), w_buffers, _addresses(biases), b_buffers,
                                lr, decay, momentum, int(nesterov))
        if failed:
            widest = max(w.shape[0] for w in weights)
            raise MemoryError(f"the backward kernel could not allocate {len(x)} x {widest} floats")


def _unknown_native(activation: Activation, cost: Cost | None = None) -> DepthlabError:
    """The one-line error for the first of ``activation`` and ``cost`` whose ``native``
    names no member of the kernels' enums (:mod:`.ids`)."""
    if activation.native not in ACTIVATION_IDS:
        return unknown_choice("native activation", activation.native, ACTIVATION_IDS)
    return unknown_choice("native cost", cost.native, COST_IDS)


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
    """The loaded and checked kernels, or why they cannot be had (computed once per process)."""
    if os.environ.get("DEPTHLAB_NATIVE", "1") == "0":
        return "turned off by DEPTHLAB_NATIVE=0"
    try:
        command = shlex.split(_compiler())
    except ValueError as error:
        return f"$CC {_compiler()!r} is not a command line ({error})"
    if not command or shutil.which(command[0]) is None:
        return f"no C compiler found (looked for {_compiler()!r}; set $CC)"
    try:
        identity = _compiler_identity(command)
    except NativeUnavailable as error:
        return str(error)
    failures = []
    for flags in FLAG_SETS:
        try:
            return _trusted(command, identity, flags)
        except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired, NativeUnavailable) as error:
            failures.append(f"{' '.join(flags)}: {_first_line(error)}")
    return f"{_compiler()} could not build {SOURCE.name} ({'; '.join(failures)})"


def _trusted(command: list[str], identity: str, flags: tuple[str, ...]) -> NativeKernels:
    """The kernels built with ``flags``, loaded only when the library's digest is the one
    recorded at its build and they compute a tiny problem as torch does; a library failing
    either is built anew once, and one failing again is not used."""
    library = library_path(command, identity, flags)
    for attempt in range(2):
        if attempt or not _verified(library):
            _build(command, flags, library)
        # Loaded from a private copy, verified itself: the file checked is the file loaded,
        # and a library rebuilt under the same name is not the one the process already has.
        with tempfile.NamedTemporaryFile(suffix=".so", dir=library.parent) as copy:
            copy.write(library.read_bytes())
            copy.flush()
            if not _verified(library, Path(copy.name)):
                problem = f"{library.name} changed while it was being loaded"
                continue
            try:
                kernels = NativeKernels(library, flags, loaded_from=Path(copy.name))
            except AttributeError as error:  # a library without the kernels' functions
                problem = f"{library.name} lacks the kernels' functions ({error})"
            else:
                problem = _self_check(kernels)
                if problem is None:
                    return kernels
        _digest_file(library).unlink(missing_ok=True)  # not trusted: built anew on the next attempt
    raise NativeUnavailable(problem)


def _compiler() -> str:
    return os.environ.get("CC") or "cc"


def _compiler_identity(command: list[str]) -> str:
    """What ``$CC --version`` says, within VERSION_TIMEOUT seconds."""
    try:
        return subprocess.run([*command, "--version"], capture_output=True, text=True, check=False,
                              timeout=VERSION_TIMEOUT).stdout
    except subprocess.TimeoutExpired:
        raise NativeUnavailable(f"{_compiler()} --version did not answer within {VERSION_TIMEOUT:g} s") from None
    except OSError as error:
        raise NativeUnavailable(f"{_compiler()} --version could not run ({error})") from None


def _cpu_identity() -> str:
    """The CPU's model name and feature flags (Linux), else what the platform says."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        lines = cpuinfo.read_text().splitlines()
        found = {line.split(":")[0].strip(): line for line in reversed(lines) if ":" in line}
        return "\n".join(found.get(key, "") for key in ("model name", "flags", "Features"))
    return f"{platform.machine()} {platform.processor()}"


def _compile_command(command: list[str], flags: tuple[str, ...]) -> list[str]:
    return [*command, *flags, "-shared", "-fPIC", "-std=c11"]  # then the source, -o, -lm


def library_path(command: list[str], identity: str, flags: tuple[str, ...]) -> Path:
    """Where the library built by ``command`` (whose ``--version`` says ``identity``) with
    ``flags`` is cached: named by a digest of the source, the compiler, the flags and the CPU."""
    digest = hashlib.sha256("\0".join([SOURCE.read_text(), identity, *_compile_command(command, flags),
                                       _cpu_identity()]).encode())
    return user_cache_dir() / "kernels" / f"{SOURCE.stem}-{digest.hexdigest()[:16]}.so"


def _digest_file(library: Path) -> Path:
    """Beside each library, the SHA-256 of its bytes as built."""
    return library.with_suffix(".sha256")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _verified(library: Path, contents: Path | None = None) -> bool:
    """Whether ``library`` (or ``contents``, a copy of it) holds the bytes its build
    recorded (a truncated, replaced or unrecorded file does not, and is never loaded)."""
    try:
        return _digest_file(library).read_text().strip() == _sha256(contents or library)
    except OSError:
        return False


def _build(command: list[str], flags: tuple[str, ...], library: Path) -> None:
    """Compile the source with ``flags`` into ``library`` and record its digest. Both are
    written under temporary names and renamed, so a concurrent run never loads a
    half-written file."""
    library.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(suffix=".so", dir=library.parent)
    os.close(handle)
    record = Path(partial).with_suffix(".sha256")
    try:
        subprocess.run([*_compile_command(command, flags), str(SOURCE), "-o", partial, "-lm"], check=True,
                       capture_output=True, text=True, timeout=300)
        record.write_text(_sha256(Path(partial)) + "\n")
        os.replace(partial, library)
        os.replace(record, _digest_file(library))
    finally:
        Path(partial).unlink(missing_ok=True)
        record.unlink(missing_ok=True)


def _self_check(kernels: NativeKernels) -> str | None:
    """None when the kernels compute one SGD step of a tiny tanh network with the NLL cost
    as torch does (to CHECK_TOLERANCE); else what differs."""
    tanh, nll = ACTIVATIONS.get("tanh"), COSTS.get("nll")
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(3, 5, generator=g), torch.tensor([0, 2, 1])
    weights = [torch.randn(4, 5, generator=g) / 2, torch.randn(3, 4, generator=g) / 2]
    biases = [torch.randn(4, generator=g) / 2, torch.randn(3, generator=g) / 2]
    expected = [p.clone().requires_grad_(True) for p in (*weights, *biases)]
    w0, w1, b0, b1 = expected
    loss = nll.loss(torch.tanh(x @ w0.t() + b0) @ w1.t() + b1, y)
    loss.backward()
    outputs, deltas = [torch.empty(3, 4), torch.empty(3, 3)], [torch.empty(3, 4), torch.empty(3, 3)]
    native_loss = kernels.forward(x, weights, biases, outputs, tanh, nll, y, deltas[-1])
    kernels.backward(x, outputs, deltas, weights, biases, None, tanh, CHECK_LR, 0.0, 0.0, False)
    stepped = [(p - CHECK_LR * p.grad).detach() for p in expected]
    worst = max(float((a - b).abs().max()) for a, b in zip((*weights, *biases), stepped))
    if abs(native_loss - loss.item()) > CHECK_TOLERANCE or not worst <= CHECK_TOLERANCE:
        return (f"{kernels.path.name} computes a tiny SGD step unlike torch (cost {native_loss:.6g} against "
                f"{loss.item():.6g}, parameters apart by {worst:.3g})")
    return None


def _first_line(error: Exception) -> str:
    """The compiler's first error line (or its exit status), or the error's own first line."""
    if isinstance(error, subprocess.CalledProcessError):
        lines = [line for line in (error.stderr or "").splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line.lower()]
        return (errors or lines or [f"exit status {error.returncode}"])[0]
    return (str(error).splitlines() or [type(error).__name__])[0]
