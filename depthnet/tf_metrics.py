"""The depth metrics of :mod:`depthnet.metrics` in TensorFlow (traceable, same protocol, tested to agree)."""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf

from depthnet.metrics import (
    _LN10,
    _REF_H,
    _REF_W,
    CROP_BOXES_480x640,
    _check_options,
)


def _tf_as_batch(x: tf.Tensor, name: str) -> tf.Tensor:
    """[N,H,W] or [N,H,W,1] -> float32 [N,H,W,1] (static rank required)."""
    x = tf.convert_to_tensor(x)
    x = tf.cast(x, tf.float32)
    rank = x.shape.rank
    if rank == 3:
        x = x[..., None]
    elif rank == 4:
        if x.shape[-1] is not None and x.shape[-1] != 1:
            raise ValueError(f"{name} with 4 dims must be [N, H, W, 1], got shape {x.shape}")
    else:
        raise ValueError(f"{name} must be a batched tensor [N, H, W, 1] or [N, H, W]; got shape {x.shape}")
    return x


def _tf_eigen_window(height: tf.Tensor, width: tf.Tensor, crop: str = "eigen") -> tf.Tensor:
    """Boolean [H, W] window of a named crop (default Eigen), same integer rounding as :func:`crop_bounds`."""
    t, b, l, r = CROP_BOXES_480x640[crop]  # noqa: E741 - top, bottom, left, right
    top = -((-t * height) // _REF_H)
    bottom = (b * height) // _REF_H
    left = -((-l * width) // _REF_W)
    right = (r * width) // _REF_W
    rows = tf.range(height)
    cols = tf.range(width)
    row_ok = (rows >= top) & (rows < bottom)
    col_ok = (cols >= left) & (cols < right)
    return row_ok[:, None] & col_ok[None, :]


def tf_depth_metrics(
    gt: tf.Tensor,
    pred: tf.Tensor,
    crop: str | None = None,
    min_depth: float = 1e-3,
    max_depth: float = 10.0,
    average: str = "per_image",
) -> dict[str, tf.Tensor]:
    """In-graph version of :func:`compute_depth_metrics` for batched tensors (use in tf.function).

    ``gt`` [N,H,W,1] (or [N,H,W]), ``pred`` [N,h,w,1] (any h, w; resized with
    ``tf.image.resize(method='bilinear')``). Same protocol and keys, computed in float32 with
    masks and reductions only. Metrics are float32 scalars; ``num_images``, ``num_skipped``,
    ``num_pixels`` are int32 scalars. With no valid pixel the metrics are NaN (no exception in graph).
    Raises ValueError at trace time for unknown crop / average, bad rank or static batch mismatch.
    """
    _check_options(crop, min_depth, max_depth, average)
    g = _tf_as_batch(gt, "gt")
    p = _tf_as_batch(pred, "pred")
    n_g, n_p = g.shape[0], p.shape[0]
    if n_g is not None and n_p is not None and n_g != n_p:
        raise ValueError(f"gt and pred batch sizes differ: {n_g} vs {n_p}")
    if n_g is None or n_p is None:
        tf.debugging.assert_equal(tf.shape(g)[0], tf.shape(p)[0], message="gt and pred batch sizes differ")

    gshape = tf.shape(g)
    height, width = gshape[1], gshape[2]
    same_static = None not in g.shape[1:3].as_list() and g.shape[1:3].as_list() == p.shape[1:3].as_list()
    if not same_static:
        p = tf.image.resize(p, tf.stack([height, width]), method="bilinear")
    lo = tf.constant(min_depth, tf.float32)
    hi = tf.constant(max_depth, tf.float32)
    p = tf.clip_by_value(p, lo, hi)[..., 0]
    g = g[..., 0]

    mask = tf.math.is_finite(g) & (g > lo) & (g < hi)
    if crop is not None:
        mask &= _tf_eigen_window(height, width, crop)[None]
    g = tf.where(mask, g, tf.ones_like(g))
    m = tf.cast(mask, tf.float32)

    diff = p - g
    e = tf.math.log(p) - tf.math.log(g)
    ratio = tf.maximum(p / g, g / p)
    terms = {
        "abs_rel": tf.abs(diff) / g,
        "sq_rel": tf.square(diff) / g,
        "sq": tf.square(diff),
        "log_sq": tf.square(e),
        "log10": tf.abs(e) / _LN10,
        "delta1": tf.cast(ratio < 1.25, tf.float32),
        "delta2": tf.cast(ratio < 1.25**2, tf.float32),
        "delta3": tf.cast(ratio < 1.25**3, tf.float32),
    }
    n_img = tf.reduce_sum(m, axis=[1, 2])  # [N]
    scored = n_img > 0
    num_images = tf.reduce_sum(tf.cast(scored, tf.int32))
    num_skipped = tf.size(scored, out_type=tf.int32) - num_images
    num_pixels = tf.reduce_sum(tf.cast(mask, tf.int32))

    if average == "per_image":
        safe_n = tf.maximum(n_img, 1.0)
        sums = {k: tf.reduce_sum(m * v, axis=[1, 2]) for k, v in terms.items()}
        mean_e = tf.reduce_sum(m * e, axis=[1, 2]) / safe_n
        sums["m2_e"] = tf.reduce_sum(m * tf.square(e - mean_e[:, None, None]), axis=[1, 2])
        sums["n"] = safe_n
        per_image = _tf_metrics_from_sums(sums)
        denom = tf.cast(num_images, tf.float32)
        out = {
            k: tf.math.divide(tf.reduce_sum(tf.where(scored, v, tf.zeros_like(v))), denom) for k, v in per_image.items()
        }
    else:
        n = tf.reduce_sum(n_img)
        sums = {k: tf.reduce_sum(m * v) for k, v in terms.items()}
        mean_e = tf.math.divide_no_nan(tf.reduce_sum(m * e), n)
        sums["m2_e"] = tf.reduce_sum(m * tf.square(e - mean_e))
        sums["n"] = n  # 0 -> 0/0 = NaN metrics, as documented
        out = _tf_metrics_from_sums(sums)
    out.update(num_images=num_images, num_skipped=num_skipped, num_pixels=num_pixels)
    return out


def _tf_metrics_from_sums(s: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    n = s["n"]
    div = tf.math.divide
    return {
        "abs_rel": div(s["abs_rel"], n),
        "sq_rel": div(s["sq_rel"], n),
        "rmse": tf.sqrt(div(s["sq"], n)),
        "rmse_log": tf.sqrt(div(s["log_sq"], n)),
        "log10": div(s["log10"], n),
        "silog": 100.0 * tf.sqrt(tf.maximum(div(s["m2_e"], n), 0.0)),
        "delta1": div(s["delta1"], n),
        "delta2": div(s["delta2"], n),
        "delta3": div(s["delta3"], n),
    }
