"""Bad input: every unusable file named in the error, skip_bad counting, unusable sources."""

from __future__ import annotations

import pathlib
import shutil

import numpy as np
import pytest
from PIL import Image

from data_prep import readers
from depthnet.data import records


def bad_folder(small_pairs, tmp_path, name="bad") -> pathlib.Path:
    dst = tmp_path / name
    shutil.copytree(small_pairs, dst)
    return dst


def test_corrupt_png_named_and_skip_bad_counts(small_pairs, tmp_path, run_prepare, read_split, no_tmp):
    src = bad_folder(small_pairs, tmp_path)
    victim = src / "sceneB" / "depth_7.png"
    victim.write_bytes(victim.read_bytes()[:300])
    kw = dict(source="pairs", input=str(src), split="test", frames_per_shard=4)
    with pytest.raises(readers.BadInputError, match=r"depth_7\.png.*cannot decode"):
        run_prepare(tmp_path, **kw)
    assert no_tmp(tmp_path / "out") and not (tmp_path / "out" / "test" / records.MANIFEST_NAME).exists()
    manifest = run_prepare(tmp_path, skip_bad=True, **kw)  # resumes: the shard before the bad file is reused
    assert manifest["num_frames"] == 9 and manifest["skipped_bad"] == 1
    assert manifest["skipped_files"][0]["file"].endswith("depth_7.png") and manifest["flags"]["skip_bad"] is True
    assert "image_7.png" not in [f["frame"].split("/")[-1] for f in read_split(tmp_path / "out" / "test")]
    assert no_tmp(tmp_path / "out")


def test_8bit_depth_png_refused(small_pairs, tmp_path, run_prepare, png16, no_tmp):
    src = bad_folder(small_pairs, tmp_path)
    p = src / "sceneA" / "sync_depth_00002.png"
    Image.fromarray((png16(p) // 40).astype(np.uint8)).save(p)  # DenseDepth-train-style 8-bit depth
    with pytest.raises(readers.BadInputError, match=r"sync_depth_00002\.png.*8-bit.*16-bit"):
        run_prepare(tmp_path, source="pairs", input=str(src), split="test")
    assert no_tmp(tmp_path)


def test_size_mismatch_refused(nyu_samples, sg, tmp_path, run_prepare, no_tmp):
    src = tmp_path / "mix"
    src.mkdir()
    shutil.copy(sg / "image_0.png", src / "image_0.png")  # 480x640
    shutil.copy(
        nyu_samples / "mmseg_pseudo_nyu" / "annotations" / "bookstore_0001d_00001.png", src / "depth_0.png"
    )  # 120x160
    with pytest.raises(
        readers.BadInputError, match=r"depth_0\.png: depth is 120x160 but its RGB .*image_0\.png is 480x640"
    ):
        run_prepare(tmp_path, source="pairs", input=str(src), split="test")
    assert no_tmp(tmp_path)


def test_swapped_csv_columns_and_missing_file(sg, tmp_path, run_prepare, no_tmp):
    swapped = tmp_path / "swapped.csv"
    swapped.write_text(f"{sg / 'depth_0.png'},{sg / 'image_0.png'}\n")
    with pytest.raises(readers.BadInputError, match="swapped"):
        run_prepare(tmp_path, source="pairs", input=str(swapped), split="test")
    missing = tmp_path / "missing.csv"
    missing.write_text(
        f"image_path,depth_path\n{sg / 'image_0.png'},{sg / 'depth_0.png'}\n"
        f"{sg / 'image_1.png'},{tmp_path / 'nope.png'}\n"
    )
    with pytest.raises(readers.BadInputError, match=r"nope\.png: file does not exist"):
        run_prepare(tmp_path, source="pairs", input=str(missing), split="test", output_dir=str(tmp_path / "o2"))
    assert no_tmp(tmp_path)


def test_missing_empty_and_all_bad_sources(small_pairs, fastdepth_tree, tmp_path, run_prepare, no_tmp):
    with pytest.raises(readers.SourceError, match="input path does not exist"):
        run_prepare(tmp_path, source="pairs", input=str(tmp_path / "nowhere"), split="test")
    (tmp_path / "empty").mkdir()
    with pytest.raises(readers.SourceError, match="no frames found"):
        run_prepare(tmp_path, source="pairs", input=str(tmp_path / "empty"), split="test")
    with pytest.raises(readers.SourceError, match="val.official does not exist"):
        run_prepare(tmp_path, source="fastdepth", input=str(tmp_path / "empty"), split="test")
    garbage = tmp_path / "garbage"
    (garbage / "sceneZ").mkdir(parents=True)
    for i in range(2):
        (garbage / "sceneZ" / f"rgb_{i}.jpg").write_bytes(b"not a jpeg")
        shutil.copy(small_pairs / "sceneA" / "sync_depth_00000.png", garbage / "sceneZ" / f"depth_{i}.png")
    with pytest.raises(readers.SourceError, match=r"no frames written: all 2 selected inputs were bad"):
        run_prepare(tmp_path, source="pairs", input=str(garbage), split="test", skip_bad=True)
    assert no_tmp(tmp_path)


def test_corrupt_h5_and_wrong_kinect_file(fastdepth_tree, nyu_samples, tmp_path, run_prepare, no_tmp):
    root, _ = fastdepth_tree
    tree = tmp_path / "fd"
    shutil.copytree(root / "val", tree / "val")
    (tree / "val" / "official" / "00002.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(readers.BadInputError, match=r"00002\.h5: cannot read HDF5"):
        run_prepare(tmp_path, source="fastdepth", input=str(tree), split="test")
    assert no_tmp(tmp_path)
    with pytest.raises(readers.BadInputError, match="not a binary PGM"):
        readers.read_nyu_raw_pgm(str(nyu_samples / "open3d_sunrgbd" / "SUN_depth.png"))
