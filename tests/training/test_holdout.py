"""Validation held out by scene: deterministic, no scene in both train and val, never a test frame;
the Table 1 runs use it and record it; depthnet-eval never picks a checkpoint chosen on the test split."""

import json

import numpy as np
import pytest
from helpers import run_cli, script, shared_tiny_run

from data_prep import write_frames
from depthnet.config import EXPERIMENTS, TrainConfig, experiment, preset
from depthnet.data import pipeline as data
from depthnet.data import records
from depthnet.training.holdout import plan_holdout, select_scenes
from depthnet.training.loop import train


def _frames(scenes, per_scene, seed, size=(48, 64)):
    rng = np.random.default_rng(seed)
    for scene in scenes:
        for k in range(per_scene):
            rgb = rng.integers(0, 256, size + (3,), dtype=np.uint8)
            depth = rng.uniform(1.0, 5.0, size).astype(np.float32)
            yield records.Frame(rgb, depth, scene, f"{k:04d}")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("holdout")
    write_frames(_frames([f"living_room_{i:04d}" for i in range(6)], 2, 0), str(root / "train"), num_shards=2)
    write_frames(_frames(["kitchen_0100", "office_0200"], 2, 1), str(root / "test"))
    return root


def _ids(dataset):
    return {(s.decode(), f.decode()) for b in dataset for s, f in zip(b["scene"].numpy(), b["frame"].numpy())}


def test_selection_is_deterministic_by_scene_and_never_everything():
    scenes = [f"scene_{i:03d}" for i in range(249)]
    chosen = select_scenes(scenes, 0.05, seed=0)
    assert len(chosen) == 12 and chosen == select_scenes(list(reversed(scenes)), 0.05, seed=0)
    assert chosen != select_scenes(scenes, 0.05, seed=1)
    assert len(select_scenes(["a", "b"], 0.9)) == 1 and len(select_scenes(["a", "b"], 0.01)) == 1
    with pytest.raises(ValueError, match="at least 2 named scenes"):
        select_scenes(["", "only"], 0.5)


def test_validation_frames_never_in_train_or_test(root):
    held = plan_holdout(str(root / "train"), 0.34, seed=0)
    assert len(held.scenes) == 2 and held.num_scenes == 6
    train_ids = _ids(
        data.train_dataset(
            str(root / "train"),
            batch_size=1,
            crop_size=None,
            augment=False,
            shuffle_buffer=0,
            repeat=False,
            keep_ids=True,
            scene_filter=held.train_filter(),
        )  # fmt: skip
    )
    val_ids = _ids(data.eval_dataset(str(root / "train"), scene_filter=held.val_filter()))
    test_ids = _ids(data.eval_dataset(str(root / "test")))
    assert {s for s, _ in val_ids} == set(held.scenes)
    assert not {s for s, _ in val_ids} & {s for s, _ in train_ids}  # no scene in both
    assert len(train_ids) + len(val_ids) == 12 and not val_ids & test_ids and not train_ids & test_ids


def test_run_validates_on_held_out_scenes_and_records_them(root, tmp_path):
    run = TrainConfig(
        model_dir=str(tmp_path / "run"), data_dir=str(root), train_steps=2, batch_size=2, eval_every=2,
        checkpoint_every=2, log_every=1, image_every=0, holdout_scenes=0.34, seed=0,
    )  # fmt: skip
    lines = []
    summary = train(preset("tiny"), run, log=lines.append)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    held = plan_holdout(str(root / "train"), 0.34, seed=0)
    assert config["validation"]["held_out_scenes"] == list(held.scenes)
    assert config["validation"]["kind"] == "held-out training scenes"
    assert any(line.startswith("validation: 2 of 6 training scenes held out") for line in lines)
    assert summary["metrics"]["num_images"] == 4  # the 2 held-out scenes x 2 frames, not the test split
    for name in ("full", "dfe_afb", "dfe", "baseline"):  # the Table 1 runs validate on held-out scenes
        assert experiment(name)[1].holdout_scenes > 0 and "val_split" not in EXPERIMENTS[name][2]


def test_eval_does_not_load_best_chosen_on_the_evaluated_split(tmp_path_factory, tmp_path):
    model_dir, data_root = shared_tiny_run(tmp_path_factory)  # validated on data_root/test
    proc = run_cli(
        script("depthnet-eval")
        + [f"--model_dir={model_dir}", f"--data_dir={data_root}/test", f"--output_dir={tmp_path}", "--crop=none"]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    payload = json.loads((tmp_path / "metrics.json").read_text())
    assert payload["model"]["checkpoint"] == "latest"
    assert "test-set selection" in proc.stdout
