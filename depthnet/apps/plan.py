"""The output plan of `depthnet-predict`: every output path of a run, of every kind, decided and checked
before any image or frame is predicted.

:func:`make_plan` takes the run's image and video inputs and

1. names each input's outputs by the rule of :mod:`depthnet.apps.naming` (images and videos alike: two
   inputs `a/clip.mp4` and `b/clip.mp4` give `clip_depth.mp4` and `clip_2_depth.mp4`); no output is an
   input file or holds one, and no two outputs are one path;
2. refuses (:class:`depthnet.errors.InputError`, nothing written) outputs that exist already, unless
   `overwrite`; even then a folder output (`<stem>_depth/` of a video's frames) is replaced only when it
   holds nothing but the frame files depthnet writes, and a folder standing where a file goes is refused;
3. proves the output folder takes a new file (:func:`check_writable`), creating it if needed.

The writers then write each file atomically (:func:`depthnet.apps.imageio.atomic_write`, a temporary
file renamed over the target; a video's frame folder is written beside and renamed into place).
:func:`earlier_output` tells a tool's own earlier outputs found in an input folder, so a re-run on a
folder that holds `x_depth.png` does not predict it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from depthnet.apps import naming
from depthnet.apps.imageio import is_depthnet_png
from depthnet.errors import InputError

SUMMARY_NAME = "predictions.json"
IMAGE_SUFFIXES = {"npy": "_depth.npy", "depth_png": "_depth.png", "color": "_depth_color.png", "panel": "_panel.png"}
OPTIONAL_SUFFIXES = {"ply": ".ply", "bokeh": "_bokeh.png"}
VIDEO_SUFFIX, FRAMES_SUFFIX = "_depth.mp4", "_depth"
FRAME_FILE = re.compile(r"\d{6}\.npy")  # the files of a video's frame folder


@dataclass(frozen=True)
class Planned:
    """One input and the paths of its outputs (`outputs`: files; `folders`: a video's frame folder)."""

    input: str
    kind: str  # "image" or "video"
    stem: str
    outputs: dict[str, str]
    folders: dict[str, str]


@dataclass(frozen=True)
class OutputPlan:
    output_dir: str
    items: tuple[Planned, ...]
    summary: str | None  # predictions.json, or None when the run writes none

    def of_kind(self, kind: str) -> list[Planned]:
        return [item for item in self.items if item.kind == kind]


def image_outputs(output_dir: str, stem: str, point_cloud: bool = False, bokeh: bool = False) -> dict[str, str]:
    names = dict(IMAGE_SUFFIXES)
    names.update({k: v for k, v in OPTIONAL_SUFFIXES.items() if {"ply": point_cloud, "bokeh": bokeh}[k]})
    return {k: os.path.join(output_dir, stem + v) for k, v in names.items()}


def video_outputs(output_dir: str, stem: str, npy: bool = False) -> tuple[dict[str, str], dict[str, str]]:
    """(files, folders) of a video: `<stem>_depth.mp4` and, with `npy`, the folder `<stem>_depth/`."""
    folders = {"npy_dir": os.path.join(output_dir, stem + FRAMES_SUFFIX)} if npy else {}
    return {"video": os.path.join(output_dir, stem + VIDEO_SUFFIX)}, folders


def make_plan(
    images: Sequence[str],
    videos: Sequence[str] = (),
    output_dir: str = ".",
    point_cloud: bool = False,
    bokeh: bool = False,
    video_npy: bool = False,
    overwrite: bool = False,
    summary: bool = True,
) -> OutputPlan:
    """The checked plan of a run (module docstring); raises InputError before anything is written."""
    inputs = [*images, *videos]
    kinds = ["image"] * len(images) + ["video"] * len(videos)

    def paths_of(i: int, stem: str) -> tuple[dict[str, str], dict[str, str]]:
        if kinds[i] == "image":
            return image_outputs(output_dir, stem, point_cloud, bokeh), {}
        return video_outputs(output_dir, stem, video_npy)

    summary_path = os.path.join(output_dir, SUMMARY_NAME) if summary else None
    stems = naming.assign_stems(inputs, paths_of, reserved=[summary_path] if summary_path else [])
    items = tuple(Planned(p, k, s, *paths_of(i, s)) for i, (p, k, s) in enumerate(zip(inputs, kinds, stems)))
    files = [p for item in items for p in item.outputs.values()] + ([summary_path] if summary_path else [])
    folders = [p for item in items for p in item.folders.values()]
    if summary_path and naming.key(summary_path) in {naming.key(p) for p in inputs}:
        raise InputError(f"{summary_path} is an input; choose another output folder")
    in_the_way = [p for p in files if os.path.isdir(p)] + [p for p in folders if not replaceable(p)]
    if in_the_way:
        raise InputError(
            f"{_shown(in_the_way)}: in the way of an output and not written by depthnet (a folder where a file goes, "
            "or a folder holding other files); nothing was written. move it away or choose another output folder"
        )
    naming.refuse_existing([*files, *folders], overwrite)
    check_writable(output_dir)
    return OutputPlan(output_dir, items, summary_path)


def replaceable(folder: str) -> bool:
    """Whether a frame folder may be written: absent, or a folder of nothing but depthnet's frame files."""
    if not os.path.lexists(folder):
        return True
    return os.path.isdir(folder) and all(FRAME_FILE.fullmatch(name) for name in os.listdir(folder))


def _shown(paths: Sequence[str]) -> str:
    return ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")


def check_writable(folder: str) -> None:
    """Creates `folder` if needed and proves it takes a new file (a probe file, removed again); raises InputError
    saying what to do for a folder that is not one, cannot be created or is not writable."""
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise InputError(f"the output folder {folder} is not a folder (a file has that name); choose another one")
    try:
        os.makedirs(folder, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError(
            f"cannot create the output folder {folder}: a file stands in its path (not a folder); choose another one"
        ) from None
    except OSError as e:
        raise InputError(f"cannot create the output folder {folder} ({e.strerror or e}); choose another one") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(
            f"the output folder {folder} is not writable; nothing was written. choose a folder you can write"
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=".depthnet-probe-", dir=folder)
    except OSError as e:
        raise InputError(
            f"the output folder {folder} is not writable ({e.strerror or e}); nothing was written. choose another one"
        ) from None
    os.close(fd)
    os.remove(probe)


@lru_cache(maxsize=64)
def _listed_outputs(folder: str, mtime: float) -> frozenset[str]:
    """The names of the output files the predictions.json of `folder` lists (an earlier run's: its outputs
    lie beside it); `mtime` keys the cache."""
    try:
        with open(os.path.join(folder, SUMMARY_NAME), encoding="utf-8") as f:
            summary = json.load(f)
        entries = [*summary.get("images", []), *summary.get("videos", [])]
        paths = [p for e in entries for p in (e.get("outputs") or {}).values() if isinstance(p, str)]
    except (OSError, ValueError, AttributeError, TypeError):
        return frozenset()
    return frozenset(os.path.basename(p) for p in paths)


def earlier_output(path: str) -> bool:
    """Whether `path` is an output of an earlier depthnet run: a PNG marked as depthnet's, or a file the
    predictions.json beside it lists as an output."""
    folder = os.path.dirname(os.path.abspath(path))
    listing = os.path.join(folder, SUMMARY_NAME)
    if os.path.isfile(listing) and os.path.basename(path) in _listed_outputs(folder, os.path.getmtime(listing)):
        return True
    return path.lower().endswith(".png") and is_depthnet_png(path)
