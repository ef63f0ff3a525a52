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


def _input_size(config: str, model_dir: str | None, height: int | None, width: int | None) -> tuple[int, int]:
    """--height x --width, or by default the working size (what eval and predict feed a 480x640 frame) of the
    training run `model_dir`, else of --config (:func:`depthnet.bench.request.default_input_size`)."""
    from depthnet.bench.request import default_input_size

    if (height is None) != (width is None):
        raise common.UsageError("give both --height and --width, or neither (the config's working size)")
    if height is not None:
        return height, width
    try:
        return default_input_size(config, model_dir)
    except ValueError as e:
        raise common.UsageError(str(e)) from e


def _batch_sizes(values: list[str]) -> list[int]:
    try:
        batch_sizes = [int(b) for b in values]
    except ValueError:
        raise common.UsageError(f"--batch_sizes must be integers, got {values}") from None
    if not batch_sizes or min(batch_sizes) < 1:
        raise common.UsageError("--batch_sizes must be positive integers")
    return batch_sizes


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _write_json(text: str, path: str | None) -> None:
    """--output_json: the whole result, written atomically."""
    from depthnet.apps.imageio import atomic_write

    if path:
        with atomic_write(path, "w") as f:
            f.write(text + "\n")


def main(argv) -> int:
    from depthnet.bench import request
    from depthnet.bench.network_speed import benchmark
    from depthnet.bench.runtime_speed import runtime_benchmark
    from depthnet.bench.table import format_bench_table

    common.no_extra_args(argv)
    if FLAGS.conv_shapes:  # depthnet.bench.conv_shapes, per --precision; the tables as they come, unless --json
        height, width = _input_size(FLAGS.config, None, FLAGS.height, FLAGS.width)
        tables = None if FLAGS.json else print
        result = request.conv_shapes(FLAGS.config, FLAGS.precision, height, width, FLAGS.iterations, log=tables)
        shown = None if FLAGS.json else ""  # None: the JSON; "": nothing more
    elif FLAGS.runtime:  # depthnet.bench.runtime_speed: the model from --accuracy_model_dir or --config
        height, width = _input_size(FLAGS.config, FLAGS.accuracy_model_dir, FLAGS.height, FLAGS.width)
        result = runtime_benchmark(
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
            log=_log,
        )
        shown = None
    else:  # depthnet.bench.network_speed
        batch_sizes = _batch_sizes(FLAGS.batch_sizes)
        if bool(FLAGS.accuracy_model_dir) != bool(FLAGS.accuracy_data_dir):
            raise common.UsageError("--accuracy_model_dir and --accuracy_data_dir go together")
        height, width = _input_size(FLAGS.config, None, FLAGS.height, FLAGS.width)
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
            log=_log,
            fold=FLAGS.fold_batchnorm,
            profile=FLAGS.profile,
            conv_reference=FLAGS.conv_reference,
        )
        if FLAGS.accuracy_model_dir:
            result["accuracy"] = request.accuracy(
                FLAGS.accuracy_model_dir, FLAGS.accuracy_data_dir, FLAGS.precision, FLAGS.accuracy_frames
            )
        shown = None if FLAGS.json else format_bench_table(result)
    text = json.dumps(result, indent=2)
    if shown != "":
        print(text if shown is None else shown)
    _write_json(text, FLAGS.output_json)
    return 0


def run() -> None:
    common.run(main, define_flags)


if __name__ == "__main__":
    run()
