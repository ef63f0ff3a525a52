"""data_prep.shards through prepare(): resume after a kill, damaged shards, refusing another conversion."""

from __future__ import annotations

import pytest

from data_prep import readers
from data_prep.shards import OutputExistsError
from depthnet.data import records


class CountingReader(readers.PairsReader):
    """The real pairs reader, counting loads and optionally dying (like a kill) after `crash_after` frames."""

    def __init__(self, path, crash_after=None):
        super().__init__(path)
        self.loads, self.crash_after = 0, crash_after

    def load(self, item):
        if self.crash_after is not None and self.loads >= self.crash_after:
            raise KeyboardInterrupt("simulated kill")
        self.loads += 1
        return super().load(item)


def test_resume_after_kill_skips_finished_shards(small_pairs, tmp_path, run_prepare, no_tmp):
    kw = dict(source="pairs", input=str(small_pairs), split="train", frames_per_shard=3)  # 10 frames -> 4 shards of 2-3
    split_dir = tmp_path / "out" / "train"
    with pytest.raises(KeyboardInterrupt):
        run_prepare(tmp_path, reader=CountingReader(str(small_pairs), crash_after=6), **kw)
    done = sorted(p.name for p in split_dir.glob("*.done"))
    assert done == ["train-00000-of-00004.tfrecord.done", "train-00001-of-00004.tfrecord.done"]
    assert not (split_dir / records.MANIFEST_NAME).exists() and no_tmp(split_dir)
    assert sorted(p.name for p in split_dir.glob("*.tfrecord")) == [
        "train-00000-of-00004.tfrecord",
        "train-00001-of-00004.tfrecord",
    ]
    mtimes = {p.name: p.stat().st_mtime_ns for p in split_dir.glob("*.tfrecord")}
    (split_dir / "train-00002-of-00004.tfrecord.tmp").write_bytes(b"half a shard")  # what a SIGKILL leaves

    resumed = CountingReader(str(small_pairs))
    manifest = run_prepare(tmp_path, reader=resumed, **kw)
    assert resumed.loads == 10 - 5  # shards 0 and 1 (2 + 3 frames) were not redone
    assert {n: (split_dir / n).stat().st_mtime_ns for n in mtimes} == mtimes
    assert manifest["num_frames"] == 10 and no_tmp(split_dir)

    fresh = run_prepare(tmp_path, output_dir=str(tmp_path / "fresh"), **kw)  # uninterrupted run: identical shards
    assert [s["sha256"] for s in fresh["shards"]] == [s["sha256"] for s in manifest["shards"]]

    again = CountingReader(str(small_pairs))
    assert (
        run_prepare(tmp_path, reader=again, skip_bad=True, **kw)["created"] == manifest["created"]
    )  # complete: nothing to do
    assert again.loads == 0

    # a damaged finished shard is detected (sha256) and only that shard is rewritten
    (split_dir / records.MANIFEST_NAME).unlink()
    victim = split_dir / "train-00002-of-00004.tfrecord"
    victim.write_bytes(victim.read_bytes()[:-10])
    fixer = CountingReader(str(small_pairs))
    repaired = run_prepare(tmp_path, reader=fixer, **kw)
    assert fixer.loads == 2 and repaired["shards"] == manifest["shards"]


def test_changed_flags_refused_unless_overwrite(small_pairs, tmp_path, run_prepare):
    kw = dict(source="pairs", input=str(small_pairs), split="test", num_shards=2)
    run_prepare(tmp_path, **kw)
    with pytest.raises(OutputExistsError, match=r"--num_shards: 2 before, 3 now.*--overwrite"):
        run_prepare(tmp_path, **{**kw, "num_shards": 3})
    with pytest.raises(OutputExistsError, match=r"--max_frames: None before, 5 now"):
        run_prepare(tmp_path, **{**kw, "max_frames": 5})
    m = run_prepare(tmp_path, **{**kw, "max_frames": 5, "overwrite": True})
    assert m["num_frames"] == 5 and sorted(p.name for p in (tmp_path / "out" / "test").glob("*.tfrecord")) == [
        "test-00000-of-00002.tfrecord", "test-00001-of-00002.tfrecord"]  # fmt: skip
    # a partial output (no manifest) made with other flags is refused too
    (tmp_path / "out" / "test" / records.MANIFEST_NAME).unlink()
    with pytest.raises(OutputExistsError, match="max_frames"):
        run_prepare(tmp_path, **{**kw, "max_frames": 6})
