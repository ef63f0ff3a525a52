"""Noise tables and prefiltering primitives for procedural textures (1-D float32 arrays of surface points)."""

from __future__ import annotations

import numpy as np

from depthnet.synthetic.scene import Vec3

NOISE_TABLE = np.random.default_rng(0x5EED).random(65536, dtype=np.float32)  # 256 x 256 value-noise lattice


def f32(x: float) -> np.float32:
    """`x` as a float32 scalar (keeps float32 arrays float32 in arithmetic)."""
    return np.float32(x)


def cell_hash(i: np.ndarray, j: np.ndarray | int, seed: int, k: int = 0) -> np.ndarray:
    """Pseudo-random value in [0, 1) per integer cell (i, j)."""
    index = (i.astype(np.int32) * 40503 + np.asarray(j, np.int32) * 9973 + ((seed * 7919 + k * 2749) & 0xFFFF)) & 0xFFFF
    return NOISE_TABLE[index]


def _lattice_noise(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Smoothstep-interpolated value noise on a 32 x 32 periodic lattice (used to build `_SMOOTH`)."""
    x_floor, y_floor = np.floor(x), np.floor(y)
    frac_x, frac_y = x - x_floor, y - y_floor
    x0, y0 = x_floor.astype(np.int64) & 31, (y_floor.astype(np.int64) & 31) * 32
    x1, y1 = (x0 + 1) & 31, ((y0 // 32 + 1) & 31) * 32
    a, b, c, d = NOISE_TABLE[y0 + x0], NOISE_TABLE[y0 + x1], NOISE_TABLE[y1 + x0], NOISE_TABLE[y1 + x1]
    ux, uy = frac_x * frac_x * (3 - 2 * frac_x), frac_y * frac_y * (3 - 2 * frac_y)
    return a + (b - a) * ux + (c - a + (a - b - c + d) * ux) * uy


_RES = 16  # texels per noise feature
_grid_y, _grid_x = np.mgrid[0 : 32 * _RES, 0 : 32 * _RES].astype(np.float32) / _RES
_SMOOTH = _lattice_noise(_grid_x.ravel(), _grid_y.ravel()).astype(np.float32)  # 512 x 512 texels, period 32
del _grid_x, _grid_y


def value_noise(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Smooth value noise in [0, 1] with unit feature size (period 32): one lookup in a prebuilt table."""
    xi = (x * f32(_RES)).astype(np.int32) & 511
    yi = ((y * f32(_RES)).astype(np.int32) & 511) << 9
    return np.take(_SMOOTH, xi | yi)


def fade(footprint: np.ndarray) -> np.ndarray:
    """Prefilter weight of a feature of unit size seen with `footprint` (in feature units)."""
    return np.clip(1.5 - 2.0 * footprint, 0.0, 1.0)


def fbm(x: np.ndarray, y: np.ndarray, footprint: np.ndarray, octaves: int, seed: int) -> np.ndarray:
    """Footprint-filtered fractal noise, zero mean, roughly in [-0.5, 0.5]."""
    offset = (seed * 0.6180339) % 1.0 * 256.0
    total = np.zeros_like(x)
    amp, freq, norm = 1.0, 1.0, 0.0
    for octave in range(octaves):
        weight = fade(footprint * f32(freq))
        if octave and not weight.any():
            break
        noise = value_noise(x * f32(freq) + f32(offset), y * f32(freq) + f32(offset * 0.7))
        total += f32(amp) * (noise - 0.5) * weight
        norm += amp
        amp *= 0.5
        freq *= 2.03
        offset = (offset * 1.7 + 31.3) % 256.0
    return total * f32(1.0 / norm * 1.6)


def line_coverage(frac: np.ndarray, half_width: float, footprint: np.ndarray) -> np.ndarray:
    """Box-filtered coverage of lines of `half_width` at integer positions; `frac` = fractional coordinate."""
    dist = np.minimum(frac, 1 - frac)
    footprint = np.clip(footprint, 1e-4, 1.0)
    half = footprint * 0.5
    overlap = np.minimum(dist + half, half_width) - np.maximum(dist - half, -half_width)
    return np.clip(overlap / footprint, 0.0, 1.0)


def mix(color1: Vec3, color2: Vec3, weight: np.ndarray) -> list[np.ndarray]:
    """Per-channel lerp between two constant colours."""
    return [f32(a) + f32(b - a) * weight for a, b in zip(color1, color2)]


def scale_rgb(rgb: list[np.ndarray], factor: np.ndarray | float) -> list[np.ndarray]:
    """Every channel times `factor`."""
    return [c * factor for c in rgb]


def blend(rgb1: list[np.ndarray], rgb2: list[np.ndarray] | Vec3, weight: np.ndarray) -> list[np.ndarray]:
    """Per-channel lerp from `rgb1` towards `rgb2` (arrays or a constant colour)."""
    return [a + (b - a) * weight for a, b in zip(rgb1, rgb2)]
