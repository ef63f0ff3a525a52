"""`depthnet-bench`: inference speed and arithmetic of the network next to matmul references.

    depthnet-bench --config=full --precision=fp32,bf16 --batch_sizes=1,3,8 --iterations=5
    depthnet-bench --config=quick --iterations=3 --output_json=bench.json
    depthnet-bench --runtime=tf,litert,onnx --precision=fp32,bf16,fp16,int8 (:mod:`depthnet.bench.runtime_speed`)
    depthnet-bench --config=full --height=240 --width=320 --json     # the paper's efficiency input, as JSON

Prints a short table (precision, batch, frames/s, ms/frame, GFLOP/s, ratios to the matmul references);
`--json` prints the whole result instead (`--output_json` writes it to a file either way). The input
defaults to the config's working size (`full`: 312x416, `quick`: 124x168), the size `depthnet-eval`
and `depthnet-predict` feed a 480x640 frame at.

What is measured and printed: :mod:`depthnet.bench.network_speed`.
"""

from __future__ import annotations

import json
import os
import sys

from absl import flags

from depthnet.cli import common

FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("config", "full", "Model preset: full, dfe_afb, dfe, baseline, quick, tiny.")
    flags.DEFINE_list("precision", ["fp32"], "Comma-separated precisions: fp32, bf16 (fp16).")
    flags.DEFINE_list(
        "batch_sizes", ["1", "3", "8"], "Comma-separated batch sizes (3: the paper's batch and the conv reference's)."
    )
    flags.DEFINE_integer("iterations", 5, "Timed calls per batch size.")
    flags.DEFINE_integer("warmup", 1, "Untimed calls first (the first one traces).")
    flags.DEFINE_integer("height", None, "Input height (multiple of 4; default: the config's working size).")
    flags.DEFINE_integer("width", None, "Input width (multiple of 4; default: the config's working size).")
    flags.DEFINE_integer("matmul_size", 4096, "Reference matmul size n (n x n times n x n).")
    flags.DEFINE_integer("matmul_iterations", 3, "Timed reference matmuls.")
    flags.DEFINE_boolean("tf_profiler", True, "Also count FLOPs with tf.compat.v1.profiler (cross-check).")
    flags.DEFINE_boolean("jit_compile", False, "Time the model compiled with XLA (tf.function(jit_compile=True)).")
    flags.DEFINE_boolean(
        "fold_batchnorm",
        True,
        "Time the inference graph (every BatchNorm and the input normalisation folded into the convolutions).",
    )
    flags.DEFINE_boolean("profile", False, "Add the TF profiler's time per op type (conv, BN, casts, ...).")
    flags.DEFINE_boolean("conv_reference", True, "Time a 3x3 256-channel convolution as a second reference.")
    flags.DEFINE_string(
        "accuracy_model_dir",
        None,
        "A training run to score at every --precision on "
        "--accuracy_data_dir (same frames): adds 'accuracy' with abs_rel per precision and its "
        "change relative to fp32.",
    )
    flags.DEFINE_string(
        "accuracy_data_dir", None, "A prepared split (depthnet-prepare output) for --accuracy_model_dir."
    )
    flags.DEFINE_integer("accuracy_frames", 0, "Score at most N frames (0 = all).")
    flags.DEFINE_string("output_json", None, "Also write the JSON here.")
    flags.DEFINE_boolean("json", False, "Print the whole result as JSON instead of the table.")
    flags.DEFINE_list("runtime", None, "tf, litert, onnx: time every runtime x --precision (fp32, bf16, fp16, int8).")
    flags.DEFINE_integer("runtime_frames", 4, "--runtime: frames timed and scored (batch 1).")
    flags.DEFINE_list("runtime_entries", None, "--runtime: only these, e.g. tf_fp32,tf_bf16,litert_int8.")
    flags.DEFINE_boolean(
        "conv_shapes",
        False,
        "Time every distinct convolution of the inference graph on its own against the 3x3 reference "
        "(per --precision, batch 1): where the network's GFLOP/s go (depthnet.bench.conv_shapes).",
    )


def _conv_shapes() -> dict:
    """--conv_shapes: :func:`depthnet.bench.conv_shapes.conv_table` per precision, on the --config network."""
    from depthnet.bench.conv_shapes import conv_table, format_conv_table
    from depthnet.bench.network_speed import PRECISION_DTYPES
    from depthnet.config import preset
    from depthnet.modeling.fold import inference_graph
    from depthnet.modeling.model import build_model
    from depthnet.precision import set_precision

    height, width = _input_size()
    result = {"config": FLAGS.config, "input_size": [height, width], "precisions": {}}
    try:
        for precision in FLAGS.precision:
            set_precision(precision)
            model = inference_graph(build_model(preset(FLAGS.config, backbone_weights=None)))
            table = conv_table(model, height, width, PRECISION_DTYPES[precision], max(3, FLAGS.iterations))
            result["precisions"][precision] = table
            if not FLAGS.json:
                heading = f"{precision}, {FLAGS.config} network at {height}x{width}, batch 1:"
                print(f"{heading}\n{format_conv_table(table)}\n")
    finally:
        set_precision("fp32")
    return result


def _runtime_bench() -> dict:
    """--runtime: :mod:`depthnet.bench.runtime_speed` (the model from --accuracy_model_dir or --config)."""
    from depthnet.bench.runtime_speed import runtime_benchmark

    height, width = _input_size(FLAGS.accuracy_model_dir)
    return runtime_benchmark(
        FLAGS.runtime,
        FLAGS.precision,
        FLAGS.config,
        FLAGS.accuracy_model_dir,
        FLAGS.accuracy_data_dir,
        height,
        width,
        FLAGS.runtime_frames,
        iterations=FLAGS.iterations,
        entries=FLAGS.runtime_entries,
        log=lambda s: print(s, file=sys.stderr, flush=True),
    )


def _input_size(model_dir: str | None = None) -> tuple[int, int]:
    """--height x --width, or by default the working size (what eval and predict feed a 480x640 frame) of the
    training run `model_dir`, else of --config."""
    from depthnet.checkpoints import read_run_config_json
    from depthnet.config import preset
    from depthnet.data import pipeline as data

    if (FLAGS.height is None) != (FLAGS.width is None):
        raise common.UsageError("give both --height and --width, or neither (the config's working size)")
    if FLAGS.height is not None:
        return FLAGS.height, FLAGS.width
    try:
        if model_dir:
            return data.resize_for_crop(read_run_config_json(model_dir)["model"]["input_size"])
        return data.resize_for_crop(preset(FLAGS.config).input_size)
    except ValueError as e:
        raise common.UsageError(str(e)) from e


def main(argv) -> int:
    from depthnet.apps.imageio import atomic_write
    from depthnet.bench.network_speed import benchmark, precision_accuracy
    from depthnet.bench.table import format_bench_table

    common.no_extra_args(argv)
    if FLAGS.conv_shapes:
        text = json.dumps(_conv_shapes(), indent=2)
        if FLAGS.json:
            print(text)
        if FLAGS.output_json:
            with atomic_write(FLAGS.output_json, "w") as f:
                f.write(text + "\n")
        return 0
    if FLAGS.runtime:
        text = json.dumps(_runtime_bench(), indent=2)
        print(text)
        if FLAGS.output_json:
            with atomic_write(FLAGS.output_json, "w") as f:
                f.write(text + "\n")
        return 0
    try:
        batch_sizes = [int(b) for b in FLAGS.batch_sizes]
    except ValueError:
        raise common.UsageError(f"--batch_sizes must be integers, got {FLAGS.batch_sizes}") from None
    if not batch_sizes or min(batch_sizes) < 1:
        raise common.UsageError("--batch_sizes must be positive integers")
    if bool(FLAGS.accuracy_model_dir) != bool(FLAGS.accuracy_data_dir):
        raise common.UsageError("--accuracy_model_dir and --accuracy_data_dir go together")
    height, width = _input_size()
    result = benchmark(
        FLAGS.config,
        FLAGS.precision,
        batch_sizes,
        height,
        width,
        FLAGS.iterations,
        FLAGS.warmup,
        FLAGS.matmul_size,
        FLAGS.matmul_iterations,
        FLAGS.tf_profiler,
        FLAGS.jit_compile,
        log=lambda s: print(s, file=sys.stderr, flush=True),
        fold=FLAGS.fold_batchnorm,
        profile=FLAGS.profile,
        conv_reference=FLAGS.conv_reference,
    )
    if FLAGS.accuracy_model_dir:
        result["accuracy"] = {
            "model_dir": os.path.abspath(FLAGS.accuracy_model_dir),
            "data_dir": os.path.abspath(FLAGS.accuracy_data_dir),
            "precisions": precision_accuracy(
                FLAGS.accuracy_model_dir, FLAGS.accuracy_data_dir, FLAGS.precision, FLAGS.accuracy_frames or None
            ),
        }
    text = json.dumps(result, indent=2)
    print(text if FLAGS.json else format_bench_table(result))
    if FLAGS.output_json:
        with atomic_write(FLAGS.output_json, "w") as f:
            f.write(text + "\n")
    return 0


def run() -> None:
    common.run(main, define_flags)


if __name__ == "__main__":
    run()
