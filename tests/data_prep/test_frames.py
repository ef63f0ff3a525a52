"""data_prep.write_frames: frames in memory -> a split, round robin, through the conversion's shard writer."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
import tensorflow as tf
from helpers import random_frames

from data_prep import write_frames
from data_prep.shards import DONE_SUFFIX
from depthnet.data import pipeline as data
from depthnet.data import records


def _by_shard(split_dir):
    """{shard file: [frame names in it, in order]} of a written split, each shard read with depthnet.data.records."""
    out = {}
    for s in records.read_manifest(str(split_dir))["shards"]:
        examples = tf.data.TFRecordDataset(str(split_dir / s["file"]))
        out[s["file"]] = [records.parse_example(raw)["frame"].numpy().decode() for raw in examples]
    return out


def test_write_frames_round_trip_and_round_robin(tmp_path, read_split, stored_mm, sha):
    frames = list(random_frames(7, seed=3))
    split_dir = tmp_path / "tiny" / "train"
    manifest = write_frames(frames, split_dir, num_shards=3)
    assert manifest == records.read_manifest(str(split_dir))
    assert manifest["source"] == "synthetic" and manifest["split"] == "train" and manifest["num_frames"] == 7
    assert manifest["depth_scale"] == 1000.0
    names = [records.shard_name("train", k, 3) for k in range(3)]
    assert [s["file"] for s in manifest["shards"]] == names
    assert [s["num_frames"] for s in manifest["shards"]] == [3, 2, 2]
    for s in manifest["shards"]:
        assert s["sha256"] == sha(split_dir / s["file"])
        assert (split_dir / (s["file"] + DONE_SUFFIX)).exists()
    # frame i -> shard i % num_shards, in order within a shard
    assert _by_shard(split_dir) == {
        names[k]: [f"{i:04d}" for i in range(k, 7, 3)] for k in range(3)
    }  # fmt: skip
    got = {f["frame"]: f for f in read_split(split_dir)}
    for fr in frames:
        np.testing.assert_array_equal(got[fr.frame]["rgb"], fr.rgb)
        np.testing.assert_array_equal(stored_mm(got[fr.frame]["depth"]), stored_mm(fr.depth))
        assert got[fr.frame]["scene"] == fr.scene
    # what training/evaluation reads: depthnet.data.pipeline in manifest order
    batches = list(data.eval_dataset(str(split_dir), resize_to=None).as_numpy_iterator())
    assert [b["frame"][0].decode() for b in batches] == [n for k in range(3) for n in _by_shard(split_dir)[names[k]]]
    np.testing.assert_allclose(batches[0]["image"][0], frames[0].rgb / np.float32(255), atol=1e-6)


def test_write_frames_pairs_scale_and_split_name(tmp_path, read_split):
    rng = np.random.default_rng(0)
    pairs = [
        (rng.integers(0, 256, (8, 10, 3), dtype=np.uint8), np.full((8, 10), 1.5 + i, np.float64)) for i in range(3)
    ]
    manifest = write_frames(pairs, tmp_path / "dir", depth_scale=100.0, source="unit", split="val")
    assert manifest["source"] == "unit" and manifest["split"] == "val" and manifest["depth_scale"] == 100.0
    assert [s["file"] for s in manifest["shards"]] == ["val-00000-of-00001.tfrecord"]
    frames = read_split(tmp_path / "dir")
    assert [f["frame"] for f in frames] == ["000000", "000001", "000002"] and {f["scene"] for f in frames} == {""}
    for f, (rgb, depth) in zip(frames, pairs):
        np.testing.assert_array_equal(f["rgb"], rgb)
        np.testing.assert_allclose(f["depth"], depth, atol=1e-6)  # 1.5 m at 1 cm steps: exact
    # a rewrite replaces the split (here with fewer shards: the old shards and markers go)
    again = write_frames(pairs[:2], tmp_path / "dir", num_shards=2, split="val")
    assert [s["num_frames"] for s in again["shards"]] == [1, 1]
    assert sorted(n for n in os.listdir(tmp_path / "dir") if n.endswith(".tfrecord")) == [
        "val-00000-of-00002.tfrecord", "val-00001-of-00002.tfrecord"]  # fmt: skip
    with open(tmp_path / "dir" / again["shards"][0]["file"], "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == again["shards"][0]["sha256"]


def test_write_frames_refuses_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="num_shards must be >= 1"):
        write_frames([], tmp_path / "x", num_shards=0)
    rgb = np.zeros((4, 5, 3), np.float32)  # not uint8
    with pytest.raises(Exception, match="RGB must be uint8"):
        write_frames([(rgb, np.ones((4, 5), np.float32))], tmp_path / "y")
    assert not [n for n in os.listdir(tmp_path / "y") if n.endswith(".tmp")]
