"""Depth colour maps and side-by-side comparison panels (RGB | ground truth | prediction + colour bar in metres).

Conventions
-----------
- Default colour map ``plasma_r``: perceptually uniform with monotonic lightness, **near = bright yellow, far = dark
  blue-purple** (the usual depth-figure convention). Its darkest colour (13, 8, 135) stays clearly distinct from the
  default black ``invalid_color``, which is not the case for ``magma_r``/``inferno_r`` whose far end is almost black.
- Range: explicit ``vmin``/``vmax`` (metres), or by default the 2nd-98th percentile of the valid pixels, so a few
  outliers do not wash out the map. To compare maps, compute one range with :func:`depth_range` over all of them and
  pass it to every call (:func:`depth_panel` does this), so equal depths get equal colours.
- Valid pixels: finite and > 0. Everything else gets ``invalid_color``.
- Text grows with the image height, so a panel stays readable when shown smaller (TensorBoard fits the validation
  panel to its card): titles at 9% of the height (at least 16 px), colour-bar labels at 6.5% (at least 11 px); a
  title wider than its image is set smaller until it fits. The title strip (:func:`title_height`) and the colour
  bar (:func:`colorbar_width`) grow with their text, from ``TITLE_HEIGHT`` and ``COLORBAR_WIDTH`` for small images.
- Only matplotlib's Agg canvas is used (no pyplot, no global backend change, no display needed).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from depthnet.apps.imageio import png_text, save_image

DEFAULT_CMAP = "plasma_r"
PANEL_MARGIN = 8  # px between images and around the panel
TITLE_HEIGHT = 28  # px, the smallest strip above the images when titles are given
COLORBAR_WIDTH = 96  # px, the narrowest colour bar plus its tick labels and unit label
TITLE_FRACTION, LABEL_FRACTION = 0.09, 0.065  # text size / image height: titles, colour-bar labels
MIN_TITLE_PX, MIN_LABEL_PX = 16, 11


def title_font_px(height: int) -> int:
    """Title text size in px for images `height` rows high."""
    return max(MIN_TITLE_PX, int(round(TITLE_FRACTION * height)))


def title_height(height: int) -> int:
    """The strip above images `height` rows high that holds their titles."""
    return max(TITLE_HEIGHT, int(round(1.6 * title_font_px(height))))


def label_font_px(height: int) -> int:
    """Colour-bar tick and unit label size in px for a bar `height` rows high."""
    return max(MIN_LABEL_PX, int(round(LABEL_FRACTION * height)))


def colorbar_width(height: int) -> int:
    """Width of :func:`colorbar_image` for a bar `height` rows high: the bar, its ticks, labels and unit."""
    return max(COLORBAR_WIDTH, int(round(6.5 * label_font_px(height))))


def valid_mask(depth: np.ndarray) -> np.ndarray:
    """Boolean mask of usable depth pixels: finite and strictly positive."""
    depth = np.asarray(depth)
    with np.errstate(invalid="ignore"):
        return np.isfinite(depth) & (depth > 0)


def depth_range(*depths: np.ndarray | None, lo: float = 2.0, hi: float = 98.0) -> tuple[float, float]:
    """One robust (vmin, vmax) in metres over the valid pixels of all given maps (``None`` entries are skipped).

    Uses the ``lo``-th and ``hi``-th percentiles. A degenerate range (constant map) is widened to 1 mm so colouring
    stays defined. Raises ``ValueError`` if no map has a valid pixel.
    """
    values = [np.asarray(d, dtype=np.float64)[valid_mask(d)] for d in depths if d is not None]
    values = np.concatenate(values) if values else np.empty(0)
    if values.size == 0:
        raise ValueError("no valid depth (finite and > 0) to derive a colour range from; pass vmin and vmax explicitly")
    vmin, vmax = (float(v) for v in np.percentile(values, [lo, hi]))
    if vmax - vmin < 1e-3:
        vmax = vmin + 1e-3
    return vmin, vmax


def covering_range(*depths: np.ndarray | None) -> tuple[float, float]:
    """One (vmin, vmax) covering each map's own :func:`depth_range` (maps without a valid pixel are skipped).

    Unlike the percentiles of all pixels pooled, a map far off the others (a prediction that is everywhere too
    far) keeps its own colours instead of being clipped to the end of the scale.
    """
    ranges = [depth_range(d) for d in depths if d is not None and valid_mask(d).any()]
    if not ranges:
        raise ValueError("no valid depth (finite and > 0) to derive a colour range from; pass vmin and vmax explicitly")
    return min(r[0] for r in ranges), max(r[1] for r in ranges)


def _lut(cmap: str) -> np.ndarray:
    import matplotlib

    try:
        cm = matplotlib.colormaps[cmap]
    except KeyError:
        raise ValueError(
            f"unknown matplotlib colour map {cmap!r}; try 'plasma_r', 'magma_r', 'viridis' or 'turbo'"
        ) from None
    return np.rint(cm(np.linspace(0.0, 1.0, 256))[:, :3] * 255.0).astype(np.uint8)


def colorize(
    depth: np.ndarray,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = DEFAULT_CMAP,
    invalid_color: Sequence[int] = (0, 0, 0),
) -> np.ndarray:
    """Colour-map an H x W depth map in metres to uint8 H x W x 3.

    Values are clipped to [vmin, vmax] and mapped linearly onto a 256-entry lookup table of ``cmap`` (with the default
    ``plasma_r``, vmin = near = bright). Missing bounds come from :func:`depth_range` (2nd/98th percentile of the valid
    pixels). Invalid pixels (0, negative, NaN, inf) get ``invalid_color``.
    """
    depth = np.asarray(depth, dtype=np.float64)
    if depth.ndim == 3 and depth.shape[2] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2:
        raise ValueError(f"depth must be an H x W array in metres, got shape {depth.shape}")
    valid = valid_mask(depth)
    if vmin is None or vmax is None:
        if valid.any():
            auto_lo, auto_hi = depth_range(depth)
        else:
            auto_lo, auto_hi = 0.0, 1.0  # everything is invalid: the range does not matter
        vmin = auto_lo if vmin is None else float(vmin)
        vmax = auto_hi if vmax is None else float(vmax)
    if not (np.isfinite(vmin) and np.isfinite(vmax) and vmax > vmin):
        raise ValueError(f"need finite vmin < vmax, got vmin={vmin}, vmax={vmax}")
    t = (np.where(valid, depth, vmin) - vmin) / (vmax - vmin)
    index = np.rint(np.clip(t, 0.0, 1.0) * 255.0).astype(np.intp)
    out = _lut(cmap)[index]
    out[~valid] = np.asarray(invalid_color, dtype=np.uint8).reshape(3)
    return out


def _as_rgb_uint8(image: np.ndarray, i: int) -> np.ndarray:
    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise ValueError(
            f"panel image {i} has dtype {a.dtype}; panels take uint8 images - "
            "colour-map depth maps with colorize() first"
        )
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"panel image {i} must be H x W, H x W x 3 or H x W x 4, got shape {a.shape}")
    return a[..., :3]


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def colorbar_image(
    vmin: float,
    vmax: float,
    height: int,
    cmap: str = DEFAULT_CMAP,
    width: int | None = None,
    label: str = "depth [m]",
) -> np.ndarray:
    """A vertical colour bar with ticks in metres as uint8 ``height`` x ``width`` x 3 (matplotlib Agg canvas);
    labels of :func:`label_font_px`, width :func:`colorbar_width` of the height unless given."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colorbar import ColorbarBase
    from matplotlib.colors import ListedColormap, Normalize
    from matplotlib.figure import Figure

    width = int(width or colorbar_width(height))
    dpi, font_px = 100.0, label_font_px(height)
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor="white")
    canvas = FigureCanvasAgg(fig)
    pad = max(10.0, 0.8 * font_px)  # above and below: half a label sticks out at each end
    bar_w, bottom, top = 1.3 * font_px / width, pad / height, 1.0 - pad / height
    ax = fig.add_axes((4.0 / width, bottom, bar_w, max(top - bottom, 0.05)))
    ColorbarBase(
        ax, cmap=ListedColormap(_lut(cmap) / 255.0), norm=Normalize(vmin=vmin, vmax=vmax), orientation="vertical"
    )
    points = font_px * 72.0 / dpi
    ax.tick_params(labelsize=points, length=0.3 * points, width=max(1.0, points / 12))
    ax.set_ylabel(label, fontsize=points)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    out = rgba[..., :3].copy()
    if out.shape[:2] != (height, width):  # rounding of figsize * dpi
        out = np.asarray(Image.fromarray(out).resize((width, height), Image.BILINEAR))
    return out


def _draw_titles(canvas: np.ndarray, widths: Sequence[int], titles: Sequence[str], height: int, margin: int) -> None:
    """Draws each title centred in the strip above its image, smaller where it would be wider than the image."""
    pil = Image.fromarray(canvas)
    draw = ImageDraw.Draw(pil)
    strip, x = title_height(height), margin
    for w, title in zip(widths, titles):
        size = title_font_px(height)
        font = _font(size)
        while size > 8 and draw.textlength(str(title), font=font) > w:
            size -= 1
            font = _font(size)
        left, top, right, bottom = draw.textbbox((0, 0), str(title), font=font)
        tx = x + (w - (right - left)) / 2 - left
        ty = margin + (strip - (bottom - top)) / 2 - top
        draw.text((tx, ty), str(title), fill=(0, 0, 0), font=font)
        x += w + margin
    canvas[:] = np.asarray(pil)


def panel(
    images: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    height: int | None = None,
    margin: int = PANEL_MARGIN,
    colorbar: tuple[float, float] | tuple[float, float, str] | None = None,
    background: Sequence[int] = (255, 255, 255),
) -> np.ndarray:
    """Place uint8 images side by side, each resized (bilinear) to a common height, as one uint8 image.

    Layout (all in pixels): ``height`` defaults to the first image's height; image i becomes
    ``w_i = round(W_i * height / H_i)`` wide. Total width = ``sum(w_i) + margin * (n + 1)``, plus
    ``colorbar_width(height) + margin`` when ``colorbar=(vmin, vmax[, cmap])`` is given (metres, drawn at the
    right). Total height = ``height + 2 * margin``, plus ``title_height(height)`` when ``titles`` is given (one
    per image).
    """
    if len(images) == 0:
        raise ValueError("panel() needs at least one image")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(titles)} titles for {len(images)} images; give one title per image (or None)")
    arrays = [_as_rgb_uint8(im, i) for i, im in enumerate(images)]
    height = int(height or arrays[0].shape[0])
    if height <= 0 or margin < 0:
        raise ValueError(f"need height > 0 and margin >= 0, got height={height}, margin={margin}")
    resized = []
    for a in arrays:
        w = max(1, int(round(a.shape[1] * height / a.shape[0])))
        if a.shape[:2] != (height, w):
            a = np.asarray(Image.fromarray(a).resize((w, height), Image.BILINEAR))
        resized.append(a)
    title_h = title_height(height) if titles is not None else 0
    bar_w = colorbar_width(height) + margin if colorbar is not None else 0
    total_w = sum(a.shape[1] for a in resized) + margin * (len(resized) + 1) + bar_w
    total_h = height + 2 * margin + title_h
    canvas = np.empty((total_h, total_w, 3), np.uint8)
    canvas[:] = np.asarray(background, np.uint8).reshape(3)
    x, y = margin, margin + title_h
    for a in resized:
        canvas[y : y + height, x : x + a.shape[1]] = a
        x += a.shape[1] + margin
    if colorbar is not None:
        vmin, vmax = float(colorbar[0]), float(colorbar[1])
        cmap = colorbar[2] if len(colorbar) > 2 else DEFAULT_CMAP
        canvas[y : y + height, x : x + bar_w - margin] = colorbar_image(vmin, vmax, height, cmap)
    if titles is not None:
        _draw_titles(canvas, [a.shape[1] for a in resized], titles, height, margin)
    return canvas


def depth_panel(
    rgb: np.ndarray,
    pred: np.ndarray,
    gt: np.ndarray | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = DEFAULT_CMAP,
    titles: Sequence[str] | None = None,
    height: int | None = None,
) -> np.ndarray:
    """RGB | ground truth | prediction (or RGB | prediction) with ONE shared colour scale and a colour bar in metres.

    The shared range defaults to :func:`covering_range` of the ground truth and the prediction: it covers both, so a
    prediction that is everywhere too far or too near shows its own (wrong) colours instead of one clipped field, and
    equal depths get equal colours. The default titles print each map's own 2-98% range. The panel height defaults to
    the RGB height; maps of other sizes are resized to it.
    """
    if vmin is None or vmax is None:
        lo, hi = covering_range(gt, pred)
        vmin = lo if vmin is None else vmin
        vmax = hi if vmax is None else vmax
    images = [np.asarray(rgb)]
    default_titles = ["RGB"]
    if gt is not None:
        images.append(colorize(gt, vmin, vmax, cmap))
        default_titles.append("truth " + _range_text(gt))
    images.append(colorize(pred, vmin, vmax, cmap))
    default_titles.append("prediction " + _range_text(pred))
    return panel(
        images, list(titles) if titles is not None else default_titles, height=height, colorbar=(vmin, vmax, cmap)
    )


def _range_text(depth: np.ndarray) -> str:
    if not valid_mask(depth).any():
        return "(no valid depth)"
    lo, hi = depth_range(depth)
    return f"{lo:.2f}-{hi:.2f} m"


def save_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a uint8 H x W, H x W x 3 or H x W x 4 image as PNG, atomically (temp file + rename), marked as
    depthnet's (:func:`depthnet.apps.imageio.png_text`)."""
    a = np.asarray(image)
    if a.dtype != np.uint8 or not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        raise ValueError(f"save_png takes uint8 H x W[x3|x4] images, got {a.dtype} {a.shape}; use colorize() for depth")
    save_image(path, Image.fromarray(np.ascontiguousarray(a)), format="PNG", pnginfo=png_text())
