"""Procedural, footprint-prefiltered material textures evaluated in surface coordinates (metres).

Every pattern function takes the material, surface coordinates (s, t), the pixel footprint on the
surface in metres and the optional (width, height) of a finite face, and returns (albedo, emission):
three float32 arrays each (display space), emission None when the material does not glow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

import numpy as np

from depthnet.synthetic.noise import (
    NOISE_TABLE,
    blend,
    cell_hash,
    f32,
    fade,
    fbm,
    line_coverage,
    mix,
    scale_rgb,
    value_noise,
)
from depthnet.synthetic.scene import Material

RGB = list[np.ndarray]
TextureResult = tuple[RGB, Optional[RGB]]
FaceSize = Optional[tuple[float, float]]


def _plain(mat: Material, s: np.ndarray, t: np.ndarray, fp: np.ndarray, size: FaceSize) -> TextureResult:
    sc = f32(mat.scale)
    value = 1 + f32(2 * mat.variation) * fbm(s / sc, t / sc, fp / sc, 2, mat.seed)
    return [f32(c) * value for c in mat.color], None


def _noise(mat: Material, s: np.ndarray, t: np.ndarray, fp: np.ndarray, size: FaceSize) -> TextureResult:
    sc = f32(mat.scale)
    value = fbm(s / sc, t / sc, fp / sc, 4, mat.seed)
    return mix(mat.color, mat.color2, np.clip(0.5 + f32(1.0 + 2 * mat.variation) * value, 0, 1)), None


def _fabric(mat: Material, s: np.ndarray, t: np.ndarray, fp: np.ndarray, size: FaceSize) -> TextureResult:
    sc = f32(mat.scale)
    value = fbm(s / sc, t / sc, fp / sc, 3, mat.seed)
    fine = (value_noise(s * f32(180.0), t * f32(180.0)) - 0.5) * fade(fp * f32(180.0))
    base = mix(mat.color, mat.color2, np.clip(0.5 + value, 0, 1) * f32(mat.variation * 2))
    return scale_rgb(base, 1 + f32(0.25) * fine), None


def _wood(mat: Material, s: np.ndarray, t: np.ndarray, fp: np.ndarray, size: FaceSize) -> TextureResult:
    plank_width, seed = mat.scale, mat.seed
    across = t / f32(plank_width)
    row = np.floor(across)
    frac_across = across - row
    row_hash = cell_hash(row, 0, seed, 1)
    plank_length = 6.0 * plank_width
    along = s / f32(plank_length) + row_hash
    col = np.floor(along)
    frac_along = along - col
    tone = cell_hash(row, col, seed, 2)
    fp_plank = fp / f32(plank_width)
    grain1 = (value_noise(s / f32(plank_width * 2.5) + tone * 40, across * f32(9.0)) - 0.5) * fade(fp_plank * 9)
    grain2 = (value_noise(s / f32(plank_width * 0.7) + row_hash * 60, across * f32(28.0)) - 0.5) * fade(fp_plank * 28)
    tone_weight = f32(mat.variation * 3) * fade(fp_plank * 0.5)
    weight = np.clip(0.5 + (tone - 0.5) * tone_weight + grain1 * 0.9 + grain2 * 0.5, 0, 1)
    rgb = mix(mat.color, mat.color2, weight)
    seam = np.maximum(
        line_coverage(frac_across, 0.02, fp_plank), line_coverage(frac_along, 0.004, fp / f32(plank_length))
    )
    return scale_rgb(rgb, 1 - f32(0.45) * seam), None


def _grid(mat: Material, s: np.ndarray, t: np.ndarray, fp: np.ndarray, size: FaceSize) -> TextureResult:
    """tiles, checker and bricks: a (possibly offset) grid of cells with grout lines."""
    kind, sc, seed = mat.kind, mat.scale, mat.seed
    if kind == "bricks":
        grid_y = t / f32(sc * 0.33)
        row = np.floor(grid_y)
        grid_x = s / f32(sc) + 0.5 * (row.astype(np.int32) & 1)
        fp_x, fp_y = fp / f32(sc), fp / f32(sc * 0.33)
        grout_width = (0.012, 0.036)
    else:
        grid_x, grid_y = s / f32(sc), t / f32(sc)
        row = np.floor(grid_y)
        fp_x = fp_y = fp / f32(sc)
        grout_width = (0.015, 0.015) if kind == "tiles" else (0.004, 0.004)
    col = np.floor(grid_x)
    frac_x, frac_y = grid_x - col, grid_y - row
    variation = (cell_hash(col, row, seed, 3) - 0.5) * f32(2 * mat.variation) * fade(fp_x * 0.5)
    grout = np.maximum(line_coverage(frac_x, grout_width[0], fp_x), line_coverage(frac_y, grout_width[1], fp_y))
    if kind == "checker":
        stripes_x = line_coverage(frac_x, 0.25, fp_x * 0.5)  # half-period stripes -> AA checker
        stripes_y = line_coverage(frac_y, 0.25, fp_y * 0.5)
        parity = stripes_x + stripes_y - 2 * stripes_x * stripes_y
        rgb = scale_rgb(mix(mat.color, mat.color2, parity), 1 + variation)
        return blend(rgb, (0.3, 0.3, 0.3), grout * f32(0.5)), None
    rgb = scale_rgb([np.full(s.shape[0], f32(c)) for c in mat.color], 1 + variation)
    return blend(rgb, mat.color2, grout), None


def _stripes(mat: Material, s: np.ndarray, t: np.ndarray, fp: np.ndarray, size: FaceSize) -> TextureResult:
    coord = s / f32(mat.scale)
    stripe = line_coverage(coord - np.floor(coord), 0.25, fp / f32(mat.scale))
    rgb = mix(mat.color, mat.color2, stripe)
    value = fbm(s * f32(2.0), t * f32(2.0), fp * f32(2.0), 2, mat.seed)
    return scale_rgb(rgb, 1 + f32(mat.variation) * value), None


def _books(mat: Material, s: np.ndarray, t: np.ndarray, fp: np.ndarray, size: FaceSize) -> TextureResult:
    """Shelves of height `scale` with board lines, books of random width / colour / height."""
    sc, seed, n = mat.scale, mat.seed, s.shape[0]
    shelf_coord = t / f32(sc)
    shelf = np.floor(shelf_coord)
    frac_y = shelf_coord - shelf
    book_coord = (
        s / f32(0.035) + cell_hash(shelf, 0, seed, 4) * 30 + (value_noise(s * f32(12.0), shelf * 3.1) - 0.5) * 1.6
    )
    book_index = np.floor(book_coord)
    book_top = 0.12 + 0.8 * cell_hash(book_index, shelf, seed, 5)  # books reach from frac_y=0.12 to book_top
    hue = cell_hash(book_index, shelf, seed, 6)
    grey = 0.2 + 0.6 * cell_hash(book_index, shelf, seed, 10)
    book = [grey + (0.1 + 0.8 * cell_hash(book_index, shelf, seed, 7 + c) - grey) * hue for c in range(3)]
    antialias = fade(fp / f32(0.035))
    book = [b * antialias + f32(0.45) * (1 - antialias) for b in book]
    inside = (frac_y > 0.1) & (frac_y < book_top)
    back = [np.full(n, f32(c * 0.35)) for c in mat.color2]
    rgb = [np.where(inside, b, bk) for b, bk in zip(book, back)]
    board = line_coverage(frac_y, 0.05, fp / f32(sc))
    return blend(rgb, mat.color, board), None


def _panels(mat: Material, s: np.ndarray, t: np.ndarray, fp: np.ndarray, size: FaceSize) -> TextureResult:
    """Drawer / cupboard fronts: a grid of panels (rows of height `scale`), gaps and handles."""
    sc = mat.scale
    width = size[0] if size else 1.0
    ncol = max(1, int(round(width / max(sc * 1.6, 0.3))))
    grid_x = s / f32(width / ncol)
    grid_y = t / f32(sc)
    frac_x, frac_y = grid_x - np.floor(grid_x), grid_y - np.floor(grid_y)
    gap = np.maximum(line_coverage(frac_x, 0.01, fp / f32(width / ncol)), line_coverage(frac_y, 0.02, fp / f32(sc)))
    handle = (np.abs(frac_x - 0.5) < 0.12) & (np.abs(frac_y - 0.8) < 0.035)
    value = fbm(s / f32(0.5), t / f32(0.5), fp / f32(0.5), 2, mat.seed)
    rgb = scale_rgb([np.full(s.shape[0], f32(c)) for c in mat.color], 1 + f32(mat.variation) * value)
    rgb = blend(rgb, [c * 0.3 for c in mat.color], gap * f32(0.8))
    return [np.where(handle, f32(h), c) for c, h in zip(rgb, mat.color2)], None


def _screen(mat: Material, s: np.ndarray, t: np.ndarray, fp: np.ndarray, size: FaceSize) -> TextureResult:
    width, height = size if size else (1.0, 1.0)
    border = (s < 0.02) | (s > width - 0.02) | (t < 0.02) | (t > height - 0.02)
    rgb = [np.where(border, f32(0.08), f32(0.03)) for _ in range(3)]
    emit = None
    if mat.emission > 0:
        value = fbm(s / f32(0.15), t / f32(0.15), fp / f32(0.15), 3, mat.seed)
        glow = mix(mat.color, mat.color2, np.clip(0.5 + 1.5 * value, 0, 1))
        emit = [np.where(border, f32(0), c * f32(mat.emission)) for c in glow]
    return rgb, emit


_FRAME_WIDTH = {"window": 0.07, "door": 0.06, "painting": 0.035, "lamp": 0.03, "rug": 0.12}


def _window(mat, s, t, fp, width, height, frame) -> TextureResult:
    """Glass shows a bright exterior (sky gradient + blurry shapes); mullions split the panes."""
    rel_s = s / f32(width)
    rel_t = t / f32(height)
    value = fbm(s / f32(0.6), t / f32(0.6), fp / f32(0.6), 3, mat.seed)
    sky = mix(mat.color2, mat.color, np.clip(rel_t * 1.2 - 0.1 + value * 0.8, 0, 1))
    mullion = (np.abs(rel_s - 0.5) * width < 0.03) | ((np.abs(rel_t - 0.55) * height < 0.025) & (mat.seed % 2 == 0))
    glass = ~(frame | mullion)
    rgb = [np.where(glass, f32(0.02), f32(0.85)) for _ in range(3)]
    return rgb, [np.where(glass, c * f32(mat.emission), f32(0)) for c in sky]


def _lamp(mat, s, t, fp, width, height, frame) -> TextureResult:
    rgb = [np.where(frame, f32(0.8), f32(0.9)) for _ in range(3)]
    return rgb, [np.where(frame, f32(0.0), f32(c * mat.emission)) for c in mat.color]


def _door(mat, s, t, fp, width, height, frame, edge_dist) -> TextureResult:
    inner = (edge_dist > 0.15) & (edge_dist < 0.17) & (t > 0.1)
    knob = (np.abs(s - (width - 0.1)) < 0.03) & (np.abs(t - 1.0) < 0.03)
    value = 1 + f32(mat.variation) * fbm(s / f32(0.8), t / f32(0.8), fp / f32(0.8), 2, mat.seed)
    rgb = [f32(c) * value for c in mat.color]
    rgb = [np.where(frame, f32(c2), np.where(inner, c * 0.8, c)) for c, c2 in zip(rgb, mat.color2)]
    return [np.where(knob, f32(0.75), c) for c in rgb], None


def _painting(mat, s, t, fp, width, height, frame) -> TextureResult:
    sc, seed = mat.scale, mat.seed
    shapes = fbm(s / f32(sc), t / f32(sc), fp / f32(sc), 3, seed)
    accents = fbm(s / f32(sc * 0.7), t / f32(sc * 0.7), fp / f32(sc * 0.7), 3, seed + 17)
    color3 = tuple(NOISE_TABLE[(seed * 31 + i * 97) & 0xFFFF] for i in range(3))
    rgb = mix(mat.color, color3, np.clip(0.5 + 2 * shapes, 0, 1))
    accent = [np.full(s.shape[0], f32(x)) for x in (1 - color3[0], color3[2], color3[1])]
    rgb = blend(rgb, accent, np.clip(3 * accents, 0, 1))
    return [np.where(frame, f32(c2), c) for c, c2 in zip(rgb, mat.color2)], None


def _rug(mat, s, t, fp, width, height, frame) -> TextureResult:
    sc = mat.scale
    value = fbm(s / f32(sc), t / f32(sc), fp / f32(sc), 3, mat.seed)
    diagonal = (s + t) / f32(sc)
    stripe = line_coverage(diagonal - np.floor(diagonal), 0.25, fp / f32(sc))
    rgb = mix(mat.color, mat.color2, np.clip(stripe * 0.6 + value, 0, 1))
    pile = value_noise(s * f32(150.0), t * f32(150.0)) - 0.5
    rgb = scale_rgb(rgb, 1 + f32(0.2) * pile * fade(fp * 150))
    return [np.where(frame, f32(c2 * 0.8), c) for c, c2 in zip(rgb, mat.color2)], None


def _framed(mat: Material, s: np.ndarray, t: np.ndarray, fp: np.ndarray, size: FaceSize) -> TextureResult:
    """window, door, painting, lamp and rug: a finite rectangle with a frame along its edges."""
    width, height = size if size else (1.0, 1.0)
    edge_dist = np.minimum(np.minimum(s, width - s), np.minimum(t, height - t))
    frame = edge_dist < _FRAME_WIDTH[mat.kind]
    if mat.kind == "door":
        return _door(mat, s, t, fp, width, height, frame, edge_dist)
    pattern = {"window": _window, "lamp": _lamp, "painting": _painting, "rug": _rug}[mat.kind]
    return pattern(mat, s, t, fp, width, height, frame)


_PATTERNS: dict[str, Callable[..., TextureResult]] = {
    "plain": _plain,
    "noise": _noise,
    "fabric": _fabric,
    "wood": _wood,
    "tiles": _grid,
    "checker": _grid,
    "bricks": _grid,
    "stripes": _stripes,
    "books": _books,
    "panels": _panels,
    "screen": _screen,
    **{kind: _framed for kind in _FRAME_WIDTH},
}


MATERIAL_KINDS = tuple(_PATTERNS)
"""Every valid `Material.kind`."""


def texture(mat: Material, s: np.ndarray, t: np.ndarray, fp: np.ndarray, size: FaceSize = None) -> TextureResult:
    """Albedo (3 arrays, display space) and emission (3 arrays or None) of `mat` at surface coords (s, t).

    `fp` is the pixel footprint on the surface in metres (prefiltering); `size` the (width, height) of a
    finite face or decal when the pattern depends on it (windows, doors, paintings, drawer fronts).
    """
    pattern = _PATTERNS.get(mat.kind)
    if pattern is None:
        raise ValueError(f"unknown material kind {mat.kind!r}")
    rgb, emit = pattern(mat, s, t, fp, size)
    return [np.clip(c, 0.0, 1.0) for c in rgb], emit
