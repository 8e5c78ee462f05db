"""The Ray backend's overhead against local processes: one small grid swept both ways,
side by side on this machine, each into a fresh folder.

    python benchmarks/bench_sweep_backends.py --updates 2000 --workers 2
"""

import argparse
import tempfile
import time
from pathlib import Path

from depthlab.sweeps.sweep import sweep

GRID = """dataset = "fashion-mnist"
depth = 3
width = 64
activation = "tanh"
init = "normalized"
batch-size = 64
updates = {updates}
eval-every = {updates}
eval-size = 1000
probe = false
[axes]
lr = [0.01, 0.03, 0.1, 0.3]
seed = [0, 1]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=2000, help="updates per run (default 2000)")
    parser.add_argument("--workers", type=int, default=2, help="local processes, and the local Ray instance's CPUs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        grid = Path(folder) / "grid.toml"
        grid.write_text(GRID.format(updates=args.updates))
        seconds = {}
        for backend in ("local", "ray"):
            begin = time.perf_counter()
            sweep(grid, Path(folder) / backend, workers=args.workers, progress=False, backend=backend)
            seconds[backend] = time.perf_counter() - begin
            same = (Path(folder) / "local" / "summary.csv").read_text() == \
                (Path(folder) / backend / "summary.csv").read_text()
            print(f"{backend:5s}: 8 runs of {args.updates} updates in {seconds[backend]:.1f} s"
                  + ("" if backend == "local" else f" (summary identical to local: {same})"))
    print(f"ray / local wall time: {seconds['ray'] / seconds['local']:.2f}")


if __name__ == "__main__":
    main()
