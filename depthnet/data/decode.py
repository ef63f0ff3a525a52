"""THE image decoding rule: an encoded image file -> the uint8 RGB pixels the network is fed.

One rule, used wherever a file enters: `depthnet-prepare` (training and evaluation shards, through
`data_prep.readers.read_rgb`), `depthnet-predict` and `depthnet.load` (`apps.imageio.load_rgb`), and
the SavedModel's `serving_bytes` signature (:func:`decode_tf`, in the graph). The same file therefore
reaches the network as the same pixels in training, evaluation, prediction and serving:

- JPEG: libjpeg-turbo's accurate integer IDCT (ISLOW) with fancy chroma upsampling -- Pillow's default,
  and TensorFlow's ``decode_jpeg(dct_method="INTEGER_ACCURATE")``. (TensorFlow's own default, the fast
  IDCT, differs from it by up to ~17 of 255 levels, and the depth predicted from it by centimetres.)
- Alpha (RGBA, LA, palette transparency): composited on white, ``(c * a + 255 * (255 - a) + 127) // 255``
  in integers (exact everywhere). Transparent pixels often hold undefined colours; white is what viewers show.
- Grey -> RGB by repetition; 16-bit samples -> 8 bits by ``v >> 8`` (what Pillow does for 16-bit colour).
- EXIF orientation: applied to files (Pillow). The serving graph cannot read EXIF, so `serving_bytes` takes
  the pixels in stored order: clients send upright images (`tests/data/test_decode.py` bounds the difference to
  exactly that transpose). `depthnet-prepare` refuses an RGB file with a rotating EXIF tag, since its depth
  map is stored unrotated.
- Size: an image over :data:`MAX_INPUT_PIXELS` pixels is refused from its header, before it is decoded
  (:func:`open_image`: Pillow reads PNG/JPEG/WebP/GIF/BMP/TIFF headers lazily), so a small file that would
  decode to gigabytes costs nothing. The serving graph does the same in :mod:`depthnet.deploy.input_checks`.
"""

from __future__ import annotations

import io
import warnings
from typing import IO, Optional, Union

import numpy as np

from depthnet.errors import InputError

__all__ = [
    "EXIF_ORIENTATION", "MAX_INPUT_PIXELS", "check_pixels", "composite_on_white", "decode_bytes", "decode_tf",
    "exif_orientation", "open_image", "pil_to_rgb", "too_large_message",
]  # fmt: skip

EXIF_ORIENTATION = 0x0112
JPEG_DCT_METHOD = "INTEGER_ACCURATE"  # = libjpeg's JDCT_ISLOW, Pillow's default
# THE input limit (e.g. 6000x8000), re-exported as depthnet.inference.MAX_INPUT_PIXELS; defined here, in the
# data layer, so that the decoders of predict and prepare (which never import TensorFlow) apply it too.
MAX_INPUT_PIXELS = 48_000_000


def too_large_message(what: str = "image") -> str:
    """`<what> too large: at most 48000000 pixels (...)`: the one wording of the limit."""
    return (
        f"{what} too large: at most {MAX_INPUT_PIXELS} pixels (e.g. 6000x8000, "
        "depthnet.inference.MAX_INPUT_PIXELS); shrink it before sending it"
    )


def check_pixels(height: int, width: int, name: Optional[str] = None) -> None:
    """Raises InputError (naming `name`, if given) when a `height` x `width` image is over :data:`MAX_INPUT_PIXELS`."""
    if int(height) * int(width) > MAX_INPUT_PIXELS:
        raise InputError(
            f"{f'{name!r}' if name else 'image'} is {height}x{width} = {int(height) * int(width)} pixels (read from "
            f"its header, not decoded): {too_large_message()}"
        )


def open_image(source: Union[str, IO[bytes]], name: Optional[str] = None):
    """A PIL image with only its header read, refused (InputError naming `name`) when over the size limit.

    Pillow's own decompression-bomb warning is held back (this check is the stricter one), and its error (over
    ~179 MP) becomes the same InputError. Other read errors pass unchanged; call ``.load()`` to decode.
    """
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(source)
        except Image.DecompressionBombError as e:
            raise InputError(f"{f'{name!r}: ' if name else ''}{e}: {too_large_message()}") from None
    width, height = image.size
    check_pixels(height, width, name)
    return image


def composite_on_white(color: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """uint8 colour [..., C] over white with uint8 alpha [..., 1], rounded exactly in integers."""
    c = np.asarray(color).astype(np.int32)
    a = np.asarray(alpha).astype(np.int32)
    return ((c * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)


def exif_orientation(image) -> int:
    """The EXIF orientation tag of a PIL image (1 = upright, also when there is none)."""
    try:
        return int(image.getexif().get(EXIF_ORIENTATION, 1) or 1)
    except Exception:  # malformed EXIF: Pillow's exif_transpose ignores it too
        return 1


def _to_uint8_from_16bit(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.size and (a.min() < 0 or a.max() > 65535):
        raise ValueError(
            f"{name!r} holds integer samples outside 0..65535 (32-bit image?); "
            "convert it to an 8- or 16-bit RGB/grayscale image first"
        )
    return (a.astype(np.uint32) >> 8).astype(np.uint8)


def pil_to_rgb(image, name: str = "image") -> np.ndarray:
    """A decoded PIL image -> upright uint8 H x W x 3 RGB by the rule above (EXIF orientation applied).

    Raises ValueError naming `name` for floating-point and 32-bit images and unconvertible modes.
    """
    from PIL import ImageOps

    if exif_orientation(image) != 1:
        image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode == "P" and "transparency" in image.info:
        image, mode = image.convert("RGBA"), "RGBA"
    if mode == "RGB":
        out = np.asarray(image, dtype=np.uint8)
    elif mode.startswith("I;16") or mode == "I":
        gray = _to_uint8_from_16bit(np.asarray(image), name)
        out = np.repeat(gray[..., None], 3, axis=2)
    elif mode == "F":
        raise ValueError(
            f"{name!r} is a floating-point image (mode F); depth maps are not RGB input - "
            "pass a colour photo, or convert the file to 8-bit RGB first"
        )
    elif mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.uint8)
        out = composite_on_white(rgba[..., :3], rgba[..., 3:4])
    else:  # L, 1, P, CMYK, YCbCr, LAB, HSV, ...
        try:
            out = np.asarray(image.convert("RGB"), dtype=np.uint8)
        except Exception as e:
            raise ValueError(f"cannot convert {name!r} (mode {mode}) to RGB: {e}") from None
    out = np.ascontiguousarray(out)
    if out.ndim != 3 or out.shape[2] != 3 or out.shape[0] == 0 or out.shape[1] == 0:
        raise ValueError(f"{name!r} decoded to an unexpected array of shape {out.shape}")
    return out


def decode_bytes(data: bytes, name: str = "image") -> np.ndarray:
    """Encoded image bytes -> uint8 H x W x 3 RGB (Pillow; :func:`pil_to_rgb`). ValueError names `name`
    (InputError, before decoding, for an image over :data:`MAX_INPUT_PIXELS`)."""
    try:
        image = open_image(io.BytesIO(data), name)  # refused from the header when too large
        image.load()  # decode now: truncated/corrupt data fails here, not later
    except InputError:
        raise
    except Exception as e:  # PIL raises UnidentifiedImageError, OSError, SyntaxError, zlib.error, ...
        raise ValueError(
            f"cannot read {name!r} as an image ({type(e).__name__}: {e}); "
            "the file is not an image or is corrupt/truncated - re-export or re-download it"
        ) from None
    return pil_to_rgb(image, name)


def decode_tf(data):
    """In a TF graph: one encoded JPEG/PNG/WebP/BMP/GIF string -> uint8 [H, W, 3] by the same rule (no EXIF); its
    size is checked from the header first by depthnet.deploy.input_checks.check_encoded_sizes."""
    import tensorflow as tf

    def jpeg() -> tf.Tensor:
        return tf.io.decode_jpeg(data, channels=3, dct_method=JPEG_DCT_METHOD)

    def other() -> tf.Tensor:
        image = tf.io.decode_image(data, channels=0, dtype=tf.uint8, expand_animations=False)
        x = tf.cast(tf.ensure_shape(image, [None, None, None]), tf.int32)
        channels = tf.shape(x)[-1]
        color = tf.cond(channels < 3, lambda: tf.repeat(x[..., :1], 3, axis=-1), lambda: x[..., :3])
        alpha = tf.case(
            [(tf.equal(channels, 2), lambda: x[..., 1:2]), (tf.equal(channels, 4), lambda: x[..., 3:4])],
            default=lambda: tf.fill(tf.concat([tf.shape(x)[:2], [1]], 0), 255),
        )
        return tf.cast((color * alpha + 255 * (255 - alpha) + 127) // 255, tf.uint8)

    return tf.ensure_shape(tf.cond(tf.io.is_jpeg(data), jpeg, other), [None, None, 3])
