"""Rendering a :class:`Scene`: primary cast, shading, lighting, camera response and Kinect-like holes."""

from __future__ import annotations

import functools

import numpy as np

from depthnet.data.camera import NYU_INTRINSICS, Intrinsics
from depthnet.synthetic.lighting import blur121, light_image
from depthnet.synthetic.noise import f32, value_noise
from depthnet.synthetic.raycast import cast, pixel_grid
from depthnet.synthetic.scene import DEFAULT_MAX_DEPTH, Look, Scene
from depthnet.synthetic.shading import SurfaceBuffers, shade_objects, shade_room


@functools.lru_cache(maxsize=4)
def noise_bank(n: int) -> np.ndarray:
    """Fixed Gaussian noise, n + 4096 values; each frame reads it from a random offset."""
    return np.random.default_rng(0xC0FFEE).standard_normal(n + 4096, dtype=np.float32)


def camera_response(img: np.ndarray, look: Look, vignette_r2: np.ndarray, height: int, width: int, rng) -> np.ndarray:
    """Linear radiance [3, N] -> uint8 RGB [H, W, 3]: metering, vignetting + white balance, blur,
    gamma/shoulder tone curve and sensor noise. May overwrite `img`."""
    n = height * width
    sub = img.reshape(3, height, width)[:, ::4, ::4]
    lum = (0.3 * sub[0] + 0.59 * sub[1] + 0.11 * sub[2]).ravel()
    lum = lum[lum > 0]  # meter on surfaces only (matters only without a room)
    ref = float(np.percentile(lum, 95)) if lum.size else 1.0
    gain = (1 - f32(look.vignette) * vignette_r2.ravel()) * f32(look.exposure / max(ref, 1e-6))
    for c in range(3):
        img[c] *= gain * f32(look.white_balance[c])
    if look.blur and height > 2 and width > 2:
        img = blur121(img.reshape(3, height, width)).reshape(3, n)
    np.maximum(img, 0, out=img)
    out = np.sqrt(img, out=img)  # linear -> display (gamma 2)
    shoulder = f32(look.shoulder)
    out *= f32(1 + shoulder) / (1 + shoulder * out)  # soft shoulder: 1 -> 1, highlights compress
    if look.noise > 0:
        bank = noise_bank(3 * n)
        offset = int(rng.integers(0, 4096))
        out += bank[offset : offset + 3 * n].reshape(3, n) * (f32(look.noise) * (0.5 + out))
    out *= f32(255.0)
    out += f32(0.5)
    np.nan_to_num(out, copy=False, nan=0.0)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8).reshape(3, height, width).transpose(1, 2, 0).copy()


def kinect_holes(depth: np.ndarray, emissive: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Zeroes ~`fraction` of the pixels like a Kinect: windows/lamps, depth-edge shadows and random blobs."""
    height, width = depth.shape
    holes = emissive.copy()
    # depth discontinuities (structured-light shadows are a few pixels wide on the far side)
    grad_x = np.zeros_like(depth)
    grad_x[:, 1:] = depth[:, 1:] - depth[:, :-1]
    edge = grad_x > 0.08 * depth
    edge[:, 1:] |= edge[:, :-1]
    edge[:, 2:] |= edge[:, :-2]
    holes |= edge & (rng.random((height, width)) < 0.8)
    need = fraction * height * width - holes.sum()
    if need > 0:
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        blob = 24.0 * width / 640
        off = rng.random(2).astype(np.float32) * 200
        field = value_noise(xx.ravel() / f32(blob) + off[0], yy.ravel() / f32(blob) + off[1]).reshape(height, width)
        fine = value_noise(xx.ravel() / f32(blob / 4) + off[1], yy.ravel() / f32(blob / 4) + off[0])
        field += 0.3 * (fine.reshape(height, width))
        candidates = field[~holes]
        if candidates.size:
            threshold = np.quantile(candidates, max(0.0, 1 - need / candidates.size))
            holes |= field > threshold
    return np.where(holes, np.float32(0), depth)


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
    same_size = (intrinsics.height, intrinsics.width) == (height, width)
    intr = intrinsics if same_size else intrinsics.scaled(height, width)
    _, _, dir_len2, vignette_r2 = pixel_grid(intr)
    depth_buf, hit_ids, dirs, rects, object_corners = cast(scene, intr)
    ox, oy, oz = (float(c) for c in scene.camera.position)

    t = depth_buf.ravel()
    hit_ids_flat = hit_ids.ravel()
    dir_x, dir_y, dir_z = (d.ravel() for d in dirs)
    hit_any = np.isfinite(t)
    # A closed room is hit everywhere in exact arithmetic, but a ray grazing an edge between two faces can
    # miss in float32 (a few pixels in some rooms): such pixels get invalid depth and finite colour.
    t_hit = np.where(hit_any, t, f32(0))
    points = (f32(ox) + t_hit * dir_x, f32(oy) + t_hit * dir_y, f32(oz) + t_hit * dir_z)
    inv_len = 1.0 / np.sqrt(dir_len2.ravel())

    buffers = SurfaceBuffers(t, (dir_x, dir_y, dir_z), inv_len, f32(1.0 / intr.fx))
    if scene.room is not None:
        shade_room(buffers, scene.room, hit_ids_flat, points)
    shade_objects(buffers, scene, hit_ids, rects, points)
    img = light_image(buffers, scene, points, object_corners, height, width, shadows)

    rng = np.random.default_rng(noise_seed)
    rgb = camera_response(img, scene.look, vignette_r2, height, width, rng)
    depth = np.where(hit_any & (t <= max_depth), t, f32(0)).astype(np.float32).reshape(height, width)
    if hole_fraction > 0:
        emissive = buffers.emission.reshape(3, height, width).sum(0) > 0
        depth = kinect_holes(depth, emissive, hole_fraction, rng)
    return rgb, depth
