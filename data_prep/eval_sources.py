"""Evaluation frames straight from a source format (no prepared split): the labeled .mat's official test split."""

from __future__ import annotations

import os
from typing import Optional

from depthnet.data.frame import FrameSource


def labeled_mat_source(labeled_mat: str, splits_mat: Optional[str], depth: str, max_frames: int = 0) -> FrameSource:
    """The official 654-frame test split of nyu_depth_v2_labeled.mat ('filled' depths or 'raw' rawDepths)."""
    from data_prep.readers import LabeledMatReader

    try:
        reader = LabeledMatReader(labeled_mat, "test", splits_mat=splits_mat, depth=depth)
        items = reader.items()[:max_frames] if max_frames else reader.items()
    except Exception as e:
        raise ValueError(f"cannot read the evaluation data: {e}") from e
    info = {
        "labeled_mat": os.path.abspath(labeled_mat),
        "splits_mat": os.path.abspath(reader.splits_mat),
        "split": "test",
        "num_frames": len(items),
        "frame_size": [480, 640],
    }
    frames = ((f.rgb, f.depth, f.scene, f.frame) for f in reader.frames(items))
    return FrameSource(frames, len(items), depth, info, official_test=True, close=reader.close)
