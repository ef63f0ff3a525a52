"""Issue 25 item 8: the quick run's metric curves have enough points for TensorBoard's defaults, and validating
more often changes nothing in training (validation consumes no random state)."""

import pytest
from helpers import random_frames

from data_prep import write_frames
from depthnet.config import QUICK_STEPS, TrainConfig, experiment, preset
from depthnet.training.loop import train


@pytest.mark.parametrize("steps", [QUICK_STEPS, 600, 100])
def test_the_quick_run_validates_about_20_times(steps):
    """Before: every steps // 4, four points, which TensorBoard's smoothing (0.6) and outlier clipping cut off."""
    _, run = experiment("quick", quick_steps=steps)
    points = run.total_steps // run.resolved_eval_every
    assert 20 <= points <= 22, points
    assert run.checkpoint_every == max(1, steps // 4) and run.image_every == max(1, steps // 4)


def _losses(lines):
    return [line.split("  ")[1] for line in lines if line.startswith("step ")]


def test_validating_every_step_leaves_the_training_losses_unchanged(tmp_path):
    write_frames(random_frames(6, 0), str(tmp_path / "data" / "train"))
    write_frames(random_frames(2, 1), str(tmp_path / "data" / "test"))
    curves = {}
    for eval_every in (1, 100):
        run = TrainConfig(
            model_dir=str(tmp_path / f"run{eval_every}"), data_dir=str(tmp_path / "data"), train_steps=5,
            batch_size=2, eval_every=eval_every, log_every=1, image_every=0, checkpoint_every=100, seed=0,
            deterministic=True,
        )  # fmt: skip
        lines = []
        train(preset("tiny"), run, log=lines.append)
        curves[eval_every] = _losses(lines)
        assert sum(line.startswith("validation @") for line in lines) == (5 if eval_every == 1 else 1)
    assert len(curves[1]) == 5 and curves[1] == curves[100]
