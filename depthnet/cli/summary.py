"""`depthnet-summary`: build a configuration, run it on a sample input and print what it is made of.

depthnet-summary --config=full [--backbone_weights=none] [--input_size=240,320]
"""

from __future__ import annotations

from absl import flags

from depthnet.cli import common

FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("config", "full", "Preset: full, dfe_afb, dfe, baseline, quick, tiny.")
    flags.DEFINE_string("backbone_weights", "none", "'imagenet', 'none' or a path to a ResNet notop weight file.")
    flags.DEFINE_list("input_size", None, "H,W of the sample input (default: the config's input_size).")


def main(argv) -> int:
    from depthnet.config import preset
    from depthnet.modeling.summary import describe, format_summary

    common.no_extra_args(argv)
    overrides = {"backbone_weights": FLAGS.backbone_weights}
    if FLAGS.input_size:
        overrides["input_size"] = tuple(int(s) for s in FLAGS.input_size)
    print(format_summary(describe(preset(FLAGS.config, **overrides))))
    return 0


def run() -> None:
    common.run(main, define_flags)


if __name__ == "__main__":
    run()
