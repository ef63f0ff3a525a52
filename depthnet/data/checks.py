"""Checks of prepared data before training or evaluation reads it, and errors that name the shard.

- :func:`check_splits`: every split's manifest is there, passes :func:`records.check_manifest` (shards
  inside the split folder, numbers in range) and lists existing shards; with
  `verify='on'` each shard's sha256 is compared with the manifest once, before the first epoch
  (hashing reads every byte once: ~1-2 s per GB; `verify='off'` for huge sets).
- :class:`NamedReadErrors`: wraps a dataset so that a read or decode error of the pipeline (which
  TensorFlow reports without a file name) becomes one :class:`DataIntegrityError` naming the shard
  that fails, found by reading the split's shards one by one.
- :func:`splits_under`: the prepared splits inside a data root, for hints such as "pass --data_dir=data/test".
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Optional

import tensorflow as tf

from depthnet.data import records
from depthnet.errors import InputError

VERIFY_CHOICES = ("on", "off")
_CHUNK = 1 << 20


class DataIntegrityError(InputError):
    """A prepared split whose files do not match its manifest or cannot be read; the message names the file."""


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_split(split_dir: str) -> int:
    """Compares every shard's sha256 with the manifest; returns the number of shards checked."""
    manifest = records.read_manifest(split_dir)  # every shard inside split_dir
    for shard in manifest["shards"]:
        path = os.path.join(split_dir, shard["file"])
        if not os.path.isfile(path):  # a folder, or a link to a FIFO or a device, which hashing would never finish
            raise DataIntegrityError(f"shard {path} is not a regular file; re-run depthnet-prepare for this split")
        expected = str(shard.get("sha256") or "")
        actual = sha256_of(path)
        if actual != expected:
            raise DataIntegrityError(
                f"shard {path} does not match its manifest (sha256 {actual[:16]}..., manifest "
                f"{expected[:16] or 'none'}...): it is corrupt or was changed after depthnet-prepare wrote it. "
                f"Re-run depthnet-prepare for this split, or skip the check with verify='off' (--verify=off)"
            )
    return len(manifest["shards"])


def check_splits(split_dirs: Sequence[str], verify: str = "on", log=None) -> None:
    """Each split's manifest and shards exist (records.read_manifest's errors say what to do); with
    verify='on' their checksums match."""
    if verify not in VERIFY_CHOICES:
        raise InputError(f"verify must be one of {VERIFY_CHOICES}, got {verify!r}")
    for split_dir in dict.fromkeys(split_dirs):
        records.read_manifest(split_dir)
    if verify == "on":
        for split_dir in dict.fromkeys(split_dirs):
            count = verify_split(split_dir)
            if log:
                log(f"verified {count} shard(s) of {split_dir} against the manifest's sha256")


def find_unreadable_shard(split_dir: str) -> Optional[tuple[str, str]]:
    """(shard path, error) of the first shard that does not read and parse completely, or None."""
    for path in records.shard_paths(split_dir):
        try:
            for _ in tf.data.TFRecordDataset(path).map(records.parse_example):
                pass
        except tf.errors.OpError as e:
            return path, (e.message or type(e).__name__).strip().splitlines()[0]
    return None


def read_error(split_dir: str, error: Exception) -> DataIntegrityError:
    """The error for a failed read of `split_dir`, naming the shard that fails."""
    found = find_unreadable_shard(split_dir)
    if found:
        path, message = found
        return DataIntegrityError(
            f"cannot read shard {path} ({message}); re-run depthnet-prepare for {split_dir} "
            f"(its manifest checksums are checked unless verify='off')"
        )
    text = (getattr(error, "message", None) or str(error)).strip().splitlines()[0]
    return DataIntegrityError(f"reading {split_dir} failed ({text}); re-run depthnet-prepare for it")


class NamedReadErrors:
    """An iterable over `dataset` whose read/decode errors become :func:`read_error` of `split_dir`."""

    def __init__(self, dataset: Iterable[Any], split_dir: str):
        self.dataset, self.split_dir = dataset, split_dir

    def __iter__(self) -> Iterator[Any]:
        iterator = iter(self.dataset)
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                return
            except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
                raise read_error(self.split_dir, e) from e
            yield item


def splits_under(root: str) -> list[str]:
    """Sub-folders of `root` that hold a prepared split (a manifest), sorted."""
    if not os.path.isdir(root):
        return []
    return sorted(
        os.path.join(root, name)
        for name in os.listdir(root)
        if os.path.exists(os.path.join(root, name, records.MANIFEST_NAME))
    )
