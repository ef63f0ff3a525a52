"""depthnet.evaluation.boundary_metrics against hand-built depth maps: iBims-1 DBE and Depth Pro's boundary F1."""

import json

import numpy as np
import pytest

from depthnet.evaluation.boundary_metrics import (
    BOUNDARY_KEYS,
    F1_THRESHOLDS,
    boundary_f1,
    boundary_f1_at,
    canny_edges,
    compute_boundary_metrics,
    dbe_from_edges,
    depth_boundary_errors,
)
from depthnet.evaluation.evaluate import Protocol, evaluate_predictor, write_results
from depthnet.evaluation.metrics import METRIC_KEYS, crop_bounds

H, W = 48, 64


def step(column, near=2.0, far=4.0, h=H, w=W):
    """Depth `near` left of `column`, `far` from it on: one vertical depth edge."""
    depth = np.full((h, w), near)
    depth[:, column:] = far
    return depth


# DBE of an ideal step moved by 3 px (see test_step_edge_shifted_by_k_pixels)
THREE_PX = (38 * 3 + 2 * np.sqrt(5) + 2 * np.sqrt(8) + 4 * 3) / 46


def steps(columns, levels):
    depth = np.full((H, W), levels[0])
    for column, level in zip(columns, levels[1:]):
        depth[:, column:] = level
    return depth


def test_edge_thinning_keeps_both_pixels_of_an_exact_tie():
    """skimage's non-maximum suppression (the iBims-1 script's Canny): a pixel stays if its magnitude is >= the
    interpolated magnitude on both sides. Unsmoothed (sigma 0), an ideal step between columns 2 and 3 gives both
    columns the same Sobel magnitude exactly, so both are kept: a two-pixel-wide edge."""
    image = step(3, near=0.0, far=1.0, h=6, w=8)
    edges = canny_edges(image, sigma=0.0)
    assert edges[1:-1, 2:4].all() and edges.sum() == 2 * 4  # rows 1..4 (the border row and column are never edges)


def test_ideal_step_edge_position_is_decided_by_float32_rounding():
    """With the protocol's sigma sqrt(2), the two magnitudes across an ideal step are equal only up to float32
    rounding, which (as in the script) puts the edge of a step at column 30 on column 29 in rows 3..44 and on
    column 30 in rows 1, 2, 45, 46 (where the border normalisation of the smoothing changes the rounding)."""
    truth = step(30)
    edges = canny_edges(((truth - 2.0) / 2.0).astype(np.float32))
    assert np.array_equal(np.nonzero(edges[:, 29])[0], np.arange(3, 45))
    assert np.array_equal(np.nonzero(edges[:, 30])[0], [1, 2, 45, 46]) and edges.sum() == H - 2


@pytest.mark.parametrize("axis", ["vertical edge", "horizontal edge"])
def test_step_edge_shifted_by_k_pixels(axis):
    """Shifts of 0 and 1 px are exactly 0 and 1 px off. A 3 px shift is 2.959, not 3: the edge of the truth runs on
    column 29 (rows 3..44) and 30 (rows 1, 2, 45, 46), the prediction's on 32 and 33 in the same rows, so rows 3 and
    44 are sqrt(5) from the truth's (2, 30) / (45, 30), rows 4 and 43 sqrt(8), and the other 42 edge pixels 3."""
    t = (lambda d: d) if axis == "vertical edge" else np.transpose
    for k, expected in ((0, 0.0), (1, 1.0), (3, THREE_PX)):
        for shift in (k, -k):
            m = compute_boundary_metrics(t(step(30)), t(step(30 + shift)))
            assert m["dbe_acc"] == pytest.approx(expected, rel=1e-12)
            assert m["dbe_comp"] == pytest.approx(expected, rel=1e-12)
            assert m["num_boundary_images"] == 1
    for k in (2, 5, 9):  # between k - 1 and k (the same rounding, further apart)
        m = compute_boundary_metrics(t(step(30)), t(step(30 + k)))
        assert k - 1 < m["dbe_acc"] < k and k - 1 < m["dbe_comp"] < k


def test_edge_beyond_the_ten_pixel_neighbourhood_scores_the_maximum():
    m = compute_boundary_metrics(step(30), step(30 - 14))
    assert m["dbe_acc"] == 10.0 and m["dbe_comp"] == 10.0
    # 10 px to the left: the prediction's edge pixels (1, 20) and (2, 20) (and 45, 46) are within 10 px of the
    # truth's (3, 29) / (44, 29), sqrt(85) and sqrt(82) away: only those four count for accuracy.
    m = compute_boundary_metrics(step(30), step(30 - 10))
    assert m["dbe_acc"] == pytest.approx((np.sqrt(85) + np.sqrt(82)) / 2, rel=1e-12)
    flat = compute_boundary_metrics(step(30), np.full((H, W), 3.0))  # no predicted edge at all
    assert flat["dbe_acc"] == 10.0 and flat["dbe_comp"] == 10.0


def test_a_missed_edge_costs_completeness_but_not_accuracy():
    truth = steps([20, 44], [2.0, 3.0, 4.0])  # two edges; the second is an exact tie: two pixels wide
    mask = np.ones(truth.shape, bool)
    edges = canny_edges(((truth - 2.0) / 2.0).astype(np.float32), mask)
    assert edges[:, 19:21].sum() == 46 and edges[:, 43].sum() == 44 and edges[:, 44].sum() == 46
    m = compute_boundary_metrics(truth, step(20))  # the prediction finds only the first
    assert m["dbe_acc"] == 0.0
    # (46 predicted edges at 0 px + 46 found truth edges at 0 px + 90 missed ones at min(23 or 24, 10) px) / (46 + 136)
    assert m["dbe_comp"] == pytest.approx(90 * 10.0 / (46 + 46 + 90))


def test_canny_thresholds_ignore_steps_below_the_low_threshold():
    """0.15 / 0.3 are on the Sobel magnitude of the [0, 1]-normalised map: a step of 5% of the range is no edge."""
    depth = steps([20, 44], [2.0, 6.0, 6.2])  # a 4 m step and a 0.2 m step
    normalised = (depth - 2.0) / 4.0  # float64: the two magnitudes at the step tie exactly, both pixels stay
    edges = canny_edges(normalised)
    assert set(np.nonzero(edges.any(axis=0))[0]) == {19, 20}
    assert edges[1:-1, 19].all() and edges[1:-1, 20].all() and edges.sum() == 2 * (H - 2)


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


def box(near=2.0, far=4.0, rows=(10, 30), cols=(20, 44)):
    """A near box in front of a far wall: a closed contour, foreground in all four neighbour directions."""
    depth = np.full((H, W), far)
    depth[rows[0] : rows[1], cols[0] : cols[1]] = near
    return depth


def test_boundary_f1_of_a_one_direction_step_is_a_quarter():
    """Depth Pro averages precision and recall over the four neighbour directions (left, top, right, bottom). A
    vertical step has its foreground (near) side to the left of every pair: one direction of four, so even a
    perfect (or rescaled) prediction scores P = R = 1/4 and F1 = 0.25; a closed contour scores 1."""
    truth = step(30)
    assert boundary_f1(truth, truth) == pytest.approx(0.25)
    assert boundary_f1(truth, 1.7 * truth) == pytest.approx(0.25)
    assert boundary_f1(box(), 1.3 * box()) == pytest.approx(1.0)
    assert boundary_f1(truth, step(31)) == 0.0
    blurred = np.tile(np.geomspace(2.0, 4.0, W), (H, 1))  # 2 -> 4 m spread over the image: ratios < 1.05
    assert boundary_f1(truth, blurred, np.ones_like(truth, bool)) == 0.0


def test_boundary_f1_averages_precision_and_recall_over_directions_before_the_f1():
    """Truth: a vertical step (left direction, 48 pairs) and a 7.5% horizontal one (top direction, 34 pairs).
    At t = 1.05 the prediction finds the first whole and the second on 17 of its 34 columns (2.5% elsewhere, and
    4.3 / 4.1 < 1.05 between the two parts): P = (1 + 1) / 4, R = (1 + 1/2) / 4, F1 = 2PR / (P + R) = 3/7
    (averaging per-direction F1s instead, (1 + 2/3) / 4 = 5/12, would be another number)."""
    truth = np.full((H, W), 4.0)
    truth[:, :30] = 2.0  # near on the left
    truth[24:, 30:] = 4.3  # slightly farther below on the right: foreground is the upper pixel of each pair
    pred = truth.copy()
    pred[24:, 47:] = 4.1  # columns 47..63 of the lower step missed, 30..46 found
    f1, precision, recall = boundary_f1_at(truth, pred, 1.05)
    assert (precision, recall) == (pytest.approx(0.5), pytest.approx(0.375))
    assert f1 == pytest.approx(3 / 7)


def test_boundary_f1_weights_thresholds_as_published():
    """A 15% step is a boundary for the five thresholds 1.05..1.139 only; the others score 0 (P + R = 0)."""
    truth = box(near=2.0, far=2.3)
    thresholds = [1.05 + 0.2 * i / 9 for i in range(10)]
    assert np.allclose(F1_THRESHOLDS, thresholds)
    expected = sum(thresholds[:5]) / sum(thresholds)  # F1 = 1 at t < 1.15, weights t / sum(t)
    assert boundary_f1(truth, 3.0 * truth, np.ones_like(truth, bool)) == pytest.approx(expected)
    # A one-direction step: a quarter of that. Found in its lower half only, plus a false horizontal edge along it
    # (top direction): left P = 24/24, R = 24/48; top P = 0/34: P = 1/4, R = 1/8, F1 = 1/6 at those thresholds.
    one = step(30, near=2.0, far=2.3)
    assert boundary_f1(one, 3.0 * one) == pytest.approx(expected / 4)
    half = one.copy()
    half[: H // 2, 30:] = 2.0
    assert boundary_f1(one, half, np.ones_like(one, bool)) == pytest.approx(expected / 6)


def test_ground_truth_without_boundary_scores_zero_and_is_averaged_in():
    """Depth Pro returns 0 when P + R = 0, which a truth without boundary always gives; that 0 is averaged in."""
    flat = np.full((H, W), 3.0)
    assert boundary_f1(flat, step(30)) == 0.0 and boundary_f1(flat, flat) == 0.0
    m = compute_boundary_metrics(np.stack([flat, box()]), np.stack([step(30), box()]))
    assert m["boundary_f1"] == pytest.approx(0.5)  # (0 + 1) / 2
    assert m["num_boundary_images"] == 1 and m["dbe_acc"] == 0.0  # DBE skips the image without truth edges


def holed_truth(hole=6):
    """A near box (2 m, rows 8..39, columns 30..45) in front of a 4 m wall, and a Kinect shadow: depth 0 on the
    `hole` columns just left of the box, so the box's left edge (the occlusion boundary) lies in the hole."""
    truth = np.full((H, W), 4.0)
    truth[8:40, 30:46] = 2.0
    full = truth.copy()
    truth[:, 30 - hole : 30] = 0.0
    return truth, full


def test_predicted_edges_are_found_across_a_hole_in_the_ground_truth():
    """iBims-1's script runs Canny on the whole prediction: the prediction's edge along the box's left side, inside
    the hole, is found and scored. The truth's edges come from the valid pixels only (none along the hole)."""
    truth, full = holed_truth()
    pred = 1.1 * full
    valid = truth > 0
    pred_norm = ((pred - pred.min()) / (pred.max() - pred.min())).astype(np.float32)
    pred_edges = canny_edges(pred_norm)
    assert pred_edges[8:40, 29:31].any(axis=1).all()  # the box's left edge: one of columns 29, 30 in every row
    truth_norm = np.where(valid, (truth - 2.0) / 2.0, 0.0).astype(np.float32)
    truth_edges = canny_edges(truth_norm, valid)
    assert not truth_edges[:, 22:31].any()  # nothing on or next to the hole
    expected = dbe_from_edges(truth_edges, pred_edges)
    m = compute_boundary_metrics(truth, pred)
    assert (m["dbe_acc"], m["dbe_comp"]) == (pytest.approx(expected[0]), pytest.approx(expected[1]))
    assert depth_boundary_errors(truth, pred, valid) == pytest.approx(expected)
    # Moving the prediction's edge inside the hole (where the truth says nothing) changes the score: it is counted.
    moved = pred.copy()
    moved[8:40, 27:30] = 2.2
    assert compute_boundary_metrics(truth, moved)["dbe_comp"] != pytest.approx(m["dbe_comp"])


def test_boundary_f1_leaves_out_pairs_with_an_invalid_pixel():
    """Depth Pro's function has no mask; ours drops every pair with an invalid (hole) pixel, on both sides. Here the
    box's left-edge pairs touch the hole and drop out; its top, bottom and right edges are found: P = R = 3/4."""
    truth, full = holed_truth()
    assert boundary_f1(truth, 1.1 * full, truth > 0) == pytest.approx(0.75)
    assert compute_boundary_metrics(truth, 1.1 * full)["boundary_f1"] == pytest.approx(0.75)
    assert boundary_f1(full, 1.1 * full) == pytest.approx(1.0)  # all valid: Depth Pro's own number


def test_crop_window_is_the_image_both_metrics_see():
    truth = np.full((240, 320), 4.0)
    truth[60:150, 80:200] = 2.0
    truth[:, 250:] = 6.0
    pred = np.roll(1.2 * truth, 2, axis=1)
    t, b, l, r = crop_bounds("eigen", 240, 320)  # noqa: E741 - top, bottom, left, right
    cropped = compute_boundary_metrics(truth, pred, crop="eigen")
    window = compute_boundary_metrics(truth[t:b, l:r], pred[t:b, l:r])
    for key in BOUNDARY_KEYS:
        assert cropped[key] == pytest.approx(window[key], rel=1e-12)


def test_invalid_ground_truth_makes_no_edges_and_images_without_boundaries_are_not_scored_by_dbe():
    truth = np.full((H, W), 3.0)
    truth[:, :12] = 0.0  # a hole: no truth edge along it, so no truth edge at all
    pred = step(6, near=1.0, far=3.0)
    m = compute_boundary_metrics(truth, pred)
    assert m["num_boundary_images"] == 0 and np.isnan(m["dbe_acc"]) and np.isnan(m["dbe_comp"])
    assert m["boundary_f1"] == 0.0  # Depth Pro: no truth boundary, F1 0 (the pairs in the hole do not count)
    # Two images, shifts 1 and 3 pixels: per-image mean; (N, H, W, 1) batches and a half-size prediction.
    both = compute_boundary_metrics(np.stack([step(30), step(30)])[..., None], np.stack([step(31), step(33)]))
    assert both["dbe_acc"] == pytest.approx((1.0 + THREE_PX) / 2) and both["num_boundary_images"] == 2
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
    # The same numbers as the module gives directly; the step at 30 moved by one pixel is exactly 1 px off.
    direct = compute_boundary_metrics(np.stack(truths), np.concatenate([predict(f[0][None]) for f in frames]))
    assert metrics["abs_rel"] > 0.19 and all(metrics[k] == pytest.approx(direct[k]) for k in BOUNDARY_KEYS)
    assert compute_boundary_metrics(truths[0], predict(frames[0][0][None]))["dbe_acc"] == pytest.approx(1.0)
    assert metrics["boundary_f1"] == 0.0 and metrics["num_boundary_images"] == 2
    write_results(str(tmp_path), metrics, Protocol())
    stored = json.loads((tmp_path / "metrics.json").read_text())["metrics"]
    assert stored["dbe_comp"] == pytest.approx(direct["dbe_comp"])
    assert "dbe_acc" in (tmp_path / "metrics.md").read_text()


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
