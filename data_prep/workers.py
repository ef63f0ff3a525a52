"""A process pool whose workers die with the process that started them.

A spawned :class:`concurrent.futures.ProcessPoolExecutor` worker waits on its task queue forever: when
its parent is killed (``kill -9``, or SIGTERM's default action) the workers, each holding a
TensorFlow import (~600 MB), and multiprocessing's resource tracker used to stay alive as orphans.
Here every worker asks the kernel to kill it when its parent dies (Linux ``PR_SET_PDEATHSIG``) and
also polls its parent id (every other POSIX system, and a parent that died before the request), so
it exits within a second of its parent. Once the workers are gone the resource tracker reads
end-of-file and exits too. Workers ignore SIGINT: the parent handles Ctrl-C and shuts the pool down.
A pool whose workers import TensorFlow (``imports_tensorflow=True``: the PNG encoders) runs
:data:`TENSORFLOW_IMPORT` first in each, when a tool set it: ``depthnet-prepare`` sets its quiet import,
so the workers' TensorFlow C++ start-up lines do not reach the terminal either.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Optional

PARENT_POLL_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1
# Run first in each worker of a pool that imports TensorFlow (picklable: a module-level function).
TENSORFLOW_IMPORT: Optional[Callable[[], None]] = None


def _request_death_signal() -> None:
    """Linux: SIGKILL this process when the thread that started it exits."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the poll below still ends the worker
        pass


def _watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(PARENT_POLL_SECONDS)


def die_with_parent(parent_pid: int) -> None:
    """Worker initializer: exit as soon as `parent_pid` is no longer this process's parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _request_death_signal()
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="watch-parent", daemon=True).start()


def _start(parent_pid: int, setup: Optional[Callable[[], None]]) -> None:
    die_with_parent(parent_pid)
    if setup is not None:
        setup()


def pool(workers: int, imports_tensorflow: bool = False) -> ProcessPoolExecutor:
    """`workers` spawned processes that die with this one (running :data:`TENSORFLOW_IMPORT` first in each
    with `imports_tensorflow`)."""
    import multiprocessing

    setup = TENSORFLOW_IMPORT if imports_tensorflow else None
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start,
        initargs=(os.getpid(), setup),
    )
