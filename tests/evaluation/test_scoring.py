"""Scoring a folder of other systems' predictions (16-bit PNG in mm, .npy in metres) against a prepared split."""

import os

import numpy as np
import pytest
import tensorflow as tf

from data_prep import write_frames
from depthnet.data import records
from depthnet.evaluation import scoring
from depthnet.evaluation.evaluate import Protocol, iter_split_frames
from depthnet.evaluation.metrics import COUNT_KEYS, METRIC_KEYS, compute_depth_metrics
from depthnet.evaluation.scoring import (
    PredictionsError,
    frame_names,
    load_prediction,
    match_predictions,
    score_predictions,
)


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


def _depth(metrics):
    """The depth metrics and counts of a result (the one loop adds the boundary metrics)."""
    return {k: metrics[k] for k in (*METRIC_KEYS, *COUNT_KEYS)}


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
    assert _depth(ours) == pytest.approx(expected, rel=1e-12)
    from_png = np.stack([np.rint(p * 1000.0) / 1000.0 for p in preds]).astype(np.float32)  # what the PNG holds
    ours_png, _ = score_predictions(str(png), iter_split_frames(split), protocol)
    want_png = compute_depth_metrics(gts, from_png, crop=crop, average=average)
    assert _depth(ours_png) == pytest.approx(want_png, rel=1e-6)


def test_files_named_by_position_pair_only_through_a_file_list(split, tmp_path):
    truth = _truth(split)
    for i, (depth, _, _) in enumerate(truth):  # named by 0-based position, in a subfolder
        os.makedirs(tmp_path / "by_index" / "raw", exist_ok=True)
        np.save(tmp_path / "by_index" / "raw" / f"{i:05d}.npy", depth + 0.5)
    with pytest.raises(PredictionsError, match="no prediction for frame 0"):
        score_predictions(str(tmp_path / "by_index"), iter_split_frames(split), Protocol())
    # position alone never pairs: sorted order without a list is refused (it mispaired silently before)
    with pytest.raises(PredictionsError, match="by position alone, which mispairs silently"):
        score_predictions(str(tmp_path / "by_index"), iter_split_frames(split), Protocol(), order="sorted")
    listing = tmp_path / "list.txt"
    listing.write_text(
        "".join(f"{scene}/{frame}.jpg {scene}/depth_{frame}.png 518.8579\n" for _, scene, frame in truth)
    )
    ours, _ = score_predictions(
        str(tmp_path / "by_index"), iter_split_frames(split), Protocol(), order="sorted", file_list=str(listing)
    )
    gts = np.stack([t[0] for t in truth])
    assert _depth(ours) == pytest.approx(compute_depth_metrics(gts, gts + 0.5), rel=1e-12)
    # a list in another order pairs each file with the frame its line names, not with the split's i-th frame
    lines = listing.read_text().splitlines()
    listing.write_text("\n".join([lines[1], lines[0], lines[2]]) + "\n")
    swapped, _ = score_predictions(
        str(tmp_path / "by_index"), iter_split_frames(split), Protocol(), order="sorted", file_list=str(listing)
    )
    assert swapped["abs_rel"] > ours["abs_rel"] + 0.05
    listing.write_text("s0/000.jpg\ns9/777.jpg\ns0/002.jpg\n")
    with pytest.raises(PredictionsError, match=r"1 frame\(s\) unnamed \(s1/001\).*match no frame: s9/777.jpg"):
        score_predictions(
            str(tmp_path / "by_index"), iter_split_frames(split), Protocol(), order="sorted", file_list=str(listing)
        )
    with pytest.raises(PredictionsError, match="holds 3 predictions but the list names 2"):
        listing.write_text("s0/000.jpg\ns1/001.jpg\n")
        match_predictions(str(tmp_path / "by_index"), [("s0", "000")], "sorted", str(listing))
    with pytest.raises(PredictionsError, match="cannot be flip-averaged"):
        score_predictions(str(tmp_path / "by_index"), iter_split_frames(split), Protocol(flip_tta=True))


# BTS: pytorch/bts_test.py writes result_<model>/raw/<sceneType>_rgb_<i:05d>.png, (pred * 1000).astype(uint16),
# for the lines "<sceneType>/rgb_<i:05d>.jpg <sceneType>/sync_depth_<i:05d>.png 518.8579" of
# train_test_inputs/nyudepthv2_test_files_with_gt.txt; i = the 0-based index into the 1449 labeled frames
# (utils/extract_official_train_test_set_from_mat.py). Its first lines:
BTS_TEST_LINES = [
    "bathroom/rgb_00045.jpg bathroom/sync_depth_00045.png 518.8579",
    "bathroom/rgb_00046.jpg bathroom/sync_depth_00046.png 518.8579",
    "bathroom/rgb_00507.jpg bathroom/sync_depth_00507.png 518.8579",
]


def test_bts_names_pair_with_bts_style_and_labeled_mat_frames():
    bts_files = ["bathroom_rgb_00045", "bathroom_rgb_00046", "bathroom_rgb_00507"]
    ours = {"raw/" + name for name in bts_files} | {"cmap/x"}
    files = {rel: f"/p/{rel}.png" for rel in ours}
    # a split prepared from BTS's official_splits/test folder: scene = folder, frame = the RGB's path
    pairs = [(line.split("/")[0], line.split()[0]) for line in BTS_TEST_LINES]
    # the labeled .mat: scene = 'scenes' entry, frame = 1-based index (46 = BTS's 00045)
    labeled = [("bathroom_0001", "0046"), ("bathroom_0001", "0047"), ("bathroom_0041", "0508")]
    want = [f"/p/raw/{name}.png" for name in bts_files]
    for names in (pairs, labeled):
        assert scoring._pair_by_name(files, names[::-1], "/p") == want[::-1]
    assert "bathroom_rgb_00045" in frame_names("bathroom_0001", "0046")
    assert frame_names("bathroom", "bathroom/rgb_00045.jpg")[1] == "bathroom_rgb_00045"
    # AdaBins --save_dir names the same frame bathroom__rgb_00045.png
    assert scoring._pair_by_name({"bathroom__rgb_00045": "/a.png"}, pairs[:1], "/p") == ["/a.png"]
    # BTS's whole result folder (raw/ and cmap/ hold the same names) is refused, never guessed
    twice = {**files, "cmap/bathroom_rgb_00045": "/p/cmap/bathroom_rgb_00045.png"}
    with pytest.raises(PredictionsError, match="several predictions for frame 0.*pass its raw/ folder"):
        scoring._pair_by_name(twice, pairs, "/p")
    with pytest.raises(PredictionsError, match="no prediction for frame 1 .*and 0 more"):
        scoring._pair_by_name({"raw/bathroom_rgb_00045": "/p/a.png", "raw/bathroom_rgb_00507": "/b"}, pairs, "/p")


def test_a_real_bts_result_folder_scores_like_eval_with_pngs(tmp_path):
    """bts_test.py's folder against a labeled_mat-style split, and with BTS's list for a position-named copy."""
    rng = np.random.default_rng(11)
    names = [("bathroom_0001", "0046"), ("bathroom_0001", "0047"), ("bathroom_0041", "0508")]
    gts = [rng.uniform(0.5, 9.0, (48, 64)).astype(np.float32) for _ in names]
    preds = [g * rng.uniform(0.8, 1.2, g.shape).astype(np.float32) for g in gts]
    frames = [(np.zeros((48, 64, 3), np.uint8), g, s, f) for g, (s, f) in zip(gts, names)]
    os.makedirs(tmp_path / "result_bts" / "raw")
    os.makedirs(tmp_path / "by_position")
    for i, (line, pred) in enumerate(zip(BTS_TEST_LINES, preds)):
        mm = (pred * 1000.0).astype(np.uint16)  # bts_test.py
        name = line.split()[0].replace("/", "_").replace(".jpg", ".png")
        tf.io.write_file(str(tmp_path / "result_bts" / "raw" / name), tf.io.encode_png(mm[..., None]))
        tf.io.write_file(str(tmp_path / "by_position" / f"{i:05d}.png"), tf.io.encode_png(mm[..., None]))
    stored = [(p * 1000.0).astype(np.uint16).astype(np.float32) / 1000.0 for p in preds]
    want = compute_depth_metrics(np.stack(gts), np.stack(stored))
    ours, _ = score_predictions(str(tmp_path / "result_bts" / "raw"), frames[::-1], Protocol())
    assert _depth(ours) == pytest.approx(compute_depth_metrics(np.stack(gts[::-1]), np.stack(stored[::-1])))
    listing = tmp_path / "nyudepthv2_test_files_with_gt.txt"
    listing.write_text("\n".join(BTS_TEST_LINES))  # no newline at the end, as BTS's file
    ours, _ = score_predictions(str(tmp_path / "by_position"), frames, Protocol(), "sorted", file_list=str(listing))
    assert _depth(ours) == pytest.approx(want, rel=1e-12)


def test_unreadable_or_misshapen_prediction_is_named(tmp_path):
    (tmp_path / "a.png").write_bytes(b"not a png")
    with pytest.raises(PredictionsError, match="a.png: cannot read"):
        load_prediction(str(tmp_path / "a.png"))
    np.save(tmp_path / "b.npy", np.zeros((2, 3, 4), np.float32))
    with pytest.raises(PredictionsError, match="must be H x W"):
        load_prediction(str(tmp_path / "b.npy"))
    with pytest.raises(PredictionsError, match="does not exist"):
        score_predictions(str(tmp_path / "nothing"), [], Protocol())


def test_8_bit_and_colour_png_predictions_are_refused_from_their_header(split, tmp_path):
    """Issue 26 item 9: an 8-bit PNG was read as value x 257 (decode_png's uint16 widening) and scored without a
    word (abs_rel 2.1 on these frames uncropped); now one line says a depth PNG must be 16-bit."""
    folder = tmp_path / "p8"
    os.makedirs(folder)
    for depth, scene, frame in _truth(split):
        steps = np.clip(np.rint(depth * 25), 0, 255).astype(np.uint8)  # what an 8-bit preview holds
        tf.io.write_file(str(folder / f"{scene}_{frame}.png"), tf.io.encode_png(steps[..., None]))
    with pytest.raises(PredictionsError, match=r"s0_000\.png: a depth PNG must be 16-bit single-channel .* 8-bit grey"):
        score_predictions(str(folder), iter_split_frames(split), Protocol())
    rgb16 = tmp_path / "rgb16.png"
    tf.io.write_file(str(rgb16), tf.io.encode_png(np.zeros((4, 5, 3), np.uint16)))
    with pytest.raises(PredictionsError, match="this one is 16-bit RGB"):
        load_prediction(str(rgb16))
