"""Depth-of-field ("bokeh") rendering from an RGB image and its depth map, without halos (paper sec. 4.3).

Blur model (thin lens). A point at depth z, with the lens focused at z_f, images to a circle of confusion of diameter
``c = A f |z - z_f| / (z (z_f - f)) ~= A f |1/z - 1/z_f|`` (for z_f >> f; A = aperture diameter, f = focal length).
In pixels we use the radius

    r(z) = min(max_radius, aperture * |1/z - 1/z_f|)         (``aperture`` = A f / (2 * pixel pitch), in px * m)

so blur grows with the *inverse*-depth distance from the focal plane: it saturates far behind it (at
``aperture / z_f``) and grows quickly in front of it, as with a real camera. The signed value
``s = aperture * (1/z - 1/z_f)`` (> 0 in front of the focal plane) orders the layers.

Rendering (layered, premultiplied alpha):
1. Pixels with r < 0.5 px are the in-focus layer. The others are split into depth layers by quantising s with a
   step ``max(1 px, (s_max - s_min) / num_layers)``; each layer is blurred with an anti-aliased disc of its radius
   (the centre of its bin).
2. For every layer, back to front, its premultiplied colour ``rgb * mask`` and its ``mask`` are convolved with the disc
   (FFT, on the layer's bounding box only) and composited with "over": ``acc = layer + (1 - alpha_layer) * acc``.
3. Colour = accumulated colour / accumulated alpha; in-focus pixels are finally copied from the input bit-for-bit.

Why no halos: a layer only ever blurs its own pixels. A sharp foreground object is not in the background layer, so the
blurred background next to it is the normalised average of background pixels only (no foreground colour bleeds out),
and the sharp object is copied from the input (no background bleeds in). A blurred *foreground* does spread over what
lies behind it, as real defocus does - except over in-focus pixels, which are kept exactly as captured.

Invalid depth (0, negative, NaN, inf; e.g. holes in raw Kinect depth) is treated as the farthest valid depth: Kinect
holes are mostly shadows on the far side of depth edges and far-range dropouts, i.e. background.
"""

from __future__ import annotations

import numpy as np

DEFAULT_APERTURE = 40.0  # px * m: focus at 2 m -> a wall at 5 m gets r = 12 px, an object at 1 m r = 20 px
DEFAULT_MAX_RADIUS = 20  # px
DEFAULT_NUM_LAYERS = 16


def _check_depth(depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    depth = np.asarray(depth, dtype=np.float64)
    if depth.ndim == 3 and depth.shape[2] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2:
        raise ValueError(f"depth must be an H x W array in metres, got shape {depth.shape}")
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(depth) & (depth > 0)
    return depth, valid


def signed_coc(
    depth: np.ndarray, focus_depth: float, aperture: float = DEFAULT_APERTURE, max_radius: float = DEFAULT_MAX_RADIUS
) -> np.ndarray:
    """Signed circle-of-confusion radius in px, ``clip(aperture * (1/z - 1/z_f), -max_radius, max_radius)``.

    Positive in front of the focal plane, negative behind it. ``depth`` must be valid (finite, > 0) everywhere.
    """
    depth = np.asarray(depth, dtype=np.float64)
    return np.clip(aperture * (1.0 / depth - 1.0 / float(focus_depth)), -max_radius, max_radius)


def blur_radius(
    depth: np.ndarray, focus_depth: float, aperture: float = DEFAULT_APERTURE, max_radius: float = DEFAULT_MAX_RADIUS
) -> np.ndarray:
    """Per-pixel blur radius in px, ``min(max_radius, aperture * |1/z - 1/z_f|)``; invalid depth counts as farthest."""
    depth, valid = _check_depth(depth)
    if not valid.any():
        raise ValueError("depth has no valid pixel (finite and > 0)")
    filled = np.where(valid, depth, depth[valid].max())
    return np.abs(signed_coc(filled, focus_depth, aperture, max_radius))


def disc_kernel(radius: float) -> np.ndarray:
    """Normalised anti-aliased disc of the given radius (px): weight ``clip(radius + 0.5 - distance, 0, 1)``."""
    p = int(np.ceil(radius))
    y, x = np.mgrid[-p : p + 1, -p : p + 1]
    k = np.clip(radius + 0.5 - np.hypot(x, y), 0.0, 1.0)
    return k / k.sum()


def _fast_len(n: int) -> int:
    """Smallest m >= n whose prime factors are 2, 3, 5 or 7 (fast FFT sizes for pocketfft)."""
    m = n
    while True:
        r = m
        for p in (2, 3, 5, 7):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 1


def _convolve_disc(stack: np.ndarray, radius: float) -> np.ndarray:
    """'Same'-size linear convolution (zero outside) of a C x H x W float stack with a disc, via real FFT."""
    kernel = disc_kernel(radius).astype(stack.dtype)
    p = kernel.shape[0] // 2
    _, h, w = stack.shape
    shape = (_fast_len(h + 2 * p), _fast_len(w + 2 * p))
    spectrum = np.fft.rfft2(stack, s=shape) * np.fft.rfft2(kernel, s=shape)
    full = np.fft.irfft2(spectrum, s=shape)
    return full[:, p : p + h, p : p + w]


def _check_render_args(
    rgb: np.ndarray, depth: np.ndarray, focus_depth: float, aperture: float, max_radius: int, num_layers: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Validates render_bokeh's arguments; returns (rgb, depth float64 H x W, valid mask, focus_depth)."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be a uint8 H x W x 3 image, got {rgb.dtype} {rgb.shape}")
    depth, valid = _check_depth(depth)
    if depth.shape != rgb.shape[:2]:
        raise ValueError(
            f"depth is {depth.shape[0]}x{depth.shape[1]} but rgb is {rgb.shape[0]}x{rgb.shape[1]}; "
            "resize the depth map to the image size first (e.g. bilinear on the metres)"
        )
    if not valid.any():
        raise ValueError("depth has no valid pixel (finite and > 0); cannot render depth of field")
    focus_depth = float(focus_depth)
    if not (np.isfinite(focus_depth) and focus_depth > 0):
        raise ValueError(f"focus_depth must be a positive distance in metres, got {focus_depth}")
    if not (np.isfinite(aperture) and aperture >= 0) or max_radius < 0 or int(num_layers) < 1:
        raise ValueError(
            f"need aperture >= 0, max_radius >= 0, num_layers >= 1; got {aperture}, {max_radius}, {num_layers}"
        )
    return rgb, depth, valid, focus_depth


def _depth_layers(s: np.ndarray, in_focus: np.ndarray, num_layers: int) -> tuple[np.ndarray, float]:
    """Signed layer index per pixel (0 = in focus, ascending = back to front) and the layer step in px."""
    step = max(1.0, float(s.max() - s.min()) / int(num_layers))
    layer = np.where(in_focus, 0, np.sign(s) * (np.floor((np.abs(s) - 0.5) / step) + 1)).astype(np.int64)
    return layer, step


def _layer_radius(k: int, step: float, max_radius: int) -> float:
    """Blur radius (px) of layer `k`: the centre of its bin, capped at `max_radius`; 0 for the in-focus layer."""
    if k == 0:
        return 0.0
    return min(float(max_radius), 0.5 + (abs(int(k)) - 0.5) * step)


def _composite_layer(
    acc_c: np.ndarray, acc_a: np.ndarray, centred: np.ndarray, mask: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Blurs one layer (premultiplied colour and alpha, on its bounding box) and composites it "over" the rest."""
    if radius < 0.5:
        a = mask.astype(np.float32)
        return centred * a + (1.0 - a) * acc_c, a + (1.0 - a) * acc_a
    h, w = mask.shape
    p = int(np.ceil(radius))
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    r0, r1 = max(rows[0] - p, 0), min(rows[-1] + p + 1, h)
    c0, c1 = max(cols[0] - p, 0), min(cols[-1] + p + 1, w)
    m = mask[r0:r1, c0:c1].astype(np.float32)
    stack = np.concatenate([centred[:, r0:r1, c0:c1] * m, m[None]], axis=0)
    blurred = _convolve_disc(stack, radius)
    a = np.clip(blurred[3], 0.0, 1.0)
    acc_c[:, r0:r1, c0:c1] = blurred[:3] + (1.0 - a) * acc_c[:, r0:r1, c0:c1]
    acc_a[r0:r1, c0:c1] = a + (1.0 - a) * acc_a[r0:r1, c0:c1]
    return acc_c, acc_a


def _composite_layers(
    centred: np.ndarray, layer: np.ndarray, step: float, max_radius: int
) -> tuple[np.ndarray, np.ndarray]:
    """Premultiplied mean-free colour (3 x H x W) and alpha (H x W) of all layers, composited back to front."""
    h, w = layer.shape
    acc_c = np.zeros((3, h, w), np.float32)  # premultiplied, mean-free colour
    acc_a = np.zeros((h, w), np.float32)
    for k in np.unique(layer):  # ascending s = back to front
        acc_c, acc_a = _composite_layer(acc_c, acc_a, centred, layer == k, _layer_radius(k, step, max_radius))
    return acc_c, acc_a


def _unpremultiply(
    acc_c: np.ndarray, acc_a: np.ndarray, mean: np.ndarray, rgb: np.ndarray, in_focus: np.ndarray
) -> np.ndarray:
    """uint8 colour = accumulated colour / alpha (+ mean); uncovered pixels and in-focus pixels come from `rgb`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        colour = acc_c / acc_a
    colour = colour.transpose(1, 2, 0) + mean
    out = np.clip(np.rint(colour), 0, 255)
    out = np.where(np.isfinite(out) & (acc_a[..., None] > 1e-6), out, rgb).astype(np.uint8)
    out[in_focus] = rgb[in_focus]
    return out


def render_bokeh(
    rgb: np.ndarray,
    depth: np.ndarray,
    focus_depth: float,
    aperture: float = DEFAULT_APERTURE,
    max_radius: int = DEFAULT_MAX_RADIUS,
    num_layers: int = DEFAULT_NUM_LAYERS,
) -> np.ndarray:
    """Synthetic depth of field: keep the focal plane sharp and blur the rest by thin-lens defocus, without halos.

    Args:
        rgb: uint8 H x W x 3 image.
        depth: H x W depth in metres for the same pixels (invalid = farthest valid depth).
        focus_depth: depth of the focal plane in metres (e.g. from :func:`focus_depth_at`).
        aperture: blur strength in px * m; radius = aperture * |1/z - 1/focus_depth| (see module docstring).
        max_radius: cap on the blur radius in px (also bounds the cost).
        num_layers: about how many depth layers the out-of-focus range is split into (more = finer radius steps).
    Returns:
        uint8 H x W x 3; pixels with radius < 0.5 px are bit-identical to ``rgb``.
    """
    rgb, depth, valid, focus_depth = _check_render_args(rgb, depth, focus_depth, aperture, max_radius, num_layers)
    filled = np.where(valid, depth, depth[valid].max())
    s = signed_coc(filled, focus_depth, aperture, max_radius)
    in_focus = np.abs(s) < 0.5
    if in_focus.all():
        return rgb.copy()
    layer, step = _depth_layers(s, in_focus, num_layers)
    mean = rgb.reshape(-1, 3).astype(np.float64).mean(axis=0)
    centred = (rgb.astype(np.float64) - mean).astype(np.float32).transpose(2, 0, 1)  # 3 x H x W, mean-free
    acc_c, acc_a = _composite_layers(centred, layer, step, max_radius)
    return _unpremultiply(acc_c, acc_a, mean, rgb, in_focus)


def focus_depth_at(depth: np.ndarray, row: int, col: int, window: int = 5) -> float:
    """Median valid depth (metres) in a ``window`` x ``window`` box centred on pixel (row, col), clipped to the image.

    For ``--focus_pixel``: a median over a small window ignores holes and is robust to a click landing on an edge.
    Raises ``ValueError`` if the pixel is outside the image or the window holds no valid depth.
    """
    depth, valid = _check_depth(depth)
    h, w = depth.shape
    row, col, window = int(row), int(col), int(window)
    if not (0 <= row < h and 0 <= col < w):
        raise ValueError(f"focus pixel (row={row}, col={col}) is outside the {h}x{w} depth map")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    half = window // 2
    r0, r1 = max(row - half, 0), min(row + half + 1, h)
    c0, c1 = max(col - half, 0), min(col + half + 1, w)
    values = depth[r0:r1, c0:c1][valid[r0:r1, c0:c1]]
    if values.size == 0:
        raise ValueError(
            f"no valid depth within {window}x{window} px of (row={row}, col={col}); "
            "pick another pixel or a larger window"
        )
    return float(np.median(values))


def focus_warning(depth: np.ndarray, focus_depth: float) -> str | None:
    """A warning when the focal plane lies outside the depth map's valid range (the whole picture would blur), else
    None. A focus taken from the map itself (:func:`focus_depth_at`) always lies inside it."""
    depth, valid = _check_depth(depth)
    if not valid.any():
        return None
    lo, hi = float(depth[valid].min()), float(depth[valid].max())
    if lo <= float(focus_depth) <= hi:
        return None
    return (
        f"focus depth {float(focus_depth):.2f} m lies outside the predicted depth range {lo:.2f}-{hi:.2f} m, so the "
        f"whole image is blurred; focus on a pixel instead (--focus_pixel=row,col; the default is the image centre) "
        f"or give a --focus_depth inside that range"
    )
