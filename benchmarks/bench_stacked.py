"""Networks trained as one stack against the same networks trained one after another in
one process, side by side in one run, in examples per second.

Two measurements per case:

- ``steps``: the training steps alone, on minibatches drawn beforehand: the stack
  (:class:`depthlab.training.stacked.StackedSGD`) against the fused step the trainer
  takes alone (:class:`depthlab.training.fused.FusedSGD`, native kernels where they
  build); with ``--all-engines`` also the fused step on torch ops, autograd with
  torch.optim.SGD, and ``torch.func`` (``stack_module_state`` + ``vmap`` of ``grad``);
- ``runs``: whole runs, every run directory written: ``train_stacked`` against
  ``train`` called once per network (probes off, one evaluation at the end).

Each case also prints the arithmetic rate and the memory traffic the weights need per
second (the two roofs of these small-batch updates, which stream each weight matrix
several times per update).
``--sizes`` prints the table behind ``--stacking auto`` (stacked / alone for stack sizes
and network sizes).

    python benchmarks/bench_stacked.py
    python benchmarks/bench_stacked.py --sizes --threads 1
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch

from depthlab.config import TrainConfig
from depthlab.data.base import FixedDataset
from depthlab.limits import parameter_count
from depthlab.nets.mlp import MLP
from depthlab.training.costs import COSTS
from depthlab.training.fused import FusedSGD
from depthlab.training.stacked import StackedSGD
from depthlab.training.stacked_runs import train_stacked
from depthlab.training.trainer import train

CASES = {  # name: (networks, input, hidden widths, outputs, activation, cost, batch)
    "nielsen": (32, 784, [30, 30, 30], 10, "sigmoid", "binary-cross-entropy", 10),
    "trainable-depth": (8, 784, [300] * 20, 10, "tanh", "nll", 10),
    "glorot": (4, 1024, [1000] * 5, 9, "tanh", "nll", 10),
}


def nets(k: int, n_in: int, widths: list[int], n_out: int, activation: str) -> list[MLP]:
    out = []
    for seed in range(k):
        torch.manual_seed(seed)
        out.append(MLP(n_in, widths, n_out, activation))
    return out


def seconds(work) -> float:
    begin = time.perf_counter()
    work()
    return time.perf_counter() - begin


def one_after_another(steppers, x, y) -> None:
    for i, step in enumerate(steppers):
        for u in range(len(x)):
            step.step(x[u, i], y[u, i])


def autograd(models, cost, x, y) -> None:
    for i, model in enumerate(models):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for u in range(len(x)):
            optimizer.zero_grad(set_to_none=True)
            cost.loss(model(x[u, i]), y[u, i]).backward()
            optimizer.step()


def vmapped(models, cost, x, y) -> None:
    """torch.func: the K networks' parameters stacked, ``vmap`` of ``grad`` of one
    network's cost, then θ ← θ − η g on the stacked tensors."""
    from torch.func import functional_call, grad, stack_module_state, vmap

    params, buffers = stack_module_state(models)
    template = models[0]
    outputs = template.linears[-1].out_features
    targets = torch.nn.functional.one_hot(y, outputs).float()  # drawn outside: one_hot does not vmap

    def loss(p, b, xb, tb):  # the cost of one network on its minibatch, with one-hot targets
        z = functional_call(template, (p, b), (xb,))
        if cost.name == "binary-cross-entropy":
            return torch.nn.functional.binary_cross_entropy_with_logits(z, tb, reduction="sum") / len(z)
        return torch.nn.functional.cross_entropy(z, tb)

    gradient = vmap(grad(loss))
    for u in range(len(x)):
        grads = gradient(params, buffers, x[u], targets[u])
        with torch.no_grad():
            for name, g in grads.items():
                params[name].sub_(g, alpha=0.1)


def steps(name: str, updates: int, all_engines: bool) -> None:
    k, n_in, widths, n_out, activation, cost_name, batch = CASES[name]
    cost = COSTS.get(cost_name)
    x = torch.randn(updates, k, batch, n_in)
    y = torch.randint(0, n_out, (updates, k, batch))
    examples = k * batch * updates
    native = [FusedSGD(m, cost, 0.1) for m in nets(k, n_in, widths, n_out, activation)]
    for step in native:
        step.step(x[0, 0], y[0, 0])  # warm up (the native kernels build once)
    alone = seconds(lambda: one_after_another(native, x, y))
    stack = StackedSGD(nets(k, n_in, widths, n_out, activation), [cost] * k, [0.1] * k)
    stack.step(x[0], y[0])
    together = seconds(lambda: [stack.step(x[u], y[u]) for u in range(updates)])
    params = parameter_count([n_in, *widths, n_out])
    shape = f"{n_in}-{widths[0]}x{len(widths)}-{n_out}"
    print(f"{name} steps: {k} nets {shape} {activation}, batch {batch} ({params:,} parameters each)")
    print(f"  alone, one after another ({native[0].kernel}): {examples / alone:,.0f} ex/s")
    print(f"  stacked: {examples / together:,.0f} ex/s = {alone / together:.2f}x")
    layers = [n_in, *widths, n_out]
    weights = sum(a * b for a, b in zip(layers, layers[1:]))
    # per example: the forward products and the weight gradients 2·W each, δ 2·W below the first layer
    flops = (4 * weights + 2 * (weights - layers[0] * layers[1])) * k * batch * updates
    print(f"  arithmetic: alone {flops / alone / 1e9:.1f} GFLOP/s, stacked {flops / together / 1e9:.1f} GFLOP/s")
    weight_bytes = 4 * params * k * updates
    print(f"  weight traffic: alone {3 * weight_bytes / alone / 1e9:.1f} GB/s (3 passes over each W per update), "
          f"stacked {4 * weight_bytes / together / 1e9:.1f} GB/s (4: forward, δ, update read and written)")
    if all_engines:
        ops = [FusedSGD(m, cost, 0.1, kernel="torch") for m in nets(k, n_in, widths, n_out, activation)]
        on_ops = seconds(lambda: one_after_another(ops, x, y))
        on_autograd = seconds(lambda: autograd(nets(k, n_in, widths, n_out, activation), cost, x, y))
        on_vmap = seconds(lambda: vmapped(nets(k, n_in, widths, n_out, activation), cost, x, y))
        print(f"  alone on torch ops {examples / on_ops:,.0f} ex/s (stacked is {on_ops / together:.2f}x), "
              f"with autograd {examples / on_autograd:,.0f} ex/s ({on_autograd / together:.2f}x); "
              f"torch.func vmap of grad, all at once: {examples / on_vmap:,.0f} ex/s ({on_vmap / together:.2f}x)")


def runs(name: str, updates: int) -> None:
    """Whole runs through the trainer on a data set of the case's shape."""
    k, n_in, widths, n_out, activation, cost_name, batch = CASES[name]
    g = torch.Generator().manual_seed(0)
    split = lambda n: (torch.rand(n, n_in, generator=g), torch.randint(0, n_out, (n,), generator=g))  # noqa: E731
    data = FixedDataset("bench", (n_in,), n_out, split(10_000), split(1_000), split(1_000))
    configs = [TrainConfig(dataset="bench", widths=widths, activation=activation, cost=cost_name, batch_size=batch,
                           updates=updates, eval_every=updates, log_every=100, probe=False, lr=0.1, seed=s)
               for s in range(k)]
    root = Path(tempfile.mkdtemp(prefix="bench_stacked_"))
    try:
        alone = seconds(lambda: [train(c, out=root / f"alone{i}", data=data, progress=False)
                                 for i, c in enumerate(configs)])
        together = seconds(lambda: train_stacked([(c, root / f"stacked{i}") for i, c in enumerate(configs)],
                                                 data=data, progress=False))
    finally:
        shutil.rmtree(root)
    examples = k * batch * updates
    print(f"{name} runs: {k} runs of {updates} updates, every run directory written: alone one after another "
          f"{examples / alone:,.0f} ex/s, stacked {examples / together:,.0f} ex/s = {alone / together:.2f}x")


def sizes(updates: int) -> None:
    """Stacked / alone for stack sizes × network sizes (tanh, NLL): where --stacking auto stacks."""
    cost = COSTS.get("nll")
    for batch in (10, 64):
        for k in (4, 8, 16, 32, 64):
            cells = []
            for widths in ([30] * 3, [64] * 4, [64] * 16, [300] * 20):
                x, y = torch.randn(updates, k, batch, 784), torch.randint(0, 10, (updates, k, batch))
                native = [FusedSGD(m, cost, 0.01) for m in nets(k, 784, widths, 10, "tanh")]
                for step in native:
                    step.step(x[0, 0], y[0, 0])
                alone = seconds(lambda: one_after_another(native, x, y))
                stack = StackedSGD(nets(k, 784, widths, 10, "tanh"), [cost] * k, [0.01] * k)
                stack.step(x[0], y[0])
                together = seconds(lambda: [stack.step(x[u], y[u]) for u in range(updates)])
                params = parameter_count([784, *widths, 10])
                cells.append(f"{len(widths)}x{widths[0]} ({params / 1e3:.0f}k) {alone / together:.2f}x")
            print(f"batch {batch}, {k:2d} nets: " + ", ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--all-engines", action="store_true",
                        help="also the torch-ops fused step, autograd and torch.func's vmap")
    parser.add_argument("--sizes", action="store_true", help="only the table behind --stacking auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{args.threads} threads")
    if args.sizes:
        sizes(min(args.updates, 100))
        return
    for name in args.cases:
        steps(name, args.updates, args.all_engines)
        runs(name, args.updates)


if __name__ == "__main__":
    main()
