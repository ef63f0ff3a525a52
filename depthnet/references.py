"""The convolution reference of `depthnet-bench`: what this machine gives one of the network's own convolutions.

A 3x3, 256 -> 256 channel convolution on a 60x80 map (the full network's DMG convolutions and its
ResNet stage 3 at 240x320, batch 3 = the paper's batch), 'same' padding, timed in a tf.function in a
given dtype: 2 * B*H*W * 3*3 * 256 * 256 FLOPs per call (5.4 GFLOP). `dilation` > 1 runs it the way
Keras runs the network's atrous convolutions (on the CPU: SpaceToBatchND + Conv2D + BatchToSpaceND).
The benchmark reports the network's achieved GFLOP/s against it (and against a matmul): the network
cannot beat its own best layer by much, so ~90% of it is the machine's limit.
"""

from __future__ import annotations

import statistics
import time

import tensorflow as tf

CONV_REFERENCE = {"batch": 3, "height": 60, "width": 80, "channels": 256, "kernel": 3}


def conv_flops(batch: int, height: int, width: int, channels: int, kernel: int) -> int:
    """2 x multiply-accumulates of a 'same' kernel x kernel convolution, channels -> channels."""
    return 2 * batch * height * width * kernel * kernel * channels * channels


def conv_gflops(
    dtype: tf.DType,
    dilation: int = 1,
    iterations: int = 5,
    warmup: int = 2,
    batch: int = CONV_REFERENCE["batch"],
    height: int = CONV_REFERENCE["height"],
    width: int = CONV_REFERENCE["width"],
    channels: int = CONV_REFERENCE["channels"],
    kernel: int = CONV_REFERENCE["kernel"],
) -> float:
    """GFLOP/s of the reference convolution in `dtype` (from the median of `iterations` timed calls)."""
    x = tf.cast(tf.random.stateless_normal([batch, height, width, channels], seed=[5, 6]), dtype)
    w = tf.cast(tf.random.stateless_normal([kernel, kernel, channels, channels], seed=[7, 8]) * 0.05, dtype)
    b = tf.cast(tf.random.stateless_normal([channels], seed=[9, 10]), dtype)

    @tf.function
    def conv(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        y = tf.nn.relu(tf.nn.convolution(x, w, padding="SAME", dilations=dilation) + b)
        return tf.reduce_sum(tf.cast(y[:1, :1, :1, :1], tf.float32))  # forces the whole conv, returns a scalar

    for _ in range(max(1, warmup)):
        conv(x, w, b).numpy()
    times = []
    for _ in range(max(1, iterations)):
        start = time.perf_counter()
        conv(x, w, b).numpy()
        times.append(time.perf_counter() - start)
    return conv_flops(batch, height, width, channels, kernel) / statistics.median(times) / 1e9


def best_conv_gflops(dtype: tf.DType, repeats: int = 3, **kwargs) -> float:
    """The best of `repeats` :func:`conv_gflops` measurements. Another job's load only ever slows a measurement
    down, so the best is the machine's limit; one measurement read 272 GFLOP/s against 351 a minute before."""
    return max(conv_gflops(dtype, **kwargs) for _ in range(max(1, repeats)))
