"""Image and depth-file decoders shared by the readers (pure functions of a path or an array)."""

from __future__ import annotations

import os

import numpy as np

from data_prep.readers.base import DEPTH_ENCODINGS, BadInputError
from depthnet.data.decode import check_pixels, exif_orientation, open_image, pil_to_rgb
from depthnet.errors import InputError

# NYU raw Kinect disparity -> metres (NYU toolbox depth_rel2depth_abs / Open3D CreateRGBDImageFromNYUFormat).
KINECT_INVALID = 2047
KINECT_NUM = 351.3
KINECT_DEN = 1092.5
KINECT_MAX_M = 10.0  # depth_rel2depth_abs: depth(depth > 10) = 10

_DEPTH_BITS = {
    "1": "1-bit",
    "L": "8-bit",
    "P": "8-bit palette",
    "LA": "8-bit",
    "RGB": "8-bit RGB",
    "RGBA": "8-bit RGBA",
}


def _open_image(path: str):
    """The decoded PIL image of `path`; refused before decoding when its header says it is over the size limit."""
    from PIL import Image

    if not os.path.exists(path):
        raise BadInputError(path, "file does not exist")
    try:
        img = open_image(path)
        img.load()
    except InputError as e:
        raise BadInputError(path, str(e)) from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise BadInputError(path, f"cannot decode image ({type(e).__name__}: {e})") from e
    return img


def read_rgb(path: str) -> np.ndarray:
    """Any PIL-readable colour image -> uint8 HxWx3 by THE decoding rule of :mod:`depthnet.data.decode` (JPEG ISLOW,
    alpha composited on white, grey/palette converted): the pixels depthnet-predict and serving_bytes get from
    the same file. Single-channel 16/32-bit images (depth-like) and rotating EXIF tags are refused."""
    img = _open_image(path)
    if img.mode.startswith("I") or img.mode == "F":
        raise BadInputError(
            path,
            f"RGB image is a {img.mode} single-channel image (16/32-bit), which looks like depth; "
            "are the RGB and depth columns/folders swapped?",
        )
    orientation = exif_orientation(img)
    if orientation != 1:
        raise BadInputError(
            path,
            f"RGB image has EXIF orientation {orientation} (displayed rotated/mirrored) but its depth map is stored "
            "unrotated; rotate the pixels and drop the tag first (e.g. exiftool -Orientation=1 -n, or PIL's "
            "ImageOps.exif_transpose) and rotate the depth the same way",
        )
    try:
        return pil_to_rgb(img, path)
    except ValueError as e:
        raise BadInputError(path, str(e)) from e


def read_depth_u16(path: str) -> np.ndarray:
    """A 16-bit single-channel image (PNG/PGM/TIFF) -> its stored uint16 values, read losslessly."""
    img = _open_image(path)
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(img).astype(np.uint16)
    if mode == "I":  # some 16-bit files open as 32-bit int
        arr = np.asarray(img)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise BadInputError(path, f"depth values {arr.min()}..{arr.max()} do not fit 16 bits")
        return arr.astype(np.uint16)
    raise BadInputError(
        path,
        f"depth image is {_DEPTH_BITS.get(mode, mode)} (PIL mode {mode}), but a 16-bit single-channel image is "
        "expected (stored value = metres x depth_scale). 8-bit depth (e.g. DenseDepth's nyu2_train PNGs) has lost "
        "its precision and is not supported; use the 16-bit test PNGs, the .h5 files or the labeled .mat.",
    )


def _pgm_header(data: bytes) -> tuple[list[bytes], int]:
    """The first four whitespace-separated tokens of a PGM (comments skipped) and the offset after them."""
    tokens, pos = [], 0
    while len(tokens) < 4:
        while pos < len(data) and data[pos : pos + 1].isspace():
            pos += 1
        if pos < len(data) and data[pos : pos + 1] == b"#":
            pos = data.find(b"\n", pos) + 1 or len(data)
            continue
        start = pos
        while pos < len(data) and not data[pos : pos + 1].isspace():
            pos += 1
        if start == pos:
            break
        tokens.append(data[start:pos])
    return tokens, pos


def read_nyu_raw_pgm(path: str) -> np.ndarray:
    """A raw NYU Kinect depth dump (``d-*.pgm``) -> uint16 raw disparity values.

    Its header says ``P5 640 480 65535`` (big-endian by the PGM spec) but the payload is little-endian,
    which is why the NYU toolbox calls ``swapbytes(imread(...))``; so it is read here as ``<u2``.
    """
    if not os.path.exists(path):
        raise BadInputError(path, "file does not exist")
    with open(path, "rb") as f:
        data = f.read()
    tokens, pos = _pgm_header(data)
    if len(tokens) < 4 or tokens[0] != b"P5":
        raise BadInputError(path, "not a binary PGM (expected a 'P5 <width> <height> <maxval>' header)")
    try:
        width, height, maxval = (int(t) for t in tokens[1:])
        check_pixels(height, width)
    except InputError as e:
        raise BadInputError(path, str(e)) from None
    except ValueError as e:
        raise BadInputError(path, f"bad PGM header {b' '.join(tokens)!r}") from e
    if maxval < 256:
        raise BadInputError(path, f"PGM is 8-bit (maxval {maxval}); a raw Kinect dump is 16-bit")
    pos += 1  # the single whitespace after maxval
    need = width * height * 2
    payload = data[pos : pos + need]
    if len(payload) != need:
        raise BadInputError(path, f"truncated PGM: {len(payload)} of {need} data bytes")
    raw = np.frombuffer(payload, dtype="<u2").reshape(height, width).astype(np.uint16)
    if raw.max() > KINECT_INVALID:
        raise BadInputError(
            path,
            f"values up to {raw.max()} > {KINECT_INVALID}: not a raw NYU Kinect disparity dump "
            "(use depth_encoding 'scaled' for depth in fixed units)",
        )
    return raw


def kinect_raw_to_metres(raw: np.ndarray) -> np.ndarray:
    """NYU raw Kinect disparity -> metres: 351.3 / (1092.5 - raw), clamped at 10 m as the NYU toolbox does;
    2047 (and raw >= 1092.5) -> 0 (invalid)."""
    raw = np.asarray(raw, dtype=np.float64)
    valid = (raw < KINECT_INVALID) & (raw < KINECT_DEN)
    depth = np.where(valid, np.minimum(KINECT_NUM / np.where(valid, KINECT_DEN - raw, 1.0), KINECT_MAX_M), 0.0)
    return depth.astype(np.float32)


def sunrgbd_to_metres(stored: np.ndarray) -> np.ndarray:
    """SUN RGB-D depth PNG values -> metres: rotate the 16 bits right by 3, then / 1000 (0 = invalid)."""
    v = np.asarray(stored).astype(np.uint32)
    d = ((v >> 3) | (v << 13)) & 0xFFFF
    return (d.astype(np.float64) / 1000.0).astype(np.float32)


def read_depth(path: str, encoding: str = "scaled", depth_scale: float = 1000.0) -> np.ndarray:
    """A depth file -> float32 metres (0 = invalid), decoded as `encoding` (see :mod:`data_prep.readers`)."""
    if encoding == "kinect_raw":
        return kinect_raw_to_metres(read_nyu_raw_pgm(path))
    stored = read_depth_u16(path)
    if encoding == "sunrgbd":
        return sunrgbd_to_metres(stored)
    if encoding != "scaled":
        raise ValueError(f"unknown depth encoding {encoding!r}; one of {DEPTH_ENCODINGS}")
    return (stored.astype(np.float64) / float(depth_scale)).astype(np.float32)
