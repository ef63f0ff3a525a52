"""The pairs reader (CSV and folders of RGB + depth images) on real NYU / SUN RGB-D samples."""

from __future__ import annotations

import pathlib
import shutil

import numpy as np
import pytest
from PIL import Image

from data_prep import readers
from depthnet.data import records


def test_pairs_csv_round_trip(sg, tmp_path, run_prepare, read_split, stored_mm, no_tmp, sha, sg_frame):
    """supergradients CSV (header image_path,depth_path): shards parse back to the source exactly."""
    manifest = run_prepare(
        tmp_path, source="pairs", input=str(sg / "nyu2_mini_test.csv"), split="test", frames_per_shard=4
    )
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


def test_pairs_folder_metric3d_rgb_depth_subfolders(nyu_samples, tmp_path, run_prepare, read_split, stored_mm, png16):
    """metric3d: rgb/rgb_000NN.jpg <-> depth/sync_depth_000NN.png (raw depth with 0 = holes)."""
    src = nyu_samples / "metric3d_nyu_demo"
    reader = readers.make_reader("pairs", str(src), "test")
    items = reader.items()
    assert [(pathlib.Path(i.ref[0]).name, pathlib.Path(i.ref[1]).name) for i in items] == [
        ("rgb_00000.jpg", "sync_depth_00000.png"),
        ("rgb_00050.jpg", "sync_depth_00050.png"),
        ("rgb_00100.jpg", "sync_depth_00100.png"),
    ]
    run_prepare(tmp_path, source="pairs", input=str(src), split="test")
    frames = read_split(tmp_path / "out" / "test")
    for f, n in zip(frames, ("00000", "00050", "00100")):
        np.testing.assert_array_equal(f["rgb"], np.array(Image.open(src / "rgb" / f"rgb_{n}.jpg")))
        raw = png16(src / "depth" / f"sync_depth_{n}.png")
        np.testing.assert_array_equal(stored_mm(f["depth"]), raw)
        holes = (f["depth"] == 0).mean()
        assert 0.24 <= holes <= 0.34 and f["depth"].max() <= 8.266
        assert f["scene"] == "metric3d_nyu_demo" and f["frame"] == f"rgb/rgb_{n}.jpg"


def test_pairs_folder_unidepth_side_by_side(nyu_samples, tmp_path, run_prepare, read_split, stored_mm, png16):
    """unidepth: rgb.png <-> depth.png in one folder (intrinsics.npy ignored); 10 m clipped values kept."""
    src = nyu_samples / "unidepth_demo"
    run_prepare(tmp_path, source="pairs", input=str(src), split="test")
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


def test_kinect_raw_open3d(nyu_samples, tmp_path, run_prepare, read_split):
    """NYU raw Kinect dump NYU_depth.pgm (little-endian despite its header) + NYU_color.ppm."""
    src = nyu_samples / "open3d_nyu_raw"
    raw = readers.read_nyu_raw_pgm(str(src / "NYU_depth.pgm"))
    assert raw.dtype == np.uint16 and raw.shape == (480, 640) and raw.min() == 839 and raw.max() == 2047
    manifest = run_prepare(tmp_path, source="pairs", input=str(src), split="test", depth_encoding="kinect_raw")
    assert "NOT registered" in manifest["source_info"]["warning"]
    (f,) = read_split(tmp_path / "out" / "test")
    np.testing.assert_array_equal(f["rgb"], np.array(Image.open(src / "NYU_color.ppm")))
    valid = f["depth"] > 0
    assert abs((~valid).mean() - 0.072) < 0.001
    assert np.array_equal(~valid, raw == 2047)
    assert f["depth"][valid].min() == pytest.approx(1.39, abs=0.005) and f["depth"][valid].max() == pytest.approx(
        6.69, abs=0.005
    )
    expected = 351.3 / (1092.5 - raw[valid].astype(np.float64))
    assert np.abs(f["depth"][valid] - expected).max() <= 0.0005 + 1e-6


def test_sunrgbd_open3d(nyu_samples, tmp_path, run_prepare, read_split, stored_mm, png16):
    """SUN RGB-D depth PNG with its bit rotation: 1.06-9.87 m, 18.2 % zeros."""
    src = nyu_samples / "open3d_sunrgbd"
    run_prepare(tmp_path, source="pairs", input=str(src), split="test", depth_encoding="sunrgbd")
    (f,) = read_split(tmp_path / "out" / "test")
    np.testing.assert_array_equal(f["rgb"], np.array(Image.open(src / "SUN_color.jpg")))
    v = png16(src / "SUN_depth.png").astype(np.uint32)
    np.testing.assert_array_equal(stored_mm(f["depth"]), ((v >> 3) | (v << 13)) & 0xFFFF)
    valid = f["depth"] > 0
    assert abs((~valid).mean() - 0.182) < 0.001
    assert f["depth"][valid].min() == pytest.approx(1.06, abs=0.005) and f["depth"][valid].max() == pytest.approx(
        9.87, abs=0.005
    )


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
