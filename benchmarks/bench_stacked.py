"""Stacked training against the same networks trained one after another in one process,
side by side, in examples per second: one after another with the fused SGD step the
trainer uses (native kernels), and, with ``--all-engines``, with the fused step on torch
ops and with autograd and torch.optim.SGD.

    python benchmarks/bench_stacked.py --updates 300
"""

import argparse
import time

import torch

from depthlab.nets.mlp import MLP
from depthlab.training.costs import COSTS
from depthlab.training.fused import FusedSGD
from depthlab.training.stacked import StackedSGD

CASES = {  # name: (networks, input, hidden widths, outputs, activation, cost, batch)
    "nielsen": (32, 784, [30, 30, 30], 10, "sigmoid", "binary-cross-entropy", 10),
    "trainable-depth": (8, 784, [300] * 20, 10, "tanh", "nll", 10),
    "glorot": (4, 1024, [1000] * 5, 9, "tanh", "nll", 10),
}


def nets(k, n_in, widths, n_out, activation):
    out = []
    for seed in range(k):
        torch.manual_seed(seed)
        out.append(MLP(n_in, widths, n_out, activation))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    parser.add_argument("--all-engines", action="store_true", help="also the torch-ops fused step and autograd")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.cases:
        k, n_in, widths, n_out, activation, cost_name, batch = CASES[name]
        cost = COSTS.get(cost_name)
        x = torch.randn(args.updates, k, batch, n_in)
        y = torch.randint(0, n_out, (args.updates, k, batch))
        separate = [FusedSGD(m, cost, 0.1) for m in nets(k, n_in, widths, n_out, activation)]
        for step in separate:
            step.step(x[0, 0], y[0, 0])  # warm up (the native kernels build once)
        begin = time.perf_counter()
        for i, step in enumerate(separate):
            for u in range(args.updates):
                step.step(x[u, i], y[u, i])
        alone = time.perf_counter() - begin
        stack = StackedSGD(nets(k, n_in, widths, n_out, activation), [cost] * k, [0.1] * k)
        stack.step(x[0], y[0])
        begin = time.perf_counter()
        for u in range(args.updates):
            stack.step(x[u], y[u])
        together = time.perf_counter() - begin
        examples = k * batch * args.updates
        if args.all_engines:
            torch_ops = [FusedSGD(m, cost, 0.1, kernel="torch") for m in nets(k, n_in, widths, n_out, activation)]
            begin = time.perf_counter()
            for i, step in enumerate(torch_ops):
                for u in range(args.updates):
                    step.step(x[u, i], y[u, i])
            ops_seconds = time.perf_counter() - begin
            models = nets(k, n_in, widths, n_out, activation)
            begin = time.perf_counter()
            for i, model in enumerate(models):
                optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
                for u in range(args.updates):
                    optimizer.zero_grad(set_to_none=True)
                    cost.loss(model(x[u, i]), y[u, i]).backward()
                    optimizer.step()
            autograd_seconds = time.perf_counter() - begin
            print(f"{name}: one after another with torch ops {examples / ops_seconds:,.0f} ex/s, with autograd "
                  f"{examples / autograd_seconds:,.0f} ex/s; stacked is {ops_seconds / together:.2f}x and "
                  f"{autograd_seconds / together:.2f}x those")
        print(f"{name}: {k} nets {[n_in, *widths, n_out] if len(widths) < 6 else f'{n_in}-{widths[0]}x{len(widths)}-{n_out}'}"
              f" {activation}, batch {batch}: one after another {examples / alone:,.0f} ex/s "
              f"({separate[0].kernel}), stacked {examples / together:,.0f} ex/s: {alone / together:.2f}x")


if __name__ == "__main__":
    main()
