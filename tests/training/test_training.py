"""Training: the paper's schedule, freezing, resume, TensorBoard output, config round trip, NaN guard."""

import dataclasses
import glob
import os

import numpy as np
import pytest
import tensorflow as tf
from helpers import random_frames as _frames

from data_prep import write_frames
from depthnet.checkpoints import load_run_config
from depthnet.config import TrainConfig, preset
from depthnet.data import pipeline as data
from depthnet.errors import NonFiniteLossError
from depthnet.training import schedule
from depthnet.training.loop import Trainer, train

SIZE = (64, 96)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_frames(_frames(12, 0), str(root / "train"), num_shards=2)
    write_frames(_frames(3, 1), str(root / "test"))
    return str(root)


def _run(model_dir, data_root, **kw):
    base = dict(
        model_dir=str(model_dir),
        data_dir=data_root,
        train_steps=6,
        checkpoint_every=3,
        log_every=1,
        eval_every=6,
        image_every=3,
        batch_size=2,
        seed=3,
    )
    base.update(kw)
    return TrainConfig(**base)


def _tiny_frozen():
    # Small topology, stem + conv2 + conv3 (the "res_blocks" reading of the paper's first two stages; the
    # default, stem + conv2, is tested in modeling/test_model.py) and every BatchNorm fixed.
    return preset("tiny", frozen_stages=2, freeze_batchnorm=True)


def test_learning_rate_per_group_follows_eq4_at_key_steps():
    decay = 1000
    sched = schedule.paper_schedules(decay)
    for step, expected_dfe, expected_dmg in [
        (0, 1e-5, 1e-4),
        (500, (1e-5 - 1e-7) * 0.5 + 1e-7, (1e-4 - 1e-6) * 0.5 + 1e-6),
        (1000, 1e-7, 1e-6),
        (5000, 1e-7, 1e-6),
    ]:
        assert sched["dfe"](step) == pytest.approx(expected_dfe, rel=1e-9)
        assert sched["dmg"](step) == pytest.approx(expected_dmg, rel=1e-9)
        for group, expected in (("dfe", expected_dfe), ("dmg", expected_dmg)):
            keras_lr = float(sched[group].keras_schedule()(step))
            assert keras_lr == pytest.approx(expected, rel=1e-5)


def test_paper_decay_is_16_of_20_epochs():
    run = TrainConfig(model_dir="x")
    assert run.total_steps == 20 * 50_000 and run.resolved_decay_steps == 16 * 50_000
    assert TrainConfig(model_dir="x", train_steps=1000).resolved_decay_steps == 800


def test_frozen_weights_and_batchnorm_statistics_unchanged_while_dmg_and_stages_3_4_train(data_root, tmp_path):
    trainer = Trainer(_tiny_frozen(), _run(tmp_path, data_root, dmg_lr=1e-2, dfe_lr=1e-2))
    before = {v.path: v.numpy().copy() for v in trainer.model.weights}
    batch = next(iter(data.train_dataset(os.path.join(data_root, "train"), batch_size=2, crop_size=SIZE, seed=0)))
    for _ in range(3):
        out = trainer.train_step(batch["image"], batch["depth"], batch["mask"])
        assert bool(out["finite"])
    after = {v.path: v.numpy() for v in trainer.model.weights}
    changed = {p for p in before if not np.array_equal(before[p], after[p])}
    frozen = [p for p in before if p.startswith(("conv1", "conv2", "conv3")) or "_bn/" in p]
    assert frozen and not changed.intersection(frozen)
    assert any("moving_mean" in p for p in frozen) and any("gamma" in p for p in frozen)
    for prefix in ("conv4", "conv5", "dmg_"):
        assert any(p.startswith(prefix) for p in changed), prefix
    assert int(trainer.step.numpy()) == 3
    assert int(trainer.optimizers["dfe"].iterations.numpy()) == int(trainer.optimizers["dmg"].iterations.numpy()) == 3


def test_nan_batch_leaves_weights_and_step_untouched(data_root, tmp_path):
    trainer = Trainer(preset("tiny"), _run(tmp_path, data_root))
    before = [v.numpy().copy() for v in trainer.model.trainable_variables]
    images = np.full((1,) + SIZE + (3,), np.nan, np.float32)
    depth = np.ones((1,) + SIZE + (1,), np.float32)
    out = trainer.train_step(images, depth, depth)
    assert not bool(out["finite"])
    assert int(trainer.step.numpy()) == 0
    for b, v in zip(before, trainer.model.trainable_variables):
        np.testing.assert_array_equal(b, v.numpy())


def test_non_finite_loss_stops_training_and_keeps_last_checkpoint(data_root, tmp_path, monkeypatch):
    run = _run(tmp_path, data_root, train_steps=10, eval_every=100)
    real = data.train_dataset

    def poisoned(*args, **kwargs):  # the pipeline's own batches; NaN from the 5th batch on
        ds = real(*args, **kwargs)
        return ds.enumerate().map(lambda i, b: {**b, "image": tf.where(i >= 4, np.nan, b["image"])})

    monkeypatch.setattr(data, "train_dataset", poisoned)
    with pytest.raises(NonFiniteLossError, match="last good checkpoint .*ckpt-3"):
        train(preset("tiny"), run, log=lambda s: None)
    trainer = Trainer(preset("tiny"), run)
    trainer.restore()
    assert int(trainer.step.numpy()) == 3


def test_interrupted_run_resumes_to_same_step_and_learning_rate(data_root, tmp_path):
    config = preset("tiny")
    straight = train(config, _run(tmp_path / "a", data_root), log=lambda s: None)

    def kill_at(step_text, exc):
        def log(line):
            if line.startswith(step_text):
                raise exc

        return log

    # Ctrl-C at step 4: the handler saves step 4. A hard failure at step 5: step 3 is the last checkpoint.
    with pytest.raises(KeyboardInterrupt):
        train(config, _run(tmp_path / "b", data_root), log=kill_at("step 4/", KeyboardInterrupt()))
    with pytest.raises(RuntimeError):
        train(config, _run(tmp_path / "c", data_root), log=kill_at("step 5/", RuntimeError("killed")))
    for name, expected_start in (("b", 4), ("c", 3)):
        lines = []
        resumed = train(config, _run(tmp_path / name, data_root), log=lines.append)
        assert lines[0].startswith("resumed from") and f"at step {expected_start}/6" in lines[0]
        assert resumed["step"] == straight["step"] == 6
        t_straight = Trainer(config, _run(tmp_path / "a", data_root))
        t_straight.restore()
        t_resumed = Trainer(config, _run(tmp_path / name, data_root))
        t_resumed.restore()
        assert t_resumed.learning_rates() == pytest.approx(t_straight.learning_rates())
        assert int(t_resumed.optimizers["dmg"].iterations.numpy()) == 6


def test_tensorboard_events_hold_scalars_images_and_config(data_root, tmp_path):
    summary = train(preset("tiny"), _run(tmp_path, data_root), log=lambda s: None)
    tags = {}
    for sub in ("train", "val"):
        for path in glob.glob(os.path.join(str(tmp_path), sub, "events.out.tfevents.*")):
            for event in tf.compat.v1.train.summary_iterator(path):
                for value in event.summary.value:
                    tags.setdefault(sub, set()).add(value.tag)
    assert {
        "loss",
        "grad_norm",
        "learning_rate/dfe",
        "learning_rate/dmg",
        "steps_per_sec",
        "images_per_sec",
        "rgb_truth_prediction",
        "config",
    } <= tags["train"]
    assert {
        "metrics/abs_rel",
        "metrics/delta1",
        "metrics/dbe_acc",
        "metrics/boundary_f1",
        "rgb_truth_prediction",
    } <= tags["val"]
    assert summary["best_checkpoint"] and os.path.exists(os.path.join(str(tmp_path), "eval", "metrics.json"))


def test_written_config_reloads(data_root, tmp_path):
    config = preset("tiny")
    run = _run(tmp_path, data_root, train_steps=1, eval_every=1)
    train(config, run, log=lambda s: None)
    model_config, reloaded = load_run_config(str(tmp_path))
    assert model_config == config and reloaded == run
    with pytest.raises(ValueError, match="different model"):
        train(preset("tiny", dmg_width=4), dataclasses.replace(run), log=lambda s: None)


def test_restore_model_predicts_like_the_trained_model(data_root, tmp_path):
    from depthnet.checkpoints import restore_model

    config = preset("tiny")
    run = _run(tmp_path, data_root, train_steps=2, eval_every=100)
    train(config, run, log=lambda s: None)
    trainer = Trainer(config, run)
    trainer.restore()
    model, restored_config = restore_model(str(tmp_path), which="latest")
    x = np.random.default_rng(0).random((1,) + SIZE + (3,), dtype=np.float32)
    np.testing.assert_allclose(model(x).numpy(), trainer.model(x).numpy(), rtol=1e-6)
    assert restored_config == config
    with pytest.raises(FileNotFoundError, match="config.json"):
        restore_model(str(tmp_path / "nothing"))
