"""depthnet-prepare (data_prep/) on real NYU Depth V2 / SUN RGB-D frames from ../shared/nyu_samples.

No format is mocked. Where no real file of a format is public (FastDepth ``.h5``, the labeled ``.mat``,
a prepared TFDS directory), the tests build one in the real layout *from the real sample frames*
(see each fixture's docstring); nothing is copied into the repo, everything lives in tmp dirs.
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
from unittest import mock

import h5py
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from data_prep import prepare as prep
from data_prep import readers
from data_prep.prepare import Options
from depthnet import records

REPO = pathlib.Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------------------
# helpers


def run(tmp_path, reader=None, **kw) -> dict:
    kw.setdefault("output_dir", str(tmp_path / "out"))
    kw.setdefault("progress", False)
    return prep.prepare(Options(**kw), reader=reader)


def read_split(split_dir) -> list[dict]:
    """Every frame of a prepared split, parsed with records.parse_example, in manifest order."""
    out = []
    for path in records.shard_paths(str(split_dir)):
        for raw in tf.data.TFRecordDataset(path):
            ex = records.parse_example(raw)
            out.append({
                "rgb": ex["rgb"].numpy(),
                "depth": ex["depth"].numpy()[..., 0],
                "scene": ex["scene"].numpy().decode(),
                "frame": ex["frame"].numpy().decode(),
            })  # fmt: skip
    return out


def stored_mm(depth_m) -> np.ndarray:
    return np.rint(np.asarray(depth_m, np.float64) * 1000).astype(np.int64)


def png16(path) -> np.ndarray:
    img = Image.open(path)
    assert img.mode == "I;16", (path, img.mode)
    return np.array(img)


def no_tmp(root) -> bool:
    return not [p for p in pathlib.Path(root).rglob("*.tmp")]


def sha(path) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def sg(nyu_samples):
    """supergradients_nyu2_mini_test: 10 real labeled-set frames, RGB PNG + dense uint16 depth PNG (mm)."""
    return nyu_samples / "supergradients_nyu2_mini_test"


def sg_frame(sg, i):
    return np.array(Image.open(sg / f"image_{i}.png").convert("RGB")), png16(sg / f"depth_{i}.png")


@pytest.fixture(scope="module")
def small_pairs(sg, tmp_path_factory):
    """A pairs folder of the 10 real supergradients frames subsampled 4x (120x160), so conversions are fast:
    sceneA/ rgb_0000k.png + sync_depth_0000k.png (k=0..5), sceneB/ image_k.png + depth_k.png (k=6..9)."""
    root = tmp_path_factory.mktemp("small_pairs")
    for i in range(10):
        rgb, dep = sg_frame(sg, i)
        rgb, dep = rgb[::4, ::4], dep[::4, ::4]
        if i < 6:
            d = root / "sceneA"
            names = (f"rgb_{i:05d}.png", f"sync_depth_{i:05d}.png")
        else:
            d = root / "sceneB"
            names = (f"image_{i}.png", f"depth_{i}.png")
        d.mkdir(exist_ok=True)
        Image.fromarray(rgb).save(d / names[0])
        Image.fromarray(dep.astype(np.uint16)).save(d / names[1])
        assert png16(d / names[1]).dtype == np.uint16
    return root


def write_h5(path, rgb, depth):
    """One FastDepth frame: 'rgb' 3xHxW uint8 (channel-first), 'depth' HxW float32 metres."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset("rgb", data=np.ascontiguousarray(rgb.transpose(2, 0, 1)))
        f.create_dataset("depth", data=depth.astype(np.float32))


@pytest.fixture(scope="module")
def fastdepth_tree(sg, tmp_path_factory):
    """A tiny FastDepth `nyudepthv2/` tree in the real layout, converted from the real supergradients frames:
    train/bedroom_0001/0000{1,2}.h5 (frames 0, 1), train/kitchen_0003/00001.h5 (frame 2),
    val/official/0000{1,2}.h5 (frames 3, 4). Returns (root, {relative h5 path: (rgb, depth metres)})."""
    root = tmp_path_factory.mktemp("fastdepth") / "nyudepthv2"
    layout = {
        "train/bedroom_0001/00001.h5": 0,
        "train/bedroom_0001/00002.h5": 1,
        "train/kitchen_0003/00001.h5": 2,
        "val/official/00001.h5": 3,
        "val/official/00002.h5": 4,
    }
    frames = {}
    for rel, i in layout.items():
        rgb, dep = sg_frame(sg, i)
        depth = (dep.astype(np.float64) / 1000 + 0.0003).astype(np.float32)  # not on the mm grid: tests rounding
        write_h5(root / rel, rgb, depth)
        frames[rel] = (rgb, depth)
    return root, frames


# ----------------------------------------------------------------------------------------------
# pairs on real data


def test_pairs_csv_round_trip(sg, tmp_path):
    """supergradients CSV (header image_path,depth_path): shards parse back to the source exactly."""
    manifest = run(tmp_path, source="pairs", input=str(sg / "nyu2_mini_test.csv"), split="test", frames_per_shard=4)
    split_dir = tmp_path / "out" / "test"
    assert manifest == records.read_manifest(str(split_dir))
    assert manifest["num_frames"] == 10 and [s["num_frames"] for s in manifest["shards"]] == [3, 3, 4]
    assert manifest["frame_size"] == [480, 640] and manifest["depth_scale"] == 1000.0
    for s in manifest["shards"]:
        assert s["sha256"] == sha(split_dir / s["file"])
    frames = read_split(split_dir)
    # test split keeps the CSV order (image_0 .. image_9)
    assert [f["frame"] for f in frames] == [f"image_{i}.png" for i in range(10)]
    for i, f in enumerate(frames):
        rgb, dep = sg_frame(sg, i)
        np.testing.assert_array_equal(f["rgb"], rgb)
        np.testing.assert_array_equal(stored_mm(f["depth"]), dep)  # lossless at the 1 mm grid
        assert f["depth"].min() > 0.8 and f["depth"].max() < 10.0  # dense filled depth, < 10 m cap
    assert no_tmp(tmp_path)


def test_pairs_folder_metric3d_rgb_depth_subfolders(nyu_samples, tmp_path):
    """metric3d: rgb/rgb_000NN.jpg <-> depth/sync_depth_000NN.png (raw depth with 0 = holes)."""
    src = nyu_samples / "metric3d_nyu_demo"
    reader = readers.make_reader("pairs", str(src), "test")
    items = reader.items()
    assert [(pathlib.Path(i.ref[0]).name, pathlib.Path(i.ref[1]).name) for i in items] == [
        ("rgb_00000.jpg", "sync_depth_00000.png"),
        ("rgb_00050.jpg", "sync_depth_00050.png"),
        ("rgb_00100.jpg", "sync_depth_00100.png"),
    ]
    run(tmp_path, source="pairs", input=str(src), split="test")
    frames = read_split(tmp_path / "out" / "test")
    for f, n in zip(frames, ("00000", "00050", "00100")):
        np.testing.assert_array_equal(f["rgb"], np.array(Image.open(src / "rgb" / f"rgb_{n}.jpg")))
        raw = png16(src / "depth" / f"sync_depth_{n}.png")
        np.testing.assert_array_equal(stored_mm(f["depth"]), raw)
        holes = (f["depth"] == 0).mean()
        assert 0.24 <= holes <= 0.34 and f["depth"].max() <= 8.266
        assert f["scene"] == "metric3d_nyu_demo" and f["frame"] == f"rgb/rgb_{n}.jpg"


def test_pairs_folder_unidepth_side_by_side(nyu_samples, tmp_path):
    """unidepth: rgb.png <-> depth.png in one folder (intrinsics.npy ignored); 10 m clipped values kept."""
    src = nyu_samples / "unidepth_demo"
    run(tmp_path, source="pairs", input=str(src), split="test")
    (f,) = read_split(tmp_path / "out" / "test")
    np.testing.assert_array_equal(f["rgb"], np.array(Image.open(src / "rgb.png")))
    np.testing.assert_array_equal(stored_mm(f["depth"]), png16(src / "depth.png"))
    assert abs((f["depth"] == 0).mean() - 0.319) < 0.001
    assert f["depth"].max() == pytest.approx(10.0) and (f["depth"] == np.float32(10.0)).sum() == 2663


def test_pairs_mmseg_images_annotations(nyu_samples):
    """mmseg: images/<name>.jpg <-> annotations/<name>.png, a 160x120 real raw-sync frame."""
    frames = list(readers.iter_frames("pairs", str(nyu_samples / "mmseg_pseudo_nyu"), "test"))
    (f,) = frames
    assert f.rgb.shape == (120, 160, 3) and f.depth.dtype == np.float32
    assert abs((f.depth == 0).mean() - 0.338) < 0.001 and f.depth.max() == pytest.approx(10.0)


def test_kinect_raw_open3d(nyu_samples, tmp_path):
    """NYU raw Kinect dump NYU_depth.pgm (little-endian despite its header) + NYU_color.ppm."""
    src = nyu_samples / "open3d_nyu_raw"
    raw = readers.read_nyu_raw_pgm(str(src / "NYU_depth.pgm"))
    assert raw.dtype == np.uint16 and raw.shape == (480, 640) and raw.min() == 839 and raw.max() == 2047
    manifest = run(tmp_path, source="pairs", input=str(src), split="test", depth_encoding="kinect_raw")
    assert "NOT registered" in manifest["source_info"]["warning"]
    (f,) = read_split(tmp_path / "out" / "test")
    np.testing.assert_array_equal(f["rgb"], np.array(Image.open(src / "NYU_color.ppm")))
    valid = f["depth"] > 0
    assert abs((~valid).mean() - 0.072) < 0.001
    assert np.array_equal(~valid, raw == 2047)
    assert f["depth"][valid].min() == pytest.approx(1.39, abs=0.005) and f["depth"][valid].max() == pytest.approx(6.69, abs=0.005)
    expected = 351.3 / (1092.5 - raw[valid].astype(np.float64))
    assert np.abs(f["depth"][valid] - expected).max() <= 0.0005 + 1e-6


def test_sunrgbd_open3d(nyu_samples, tmp_path):
    """SUN RGB-D depth PNG with its bit rotation: 1.06-9.87 m, 18.2 % zeros."""
    src = nyu_samples / "open3d_sunrgbd"
    run(tmp_path, source="pairs", input=str(src), split="test", depth_encoding="sunrgbd")
    (f,) = read_split(tmp_path / "out" / "test")
    np.testing.assert_array_equal(f["rgb"], np.array(Image.open(src / "SUN_color.jpg")))
    v = png16(src / "SUN_depth.png").astype(np.uint32)
    np.testing.assert_array_equal(stored_mm(f["depth"]), ((v >> 3) | (v << 13)) & 0xFFFF)
    valid = f["depth"] > 0
    assert abs((~valid).mean() - 0.182) < 0.001
    assert f["depth"][valid].min() == pytest.approx(1.06, abs=0.005) and f["depth"][valid].max() == pytest.approx(9.87, abs=0.005)


def test_nyu_raw_dump_names_pair_by_time(nyu_samples, tmp_path):
    """NYU raw-dump names r-<t>-<n>.ppm / d-<t>-<n>.pgm pair each depth with the nearest RGB in time
    (the real open3d frame copied under such names, plus a second, later RGB that must not be chosen)."""
    scene = tmp_path / "basement_0001a"
    scene.mkdir()
    src = nyu_samples / "open3d_nyu_raw"
    shutil.copy(src / "NYU_color.ppm", scene / "r-1294439283.377657-2050025564.ppm")
    shutil.copy(src / "NYU_color.ppm", scene / "r-1294439284.377657-2050125564.ppm")
    shutil.copy(src / "NYU_depth.pgm", scene / "d-1294439283.401362-2030130452.pgm")
    (item,) = readers.make_reader("pairs", str(tmp_path), "train", depth_encoding="kinect_raw").items()
    assert pathlib.Path(item.ref[0]).name == "r-1294439283.377657-2050025564.ppm"
    assert item.scene == "basement_0001a"


# ----------------------------------------------------------------------------------------------
# fastdepth / labeled_mat / tfds, built from the real frames in the real layouts


def test_fastdepth_round_trip(fastdepth_tree, tmp_path):
    root, frames = fastdepth_tree
    manifest = run(tmp_path, source="fastdepth", input=str(root.parent), split="train", num_shards=2)
    assert manifest["source_split"] == "train" and manifest["num_frames"] == 3 and manifest["scenes"] == ["bedroom_0001", "kitchen_0003"]
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


def test_fastdepth_nan_inf_depth_become_invalid(sg, tmp_path):
    """Non-finite, negative, zero and > 65.535 m depth in an .h5 (real frame) are stored as 0 = invalid."""
    rgb, dep = sg_frame(sg, 5)
    depth = dep.astype(np.float32) / 1000
    bad = {(0, 0): np.nan, (0, 1): np.inf, (0, 2): -np.inf, (0, 3): -1.0, (0, 4): 0.0, (0, 5): 70.0}
    for (r, c), v in bad.items():
        depth[r, c] = v
    write_h5(tmp_path / "src" / "train" / "living_room_0010" / "00001.h5", rgb, depth)
    run(tmp_path, source="fastdepth", input=str(tmp_path / "src"), split="train")
    (f,) = read_split(tmp_path / "out" / "train")
    for r, c in bad:
        assert f["depth"][r, c] == 0.0
    assert np.isfinite(f["depth"]).all()
    np.testing.assert_array_equal(stored_mm(f["depth"])[1:], dep[1:])


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
def labeled_mat(sg, nyu_samples, tmp_path_factory):
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


def test_labeled_mat(labeled_mat, tmp_path):
    d, rgbs, depths, raws, scenes = labeled_mat
    assert open(d / "nyu_depth_v2_labeled.mat", "rb").read(10) == b"MATLAB 7.3"
    manifest = run(tmp_path, source="labeled_mat", input=str(d / "nyu_depth_v2_labeled.mat"), split="test")  # splits.mat found beside it
    assert manifest["source_split"] == "testNdxs" and manifest["num_frames"] == 2
    frames = read_split(tmp_path / "out" / "test")
    assert [(f["scene"], f["frame"]) for f in frames] == [("bedroom_0004", "0002"), ("kitchen_0028b", "0004")]
    for f, i in zip(frames, (1, 3)):
        np.testing.assert_array_equal(f["rgb"], rgbs[i])
        assert np.abs(f["depth"] - depths[i]).max() <= 0.0005 + 1e-6
    raw = readers.LabeledMatReader(str(d / "nyu_depth_v2_labeled.mat"), "train", splits_mat=str(d / "splits.mat"), depth="raw")
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

    scipy.io.savemat(tmp_path / "bad_splits.mat", {"trainNdxs": np.array([[0.0], [5.0]]), "testNdxs": np.array([[2.0]])})
    with pytest.raises(readers.SourceError, match=r"outside 1\.\.4"):
        readers.make_reader("labeled_mat", str(lone), "train", splits_mat=str(tmp_path / "bad_splits.mat"))


def test_tfds_missing_gives_build_hint(tmp_path):
    with pytest.raises(readers.SourceError, match=r"tfds build nyu_depth_v2 --data_dir="):
        run(tmp_path, source="tfds", tfds_data_dir=str(tmp_path / "no_tfds"), split="train")
    assert not (tmp_path / "out").exists()


def test_tfds_built_by_real_builder(fastdepth_tree, tmp_path):
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
        run(tmp_path, source="tfds", input=str(data_dir), split="test", max_frames_per_scene=1)
    manifest = run(tmp_path, source="tfds", input=str(data_dir), split="test")
    assert manifest["source_split"] == "validation" and manifest["num_frames"] == 2
    got = read_split(tmp_path / "out" / "test")
    val = [frames[k] for k in frames if k.startswith("val/")]
    for f in got:
        (rgb, depth), = [(r, d) for r, d in val if np.array_equal(r, f["rgb"])]
        half = depth.astype(np.float16).astype(np.float32)  # TFDS stores float16 metres
        np.testing.assert_array_equal(stored_mm(f["depth"]), stored_mm(half))
        assert np.abs(f["depth"] - depth).max() <= 10 * 2.0**-11 + 0.0005  # float16 at < 10 m + 1 mm grid


def test_synthetic_deterministic(tmp_path):
    a = run(tmp_path, source="synthetic", num_frames=3, seed=7, height=48, width=64, output_dir=str(tmp_path / "a"))
    b = run(tmp_path, source="synthetic", num_frames=3, seed=7, height=48, width=64, output_dir=str(tmp_path / "b"))
    assert a["num_frames"] == 3 and a["frame_size"] == [48, 64]
    assert [s["sha256"] for s in a["shards"]] == [s["sha256"] for s in b["shards"]]
    for f in read_split(tmp_path / "a" / "train"):
        assert f["rgb"].dtype == np.uint8 and (f["depth"] > 0).any()


# ----------------------------------------------------------------------------------------------
# sampling, sharding, resume


def test_evenly_spaced_and_sample_items():
    assert prep.evenly_spaced(10, 3) == [1, 5, 8]
    assert prep.evenly_spaced(4, 10) == [0, 1, 2, 3]
    for n in range(1, 60):
        for k in range(1, n + 1):
            idx = prep.evenly_spaced(n, k)
            assert len(set(idx)) == k and idx == sorted(idx) and 0 <= idx[0] and idx[-1] < n
            assert set(np.diff(idx)) <= {n // k, -(-n // k)}  # even: steps differ by at most one frame
            assert idx[0] == n // (2 * k) and n - 1 - idx[-1] <= -(-n // (2 * k))  # centred: equal margins
    items = [readers.Item("a", f"{i:05d}", i) for i in range(10)] + [readers.Item("b", f"{i:05d}", i) for i in range(4)]
    items += [readers.Item("c", "00000", 0)]
    per_scene = prep.sample_items(items, max_frames_per_scene=3)
    assert [it.key for it in per_scene] == ["a/00001", "a/00005", "a/00008", "b/00000", "b/00002", "b/00003", "c/00000"]
    capped = prep.sample_items(items, max_frames_per_scene=3, max_frames=4)
    assert [it.key for it in capped] == ["a/00001", "a/00008", "b/00002", "c/00000"]
    assert prep.sample_items(items, max_frames=4) == prep.sample_items(list(items), max_frames=4)


def test_plan_sampling_on_folder_is_deterministic(small_pairs):
    opts = Options(source="pairs", input=str(small_pairs), output_dir="unused", split="train", max_frames_per_scene=3, num_shards=2)
    plans = [prep.make_plan(opts, readers.make_reader("pairs", str(small_pairs), "train")) for _ in range(2)]
    assert [i.key for i in plans[0].selected] == [i.key for i in plans[1].selected] and plans[0].digest == plans[1].digest
    chosen = sorted(i.key for i in plans[0].selected)
    assert chosen == ["sceneA/sceneA/rgb_00001.png", "sceneA/sceneA/rgb_00003.png", "sceneA/sceneA/rgb_00005.png",
                      "sceneB/sceneB/image_6.png", "sceneB/sceneB/image_8.png", "sceneB/sceneB/image_9.png"]  # fmt: skip
    assert [len(s) for s in plans[0].shards] == [3, 3]
    # the train split is shuffled across scenes (seeded); the test split keeps source order
    test = prep.make_plan(Options(**{**opts.__dict__, "split": "test"}), readers.make_reader("pairs", str(small_pairs), "test"))
    assert [i.key for i in test.selected] == sorted(chosen, key=readers.natural_key)
    assert [i.key for i in plans[0].selected] != [i.key for i in test.selected]


class CountingReader(readers.PairsReader):
    """The real pairs reader, counting loads and optionally dying (like a kill) after `crash_after` frames."""

    def __init__(self, path, crash_after=None):
        super().__init__(path)
        self.loads, self.crash_after = 0, crash_after

    def load(self, item):
        if self.crash_after is not None and self.loads >= self.crash_after:
            raise KeyboardInterrupt("simulated kill")
        self.loads += 1
        return super().load(item)


def test_resume_after_kill_skips_finished_shards(small_pairs, tmp_path):
    kw = dict(source="pairs", input=str(small_pairs), split="train", frames_per_shard=3)  # 10 frames -> 4 shards of 2-3
    split_dir = tmp_path / "out" / "train"
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, reader=CountingReader(str(small_pairs), crash_after=6), **kw)
    done = sorted(p.name for p in split_dir.glob("*.done"))
    assert done == ["train-00000-of-00004.tfrecord.done", "train-00001-of-00004.tfrecord.done"]
    assert not (split_dir / records.MANIFEST_NAME).exists() and no_tmp(split_dir)
    assert sorted(p.name for p in split_dir.glob("*.tfrecord")) == ["train-00000-of-00004.tfrecord", "train-00001-of-00004.tfrecord"]
    mtimes = {p.name: p.stat().st_mtime_ns for p in split_dir.glob("*.tfrecord")}
    (split_dir / "train-00002-of-00004.tfrecord.tmp").write_bytes(b"half a shard")  # what a SIGKILL leaves

    resumed = CountingReader(str(small_pairs))
    manifest = run(tmp_path, reader=resumed, **kw)
    assert resumed.loads == 10 - 5  # shards 0 and 1 (2 + 3 frames) were not redone
    assert {n: (split_dir / n).stat().st_mtime_ns for n in mtimes} == mtimes
    assert manifest["num_frames"] == 10 and no_tmp(split_dir)

    fresh = run(tmp_path, output_dir=str(tmp_path / "fresh"), **kw)  # uninterrupted run: identical shards
    assert [s["sha256"] for s in fresh["shards"]] == [s["sha256"] for s in manifest["shards"]]

    again = CountingReader(str(small_pairs))
    assert run(tmp_path, reader=again, skip_bad=True, **kw)["created"] == manifest["created"]  # complete: nothing to do
    assert again.loads == 0

    # a damaged finished shard is detected (sha256) and only that shard is rewritten
    (split_dir / records.MANIFEST_NAME).unlink()
    victim = split_dir / "train-00002-of-00004.tfrecord"
    victim.write_bytes(victim.read_bytes()[:-10])
    fixer = CountingReader(str(small_pairs))
    repaired = run(tmp_path, reader=fixer, **kw)
    assert fixer.loads == 2 and repaired["shards"] == manifest["shards"]


def test_changed_flags_refused_unless_overwrite(small_pairs, tmp_path):
    kw = dict(source="pairs", input=str(small_pairs), split="test", num_shards=2)
    run(tmp_path, **kw)
    with pytest.raises(prep.OutputExistsError, match=r"--num_shards: 2 before, 3 now.*--overwrite"):
        run(tmp_path, **{**kw, "num_shards": 3})
    with pytest.raises(prep.OutputExistsError, match=r"--max_frames: None before, 5 now"):
        run(tmp_path, **{**kw, "max_frames": 5})
    m = run(tmp_path, **{**kw, "max_frames": 5, "overwrite": True})
    assert m["num_frames"] == 5 and sorted(p.name for p in (tmp_path / "out" / "test").glob("*.tfrecord")) == [
        "test-00000-of-00002.tfrecord", "test-00001-of-00002.tfrecord"]  # fmt: skip
    # a partial output (no manifest) made with other flags is refused too
    (tmp_path / "out" / "test" / records.MANIFEST_NAME).unlink()
    with pytest.raises(prep.OutputExistsError, match="max_frames"):
        run(tmp_path, **{**kw, "max_frames": 6})


# ----------------------------------------------------------------------------------------------
# bad input


def bad_folder(small_pairs, tmp_path, name="bad") -> pathlib.Path:
    dst = tmp_path / name
    shutil.copytree(small_pairs, dst)
    return dst


def test_corrupt_png_named_and_skip_bad_counts(small_pairs, tmp_path):
    src = bad_folder(small_pairs, tmp_path)
    victim = src / "sceneB" / "depth_7.png"
    victim.write_bytes(victim.read_bytes()[:300])
    kw = dict(source="pairs", input=str(src), split="test", frames_per_shard=4)
    with pytest.raises(readers.BadInputError, match=r"depth_7\.png.*cannot decode"):
        run(tmp_path, **kw)
    assert no_tmp(tmp_path / "out") and not (tmp_path / "out" / "test" / records.MANIFEST_NAME).exists()
    manifest = run(tmp_path, skip_bad=True, **kw)  # resumes: the shard before the bad file is reused
    assert manifest["num_frames"] == 9 and manifest["skipped_bad"] == 1
    assert manifest["skipped_files"][0]["file"].endswith("depth_7.png") and manifest["flags"]["skip_bad"] is True
    assert "image_7.png" not in [f["frame"].split("/")[-1] for f in read_split(tmp_path / "out" / "test")]
    assert no_tmp(tmp_path / "out")


def test_8bit_depth_png_refused(small_pairs, tmp_path):
    src = bad_folder(small_pairs, tmp_path)
    p = src / "sceneA" / "sync_depth_00002.png"
    Image.fromarray((png16(p) // 40).astype(np.uint8)).save(p)  # DenseDepth-train-style 8-bit depth
    with pytest.raises(readers.BadInputError, match=r"sync_depth_00002\.png.*8-bit.*16-bit"):
        run(tmp_path, source="pairs", input=str(src), split="test")
    assert no_tmp(tmp_path)


def test_size_mismatch_refused(nyu_samples, sg, tmp_path):
    src = tmp_path / "mix"
    src.mkdir()
    shutil.copy(sg / "image_0.png", src / "image_0.png")  # 480x640
    shutil.copy(nyu_samples / "mmseg_pseudo_nyu" / "annotations" / "bookstore_0001d_00001.png", src / "depth_0.png")  # 120x160
    with pytest.raises(readers.BadInputError, match=r"depth_0\.png: depth is 120x160 but its RGB .*image_0\.png is 480x640"):
        run(tmp_path, source="pairs", input=str(src), split="test")
    assert no_tmp(tmp_path)


def test_swapped_csv_columns_and_missing_file(sg, tmp_path):
    swapped = tmp_path / "swapped.csv"
    swapped.write_text(f"{sg / 'depth_0.png'},{sg / 'image_0.png'}\n")
    with pytest.raises(readers.BadInputError, match="swapped"):
        run(tmp_path, source="pairs", input=str(swapped), split="test")
    missing = tmp_path / "missing.csv"
    missing.write_text(f"image_path,depth_path\n{sg / 'image_0.png'},{sg / 'depth_0.png'}\n{sg / 'image_1.png'},{tmp_path / 'nope.png'}\n")
    with pytest.raises(readers.BadInputError, match=r"nope\.png: file does not exist"):
        run(tmp_path, source="pairs", input=str(missing), split="test", output_dir=str(tmp_path / "o2"))
    assert no_tmp(tmp_path)


def test_missing_empty_and_all_bad_sources(small_pairs, fastdepth_tree, tmp_path):
    with pytest.raises(readers.SourceError, match="input path does not exist"):
        run(tmp_path, source="pairs", input=str(tmp_path / "nowhere"), split="test")
    (tmp_path / "empty").mkdir()
    with pytest.raises(readers.SourceError, match="no frames found"):
        run(tmp_path, source="pairs", input=str(tmp_path / "empty"), split="test")
    with pytest.raises(readers.SourceError, match="val.official does not exist"):
        run(tmp_path, source="fastdepth", input=str(tmp_path / "empty"), split="test")
    garbage = tmp_path / "garbage"
    (garbage / "sceneZ").mkdir(parents=True)
    for i in range(2):
        (garbage / "sceneZ" / f"rgb_{i}.jpg").write_bytes(b"not a jpeg")
        shutil.copy(small_pairs / "sceneA" / "sync_depth_00000.png", garbage / "sceneZ" / f"depth_{i}.png")
    with pytest.raises(readers.SourceError, match=r"no frames written: all 2 selected inputs were bad"):
        run(tmp_path, source="pairs", input=str(garbage), split="test", skip_bad=True)
    assert no_tmp(tmp_path)


def test_corrupt_h5_and_wrong_kinect_file(fastdepth_tree, nyu_samples, tmp_path):
    root, _ = fastdepth_tree
    tree = tmp_path / "fd"
    shutil.copytree(root / "val", tree / "val")
    (tree / "val" / "official" / "00002.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(readers.BadInputError, match=r"00002\.h5: cannot read HDF5"):
        run(tmp_path, source="fastdepth", input=str(tree), split="test")
    assert no_tmp(tmp_path)
    with pytest.raises(readers.BadInputError, match="not a binary PGM"):
        readers.read_nyu_raw_pgm(str(nyu_samples / "open3d_sunrgbd" / "SUN_depth.png"))


# ----------------------------------------------------------------------------------------------
# the command a user runs


def test_cli_end_to_end(sg, tmp_path):
    """`python -m data_prep.prepare` as a subprocess (with 2 encoding processes); the manifest a user would
    open; shards byte-identical to an in-process single-worker run; then a CLI error."""
    cmd = [sys.executable, "-m", "data_prep.prepare", "--source=pairs", f"--input={sg / 'nyu2_mini_test.csv'}",
           f"--output_dir={tmp_path / 'nyu'}", "--split=test", "--num_shards=2", "--max_frames=4", "--noprogress",
           "--workers=2"]  # fmt: skip
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "4 frames in 2 shards" in res.stdout and "frames/s" in res.stdout
    split_dir = tmp_path / "nyu" / "test"
    manifest = json.loads((split_dir / "manifest.json").read_text())
    assert manifest["source"] == "pairs" and manifest["split"] == "test" and manifest["num_frames"] == 4
    assert manifest["depth_unit"] == "metres" and manifest["depth_scale"] == 1000.0 and manifest["frame_size"] == [480, 640]
    assert manifest["flags"]["max_frames"] == 4 and manifest["skipped_bad"] == 0 and manifest["created"]
    for s in manifest["shards"]:
        assert sha(split_dir / s["file"]) == s["sha256"]
    frames = read_split(split_dir)
    assert [f["frame"] for f in frames] == ["image_1.png", "image_3.png", "image_6.png", "image_8.png"]  # evenly spaced
    same = run(tmp_path, source="pairs", input=str(sg / "nyu2_mini_test.csv"), split="test", num_shards=2, max_frames=4)
    assert [s["sha256"] for s in same["shards"]] == [s["sha256"] for s in manifest["shards"]]
    res = subprocess.run(cmd[:4] + [f"--input={tmp_path / 'nope.csv'}", f"--output_dir={tmp_path / 'x'}"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 1 and "depthnet-prepare: error: input path does not exist" in res.stderr
    assert "Traceback" not in res.stderr
