"""One RGB-D frame: what every reader, the synthetic renderer and the shard writer pass around.

numpy only (no TensorFlow), so a process that only renders scenes starts in well under a second.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, Optional

import numpy as np


@dataclasses.dataclass
class Frame:
    """One RGB-D frame as every reader yields it: uint8 HxWx3 RGB, float32 HxW depth in metres (0 = invalid)."""

    rgb: np.ndarray
    depth: np.ndarray
    scene: str = ""
    frame: str = ""


@dataclasses.dataclass
class FrameSource:
    """Frames to score and where they came from: what evaluation needs of a data set, whoever reads it.

    frames: an iterator of :class:`Frame` (or (rgb, depth, scene, frame) tuples) at full resolution.
    total: how many `frames` yields. ground_truth: 'filled', 'raw', 'synthetic' or 'unknown'.
    info: provenance for results files (paths, split, frame size). official_test: the frames are a
    data set's official test split (never select a checkpoint on it). close: releases open files.
    """

    frames: Iterator[Any]
    total: int
    ground_truth: str
    info: dict[str, Any]
    official_test: bool = False
    close: Optional[Callable[[], None]] = None

    def frame_size(self) -> Optional[tuple[int, int]]:
        size = self.info.get("frame_size")
        return (int(size[0]), int(size[1])) if size else None
