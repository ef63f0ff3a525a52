"""``depthnet-prepare``: converts a depth source into sharded TFRecords + ``manifest.json``.

Usage (``--help`` lists its flags and their defaults)::

    depthnet-prepare --source=fastdepth --input=/data/nyudepthv2 --output_dir=/data/nyu --split=train \\
        --max_frames=13000
    depthnet-prepare --source=labeled_mat --input=nyu_depth_v2_labeled.mat --splits_mat=splits.mat \\
        --output_dir=/data/nyu --split=test
    depthnet-prepare --source=pairs --input=nyu2_test.csv --output_dir=/data/nyu --split=test
    python -m depthnet.cli.prepare --source=synthetic --num_frames=64 --output_dir=/tmp/syn

The conversion itself is :func:`data_prep.prepare.prepare` (sampling: :mod:`data_prep.plan`; atomic
shards, resume and the manifest: :mod:`data_prep.shards`). Exit status 0 when the split is written
(also with ``--skip_bad`` frames left out: the manifest counts them), 2 for bad flags, bad input or an
output folder it cannot write (read-only, a file in its place, a full disk), 130 on Ctrl-C and 143 on
SIGTERM (finished shards are kept either way: re-run the same command to resume). Worker processes
(``--workers``: encoding, or rendering synthetic scenes) die with this process, even on ``kill -9``.
"""

from __future__ import annotations

import dataclasses
import signal
import sys

from absl import flags

from depthnet import errors
from depthnet.cli import common

FLAGS = flags.FLAGS
_COUNT_FLAGS = ("num_shards", "frames_per_shard", "max_frames", "max_frames_per_scene", "workers")


def _define_source_flags() -> None:
    from data_prep import readers

    flags.DEFINE_enum(
        "source", None, list(readers.SOURCES), "Input format: tfds | fastdepth | labeled_mat | pairs | synthetic."
    )
    flags.DEFINE_string(
        "input", None, "Source path: TFDS data dir, FastDepth root (train/, val/), nyu_depth_v2_labeled.mat, "
        "or a folder / CSV of RGB + depth pairs. Not used by synthetic."
    )  # fmt: skip
    flags.DEFINE_string("output_dir", None, "Output root; shards + manifest.json go to <output_dir>/<split>/.")
    flags.DEFINE_enum(
        "split", "train", ["train", "test"], "Split to convert (TFDS 'validation', FastDepth 'val/official', "
        "splits.mat 'testNdxs' for test)."
    )  # fmt: skip
    flags.DEFINE_float(
        "depth_scale", 1000.0, "pairs, --depth_encoding=scaled: stored depth values per metre (1000 = mm)."
    )
    flags.DEFINE_enum(
        "depth_encoding", "scaled", list(readers.DEPTH_ENCODINGS),
        "pairs: scaled (value / depth_scale), sunrgbd (bit-rotated, /1000), kinect_raw (NYU raw .pgm "
        "disparity, not registered to the RGB).",
    )  # fmt: skip
    flags.DEFINE_enum(
        "depth", "filled", ["filled", "raw"], "labeled_mat: 'depths' (filled) or 'rawDepths' (0 = missing)."
    )
    flags.DEFINE_string(
        "splits_mat", None, "labeled_mat: the official splits.mat (default: splits.mat beside --input)."
    )
    flags.DEFINE_string(
        "tfds_data_dir", None, "tfds: TFDS data dir holding nyu_depth_v2/ (default --input or ~/tensorflow_datasets)."
    )
    flags.DEFINE_integer("num_frames", 100, "synthetic: number of frames.")
    flags.DEFINE_integer("seed", 0, "synthetic: generator seed; also the seed of the train split's shard order.")
    flags.DEFINE_integer("height", 480, "synthetic: frame height.")
    flags.DEFINE_integer("width", 640, "synthetic: frame width.")


def _define_output_flags() -> None:
    from data_prep.plan import DEFAULT_FRAMES_PER_SHARD

    flags.DEFINE_integer("num_shards", None, "Number of shards (capped at the frame count).")
    flags.DEFINE_integer(
        "frames_per_shard",
        None,
        f"Frames per shard when --num_shards is not given (default {DEFAULT_FRAMES_PER_SHARD}).",
    )
    flags.DEFINE_integer(
        "max_frames_per_scene", None, "Keep at most this many frames per scene, evenly spaced in frame order."
    )
    flags.DEFINE_integer(
        "max_frames", None, "Keep at most this many frames in all, evenly spaced (after --max_frames_per_scene)."
    )
    flags.DEFINE_boolean(
        "shuffle", None, "Shuffle the shard order with --seed (default: yes for train, no for test; "
        "tfds/synthetic keep their own order)."
    )  # fmt: skip
    flags.DEFINE_boolean("skip_bad", False, "Skip (and count) unreadable or invalid input files instead of stopping.")
    flags.DEFINE_boolean(
        "check_depth", True, "Refuse frames whose depth is implausible for indoor RGB-D (median beyond 10 m or "
        "under 0.1 m: a wrong --depth_encoding/--depth_scale); the error names the likely option."
    )  # fmt: skip
    flags.DEFINE_boolean(
        "overwrite", False, "Replace an existing, different conversion in <output_dir>/<split>/: the new split "
        "is built beside it and swapped in only when complete."
    )  # fmt: skip
    flags.DEFINE_boolean("progress", True, "Show a progress bar.")
    flags.DEFINE_integer(
        "workers",
        1,
        "Worker processes: they encode the PNGs (the bottleneck of real data, ~0.2 s per 480x640 frame), or with "
        "--source=synthetic render the scenes; output is identical for any value.",
    )


def define_flags() -> None:
    _define_source_flags()
    _define_output_flags()
    flags.mark_flags_as_required(["source", "output_dir"])


def options_from_flags(flag_values):
    """The :class:`data_prep.plan.Options` that `flag_values` (the parsed flags: `main` passes them) give; every
    field is a flag of the same name."""
    from data_prep.plan import Options

    return Options(**{field.name: getattr(flag_values, field.name) for field in dataclasses.fields(Options)})


def check_flags(opts) -> None:
    """Flag combinations the conversion cannot take, named as flags (exit status 2)."""
    for name in _COUNT_FLAGS:
        value = getattr(opts, name)
        if value is not None and value < 1:
            raise common.UsageError(f"--{name} must be >= 1, got {value}")
    if opts.num_shards and opts.frames_per_shard:
        raise common.UsageError("give --num_shards or --frames_per_shard, not both")


class Terminated(errors.DepthNetError):
    """SIGTERM (a scheduler, `timeout`, a container stop): stop like Ctrl-C, keeping finished shards."""

    exit_code = 128 + signal.SIGTERM


def _on_sigterm(signum, frame) -> None:
    raise Terminated("stopped by SIGTERM; finished shards are kept: re-run the same command to resume")


def main(argv) -> int:
    from data_prep import workers
    from data_prep.prepare import prepare

    common.no_extra_args(argv)
    opts = options_from_flags(FLAGS)
    check_flags(opts)
    signal.signal(signal.SIGTERM, _on_sigterm)  # unwinds like Ctrl-C: temporaries removed, workers stopped
    common.log_to_stderr("depthnet.prepare")  # `depthnet-prepare: ...` lines, not absl's prefixed ones
    if not FLAGS.verbose:  # the encoding workers' TensorFlow start-up lines held back too
        workers.TENSORFLOW_IMPORT = common.import_tensorflow_quietly
    prepare(opts)
    return 0


def run() -> None:
    """Console-script entry point (``depthnet-prepare``)."""
    common.run(main, define_flags)


if __name__ == "__main__":
    sys.argv[0] = "depthnet-prepare"  # `python -m depthnet.cli.prepare` reports errors as depthnet-prepare
    run()
