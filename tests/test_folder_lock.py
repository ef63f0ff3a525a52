"""depthnet.folder_lock: one process at a time in a folder; a dead holder's lock is taken over."""

import fcntl
import json
import multiprocessing
import os
import socket
import subprocess

import pytest

from depthnet.errors import DepthNetError
from depthnet.folder_lock import LOCK_NAME, FolderLockedError, folder_lock, read_holder


def _dead_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _hold(folder, started, stop):
    with folder_lock(str(folder), "test holder"):
        started.set()
        stop.wait(60)


def test_a_folder_held_by_another_process_is_refused_with_its_holder(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    started, stop = ctx.Event(), ctx.Event()
    other = ctx.Process(target=_hold, args=(tmp_path, started, stop))
    other.start()
    try:
        assert started.wait(60)
        with pytest.raises(FolderLockedError) as caught, folder_lock(str(tmp_path), "me", hint="wait for it"):
            pass
        holder = read_holder(str(tmp_path / LOCK_NAME))
    finally:
        stop.set()
        other.join(60)
    message = str(caught.value)
    assert isinstance(caught.value, DepthNetError) and caught.value.exit_code == 2 and "\n" not in message
    assert f"pid {other.pid} on {socket.gethostname()}" in message and "since" in message and "wait for it" in message
    assert holder["pid"] == other.pid and holder["purpose"] == "test holder" and holder["host"] == socket.gethostname()
    with folder_lock(str(tmp_path), "me"):  # free once the holder is gone
        assert read_holder(str(tmp_path / LOCK_NAME))["pid"] == os.getpid()
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_killed_holders_lock_is_free(tmp_path):
    """flock is released by the kernel when the holder dies (kill -9): the file it left is taken over."""
    script = (
        "import os, sys, time; from depthnet.folder_lock import folder_lock\n"
        "with folder_lock(sys.argv[1], 'victim'):\n    print('held', flush=True); time.sleep(600)\n"
    )
    victim = subprocess.Popen(["python", "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert victim.stdout.readline().strip() == "held"
    victim.kill()
    victim.wait()
    assert read_holder(str(tmp_path / LOCK_NAME))["pid"] == victim.pid  # the file is still there
    notes = []
    with folder_lock(str(tmp_path), "me", log=notes.append):
        assert read_holder(str(tmp_path / LOCK_NAME))["pid"] == os.getpid()
    assert len(notes) == 1 and f"pid {victim.pid}" in notes[0] and "took over" in notes[0]


def test_a_flock_kept_by_a_dead_holders_child_is_broken(tmp_path):
    lock = tmp_path / LOCK_NAME
    pid = _dead_pid()
    lock.write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "tool": "x", "since": "then"}))
    fd = os.open(lock, os.O_RDWR)  # the orphan: still holds the flock of the dead process's file
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        notes = []
        with folder_lock(str(tmp_path), "me", log=notes.append):
            assert read_holder(str(lock))["pid"] == os.getpid()
        assert any(f"pid {pid}" in note for note in notes), notes
    finally:
        os.close(fd)


def test_a_holder_on_another_host_is_never_taken_over(tmp_path):
    lock = tmp_path / LOCK_NAME
    lock.write_text(json.dumps({"pid": _dead_pid(), "host": "elsewhere", "tool": "x", "since": "then"}))
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        with pytest.raises(FolderLockedError, match=f"on elsewhere.*delete {lock}"), folder_lock(str(tmp_path), "me"):
            pass
    finally:
        os.close(fd)


def test_the_lock_is_reentrant_and_a_folder_it_made_is_removed_when_empty(tmp_path):
    folder = tmp_path / "a" / "b"
    with folder_lock(str(folder), "me"), folder_lock(str(folder) + "/", "me again"):
        assert (folder / LOCK_NAME).exists()
    assert not (tmp_path / "a").exists()
    with folder_lock(str(folder), "me"):
        (folder / "kept.txt").write_text("x")
    assert sorted(os.listdir(folder)) == ["kept.txt"]
