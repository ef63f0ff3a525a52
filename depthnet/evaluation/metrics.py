"""Monocular-depth evaluation metrics (NYU Depth V2 protocol), in numpy.

The paper (sec. 4.1) names the metrics -- mean relative error (rel), root mean squared error
(rms), mean log10 error and threshold accuracy delta < 1.25^k -- "similar to previous works"
(Eigen et al.), but leaves the protocol details open. This module fixes them as follows
(:func:`compute_depth_metrics` for one set, :class:`DepthMetricAccumulator` over a stream).

Protocol, in order:

1. **Resize.** The prediction is resized to the ground truth's H x W with bilinear interpolation
   and half-pixel centres, i.e. exactly ``tf.image.resize(method='bilinear')`` (no antialiasing,
   no corner alignment; :func:`resize_bilinear`, which also offers ``align_corners=True``, the
   convention of ``torch.nn.functional.interpolate(align_corners=True)``).
2. **Clip.** The resized prediction is clipped to ``[min_depth, max_depth]`` (so a prediction of
   0 m or 100 m scores as ``min_depth`` or ``max_depth``; the logs stay finite).
3. **Valid mask.** ``gt_mask='range'`` (default): a ground-truth pixel counts iff it is finite and
   ``min_depth < gt < max_depth`` (strict on both sides, so 0 = "no measurement" never counts).
   ``gt_mask='positive'``: every finite ``gt > 0`` counts (DenseDepth masks nothing).
   Defaults: ``min_depth = 1e-3`` m, ``max_depth = 10`` m.
4. **Crop** (optional): a named window of :data:`CROP_BOXES_480x640` (sources in
   :mod:`depthnet.evaluation.presets`): ``'eigen'`` = the NYU toolbox's get_projection_mask.m
   (MATLAB ``mask(45:471, 41:601)``, 1-based inclusive = rows 44:471, cols 40:601, 427 x 561),
   ``'bts'`` = BTS / AdaBins ``eval_mask[45:471, 41:601]`` (426 x 560), ``'densedepth'`` = rows
   20:460, cols 24:616. For another ground-truth size H x W the bounds are scaled by H/480 and
   W/640 and rounded *inwards* (start = ceil, stop = floor); e.g. 'eigen' at 240 x 320 gives
   rows 22:235, cols 20:300. ``crop=None`` uses the whole map.
5. **Metrics** over the valid pixels, with ``p`` = prediction, ``g`` = ground truth:

   - ``abs_rel``  = mean(|p - g| / g)     (``relative_to='pred'``: / p, DenseDepth's swapped call)
   - ``sq_rel``   = mean((p - g)^2 / g)   (``relative_to='pred'``: / p)
   - ``rmse``     = sqrt(mean((p - g)^2))
   - ``rmse_log`` = sqrt(mean((ln p - ln g)^2))
   - ``log10``    = mean(|log10 p - log10 g|)
   - ``silog``    = 100 * sqrt(mean(e^2) - mean(e)^2), e = ln p - ln g  (the BTS / KITTI
     scale-invariant log error: 100 x the population standard deviation of the log error, lambda=1)
   - ``delta1/2/3`` = fraction of pixels with max(p/g, g/p) < 1.25, 1.25^2, 1.25^3 (strict).

6. **Averaging.** ``average='per_image'`` (default, the common NYU convention of Eigen et al.'s
   successors): every metric is computed per image over that image's valid pixels and then
   averaged over images -- in particular ``rmse`` is the mean of per-image RMSEs, not the RMSE of
   all pixels. Images with no valid pixel are skipped (not counted as zero). ``average='pooled'``:
   all valid pixels of all images form one set (``rmse = sqrt(sum sq / n)`` etc.).

Every result also carries ``num_images`` (images that were scored, i.e. had >= 1 valid pixel),
``num_skipped`` (images with no valid pixel) and ``num_pixels`` (valid pixels in total).

Everything is computed in float64 (a float32 ground truth equal to a non-representable bound, e.g.
``float32(1e-3)`` vs ``min_depth=1e-3``, is compared after widening); no valid pixel at all is a ValueError.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

METRIC_KEYS: tuple[str, ...] = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog", "delta1", "delta2", "delta3")
COUNT_KEYS: tuple[str, ...] = ("num_images", "num_skipped", "num_pixels")
AVERAGES: tuple[str, ...] = ("per_image", "pooled")

# Named evaluation windows on a 480 x 640 map, (top, bottom, left, right) half-open (sources:
# depthnet/evaluation/presets.py). 'eigen': the NYU toolbox's get_projection_mask.m, MATLAB
# mask(45:471, 41:601) (1-based, inclusive; sz = [427 561]); 'bts': cleinc/bts utils/eval_with_pngs.py
# and AdaBins evaluate.py eval_mask[45:471, 41:601] (--eigen_crop, 426 x 560); 'densedepth': DenseDepth's
# eigen_test_crop.npy [20, 459, 24, 615], inclusive.
EIGEN_CROP_480x640 = (44, 471, 40, 601)
BTS_CROP_480x640 = (45, 471, 41, 601)
CROP_BOXES_480x640: dict[str, tuple[int, int, int, int]] = {
    "eigen": EIGEN_CROP_480x640,
    "bts": BTS_CROP_480x640,
    "densedepth": (20, 460, 24, 616),
}
CROPS: tuple[str, ...] = tuple(CROP_BOXES_480x640)
RELATIVE_TO: tuple[str, ...] = ("gt", "pred")  # what abs_rel and sq_rel divide by
GT_MASKS: tuple[str, ...] = ("range", "positive")  # which ground-truth pixels count
_REF_H, _REF_W = 480, 640
_LN10 = float(np.log(10.0))

# Per-pixel sums kept per image (and, summed, for pooled averaging). The log error e is kept as
# (mean, M2 = sum of squared deviations) so silog stays accurate when merged across images/batches.
_SUM_KEYS = ("abs_rel", "sq_rel", "sq", "log_sq", "log10", "delta1", "delta2", "delta3")


# --------------------------------------------------------------------------------------------
# argument checks shared by numpy and TF


def _check_options(
    crop: str | None, min_depth: float, max_depth: float, average: str, relative_to: str = "gt", gt_mask: str = "range"
) -> None:
    if relative_to not in RELATIVE_TO or gt_mask not in GT_MASKS:
        raise ValueError(f"relative_to must be one of {RELATIVE_TO}, gt_mask one of {GT_MASKS}")
    if crop is not None and crop not in CROPS:
        raise ValueError(f"unknown crop {crop!r}: expected None or one of {CROPS}")
    if average not in AVERAGES:
        raise ValueError(f"unknown average {average!r}: expected one of {AVERAGES}")
    if not (0.0 < float(min_depth) < float(max_depth) < float("inf")):
        raise ValueError(f"need 0 < min_depth < max_depth < inf, got min_depth={min_depth}, max_depth={max_depth}")


def eigen_crop_bounds(height: int, width: int) -> tuple[int, int, int, int]:
    """Eigen crop (the NYU toolbox's) ``(top, bottom, left, right)`` (half-open) for a ``height`` x ``width`` map.

    Rows 44:471, cols 40:601 at 480 x 640; other sizes scale those bounds by height/480 and
    width/640, rounding inwards (start = ceil, stop = floor) with exact integer arithmetic.
    """
    return crop_bounds("eigen", height, width)


def crop_bounds(crop: str, height: int, width: int) -> tuple[int, int, int, int]:
    """The named crop's ``(top, bottom, left, right)`` for a ``height`` x ``width`` map (scaled as above)."""
    t, b, l, r = CROP_BOXES_480x640[crop]  # noqa: E741 - top, bottom, left, right
    return (
        -((-t * height) // _REF_H),
        (b * height) // _REF_H,
        -((-l * width) // _REF_W),
        (r * width) // _REF_W,
    )


# --------------------------------------------------------------------------------------------
# numpy


def _as_batch(x: Any, name: str) -> np.ndarray:
    """(H,W) / (H,W,1) / (N,H,W) / (N,H,W,1) -> float64 (N,H,W).

    A 3-d array whose last axis has size 1 is read as one (H, W, 1) image.
    """
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 2:
        a = a[None]
    elif a.ndim == 3:
        if a.shape[-1] == 1:
            a = a[None, :, :, 0]
    elif a.ndim == 4:
        if a.shape[-1] != 1:
            raise ValueError(f"{name} with 4 dims must be (N, H, W, 1), got shape {a.shape}")
        a = a[..., 0]
    else:
        raise ValueError(
            f"{name} must have shape (H, W), (H, W, 1), (N, H, W) or (N, H, W, 1); got ndim {a.ndim} (shape {a.shape})"
        )
    if a.shape[1] == 0 or a.shape[2] == 0:
        raise ValueError(f"{name} has an empty spatial size: shape {a.shape}")
    return a


def _resize_weights(out_size: int, in_size: int, align_corners: bool = False) -> tuple[np.ndarray, ...]:
    """Source indices and weights of a bilinear resize, in float32 like TF / torch.

    Half-pixel centres (TF's ResizeBilinear, half_pixel_centers=True): src = (i + 0.5) * in / out - 0.5;
    align_corners (torch interpolate / tf.compat.v1 resize_bilinear, align_corners=True): src = i * (in - 1)
    / (out - 1), so the corner pixels of input and output coincide.
    """
    i = np.arange(out_size, dtype=np.float32)
    if align_corners:
        scale = np.float32((in_size - 1) / (out_size - 1)) if out_size > 1 else np.float32(0.0)
        src = i * scale
    else:
        src = (i + np.float32(0.5)) * (np.float32(in_size) / np.float32(out_size)) - np.float32(0.5)
    src_floor = np.floor(src)
    lower = np.clip(src_floor.astype(np.int64), 0, in_size - 1)
    upper = np.minimum(np.ceil(src).astype(np.int64), in_size - 1)
    lerp = (src - src_floor).astype(np.float64)
    return lower, upper, lerp


def resize_bilinear(images: np.ndarray, height: int, width: int, align_corners: bool = False) -> np.ndarray:
    """Resize (N, H, W) to (N, height, width) like ``tf.image.resize(method='bilinear')``.

    Half-pixel centres, no antialiasing, edge-clamped; interpolation in float64. ``align_corners=True``:
    like ``torch.nn.functional.interpolate(mode='bilinear', align_corners=True)`` (AdaBins' resize).
    """
    images = np.asarray(images, dtype=np.float64)
    n, h, w = images.shape
    if (h, w) == (height, width):
        return images.copy()
    xl, xu, xf = _resize_weights(width, w, align_corners)
    yl, yu, yf = _resize_weights(height, h, align_corners)
    left, right = images[:, :, xl], images[:, :, xu]
    rows = left + (right - left) * xf  # (N, h, width)
    top, bottom = rows[:, yl, :], rows[:, yu, :]
    return top + (bottom - top) * yf[:, None]


def quantize_mm(depth: Any) -> np.ndarray:
    """Depth (metres) as BTS stores it: whole millimetres in a 16-bit PNG, read back as float32 / 1000.

    cleinc/bts utils/extract_official_train_test_set_from_mat.py (and pytorch/bts_test.py for predictions):
    ``(depth * 1000.0).astype(np.uint16)`` on float32, i.e. truncated; eval_with_pngs.py reads
    ``png.astype(np.float32) / 1000.0``. Depth that already is float32(whole mm / 1000) is kept (reading a
    BTS PNG back gives such values, and truncating those again would take 1 mm off some of them);
    non-finite values become 0 (invalid, as eval_with_pngs.py sets them).
    """
    d = np.asarray(depth, dtype=np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = d * np.float32(1000.0)  # float32, as BTS computes it
        whole = np.rint(d.astype(np.float64) * 1000.0)
        is_whole = (whole / 1000.0).astype(np.float32) == d
        mm = np.where(is_whole, whole, np.floor(scaled))
        mm = np.where(np.isfinite(mm), np.clip(mm, 0, 65535), 0)
    return mm.astype(np.uint16).astype(np.float32) / np.float32(1000.0)


def _valid_mask(
    gt: np.ndarray, crop: str | None, min_depth: float, max_depth: float, gt_mask: str = "range"
) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        if gt_mask == "positive":
            mask = np.isfinite(gt) & (gt > 0)
        else:
            mask = np.isfinite(gt) & (gt > min_depth) & (gt < max_depth)
    if crop is not None:
        t, b, l, r = crop_bounds(crop, gt.shape[1], gt.shape[2])  # noqa: E741 - top, bottom, left, right
        window = np.zeros(gt.shape[1:], dtype=bool)
        window[t:b, l:r] = True
        mask &= window
    return mask


def _image_stats(
    gt: Any, pred: Any, crop: str | None, min_depth: float, max_depth: float, relative_to: str, gt_mask: str
) -> dict[str, np.ndarray]:
    """Per-image pixel count, sums of the per-pixel terms, and (mean, M2) of the log error."""
    g = _as_batch(gt, "gt")
    p = _as_batch(pred, "pred")
    if g.shape[0] != p.shape[0]:
        raise ValueError(f"gt and pred batch sizes differ: {g.shape[0]} vs {p.shape[0]}")
    p = resize_bilinear(p, g.shape[1], g.shape[2])
    p = np.clip(p, min_depth, max_depth)
    mask = _valid_mask(g, crop, min_depth, max_depth, gt_mask)
    g = np.where(mask, g, 1.0)  # keep invalid pixels harmless (no NaN / log(0)); masked out below
    m = mask.astype(np.float64)

    diff = p - g
    e = np.log(p) - np.log(g)
    ratio = np.maximum(p / g, g / p)
    denominator = p if relative_to == "pred" else g  # DenseDepth's compute_errors(pred, gt): / prediction
    axes = (1, 2)
    n = m.sum(axes)
    stats = {
        "n": n,
        "abs_rel": (m * np.abs(diff) / denominator).sum(axes),
        "sq_rel": (m * diff**2 / denominator).sum(axes),
        "sq": (m * diff**2).sum(axes),
        "log_sq": (m * e**2).sum(axes),
        "log10": (m * np.abs(e)).sum(axes) / _LN10,
        "delta1": (m * (ratio < 1.25)).sum(axes),
        "delta2": (m * (ratio < 1.25**2)).sum(axes),
        "delta3": (m * (ratio < 1.25**3)).sum(axes),
    }
    mean_e = (m * e).sum(axes) / np.maximum(n, 1.0)
    stats["mean_e"] = mean_e
    stats["m2_e"] = (m * (e - mean_e[:, None, None]) ** 2).sum(axes)
    return stats


def _metrics_from_sums(s: Mapping[str, Any]) -> dict[str, Any]:
    """The nine metrics from pixel count + sums (works elementwise on arrays); requires n > 0."""
    n = s["n"]
    return {
        "abs_rel": s["abs_rel"] / n,
        "sq_rel": s["sq_rel"] / n,
        "rmse": np.sqrt(s["sq"] / n),
        "rmse_log": np.sqrt(s["log_sq"] / n),
        "log10": s["log10"] / n,
        "silog": 100.0 * np.sqrt(np.maximum(s["m2_e"] / n, 0.0)),
        "delta1": s["delta1"] / n,
        "delta2": s["delta2"] / n,
        "delta3": s["delta3"] / n,
    }


def _merge_log_moments(
    n_a: float, mean_a: float, m2_a: float, n_b: np.ndarray, mean_b: np.ndarray, m2_b: np.ndarray
) -> tuple[float, float, float]:
    """Merge (count, mean, M2) of the log error of a running set with those of several images."""
    n_b_tot = float(n_b.sum())
    if n_b_tot == 0:
        return n_a, mean_a, m2_a
    mb = float((n_b * mean_b).sum() / n_b_tot)
    m2b = float(m2_b.sum() + (n_b * (mean_b - mb) ** 2).sum())
    n = n_a + n_b_tot
    delta = mb - mean_a
    return n, mean_a + delta * n_b_tot / n, m2_a + m2b + delta**2 * n_a * n_b_tot / n


class DepthMetricAccumulator:
    """Streaming depth metrics: ``update(gt, pred)`` batch by batch, then ``result()``.

    Keeps only O(1) running sums (per-image metric sums for ``'per_image'``; pixel-term sums plus
    a merged mean/M2 of the log error for ``'pooled'``), so thousands of images never need to be
    in memory. ``result()`` equals :func:`compute_depth_metrics` on the concatenated batches
    (up to float64 rounding). Arguments as in :func:`compute_depth_metrics`.
    """

    def __init__(
        self,
        crop: str | None = None,
        min_depth: float = 1e-3,
        max_depth: float = 10.0,
        average: str = "per_image",
        *,
        relative_to: str = "gt",
        gt_mask: str = "range",
    ) -> None:
        _check_options(crop, min_depth, max_depth, average, relative_to, gt_mask)
        self.crop = crop
        self.min_depth = float(min_depth)
        self.max_depth = float(max_depth)
        self.average = average
        self.relative_to, self.gt_mask = relative_to, gt_mask
        self.reset()

    def reset(self) -> None:
        """Forget everything accumulated so far."""
        self._num_images = 0
        self._num_skipped = 0
        self._per_image_sum = {k: 0.0 for k in METRIC_KEYS}
        self._pooled = {k: 0.0 for k in _SUM_KEYS}
        self._n = 0.0
        self._mean_e = 0.0
        self._m2_e = 0.0

    def update(self, gt: Any, pred: Any) -> None:
        """Add one batch; shapes as in :func:`compute_depth_metrics`."""
        s = _image_stats(gt, pred, self.crop, self.min_depth, self.max_depth, self.relative_to, self.gt_mask)
        scored = s["n"] > 0
        self._num_images += int(scored.sum())
        self._num_skipped += int((~scored).sum())
        if scored.any():
            per_image = _metrics_from_sums({k: v[scored] for k, v in s.items()})
            for k in METRIC_KEYS:
                self._per_image_sum[k] += float(per_image[k].sum())
        for k in _SUM_KEYS:
            self._pooled[k] += float(s[k].sum())
        self._n, self._mean_e, self._m2_e = _merge_log_moments(
            self._n, self._mean_e, self._m2_e, s["n"], s["mean_e"], s["m2_e"]
        )

    def result(self) -> dict[str, float]:
        """The nine metrics plus ``num_images``, ``num_skipped``, ``num_pixels``.

        Raises ValueError if no valid pixel has been seen.
        """
        if self._n == 0:
            need = "gt > 0" if self.gt_mask == "positive" else f"{self.min_depth} < gt < {self.max_depth}"
            inside = f", inside the {self.crop} crop" if self.crop else ""
            raise ValueError(f"no valid ground-truth pixel (need finite {need}{inside}) in {self._num_skipped} images")
        if self.average == "per_image":
            out = {k: v / self._num_images for k, v in self._per_image_sum.items()}
        else:
            out = _metrics_from_sums({**self._pooled, "n": self._n, "m2_e": self._m2_e})
        out = {k: float(v) for k, v in out.items()}
        out.update(num_images=self._num_images, num_skipped=self._num_skipped, num_pixels=int(self._n))
        return out


def compute_depth_metrics(
    gt: Any,
    pred: Any,
    crop: str | None = None,
    min_depth: float = 1e-3,
    max_depth: float = 10.0,
    average: str = "per_image",
    *,
    relative_to: str = "gt",
    gt_mask: str = "range",
) -> dict[str, float]:
    """Depth metrics of ``pred`` against ``gt`` (metres), following the module's protocol.

    Args:
      gt: ground truth, (H, W), (H, W, 1), (N, H, W) or (N, H, W, 1); 0 / NaN / inf = invalid.
        A 3-d array with a trailing axis of 1 is one (H, W, 1) image.
      pred: prediction with the same batch size; any H, W (bilinearly resized to gt's size, then
        clipped to [min_depth, max_depth]). Should be finite: NaN predictions give NaN metrics.
      crop: None or a key of :data:`CROP_BOXES_480x640`: ``'eigen'`` (rows 44:471, cols 40:601 at 480x640,
        scaled for other sizes), ``'bts'`` (45:471, 41:601), ``'densedepth'`` (20:460, 24:616).
      min_depth, max_depth: valid gt range (strict) and prediction clip range, metres.
      average: ``'per_image'`` (metrics per image, then mean over images with >= 1 valid pixel;
        rmse is the mean of per-image RMSEs) or ``'pooled'`` (all valid pixels as one set).
      relative_to: ``'gt'`` (abs_rel, sq_rel divide by the ground truth) or ``'pred'`` (by the prediction).
      gt_mask: ``'range'`` (min_depth < gt < max_depth) or ``'positive'`` (every gt > 0).

    Returns:
      ``abs_rel, sq_rel, rmse, rmse_log, log10, silog, delta1, delta2, delta3`` (floats) and
      ``num_images`` (scored images), ``num_skipped`` (images with no valid pixel),
      ``num_pixels`` (valid pixels), ints.

    Raises:
      ValueError: wrong ndim, batch sizes differ, unknown crop / average, bad depth range, or no
        valid pixel at all.
    """
    acc = DepthMetricAccumulator(crop, min_depth, max_depth, average, relative_to=relative_to, gt_mask=gt_mask)
    acc.update(gt, pred)
    return acc.result()
