"""Input pipelines for training and evaluation on prepared RGB-D splits (see :mod:`depthnet.data.records`).

Paper, sec. 4.1: the 480x640 NYU frames are down-sampled to 312x416 and centre-cropped to 240x320
to remove the blank borders; training pairs get random online augmentation: a brightness delta in
[-0.2, 0.2], a contrast factor in [0.8, 1.2], and a joint horizontal flip of RGB and depth with
probability 0.5; batch size 3.

Preprocessing (:func:`preprocess`), identical for training and evaluation:

1. RGB uint8 -> float32 in [0, 1] (``x / 255``).
2. Resize to ``resize_to`` (default :data:`NYU_RESIZE` = 312x416): RGB bilinear, half-pixel centres,
   no antialiasing (``tf.image.resize`` defaults); depth *nearest neighbour* (half-pixel centres), so
   every output depth is one source pixel's value and invalid zeros never blend into valid depth.
   ``resize_to=None`` keeps the frame's own size.
3. Centre crop to ``crop_size`` (training default :data:`NYU_CROP` = 240x320; ``None`` = no crop).
   The offset is ``(size - crop) // 2`` per axis (36 rows, 48 columns for 312x416 -> 240x320).
4. ``mask = depth > 0 and finite``; non-finite depth is set to 0.

Augmentation (:func:`augment`, training only, after preprocessing, per example):

1. brightness: ``image += delta``, ``delta ~ U[-BRIGHTNESS_DELTA, BRIGHTNESS_DELTA]`` (one scalar for
   all channels, as ``tf.image.adjust_brightness``);
2. contrast: ``image = (image - mean) * f + mean`` with the per-channel spatial mean of the
   (brightened, cropped) image, ``f ~ U[CONTRAST_RANGE]`` (``tf.image.adjust_contrast``);
3. clip the image to [0, 1];
4. with probability :data:`FLIP_PROB`, mirror image, depth and mask left-right together.

Without clipping in between, brightness and contrast commute (both give
``(x - mean) * f + mean + delta``), so the order the paper leaves open only matters through the
single final clip. Augmenting after the crop makes the contrast mean that of what the network sees.

Depth values are never changed by augmentation, only mirrored. All randomness is stateless and keyed
by ``(seed, example index)``, so with ``seed`` and ``deterministic=True`` every iteration of the same
dataset (and of a dataset rebuilt with the same arguments) yields identical batches, whatever the
parallelism.

Yielded keys
------------
:func:`train_dataset`: ``image`` float32 [B,h,w,3] in [0,1]; ``depth`` float32 [B,h,w,1] metres,
0 = invalid; ``mask`` float32 [B,h,w,1] (1 = valid); (``scene``, ``frame`` string [B] with
``keep_ids=True``). ``h, w`` = ``crop_size`` (or ``resize_to`` when ``crop_size=None``).

:func:`eval_dataset`: ``image`` float32 [B,h,w,3], the network input (whole frame resized to
``resize_to``, centre-cropped only if ``crop_size`` is given); ``depth``/``mask`` [B,H,W,1] the
*full-resolution, uncropped* ground truth of the standard evaluation protocol (480x640 on NYU;
upsample the prediction to it); ``depth_input``/``mask_input`` [B,h,w,1] the ground truth
preprocessed exactly like ``image`` (nearest resize + the same crop), i.e. at the loss resolution for
in-training validation; ``scene``, ``frame`` string [B].
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any, Optional

import tensorflow as tf

from depthnet.data import records, train_stream

# Paper sec. 4.1 (traceability: WORKSPACE.md).
NYU_SIZE = (480, 640)
NYU_RESIZE = (312, 416)
NYU_CROP = (240, 320)
BRIGHTNESS_DELTA = 0.2
CONTRAST_RANGE = (0.8, 1.2)
FLIP_PROB = 0.5
BATCH_SIZE = 3

DEFAULT_SHUFFLE_BUFFER = 512  # serialized records (~0.5-1 MB each for NYU PNG pairs), not decoded frames
DEFAULT_CYCLE_LENGTH = 8  # shards read concurrently (mixes contiguous, unshuffled shards too)

Size = Optional[Sequence[int]]


def resize_for_crop(crop_size: Sequence[int]) -> tuple[int, int]:
    """The resize whose centre crop of `crop_size` covers the paper's field of view (crop/resize = 240/312).

    Sides are rounded to multiples of 4 (the network's output stride): (240, 320) -> (312, 416), the
    paper's; (120, 160) -> (156, 208); (64, 96) -> (84, 124). Training resizes to it before the crop, and
    evaluation and inference feed the whole frame at it (``predict``'s working size).
    """
    h, w = (int(s) for s in crop_size)
    return (
        4 * max(1, round(h * NYU_RESIZE[0] / NYU_CROP[0] / 4)),
        4 * max(1, round(w * NYU_RESIZE[1] / NYU_CROP[1] / 4)),
    )


def describe() -> dict[str, Any]:
    """The pipeline's paper parameters and our choices, for logs and the traceability table."""
    return {
        "resize_to": NYU_RESIZE,
        "crop_size": NYU_CROP,
        "resize_rgb": "bilinear, half-pixel centres, no antialias (tf.image.resize)",
        "resize_depth": "nearest neighbour, half-pixel centres (no mixing of invalid zeros)",
        "crop": "centre, offset (size - crop) // 2",
        "brightness_delta": BRIGHTNESS_DELTA,
        "contrast_range": CONTRAST_RANGE,
        "flip_prob": FLIP_PROB,
        "augment_order": "brightness -> contrast (per-channel mean) -> clip [0,1] -> joint flip",
        "batch_size": BATCH_SIZE,
        "image_range": "[0, 1] float32 RGB",
        "depth": "float32 metres, 0 = invalid; mask = depth > 0 and finite",
    }


# ----------------------------------------------------------------------------------------------
# Per-example ops


def _check_size(name: str, size: Size) -> Optional[tuple[int, int]]:
    if size is None:
        return None
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"{name} must be (height, width) with positive entries or None, got {size}")
    return size


def _check_crop(resize_to: Optional[tuple[int, int]], crop_size: Optional[tuple[int, int]]) -> None:
    if resize_to is not None and crop_size is not None and (crop_size[0] > resize_to[0] or crop_size[1] > resize_to[1]):
        raise ValueError(
            f"crop_size {crop_size[0]}x{crop_size[1]} is larger than the resized image "
            f"{resize_to[0]}x{resize_to[1]}; use a crop no larger than resize_to (paper: "
            f"{NYU_CROP[0]}x{NYU_CROP[1]} from {NYU_RESIZE[0]}x{NYU_RESIZE[1]}) or crop_size=None"
        )


def center_crop(x: tf.Tensor, crop_size: Sequence[int]) -> tf.Tensor:
    """Centre crop of an [H, W, C] tensor to `crop_size`; offset (H - h) // 2, (W - w) // 2."""
    h, w = int(crop_size[0]), int(crop_size[1])
    shape = tf.shape(x)
    check = tf.debugging.assert_greater_equal(
        shape[:2], tf.constant([h, w]), message=f"crop_size {h}x{w} is larger than the image"
    )
    with tf.control_dependencies([check]):  # fail with this message before the slice's shape check
        top = (shape[0] - h) // 2
        left = (shape[1] - w) // 2
    out = x[top : top + h, left : left + w]
    return tf.ensure_shape(out, [h, w, x.shape[-1]])


def preprocess(
    rgb_uint8: tf.Tensor,
    depth: tf.Tensor,
    resize_to: Size = NYU_RESIZE,
    crop_size: Size = NYU_CROP,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The paper's resize + centre crop of one frame (module docstring, steps 1-4).

    rgb_uint8: uint8 [H, W, 3]. depth: float metres [H, W, 1] or [H, W], 0 = invalid.
    Returns (image float32 [h,w,3] in [0,1], depth float32 [h,w,1], mask float32 [h,w,1]).
    """
    resize_to = _check_size("resize_to", resize_to)
    crop_size = _check_size("crop_size", crop_size)
    _check_crop(resize_to, crop_size)
    rgb_uint8 = tf.convert_to_tensor(rgb_uint8)
    if rgb_uint8.dtype != tf.uint8:
        raise TypeError(f"rgb must be uint8, got {rgb_uint8.dtype.name}")
    depth = tf.cast(depth, tf.float32)
    if depth.shape.rank == 2:
        depth = depth[..., None]
    image = tf.cast(rgb_uint8, tf.float32) / 255.0
    if resize_to is not None:
        image = tf.image.resize(image, resize_to, method=tf.image.ResizeMethod.BILINEAR, antialias=False)
        depth = tf.image.resize(depth, resize_to, method=tf.image.ResizeMethod.NEAREST_NEIGHBOR)
    if crop_size is not None:
        image = center_crop(image, crop_size)
        depth = center_crop(depth, crop_size)
    valid = tf.logical_and(tf.math.is_finite(depth), depth > 0)
    depth = tf.where(valid, depth, tf.zeros_like(depth))
    return image, depth, tf.cast(valid, tf.float32)


def sample_augmentation(seed: tf.Tensor) -> dict[str, tf.Tensor]:
    """The random parameters for one example from a stateless seed (int [2]).

    {'delta': brightness delta in [-0.2, 0.2), 'contrast': factor in [0.8, 1.2), 'flip': bool}.
    """
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=3)
    delta = tf.random.stateless_uniform([], seeds[0], -BRIGHTNESS_DELTA, BRIGHTNESS_DELTA)
    contrast = tf.random.stateless_uniform([], seeds[1], CONTRAST_RANGE[0], CONTRAST_RANGE[1])
    flip = tf.random.stateless_uniform([], seeds[2]) < FLIP_PROB
    return {"delta": delta, "contrast": contrast, "flip": flip}


def apply_augmentation(
    image: tf.Tensor, depth: tf.Tensor, mask: tf.Tensor, params: dict[str, tf.Tensor]
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Brightness, contrast, clip, then joint flip (module docstring). Depth values are untouched."""
    image = tf.image.adjust_brightness(image, params["delta"])
    image = tf.image.adjust_contrast(image, params["contrast"])
    image = tf.clip_by_value(image, 0.0, 1.0)

    def flip(x: tf.Tensor) -> tf.Tensor:
        return tf.cond(params["flip"], lambda: tf.reverse(x, axis=[-2]), lambda: x)

    return flip(image), flip(depth), flip(mask)


def augment(
    image: tf.Tensor, depth: tf.Tensor, mask: tf.Tensor, seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The paper's training augmentation of one [h,w,C] example, keyed by a stateless seed (int [2])."""
    return apply_augmentation(image, depth, mask, sample_augmentation(seed))


# ----------------------------------------------------------------------------------------------
# Datasets


def _paths(split_dir: str) -> list[str]:
    """Shard paths via the manifest; records.read_manifest's errors name the folder and the fix."""
    return records.shard_paths(os.fspath(split_dir))


def num_frames(split_dir: str) -> int:
    """Frames in a prepared split, from its manifest."""
    return int(records.read_manifest(os.fspath(split_dir))["num_frames"])


def steps_per_epoch(split_dir: str, batch_size: int = BATCH_SIZE) -> int:
    """Full batches per epoch (train_dataset drops the remainder by default)."""
    return num_frames(split_dir) // batch_size


def _options(deterministic: bool, private_threads: Optional[int]) -> tf.data.Options:
    options = tf.data.Options()
    options.deterministic = deterministic
    options.experimental_optimization.map_parallelization = True
    options.experimental_optimization.parallel_batch = True
    if private_threads:
        options.threading.private_threadpool_size = private_threads
    return options


@dataclasses.dataclass(frozen=True)
class ExampleOptions:
    """How :func:`load_train_example` turns one serialized example into a training example."""

    resize_to: Optional[tuple[int, int]] = NYU_RESIZE
    crop_size: Optional[tuple[int, int]] = NYU_CROP
    augment: bool = True
    keep_ids: bool = False


def load_train_example(options: ExampleOptions, example_seed: tf.Tensor, serialized: tf.Tensor) -> dict[str, tf.Tensor]:
    """Parse, preprocess and (with ``options.augment``) augment one example keyed by `example_seed` (int [2])."""
    ex = records.parse_example(serialized)
    image, depth, mask = preprocess(ex["rgb"], ex["depth"], options.resize_to, options.crop_size)
    if options.augment:
        image, depth, mask = augment(image, depth, mask, example_seed)
    out = {"image": image, "depth": depth, "mask": mask}
    if options.keep_ids:
        out.update(scene=ex["scene"], frame=ex["frame"])
    return out


def _check_train_args(
    batch_size: int, shuffle_buffer: int, resize_to: Size, crop_size: Size
) -> tuple[Optional[tuple[int, int]], Optional[tuple[int, int]]]:
    """Validates train_dataset's sizes; returns the normalised (resize_to, crop_size)."""
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size} (paper: {BATCH_SIZE})")
    if int(shuffle_buffer) < 0:
        raise ValueError(f"shuffle_buffer must be >= 0, got {shuffle_buffer}")
    resize_to = _check_size("resize_to", resize_to)
    crop_size = _check_size("crop_size", crop_size)
    _check_crop(resize_to, crop_size)
    return resize_to, crop_size


def train_dataset(
    split_dir: str,
    batch_size: int = BATCH_SIZE,
    resize_to: Size = NYU_RESIZE,
    crop_size: Size = NYU_CROP,
    augment: bool = True,
    shuffle_buffer: int = DEFAULT_SHUFFLE_BUFFER,
    seed: Optional[int] = None,
    deterministic: bool = False,
    repeat: bool = True,
    num_parallel_calls: int = tf.data.AUTOTUNE,
    drop_remainder: bool = True,
    cycle_length: int = DEFAULT_CYCLE_LENGTH,
    keep_ids: bool = False,
    private_threads: Optional[int] = None,
    scene_filter: Optional[Any] = None,
) -> tf.data.Dataset:
    """Training batches {'image', 'depth', 'mask'} (module docstring), shuffled and augmented.

    Per epoch: shard order is shuffled, ``cycle_length`` shards are interleaved, serialized examples
    pass a ``shuffle_buffer``-sized shuffle (0 disables both shuffles), then examples are parsed,
    preprocessed and augmented in a parallel map, batched and prefetched. ``repeat=True`` loops
    forever with a fresh order each epoch; ``repeat=False`` is one epoch.

    seed: int for reproducible shuffles and augmentation; None draws fresh randomness on every
        iteration. ``deterministic=True`` fixes the element order despite parallelism; with a seed it
        makes every iteration yield identical batches. ``deterministic=False`` may reorder elements
        (faster) - augmentation stays keyed by the position in the stream.
    keep_ids: also yield 'scene' and 'frame' (strings) - for debugging and tests.
    private_threads: size of a private tf.data threadpool (None = the shared one).
    scene_filter: serialized example -> bool tensor; keeps only those examples (a scene hold-out,
        :mod:`depthnet.training.holdout`), applied before the shuffle.
    """
    resize_to, crop_size = _check_train_args(batch_size, shuffle_buffer, resize_to, crop_size)
    paths = _paths(split_dir)
    stream = train_stream.StreamConfig(
        paths=tuple(paths),
        cycle=max(1, min(int(cycle_length), len(paths))),
        shuffle_buffer=int(shuffle_buffer),
        repeat=repeat,
        deterministic=deterministic,
        num_parallel_calls=num_parallel_calls,
        scene_filter=scene_filter,
    )
    options = ExampleOptions(resize_to, crop_size, augment, keep_ids)
    ds = train_stream.example_stream(stream, seed).map(
        lambda s, x: load_train_example(options, s, x),
        num_parallel_calls=num_parallel_calls,
        deterministic=deterministic,
    )
    ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    return ds.with_options(_options(deterministic, private_threads))


def eval_dataset(
    split_dir: str,
    batch_size: int = 1,
    resize_to: Size = NYU_RESIZE,
    crop_size: Size = None,
    num_parallel_calls: int = tf.data.AUTOTUNE,
    private_threads: Optional[int] = None,
    scene_filter: Optional[Any] = None,
) -> tf.data.Dataset:
    """Evaluation batches in manifest order, never augmented (module docstring for the keys).

    'image' is the network input (resized, cropped only with ``crop_size``); 'depth'/'mask' are the
    full-resolution uncropped ground truth; 'depth_input'/'mask_input' match 'image' pixel for pixel.
    With batch_size > 1 all frames of a batch must share one source size (true for NYU).
    """
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    resize_to = _check_size("resize_to", resize_to)
    crop_size = _check_size("crop_size", crop_size)
    _check_crop(resize_to, crop_size)
    paths = _paths(split_dir)

    def load(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        ex = records.parse_example(serialized)
        image, depth_input, mask_input = preprocess(ex["rgb"], ex["depth"], resize_to, crop_size)
        depth = ex["depth"]
        valid = tf.logical_and(tf.math.is_finite(depth), depth > 0)
        return {
            "image": image,
            "depth": tf.where(valid, depth, tf.zeros_like(depth)),
            "mask": tf.cast(valid, tf.float32),
            "depth_input": depth_input,
            "mask_input": mask_input,
            "scene": ex["scene"],
            "frame": ex["frame"],
        }

    ds = tf.data.TFRecordDataset(paths)
    if scene_filter is not None:  # e.g. only the held-out validation scenes (depthnet.training.holdout)
        ds = ds.filter(scene_filter)
    ds = ds.map(load, num_parallel_calls=num_parallel_calls, deterministic=True)
    ds = ds.batch(int(batch_size), drop_remainder=False)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    return ds.with_options(_options(True, private_threads))


# ----------------------------------------------------------------------------------------------
# Writing small splits (tests, benchmarks); data_prep is the real converter.
