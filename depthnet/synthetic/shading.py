"""Surface attributes of the visible points: albedo, normals, emission, gloss and ambient occlusion.

Fills per-pixel buffers from the primary cast: room planes (with their decals and corner occlusion)
and furniture primitives (with `front` faces), texturing each with its prefiltered material.
"""

from __future__ import annotations

import numpy as np

from depthnet.synthetic.noise import f32
from depthnet.synthetic.raycast import PLANE_NORMALS, plane_coords, surface
from depthnet.synthetic.scene import CEILING, FLOOR, NUM_ROOM_PLANES, Material, Room, Scene
from depthnet.synthetic.textures import texture


class SurfaceBuffers:
    """Flat per-pixel buffers ([3, N] or [N]) of the surfaces seen through each pixel.

    `depth` is the hit parameter per pixel, `dirs` the world ray directions (camera-z = 1), `inv_len`
    1 / |dir| and `footprint_scale` the pixel size at unit depth (1 / fx): together they give each
    point's footprint on its surface for texture prefiltering.
    """

    def __init__(self, depth: np.ndarray, dirs, inv_len: np.ndarray, footprint_scale: np.float32):
        n = depth.shape[0]
        self.depth, self.dirs, self.inv_len, self.footprint_scale = depth, dirs, inv_len, footprint_scale
        self.albedo = np.zeros((3, n), np.float32)
        self.normals = np.zeros((3, n), np.float32)
        self.emission = np.zeros((3, n), np.float32)
        self.gloss = np.zeros(n, np.float32)
        self.occlusion = np.ones(n, np.float32)
        self.any_emission = False

    def shade(self, idx: np.ndarray, normal, s, tcoord, mat: Material, size=None) -> None:
        """Textures pixels `idx` (normal and surface coords given per pixel) with `mat`."""
        nx, ny, nz = normal
        dir_x, dir_y, dir_z = self.dirs
        inv_len = self.inv_len[idx]
        cos_incidence = np.abs(nx * dir_x[idx] + ny * dir_y[idx] + nz * dir_z[idx]) * inv_len
        footprint = self.depth[idx] * self.footprint_scale / (inv_len * np.maximum(cos_incidence, f32(0.15)))
        rgb, emission = texture(mat, s, tcoord, footprint, size)
        for c in range(3):
            self.albedo[c, idx] = rgb[c]
        if emission is not None:
            self.any_emission = True
            for c in range(3):
                self.emission[c, idx] = emission[c]
        if mat.gloss:
            self.gloss[idx] = mat.gloss


def _plane_material(room: Room, plane: int) -> Material:
    if plane == FLOOR:
        return room.floor
    if plane == CEILING:
        return room.ceiling
    return room.walls[plane]


def _corner_occlusion(plane: int, room_size, x, y, z) -> np.ndarray:
    """Ambient occlusion towards the room's edges (distance to the two nearest perpendicular planes)."""
    dist = []
    for axis, (coord, limit) in enumerate(((x, room_size[0]), (y, room_size[1]), (z, room_size[2]))):
        if axis != plane // 2:
            dist.append(np.minimum(coord, f32(limit) - coord))
    return (1 - f32(0.35) * np.exp(-dist[0] * f32(4.0))) * (1 - f32(0.35) * np.exp(-dist[1] * f32(4.0)))


def shade_room(buffers: SurfaceBuffers, room: Room, hit_ids: np.ndarray, points) -> None:
    """Shades the pixels that see a room plane, then the decals on it in order (later ones on top)."""
    room_size = tuple(float(v) for v in room.size)
    points_x, points_y, points_z = points
    for plane in range(NUM_ROOM_PLANES):
        idx = np.flatnonzero(hit_ids == plane)
        if idx.size == 0:
            continue
        x, y, z = points_x[idx], points_y[idx], points_z[idx]
        plane_normal = PLANE_NORMALS[plane]
        normal = tuple(np.full(idx.size, f32(c)) for c in plane_normal)
        for c in range(3):
            buffers.normals[c, idx] = plane_normal[c]
        s, tcoord = plane_coords(plane, x, y, z)
        buffers.shade(idx, normal, s, tcoord, _plane_material(room, plane))
        for decal in room.decals:
            if decal.plane != plane:
                continue
            s0, t0, s1, t1 = decal.rect
            inside = (s >= s0) & (s < s1) & (tcoord >= t0) & (tcoord < t1)
            if not inside.any():
                continue
            sub = np.flatnonzero(inside)
            sub_normal = tuple(n[sub] for n in normal)
            sub_s, sub_t = s[sub] - f32(s0), tcoord[sub] - f32(t0)
            buffers.shade(idx[sub], sub_normal, sub_s, sub_t, decal.material, (s1 - s0, t1 - t0))
        buffers.occlusion[idx] = _corner_occlusion(plane, room_size, x, y, z)


def shade_objects(buffers: SurfaceBuffers, scene: Scene, hit_ids: np.ndarray, rects, points) -> None:
    """Shades the pixels that see each object (inside its screen rectangle); box `front` faces separately."""
    width = hit_ids.shape[1]
    points_x, points_y, points_z = points
    for k, prim in enumerate(scene.objects):
        rect = rects[k]
        if rect is None:
            continue
        rows, cols = np.nonzero(hit_ids[rect[0] : rect[1], rect[2] : rect[3]] == NUM_ROOM_PLANES + k)
        if rows.size == 0:
            continue
        idx = (rows + rect[0]) * width + (cols + rect[2])
        normal, s, tcoord, front = surface(prim, points_x[idx], points_y[idx], points_z[idx])
        for c in range(3):
            buffers.normals[c, idx] = normal[c]
        if front is not None and front.any():
            back = ~front
            if back.any():
                b = np.flatnonzero(back)
                buffers.shade(idx[b], tuple(n[b] for n in normal), s[b], tcoord[b], prim.material)
            f = np.flatnonzero(front)
            front_size = (prim.size[0], prim.size[2])
            buffers.shade(idx[f], tuple(n[f] for n in normal), s[f] - f32(7.7), tcoord[f], prim.front, front_size)
        else:
            buffers.shade(idx, normal, s, tcoord, prim.material)
