"""Shapeset-3×2 generation speed on one thread, in images per second.

    python benchmarks/bench_shapeset.py --images 20000
"""

import argparse
import time

import torch

from depthlab.data.shapeset import CHUNK_SIZE, generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000, help="images to generate (default 20000)")
    parser.add_argument("--chunk", type=int, default=CHUNK_SIZE, help="images per generate() call, as the training stream uses")
    args = parser.parse_args()
    torch.set_num_threads(1)
    generate(args.chunk, seed=0)  # warm up
    calls = max(1, args.images // args.chunk)
    begin = time.perf_counter()
    for k in range(calls):
        generate(args.chunk, seed=(1, 1, k))
    seconds = time.perf_counter() - begin
    print(f"shapeset: {calls * args.chunk} images in {seconds:.2f} s = "
          f"{calls * args.chunk / seconds:,.0f} images/s (1 thread, chunks of {args.chunk})")


if __name__ == "__main__":
    main()
