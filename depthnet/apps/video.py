"""Depth for a video: `<stem>_depth.mp4`, each frame the input | its colour-mapped depth | a colour bar in metres.

Any format imageio + imageio-ffmpeg read (``pip install 'depthnet[video]'``). Each frame goes through the predictor
like an image. The colour scale is fixed for the whole video so colours mean the same depth in every frame: the
2nd-98th percentile of the first frame's depth (the video is written as it is read, before later frames are
known); depths beyond it take the end colours, and the summary gives the whole video's depth range beside it. The
colour bar (:func:`depthnet.apps.visualize.colorbar_image`) shows that scale in metres. With `npy`, each frame's
float32 depth in metres goes to `<stem>_depth/<frame index, 6 digits>.npy`. The output keeps the input's frame
rate (H.264, yuv420p: odd heights/widths are padded by one black pixel). The paths come from the run's plan
(:mod:`depthnet.apps.plan`); the video and the frame folder are written under temporary names and renamed into
place once complete. A file ffmpeg cannot read is one :class:`depthnet.errors.InputError` line, not its log.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from depthnet.apps import plan, visualize
from depthnet.apps.imageio import atomic_write
from depthnet.errors import InputError
from depthnet.extras import require

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")
COLOUR_RANGE_RULE = (
    "2nd-98th percentile of the first frame's depth, fixed for the whole video; depths beyond it take the end colours"
)


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


def ffmpeg_reason(error: BaseException) -> str:
    """The line of ffmpeg's log that says what went wrong (its last tagged message), not the whole log."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip() and not line.startswith(" ")]
    tagged = [line.split("] ", 1)[1] for line in lines if line.startswith("[") and "] " in line]
    return (tagged or lines or [type(error).__name__])[-1]


def _unreadable(path: str, error: BaseException) -> InputError:
    return InputError(
        f"cannot read {path} as a video (ffmpeg: {ffmpeg_reason(error)}); check that it plays, or re-encode it"
    )


def _frames(reader: Iterable, path: str) -> Iterator[np.ndarray]:
    """The reader's frames; a read error becomes one InputError line."""
    frames = iter(reader)
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except (OSError, RuntimeError, ValueError) as e:
            raise _unreadable(path, e) from None
        yield frame


def predict_video(
    path: str,
    output_dir: str,
    predict: Callable[[np.ndarray], np.ndarray],
    write_npy: bool = False,
    progress: bool = True,
    log=None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Writes the depth video of one clip (module docstring), planned on its own (:func:`plan.make_plan`: its
    outputs never replace an input, nor an existing file unless `overwrite`); `predict`: uint8 HxWx3 ->
    float32 HxW metres."""
    (item,) = plan.make_plan([], [path], output_dir, video_npy=write_npy, overwrite=overwrite, summary=False).items
    return write_video(item, predict, progress, log)


def _temporary(target: str, suffix: str = "") -> str:
    """An unused hidden name beside `target` (a temporary file or folder renamed onto it when complete)."""
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp{suffix}")


def _replace_folder(tmp_dir: str, target: str) -> None:
    """Renames the complete `tmp_dir` onto `target`; an old frame folder there (the plan allowed it) is removed."""
    old = None
    if os.path.lexists(target):
        if not plan.replaceable(target):
            raise InputError(f"{target} changed during the run and holds files depthnet did not write; kept it")
        old = _temporary(target, ".old")
        os.rename(target, old)
    os.rename(tmp_dir, target)
    if old:
        shutil.rmtree(old)


def write_video(item: plan.Planned, predict: Callable, progress: bool = True, log=None) -> dict[str, Any]:
    """Writes the outputs of one planned video (its `outputs['video']` and, if planned, `folders['npy_dir']`)."""
    iio = require("imageio.v2", "reading and writing videos")
    require("imageio_ffmpeg", "reading and writing videos")
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    out_path, npy_dir = item.outputs["video"], item.folders.get("npy_dir")
    try:
        reader = iio.get_reader(item.input, format="FFMPEG")
        meta = reader.get_meta_data()
    except (OSError, RuntimeError, ValueError) as e:
        raise _unreadable(item.input, e) from None
    tmp_video, tmp_dir = _temporary(out_path, ".mp4"), _temporary(npy_dir) if npy_dir else None
    try:
        if tmp_dir:
            os.mkdir(tmp_dir)
        summary = _stream(reader, meta, item.input, tmp_video, tmp_dir, predict, progress)
        os.replace(tmp_video, out_path)
        if tmp_dir:
            _replace_folder(tmp_dir, npy_dir)
    except BaseException:
        if os.path.exists(tmp_video):
            os.remove(tmp_video)
        if tmp_dir and os.path.isdir(tmp_dir):
            shutil.rmtree(tmp_dir)
        raise
    finally:
        reader.close()
    summary = {"input": item.input, "outputs": {**item.outputs, **item.folders}, **summary}
    log(f"{item.input}: {summary['frames']} frames -> {out_path} ({summary['frames_per_second']:.2f} frames/s)")
    return summary


def _stream(reader, meta: dict, path: str, tmp_video: str, tmp_dir, predict, progress: bool) -> dict[str, Any]:
    """Predicts every frame and writes input | depth | colour bar to `tmp_video` (and .npy files to `tmp_dir`)."""
    iio = require("imageio.v2", "reading and writing videos")
    fps = float(meta.get("fps") or 25.0)
    total = meta.get("nframes")
    total = int(total) if isinstance(total, (int, float)) and np.isfinite(total) else None
    frames: Iterable = _frames(reader, path)
    if progress:
        from depthnet.progress import progress_bar

        frames = progress_bar(frames, total=total, desc=os.path.basename(path), unit="frame")
    count, vrange, bar, lo, hi, start = 0, None, None, np.inf, -np.inf, time.perf_counter()
    writer = iio.get_writer(tmp_video, format="FFMPEG", fps=fps, codec="libx264", quality=8, macro_block_size=1)
    try:
        for frame in frames:
            rgb = _rgb(frame)
            depth = predict(rgb)
            if vrange is None:
                vrange = visualize.depth_range(depth)
                bar = visualize.colorbar_image(*vrange, height=rgb.shape[0])
            writer.append_data(_even(np.concatenate([rgb, visualize.colorize(depth, *vrange), bar], axis=1)))
            if tmp_dir:
                with atomic_write(os.path.join(tmp_dir, f"{count:06d}.npy")) as f:
                    np.save(f, depth.astype(np.float32))
            valid = depth[visualize.valid_mask(depth)]
            lo, hi = (min(lo, float(valid.min())), max(hi, float(valid.max()))) if valid.size else (lo, hi)
            count += 1
    finally:
        writer.close()
    if count == 0:
        raise InputError(f"{path}: the video has no frames")
    return {
        "frames": count,
        "size": [int(rgb.shape[0]), int(rgb.shape[1])],
        "input_fps": fps,
        "colour_range_m": list(vrange),
        "colour_range_rule": COLOUR_RANGE_RULE,
        "depth_min": lo if np.isfinite(lo) else None,
        "depth_max": hi if np.isfinite(hi) else None,
        "frames_per_second": count / (time.perf_counter() - start),
    }
