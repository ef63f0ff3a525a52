"""depthnet-eval: hand-checked scores through the evaluation path, the protocol options, the labeled
.mat path, the CLI end to end on a tiny trained run, and experiments/table1.py."""

import json
import os
import pathlib
import sys

import numpy as np
import pytest
import tensorflow as tf

from data_prep import write_frames
from depthnet.data import pipeline as data
from depthnet.data import records
from depthnet.evaluation.evaluate import (
    Protocol,
    evaluate_predictor,
    iter_split_frames,
)
from depthnet.evaluation.metrics import eigen_crop_bounds


def labeled_mat_reader(labeled_mat, splits_mat, depth="filled"):
    """The official test split of nyu_depth_v2_labeled.mat, as depthnet-eval --labeled_mat reads it."""
    from data_prep.readers import LabeledMatReader

    return LabeledMatReader(labeled_mat, "test", splits_mat=splits_mat, depth=depth)


from helpers import REPO, shared_tiny_run
from helpers import run_cli as _run
from helpers import script as _script

H, W = 48, 64
MM_PER_LEVEL = 40  # the test frames encode depth in the red channel: depth = red * 40 mm


def _coded_frame(levels, scene="s", frame="f"):
    """RGB whose red channel codes the depth (red * 40 mm; red 0 = a hole)."""
    levels = np.asarray(levels, np.uint8)
    rgb = np.stack([levels, np.full_like(levels, 7), np.full_like(levels, 200)], axis=-1)
    return records.Frame(rgb, levels.astype(np.float32) * MM_PER_LEVEL / 1000.0, scene, frame)


def _decode(images):
    """The truth as the prepared split stores and reads it: float32(mm) / 1000 (bit-exact)."""
    images = tf.convert_to_tensor(images)
    return (tf.cast(images[..., :1], tf.float32) * float(MM_PER_LEVEL)) / 1000.0


def scaled(factor=1.0, left=None, outside_eigen=None, where_level=None):
    """A predictor that reads the truth out of the image and distorts it in a known way."""

    def predict(images):
        depth = _decode(images).numpy()
        out = depth * factor
        if left is not None:  # multiply the left half of the *input* image by `left`
            out[:, :, : out.shape[2] // 2] = depth[:, :, : out.shape[2] // 2] * left
        if outside_eigen is not None:
            t, b, l, r = eigen_crop_bounds(out.shape[1], out.shape[2])  # noqa: E741 - top, bottom, left, right
            window = np.zeros(out.shape[1:3], bool)
            window[t:b, l:r] = True
            out[:, ~window] = depth[:, ~window] * outside_eigen
        if where_level is not None:
            level, value = where_level
            codes = np.asarray(images)[..., :1]
            out = np.where(codes == level, value, out)
        return out

    return predict


@pytest.fixture(scope="module")
def coded_split(tmp_path_factory):
    """Two 48x64 frames with depth 0.04-7.16 m coded in their pixels (no holes; 1.3x stays under 10 m)."""
    rng = np.random.default_rng(5)
    frames = [_coded_frame(rng.integers(1, 180, (H, W)), frame=str(i)) for i in range(2)]
    split = tmp_path_factory.mktemp("coded") / "test"
    write_frames(frames, str(split))
    return str(split), frames


# ---------------------------------------------------------------------------------------------- hand-checked


def test_perfect_prediction_scores_zero_error(coded_split):
    split, _ = coded_split
    metrics, _ = evaluate_predictor(scaled(1.0), iter_split_frames(split), Protocol())
    assert metrics["abs_rel"] == 0.0 and metrics["rmse"] == 0.0 and metrics["log10"] == 0.0
    assert metrics["delta1"] == metrics["delta2"] == metrics["delta3"] == 1.0
    assert metrics["num_images"] == 2 and metrics["num_pixels"] == 2 * H * W


def test_prediction_ten_percent_too_far(coded_split):
    split, frames = coded_split
    metrics, _ = evaluate_predictor(scaled(1.1), iter_split_frames(split), Protocol())
    assert metrics["abs_rel"] == pytest.approx(0.1, abs=1e-6)
    assert metrics["log10"] == pytest.approx(np.log10(1.1), abs=1e-6)
    assert metrics["delta1"] == 1.0
    # rmse per image = 0.1 * sqrt(mean(g^2)), then averaged over the two images
    expected = np.mean([0.1 * np.sqrt(np.mean(f.depth.astype(np.float64) ** 2)) for f in frames])
    assert metrics["rmse"] == pytest.approx(expected, rel=1e-5)
    metrics, _ = evaluate_predictor(scaled(1.3), iter_split_frames(split), Protocol())
    assert metrics["abs_rel"] == pytest.approx(0.3, abs=1e-6)
    assert metrics["delta1"] == 0.0 and metrics["delta2"] == 1.0  # 1.25 < 1.3 < 1.25^2


def test_eigen_crop_excludes_the_border(coded_split):
    split, _ = coded_split
    predict = scaled(1.0, outside_eigen=2.0)  # right inside the Eigen window, 2x wrong outside it
    t, b, l, r = eigen_crop_bounds(H, W)  # noqa: E741 - top, bottom, left, right
    assert (t, b, l, r) == (5, 47, 4, 60)  # the toolbox's 44:471, 40:601 scaled to 48x64, rounded inwards
    inside = (b - t) * (r - l) / (H * W)
    metrics, _ = evaluate_predictor(predict, iter_split_frames(split), Protocol(crop="eigen", max_depth=20))
    assert metrics["abs_rel"] == 0.0 and metrics["num_pixels"] == 2 * (b - t) * (r - l)
    metrics, _ = evaluate_predictor(predict, iter_split_frames(split), Protocol(crop=None, max_depth=20))
    assert metrics["abs_rel"] == pytest.approx(1.0 - inside, abs=1e-6)  # |2g - g| / g = 1 on the border


def test_depth_range_excludes_ground_truth_outside_it(tmp_path):
    levels = np.full((H, W), 50, np.uint8)  # 2 m
    levels[:, :8] = 250  # 10 m: not < max_depth=10, excluded
    levels[:, 8:16] = 200  # 8 m
    levels[:, 16:20] = 10  # 0.4 m
    split = tmp_path / "range"
    write_frames([_coded_frame(levels)], str(split))
    predict = scaled(1.0, where_level=(200, 6.0))  # 8 m predicted as 6 m: abs_rel 0.25 there
    metrics, _ = evaluate_predictor(predict, iter_split_frames(str(split)), Protocol(max_depth=10))
    n_valid = H * (W - 8)
    assert metrics["num_pixels"] == n_valid
    assert metrics["abs_rel"] == pytest.approx(0.25 * H * 8 / n_valid, abs=1e-6)
    metrics, _ = evaluate_predictor(predict, iter_split_frames(str(split)), Protocol(max_depth=7.0))
    assert metrics["abs_rel"] == 0.0 and metrics["num_pixels"] == H * (W - 16)  # 8 m and 10 m out
    metrics, _ = evaluate_predictor(predict, iter_split_frames(str(split)), Protocol(min_depth=0.5, max_depth=7.0))
    assert metrics["num_pixels"] == H * (W - 20)  # 0.4 m out too


def test_per_image_and_pooled_averages_differ_as_computed_by_hand(tmp_path):
    full = np.full((H, W), 50, np.uint8)
    half = full.copy()
    half[:, W // 2 :] = 0  # a hole over half of the second image
    split = tmp_path / "avg"
    write_frames([_coded_frame(full, frame="a"), _coded_frame(half, frame="b")], str(split))

    def predict(images):  # image a 10% too far, image b 20% too far
        depth = _decode(images).numpy()
        return depth * (1.2 if (depth == 0).any() else 1.1)

    per_image, _ = evaluate_predictor(predict, iter_split_frames(str(split)), Protocol(average="per_image"))
    pooled, _ = evaluate_predictor(predict, iter_split_frames(str(split)), Protocol(average="pooled"))
    assert per_image["abs_rel"] == pytest.approx((0.1 + 0.2) / 2, abs=1e-6)
    assert pooled["abs_rel"] == pytest.approx((0.1 * 2 + 0.2 * 1) / 3, abs=1e-6)  # b has half the pixels
    assert per_image["num_pixels"] == pooled["num_pixels"] == H * W * 3 // 2


def test_flip_tta_averages_with_the_mirrored_prediction(coded_split):
    split, _ = coded_split
    predict = scaled(left=1.2)  # left half of what it sees 20% too far, right half right
    plain, _ = evaluate_predictor(predict, iter_split_frames(split), Protocol())
    tta, _ = evaluate_predictor(predict, iter_split_frames(split), Protocol(flip_tta=True))
    assert plain["abs_rel"] == pytest.approx(0.1, abs=1e-6)  # half the pixels at 0.2
    assert tta["abs_rel"] == pytest.approx(0.1, abs=1e-6)  # (1.2 + 1) / 2 = 1.1x everywhere
    assert tta["delta1"] == 1.0 and plain["delta1"] == 1.0

    def lopsided(images):  # left half 1.2x, right half 0.8x: the mirrored average is exact
        out = predict(images)
        depth = _decode(images).numpy()
        out[:, :, W // 2 :] = 0.8 * depth[:, :, W // 2 :]
        return out

    tta, _ = evaluate_predictor(lopsided, iter_split_frames(split), Protocol(flip_tta=True))
    assert tta["abs_rel"] == pytest.approx(0.0, abs=1e-6)


def _write_labeled_mat(path, rgbs, depths, raws, scenes):
    """nyu_depth_v2_labeled.mat's layout (MATLAB v7.3 = HDF5, column-major)."""
    import h5py

    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("images", data=np.stack([r.transpose(2, 1, 0) for r in rgbs]))
        f.create_dataset("depths", data=np.stack([d.T for d in depths]).astype(np.float32))
        f.create_dataset("rawDepths", data=np.stack([d.T for d in raws]).astype(np.float32))
        refs = f.create_group("#refs#")
        ref_list = [
            refs.create_dataset(f"s{i}", data=np.array([ord(c) for c in s], np.uint16).reshape(-1, 1)).ref
            for i, s in enumerate(scenes)
        ]
        cell = f.create_dataset("scenes", (1, len(scenes)), dtype=h5py.ref_dtype)
        cell[0, :] = ref_list


def test_labeled_mat_test_split_filled_and_raw(tmp_path):
    import scipy.io

    rng = np.random.default_rng(2)
    frames = [_coded_frame(rng.integers(1, 180, (H, W))) for _ in range(3)]
    raws = []
    for f in frames:
        raw = f.depth.copy()
        raw[:10] = 0.0  # holes in the raw depth
        raws.append(raw)
    _write_labeled_mat(
        tmp_path / "labeled.mat", [f.rgb for f in frames], [f.depth for f in frames], raws, ["a", "b", "c"]
    )
    scipy.io.savemat(tmp_path / "splits.mat", {"trainNdxs": np.array([[1.0]]), "testNdxs": np.array([[2.0], [3.0]])})

    def lookup(images):  # the .mat keeps float metres: predict exactly the stored filled depth
        rgb = np.asarray(images)[0]
        match = [f.depth for f in frames if np.array_equal(f.rgb, rgb)]
        assert len(match) == 1
        return match[0][None, ..., None]

    results = {}
    for kind in ("filled", "raw"):
        reader = labeled_mat_reader(str(tmp_path / "labeled.mat"), str(tmp_path / "splits.mat"), kind)
        try:
            results[kind], _ = evaluate_predictor(lookup, reader.frames(), Protocol(ground_truth=kind))
        finally:
            reader.close()
    assert results["filled"]["num_images"] == 2  # testNdxs = frames 2 and 3
    assert results["filled"]["abs_rel"] == 0.0 and results["filled"]["num_pixels"] == 2 * H * W
    assert results["raw"]["num_pixels"] == 2 * (H - 10) * W and results["raw"]["abs_rel"] == 0.0


# ---------------------------------------------------------------------------------------------- real model


def _pipeline_reference(model, split, protocol):
    """The training pipeline's resized frames through the bare Keras model, scored by the metric function itself
    (no evaluation loop): what the one loop with a Predictor must reproduce."""
    from depthnet.evaluation.evaluate import network_input
    from depthnet.evaluation.metrics import DepthMetricAccumulator

    acc = DepthMetricAccumulator(protocol.crop, protocol.min_depth, protocol.max_depth, protocol.average)
    for batch in data.eval_dataset(split, resize_to=tuple(network_input(split, protocol))):
        acc.update(batch["depth"].numpy(), model(batch["image"], training=False).numpy())
    return acc.result()


def test_predictor_path_equals_training_validation_path(tmp_path_factory):
    from depthnet.checkpoints import restore_model
    from depthnet.inference import Predictor

    model_dir, data_root = shared_tiny_run(tmp_path_factory)
    split = os.path.join(data_root, "test")
    model, _ = restore_model(model_dir, "latest")
    reference = _pipeline_reference(model, split, Protocol())
    ours, _ = evaluate_predictor(Predictor.from_keras(model), iter_split_frames(split), Protocol())
    for key in ("abs_rel", "rmse", "log10", "delta1", "num_pixels"):
        assert ours[key] == pytest.approx(reference[key], rel=1e-4), key


def test_cli_end_to_end_on_a_tiny_run(tmp_path_factory, tmp_path):
    model_dir, data_root = shared_tiny_run(tmp_path_factory)
    out = tmp_path / "eval"
    proc = _run(
        _script("depthnet-eval")
        + [
            f"--model_dir={model_dir}",
            f"--data_dir={data_root}/test",
            f"--output_dir={out}",
            "--crop=eigen",
            "--average=pooled",
            "--max_depth=8",
            "--flip_tta",
            "--panels=1",
            "--checkpoint=latest",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    payload = json.loads((out / "metrics.json").read_text())
    assert payload["protocol"] == {
        "crop": "eigen",
        "min_depth": 0.001,
        "max_depth": 8.0,
        "average": "pooled",
        "flip_tta": True,
        "input_size": [84, 124],
        "ground_truth": "unknown",
    }
    assert payload["metrics"]["num_images"] == 2 and 0 <= payload["metrics"]["delta1"] <= 1
    assert payload["model"]["checkpoint_path"].endswith("ckpt-2") and payload["data"]["num_frames"] == 2
    assert "crop eigen" in (out / "metrics.md").read_text() and (out / "panel_0.png").exists()
    assert "| ours |" in proc.stdout and "Protocol: crop eigen" in proc.stdout
    assert "evaluating" in proc.stderr  # the progress bar

    bad = _run(
        _script("depthnet-eval")
        + [f"--model_dir={model_dir}", f"--data_dir={tmp_path}/nothing", f"--output_dir={tmp_path}/x"]
    )
    assert bad.returncode == 2 and "manifest.json missing" in bad.stderr


# ---------------------------------------------------------------------------------------------- Table 1


def _metrics_json(path, abs_rel, crop):
    p = Protocol(crop=crop, ground_truth="filled")
    payload = {
        "metrics": {
            "abs_rel": abs_rel,
            "rmse": 0.5,
            "log10": 0.05,
            "delta1": 0.8,
            "delta2": 0.95,
            "delta3": 0.99,
            "num_images": 654,
        },
        "protocol": p.to_dict(),
        "protocol_text": p.describe(),
    }
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "metrics.json"), "w") as f:
        json.dump(payload, f)


def test_table1_puts_paper_numbers_beside_ours_with_protocols(tmp_path):
    _metrics_json(tmp_path / "full" / "eval", 0.1234, "eigen")  # a model_dir with eval/metrics.json
    _metrics_json(tmp_path / "dfe", 0.2, None)  # a folder with metrics.json
    proc = _run(
        [
            sys.executable,
            os.path.join(REPO, "experiments", "table1.py"),
            f"--full={tmp_path}/full",
            f"--dfe={tmp_path}/dfe/metrics.json",
            f"--output_md={tmp_path}/t.md",
            f"--output_json={tmp_path}/t.json",
        ]
    )
    assert proc.returncode == 0, proc.stderr
    md = (tmp_path / "t.md").read_text()
    lines = md.splitlines()
    full_paper = next(i for i, line in enumerate(lines) if line.startswith("| DFE + AFB + dilated CRB"))
    assert "| 0.127 | 0.555 | 0.053 | 0.841 | 0.966 | 0.991 | paper |" in lines[full_paper]
    assert "| ours | 0.123 | 0.500 | 0.050 | 0.800 | 0.950 | 0.990 | [P" in lines[full_paper + 1]
    base_paper = next(i for i, line in enumerate(lines) if line.startswith("| baseline"))
    assert "0.153 | 0.663 | 0.070 | 0.754 | 0.953 | 0.990" in lines[base_paper]
    assert lines[base_paper + 1].count("—") == 7  # six metrics + protocol
    assert "crop eigen" in md and "crop none" in md
    table = json.loads((tmp_path / "t.json").read_text())
    assert len(table["protocols"]) == 2 and len(table["rows"]) == 8
    paper = json.loads(pathlib.Path(REPO, "experiments", "paper_table1.json").read_text())
    assert paper["rows"]["dfe_afb"]["rms"] == 0.568 and paper["rows"]["dfe"]["delta3"] == 0.989
    missing = _run([sys.executable, os.path.join(REPO, "experiments", "table1.py"), f"--full={tmp_path}/none"])
    assert missing.returncode == 2 and "no metrics.json" in missing.stderr


def test_run_is_evaluated_at_its_own_training_scale(tmp_path_factory):
    """A run trained on 64x96 crops is fed whole frames at 84x124 (its resize_for_crop), not NYU's 312x416."""
    from depthnet.config import preset
    from depthnet.inference import Predictor

    model_dir, _ = shared_tiny_run(tmp_path_factory)
    assert preset("tiny").input_size == (64, 96)
    assert Predictor.from_model_dir(model_dir).working == data.resize_for_crop((64, 96)) == (84, 124)


# ---------------------------------------------------------------------------------------------- one size rule


def test_size_reported_is_the_size_applied_and_both_paths_apply_it(tmp_path_factory):
    """The one loop's Predictor feeds a frame at the one working size of depthnet.inference (equal to the training
    pipeline's resize of it), and the results report that size."""
    from depthnet.checkpoints import restore_model
    from depthnet.evaluation.evaluate import network_input, resize_rule_text
    from depthnet.inference import Predictor, working_size_of

    assert working_size_of(240, 320, (156, 208)) == (156, 208)  # the quick run: no 160x208 any more
    assert working_size_of(480, 640, (156, 208)) == (156, 208) and working_size_of(480, 640) == (312, 416)
    model_dir, data_root = shared_tiny_run(tmp_path_factory)
    split = os.path.join(data_root, "test")  # 78x104 frames; the tiny run's working size is 84x124
    model, _ = restore_model(model_dir, "latest")
    predictor = Predictor.from_keras(model, working=(84, 124))
    protocol = Protocol(input_size=(84, 124))
    applied = predictor.working_size_for(78, 104)
    assert network_input(split, protocol) == list(applied) == [88, 116]
    assert "a 78x104 frame -> 88x116" in resize_rule_text((84, 124), (78, 104))
    ours, _ = evaluate_predictor(predictor, iter_split_frames(split), protocol)
    validation = _pipeline_reference(model, split, protocol)
    for key in ("abs_rel", "rmse", "log10", "delta1", "num_pixels"):
        assert validation[key] == pytest.approx(ours[key], rel=1e-5), key
    # A different input size gives other numbers: the equality above is not an accident.
    wider = Predictor.from_keras(model, working=(84, 164))
    other, _ = evaluate_predictor(wider, iter_split_frames(split), protocol)
    assert other["abs_rel"] != pytest.approx(ours["abs_rel"], rel=1e-5)


def test_panels_show_frames_spread_over_the_split():
    from depthnet.evaluation.evaluate import example_indices

    picked = example_indices(60, 4)  # the main job: 60 held-out frames, four views per synthetic room
    assert picked == [7, 22, 37, 52] and len({i // 4 for i in picked}) == 4  # four different rooms
    assert example_indices(2, 4) == [0, 1] and example_indices(5, 0) == []


# ---------------------------------------------------------------------------------------------- a BTS result folder


def test_depthnet_eval_scores_a_bts_result_folder_as_eval_with_pngs_does(tmp_path):
    """bts_test.py's result_<model>/raw/<sceneType>_rgb_<i>.png against a split of BTS's test folder: paired by
    name, scored as BTS's eval_with_pngs.py (whole-mm ground truth, eval_mask 45:471 x 41:601, 1e-3..10 m,
    per image); an order-only pairing without a file list is refused."""
    rng = np.random.default_rng(5)
    lines = ["bathroom/rgb_00045.jpg", "bathroom/rgb_00046.jpg", "office_kitchen/rgb_00507.jpg"]
    gts = [rng.uniform(0.5, 9.5, (480, 640)).astype(np.float32) for _ in lines]
    frames = [
        records.Frame(np.zeros((480, 640, 3), np.uint8), g, line.split("/")[0], line) for g, line in zip(gts, lines)
    ]
    write_frames(frames, str(tmp_path / "test"))
    os.makedirs(tmp_path / "result" / "raw")
    stored = [f[1] for f in iter_split_frames(str(tmp_path / "test"))]  # the split keeps whole millimetres
    rel = []
    for line, gt in zip(lines, stored):
        mm = (gt * rng.uniform(0.8, 1.25, gt.shape) * 1000.0).astype(np.uint16)  # bts_test.py: (pred*1000) uint16
        name = line.replace("/", "_").replace(".jpg", ".png")
        tf.io.write_file(str(tmp_path / "result" / "raw" / name), tf.io.encode_png(mm[..., None]))
        g = np.rint(gt.astype(np.float64) * 1000.0) / 1000.0  # BTS reads whole-mm PNGs; the split holds whole mm
        p = np.clip(mm.astype(np.float64) / 1000.0, 1e-3, 10.0)
        valid = np.zeros_like(g, bool)
        valid[45:471, 41:601] = True
        valid &= (g > 1e-3) & (g < 10.0)
        rel.append(np.mean(np.abs(g[valid] - p[valid]) / g[valid]))
    args = [f"--predictions={tmp_path / 'result' / 'raw'}", f"--data_dir={tmp_path / 'test'}", "--protocol=bts"]
    proc = _run(_script("depthnet-eval") + args + [f"--output_dir={tmp_path / 'out'}", "--panels=0"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(tmp_path / "out" / "metrics.json", encoding="utf-8") as f:
        result = json.load(f)
    assert result["metrics"]["num_images"] == 3
    assert result["metrics"]["abs_rel"] == pytest.approx(float(np.mean(rel)), rel=1e-5)
    refused = _run(_script("depthnet-eval") + args + [f"--output_dir={tmp_path / 'o2'}", "--predictions_order=sorted"])
    assert refused.returncode == 2 and "error:" in refused.stderr and "--predictions_list" in refused.stderr
    assert not (tmp_path / "o2" / "metrics.json").exists()
