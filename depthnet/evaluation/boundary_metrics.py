"""Depth-boundary metrics: are the prediction's depth edges where the ground truth's are, and sharp?

The paper's claim is detail (sharp edges that survive into point clouds and bokeh); abs_rel and the
deltas barely see it. Two published measures, written here in numpy/scipy so that they reproduce the
authors' own code (checked against it on step edges, random maps and real NYU frames):

**Depth boundary errors (DBE)**, iBims-1 (Koch et al. 2018, "Evaluation of CNN-based Single-Image
Depth Estimation Methods"), as ``compute_depth_boundary_error`` of the authors' Python evaluation script
``evaluate_ibims_error_metrics.py`` (the version with Canny thresholds 0.15 / 0.3 and the truncated
chamfer completeness; the earlier "v0.9" had 0.1 / 0.2 and a one-sided completeness):

1. The prediction is cast to float32 and normalised to [0, 1] by its own min and max over the **whole**
   prediction (zeros, the script's "missing", are left out of the min and max and give no edge).
2. Its edges are ``skimage.feature.canny(normalised, sigma=sqrt(2), low_threshold=0.15,
   high_threshold=0.3)`` on the **whole** prediction (no mask), which :func:`canny_edges` reproduces
   bit for bit: Gaussian smoothing (sigma sqrt(2), truncated at 4 sigma, zero padding, divided by the
   equally smoothed all-ones image plus float eps), Sobel gradients (reflect padding), magnitude
   sqrt(gy^2 + gx^2), non-maximum suppression with the magnitude linearly interpolated between the two
   pixels along the gradient, hysteresis on that magnitude (keep 8-connected runs >= 0.15 that reach
   0.3), and no edge on the one-pixel image border. Arithmetic stays in the input's float type
   (float32 here), with skimage's mixed float32/float64 interpolation and float32 thresholds.
   **Tie-breaking in the edge thinning (skimage's rule, so ours):** a pixel is kept when its magnitude
   is >= the interpolated magnitude on *both* sides along the gradient (non-strict on both sides). An
   exact tie therefore keeps both pixels (a two-pixel-wide edge: an unsmoothed ideal step, or one whose
   two magnitudes round to the same float), and which of two mathematically equal pixels wins is
   otherwise left to float32 rounding. On the protocol's ideal step between columns 29 and 30 (48 x 64,
   levels normalised to 0 / 1) the edge lies on column 29 in rows 3..44 and on column 30 in rows 1, 2,
   45, 46, so a step moved by 3 px scores 2.959 px, not 3, exactly as the script does. (The former rule
   here, strict against the gradient as in OpenCV, gave one pixel per row and exactly 3.)
3. With D_gt / D_pred the Euclidean distance (pixels) to the nearest ground-truth / predicted edge:
   ``dbe_acc`` (px, lower is better) = mean D_gt over the predicted edges with D_gt < 10 (predicted
   edges further away are ignored); ``dbe_comp`` (px, lower is better) = (sum over predicted edges of
   min(D_gt, 10) + sum over ground-truth edges of min(D_pred, 10)) / (number of predicted + ground-truth
   edges). If no predicted edge has D_gt < 10, both are 10. An image whose ground truth has no edge
   gets NaN and is left out of the mean (the script's ``nanmean``); ``num_boundary_images`` counts the
   others.

*Ground-truth edges and the validity mask.* iBims-1 ships hand-annotated edges and its script applies
no validity mask to DBE at all (the prediction is used whole; only the global and planarity errors
are masked). NYU and the synthetic scenes have no annotated edges, so ours are the same Canny applied
to the ground truth normalised (float32) by its min and max over the valid pixels, with skimage's own
``mask=`` of the valid pixels (depth range, finite, crop): mask-normalised smoothing, and no edge within
one pixel of an invalid pixel, so the border of a Kinect hole is not taken for a depth edge. That is
the only place the validity mask enters: predicted edges are found on the whole prediction and all of
them are scored, including those inside holes of raw ground truth (where occlusion boundaries often
are). With a ``crop`` both maps are first cut to the crop window, which then plays the whole image (as
NYU evaluations of the script do). Distances are in pixels of the ground truth (480x640 for NYU,
240x320 for the main job's scenes): halve NYU numbers to compare with the main job's.

**Scale-invariant boundary F1** (``boundary_f1``, higher is better), Depth Pro (Bochkovskii et al.
2024, sec. 3.2), exactly as ``SI_boundary_F1`` of ``src/depth_pro/eval/boundary_metrics.py`` in
apple/ml-depth-pro. With d = 1 / max(depth, 1e-6) (inverse depth) and a threshold t, each of the four
neighbour directions (left, top, right, bottom) marks the pairs where d of the first pixel over d of its
neighbour in that direction exceeds t. For each direction k: P_k = |pairs marked in both| / max(|marked
in the prediction|, 1), R_k = |marked in both| / max(|marked in the truth|, 1). P and R are the means of
the four P_k and R_k, F1(t) = 2PR / (P + R), and 0 when P + R = 0 (so a ground truth without a boundary
scores 0, and that 0 is averaged in like any other image). The score is sum_t F1(t) * t / sum(t) over
t = linspace(1.05, 1.25, 10). Averaging over directions means that an edge which, like a single
vertical step, has foreground on one side only is found in one direction of four: a perfect prediction
of it scores 0.25 (a closed contour, e.g. an object in front of a wall, can reach 1).

*Validity mask* (Depth Pro's function takes none): only pairs whose two pixels are both valid ground
truth take part, in the truth's counts and in the prediction's. Raw ground truth (NYU rawDepths, 0 in
Kinect holes) given to Depth Pro's function as it is would turn every hole border into a boundary (the
inverse depth of 0 is 1e6), and the prediction cannot be judged inside a hole; dropping those pairs
keeps both out. On ground truth valid everywhere (filled NYU, synthetic scenes, no crop) the result is
Depth Pro's to the last bit; with a crop it is Depth Pro's on the crop window.

The prediction is first bilinearly resized to the ground truth and clipped to the depth range, as for
:mod:`depthnet.evaluation.metrics`. Boundary metrics are always per-image means over the images that have
a valid pixel (whatever the depth metrics' averaging).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
from scipy import ndimage

from depthnet.evaluation.metrics import (
    DepthMetricAccumulator,
    _as_batch,
    _check_options,
    _valid_mask,
    crop_bounds,
    resize_bilinear,
)

__all__ = [
    "BOUNDARY_KEYS",
    "BoundaryMetricAccumulator",
    "DepthAndBoundaryAccumulator",
    "boundary_f1",
    "boundary_f1_at",
    "canny_edges",
    "compute_boundary_metrics",
    "depth_boundary_errors",
    "dbe_from_edges",
]

BOUNDARY_KEYS: tuple[str, ...] = ("dbe_acc", "dbe_comp", "boundary_f1")
CANNY_SIGMA = float(np.sqrt(2.0))  # iBims-1
CANNY_LOW, CANNY_HIGH = 0.15, 0.3  # iBims-1, on the gradient magnitude of the [0, 1]-normalised depth
DBE_MAX_DISTANCE = 10.0  # iBims-1: pixels; the local neighbourhood and the truncation of distances
F1_THRESHOLDS = np.linspace(1.05, 1.25, 10)  # Depth Pro: t_min, t_max, N
F1_WEIGHTS = F1_THRESHOLDS / F1_THRESHOLDS.sum()
F1_MIN_DEPTH = 1e-6  # Depth Pro's invert_depth: 1 / max(depth, eps)


# ---------------------------------------------------------------------------------------------- Canny


def _float_type(dtype: np.dtype) -> type:
    """skimage's working float type: float32 stays float32 (float16 too), everything else is float64."""
    return np.float32 if np.dtype(dtype) in (np.float16, np.float32) else np.float64


def _gaussian(image: np.ndarray, sigma: float) -> np.ndarray:
    return ndimage.gaussian_filter(image, sigma, mode="constant", cval=0.0, truncate=4.0)


def _non_maximum(gy: np.ndarray, gx: np.ndarray, mag: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Pixels of `keep` whose magnitude is >= the magnitude interpolated on both sides along the gradient.

    The four cases and neighbour pairs of skimage's bilinear non-maximum suppression; the interpolation
    is ``n2 * w`` in the working type plus ``n1 * (1 - w)`` in float64, compared in float64.
    """
    ft = mag.dtype.type
    padded = np.pad(mag, 1)
    rows, cols = np.nonzero(keep)
    i, j = gy[rows, cols], gx[rows, cols]
    m = mag[rows, cols]
    ai, aj = np.abs(i), np.abs(j)
    cond1 = (i <= 0) == (j <= 0)  # both gradients positive, or both <= 0
    a = cond1 & (ai > aj)
    b = cond1 & ~(ai > aj)
    c = ~cond1 & (ai < aj)
    d = ~cond1 & ~(ai < aj)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(a | d, aj / ai, ai / aj).astype(ft)
    # (row, col) offsets of n1_1, n1_2, n2_1, n2_2 in each case
    offsets = {
        "a": ((1, 0), (1, 1), (-1, 0), (-1, -1)),
        "b": ((0, 1), (1, 1), (0, -1), (-1, -1)),
        "c": ((0, 1), (-1, 1), (0, -1), (1, -1)),
        "d": ((-1, 0), (-1, 1), (1, 0), (1, -1)),
    }
    neighbours = [np.zeros(m.shape, ft) for _ in range(4)]
    for case, sel in zip("abcd", (a, b, c, d)):
        r, q = rows[sel] + 1, cols[sel] + 1
        for k, (dr, dc) in enumerate(offsets[case]):
            neighbours[k][sel] = padded[r + dr, q + dc]
    n11, n12, n21, n22 = neighbours
    w64 = w.astype(np.float64)
    m64 = m.astype(np.float64)
    with np.errstate(invalid="ignore"):
        plus = (n12 * w).astype(np.float64) + n11.astype(np.float64) * (1.0 - w64)
        minus = (n22 * w).astype(np.float64) + n21.astype(np.float64) * (1.0 - w64)
        ok = (plus <= m64) & (minus <= m64)
    out = np.zeros(mag.shape, bool)
    out[rows[ok], cols[ok]] = True
    return out


def canny_edges(
    image: np.ndarray,
    mask: Optional[np.ndarray] = None,
    sigma: float = CANNY_SIGMA,
    low: float = CANNY_LOW,
    high: float = CANNY_HIGH,
) -> np.ndarray:
    """Canny edges (bool H x W) of a 2-D image, as ``skimage.feature.canny(image, sigma, low, high, mask)``.

    A float32 image is worked on in float32, any other in float64 (skimage's rule). With `mask`, only
    its pixels are smoothed over and none within one pixel of a masked-out pixel is an edge.
    """
    image = np.asarray(image)
    ft = _float_type(image.dtype)
    image = image.astype(ft, copy=False)
    if mask is None:
        weights = np.ones(image.shape, ft)
        masked = image
        eroded = np.zeros(image.shape, bool)
        eroded[1:-1, 1:-1] = True
    else:
        mask = np.asarray(mask, bool)
        weights = mask.astype(ft)
        masked = np.zeros_like(image)
        masked[mask] = image[mask]
        eroded = ndimage.binary_erosion(mask, ndimage.generate_binary_structure(2, 2), border_value=0)
    smoothed = _gaussian(masked, sigma)
    smoothed /= _gaussian(weights, sigma) + np.finfo(ft).eps
    gx = ndimage.sobel(smoothed, axis=1)
    gy = ndimage.sobel(smoothed, axis=0)
    mag = gy * gy
    mag += gx * gx
    np.sqrt(mag, out=mag)
    low32 = float(np.float32(low if low != 0 else 1e-14))  # skimage's C `float low_threshold`
    with np.errstate(invalid="ignore"):
        candidates = eroded & (mag.astype(np.float64) >= low32)
    weak = _non_maximum(gy, gx, mag, candidates)
    labels, count = ndimage.label(weak, structure=np.ones((3, 3), bool))
    if count == 0:
        return weak
    strong = np.zeros(count + 1, bool)
    strong[np.unique(labels[weak & (mag >= ft(high))])] = True
    strong[0] = False
    return strong[labels]


# ---------------------------------------------------------------------------------------------- DBE


def _normalised(depth: np.ndarray, mask: Optional[np.ndarray] = None) -> Optional[np.ndarray]:
    """float32 depth mapped to [0, 1] by its min and max over `mask` (all non-zero pixels if None), as the
    iBims-1 script does; None if there is nothing to normalise (no such pixel, or a constant map)."""
    values = np.asarray(depth).astype(np.float32)
    inside = np.isfinite(values) & (values != 0) if mask is None else np.asarray(mask, bool)
    if not inside.any():
        return None
    outside = np.float32(np.nan if mask is None else 0.0)  # the script's NaN for a missing prediction
    values = np.where(inside, values, np.float32(0.0))
    values = values - values[inside].min()
    top = values[inside].max()
    if not top > 0:
        return None
    return np.where(inside, values / top, outside).astype(np.float32)


def dbe_from_edges(
    gt_edges: np.ndarray, pred_edges: np.ndarray, max_distance: float = DBE_MAX_DISTANCE
) -> tuple[float, float]:
    """(accuracy, completeness) in pixels between two edge maps; NaN, NaN without ground-truth edges."""
    gt_edges, pred_edges = np.asarray(gt_edges, bool), np.asarray(pred_edges, bool)
    if not gt_edges.any():
        return float("nan"), float("nan")
    to_gt = ndimage.distance_transform_edt(~gt_edges)
    near = pred_edges & (to_gt < max_distance)
    if not near.any():
        return float(max_distance), float(max_distance)
    accuracy = np.sum(to_gt * near) / np.sum(near)
    to_pred = ndimage.distance_transform_edt(~pred_edges)
    total = np.sum(np.minimum(to_gt * pred_edges, max_distance) + np.minimum(to_pred * gt_edges, max_distance))
    completeness = total / (np.sum(pred_edges) + np.sum(gt_edges))
    return float(accuracy), float(completeness)


def depth_boundary_errors(gt: np.ndarray, pred: np.ndarray, mask: Optional[np.ndarray] = None) -> tuple[float, float]:
    """iBims-1 DBE (accuracy, completeness) of one (H, W) prediction against its ground truth.

    Ground-truth edges: Canny of the ground truth over its valid pixels `mask` (default: the finite,
    non-zero ones); predicted edges: Canny of the whole prediction, as in the iBims-1 script.
    """
    gt = np.asarray(gt, dtype=np.float64)
    if mask is None:
        mask = np.isfinite(gt) & (gt != 0)
    mask = np.asarray(mask, bool)
    gt_norm = _normalised(gt, mask)
    if gt_norm is None:
        return float("nan"), float("nan")
    gt_edges = canny_edges(gt_norm, mask)
    pred_norm = _normalised(pred)
    pred_edges = np.zeros_like(gt_edges) if pred_norm is None else canny_edges(pred_norm)
    return dbe_from_edges(gt_edges, pred_edges)


# ---------------------------------------------------------------------------------------------- boundary F1


def _foreground(inverse: np.ndarray, t: float) -> tuple[np.ndarray, ...]:
    """Depth Pro's fgbg_depth: (left, top, right, bottom) pairs whose inverse-depth ratio exceeds t."""
    return (
        (inverse[:, :-1] / inverse[:, 1:]) > t,
        (inverse[:-1, :] / inverse[1:, :]) > t,
        (inverse[:, 1:] / inverse[:, :-1]) > t,
        (inverse[1:, :] / inverse[:-1, :]) > t,
    )


def _pair_masks(mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """Which pairs of each direction have both pixels valid (same order as :func:`_foreground`)."""
    horizontal = mask[:, :-1] & mask[:, 1:]
    vertical = mask[:-1, :] & mask[1:, :]
    return horizontal, vertical, horizontal, vertical


def _inverse(depth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return 1.0 / np.where(mask, depth, 1.0).clip(min=F1_MIN_DEPTH)


def boundary_f1_at(
    gt: np.ndarray, pred: np.ndarray, t: float, mask: Optional[np.ndarray] = None
) -> tuple[float, float, float]:
    """(F1, precision, recall) at one threshold t, as Depth Pro's ``boundary_f1`` (P and R averaged over
    the four directions, then F1 = 2PR / (P + R), 0 when P + R = 0); only pairs valid in `mask` count."""
    gt, pred = np.asarray(gt, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    mask = np.ones(gt.shape, bool) if mask is None else np.asarray(mask, bool)
    valid = _pair_masks(mask)
    truth = _foreground(_inverse(gt, mask), t)
    guess = _foreground(_inverse(pred, mask), t)
    precision = recall = 0.0
    for g, p, v in zip(truth, guess, valid):
        g, p = g & v, p & v
        both = np.count_nonzero(p & g)
        recall += both / max(np.count_nonzero(g), 1)
        precision += both / max(np.count_nonzero(p), 1)
    recall, precision = 0.25 * recall, 0.25 * precision
    if recall + precision == 0:
        return 0.0, precision, recall
    return 2 * (recall * precision) / (recall + precision), precision, recall


def boundary_f1(gt: np.ndarray, pred: np.ndarray, mask: Optional[np.ndarray] = None) -> float:
    """Depth Pro's scale-invariant boundary F1 (``SI_boundary_F1``) of one (H, W) prediction; only pairs of
    valid pixels (`mask`, default all) count. 0.0 when the truth has no boundary, as in Depth Pro."""
    scores = np.array([boundary_f1_at(gt, pred, t, mask)[0] for t in F1_THRESHOLDS])
    return float(np.sum(scores * F1_WEIGHTS))


# ---------------------------------------------------------------------------------------------- streaming


class BoundaryMetricAccumulator:
    """Per-image boundary metrics, ``update(gt, pred)`` batch by batch, then ``result()``.

    Shapes, resizing, clipping, depth range and crop as in :class:`depthnet.evaluation.metrics.DepthMetricAccumulator`.
    """

    def __init__(self, crop: Optional[str] = None, min_depth: float = 1e-3, max_depth: float = 10.0) -> None:
        _check_options(crop, min_depth, max_depth, "per_image")
        self.crop, self.min_depth, self.max_depth = crop, float(min_depth), float(max_depth)
        self._values: dict[str, list[float]] = {k: [] for k in BOUNDARY_KEYS}

    def update(self, gt: Any, pred: Any) -> None:
        g = _as_batch(gt, "gt")
        p = _as_batch(pred, "pred")
        if g.shape[0] != p.shape[0]:
            raise ValueError(f"gt and pred batch sizes differ: {g.shape[0]} vs {p.shape[0]}")
        p = np.clip(resize_bilinear(p, g.shape[1], g.shape[2]), self.min_depth, self.max_depth)
        masks = _valid_mask(g, self.crop, self.min_depth, self.max_depth)
        if self.crop is not None:  # the crop window is the image both metrics see
            t, b, l, r = crop_bounds(self.crop, g.shape[1], g.shape[2])  # noqa: E741 - top, bottom, left, right
            g, p, masks = g[:, t:b, l:r], p[:, t:b, l:r], masks[:, t:b, l:r]
        for gi, pi, mi in zip(g, p, masks):
            if not mi.any():
                continue
            acc, comp = depth_boundary_errors(gi, pi, mi)
            self._values["dbe_acc"].append(acc)
            self._values["dbe_comp"].append(comp)
            self._values["boundary_f1"].append(boundary_f1(gi, pi, mi))

    def result(self) -> dict[str, Any]:
        """``dbe_acc``, ``dbe_comp`` (px): means over the images with ground-truth edges; ``boundary_f1``:
        mean over all scored images (those with a valid pixel; 0 for a truth without boundary); NaN where
        there is none; plus ``num_boundary_images`` (images with ground-truth Canny edges)."""
        out: dict[str, Any] = {}
        for key, values in self._values.items():
            finite = [v for v in values if np.isfinite(v)]
            out[key] = float(np.mean(finite)) if finite else float("nan")
        out["num_boundary_images"] = int(np.isfinite(self._values["dbe_acc"]).sum())
        return out


class DepthAndBoundaryAccumulator:
    """The depth metrics of :mod:`depthnet.evaluation.metrics` and the boundary metrics in one result."""

    def __init__(
        self,
        crop: Optional[str] = None,
        min_depth: float = 1e-3,
        max_depth: float = 10.0,
        average: str = "per_image",
        **depth_options: Any,
    ) -> None:
        """`depth_options` go to the depth metrics (e.g. DenseDepth's `relative_to`, `gt_mask`)."""
        self.depth = DepthMetricAccumulator(crop, min_depth, max_depth, average, **depth_options)
        self.boundary = BoundaryMetricAccumulator(crop, min_depth, max_depth)

    def update(self, gt: Any, pred: Any) -> None:
        self.depth.update(gt, pred)
        self.boundary.update(gt, pred)

    def result(self) -> dict[str, Any]:
        return {**self.depth.result(), **self.boundary.result()}


def compute_boundary_metrics(
    gt: Any, pred: Any, crop: Optional[str] = None, min_depth: float = 1e-3, max_depth: float = 10.0
) -> dict[str, Any]:
    """Boundary metrics of `pred` against `gt` (shapes as :func:`depthnet.evaluation.metrics.compute_depth_metrics`)."""
    acc = BoundaryMetricAccumulator(crop, min_depth, max_depth)
    acc.update(gt, pred)
    return acc.result()
