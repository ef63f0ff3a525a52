"""Training-step cost of the full network: seconds per step and peak memory, per precision, +/- recomputation.

    .venv/bin/python benchmarks/bench_train_step.py                         # fp32,bf16 x recompute off,on
    .venv/bin/python benchmarks/bench_train_step.py --precisions=fp32 --recompute=on --steps=2
    .venv/bin/python benchmarks/bench_train_step.py --preset=quick --steps=5  # the small CPU config

One configuration per fresh subprocess (`--child`), so every peak is that configuration's alone: the
paper's network (`preset('full', backbone_weights=None)`: dilated ResNet-101 DFE + AFB/CRB DMG, the
paper's freezing), batch 3 at 240x320, one `Trainer.train_step` (forward, backward, two Adam updates)
per step on a fixed random batch. Without ImageNet weights the frozen BatchNorms are first set to
normalise that batch (`calibrate_batchnorm`), so the loss is finite and every step is
applied. Seconds per step: the median of `--steps` steps after `--warmup`
steps (the first one traces the tf.function). Memory:

- `peak_rss_gb`: the subprocess's peak resident set size (`resource.getrusage(RUSAGE_SELF).ru_maxrss`),
  i.e. everything: TensorFlow runtime, weights, Adam slots, and the step's activations;
- `rss_before_step_gb`: resident set size after building the model and optimisers, before any step;
- `tf_peak_warmup_gb` / `tf_peak_steps_gb`: TensorFlow's allocator peak for 'CPU:0'
  (`tf.config.experimental.get_memory_info`, which TF 2.21 supports on CPU) over the warm-up steps
  (tracing + first step) and over the measured steps (stats reset in between); null with
  `tf_memory_info_error` where the build does not track CPU allocations.

Prints one JSON object: the setup and a row per configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _rss_gb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def calibrate_batchnorm(model, images) -> None:
    """Sets every frozen BatchNorm's moving statistics to its input's statistics on `images` (one pass).

    With random backbone weights (no ImageNet file offline) a frozen BN is the identity, the 0-255
    caffe input grows through 33 residual blocks and the loss overflows, so every step would be
    skipped by the NaN guard. One training-mode pass with momentum 0 makes each BN normalise, as
    the ImageNet statistics would; the layers are frozen again afterwards (same graph, same cost).
    """
    import keras
    import tensorflow as tf

    dfe_layers = model.get_layer("dfe").layers
    batchnorms = [layer for layer in dfe_layers if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [(layer.trainable, layer.momentum) for layer in batchnorms]
    for layer in batchnorms:
        layer.trainable, layer.momentum = True, 0.0
    # In a tf.function: the graph frees each activation once used, where an eager Functional call holds
    # all of them, which would raise the process's peak memory above the train step's.
    tf.function(lambda x: model(x, training=True))(images)
    for layer, (trainable, momentum) in zip(batchnorms, saved):
        layer.trainable, layer.momentum = trainable, momentum


def child(args: argparse.Namespace) -> dict:
    """One configuration, in this (fresh) process."""
    import numpy as np
    import tensorflow as tf

    import depthnet.modeling.recompute
    from depthnet.config import TrainConfig, preset
    from depthnet.training.loop import Trainer

    depthnet.modeling.recompute.DEFAULT_GRANULARITY = args.granularity
    height, width = args.size
    model_config = preset(args.preset, backbone_weights=None, input_size=(height, width))
    run = TrainConfig(
        model_dir=tempfile.mkdtemp(prefix="bench_train_step_"),
        precision=args.precision,
        recompute=args.recompute == "on",
        batch_size=args.batch,
    )
    trainer = Trainer(model_config, run)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.random((args.batch, height, width, 3), dtype=np.float32))
    depth = tf.constant((1.0 + 4.0 * rng.random((args.batch, height, width, 1))).astype(np.float32))
    mask = tf.ones_like(depth)
    if model_config.backbone_weights is None and not args.no_calibration:
        calibrate_batchnorm(trainer.model, images)
    rss_before = _rss_gb()
    times, tf_step_peak = [], None
    for i in range(args.warmup + args.steps):
        if i == args.warmup:  # TensorFlow's own allocator peak over the measured steps only
            try:
                tf_step_peak = tf.config.experimental.get_memory_info("CPU:0")["peak"] / 2**30
                tf.config.experimental.reset_memory_stats("CPU:0")
            except Exception:
                pass
        start = time.perf_counter()
        out = trainer.train_step(images, depth, mask)
        float(out["loss"])  # wait for the step
        elapsed = time.perf_counter() - start
        if i >= args.warmup:
            times.append(elapsed)
        print(
            f"  step {i + 1}: {elapsed:.1f} s, loss {float(out['loss']):.4f}, finite {bool(out['finite'])}",
            file=sys.stderr,
            flush=True,
        )
    tf_peak, tf_error = None, None
    try:
        tf_peak = tf.config.experimental.get_memory_info("CPU:0")["peak"] / 2**30
    except Exception as err:  # not every TensorFlow build tracks CPU allocations
        tf_error = f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"
    tf_warmup_peak, tf_steps_peak = (tf_step_peak, tf_peak) if args.steps else (tf_peak, None)
    return {
        "precision": args.precision,
        "recompute": args.recompute,
        "granularity": args.granularity if args.recompute == "on" else None,
        "recomputed_segments": getattr(trainer.forward, "num_recomputed", 0),
        "sec_per_step": statistics.median(times) if times else None,
        "step_times": [round(t, 3) for t in times],
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "rss_before_step_gb": rss_before,
        "tf_peak_warmup_gb": tf_warmup_peak,
        "tf_peak_steps_gb": tf_steps_peak,
        "tf_memory_info_error": tf_error,
        "finite": bool(out["finite"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="full")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--recompute", default="off,on", help="'off', 'on' or 'off,on'")
    parser.add_argument("--granularity", default="block", choices=("block", "stage"))
    parser.add_argument("--batch", type=int, default=3)
    parser.add_argument("--size", type=lambda s: tuple(int(v) for v in s.split(",")), default=(240, 320))
    parser.add_argument("--steps", type=int, default=3, help="measured steps (the median is reported)")
    parser.add_argument("--warmup", type=int, default=1, help="steps before measuring (the first traces)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per configuration")
    parser.add_argument("--output", default="", help="also write the JSON here")
    parser.add_argument(
        "--no_calibration",
        action="store_true",
        help="keep the random backbone's identity BatchNorms (the loss overflows: steps are skipped)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="fp32", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args)), flush=True)
        return

    import platform

    rows = []
    for precision in args.precisions.split(","):
        for recompute in args.recompute.split(","):
            command = [
                sys.executable,
                os.path.abspath(__file__),
                "--child",
                f"--precision={precision}",
                f"--recompute={recompute}",
                f"--granularity={args.granularity}",
                f"--preset={args.preset}",
                f"--batch={args.batch}",
                f"--size={args.size[0]},{args.size[1]}",
                f"--steps={args.steps}",
                f"--warmup={args.warmup}",
            ] + (["--no_calibration"] if args.no_calibration else [])
            print(f"{precision}, recompute {recompute} ...", file=sys.stderr, flush=True)
            start = time.perf_counter()
            try:
                proc = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=args.timeout)
                lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
                row = (
                    json.loads(lines[-1][7:])
                    if lines
                    else {"precision": precision, "recompute": recompute, "error": f"exit code {proc.returncode}"}
                )
            except subprocess.TimeoutExpired:
                row = {"precision": precision, "recompute": recompute, "error": f"timeout after {args.timeout} s"}
            row["wall_seconds"] = round(time.perf_counter() - start, 1)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    result = {
        "setup": {
            "preset": args.preset,
            "batch": args.batch,
            "size": list(args.size),
            "steps": args.steps,
            "warmup": args.warmup,
            "cpu_count": os.cpu_count(),
            "machine": platform.processor() or platform.machine(),
            "memory": "peak_rss_gb = peak RSS of a fresh subprocess per configuration (getrusage ru_maxrss)",
        },
        "rows": rows,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
