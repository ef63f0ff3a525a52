"""depthnet-prepare (depthnet.cli.prepare) as a user runs it: a subprocess, its manifest, its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import REPO


def test_cli_end_to_end(sg, tmp_path, run_prepare, read_split, sha):
    """`python -m depthnet.cli.prepare` as a subprocess (with 2 encoding processes); the manifest a user would
    open; shards byte-identical to an in-process single-worker run; then a CLI error."""
    cmd = [sys.executable, "-m", "depthnet.cli.prepare", "--source=pairs", f"--input={sg / 'nyu2_mini_test.csv'}",
           f"--output_dir={tmp_path / 'nyu'}", "--split=test", "--num_shards=2", "--max_frames=4", "--noprogress",
           "--workers=2"]  # fmt: skip
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "4 frames in 2 shards" in res.stdout and "frames/s" in res.stdout
    split_dir = tmp_path / "nyu" / "test"
    manifest = json.loads((split_dir / "manifest.json").read_text())
    assert manifest["source"] == "pairs" and manifest["split"] == "test" and manifest["num_frames"] == 4
    assert (
        manifest["depth_unit"] == "metres"
        and manifest["depth_scale"] == 1000.0
        and manifest["frame_size"] == [480, 640]
    )
    assert manifest["flags"]["max_frames"] == 4 and manifest["skipped_bad"] == 0 and manifest["created"]
    for s in manifest["shards"]:
        assert sha(split_dir / s["file"]) == s["sha256"]
    frames = read_split(split_dir)
    assert [f["frame"] for f in frames] == ["image_1.png", "image_3.png", "image_6.png", "image_8.png"]  # evenly spaced
    same = run_prepare(
        tmp_path, source="pairs", input=str(sg / "nyu2_mini_test.csv"), split="test", num_shards=2, max_frames=4
    )
    assert [s["sha256"] for s in same["shards"]] == [s["sha256"] for s in manifest["shards"]]
    res = subprocess.run(cmd[:4] + [f"--input={tmp_path / 'nope.csv'}", f"--output_dir={tmp_path / 'x'}"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 2 and "depthnet-prepare: error: input path does not exist" in res.stderr
    assert "Traceback" not in res.stderr


def test_cli_usage_errors_exit_2(tmp_path):
    """Flags that do not fit together, and stray arguments: one `error:` line naming the flags, status 2."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    base = [sys.executable, "-m", "depthnet.cli.prepare", "--source=synthetic", f"--output_dir={tmp_path / 'o'}"]
    for extra, message in (
        (["--num_shards=2", "--frames_per_shard=3"], "give --num_shards or --frames_per_shard, not both"),
        (["--max_frames=0"], "--max_frames must be >= 1, got 0"),
        (["stray"], "unexpected arguments ['stray']"),
    ):
        res = subprocess.run(base + extra, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert res.returncode == 2, res.stderr[-2000:]
        assert f"depthnet-prepare: error: {message}" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "o").exists()


def test_options_from_flags_maps_every_field():
    """Every Options field is a flag of the same name (so options_from_flags needs no table); in a fresh process,
    as the flags are global."""
    from data_prep.plan import Options

    code = (
        "from absl import flags; from depthnet.cli import prepare as p; p.define_flags(); "
        "flags.FLAGS(['depthnet-prepare', '--source=pairs', '--output_dir=/tmp/x', '--num_shards=3', '--noprogress']); "
        "print(repr(p.options_from_flags(flags.FLAGS)))"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    expected = Options(source="pairs", output_dir="/tmp/x", num_shards=3, progress=False)
    assert res.stdout.strip().splitlines()[-1] == repr(expected)


def test_stderr_holds_only_the_tools_own_lines_unless_verbose(small_pairs, tmp_path):
    """Issue 26 item 10: no TensorFlow C++ start-up lines (of this process or of its --workers) and no absl
    prefixes: each stderr line is `depthnet-prepare: ...`. Before: the oneDNN / cuda / cuInit lines of the
    import at flag definition, of each worker, and `I1204 18:43:59.298146 ... plan.py:184] ...`."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user runs it
    cmd = [sys.executable, "-m", "depthnet.cli.prepare", "--source=pairs", f"--input={small_pairs}", "--split=test",
           "--num_shards=2", "--noprogress", "--workers=2"]  # fmt: skip
    quiet = subprocess.run(cmd + [f"--output_dir={tmp_path / 'a'}"], cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=300)  # fmt: skip
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    lines = quiet.stderr.splitlines()
    assert lines and all(line.startswith("depthnet-prepare: ") for line in lines), quiet.stderr[-3000:]
    assert "10 frames listed, 10 selected -> 2 shard(s)" in quiet.stderr
    verbose = subprocess.run(cmd + [f"--output_dir={tmp_path / 'b'}", "--verbose"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert verbose.returncode == 0 and "absl::InitializeLog" in verbose.stderr  # what the default holds back


def test_defining_the_flags_imports_no_tensorflow():
    """--help and flag errors come before TensorFlow (whose import, ~2 s, printed its C++ start-up lines)."""
    code = "import sys; from depthnet.cli import prepare as p; p.define_flags(); print('tensorflow' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.split() == ["False"], res.stderr[-2000:]
