"""Input-pipeline throughput: training (batch 3, 240x320, augmented) and evaluation, in images/s.

    .venv/bin/python benchmarks/bench_data.py                      # 300 synthetic 480x640 frames in a temp split
    .venv/bin/python benchmarks/bench_data.py --split_dir=data/train --batches=200
    .venv/bin/python benchmarks/bench_data.py --sweep              # also try tf.data tuning variants

Frames come from depthnet.synthetic.iter_frames when that module exists, otherwise from a
structured random generator here (smooth gradients + texture + noise, so PNG sizes and decode cost
resemble real photos rather than incompressible noise). Throughput is measured after a warm-up
(shuffle buffer fill, autotuning), over `--batches` batches.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import tensorflow as tf

from data_prep import write_frames
from depthnet.data import pipeline as data
from depthnet.data import records


def _fallback_frames(num_frames: int, seed: int):
    rng = np.random.default_rng(seed)
    h, w = data.NYU_SIZE
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for i in range(num_frames):
        phase = rng.uniform(0, 2 * np.pi, 3)
        rgb = 120 + 70 * np.sin(xx[..., None] / rng.uniform(20, 80) + phase) * np.cos(
            yy[..., None] / rng.uniform(20, 80)
        )
        rgb += rng.normal(0, 6, (h, w, 3))
        depth = 1.0 + 3.0 * (yy / h) + 0.5 * np.sin(xx / 50.0 + phase[0]) + rng.normal(0, 0.01, (h, w))
        depth[:, :8] = 0.0
        depth[rng.random((h, w)) < 0.02] = 0.0
        yield records.Frame(
            np.clip(rgb, 0, 255).astype(np.uint8), depth.astype(np.float32), f"bench{i % 10}", f"{i:06d}"
        )


def frames(num_frames: int, seed: int):
    try:
        from depthnet import synthetic  # written by another helper; optional
    except ImportError:
        print("depthnet.synthetic not available: using structured random frames")
        return _fallback_frames(num_frames, seed)
    print("frames from depthnet.synthetic.iter_frames")
    return synthetic.iter_frames(num_frames, seed)


def measure(ds: tf.data.Dataset, batches: int, warmup: int) -> tuple[float, float]:
    """(images per wall-clock second, CPU milliseconds per image) over `batches` after `warmup`."""
    it = iter(ds)
    for _ in range(warmup):
        next(it)
    images = 0
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(batches):
        batch = next(it)
        images += int(batch["image"].shape[0])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return images / wall, 1000 * cpu / images


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--split_dir",
        help="a prepared split to read; if it has no manifest, synthetic frames are written there and kept "
        "(default: a temporary split, deleted afterwards)",
    )
    parser.add_argument("--frames", type=int, default=300, help="synthetic frames to write")
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--batches", type=int, default=100, help="measured batches (after warm-up)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--sweep", action="store_true", help="also time tuning variants")
    parser.add_argument("--repeats", type=int, default=1, help="time each row this many times, report the best")
    args = parser.parse_args(argv)

    tmp = None
    split_dir = args.split_dir
    if split_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_data_")
        split_dir = os.path.join(tmp.name, "train")
    if not os.path.exists(os.path.join(split_dir, records.MANIFEST_NAME)):
        start = time.perf_counter()
        manifest = write_frames(frames(args.frames, 0), split_dir, num_shards=args.shards)
        size = sum(os.path.getsize(os.path.join(split_dir, s["file"])) for s in manifest["shards"])
        print(
            f"wrote {manifest['num_frames']} frames ({size / manifest['num_frames'] / 1e6:.2f} MB/frame) "
            f"in {len(manifest['shards'])} shards in {time.perf_counter() - start:.1f}s"
        )
    print(f"CPU cores visible: {os.cpu_count()}; TF {tf.__version__}")

    def train(**kw):
        return data.train_dataset(split_dir, batch_size=data.BATCH_SIZE, seed=0, **kw)

    def evaluate(**kw):
        return data.eval_dataset(split_dir, batch_size=1, **kw).repeat()

    rows = [
        ("train  b3 240x320 augment (defaults)", lambda: train()),
        ("eval   b1 312x416 + 480x640 GT (defaults)", lambda: evaluate()),
    ]
    if args.sweep:
        rows += [
            ("train  no augmentation", lambda: train(augment=False)),
            ("train  deterministic=True", lambda: train(deterministic=True)),
            ("train  num_parallel_calls=1", lambda: train(num_parallel_calls=1)),
            ("train  num_parallel_calls=2", lambda: train(num_parallel_calls=2)),
            ("train  cycle_length=1", lambda: train(cycle_length=1)),
            ("train  cycle_length=4", lambda: train(cycle_length=4)),
            ("train  private_threads=2", lambda: train(private_threads=2)),
            ("train  shuffle_buffer=0", lambda: train(shuffle_buffer=0)),
            ("eval   num_parallel_calls=1", lambda: evaluate(num_parallel_calls=1)),
            ("eval   batch 8", lambda: data.eval_dataset(split_dir, batch_size=8).repeat()),
        ]
    # Repeats cycle over all rows, so load from other processes on a shared machine hits rows evenly.
    results: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in rows}
    for _ in range(args.repeats):
        for name, build in rows:
            results[name].append(measure(build(), args.batches, args.warmup))
    print(f"{'pipeline':45s} {'images/s':>9s} {'CPU ms/img':>11s}   (best of {args.repeats}; all runs)")
    for name, runs in results.items():
        rate = max(r for r, _ in runs)
        cpu = min(c for _, c in runs)
        allruns = ", ".join(f"{r:.0f}" for r, _ in runs)
        print(f"{name:45s} {rate:9.1f} {cpu:11.1f}   ({allruns})")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
