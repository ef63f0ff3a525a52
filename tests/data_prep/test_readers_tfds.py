"""The tfds reader: the build hint without data, and a directory written by TFDS's own builder."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest

from data_prep import readers


def test_tfds_missing_gives_build_hint(tmp_path, run_prepare):
    with pytest.raises(readers.SourceError, match=r"tfds build nyu_depth_v2 --data_dir="):
        run_prepare(tmp_path, source="tfds", tfds_data_dir=str(tmp_path / "no_tfds"), split="train")
    assert not (tmp_path / "out").exists()


def test_tfds_built_by_real_builder(fastdepth_tree, tmp_path, run_prepare, read_split, stored_mm):
    """A real TFDS nyu_depth_v2 directory, written by TFDS's own builder from the small FastDepth tree
    (only download_and_extract is patched to return the local tree), read back by the tfds reader."""
    import tensorflow_datasets as tfds

    root, frames = fastdepth_tree
    data_dir = tmp_path / "tfds"
    builder = tfds.builder("nyu_depth_v2", data_dir=str(data_dir))
    with mock.patch.object(tfds.download.DownloadManager, "download_and_extract", lambda self, url: str(root.parent)):
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(verify_ssl=False))
    assert sorted(p.name for p in (data_dir / "nyu_depth_v2" / "0.0.1").glob("*.tfrecord*")) == [
        "nyu_depth_v2-train.tfrecord-00000-of-00001",
        "nyu_depth_v2-validation.tfrecord-00000-of-00001",
    ]
    with pytest.raises(readers.SourceError, match="TFDS drops them"):
        run_prepare(tmp_path, source="tfds", input=str(data_dir), split="test", max_frames_per_scene=1)
    manifest = run_prepare(tmp_path, source="tfds", input=str(data_dir), split="test")
    assert manifest["source_split"] == "validation" and manifest["num_frames"] == 2
    got = read_split(tmp_path / "out" / "test")
    val = [frames[k] for k in frames if k.startswith("val/")]
    for f in got:
        ((rgb, depth),) = [(r, d) for r, d in val if np.array_equal(r, f["rgb"])]
        half = depth.astype(np.float16).astype(np.float32)  # TFDS stores float16 metres
        np.testing.assert_array_equal(stored_mm(f["depth"]), stored_mm(half))
        assert np.abs(f["depth"] - depth).max() <= 10 * 2.0**-11 + 0.0005  # float16 at < 10 m + 1 mm grid
