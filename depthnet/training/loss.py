"""Training loss (paper eq. 3): L1 between log(D + 1) and log(D_hat + 1) over valid pixels.

Resolution (ours): the network predicts at half the input size; the prediction is bilinearly
upsampled to the ground truth's size and the loss is taken there, so every labelled pixel counts
and invalid (zero) ground truth is never resampled into valid values.
"""

from __future__ import annotations

import tensorflow as tf


def valid_mask(depth_true: tf.Tensor) -> tf.Tensor:
    """1.0 where ground truth is a usable depth (finite and > 0), else 0.0."""
    depth_true = tf.convert_to_tensor(depth_true, tf.float32)
    return tf.cast(tf.math.is_finite(depth_true) & (depth_true > 0), tf.float32)


def match_size(depth_pred: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    """Bilinearly resizes a [B,h,w,1] prediction to the spatial size of `like` (no-op if equal)."""
    target = tf.shape(like)[1:3]
    if depth_pred.shape[1:3] == like.shape[1:3] and depth_pred.shape[1] is not None:
        return depth_pred
    return tf.image.resize(depth_pred, target, method="bilinear")


def log_l1_terms(depth_true: tf.Tensor, depth_pred: tf.Tensor, mask: tf.Tensor | None = None):
    """(sum over valid pixels of |log(D+1) - log(D_hat+1)|, number of valid pixels), both float32.

    Returning the two terms lets a distributed step divide by the global pixel count.
    """
    depth_true = tf.convert_to_tensor(depth_true, tf.float32)
    depth_pred = match_size(tf.cast(depth_pred, tf.float32), depth_true)
    valid = valid_mask(depth_true) if mask is None else tf.cast(mask, tf.float32) * valid_mask(depth_true)
    safe_true = tf.where(valid > 0, depth_true, tf.zeros_like(depth_true))
    error = tf.abs(tf.math.log1p(safe_true) - tf.math.log1p(tf.maximum(depth_pred, 0.0)))
    return tf.reduce_sum(error * valid), tf.reduce_sum(valid)


def log_l1_loss(depth_true: tf.Tensor, depth_pred: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
    """Eq. (3): mean over the batch's valid pixels; 0 when the batch has none."""
    total, count = log_l1_terms(depth_true, depth_pred, mask)
    return tf.math.divide_no_nan(total, count)
