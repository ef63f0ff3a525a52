"""`depthnet-export`: a training run's checkpoint -> SavedModel, LiteRT and ONNX (:mod:`depthnet.deploy.export`).

depthnet-export --model_dir=runs/full --export_dir=exports/full [--checkpoint=best] [--precision=fp32]
depthnet-export --model_dir=runs/quick --export_dir=exports/quick --format=saved_model,litert,onnx \\
    --litert_precisions=fp32,fp16,int8 [--calibration_data=data/synthetic/train] [--input_size=480,640]

Each format goes to its own sub-folder of --export_dir (saved_model/, litert_<p>/, onnx_fp32/), replaced
on its own; the other formats and the user's files there are left as they are (a stale one is warned about).
"""

from __future__ import annotations

import sys

from absl import flags

from depthnet.cli import common

FLAGS = flags.FLAGS


def define_flags() -> None:
    common.define_model_flags(saved_model=False)
    flags.DEFINE_string(
        "export_dir", None, "The export folder: saved_model/, litert_<p>/, onnx_fp32/ inside, each replaced on its own."
    )
    flags.DEFINE_list("format", ["saved_model"], "Any of saved_model, litert, onnx.")
    flags.DEFINE_list("litert_precisions", ["fp32", "fp16", "int8"], "LiteRT precisions: fp32, fp16, int8.")
    flags.DEFINE_list("input_size", None, "H,W of the LiteRT/ONNX input (default: 480,640, a NYU frame).")
    flags.DEFINE_string(
        "calibration_data",
        None,
        "int8: a prepared split (default: the run's training split; a relative data_dir in the run is looked for "
        "from the folder the run was launched in, the run folder, then the working directory).",
    )
    flags.DEFINE_integer("calibration_frames", 32, "int8: how many calibration frames.")


def main(argv) -> int:
    from depthnet.deploy.export import export_formats

    common.no_extra_args(argv)
    if not FLAGS.model_dir or not FLAGS.export_dir:
        raise common.UsageError("--model_dir and --export_dir are required")
    size = None
    if FLAGS.input_size:
        try:
            size = tuple(int(v) for v in FLAGS.input_size)
        except ValueError:
            size = ()
        if len(size) != 2:
            raise common.UsageError(f"--input_size must be H,W, e.g. 480,640; got {','.join(FLAGS.input_size)}")
    paths = export_formats(
        FLAGS.model_dir,
        FLAGS.export_dir,
        FLAGS.format,
        FLAGS.checkpoint,
        FLAGS.precision,
        FLAGS.litert_precisions,
        size,
        FLAGS.calibration_data,
        FLAGS.calibration_frames,
        warn=lambda line: print(f"{common.tool_name()}: warning: {line}", file=sys.stderr),
    )
    if "saved_model" in paths:
        print(f"exported {FLAGS.model_dir} ({FLAGS.checkpoint}, {FLAGS.precision}) to {paths['saved_model']}")
        print(
            "signatures: serving_default(images: uint8 [B,H,W,3]) -> depth float32 [B,H,W,1] metres; "
            "serving_bytes(image_bytes: string [B]) -> depth; the contract: model.json beside each file"
        )
    for name, path in paths.items():
        if name != "saved_model":
            print(f"{name}: {path}")
    return 0


def run() -> None:
    common.run(main, define_flags)


if __name__ == "__main__":
    run()
