"""depthnet.evaluation.boundary_metrics against hand-built depth maps: iBims-1 DBE and Depth Pro's boundary F1."""

import json

import numpy as np
import pytest

from depthnet.evaluation.boundary_metrics import (
    BOUNDARY_KEYS,
    F1_THRESHOLDS,
    boundary_f1,
    canny_edges,
    compute_boundary_metrics,
    dbe_from_edges,
)
from depthnet.evaluation.evaluate import Protocol, evaluate_predictor, write_results
from depthnet.evaluation.metrics import METRIC_KEYS

H, W = 48, 64


def step(column, near=2.0, far=4.0, h=H, w=W):
    """Depth `near` left of `column`, `far` from it on: one vertical depth edge."""
    depth = np.full((h, w), near)
    depth[:, column:] = far
    return depth


def steps(columns, levels):
    depth = np.full((H, W), levels[0])
    for column, level in zip(columns, levels[1:]):
        depth[:, column:] = level
    return depth


@pytest.mark.parametrize("k", [0, 1, 2, 3, 5, 9])
def test_step_edge_shifted_by_k_pixels_is_k_pixels_off(k):
    for shift in (k, -k):
        m = compute_boundary_metrics(step(30), step(30 + shift))
        assert m["dbe_acc"] == pytest.approx(k) and m["dbe_comp"] == pytest.approx(k)
        assert m["num_boundary_images"] == 1
    # The same along the other axis, with the far side on top.
    horizontal = compute_boundary_metrics(step(20).T, step(20 + k).T)
    assert horizontal["dbe_acc"] == pytest.approx(k)


def test_edge_beyond_the_ten_pixel_neighbourhood_scores_the_maximum():
    for k in (10, 14):
        m = compute_boundary_metrics(step(30), step(30 - k))
        assert m["dbe_acc"] == 10.0 and m["dbe_comp"] == 10.0
    flat = compute_boundary_metrics(step(30), np.full((H, W), 3.0))  # no predicted edge at all
    assert flat["dbe_acc"] == 10.0 and flat["dbe_comp"] == 10.0


def test_a_missed_edge_costs_completeness_but_not_accuracy():
    truth = steps([20, 44], [2.0, 3.0, 4.0])  # two edges, 46 edge pixels each (border rows excluded)
    m = compute_boundary_metrics(truth, step(20))  # the prediction finds only the first
    assert m["dbe_acc"] == 0.0
    # (46 predicted edges at 0 px + 46 found truth edges at 0 px + 46 missed ones at min(24, 10) px) / (46 + 92)
    assert m["dbe_comp"] == pytest.approx(46 * 10.0 / (46 + 92))


def test_canny_thresholds_ignore_steps_below_the_low_threshold():
    """0.15 / 0.3 are on the Sobel magnitude of the [0, 1]-normalised map: a step of 5% of the range is no edge."""
    depth = steps([20, 44], [2.0, 6.0, 6.2])  # a 4 m step and a 0.2 m step
    normalised = (depth - 2.0) / 4.0
    edges = canny_edges(normalised)
    assert set(np.nonzero(edges.any(axis=0))[0]) == {19}
    assert edges[1:-1, 19].all() and edges.sum() == H - 2


def test_dbe_from_edge_maps_by_hand():
    gt = np.zeros((20, 20), bool)
    gt[5, 2:18] = True  # 16 truth pixels on row 5
    pred = np.zeros_like(gt)
    pred[8, 2:18] = True  # 16 predicted pixels 3 rows away
    pred[19, 0] = True  # one stray edge more than 10 px from the truth: ignored by accuracy
    acc, comp = dbe_from_edges(gt, pred)
    assert acc == pytest.approx(3.0)
    assert comp == pytest.approx((16 * 3 + 10 + 16 * 3) / (17 + 16))
    assert all(np.isnan(dbe_from_edges(np.zeros_like(gt), pred)))


def test_boundary_f1_is_one_for_any_scale_and_zero_for_a_shift():
    truth = step(30)
    assert boundary_f1(truth, 1.7 * truth, np.ones_like(truth, bool)) == pytest.approx(1.0)
    assert boundary_f1(truth, step(31), np.ones_like(truth, bool)) == 0.0
    blurred = np.tile(np.geomspace(2.0, 4.0, W), (H, 1))  # 2 -> 4 m spread over the image: ratios < 1.05
    assert boundary_f1(truth, blurred, np.ones_like(truth, bool)) == 0.0


def test_boundary_f1_weights_thresholds_as_published():
    """A 15% step is a boundary for the five thresholds 1.05..1.139 only; the others score 0 (P + R = 0)."""
    truth = step(30, near=2.0, far=2.3)
    thresholds = [1.05 + 0.2 * i / 9 for i in range(10)]
    assert np.allclose(F1_THRESHOLDS, thresholds)
    expected = sum(thresholds[:5]) / sum(thresholds)  # F1 = 1 at t < 1.15, weights t / sum(t)
    assert boundary_f1(truth, 3.0 * truth, np.ones_like(truth, bool)) == pytest.approx(expected)
    # The edge found in the lower half only, plus a false horizontal edge along it: 24 of the truth's 48 pairs
    # found, 24 + 34 predicted: P = 24/58, R = 24/48, F1 = 2PR / (P + R) = 24/53 at those thresholds.
    half = truth.copy()
    half[: H // 2, 30:] = 2.0
    assert boundary_f1(truth, half, np.ones_like(truth, bool)) == pytest.approx(expected * 24 / 53)


def test_invalid_ground_truth_makes_no_edges_and_images_without_boundaries_are_not_scored():
    truth = np.full((H, W), 3.0)
    truth[:, :12] = 0.0  # a hole: no edge along it, and predicted edges inside it do not count
    pred = step(6, near=1.0, far=3.0)
    m = compute_boundary_metrics(truth, pred)
    assert m["num_boundary_images"] == 0 and all(np.isnan(m[k]) for k in BOUNDARY_KEYS)
    # Two images, shifts 1 and 3 pixels: per-image mean; (N, H, W, 1) batches and a half-size prediction.
    both = compute_boundary_metrics(np.stack([step(30), step(30)])[..., None], np.stack([step(31), step(33)]))
    assert both["dbe_acc"] == pytest.approx(2.0) and both["num_boundary_images"] == 2
    small = compute_boundary_metrics(step(32), step(16, w=W // 2, h=H // 2))
    assert small["dbe_acc"] <= 1.0 and small["num_boundary_images"] == 1


def test_every_evaluation_reports_boundary_metrics_in_metrics_json(tmp_path):
    """evaluate_predictor (depthnet-eval's path) returns them beside abs_rel; write_results stores them."""
    truths = [step(30), steps([20, 44], [2.0, 3.0, 4.0])]
    frames = [(np.full((H, W, 3), i, np.uint8), t.astype(np.float32)) for i, t in enumerate(truths)]

    def predict(images):  # the right depth, one pixel to the right
        truth = truths[int(np.asarray(images)[0, 0, 0, 0])]
        return np.concatenate([truth[:, :1], truth[:, :-1]], axis=1)[None, ..., None] * 1.2

    metrics, _ = evaluate_predictor(predict, frames, Protocol())
    assert set(METRIC_KEYS) | set(BOUNDARY_KEYS) <= set(metrics)
    assert metrics["abs_rel"] > 0.19 and metrics["dbe_acc"] == pytest.approx(1.0)
    assert metrics["boundary_f1"] == 0.0 and metrics["num_boundary_images"] == 2
    write_results(str(tmp_path), metrics, Protocol())
    stored = json.loads((tmp_path / "metrics.json").read_text())["metrics"]
    assert stored["dbe_comp"] == pytest.approx(1.0) and "dbe_acc" in (tmp_path / "metrics.md").read_text()


def test_table1_lists_our_boundary_metrics_beside_the_depth_metrics(tmp_path):
    import os
    import sys

    from helpers import REPO, run_cli

    for name, extra in (("full", {"dbe_acc": 2.25, "dbe_comp": 3.5, "boundary_f1": 0.125}), ("dfe", {})):
        metrics = {"abs_rel": 0.2, "rmse": 0.5, "log10": 0.05, "delta1": 0.8, "delta2": 0.95, "delta3": 0.99, **extra}
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps({"metrics": metrics, "protocol_text": "P"}))
    proc = run_cli(
        [
            sys.executable,
            os.path.join(REPO, "experiments", "table1.py"),
            f"--full={tmp_path}/full",
            f"--dfe={tmp_path}/dfe",
            f"--output_json={tmp_path}/t.json",
        ]
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if "DBE acc (px)" in line)
    rows = [line for line in lines[header + 2 :] if line.startswith("| ")]
    assert rows[0].startswith("| DFE |") and rows[0].count("—") == 3  # an older metrics.json: no boundary metrics
    assert rows[1].startswith("| DFE + AFB + dilated CRB (full) |") and "| 2.250 | 3.500 | 0.125 | [P1] |" in rows[1]
    table = json.loads((tmp_path / "t.json").read_text())
    ours = {r["row"]: r.get("boundary") for r in table["rows"] if r["source"] == "ours"}
    assert ours["full"] == {"dbe_acc": 2.25, "dbe_comp": 3.5, "boundary_f1": 0.125} and ours["dfe"] is None
