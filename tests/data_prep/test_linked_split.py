"""Issue 26 item 9: a split folder that is a symbolic link. Before: `--overwrite` renamed the link away, moved
the user's files out of its target into the new split and then failed (``Cannot call rmtree on a symbolic
link``), leaving ``.<split>.replaced`` (the link) behind, on which every later run failed the same way."""

from __future__ import annotations

import os
import pathlib
import shutil

import numpy as np
import pytest
from PIL import Image

from data_prep import output_dir, swap
from depthnet.errors import DepthNetError


def _tree(folder, sha) -> dict:
    return {p.name: sha(p) for p in sorted(pathlib.Path(folder).iterdir())}


@pytest.fixture()
def linked(small_pairs, tmp_path, run_prepare):
    """out/test -> disk/test, a finished split of a copy of small_pairs, holding one file of the user's."""
    shutil.copytree(small_pairs, tmp_path / "src")
    kw = dict(source="pairs", input=str(tmp_path / "src"), split="test", frames_per_shard=4)
    run_prepare(tmp_path, output_dir=str(tmp_path / "disk"), **kw)
    (tmp_path / "disk" / "test" / "notes.txt").write_text("mine")
    (tmp_path / "out").mkdir()
    os.symlink(tmp_path / "disk" / "test", tmp_path / "out" / "test")
    return kw


@pytest.mark.parametrize("case", ["overwrite", "changed input"])
def test_a_linked_split_folder_is_refused_and_its_target_untouched(linked, tmp_path, run_prepare, sha, case):
    """--overwrite with other options, or the same command after an input changed (a shard to redo): both
    replace the split folder."""
    target, link = tmp_path / "disk" / "test", tmp_path / "out" / "test"
    before = _tree(target, sha)
    kw = dict(linked, frames_per_shard=3, overwrite=True) if case == "overwrite" else linked
    if case == "changed input":
        depth = tmp_path / "src" / "sceneB" / "depth_8.png"
        Image.fromarray((np.asarray(Image.open(depth)) // 2).astype(np.uint16)).save(depth)
    with pytest.raises(DepthNetError, match=r"out/test is a symbolic link \(to .*disk/test\)") as caught:
        run_prepare(tmp_path, **kw)
    assert f"pass --output_dir={tmp_path / 'disk'}" in str(caught.value) and caught.value.exit_code == 2
    assert _tree(target, sha) == before and (target / "notes.txt").read_text() == "mine"
    assert os.path.islink(link) and sorted(os.listdir(tmp_path / "out")) == ["test"]  # nothing renamed or left


def test_a_linked_output_folder_is_fine(small_pairs, tmp_path, run_prepare, read_split):
    """Linking the output folder (not the split folder) keeps working: the swap renames inside its target."""
    (tmp_path / "disk").mkdir()
    os.symlink(tmp_path / "disk", tmp_path / "out")
    kw = dict(source="pairs", input=str(small_pairs), split="test")
    run_prepare(tmp_path, frames_per_shard=4, **kw)
    (tmp_path / "out" / "test" / "notes.txt").write_text("mine")
    manifest = run_prepare(tmp_path, frames_per_shard=3, overwrite=True, **kw)
    assert len(manifest["shards"]) == 4 and len(read_split(tmp_path / "out" / "test")) == 10
    assert (tmp_path / "disk" / "test" / "notes.txt").read_text() == "mine"


def test_a_replaced_link_left_by_an_older_version_is_refused_without_moving_anything(linked, tmp_path, sha):
    """The state the old code left: out/test a real folder, out/.test.replaced the user's link."""
    target, split_dir = tmp_path / "disk" / "test", tmp_path / "out" / "test"
    os.rename(split_dir, swap.replaced_dir(str(split_dir)))
    split_dir.mkdir()
    before = _tree(target, sha)
    with pytest.raises(output_dir.OutputError, match=r"\.test\.replaced is a symbolic link .* remove the link"):
        swap.recover(str(split_dir))
    assert _tree(target, sha) == before and os.listdir(split_dir) == []
