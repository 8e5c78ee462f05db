"""Where the time of a short default run goes: ``depthlab train --updates 200`` with
every other flag at its default (Shapeset, 5 hidden layers of 1000 tanh units, probes on
the default schedule, validation and test error on the full 10,000-image sets at the
end), timed phase by phase in one process.

    python benchmarks/bench_short_run.py [--updates 200] [--repeats 1]

Prints, per run, the wall time of each phase (importing torch once, first), each phase
exclusive of the phases it calls (an evaluation that draws the validation set counts the
drawing as Shapeset generation), and the total beyond the torch import. Training chunks
drawn on the background thread overlap the updates and are shown apart. Run it twice to
see a first run (the fixed sets drawn and cached) and a later one (read from the cache).
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import threading
import time
from collections import defaultdict

PHASES = defaultdict(float)
BACKGROUND = "  Shapeset training chunks on the background thread"
_open = threading.local()


def timed(owner, name: str, phase: str) -> None:
    """Add the wall time of every call of ``owner.name``, less that of the timed calls it
    makes, to ``PHASES[phase]``; calls on other threads go to :data:`BACKGROUND`."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                PHASES[BACKGROUND] += time.perf_counter() - start
        stack = _open.__dict__.setdefault("stack", [])
        stack.append(0.0)
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            elapsed = time.perf_counter() - start
            inner = stack.pop()
            PHASES[phase] += elapsed - inner
            if stack:
                stack[-1] += elapsed

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    start = time.perf_counter()
    import torch  # noqa: F401

    torch_import = time.perf_counter() - start
    from depthlab.data import shapeset
    from depthlab.probe.probe import Probe
    from depthlab.training import trainer
    from depthlab.training.fused import FusedSGD
    from depthlab.training.step import AutogradStep

    timed(shapeset, "generate", "Shapeset generation (fixed sets, first chunk)")
    timed(trainer, "build_model", "model build and init")
    timed(trainer.Trainer, "evaluate", "evaluations (validation and test)")
    timed(Probe, "measure", "probe passes (without their singular values)")
    timed(torch.linalg, "svdvals", "singular values (Jacobian spectra)")
    timed(trainer.Trainer, "checkpoint", "checkpoints")
    timed(FusedSGD, "step", "training updates")
    timed(AutogradStep, "step", "training updates")
    print(f"torch import: {torch_import:.2f} s (once per process)")
    for repeat in range(args.repeats):
        PHASES.clear()
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            result = trainer.train(updates=args.updates, out=f"{tmp}/run", progress=False)
            total = time.perf_counter() - start
            probes = len(result.run.probes.updates)
        accounted = sum(v for k, v in PHASES.items() if k != BACKGROUND)
        print(f"run {repeat + 1}: {args.updates} updates, {probes} probes, step {result.final['step']}: "
              f"{total:.2f} s beyond the torch import")
        for phase, seconds in sorted(PHASES.items(), key=lambda item: (item[0] == BACKGROUND, -item[1])):
            print(f"  {phase:<52} {seconds:6.2f} s")
        print(f"  {'the rest (data loading, files, Python)':<52} {total - accounted:6.2f} s")


if __name__ == "__main__":
    main()
