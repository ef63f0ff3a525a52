"""Throughput of the procedural RGB-D generator (depthnet.synthetic) on one core.

    python benchmarks/bench_synthetic.py [--frames 40] [--sizes 480x640,240x320]

Prints frames/s for `iter_frames` (the dataset stream: several views per room, so scene
construction is amortised) and for `render_scene` (a new room every frame), with wall-clock and
process CPU time (the latter is less affected by other jobs sharing the machine).
"""

from __future__ import annotations

import argparse
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core, like a data worker
    os.environ.setdefault(_var, "1")

from depthnet import synthetic


def _measure(fn, n: int) -> tuple[float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    fn(n)
    return n / (time.perf_counter() - w0), n / (time.process_time() - c0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=40, help="frames per measurement")
    ap.add_argument("--sizes", default="480x640,240x320", help="comma-separated HxW list")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for size in args.sizes.split(","):
        h, w = (int(v) for v in size.lower().split("x"))
        synthetic.render_scene(args.seed, h, w)  # warm-up: caches, lookup tables

        def stream(n: int, h: int = h, w: int = w) -> None:
            for _ in synthetic.iter_frames(n, seed=args.seed, height=h, width=w):
                pass

        def fresh(n: int, h: int = h, w: int = w) -> None:
            for i in range(n):
                synthetic.render_scene(args.seed + 1000 + i, h, w)

        for name, fn in (("iter_frames", stream), ("render_scene", fresh)):
            wall, cpu = _measure(fn, args.frames)
            print(
                f"{h}x{w} {name:12s} {wall:6.1f} frames/s wall ({1000 / wall:6.1f} ms/frame), "
                f"{cpu:6.1f} frames/s CPU ({1000 / cpu:6.1f} ms/frame)",
                flush=True,
            )


if __name__ == "__main__":
    main()
