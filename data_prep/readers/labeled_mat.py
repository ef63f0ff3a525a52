"""``labeled_mat``: ``nyu_depth_v2_labeled.mat`` (MATLAB v7.3 = HDF5) with the official ``splits.mat``."""

from __future__ import annotations

import os
from typing import Any, Optional

import numpy as np

from data_prep.readers.base import BadInputError, Item, Reader, SourceError, require_input
from depthnet.data.records import Frame

# splits.mat's name for our two splits.
MAT_SPLITS = {"train": "trainNdxs", "test": "testNdxs"}


def _load_mat_variable(path: str, key: str):
    try:
        import scipy.io

        return scipy.io.loadmat(path).get(key)
    except NotImplementedError:  # a v7.3 (HDF5) splits file
        import h5py

        with h5py.File(path, "r") as f:
            return f[key][()] if key in f else None
    except Exception as e:
        raise SourceError(f"cannot read {path} as a MATLAB file ({type(e).__name__}: {e})") from e


def read_splits_mat(path: str, key: str, num_frames: int) -> list[int]:
    """0-based frame indices of `key` ('trainNdxs'/'testNdxs') in the official 1-based splits.mat."""
    if not os.path.exists(path):
        raise SourceError(f"splits file does not exist: {path}")
    values = _load_mat_variable(path, key)
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
        path = require_input(path, "the nyu_depth_v2_labeled.mat file")
        if depth not in ("filled", "raw"):
            raise SourceError(f"depth must be 'filled' or 'raw', got {depth!r}")
        self.path, self.depth_kind = path, depth
        self.depth_key = "depths" if depth == "filled" else "rawDepths"
        self.source_split = MAT_SPLITS[split]
        self._f = self._open(path)
        self.num_total = self._check_layout()
        refs = np.asarray(self._f["scenes"][()]).ravel()
        if refs.size != self.num_total:
            raise SourceError(f"{path}: 'scenes' has {refs.size} entries for {self.num_total} frames")
        self._scenes = [_mat_string(self._f, r) for r in refs]
        self.splits_mat = splits_mat if splits_mat is not None else self._default_splits_mat()
        self._indices = read_splits_mat(self.splits_mat, self.source_split, self.num_total)

    @staticmethod
    def _open(path: str):
        import h5py

        try:
            return h5py.File(path, "r")
        except OSError as e:
            raise SourceError(
                f"{path} is not a readable MATLAB v7.3 (HDF5) file ({e}); nyu_depth_v2_labeled.mat is v7.3 — "
                "re-download it if it is truncated"
            ) from e

    def _check_layout(self) -> int:
        """Checks the arrays' names, dtypes and shapes; returns the frame count."""
        f, path = self._f, self.path
        missing = [k for k in ("images", self.depth_key, "scenes") if k not in f]
        if missing:
            found = sorted(f.keys())[:12]
            self.close()
            raise SourceError(f"{path} has no {missing} (found {found}); is it nyu_depth_v2_labeled.mat?")
        images, depths = f["images"], f[self.depth_key]
        if images.ndim != 4 or images.shape[1] != 3 or images.dtype != np.uint8:
            raise SourceError(
                f"{path}: 'images' must be uint8 (N, 3, W, H) as h5py sees MATLAB's HxWx3xN, "
                f"got {images.dtype} {images.shape}"
            )
        expected = (images.shape[0],) + images.shape[2:]
        if depths.ndim != 3 or depths.shape != expected:
            raise SourceError(f"{path}: {self.depth_key!r} is {depths.shape}, expected {expected} to match 'images'")
        return images.shape[0]

    def _default_splits_mat(self) -> str:
        guess = os.path.join(os.path.dirname(os.path.abspath(self.path)), "splits.mat")
        if not os.path.exists(guess):
            raise SourceError(
                "--splits_mat is required for --source=labeled_mat: the official NYU splits.mat "
                "(trainNdxs 795x1 / testNdxs 654x1) that defines the train/test frames"
            )
        return guess

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

    def source_files(self) -> tuple[str, ...]:
        return (self.path, self.splits_mat)

    def describe(self) -> dict[str, Any]:
        kind = "colorization-filled" if self.depth_kind == "filled" else "raw projected, 0 = missing"
        return {
            "depth_source": f"labeled .mat '{self.depth_key}' ({kind}, metres)",
            "splits_mat": os.path.abspath(self.splits_mat),
            "frame_names": "1-based index into the 1449 labeled frames",
        }

    def close(self) -> None:
        if getattr(self, "_f", None) is not None:
            self._f.close()
            self._f = None
