"""Readers for every source ``depthnet-prepare`` converts, each yielding :class:`depthnet.data.frame.Frame`.

Every reader turns its format into the same frame: ``rgb`` uint8 HxWx3, ``depth`` float32 HxW in
metres with 0 = invalid, plus ``scene`` and ``frame`` names. A reader works in two steps so that
sampling and resuming never decode a frame they do not need:

1. :meth:`Reader.items` lists the frames (cheap: names and paths, in scene/frame order);
2. :meth:`Reader.iter_load` decodes a chosen subset, yielding ``(item, Frame)`` or
   ``(item, BadInputError)`` for a file that cannot be used, so ``skip_bad`` can skip it.

Sources (``source``), one module each:

``tfds`` (:mod:`.tfds`)
    TFDS ``nyu_depth_v2`` (train 47,584 / validation 654; ``image`` uint8 480x640x3, ``depth``
    float16 480x640 metres), read with ``tfds.load(..., download=False)``. TFDS keeps neither scene
    nor frame names and stores its examples in hashed-key order, so per-scene sampling needs the
    ``fastdepth`` source on the tree TFDS extracted (``<data_dir>/downloads/extracted/...``).
``fastdepth`` (:mod:`.fastdepth`)
    The extracted FastDepth/sparse-to-dense tree TFDS downloads: ``<root>/train/<scene>/<n>.h5`` and
    ``<root>/val/official/<n>.h5``, each with ``rgb`` (3x480x640 uint8, channel-first) and ``depth``
    (480x640 float32 metres). ``<root>`` may also be the folder holding ``nyudepthv2/``.
``labeled_mat`` (:mod:`.labeled_mat`)
    ``nyu_depth_v2_labeled.mat`` (MATLAB v7.3 = HDF5, column-major: h5py sees ``images`` as
    (N, 3, W, H) uint8, ``depths``/``rawDepths`` as (N, W, H) float32 metres, ``scenes`` as a cell
    array of references to uint16 char arrays) with the official ``splits.mat`` (MATLAB v5,
    ``trainNdxs`` 795x1 / ``testNdxs`` 654x1, 1-based).
``pairs`` (:mod:`.pairs`)
    RGB images (PNG/JPEG/PPM) and 16-bit depth images listed by a CSV or found in a folder (see
    :class:`PairsReader`); depth decoded by ``depth_encoding``: ``scaled`` (value / depth_scale),
    ``sunrgbd`` (SUN RGB-D bit rotation, /1000) or ``kinect_raw`` (NYU raw Kinect ``.pgm`` dump,
    **not registered to the RGB**: the raw dump's depth is in the depth camera's frame).
``synthetic`` (:mod:`.synthetic`)
    :func:`depthnet.synthetic.iter_frames` (procedural scenes, for smoke tests without data).

The shared pieces live in :mod:`.base` (errors, :class:`Item`, :class:`Reader`) and :mod:`.images`
(image and depth-file decoders).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Optional

from data_prep.readers.base import (
    DEPTH_ENCODINGS,
    SOURCES,
    BadInputError,
    Item,
    PrepareError,
    Reader,
    SourceError,
    ascending_refs,
    check_frame,
    natural_key,
    require_input,
)
from data_prep.readers.fastdepth import FASTDEPTH_SPLITS, FastDepthReader
from data_prep.readers.images import (
    KINECT_DEN,
    KINECT_INVALID,
    KINECT_NUM,
    kinect_raw_to_metres,
    read_depth,
    read_depth_u16,
    read_nyu_raw_pgm,
    read_rgb,
    sunrgbd_to_metres,
)
from data_prep.readers.labeled_mat import MAT_SPLITS, LabeledMatReader, read_splits_mat
from data_prep.readers.pairs import DEPTH_EXTS, RGB_EXTS, PairsReader
from data_prep.readers.synthetic import SyntheticReader
from data_prep.readers.tfds import TFDS_SPLITS, TfdsReader
from depthnet.data.records import Frame

__all__ = [
    "DEPTH_ENCODINGS",
    "DEPTH_EXTS",
    "FASTDEPTH_SPLITS",
    "KINECT_DEN",
    "KINECT_INVALID",
    "KINECT_NUM",
    "MAT_SPLITS",
    "RGB_EXTS",
    "SOURCES",
    "TFDS_SPLITS",
    "BadInputError",
    "FastDepthReader",
    "Item",
    "LabeledMatReader",
    "PairsReader",
    "PrepareError",
    "Reader",
    "SourceError",
    "SyntheticReader",
    "TfdsReader",
    "ascending_refs",
    "check_frame",
    "iter_frames",
    "kinect_raw_to_metres",
    "make_reader",
    "natural_key",
    "read_depth",
    "read_depth_u16",
    "read_nyu_raw_pgm",
    "read_rgb",
    "read_splits_mat",
    "require_input",
    "sunrgbd_to_metres",
]


def make_reader(
    source: str,
    input: Optional[str] = None,
    split: str = "train",
    *,
    depth_scale: float = 1000.0,
    depth_encoding: str = "scaled",
    depth: str = "filled",
    splits_mat: Optional[str] = None,
    tfds_data_dir: Optional[str] = None,
    num_frames: int = 100,
    seed: int = 0,
    height: int = 480,
    width: int = 640,
    workers: int = 1,
) -> Reader:
    """The reader for `source` (one of :data:`SOURCES`); raises SourceError when it cannot be opened."""
    if split not in ("train", "test"):
        raise SourceError(f"split must be 'train' or 'test', got {split!r}")
    if source == "tfds":
        if input and tfds_data_dir and os.path.abspath(input) != os.path.abspath(tfds_data_dir):
            raise SourceError(f"input={input} and tfds_data_dir={tfds_data_dir} disagree; give one")
        return TfdsReader(tfds_data_dir or input, split)
    if source == "fastdepth":
        return FastDepthReader(input, split)
    if source == "labeled_mat":
        return LabeledMatReader(input, split, splits_mat=splits_mat, depth=depth)
    if source == "pairs":
        return PairsReader(input, depth_scale=depth_scale, depth_encoding=depth_encoding, split=split)
    if source == "synthetic":
        return SyntheticReader(num_frames, seed=seed, height=height, width=width, workers=workers)
    raise SourceError(f"unknown source {source!r}; one of {SOURCES}")


def iter_frames(source: str, input: Optional[str] = None, split: str = "train", **kwargs) -> Iterator[Frame]:
    """Generator of every :class:`Frame` of a source (no sampling); raises on the first bad file."""
    with make_reader(source, input, split, **kwargs) as reader:
        yield from reader.frames()
