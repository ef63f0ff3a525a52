"""`depthnet-export`: a training run's checkpoint -> a self-contained SavedModel (:mod:`depthnet.serving`).

depthnet-export --model_dir=runs/full --export_dir=exports/full [--checkpoint=best] [--precision=fp32]
"""

from __future__ import annotations

from absl import flags

from depthnet.cli import common

FLAGS = flags.FLAGS


def define_flags() -> None:
    common.define_model_flags(saved_model=False)
    flags.DEFINE_string("export_dir", None, "Where the SavedModel goes (replaced atomically if it is one).")


def main(argv) -> int:
    from depthnet.serving import export_run

    common.no_extra_args(argv)
    if not FLAGS.model_dir or not FLAGS.export_dir:
        raise common.UsageError("--model_dir and --export_dir are required")
    path = export_run(FLAGS.model_dir, FLAGS.export_dir, FLAGS.checkpoint, FLAGS.precision)
    print(f"exported {FLAGS.model_dir} ({FLAGS.checkpoint}, {FLAGS.precision}) to {path}")
    print(
        "signatures: serving_default(images: uint8 [B,H,W,3]) -> depth float32 [B,H,W,1] metres; "
        "serving_bytes(image_bytes: string [B]) -> depth"
    )
    return 0


def run() -> None:
    common.run(main, define_flags)


if __name__ == "__main__":
    run()
