"""Writing frames held in memory as a split, through the same shard writer as :func:`data_prep.prepare`.

    from data_prep import write_frames
    manifest = write_frames(frames, "data/tiny/train", num_shards=2)

Frame ``i`` goes to shard ``i % num_shards`` (round robin), so every shard gets a mix of the frames.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable
from typing import Any, Optional

import numpy as np

from data_prep import shards
from data_prep.plan import digest
from data_prep.readers.base import Item, Reader
from depthnet.data import records


def as_frame(index: int, frame: Any) -> records.Frame:
    """A records.Frame (depth as float32) from a Frame or an (rgb, depth) pair, named f"{index:06d}"."""
    if not isinstance(frame, records.Frame):
        frame = records.Frame(np.asarray(frame[0]), np.asarray(frame[1]), frame=f"{index:06d}")
    return records.Frame(np.asarray(frame.rgb), np.asarray(frame.depth, np.float32), frame.scene, frame.frame)


class FramesReader(Reader):
    """A :class:`data_prep.readers.Reader` over frames held in memory (records.Frame or (rgb, depth) pairs)."""

    name = "frames"
    source_split = "(in memory)"
    check_depth = False  # the caller's frames, whatever their depth

    def __init__(self, frames: Iterable[Any]):
        self._frames = [as_frame(i, fr) for i, fr in enumerate(frames)]

    def items(self) -> list[Item]:
        return [Item(f.scene, f.frame, i, f"frame {i} ({f.scene}/{f.frame})") for i, f in enumerate(self._frames)]

    def load(self, item: Item) -> records.Frame:
        return self._frames[item.ref]

    def describe(self) -> dict[str, Any]:
        return {"depth_source": "frames written from memory (data_prep.write_frames)"}


def write_frames(
    frames: Iterable[Any],
    split_dir: str,
    num_shards: int = 1,
    depth_scale: float = records.DEFAULT_DEPTH_SCALE,
    source: str = "synthetic",
    split: Optional[str] = None,
) -> dict[str, Any]:
    """Writes `frames` (records.Frame or (rgb, depth) pairs, depth in metres) as a split; returns its manifest.

    Frame ``i`` goes to shard ``i % num_shards``; shards are named :func:`depthnet.data.records.shard_name` of
    `split` (default: the folder's name). What `split_dir` held for that split before is replaced. Each
    shard is written atomically with its sha256 in a ``.done`` marker, exactly as a conversion writes it.
    """
    split_dir = os.fspath(split_dir)
    split = split or os.path.basename(os.path.normpath(split_dir))
    if num_shards < 1:
        raise ValueError(f"num_shards must be >= 1, got {num_shards}")
    reader = FramesReader(frames)
    items = reader.items()
    plan_shards = [items[k::num_shards] for k in range(num_shards)]
    names = [records.shard_name(split, k, num_shards) for k in range(num_shards)]
    config = {"source": source, "split": split, "num_shards": num_shards, "depth_scale": float(depth_scale)}
    config_digest = digest({"config": config, "frames": [it.key for it in items]})
    os.makedirs(split_dir, exist_ok=True)
    shards.remove_our_files(split_dir, split)
    stream = shards.encoded(reader.iter_load([it for shard in plan_shards for it in shard]), 1, depth_scale)
    markers = [
        shards.write_shard(split_dir, name, shard, stream, digest=config_digest, config=config)
        for name, shard in zip(names, plan_shards)
    ]
    manifest = shards.split_manifest(
        markers, source=source, split=split, source_split=reader.source_split, depth_scale=depth_scale
    )
    manifest.update(
        config=config,
        config_digest=config_digest,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        tool="data_prep.write_frames",
    )
    shards.write_json_atomic(os.path.join(split_dir, records.MANIFEST_NAME), manifest)
    return manifest
