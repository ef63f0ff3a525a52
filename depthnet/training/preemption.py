"""Preemption: SIGTERM (schedulers, `timeout`, `docker stop`, Kubernetes) asks training to stop cleanly.

As Keras' BackupAndRestore and Orbit's preemption handling do, the signal only sets a flag; the
training loop checks it after each step, saves a checkpoint and stops (:class:`Preempted`, exit status
:data:`EXIT_PREEMPTED` = 128 + SIGTERM, the status a shell reports for a process ended by SIGTERM).
Re-running the same command resumes from that checkpoint. SIGINT (Ctrl-C) keeps Python's
KeyboardInterrupt, which the loop handles the same way.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from depthnet.errors import DepthNetError

EXIT_PREEMPTED = 128 + int(signal.SIGTERM)


class Preempted(DepthNetError):
    """Training was asked to stop by SIGTERM; a checkpoint was saved."""

    exit_code = EXIT_PREEMPTED


class PreemptionWatcher:
    """Context manager: while active, SIGTERM sets `requested` instead of killing the process.

    Only the main thread can install signal handlers; elsewhere (e.g. a test runner's worker thread)
    the watcher does nothing and `requested` stays False.
    """

    def __init__(self, signals: tuple[int, ...] = (signal.SIGTERM,)):
        self.signals = signals
        self.requested = False
        self.signal_name = ""
        self._previous: dict[int, Any] = {}

    def _handle(self, signum, frame) -> None:
        self.requested = True
        self.signal_name = signal.Signals(signum).name

    def __enter__(self) -> PreemptionWatcher:
        if threading.current_thread() is threading.main_thread():
            for signum in self.signals:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
