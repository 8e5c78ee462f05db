"""Training throughput of the paper's reference net: autograd loop vs depthlab's fused step.

The net is Glorot & Bengio's (2010) deepest: 32×32 inputs, 5 hidden layers of 1000 tanh
units, 9 classes (Shapeset-3×2), softmax + negative log-likelihood, plain SGD. Engines,
timed side by side in one process, interleaved (the order rotates every repeat), the
median of the repeats reported:

- autograd: nn.Sequential + torch.optim.SGD, zero_grad(set_to_none=True), F.cross_entropy,
  backward, step;
- fused torch: depthlab.training.fused.FusedSGD on depthlab's MLP, matrix work in torch ops;
- fused native: the same step in depthlab's C kernels (depthlab.training.kernels) where they
  build here (the header says which kernel ran) and the batch is at most NATIVE_MAX_BATCH;
- roofline: the bytes an update must move (see ``update_bytes``) divided by the copy
  bandwidth of this machine, measured in the same repeats (a ``dst.copy_(src)`` far beyond
  the last-level cache, read + write bytes counted).

Then, for each batch the native kernels take, where the native step's time goes: its two
kernel calls (the forward pass; the backward pass with the updates) timed inside real
updates, the rest being torch operations, ctypes and Python.
``--lift-native-limit`` gives the native kernels every batch size (to re-measure
``NATIVE_MAX_BATCH``: compare the fused native and fused torch columns).

    python benchmarks/bench_engines.py [--batch-sizes 10 100] [--repeats 7] [--min-time 0.3] [--threads N]
                                       [--lift-native-limit]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from depthlab.nets.mlp import MLP
from depthlab.training import fused
from depthlab.training.costs import COSTS
from depthlab.training.fused import FusedSGD
from depthlab.training.kernels import NativeKernels

INPUT, HIDDEN, DEPTH, CLASSES = 32 * 32, 1000, 5, 9
LR = 0.01
COPY_FLOATS = 32 * 2**20  # 128 MiB per tensor, far beyond the last-level cache
POOL = 8  # minibatches cycled through, made once


def layer_sizes() -> list[tuple[int, int]]:
    sizes = [INPUT, *[HIDDEN] * DEPTH, CLASSES]
    return list(zip(sizes, sizes[1:]))


def update_bytes(batch: int, itemsize: int = 4) -> int:
    """Bytes one SGD update must move between memory and the cores, at the least: its
    forward and its backward (:func:`forward_bytes`, :func:`backward_bytes`). Every weight
    is moved 3 times. Logits, loss and the activation derivatives (B×1000 elementwise work)
    are not counted."""
    return forward_bytes(batch, itemsize) + backward_bytes(batch, itemsize)


def forward_bytes(batch: int, itemsize: int = 4) -> int:
    """Of the forward: read every W and b, read each layer's input, write its output."""
    return itemsize * sum(n_in * n_out + n_out + batch * (n_in + n_out) for n_in, n_out in layer_sizes())


def backward_bytes(batch: int, itemsize: int = 4) -> int:
    """Of the backward and update, one pass per layer: read W and b once (for
    δ^{k-1} = δ^k W_k and for the update alike) and write them once, read δ^k and the layer
    input a^{k-1}, write δ^{k-1} above the first layer."""
    return itemsize * sum(2 * (n_in * n_out + n_out) + batch * (n_out + n_in) + (batch * n_in if k else 0)
                          for k, (n_in, n_out) in enumerate(layer_sizes()))


def update_flops(batch: int) -> int:
    """Floating-point operations of the three matrix products per layer (forward s = aWᵀ,
    backward δW above the first layer, update δᵀa): 2·B·n_in·n_out each."""
    return forward_flops(batch) + backward_flops(batch)


def forward_flops(batch: int) -> int:
    """Of the forward products s = aWᵀ: 2·B·n_in·n_out per layer."""
    return sum(2 * batch * n_in * n_out for n_in, n_out in layer_sizes())


def backward_flops(batch: int) -> int:
    """Of the backward pass: δW above the first layer and the update δᵀa."""
    return sum(2 * batch * n_in * n_out * (2 if k else 1) for k, (n_in, n_out) in enumerate(layer_sizes()))


def reference_sequential() -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    for n_in, n_out in layer_sizes()[:-1]:
        layers += [nn.Linear(n_in, n_out), nn.Tanh()]
    layers.append(nn.Linear(*layer_sizes()[-1]))
    return nn.Sequential(*layers)


def autograd_update() -> Callable[[torch.Tensor, torch.Tensor], None]:
    model = reference_sequential()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)

    def update(x: torch.Tensor, y: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    return update


def fused_update(kernel: str) -> Callable[[torch.Tensor, torch.Tensor], None]:
    model = MLP(INPUT, [HIDDEN] * DEPTH, CLASSES, "tanh")
    return FusedSGD(model, COSTS.get("nll"), LR, kernel=kernel).step


class TimedKernels:
    """The native kernels, each call's wall time added to ``seconds["forward"]`` or ``seconds["backward"]``."""

    def __init__(self, native: NativeKernels):
        self.native = native
        self.seconds = {"forward": 0.0, "backward": 0.0}

    def forward(self, *args):
        start = time.perf_counter()
        loss = self.native.forward(*args)
        self.seconds["forward"] += time.perf_counter() - start
        return loss

    def backward(self, *args):
        start = time.perf_counter()
        self.native.backward(*args)
        self.seconds["backward"] += time.perf_counter() - start


def native_breakdown(batch: int, min_time: float) -> dict[str, float] | None:
    """Milliseconds per update of the native step: in all, in the forward pass, in the
    backward pass, and the rest. None where the native kernels do not run."""
    step = FusedSGD(MLP(INPUT, [HIDDEN] * DEPTH, CLASSES, "tanh"), COSTS.get("nll"), LR)
    if step.native is None or batch > fused.NATIVE_MAX_BATCH:
        return None
    pool = minibatch_pool(batch)
    examples_per_second(step.step, pool, min_time / 4)  # warm up
    timed = step.native = TimedKernels(step.native)
    start, updates = time.perf_counter(), 0
    while time.perf_counter() - start < min_time:
        for x, y in pool:
            step.step(x, y)
        updates += len(pool)
    per_update = {name: 1e3 * seconds / updates for name, seconds in timed.seconds.items()}
    per_update["all"] = 1e3 * (time.perf_counter() - start) / updates
    per_update["rest"] = per_update["all"] - per_update["forward"] - per_update["backward"]
    return per_update


def minibatch_pool(batch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [(torch.rand(batch, 1, 32, 32, generator=g) * 2 - 1, torch.randint(0, CLASSES, (batch,), generator=g))
            for _ in range(POOL)]


def examples_per_second(update, pool, min_time: float) -> float:
    """Run updates over the pool of minibatches for at least ``min_time`` seconds."""
    done, start = 0, time.perf_counter()
    while True:
        for x, y in pool:
            update(x, y)
        done += len(pool)
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return done * len(pool[0][0]) / elapsed


def copy_bandwidth(src: torch.Tensor, dst: torch.Tensor) -> float:
    """Bytes per second of ``dst.copy_(src)``, counting the read of src and the write of dst."""
    start = time.perf_counter()
    dst.copy_(src)
    return 2 * src.numel() * src.element_size() / (time.perf_counter() - start)


def gemm_flops_per_second(size: int = 1000) -> float:
    """Floating-point operations per second of one square float32 matrix product: what this
    machine's cores sustain when arithmetic, not memory, is the limit."""
    a, b = torch.rand(size, size), torch.rand(size, size)
    torch.mm(a, b)
    start = time.perf_counter()
    torch.mm(a, b)
    return 2 * size**3 / (time.perf_counter() - start)


def measure(batch: int, repeats: int, min_time: float, src: torch.Tensor, dst: torch.Tensor) -> dict[str, float]:
    pool = minibatch_pool(batch)
    engines = {"autograd": autograd_update(), "fused torch": fused_update("torch"),
               "fused native": fused_update("auto")}  # torch ops where no kernels build: see the header
    for update in engines.values():  # warm up: allocator, caches, page faults
        examples_per_second(update, pool, min_time / 4)
    samples: dict[str, list[float]] = {name: [] for name in [*engines, "bandwidth", "gemm"]}
    names = list(engines)
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            samples[name].append(examples_per_second(engines[name], pool, min_time))
        samples["bandwidth"].append(copy_bandwidth(src, dst))
        samples["gemm"].append(gemm_flops_per_second())
    result = {name: statistics.median(values) for name, values in samples.items()}
    result["roofline"] = batch * result["bandwidth"] / update_bytes(batch)
    result["compute roof"] = batch * result["gemm"] / update_flops(batch)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--repeats", type=int, default=7, help="interleaved timings per engine (median reported)")
    parser.add_argument("--min-time", type=float, default=0.3, help="seconds per timing")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's default)")
    parser.add_argument("--lift-native-limit", action="store_true",
                        help=f"native kernels at every batch size, not only up to {fused.NATIVE_MAX_BATCH}")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.lift_native_limit:
        fused.NATIVE_MAX_BATCH = max(args.batch_sizes)

    src, dst = torch.rand(COPY_FLOATS), torch.empty(COPY_FLOATS)
    dst.copy_(src)
    origin = "set by --threads" if args.threads else "torch's default"
    params = sum(n_in * n_out + n_out for n_in, n_out in layer_sizes())
    print(f"net {INPUT}-{'-'.join([str(HIDDEN)] * DEPTH)}-{CLASSES} tanh, NLL, plain SGD, float32 "
          f"({params * 4 / 1e6:.1f} MB of parameters); torch {torch.__version__}; {torch.get_num_threads()} threads "
          f"({origin}; this machine has {os.cpu_count()} cores)")
    print(f"native kernels: {FusedSGD(MLP(4, [4], 2, 'tanh'), COSTS.get('nll'), LR).kernel}")
    print(f"load average before: {os.getloadavg()[0]:.2f} (other processes share the cores and the cache)")
    print(f"median of {args.repeats} interleaved timings of >= {args.min_time} s each; "
          f"roofline = update bytes / copy bandwidth ({COPY_FLOATS * 4 // 2**20} MiB copies); compute roof = "
          f"update FLOPs / the FLOP rate of a 1000x1000x1000 matrix product")
    header = ("batch", "MB/update", "copy GB/s", "autograd ex/s", "fused torch ex/s", "fused native ex/s",
              "roofline ex/s", "compute roof ex/s", "native/autograd", "native/roofline", "native GFLOP/s")
    print(" | ".join(header))
    for batch in args.batch_sizes:
        r = measure(batch, args.repeats, args.min_time, src, dst)
        native = r["fused native"]
        row = (f"{batch}", f"{update_bytes(batch) / 1e6:.1f}", f"{r['bandwidth'] / 1e9:.1f}", f"{r['autograd']:.0f}",
               f"{r['fused torch']:.0f}", f"{native:.0f}", f"{r['roofline']:.0f}", f"{r['compute roof']:.0f}",
               f"{native / r['autograd']:.2f}",
               f"{native / r['roofline']:.2f}", f"{native / batch * update_flops(batch) / 1e9:.1f}")
        print(" | ".join(value.rjust(len(name)) for value, name in zip(row, header)))
    print("where the native step's time goes (ms per update; each pass's GFLOP/s, and its GB/s of the bytes "
          "the roofline counts for it; the rest is torch operations, ctypes and Python):")
    for batch in args.batch_sizes:
        ms = native_breakdown(batch, args.min_time * args.repeats)
        if ms is None:
            print(f"  batch {batch}: the native kernels do not run")
            continue
        print(f"  batch {batch}: {ms['all']:.2f} ms = forward pass {ms['forward']:.2f} "
              f"({forward_flops(batch) / ms['forward'] / 1e6:.0f} GFLOP/s, "
              f"{forward_bytes(batch) / ms['forward'] / 1e6:.1f} GB/s) + backward pass {ms['backward']:.2f} "
              f"({backward_flops(batch) / ms['backward'] / 1e6:.0f} GFLOP/s, "
              f"{backward_bytes(batch) / ms['backward'] / 1e6:.1f} GB/s) + rest {ms['rest']:.2f} "
              f"({ms['rest'] / ms['all']:.0%})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
