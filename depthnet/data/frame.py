"""One RGB-D frame: what every reader, the synthetic renderer and the shard writer pass around.

numpy only (no TensorFlow), so a process that only renders scenes starts in well under a second.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class Frame:
    """One RGB-D frame as every reader yields it: uint8 HxWx3 RGB, float32 HxW depth in metres (0 = invalid)."""

    rgb: np.ndarray
    depth: np.ndarray
    scene: str = ""
    frame: str = ""
