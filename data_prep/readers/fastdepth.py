"""``fastdepth``: the extracted FastDepth ``nyudepthv2`` tree of ``.h5`` frames."""

from __future__ import annotations

import os
from typing import Any, Optional

import numpy as np

from data_prep.readers.base import BadInputError, Item, Reader, SourceError, natural_key, require_input
from depthnet.data.records import Frame

# The tree's own name for our two splits.
FASTDEPTH_SPLITS = {"train": "train", "test": os.path.join("val", "official")}


def _read_h5_frame(path: str) -> tuple[np.ndarray, np.ndarray]:
    import h5py

    if not os.path.exists(path):
        raise BadInputError(path, "file does not exist")
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in ("rgb", "depth") if k not in f]
            if missing:
                found = sorted(f.keys())
                raise BadInputError(path, f"no {missing} dataset; found {found} (expected 'rgb' and 'depth')")
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
        root = require_input(root, "the FastDepth root holding train/ and val/ (or nyudepthv2/)")
        has_splits = os.path.isdir(os.path.join(root, "train")) or os.path.isdir(os.path.join(root, "val"))
        if not has_splits and os.path.isdir(os.path.join(root, "nyudepthv2")):
            root = os.path.join(root, "nyudepthv2")
        self.root = root
        self.source_split = FASTDEPTH_SPLITS[split]
        self.split_dir = os.path.join(root, self.source_split)
        if not os.path.isdir(self.split_dir):
            raise SourceError(
                f"{self.split_dir} does not exist; source 'fastdepth' expects <root>/train/<scene>/<n>.h5 and "
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

    def item_files(self, item: Item) -> tuple[str, ...]:
        return (item.ref,)

    def describe(self) -> dict[str, Any]:
        return {"depth_source": "FastDepth .h5 'depth' (float32 metres; filled/projected by sparse-to-dense)"}
