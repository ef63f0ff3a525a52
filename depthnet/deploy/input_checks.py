"""In-graph input checks of the exported signatures: explicit errors instead of shape errors deep inside.

- :func:`check_images` (``serving_default``): the batch is not empty and the images have 3 channels.
- :func:`check_encoded_sizes` (``serving_bytes``): each encoded image's height x width, read from its
  header *before* decoding, is at most :data:`depthnet.inference.MAX_INPUT_PIXELS`, so a small file that
  decodes to a huge image is refused without allocating it: PNG (IHDR), JPEG (SOF, ``extract_jpeg_shape``),
  WebP (``VP8 ``/``VP8L``/``VP8X`` chunk), BMP (info header) and GIF (every frame's descriptor, since
  TensorFlow decodes a GIF at its largest frame and holds every frame while it does). Refused as well: any
  other format (TIFF, JPEG XL, ...: the decoder would be the first to read its size), animated WebP
  (TensorFlow 2.21's decoder corrupts its heap on some), and GIFs whose frames hold more than the limit
  in all.
"""

from __future__ import annotations

import tensorflow as tf

from depthnet.data.decode import MAX_INPUT_PIXELS, too_large_message

EMPTY_BATCH = "serving_default needs at least one image: the batch of 'images' is empty"
CHANNELS = (
    "serving_default takes RGB images uint8 [batch, height, width, 3]; these have another channel count: "
    "drop alpha / expand grayscale first, or send the encoded files to serving_bytes, which converts them"
)
UNKNOWN_FORMAT = (
    "serving_bytes takes JPEG, PNG, WebP, GIF or BMP files; an image is none of them (TIFF, JPEG XL and "
    "other formats are not read, nor truncated headers): convert it to PNG or JPEG first"
)
ANIMATED_WEBP = "serving_bytes takes still images: an image is an animated WebP; send one frame as PNG or JPEG"
GIF_FRAMES = (
    f"serving_bytes: the frames of a GIF hold more than {MAX_INPUT_PIXELS} pixels in all (TensorFlow decodes "
    "every frame); send its first frame as PNG or JPEG"
)
_UNKNOWN, _ANIMATED, _GIF_FRAMES = -1, -2, -3  # what encoded_pixels returns instead of a pixel count


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


def _webp_pixels(data: tf.Tensor) -> tf.Tensor:
    """Width x height of a still WebP from its first chunk; _ANIMATED / _UNKNOWN when not one."""
    chunk = tf.strings.substr(data, 12, 4)

    def lossy() -> tf.Tensor:  # VP8 key frame: 3-byte tag, start code 9d 01 2a, 14-bit width and height
        return (_unsigned(data, 26, 2, True) % 16384) * (_unsigned(data, 28, 2, True) % 16384)

    def lossless() -> tf.Tensor:  # VP8L: signature 0x2f, then (width - 1) and (height - 1) in 14 bits each
        bits = _unsigned(data, 21, 4, True)
        return (bits % 16384 + 1) * (bits // 16384 % 16384 + 1)

    def extended() -> tf.Tensor:  # VP8X: flags (bit 1: animation), then canvas (width - 1), (height - 1), 24 bits
        animated = tf.equal(_unsigned(data, 20, 1, True) // 2 % 2, 1)
        pixels = (_unsigned(data, 24, 3, True) + 1) * (_unsigned(data, 27, 3, True) + 1)
        return tf.where(animated, tf.constant(_ANIMATED, tf.int64), pixels)

    return tf.case(
        [(tf.equal(chunk, b"VP8 "), lossy), (tf.equal(chunk, b"VP8L"), lossless), (tf.equal(chunk, b"VP8X"), extended)],
        default=lambda: tf.constant(_UNKNOWN, tf.int64),
    )


def _gif_pixels(data: tf.Tensor) -> tf.Tensor:
    """Largest frame box (with the screen) of a GIF, walking its blocks; _GIF_FRAMES when its frames hold
    more than MAX_INPUT_PIXELS pixels in all (and each fits)."""
    raw = tf.cast(tf.io.decode_raw(data, tf.uint8), tf.int64)
    size = tf.size(raw, out_type=tf.int64)

    def at(i: tf.Tensor) -> tf.Tensor:
        return tf.gather(raw, tf.minimum(i, size - 1))

    def after_sub_blocks(pos: tf.Tensor) -> tf.Tensor:  # each: a size byte and its data; a zero size ends them
        end = tf.while_loop(lambda p: (p < size) & (at(p) > 0), lambda p: p + 1 + at(p), [pos])[0]
        return end + 1

    def block(pos, width, height, total):  # 0x2c image descriptor, 0x21 extension, anything else ends the walk
        byte, local = at(pos), at(pos + 9)
        frame_w, frame_h = at(pos + 5) + 256 * at(pos + 6), at(pos + 7) + 256 * at(pos + 8)
        is_image, is_ext = tf.equal(byte, 0x2C), tf.equal(byte, 0x21)
        table = tf.where(local >= 128, 3 * 2 ** (local % 8 + 1), 0)  # local colour table, then the code size
        data_at = tf.where(is_image, pos + 11 + table, pos + 2)
        next_pos = tf.where(is_image | is_ext, after_sub_blocks(data_at), size)
        grow = tf.cast(is_image, tf.int64)
        return (next_pos, tf.maximum(width, grow * frame_w), tf.maximum(height, grow * frame_h),
                total + grow * frame_w * frame_h)  # fmt: skip

    flags = at(tf.constant(10, tf.int64))
    start = 13 + tf.where(flags >= 128, 3 * 2 ** (flags % 8 + 1), 0)  # header, screen, global colour table
    state = (start, _unsigned(data, 6, 2, True), _unsigned(data, 8, 2, True), tf.constant(0, tf.int64))
    _, width, height, total = tf.while_loop(lambda pos, *_: pos < size, block, state)
    many = (total > MAX_INPUT_PIXELS) & (width * height <= MAX_INPUT_PIXELS)
    return tf.where(many, tf.constant(_GIF_FRAMES, tf.int64), width * height)


def encoded_pixels(data: tf.Tensor) -> tf.Tensor:
    """int64 height * width of one encoded image from its header; _UNKNOWN (-1) when the format is not one
    serving_bytes reads, _ANIMATED (-2) for an animated WebP, _GIF_FRAMES (-3) for a GIF too large in all."""
    length = tf.strings.length(data)
    head = tf.strings.substr(data, 0, 4)
    is_png = tf.equal(head, b"\x89PNG") & (length >= 24)
    is_jpeg = tf.equal(tf.strings.substr(data, 0, 2), b"\xff\xd8")
    is_webp = tf.equal(head, b"RIFF") & tf.equal(tf.strings.substr(data, 8, 4), b"WEBP") & (length >= 30)
    is_gif = tf.equal(tf.strings.substr(data, 0, 3), b"GIF") & (length >= 13)
    is_bmp = tf.equal(tf.strings.substr(data, 0, 2), b"BM") & (length >= 26)

    def png() -> tf.Tensor:
        return _unsigned(data, 16, 4, False) * _unsigned(data, 20, 4, False)

    def jpeg() -> tf.Tensor:
        shape = tf.cast(tf.image.extract_jpeg_shape(data), tf.int64)
        return shape[0] * shape[1]

    def bmp() -> tf.Tensor:
        width = _unsigned(data, 18, 4, True)
        height = _unsigned(data, 22, 4, True)
        height = tf.where(height >= 2**31, 2**32 - height, height)  # top-down BMPs store a negative height
        return width * height

    return tf.case(
        [(is_png, png), (is_jpeg, jpeg), (is_webp, lambda: _webp_pixels(data)), (is_gif, lambda: _gif_pixels(data)),
         (is_bmp, bmp)],
        default=lambda: tf.constant(_UNKNOWN, tf.int64),
        exclusive=False,
    )  # fmt: skip


def check_encoded_sizes(image_bytes: tf.Tensor) -> tf.Tensor:
    """`image_bytes` after asserting, from the headers, that every image is of a format serving_bytes reads
    and decodes to at most MAX_INPUT_PIXELS pixels."""
    pixels = tf.concat([tf.map_fn(encoded_pixels, image_bytes, fn_output_signature=tf.int64), [0]], 0)
    checks = [
        tf.debugging.assert_none_equal(pixels, tf.constant(_UNKNOWN, tf.int64), message=UNKNOWN_FORMAT),
        tf.debugging.assert_none_equal(pixels, tf.constant(_ANIMATED, tf.int64), message=ANIMATED_WEBP),
        tf.debugging.assert_none_equal(pixels, tf.constant(_GIF_FRAMES, tf.int64), message=GIF_FRAMES),
    ]
    with tf.control_dependencies(checks):
        too_large = tf.debugging.assert_less_equal(
            tf.reduce_max(pixels), tf.constant(MAX_INPUT_PIXELS, tf.int64), message=too_large_message("encoded image")
        )
    with tf.control_dependencies([too_large]):
        return tf.identity(image_bytes)
