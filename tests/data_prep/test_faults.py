"""Fault matrix of depthnet-prepare (issue 11): each case as a hostile user meets it, with real files,
real subprocesses and real signals. Every test here failed on the code before the fix.

| case                                              | test                                              |
|---------------------------------------------------|---------------------------------------------------|
| 2  --overwrite killed/failing keeps the old split  | test_overwrite_builds_beside_and_swaps_when_done  |
| 2  interrupted swap is finished or undone          | test_interrupted_swap_is_recovered                |
| 6  kill -9 / SIGTERM leave no worker processes     | test_workers_die_with_their_parent                |
| 7  skipped frames are retried without --skip_bad   | test_rerun_without_skip_bad_redoes_skipped_frames |
| 7  an input changed in place is reconverted        | test_input_changed_in_place_is_detected           |
| 9  SUN RGB-D read as 'scaled' is refused (hint)     | test_implausible_depth_refused_with_encoding_hint |
| 9  Kinect raw depth clamped at 10 m                 | test_kinect_raw_depth_clamped_at_10m              |
| 12 read-only folder, file in place, full disk       | test_unwritable_output_one_error_line             |
"""

from __future__ import annotations

import functools
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import REPO
from PIL import Image

from data_prep import readers, swap

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "depthnet.cli.prepare", "--noprogress", *args]


# ---------------------------------------------------------------------------------------------- processes


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat fields after the command name (state, ppid, ...), or None when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`: {pid: command line}."""
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (st := _stat(int(name))) and int(st[1]) == pid:
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    out[int(name)] = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                pass
    return out


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] != "Z"  # a zombie has exited


def _wait_until(condition, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc to find the worker processes")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "SIGTERM"])
def test_workers_die_with_their_parent(tmp_path, sig):
    """depthnet-prepare --workers=2 is killed while its two spawned workers (renderers here) and
    multiprocessing's resource tracker run: all three exit with it (before: they stayed alive as
    orphans). SIGTERM stops it cleanly: one error line, status 143, no temporaries."""
    cmd = _cli("--source=synthetic", "--num_frames=2000", "--height=48", "--width=64", "--workers=2",
               f"--output_dir={tmp_path / 'out'}")  # fmt: skip
    helpers: dict[int, str] = {}
    with open(tmp_path / "stderr.txt", "w") as log:  # not a pipe: orphans holding a pipe would block reading it
        proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=log)
        try:

            def started() -> bool:  # two encoders and the resource tracker, and a first shard written
                helpers.update(_children(proc.pid))
                running = len([c for c in helpers.values() if "multiprocessing" in c]) >= 3
                return running and any((tmp_path / "out").rglob("*.done"))

            spawned = _wait_until(started, 300)
            assert spawned and proc.poll() is None, (helpers, proc.poll())
            proc.send_signal(sig)
            proc.wait(timeout=300)
            gone = _wait_until(lambda: not any(_alive(p) for p in helpers), 120)
            assert gone, {p: c for p, c in helpers.items() if _alive(p)}
        finally:
            for pid in helpers:  # leave no orphan behind, even when the test fails
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    err = (tmp_path / "stderr.txt").read_text()
    if sig == signal.SIGTERM:
        lines = [ln for ln in err.splitlines() if "error:" in ln]
        assert proc.returncode == 143 and lines == [
            "depthnet-prepare: error: stopped by SIGTERM; finished shards are kept: re-run the same command to resume"
        ], err[-3000:]
        assert "Traceback" not in err and not list((tmp_path / "out").rglob("*.tmp"))


# ---------------------------------------------------------------------------------------------- 2: overwrite


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def _state(split_dir, sha) -> dict:
    """{file: sha256} of everything in a split folder."""
    return {p.name: sha(p) for p in sorted(pathlib.Path(split_dir).iterdir()) if p.is_file()}


def test_overwrite_builds_beside_and_swaps_when_done(small_pairs, tmp_path, run_prepare, read_split, sha, no_tmp):
    """A failing --overwrite re-run leaves the finished split exactly as it was (before: its shards and
    manifest were deleted first); a succeeding one swaps the new split in, keeping the user's own files."""
    src = _copy(small_pairs, tmp_path / "src")
    kw = dict(source="pairs", input=str(src), split="test")
    run_prepare(tmp_path, frames_per_shard=4, **kw)
    split_dir = tmp_path / "out" / "test"
    (split_dir / "notes.txt").write_text("mine")
    before = _state(split_dir, sha)
    victim = src / "sceneB" / "depth_8.png"
    good = victim.read_bytes()
    victim.write_bytes(good[:200])
    with pytest.raises(readers.BadInputError, match=r"depth_8\.png"):
        run_prepare(tmp_path, frames_per_shard=3, overwrite=True, **kw)
    assert _state(split_dir, sha) == before and len(read_split(split_dir)) == 10
    victim.write_bytes(good)
    manifest = run_prepare(tmp_path, frames_per_shard=3, overwrite=True, **kw)
    assert len(manifest["shards"]) == 4 and len(read_split(split_dir)) == 10  # ceil(10 / 3) shards now
    assert (split_dir / "notes.txt").read_text() == "mine" and no_tmp(tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["test"]  # nothing left beside it


def test_interrupted_swap_is_recovered(small_pairs, tmp_path, run_prepare, read_split, sha):
    """kill -9 between the swap's two renames leaves <split> renamed away: the next run puts it back."""
    kw = dict(source="pairs", input=str(small_pairs), split="test", frames_per_shard=4)
    run_prepare(tmp_path, **kw)
    split_dir = tmp_path / "out" / "test"
    before = _state(split_dir, sha)
    os.rename(split_dir, swap.replaced_dir(str(split_dir)))  # what the first rename leaves
    manifest = run_prepare(tmp_path, **kw)
    assert _state(split_dir, sha) == before and manifest["num_frames"] == 10
    assert not os.path.exists(swap.replaced_dir(str(split_dir)))  # before: converted again, the copy left behind


# ---------------------------------------------------------------------------------------------- 7: "already done"


def test_rerun_without_skip_bad_redoes_skipped_frames(small_pairs, tmp_path, run_prepare, read_split, sha):
    """A split made with --skip_bad is not "complete" for a run without it: the skipped frame is retried
    (before: "already complete, nothing to do"), and while it is still bad the finished split stays."""
    src = _copy(small_pairs, tmp_path / "src")
    victim = src / "sceneB" / "depth_7.png"
    good = victim.read_bytes()
    victim.write_bytes(good[:300])
    kw = dict(source="pairs", input=str(src), split="test", frames_per_shard=4)
    assert run_prepare(tmp_path, skip_bad=True, **kw)["num_frames"] == 9
    split_dir = tmp_path / "out" / "test"
    before = _state(split_dir, sha)
    assert run_prepare(tmp_path, skip_bad=True, **kw)["num_frames"] == 9  # with --skip_bad it is complete
    with pytest.raises(readers.BadInputError, match=r"depth_7\.png"):
        run_prepare(tmp_path, **kw)
    assert _state(split_dir, sha) == before
    victim.write_bytes(good)
    manifest = run_prepare(tmp_path, **kw)
    assert manifest["num_frames"] == 10 and manifest["skipped_bad"] == 0
    assert "image_7.png" in [f["frame"].split("/")[-1] for f in read_split(split_dir)]


def test_input_changed_in_place_is_detected(small_pairs, tmp_path, run_prepare, read_split, sha, png16):
    """A depth file rewritten in place (same name) is reconverted; the other shards are kept as they were
    (before: the digest covered names only, so the stale depth stayed with "nothing to do")."""
    src = _copy(small_pairs, tmp_path / "src")
    kw = dict(source="pairs", input=str(src), split="test", frames_per_shard=4)
    first = run_prepare(tmp_path, **kw)
    victim = src / "sceneA" / "sync_depth_00001.png"
    new_mm = (png16(victim) // 2).astype(np.uint16)
    Image.fromarray(new_mm).save(victim)
    second = run_prepare(tmp_path, **kw)
    changed = [a["file"] for a, b in zip(first["shards"], second["shards"]) if a["sha256"] != b["sha256"]]
    assert changed == ["test-00000-of-00003.tfrecord"]
    frame = next(f for f in read_split(tmp_path / "out" / "test") if f["frame"].endswith("rgb_00001.png"))
    np.testing.assert_array_equal(np.rint(frame["depth"] * 1000), new_mm)


# ---------------------------------------------------------------------------------------------- 9: depth sanity


def test_implausible_depth_refused_with_encoding_hint(nyu_samples, tmp_path, run_prepare, read_split):
    """The real SUN RGB-D PNG read with the default 'scaled' decoding gives 0.16-64 m (median 21 m): refused,
    naming the file and --depth_encoding=sunrgbd (before: converted silently); with it, 1.06-9.87 m."""
    sun = nyu_samples / "open3d_sunrgbd"
    csv = tmp_path / "sun.csv"
    csv.write_text(f"image_path,depth_path\n{sun / 'SUN_color.jpg'},{sun / 'SUN_depth.png'}\n")
    kw = dict(source="pairs", input=str(csv), split="test")
    with pytest.raises(readers.BadInputError) as info:
        run_prepare(tmp_path, **kw)
    message = str(info.value)
    assert "SUN_depth.png" in message and "median 21." in message and "beyond 10 m" in message
    assert "likely --depth_encoding=sunrgbd gives 1.06-9.87 m, median 2.72 m" in message
    assert not (tmp_path / "out" / "test").exists()  # nothing written, not even an empty folder
    run_prepare(tmp_path, depth_encoding="sunrgbd", **kw)
    depth = read_split(tmp_path / "out" / "test")[0]["depth"]
    assert depth[depth > 0].min() > 1.05 and depth.max() < 9.88
    assert run_prepare(tmp_path, output_dir=str(tmp_path / "o2"), check_depth=False, **kw)["num_frames"] == 1


def test_kinect_raw_depth_clamped_at_10m(nyu_samples, tmp_path):
    """The real raw NYU dump with some disparities set to 1080 (351.3 / 12.5 = 28.1 m): those read 10 m,
    as the NYU toolbox's depth_rel2depth_abs clamps (before: 28.1 m); 2047 stays invalid."""
    data = (nyu_samples / "open3d_nyu_raw" / "NYU_depth.pgm").read_bytes()
    raw = np.frombuffer(data[17:], "<u2").reshape(480, 640).copy()
    raw[100:110, 200:210] = 1080
    path = tmp_path / "d-1.0-1.pgm"
    path.write_bytes(data[:17] + raw.astype("<u2").tobytes())
    depth = readers.read_depth(str(path), "kinect_raw")
    assert np.all(depth[100:110, 200:210] == 10.0) and depth.max() == 10.0
    assert np.all(depth[raw == 2047] == 0) and depth[depth > 0].min() > 1.38


# ---------------------------------------------------------------------------------------------- 12: output folder


@functools.lru_cache(maxsize=1)
def _can_mount() -> bool:
    """Whether `unshare -rm` can mount a tmpfs here (a private mount namespace: nothing leaks)."""
    if not shutil.which("unshare"):
        return False
    res = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt 2>/dev/null || mount -t tmpfs "
                          "tmpfs /tmp"], capture_output=True, timeout=60)  # fmt: skip
    return res.returncode == 0


def _on_tmpfs(folder, setup: str, cmd: list[str]) -> list[str]:
    """`cmd` run after the shell `setup` (which mounts a tmpfs on $1 = `folder`), in a mount namespace of its own."""
    return ["unshare", "-rm", "sh", "-c", f'{setup} && shift && exec "$@"', "sh", str(folder), *cmd]


def _one_error(res) -> str:
    lines = [ln for ln in res.stderr.splitlines() if "error:" in ln]
    assert res.returncode == 2 and len(lines) == 1 and "Traceback" not in res.stderr, res.stderr[-3000:]
    assert lines[0].startswith("depthnet-prepare: error: ")
    return lines[0]


_SETUP = {  # a read-only folder that already holds the split's folder; a 32 KB disk
    "read-only": 'mount -t tmpfs tmpfs "$1" && mkdir "$1/train" && mount -o remount,ro "$1"',
    "full": 'mount -t tmpfs -o size=32k tmpfs "$1"',
}
_EXPECT = {
    "file": ("is a file, but output_dir needs a folder", "move or rename that file"),
    "read-only": ("read-only file system", "choose another --output_dir"),
    "full": ("disk full while writing", "re-run the same command to resume"),
}


@pytest.mark.parametrize("case", ["file", "read-only", "full"])
def test_unwritable_output_one_error_line(tmp_path, monkeypatch, case):
    """A file in place of the output folder, a read-only folder and a full disk (real tmpfs mounts): one
    `error:` line saying what to do, exit status 2, nothing written (before: tracebacks, or a bare
    `[Errno 20] Not a directory`)."""
    out = tmp_path / "out"
    cmd = _cli("--source=synthetic", "--num_frames=6", "--height=120", "--width=160", f"--output_dir={out}")
    if case == "file":
        out.write_text("a file")
        cmd[-1] += "/nyu"
    else:
        out.mkdir()
        if not _can_mount():
            return _injected_enospc(tmp_path, monkeypatch) if case == "full" else pytest.skip("cannot mount")
        cmd = _on_tmpfs(out, _SETUP[case], cmd)
    res = subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    message = _one_error(res)
    assert all(words in message for words in _EXPECT[case]), message
    if case == "file":
        assert out.read_text() == "a file"


def _injected_enospc(tmp_path, monkeypatch) -> None:
    """Without mount namespaces: TensorFlow's own ENOSPC error from the shard writer."""
    import tensorflow as tf

    from data_prep import output_dir
    from data_prep.prepare import Options, prepare

    def enospc(path, *args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, f"{path}; No space left on device")

    monkeypatch.setattr(tf.io, "TFRecordWriter", enospc)
    with pytest.raises(output_dir.OutputError, match="disk full while writing .*re-run the same command"):
        prepare(Options(source="synthetic", num_frames=2, height=48, width=64, output_dir=str(tmp_path / "o")))
