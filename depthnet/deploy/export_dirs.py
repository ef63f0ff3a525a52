"""The folders of an export: one per format, each replaced atomically; hidden temporaries and their cleaning.

An export writes `.<name>.<kind>-<host>-<pid>-<random>` beside `<name>` (kind: `tmp` the new model,
`assets` its staged metadata, `old` the replaced model) and renames it into place (:func:`replace_dir`):
only `<name>` changes, every sibling (the other formats, the user's files) is left as it was. A
format's folder holds only what the exporter writes there (:func:`check_replaceable`); a folder
holding anything else is refused, so replacing it never loses a file of the user's.

- :func:`make_temp_dir` creates one with the permissions of a normal folder (`0777 & ~umask`, e.g.
  0755), not `mkdtemp`'s 0700: TensorFlow Serving often runs as another user and must read the model.
- :func:`clean_stale` removes the ones a killed export left (`kill -9`, power loss): those of this
  host whose process is gone, and any (also from other hosts or older versions without a pid in the
  name) not modified for :data:`STALE_AGE_S` seconds. An export running elsewhere is left alone.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterable

from depthnet.folder_lock import process_alive

KINDS = ("tmp", "assets", "old")
STALE_AGE_S = 24 * 3600


def _host() -> str:
    return socket.gethostname().replace("-", "_").replace(".", "_") or "host"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_temp_dir(parent: str, name: str, kind: str) -> str:
    """A new empty hidden folder beside `<parent>/<name>`, readable like a normal folder."""
    path = tempfile.mkdtemp(prefix=f".{name}.{kind}-{_host()}-{os.getpid()}-", dir=parent)
    os.chmod(path, 0o777 & ~_umask())
    return path


def _is_stale(path: str, suffix: str) -> bool:
    parts = suffix.split("-")
    if len(parts) >= 3 and parts[0] == _host() and parts[1].isdigit():
        return not process_alive(int(parts[1]))
    try:
        return time.time() - os.path.getmtime(path) > STALE_AGE_S
    except OSError:
        return False


def clean_stale(parent: str, name: str) -> list[str]:
    """Removes the stale hidden folders of exports to `<parent>/<name>` (module docstring); returns them."""
    removed = []
    if not os.path.isdir(parent):
        return removed
    for entry in sorted(os.listdir(parent)):
        for kind in KINDS:
            prefix = f".{name}.{kind}-"
            path = os.path.join(parent, entry)
            if entry.startswith(prefix) and os.path.isdir(path) and _is_stale(path, entry[len(prefix) :]):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def foreign_entries(folder: str, owned: Iterable[str]) -> list[str]:
    """The entries of `folder` the exporter does not write there (sorted; [] when it does not exist)."""
    if not os.path.isdir(folder):
        return []
    return sorted(set(os.listdir(folder)) - set(owned))


def check_replaceable(folder: str, owned: Iterable[str]) -> None:
    """FileExistsError when `folder` is a file, or a folder holding entries other than `owned`."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise FileExistsError(f"{folder!r} exists and is a file; move it or choose another export_dir")
    foreign = foreign_entries(folder, owned)
    if foreign:
        raise FileExistsError(
            f"{folder!r} holds {', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''}, which depthnet-export "
            f"did not write there; refusing to replace the folder (they would be lost): move them out or choose "
            f"another export_dir"
        )


def replace_dir(tmp: str, target: str) -> None:
    """Renames the finished folder `tmp` onto `target`; an old `target` is moved aside first (put back if the
    rename fails) and removed only once the new one is in place. Nothing beside `target` is touched."""
    if not os.path.exists(target):
        os.rename(tmp, target)
        return
    parent, name = os.path.split(os.path.abspath(target))
    old = make_temp_dir(parent, name, "old")
    os.rmdir(old)
    os.rename(target, old)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
