"""What a conversion will write: its :class:`Options`, the sampled frames in shard order, the shards.

1. The reader lists the source's frames in scene/frame order; ``max_frames_per_scene`` keeps that
   many per scene, evenly spaced through the scene; ``max_frames`` then keeps that many of the
   rest, evenly spaced through the list. Both are deterministic.
2. The chosen frames are put in shard order (shuffled with ``seed`` for the train split of sources
   read by random access, so every shard mixes scenes; kept in source order otherwise) and cut into
   ``num_shards`` contiguous blocks (or blocks of ``frames_per_shard``).

The plan's ``digest`` (of the options that decide the shards' content and of the frame list) is what
a rerun compares to resume or refuse an existing output; ``inputs`` fingerprints each shard's input
files (path, size, modification time), so a file changed in place gets its shard rewritten.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from data_prep import readers
from data_prep.readers import Item, PrepareError, SourceError
from depthnet.data import records

log = logging.getLogger("depthnet.prepare")

OUTPUT_DEPTH_SCALE = records.DEFAULT_DEPTH_SCALE  # shards always store millimetres
DEFAULT_FRAMES_PER_SHARD = 256  # ~0.5 MB per 480x640 frame -> ~130 MB shards
_TFDS_SCENES_HINT = (
    " (TFDS drops them; run source 'fastdepth' on the tree TFDS extracted under <data_dir>/downloads/extracted)"
)


@dataclasses.dataclass
class Options:
    """Everything a conversion takes (``depthnet-prepare``'s flags map 1:1 onto these fields)."""

    source: str
    output_dir: str
    input: Optional[str] = None
    split: str = "train"
    depth_scale: float = 1000.0
    depth_encoding: str = "scaled"
    depth: str = "filled"
    splits_mat: Optional[str] = None
    tfds_data_dir: Optional[str] = None
    num_frames: int = 100
    seed: int = 0
    height: int = 480
    width: int = 640
    num_shards: Optional[int] = None
    frames_per_shard: Optional[int] = None
    max_frames_per_scene: Optional[int] = None
    max_frames: Optional[int] = None
    shuffle: Optional[bool] = None  # None: shuffle the train split of random-access sources
    skip_bad: bool = False
    check_depth: bool = True
    overwrite: bool = False
    progress: bool = True
    workers: int = 1


@dataclasses.dataclass
class Plan:
    """What a run will write: the candidate frames, the chosen ones in shard order, the shards."""

    items: list[Item]
    selected: list[Item]
    shards: list[list[Item]]
    names: list[str]
    config: dict[str, Any]
    digest: str
    inputs: dict[str, str] = dataclasses.field(default_factory=dict)  # shard name -> inputs_fingerprint


def evenly_spaced(n: int, k: Optional[int]) -> list[int]:
    """`k` of the indices 0..n-1, evenly spaced (the centre of each of k equal runs); all when k >= n."""
    if k is None or k >= n:
        return list(range(n))
    if k <= 0:
        return []
    return [((2 * i + 1) * n) // (2 * k) for i in range(k)]


def sample_items(
    items: Sequence[Item], max_frames_per_scene: Optional[int] = None, max_frames: Optional[int] = None
) -> list[Item]:
    """Per scene, `max_frames_per_scene` frames evenly spaced in frame order; then `max_frames` evenly
    spaced over the remaining list. Keeps the input order; deterministic."""
    chosen = list(items)
    if max_frames_per_scene is not None:
        by_scene: dict[str, list[int]] = {}
        for pos, item in enumerate(chosen):
            by_scene.setdefault(item.scene, []).append(pos)
        keep = set()
        for positions in by_scene.values():
            keep.update(positions[i] for i in evenly_spaced(len(positions), max_frames_per_scene))
        chosen = [item for pos, item in enumerate(chosen) if pos in keep]
    if max_frames is not None:
        chosen = [chosen[i] for i in evenly_spaced(len(chosen), max_frames)]
    return chosen


def shard_bounds(n: int, num_shards: int) -> list[int]:
    """Contiguous, near-equal blocks: shard k holds positions bounds[k]:bounds[k+1]."""
    return [(k * n) // num_shards for k in range(num_shards + 1)]


def digest(obj: Any) -> str:
    """sha256 of `obj` as canonical JSON."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def inputs_fingerprint(reader: readers.Reader, items: Sequence[Item], stats: Optional[dict] = None) -> str:
    """sha256 of the path, size and modification time of every file `items` are read from."""
    stats = {} if stats is None else stats
    files = list(reader.source_files()) + [p for item in items for p in reader.item_files(item)]
    for path in files:
        if path not in stats:
            try:
                st = os.stat(path)
                stats[path] = [st.st_size, st.st_mtime_ns]
            except OSError:
                stats[path] = None
    return digest([[os.path.abspath(p), stats[p]] for p in files])


def _abs(path: Optional[str]) -> Optional[str]:
    return os.path.abspath(os.path.expanduser(path)) if path else None


def content_config(opts: Options, reader: readers.Reader, shuffle: bool) -> dict[str, Any]:
    """The options that decide the shards' content (``skip_bad``/``overwrite`` do not)."""
    cfg: dict[str, Any] = {"source": opts.source, "split": opts.split, "output_depth_scale": OUTPUT_DEPTH_SCALE}
    if opts.source == "tfds":
        cfg["tfds_data_dir"] = _abs(getattr(reader, "data_dir", None) or opts.tfds_data_dir or opts.input)
    elif opts.source == "synthetic":
        cfg.update(num_frames=opts.num_frames, seed=opts.seed, height=opts.height, width=opts.width)
    else:
        cfg["input"] = _abs(opts.input)
    if opts.source == "pairs":
        cfg.update(depth_encoding=opts.depth_encoding)
        if opts.depth_encoding == "scaled":
            cfg["depth_scale"] = float(opts.depth_scale)
    if opts.source == "labeled_mat":
        cfg.update(depth=opts.depth, splits_mat=_abs(getattr(reader, "splits_mat", opts.splits_mat)))
    cfg.update(
        max_frames_per_scene=opts.max_frames_per_scene,
        max_frames=opts.max_frames,
        num_shards=opts.num_shards,
        frames_per_shard=None if opts.num_shards else (opts.frames_per_shard or DEFAULT_FRAMES_PER_SHARD),
        shuffle=shuffle,
    )
    if shuffle:
        cfg["seed"] = opts.seed
    return cfg


def check_options(opts: Options, reader: readers.Reader) -> None:
    """Refuses counts below 1, both shard sizes at once, and per-scene sampling of a source without scenes."""
    for name in ("num_shards", "frames_per_shard", "max_frames", "max_frames_per_scene", "workers"):
        value = getattr(opts, name)
        if value is not None and value < 1:
            raise PrepareError(f"{name} must be >= 1, got {value}")
    if opts.num_shards and opts.frames_per_shard:
        raise PrepareError("give num_shards or frames_per_shard, not both")
    if opts.max_frames_per_scene and not reader.has_scenes:
        raise SourceError(
            f"max_frames_per_scene needs scene names, which source '{opts.source}' does not have"
            + (_TFDS_SCENES_HINT if opts.source == "tfds" else "")
        )


def _shuffled(opts: Options, reader: readers.Reader, selected: list[Item]) -> tuple[list[Item], bool]:
    shuffle = opts.shuffle if opts.shuffle is not None else opts.split == "train"
    if shuffle and not reader.random_access:
        log.info("source %s is read as one stream: keeping its own order (it is not shuffled)", opts.source)
        shuffle = False
    if shuffle:
        order = np.random.default_rng(opts.seed).permutation(len(selected))
        selected = [selected[i] for i in order]
    return selected, shuffle


def make_plan(opts: Options, reader: readers.Reader) -> Plan:
    """Lists, samples, orders and shards the frames; raises SourceError for an empty source."""
    check_options(opts, reader)
    items = reader.items()
    where = opts.input or getattr(reader, "data_dir", "") or opts.source
    if not items:
        raise SourceError(f"no frames found in {where} (source '{opts.source}', split '{opts.split}')")
    selected = sample_items(items, opts.max_frames_per_scene, opts.max_frames)
    selected, shuffle = _shuffled(opts, reader, selected)
    n = len(selected)
    if opts.num_shards:
        num_shards = min(opts.num_shards, n)
    else:
        num_shards = math.ceil(n / (opts.frames_per_shard or DEFAULT_FRAMES_PER_SHARD))
    bounds = shard_bounds(n, num_shards)
    shards = [selected[bounds[k] : bounds[k + 1]] for k in range(num_shards)]
    names = [records.shard_name(opts.split, k, num_shards) for k in range(num_shards)]
    config = content_config(opts, reader, shuffle)
    stats: dict = {}
    inputs = {name: inputs_fingerprint(reader, shard, stats) for name, shard in zip(names, shards)}
    frames_digest = digest({"config": config, "frames": [it.key for it in selected]})
    return Plan(items, selected, shards, names, config, frames_digest, inputs)
