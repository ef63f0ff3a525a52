"""The hidden sibling folders of an atomic export: normal permissions, and cleaning those a killed export left.

An export writes `.<name>.<kind>-<host>-<pid>-<random>` beside `<name>` (kind: `tmp` the new model,
`assets` its staged metadata, `old` the replaced model) and renames it into place.

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


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_stale(path: str, suffix: str) -> bool:
    parts = suffix.split("-")
    if len(parts) >= 3 and parts[0] == _host() and parts[1].isdigit():
        return not _process_alive(int(parts[1]))
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
