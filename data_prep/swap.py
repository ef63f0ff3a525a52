"""Replacing a finished split only when its replacement is complete (as TFDS's atomic writes do).

A run that would change a complete split (``overwrite``, or shards to redo because their inputs
changed or frames were skipped) writes the new split beside it, in ``<output_dir>/.<split>.incoming-
<digest>/``; it resumes there when killed. Only when that folder holds a complete split (manifest
written last) are the two swapped by two renames:

    <split>/ -> .<split>.replaced/,   .<split>.incoming-<digest>/ -> <split>/

then files the user kept in the old folder (not ours) move into the new one and the old folder is
deleted. A run killed between the renames is repaired by the next run (:func:`recover`): the old
split is put back, or the swap finished. The old conversion is never deleted before the new one is
complete, so a failed or killed re-run leaves it as it was (which needs the disk space of both).
Nothing is ever moved out of, or deleted through, a symbolic link: a linked split folder is refused
(:func:`data_prep.output_dir.check_not_link`), and so is a ``.<split>.replaced`` link that an older
version left behind.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable

from data_prep import shards
from data_prep.output_dir import OutputError, check_not_link

log = logging.getLogger("depthnet.prepare")


def _parts(split_dir: str) -> tuple[str, str]:
    parent, name = os.path.split(os.path.abspath(split_dir))
    return parent, name


def staging_dir(split_dir: str, digest: str) -> str:
    """Where the replacement of `split_dir` made by the conversion `digest` is built."""
    parent, name = _parts(split_dir)
    return os.path.join(parent, f".{name}.incoming-{digest[:12]}")


def replaced_dir(split_dir: str) -> str:
    parent, name = _parts(split_dir)
    return os.path.join(parent, f".{name}.replaced")


def remove_staging(split_dir: str, keep: str = "") -> None:
    """Deletes replacements left by earlier interrupted runs (all but `keep`)."""
    parent, name = _parts(split_dir)
    if not os.path.isdir(parent):
        return
    for entry in os.listdir(parent):
        path = os.path.join(parent, entry)
        if entry.startswith(f".{name}.incoming-") and os.path.abspath(keep) != path and os.path.isdir(path):
            log.info("removing %s, left by an interrupted run with other options", path)
            shutil.rmtree(path, ignore_errors=True)


def link_shards(src: str, dst: str, shard_names: Iterable[str]) -> None:
    """Hard-links (or copies) finished shards and their markers from `src` into `dst`. Shards and markers
    are only ever replaced by renames, never changed in place, so the two folders cannot affect each other."""
    for shard in shard_names:
        for name in (shard, shard + shards.DONE_SUFFIX):
            target = os.path.join(dst, name)
            shards.remove(target)
            try:
                os.link(os.path.join(src, name), target)
            except OSError:
                shutil.copy2(os.path.join(src, name), target)


def _refuse_link(old: str) -> None:
    if os.path.islink(old):
        raise OutputError(
            f"{old} is a symbolic link (to {os.path.realpath(old)}), left by an older depthnet-prepare that replaced "
            "a linked split folder; nothing is moved out of or deleted through it: check the files of its target, "
            f"then remove the link (rm {old}) and re-run"
        )


def _finish(split_dir: str, old: str) -> None:
    """Moves what the user kept in the old split folder into the new one, then deletes the old folder."""
    _refuse_link(old)
    ours = set(shards.our_files(old, os.path.basename(os.path.abspath(split_dir))))
    for entry in os.listdir(old):
        if entry not in ours and not os.path.lexists(os.path.join(split_dir, entry)):
            os.rename(os.path.join(old, entry), os.path.join(split_dir, entry))
    shutil.rmtree(old)


def replace(split_dir: str, staging: str) -> None:
    """Puts the complete split in `staging` in place of `split_dir` (two renames)."""
    check_not_link(split_dir)
    old = replaced_dir(split_dir)
    if os.path.lexists(old):
        recover(split_dir)
    if os.path.lexists(split_dir):
        os.rename(split_dir, old)
    os.rename(staging, split_dir)
    shards.fsync_dir(os.path.dirname(os.path.abspath(split_dir)))
    if os.path.lexists(old):
        _finish(split_dir, old)


def recover(split_dir: str) -> None:
    """Repairs a swap interrupted between its renames: the old split back, or the swap finished."""
    old = replaced_dir(split_dir)
    _refuse_link(old)
    if not os.path.isdir(old):
        return
    if not os.path.lexists(split_dir):
        os.rename(old, split_dir)
        log.warning("%s: a replacement was interrupted before it was complete; the previous split is back", split_dir)
    else:
        _finish(split_dir, old)
