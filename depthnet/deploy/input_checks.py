"""In-graph input checks of the exported signatures: explicit errors instead of shape errors deep inside.

- :func:`check_images` (``serving_default``): the batch is not empty and the images have 3 channels.
- :func:`check_encoded_sizes` (``serving_bytes``): each encoded image's height x width, read from its
  header (PNG IHDR, JPEG SOF, GIF screen, BMP info header) *before* decoding, is at most
  :data:`depthnet.inference.MAX_INPUT_PIXELS`, so a small file that decodes to a huge image is
  refused without allocating it. Other formats are left to the decoder (and the same limit after it).
"""

from __future__ import annotations

import tensorflow as tf

from depthnet.inference import MAX_INPUT_PIXELS, too_large_message

EMPTY_BATCH = "serving_default needs at least one image: the batch of 'images' is empty"
CHANNELS = (
    "serving_default takes RGB images uint8 [batch, height, width, 3]; these have another channel count: "
    "drop alpha / expand grayscale first, or send the encoded files to serving_bytes, which converts them"
)


def check_images(images: tf.Tensor) -> tf.Tensor:
    """`images` after asserting a non-empty batch of 3-channel images."""
    shape = tf.shape(images)
    checks = [
        tf.debugging.assert_rank(images, 4, message=CHANNELS),
        tf.debugging.assert_greater(shape[0], 0, message=EMPTY_BATCH),
        tf.debugging.assert_equal(shape[-1], 3, message=CHANNELS),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(images)


def _unsigned(data: tf.Tensor, start: int, length: int, little_endian: bool) -> tf.Tensor:
    raw = tf.cast(tf.io.decode_raw(tf.strings.substr(data, start, length), tf.uint8), tf.int64)
    weights = [256**i for i in range(length)]
    if not little_endian:
        weights = weights[::-1]
    return tf.reduce_sum(raw * tf.constant(weights, tf.int64))


def encoded_pixels(data: tf.Tensor) -> tf.Tensor:
    """int64 height * width of one encoded image from its header; 0 when the format is not recognised."""
    length = tf.strings.length(data)
    head = tf.strings.substr(data, 0, 4)
    is_png = tf.equal(head, b"\x89PNG") & (length >= 24)
    is_jpeg = tf.equal(tf.strings.substr(data, 0, 2), b"\xff\xd8")
    is_gif = tf.equal(tf.strings.substr(data, 0, 3), b"GIF") & (length >= 10)
    is_bmp = tf.equal(tf.strings.substr(data, 0, 2), b"BM") & (length >= 26)

    def png() -> tf.Tensor:
        return _unsigned(data, 16, 4, False) * _unsigned(data, 20, 4, False)

    def jpeg() -> tf.Tensor:
        shape = tf.cast(tf.image.extract_jpeg_shape(data), tf.int64)
        return shape[0] * shape[1]

    def gif() -> tf.Tensor:
        return _unsigned(data, 6, 2, True) * _unsigned(data, 8, 2, True)

    def bmp() -> tf.Tensor:
        width = _unsigned(data, 18, 4, True)
        height = _unsigned(data, 22, 4, True)
        height = tf.where(height >= 2**31, 2**32 - height, height)  # top-down BMPs store a negative height
        return width * height

    return tf.case(
        [(is_png, png), (is_jpeg, jpeg), (is_gif, gif), (is_bmp, bmp)],
        default=lambda: tf.constant(0, tf.int64),
        exclusive=False,
    )


def check_encoded_sizes(image_bytes: tf.Tensor) -> tf.Tensor:
    """`image_bytes` after asserting that no encoded image decodes to more than MAX_INPUT_PIXELS pixels."""
    pixels = tf.map_fn(encoded_pixels, image_bytes, fn_output_signature=tf.int64)
    check = tf.debugging.assert_less_equal(
        tf.reduce_max(tf.concat([pixels, [0]], 0)),
        tf.constant(MAX_INPUT_PIXELS, tf.int64),
        message=too_large_message("encoded image"),
    )
    with tf.control_dependencies([check]):
        return tf.identity(image_bytes)
