"""Eq. (3): L1 in log(depth + 1) over valid pixels, checked against hand-computed values."""

import math

import numpy as np
import pytest
import tensorflow as tf

from depthnet.training.loss import log_l1_loss, log_l1_terms


def test_hand_computed_value_skips_invalid_pixels():
    gt = np.array([[1.0, 3.0], [0.0, np.nan]], np.float32).reshape(1, 2, 2, 1)
    pred = np.array([[2.0, 3.0], [50.0, 50.0]], np.float32).reshape(1, 2, 2, 1)
    expected = (abs(math.log(2.0) - math.log(3.0)) + 0.0) / 2  # only the two valid pixels count
    assert float(log_l1_loss(gt, pred)) == pytest.approx(expected, rel=1e-6)
    total, count = log_l1_terms(gt, pred)
    assert float(count) == 2.0


def test_mean_is_over_all_valid_pixels_of_the_batch():
    gt = np.ones((2, 2, 2, 1), np.float32)
    gt[1, 0, 0, 0] = 0.0  # one hole in the second image
    pred = np.full((2, 2, 2, 1), math.e * 2 - 1, np.float32)  # log(pred+1) - log(2) = 1
    assert float(log_l1_loss(gt, pred)) == pytest.approx(1.0, rel=1e-6)
    total, count = log_l1_terms(gt, pred)
    assert float(count) == 7.0 and float(total) == pytest.approx(7.0, rel=1e-6)


def test_half_resolution_prediction_is_upsampled_to_ground_truth():
    gt = np.full((1, 8, 8, 1), 2.0, np.float32)
    pred = np.full((1, 4, 4, 1), 2.0, np.float32)
    assert float(log_l1_loss(gt, pred)) == pytest.approx(0.0, abs=1e-7)
    pred_far = np.full((1, 4, 4, 1), 5.0, np.float32)
    assert float(log_l1_loss(gt, pred_far)) == pytest.approx(math.log(6.0) - math.log(3.0), rel=1e-6)


def test_no_valid_pixel_gives_zero_not_nan_and_gradients_flow():
    assert float(log_l1_loss(np.zeros((1, 4, 4, 1), np.float32), np.ones((1, 2, 2, 1), np.float32))) == 0.0
    pred = tf.Variable(np.full((1, 2, 2, 1), 1.0, np.float32))
    with tf.GradientTape() as tape:
        loss = log_l1_loss(np.full((1, 2, 2, 1), 3.0, np.float32), pred)
    grad = tape.gradient(loss, pred).numpy()
    np.testing.assert_allclose(grad, -1.0 / (4 * 2.0))  # d/dp |log(p+1) - log 4| / 4 at p=1
