"""Training on a shared machine: the same run alone and beside N busy processes, under each
thread setting, side by side in one run.

A run (a 3×500 tanh net on 1024 inputs, minibatches of 10, probes off: the README's
``depthlab train`` shape, whose step takes a few milliseconds) trains ``--updates``
updates in a fresh process, first with no other work on the machine, then beside 1, 2 and
4 processes that spin on a core each (a browser, a compiler, another user's job). Each
setting is a way to run the kernels' threads:

- ``spin``: every core, and OpenMP's default wait (a waiting thread spins for a while
  before it sleeps): depthlab before it chose its own;
- ``passive``: every core, ``OMP_WAIT_POLICY=passive`` (a waiting thread sleeps at once);
- ``1 thread``: one thread, so no thread ever waits for another;
- ``depthlab``: what depthlab chooses when nothing is set (:mod:`depthlab.threads`).

The table gives updates/s (training only, start-up excluded) and, beside each, the
fraction of the run's rate alone under the same setting. A run that gets a fair share of
the cores beside N busy processes on C cores keeps about C/(N+1) of its own cores' work;
spinning threads keep much less, because a thread that holds a core waiting at a barrier
for one the scheduler has parked wastes that core's whole time slice.

    python benchmarks/bench_contention.py [--updates 1500] [--busy 0,1,2,4] [--step fused]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

SETTINGS = {
    "spin": (0, {"GOMP_SPINCOUNT": "300000"}),
    "spin 10k": (0, {"GOMP_SPINCOUNT": "10000"}),
    "passive": (0, {"OMP_WAIT_POLICY": "passive"}),
    "1 thread": (1, {}),
    "depthlab": (None, None),
}
"""Each setting's threads (0: one per core; None: depthlab's choice) and the OpenMP
variables of the run's process (None: none, so depthlab chooses). ``spin 10k`` caps the spin
(GNU OpenMP's ``GOMP_SPINCOUNT``; ``spin`` sets its default, 300,000 iterations, so that
depthlab, which chooses only where neither variable is set, leaves it; zero when passive)."""

OPENMP = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT")
"""The variables a setting decides; the benchmark's own environment's are removed."""

CHILD = """
import sys, time
import depthlab  # first: it sets the OpenMP wait before torch loads OpenMP (depthlab.threads)
import torch
from depthlab.data.base import FixedDataset
from depthlab.training.trainer import train
updates, step, threads, depth, width = int(sys.argv[1]), sys.argv[2], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
if threads != "None":
    torch.set_num_threads(int(threads) or __import__("os").cpu_count())
torch.manual_seed(0)
x, y = torch.rand(4000, 1024), torch.randint(0, 9, (4000,))
data = FixedDataset("bench", (1024,), 9, (x, y), (x[:100], y[:100]), (x[:100], y[:100]))
config = dict(widths=[width] * depth, activation="tanh", init="normalized", lr=0.01, batch_size=10,
              eval_every=10**9, log_every=10**9, probe=False, step=step)
train(dict(config, updates=50), out=sys.argv[3] + "/warm", data=data, progress=False)  # build and load
start = time.perf_counter()
train(dict(config, updates=updates), out=sys.argv[3] + "/run", data=data, progress=False)
print(updates / (time.perf_counter() - start), torch.get_num_threads())
"""


def run_once(setting: tuple[int | None, dict[str, str] | None], updates: int, step: str, folder: str,
             depth: int, width: int) -> tuple[float, int]:
    threads, variables = setting
    env = {key: value for key, value in os.environ.items() if key not in OPENMP}
    env.update(variables or {})
    out = subprocess.run([sys.executable, "-c", CHILD, str(updates), step, folder, str(threads), str(depth), str(width)], env=env,
                         check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), int(out[1])


def spinners(n: int) -> list[subprocess.Popen]:
    """``n`` processes that each spin on a core until killed."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1500)
    parser.add_argument("--busy", default="0,1,2,4", help="numbers of busy processes beside the run")
    parser.add_argument("--step", default="fused", choices=["fused", "autograd"])
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--width", type=int, default=500)
    args = parser.parse_args()
    import tempfile

    busy = [int(n) for n in args.busy.split(",")]
    names = args.settings.split(",")
    print(f"{os.cpu_count()} cores; {args.updates} updates of a {args.depth}×{args.width} tanh net, minibatch 10, "
          f"step={args.step}; "
          "updates/s (fraction of the same setting alone)")
    print(f"{'busy':>5}" + "".join(f"{name:>22}" for name in names))
    alone: dict[str, float] = {}
    for n in busy:
        procs = spinners(n)
        time.sleep(0.5)
        cells = []
        try:
            for name in names:
                with tempfile.TemporaryDirectory() as folder:
                    rate, threads = run_once(SETTINGS[name], args.updates, args.step, folder, args.depth, args.width)
                alone.setdefault(name, rate)
                cells.append(f"{rate:9.1f} ({rate / alone[name]:4.2f}) t={threads}")
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
        print(f"{n:>5}" + "".join(f"{cell:>22}" for cell in cells), flush=True)


if __name__ == "__main__":
    main()
