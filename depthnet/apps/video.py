"""Depth for a video: `<stem>_depth.mp4` (the input | its colour-mapped depth, side by side).

Any format imageio + imageio-ffmpeg read (``pip install 'depthnet[video]'``). Each frame goes through
the predictor like an image; the colour scale (2nd-98th percentile) is fixed from the first frame so
colours mean the same depth in every frame. With `write_npy`, each frame's float32 depth in metres goes
to `<stem>_depth/<frame index, 6 digits>.npy`. The output keeps the input's frame rate (H.264, yuv420p:
odd heights/widths are padded by one black pixel). Returns a summary with frames/s of the whole loop.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from depthnet.apps import visualize
from depthnet.apps.imageio import atomic_write
from depthnet.extras import require

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")


def is_video(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS


def _even(frame: np.ndarray) -> np.ndarray:
    pad_h, pad_w = frame.shape[0] % 2, frame.shape[1] % 2
    return np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0))) if pad_h or pad_w else frame


def _rgb(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=-1)
    return np.ascontiguousarray(frame[..., :3]).astype(np.uint8)


def predict_video(
    path: str,
    output_dir: str,
    predict: Callable[[np.ndarray], np.ndarray],
    stem: str | None = None,
    write_npy: bool = False,
    progress: bool = True,
    log=None,
) -> dict[str, Any]:
    """Writes the depth video of `path` (module docstring); `predict`: uint8 HxWx3 -> float32 HxW metres."""
    iio = require("imageio.v2", "reading and writing videos")
    require("imageio_ffmpeg", "reading and writing videos")
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    stem = stem or os.path.splitext(os.path.basename(path))[0]
    os.makedirs(output_dir, exist_ok=True)
    out_path = os.path.join(output_dir, f"{stem}_depth.mp4")
    npy_dir = os.path.join(output_dir, f"{stem}_depth")
    if write_npy:
        os.makedirs(npy_dir, exist_ok=True)
    reader = iio.get_reader(path, format="FFMPEG")
    fps = float(reader.get_meta_data().get("fps") or 25.0)
    total = reader.get_meta_data().get("nframes")
    total = int(total) if isinstance(total, (int, float)) and np.isfinite(total) else None
    tmp = out_path + ".tmp.mp4"
    writer = iio.get_writer(tmp, format="FFMPEG", fps=fps, codec="libx264", quality=8, macro_block_size=1)
    frames = reader
    if progress:
        from depthnet.progress import progress_bar

        frames = progress_bar(reader, total=total, desc=os.path.basename(path), unit="frame")
    count, vrange, start = 0, None, time.perf_counter()
    try:
        for frame in frames:
            rgb = _rgb(frame)
            depth = predict(rgb)
            vrange = vrange or visualize.depth_range(depth)
            writer.append_data(_even(np.concatenate([rgb, visualize.colorize(depth, *vrange)], axis=1)))
            if write_npy:
                with atomic_write(os.path.join(npy_dir, f"{count:06d}.npy")) as f:
                    np.save(f, depth.astype(np.float32))
            count += 1
    finally:
        reader.close()
        writer.close()
    elapsed = time.perf_counter() - start
    if count == 0:
        os.remove(tmp)
        raise ValueError(f"{path}: the video has no frames")
    os.replace(tmp, out_path)
    summary = {
        "input": path,
        "output": out_path,
        "frames": count,
        "input_fps": fps,
        "depth_range_m": list(vrange),
        "frames_per_second": count / elapsed,
        "npy_dir": npy_dir if write_npy else None,
    }
    log(f"{path}: {count} frames -> {out_path} ({summary['frames_per_second']:.2f} frames/s)")
    return summary
