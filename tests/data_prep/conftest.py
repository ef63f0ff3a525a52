"""Shared helpers for the data_prep tests, on real NYU Depth V2 / SUN RGB-D frames from ../shared/nyu_samples.

No format is mocked. Where no real file of a format is public (FastDepth ``.h5``, the labeled ``.mat``,
a prepared TFDS directory), the tests build one in the real layout *from the real sample frames*
(see each fixture's docstring); nothing is copied into the repo, everything lives in tmp dirs.
Helpers are fixtures returning the function (``run_prepare``, ``read_split``, ...), as in tests/synthetic.
"""

from __future__ import annotations

import hashlib
import pathlib
import sys

# With tests/ on sys.path (tests/conftest.py), this folder would be found as a namespace package `data_prep`
# ahead of the real one (installed editable, found only after the path): put the repository first.
_REPO = str(pathlib.Path(__file__).resolve().parents[2])
if sys.path[:1] != [_REPO]:
    sys.path.insert(0, _REPO)
if getattr(sys.modules.get("data_prep"), "__file__", "") is None:  # a namespace package imported already
    for _name in [n for n in sys.modules if n == "data_prep" or n.startswith("data_prep.")]:
        del sys.modules[_name]

import h5py
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from data_prep.prepare import Options, prepare
from depthnet.data import records


def _run_prepare(tmp_path, reader=None, **kw) -> dict:
    kw.setdefault("output_dir", str(tmp_path / "out"))
    kw.setdefault("progress", False)
    return prepare(Options(**kw), reader=reader)


def _read_split(split_dir) -> list[dict]:
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


def _stored_mm(depth_m) -> np.ndarray:
    return np.rint(np.asarray(depth_m, np.float64) * 1000).astype(np.int64)


def _png16(path) -> np.ndarray:
    img = Image.open(path)
    assert img.mode == "I;16", (path, img.mode)
    return np.array(img)


def _no_tmp(root) -> bool:
    return not [p for p in pathlib.Path(root).rglob("*.tmp")]


def _sha(path) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def _sg_frame(sg, i):
    return np.array(Image.open(sg / f"image_{i}.png").convert("RGB")), _png16(sg / f"depth_{i}.png")


def _write_h5(path, rgb, depth):
    """One FastDepth frame: 'rgb' 3xHxW uint8 (channel-first), 'depth' HxW float32 metres."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset("rgb", data=np.ascontiguousarray(rgb.transpose(2, 0, 1)))
        f.create_dataset("depth", data=depth.astype(np.float32))


@pytest.fixture(scope="session")
def run_prepare():
    """`(tmp_path, reader=None, **options) -> manifest`: data_prep.prepare into tmp_path/out, no progress bar."""
    return _run_prepare


@pytest.fixture(scope="session")
def read_split():
    """`(split_dir) -> [{'rgb', 'depth' (metres, HxW), 'scene', 'frame'}]` in manifest order."""
    return _read_split


@pytest.fixture(scope="session")
def stored_mm():
    """`(depth in metres) -> int64 millimetres` (the shards' grid)."""
    return _stored_mm


@pytest.fixture(scope="session")
def png16():
    """`(path) -> uint16 array` of a 16-bit PNG (asserting it is one)."""
    return _png16


@pytest.fixture(scope="session")
def no_tmp():
    """`(root) -> bool`: no *.tmp file left anywhere under root."""
    return _no_tmp


@pytest.fixture(scope="session")
def sha():
    """`(path) -> hex sha256` of a file."""
    return _sha


@pytest.fixture(scope="session")
def sg_frame():
    """`(sg, i) -> (rgb uint8, depth uint16 mm)` of supergradients frame i."""
    return _sg_frame


@pytest.fixture(scope="session")
def write_h5():
    """`(path, rgb, depth)`: writes one FastDepth .h5 frame."""
    return _write_h5


@pytest.fixture(scope="module")
def sg(nyu_samples):
    """supergradients_nyu2_mini_test: 10 real labeled-set frames, RGB PNG + dense uint16 depth PNG (mm)."""
    return nyu_samples / "supergradients_nyu2_mini_test"


@pytest.fixture(scope="module")
def small_pairs(sg, tmp_path_factory):
    """A pairs folder of the 10 real supergradients frames subsampled 4x (120x160), so conversions are fast:
    sceneA/ rgb_0000k.png + sync_depth_0000k.png (k=0..5), sceneB/ image_k.png + depth_k.png (k=6..9)."""
    root = tmp_path_factory.mktemp("small_pairs")
    for i in range(10):
        rgb, dep = _sg_frame(sg, i)
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
        assert _png16(d / names[1]).dtype == np.uint16
    return root


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
        rgb, dep = _sg_frame(sg, i)
        depth = (dep.astype(np.float64) / 1000 + 0.0003).astype(np.float32)  # not on the mm grid: tests rounding
        _write_h5(root / rel, rgb, depth)
        frames[rel] = (rgb, depth)
    return root, frames
