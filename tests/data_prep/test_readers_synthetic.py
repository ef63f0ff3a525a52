"""The synthetic source: procedural frames, deterministic for a seed."""

from __future__ import annotations

import numpy as np


def test_synthetic_deterministic(tmp_path, run_prepare, read_split):
    a = run_prepare(
        tmp_path, source="synthetic", num_frames=3, seed=7, height=48, width=64, output_dir=str(tmp_path / "a")
    )
    b = run_prepare(
        tmp_path, source="synthetic", num_frames=3, seed=7, height=48, width=64, output_dir=str(tmp_path / "b")
    )
    assert a["num_frames"] == 3 and a["frame_size"] == [48, 64]
    assert [s["sha256"] for s in a["shards"]] == [s["sha256"] for s in b["shards"]]
    for f in read_split(tmp_path / "a" / "train"):
        assert f["rgb"].dtype == np.uint8 and (f["depth"] > 0).any()


def test_rendering_in_two_workers_writes_the_same_shards(tmp_path, run_prepare):
    """7 frames = one full room of 4 views and a partial one: rendered room by room in two processes,
    the shards are byte-identical to the one-process run."""
    common = dict(source="synthetic", num_frames=7, seed=3, height=48, width=64, num_shards=2)
    one = run_prepare(tmp_path, workers=1, output_dir=str(tmp_path / "one"), **common)
    two = run_prepare(tmp_path, workers=2, output_dir=str(tmp_path / "two"), **common)
    assert two["num_frames"] == 7
    assert [s["sha256"] for s in two["shards"]] == [s["sha256"] for s in one["shards"]]


def test_a_rendering_worker_does_not_import_tensorflow():
    """What a rendering worker imports (depthnet.synthetic and the Frame it returns) stays numpy-only,
    so the workers start in well under a second instead of ~7 s and ~600 MB each."""
    import subprocess
    import sys

    from helpers import REPO

    code = "import sys, depthnet.synthetic, depthnet.data.frame; print('tensorflow' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "False"
