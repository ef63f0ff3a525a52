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
from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

CONV_REFERENCE = {"batch": 3, "height": 60, "width": 80, "channels": 256, "kernel": 3}


def conv_flops(batch: int, height: int, width: int, channels: int, kernel: int) -> int:
    """2 x multiply-accumulates of a 'same' kernel x kernel convolution, channels -> channels."""
    return 2 * batch * height * width * kernel * kernel * channels * channels


def median_seconds(call: Callable[[], Any], iterations: int, warmup: int = 1) -> float:
    """Median wall time of `iterations` calls of `call` after `warmup` untimed ones (at least one of each)."""
    for _ in range(max(1, warmup)):
        call()
    times = []
    for _ in range(max(1, iterations)):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def conv_call(
    input_shape: Sequence[int], filter_shape: Sequence[int], dtype: tf.DType, convolve: Callable
) -> Callable[[], Any]:
    """A call running relu(convolve(x, w) + b) once on fixed random tensors in `dtype` (a tf.function that
    returns one scalar, so the whole convolution is computed and nothing large is copied back)."""
    x = tf.cast(tf.random.stateless_normal(list(input_shape), seed=[5, 6]), dtype)
    w = tf.cast(tf.random.stateless_normal(list(filter_shape), seed=[7, 8]) * 0.05, dtype)
    b = tf.cast(tf.random.stateless_normal(list(filter_shape[-1:]), seed=[9, 10]), dtype)

    @tf.function
    def run(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        y = tf.nn.relu(convolve(x, w) + b)
        return tf.reduce_sum(tf.cast(y[:1, :1, :1, :1], tf.float32))

    return lambda: run(x, w, b).numpy()


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
    call = conv_call(
        [batch, height, width, channels],
        [kernel, kernel, channels, channels],
        dtype,
        lambda x, w: tf.nn.convolution(x, w, padding="SAME", dilations=dilation),
    )
    return conv_flops(batch, height, width, channels, kernel) / median_seconds(call, iterations, warmup) / 1e9


def best_conv_gflops(dtype: tf.DType, repeats: int = 3, **kwargs) -> float:
    """The best of `repeats` :func:`conv_gflops` measurements. Another job's load only ever slows a measurement
    down, so the best is the machine's limit; one measurement read 272 GFLOP/s against 351 a minute before."""
    return max(conv_gflops(dtype, **kwargs) for _ in range(max(1, repeats)))
