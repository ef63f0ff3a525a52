"""Readers for every source ``depthnet-prepare`` converts, each yielding :class:`depthnet.records.Frame`.

Every reader turns its format into the same frame: ``rgb`` uint8 HxWx3, ``depth`` float32 HxW in
metres with 0 = invalid, plus ``scene`` and ``frame`` names. A reader works in two steps so that
sampling and resuming never decode a frame they do not need:

1. :meth:`Reader.items` lists the frames (cheap: names and paths, in scene/frame order);
2. :meth:`Reader.iter_load` decodes a chosen subset, yielding ``(item, Frame)`` or
   ``(item, BadInputError)`` for a file that cannot be used, so ``--skip_bad`` can skip it.

Sources (``--source``):

``tfds``
    TFDS ``nyu_depth_v2`` (train 47,584 / validation 654; ``image`` uint8 480x640x3, ``depth``
    float16 480x640 metres), read with ``tfds.load(..., download=False)``. TFDS keeps neither scene
    nor frame names and stores its examples in hashed-key order, so per-scene sampling needs the
    ``fastdepth`` source on the tree TFDS extracted (``<data_dir>/downloads/extracted/...``).
``fastdepth``
    The extracted FastDepth/sparse-to-dense tree TFDS downloads: ``<root>/train/<scene>/<n>.h5`` and
    ``<root>/val/official/<n>.h5``, each with ``rgb`` (3x480x640 uint8, channel-first) and ``depth``
    (480x640 float32 metres). ``<root>`` may also be the folder holding ``nyudepthv2/``.
``labeled_mat``
    ``nyu_depth_v2_labeled.mat`` (MATLAB v7.3 = HDF5, column-major: h5py sees ``images`` as
    (N, 3, W, H) uint8, ``depths``/``rawDepths`` as (N, W, H) float32 metres, ``scenes`` as a cell
    array of references to uint16 char arrays) with the official ``splits.mat`` (MATLAB v5,
    ``trainNdxs`` 795x1 / ``testNdxs`` 654x1, 1-based).
``pairs``
    RGB images (PNG/JPEG/PPM) and 16-bit depth images listed by a CSV or found in a folder (see
    :class:`PairsReader`); depth decoded by ``depth_encoding``: ``scaled`` (value / depth_scale),
    ``sunrgbd`` (SUN RGB-D bit rotation, /1000) or ``kinect_raw`` (NYU raw Kinect ``.pgm`` dump,
    **not registered to the RGB**: the raw dump's depth is in the depth camera's frame).
``synthetic``
    :func:`depthnet.synthetic.iter_frames` (procedural scenes, for smoke tests without data).
"""
from __future__ import annotations

import csv
import dataclasses
import os
import re
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from depthnet.records import Frame

SOURCES = ("tfds", "fastdepth", "labeled_mat", "pairs", "synthetic")
DEPTH_ENCODINGS = ("scaled", "sunrgbd", "kinect_raw")

# Each source's own name for our two splits.
TFDS_SPLITS = {"train": "train", "test": "validation"}
FASTDEPTH_SPLITS = {"train": "train", "test": os.path.join("val", "official")}
MAT_SPLITS = {"train": "trainNdxs", "test": "testNdxs"}

# NYU raw Kinect disparity -> metres (NYU toolbox depth_rel2depth_abs / Open3D CreateRGBDImageFromNYUFormat).
KINECT_INVALID = 2047
KINECT_NUM = 351.3
KINECT_DEN = 1092.5

RGB_EXTS = (".png", ".jpg", ".jpeg", ".ppm", ".bmp")
DEPTH_EXTS = (".png", ".pgm", ".tif", ".tiff")
_RGB_WORDS = {"rgb", "image", "images", "img", "color", "colour", "colors", "im"}
_DEPTH_WORDS = {"depth", "depths", "sync", "dep", "dpt", "gt"}
_RGB_DIRS = ("rgb", "image", "images", "img", "imgs", "color", "colour", "colors")
_DEPTH_DIRS = ("depth", "depths", "sync_depth", "annotations", "gt", "depth_gt")
_NYU_RAW = re.compile(r"^([rd])-(\d+(?:\.\d+)?)-(\d+)\.(ppm|pgm)$", re.IGNORECASE)


class PrepareError(Exception):
    """Base of every error ``depthnet-prepare`` reports to the user as a clean message."""


class SourceError(PrepareError):
    """The source as a whole is unusable (missing path, wrong layout, no frames, TFDS data absent)."""


class BadInputError(PrepareError):
    """One input file cannot be used (corrupt, wrong dtype, size mismatch); ``--skip_bad`` skips it."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message


@dataclasses.dataclass(frozen=True)
class Item:
    """One listed frame: where it lives (``ref``, reader-specific) and its scene/frame names."""

    scene: str
    frame: str
    ref: Any
    path: str = ""  # the file(s) to name in error messages

    @property
    def key(self) -> str:
        return f"{self.scene}/{self.frame}"


def natural_key(text: str) -> tuple:
    """Sort key that orders 'image_9' before 'image_10'."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text.lower()))


# ----------------------------------------------------------------------------------------------
# Decoders (pure functions, shared by the readers)


def check_frame(frame: Frame, where: str) -> Frame:
    """Validates a decoded frame; returns it with float32 depth, raising BadInputError naming `where`."""
    rgb, depth = np.asarray(frame.rgb), np.asarray(frame.depth)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise BadInputError(where, f"RGB must be uint8 HxWx3, got {rgb.dtype} {rgb.shape}")
    if depth.ndim == 3 and depth.shape[-1] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.floating):
        raise BadInputError(where, f"depth must be float HxW metres, got {depth.dtype} {depth.shape}")
    if depth.shape != rgb.shape[:2]:
        raise BadInputError(
            where, f"RGB is {rgb.shape[0]}x{rgb.shape[1]} but depth is {depth.shape[0]}x{depth.shape[1]} (HxW)"
        )
    return Frame(rgb=rgb, depth=depth.astype(np.float32, copy=False), scene=frame.scene, frame=frame.frame)


def _open_image(path: str):
    from PIL import Image

    if not os.path.exists(path):
        raise BadInputError(path, "file does not exist")
    try:
        img = Image.open(path)
        img.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise BadInputError(path, f"cannot decode image ({type(e).__name__}: {e})") from e
    return img


def read_rgb(path: str) -> np.ndarray:
    """Any PIL-readable colour image -> uint8 HxWx3 (grey/palette/alpha converted, 16-bit refused)."""
    img = _open_image(path)
    if img.mode.startswith("I") or img.mode == "F":
        raise BadInputError(
            path, f"RGB image is a {img.mode} single-channel image (16/32-bit), which looks like depth; "
            "are the RGB and depth columns/folders swapped?"
        )
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8)


def read_depth_u16(path: str) -> np.ndarray:
    """A 16-bit single-channel image (PNG/PGM/TIFF) -> its stored uint16 values, read losslessly."""
    img = _open_image(path)
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(img).astype(np.uint16)
    if mode == "I":  # some 16-bit files open as 32-bit int
        arr = np.asarray(img)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise BadInputError(path, f"depth values {arr.min()}..{arr.max()} do not fit 16 bits")
        return arr.astype(np.uint16)
    bits = {"1": "1-bit", "L": "8-bit", "P": "8-bit palette", "LA": "8-bit", "RGB": "8-bit RGB", "RGBA": "8-bit RGBA"}
    raise BadInputError(
        path,
        f"depth image is {bits.get(mode, mode)} (PIL mode {mode}), but a 16-bit single-channel image is expected "
        "(stored value = metres x depth_scale). 8-bit depth (e.g. DenseDepth's nyu2_train PNGs) has lost "
        "its precision and is not supported; use the 16-bit test PNGs, the .h5 files or the labeled .mat.",
    )


def read_nyu_raw_pgm(path: str) -> np.ndarray:
    """A raw NYU Kinect depth dump (``d-*.pgm``) -> uint16 raw disparity values.

    Its header says ``P5 640 480 65535`` (big-endian by the PGM spec) but the payload is little-endian,
    which is why the NYU toolbox calls ``swapbytes(imread(...))``; so it is read here as ``<u2``.
    """
    if not os.path.exists(path):
        raise BadInputError(path, "file does not exist")
    with open(path, "rb") as f:
        data = f.read()
    tokens, pos = [], 0
    while len(tokens) < 4:
        while pos < len(data) and data[pos : pos + 1].isspace():
            pos += 1
        if pos < len(data) and data[pos : pos + 1] == b"#":
            pos = data.find(b"\n", pos) + 1 or len(data)
            continue
        start = pos
        while pos < len(data) and not data[pos : pos + 1].isspace():
            pos += 1
        if start == pos:
            break
        tokens.append(data[start:pos])
    if len(tokens) < 4 or tokens[0] != b"P5":
        raise BadInputError(path, "not a binary PGM (expected a 'P5 <width> <height> <maxval>' header)")
    try:
        width, height, maxval = (int(t) for t in tokens[1:])
    except ValueError as e:
        raise BadInputError(path, f"bad PGM header {b' '.join(tokens)!r}") from e
    if maxval < 256:
        raise BadInputError(path, f"PGM is 8-bit (maxval {maxval}); a raw Kinect dump is 16-bit")
    pos += 1  # the single whitespace after maxval
    need = width * height * 2
    payload = data[pos : pos + need]
    if len(payload) != need:
        raise BadInputError(path, f"truncated PGM: {len(payload)} of {need} data bytes")
    raw = np.frombuffer(payload, dtype="<u2").reshape(height, width).astype(np.uint16)
    if raw.max() > KINECT_INVALID:
        raise BadInputError(
            path, f"values up to {raw.max()} > {KINECT_INVALID}: not a raw NYU Kinect disparity dump "
            "(use --depth_encoding=scaled for depth in fixed units)"
        )
    return raw


def kinect_raw_to_metres(raw: np.ndarray) -> np.ndarray:
    """NYU raw Kinect disparity -> metres: 351.3 / (1092.5 - raw); 2047 (and raw >= 1092.5) -> 0 (invalid)."""
    raw = np.asarray(raw, dtype=np.float64)
    valid = (raw < KINECT_INVALID) & (raw < KINECT_DEN)
    depth = np.where(valid, KINECT_NUM / np.where(valid, KINECT_DEN - raw, 1.0), 0.0)
    return depth.astype(np.float32)


def sunrgbd_to_metres(stored: np.ndarray) -> np.ndarray:
    """SUN RGB-D depth PNG values -> metres: rotate the 16 bits right by 3, then / 1000 (0 = invalid)."""
    v = np.asarray(stored).astype(np.uint32)
    d = ((v >> 3) | (v << 13)) & 0xFFFF
    return (d.astype(np.float64) / 1000.0).astype(np.float32)


def read_depth(path: str, encoding: str = "scaled", depth_scale: float = 1000.0) -> np.ndarray:
    """A depth file -> float32 metres (0 = invalid), decoded as `encoding` (see module doc)."""
    if encoding == "kinect_raw":
        return kinect_raw_to_metres(read_nyu_raw_pgm(path))
    stored = read_depth_u16(path)
    if encoding == "sunrgbd":
        return sunrgbd_to_metres(stored)
    if encoding != "scaled":
        raise ValueError(f"unknown depth encoding {encoding!r}; one of {DEPTH_ENCODINGS}")
    return (stored.astype(np.float64) / float(depth_scale)).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Reader base


class Reader:
    """A source of frames: :meth:`items` lists them, :meth:`iter_load` decodes a chosen subset."""

    name = "?"
    #: False for sources read as one stream (TFDS, synthetic): frames are kept in the source's order.
    random_access = True
    #: False when the source has no scene names (per-scene sampling is refused).
    has_scenes = True
    #: The source's own name of the split being read.
    source_split = ""

    def items(self) -> list[Item]:
        raise NotImplementedError

    def load(self, item: Item) -> Frame:
        raise NotImplementedError

    def iter_load(self, items: Sequence[Item]) -> Iterator[tuple[Item, Any]]:
        """Yields ``(item, Frame)`` or ``(item, BadInputError)`` for every item, in order."""
        for item in items:
            try:
                frame = self.load(item)
                yield item, check_frame(frame, item.path or item.key)
            except BadInputError as e:
                yield item, e

    def describe(self) -> dict[str, Any]:
        """Source-specific facts for the manifest (depth meaning, caveats)."""
        return {}

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def frames(self, items: Optional[Sequence[Item]] = None) -> Iterator[Frame]:
        """Generator of :class:`Frame` (all items by default); raises on the first bad file."""
        for _, result in self.iter_load(self.items() if items is None else items):
            if isinstance(result, Exception):
                raise result
            yield result


def _ascending_refs(items: Sequence[Item]) -> list[int]:
    refs = [int(i.ref) for i in items]
    if any(b <= a for a, b in zip(refs, refs[1:])):
        raise ValueError("a streaming source must be read in increasing index order")
    return refs


def _require(path: Optional[str], what: str) -> str:
    if not path:
        raise SourceError(f"--input is required: {what}")
    if not os.path.exists(path):
        raise SourceError(f"input path does not exist: {path}")
    return path


# ----------------------------------------------------------------------------------------------
# tfds


class TfdsReader(Reader):
    """TFDS ``nyu_depth_v2`` from a prepared ``data_dir`` (never downloads)."""

    name = "tfds"
    random_access = False
    has_scenes = False
    DATASET = "nyu_depth_v2"

    def __init__(self, data_dir: Optional[str], split: str):
        import tensorflow_datasets as tfds

        self.data_dir = os.path.expanduser(data_dir or os.path.join("~", "tensorflow_datasets"))
        self.source_split = TFDS_SPLITS[split]
        hint = (
            f"TFDS '{self.DATASET}' is not prepared in {self.data_dir!r}. On a machine with internet run "
            f"`tfds build {self.DATASET} --data_dir={self.data_dir}` (downloads ~32 GB) and copy that folder here; "
            "or convert the extracted FastDepth tree with --source=fastdepth."
        )
        if not os.path.isdir(os.path.join(self.data_dir, self.DATASET)):
            raise SourceError(hint)
        try:
            self._builder = tfds.builder(self.DATASET, data_dir=self.data_dir)
            prepared = self._builder.is_prepared()
        except Exception as e:  # noqa: BLE001 - tfds raises assorted types for a broken dir
            raise SourceError(f"{hint} ({type(e).__name__}: {e})") from e
        if not prepared:
            raise SourceError(hint)
        self._tfds = tfds
        self.num_examples = int(self._builder.info.splits[self.source_split].num_examples)

    def items(self) -> list[Item]:
        return [Item("", f"{self.source_split}[{i}]", i, self.data_dir) for i in range(self.num_examples)]

    def iter_load(self, items: Sequence[Item]) -> Iterator[tuple[Item, Any]]:
        refs = _ascending_refs(items)
        if not refs:
            return
        ds = self._builder.as_dataset(split=f"{self.source_split}[{refs[0]}:{refs[-1] + 1}]", shuffle_files=False)
        todo = list(items)
        try:
            for offset, ex in enumerate(self._tfds.as_numpy(ds)):
                if not todo:
                    break
                if refs[0] + offset != todo[0].ref:
                    continue
                item = todo.pop(0)
                frame = Frame(np.asarray(ex["image"], np.uint8), np.asarray(ex["depth"], np.float32), "", item.frame)
                try:
                    yield item, check_frame(frame, f"{self.data_dir} {item.frame}")
                except BadInputError as e:
                    yield item, e
        except Exception as e:  # noqa: BLE001
            if type(e).__module__.startswith("tensorflow"):
                raise SourceError(
                    f"TFDS data in {self.data_dir} could not be read ({type(e).__name__}: {e}); rebuild it with "
                    f"`tfds build {self.DATASET} --data_dir={self.data_dir}`."
                ) from e
            raise
        if todo:
            raise SourceError(f"TFDS split {self.source_split} ended before frame {todo[0].frame}")

    def describe(self) -> dict[str, Any]:
        return {
            "depth_source": "TFDS nyu_depth_v2 'depth' (float16 metres, from the FastDepth .h5 files)",
            "tfds_data_dir": self.data_dir,
            "note": "TFDS keeps no scene/frame names; frames are named '<split>[<index>]' in TFDS order.",
        }


# ----------------------------------------------------------------------------------------------
# fastdepth


def _read_h5_frame(path: str) -> tuple[np.ndarray, np.ndarray]:
    import h5py

    if not os.path.exists(path):
        raise BadInputError(path, "file does not exist")
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in ("rgb", "depth") if k not in f]
            if missing:
                raise BadInputError(path, f"no {missing} dataset; found {sorted(f.keys())} (expected 'rgb' and 'depth')")
            rgb, depth = f["rgb"][()], f["depth"][()]
    except BadInputError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise BadInputError(path, f"cannot read HDF5 file ({type(e).__name__}: {e})") from e
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[0] != 3:
        raise BadInputError(path, f"'rgb' must be uint8 3xHxW (channel-first), got {rgb.dtype} {rgb.shape}")
    if depth.ndim != 2 or not np.issubdtype(depth.dtype, np.floating):
        raise BadInputError(path, f"'depth' must be float HxW metres, got {depth.dtype} {depth.shape}")
    return np.ascontiguousarray(rgb.transpose(1, 2, 0)), depth.astype(np.float32)


class FastDepthReader(Reader):
    """The FastDepth ``nyudepthv2`` tree: ``train/<scene>/<n>.h5``, ``val/official/<n>.h5``."""

    name = "fastdepth"

    def __init__(self, root: Optional[str], split: str):
        root = _require(root, "the FastDepth root holding train/ and val/ (or nyudepthv2/)")
        if not (os.path.isdir(os.path.join(root, "train")) or os.path.isdir(os.path.join(root, "val"))):
            if os.path.isdir(os.path.join(root, "nyudepthv2")):
                root = os.path.join(root, "nyudepthv2")
        self.root = root
        self.source_split = FASTDEPTH_SPLITS[split]
        self.split_dir = os.path.join(root, self.source_split)
        if not os.path.isdir(self.split_dir):
            raise SourceError(
                f"{self.split_dir} does not exist; --source=fastdepth expects <root>/train/<scene>/<n>.h5 and "
                f"<root>/val/official/<n>.h5 (the FastDepth nyudepthv2.tar.gz layout); {root} holds "
                f"{sorted(os.listdir(root))[:10]}"
            )

    def items(self) -> list[Item]:
        out = []
        if self.source_split != "train":  # val/official: the folder itself is the scene
            scene_dirs = [(os.path.basename(self.split_dir), self.split_dir)]
        else:
            scene_dirs = [
                (d, os.path.join(self.split_dir, d))
                for d in sorted(os.listdir(self.split_dir), key=natural_key)
                if os.path.isdir(os.path.join(self.split_dir, d))
            ]
        for scene, d in scene_dirs:
            for name in sorted(os.listdir(d), key=natural_key):
                if name.lower().endswith(".h5"):
                    out.append(Item(scene, os.path.splitext(name)[0], os.path.join(d, name), os.path.join(d, name)))
        return out

    def load(self, item: Item) -> Frame:
        rgb, depth = _read_h5_frame(item.ref)
        return Frame(rgb, depth, item.scene, item.frame)

    def describe(self) -> dict[str, Any]:
        return {"depth_source": "FastDepth .h5 'depth' (float32 metres; filled/projected by sparse-to-dense)"}


# ----------------------------------------------------------------------------------------------
# labeled_mat


def read_splits_mat(path: str, key: str, num_frames: int) -> list[int]:
    """0-based frame indices of `key` ('trainNdxs'/'testNdxs') in the official 1-based splits.mat."""
    if not os.path.exists(path):
        raise SourceError(f"splits file does not exist: {path}")
    try:
        import scipy.io

        values = scipy.io.loadmat(path).get(key)
    except NotImplementedError:  # a v7.3 (HDF5) splits file
        import h5py

        with h5py.File(path, "r") as f:
            values = f[key][()] if key in f else None
    except Exception as e:  # noqa: BLE001 - scipy raises ValueError/TypeError/etc. on garbage
        raise SourceError(f"cannot read {path} as a MATLAB file ({type(e).__name__}: {e})") from e
    if values is None:
        raise SourceError(f"{path} has no variable {key!r} (the official splits.mat has trainNdxs and testNdxs)")
    flat = np.asarray(values, dtype=np.float64).ravel()
    if flat.size == 0 or not np.all(flat == np.round(flat)):
        raise SourceError(f"{path}:{key} must hold integer frame numbers")
    idx = flat.astype(np.int64)
    if idx.min() < 1 or idx.max() > num_frames:
        raise SourceError(f"{path}:{key} holds indices {idx.min()}..{idx.max()}, outside 1..{num_frames} (1-based)")
    if len(np.unique(idx)) != len(idx):
        raise SourceError(f"{path}:{key} repeats frame indices")
    return sorted(int(i) - 1 for i in idx)


def _mat_string(f, ref) -> str:
    arr = np.asarray(f[ref][()]).ravel()
    return "".join(chr(int(c)) for c in arr if int(c) != 0)


class LabeledMatReader(Reader):
    """``nyu_depth_v2_labeled.mat`` (v7.3/HDF5) + ``splits.mat``; ``depth='filled'|'raw'``."""

    name = "labeled_mat"

    def __init__(self, path: Optional[str], split: str, splits_mat: Optional[str] = None, depth: str = "filled"):
        import h5py

        path = _require(path, "the nyu_depth_v2_labeled.mat file")
        if depth not in ("filled", "raw"):
            raise SourceError(f"--depth must be 'filled' or 'raw', got {depth!r}")
        self.path, self.depth_kind = path, depth
        self.depth_key = "depths" if depth == "filled" else "rawDepths"
        self.source_split = MAT_SPLITS[split]
        try:
            self._f = h5py.File(path, "r")
        except OSError as e:
            raise SourceError(
                f"{path} is not a readable MATLAB v7.3 (HDF5) file ({e}); nyu_depth_v2_labeled.mat is v7.3 — "
                "re-download it if it is truncated"
            ) from e
        f = self._f
        missing = [k for k in ("images", self.depth_key, "scenes") if k not in f]
        if missing:
            self.close()
            raise SourceError(f"{path} has no {missing} (found {sorted(f.keys())[:12]}); is it nyu_depth_v2_labeled.mat?")
        images, depths = f["images"], f[self.depth_key]
        if images.ndim != 4 or images.shape[1] != 3 or images.dtype != np.uint8:
            raise SourceError(f"{path}: 'images' must be uint8 (N, 3, W, H) as h5py sees MATLAB's HxWx3xN, got {images.dtype} {images.shape}")
        if depths.ndim != 3 or depths.shape != (images.shape[0],) + images.shape[2:]:
            raise SourceError(f"{path}: {self.depth_key!r} is {depths.shape}, expected {(images.shape[0],) + images.shape[2:]} to match 'images'")
        self.num_total = images.shape[0]
        refs = np.asarray(f["scenes"][()]).ravel()
        if refs.size != self.num_total:
            raise SourceError(f"{path}: 'scenes' has {refs.size} entries for {self.num_total} frames")
        self._scenes = [_mat_string(f, r) for r in refs]
        if splits_mat is None:
            guess = os.path.join(os.path.dirname(os.path.abspath(path)), "splits.mat")
            if not os.path.exists(guess):
                raise SourceError(
                    "--splits_mat is required for --source=labeled_mat: the official NYU splits.mat "
                    "(trainNdxs 795x1 / testNdxs 654x1) that defines the train/test frames"
                )
            splits_mat = guess
        self.splits_mat = splits_mat
        self._indices = read_splits_mat(splits_mat, self.source_split, self.num_total)

    def items(self) -> list[Item]:
        return [Item(self._scenes[i], f"{i + 1:04d}", i, f"{self.path}[frame {i + 1}]") for i in self._indices]

    def load(self, item: Item) -> Frame:
        i = item.ref
        try:
            rgb = np.ascontiguousarray(self._f["images"][i].transpose(2, 1, 0))  # (3, W, H) -> (H, W, 3)
            depth = np.ascontiguousarray(self._f[self.depth_key][i].T).astype(np.float32)  # (W, H) -> (H, W)
        except (OSError, ValueError, RuntimeError) as e:
            raise BadInputError(item.path, f"cannot read frame ({type(e).__name__}: {e})") from e
        return Frame(rgb, depth, item.scene, item.frame)

    def describe(self) -> dict[str, Any]:
        return {
            "depth_source": f"labeled .mat '{self.depth_key}' ({'colorization-filled' if self.depth_kind == 'filled' else 'raw projected, 0 = missing'}, metres)",
            "splits_mat": os.path.abspath(self.splits_mat),
            "frame_names": "1-based index into the 1449 labeled frames",
        }

    def close(self) -> None:
        if getattr(self, "_f", None) is not None:
            self._f.close()
            self._f = None


# ----------------------------------------------------------------------------------------------
# pairs


def _tokens(stem: str) -> list[str]:
    return [t for t in re.split(r"[_\-\s.]+", stem.lower()) if t]


def _pair_key(stem: str, drop: set[str]) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in _tokens(stem) if t not in drop)


def _role(path: str) -> Optional[str]:
    """'rgb' / 'depth' for a file beside its partner, from its name (or, for an unnamed PNG, its pixel mode)."""
    stem, ext = os.path.splitext(os.path.basename(path))
    ext = ext.lower()
    if ext not in RGB_EXTS + DEPTH_EXTS:
        return None
    toks = set(_tokens(stem))
    if toks & _DEPTH_WORDS and ext in DEPTH_EXTS:
        return "depth"
    if toks & _RGB_WORDS and ext in RGB_EXTS:
        return "rgb"
    if ext in (".jpg", ".jpeg", ".ppm", ".bmp"):
        return "rgb"
    if ext in (".pgm", ".tif", ".tiff"):
        return "depth"
    try:
        from PIL import Image

        with Image.open(path) as img:
            return "depth" if img.mode.startswith("I") else "rgb"
    except Exception:  # noqa: BLE001 - an unreadable file is reported when it is loaded
        return "rgb"


class PairsReader(Reader):
    """RGB + 16-bit depth image pairs from a CSV or a folder.

    - CSV: header ``image_path,depth_path`` (any names; the column naming 'depth' is the depth) or two
      unnamed columns ``rgb,depth``; relative paths are resolved against the CSV's folder (or, as in
      DenseDepth's ``data/nyu2_test.csv``, against its parent when that is where they exist).
    - Folder (searched recursively): an ``rgb/`` (or ``image(s)/``, ``color/``) folder next to a
      ``depth/`` (or ``sync_depth/``, ``annotations/``, ``gt/``) folder, or files side by side. Files
      pair by their name without the role words, e.g. ``rgb_00050.jpg`` <-> ``sync_depth_00050.png``,
      ``image_3.png`` <-> ``depth_3.png``, ``rgb.png`` <-> ``depth.png``; NYU raw dumps
      ``r-<time>-<n>.ppm`` / ``d-<time>-<n>.pgm`` pair each depth with the nearest-in-time RGB.
      The scene is the sub-folder (the input folder's name at the top level).
    """

    name = "pairs"

    def __init__(self, path: Optional[str], depth_scale: float = 1000.0, depth_encoding: str = "scaled", split: str = ""):
        self.path = _require(path, "a CSV of image/depth paths or a folder of pairs")
        if depth_encoding not in DEPTH_ENCODINGS:
            raise SourceError(f"--depth_encoding must be one of {DEPTH_ENCODINGS}, got {depth_encoding!r}")
        if not depth_scale or depth_scale <= 0:
            raise SourceError(f"--depth_scale must be > 0, got {depth_scale}")
        self.depth_scale, self.depth_encoding = float(depth_scale), depth_encoding
        self.source_split = "(all pairs)"
        self.unpaired: list[str] = []

    # -- listing
    def items(self) -> list[Item]:
        if os.path.isfile(self.path):
            if not self.path.lower().endswith((".csv", ".txt")):
                raise SourceError(f"{self.path}: --source=pairs takes a folder or a .csv of image,depth paths")
            return self._csv_items()
        return self._folder_items()

    def _csv_items(self) -> list[Item]:
        with open(self.path, newline="", encoding="utf-8-sig") as f:
            rows = [(n + 1, r) for n, r in enumerate(csv.reader(f)) if r and any(c.strip() for c in r)]
        if not rows:
            raise SourceError(f"{self.path} is empty")
        rgb_col, depth_col = 0, 1
        first = [c.strip() for c in rows[0][1]]
        if not any(c.lower().endswith(RGB_EXTS + DEPTH_EXTS) for c in first):  # a header row
            names = [c.lower() for c in first]
            depth_cols = [i for i, c in enumerate(names) if "depth" in c or c in ("gt", "label")]
            rgb_cols = [i for i, c in enumerate(names) if i not in depth_cols and any(w in c for w in ("image", "rgb", "img", "color"))]
            if depth_cols:
                depth_col = depth_cols[0]
                rgb_col = rgb_cols[0] if rgb_cols else next(i for i in range(len(names)) if i != depth_col)
            rows = rows[1:]
        if not rows:
            raise SourceError(f"{self.path} lists no pairs")
        csv_dir = os.path.dirname(os.path.abspath(self.path))
        base = csv_dir
        first_rgb = rows[0][1][rgb_col].strip() if len(rows[0][1]) > rgb_col else ""
        if first_rgb and not os.path.isabs(first_rgb) and not os.path.exists(os.path.join(csv_dir, first_rgb)):
            for parent in (os.path.dirname(csv_dir), os.path.dirname(os.path.dirname(csv_dir))):
                if os.path.exists(os.path.join(parent, first_rgb)):
                    base = parent
                    break
        default_scene = os.path.splitext(os.path.basename(self.path))[0]
        out = []
        for line, row in rows:
            where = f"{self.path}:{line}"
            if len(row) <= max(rgb_col, depth_col):
                out.append(Item(default_scene, f"line{line}", ("bad", f"row has {len(row)} columns, expected 2"), where))
                continue
            rel_rgb, rel_depth = row[rgb_col].strip(), row[depth_col].strip()
            rgb, depth = os.path.join(base, rel_rgb), os.path.join(base, rel_depth)
            scene = os.path.dirname(rel_rgb).replace(os.sep, "/") or default_scene
            out.append(Item(scene, rel_rgb.replace(os.sep, "/"), (rgb, depth), f"{rgb} + {depth}"))
        return out

    def _folder_items(self) -> list[Item]:
        root = os.path.abspath(self.path)
        top = os.path.basename(root.rstrip(os.sep)) or "pairs"
        out: list[Item] = []

        def scene_of(*parts: str) -> str:
            rel = "/".join(p for p in parts if p and p != ".")
            return rel or top

        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort(key=natural_key)
            rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
            lower = {d.lower(): d for d in dirnames}
            rgb_dir = next((lower[d] for d in _RGB_DIRS if d in lower), None)
            depth_dir = next((lower[d] for d in _DEPTH_DIRS if d in lower), None)
            if rgb_dir and depth_dir:
                groups: dict[str, dict[str, list[str]]] = {}
                for role, sub in (("rgb", rgb_dir), ("depth", depth_dir)):
                    exts = RGB_EXTS if role == "rgb" else DEPTH_EXTS
                    for d2, _, files in os.walk(os.path.join(dirpath, sub)):
                        subrel = os.path.relpath(d2, os.path.join(dirpath, sub)).replace(os.sep, "/")
                        for name in files:
                            if name.lower().endswith(exts):
                                groups.setdefault(subrel, {"rgb": [], "depth": []})[role].append(os.path.join(d2, name))
                for subrel in sorted(groups, key=natural_key):
                    out += self._pair_files(groups[subrel]["rgb"], groups[subrel]["depth"], scene_of(rel, subrel))
                dirnames[:] = [d for d in dirnames if d not in (rgb_dir, depth_dir)]
            files = [os.path.join(dirpath, n) for n in filenames]
            roles = {p: _role(p) for p in files}
            rgbs = [p for p in files if roles[p] == "rgb"]
            depths = [p for p in files if roles[p] == "depth"]
            if rgbs or depths:
                out += self._pair_files(rgbs, depths, scene_of(rel))
        return out

    def _pair_files(self, rgbs: list[str], depths: list[str], scene: str) -> list[Item]:
        raw_r = [p for p in rgbs if _NYU_RAW.match(os.path.basename(p))]
        raw_d = [p for p in depths if _NYU_RAW.match(os.path.basename(p))]
        items = self._pair_nyu_raw(raw_r, raw_d, scene) if raw_d else []
        rgbs = [p for p in rgbs if p not in raw_r] if raw_d else rgbs
        depths = [p for p in depths if p not in raw_d]
        by_key: dict[tuple, list[str]] = {}
        for p in depths:
            by_key.setdefault(_pair_key(os.path.splitext(os.path.basename(p))[0], _DEPTH_WORDS), []).append(p)
        used = set()
        root = os.path.abspath(self.path)
        for p in sorted(rgbs, key=lambda q: natural_key(os.path.basename(q))):
            key = _pair_key(os.path.splitext(os.path.basename(p))[0], _RGB_WORDS)
            cands = by_key.get(key, [])
            if len(cands) > 1:
                raise SourceError(f"{p} matches several depth files {sorted(cands)}; keep one per frame")
            if not cands:
                self.unpaired.append(p)
                continue
            used.add(cands[0])
            items.append(Item(scene, os.path.relpath(p, root).replace(os.sep, "/"), (p, cands[0]), f"{p} + {cands[0]}"))
        self.unpaired += [p for p in depths if p not in used]
        return items

    def _pair_nyu_raw(self, rgbs: list[str], depths: list[str], scene: str) -> list[Item]:
        """NYU raw dump: each depth frame with the RGB frame nearest in time (the toolbox's get_synched_frames)."""
        def stamp(p):
            return float(_NYU_RAW.match(os.path.basename(p)).group(2))

        rgbs = sorted(rgbs, key=stamp)
        times = np.array([stamp(p) for p in rgbs])
        root = os.path.abspath(self.path)
        items = []
        for d in sorted(depths, key=stamp):
            if not len(times):
                self.unpaired.append(d)
                continue
            r = rgbs[int(np.argmin(np.abs(times - stamp(d))))]
            items.append(Item(scene, os.path.relpath(d, root).replace(os.sep, "/"), (r, d), f"{r} + {d}"))
        return items

    # -- loading
    def load(self, item: Item) -> Frame:
        if item.ref[0] == "bad":
            raise BadInputError(item.path, item.ref[1])
        rgb_path, depth_path = item.ref
        rgb = read_rgb(rgb_path)
        depth = read_depth(depth_path, self.depth_encoding, self.depth_scale)
        if depth.shape != rgb.shape[:2]:
            raise BadInputError(
                depth_path,
                f"depth is {depth.shape[0]}x{depth.shape[1]} but its RGB {rgb_path} is {rgb.shape[0]}x{rgb.shape[1]} (HxW)",
            )
        return Frame(rgb, depth, item.scene, item.frame)

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"depth_encoding": self.depth_encoding}
        if self.depth_encoding == "scaled":
            info["input_depth_scale"] = self.depth_scale
            info["depth_source"] = f"16-bit depth images, metres = value / {self.depth_scale:g}"
        elif self.depth_encoding == "sunrgbd":
            info["depth_source"] = "SUN RGB-D depth PNG: metres = ((v >> 3) | (v << 13)) & 0xFFFF / 1000"
        else:
            info["depth_source"] = "NYU raw Kinect disparity .pgm (little-endian): metres = 351.3 / (1092.5 - raw), 2047 = invalid"
            info["warning"] = (
                "raw Kinect depth is NOT registered to the RGB (it is in the depth camera's frame and not "
                "undistorted/projected); use it to test decoding, not as per-pixel ground truth"
            )
        if self.unpaired:
            info["unpaired_files"] = len(self.unpaired)
            info["unpaired_examples"] = self.unpaired[:5]
        return info


# ----------------------------------------------------------------------------------------------
# synthetic


class SyntheticReader(Reader):
    """Procedural frames from :func:`depthnet.synthetic.iter_frames` (deterministic for a seed)."""

    name = "synthetic"
    random_access = False
    has_scenes = False

    def __init__(self, num_frames: int, seed: int = 0, height: int = 480, width: int = 640):
        try:
            from depthnet import synthetic
        except ImportError as e:
            raise SourceError(f"--source=synthetic needs depthnet.synthetic, which cannot be imported ({e})") from e
        if num_frames < 1:
            raise SourceError(f"--num_frames must be >= 1 for --source=synthetic, got {num_frames}")
        self._iter_frames: Callable[..., Iterator[Frame]] = synthetic.iter_frames
        self.num_frames, self.seed, self.height, self.width = int(num_frames), int(seed), int(height), int(width)
        self.source_split = f"seed {seed}"

    def items(self) -> list[Item]:
        return [Item("", f"{i:06d}", i, f"synthetic frame {i}") for i in range(self.num_frames)]

    def iter_load(self, items: Sequence[Item]) -> Iterator[tuple[Item, Any]]:
        refs = _ascending_refs(items)
        if not refs:
            return
        todo = list(items)
        for index, frame in enumerate(self._iter_frames(refs[-1] + 1, seed=self.seed, height=self.height, width=self.width)):
            if not todo:
                break
            if index != todo[0].ref:
                continue
            item = todo.pop(0)
            fr = Frame(frame.rgb, frame.depth, frame.scene, frame.frame or item.frame)
            try:
                yield item, check_frame(fr, item.path)
            except BadInputError as e:
                yield item, e
        if todo:
            raise SourceError(f"depthnet.synthetic.iter_frames stopped before frame {todo[0].ref}")

    def describe(self) -> dict[str, Any]:
        return {"depth_source": "procedural (depthnet.synthetic)", "seed": self.seed}


# ----------------------------------------------------------------------------------------------


def make_reader(
    source: str,
    input: Optional[str] = None,  # noqa: A002 - mirrors the --input flag
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
) -> Reader:
    """The reader for `source` (one of :data:`SOURCES`); raises SourceError when it cannot be opened."""
    if split not in ("train", "test"):
        raise SourceError(f"--split must be 'train' or 'test', got {split!r}")
    if source == "tfds":
        if input and tfds_data_dir and os.path.abspath(input) != os.path.abspath(tfds_data_dir):
            raise SourceError(f"--input={input} and --tfds_data_dir={tfds_data_dir} disagree; give one")
        return TfdsReader(tfds_data_dir or input, split)
    if source == "fastdepth":
        return FastDepthReader(input, split)
    if source == "labeled_mat":
        return LabeledMatReader(input, split, splits_mat=splits_mat, depth=depth)
    if source == "pairs":
        return PairsReader(input, depth_scale=depth_scale, depth_encoding=depth_encoding, split=split)
    if source == "synthetic":
        return SyntheticReader(num_frames, seed=seed, height=height, width=width)
    raise SourceError(f"unknown --source {source!r}; one of {SOURCES}")


def iter_frames(source: str, input: Optional[str] = None, split: str = "train", **kwargs) -> Iterator[Frame]:  # noqa: A002
    """Generator of every :class:`Frame` of a source (no sampling); raises on the first bad file."""
    with make_reader(source, input, split, **kwargs) as reader:
        yield from reader.frames()
