"""Updates per second on one device against its memory roof, side by side in one run:
one net alone and stacks of K, with and without CUDA graphs.

Rows: the paper's 5×1000 net (1024-1000×5-9, tanh) and Nielsen's [784, 30, 30, 30, 10]
(sigmoid), each alone (the step a lone run takes: on the CPU depthlab's native kernels,
on a GPU the fused step on torch ops) and as stacks of K (:class:`StackedSGD`), plain SGD,
minibatches of 10, NLL. Columns: updates/s of the stepper (a stack's update trains K
nets), net-updates/s (K × that), the stack against the same K nets one after another
alone, the bytes an update must move (:func:`depthlab.training.speed.update_bytes`; the
native kernels move 3 passes per weight, the torch engines 4), the roof (bandwidth ÷
bytes) and the share of it reached. On a GPU every row runs without and with a CUDA
graph (:mod:`depthlab.training.graphs`); the bandwidth is the data sheet's where the GPU
is known, and the measured copy is printed beside it. On the CPU the bandwidth is a
measured copy of a large tensor.

    python benchmarks/bench_device.py                       # cuda if there is one, else cpu
    python benchmarks/bench_device.py --device cpu --ks 1 4 --nets nielsen
    python benchmarks/bench_device.py --json out/bench.json # the rows as JSON too
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from depthlab.nets.mlp import MLP
from depthlab.training.costs import COSTS
from depthlab.training.fused import FusedSGD
from depthlab.training.graphs import CudaGraphs, GraphedStepper
from depthlab.training.speed import copy_bandwidth, device_bandwidth, update_bytes
from depthlab.training.stacked import StackedSGD

NETS = {"glorot": ([1024, *[1000] * 5, 9], "tanh"), "nielsen": ([784, 30, 30, 30, 10], "sigmoid")}
BATCH = 10
DRAWN = 8
"""Minibatches drawn on the device beforehand and cycled through."""


def models(k: int, widths: list[int], activation: str, device: torch.device) -> list[MLP]:
    out = []
    for seed in range(k):
        torch.manual_seed(seed)
        out.append(MLP(widths[0], widths[1:-1], widths[-1], activation).to(device))
    return out


def rate(stepper, x: torch.Tensor, y: torch.Tensor, device: torch.device, seconds: float) -> float:
    """Updates per second of ``stepper`` over about ``seconds`` after a warm-up (which
    takes a graph's capture); the costs are left on the device, as the loop leaves them."""
    for u in range(6):
        stepper.step(x[u % DRAWN], y[u % DRAWN])
    sync(device)
    count, start = 0, time.perf_counter()
    while True:
        for u in range(16):
            stepper.step(x[u % DRAWN], y[u % DRAWN])
        count += 16
        if count % 64 == 0 or device.type == "cpu":
            sync(device)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return count / elapsed


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(name: str, k: int, device: torch.device, graphs: bool, seconds: float) -> float:
    """Updates/s of ``k`` nets of ``name`` (k = 0: one net alone, on the step a lone run takes)."""
    widths, activation = NETS[name]
    cost = COSTS.get("nll")
    g = torch.Generator().manual_seed(0)
    shape = (DRAWN, BATCH) if k == 0 else (DRAWN, k, BATCH)
    x = torch.randn(*shape, widths[0], generator=g).to(device)
    y = torch.randint(0, widths[-1], shape, generator=g).to(device)
    nets = models(max(k, 1), widths, activation, device)
    stepper = FusedSGD(nets[0], cost, 0.01) if k == 0 else StackedSGD(nets, [cost] * k, [0.01] * k)
    if graphs:
        stepper = GraphedStepper(stepper, CudaGraphs(device))
    return rate(stepper, x, y, device, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--nets", nargs="*", default=list(NETS), choices=list(NETS))
    parser.add_argument("--ks", nargs="*", type=int, default=[1, 4, 16, 32], help="stack sizes")
    parser.add_argument("--seconds", type=float, default=1.0, help="per measure")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    bandwidth, source = device_bandwidth(device)
    measured = copy_bandwidth(device) if device.type == "cuda" else bandwidth
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or 'cpu'} " \
        f"({torch.get_num_threads()} threads)"
    print(f"device: {name}; roof bandwidth {source}; measured copy {measured / 1e9:.0f} GB/s")
    header = (f"{'net':8} {'run':10} {'graphs':6} {'updates/s':>10} {'net-upd/s':>10} {'vs alone':>8} "
              f"{'MB/update':>9} {'roof upd/s':>10} {'% roof':>6}")
    print(header)
    print("-" * len(header))
    rows = []
    graph_modes = [False, True] if device.type == "cuda" else [False]
    for net in args.nets:
        widths = NETS[net][0]
        alone_rate = {}
        for k in [0, *args.ks]:
            for graphs in graph_modes:
                updates = measure(net, k, device, graphs, args.seconds)
                native = k == 0 and device.type == "cpu"
                moved = update_bytes(widths, BATCH, max(k, 1), passes=3 if native else 4)
                roof = bandwidth / moved
                nets_per_second = updates * max(k, 1)
                if k == 0:
                    alone_rate[graphs] = updates
                versus = nets_per_second / alone_rate[graphs]
                row = {"net": net, "stack": k, "graphs": graphs, "updates_per_s": round(updates, 1),
                       "net_updates_per_s": round(nets_per_second, 1), "stack_vs_alone": round(versus, 3),
                       "bytes_per_update": moved, "roof_updates_per_s": round(roof, 1),
                       "roof_share": round(updates / roof, 4)}
                rows.append(row)
                run = "alone" if k == 0 else f"stack {k}"
                print(f"{net:8} {run:10} {'on' if graphs else 'off':6} {updates:10,.1f} {nets_per_second:10,.1f} "
                      f"{versus:7.2f}x {moved / 1e6:9.2f} {roof:10,.0f} {100 * updates / roof:5.1f}%", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"device": name, "bandwidth": bandwidth, "bandwidth_source": source,
                                         "measured_copy": measured, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
