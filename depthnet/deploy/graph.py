"""THE fixed-size inference graph that LiteRT and ONNX are converted from.

A converted model takes uint8 RGB ``[batch, H, W, 3]`` at one fixed ``input_size`` (H, W) and returns
float32 depth ``[batch, H, W, 1]`` in metres. Inside: x / 255, THE kernel
(:func:`depthnet.inference.resize_bilinear`: bilinear, half-pixel, no antialiasing) to the working
size the SavedModel's rule gives for H x W (:func:`depthnet.inference.working_size_of`), the Keras
network, THE kernel back to H x W -- the SavedModel's graph with the sizes fixed, so an image of
exactly ``input_size`` gets the SavedModel's depth (the default export size is 480x640, a NYU frame).
Any other image is first resized on the host by the same rule (:func:`depthnet.deploy.runtimes.resize_to_input`)
and its depth resized back. Export sizes with more pixels than 480x640 are refused (the SavedModel's
antialiased pre-shrink of such images happens on the host instead).
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from depthnet.errors import InputError
from depthnet.inference import REFERENCE_SIZE, check_input_size, keras_model_fn, resize_bilinear, working_size_of

DEFAULT_EXPORT_SIZE: tuple[int, int] = tuple(REFERENCE_SIZE)  # (480, 640): NYU frames need no host resize


def check_export_size(input_size: Sequence[int], working: Sequence[int]) -> tuple[int, int]:
    """(H, W) as ints; InputError for a size the fixed graph cannot take."""
    height, width = (int(s) for s in input_size)
    check_input_size(height, width, working)
    if height * width > REFERENCE_SIZE[0] * REFERENCE_SIZE[1]:
        raise InputError(
            f"input_size {height}x{width} has more pixels than {REFERENCE_SIZE[0]}x{REFERENCE_SIZE[1]}; "
            f"export at most that size (larger photos are shrunk on the host before the model)"
        )
    return height, width


def fixed_size_function(
    model, input_size: Sequence[int], working: Sequence[int], batch: int | None = None
) -> tf.types.experimental.GenericFunction:
    """A tf.function uint8 [batch, H, W, 3] 'images' -> {'depth': float32 [batch, H, W, 1]} (module docstring)."""
    height, width = check_export_size(input_size, working)
    network_size = working_size_of(height, width, working)
    run = keras_model_fn(model)

    @tf.function(input_signature=[tf.TensorSpec([batch, height, width, 3], tf.uint8, name="images")])
    def infer(images: tf.Tensor) -> dict[str, tf.Tensor]:
        x = tf.cast(images, tf.float32) / 255.0
        if network_size != (height, width):
            x = resize_bilinear(x, network_size)
        depth = tf.cast(run(x), tf.float32)
        return {"depth": resize_bilinear(depth, (height, width))}

    return infer


def frozen(function) -> tf.types.experimental.ConcreteFunction:
    """The concrete function with every variable folded into a constant (what the converters read)."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    return convert_variables_to_constants_v2(function.get_concrete_function())
