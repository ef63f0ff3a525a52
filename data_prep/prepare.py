"""``depthnet-prepare``: converts a depth source into sharded TFRecords + ``manifest.json``.

Usage (see ``--helpfull`` for every flag)::

    depthnet-prepare --source=fastdepth --input=/data/nyudepthv2 --output_dir=/data/nyu --split=train \\
        --max_frames=13000
    depthnet-prepare --source=labeled_mat --input=nyu_depth_v2_labeled.mat --splits_mat=splits.mat \\
        --output_dir=/data/nyu --split=test
    depthnet-prepare --source=pairs --input=nyu2_test.csv --output_dir=/data/nyu --split=test
    python -m data_prep.prepare --source=synthetic --num_frames=64 --output_dir=/tmp/syn

Output, in ``<output_dir>/<split>/`` (format: :mod:`depthnet.records`)::

    <split>-00000-of-000NN.tfrecord        frames, full resolution, lossless PNG rgb + uint16 PNG depth (mm)
    <split>-00000-of-000NN.tfrecord.done   resume marker: sha256, frame count, the flags that made it
    manifest.json                          written last: source, split, counts, shards + sha256, flags, ...

How it works:

1. The reader lists the source's frames in scene/frame order; ``--max_frames_per_scene`` keeps that
   many per scene, evenly spaced through the scene; ``--max_frames`` then keeps that many of the
   rest, evenly spaced through the list. Both are deterministic.
2. The chosen frames are put in shard order (shuffled with ``--seed`` for the train split of sources
   read by random access, so every shard mixes scenes; kept in source order otherwise) and cut into
   ``--num_shards`` contiguous blocks (or blocks of ``--frames_per_shard``).
3. Each shard is written to ``<name>.tmp``, fsynced, hashed and renamed; then its ``.done`` marker is
   written. A rerun with the same flags skips every shard whose marker and sha256 match, so a run
   killed midway resumes where it stopped and produces byte-identical shards. A rerun with different
   flags (or a changed frame list) over an existing output is refused unless ``--overwrite``.
4. The manifest is written last (atomically), so its presence means the split is complete.
"""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import logging
import math
import os
import re
import sys
import time
from collections import Counter
from typing import Any, Iterator, Optional, Sequence

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads (via depthnet.records)

from data_prep import readers  # noqa: E402
from data_prep.readers import BadInputError, Item, PrepareError, SourceError  # noqa: E402
from depthnet import records  # noqa: E402

log = logging.getLogger("depthnet.prepare")

OUTPUT_DEPTH_SCALE = records.DEFAULT_DEPTH_SCALE  # shards always store millimetres
DEFAULT_FRAMES_PER_SHARD = 256  # ~0.5 MB per 480x640 frame -> ~130 MB shards
DONE_SUFFIX = ".done"
TMP_SUFFIX = ".tmp"


class OutputExistsError(PrepareError):
    """The output folder holds a different conversion."""


@dataclasses.dataclass
class Options:
    """Everything ``depthnet-prepare`` takes; the flags map 1:1 onto these fields."""

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


# ----------------------------------------------------------------------------------------------
# Sampling and sharding (pure functions)


def evenly_spaced(n: int, k: Optional[int]) -> list[int]:
    """`k` of the indices 0..n-1, evenly spaced (the centre of each of k equal runs); all when k >= n."""
    if k is None or k >= n:
        return list(range(n))
    if k <= 0:
        return []
    return [((2 * i + 1) * n) // (2 * k) for i in range(k)]


def sample_items(items: Sequence[Item], max_frames_per_scene: Optional[int] = None, max_frames: Optional[int] = None) -> list[Item]:
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


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def _abs(path: Optional[str]) -> Optional[str]:
    return os.path.abspath(os.path.expanduser(path)) if path else None


def content_config(opts: Options, reader: readers.Reader, shuffle: bool) -> dict[str, Any]:
    """The flags that decide the shards' content (``--skip_bad``/``--overwrite`` do not)."""
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


def make_plan(opts: Options, reader: readers.Reader) -> Plan:
    """Lists, samples, orders and shards the frames; raises SourceError for an empty source."""
    for name in ("num_shards", "frames_per_shard", "max_frames", "max_frames_per_scene", "workers"):
        value = getattr(opts, name)
        if value is not None and value < 1:
            raise PrepareError(f"--{name} must be >= 1, got {value}")
    if opts.num_shards and opts.frames_per_shard:
        raise PrepareError("give --num_shards or --frames_per_shard, not both")
    if opts.max_frames_per_scene and not reader.has_scenes:
        raise SourceError(
            f"--max_frames_per_scene needs scene names, which --source={opts.source} does not have"
            + (" (TFDS drops them; run --source=fastdepth on the tree TFDS extracted under <data_dir>/downloads/extracted)"
               if opts.source == "tfds" else "")
        )
    items = reader.items()
    where = opts.input or getattr(reader, "data_dir", "") or opts.source
    if not items:
        raise SourceError(f"no frames found in {where} (--source={opts.source}, --split={opts.split})")
    selected = sample_items(items, opts.max_frames_per_scene, opts.max_frames)
    shuffle = opts.shuffle if opts.shuffle is not None else opts.split == "train"
    if shuffle and not reader.random_access:
        log.info("--source=%s is read as one stream: keeping its own order (it is not shuffled)", opts.source)
        shuffle = False
    if shuffle:
        order = np.random.default_rng(opts.seed).permutation(len(selected))
        selected = [selected[i] for i in order]
    n = len(selected)
    num_shards = min(opts.num_shards, n) if opts.num_shards else math.ceil(n / (opts.frames_per_shard or DEFAULT_FRAMES_PER_SHARD))
    bounds = shard_bounds(n, num_shards)
    shards = [selected[bounds[k] : bounds[k + 1]] for k in range(num_shards)]
    names = [records.shard_name(opts.split, k, num_shards) for k in range(num_shards)]
    config = content_config(opts, reader, shuffle)
    digest = _digest({"config": config, "frames": [it.key for it in selected]})
    return Plan(items, selected, shards, names, config, digest)


# ----------------------------------------------------------------------------------------------
# Files


def _sha256(path: str) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: str) -> None:
    try:
        _fsync_file(path)
    except OSError:  # not every filesystem lets a directory be fsynced
        pass


def _write_json_atomic(path: str, obj: Any) -> None:
    tmp = path + TMP_SUFFIX
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    _fsync_dir(os.path.dirname(path))


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _read_json(path: str) -> Optional[dict]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _our_files(split_dir: str, split: str) -> list[str]:
    """Files in `split_dir` that depthnet-prepare writes for `split` (shards, markers, temporaries, manifest)."""
    pattern = re.compile(rf"^{re.escape(split)}-\d{{5}}-of-\d{{5}}\.tfrecord({re.escape(DONE_SUFFIX)})?({re.escape(TMP_SUFFIX)})?$")
    names = [n for n in os.listdir(split_dir) if pattern.match(n)]
    names += [n for n in (records.MANIFEST_NAME, records.MANIFEST_NAME + TMP_SUFFIX) if os.path.exists(os.path.join(split_dir, n))]
    return sorted(names)


def _flag_diff(old: Optional[dict], new: dict) -> str:
    if not isinstance(old, dict):
        return "it was not made by this version of depthnet-prepare"
    diffs = [f"--{k}: {old.get(k)!r} before, {new.get(k)!r} now" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    return "; ".join(diffs) if diffs else "the frame list differs (the input's files changed)"


def _check_existing(split_dir: str, plan: Plan, split: str) -> tuple[Optional[dict], dict[str, dict]]:
    """Returns (complete manifest or None, valid done markers by shard name); refuses foreign output."""
    files = _our_files(split_dir, split)
    refuse = "{dir} already holds a different conversion ({why}). Pass --overwrite to replace it, or use another --output_dir."
    manifest_path = os.path.join(split_dir, records.MANIFEST_NAME)
    if records.MANIFEST_NAME in files:
        manifest = _read_json(manifest_path)
        if manifest is None or manifest.get("config_digest") != plan.digest:
            raise OutputExistsError(refuse.format(dir=split_dir, why=_flag_diff((manifest or {}).get("config"), plan.config)))
        ok = [s["file"] for s in manifest.get("shards", [])] == plan.names and all(
            _marker_valid(split_dir, s["file"], plan.digest, expect_sha=s.get("sha256")) for s in manifest["shards"]
        )
        if ok:
            return manifest, {}
        log.warning("%s: manifest present but some shards are missing or changed; rewriting those", split_dir)
        _remove(manifest_path)
    markers = {}
    for name in files:
        if name.endswith(TMP_SUFFIX) or name.startswith(records.MANIFEST_NAME):
            continue
        shard = name[: -len(DONE_SUFFIX)] if name.endswith(DONE_SUFFIX) else name
        if shard not in plan.names:
            raise OutputExistsError(refuse.format(dir=split_dir, why=f"{name} is not one of this run's {len(plan.names)} shards"))
        if name.endswith(DONE_SUFFIX):
            marker = _read_json(os.path.join(split_dir, name))
            if marker is not None and marker.get("config_digest") != plan.digest:
                raise OutputExistsError(refuse.format(dir=split_dir, why=_flag_diff(marker.get("config"), plan.config)))
            if marker is not None and _marker_valid(split_dir, shard, plan.digest, marker=marker):
                markers[shard] = marker
    return None, markers


def _marker_valid(split_dir: str, shard: str, digest: str, marker: Optional[dict] = None, expect_sha: Optional[str] = None) -> bool:
    marker = marker or _read_json(os.path.join(split_dir, shard + DONE_SUFFIX))
    path = os.path.join(split_dir, shard)
    if not marker or marker.get("config_digest") != digest or not os.path.exists(path):
        return False
    if os.path.getsize(path) != marker.get("bytes") or (expect_sha and expect_sha != marker.get("sha256")):
        return False
    sha, _ = _sha256(path)
    if sha != marker.get("sha256"):
        log.warning("%s does not match its .done marker (sha256); rewriting it", path)
        return False
    return True


# ----------------------------------------------------------------------------------------------
# Writing


def _encode(frame: records.Frame) -> bytes:
    """records.encode_example (deterministic bytes, so a resumed run's shards are identical)."""
    return records.encode_example(frame.rgb, frame.depth, OUTPUT_DEPTH_SCALE, frame.scene, frame.frame)


def _encoded(stream: Iterator, workers: int) -> Iterator[tuple[Item, Any, Optional[bytes]]]:
    """Yields (item, BadInputError, None) or (item, (height, width, scene), serialized example), in
    order. PNG encoding (the slow part) runs in `workers` spawned processes when workers > 1; the
    bytes are identical either way."""
    if workers <= 1:
        for item, result in stream:
            if isinstance(result, BadInputError):
                yield item, result, None
            else:
                yield item, (result.rgb.shape[0], result.rgb.shape[1], result.scene), _encode(result)
        return
    import collections
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    pending: collections.deque = collections.deque()
    try:
        for item, result in stream:
            if isinstance(result, BadInputError):
                pending.append((item, result, None))
            else:
                info = (result.rgb.shape[0], result.rgb.shape[1], result.scene)
                pending.append((item, info, pool.submit(_encode, result)))
            while len(pending) > 2 * workers:
                item, info, fut = pending.popleft()
                yield item, info, fut.result() if fut else None
        while pending:
            item, info, fut = pending.popleft()
            yield item, info, fut.result() if fut else None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _write_shard(split_dir: str, name: str, items: Sequence[Item], stream: Iterator, opts: Options, plan: Plan, pbar) -> dict:
    """Writes one shard from the next len(items) results of `stream` (see _encoded): .tmp, fsync, rename, marker."""
    import tensorflow as tf

    path = os.path.join(split_dir, name)
    tmp = path + TMP_SUFFIX
    count, skipped, sizes, scenes = 0, [], Counter(), set()
    writer = tf.io.TFRecordWriter(tmp)
    try:
        for expected in items:
            item, info, data = next(stream)
            assert item is expected, (item, expected)
            if isinstance(info, BadInputError):
                if not opts.skip_bad:
                    raise info
                log.warning("skipping bad input %s", info)
                skipped.append({"file": info.path, "error": info.reason})
            else:
                writer.write(data)
                count += 1
                height, width, scene = info
                sizes[f"{height}x{width}"] += 1
                scenes.add(scene)
            pbar.update(1)
            if skipped:
                pbar.bad_count = getattr(pbar, "bad_count", 0) + (1 if isinstance(info, BadInputError) else 0)
                pbar.set_postfix(bad=pbar.bad_count, refresh=False)
        writer.close()
        _fsync_file(tmp)
        sha, size = _sha256(tmp)
        os.replace(tmp, path)
        _fsync_dir(split_dir)
    except BaseException:
        writer.close()
        _remove(tmp)
        raise
    marker = {
        "file": name,
        "num_frames": count,
        "sha256": sha,
        "bytes": size,
        "frame_sizes": dict(sizes),
        "scenes": sorted(scenes),
        "skipped": skipped,
        "config_digest": plan.digest,
        "config": plan.config,
    }
    _write_json_atomic(path + DONE_SUFFIX, marker)
    return marker


def prepare(opts: Options, reader: Optional[readers.Reader] = None) -> dict[str, Any]:
    """Runs a conversion (resuming a finished part); returns the manifest. `reader` overrides the source's."""
    start = time.time()
    own_reader = reader is None
    if reader is None:
        reader = readers.make_reader(
            opts.source, opts.input, opts.split,
            depth_scale=opts.depth_scale, depth_encoding=opts.depth_encoding, depth=opts.depth,
            splits_mat=opts.splits_mat, tfds_data_dir=opts.tfds_data_dir,
            num_frames=opts.num_frames, seed=opts.seed, height=opts.height, width=opts.width,
        )  # fmt: skip
    try:
        return _prepare(opts, reader, start)
    finally:
        if own_reader:
            reader.close()


def _prepare(opts: Options, reader: readers.Reader, start: float) -> dict[str, Any]:
    from tqdm import tqdm

    plan = make_plan(opts, reader)
    unpaired = getattr(reader, "unpaired", None)
    if unpaired:
        log.warning("%d file(s) have no RGB/depth partner and are left out, e.g. %s", len(unpaired), unpaired[:3])
    log.info(
        "%s %s: %d frames listed, %d selected -> %d shard(s) in %s",
        opts.source, reader.source_split, len(plan.items), len(plan.selected), len(plan.names), opts.output_dir,
    )  # fmt: skip
    split_dir = os.path.join(opts.output_dir, opts.split)
    os.makedirs(split_dir, exist_ok=True)
    if opts.overwrite:
        for name in _our_files(split_dir, opts.split):
            _remove(os.path.join(split_dir, name))
    complete, markers = _check_existing(split_dir, plan, opts.split)
    if complete is not None:
        line = f"depthnet-prepare: {split_dir} is already complete ({complete['num_frames']} frames, {len(complete['shards'])} shards); nothing to do"
        print(line)
        return complete
    for name in _our_files(split_dir, opts.split):
        if name.endswith(TMP_SUFFIX):
            log.info("removing %s left by an interrupted run", name)
            _remove(os.path.join(split_dir, name))

    todo = [k for k, name in enumerate(plan.names) if name not in markers]
    reused = sum(len(plan.shards[k]) for k in range(len(plan.names)) if k not in todo)
    if reused:
        log.info("resuming: %d of %d shards already done (%d frames)", len(plan.names) - len(todo), len(plan.names), reused)
    remaining = [item for k in todo for item in plan.shards[k]]
    pbar = tqdm(
        total=len(plan.selected), initial=reused, unit="frame", desc=f"{opts.source}->{opts.split}",
        disable=not opts.progress, dynamic_ncols=True, smoothing=0.1,
    )  # fmt: skip
    written_start = time.time()
    stream = _encoded(reader.iter_load(remaining), opts.workers)
    try:
        for k in todo:
            markers[plan.names[k]] = _write_shard(split_dir, plan.names[k], plan.shards[k], stream, opts, plan, pbar)
    finally:
        pbar.close()
        close = getattr(stream, "close", None)
        if close:
            close()
    written_seconds = time.time() - written_start

    ordered = [markers[n] for n in plan.names]
    total = sum(m["num_frames"] for m in ordered)
    skipped = [s for m in ordered for s in m["skipped"]]
    if total == 0:
        raise SourceError(f"no frames written: all {len(plan.selected)} selected inputs were bad (first: {skipped[0]['file']}: {skipped[0]['error']})")
    sizes: Counter = Counter()
    scenes: set[str] = set()
    for m in ordered:
        sizes.update(m["frame_sizes"])
        scenes.update(m["scenes"])
    size_list = [[int(v) for v in s.split("x")] for s in sizes]
    info = reader.describe()
    manifest = {
        "source": opts.source,
        "split": opts.split,
        "source_split": reader.source_split,
        "num_frames": total,
        "depth_unit": "metres",
        "depth_scale": OUTPUT_DEPTH_SCALE,
        "depth_encoding": f"uint16 PNG, metres = value / {OUTPUT_DEPTH_SCALE:g}; 0 = invalid (missing, non-finite, <= 0 or > 65.535 m)",
        "frame_size": size_list[0] if len(size_list) == 1 else None,
        "frame_sizes": dict(sizes),
        "shards": [{"file": m["file"], "num_frames": m["num_frames"], "sha256": m["sha256"], "bytes": m["bytes"]} for m in ordered],
        "skipped_bad": len(skipped),
        "skipped_files": skipped,
        "num_scenes": len(scenes - {""}),
        "scenes": sorted(scenes - {""}),
        "sampling": {
            "candidates": len(plan.items),
            "selected": len(plan.selected),
            "max_frames_per_scene": opts.max_frames_per_scene,
            "max_frames": opts.max_frames,
            "order": "shuffled (seed %d)" % opts.seed if plan.config["shuffle"] else "source order",
        },
        "source_info": info,
        "flags": dict(plan.config, skip_bad=opts.skip_bad),
        "config": plan.config,
        "config_digest": plan.digest,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "tool": "depthnet-prepare",
    }
    _write_json_atomic(os.path.join(split_dir, records.MANIFEST_NAME), manifest)

    new_frames = len(remaining)
    rate = new_frames / written_seconds if written_seconds > 0 else float("inf")
    line = (
        f"depthnet-prepare: {total} frames in {len(ordered)} shards -> {split_dir} "
        f"({new_frames} read now, {reused} from finished shards; {len(skipped)} bad input(s) skipped; "
        f"{time.time() - start:.1f} s, {rate:.1f} frames/s)"
    )
    print(line)
    if "warning" in info:
        log.warning("%s", info["warning"])
    return manifest


# ----------------------------------------------------------------------------------------------
# Command line


def _define_flags():
    from absl import flags

    if "source" in flags.FLAGS:
        return flags.FLAGS
    flags.DEFINE_enum("source", None, list(readers.SOURCES), "Input format: tfds | fastdepth | labeled_mat | pairs | synthetic.")
    flags.DEFINE_string("input", None, "Source path: TFDS data dir, FastDepth root (train/, val/), nyu_depth_v2_labeled.mat, "
                        "or a folder / CSV of RGB + depth pairs. Not used by synthetic.")
    flags.DEFINE_string("output_dir", None, "Output root; shards + manifest.json go to <output_dir>/<split>/.")
    flags.DEFINE_enum("split", "train", ["train", "test"], "Split to convert (TFDS 'validation', FastDepth 'val/official', "
                      "splits.mat 'testNdxs' for test).")
    flags.DEFINE_float("depth_scale", 1000.0, "pairs, --depth_encoding=scaled: stored depth values per metre (1000 = mm).")
    flags.DEFINE_enum("depth_encoding", "scaled", list(readers.DEPTH_ENCODINGS),
                      "pairs: scaled (value / depth_scale), sunrgbd (bit-rotated, /1000), kinect_raw (NYU raw .pgm "
                      "disparity, not registered to the RGB).")
    flags.DEFINE_enum("depth", "filled", ["filled", "raw"], "labeled_mat: 'depths' (filled) or 'rawDepths' (0 = missing).")
    flags.DEFINE_string("splits_mat", None, "labeled_mat: the official splits.mat (default: splits.mat beside --input).")
    flags.DEFINE_string("tfds_data_dir", None, "tfds: TFDS data dir holding nyu_depth_v2/ (default --input or ~/tensorflow_datasets).")
    flags.DEFINE_integer("num_frames", 100, "synthetic: number of frames.")
    flags.DEFINE_integer("seed", 0, "synthetic: generator seed; also the seed of the train split's shard order.")
    flags.DEFINE_integer("height", 480, "synthetic: frame height.")
    flags.DEFINE_integer("width", 640, "synthetic: frame width.")
    flags.DEFINE_integer("num_shards", None, "Number of shards (capped at the frame count).")
    flags.DEFINE_integer("frames_per_shard", None, f"Frames per shard when --num_shards is not given (default {DEFAULT_FRAMES_PER_SHARD}).")
    flags.DEFINE_integer("max_frames_per_scene", None, "Keep at most this many frames per scene, evenly spaced in frame order.")
    flags.DEFINE_integer("max_frames", None, "Keep at most this many frames in all, evenly spaced (after --max_frames_per_scene).")
    flags.DEFINE_boolean("shuffle", None, "Shuffle the shard order with --seed (default: yes for train, no for test; "
                         "tfds/synthetic keep their own order).")
    flags.DEFINE_boolean("skip_bad", False, "Skip (and count) unreadable or invalid input files instead of stopping.")
    flags.DEFINE_boolean("overwrite", False, "Replace an existing, different conversion in <output_dir>/<split>/.")
    flags.DEFINE_boolean("progress", True, "Show a progress bar.")
    flags.DEFINE_integer("workers", 1, "Processes encoding PNGs (the bottleneck, ~0.2 s per 480x640 frame); "
                         "output is identical for any value.")
    flags.mark_flags_as_required(["source", "output_dir"])
    return flags.FLAGS


def options_from_flags(f=None) -> Options:
    from absl import flags

    f = f if f is not None else flags.FLAGS
    return Options(**{field.name: getattr(f, field.name) for field in dataclasses.fields(Options)})


def main(argv: Sequence[str]) -> None:
    from absl import app

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    log.setLevel(logging.INFO)
    try:
        prepare(options_from_flags())
    except PrepareError as e:
        sys.exit(f"depthnet-prepare: error: {e}")


def run() -> None:
    """Console-script entry point (``depthnet-prepare``)."""
    from absl import app

    flags_ = _define_flags()  # defined only when run as a program, so importing never clashes
    # Under the console script, __main__ is setuptools' wrapper: give it this module's doc and flags so
    # --help/--helpshort describe depthnet-prepare.
    main_module = sys.modules.get("__main__")
    if main_module is not None and not getattr(main_module, "__doc__", None):
        main_module.__doc__ = __doc__
    for name in [f.name for f in dataclasses.fields(Options)]:
        flags_.register_key_flag_for_module(sys.argv[0], flags_[name])
    app.run(main)


if __name__ == "__main__":
    run()
