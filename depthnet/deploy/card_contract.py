"""The parts of `model.json` that tell a client how to use a file: decoding, resizing, input, output.

Written for a client that has only the exported file, its card and a runtime (numpy + onnxruntime,
ai-edge-litert or TensorFlow): every rule is stated as a formula, with the library calls that
implement it. The rules are those of :mod:`depthnet.data.decode` (decoding) and
:mod:`depthnet.inference` (THE kernel and the resize rule); ``tests/deploy/test_card_client.py``
runs a client written from the card alone against ``depthnet-predict``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

from depthnet.inference import (
    MAX_INPUT_PIXELS,
    REFERENCE_SIZE,
    SIZE_MULTIPLE,
    min_input_pixels,
    working_size_of,
)

REFERENCE_PIXELS = REFERENCE_SIZE[0] * REFERENCE_SIZE[1]

DECODING: dict[str, str] = {
    "exif_orientation": "apply it first (PIL.ImageOps.exif_transpose): the model expects upright pixels",
    "jpeg": "accurate integer IDCT (libjpeg JDCT_ISLOW) with fancy chroma upsampling: Pillow's default "
    "(Image.open(f).convert('RGB')), tf.io.decode_jpeg(dct_method='INTEGER_ACCURATE'); not TensorFlow's default "
    "fast IDCT (up to 17 levels off)",
    "alpha": "composite on white in integers: (c * a + 255 * (255 - a) + 127) // 255 per channel (RGBA, LA, "
    "palette transparency)",
    "grayscale": "repeat the one channel three times",
    "16_bit": "v >> 8 (what Pillow does for 16-bit colour)",
    "channels": "RGB order (OpenCV's imread gives BGR: reverse it), values as stored (sRGB, no colour management)",
}

KERNEL: dict[str, str] = {
    "name": "bilinear, half-pixel centres, no antialiasing (align_corners false)",
    "formula": "output pixel j of n_out samples the input at s = (j + 0.5) * n_in / n_out - 0.5 clamped to "
    "[0, n_in - 1]; value = (1 - t) * v[i0] + t * v[i1], i0 = floor(s), i1 = min(i0 + 1, n_in - 1), t = s - i0; "
    "rows, then columns (separable), in float32",
    "same_as": "tf.image.resize(x, size, method='bilinear', antialias=False); torch.nn.functional.interpolate("
    "x, size, mode='bilinear', align_corners=False); the training pipeline's resize (depthnet.data.pipeline)",
    "not_the_same_as": "Pillow's Image.resize(BILINEAR) and OpenCV's INTER_AREA, which widen the filter when shrinking",
}

LARGE_IMAGES = (
    f"an image with more than {REFERENCE_PIXELS} pixels ({REFERENCE_SIZE[0]}x{REFERENCE_SIZE[1]}) is first shrunk "
    f"to that pixel count at its aspect: s = sqrt({REFERENCE_PIXELS} / (h * w)), each side max(1, floor(side * s "
    f"+ 0.5)), with antialiasing (tf.image.resize(..., method='bilinear', antialias=True), a triangle filter "
    f"widened by the shrink factor; Pillow's Image.resize(BILINEAR) on float 'F' images per channel is the same "
    f"filter), in float, before anything else"
)


def input_spec(fmt: str, size: Optional[Sequence[int]], batch: Any, working: Sequence[int]) -> dict[str, Any]:
    """The input tensor: name, dtype, layout, range, shape and the sizes it takes."""
    spec: dict[str, Any] = {
        "name": "images",
        "dtype": "uint8",
        "layout": "NHWC RGB 0-255",
        "channels": "RGB",
        "range": [0, 255],
    }
    if size is None:
        spec["shape"] = ["batch", "height", "width", 3]
        spec["sizes"] = (
            f"any height x width with {min_input_pixels(working)} to {MAX_INPUT_PIXELS} pixels, each image at its own "
            f"size (one size per batch): the graph resizes (see resize)"
        )
    else:
        spec["shape"] = [batch, int(size[0]), int(size[1]), 3]
        spec["sizes"] = f"exactly {size[0]}x{size[1]}: resize other images first (see resize.before_the_model)"
    return spec


def output_spec(size: Optional[Sequence[int]], batch: Any, valid_range: Sequence[float]) -> dict[str, Any]:
    """The output tensor: metres of z-depth, its range, and what (nothing) marks an invalid pixel."""
    shape = ["batch", "height", "width", 1] if size is None else [batch, int(size[0]), int(size[1]), 1]
    return {
        "name": "depth",
        "dtype": "float32",
        "shape": shape,
        "unit": "metres",
        "quantity": "z-depth: distance along the camera's optical axis (as NYU Depth V2 / Kinect store it), "
        "not the ray length",
        "values": "finite and > 0 at every pixel (the head computes exp(softplus(z)) - 1)",
        "valid_range_m": [float(valid_range[0]), float(valid_range[1])],
        "valid_range_basis": "the depth range the run was trained and scored on (its evaluation protocol; "
        "NYU Depth V2's 10 m cap); values outside it are extrapolation",
        "invalid_marker": "none: the map is dense and no pixel is marked invalid (no 0, NaN or inf is written); "
        "treat values outside valid_range_m as unreliable and any non-finite value as a broken runtime",
    }


def resize_spec(size: Optional[Sequence[int]], working: Sequence[int]) -> dict[str, Any]:
    """How an image of any size reaches this file and how its depth gets back to the image's size."""
    rule = (
        f"x / 255; the kernel to the working size (the pixel count of {working[0]}x{working[1]} at the image's "
        f"aspect, each side rounded half up to a multiple of {SIZE_MULTIPLE}); the network (depth at half that "
        f"size); the kernel back to the size of the image it was given"
    )
    out: dict[str, Any] = {"kernel": KERNEL, "large_images": LARGE_IMAGES, "shrink_above_pixels": REFERENCE_PIXELS}
    if size is None:
        out["before_the_model"] = "decode (see decoding); nothing else: send the image at its own size"
        out["inside_the_model"] = f"an image over {REFERENCE_PIXELS} pixels is shrunk as in large_images; then {rule}"
        out["after_the_model"] = "nothing: depth comes at the size of the image sent"
        return out
    h, w = int(size[0]), int(size[1])
    out["before_the_model"] = [
        "decode (see decoding)",
        "large_images (only above the pixel count given there)",
        f"the kernel from the image's size to {h}x{w} in float (skip when it is already {h}x{w})",
        f"round half to even, clip to 0..255, cast to uint8; add the batch axis: [1, {h}, {w}, 3]",
    ]
    out["inside_the_model"] = f"{rule}: here {h}x{w} -> {list(working_size_of(h, w, working))} -> depth back at {h}x{w}"
    out["after_the_model"] = (
        f"depth [1, {h}, {w}, 1] -> the original image's height x width with the kernel (float, no rounding; skip "
        f"when it is already {h}x{w}); depth values are not rescaled"
    )
    out["exact_when"] = (
        f"the image is {h}x{w}: then nothing is resized on the host and the depth equals the SavedModel's; other "
        f"sizes pass two resizes (host + graph) where the SavedModel does one, and differ slightly: export at your "
        f"camera's size (depthnet-export --input_size=H,W) for exactness"
    )
    return out


def intrinsics_spec(intr, size: Optional[Sequence[int]]) -> dict[str, Any]:
    """The camera the network assumes (NYU's Kinect), at the input size or the reference size."""
    scope = "scaled to input_size" if size is not None else "at 480x640; for another size scale them"
    return {
        "camera": f"NYU Depth V2 Kinect colour camera, {scope}",
        "rescale": "fx' = fx * W' / W, fy' = fy * H' / H, cx' = (cx + 0.5) * W' / W - 0.5, cy' = (cy + 0.5) * H' / H - "
        "0.5 (pixel centres at integer coordinates)",
        **{k: getattr(intr, k) for k in ("fx", "fy", "cx", "cy", "height", "width")},
    }
