"""`depthnet-predict`: depth, colour maps, panels, point clouds, bokeh and depth videos for your own images and clips.

    depthnet-predict --saved_model=exports/full --input=photos/ --output_dir=out
    depthnet-predict --model=exports/full/litert_int8/model.tflite --input=clip.mp4 --output_dir=out
    depthnet-predict --model_dir=runs/full --input='shots/*.jpg' --input=one.png --output_dir=out \\
        --point_cloud --bokeh --focus_pixel=240,320 --aperture=40

Per image `<stem>` (:mod:`depthnet.apps.outputs`): `<stem>_depth.npy` (float32 metres), `<stem>_depth.png`
(uint16 millimetres, 0 = no depth; its tEXt chunk `depth_units` says so), `<stem>_depth_color.png`,
`<stem>_panel.png` (RGB | depth | colour bar in metres), with --point_cloud `<stem>.ply`, with --bokeh
`<stem>_bokeh.png`. Per video (`.mp4`, `.mkv`, ...; :mod:`depthnet.apps.video`): `<stem>_depth.mp4` (input |
depth | colour bar in metres, one scale for the whole video: the first frame's 2nd-98th percentile), with
--video_npy `<stem>_depth/<frame>.npy`. For the run: `predictions.json` (inputs, outputs, units, errors, model).

Grayscale, RGBA (composited on white), palette and 16-bit images are converted to 8-bit RGB
(`apps.imageio.load_rgb`). An input that cannot be used (a missing path, a file that is not an image or a
video, an image too small for the network) is reported with the reason on one line and skipped; the others
are still written and the exit status is 1. Every output path is decided and checked before anything is
predicted (:mod:`depthnet.apps.plan`): every input gets its own output names, never an input file's (two
inputs `a/clip.mp4`, `b/clip.mp4` give `clip_depth.mp4`, `clip_2_depth.mp4`); outputs that exist already, or
an output folder that is not writable, stop the run before anything is written (status 2), existing outputs
are replaced only with `--overwrite`; every file is written under a temporary name and renamed into place.
Folders and globs skip the outputs of an earlier run (PNGs depthnet wrote, files its predictions.json lists).
A model path that cannot be loaded stops the run with status 2. `--model` takes a SavedModel folder, a
`.tflite` or an `.onnx` file (:mod:`depthnet.deploy.runtimes`).
"""

from __future__ import annotations

import sys
from typing import Optional

from absl import flags

from depthnet.cli import common
from depthnet.errors import EXIT_SOME_INPUTS_FAILED

FLAGS = flags.FLAGS
INTRINSICS = ("fx", "fy", "cx", "cy")


def define_flags() -> None:
    common.define_model_flags()
    flags.DEFINE_multi_string("input", None, "Image or video file, folder of images or glob pattern (repeatable).")
    flags.DEFINE_boolean("recursive", False, "Search folders (and ** globs) recursively.")
    flags.DEFINE_string(
        "output_dir",
        None,
        "Where the outputs go (created): <stem>_depth.npy float32 metres, <stem>_depth.png uint16 millimetres "
        "(0 = no depth), colour maps, panels, videos, predictions.json.",
    )
    flags.DEFINE_boolean("flip_tta", False, "Average with the mirrored prediction of the mirrored image.")
    flags.DEFINE_boolean("point_cloud", False, "Also write <stem>.ply.")
    flags.DEFINE_float("fx", None, "Focal length x in pixels (with --fy --cx --cy; default: NYU Kinect).")
    flags.DEFINE_float("fy", None, "Focal length y in pixels.")
    flags.DEFINE_float("cx", None, "Principal point x (column) in pixels.")
    flags.DEFINE_float("cy", None, "Principal point y (row) in pixels.")
    flags.DEFINE_list("intrinsics_size", None, "H,W the intrinsics are given for (default: each image's size).")
    flags.DEFINE_boolean("bokeh", False, "Also write <stem>_bokeh.png.")
    flags.DEFINE_float("focus_depth", None, "Bokeh focal plane in metres.")
    flags.DEFINE_list("focus_pixel", None, "Bokeh focus at the depth of pixel row,col (default: image centre).")
    flags.DEFINE_float("aperture", None, "Bokeh blur strength in px*m (default 40: radius = aperture*|1/z-1/z_f|).")
    flags.DEFINE_boolean("progress", True, "Show a progress bar.")
    flags.DEFINE_boolean("overwrite", False, "Replace output files that exist already (never an input file).")
    flags.DEFINE_string("model", None, "A SavedModel folder, .tflite or .onnx file (instead of --saved_model).")
    flags.DEFINE_boolean("video_npy", False, "Videos: also write <stem>_depth/<frame>.npy per frame (float32 metres).")


def _parse_pair(values, name: str) -> Optional[tuple[int, int]]:
    if not values:
        return None
    try:
        a, b = (int(v) for v in values)
    except ValueError:
        raise common.UsageError(
            f"--{name} must be two integers, e.g. --{name}=240,320; got {','.join(values)}"
        ) from None
    return a, b


def _check_flags(inputs, output_dir, intrinsics: dict, intrinsics_size, focus_depth, focus_pixel) -> Optional[dict]:
    """Validates flag combinations (`intrinsics`: --fx --fy --cx --cy, None where not given); returns the
    intrinsics dict (or None for NYU's)."""
    if not inputs:
        raise common.UsageError("--input is required (a file, folder or glob; repeatable)")
    if not output_dir:
        raise common.UsageError("--output_dir is required")
    given = [intrinsics[k] is not None for k in INTRINSICS]
    if any(given) and not all(given):
        raise common.UsageError("give all of --fx --fy --cx --cy, or none (NYU Kinect intrinsics)")
    if intrinsics_size and not all(given):
        raise common.UsageError("--intrinsics_size needs --fx --fy --cx --cy")
    if focus_depth is not None and focus_pixel:
        raise common.UsageError("give --focus_depth or --focus_pixel, not both")
    if focus_depth is not None and not focus_depth > 0:
        raise common.UsageError(f"--focus_depth must be > 0 metres, got {focus_depth}")
    if not all(given):
        return None
    return {
        **{k: intrinsics[k] for k in INTRINSICS},
        "intrinsics_size": _parse_pair(intrinsics_size, "intrinsics_size"),
    }


def _predictor(model, saved_model, model_dir, checkpoint: str, precision: str):
    """--model (SavedModel, .tflite, .onnx), or exactly one of --saved_model / --model_dir (with --checkpoint,
    --precision)."""
    if model:
        if saved_model or model_dir:
            raise common.UsageError("give one of --model, --saved_model or --model_dir")
        from depthnet.deploy.runtimes import load_model

        return load_model(model)
    if bool(model_dir) == bool(saved_model):
        raise common.UsageError("give exactly one of --saved_model or --model_dir")
    from depthnet.inference import load_predictor

    return load_predictor(saved_model, model_dir, checkpoint, precision)


def main(argv) -> int:
    from depthnet.apps.outputs import run_predict

    common.no_extra_args(argv, "; pass images with --input")
    intrinsics = _check_flags(
        FLAGS.input,
        FLAGS.output_dir,
        {k: FLAGS[k].value for k in INTRINSICS},
        FLAGS.intrinsics_size,
        FLAGS.focus_depth,
        FLAGS.focus_pixel,
    )
    focus_pixel = _parse_pair(FLAGS.focus_pixel, "focus_pixel")
    predictor = _predictor(FLAGS.model, FLAGS.saved_model, FLAGS.model_dir, FLAGS.checkpoint, FLAGS.precision)
    summary = run_predict(
        FLAGS.input,
        FLAGS.output_dir,
        predictor,
        FLAGS.recursive,
        FLAGS.flip_tta,
        FLAGS.point_cloud,
        FLAGS.bokeh,
        FLAGS.focus_depth,
        focus_pixel,
        FLAGS.aperture,
        intrinsics,
        progress=FLAGS.progress,
        log=lambda line: print(f"{common.tool_name()}: {line}", file=sys.stderr, flush=True),
        overwrite=FLAGS.overwrite,
        video_npy=FLAGS.video_npy,
    )
    videos = f" and {len(summary['videos'])} video(s)" if summary["videos"] else ""
    print(f"wrote outputs for {len(summary['images'])} image(s){videos} to {FLAGS.output_dir}", flush=True)
    if summary["errors"]:
        print(f"{summary['num_errors']} input(s) failed:", file=sys.stderr)
        for e in summary["errors"]:
            print(f"  {e['input']}: {e['error']}", file=sys.stderr)
        return EXIT_SOME_INPUTS_FAILED
    return 0


def run() -> None:
    common.run(main, define_flags)


if __name__ == "__main__":
    run()
