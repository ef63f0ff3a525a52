"""Issue 26 item 8: a manifest is untrusted metadata. Shards must lie inside their split folder and every
number in it is range-checked, each failure one error naming the manifest. Before: a manifest listing
``../outside/x.tfrecord`` (with its correct sha256) was verified and read, and ``num_frames: -1`` was taken."""

import json
import os
import shutil

import pytest
from helpers import random_frames

from data_prep import write_frames
from depthnet.data import checks, records
from depthnet.errors import InputError


@pytest.fixture()
def split(tmp_path):
    split_dir = tmp_path / "data" / "test"
    write_frames(random_frames(3, 0, 24, 32), str(split_dir))
    return split_dir


def _edit(split_dir, change):
    path = split_dir / records.MANIFEST_NAME
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))
    return str(path)


def _refused(split_dir, match):
    """read_manifest, shard_paths and check_splits (what training and depthnet-eval call) all refuse it."""
    for call in (records.read_manifest, records.shard_paths, lambda d: checks.check_splits([d], verify="on")):
        with pytest.raises(InputError, match=match) as caught:
            call(str(split_dir))
        message = str(caught.value)
        assert message.startswith(str(split_dir / records.MANIFEST_NAME)) and "\n" not in message
        assert "re-run depthnet-prepare" in message


def test_a_shard_outside_the_split_folder_is_refused_even_with_its_right_checksum(split, tmp_path):
    outside = tmp_path / "data" / "outside"
    outside.mkdir()
    name = json.loads((split / records.MANIFEST_NAME).read_text())["shards"][0]["file"]
    shutil.move(str(split / name), str(outside / "x.tfrecord"))  # the right bytes, so the sha256 matches

    def point_outside(manifest):
        manifest["shards"][0]["file"] = "../outside/x.tfrecord"

    _edit(split, point_outside)
    _refused(split, r"shard '\.\./outside/x\.tfrecord' lies outside the split folder")


def test_an_absolute_shard_path_is_refused(split):
    def absolute(manifest):
        manifest["shards"][0]["file"] = os.path.abspath(str(split / manifest["shards"][0]["file"]))

    _edit(split, absolute)
    _refused(split, r"lies outside the split folder")


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("num_frames", -1, r"num_frames must be a whole number >= 0, got -1"),
        ("num_frames", 2.5, r"num_frames must be a whole number >= 0, got 2\.5"),
        ("num_frames", 4, r"num_frames 4 is not the sum of its shards' \(3\)"),
        ("depth_scale", 0, r"depth_scale must be a positive number, got 0"),
        ("frame_size", [24, -32], r"frame_size must be \[height, width\] of positive whole numbers"),
        ("shard_frames", -3, r"shard '.*': num_frames must be a whole number >= 0, got -3"),
        ("shards", "x.tfrecord", r"shards must be a list"),
    ],
)
def test_numbers_out_of_range_are_refused_naming_the_manifest(split, key, value, match):
    def change(manifest):
        if key == "shard_frames":
            manifest["shards"][0]["num_frames"] = value
        else:
            manifest[key] = value

    _edit(split, change)
    _refused(split, match)


def test_a_manifest_that_is_not_json_is_named(split):
    (split / records.MANIFEST_NAME).write_text('{"shards": [')
    _refused(split, r"not valid JSON")


def test_the_manifests_the_tools_write_pass_and_list_their_own_shards(split):
    paths = records.shard_paths(str(split))
    assert paths and all(os.path.dirname(p) == str(split) and os.path.isfile(p) for p in paths)
    checks.check_splits([str(split)], verify="on")
