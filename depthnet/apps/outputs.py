"""The files `depthnet-predict` writes for each image and video, named so that nothing is written twice.

Every path is decided and checked before anything is predicted, by the run's plan (:mod:`depthnet.apps.plan`:
two inputs with the same stem get `_2`, `_3`, ... appended, outputs never land on input files, existing files
are refused without `overwrite`, the output folder must take a new file). For every input image `<stem>`:

- `<stem>_depth.npy`: float32 depth in metres at the input's height x width;
- `<stem>_depth.png`: the same depth as a 16-bit PNG in millimetres (uint16; 0 = no depth: invalid, or beyond
  65.535 m), which its tEXt chunk `depth_units` states too;
- `<stem>_depth_color.png`: the depth colour-mapped (near = yellow, far = purple);
- `<stem>_panel.png`: RGB | depth, with a colour bar in metres;
- with `point_cloud`: `<stem>.ply`, a binary coloured PLY back-projected through the camera
  intrinsics (NYU's Kinect by default, rescaled to the image);
- with `bokeh`: `<stem>_bokeh.png`, synthetic depth of field focused at `focus_depth` metres, or at
  the depth under `focus_pixel` (median of a 5x5 window), or by default at the image centre; a focus
  depth outside the predicted range is warned about (the whole picture would blur);

for every input video `<stem>` (a file, or a glob of files, with a video extension), `<stem>_depth.mp4` and
with `video_npy` the folder `<stem>_depth/` (:mod:`depthnet.apps.video`); plus `predictions.json` (inputs,
outputs, units, errors, the model and the settings). An input that cannot be used is reported with the reason
and skipped; the others are still written. Folders and globs skip the outputs of earlier runs
(:func:`depthnet.apps.plan.earlier_output`).
"""

from __future__ import annotations

import glob
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import tensorflow as tf

from depthnet.apps import bokeh as bokeh_lib
from depthnet.apps import imageio, plan, pointcloud, video, visualize
from depthnet.data.camera import NYU_INTRINSICS, Intrinsics
from depthnet.errors import InputError

UNITS = {
    "npy": "float32 metres",
    "depth_png": "uint16 millimetres (metres x 1000, rounded); 0 = no depth (invalid, or beyond 65.535 m)",
    "video_npy": "float32 metres, one file per frame",
}
output_paths = plan.image_outputs  # the files of one image


def write_outputs(
    output_dir: str,
    stem: str,
    rgb: np.ndarray,
    depth: np.ndarray,
    intrinsics=None,
    point_cloud: bool = False,
    bokeh: bool = False,
    focus_depth: Optional[float] = None,
    focus_pixel: Optional[Sequence[int]] = None,
    aperture: Optional[float] = None,
) -> dict[str, Any]:
    """Writes every output of one image (atomically, file by file); returns {'outputs': {...}, ...}."""
    paths = output_paths(output_dir, stem, point_cloud, bokeh)
    record: dict[str, Any] = {"outputs": paths}
    # Bokeh focus first: a bad --focus_pixel should fail before anything is written for this image.
    if bokeh:
        if focus_depth is None:
            row, col = focus_pixel if focus_pixel is not None else (depth.shape[0] // 2, depth.shape[1] // 2)
            focus_depth = bokeh_lib.focus_depth_at(depth, int(row), int(col))
            record["focus_pixel"] = [int(row), int(col)]
        record["focus_depth"] = float(focus_depth)
        warning = bokeh_lib.focus_warning(depth, focus_depth)
        if warning:
            record["warning"] = warning
    with imageio.atomic_write(paths["npy"]) as f:
        np.save(f, depth.astype(np.float32))
    imageio.save_depth_png16(paths["depth_png"], depth)
    vmin, vmax = visualize.depth_range(depth)
    visualize.save_png(paths["color"], visualize.colorize(depth, vmin, vmax))
    visualize.save_png(
        paths["panel"], visualize.depth_panel(rgb, depth, vmin=vmin, vmax=vmax, titles=["RGB", "predicted depth"])
    )
    if point_cloud:
        intr = intrinsics or NYU_INTRINSICS
        points, colors = pointcloud.backproject(depth, intr, rgb)
        pointcloud.write_ply(paths["ply"], points, colors)
        scaled = intr if (intr.height, intr.width) == depth.shape else intr.scaled(*depth.shape)
        record["intrinsics"] = {k: getattr(scaled, k) for k in ("fx", "fy", "cx", "cy", "height", "width")}
        record["num_points"] = int(points.shape[0])
    if bokeh:
        kwargs = {} if aperture is None else {"aperture": float(aperture)}
        visualize.save_png(paths["bokeh"], bokeh_lib.render_bokeh(rgb, depth, record["focus_depth"], **kwargs))
    return record


def _intrinsics_for(args, height: int, width: int):
    if args["fx"] is None:
        return NYU_INTRINSICS
    size = args["intrinsics_size"] or (height, width)
    return Intrinsics(args["fx"], args["fy"], args["cx"], args["cy"], height=size[0], width=size[1])


def _one_line(error: BaseException) -> str:
    """An error's message as one line (ffmpeg's log reduced to the line that says what went wrong)."""
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    if "=== stderr ===" in text:
        return video.ffmpeg_reason(error)
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def _found(item: str, recursive: bool, log) -> tuple[list[str], str]:
    """(paths, 'image' or 'video') of one input; folders and globs skip earlier outputs of depthnet."""
    kind = "video" if video.is_video(item) else "image"
    if kind == "video" and not imageio.is_glob(item):
        if not os.path.isfile(item):
            raise FileNotFoundError(f"video {item!r} does not exist (not a file)")
        return [item], kind
    if kind == "video":
        found = sorted(p for p in glob.glob(item, recursive=recursive) if os.path.isfile(p))
        if not found:
            raise FileNotFoundError(f"glob pattern {item!r} matched no video files")
    else:
        found = imageio.find_images([item], recursive=recursive)
    if os.path.isfile(item):
        return found, kind
    kept = [p for p in found if not plan.earlier_output(p)]
    if not kept:
        raise FileNotFoundError(f"{item!r} holds only outputs of an earlier depthnet run; give the original images")
    if len(kept) < len(found):
        log(f"note: {item}: skipped {len(found) - len(kept)} output(s) of an earlier depthnet run")
    return kept, kind


def _collect_inputs(inputs: Sequence[str], recursive: bool, errors: list, log) -> dict[str, list[str]]:
    """{'image': [...], 'video': [...]}: the files of `inputs`, each once; unusable inputs go to `errors`."""
    paths: dict[str, list[str]] = {"image": [], "video": []}
    seen: set[str] = set()
    for item in inputs:
        try:
            found, kind = _found(item, recursive, log)
        except (FileNotFoundError, ValueError) as e:
            errors.append({"input": item, "error": str(e)})
            log(f"error: {e}")
            continue
        for p in found:
            key = os.path.normpath(os.path.abspath(p))
            if key not in seen:
                seen.add(key)
                paths[kind].append(p)
    return paths


def _predict_image(path: str, predictor, output_dir: str, stem: str, settings: dict) -> dict[str, Any]:
    """Predicts one image and writes its outputs; returns its entry of predictions.json."""
    rgb = imageio.load_rgb(path)
    predictor.check_size(rgb.shape[0], rgb.shape[1])
    depth = predictor.predict(rgb, flip_tta=settings["flip_tta"])
    intrinsics = _intrinsics_for(settings["args"], *rgb.shape[:2])
    record = write_outputs(output_dir, stem, rgb, depth, intrinsics, *settings["options"])
    return {
        "input": path,
        "size": [int(rgb.shape[0]), int(rgb.shape[1])],
        "working_size": list(predictor.working_size_for(*rgb.shape[:2])),
        "depth_min": float(depth.min()),
        "depth_max": float(depth.max()),
        **record,
    }


def _progress(items: list, desc: str, unit: str, progress: bool):
    if not progress or not items:
        return items
    from depthnet.progress import progress_bar

    return progress_bar(items, desc=desc, unit=unit)


def _predict_all(the_plan: plan.OutputPlan, predictor, settings: dict, errors: list, log, progress: bool):
    """Every planned image, then every planned video; returns (image entries, video entries)."""
    images, videos = [], []
    for item in _progress(the_plan.of_kind("image"), "predicting", "img", progress):
        try:
            images.append(_predict_image(item.input, predictor, the_plan.output_dir, item.stem, settings))
            if images[-1].get("warning"):
                log(f"warning: {item.input}: {images[-1]['warning']}")
        except (InputError, ValueError, OSError, tf.errors.InvalidArgumentError) as e:
            errors.append({"input": item.input, "error": _one_line(e)})
            log(f"error: {item.input}: {errors[-1]['error']}")

    def predict(rgb):
        return predictor.predict(rgb, flip_tta=settings["flip_tta"])

    for item in the_plan.of_kind("video"):
        try:
            videos.append(video.write_video(item, predict, progress=progress, log=log))
        except (InputError, ValueError, OSError, tf.errors.InvalidArgumentError) as e:
            errors.append({"input": item.input, "error": _one_line(e)})
            log(f"error: {item.input}: {errors[-1]['error']}")
    return images, videos


def run_predict(
    inputs: Sequence[str],
    output_dir: str,
    predictor,
    recursive: bool = False,
    flip_tta: bool = False,
    point_cloud: bool = False,
    bokeh: bool = False,
    focus_depth: Optional[float] = None,
    focus_pixel: Optional[Sequence[int]] = None,
    aperture: Optional[float] = None,
    intrinsics: Optional[dict] = None,
    progress: bool = True,
    log=None,
    overwrite: bool = False,
    video_npy: bool = False,
) -> dict[str, Any]:
    """Predicts every image and video of `inputs` with `predictor` (a :class:`depthnet.inference.Predictor`) and
    writes their outputs; returns the summary written to predictions.json.

    `intrinsics`: {'fx','fy','cx','cy', 'intrinsics_size': (H, W) or None} or None for NYU's.
    The plan refuses (InputError, nothing written) outputs that exist already unless `overwrite`, and an output
    folder that is not writable (:func:`depthnet.apps.plan.make_plan`).
    """
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    errors: list[dict[str, str]] = []
    found = _collect_inputs(inputs, recursive, errors, log)
    the_plan = plan.make_plan(
        found["image"], found["video"], output_dir, point_cloud, bokeh, video_npy=video_npy, overwrite=overwrite
    )
    settings = {
        "args": {"fx": None, "intrinsics_size": None, **(intrinsics or {})},
        "flip_tta": flip_tta,
        "options": (point_cloud, bokeh, focus_depth, focus_pixel, aperture),
    }
    images, videos = _predict_all(the_plan, predictor, settings, errors, log, progress)
    summary = {
        "predictor": predictor.info,
        "flip_tta": flip_tta,
        "units": UNITS,
        "images": images,
        "videos": videos,
        "errors": errors,
        "num_ok": len(images) + len(videos),
        "num_errors": len(errors),
    }
    with imageio.atomic_write(the_plan.summary, "w") as f:
        json.dump(summary, f, indent=2, default=str)
    return summary
