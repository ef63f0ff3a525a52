"""Atomic shard writing: ``.tmp`` + fsync + sha256 + rename, ``.done`` markers, the manifest, resume checks.

Each shard is written to ``<name>.tmp``, fsynced, hashed and renamed; then its ``.done`` marker
(sha256, frame count, the options that made it) is written. A rerun with the same options skips
every shard whose marker and sha256 match, so a run killed midway resumes where it stopped and
produces byte-identical shards. A rerun with different options (or a changed frame list) over an
existing output is refused unless ``overwrite``. The manifest is written last (atomically), so its
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
from depthnet import records

log = logging.getLogger("depthnet.prepare")

DONE_SUFFIX = ".done"
TMP_SUFFIX = ".tmp"
_REFUSE = (
    "{dir} already holds a different conversion ({why}). Pass --overwrite to replace it, or use another --output_dir."
)


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


# ---------------------------------------------------------------------------------------------- resume checks


def flag_diff(old: Optional[dict], new: dict) -> str:
    """What differs between the options an output was made with and this run's."""
    if not isinstance(old, dict):
        return "it was not made by this version of depthnet-prepare"
    keys = sorted(set(old) | set(new))
    diffs = [f"--{k}: {old.get(k)!r} before, {new.get(k)!r} now" for k in keys if old.get(k) != new.get(k)]
    return "; ".join(diffs) if diffs else "the frame list differs (the input's files changed)"


def marker_valid(
    split_dir: str, shard: str, digest: str, marker: Optional[dict] = None, expect_sha: Optional[str] = None
) -> bool:
    """Whether `shard` exists, was made by this run's options and still has its marker's size and sha256."""
    marker = marker or read_json(os.path.join(split_dir, shard + DONE_SUFFIX))
    path = os.path.join(split_dir, shard)
    if not marker or marker.get("config_digest") != digest or not os.path.exists(path):
        return False
    if os.path.getsize(path) != marker.get("bytes") or (expect_sha and expect_sha != marker.get("sha256")):
        return False
    sha, _ = sha256_file(path)
    if sha != marker.get("sha256"):
        log.warning("%s does not match its .done marker (sha256); rewriting it", path)
        return False
    return True


def _complete_manifest(split_dir: str, names: Sequence[str], digest: str, config: dict) -> Optional[dict]:
    """The existing manifest when it is this run's and all its shards are intact; refuses another run's."""
    manifest_path = os.path.join(split_dir, records.MANIFEST_NAME)
    manifest = read_json(manifest_path)
    if manifest is None or manifest.get("config_digest") != digest:
        why = flag_diff((manifest or {}).get("config"), config)
        raise OutputExistsError(_REFUSE.format(dir=split_dir, why=why))
    shards = manifest.get("shards", [])
    if [s["file"] for s in shards] == list(names) and all(
        marker_valid(split_dir, s["file"], digest, expect_sha=s.get("sha256")) for s in shards
    ):
        return manifest
    log.warning("%s: manifest present but some shards are missing or changed; rewriting those", split_dir)
    remove(manifest_path)
    return None


def check_existing(
    split_dir: str, split: str, names: Sequence[str], digest: str, config: dict
) -> tuple[Optional[dict], dict[str, dict]]:
    """Returns (complete manifest or None, valid done markers by shard name); refuses foreign output."""
    files = our_files(split_dir, split)
    if records.MANIFEST_NAME in files:
        complete = _complete_manifest(split_dir, names, digest, config)
        if complete is not None:
            return complete, {}
    markers = {}
    for name in files:
        if name.endswith(TMP_SUFFIX) or name.startswith(records.MANIFEST_NAME):
            continue
        shard = name[: -len(DONE_SUFFIX)] if name.endswith(DONE_SUFFIX) else name
        if shard not in names:
            why = f"{name} is not one of this run's {len(names)} shards"
            raise OutputExistsError(_REFUSE.format(dir=split_dir, why=why))
        if name.endswith(DONE_SUFFIX):
            marker = read_json(os.path.join(split_dir, name))
            if marker is not None and marker.get("config_digest") != digest:
                raise OutputExistsError(_REFUSE.format(dir=split_dir, why=flag_diff(marker.get("config"), config)))
            if marker is not None and marker_valid(split_dir, shard, digest, marker=marker):
                markers[shard] = marker
    return None, markers


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
    order. PNG encoding (the slow part) runs in `workers` spawned processes when workers > 1; the
    bytes are identical either way."""
    encode_frame = functools.partial(encode, depth_scale=depth_scale)
    if workers <= 1:
        for item, result in stream:
            if isinstance(result, BadInputError):
                yield item, result, None
            else:
                yield item, _info(result), encode_frame(result)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
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
