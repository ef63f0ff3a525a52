"""Issue 26 item 1, the data side: one depthnet-prepare per split at a time. Two identical runs at once (before:
a split that failed its own checksum while one run reported success) -> the second is refused, naming the first."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from helpers import REPO

from data_prep.prepare import Options, prepare
from depthnet.data import checks
from depthnet.errors import DepthNetError

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
ARGS = ["--source=synthetic", "--height=48", "--width=64", "--workers=1", "--frames_per_shard=10", "--split=test"]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "depthnet.cli.prepare", "--noprogress", *ARGS, *args]


def test_a_second_prepare_of_a_split_being_written_is_refused_naming_the_first(tmp_path):
    out = tmp_path / "out"
    cmd = _cli("--num_frames=3000", f"--output_dir={out}")
    with open(tmp_path / "first.txt", "w") as log:
        first = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=log, stderr=log)
        try:
            deadline = time.time() + 300
            while not list(out.rglob("*.done")) and time.time() < deadline and first.poll() is None:
                time.sleep(0.2)
            assert first.poll() is None, (tmp_path / "first.txt").read_text()
            second = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
        finally:
            first.send_signal(signal.SIGTERM)
            first.wait(timeout=120)
    assert second.returncode == 2, second.stderr[-2000:]
    lines = [ln for ln in second.stderr.splitlines() if "error:" in ln]
    assert len(lines) == 1 and "Traceback" not in second.stderr, second.stderr
    assert f"pid {first.pid} on {socket.gethostname()}" in lines[0] and str(out / "test") in lines[0]
    assert not (out / ".test.lock").exists()  # released when the first stopped
    done = subprocess.run(_cli("--num_frames=30", f"--output_dir={out}", "--overwrite"), cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    checks.check_splits([str(out / "test")])  # every shard matches its manifest


def test_prepare_is_refused_while_another_process_holds_the_split(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    lock = out / ".test.lock"
    holder = {"pid": os.getppid(), "host": socket.gethostname(), "tool": "depthnet-prepare", "since": "earlier"}
    lock.write_text(json.dumps(holder))
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        opts = Options(source="synthetic", output_dir=str(out), split="test", num_frames=2, height=48, width=64)
        with pytest.raises(DepthNetError, match=f"pid {os.getppid()} on {socket.gethostname()}, since earlier"):
            prepare(opts)
    finally:
        os.close(fd)
    assert sorted(p.name for p in out.iterdir()) == [".test.lock"]  # nothing written
