"""The labeled_mat reader on a MATLAB v7.3 file laid out like nyu_depth_v2_labeled.mat, from real frames."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from data_prep import readers


def write_labeled_mat(path, rgbs, depths, raw_depths, scenes):
    """A MATLAB v7.3 file laid out like nyu_depth_v2_labeled.mat: HDF5 with a 512-byte MATLAB header
    userblock, column-major arrays (images (N,3,W,H) uint8, depths/rawDepths (N,W,H) float32) and
    `scenes` a 1xN cell = (1, N) object references to uint16 char arrays under #refs#."""
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("images", data=np.stack([r.transpose(2, 1, 0) for r in rgbs]))
        f.create_dataset("depths", data=np.stack([d.T for d in depths]).astype(np.float32))
        f.create_dataset("rawDepths", data=np.stack([d.T for d in raw_depths]).astype(np.float32))
        for name, cls in (("images", "uint8"), ("depths", "single"), ("rawDepths", "single")):
            f[name].attrs["MATLAB_class"] = np.bytes_(cls)
        refs = f.create_group("#refs#")
        ref_list = []
        for i, s in enumerate(scenes):
            ds = refs.create_dataset(f"s{i}", data=np.array([ord(c) for c in s], np.uint16).reshape(-1, 1))
            ds.attrs["MATLAB_class"] = np.bytes_("char")
            ds.attrs["MATLAB_int_decode"] = np.int32(2)
            ref_list.append(ds.ref)
        cell = f.create_dataset("scenes", (1, len(scenes)), dtype=h5py.ref_dtype)
        cell[0, :] = ref_list
        cell.attrs["MATLAB_class"] = np.bytes_("cell")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 2015 HDF5 schema 1.00 ."
    with open(path, "r+b") as fh:
        fh.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM")


@pytest.fixture(scope="module")
def labeled_mat(sg, nyu_samples, tmp_path_factory, png16, sg_frame):
    """4 real supergradients frames in the labeled-.mat layout: `depths` = their dense depth, `rawDepths` =
    that depth with metric3d's real hole pattern (zeros) applied; splits.mat via scipy.io.savemat
    (trainNdxs = [1, 3], testNdxs = [2, 4], 1-based, column vectors of doubles like the official file)."""
    import scipy.io

    d = tmp_path_factory.mktemp("labeled")
    holes = png16(nyu_samples / "metric3d_nyu_demo" / "depth" / "sync_depth_00000.png") == 0
    rgbs, depths, raws = [], [], []
    for i in range(4):
        rgb, dep = sg_frame(sg, i)
        rgbs.append(rgb)
        depths.append(dep.astype(np.float32) / 1000)
        raws.append(np.where(holes, 0, dep).astype(np.float32) / 1000)
    scenes = ["basement_0001a", "bedroom_0004", "bedroom_0004", "kitchen_0028b"]
    write_labeled_mat(d / "nyu_depth_v2_labeled.mat", rgbs, depths, raws, scenes)
    scipy.io.savemat(d / "splits.mat", {"trainNdxs": np.array([[1.0], [3.0]]), "testNdxs": np.array([[2.0], [4.0]])})
    return d, rgbs, depths, raws, scenes


def test_labeled_mat(labeled_mat, tmp_path, run_prepare, read_split):
    d, rgbs, depths, raws, scenes = labeled_mat
    assert (d / "nyu_depth_v2_labeled.mat").read_bytes()[:10] == b"MATLAB 7.3"
    manifest = run_prepare(
        tmp_path, source="labeled_mat", input=str(d / "nyu_depth_v2_labeled.mat"), split="test"
    )  # splits.mat found beside it
    assert manifest["source_split"] == "testNdxs" and manifest["num_frames"] == 2
    frames = read_split(tmp_path / "out" / "test")
    assert [(f["scene"], f["frame"]) for f in frames] == [("bedroom_0004", "0002"), ("kitchen_0028b", "0004")]
    for f, i in zip(frames, (1, 3)):
        np.testing.assert_array_equal(f["rgb"], rgbs[i])
        assert np.abs(f["depth"] - depths[i]).max() <= 0.0005 + 1e-6
    raw = readers.LabeledMatReader(
        str(d / "nyu_depth_v2_labeled.mat"), "train", splits_mat=str(d / "splits.mat"), depth="raw"
    )
    got = list(raw.frames())
    raw.close()
    assert [g.frame for g in got] == ["0001", "0003"] and [g.scene for g in got] == [scenes[0], scenes[2]]
    for g, i in zip(got, (0, 2)):
        np.testing.assert_array_equal(g.rgb, rgbs[i])
        np.testing.assert_array_equal(g.depth, raws[i])
        assert (g.depth == 0).mean() > 0.25


def test_labeled_mat_needs_splits(labeled_mat, tmp_path):
    d = labeled_mat[0]
    lone = tmp_path / "nyu_depth_v2_labeled.mat"
    os.symlink(d / "nyu_depth_v2_labeled.mat", lone)
    with pytest.raises(readers.SourceError, match="--splits_mat is required"):
        readers.make_reader("labeled_mat", str(lone), "test")
    import scipy.io

    scipy.io.savemat(
        tmp_path / "bad_splits.mat", {"trainNdxs": np.array([[0.0], [5.0]]), "testNdxs": np.array([[2.0]])}
    )
    with pytest.raises(readers.SourceError, match=r"outside 1\.\.4"):
        readers.make_reader("labeled_mat", str(lone), "train", splits_mat=str(tmp_path / "bad_splits.mat"))
