"""The synthetic source: procedural frames, deterministic for a seed."""

from __future__ import annotations

import numpy as np


def test_synthetic_deterministic(tmp_path, run_prepare, read_split):
    a = run_prepare(
        tmp_path, source="synthetic", num_frames=3, seed=7, height=48, width=64, output_dir=str(tmp_path / "a")
    )
    b = run_prepare(
        tmp_path, source="synthetic", num_frames=3, seed=7, height=48, width=64, output_dir=str(tmp_path / "b")
    )
    assert a["num_frames"] == 3 and a["frame_size"] == [48, 64]
    assert [s["sha256"] for s in a["shards"]] == [s["sha256"] for s in b["shards"]]
    for f in read_split(tmp_path / "a" / "train"):
        assert f["rgb"].dtype == np.uint8 and (f["depth"] > 0).any()
