"""The on-disk training-shard format: one `tf.train.Example` per RGB-D frame, plus a manifest.

A prepared split lives in one folder::

    <data_dir>/<split>/manifest.json
    <data_dir>/<split>/<split>-00000-of-00008.tfrecord
    ...

Each example holds the full-resolution frame, losslessly:

- ``rgb``: PNG-encoded uint8 H x W x 3.
- ``depth``: PNG-encoded uint16 H x W; ``value / depth_scale`` is metres, 0 means invalid.
- ``depth_scale``: float, stored values per metre (1000 = millimetres).
- ``height``, ``width``: int64, the frame size.
- ``scene``, ``frame``: bytes, where the frame came from (for sampling and debugging).

The manifest (``manifest.json``) records source, split, frame count, depth unit and a sha256 per
shard; :func:`read_manifest` checks it and says what to do when something is missing. A manifest is
data a user may have been handed: every shard it lists must lie inside its split folder (a relative
path that does not climb out: ``../outside/x.tfrecord`` and ``/abs/x.tfrecord`` are refused) and
every number in it is range-checked (:func:`check_manifest`), each failure one :class:`ManifestError`
naming the file. TensorFlow is imported only by the functions that encode or parse examples.
"""

from __future__ import annotations

import json
import math
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from depthnet.data.frame import Frame  # noqa: F401  (records.Frame: the frame type the shards hold)
from depthnet.errors import InputError

if TYPE_CHECKING:
    import tensorflow as tf

MANIFEST_NAME = "manifest.json"
DEFAULT_DEPTH_SCALE = 1000.0  # millimetres
MAX_STORED_VALUE = 65535
PNG_COMPRESSION = 1  # zlib level: ~8x faster to write than the default, ~15% larger, still lossless


class ManifestError(InputError):
    """A manifest.json that cannot be trusted (unreadable, a shard outside its folder, a number out of range)."""


def example_features() -> dict[str, Any]:
    """The `tf.io.parse_single_example` features of one shard example."""
    import tensorflow as tf

    return {
        "rgb": tf.io.FixedLenFeature([], tf.string),
        "depth": tf.io.FixedLenFeature([], tf.string),
        "depth_scale": tf.io.FixedLenFeature([], tf.float32),
        "height": tf.io.FixedLenFeature([], tf.int64),
        "width": tf.io.FixedLenFeature([], tf.int64),
        "scene": tf.io.FixedLenFeature([], tf.string, default_value=b""),
        "frame": tf.io.FixedLenFeature([], tf.string, default_value=b""),
    }


def _bytes(value: bytes) -> tf.train.Feature:
    import tensorflow as tf

    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def quantize_depth(depth_m: np.ndarray, depth_scale: float = DEFAULT_DEPTH_SCALE) -> np.ndarray:
    """Metres -> uint16 stored values. Non-finite, non-positive or unrepresentable depth becomes 0 (invalid)."""
    depth = np.asarray(depth_m, dtype=np.float64)
    valid = np.isfinite(depth) & (depth > 0)
    scaled = np.where(valid, np.rint(np.where(valid, depth, 0.0) * depth_scale), 0.0)
    scaled[scaled > MAX_STORED_VALUE] = 0.0
    return scaled.astype(np.uint16)


def encode_example(
    rgb: np.ndarray,
    depth_m: np.ndarray,
    depth_scale: float = DEFAULT_DEPTH_SCALE,
    scene: str = "",
    frame: str = "",
) -> bytes:
    """Serialises one RGB-D frame. `rgb` is uint8 HxWx3, `depth_m` is HxW metres (0/NaN = invalid)."""
    import tensorflow as tf

    rgb = np.asarray(rgb)
    depth_m = np.asarray(depth_m)
    if rgb.dtype != np.uint8:
        raise TypeError(f"rgb must be uint8, got {rgb.dtype}; convert 0-255 images with .astype(np.uint8)")
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"rgb must be H x W x 3, got shape {rgb.shape}")
    if depth_m.ndim == 3 and depth_m.shape[-1] == 1:
        depth_m = depth_m[..., 0]
    if depth_m.shape != rgb.shape[:2]:
        raise ValueError(f"RGB is {rgb.shape[0]}x{rgb.shape[1]} but depth is {'x'.join(map(str, depth_m.shape))}")
    if not np.issubdtype(depth_m.dtype, np.floating):
        raise TypeError(f"depth must be float metres, got {depth_m.dtype}; divide stored integers by their scale")
    stored = quantize_depth(depth_m, depth_scale)
    height, width = rgb.shape[:2]
    feature = {
        "rgb": _bytes(tf.io.encode_png(rgb, compression=PNG_COMPRESSION).numpy()),
        "depth": _bytes(tf.io.encode_png(stored[..., None], compression=PNG_COMPRESSION).numpy()),
        "depth_scale": tf.train.Feature(float_list=tf.train.FloatList(value=[depth_scale])),
        "height": tf.train.Feature(int64_list=tf.train.Int64List(value=[height])),
        "width": tf.train.Feature(int64_list=tf.train.Int64List(value=[width])),
        "scene": _bytes(scene.encode()),
        "frame": _bytes(frame.encode()),
    }
    # deterministic=True: protobuf map order otherwise varies between processes, and shard checksums with it.
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


def parse_example(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
    """Graph-friendly parse: {'rgb': uint8 [H,W,3], 'depth': float32 [H,W,1] metres (0 invalid), 'scene', 'frame'}."""
    import tensorflow as tf

    ex = tf.io.parse_single_example(serialized, example_features())
    rgb = tf.io.decode_png(ex["rgb"], channels=3, dtype=tf.uint8)
    stored = tf.io.decode_png(ex["depth"], channels=1, dtype=tf.uint16)
    depth = tf.cast(stored, tf.float32) / ex["depth_scale"]
    shape = tf.stack([ex["height"], ex["width"]])
    rgb = tf.ensure_shape(rgb, [None, None, 3])
    depth = tf.ensure_shape(depth, [None, None, 1])
    tf.debugging.assert_equal(tf.shape(rgb, out_type=tf.int64)[:2], shape, message="corrupt record: rgb size")
    return {"rgb": rgb, "depth": depth, "scene": ex["scene"], "frame": ex["frame"]}


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def _count(value: Any, what: str) -> str:
    """'' when `value` is an int >= 0 (not a bool), else what is wrong with it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return f"{what} must be a whole number >= 0, got {value!r}"
    return ""


def _shard_problem(shard: Any, index: int) -> str:
    """'' for a usable shard entry, else what is wrong with it."""
    if not isinstance(shard, dict):
        return f"shards[{index}] must be an object with a 'file', got {shard!r}"
    name = shard.get("file")
    if not isinstance(name, str) or not name.strip() or "\0" in name:
        return f"shards[{index}].file must be a file name, got {name!r}"
    normal = os.path.normpath(name.replace("\\", "/"))
    if os.path.isabs(name) or normal == "." or normal.split(os.sep)[0] == "..":
        return f"shard {name!r} lies outside the split folder (a shard must be a file inside it)"
    for key in ("num_frames", "bytes"):
        if key in shard and _count(shard[key], key):
            return f"shard {name!r}: " + _count(shard[key], key)
    if "sha256" in shard and not isinstance(shard["sha256"], (str, type(None))):
        return f"shard {name!r}: sha256 must be a string, got {shard['sha256']!r}"
    return ""


def _numbers_problem(manifest: dict[str, Any]) -> str:
    """'' when the manifest's top-level numbers are in range, else the first that is not."""
    for key in ("num_frames", "skipped_bad", "num_scenes"):
        if key in manifest and _count(manifest[key], key):
            return _count(manifest[key], key)
    scale = manifest.get("depth_scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
        return f"depth_scale must be a positive number, got {scale!r}"
    size = manifest.get("frame_size")
    if size is not None and not (
        isinstance(size, list) and len(size) == 2 and all(not _count(v, "") and v > 0 for v in size)
    ):
        return f"frame_size must be [height, width] of positive whole numbers, got {size!r}"
    scenes = manifest.get("scenes", [])
    if not isinstance(scenes, list) or not all(isinstance(v, str) for v in scenes):
        return "scenes must be a list of scene names"
    return ""


def check_manifest(manifest: Any, path: str) -> dict[str, Any]:
    """`manifest` when every shard lies inside its folder and every number is in range; ManifestError naming
    `path` (and what to do) otherwise."""
    if not isinstance(manifest, dict):
        problem = f"it holds a {type(manifest).__name__}, not a manifest object"
    elif not isinstance(manifest.get("shards", []), list):
        problem = "shards must be a list"
    else:
        shards = manifest.get("shards", [])
        problem = _numbers_problem(manifest) or next(
            (p for p in (_shard_problem(s, i) for i, s in enumerate(shards)) if p), ""
        )
        counts = [s.get("num_frames") for s in shards]
        if not problem and shards and None not in counts and sum(counts) != manifest.get("num_frames"):
            problem = f"num_frames {manifest.get('num_frames')!r} is not the sum of its shards' ({sum(counts)})"
    if problem:
        raise ManifestError(f"{path} is not a usable manifest: {problem}; re-run depthnet-prepare for this split")
    return manifest


def _load_manifest(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ManifestError(
            f"{path} is not a usable manifest: not valid JSON ({e}); re-run depthnet-prepare for this split"
        ) from None


def read_manifest(split_dir: str) -> dict[str, Any]:
    """Loads and checks `<split_dir>/manifest.json` (:func:`check_manifest`); raises with a hint when the
    split is missing or empty."""
    path = os.path.join(split_dir, MANIFEST_NAME)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No prepared data at {split_dir!r} ({MANIFEST_NAME} missing). Create it with e.g. "
            f"`depthnet-prepare --source=synthetic --output_dir={os.path.dirname(split_dir) or '.'} "
            f"--split={os.path.basename(split_dir)}`."
        )
    manifest = check_manifest(_load_manifest(path), path)
    if not manifest.get("shards") or not manifest.get("num_frames"):
        raise ManifestError(f"{path} lists no frames; re-run depthnet-prepare for this split.")
    missing = [s["file"] for s in manifest["shards"] if not os.path.exists(os.path.join(split_dir, s["file"]))]
    if missing:
        raise FileNotFoundError(f"{path} lists shards that are missing: {missing[:3]}; re-run depthnet-prepare.")
    return manifest


def shard_paths(split_dir: str) -> list[str]:
    """Paths of a prepared split's shards, in manifest order (each inside `split_dir`: :func:`read_manifest`)."""
    manifest = read_manifest(split_dir)
    return [os.path.join(split_dir, s["file"]) for s in manifest["shards"]]
