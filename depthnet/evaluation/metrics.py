"""Monocular-depth evaluation metrics (NYU Depth V2 protocol), in numpy.

The paper (sec. 4.1) names the metrics -- mean relative error (rel), root mean squared error
(rms), mean log10 error and threshold accuracy delta < 1.25^k -- "similar to previous works"
(Eigen et al.), but leaves the protocol details open. This module fixes them as follows
(:func:`compute_depth_metrics` for one set, :class:`DepthMetricAccumulator` over a stream).

Protocol, in order:

1. **Resize.** The prediction is resized to the ground truth's H x W with bilinear interpolation
   and half-pixel centres, i.e. exactly ``tf.image.resize(method='bilinear')`` (no antialiasing,
   no corner alignment). The numpy version re-implements that kernel (:func:`resize_bilinear`).
2. **Clip.** The resized prediction is clipped to ``[min_depth, max_depth]`` (so a prediction of
   0 m or 100 m scores as ``min_depth`` or ``max_depth``; the logs stay finite).
3. **Valid mask.** A ground-truth pixel counts iff it is finite and
   ``min_depth < gt < max_depth`` (strict on both sides, so 0 = "no measurement" never counts).
   Defaults: ``min_depth = 1e-3`` m, ``max_depth = 10`` m (the NYU Kinect range used by BTS,
   AdaBins, DenseDepth...).
4. **Crop** (optional). ``crop='eigen'`` further restricts to rows 45:471, cols 41:601 of a
   480 x 640 ground-truth map (the Eigen et al. evaluation crop, as in BTS' ``eval_mask``). For
   another ground-truth size H x W the bounds are scaled by H/480 and W/640 and rounded *inwards*
   (start = ceil, stop = floor), so only pixels lying entirely inside the scaled window count;
   e.g. 240 x 320 gives rows 23:235, cols 21:300. ``crop=None`` uses the whole map.
5. **Metrics** over the valid pixels, with ``p`` = prediction, ``g`` = ground truth:

   - ``abs_rel``  = mean(|p - g| / g)
   - ``sq_rel``   = mean((p - g)^2 / g)
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

The numpy path computes in float64; the TF path in float32 (``tf.image.resize`` returns float32).
They agree to ~1e-5 relative; the only systematic difference is a float32 ground-truth value that
equals a non-representable bound (e.g. ``float32(1e-3)`` vs ``min_depth=1e-3``), which numpy
compares after widening to float64 -- irrelevant for real depth maps.
In numpy, no valid pixel at all is a ``ValueError``; in TF (where raising inside a graph would
break a validation loop) the metric values are NaN in that case and ``num_images`` is 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

METRIC_KEYS: tuple[str, ...] = (
    "abs_rel",
    "sq_rel",
    "rmse",
    "rmse_log",
    "log10",
    "silog",
    "delta1",
    "delta2",
    "delta3",
)
COUNT_KEYS: tuple[str, ...] = ("num_images", "num_skipped", "num_pixels")
AVERAGES: tuple[str, ...] = ("per_image", "pooled")

# Eigen crop on a 480 x 640 map: rows [45, 471), cols [41, 601).
EIGEN_CROP_480x640 = (45, 471, 41, 601)
# Named evaluation windows on a 480 x 640 map, (top, bottom, left, right) half-open (sources:
# depthnet/evaluation/presets.py): 'eigen' (BTS / AdaBins --eigen_crop), 'densedepth' (DenseDepth's
# eigen_test_crop.npy [20, 459, 24, 615], inclusive).
CROP_BOXES_480x640: dict[str, tuple[int, int, int, int]] = {
    "eigen": EIGEN_CROP_480x640,
    "densedepth": (20, 460, 24, 616),
}
CROPS: tuple[str, ...] = tuple(CROP_BOXES_480x640)
_REF_H, _REF_W = 480, 640
_LN10 = float(np.log(10.0))

# Per-pixel sums kept per image (and, summed, for pooled averaging). The log error e is kept as
# (mean, M2 = sum of squared deviations) so silog stays accurate when merged across images/batches.
_SUM_KEYS = ("abs_rel", "sq_rel", "sq", "log_sq", "log10", "delta1", "delta2", "delta3")


# --------------------------------------------------------------------------------------------
# argument checks shared by numpy and TF


def _check_options(crop: str | None, min_depth: float, max_depth: float, average: str) -> None:
    if crop is not None and crop not in CROPS:
        raise ValueError(f"unknown crop {crop!r}: expected None or one of {CROPS}")
    if average not in AVERAGES:
        raise ValueError(f"unknown average {average!r}: expected one of {AVERAGES}")
    if not (0.0 < float(min_depth) < float(max_depth) < float("inf")):
        raise ValueError(f"need 0 < min_depth < max_depth < inf, got min_depth={min_depth}, max_depth={max_depth}")


def eigen_crop_bounds(height: int, width: int) -> tuple[int, int, int, int]:
    """Eigen crop ``(top, bottom, left, right)`` (half-open) for a ``height`` x ``width`` map.

    Rows 45:471, cols 41:601 at 480 x 640; other sizes scale those bounds by height/480 and
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


def _resize_weights(out_size: int, in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TF's ResizeBilinear (half_pixel_centers=True) source indices and weights, float32 like TF."""
    scale = np.float32(in_size) / np.float32(out_size)
    src = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    src_floor = np.floor(src)
    lower = np.maximum(src_floor.astype(np.int64), 0)
    upper = np.minimum(np.ceil(src).astype(np.int64), in_size - 1)
    lerp = (src - src_floor).astype(np.float64)
    return lower, upper, lerp


def resize_bilinear(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize (N, H, W) to (N, height, width) like ``tf.image.resize(method='bilinear')``.

    Half-pixel centres, no antialiasing, edge-clamped; interpolation in float64.
    """
    images = np.asarray(images, dtype=np.float64)
    n, h, w = images.shape
    if (h, w) == (height, width):
        return images.copy()
    xl, xu, xf = _resize_weights(width, w)
    yl, yu, yf = _resize_weights(height, h)
    left, right = images[:, :, xl], images[:, :, xu]
    rows = left + (right - left) * xf  # (N, h, width)
    top, bottom = rows[:, yl, :], rows[:, yu, :]
    return top + (bottom - top) * yf[:, None]


def _valid_mask(gt: np.ndarray, crop: str | None, min_depth: float, max_depth: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        mask = np.isfinite(gt) & (gt > min_depth) & (gt < max_depth)
    if crop is not None:
        t, b, l, r = crop_bounds(crop, gt.shape[1], gt.shape[2])  # noqa: E741 - top, bottom, left, right
        window = np.zeros(gt.shape[1:], dtype=bool)
        window[t:b, l:r] = True
        mask &= window
    return mask


def _image_stats(gt: Any, pred: Any, crop: str | None, min_depth: float, max_depth: float) -> dict[str, np.ndarray]:
    """Per-image pixel count, sums of the per-pixel terms, and (mean, M2) of the log error."""
    g = _as_batch(gt, "gt")
    p = _as_batch(pred, "pred")
    if g.shape[0] != p.shape[0]:
        raise ValueError(f"gt and pred batch sizes differ: {g.shape[0]} vs {p.shape[0]}")
    p = resize_bilinear(p, g.shape[1], g.shape[2])
    p = np.clip(p, min_depth, max_depth)
    mask = _valid_mask(g, crop, min_depth, max_depth)
    g = np.where(mask, g, 1.0)  # keep invalid pixels harmless (no NaN / log(0)); masked out below
    m = mask.astype(np.float64)

    diff = p - g
    e = np.log(p) - np.log(g)
    ratio = np.maximum(p / g, g / p)
    axes = (1, 2)
    n = m.sum(axes)
    stats = {
        "n": n,
        "abs_rel": (m * np.abs(diff) / g).sum(axes),
        "sq_rel": (m * diff**2 / g).sum(axes),
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
    ) -> None:
        _check_options(crop, min_depth, max_depth, average)
        self.crop = crop
        self.min_depth = float(min_depth)
        self.max_depth = float(max_depth)
        self.average = average
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
        s = _image_stats(gt, pred, self.crop, self.min_depth, self.max_depth)
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
            raise ValueError(
                f"no valid ground-truth pixel (need finite {self.min_depth} < gt < {self.max_depth}"
                f"{', inside the eigen crop' if self.crop else ''}) in {self._num_skipped} image(s)"
            )
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
) -> dict[str, float]:
    """Depth metrics of ``pred`` against ``gt`` (metres), following the module's protocol.

    Args:
      gt: ground truth, (H, W), (H, W, 1), (N, H, W) or (N, H, W, 1); 0 / NaN / inf = invalid.
        A 3-d array with a trailing axis of 1 is one (H, W, 1) image.
      pred: prediction with the same batch size; any H, W (bilinearly resized to gt's size, then
        clipped to [min_depth, max_depth]). Should be finite: NaN predictions give NaN metrics.
      crop: None, ``'eigen'`` (rows 45:471, cols 41:601 at 480x640, scaled for other sizes) or
        another key of :data:`CROP_BOXES_480x640` (``'densedepth'``: rows 20:460, cols 24:616).
      min_depth, max_depth: valid gt range (strict) and prediction clip range, metres.
      average: ``'per_image'`` (metrics per image, then mean over images with >= 1 valid pixel;
        rmse is the mean of per-image RMSEs) or ``'pooled'`` (all valid pixels as one set).

    Returns:
      ``abs_rel, sq_rel, rmse, rmse_log, log10, silog, delta1, delta2, delta3`` (floats) and
      ``num_images`` (scored images), ``num_skipped`` (images with no valid pixel),
      ``num_pixels`` (valid pixels), ints.

    Raises:
      ValueError: wrong ndim, batch sizes differ, unknown crop / average, bad depth range, or no
        valid pixel at all.
    """
    acc = DepthMetricAccumulator(crop=crop, min_depth=min_depth, max_depth=max_depth, average=average)
    acc.update(gt, pred)
    return acc.result()
