"""What every reader shares: the errors, :class:`Item`, the :class:`Reader` base class and frame checks."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator, Sequence
from typing import Any, Optional

import numpy as np

from depthnet import errors
from depthnet.data.records import Frame

SOURCES = ("tfds", "fastdepth", "labeled_mat", "pairs", "synthetic")
DEPTH_ENCODINGS = ("scaled", "sunrgbd", "kinect_raw")


class PrepareError(errors.DepthNetError):
    """Base of every error ``depthnet-prepare`` reports to the user as a clean message (exit status 2)."""


class SourceError(PrepareError):
    """The source as a whole is unusable (missing path, wrong layout, no frames, TFDS data absent)."""


class BadInputError(PrepareError):
    """One input file cannot be used (corrupt, wrong dtype, size mismatch); ``skip_bad`` skips it."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message


@dataclasses.dataclass(frozen=True)
class Item:
    """One listed frame: where it lives (``ref``, reader-specific) and its scene/frame names."""

    scene: str
    frame: str
    ref: Any
    path: str = ""  # the file(s) to name in error messages

    @property
    def key(self) -> str:
        return f"{self.scene}/{self.frame}"


def natural_key(text: str) -> tuple:
    """Sort key that orders 'image_9' before 'image_10'."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text.lower()))


def check_frame(frame: Frame, where: str) -> Frame:
    """Validates a decoded frame; returns it with float32 depth, raising BadInputError naming `where`."""
    rgb, depth = np.asarray(frame.rgb), np.asarray(frame.depth)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise BadInputError(where, f"RGB must be uint8 HxWx3, got {rgb.dtype} {rgb.shape}")
    if depth.ndim == 3 and depth.shape[-1] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.floating):
        raise BadInputError(where, f"depth must be float HxW metres, got {depth.dtype} {depth.shape}")
    if depth.shape != rgb.shape[:2]:
        raise BadInputError(
            where, f"RGB is {rgb.shape[0]}x{rgb.shape[1]} but depth is {depth.shape[0]}x{depth.shape[1]} (HxW)"
        )
    return Frame(rgb=rgb, depth=depth.astype(np.float32, copy=False), scene=frame.scene, frame=frame.frame)


class Reader:
    """A source of frames: :meth:`items` lists them, :meth:`iter_load` decodes a chosen subset."""

    name = "?"
    #: False for sources read as one stream (TFDS, synthetic): frames are kept in the source's order.
    random_access = True
    #: False when the source has no scene names (per-scene sampling is refused).
    has_scenes = True
    #: The source's own name of the split being read.
    source_split = ""
    #: Refuse frames whose depth is implausible for indoor RGB-D (:mod:`data_prep.readers.plausible`).
    check_depth = True
    #: True when the reader makes its frames in worker processes (the shard writer then encodes in this one).
    renders_in_parallel = False

    def items(self) -> list[Item]:
        raise NotImplementedError

    def load(self, item: Item) -> Frame:
        raise NotImplementedError

    def iter_load(self, items: Sequence[Item]) -> Iterator[tuple[Item, Any]]:
        """Yields ``(item, Frame)`` or ``(item, BadInputError)`` for every item, in order."""
        for item in items:
            try:
                yield item, self.checked(item, self.load(item), item.path or item.key)
            except BadInputError as e:
                yield item, e

    def checked(self, item: Item, frame: Frame, where: str) -> Frame:
        """:func:`check_frame`, then (with `check_depth`) the plausibility of its depth."""
        frame = check_frame(frame, where)
        if self.check_depth:
            from data_prep.readers import plausible

            problem = plausible.depth_problem(frame.depth, lambda: self.depth_hint(item))
            if problem:
                raise BadInputError(where, problem)
        return frame

    def depth_hint(self, item: Item) -> str:
        """For implausible depth: which decoding option would give plausible depth ('' when unknown)."""
        return ""

    def item_files(self, item: Item) -> Sequence[str]:
        """The files `item` is read from (their sizes and times decide whether its shard is still current)."""
        return ()

    def source_files(self) -> Sequence[str]:
        """Files every item is read from (e.g. the labeled .mat)."""
        return ()

    def describe(self) -> dict[str, Any]:
        """Source-specific facts for the manifest (depth meaning, caveats)."""
        return {}

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def frames(self, items: Optional[Sequence[Item]] = None) -> Iterator[Frame]:
        """Generator of :class:`Frame` (all items by default); raises on the first bad file."""
        for _, result in self.iter_load(self.items() if items is None else items):
            if isinstance(result, Exception):
                raise result
            yield result


def ascending_refs(items: Sequence[Item]) -> list[int]:
    """The integer refs of a streaming source's items, which must be in increasing order."""
    refs = [int(i.ref) for i in items]
    if any(b <= a for a, b in zip(refs, refs[1:])):
        raise ValueError("a streaming source must be read in increasing index order")
    return refs


def require_input(path: Optional[str], what: str) -> str:
    """`path` when it exists; SourceError saying what `input` should be otherwise."""
    if not path:
        raise SourceError(f"input is required: {what}")
    if not os.path.exists(path):
        raise SourceError(f"input path does not exist: {path}")
    return path
