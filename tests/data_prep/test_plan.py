"""data_prep.plan: evenly spaced sampling, per-scene caps, seeded shard order."""

from __future__ import annotations

import numpy as np

from data_prep import readers
from data_prep.plan import Options, evenly_spaced, make_plan, sample_items


def test_evenly_spaced_and_sample_items():
    assert evenly_spaced(10, 3) == [1, 5, 8]
    assert evenly_spaced(4, 10) == [0, 1, 2, 3]
    for n in range(1, 60):
        for k in range(1, n + 1):
            idx = evenly_spaced(n, k)
            assert len(set(idx)) == k and idx == sorted(idx) and idx[0] >= 0 and idx[-1] < n
            assert set(np.diff(idx)) <= {n // k, -(-n // k)}  # even: steps differ by at most one frame
            assert idx[0] == n // (2 * k) and n - 1 - idx[-1] <= -(-n // (2 * k))  # centred: equal margins
    items = [readers.Item("a", f"{i:05d}", i) for i in range(10)] + [readers.Item("b", f"{i:05d}", i) for i in range(4)]
    items += [readers.Item("c", "00000", 0)]
    per_scene = sample_items(items, max_frames_per_scene=3)
    assert [it.key for it in per_scene] == ["a/00001", "a/00005", "a/00008", "b/00000", "b/00002", "b/00003", "c/00000"]
    capped = sample_items(items, max_frames_per_scene=3, max_frames=4)
    assert [it.key for it in capped] == ["a/00001", "a/00008", "b/00002", "c/00000"]
    assert sample_items(items, max_frames=4) == sample_items(list(items), max_frames=4)


def test_plan_sampling_on_folder_is_deterministic(small_pairs):
    opts = Options(
        source="pairs", input=str(small_pairs), output_dir="unused", split="train", max_frames_per_scene=3, num_shards=2
    )
    plans = [make_plan(opts, readers.make_reader("pairs", str(small_pairs), "train")) for _ in range(2)]
    assert [i.key for i in plans[0].selected] == [i.key for i in plans[1].selected] and plans[0].digest == plans[
        1
    ].digest
    chosen = sorted(i.key for i in plans[0].selected)
    assert chosen == [
        "sceneA/sceneA/rgb_00001.png", "sceneA/sceneA/rgb_00003.png", "sceneA/sceneA/rgb_00005.png",
        "sceneB/sceneB/image_6.png", "sceneB/sceneB/image_8.png", "sceneB/sceneB/image_9.png",
    ]  # fmt: skip
    assert [len(s) for s in plans[0].shards] == [3, 3]
    # the train split is shuffled across scenes (seeded); the test split keeps source order
    test = make_plan(
        Options(**{**opts.__dict__, "split": "test"}), readers.make_reader("pairs", str(small_pairs), "test")
    )
    assert [i.key for i in test.selected] == sorted(chosen, key=readers.natural_key)
    assert [i.key for i in plans[0].selected] != [i.key for i in test.selected]
