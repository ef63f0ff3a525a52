"""An advisory lock on a folder: one process writes it at a time (a run folder, a split being prepared).

    with folder_lock(model_dir, "training", hint="wait for it to finish, or use another model_dir"):
        ...

The lock is `fcntl.flock` on a lock file (:data:`LOCK_NAME` inside the folder, or another name) holding the
holder's pid, host, tool and start time as JSON. A second process is refused with one line naming the
holder (:class:`depthnet.errors.FolderLockedError`, exit status 2). The kernel releases a flock when its
holder dies, so a killed holder's file is simply taken over; when the flock is still held but the recorded
pid is gone on this host (a child that inherited the descriptor outlived it), the file is replaced. A holder
on another host is never second-guessed. The holder deletes the file when done (and a folder it created,
when empty). Re-entrant within a process; advisory only (tools that do not take it are not stopped).
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, Optional

from depthnet.errors import FolderLockedError

__all__ = ["LOCK_NAME", "FolderLockedError", "folder_lock", "read_holder"]

LOCK_NAME = ".depthnet.lock"
_HELD: dict[str, int] = {}  # lock file (real path) -> how many times this process holds it
_WAIT_FOR_CONTENT_S = 2.0  # a holder writes its record right after taking the flock


def read_holder(path: str) -> Optional[dict[str, Any]]:
    """The record in lock file `path` ({pid, host, tool, since, ...}), or None when absent or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            holder = json.load(f)
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) and isinstance(holder.get("pid"), int) else None


def process_alive(pid: int) -> bool:
    """Whether process `pid` of this host is running (one we may not signal counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead_here(holder: Optional[dict[str, Any]]) -> bool:
    """Whether the recorded holder is a process of this host that is no longer running."""
    return bool(holder) and holder.get("host") == socket.gethostname() and not process_alive(int(holder["pid"]))


def _describe(holder: dict[str, Any]) -> str:
    return (
        f"{holder.get('tool') or 'a process'} (pid {holder['pid']} on {holder.get('host') or 'an unknown host'}, "
        f"since {holder.get('since') or 'an unknown time'})"
    )


def _refusal(folder: str, path: str, holder: Optional[dict[str, Any]], purpose: str, hint: str) -> FolderLockedError:
    who = _describe(holder) if holder else "another process (it has not written its pid yet)"
    text = f"{folder} is in use: {purpose} by {who}"
    if holder and holder.get("host") != socket.gethostname():
        text += f"; if that process is gone, delete {path}"
    return FolderLockedError(text + (f"; {hint}" if hint else ""))


def _same_file(fd: int, path: str) -> bool:
    """Whether `path` still names the file open as `fd` (not unlinked or replaced by its holder meanwhile)."""
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _try_flock(path: str) -> tuple[Optional[int], Optional[dict[str, Any]]]:
    """(descriptor holding the flock of `path`'s current file, None) or (None, the holder's record)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            os.close(fd)
            raise
        holder = read_holder(path)
        if _dead_here(holder) and _same_file(fd, path):
            os.unlink(path)  # an orphan keeps the old file's flock; the next try makes a fresh file
        os.close(fd)
        return None, holder
    if not _same_file(fd, path):
        os.close(fd)
        return None, {}
    return fd, None


def _acquire(folder: str, path: str, tool: str, purpose: str, hint: str, log) -> int:
    """Takes the flock of `path` and writes this process's record; returns the descriptor."""
    deadline = time.monotonic() + _WAIT_FOR_CONTENT_S
    previous = read_holder(path)
    while True:
        fd, holder = _try_flock(path)
        if fd is not None:
            break
        if holder and not _dead_here(holder):
            raise _refusal(folder, path, holder, purpose, hint)
        if time.monotonic() > deadline:
            raise _refusal(folder, path, holder or None, purpose, hint)
        previous = holder or previous
        time.sleep(0.05)
    if previous and int(previous["pid"]) != os.getpid() and log:
        log(f"{folder}: took over the lock left by {_describe(previous)}, which no longer holds it")
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "tool": tool,
        "purpose": purpose,
        "since": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "argv": sys.argv,
    }
    os.ftruncate(fd, 0)
    os.write(fd, (json.dumps(record) + "\n").encode("utf-8"))
    return fd


def _made_folders(folder: str) -> list[str]:
    """The folders `os.makedirs(folder)` creates, deepest first."""
    made, path = [], os.path.abspath(folder)
    while not os.path.lexists(path):
        made.append(path)
        path = os.path.dirname(path)
    return made


@contextlib.contextmanager
def folder_lock(
    folder: str,
    purpose: str,
    hint: str = "",
    name: str = LOCK_NAME,
    log: Optional[Callable[[str], None]] = None,
    subject: str = "",
) -> Iterator[str]:
    """Holds the lock of `folder` (created if missing) while the block runs; yields the lock file's path.

    `purpose` says what the holder does ("training"); `hint` what a refused user can do; `log` is told of a
    takeover; `subject` names what is locked in messages (default `folder`). Raises FolderLockedError when
    another live process holds it (module docstring).
    """
    made = _made_folders(folder)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(os.path.realpath(folder), name)
    if path in _HELD:
        _HELD[path] += 1
        try:
            yield path
        finally:
            _HELD[path] -= 1
        return
    tool = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    try:
        fd = _acquire(subject or folder, path, tool, purpose, hint, log)
    except BaseException:
        _remove_empty(made)
        raise
    _HELD[path] = 1
    try:
        yield path
    finally:
        del _HELD[path]
        if _same_file(fd, path):
            os.unlink(path)  # while still holding it: the next process makes a fresh file
        os.close(fd)
        _remove_empty(made)


def _remove_empty(made: list[str]) -> None:
    for path in made:
        try:
            os.rmdir(path)
        except OSError:
            return
