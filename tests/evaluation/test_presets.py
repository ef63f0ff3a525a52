"""Protocol presets: each equals its peer's documented evaluation settings; ground-truth kind per source;
the input modes; the default protocol on 480x640 ground truth is Eigen-cropped."""

import json
import os

import numpy as np
import pytest
from helpers import run_cli, script

from data_prep import write_frames
from depthnet.data import records
from depthnet.evaluation import presets as protocols
from depthnet.evaluation.evaluate import Protocol, apply_input_mode, evaluate_predictor
from depthnet.evaluation.metrics import CROP_BOXES_480x640, compute_depth_metrics, crop_bounds
from depthnet.evaluation.protocol import resolve_protocol

NEUTRAL_STEPS = {
    "clip_before_flip": False,
    "resize": "half_pixel",
    "relative_to": "gt",
    "gt_mask": "range",
    "quantize_gt_mm": False,
    "quantize_pred_mm": False,
}


def test_bts_preset_is_eval_with_pngs_eigen_crop_raw_depth_per_image():
    # cleinc/bts utils/eval_with_pngs.py: eval_mask[45:471, 41:601] = 1 (--eigen_crop, our crop 'bts'); valid gt
    # in (min_depth_eval, max_depth_eval); pred clipped; per-image compute_errors then .mean();
    # pytorch/README.md: --min_depth_eval 1e-3 --max_depth_eval 10 --eigen_crop; bts_test.py: no flip, the
    # prediction saved as (pred * 1000.0).astype(np.uint16); utils/extract_official_train_test_set_from_mat.py:
    # 'rawDepths' saved as (depth * 1000.0).astype(np.uint16), RGB kept only at [7:474, 7:632].
    assert protocols.preset("bts").settings() == {
        "crop": "bts",
        "min_depth": 1e-3,
        "max_depth": 10.0,
        "average": "per_image",
        "flip_tta": False,
        "input": "black_border",
        "expected_ground_truth": "raw",
        **NEUTRAL_STEPS,
        "quantize_gt_mm": True,
        "quantize_pred_mm": True,
    }
    assert protocols.BLACK_BORDER_480x640 == (7, 474, 7, 632)


def test_adabins_preset_is_evaluate_py_with_flip_tta():
    # shariqfarooq123/AdaBins evaluate.py: predict_tta (each prediction clipped to [min_depth, max_depth], then
    # 0.5 * (pred + pred_lr), then interpolate(align_corners=True)), eval_mask[45:471, 41:601] under
    # --eigen_crop, RunningAverageDict (mean over images); args_test_nyu.txt: --min_depth_eval 1e-3
    # --max_depth_eval 10 --eigen_crop on BTS's test files (dataloader.py: uint16 mm PNG / 1000).
    assert protocols.preset("adabins").settings() == {
        "crop": "bts",
        "min_depth": 1e-3,
        "max_depth": 10.0,
        "average": "per_image",
        "flip_tta": True,
        "input": "black_border",
        "expected_ground_truth": "raw",
        **NEUTRAL_STEPS,
        "clip_before_flip": True,
        "resize": "align_corners",
        "quantize_gt_mm": True,
    }


def test_densedepth_preset_is_utils_evaluate_pooled_filled_flip():
    # ialhashim/DenseDepth utils.py evaluate(): crop = eigen_test_crop.npy = [20, 459, 24, 615] applied as
    # [crop[0]:crop[1]+1, crop[2]:crop[3]+1]; 0.5 * pred + 0.5 * fliplr(pred of the mirrored image), each
    # clipped by predict() to [10, 1000] / 1000 * 10 = [0.1, 10] m first; no mask; one compute_errors over all
    # stacked pixels, called as compute_errors(predictions, testSetDepths) (abs_rel / prediction);
    # eigen_test_depth.npy: filled depth; the whole RGB frame goes in.
    assert protocols.preset("densedepth").settings() == {
        "crop": "densedepth",
        "min_depth": 0.1,
        "max_depth": 10.0,
        "average": "pooled",
        "flip_tta": True,
        "input": "whole",
        "expected_ground_truth": "filled",
        **NEUTRAL_STEPS,
        "clip_before_flip": True,
        "relative_to": "pred",
        "gt_mask": "positive",
    }
    crop = [20, 459, 24, 615]
    window = np.zeros((480, 640), bool)
    window[crop[0] : crop[1] + 1, crop[2] : crop[3] + 1] = True
    t, b, l, r = crop_bounds("densedepth", 480, 640)  # noqa: E741 - top, bottom, left, right
    ours = np.zeros((480, 640), bool)
    ours[t:b, l:r] = True
    np.testing.assert_array_equal(ours, window)


def test_eigen_preset_is_pooled_over_all_pixels_in_the_projection_mask():
    # Eigen et al. NIPS 2014 sec. 4 / Liu et al. 2015: errors averaged over all pixels of all test images,
    # textbook abs_rel; NYU toolbox get_projection_mask.m: mask(45:471, 41:601), 1-based inclusive, 427x561;
    # raw depth where valid.
    assert protocols.preset("eigen").settings() == {
        "crop": "eigen",
        "min_depth": 1e-3,
        "max_depth": 10.0,
        "average": "pooled",
        "flip_tta": False,
        "input": "whole",
        "expected_ground_truth": "raw",
        **NEUTRAL_STEPS,
    }
    assert CROP_BOXES_480x640["eigen"] == (44, 471, 40, 601)
    assert protocols.DEFAULT_PROTOCOL == protocols.TABLE1_PROTOCOL == "eigen"
    with pytest.raises(ValueError, match="bts, adabins, densedepth, eigen"):
        protocols.preset("nyu")


def test_bts_crop_scores_exactly_the_bts_eval_mask():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0.5, 9.0, (480, 640))
    pred = gt * rng.uniform(0.8, 1.25, gt.shape)
    mask = np.zeros(gt.shape, bool)
    mask[45:471, 41:601] = True  # eval_with_pngs.py, which also clips the prediction to [1e-3, 10]
    g, p = gt[mask], np.clip(pred, 1e-3, 10.0)[mask]
    bts_abs_rel = np.mean(np.abs(g - p) / g)
    bts_rmse = np.sqrt(np.mean((g - p) ** 2))
    ours = compute_depth_metrics(gt, pred, crop="bts")
    assert ours["abs_rel"] == pytest.approx(bts_abs_rel, rel=1e-12) and ours["rmse"] == pytest.approx(bts_rmse)
    assert ours["num_pixels"] == 426 * 560 and CROP_BOXES_480x640["bts"] == (45, 471, 41, 601)
    assert compute_depth_metrics(gt, pred, crop="eigen")["num_pixels"] == 427 * 561  # the toolbox's


def _constant_frames(values, shape=(480, 640)):
    return [(np.zeros((*shape, 3), np.uint8), np.full(shape, v, np.float32)) for v in values]


def test_adabins_clips_each_prediction_then_averages_with_its_mirror():
    # AdaBins predict_tta: final = 0.5 * (clip(pred) + clip(pred_lr)). Plain pass 20 m, mirrored pass 2 m,
    # truth 4 m: clip then average = (10 + 2) / 2 = 6 m (abs_rel 0.5); average then clip = 11 -> 10 m (1.5).
    def predict(images):
        mirrored = images.numpy()[0, 0, 0, 0] == 255  # the flipped image carries a marker in its corner
        return np.full((1, 240, 320, 1), 2.0 if mirrored else 20.0, np.float32)

    rgb = np.zeros((480, 640, 3), np.uint8)
    rgb[0, -1] = 255  # top-right: top-left after the flip
    frames = [(rgb, np.full((480, 640), 4.0, np.float32))]
    adabins = Protocol.from_preset("adabins", input="whole")
    ours, _ = evaluate_predictor(predict, frames, adabins)
    assert ours["abs_rel"] == pytest.approx(0.5, abs=1e-6)
    old_order, _ = evaluate_predictor(predict, frames, Protocol(crop="bts", flip_tta=True))
    assert old_order["abs_rel"] == pytest.approx(1.5, abs=1e-6)


def test_adabins_resizes_with_align_corners():
    # A 1x2 prediction [1, 4] m onto 1x4 truth [1, 2, 3, 4]: align_corners hits it exactly, half-pixel gives
    # [1, 1.75, 3.25, 4].
    frames = [(np.zeros((1, 4, 3), np.uint8), np.array([[1.0, 2.0, 3.0, 4.0]], np.float32))]

    def predict(images):
        return np.array([[[[1.0], [4.0]]]], np.float32)

    steps = dict(crop=None, input="whole", flip_tta=False)
    aligned, _ = evaluate_predictor(predict, frames, Protocol.from_preset("adabins", **steps))
    assert aligned["abs_rel"] == pytest.approx(0.0, abs=1e-6)
    half, _ = evaluate_predictor(predict, frames, Protocol(crop=None))
    assert half["abs_rel"] == pytest.approx((0.25 / 2 + 0.25 / 3) / 4, abs=1e-6)


def test_densedepth_divides_by_the_prediction_and_says_so():
    # truth 2 m, prediction 4 m (both passes): DenseDepth's compute_errors(predictions, testSetDepths) gives
    # abs_rel |4 - 2| / 4 = 0.5; the textbook (eigen) form |4 - 2| / 2 = 1.
    frames = [(np.zeros((480, 640, 3), np.uint8), np.full((480, 640), 2.0, np.float32))]

    def predict(images):
        return np.full((1, 240, 320, 1), 4.0, np.float32)

    dense, _ = evaluate_predictor(predict, frames, Protocol.from_preset("densedepth"))
    eigen, _ = evaluate_predictor(predict, frames, Protocol.from_preset("eigen"))
    assert dense["abs_rel"] == pytest.approx(0.5) and eigen["abs_rel"] == pytest.approx(1.0)
    assert dense["rmse"] == pytest.approx(eigen["rmse"]) and dense["num_pixels"] == 440 * 592
    protocol, notes = resolve_protocol("densedepth", {}, frame_size=(480, 640), ground_truth="filled",
                                       input_size=(312, 416))  # fmt: skip
    assert protocol.to_dict()["relative_to"] == "pred" and "abs_rel / prediction" in protocol.describe()
    assert sum("divides abs_rel and sq_rel by the prediction" in n for n in notes) == 1
    assert not any("prediction" in n for n in resolve_protocol("eigen", {}, frame_size=(480, 640),
                   ground_truth="raw", input_size=(312, 416))[1])  # fmt: skip


def test_bts_scores_ground_truth_and_prediction_as_uint16_millimetres():
    # extract_official_train_test_set_from_mat.py / bts_test.py: (d * 1000.0).astype(np.uint16), truncated;
    # eval_with_pngs.py reads them / 1000. Truth 1.0019 m -> 1.001 m; prediction 1.0029 m -> 1.002 m.
    frames = [(np.zeros((480, 640, 3), np.uint8), np.full((480, 640), 1.0019, np.float32))]

    def predict(images):
        return np.full((1, 480, 640, 1), 1.0029, np.float32)

    bts, _ = evaluate_predictor(predict, frames, Protocol.from_preset("bts", input="whole"))
    want = (np.float32(1.002) - np.float32(1.001)) / np.float32(1.001)
    assert bts["abs_rel"] == pytest.approx(float(want), rel=1e-5) and bts["num_pixels"] == 426 * 560
    floats, _ = evaluate_predictor(predict, frames, Protocol(crop="bts"))
    assert floats["abs_rel"] == pytest.approx(0.001 / 1.0019, rel=1e-3)
    protocol, notes = resolve_protocol("bts", {}, frame_size=(480, 640), ground_truth="raw", input_size=(480, 640),
                                       stored_predictions=True)  # fmt: skip
    assert protocol.quantize_gt_mm and not protocol.quantize_pred_mm  # a stored PNG is as it was written
    assert notes == ["input handling and prediction mm rounding of protocol bts are the predicting system's"]


def test_ground_truth_kind_of_every_source():
    prepared = {"tool": "depthnet-prepare"}
    kind = protocols.ground_truth_of_manifest
    assert kind({**prepared, "source": "fastdepth", "split": "train", "source_split": "train"}) == "raw"
    assert kind({**prepared, "source": "fastdepth", "split": "test", "source_split": "val/official"}) == "filled"
    assert kind({**prepared, "source": "tfds", "split": "train", "source_split": "train"}) == "raw"
    assert kind({**prepared, "source": "tfds", "split": "test", "source_split": "validation"}) == "filled"
    for depth in ("filled", "raw"):
        assert kind({**prepared, "source": "labeled_mat", "flags": {"depth": depth}}) == depth
    assert kind({**prepared, "source": "synthetic", "split": "test", "source_split": "synthetic"}) == "synthetic"
    assert kind({**prepared, "source": "pairs", "split": "test", "source_split": "pairs"}) == "unknown"
    assert kind({"source": "synthetic", "tool": "data_prep.write_frames"}) == "unknown"  # in-memory frames
    assert kind({"ground_truth": "raw", "source": "pairs"}) == "raw"  # an explicit declaration wins


def test_input_modes_black_border_and_center_crop_boxes():
    rgb = np.full((480, 640, 3), 255, np.uint8)
    depth = np.full((480, 640), 2.0, np.float32)
    black, same, box = apply_input_mode(rgb, depth, "black_border")
    assert box is None and same is depth
    assert black[7:474, 7:632].min() == 255 and black[:7].max() == 0 and black[474:].max() == 0
    assert black[:, :7].max() == 0 and black[:, 632:].max() == 0
    crop, scored, box = apply_input_mode(rgb, depth, "center_crop")
    assert box == (55, 425, 74, 566) and crop.shape == (370, 492, 3)  # 240x320 of 312x416, at 480x640
    assert (scored > 0).sum() == 370 * 492 and scored[55:425, 74:566].min() == 2.0
    with pytest.raises(ValueError, match="whole, black_border, center_crop"):
        apply_input_mode(rgb, depth, "letterbox")


def test_center_crop_input_scores_only_the_crop_region():
    depth = np.linspace(1.0, 5.0, 480 * 640, dtype=np.float32).reshape(480, 640)
    seen = []

    def predict(images):  # exact depth of whatever region it is shown, at half resolution
        h, w = images.shape[1:3]
        seen.append((h, w))
        t, b, l, r = protocols.center_crop_box(480, 640)  # noqa: E741 - top, bottom, left, right
        return depth[None, t:b:2, l:r:2, None] if (h, w) == (b - t, r - l) else depth[None, ::2, ::2, None]

    frames = [(np.zeros((480, 640, 3), np.uint8), depth)]
    metrics, _ = evaluate_predictor(predict, frames, Protocol(crop="eigen", input="center_crop"))
    assert seen == [(370, 492)]
    assert metrics["num_pixels"] == (425 - 55) * (566 - 74)  # the crop lies inside the Eigen window
    assert metrics["abs_rel"] < 0.01


def _npy_predictions(folder, frames, transform):
    os.makedirs(folder, exist_ok=True)
    for f in frames:
        np.save(os.path.join(folder, f"{f.scene}_{f.frame}.npy"), transform(f.depth))


def test_default_protocol_on_480x640_ground_truth_is_eigen_cropped(tmp_path):
    rng = np.random.default_rng(1)
    t, b, l, r = 44, 471, 40, 601  # noqa: E741 - the NYU toolbox's mask(45:471, 41:601), 1-based inclusive
    frames = []
    for i in range(2):
        depth = rng.uniform(1.0, 6.0, (480, 640)).astype(np.float32)
        frames.append(records.Frame(np.zeros((480, 640, 3), np.uint8), depth, f"room{i}", f"{i:04d}"))
    write_frames(frames, str(tmp_path / "test"))

    def right_inside_eigen(depth):
        out = depth * 2.0
        out[t:b, l:r] = depth[t:b, l:r]
        return out

    _npy_predictions(tmp_path / "pred", frames, right_inside_eigen)
    proc = run_cli(
        script("depthnet-eval")
        + [f"--predictions={tmp_path}/pred", f"--data_dir={tmp_path}/test", f"--output_dir={tmp_path}/out"]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    payload = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert payload["protocol"]["crop"] == "eigen" and payload["preset"]["name"] == "eigen"
    assert payload["metrics"]["abs_rel"] < 1e-3 and payload["metrics"]["num_pixels"] == 2 * 427 * 561
    assert "Preset: eigen" in proc.stdout and "  crop: eigen" in proc.stdout and "  average: pooled" in proc.stdout
    # The same predictions, scored uncropped, are 2x wrong outside the window.
    proc = run_cli(
        script("depthnet-eval")
        + [
            f"--predictions={tmp_path}/pred",
            f"--data_dir={tmp_path}/test",
            f"--output_dir={tmp_path}/none",
            "--crop=none",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    uncropped = json.loads((tmp_path / "none" / "metrics.json").read_text())
    assert uncropped["metrics"]["abs_rel"] > 0.1 and uncropped["preset"]["name"] == "eigen with crop=None"
