"""Atomic shard writing: ``.tmp`` + fsync + sha256 + rename, ``.done`` markers, the manifest.

Each shard is written to ``<name>.tmp``, fsynced, hashed and renamed; then its ``.done`` marker
(sha256, frame count, the options that made it, a fingerprint of its input files) is written. A
rerun keeps the shards :mod:`data_prep.resume` accepts, so a run killed midway resumes where it
stopped and produces byte-identical shards. The manifest is written last (atomically), so its
presence means the split is complete.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any, Optional

from data_prep.readers import BadInputError, Item, PrepareError
from data_prep.workers import pool as worker_pool
from depthnet.data import records

log = logging.getLogger("depthnet.prepare")

DONE_SUFFIX = ".done"
TMP_SUFFIX = ".tmp"


class OutputExistsError(PrepareError):
    """The output folder holds a different conversion."""


# ---------------------------------------------------------------------------------------------- files


def sha256_file(path: str) -> tuple[str, int]:
    """(hex sha256, size in bytes) of a file."""
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str) -> None:
    try:
        fsync_file(path)
    except OSError:  # not every filesystem lets a directory be fsynced
        pass


def remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def write_json_atomic(path: str, obj: Any) -> None:
    """Writes `obj` as JSON to `path` via a fsynced temporary and a rename."""
    tmp = path + TMP_SUFFIX
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        remove(tmp)
        raise
    fsync_dir(os.path.dirname(path))


def read_json(path: str) -> Optional[dict]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def our_files(split_dir: str, split: str) -> list[str]:
    """Files in `split_dir` that depthnet-prepare writes for `split` (shards, markers, temporaries, manifest)."""
    suffixes = rf"({re.escape(DONE_SUFFIX)})?({re.escape(TMP_SUFFIX)})?"
    pattern = re.compile(rf"^{re.escape(split)}-\d{{5}}-of-\d{{5}}\.tfrecord{suffixes}$")
    names = [n for n in os.listdir(split_dir) if pattern.match(n)]
    manifests = (records.MANIFEST_NAME, records.MANIFEST_NAME + TMP_SUFFIX)
    names += [n for n in manifests if os.path.exists(os.path.join(split_dir, n))]
    return sorted(names)


def remove_our_files(split_dir: str, split: str, only_tmp: bool = False) -> None:
    """Deletes what :func:`our_files` lists (only the temporaries an interrupted run left, with `only_tmp`)."""
    for name in our_files(split_dir, split):
        if only_tmp and not name.endswith(TMP_SUFFIX):
            continue
        if only_tmp:
            log.info("removing %s left by an interrupted run", name)
        remove(os.path.join(split_dir, name))


# ---------------------------------------------------------------------------------------------- writing


def encode(frame: records.Frame, depth_scale: float = records.DEFAULT_DEPTH_SCALE) -> bytes:
    """records.encode_example (deterministic bytes, so a resumed run's shards are identical)."""
    return records.encode_example(frame.rgb, frame.depth, depth_scale, frame.scene, frame.frame)


def _info(frame: records.Frame) -> tuple[int, int, str]:
    return frame.rgb.shape[0], frame.rgb.shape[1], frame.scene


def encoded(
    stream: Iterator, workers: int, depth_scale: float = records.DEFAULT_DEPTH_SCALE
) -> Iterator[tuple[Item, Any, Optional[bytes]]]:
    """Yields (item, BadInputError, None) or (item, (height, width, scene), serialized example), in
    order. PNG encoding (the slow part) runs in `workers` spawned processes when workers > 1 (which
    die with this process, :mod:`data_prep.workers`); the bytes are identical either way."""
    encode_frame = functools.partial(encode, depth_scale=depth_scale)
    if workers <= 1:
        for item, result in stream:
            if isinstance(result, BadInputError):
                yield item, result, None
            else:
                yield item, _info(result), encode_frame(result)
        return
    pool = worker_pool(workers, imports_tensorflow=True)
    pending: collections.deque = collections.deque()
    try:
        for item, result in stream:
            if isinstance(result, BadInputError):
                pending.append((item, result, None))
            else:
                pending.append((item, _info(result), pool.submit(encode_frame, result)))
            while len(pending) > 2 * workers:
                item, info, fut = pending.popleft()
                yield item, info, fut.result() if fut else None
        while pending:
            item, info, fut = pending.popleft()
            yield item, info, fut.result() if fut else None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _write_records(writer, items: Sequence[Item], stream: Iterator, skip_bad: bool, pbar) -> dict[str, Any]:
    """Writes the next len(items) results of `stream`; returns the shard's frame count, sizes, scenes, skips."""
    count, skipped, sizes, scenes = 0, [], Counter(), set()
    for expected in items:
        item, info, data = next(stream)
        assert item is expected, (item, expected)
        if isinstance(info, BadInputError):
            if not skip_bad:
                raise info
            log.warning("skipping bad input %s", info)
            skipped.append({"file": info.path, "error": info.reason})
        else:
            writer.write(data)
            count += 1
            height, width, scene = info
            sizes[f"{height}x{width}"] += 1
            scenes.add(scene)
        if pbar is not None:
            pbar.update(1)
            if skipped:
                pbar.bad_count = getattr(pbar, "bad_count", 0) + (1 if isinstance(info, BadInputError) else 0)
                pbar.set_postfix(bad=pbar.bad_count, refresh=False)
    return {"num_frames": count, "frame_sizes": dict(sizes), "scenes": sorted(scenes), "skipped": skipped}


def write_shard(
    split_dir: str,
    name: str,
    items: Sequence[Item],
    stream: Iterator,
    *,
    digest: str,
    config: dict[str, Any],
    inputs: str = "",
    skip_bad: bool = False,
    pbar=None,
) -> dict[str, Any]:
    """Writes one shard from the next len(items) results of `stream` (see :func:`encoded`): .tmp, fsync,
    sha256, rename, then its .done marker (returned)."""
    import tensorflow as tf

    path = os.path.join(split_dir, name)
    tmp = path + TMP_SUFFIX
    writer = tf.io.TFRecordWriter(tmp)
    try:
        content = _write_records(writer, items, stream, skip_bad, pbar)
        writer.close()
        fsync_file(tmp)
        sha, size = sha256_file(tmp)
        os.replace(tmp, path)
        fsync_dir(split_dir)
    except BaseException:
        writer.close()
        remove(tmp)
        raise
    marker = {
        "file": name,
        "num_frames": content["num_frames"],
        "sha256": sha,
        "bytes": size,
        "frame_sizes": content["frame_sizes"],
        "scenes": content["scenes"],
        "skipped": content["skipped"],
        "config_digest": digest,
        "config": config,
        "inputs": inputs,
    }
    write_json_atomic(path + DONE_SUFFIX, marker)
    return marker


def split_manifest(
    markers: Sequence[dict], *, source: str, split: str, source_split: str, depth_scale: float
) -> dict[str, Any]:
    """The manifest keys every written split has, from its shards' markers (in shard order)."""
    sizes: Counter = Counter()
    scenes: set[str] = set()
    for m in markers:
        sizes.update(m["frame_sizes"])
        scenes.update(m["scenes"])
    size_list = [[int(v) for v in s.split("x")] for s in sizes]
    skipped = [s for m in markers for s in m["skipped"]]
    far = records.MAX_STORED_VALUE / depth_scale
    encoding = f"uint16 PNG, metres = value / {depth_scale:g}; 0 = invalid (missing, non-finite, <= 0 or > {far:g} m)"
    return {
        "source": source,
        "split": split,
        "source_split": source_split,
        "num_frames": sum(m["num_frames"] for m in markers),
        "depth_unit": "metres",
        "depth_scale": depth_scale,
        "depth_encoding": encoding,
        "frame_size": size_list[0] if len(size_list) == 1 else None,
        "frame_sizes": dict(sizes),
        "shards": [{k: m[k] for k in ("file", "num_frames", "sha256", "bytes")} for m in markers],
        "skipped_bad": len(skipped),
        "skipped_files": skipped,
        "num_scenes": len(scenes - {""}),
        "scenes": sorted(scenes - {""}),
    }
