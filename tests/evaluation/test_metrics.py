"""Tests for depthnet.evaluation.metrics: hand-computed values, masking/cropping/clipping/resizing, averaging
modes, the streaming accumulator, and numpy <-> TensorFlow agreement."""

import math

import numpy as np
import pytest
import tensorflow as tf

from depthnet.evaluation.metrics import (
    METRIC_KEYS,
    DepthMetricAccumulator,
    compute_depth_metrics,
    crop_bounds,
    eigen_crop_bounds,
    quantize_mm,
    resize_bilinear,
)

LN = math.log


def _gt(rng, shape, lo=0.5, hi=8.0):
    return rng.uniform(lo, hi, shape)


def _reference(gt, pred, average, min_depth=1e-3, max_depth=10.0):
    """Straightforward per-image loop with boolean indexing (pred already at gt size, (N,H,W))."""
    per, gs, ps = [], [], []
    for g, p in zip(gt, pred):
        p = np.clip(p, min_depth, max_depth)
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(g) & (g > min_depth) & (g < max_depth)
        if ok.any():
            gs.append(g[ok])
            ps.append(p[ok])
    if average == "pooled":
        gs, ps = [np.concatenate(gs)], [np.concatenate(ps)]
    for g, p in zip(gs, ps):
        e = np.log(p) - np.log(g)
        r = np.maximum(p / g, g / p)
        per.append(
            {
                "abs_rel": np.mean(np.abs(p - g) / g),
                "sq_rel": np.mean((p - g) ** 2 / g),
                "rmse": np.sqrt(np.mean((p - g) ** 2)),
                "rmse_log": np.sqrt(np.mean(e**2)),
                "log10": np.mean(np.abs(np.log10(p) - np.log10(g))),
                "silog": 100 * np.sqrt(np.mean(e**2) - np.mean(e) ** 2),
                "delta1": np.mean(r < 1.25),
                "delta2": np.mean(r < 1.25**2),
                "delta3": np.mean(r < 1.25**3),
            }
        )
    return {k: float(np.mean([d[k] for d in per])) for k in METRIC_KEYS}


def _assert_metrics(got, want, rel=1e-9, abs_=1e-12):
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=rel, abs=abs_), k


# ------------------------------------------------------------------ exact values


def test_perfect_prediction():
    g = _gt(np.random.default_rng(0), (2, 6, 7))
    m = compute_depth_metrics(g, g.copy())
    _assert_metrics(m, dict(abs_rel=0, sq_rel=0, rmse=0, rmse_log=0, log10=0, silog=0))
    _assert_metrics(m, dict(delta1=1, delta2=1, delta3=1))
    assert set(m) == set(METRIC_KEYS) | {"num_images", "num_skipped", "num_pixels"}
    assert (m["num_images"], m["num_skipped"], m["num_pixels"]) == (2, 0, 84)


@pytest.mark.parametrize("average", ["per_image", "pooled"])
def test_prediction_1_1_times_truth(average):
    g = _gt(np.random.default_rng(1), (1, 5, 6), 0.5, 8.0)  # 1.1 * 8 < 10: no clipping
    m = compute_depth_metrics(g, 1.1 * g, average=average)
    # |0.1 g|/g = 0.1; (0.1 g)^2/g = 0.01 g; rmse = 0.1 sqrt(mean g^2); e = ln 1.1 everywhere.
    _assert_metrics(
        m,
        dict(
            abs_rel=0.1,
            sq_rel=0.01 * g.mean(),
            rmse=0.1 * math.sqrt(np.mean(g**2)),
            rmse_log=LN(1.1),
            log10=math.log10(1.1),
            delta1=1.0,
            delta2=1.0,
            delta3=1.0,
        ),
    )
    assert m["silog"] == pytest.approx(0.0, abs=1e-5)  # constant log error: scale-invariant -> 0


def test_prediction_1_3_times_truth():
    g = _gt(np.random.default_rng(2), (4, 5), 0.5, 7.0)
    m = compute_depth_metrics(g, 1.3 * g)
    _assert_metrics(m, dict(abs_rel=0.3, delta1=0.0, delta2=1.0, delta3=1.0))  # 1.25 < 1.3 < 1.5625


def test_delta_thresholds_are_strict():
    # ratios 5/4 = 1.25 and 0.78125/0.5 = 1.5625 = 1.25^2 are exact in binary floating point
    m = compute_depth_metrics(np.array([[4.0, 0.5]]), np.array([[5.0, 0.78125]]))
    _assert_metrics(m, dict(delta1=0.0, delta2=0.5, delta3=1.0))


def test_hand_computed_2x2_with_invalid_pixel():
    gt = np.array([[1.0, 2.0], [4.0, 0.0]])  # bottom-right: no measurement
    pred = np.array([[2.0, 2.0], [6.0, 5.0]])
    # valid pixels: (g, p) = (1, 2), (2, 2), (4, 6); errors 1, 0, 2; ratios 2, 1, 1.5.
    e = [LN(2), 0.0, LN(1.5)]
    mean_e, mean_e2 = sum(e) / 3, sum(x * x for x in e) / 3
    want = dict(
        abs_rel=(1 / 1 + 0 + 2 / 4) / 3,
        sq_rel=(1 / 1 + 0 + 4 / 4) / 3,
        rmse=math.sqrt((1 + 0 + 4) / 3),
        rmse_log=math.sqrt(mean_e2),
        log10=(math.log10(2) + 0 + math.log10(1.5)) / 3,
        silog=100 * math.sqrt(mean_e2 - mean_e**2),
        delta1=1 / 3,  # only ratio 1
        delta2=2 / 3,  # 1.5 < 1.5625
        delta3=2 / 3,  # 2 > 1.953125
    )
    for average in ("per_image", "pooled"):  # one image: both modes identical
        m = compute_depth_metrics(gt, pred, average=average)
        _assert_metrics(m, want)
        assert (m["num_pixels"], m["num_images"]) == (3, 1)


@pytest.mark.parametrize("average", ["per_image", "pooled"])
def test_matches_naive_reference_loop(average):
    rng = np.random.default_rng(3)
    gt = _gt(rng, (3, 9, 11), 0.2, 12.0)  # some above max_depth
    gt[rng.random(gt.shape) < 0.3] = 0.0
    gt[0, :4] = 0.0  # different valid counts per image
    pred = rng.uniform(-1.0, 15.0, gt.shape)  # some need clipping
    _assert_metrics(compute_depth_metrics(gt, pred, average=average), _reference(gt, pred, average))


def test_input_layouts_are_equivalent():
    rng = np.random.default_rng(4)
    g, p = _gt(rng, (6, 8)), _gt(rng, (3, 4))
    want = compute_depth_metrics(g, p)
    for gg, pp in [(g[..., None], p[..., None]), (g[None], p[None]), (g[None, ..., None], p[None])]:
        _assert_metrics(compute_depth_metrics(gg, pp), {k: want[k] for k in METRIC_KEYS}, rel=1e-15)


# ------------------------------------------------------------------ masks, crop, clipping, resize


@pytest.mark.parametrize(
    "crop,box",
    [
        # NYU toolbox get_projection_mask.m: MATLAB mask(45:471, 41:601), 1-based inclusive, sz = [427 561]
        ("eigen", (44, 471, 40, 601)),
        # cleinc/bts utils/eval_with_pngs.py and AdaBins evaluate.py: eval_mask[45:471, 41:601] (426 x 560)
        ("bts", (45, 471, 41, 601)),
    ],
)
def test_crop_excludes_border_only(crop, box):
    t, b, l, r = box  # noqa: E741 - top, bottom, left, right
    g = _gt(np.random.default_rng(5), (480, 640), 1.0, 5.0)
    p = g.copy()
    border = np.ones((480, 640), bool)
    border[t:b, l:r] = False
    p[border] = 9.5  # large errors only outside the crop
    cropped = compute_depth_metrics(g, p, crop=crop)
    _assert_metrics(cropped, dict(abs_rel=0, rmse=0, delta1=1))
    assert cropped["num_pixels"] == (b - t) * (r - l) == {"eigen": 427 * 561, "bts": 426 * 560}[crop]
    full = compute_depth_metrics(g, p)
    assert full["abs_rel"] > 0.05 and full["delta1"] < 0.95
    # the crop's first row / col are inside: an error there must count
    for row, col in [(t, 300), (b - 1, 300), (200, l), (200, r - 1)]:
        q = p.copy()
        q[row, col] = g[row, col] * 2
        assert compute_depth_metrics(g, q, crop=crop)["abs_rel"] == pytest.approx(1.0 / cropped["num_pixels"])
    # and the row / col just outside are not
    for row, col in [(t - 1, 300), (b, 300), (200, l - 1), (200, r)]:
        q = p.copy()
        q[row, col] = g[row, col] * 2
        assert compute_depth_metrics(g, q, crop=crop)["abs_rel"] == 0.0


def test_eigen_crop_is_the_toolbox_mask_427x561():
    # get_projection_mask.m: mask = false(480, 640); mask(45:471, 41:601) = 1; sz = [427 561] -- MATLAB
    # indices are 1-based and inclusive, so numpy's rows 44..470 and cols 40..600.
    rows, cols = np.arange(45, 471 + 1) - 1, np.arange(41, 601 + 1) - 1
    toolbox = np.zeros((480, 640), bool)
    toolbox[np.ix_(rows, cols)] = True
    assert toolbox.sum() == 427 * 561
    t, b, l, r = eigen_crop_bounds(480, 640)  # noqa: E741 - top, bottom, left, right
    ours = np.zeros((480, 640), bool)
    ours[t:b, l:r] = True
    np.testing.assert_array_equal(ours, toolbox)
    m = compute_depth_metrics(np.full((480, 640), 2.0), np.full((480, 640), 2.0), crop="eigen")
    assert m["num_pixels"] == 427 * 561


def test_eigen_crop_bounds_scale_inwards():
    assert eigen_crop_bounds(480, 640) == (44, 471, 40, 601)
    # 240x320: 22 -> 22, 235.5 -> 235, 20 -> 20, 300.5 -> 300 (only pixels fully inside)
    assert eigen_crop_bounds(240, 320) == (22, 235, 20, 300)
    assert eigen_crop_bounds(960, 1280) == (88, 942, 80, 1202)
    assert crop_bounds("bts", 240, 320) == (23, 235, 21, 300)  # 22.5 -> 23, 20.5 -> 21
    g = np.full((240, 320), 2.0)
    p = np.full((240, 320), 4.0)
    p[22:235, 20:300] = 2.0
    m = compute_depth_metrics(g, p, crop="eigen")
    assert m["abs_rel"] == 0.0 and m["num_pixels"] == 213 * 280


def test_range_mask_excludes_out_of_range_gt():
    g = np.full((3, 4), 2.0)
    g[0, 0], g[0, 1], g[0, 2], g[0, 3] = 12.0, 5e-4, 10.0, 1e-3  # >max, <min, ==max, ==min (strict)
    p = np.full((3, 4), 2.0)
    p[0] = 7.0  # wrong only where gt is out of range
    m = compute_depth_metrics(g, p)
    _assert_metrics(m, dict(abs_rel=0, rmse=0, delta1=1))
    assert m["num_pixels"] == 8
    # a custom range moves the mask: gt 2 m is now out of range, the 7 m predictions are scored
    g2 = g.copy()
    g2[0] = 7.0
    m2 = compute_depth_metrics(g2, p, min_depth=3.0, max_depth=8.0)
    assert m2["num_pixels"] == 4 and m2["abs_rel"] == 0.0


def test_invalid_pixels_excluded():
    g = np.full((2, 3, 3), 3.0)
    g[0, 0, 0], g[0, 1, 1], g[1, 2, 2], g[1, 0, 2] = 0.0, np.nan, np.inf, -np.inf
    p = np.full((2, 3, 3), 3.0)
    p[g != 3.0] = 0.5
    p[np.isnan(g)] = 0.5
    m = compute_depth_metrics(g, p)
    assert all(np.isfinite(m[k]) for k in METRIC_KEYS)
    _assert_metrics(m, dict(abs_rel=0, rmse=0, silog=0, delta1=1))
    assert m["num_pixels"] == 18 - 4


def test_prediction_clipped_to_depth_range():
    g = np.array([[1.0, 5.0]])
    p = np.array([[0.0, 100.0]])  # clipped to 1e-3 and 10
    m = compute_depth_metrics(g, p)
    _assert_metrics(
        m,
        dict(
            abs_rel=(0.999 / 1 + 5 / 5) / 2,
            rmse=math.sqrt((0.999**2 + 5**2) / 2),
            rmse_log=math.sqrt((LN(1e-3) ** 2 + LN(2) ** 2) / 2),
            log10=(3 + math.log10(2)) / 2,
            delta3=0.0,
        ),
    )
    # with a smaller max_depth the 100 m prediction scores as 6 m
    m6 = compute_depth_metrics(g, p, max_depth=6.0)
    assert m6["abs_rel"] == pytest.approx((0.999 + 1 / 5) / 2)


def test_half_resolution_constant_prediction_scores_as_constant():
    g = _gt(np.random.default_rng(6), (2, 8, 10))
    m = compute_depth_metrics(g, np.full((2, 4, 5, 1), 3.0))
    per_image = [np.mean(np.abs(3.0 - gi) / gi) for gi in g]
    rmse = [math.sqrt(np.mean((3.0 - gi) ** 2)) for gi in g]
    _assert_metrics(m, dict(abs_rel=np.mean(per_image), rmse=np.mean(rmse)))


@pytest.mark.parametrize("src,dst", [((4, 5), (8, 10)), ((3, 5), (7, 11)), ((13, 17), (5, 4)), ((6, 6), (6, 6))])
def test_resize_matches_tf_image_resize(src, dst):
    a = np.random.default_rng(7).uniform(0.5, 5.0, (2, *src)).astype(np.float32)
    want = tf.image.resize(a[..., None], dst, method="bilinear").numpy()[..., 0]
    np.testing.assert_allclose(resize_bilinear(a, *dst), want, rtol=1e-6, atol=1e-6)


def test_align_corners_resize_matches_torch_convention_by_hand():
    # torch.nn.functional.interpolate(mode='bilinear', align_corners=True) (AdaBins predict_tta): output i
    # samples input i * (in - 1) / (out - 1); 1x2 -> 1x4 samples 0, 1/3, 2/3, 1.
    a = np.array([[[1.0, 4.0]]])
    np.testing.assert_allclose(resize_bilinear(a, 1, 4, align_corners=True), [[[1.0, 2.0, 3.0, 4.0]]], rtol=1e-6)
    # half-pixel centres sample -0.25, 0.25, 0.75, 1.25 (edge-clamped): 1, 1.75, 3.25, 4
    np.testing.assert_allclose(resize_bilinear(a, 1, 4), [[[1.0, 1.75, 3.25, 4.0]]], rtol=1e-6)


@pytest.mark.parametrize(
    "src,dst", [((4, 5), (8, 10)), ((3, 5), (7, 11)), ((13, 17), (5, 4)), ((240, 320), (480, 640))]
)
def test_align_corners_resize_matches_tf_v1_align_corners(src, dst):
    a = np.random.default_rng(7).uniform(0.5, 5.0, (2, *src)).astype(np.float32)
    want = tf.compat.v1.image.resize_bilinear(a[..., None], dst, align_corners=True).numpy()[..., 0]
    np.testing.assert_allclose(resize_bilinear(a, *dst, align_corners=True), want, rtol=1e-5, atol=1e-5)


def test_relative_to_prediction_is_densedepths_swapped_compute_errors():
    # DenseDepth utils.py evaluate(): compute_errors(predictions, testSetDepths), so its "gt" is the
    # prediction: abs_rel = mean(|p - g| / p). (g, p) = (1, 2), (4, 2): |1|/2 and |2|/2 -> 0.75
    # (textbook: 1/1 and 2/4 -> 0.75 too), so take (1, 2), (2, 4): swapped (1/2 + 2/4) / 2 = 0.5,
    # textbook (1/1 + 2/2) / 2 = 1; sq_rel swapped (1/2 + 4/4) / 2 = 0.75; the symmetric metrics agree.
    g, p = np.array([[1.0, 2.0]]), np.array([[2.0, 4.0]])
    swapped = compute_depth_metrics(g, p, relative_to="pred", average="pooled")
    textbook = compute_depth_metrics(g, p, average="pooled")
    assert swapped["abs_rel"] == pytest.approx(0.5) and textbook["abs_rel"] == pytest.approx(1.0)
    assert swapped["sq_rel"] == pytest.approx(0.75) and textbook["sq_rel"] == pytest.approx(1.5)
    for key in ("rmse", "rmse_log", "log10", "silog", "delta1", "delta2", "delta3"):
        assert swapped[key] == pytest.approx(textbook[key], abs=1e-12), key


def test_positive_gt_mask_scores_every_measured_pixel():
    # DenseDepth masks nothing: a filled depth of exactly 10 m (== max_depth) counts, 0 still never does
    g = np.array([[10.0, 2.0, 0.0, 0.05]])
    p = np.array([[10.0, 2.0, 3.0, 0.1]])
    m = compute_depth_metrics(g, p, min_depth=0.1, max_depth=10.0, gt_mask="positive")
    assert m["num_pixels"] == 3 and m["abs_rel"] == pytest.approx((0 + 0 + 0.05 / 0.05) / 3)
    assert compute_depth_metrics(g, p, min_depth=0.1, max_depth=10.0)["num_pixels"] == 1
    with pytest.raises(ValueError, match="relative_to"):
        compute_depth_metrics(g, p, gt_mask="all")


def test_quantize_mm_is_btss_uint16_png():
    # extract_official_train_test_set_from_mat.py: (rawDepths * 1000.0).astype(np.uint16) -> truncation;
    # eval_with_pngs.py: png.astype(np.float32) / 1000.0
    raw = np.array([1.2345678, 0.0019999, 2.9999, 0.0, np.nan, 70.0], np.float32)
    want = (raw[:4] * np.float32(1000.0)).astype(np.uint16).astype(np.float32) / np.float32(1000.0)
    got = quantize_mm(raw)
    np.testing.assert_array_equal(got[:4], want)
    np.testing.assert_array_equal(got[:4], np.array([1.234, 0.001, 2.999, 0.0], np.float32))
    assert got[4] == 0.0 and got[5] == np.float32(65.535)  # NaN -> invalid; clipped to uint16
    # already whole millimetres (a BTS PNG read back) stay as they are, for every uint16 value
    mm = np.arange(65536, dtype=np.uint16)
    back = mm.astype(np.float32) / np.float32(1000.0)
    np.testing.assert_array_equal(quantize_mm(back), back)


# ------------------------------------------------------------------ averaging modes


def test_per_image_and_pooled_differ_with_unequal_counts():
    g = np.zeros((2, 2, 2))
    p = np.full((2, 2, 2), 2.0)
    g[0, 0, 0], p[0, 0, 0] = 2.0, 4.0  # image A: 1 valid pixel, abs_rel 1, rmse 2
    g[1, 0, :] = 2.0  # image B: 2 valid pixels, perfect
    pi = compute_depth_metrics(g, p, average="per_image")
    po = compute_depth_metrics(g, p, average="pooled")
    _assert_metrics(pi, dict(abs_rel=(1 + 0) / 2, rmse=(2 + 0) / 2, delta1=(0 + 1) / 2))
    _assert_metrics(po, dict(abs_rel=1 / 3, rmse=math.sqrt(4 / 3), delta1=2 / 3))
    assert pi["num_pixels"] == po["num_pixels"] == 3


def test_per_image_and_pooled_agree_on_means_with_equal_counts():
    rng = np.random.default_rng(8)
    g = _gt(rng, (3, 6, 6))
    p = g * rng.uniform(0.5, 1.6, (3, 1, 1)) + rng.normal(0, 0.3, g.shape)  # different errors per image
    pi = compute_depth_metrics(g, p, average="per_image")
    po = compute_depth_metrics(g, p, average="pooled")
    for k in ("abs_rel", "sq_rel", "log10", "delta1", "delta2", "delta3"):
        assert pi[k] == pytest.approx(po[k], rel=1e-12), k
    # mean of per-image roots < root of the pooled mean (Jensen) when the per-image errors differ
    assert pi["rmse"] < po["rmse"] - 1e-3 and pi["rmse_log"] < po["rmse_log"] - 1e-3


def test_image_without_valid_pixels_is_skipped():
    rng = np.random.default_rng(9)
    g = _gt(rng, (2, 4, 4))
    p = _gt(rng, (2, 4, 4))
    g[1] = 0.0
    both = compute_depth_metrics(g, p)
    alone = compute_depth_metrics(g[0], p[0])
    _assert_metrics(both, {k: alone[k] for k in METRIC_KEYS})
    assert (both["num_images"], both["num_skipped"], both["num_pixels"]) == (1, 1, 16)


# ------------------------------------------------------------------ accumulator


@pytest.mark.parametrize("average", ["per_image", "pooled"])
def test_accumulator_equals_one_shot(average):
    rng = np.random.default_rng(10)
    gt = _gt(rng, (6, 12, 16), 0.2, 11.0)
    gt[rng.random(gt.shape) < 0.25] = 0.0
    gt[2, :9] = np.nan  # unequal valid counts
    gt[4] = 0.0  # one image with nothing valid
    pred = rng.uniform(0.3, 10.0, (6, 6, 8))
    acc = DepthMetricAccumulator(crop="eigen", average=average)
    for lo, hi in [(0, 2), (2, 3), (3, 6)]:
        acc.update(gt[lo:hi], pred[lo:hi])
    want = compute_depth_metrics(gt, pred, crop="eigen", average=average)
    got = acc.result()
    _assert_metrics(got, {k: want[k] for k in METRIC_KEYS}, rel=1e-12)
    assert {k: got[k] for k in ("num_images", "num_skipped", "num_pixels")} == {
        k: want[k] for k in ("num_images", "num_skipped", "num_pixels")
    }
    assert got["num_skipped"] == 1
    acc.reset()
    with pytest.raises(ValueError, match="no valid ground-truth pixel"):
        acc.result()


# ------------------------------------------------------------------ TensorFlow


def test_range_mask_is_strict():
    gt = np.array([[[10.0, 0.5, 12.0, 2.0, np.inf, np.nan]]], np.float32)
    pred = np.array([[[3.0, 3.0, 3.0, 2.0, 3.0, 3.0]]], np.float32)
    m = compute_depth_metrics(gt, pred, min_depth=0.5, max_depth=10.0)
    assert int(m["num_pixels"]) == 1 and float(m["abs_rel"]) == 0.0


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "gt,pred,kwargs,match",
    [
        (np.ones((2, 4, 4)), np.ones((3, 4, 4)), {}, "batch sizes differ: 2 vs 3"),
        (np.ones((1, 2, 4, 4, 1)), np.ones((1, 2, 4, 4, 1)), {}, "gt must have shape.*ndim 5"),
        (np.ones((4, 4)), np.ones(4), {}, "pred must have shape.*ndim 1"),
        (np.ones((1, 4, 4, 3)), np.ones((1, 4, 4, 1)), {}, r"gt with 4 dims must be \(N, H, W, 1\)"),
        (np.ones((4, 4)), np.ones((4, 4)), {"average": "mean"}, "unknown average 'mean'"),
        (np.ones((4, 4)), np.ones((4, 4)), {"crop": "garg"}, "unknown crop 'garg'"),
        (np.ones((4, 4)), np.ones((4, 4)), {"min_depth": 0.0}, "0 < min_depth < max_depth"),
        (np.ones((4, 4)), np.ones((4, 4)), {"min_depth": 5.0, "max_depth": 2.0}, "0 < min_depth < max_depth"),
        (np.zeros((2, 4, 4)), np.ones((2, 4, 4)), {}, "no valid ground-truth pixel"),
        (np.full((4, 4), 20.0), np.ones((4, 4)), {}, "no valid ground-truth pixel"),
    ],
)
def test_numpy_errors(gt, pred, kwargs, match):
    with pytest.raises(ValueError, match=match):
        compute_depth_metrics(gt, pred, **kwargs)


def test_accumulator_errors():
    with pytest.raises(ValueError, match="unknown average"):
        DepthMetricAccumulator(average="median")
