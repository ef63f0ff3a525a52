"""THE fixed-size inference graph that LiteRT and ONNX are converted from, and the resize to its input.

A converted model takes uint8 RGB ``[batch, H, W, 3]`` at one fixed ``input_size`` (H, W) and returns
float32 depth ``[batch, H, W, 1]`` in metres. Inside: x / 255, bilinear resize to the working size the
SavedModel's rule gives for H x W (:func:`depthnet.inference.working_size_of`), the Keras network,
bilinear resize of the depth back to H x W -- the SavedModel's graph with the sizes fixed, so an image
of exactly ``input_size`` gets the SavedModel's depth. Any other image is first resized on the host
(:func:`depthnet.deploy.runtimes.resize_to_input`) and its depth resized back. Inputs with more pixels than 480x640
are refused
as export sizes (the SavedModel's antialiased pre-shrink does not convert); larger photos are shrunk on
the host instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from depthnet.errors import InputError
from depthnet.inference import REFERENCE_SIZE, check_input_size, keras_model_fn, working_size_of


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
            x = tf.image.resize(x, network_size, method="bilinear", antialias=False)
        depth = tf.cast(run(x), tf.float32)
        return {"depth": tf.image.resize(depth, (height, width), method="bilinear", antialias=False)}

    return infer


def frozen(function) -> tf.types.experimental.ConcreteFunction:
    """The concrete function with every variable folded into a constant (what the converters read)."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    return convert_variables_to_constants_v2(function.get_concrete_function())
