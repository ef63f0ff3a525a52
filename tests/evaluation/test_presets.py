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


def test_bts_preset_is_eval_with_pngs_eigen_crop_raw_depth_per_image():
    # cleinc/bts utils/eval_with_pngs.py: eval_mask[45:471, 41:601] = 1 (--eigen_crop); valid gt in
    # (min_depth_eval, max_depth_eval); pred clipped; per-image compute_errors then .mean();
    # pytorch/README.md: --min_depth_eval 1e-3 --max_depth_eval 10 --eigen_crop; bts_test.py: no flip;
    # utils/extract_official_train_test_set_from_mat.py: 'rawDepths', RGB kept only at [7:474, 7:632].
    assert protocols.preset("bts").settings() == {
        "crop": "eigen",
        "min_depth": 1e-3,
        "max_depth": 10.0,
        "average": "per_image",
        "flip_tta": False,
        "input": "black_border",
        "expected_ground_truth": "raw",
    }
    assert protocols.BLACK_BORDER_480x640 == (7, 474, 7, 632)


def test_adabins_preset_is_evaluate_py_with_flip_tta():
    # shariqfarooq123/AdaBins evaluate.py: predict_tta (flip, clip to [min_depth, max_depth]),
    # eval_mask[45:471, 41:601] under --eigen_crop, RunningAverageDict (mean over images);
    # args_test_nyu.txt: --min_depth_eval 1e-3 --max_depth_eval 10 --eigen_crop on BTS's test files.
    assert protocols.preset("adabins").settings() == {
        "crop": "eigen",
        "min_depth": 1e-3,
        "max_depth": 10.0,
        "average": "per_image",
        "flip_tta": True,
        "input": "black_border",
        "expected_ground_truth": "raw",
    }


def test_densedepth_preset_is_utils_evaluate_pooled_filled_flip():
    # ialhashim/DenseDepth utils.py evaluate(): crop = eigen_test_crop.npy = [20, 459, 24, 615] applied as
    # [crop[0]:crop[1]+1, crop[2]:crop[3]+1]; 0.5 * pred + 0.5 * fliplr(pred of the mirrored image);
    # one compute_errors over all stacked pixels; predict() clips to [10, 1000] / 1000 * 10 = [0.1, 10] m;
    # eigen_test_depth.npy: filled depth; the whole RGB frame goes in.
    assert protocols.preset("densedepth").settings() == {
        "crop": "densedepth",
        "min_depth": 0.1,
        "max_depth": 10.0,
        "average": "pooled",
        "flip_tta": True,
        "input": "whole",
        "expected_ground_truth": "filled",
    }
    crop = [20, 459, 24, 615]
    window = np.zeros((480, 640), bool)
    window[crop[0] : crop[1] + 1, crop[2] : crop[3] + 1] = True
    t, b, l, r = crop_bounds("densedepth", 480, 640)  # noqa: E741 - top, bottom, left, right
    ours = np.zeros((480, 640), bool)
    ours[t:b, l:r] = True
    np.testing.assert_array_equal(ours, window)


def test_eigen_preset_is_pooled_over_all_pixels_in_the_projection_mask():
    # Eigen et al. NIPS 2014 sec. 4 / Liu et al. 2015: errors averaged over all pixels of all test images;
    # NYU toolbox get_projection_mask.m: mask(45:471, 41:601) (BTS's --eigen_crop box); raw depth where valid.
    assert protocols.preset("eigen").settings() == {
        "crop": "eigen",
        "min_depth": 1e-3,
        "max_depth": 10.0,
        "average": "pooled",
        "flip_tta": False,
        "input": "whole",
        "expected_ground_truth": "raw",
    }
    assert protocols.DEFAULT_PROTOCOL == protocols.TABLE1_PROTOCOL == "eigen"
    with pytest.raises(ValueError, match="bts, adabins, densedepth, eigen"):
        protocols.preset("nyu")


def test_eigen_crop_scores_exactly_the_bts_eval_mask():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0.5, 9.0, (480, 640))
    pred = gt * rng.uniform(0.8, 1.25, gt.shape)
    mask = np.zeros(gt.shape, bool)
    mask[45:471, 41:601] = True  # eval_with_pngs.py, which also clips the prediction to [1e-3, 10]
    g, p = gt[mask], np.clip(pred, 1e-3, 10.0)[mask]
    bts_abs_rel = np.mean(np.abs(g - p) / g)
    bts_rmse = np.sqrt(np.mean((g - p) ** 2))
    ours = compute_depth_metrics(gt, pred, crop="eigen")
    assert ours["abs_rel"] == pytest.approx(bts_abs_rel, rel=1e-12) and ours["rmse"] == pytest.approx(bts_rmse)
    assert ours["num_pixels"] == 426 * 560 and CROP_BOXES_480x640["eigen"] == (45, 471, 41, 601)


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
    t, b, l, r = 45, 471, 41, 601  # noqa: E741 - top, bottom, left, right
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
    assert payload["metrics"]["abs_rel"] < 1e-3 and payload["metrics"]["num_pixels"] == 2 * 426 * 560
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
