"""Scoring a folder of other systems' predictions (16-bit PNG in mm, .npy in metres) against a prepared split."""

import os

import numpy as np
import pytest
import tensorflow as tf

from data_prep import write_frames
from depthnet.data import records
from depthnet.evaluation.evaluate import Protocol, iter_split_frames
from depthnet.evaluation.metrics import compute_depth_metrics
from depthnet.evaluation.scoring import PredictionsError, load_prediction, score_predictions


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp("scoring")
    rng = np.random.default_rng(3)
    frames = []
    for i in range(3):
        depth = rng.uniform(0.5, 8.0, (60, 80)).astype(np.float32)
        depth[:3] = 0.0  # holes
        frames.append(records.Frame(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8), depth, f"s{i % 2}", f"{i:03d}"))
    write_frames(frames, str(root / "test"))
    return str(root / "test")


def _truth(split_dir):
    return [(f[1], f[2], f[3]) for f in iter_split_frames(split_dir)]


def _write_png(path, depth_m):
    mm = np.clip(np.rint(depth_m * 1000.0), 0, 65535).astype(np.uint16)
    tf.io.write_file(path, tf.io.encode_png(mm[..., None]))


@pytest.mark.parametrize("average", ["per_image", "pooled"])
@pytest.mark.parametrize("crop", [None, "eigen"])
def test_png_and_npy_predictions_reproduce_compute_depth_metrics(split, tmp_path, average, crop):
    rng = np.random.default_rng(7)
    truth = _truth(split)
    npy, png = tmp_path / "npy", tmp_path / "png"
    os.makedirs(npy)
    os.makedirs(png)
    preds = []
    for _, scene, frame in truth:
        pred = rng.uniform(0.4, 9.0, (30, 40)).astype(np.float32)  # half resolution: resized to the truth
        np.save(npy / f"{scene}_{frame}.npy", pred)
        _write_png(str(png / f"{scene}_{frame}.png"), pred)
        preds.append(pred)
    gts = np.stack([t[0] for t in truth])
    protocol = Protocol(crop=crop, average=average)
    expected = compute_depth_metrics(gts, np.stack(preds), crop=crop, average=average)
    ours, _ = score_predictions(str(npy), iter_split_frames(split), protocol)
    assert ours == pytest.approx(expected, rel=1e-12)
    from_png = np.stack([np.rint(p * 1000.0) / 1000.0 for p in preds]).astype(np.float32)  # what the PNG holds
    ours_png, _ = score_predictions(str(png), iter_split_frames(split), protocol)
    assert ours_png == pytest.approx(compute_depth_metrics(gts, from_png, crop=crop, average=average), rel=1e-6)


def test_files_pair_by_name_position_or_sorted_order(split, tmp_path):
    truth = _truth(split)
    for i, (depth, _, _) in enumerate(truth):  # named by 0-based position, in a subfolder
        os.makedirs(tmp_path / "by_index" / "raw", exist_ok=True)
        np.save(tmp_path / "by_index" / "raw" / f"{i:05d}.npy", depth + 0.5)
    with pytest.raises(PredictionsError, match="no prediction for frame 0"):
        score_predictions(str(tmp_path / "by_index"), iter_split_frames(split), Protocol())
    ours, _ = score_predictions(str(tmp_path / "by_index"), iter_split_frames(split), Protocol(), order="sorted")
    gts = np.stack([t[0] for t in truth])
    assert ours == pytest.approx(compute_depth_metrics(gts, gts + 0.5), rel=1e-12)
    with pytest.raises(PredictionsError, match="cannot be flip-averaged"):
        score_predictions(str(tmp_path / "by_index"), iter_split_frames(split), Protocol(flip_tta=True))
    with pytest.raises(PredictionsError, match="holds 3 predictions but the split has 2"):
        score_predictions(str(tmp_path / "by_index"), iter_split_frames(split, 2), Protocol(), order="sorted")


def test_unreadable_or_misshapen_prediction_is_named(tmp_path):
    (tmp_path / "a.png").write_bytes(b"not a png")
    with pytest.raises(PredictionsError, match="a.png: cannot read"):
        load_prediction(str(tmp_path / "a.png"))
    np.save(tmp_path / "b.npy", np.zeros((2, 3, 4), np.float32))
    with pytest.raises(PredictionsError, match="must be H x W"):
        load_prediction(str(tmp_path / "b.npy"))
    with pytest.raises(PredictionsError, match="does not exist"):
        score_predictions(str(tmp_path / "nothing"), [], Protocol())
