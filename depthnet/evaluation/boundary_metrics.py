"""Depth-boundary metrics: are the prediction's depth edges where the ground truth's are, and sharp?

The paper's claim is detail (sharp edges that survive into point clouds and bokeh); abs_rel and the
deltas barely see it. Two published measures, written here in numpy from their definitions:

**Depth boundary errors (DBE)**, iBims-1 (Koch et al. 2018, "Evaluation of CNN-based Single-Image
Depth Estimation Methods", and the authors' evaluation script). Each depth map is normalised to
[0, 1] by its min and max over the valid pixels, and its edges found with Canny (Gaussian sigma
sqrt(2), hysteresis thresholds 0.15 / 0.3 on the Sobel gradient magnitude of the normalised map).
With D_gt / D_pred the Euclidean distance (pixels) to the nearest ground-truth / predicted edge:

- ``dbe_acc`` (accuracy, px, lower is better): mean D_gt over the predicted edges lying within 10 px
  of a ground-truth edge (predicted edges further away are ignored, not penalised);
- ``dbe_comp`` (completeness, px, lower is better): the truncated chamfer distance of the script,
  (sum over predicted edges of min(D_gt, 10) + sum over ground-truth edges of min(D_pred, 10)) /
  (number of predicted + ground-truth edges); a missed ground-truth edge costs up to 10 px.
- If the prediction has no edge within 10 px of any ground-truth edge, both are 10 (the maximum).
  An image whose ground truth has no edge is not scored for DBE (``num_boundary_images`` counts
  those that are).

iBims-1 uses hand-annotated ground-truth edges; datasets without them (NYU, the synthetic scenes)
use Canny edges of the ground truth, with the same parameters as for the prediction. Only the
valid ground-truth pixels (the protocol's depth range and crop) take part: Canny smooths with
a mask-normalised Gaussian over them and keeps no edge within one pixel of an invalid pixel or the
image border. Distances are in pixels of the ground truth (480x640 for NYU, 240x320 for the main
job's scenes): halve NYU numbers to compare with the main job's.

Our Canny follows skimage.feature.canny (mask-normalised Gaussian, Sobel, non-maximum suppression
with the magnitude interpolated along the gradient, 8-connected hysteresis), except that a pixel
must be strictly larger than its neighbour against the gradient (OpenCV's rule), so a step between
two pixels gives a one-pixel edge and a step moved by k pixels moves its edge by exactly k.

**Scale-invariant boundary F1** (``boundary_f1``, higher is better), Depth Pro (Bochkovskii et al.
2024, sec. 3.2, and ``eval/boundary_metrics.py`` of apple/ml-depth-pro). For each pair (i, j) of
4-neighbouring pixels, i is foreground of j at threshold t when the inverse-depth ratio
(1/d_i) / (1/d_j) > t. Precision P(t) = |pairs foreground in both| / |pairs foreground in the
prediction|, recall R(t) = |pairs foreground in both| / |pairs foreground in the ground truth|,
F1(t) = 2PR / (P + R) (0 when P + R = 0); the score is the average of F1(t) over t = linspace(1.05,
1.25, 10) weighted by t / sum(t) (the published code's weights). Ratios make it independent of the
depth scale. We count the pairs of all four directions together as the paper writes; the public
code averages the four directions' P and R instead, which scores a correct edge that runs in one
direction only at 0.25. Only pairs with both pixels valid count; an image whose ground truth has no
foreground pair at t = 1.05 is not scored.

The prediction is first bilinearly resized to the ground truth and clipped to the depth range,
as for :mod:`depthnet.evaluation.metrics`. Boundary metrics are always per-image means (whatever the depth
metrics' averaging).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
from scipy import ndimage

from depthnet.evaluation.metrics import DepthMetricAccumulator, _as_batch, _check_options, _valid_mask, resize_bilinear

__all__ = [
    "BOUNDARY_KEYS",
    "BoundaryMetricAccumulator",
    "DepthAndBoundaryAccumulator",
    "boundary_f1",
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


# ---------------------------------------------------------------------------------------------- Canny


def _smooth(image: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing over the masked pixels only (normalised by the smoothed mask)."""
    m = mask.astype(np.float64)
    num = ndimage.gaussian_filter(np.where(mask, image, 0.0), sigma, mode="constant")
    den = ndimage.gaussian_filter(m, sigma, mode="constant")
    return np.where(den > 1e-12, num / np.maximum(den, 1e-12), 0.0)


def _non_maximum(gy: np.ndarray, gx: np.ndarray, mag: np.ndarray) -> np.ndarray:
    """Pixels whose magnitude beats both neighbours along the gradient (interpolated between two).

    A pixel must be >= its neighbour along the gradient and > the one against it, so a plateau two
    pixels wide (an ideal step between pixels) keeps one pixel."""
    h, w = mag.shape
    padded = np.pad(mag, 1)
    rows, cols = np.indices((h, w))
    ay, ax = np.abs(gy), np.abs(gx)
    sy = np.where(gy >= 0, 1, -1)
    sx = np.where(gx >= 0, 1, -1)
    vertical = ay >= ax
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(vertical, ax / ay, ay / ax)
    frac = np.nan_to_num(frac)
    step_r, step_c = np.where(vertical, sy, 0), np.where(vertical, 0, sx)

    def interpolated(sign: int) -> np.ndarray:
        straight = padded[rows + 1 + sign * step_r, cols + 1 + sign * step_c]
        diagonal = padded[rows + 1 + sign * sy, cols + 1 + sign * sx]
        return (1.0 - frac) * straight + frac * diagonal

    tie = 1e-9 * float(mag.max())  # equal up to rounding counts as equal, so a tie is broken the same way everywhere
    return (mag > tie) & (mag >= interpolated(+1) - tie) & (mag > interpolated(-1) + tie)


def canny_edges(
    image: np.ndarray,
    mask: Optional[np.ndarray] = None,
    sigma: float = CANNY_SIGMA,
    low: float = CANNY_LOW,
    high: float = CANNY_HIGH,
) -> np.ndarray:
    """Canny edges (bool H x W) of a 2-D float image; only pixels inside `mask` (default: all) count."""
    image = np.asarray(image, dtype=np.float64)
    mask = np.ones(image.shape, bool) if mask is None else np.asarray(mask, bool)
    smoothed = _smooth(image, mask, sigma)
    gy = ndimage.sobel(smoothed, axis=0)
    gx = ndimage.sobel(smoothed, axis=1)
    mag = np.hypot(gx, gy)
    inner = ndimage.binary_erosion(mask, structure=np.ones((3, 3), bool), border_value=0)
    maxima = _non_maximum(gy, gx, mag) & inner
    weak = maxima & (mag >= low)
    labels, count = ndimage.label(weak, structure=np.ones((3, 3), bool))
    if count == 0:
        return weak
    strong = np.zeros(count + 1, bool)
    strong[np.unique(labels[maxima & (mag >= high)])] = True
    strong[0] = False
    return strong[labels]


# ---------------------------------------------------------------------------------------------- DBE


def _normalised(depth: np.ndarray, mask: np.ndarray) -> Optional[np.ndarray]:
    """Depth mapped to [0, 1] by its min and max over `mask`; None if it is constant there."""
    values = depth[mask]
    if values.size == 0:
        return None
    lo, hi = float(values.min()), float(values.max())
    if hi - lo <= 0:
        return None
    return (depth - lo) / (hi - lo)


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
    accuracy = float(to_gt[near].mean())
    to_pred = ndimage.distance_transform_edt(~pred_edges)
    total = np.minimum(to_gt[pred_edges], max_distance).sum() + np.minimum(to_pred[gt_edges], max_distance).sum()
    completeness = float(total / (pred_edges.sum() + gt_edges.sum()))
    return accuracy, completeness


def depth_boundary_errors(gt: np.ndarray, pred: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """iBims-1 DBE (accuracy, completeness) of one (H, W) prediction against its ground truth."""
    gt_norm = _normalised(gt, mask)
    if gt_norm is None:
        return float("nan"), float("nan")
    gt_edges = canny_edges(gt_norm, mask)
    pred_norm = _normalised(pred, mask)
    pred_edges = np.zeros_like(gt_edges) if pred_norm is None else canny_edges(pred_norm, mask)
    return dbe_from_edges(gt_edges, pred_edges)


# ---------------------------------------------------------------------------------------------- boundary F1


def _pair_ratios(depth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Inverse-depth ratios (1/d_i) / (1/d_j) of every ordered 4-neighbour pair, 0 where a pixel is invalid."""
    inverse = 1.0 / np.maximum(np.where(mask, depth, 1.0), 1e-6)
    ratios = []
    for a, b, ok_a, ok_b in (
        (inverse[:, :-1], inverse[:, 1:], mask[:, :-1], mask[:, 1:]),
        (inverse[:-1, :], inverse[1:, :], mask[:-1, :], mask[1:, :]),
    ):
        ok = ok_a & ok_b
        ratios += [np.where(ok, a / b, 0.0).ravel(), np.where(ok, b / a, 0.0).ravel()]
    return np.concatenate(ratios)


def boundary_f1(gt: np.ndarray, pred: np.ndarray, mask: np.ndarray) -> float:
    """Depth Pro's scale-invariant boundary F1 of one (H, W) prediction; NaN if the truth has no boundary."""
    truth_ratios, guess_ratios = _pair_ratios(gt, mask), _pair_ratios(pred, mask)
    if not (truth_ratios > F1_THRESHOLDS[0]).any():
        return float("nan")
    score = 0.0
    for t, weight in zip(F1_THRESHOLDS, F1_WEIGHTS):
        truth, guess = truth_ratios > t, guess_ratios > t
        both = int(np.count_nonzero(truth & guess))
        precision = both / max(int(np.count_nonzero(guess)), 1)
        recall = both / max(int(np.count_nonzero(truth)), 1)
        if precision + recall > 0:
            score += weight * 2.0 * precision * recall / (precision + recall)
    return float(score)


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
        for gi, pi, mi in zip(g, p, masks):
            if not mi.any():
                continue
            acc, comp = depth_boundary_errors(gi, pi, mi)
            self._values["dbe_acc"].append(acc)
            self._values["dbe_comp"].append(comp)
            self._values["boundary_f1"].append(boundary_f1(gi, pi, mi))

    def result(self) -> dict[str, Any]:
        """``dbe_acc``, ``dbe_comp`` (px), ``boundary_f1``: means over the images that have boundaries
        (NaN if none has), plus ``num_boundary_images`` (images with ground-truth Canny edges)."""
        out: dict[str, Any] = {}
        for key, values in self._values.items():
            finite = [v for v in values if np.isfinite(v)]
            out[key] = float(np.mean(finite)) if finite else float("nan")
        out["num_boundary_images"] = int(np.isfinite(self._values["dbe_acc"]).sum())
        return out


class DepthAndBoundaryAccumulator:
    """The depth metrics of :mod:`depthnet.evaluation.metrics` and the boundary metrics in one result."""

    def __init__(
        self, crop: Optional[str] = None, min_depth: float = 1e-3, max_depth: float = 10.0, average: str = "per_image"
    ) -> None:
        self.depth = DepthMetricAccumulator(crop, min_depth, max_depth, average)
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
