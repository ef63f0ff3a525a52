"""Procedural indoor RGB-D scenes: DepthNet's built-in default dataset (nothing to download).

Scene model
-----------
World frame in metres, right-handed, ``x`` and ``y`` horizontal, ``z`` up; the floor is ``z = 0``.

* **Room**: the inside of an axis-aligned box ``[0, W] x [0, D] x [0, H]`` (W 3-8 m, D 3-9 m,
  H 2.4-3.2 m): floor, ceiling and four walls. The box is closed, so every camera ray hits a surface
  and no pixel lies "outside the room". Flat :class:`Decal` rectangles on the room planes add
  windows (emissive), doors, paintings, whiteboards, rugs, ceiling lamps and baseboards; they change
  colour only, never depth.
* **Furniture**: items built from primitives -- :class:`Box` (rotatable about the vertical axis; the
  ray is transformed into the box frame), vertical :class:`Cylinder` and :class:`Sphere` -- standing
  on the floor, against walls or on other furniture: tables and desks with legs, chairs, cabinets,
  wardrobes, bookshelves, beds, sofas, kitchen counters with wall cupboards, TV stands, fridges,
  plants, floor lamps, bins, balls, box stacks, plus small clutter (books, cups, vases, monitors)
  on top surfaces. Occlusion is resolved per pixel by the nearest hit.
* **Camera**: the NYU Kinect colour pinhole (:data:`~depthnet.camera.NYU_INTRINSICS`, rescaled with
  ``Intrinsics.scaled`` to the output size) at 1.0-1.8 m height, >= 0.6 m from furniture, aimed
  (with jitter) at a piece of furniture or a random point of the room; pitch -40..+10 deg, roll
  +-5 deg. Of 6 candidate views the one whose 24x32 depth probe is least blocked and shows the most
  furniture and depth range wins (with a random term). Depths span ~0.5-8 m; per-image median depth
  ~1.5-4.8 m (median 3.1 m), like NYU (1.7-4.3 m on the labelled samples in ``../shared``).
  :func:`scene_view` moves the camera slightly (~0.2 m, ~6 deg) for further views of the same room.
* **Appearance**: procedural textures evaluated in surface coordinates (metres), so they
  foreshorten with perspective (texture gradients); every pattern is prefiltered by the pixel
  footprint (fine detail fades with distance instead of aliasing): wood planks, tiles, checker,
  bricks, wallpaper stripes, value noise (stone/concrete), fabric, book spines, drawer fronts,
  screens, plain paint. Palettes are drawn per scene (walls, floor and furniture colours are
  independent of where things are), so colour does not encode depth.
  Lighting: hemispheric ambient + Lambertian 1-3 ceiling point lights (and floor-lamp bulbs) with
  distance falloff and ray-cast shadows (traced at half resolution, so edges are ~2 px soft),
  room-corner ambient occlusion, Blinn-Phong highlights on glossy materials, emissive
  windows/lamps/screens. Then a camera model: auto exposure, white balance, vignetting, slight
  optical blur, sensor noise and a gamma/shoulder tone curve.

Depth
-----
The ray through pixel centre ``(u, v)`` has world direction ``R @ ((u - cx)/fx, (v - cy)/fy, 1)``;
along it the hit parameter ``t`` *is* the camera-axis depth (z in the camera frame), which is what
NYU / Kinect depth maps store -- not the ray length. Depth is exact up to float32 rounding
(relative error ~1e-6). Pixels deeper than ``max_depth`` (10 m, NYU's cap; rare, only in the largest
rooms) are set to 0 = invalid rather than clipped, so every non-zero depth is the true depth.
``hole_fraction > 0`` additionally punches Kinect-like holes (blobs, depth edges, windows), off by
default.

Speed (vectorised numpy, one core): ~80 ms per 480x640 frame, ~25 ms at 240x320
(``benchmarks/bench_synthetic.py``).

Public API: :func:`render_scene` (random room by seed -> :class:`~depthnet.records.Frame`),
:func:`iter_frames` (a stream of frames, several views per room), :func:`make_scene` /
:func:`scene_view` (the random scene description) and :func:`render` (render any :class:`Scene`,
e.g. a hand-built one).
"""
from __future__ import annotations

import colorsys
import dataclasses
import functools
import math
from typing import Iterator, Optional, Union

import numpy as np

from depthnet.camera import NYU_INTRINSICS, Intrinsics
from depthnet.records import Frame

Vec3 = tuple[float, float, float]

DEFAULT_MAX_DEPTH = 10.0
"""Depths beyond this many metres are returned as 0 (invalid), like NYU's 10 m cap."""

DEFAULT_FRAMES_PER_SCENE = 4
"""Views rendered per random room by :func:`iter_frames` (same room, slightly moved camera)."""

# Room planes: index -> (axis, at max side). 0: x=0, 1: x=W, 2: y=0, 3: y=D, 4: floor z=0, 5: ceiling z=H.
FLOOR, CEILING = 4, 5
_EPS = 1e-4


# ---------------------------------------------------------------------------------------------
# Scene description


@dataclasses.dataclass(frozen=True)
class Material:
    """Surface appearance. Colours are display-space RGB in [0, 1]; `scale` is the pattern period in metres.

    kind: plain | wood | tiles | checker | bricks | stripes | noise | fabric | books | panels | screen |
    window | door | painting | lamp | rug.
    """

    kind: str = "plain"
    color: Vec3 = (0.7, 0.7, 0.7)
    color2: Vec3 = (0.35, 0.35, 0.35)
    scale: float = 0.5
    variation: float = 0.1
    gloss: float = 0.0
    emission: float = 0.0
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class Box:
    """Box with full extents `size` along its local x, y, z (z vertical), rotated by `yaw` about z.

    The local x axis points along world (cos yaw, sin yaw, 0). `front` (optional) is the material of
    the local +y face (drawer fronts, book spines, screens).
    """

    center: Vec3
    size: Vec3
    material: Material
    yaw: float = 0.0
    front: Optional[Material] = None
    group: int = -1


@dataclasses.dataclass(frozen=True)
class Sphere:
    """Sphere of `radius` around `center`."""

    center: Vec3
    radius: float
    material: Material
    group: int = -1


@dataclasses.dataclass(frozen=True)
class Cylinder:
    """Vertical capped cylinder: axis through `center` = (x, y), from height z0 to z1."""

    center: tuple[float, float]
    z0: float
    z1: float
    radius: float
    material: Material
    group: int = -1


Primitive = Union[Box, Sphere, Cylinder]


@dataclasses.dataclass(frozen=True)
class Decal:
    """A flat rectangle painted on room plane `plane` (0..5), `rect` = (s0, t0, s1, t1) in plane coordinates.

    Plane coordinates (metres): walls x=0/x=W: s=y, t=z; walls y=0/y=D: s=x, t=z; floor/ceiling: s=x, t=y.
    """

    plane: int
    rect: tuple[float, float, float, float]
    material: Material


@dataclasses.dataclass(frozen=True)
class Room:
    """Inside of the box [0, W] x [0, D] x [0, H]; `size` = (W, D, H). `walls` are planes 0..3."""

    size: Vec3
    floor: Material = Material("plain", (0.5, 0.45, 0.4))
    ceiling: Material = Material("plain", (0.85, 0.85, 0.85))
    walls: tuple[Material, Material, Material, Material] = (Material(),) * 4
    decals: tuple[Decal, ...] = ()


@dataclasses.dataclass(frozen=True)
class Light:
    """Point light. `downward` in [0, 1] makes it a ceiling fixture that emits mostly downwards."""

    position: Vec3
    color: Vec3 = (1.0, 1.0, 1.0)
    intensity: float = 4.0
    downward: float = 0.5
    exclude_group: int = -1  # object group that casts no shadow from this light (the lamp around a bulb)


@dataclasses.dataclass(frozen=True)
class Camera:
    """Camera centre and orientation: `yaw` about world z (0 looks along +y, positive turns to +x),
    `pitch` up from horizontal, `roll` about the optical axis; radians."""

    position: Vec3
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0

    def rotation(self) -> np.ndarray:
        """Camera-to-world rotation; columns are the camera's right, down and forward axes in world."""
        cp, sp = math.cos(self.pitch), math.sin(self.pitch)
        cy, sy = math.cos(self.yaw), math.sin(self.yaw)
        f = np.array([sy * cp, cy * cp, sp])
        r = np.array([cy, -sy, 0.0])  # normalize(cross(f, z_up))
        d = np.cross(f, r)
        cr, sr = math.cos(self.roll), math.sin(self.roll)
        return np.stack([cr * r + sr * d, -sr * r + cr * d, f], axis=1)

    def project(self, points: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
        """World points [..., 3] -> [..., 3] array of (u, v, depth) in pixels / metres."""
        cam = (np.asarray(points, np.float64) - np.asarray(self.position)) @ self.rotation()
        z = cam[..., 2]
        return np.stack([intrinsics.fx * cam[..., 0] / z + intrinsics.cx, intrinsics.fy * cam[..., 1] / z + intrinsics.cy, z], -1)


@dataclasses.dataclass(frozen=True)
class Look:
    """Camera response: exposure key (target 95th-percentile luminance), white balance, vignetting
    strength, sensor noise std (in [0, 1] display units), optical blur on/off, tone-curve shoulder."""

    exposure: float = 0.85
    white_balance: Vec3 = (1.0, 1.0, 1.0)
    vignette: float = 0.2
    noise: float = 0.01
    blur: bool = True
    shoulder: float = 0.2


@dataclasses.dataclass(frozen=True)
class Scene:
    """Everything :func:`render` needs. `room` may be None (rays that hit nothing get depth 0)."""

    camera: Camera
    room: Optional[Room] = None
    objects: tuple[Primitive, ...] = ()
    lights: tuple[Light, ...] = ()
    ambient: Vec3 = (0.3, 0.3, 0.3)
    hemisphere: float = 0.2
    look: Look = Look()


# ---------------------------------------------------------------------------------------------
# Noise tables and procedural textures (all evaluated on 1-D float32 arrays of surface points)

_TABLE = np.random.default_rng(0x5EED).random(65536, dtype=np.float32)  # 256 x 256 value-noise lattice


def _f32(x: float) -> np.float32:
    return np.float32(x)


def _hash(i: np.ndarray, j: np.ndarray | int, seed: int, k: int = 0) -> np.ndarray:
    """Pseudo-random value in [0, 1) per integer cell (i, j)."""
    h = (i.astype(np.int32) * 40503 + np.asarray(j, np.int32) * 9973 + ((seed * 7919 + k * 2749) & 0xFFFF)) & 0xFFFF
    return _TABLE[h]


def _lattice_noise(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Smoothstep-interpolated value noise on a 32 x 32 periodic lattice (used to build `_SMOOTH`)."""
    xf, yf = np.floor(x), np.floor(y)
    fx, fy = x - xf, y - yf
    xi, yi = xf.astype(np.int64) & 31, (yf.astype(np.int64) & 31) * 32
    x1, y1 = (xi + 1) & 31, ((yi // 32 + 1) & 31) * 32
    a, b, c, d = _TABLE[yi + xi], _TABLE[yi + x1], _TABLE[y1 + xi], _TABLE[y1 + x1]
    ux, uy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    return a + (b - a) * ux + (c - a + (a - b - c + d) * ux) * uy


_RES = 16  # texels per noise feature
_gy, _gx = np.mgrid[0 : 32 * _RES, 0 : 32 * _RES].astype(np.float32) / _RES
_SMOOTH = _lattice_noise(_gx.ravel(), _gy.ravel()).astype(np.float32)  # 512 x 512 texels, period 32 features
del _gx, _gy


def _vnoise(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Smooth value noise in [0, 1] with unit feature size (period 32): one lookup in a prebuilt table."""
    xi = (x * _f32(_RES)).astype(np.int32) & 511
    yi = ((y * _f32(_RES)).astype(np.int32) & 511) << 9
    return np.take(_SMOOTH, xi | yi)


def _fade(fpu: np.ndarray) -> np.ndarray:
    """Prefilter weight of a feature of unit size seen with footprint `fpu` (in feature units)."""
    return np.clip(1.5 - 2.0 * fpu, 0.0, 1.0)


def _fbm(x: np.ndarray, y: np.ndarray, fpu: np.ndarray, octaves: int, seed: int) -> np.ndarray:
    """Footprint-filtered fractal noise, zero mean, roughly in [-0.5, 0.5]."""
    off = (seed * 0.6180339) % 1.0 * 256.0
    total = np.zeros_like(x)
    amp, freq, norm = 1.0, 1.0, 0.0
    for octave in range(octaves):
        w = _fade(fpu * _f32(freq))
        if octave and not w.any():
            break
        total += _f32(amp) * (_vnoise(x * _f32(freq) + _f32(off), y * _f32(freq) + _f32(off * 0.7)) - 0.5) * w
        norm += amp
        amp *= 0.5
        freq *= 2.03
        off = (off * 1.7 + 31.3) % 256.0
    return total * _f32(1.0 / norm * 1.6)


def _line(f: np.ndarray, hw: float, fpu: np.ndarray) -> np.ndarray:
    """Box-filtered coverage of lines of half-width `hw` at integer positions; f = frac coordinate."""
    d = np.minimum(f, 1 - f)
    fpu = np.clip(fpu, 1e-4, 1.0)
    half = fpu * 0.5
    overlap = np.minimum(d + half, hw) - np.maximum(d - half, -hw)
    return np.clip(overlap / fpu, 0.0, 1.0)


def _mix(c1: Vec3, c2: Vec3, m: np.ndarray) -> list[np.ndarray]:
    return [_f32(a) + _f32(b - a) * m for a, b in zip(c1, c2)]


def _mul(rgb: list[np.ndarray], k: np.ndarray | float) -> list[np.ndarray]:
    return [c * k for c in rgb]


def _blend(rgb1: list[np.ndarray], rgb2: list[np.ndarray] | Vec3, m: np.ndarray) -> list[np.ndarray]:
    return [a + (b - a) * m for a, b in zip(rgb1, rgb2)]


def _texture(mat: Material, s: np.ndarray, t: np.ndarray, fp: np.ndarray, size: Optional[tuple[float, float]] = None):
    """Albedo (3 arrays, display space) and emission (3 arrays or None) of `mat` at surface coords (s, t).

    `fp` is the pixel footprint on the surface in metres (prefiltering); `size` the (width, height) of a
    finite face or decal when the pattern depends on it (windows, doors, paintings, drawer fronts).
    """
    k = mat.kind
    sc = mat.scale
    seed = mat.seed
    n = s.shape[0]
    emit = None
    if k == "plain":
        v = 1 + _f32(2 * mat.variation) * _fbm(s / _f32(sc), t / _f32(sc), fp / _f32(sc), 2, seed)
        rgb = [_f32(c) * v for c in mat.color]
    elif k == "noise":
        v = _fbm(s / _f32(sc), t / _f32(sc), fp / _f32(sc), 4, seed)
        rgb = _mix(mat.color, mat.color2, np.clip(0.5 + _f32(1.0 + 2 * mat.variation) * v, 0, 1))
    elif k == "fabric":
        v = _fbm(s / _f32(sc), t / _f32(sc), fp / _f32(sc), 3, seed)
        fine = (_vnoise(s * _f32(180.0), t * _f32(180.0)) - 0.5) * _fade(fp * _f32(180.0))
        rgb = _mul(_mix(mat.color, mat.color2, np.clip(0.5 + v, 0, 1) * _f32(mat.variation * 2)), 1 + _f32(0.25) * fine)
    elif k == "wood":
        w = sc
        u = t / _f32(w)
        row = np.floor(u)
        fu = u - row
        rh = _hash(row, 0, seed, 1)
        length = 6.0 * w
        sv = s / _f32(length) + rh
        col = np.floor(sv)
        fv = sv - col
        tone = _hash(row, col, seed, 2)
        fpw = fp / _f32(w)
        g1 = (_vnoise(s / _f32(w * 2.5) + tone * 40, u * _f32(9.0)) - 0.5) * _fade(fpw * 9)
        g2 = (_vnoise(s / _f32(w * 0.7) + rh * 60, u * _f32(28.0)) - 0.5) * _fade(fpw * 28)
        tone_w = _f32(mat.variation * 3) * _fade(fpw * 0.5)
        m = np.clip(0.5 + (tone - 0.5) * tone_w + g1 * 0.9 + g2 * 0.5, 0, 1)
        rgb = _mix(mat.color, mat.color2, m)
        seam = np.maximum(_line(fu, 0.02, fpw), _line(fv, 0.004, fp / _f32(length)))
        rgb = _mul(rgb, 1 - _f32(0.45) * seam)
    elif k in ("tiles", "checker", "bricks"):
        if k == "bricks":
            gy = t / _f32(sc * 0.33)
            ry = np.floor(gy)
            gx = s / _f32(sc) + 0.5 * (ry.astype(np.int32) & 1)
            fpx, fpy = fp / _f32(sc), fp / _f32(sc * 0.33)
            grout_w = (0.012, 0.036)
        else:
            gx, gy = s / _f32(sc), t / _f32(sc)
            ry = np.floor(gy)
            fpx = fpy = fp / _f32(sc)
            grout_w = (0.015, 0.015) if k == "tiles" else (0.004, 0.004)
        rx = np.floor(gx)
        fx, fy = gx - rx, gy - ry
        var = (_hash(rx, ry, seed, 3) - 0.5) * _f32(2 * mat.variation) * _fade(fpx * 0.5)
        if k == "checker":
            cx = _line(fx, 0.25, fpx * 0.5)  # half-period stripes -> AA checker
            cy = _line(fy, 0.25, fpy * 0.5)
            par = cx + cy - 2 * cx * cy
            rgb = _mul(_mix(mat.color, mat.color2, par), 1 + var)
            grout = np.maximum(_line(fx, grout_w[0], fpx), _line(fy, grout_w[1], fpy))
            rgb = _blend(rgb, (0.3, 0.3, 0.3), grout * _f32(0.5))
        else:
            rgb = _mul([np.full(n, _f32(c)) for c in mat.color], 1 + var)
            grout = np.maximum(_line(fx, grout_w[0], fpx), _line(fy, grout_w[1], fpy))
            rgb = _blend(rgb, mat.color2, grout)
    elif k == "stripes":
        fpx = fp / _f32(sc)
        g = s / _f32(sc)
        st = _line(g - np.floor(g), 0.25, fpx)
        rgb = _mix(mat.color, mat.color2, st)
        v = _fbm(s * _f32(2.0), t * _f32(2.0), fp * _f32(2.0), 2, seed)
        rgb = _mul(rgb, 1 + _f32(mat.variation) * v)
    elif k == "books":
        # shelves of height `scale` with board lines, books of random width / colour / height.
        gy = t / _f32(sc)
        ry = np.floor(gy)
        fy = gy - ry
        bs = s / _f32(0.035) + _hash(ry, 0, seed, 4) * 30 + (_vnoise(s * _f32(12.0), ry * 3.1) - 0.5) * 1.6
        bi = np.floor(bs)
        hb = 0.12 + 0.8 * _hash(bi, ry, seed, 5)  # books reach from fy=0.12 to fy = 0.12 + ...
        hue = _hash(bi, ry, seed, 6)
        grey = 0.2 + 0.6 * _hash(bi, ry, seed, 10)
        book = [grey + (0.1 + 0.8 * _hash(bi, ry, seed, 7 + c) - grey) * hue for c in range(3)]
        aa = _fade(fp / _f32(0.035))
        book = [b * aa + _f32(0.45) * (1 - aa) for b in book]
        inside = (fy > 0.1) & (fy < hb)
        back = [np.full(n, _f32(c * 0.35)) for c in mat.color2]
        rgb = [np.where(inside, b, bk) for b, bk in zip(book, back)]
        board = _line(fy, 0.05, fp / _f32(sc))
        rgb = _blend(rgb, mat.color, board)
    elif k == "panels":
        # drawer / cupboard fronts: a grid of panels (rows of height `scale`), gaps and handles.
        width = size[0] if size else 1.0
        ncol = max(1, int(round(width / max(sc * 1.6, 0.3))))
        gx = s / _f32(width / ncol)
        gy = t / _f32(sc)
        fx, fy = gx - np.floor(gx), gy - np.floor(gy)
        gap = np.maximum(_line(fx, 0.01, fp / _f32(width / ncol)), _line(fy, 0.02, fp / _f32(sc)))
        handle = (np.abs(fx - 0.5) < 0.12) & (np.abs(fy - 0.8) < 0.035)
        v = _fbm(s / _f32(0.5), t / _f32(0.5), fp / _f32(0.5), 2, seed)
        rgb = _mul([np.full(n, _f32(c)) for c in mat.color], 1 + _f32(mat.variation) * v)
        rgb = _blend(rgb, [c * 0.3 for c in mat.color], gap * _f32(0.8))
        rgb = [np.where(handle, _f32(h), c) for c, h in zip(rgb, mat.color2)]
    elif k == "screen":
        width, height = size if size else (1.0, 1.0)
        border = (s < 0.02) | (s > width - 0.02) | (t < 0.02) | (t > height - 0.02)
        rgb = [np.where(border, _f32(0.08), _f32(0.03)) for _ in range(3)]
        if mat.emission > 0:
            v = _fbm(s / _f32(0.15), t / _f32(0.15), fp / _f32(0.15), 3, seed)
            e = _mix(mat.color, mat.color2, np.clip(0.5 + 1.5 * v, 0, 1))
            emit = [np.where(border, _f32(0), c * _f32(mat.emission)) for c in e]
    elif k in ("window", "door", "painting", "lamp", "rug"):
        width, height = size if size else (1.0, 1.0)
        fr = {"window": 0.07, "door": 0.06, "painting": 0.035, "lamp": 0.03, "rug": 0.12}[k]
        d_edge = np.minimum(np.minimum(s, width - s), np.minimum(t, height - t))
        frame = d_edge < fr
        if k == "window":
            # glass shows a bright exterior (sky gradient + blurry shapes); mullions split the panes.
            sx = s / _f32(width)
            ty = t / _f32(height)
            v = _fbm(s / _f32(0.6), t / _f32(0.6), fp / _f32(0.6), 3, seed)
            sky = _mix(mat.color2, mat.color, np.clip(ty * 1.2 - 0.1 + v * 0.8, 0, 1))
            mull = (np.abs(sx - 0.5) * width < 0.03) | ((np.abs(ty - 0.55) * height < 0.025) & (seed % 2 == 0))
            glass = ~(frame | mull)
            rgb = [np.where(glass, _f32(0.02), _f32(0.85)) for _ in range(3)]
            emit = [np.where(glass, c * _f32(mat.emission), _f32(0)) for c in sky]
        elif k == "lamp":
            rgb = [np.where(frame, _f32(0.8), _f32(0.9)) for _ in range(3)]
            emit = [np.where(frame, _f32(0.0), _f32(c * mat.emission)) for c in mat.color]
        elif k == "door":
            inner = (d_edge > 0.15) & (d_edge < 0.17) & (t > 0.1)
            knob = (np.abs(s - (width - 0.1)) < 0.03) & (np.abs(t - 1.0) < 0.03)
            v = 1 + _f32(mat.variation) * _fbm(s / _f32(0.8), t / _f32(0.8), fp / _f32(0.8), 2, seed)
            rgb = [_f32(c) * v for c in mat.color]
            rgb = [np.where(frame, _f32(c2), np.where(inner, c * 0.8, c)) for c, c2 in zip(rgb, mat.color2)]
            rgb = [np.where(knob, _f32(0.75), c) for c in rgb]
        elif k == "painting":
            a = _fbm(s / _f32(sc), t / _f32(sc), fp / _f32(sc), 3, seed)
            b = _fbm(s / _f32(sc * 0.7), t / _f32(sc * 0.7), fp / _f32(sc * 0.7), 3, seed + 17)
            c3 = tuple(_TABLE[(seed * 31 + i * 97) & 0xFFFF] for i in range(3))
            rgb = _mix(mat.color, c3, np.clip(0.5 + 2 * a, 0, 1))
            rgb = _blend(rgb, [np.full(n, _f32(x)) for x in (1 - c3[0], c3[2], c3[1])], np.clip(3 * b, 0, 1))
            rgb = [np.where(frame, _f32(c2), c) for c, c2 in zip(rgb, mat.color2)]
        else:  # rug
            v = _fbm(s / _f32(sc), t / _f32(sc), fp / _f32(sc), 3, seed)
            g = (s + t) / _f32(sc)
            st = _line(g - np.floor(g), 0.25, fp / _f32(sc))
            rgb = _mix(mat.color, mat.color2, np.clip(st * 0.6 + v, 0, 1))
            rgb = _mul(rgb, 1 + _f32(0.2) * (_vnoise(s * _f32(150.0), t * _f32(150.0)) - 0.5) * _fade(fp * 150))
            rgb = [np.where(frame, _f32(c2 * 0.8), c) for c, c2 in zip(rgb, mat.color2)]
    else:
        raise ValueError(f"unknown material kind {k!r}")
    rgb = [np.clip(c, 0.0, 1.0) for c in rgb]
    return rgb, emit


# ---------------------------------------------------------------------------------------------
# Ray / primitive intersection (origins: scalars or arrays; directions: arrays; returns t, inf = miss)


def _hit_box(b: Box, ox, oy, oz, dx, dy, dz, tmin: float = _EPS) -> np.ndarray:
    cs, sn = math.cos(b.yaw), math.sin(b.yaw)
    hx, hy, hz = (0.5 * float(v) for v in b.size)
    px, py, pz = ox - b.center[0], oy - b.center[1], oz - b.center[2]
    if b.yaw == 0.0:
        lox, loy, ldx, ldy = px, py, dx, dy
    else:
        lox, loy = cs * px + sn * py, -sn * px + cs * py
        ldx, ldy = _f32(cs) * dx + _f32(sn) * dy, _f32(cs) * dy - _f32(sn) * dx
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        tn = tf = None
        for lo, ld, h in ((lox, ldx, hx), (loy, ldy, hy), (pz, dz, hz)):
            inv = 1.0 / ld
            a = (-h - lo) * inv
            c = (h - lo) * inv
            near, far = np.minimum(a, c), np.maximum(a, c)
            tn = near if tn is None else np.maximum(tn, near)
            tf = far if tf is None else np.minimum(tf, far)
        return np.where((tn <= tf) & (tn > tmin), tn, np.float32(np.inf))


def _hit_sphere(sp: Sphere, ox, oy, oz, dx, dy, dz, dd=None, tmin: float = _EPS) -> np.ndarray:
    px, py, pz = ox - sp.center[0], oy - sp.center[1], oz - sp.center[2]
    a = dx * dx + dy * dy + dz * dz if dd is None else dd
    b = px * dx + py * dy + pz * dz
    c = px * px + py * py + pz * pz - sp.radius**2
    disc = b * b - a * c
    with np.errstate(invalid="ignore"):
        t = (-b - np.sqrt(disc)) / a
    return np.where((disc >= 0) & (t > tmin), t, np.float32(np.inf))


def _hit_cylinder(cy: Cylinder, ox, oy, oz, dx, dy, dz, tmin: float = _EPS) -> np.ndarray:
    px, py = ox - cy.center[0], oy - cy.center[1]
    r2 = cy.radius**2
    a = dx * dx + dy * dy
    b = px * dx + py * dy
    c = px * px + py * py - r2
    disc = b * b - a * c
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ts = (-b - np.sqrt(disc)) / a
        zs = oz + ts * dz
        side = np.where((disc >= 0) & (ts > tmin) & (zs >= cy.z0) & (zs <= cy.z1), ts, np.float32(np.inf))
        zc = np.where(dz < 0, _f32(cy.z1), _f32(cy.z0))
        tc = (zc - oz) / dz
        qx, qy = px + tc * dx, py + tc * dy
        cap = np.where((tc > tmin) & (qx * qx + qy * qy <= r2), tc, np.float32(np.inf))
    return np.minimum(side, cap)


def _hit(p: Primitive, ox, oy, oz, dx, dy, dz, tmin: float = _EPS) -> np.ndarray:
    if isinstance(p, Box):
        return _hit_box(p, ox, oy, oz, dx, dy, dz, tmin)
    if isinstance(p, Sphere):
        return _hit_sphere(p, ox, oy, oz, dx, dy, dz, None, tmin)
    return _hit_cylinder(p, ox, oy, oz, dx, dy, dz, tmin)


def _corners(p: Primitive) -> np.ndarray:
    """8 corners of a bounding box of the primitive, [8, 3]."""
    if isinstance(p, Box):
        cs, sn = math.cos(p.yaw), math.sin(p.yaw)
        hx, hy, hz = (0.5 * v for v in p.size)
        sx, sy, sz = np.meshgrid([-hx, hx], [-hy, hy], [-hz, hz], indexing="ij")
        sx, sy, sz = sx.ravel(), sy.ravel(), sz.ravel()
        return np.stack([p.center[0] + cs * sx - sn * sy, p.center[1] + sn * sx + cs * sy, p.center[2] + sz], 1)
    if isinstance(p, Sphere):
        lo, hi = np.array(p.center) - p.radius, np.array(p.center) + p.radius
    else:
        lo = np.array([p.center[0] - p.radius, p.center[1] - p.radius, p.z0])
        hi = np.array([p.center[0] + p.radius, p.center[1] + p.radius, p.z1])
    g = np.meshgrid(*zip(lo, hi), indexing="ij")
    return np.stack([x.ravel() for x in g], 1)


def _surface(p: Primitive, x, y, z):
    """Normal (3 arrays), surface coords (s, t), mask of the `front` face (boxes) and face size."""
    if isinstance(p, Box):
        cs, sn = _f32(math.cos(p.yaw)), _f32(math.sin(p.yaw))
        hx, hy, hz = (0.5 * v for v in p.size)
        px, py, pz = x - _f32(p.center[0]), y - _f32(p.center[1]), z - _f32(p.center[2])
        lx, ly = cs * px + sn * py, cs * py - sn * px
        qx, qy, qz = np.abs(lx) / _f32(hx), np.abs(ly) / _f32(hy), np.abs(pz) / _f32(hz)
        ax0 = (qx >= qy) & (qx >= qz)
        ax1 = ~ax0 & (qy >= qz)
        ax2 = ~ax0 & ~ax1
        nlx = np.where(ax0, np.sign(lx), _f32(0))
        nly = np.where(ax1, np.sign(ly), _f32(0))
        nz = np.where(ax2, np.sign(pz), _f32(0))
        nx, ny = cs * nlx - sn * nly, sn * nlx + cs * nly
        s = np.where(ax0, ly + _f32(hy), lx + _f32(hx))
        t = np.where(ax2, ly + _f32(hy), pz + _f32(hz))
        # offset each face's pattern so adjacent faces do not line up artificially
        s = s + np.where(ax0, _f32(3.1), np.where(ax1, _f32(7.7), _f32(0.0)))
        front = ax1 & (ly > 0) if p.front is not None else None
        return (nx, ny, nz), s, t, front
    if isinstance(p, Sphere):
        r = _f32(1.0 / p.radius)
        nx, ny, nz = (x - _f32(p.center[0])) * r, (y - _f32(p.center[1])) * r, (z - _f32(p.center[2])) * r
        s = np.arctan2(ny, nx) * _f32(p.radius)
        return (nx, ny, nz), s, z, None
    px, py = x - _f32(p.center[0]), y - _f32(p.center[1])
    rad2 = px * px + py * py
    capm = rad2 < _f32((p.radius * 0.999) ** 2)
    r = _f32(1.0 / p.radius)
    top = z > _f32(0.5 * (p.z0 + p.z1))
    nx = np.where(capm, _f32(0), px * r)
    ny = np.where(capm, _f32(0), py * r)
    nz = np.where(capm, np.where(top, _f32(1), _f32(-1)), _f32(0))
    s = np.where(capm, px, np.arctan2(py, px) * _f32(p.radius))
    t = np.where(capm, py, z)
    return (nx, ny, nz), s, t, None


# ---------------------------------------------------------------------------------------------
# Rendering


@functools.lru_cache(maxsize=8)
def _pixel_grid(intr: Intrinsics) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Normalised image coords xn [W], yn [H], |(xn, yn, 1)|^2 [H, W] and the vignetting r^2 [H, W]."""
    xn = ((np.arange(intr.width) - intr.cx) / intr.fx).astype(np.float32)
    yn = ((np.arange(intr.height) - intr.cy) / intr.fy).astype(np.float32)
    dd = (1.0 + xn[None, :] ** 2 + yn[:, None] ** 2).astype(np.float32)
    r2 = ((np.arange(intr.width)[None, :] - intr.width / 2 + 0.5) ** 2 + (np.arange(intr.height)[:, None] - intr.height / 2 + 0.5) ** 2)
    r2 = (r2 / ((intr.width / 2) ** 2 + (intr.height / 2) ** 2)).astype(np.float32)
    return xn, yn, dd, r2


@functools.lru_cache(maxsize=4)
def _noise_bank(n: int) -> np.ndarray:
    """Fixed Gaussian noise, n + 4096 values; each frame reads it from a random offset."""
    return np.random.default_rng(0xC0FFEE).standard_normal(n + 4096, dtype=np.float32)


@functools.lru_cache(maxsize=8)
def _half_grid(height: int, width: int) -> np.ndarray:
    """Flat indices of the pixels on even rows and columns."""
    return (np.arange(0, height, 2)[:, None] * width + np.arange(0, width, 2)[None, :]).ravel()


def _blur121(img: np.ndarray) -> np.ndarray:
    """Separable [1, 2, 1] / 4 blur of a [C, H, W] float32 image (edges: same kernel, clamped)."""
    C, H, W = img.shape
    x = img.reshape(-1)
    tmp = np.empty_like(x)
    np.add(x[:-2], x[2:], out=tmp[1:-1])
    tmp[1:-1] += x[1:-1] * _f32(2)
    t3 = tmp.reshape(C, H, W)
    t3[:, :, 0] = img[:, :, 0] * 3 + img[:, :, 1]
    t3[:, :, -1] = img[:, :, -1] * 3 + img[:, :, -2]
    out = np.empty_like(x)
    np.add(tmp[: -2 * W], tmp[2 * W :], out=out[W:-W])
    out[W:-W] += tmp[W:-W] * _f32(2)
    o3 = out.reshape(C, H, W)
    o3[:, 0] = t3[:, 0] * 3 + t3[:, 1]
    o3[:, -1] = t3[:, -1] * 3 + t3[:, -2]
    out *= _f32(1 / 16)
    return o3


def _shadow_half_res(scene: Scene, gspheres, light: Light, half: np.ndarray, H: int, W: int, P, nrm, ldir, d2, ndl) -> np.ndarray:
    """Visibility of `light` in [0, 1] per pixel: shadow rays cast at every other row and column, then
    bilinearly upsampled and [1, 2, 1]-blurred, which gives hard shadows a ~2-pixel soft edge."""
    L = np.asarray(light.position, np.float64)
    qlx, qly, qlz = (a[half] for a in ldir)
    qdist = np.sqrt(d2[half])
    lit = ndl[half] > 0
    vis = np.ones(half.size, np.float32)
    for gid, c, rad, ks in gspheres:
        if gid == light.exclude_group:
            continue
        wc = c - L
        dc = float(np.linalg.norm(wc))
        if dc <= rad:
            cand = lit
        else:
            u = wc / dc
            cos_a = math.sqrt(max(0.0, 1 - (rad / dc) ** 2))
            cand = lit & ((qlx * _f32(-u[0]) + qly * _f32(-u[1]) + qlz * _f32(-u[2])) > _f32(cos_a)) & (qdist > _f32(dc - rad))
        ci = np.flatnonzero(cand)
        if ci.size == 0:
            continue
        pi = half[ci]
        # segment from the surface point (nudged along its normal) to the light: blocked if t in (0, 1)
        sx, sy, sz = (p[pi] + n[pi] * _f32(2e-3) for p, n in zip(P, nrm))
        ddx, ddy, ddz = _f32(L[0]) - sx, _f32(L[1]) - sy, _f32(L[2]) - sz
        blocked = np.zeros(ci.size, bool)
        for k in ks:
            blocked |= _hit(scene.objects[k], sx, sy, sz, ddx, ddy, ddz, 1e-5) < 1.0
        vis[ci[blocked]] = 0.0
    h2, w2 = (H + 1) // 2, (W + 1) // 2
    v = vis.reshape(h2, w2)
    # bilinear 2x upsampling (even pixels are the samples, odd ones the mean of their neighbours)
    full = np.empty((2 * h2, 2 * w2), np.float32)
    full[0::2, 0::2] = v
    full[0::2, 1:-1:2] = 0.5 * (v[:, :-1] + v[:, 1:])
    full[0::2, -1] = v[:, -1]
    full[1:-1:2] = 0.5 * (full[0:-2:2] + full[2::2])
    full[-1] = full[-2]
    full = full[:H, :W]
    if H > 2 and W > 2:
        full = _blur121(np.ascontiguousarray(full)[None])[0]
    return full.reshape(-1)


def _screen_rect(corners: np.ndarray, cam_pos: np.ndarray, rot: np.ndarray, intr: Intrinsics):
    """Pixel rectangle (v0, v1, u0, u1) that contains the image of a primitive's bounding `corners`, or None."""
    cam = (corners - cam_pos) @ rot
    z = cam[:, 2]
    H, W = intr.height, intr.width
    if np.all(z <= 1e-6):
        return None
    if np.any(z < 1e-2):
        return (0, H, 0, W)
    u = intr.fx * cam[:, 0] / z + intr.cx
    v = intr.fy * cam[:, 1] / z + intr.cy
    u0, u1 = max(0, int(math.floor(u.min())) - 1), min(W, int(math.ceil(u.max())) + 2)
    v0, v1 = max(0, int(math.floor(v.min())) - 1), min(H, int(math.ceil(v.max())) + 2)
    if u0 >= u1 or v0 >= v1:
        return None
    return (v0, v1, u0, u1)


def _room_hit(room: Room, o: np.ndarray, dx, dy, dz):
    """Exit distance from inside the room box and the plane index hit (0..5)."""
    t_best = None
    ids = None
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis, (d, lim) in enumerate(zip((dx, dy, dz), room.size)):
            pos = d > 0
            t = np.where(pos, _f32(float(lim) - o[axis]), _f32(-o[axis])) / d
            pid = (2 * axis + pos).astype(np.int16)
            if t_best is None:
                t_best, ids = t, pid
            else:
                m = t < t_best
                t_best = np.where(m, t, t_best)
                ids = np.where(m, pid, ids)
    return t_best, ids


_PLANE_NORMALS = ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1))


def _plane_coords(plane: int, x, y, z):
    if plane < 2:
        return y, z
    if plane < 4:
        return x, z
    return x, y


def _cast(scene: Scene, intr: Intrinsics, corners: Optional[list[np.ndarray]] = None):
    """Primary visibility: nearest-hit depth [H, W], hit ids [H, W] (0..5 room planes, 6 + k object k,
    -1 nothing), world ray directions (camera-z component 1, so t is the camera-axis depth), and the
    per-object screen rectangles and bounding corners."""
    xn, yn, dd, _ = _pixel_grid(intr)
    H, W = intr.height, intr.width
    rot = scene.camera.rotation()
    cam = np.asarray(scene.camera.position, np.float64)
    rf = rot.astype(np.float32)
    Dx = rf[0, 0] * xn[None, :] + (rf[0, 1] * yn[:, None] + rf[0, 2])
    Dy = rf[1, 0] * xn[None, :] + (rf[1, 1] * yn[:, None] + rf[1, 2])
    Dz = rf[2, 0] * xn[None, :] + (rf[2, 1] * yn[:, None] + rf[2, 2])
    ox, oy, oz = (float(c) for c in cam)
    if scene.room is not None:
        tbuf, ids = _room_hit(scene.room, cam, Dx, Dy, Dz)
    else:
        tbuf = np.full((H, W), np.inf, np.float32)
        ids = np.full((H, W), -1, np.int16)
    rects = []
    if corners is None:
        corners = [_corners(p) for p in scene.objects]
    for k, p in enumerate(scene.objects):
        r = _screen_rect(corners[k], cam, rot, intr)
        rects.append(r)
        if r is None:
            continue
        sl = (slice(r[0], r[1]), slice(r[2], r[3]))
        if isinstance(p, Sphere):
            t = _hit_sphere(p, ox, oy, oz, Dx[sl], Dy[sl], Dz[sl], dd[sl])
        else:
            t = _hit(p, ox, oy, oz, Dx[sl], Dy[sl], Dz[sl])
        m = t < tbuf[sl]
        np.copyto(tbuf[sl], t, where=m)
        np.copyto(ids[sl], np.int16(6 + k), where=m)
    return tbuf, ids, (Dx, Dy, Dz), rects, corners


def render(
    scene: Scene,
    height: int = 480,
    width: int = 640,
    intrinsics: Intrinsics = NYU_INTRINSICS,
    *,
    noise_seed: int = 0,
    max_depth: float = DEFAULT_MAX_DEPTH,
    hole_fraction: float = 0.0,
    shadows: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Ray-casts `scene`; returns (rgb uint8 [H, W, 3], depth float32 [H, W] camera-axis metres, 0 = invalid).

    `intrinsics` are rescaled to height x width when their size differs. `noise_seed` drives the sensor
    noise and holes only (geometry and textures are fixed by the scene). Depth beyond `max_depth`
    and rays that hit nothing (possible only with ``room=None``) are 0.
    """
    intr = intrinsics if (intrinsics.height, intrinsics.width) == (height, width) else intrinsics.scaled(height, width)
    H, W = height, width
    N = H * W
    _, _, dd, r2 = _pixel_grid(intr)
    tbuf, ids, (Dx, Dy, Dz), rects, corners = _cast(scene, intr)
    ox, oy, oz = (float(c) for c in scene.camera.position)

    t = tbuf.ravel()
    idf = ids.ravel()
    Dx, Dy, Dz = Dx.ravel(), Dy.ravel(), Dz.ravel()
    hit_any = np.isfinite(t)
    # A closed room is hit everywhere in exact arithmetic, but a ray grazing an edge between two faces can
    # miss in float32 (a few pixels in some rooms): such pixels get invalid depth and finite colour.
    tt = np.where(hit_any, t, _f32(0))
    Px, Py, Pz = _f32(ox) + tt * Dx, _f32(oy) + tt * Dy, _f32(oz) + tt * Dz
    inv_len = 1.0 / np.sqrt(dd.ravel())

    alb = np.zeros((3, N), np.float32)
    nrm = np.zeros((3, N), np.float32)
    emi = np.zeros((3, N), np.float32)
    gloss = np.zeros(N, np.float32)
    ao = np.ones(N, np.float32)
    any_emit = False
    fpk = _f32(1.0 / intr.fx)

    def shade(idx: np.ndarray, normal, s, tcoord, mat: Material, size=None):
        nonlocal any_emit
        nx, ny, nz = normal
        cosi = np.abs(nx * Dx[idx] + ny * Dy[idx] + nz * Dz[idx]) * inv_len[idx]
        fp = t[idx] * fpk / (inv_len[idx] * np.maximum(cosi, _f32(0.15)))
        rgb, em = _texture(mat, s, tcoord, fp, size)
        for c in range(3):
            alb[c, idx] = rgb[c]
        if em is not None:
            any_emit = True
            for c in range(3):
                emi[c, idx] = em[c]
        if mat.gloss:
            gloss[idx] = mat.gloss

    if scene.room is not None:
        room = scene.room
        Wr, Dr, Hr = (float(v) for v in room.size)
        for plane in range(6):
            idx = np.flatnonzero(idf == plane)
            if idx.size == 0:
                continue
            x, y, z = Px[idx], Py[idx], Pz[idx]
            nvec = _PLANE_NORMALS[plane]
            normal = tuple(np.full(idx.size, _f32(c)) for c in nvec)
            for c in range(3):
                nrm[c, idx] = nvec[c]
            s, tc = _plane_coords(plane, x, y, z)
            mat = room.floor if plane == FLOOR else room.ceiling if plane == CEILING else room.walls[plane]
            shade(idx, normal, s, tc, mat)
            # decals on this plane, drawn in order (later ones on top)
            for dec in room.decals:
                if dec.plane != plane:
                    continue
                s0, t0, s1, t1 = dec.rect
                m = (s >= s0) & (s < s1) & (tc >= t0) & (tc < t1)
                if not m.any():
                    continue
                sub = np.flatnonzero(m)
                shade(idx[sub], tuple(n[sub] for n in normal), s[sub] - _f32(s0), tc[sub] - _f32(t0), dec.material, (s1 - s0, t1 - t0))
            # ambient occlusion towards the room's edges (distance to the two nearest perpendicular planes)
            dist = []
            for axis, (coord, lim) in enumerate(((x, Wr), (y, Dr), (z, Hr))):
                if axis != plane // 2:
                    dist.append(np.minimum(coord, _f32(lim) - coord))
            ao[idx] = (1 - _f32(0.35) * np.exp(-dist[0] * _f32(4.0))) * (1 - _f32(0.35) * np.exp(-dist[1] * _f32(4.0)))

    for k, p in enumerate(scene.objects):
        r = rects[k]
        if r is None:
            continue
        rows, cols = np.nonzero(ids[r[0] : r[1], r[2] : r[3]] == 6 + k)
        if rows.size == 0:
            continue
        idx = (rows + r[0]) * W + (cols + r[2])
        normal, s, tc, front = _surface(p, Px[idx], Py[idx], Pz[idx])
        for c in range(3):
            nrm[c, idx] = normal[c]
        if front is not None and front.any():
            back = ~front
            if back.any():
                b = np.flatnonzero(back)
                shade(idx[b], tuple(n[b] for n in normal), s[b], tc[b], p.material)
            f = np.flatnonzero(front)
            shade(idx[f], tuple(n[f] for n in normal), s[f] - _f32(7.7), tc[f], p.front, (p.size[0], p.size[2]))
        else:
            shade(idx, normal, s, tc, p.material)

    # --- lighting (linear space: albedo squared ~ sRGB decode)
    alb *= alb
    nx, ny, nz = nrm
    hemi = 1 + _f32(scene.hemisphere) * nz
    irr = [np.full(N, _f32(a)) * hemi for a in scene.ambient]
    spec_idx = np.flatnonzero(gloss > 0)
    spec = np.zeros((3, spec_idx.size), np.float32)
    groups: dict[int, list[int]] = {}
    for k, p in enumerate(scene.objects):
        groups.setdefault(p.group if p.group >= 0 else -1 - k, []).append(k)
    gspheres = []
    for gid, ks in groups.items():
        pts = np.concatenate([corners[k] for k in ks])
        c = 0.5 * (pts.min(0) + pts.max(0))
        gspheres.append((gid, c, float(np.sqrt(((pts - c) ** 2).sum(1).max())), ks))
    half = _half_grid(H, W) if shadows and gspheres else None
    for light in scene.lights:
        L = [float(v) for v in light.position]
        lx, ly, lz = _f32(L[0]) - Px, _f32(L[1]) - Py, _f32(L[2]) - Pz
        d2 = lx * lx + ly * ly + lz * lz
        inv = 1 / np.sqrt(d2)
        lx *= inv
        ly *= inv
        lz *= inv
        ndl = nx * lx + ny * ly + nz * lz
        power = _f32(light.intensity) * ((1 - _f32(light.downward)) + _f32(light.downward) * np.maximum(lz, 0))
        e = np.maximum(ndl, 0) * power / (d2 + _f32(0.25))
        if half is not None:
            e *= _shadow_half_res(scene, gspheres, light, half, H, W, (Px, Py, Pz), (nx, ny, nz), (lx, ly, lz), d2, ndl)
        for c in range(3):
            irr[c] += e * _f32(light.color[c])
        if spec_idx.size:
            i = spec_idx
            il = inv_len[i]
            hx, hy, hz = lx[i] - Dx[i] * il, ly[i] - Dy[i] * il, lz[i] - Dz[i] * il
            hn = 1 / np.sqrt(hx * hx + hy * hy + hz * hz + _f32(1e-12))
            ndh = np.maximum((nx[i] * hx + ny[i] * hy + nz[i] * hz) * hn, 0)
            for _ in range(5):  # ^32
                ndh *= ndh
            sp = ndh * gloss[i] * (e[i] / np.maximum(ndl[i], _f32(1e-3))) * (ndl[i] > 0)
            for c in range(3):
                spec[c] += sp * _f32(light.color[c])

    img = alb
    for c in range(3):
        img[c] *= irr[c]
        img[c] *= ao
    if spec_idx.size:
        img[:, spec_idx] += spec
    if any_emit:
        img += emi

    # --- camera response: metering, vignetting + white balance, blur, gamma/shoulder, noise, 8 bit
    look = scene.look
    sub = img.reshape(3, H, W)[:, ::4, ::4]
    lum = (0.3 * sub[0] + 0.59 * sub[1] + 0.11 * sub[2]).ravel()
    lum = lum[lum > 0]  # meter on surfaces only (matters only without a room)
    ref = float(np.percentile(lum, 95)) if lum.size else 1.0
    gain = (1 - _f32(look.vignette) * r2.ravel()) * _f32(look.exposure / max(ref, 1e-6))
    for c in range(3):
        img[c] *= gain * _f32(look.white_balance[c])
    if look.blur and H > 2 and W > 2:
        img = _blur121(img.reshape(3, H, W)).reshape(3, N)
    np.maximum(img, 0, out=img)
    out = np.sqrt(img, out=img)  # linear -> display (gamma 2)
    sh = _f32(look.shoulder)
    out *= _f32(1 + sh) / (1 + sh * out)  # soft shoulder: 1 -> 1, highlights compress
    rng = np.random.default_rng(noise_seed)
    if look.noise > 0:
        bank = _noise_bank(3 * N)
        o = int(rng.integers(0, 4096))
        out += bank[o : o + 3 * N].reshape(3, N) * (_f32(look.noise) * (0.5 + out))
    out *= _f32(255.0)
    out += _f32(0.5)
    np.nan_to_num(out, copy=False, nan=0.0)
    np.clip(out, 0, 255, out=out)
    rgb = out.astype(np.uint8).reshape(3, H, W).transpose(1, 2, 0).copy()

    depth = np.where(hit_any & (t <= max_depth), t, _f32(0)).astype(np.float32).reshape(H, W)
    if hole_fraction > 0:
        depth = _kinect_holes(depth, emi.reshape(3, H, W).sum(0) > 0, hole_fraction, rng)
    return rgb, depth


def _kinect_holes(depth: np.ndarray, emissive: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Zeroes ~`fraction` of the pixels like a Kinect: windows/lamps, depth-edge shadows and random blobs."""
    H, W = depth.shape
    holes = emissive.copy()
    # depth discontinuities (structured-light shadows are a few pixels wide on the far side)
    gx = np.zeros_like(depth)
    gx[:, 1:] = depth[:, 1:] - depth[:, :-1]
    edge = gx > 0.08 * depth
    edge[:, 1:] |= edge[:, :-1]
    edge[:, 2:] |= edge[:, :-2]
    holes |= edge & (rng.random((H, W)) < 0.8)
    need = fraction * H * W - holes.sum()
    if need > 0:
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        sc = 24.0 * W / 640
        off = rng.random(2).astype(np.float32) * 200
        v = _vnoise(xx.ravel() / _f32(sc) + off[0], yy.ravel() / _f32(sc) + off[1]).reshape(H, W)
        v += 0.3 * (_vnoise(xx.ravel() / _f32(sc / 4) + off[1], yy.ravel() / _f32(sc / 4) + off[0]).reshape(H, W))
        cand = v[~holes]
        if cand.size:
            thr = np.quantile(cand, max(0.0, 1 - need / cand.size))
            holes |= v > thr
    return np.where(holes, np.float32(0), depth)


# ---------------------------------------------------------------------------------------------
# Random scenes


def _hsv(h: float, s: float, v: float) -> Vec3:
    return tuple(float(c) for c in colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0)))


def _shade_of(c: Vec3, f: float) -> Vec3:
    return tuple(float(min(1.0, x * f)) for x in c)


class _Gen:
    """Random palette / material helpers bound to one scene's generator."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def u(self, a: float, b: float) -> float:
        return float(self.rng.uniform(a, b))

    def pick(self, options, p=None):
        return options[int(self.rng.choice(len(options), p=p))]

    def seed(self) -> int:
        return int(self.rng.integers(0, 1 << 30))

    def any_color(self) -> Vec3:
        return _hsv(self.u(0, 1), self.u(0, 0.85) ** 1.3, self.u(0.12, 0.95))

    def wall_color(self) -> Vec3:
        kind = self.pick(("neutral", "pastel", "strong"), (0.55, 0.3, 0.15))
        if kind == "neutral":
            return _hsv(self.u(0, 1), self.u(0, 0.12), self.u(0.45, 0.95))
        if kind == "pastel":
            return _hsv(self.u(0, 1), self.u(0.1, 0.35), self.u(0.5, 0.9))
        return _hsv(self.u(0, 1), self.u(0.35, 0.75), self.u(0.3, 0.8))

    def wood(self, scale: float) -> Material:
        c = _hsv(self.u(0.03, 0.12), self.u(0.3, 0.75), self.u(0.2, 0.8))
        return Material("wood", c, _shade_of(c, self.u(0.45, 0.8)), scale, self.u(0.05, 0.25), self.u(0, 0.25), seed=self.seed())

    def paint(self, color: Optional[Vec3] = None, gloss: float = 0.0) -> Material:
        return Material("plain", color or self.any_color(), (0, 0, 0), self.u(0.3, 1.5), self.u(0.03, 0.12), gloss, seed=self.seed())

    def fabric(self) -> Material:
        c = self.any_color()
        c2 = _hsv(self.u(0, 1), self.u(0, 0.6), self.u(0.1, 0.9)) if self.rng.random() < 0.3 else _shade_of(c, 0.6)
        return Material("fabric", c, c2, self.u(0.1, 0.5), self.u(0.2, 0.5), seed=self.seed())

    def surface(self) -> Material:
        """A furniture body material."""
        kind = self.pick(("wood", "paint", "fabric", "metal", "noise"), (0.4, 0.3, 0.12, 0.1, 0.08))
        if kind == "wood":
            return self.wood(self.u(0.12, 0.4))
        if kind == "paint":
            return self.paint(gloss=self.u(0, 0.3))
        if kind == "fabric":
            return self.fabric()
        if kind == "metal":
            return Material("plain", _hsv(0, 0, self.u(0.3, 0.85)), (0, 0, 0), 0.5, 0.04, self.u(0.3, 0.8), seed=self.seed())
        c = self.any_color()
        return Material("noise", c, _shade_of(c, self.u(0.4, 0.9)), self.u(0.05, 0.4), self.u(0.1, 0.4), self.u(0, 0.5), seed=self.seed())

    def floor(self) -> Material:
        kind = self.pick(("wood", "tiles", "carpet", "noise", "checker"), (0.42, 0.2, 0.2, 0.12, 0.06))
        if kind == "wood":
            return self.wood(self.u(0.08, 0.25))
        if kind == "tiles":
            c = _hsv(self.u(0, 1), self.u(0, 0.4), self.u(0.3, 0.95))
            grout = _hsv(0, 0, self.u(0.2, 0.9))
            return Material("tiles", c, grout, self.u(0.2, 0.7), self.u(0.02, 0.2), self.u(0, 0.6), seed=self.seed())
        if kind == "carpet":
            return Material("fabric", self.any_color(), self.any_color(), self.u(0.3, 2.0), self.u(0.1, 0.35), seed=self.seed())
        if kind == "noise":
            c = _hsv(self.u(0, 1), self.u(0, 0.25), self.u(0.3, 0.8))
            return Material("noise", c, _shade_of(c, self.u(0.6, 0.95)), self.u(0.3, 2.0), self.u(0, 0.3), self.u(0, 0.5), seed=self.seed())
        return Material("checker", self.any_color(), self.any_color(), self.u(0.25, 0.5), 0.05, self.u(0, 0.5), seed=self.seed())

    def wall(self, color: Vec3) -> Material:
        kind = self.pick(("plain", "stripes", "bricks", "noise"), (0.78, 0.09, 0.06, 0.07))
        if kind == "plain":
            return Material("plain", color, (0, 0, 0), self.u(0.5, 2.0), self.u(0.02, 0.1), seed=self.seed())
        if kind == "stripes":
            return Material("stripes", color, _shade_of(color, self.u(0.7, 0.95)), self.u(0.05, 0.3), 0.05, seed=self.seed())
        if kind == "bricks":
            return Material("bricks", _hsv(self.u(0, 0.08), self.u(0.2, 0.7), self.u(0.3, 0.8)), _hsv(0, 0, self.u(0.5, 0.9)), self.u(0.2, 0.3), 0.2, seed=self.seed())
        return Material("noise", color, _shade_of(color, self.u(0.75, 0.95)), self.u(0.5, 2.0), 0.1, seed=self.seed())


def _rot2(yaw: float, x: float, y: float) -> tuple[float, float]:
    c, s = math.cos(yaw), math.sin(yaw)
    return c * x - s * y, s * x + c * y


class _Item:
    """Primitives in an item-local frame: x along the item's width (centred), y from its back (y=0) to
    its front, z up from the floor. Placed in the room with a position (of the local origin) and yaw."""

    def __init__(self, width: float, depth: float):
        self.width, self.depth = width, depth
        self.parts: list[tuple] = []
        self.tops: list[tuple[float, float, float, float, float]] = []  # (x0, y0, x1, y1, z) free top surfaces
        self.lights: list[tuple[Vec3, float]] = []

    def box(self, x, y, z, sx, sy, sz, mat, yaw=0.0, front=None):
        self.parts.append(("box", (x, y, z), (sx, sy, sz), yaw, mat, front))

    def cyl(self, x, y, z0, z1, r, mat):
        self.parts.append(("cyl", (x, y), z0, z1, r, mat))

    def sph(self, x, y, z, r, mat):
        self.parts.append(("sph", (x, y, z), r, mat))

    @property
    def height(self) -> float:
        """Top of the item above the floor."""
        top = 0.0
        for part in self.parts:
            if part[0] == "box":
                top = max(top, part[1][2] + part[2][2] / 2)
            elif part[0] == "cyl":
                top = max(top, part[3])
            else:
                top = max(top, part[1][2] + part[2])
        return top

    def place(self, ox: float, oy: float, yaw: float, group: int) -> list[Primitive]:
        out: list[Primitive] = []
        for part in self.parts:
            if part[0] == "box":
                (x, y, z), size, lyaw, mat, front = part[1:]
                dx, dy = _rot2(yaw, x, y)
                out.append(Box((ox + dx, oy + dy, z), size, mat, yaw + lyaw, front, group))
            elif part[0] == "cyl":
                (x, y), z0, z1, r, mat = part[1:]
                dx, dy = _rot2(yaw, x, y)
                out.append(Cylinder((ox + dx, oy + dy), z0, z1, r, mat, group))
            else:
                (x, y, z), r, mat = part[1:]
                dx, dy = _rot2(yaw, x, y)
                out.append(Sphere((ox + dx, oy + dy, z), r, mat, group))
        return out

    def footprint(self, ox: float, oy: float, yaw: float) -> tuple[float, float, float, float]:
        pts = [_rot2(yaw, x, y) for x in (-self.width / 2, self.width / 2) for y in (0.0, self.depth)]
        xs, ys = [ox + p[0] for p in pts], [oy + p[1] for p in pts]
        return min(xs), min(ys), max(xs), max(ys)


def _legs(it: _Item, g: _Gen, w: float, d: float, h: float, mat: Material, y0: float = 0.0, round_: bool = False):
    lw = g.u(0.035, 0.07)
    inset = g.u(0.02, 0.08)
    for sx in (-1, 1):
        for sy in (0, 1):
            x = sx * (w / 2 - inset - lw / 2)
            y = y0 + inset + lw / 2 + sy * (d - 2 * inset - lw)
            if round_:
                it.cyl(x, y, 0.0, h, lw / 2, mat)
            else:
                it.box(x, y, h / 2, lw, lw, h, mat)


def _clutter(it: _Item, g: _Gen, x0: float, y0: float, x1: float, y1: float, z: float, n: int) -> None:
    """Small objects (books, cups, vases, balls, boxes, lamps) standing on a top surface."""
    for _ in range(n):
        kind = g.pick(("book", "cup", "vase", "ball", "box", "lamp"), (0.3, 0.2, 0.15, 0.1, 0.15, 0.1))
        if x1 - x0 < 0.2 or y1 - y0 < 0.15:
            return
        cx, cy = g.u(x0 + 0.08, x1 - 0.08), g.u(y0 + 0.07, y1 - 0.07)
        if kind == "book":
            h = g.u(0.02, 0.08)
            it.box(cx, cy, z + h / 2, g.u(0.12, 0.3), g.u(0.1, 0.22), h, g.paint(), g.u(-0.5, 0.5))
        elif kind == "cup":
            r = g.u(0.03, 0.05)
            it.cyl(cx, cy, z, z + g.u(0.07, 0.12), r, g.paint(gloss=g.u(0, 0.6)))
        elif kind == "vase":
            r = g.u(0.04, 0.09)
            it.cyl(cx, cy, z, z + g.u(0.15, 0.4), r, g.surface())
        elif kind == "ball":
            r = g.u(0.04, 0.1)
            it.sph(cx, cy, z + r, r, g.paint(gloss=g.u(0, 0.5)))
        elif kind == "box":
            sx, sy, sz = g.u(0.1, 0.35), g.u(0.1, 0.3), g.u(0.05, 0.3)
            it.box(cx, cy, z + sz / 2, sx, sy, sz, g.surface(), g.u(-0.6, 0.6))
        else:
            shade = Material("plain", _hsv(g.u(0.05, 0.15), g.u(0, 0.4), g.u(0.7, 1.0)), (0, 0, 0), 0.3, 0.02, emission=0.0, seed=g.seed())
            it.cyl(cx, cy, z, z + 0.03, 0.07, g.paint())
            it.cyl(cx, cy, z + 0.03, z + 0.35, 0.012, g.paint(gloss=0.5))
            it.cyl(cx, cy, z + 0.3, z + 0.5, g.u(0.1, 0.16), shade)


def _make_item(kind: str, g: _Gen, room: Vec3) -> _Item:
    """Builds one furniture item in its local frame."""
    u = g.u
    if kind == "table":
        w, d, h = u(0.8, 1.8), u(0.6, 1.0), u(0.7, 0.78)
        it = _Item(w, d)
        mat = g.surface()
        th = u(0.025, 0.06)
        it.box(0, d / 2, h - th / 2, w, d, th, mat)
        _legs(it, g, w, d, h - th, mat if g.rng.random() < 0.6 else g.surface(), round_=g.rng.random() < 0.3)
        if g.rng.random() < 0.4:  # desk with a monitor
            mw, mh = u(0.45, 0.7), u(0.3, 0.45)
            scr = Material("screen", g.any_color(), g.any_color(), 0.2, emission=u(0.5, 2.0) if g.rng.random() < 0.5 else 0.0, seed=g.seed())
            my = u(0.1, 0.25)
            it.box(0, my, h + 0.01, 0.2, 0.18, 0.02, Material("plain", (0.08, 0.08, 0.08), gloss=0.4))
            it.box(0, my, h + 0.1, 0.04, 0.03, 0.18, Material("plain", (0.08, 0.08, 0.08), gloss=0.4))
            it.box(0, my + 0.03, h + 0.12 + mh / 2, mw, 0.03, mh, Material("plain", (0.06, 0.06, 0.06), gloss=0.5), front=scr)
            it.tops.append((-w / 2, d * 0.45, w / 2, d, h))
        else:
            it.tops.append((-w / 2, 0, w / 2, d, h))
        return it
    if kind == "round_table":
        r, h = u(0.35, 0.6), u(0.7, 0.76)
        it = _Item(2 * r, 2 * r)
        mat = g.surface()
        it.cyl(0, r, h - 0.04, h, r, mat)
        it.cyl(0, r, 0.03, h - 0.04, u(0.03, 0.06), mat)
        it.cyl(0, r, 0.0, 0.03, r * 0.5, mat)
        it.tops.append((-r * 0.6, r * 0.4, r * 0.6, r * 1.6, h))
        return it
    if kind == "chair":
        w, d, h = u(0.4, 0.5), u(0.4, 0.5), u(0.42, 0.48)
        it = _Item(w, d)
        mat = g.surface()
        it.box(0, d / 2, h - 0.03, w, d, 0.06, mat if g.rng.random() < 0.5 else g.fabric())
        _legs(it, g, w, d, h - 0.06, mat, round_=g.rng.random() < 0.5)
        bh = u(0.35, 0.5)
        it.box(0, 0.03, h + bh / 2, w, 0.04, bh, mat)
        return it
    if kind in ("cabinet", "wardrobe", "tv_stand"):
        w = u(0.6, 1.6) if kind != "wardrobe" else u(0.8, 1.8)
        d = u(0.4, 0.6)
        h = {"cabinet": u(0.7, 1.2), "wardrobe": u(1.8, 2.2), "tv_stand": u(0.4, 0.6)}[kind]
        it = _Item(w, d)
        mat = g.surface()
        front = Material("panels", mat.color, _hsv(0, 0, u(0.2, 0.9)), h / int(g.rng.integers(1, 4)) if kind != "wardrobe" else h, 0.05, mat.gloss, seed=g.seed())
        it.box(0, d / 2, h / 2, w, d, h, mat, front=front)
        if kind == "tv_stand":
            tw = min(w, u(0.8, 1.4))
            th = tw * 0.58
            scr = Material("screen", g.any_color(), g.any_color(), 0.3, emission=u(0.5, 2.0) if g.rng.random() < 0.4 else 0.0, seed=g.seed())
            black = Material("plain", (0.05, 0.05, 0.05), gloss=0.5)
            it.box(0, d / 2, h + 0.02, 0.3, 0.2, 0.04, black)
            it.box(0, d / 2, h + 0.04 + th / 2, tw, 0.05, th, black, front=scr)
        elif kind == "cabinet":
            it.tops.append((-w / 2, 0, w / 2, d, h))
        return it
    if kind == "bookshelf":
        w, d, h = u(0.6, 1.4), u(0.28, 0.4), u(1.0, 2.1)
        it = _Item(w, d)
        mat = g.wood(u(0.15, 0.4)) if g.rng.random() < 0.7 else g.paint()
        books = Material("books", mat.color, _shade_of(mat.color, 0.5), u(0.28, 0.4), seed=g.seed())
        it.box(0, d / 2, h / 2, w, d, h, mat, front=books)
        return it
    if kind == "bed":
        w, length = g.pick((u(0.9, 1.1), u(1.35, 1.9))), u(1.9, 2.15)
        it = _Item(w, length + 0.06)
        h = u(0.45, 0.62)
        frame = g.surface()
        sheet = g.fabric()
        hb = u(0.8, 1.2)
        it.box(0, 0.03, hb / 2, w + 0.04, 0.06, hb, frame)  # headboard
        it.box(0, 0.06 + length / 2, h * 0.4, w, length, h * 0.8, frame)
        it.box(0, 0.06 + length / 2, h * 0.9, w - 0.02, length - 0.02, h * 0.2, sheet)
        if g.rng.random() < 0.8:  # blanket over the lower part
            bl = length * u(0.5, 0.75)
            it.box(0, 0.06 + length - bl / 2, h + 0.02, w + 0.04, bl, 0.06, g.fabric())
        npil = 1 if w < 1.2 else 2
        pil = g.fabric()
        for i in range(npil):
            px = 0 if npil == 1 else (i - 0.5) * w / 2
            it.box(px, 0.3, h + 0.07, min(0.6, w / npil - 0.1), 0.35, 0.12, pil)
        return it
    if kind == "sofa":
        w, d = u(1.4, 2.4), u(0.8, 0.95)
        it = _Item(w, d)
        mat = g.fabric()
        seat_h = u(0.38, 0.46)
        arm = u(0.12, 0.22)
        it.box(0, d / 2, seat_h / 2, w, d, seat_h, mat)
        bh = u(0.75, 0.9)
        it.box(0, 0.1, bh / 2, w, 0.2, bh, mat)  # backrest
        ah = u(0.55, 0.65)
        for sx in (-1, 1):
            it.box(sx * (w / 2 - arm / 2), d / 2, ah / 2, arm, d, ah, mat)
        for i in range(int(g.rng.integers(0, 3))):
            it.box(g.u(-w / 3, w / 3), 0.3, seat_h + 0.18, 0.4, 0.14, 0.35, g.fabric(), g.u(-0.3, 0.3))
        return it
    if kind == "counter":
        w, d = u(1.5, min(3.5, room[0] - 0.3)), u(0.58, 0.65)
        it = _Item(w, d)
        body = g.paint(gloss=u(0, 0.3))
        front = Material("panels", body.color, _hsv(0, 0, u(0.3, 0.9)), u(0.3, 0.8), 0.03, body.gloss, seed=g.seed())
        it.box(0, d / 2 - 0.02, 0.45, w, d - 0.04, 0.9, body, front=front)
        top = Material("noise", _hsv(u(0, 1), u(0, 0.2), u(0.15, 0.9)), _hsv(0, 0, u(0.1, 0.9)), u(0.05, 0.3), 0.2, u(0.2, 0.7), seed=g.seed())
        it.box(0, d / 2, 0.92, w + 0.02, d, 0.04, top)
        it.tops.append((-w / 2, 0, w / 2, d, 0.94))
        if g.rng.random() < 0.7:  # wall cupboards
            uh = u(0.6, 0.8)
            z0 = u(1.45, 1.6)
            it.box(0, 0.18, z0 + uh / 2, w, 0.35, uh, body, front=dataclasses.replace(front, scale=uh))
        return it
    if kind == "fridge":
        w, d, h = u(0.6, 0.8), u(0.6, 0.7), u(1.5, 1.9)
        it = _Item(w, d)
        c = _hsv(0, 0, u(0.55, 0.9))
        it.box(0, d / 2, h / 2, w, d, h, Material("plain", c, gloss=u(0.3, 0.8), variation=0.02),
               front=Material("panels", c, (0.6, 0.6, 0.6), h * u(0.3, 0.5), 0.02, 0.5, seed=g.seed()))
        return it
    if kind == "plant":
        r = u(0.1, 0.22)
        it = _Item(2 * r, 2 * r)
        ph = u(0.2, 0.5)
        it.cyl(0, r, 0, ph, r, g.surface())
        leaf = Material("noise", _hsv(u(0.2, 0.4), u(0.4, 0.8), u(0.15, 0.5)), _hsv(u(0.2, 0.4), u(0.3, 0.8), u(0.05, 0.3)), u(0.03, 0.08), 0.4, seed=g.seed())
        fr = u(0.2, 0.45)
        it.sph(0, r, ph + fr * 0.8, fr, leaf)
        if g.rng.random() < 0.5:
            it.sph(u(-0.1, 0.1), r + u(-0.1, 0.1), ph + fr * 1.6, fr * 0.7, leaf)
        return it
    if kind == "floor_lamp":
        it = _Item(0.4, 0.4)
        h = u(1.4, 1.8)
        metal = g.paint(gloss=0.5)
        it.cyl(0, 0.2, 0, 0.03, 0.15, metal)
        it.cyl(0, 0.2, 0.03, h - 0.2, 0.015, metal)
        shade = Material("lamp", _hsv(u(0.05, 0.12), u(0.1, 0.5), 1.0), (0.9, 0.9, 0.9), 1.0, emission=u(0.5, 1.5), seed=g.seed())
        it.cyl(0, 0.2, h - 0.3, h, u(0.15, 0.22), shade)
        it.lights.append(((0.0, 0.2, h - 0.12), u(0.5, 1.5)))
        return it
    if kind == "bin":
        it = _Item(0.35, 0.35)
        r = u(0.1, 0.17)
        it.cyl(0, 0.17, 0, u(0.25, 0.5), r, g.surface())
        return it
    if kind == "ball":
        r = u(0.1, 0.35)
        it = _Item(2 * r, 2 * r)
        it.sph(0, r, r, r, g.paint(gloss=u(0, 0.6)) if g.rng.random() < 0.7 else g.fabric())
        return it
    if kind == "boxes":
        w, d = u(0.3, 0.7), u(0.3, 0.6)
        it = _Item(w, d)
        z = 0.0
        mat = Material("plain", _hsv(u(0.07, 0.1), u(0.3, 0.6), u(0.4, 0.75)), variation=0.08, seed=g.seed()) if g.rng.random() < 0.7 else g.surface()
        for i in range(int(g.rng.integers(1, 4))):
            sz = u(0.2, 0.45)
            it.box(u(-0.03, 0.03), d / 2 + u(-0.03, 0.03), z + sz / 2, w * u(0.8, 1.0), d * u(0.8, 1.0), sz, mat, u(-0.15, 0.15))
            z += sz
            w, d = w * u(0.7, 1.0), d * u(0.7, 1.0)
        return it
    if kind == "pillar":
        s = u(0.3, 0.6)
        it = _Item(s, s)
        it.box(0, s / 2, room[2] / 2, s, s, room[2], g.paint())
        return it
    raise ValueError(kind)


_PROBE = NYU_INTRINSICS.scaled(24, 32)  # depth probe used to choose camera views

_WALL_ITEMS = ("cabinet", "wardrobe", "tv_stand", "bookshelf", "bed", "sofa", "counter", "fridge", "table", "plant", "floor_lamp", "bin", "boxes")
_WALL_P = (0.14, 0.07, 0.07, 0.12, 0.08, 0.09, 0.07, 0.04, 0.12, 0.06, 0.04, 0.05, 0.05)
_FREE_ITEMS = ("table", "round_table", "chair", "ball", "plant", "bin", "boxes", "pillar")
_FREE_P = (0.25, 0.1, 0.3, 0.08, 0.08, 0.07, 0.1, 0.02)


def _overlaps(a, b, margin: float = 0.05) -> bool:
    return not (a[2] + margin <= b[0] or b[2] + margin <= a[0] or a[3] + margin <= b[1] or b[3] + margin <= a[1])


def _rect_dist(rect, x: float, y: float) -> float:
    dx = max(rect[0] - x, 0.0, x - rect[2])
    dy = max(rect[1] - y, 0.0, y - rect[3])
    return math.hypot(dx, dy)


def _seed_of(*keys: int) -> int:
    """A 63-bit seed derived deterministically from integer keys."""
    a, b = np.random.SeedSequence([int(k) & 0xFFFFFFFFFFFFFFFF for k in keys]).generate_state(2, np.uint32)
    return (int(a) << 31) ^ int(b)


def make_scene(seed: int) -> Scene:
    """The random room for `seed` (view 0): geometry, materials, lights, camera and camera response."""
    rng = np.random.default_rng(seed)
    g = _Gen(rng)
    u = g.u
    W = u(3.0, 8.0) if rng.random() < 0.6 else u(3.0, 5.0)
    D = u(3.0, 9.0) if rng.random() < 0.6 else u(3.0, 5.5)
    H = u(2.4, 3.2)

    # room materials and decals
    wall_c = g.wall_color()
    wall = g.wall(wall_c)
    walls = [wall] * 4
    if rng.random() < 0.25:
        walls[int(rng.integers(0, 4))] = g.wall(g.wall_color())
    floor = g.floor()
    if rng.random() < 0.6:
        ceiling = Material("plain", _hsv(u(0, 1), u(0, 0.08), u(0.7, 0.97)), (0, 0, 0), 1.0, 0.04, seed=g.seed())
    else:
        ceiling = Material("tiles", _hsv(u(0, 1), u(0, 0.06), u(0.7, 0.95)), _hsv(0, 0, u(0.4, 0.8)), u(0.6, 1.2), 0.04, seed=g.seed())
    wall_len = (D, D, W, W)
    decals: list[Decal] = []
    used: dict[int, list[tuple[float, float]]] = {p: [] for p in range(4)}

    def free_span(plane: int, width: float) -> Optional[tuple[float, float]]:
        for _ in range(10):
            if wall_len[plane] - 0.2 < width:
                return None
            s0 = u(0.1, wall_len[plane] - width - 0.1)
            if all(s0 + width + 0.1 < a or s0 > b + 0.1 for a, b in used[plane]):
                used[plane].append((s0, s0 + width))
                return s0, s0 + width
        return None

    for _ in range(int(rng.choice(4, p=(0.3, 0.4, 0.2, 0.1)))):  # windows
        plane = int(rng.integers(0, 4))
        w, h = u(0.7, 2.2), u(1.0, min(1.8, H - 1.1))
        span = free_span(plane, w)
        if span:
            z0 = u(0.6, H - h - 0.25)
            out = _hsv(u(0.5, 0.65), u(0.0, 0.4), 1.0)
            ground = _hsv(u(0, 1), u(0, 0.4), u(0.4, 0.9))
            decals.append(Decal(plane, (span[0], z0, span[1], z0 + h), Material("window", out, ground, 1.0, emission=u(1.5, 4.0), seed=g.seed())))
    if rng.random() < 0.6:  # door
        plane = int(rng.integers(0, 4))
        span = free_span(plane, u(0.8, 0.95))
        if span:
            dm = g.wood(0.3) if rng.random() < 0.4 else g.paint(_hsv(u(0, 1), u(0, 0.3), u(0.4, 0.95)))
            decals.append(Decal(plane, (span[0], 0.0, span[1], u(2.0, 2.15)), Material("door", dm.color, _shade_of(dm.color, 0.85), 1.0, 0.05, seed=g.seed())))
    for _ in range(int(rng.choice(4, p=(0.3, 0.35, 0.25, 0.1)))):  # paintings, posters, whiteboards
        plane = int(rng.integers(0, 4))
        w, h = u(0.3, 1.4), u(0.3, 1.0)
        span = free_span(plane, w)
        if span:
            zc = u(1.2, min(1.9, H - h / 2 - 0.1))
            if rng.random() < 0.15:
                mat = Material("painting", (0.95, 0.95, 0.95), (0.7, 0.7, 0.7), 5.0, seed=g.seed())  # whiteboard-ish
            else:
                mat = Material("painting", g.any_color(), _hsv(0, 0, u(0.05, 0.9)), u(0.1, 0.5), seed=g.seed())
            decals.append(Decal(plane, (span[0], zc - h / 2, span[1], zc + h / 2), mat))
    if rng.random() < 0.6:  # baseboards
        bb = Material("plain", _hsv(0, 0, u(0.2, 1.0)) if rng.random() < 0.7 else g.any_color(), (0, 0, 0), 1.0, 0.02, 0.3, seed=g.seed())
        bh = u(0.05, 0.14)
        decals = [Decal(p, (-1.0, 0.0, wall_len[p] + 1.0, bh), bb) for p in range(4)] + decals
    if rng.random() < 0.35:  # rug
        rw, rd = u(1.0, min(3.0, W - 0.4)), u(0.8, min(2.5, D - 0.4))
        x0, y0 = u(0.2, W - rw - 0.2), u(0.2, D - rd - 0.2)
        decals.append(Decal(FLOOR, (x0, y0, x0 + rw, y0 + rd), Material("rug", g.any_color(), g.any_color(), u(0.1, 0.5), seed=g.seed())))

    # lights: 1-3 ceiling fixtures (with a lamp decal), warm to cool white
    lights: list[Light] = []
    n_lights = int(rng.choice((1, 2, 3), p=(0.45, 0.4, 0.15)))
    temp = u(0, 1)
    lcol = tuple(a + (b - a) * temp for a, b in zip((1.0, 0.82, 0.62), (0.88, 0.95, 1.0)))
    for _ in range(n_lights):
        lx, ly = u(0.15 * W, 0.85 * W), u(0.15 * D, 0.85 * D)
        drop = u(0.05, 0.5)
        lights.append(Light((lx, ly, H - drop), lcol, u(2.0, 6.0), u(0.3, 0.8)))
        ls = u(0.25, 0.6)
        decals.append(Decal(CEILING, (lx - ls, ly - ls * u(0.5, 2.0), lx + ls, ly + ls), Material("lamp", (1.0, 0.97, 0.9), (1, 1, 1), emission=u(1.0, 3.0), seed=g.seed())))

    # furniture
    objects: list[Primitive] = []
    rects: list[tuple[tuple[float, float, float, float], float]] = []  # footprints and heights
    area = W * D
    n_items = int(np.clip(rng.poisson(3.0 + area / 3.5), 3, 20))
    group = 0
    for _ in range(n_items):
        along_wall = rng.random() < 0.65
        kind = g.pick(_WALL_ITEMS, np.array(_WALL_P) / sum(_WALL_P)) if along_wall else g.pick(_FREE_ITEMS, np.array(_FREE_P) / sum(_FREE_P))
        it = _make_item(kind, g, (W, D, H))
        for _try in range(12):
            if along_wall:
                plane = int(rng.integers(0, 4))
                L = wall_len[plane]
                if it.width > L - 0.2:
                    continue
                a = u(it.width / 2 + 0.05, L - it.width / 2 - 0.05)
                gap = u(0.0, 0.05)
                ox, oy, iyaw = [(gap, a, -math.pi / 2), (W - gap, a, math.pi / 2), (a, gap, 0.0), (a, D - gap, math.pi)][plane]
            else:
                iyaw = u(-math.pi, math.pi)
                ox, oy = u(0.3, W - 0.3), u(0.3, D - 0.3)
            fpr = it.footprint(ox, oy, iyaw)
            if fpr[0] < -0.01 or fpr[1] < -0.01 or fpr[2] > W + 0.01 or fpr[3] > D + 0.01:
                continue
            if any(_overlaps(fpr, r) for r, _ in rects):
                continue
            rects.append((fpr, it.height))
            for x0, y0, x1, y1, z in it.tops:
                _clutter(it, g, x0, y0, x1, y1, z, int(rng.choice(5, p=(0.25, 0.25, 0.25, 0.15, 0.1))))
            objects.extend(it.place(ox, oy, iyaw, group))
            for (lx_, ly_, lz_), inten in it.lights:
                dx, dy = _rot2(iyaw, lx_, ly_)
                lights.append(Light((ox + dx, oy + dy, min(lz_, H - 0.05)), (1.0, 0.85, 0.65), inten, 0.0, group))
            group += 1
            break

    # camera: a free spot >= 0.45 m from the walls and >= 0.6 m from furniture, 1.0-1.8 m high, aimed
    # (jittered) at a piece of furniture or a random point; of several candidates the one whose
    # low-resolution depth probe looks most like a room view (not blocked, some depth range) wins
    room = Room((W, D, H), floor, ceiling, tuple(walls), tuple(decals))
    probe_scene = Scene(Camera((W / 2, D / 2, 1.4)), room, tuple(objects))
    probe_corners = [_corners(p) for p in objects]
    best = None
    candidates = 0
    for attempt in range(40):
        cx, cy = u(0.45, W - 0.45), u(0.45, D - 0.45)
        if any(_rect_dist(r, cx, cy) < 0.6 for r, _ in rects):
            continue
        if rects and rng.random() < 0.6:
            r, top = rects[int(rng.integers(0, len(rects)))]
            tgt = (0.5 * (r[0] + r[2]), 0.5 * (r[1] + r[3]), u(0.2, max(0.3, min(top, 1.2))))
        else:
            tgt = (u(0.2, W - 0.2), u(0.2, D - 0.2), u(0.0, 1.4))
        dist = math.hypot(tgt[0] - cx, tgt[1] - cy)
        if dist < 0.8:
            continue
        cz = u(1.0, 1.8)
        yaw = math.atan2(tgt[0] - cx, tgt[1] - cy) + float(rng.normal(0, 0.15))
        pitch = math.atan2(tgt[2] - cz, max(0.5, dist)) + float(rng.normal(0, 0.08))
        pitch = min(max(pitch, math.radians(-40)), math.radians(10))
        roll = float(np.clip(rng.normal(0, 0.035), -0.09, 0.09))
        cam = Camera((cx, cy, cz), yaw, pitch, roll)
        depth, hit_ids = _cast(dataclasses.replace(probe_scene, camera=cam), _PROBE, probe_corners)[:2]
        med = float(np.median(depth))
        furniture = float(np.mean(hit_ids >= 6))
        spread = float(np.percentile(depth, 90) - np.percentile(depth, 10))
        near = float(np.mean(depth < 0.8))
        score = min(med, 3.0) + 0.5 * min(spread, 2.5) + 3.0 * min(furniture, 0.35) - 6.0 * near + u(0.0, 1.0)
        if best is None or score > best[0]:
            best = (score, cam)
        candidates += 1
        if candidates >= 6:
            break
    camera = best[1] if best else Camera((W / 2, 0.5, 1.4), 0.0, -0.2, 0.0)

    amb = u(0.08, 0.35)
    tint = _hsv(u(0, 1), u(0, 0.08), 1.0)
    look = Look(
        exposure=u(0.7, 1.0),
        white_balance=tuple(float(c) for c in np.array(tint) / max(tint)),
        vignette=u(0.05, 0.4),
        noise=u(0.004, 0.02),
        blur=True,
        shoulder=u(0.0, 0.5),
    )
    return Scene(camera, room, tuple(objects), tuple(lights), (amb * lcol[0], amb * lcol[1], amb * lcol[2]), u(-0.2, 0.4), look)


def _camera_ok(scene: Scene, pos: Vec3) -> bool:
    W, D, H = scene.room.size
    x, y, z = pos
    if not (0.3 < x < W - 0.3 and 0.3 < y < D - 0.3 and 0.5 < z < H - 0.3):
        return False
    for p in scene.objects:
        c = _corners(p)
        lo, hi = c.min(0) - 0.35, c.max(0) + 0.35
        if np.all(np.asarray(pos) > lo) and np.all(np.asarray(pos) < hi):
            return False
    return True


def scene_view(scene: Scene, seed: int, view: int) -> Scene:
    """The same room seen from a slightly moved camera (view 0 = `scene` itself), as in a video."""
    if view == 0:
        return scene
    rng = np.random.default_rng(_seed_of(seed, view, 0x71E3))
    c = scene.camera
    for attempt in range(6):
        k = 0.5**attempt
        pos = (c.position[0] + k * rng.normal(0, 0.2), c.position[1] + k * rng.normal(0, 0.2), c.position[2] + k * rng.normal(0, 0.07))
        cam = Camera(
            pos,
            c.yaw + k * float(rng.normal(0, 0.1)),
            float(np.clip(c.pitch + k * rng.normal(0, 0.06), math.radians(-45), math.radians(12))),
            float(np.clip(c.roll + k * rng.normal(0, 0.02), -0.1, 0.1)),
        )
        if scene.room is None or _camera_ok(scene, pos):
            return dataclasses.replace(scene, camera=cam)
    return scene


def render_scene(
    seed: int,
    height: int = 480,
    width: int = 640,
    intrinsics: Intrinsics = NYU_INTRINSICS,
    *,
    view: int = 0,
    hole_fraction: float = 0.0,
    max_depth: float = DEFAULT_MAX_DEPTH,
) -> Frame:
    """Renders view `view` of the random room `seed` as a Frame (uint8 RGB, float32 z-depth in metres).

    Same arguments -> byte-identical frame. `hole_fraction` > 0 adds Kinect-like holes (0 = invalid).
    """
    scene = scene_view(make_scene(seed), seed, view)
    rgb, depth = render(scene, height, width, intrinsics, noise_seed=_seed_of(seed, view, 0x401E), max_depth=max_depth, hole_fraction=hole_fraction)
    return Frame(rgb=rgb, depth=depth, scene=f"synthetic-{seed}", frame=f"synthetic-{seed}-v{view:02d}")


def iter_frames(
    num_frames: int,
    seed: int = 0,
    height: int = 480,
    width: int = 640,
    *,
    frames_per_scene: int = DEFAULT_FRAMES_PER_SCENE,
    intrinsics: Intrinsics = NYU_INTRINSICS,
    hole_fraction: float = 0.0,
    max_depth: float = DEFAULT_MAX_DEPTH,
) -> Iterator[Frame]:
    """Yields `num_frames` frames: frame i is view ``i % frames_per_scene`` of the room with seed
    ``derive(seed, i // frames_per_scene)``, so consecutive frames share a room (like NYU video) and
    every frame is a deterministic function of (seed, i).

    ``scene`` is ``"synthetic-<seed>-<room index>"``, ``frame`` is ``"<scene>-<view>"``.
    """
    if frames_per_scene < 1:
        raise ValueError(f"frames_per_scene must be >= 1, got {frames_per_scene}")
    base = None
    for i in range(num_frames):
        k, view = divmod(i, frames_per_scene)
        room_seed = _seed_of(seed, k)
        if view == 0 or base is None:
            base = make_scene(room_seed)
        scene = scene_view(base, room_seed, view)
        rgb, depth = render(scene, height, width, intrinsics, noise_seed=_seed_of(room_seed, view, 0x401E), max_depth=max_depth, hole_fraction=hole_fraction)
        sid = f"synthetic-{seed}-{k:05d}"
        yield Frame(rgb=rgb, depth=depth, scene=sid, frame=f"{sid}-{view:02d}")
