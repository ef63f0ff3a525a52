"""The output folder: checked before anything is written, and write failures as one clear message.

:func:`check_writable` runs after the inputs are listed and before the first write: a file standing
where a folder must be, a folder that cannot be written (read-only file system, no permission), or a
split folder that is a symbolic link (a replacement renames the split folder: it would rename the link
and move the user's files out of its target) is refused with what to do. :func:`translated` turns the
errors of the writes themselves (a full disk, a quota, a folder made read-only midway; Python's
``OSError`` or TensorFlow's file errors) into an :class:`OutputError` saying that finished shards are
kept and how to go on.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator

from data_prep.readers import PrepareError

_RESUME = "finished shards are kept: re-run the same command to resume"


class OutputError(PrepareError):
    """The output folder cannot be written (exit status 2)."""


def _nearest_existing(path: str) -> str:
    path = os.path.abspath(path)
    while not os.path.lexists(path):
        path = os.path.dirname(path)
    return path


def check_not_link(split_dir: str) -> None:
    """Refuses a split folder that is a symbolic link (the output folder above it may be one)."""
    if os.path.islink(split_dir):
        real, split = os.path.realpath(split_dir), os.path.basename(os.path.abspath(split_dir))
        same_name = os.path.basename(real) == split
        instead = f"pass --output_dir={os.path.dirname(real)}" if same_name else "link the output folder instead"
        raise OutputError(
            f"{split_dir} is a symbolic link (to {real}); depthnet-prepare replaces a split folder by renaming it, "
            f"which would move your files out of the link's target: {instead}, or remove the link"
        )


def check_writable(output_dir: str, split_dir: str) -> None:
    """Refuses a split folder that cannot be created or written, or is a link, before anything is written."""
    check_not_link(split_dir)
    path = os.path.abspath(split_dir)
    existing = _nearest_existing(path)
    if not os.path.isdir(existing):
        raise OutputError(
            f"{existing} is a file, but output_dir needs a folder there for {split_dir}; "
            "move or rename that file, or choose another --output_dir"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write to {existing} ({_why_not_writable(existing)}); choose another --output_dir")


def _why_not_writable(path: str) -> str:
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except OSError:
        pass
    return "no write permission"


def free_mb(path: str) -> str:
    try:
        return f"{shutil.disk_usage(_nearest_existing(path)).free / 1e6:.1f} MB free"
    except OSError:
        return "free space unknown"


def _os_errno(e: BaseException) -> int | None:
    """The errno of an OSError, or of a TensorFlow file error (which carries only its message)."""
    if isinstance(e, OSError):
        return e.errno
    text = str(e)
    for code in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.ENOTDIR, errno.EFBIG):
        if os.strerror(code) in text:
            return code
    return None


def message(e: BaseException, split_dir: str) -> str | None:
    """The one-line message for a write failure in `split_dir`, or None when it is not one."""
    code = _os_errno(e)
    where = getattr(e, "filename", None) or split_dir
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        what = "disk full" if code == errno.ENOSPC else os.strerror(code).lower()
        return (
            f"{what} while writing {where} ({free_mb(split_dir)}); {_RESUME} after freeing space, "
            "or convert into another --output_dir"
        )
    if code in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"cannot write {where} ({os.strerror(code).lower()}); choose a writable --output_dir ({_RESUME})"
    if code == errno.ENOTDIR:
        return f"a file stands where a folder must be in {where}; move it or choose another --output_dir"
    return None


@contextlib.contextmanager
def translated(split_dir: str) -> Iterator[None]:
    """Re-raises write failures in `split_dir` as OutputError (other errors pass unchanged)."""
    try:
        yield
    except PrepareError:
        raise
    except Exception as e:
        if not (isinstance(e, OSError) or type(e).__module__.startswith("tensorflow")):
            raise
        text = message(e, split_dir)
        if text is None:
            raise
        raise OutputError(text) from e
