"""The fastdepth reader on a FastDepth .h5 tree built from the real frames."""

from __future__ import annotations

import os

import numpy as np

from data_prep import readers


def test_fastdepth_round_trip(fastdepth_tree, tmp_path, run_prepare, read_split):
    root, frames = fastdepth_tree
    manifest = run_prepare(tmp_path, source="fastdepth", input=str(root.parent), split="train", num_shards=2)
    assert (
        manifest["source_split"] == "train"
        and manifest["num_frames"] == 3
        and manifest["scenes"] == ["bedroom_0001", "kitchen_0003"]
    )
    out = {(f["scene"], f["frame"]): f for f in read_split(tmp_path / "out" / "train")}
    assert set(out) == {("bedroom_0001", "00001"), ("bedroom_0001", "00002"), ("kitchen_0003", "00001")}
    for (scene, frame), f in out.items():
        rgb, depth = frames[f"train/{scene}/{frame}.h5"]
        np.testing.assert_array_equal(f["rgb"], rgb)
        assert np.abs(f["depth"] - depth).max() <= 0.0005 + 1e-6  # 1/depth_scale quantisation
    # --split=test reads val/official
    test = readers.make_reader("fastdepth", str(root), "test")
    assert test.source_split == os.path.join("val", "official")
    assert [(i.scene, i.frame) for i in test.items()] == [("official", "00001"), ("official", "00002")]


def test_fastdepth_nan_inf_depth_become_invalid(sg, tmp_path, run_prepare, read_split, stored_mm, sg_frame, write_h5):
    """Non-finite, negative, zero and > 65.535 m depth in an .h5 (real frame) are stored as 0 = invalid."""
    rgb, dep = sg_frame(sg, 5)
    depth = dep.astype(np.float32) / 1000
    bad = {(0, 0): np.nan, (0, 1): np.inf, (0, 2): -np.inf, (0, 3): -1.0, (0, 4): 0.0, (0, 5): 70.0}
    for (r, c), v in bad.items():
        depth[r, c] = v
    write_h5(tmp_path / "src" / "train" / "living_room_0010" / "00001.h5", rgb, depth)
    run_prepare(tmp_path, source="fastdepth", input=str(tmp_path / "src"), split="train")
    (f,) = read_split(tmp_path / "out" / "train")
    for r, c in bad:
        assert f["depth"][r, c] == 0.0
    assert np.isfinite(f["depth"]).all()
    np.testing.assert_array_equal(stored_mm(f["depth"])[1:], dep[1:])
