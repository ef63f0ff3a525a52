"""Saving a checkpoint when the disk is full (or the folder read-only): one message, nothing earlier lost.

TensorFlow reports a full disk as `ResourceExhaustedError: ... No space left on device` and leaves the
half-written `<prefix>_temp/` behind. :func:`save_checkpoint` removes what the failed save wrote (never a
file that was there before), keeps every earlier checkpoint and the checkpoint list as they were, and
raises :class:`depthnet.errors.SaveError` (exit status 2) saying how to resume.
"""

from __future__ import annotations

import errno
import glob
import os
import shutil
from typing import Optional

import tensorflow as tf

from depthnet.errors import SaveError

_CODES = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES)


def _write_errno(e: BaseException) -> Optional[int]:
    """The errno of a failed write: an OSError's, or the one a TensorFlow error names in its message."""
    if isinstance(e, OSError):
        return e.errno if e.errno in _CODES else None
    text = getattr(e, "message", None) or str(e)
    return next((code for code in _CODES if os.strerror(code) in text), None)


def _free(directory: str) -> str:
    path = os.path.abspath(directory)
    while not os.path.isdir(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    try:
        return f"{shutil.disk_usage(path).free / 1e6:.1f} MB free"
    except OSError:
        return "free space unknown"


def _remove_partial(prefix: str, before: set[str]) -> None:
    """Deletes the files and folders a failed save of `prefix` left (those not there before it)."""
    for path in set(glob.glob(glob.escape(prefix) + "[._]*")) - before:
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.remove(path)
            except OSError:
                pass


def save_checkpoint(manager, step: int, resume_from: Optional[str] = None) -> Optional[str]:
    """`manager.save(checkpoint_number=step)`; a full disk or unwritable folder becomes one SaveError.

    `resume_from`: the checkpoint a re-run resumes from, named in the message (default: the manager's latest).
    """
    prefix = os.path.join(manager.directory, f"ckpt-{step}")
    before = set(glob.glob(glob.escape(prefix) + "[._]*"))
    try:
        return manager.save(checkpoint_number=step)
    except (OSError, tf.errors.OpError) as e:
        code = _write_errno(e)
        if code is None:
            raise
        _remove_partial(prefix, before)
        latest = resume_from or manager.latest_checkpoint
        what = "disk full" if code == errno.ENOSPC else os.strerror(code).lower()
        kept = (
            f"the earlier checkpoints are intact: re-run the same command to resume from {latest}"
            if latest
            else "no checkpoint was saved yet: re-run the same command to start again"
        )
        raise SaveError(
            f"{what} while saving checkpoint {prefix} ({_free(manager.directory)}); {kept} after freeing space"
        ) from e
