"""Lighting of the shaded surfaces: hemispheric ambient, Lambertian point lights with distance falloff,
ray-cast shadows (traced at half resolution) and Blinn-Phong highlights; plus the [1, 2, 1] blur."""

from __future__ import annotations

import functools
import math

import numpy as np

from depthnet.synthetic.noise import f32
from depthnet.synthetic.raycast import hit
from depthnet.synthetic.scene import Light, Scene
from depthnet.synthetic.shading import SurfaceBuffers


def blur121(img: np.ndarray) -> np.ndarray:
    """Separable [1, 2, 1] / 4 blur of a [C, H, W] float32 image (edges: same kernel, clamped)."""
    channels, height, width = img.shape
    flat = img.reshape(-1)
    tmp = np.empty_like(flat)
    np.add(flat[:-2], flat[2:], out=tmp[1:-1])
    tmp[1:-1] += flat[1:-1] * f32(2)
    tmp3 = tmp.reshape(channels, height, width)
    tmp3[:, :, 0] = img[:, :, 0] * 3 + img[:, :, 1]
    tmp3[:, :, -1] = img[:, :, -1] * 3 + img[:, :, -2]
    out = np.empty_like(flat)
    np.add(tmp[: -2 * width], tmp[2 * width :], out=out[width:-width])
    out[width:-width] += tmp[width:-width] * f32(2)
    out3 = out.reshape(channels, height, width)
    out3[:, 0] = tmp3[:, 0] * 3 + tmp3[:, 1]
    out3[:, -1] = tmp3[:, -1] * 3 + tmp3[:, -2]
    out *= f32(1 / 16)
    return out3


@functools.lru_cache(maxsize=8)
def half_grid(height: int, width: int) -> np.ndarray:
    """Flat indices of the pixels on even rows and columns."""
    return (np.arange(0, height, 2)[:, None] * width + np.arange(0, width, 2)[None, :]).ravel()


def shadow_groups(scene: Scene, object_corners: list[np.ndarray]) -> list[tuple]:
    """Bounding spheres (group id, centre, radius, object indices) of the scene's object groups;
    an object without a group (group < 0) is a group of its own."""
    groups: dict[int, list[int]] = {}
    for k, prim in enumerate(scene.objects):
        groups.setdefault(prim.group if prim.group >= 0 else -1 - k, []).append(k)
    spheres = []
    for group_id, members in groups.items():
        pts = np.concatenate([object_corners[k] for k in members])
        center = 0.5 * (pts.min(0) + pts.max(0))
        spheres.append((group_id, center, float(np.sqrt(((pts - center) ** 2).sum(1).max())), members))
    return spheres


def _upsample_visibility(vis: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear 2x upsampling of half-resolution samples (even pixels are the samples, odd ones the mean
    of their neighbours), then a [1, 2, 1] blur; flat [H * W]."""
    half_h, half_w = (height + 1) // 2, (width + 1) // 2
    samples = vis.reshape(half_h, half_w)
    full = np.empty((2 * half_h, 2 * half_w), np.float32)
    full[0::2, 0::2] = samples
    full[0::2, 1:-1:2] = 0.5 * (samples[:, :-1] + samples[:, 1:])
    full[0::2, -1] = samples[:, -1]
    full[1:-1:2] = 0.5 * (full[0:-2:2] + full[2::2])
    full[-1] = full[-2]
    full = full[:height, :width]
    if height > 2 and width > 2:
        full = blur121(np.ascontiguousarray(full)[None])[0]
    return full.reshape(-1)


def shadow_half_res(scene, spheres, light: Light, half, height, width, points, normals, light_dirs, dist2, n_dot_l):
    """Visibility of `light` in [0, 1] per pixel: shadow rays cast at every other row and column, then
    bilinearly upsampled and [1, 2, 1]-blurred, which gives hard shadows a ~2-pixel soft edge."""
    light_pos = np.asarray(light.position, np.float64)
    half_lx, half_ly, half_lz = (a[half] for a in light_dirs)
    half_dist = np.sqrt(dist2[half])
    lit = n_dot_l[half] > 0
    vis = np.ones(half.size, np.float32)
    for group_id, center, radius, members in spheres:
        if group_id == light.exclude_group:
            continue
        to_center = center - light_pos
        center_dist = float(np.linalg.norm(to_center))
        if center_dist <= radius:
            candidates = lit
        else:
            axis = to_center / center_dist
            cos_cone = math.sqrt(max(0.0, 1 - (radius / center_dist) ** 2))
            cos_angle = half_lx * f32(-axis[0]) + half_ly * f32(-axis[1]) + half_lz * f32(-axis[2])
            candidates = lit & (cos_angle > f32(cos_cone)) & (half_dist > f32(center_dist - radius))
        cand_idx = np.flatnonzero(candidates)
        if cand_idx.size == 0:
            continue
        pix = half[cand_idx]
        # segment from the surface point (nudged along its normal) to the light: blocked if t in (0, 1)
        sx, sy, sz = (p[pix] + n[pix] * f32(2e-3) for p, n in zip(points, normals))
        seg_x, seg_y, seg_z = f32(light_pos[0]) - sx, f32(light_pos[1]) - sy, f32(light_pos[2]) - sz
        blocked = np.zeros(cand_idx.size, bool)
        for k in members:
            blocked |= hit(scene.objects[k], sx, sy, sz, seg_x, seg_y, seg_z, 1e-5) < 1.0
        vis[cand_idx[blocked]] = 0.0
    return _upsample_visibility(vis, height, width)


def _specular(buffers: SurfaceBuffers, spec_idx, light_dirs, n_dot_l, irradiance) -> np.ndarray:
    """Blinn-Phong highlight (exponent 32) of one light at the glossy pixels `spec_idx`."""
    i = spec_idx
    light_x, light_y, light_z = light_dirs
    nx, ny, nz = buffers.normals
    dir_x, dir_y, dir_z = buffers.dirs
    inv_len = buffers.inv_len[i]
    hx, hy, hz = light_x[i] - dir_x[i] * inv_len, light_y[i] - dir_y[i] * inv_len, light_z[i] - dir_z[i] * inv_len
    inv_half_len = 1 / np.sqrt(hx * hx + hy * hy + hz * hz + f32(1e-12))
    n_dot_h = np.maximum((nx[i] * hx + ny[i] * hy + nz[i] * hz) * inv_half_len, 0)
    for _ in range(5):  # ^32
        n_dot_h *= n_dot_h
    return n_dot_h * buffers.gloss[i] * (irradiance[i] / np.maximum(n_dot_l[i], f32(1e-3))) * (n_dot_l[i] > 0)


def light_image(buffers: SurfaceBuffers, scene: Scene, points, object_corners, height: int, width: int, shadows: bool):
    """Linear-space radiance [3, N]: albedo (squared ~ sRGB decode) x irradiance x occlusion, plus
    highlights and emission. Overwrites `buffers.albedo`."""
    n = height * width
    albedo = buffers.albedo
    albedo *= albedo
    nx, ny, nz = buffers.normals
    hemi = 1 + f32(scene.hemisphere) * nz
    irr = [np.full(n, f32(a)) * hemi for a in scene.ambient]
    spec_idx = np.flatnonzero(buffers.gloss > 0)
    spec = np.zeros((3, spec_idx.size), np.float32)
    spheres = shadow_groups(scene, object_corners)
    half = half_grid(height, width) if shadows and spheres else None
    points_x, points_y, points_z = points
    for light in scene.lights:
        light_pos = [float(v) for v in light.position]
        lx, ly, lz = f32(light_pos[0]) - points_x, f32(light_pos[1]) - points_y, f32(light_pos[2]) - points_z
        dist2 = lx * lx + ly * ly + lz * lz
        inv = 1 / np.sqrt(dist2)
        lx *= inv
        ly *= inv
        lz *= inv
        n_dot_l = nx * lx + ny * ly + nz * lz
        power = f32(light.intensity) * ((1 - f32(light.downward)) + f32(light.downward) * np.maximum(lz, 0))
        irradiance = np.maximum(n_dot_l, 0) * power / (dist2 + f32(0.25))
        if half is not None:
            normals = (nx, ny, nz)
            irradiance *= shadow_half_res(
                scene, spheres, light, half, height, width, points, normals, (lx, ly, lz), dist2, n_dot_l
            )
        for c in range(3):
            irr[c] += irradiance * f32(light.color[c])
        if spec_idx.size:
            highlight = _specular(buffers, spec_idx, (lx, ly, lz), n_dot_l, irradiance)
            for c in range(3):
                spec[c] += highlight * f32(light.color[c])
    img = albedo
    for c in range(3):
        img[c] *= irr[c]
        img[c] *= buffers.occlusion
    if spec_idx.size:
        img[:, spec_idx] += spec
    if buffers.any_emission:
        img += buffers.emission
    return img
