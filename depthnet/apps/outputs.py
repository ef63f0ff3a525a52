"""The files `depthnet-predict` writes for each image, named so that nothing is written twice.

For every input image `<stem>` (two inputs with the same stem get `_2`, `_3`, ... appended; the rule,
which also keeps outputs off input files and refuses existing files without `overwrite`, is
:mod:`depthnet.apps.naming`):

- `<stem>_depth.npy`: float32 depth in metres at the input's height x width;
- `<stem>_depth.png`: the same depth as a 16-bit PNG in millimetres (0 = invalid);
- `<stem>_depth_color.png`: the depth colour-mapped (near = yellow, far = purple);
- `<stem>_panel.png`: RGB | depth, with a colour bar in metres;
- with `point_cloud`: `<stem>.ply`, a binary coloured PLY back-projected through the camera
  intrinsics (NYU's Kinect by default, rescaled to the image);
- with `bokeh`: `<stem>_bokeh.png`, synthetic depth of field focused at `focus_depth` metres, or at
  the depth under `focus_pixel` (median of a 5x5 window), or by default at the image centre; a focus
  depth outside the predicted range is warned about (the whole picture would blur);

plus `predictions.json` (inputs, outputs, errors, the model and the settings). An input that cannot
be used is reported with the reason and skipped; the other images are still written.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import tensorflow as tf

from depthnet.apps import bokeh as bokeh_lib
from depthnet.apps import imageio, naming, pointcloud, visualize
from depthnet.data.camera import NYU_INTRINSICS, Intrinsics
from depthnet.errors import InputError


def output_paths(output_dir: str, stem: str, point_cloud: bool = False, bokeh: bool = False) -> dict[str, str]:
    names = {"npy": "_depth.npy", "depth_png": "_depth.png", "color": "_depth_color.png", "panel": "_panel.png"}
    if point_cloud:
        names["ply"] = ".ply"
    if bokeh:
        names["bokeh"] = "_bokeh.png"
    return {k: os.path.join(output_dir, stem + v) for k, v in names.items()}


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


def _collect_images(inputs: Sequence[str], recursive: bool, errors: list, log) -> list[str]:
    """The image files of `inputs` (files, folders, globs), each once; unusable inputs go to `errors`."""
    paths: list[str] = []
    seen: set[str] = set()
    for item in inputs:
        try:
            for p in imageio.find_images([item], recursive=recursive):
                key = os.path.normpath(os.path.abspath(p))
                if key not in seen:
                    seen.add(key)
                    paths.append(p)
        except (FileNotFoundError, ValueError) as e:
            errors.append({"input": item, "error": str(e)})
            log(f"error: {e}")
    return paths


def _predict_image(
    path: str, predictor, output_dir: str, stem: str, args: dict, flip_tta: bool, options: tuple
) -> dict[str, Any]:
    """Predicts one image and writes its outputs; returns its entry of predictions.json."""
    rgb = imageio.load_rgb(path)
    predictor.check_size(rgb.shape[0], rgb.shape[1])
    depth = predictor.predict(rgb, flip_tta=flip_tta)
    record = write_outputs(output_dir, stem, rgb, depth, _intrinsics_for(args, *rgb.shape[:2]), *options)
    return {
        "input": path,
        "size": [int(rgb.shape[0]), int(rgb.shape[1])],
        "working_size": list(predictor.working_size_for(*rgb.shape[:2])),
        "depth_min": float(depth.min()),
        "depth_max": float(depth.max()),
        **record,
    }


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
) -> dict[str, Any]:
    """Predicts every image of `inputs` with `predictor` (a :class:`depthnet.inference.Predictor`) and writes
    its outputs; returns the summary written to predictions.json.

    `intrinsics`: {'fx','fy','cx','cy', 'intrinsics_size': (H, W) or None} or None for NYU's.
    Output files that exist already are refused (InputError, nothing written) unless `overwrite`.
    """
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    errors: list[dict[str, str]] = []
    paths = _collect_images(inputs, recursive, errors, log)
    stems = naming.assign_stems(paths, lambda stem: output_paths(output_dir, stem, point_cloud, bokeh).values())
    summary_path = os.path.join(output_dir, "predictions.json")
    planned = [p for stem in stems for p in output_paths(output_dir, stem, point_cloud, bokeh).values()]
    naming.refuse_existing([*planned, summary_path], overwrite)
    os.makedirs(output_dir, exist_ok=True)
    args = {"fx": None, "intrinsics_size": None, **(intrinsics or {})}
    options = (point_cloud, bokeh, focus_depth, focus_pixel, aperture)
    results = []
    iterator = paths
    if progress:
        from depthnet.progress import progress_bar

        iterator = progress_bar(paths, desc="predicting", unit="img")
    for path, stem in zip(iterator, stems):
        try:
            results.append(_predict_image(path, predictor, output_dir, stem, args, flip_tta, options))
            if results[-1].get("warning"):
                log(f"warning: {path}: {results[-1]['warning']}")
        except (InputError, ValueError, OSError, tf.errors.InvalidArgumentError) as e:
            message = getattr(e, "message", None) or str(e)
            errors.append({"input": path, "error": message})
            log(f"error: {path}: {message}")
    summary = {
        "predictor": predictor.info,
        "flip_tta": flip_tta,
        "images": results,
        "errors": errors,
        "num_ok": len(results),
        "num_errors": len(errors),
    }
    with imageio.atomic_write(summary_path, "w") as f:
        json.dump(summary, f, indent=2, default=str)
    return summary
