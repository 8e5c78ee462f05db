"""Shapeset-3×2 generation speed in images per second: the NumPy generator (what the
training stream on the CPU uses) beside the torch one, on the CPU and on every other
device torch sees, printed side by side in one run.

    python benchmarks/bench_shapeset.py --images 20000 --threads 1
"""

import argparse
import time

import torch

from depthlab.data.shapeset import CHUNK_SIZE, TORCH_CHUNK_SIZE, TORCH_CPU_CHUNK_SIZE, generate, generate_torch


def rate(draw, images: int, chunk: int, synchronize=lambda: None) -> float:
    """Images per second of ``draw(chunk, seed)`` over ``images`` images, after one warm-up call."""
    draw(chunk, 0)
    synchronize()
    calls = max(1, images // chunk)
    begin = time.perf_counter()
    for k in range(calls):
        draw(chunk, (1, 1, k))
    synchronize()
    return calls * chunk / (time.perf_counter() - begin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000, help="images per generator (default 20000)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default 1)")
    parser.add_argument("--gpu-images", type=int, default=1_000_000, help="images per generator on a GPU")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [("numpy", "cpu", CHUNK_SIZE, rate(generate, args.images, CHUNK_SIZE))]
    for chunk in (CHUNK_SIZE, TORCH_CPU_CHUNK_SIZE, TORCH_CHUNK_SIZE):
        rows.append(("torch", "cpu", chunk, rate(lambda n, s: generate_torch(n, s, device="cpu"), args.images, chunk)))
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name()
        for chunk in (TORCH_CHUNK_SIZE, 4 * TORCH_CHUNK_SIZE):
            rows.append(("torch", name, chunk, rate(lambda n, s: generate_torch(n, s, device="cuda"), args.gpu_images,
                                                    chunk, torch.cuda.synchronize)))
    print(f"Shapeset-3×2 generation, {args.threads} CPU thread(s) for torch (NumPy: one)")
    print(f"{'generator':<10} {'device':<28} {'chunk':>7} {'images/s':>12}")
    for generator, device, chunk, images_per_second in rows:
        print(f"{generator:<10} {device:<28} {chunk:>7} {images_per_second:>12,.0f}")


if __name__ == "__main__":
    main()
