"""Ray / primitive intersection, surface parametrisation and the primary (camera) ray cast.

Ray origins are scalars or arrays, directions arrays; intersection functions return the ray
parameter t of the nearest hit beyond `tmin`, inf for a miss.
"""

from __future__ import annotations

import functools
import math
from typing import Optional

import numpy as np

from depthnet.data.camera import Intrinsics
from depthnet.synthetic.noise import f32
from depthnet.synthetic.scene import EPS, NUM_ROOM_PLANES, Box, Cylinder, Primitive, Room, Scene, Sphere

PLANE_NORMALS = ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1))
"""Inward normal of each room plane 0..5."""


def hit_box(box: Box, ox, oy, oz, dx, dy, dz, tmin: float = EPS) -> np.ndarray:
    """Slab test in the box frame (the ray is rotated by -yaw)."""
    cos_yaw, sin_yaw = math.cos(box.yaw), math.sin(box.yaw)
    half_x, half_y, half_z = (0.5 * float(v) for v in box.size)
    px, py, pz = ox - box.center[0], oy - box.center[1], oz - box.center[2]
    if box.yaw == 0.0:
        local_ox, local_oy, local_dx, local_dy = px, py, dx, dy
    else:
        local_ox, local_oy = cos_yaw * px + sin_yaw * py, -sin_yaw * px + cos_yaw * py
        local_dx = f32(cos_yaw) * dx + f32(sin_yaw) * dy
        local_dy = f32(cos_yaw) * dy - f32(sin_yaw) * dx
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t_near = t_far = None
        for origin, direction, half in ((local_ox, local_dx, half_x), (local_oy, local_dy, half_y), (pz, dz, half_z)):
            inv = 1.0 / direction
            t_lo = (-half - origin) * inv
            t_hi = (half - origin) * inv
            near, far = np.minimum(t_lo, t_hi), np.maximum(t_lo, t_hi)
            t_near = near if t_near is None else np.maximum(t_near, near)
            t_far = far if t_far is None else np.minimum(t_far, far)
        return np.where((t_near <= t_far) & (t_near > tmin), t_near, np.float32(np.inf))


def hit_sphere(sphere: Sphere, ox, oy, oz, dx, dy, dz, dir_len2=None, tmin: float = EPS) -> np.ndarray:
    """Nearest ray/sphere hit; `dir_len2` (|d|^2) may be passed when precomputed."""
    px, py, pz = ox - sphere.center[0], oy - sphere.center[1], oz - sphere.center[2]
    a = dx * dx + dy * dy + dz * dz if dir_len2 is None else dir_len2
    b = px * dx + py * dy + pz * dz
    c = px * px + py * py + pz * pz - sphere.radius**2
    disc = b * b - a * c
    with np.errstate(invalid="ignore"):
        t = (-b - np.sqrt(disc)) / a
    return np.where((disc >= 0) & (t > tmin), t, np.float32(np.inf))


def hit_cylinder(cylinder: Cylinder, ox, oy, oz, dx, dy, dz, tmin: float = EPS) -> np.ndarray:
    """Nearest hit of the side or the caps of a vertical cylinder."""
    px, py = ox - cylinder.center[0], oy - cylinder.center[1]
    radius2 = cylinder.radius**2
    a = dx * dx + dy * dy
    b = px * dx + py * dy
    c = px * px + py * py - radius2
    disc = b * b - a * c
    inf = np.float32(np.inf)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        t_side = (-b - np.sqrt(disc)) / a
        z_side = oz + t_side * dz
        side = np.where((disc >= 0) & (t_side > tmin) & (z_side >= cylinder.z0) & (z_side <= cylinder.z1), t_side, inf)
        z_cap = np.where(dz < 0, f32(cylinder.z1), f32(cylinder.z0))
        t_cap = (z_cap - oz) / dz
        qx, qy = px + t_cap * dx, py + t_cap * dy
        cap = np.where((t_cap > tmin) & (qx * qx + qy * qy <= radius2), t_cap, inf)
    return np.minimum(side, cap)


def hit(prim: Primitive, ox, oy, oz, dx, dy, dz, tmin: float = EPS) -> np.ndarray:
    """Nearest hit of any primitive."""
    if isinstance(prim, Box):
        return hit_box(prim, ox, oy, oz, dx, dy, dz, tmin)
    if isinstance(prim, Sphere):
        return hit_sphere(prim, ox, oy, oz, dx, dy, dz, None, tmin)
    return hit_cylinder(prim, ox, oy, oz, dx, dy, dz, tmin)


def corners(prim: Primitive) -> np.ndarray:
    """8 corners of a bounding box of the primitive, [8, 3]."""
    if isinstance(prim, Box):
        cos_yaw, sin_yaw = math.cos(prim.yaw), math.sin(prim.yaw)
        half_x, half_y, half_z = (0.5 * v for v in prim.size)
        sx, sy, sz = np.meshgrid([-half_x, half_x], [-half_y, half_y], [-half_z, half_z], indexing="ij")
        sx, sy, sz = sx.ravel(), sy.ravel(), sz.ravel()
        x = prim.center[0] + cos_yaw * sx - sin_yaw * sy
        y = prim.center[1] + sin_yaw * sx + cos_yaw * sy
        return np.stack([x, y, prim.center[2] + sz], 1)
    if isinstance(prim, Sphere):
        lo, hi = np.array(prim.center) - prim.radius, np.array(prim.center) + prim.radius
    else:
        lo = np.array([prim.center[0] - prim.radius, prim.center[1] - prim.radius, prim.z0])
        hi = np.array([prim.center[0] + prim.radius, prim.center[1] + prim.radius, prim.z1])
    grid = np.meshgrid(*zip(lo, hi), indexing="ij")
    return np.stack([axis.ravel() for axis in grid], 1)


def _box_surface(box: Box, x, y, z):
    cos_yaw, sin_yaw = f32(math.cos(box.yaw)), f32(math.sin(box.yaw))
    half_x, half_y, half_z = (0.5 * v for v in box.size)
    px, py, pz = x - f32(box.center[0]), y - f32(box.center[1]), z - f32(box.center[2])
    local_x, local_y = cos_yaw * px + sin_yaw * py, cos_yaw * py - sin_yaw * px
    qx, qy, qz = np.abs(local_x) / f32(half_x), np.abs(local_y) / f32(half_y), np.abs(pz) / f32(half_z)
    on_x = (qx >= qy) & (qx >= qz)
    on_y = ~on_x & (qy >= qz)
    on_z = ~on_x & ~on_y
    normal_lx = np.where(on_x, np.sign(local_x), f32(0))
    normal_ly = np.where(on_y, np.sign(local_y), f32(0))
    nz = np.where(on_z, np.sign(pz), f32(0))
    nx, ny = cos_yaw * normal_lx - sin_yaw * normal_ly, sin_yaw * normal_lx + cos_yaw * normal_ly
    s = np.where(on_x, local_y + f32(half_y), local_x + f32(half_x))
    t = np.where(on_z, local_y + f32(half_y), pz + f32(half_z))
    # offset each face's pattern so adjacent faces do not line up artificially
    s = s + np.where(on_x, f32(3.1), np.where(on_y, f32(7.7), f32(0.0)))
    front = on_y & (local_y > 0) if box.front is not None else None
    return (nx, ny, nz), s, t, front


def _sphere_surface(sphere: Sphere, x, y, z):
    inv_radius = f32(1.0 / sphere.radius)
    nx = (x - f32(sphere.center[0])) * inv_radius
    ny = (y - f32(sphere.center[1])) * inv_radius
    nz = (z - f32(sphere.center[2])) * inv_radius
    s = np.arctan2(ny, nx) * f32(sphere.radius)
    return (nx, ny, nz), s, z, None


def _cylinder_surface(cylinder: Cylinder, x, y, z):
    px, py = x - f32(cylinder.center[0]), y - f32(cylinder.center[1])
    radial2 = px * px + py * py
    on_cap = radial2 < f32((cylinder.radius * 0.999) ** 2)
    inv_radius = f32(1.0 / cylinder.radius)
    top = z > f32(0.5 * (cylinder.z0 + cylinder.z1))
    nx = np.where(on_cap, f32(0), px * inv_radius)
    ny = np.where(on_cap, f32(0), py * inv_radius)
    nz = np.where(on_cap, np.where(top, f32(1), f32(-1)), f32(0))
    s = np.where(on_cap, px, np.arctan2(py, px) * f32(cylinder.radius))
    t = np.where(on_cap, py, z)
    return (nx, ny, nz), s, t, None


def surface(prim: Primitive, x, y, z):
    """Normal (3 arrays), surface coords (s, t) and mask of the `front` face (boxes, else None) at hit points."""
    if isinstance(prim, Box):
        return _box_surface(prim, x, y, z)
    if isinstance(prim, Sphere):
        return _sphere_surface(prim, x, y, z)
    return _cylinder_surface(prim, x, y, z)


@functools.lru_cache(maxsize=8)
def pixel_grid(intr: Intrinsics) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Normalised image coords xn [W], yn [H], |(xn, yn, 1)|^2 [H, W] and the vignetting r^2 [H, W]."""
    xn = ((np.arange(intr.width) - intr.cx) / intr.fx).astype(np.float32)
    yn = ((np.arange(intr.height) - intr.cy) / intr.fy).astype(np.float32)
    dir_len2 = (1.0 + xn[None, :] ** 2 + yn[:, None] ** 2).astype(np.float32)
    radius2 = (np.arange(intr.width)[None, :] - intr.width / 2 + 0.5) ** 2 + (
        np.arange(intr.height)[:, None] - intr.height / 2 + 0.5
    ) ** 2
    radius2 = (radius2 / ((intr.width / 2) ** 2 + (intr.height / 2) ** 2)).astype(np.float32)
    return xn, yn, dir_len2, radius2


def screen_rect(box_corners: np.ndarray, cam_pos: np.ndarray, rot: np.ndarray, intr: Intrinsics):
    """Pixel rectangle (v0, v1, u0, u1) that contains the image of a primitive's bounding corners, or None."""
    cam = (box_corners - cam_pos) @ rot
    z = cam[:, 2]
    height, width = intr.height, intr.width
    if np.all(z <= 1e-6):
        return None
    if np.any(z < 1e-2):
        return (0, height, 0, width)
    u = intr.fx * cam[:, 0] / z + intr.cx
    v = intr.fy * cam[:, 1] / z + intr.cy
    u0, u1 = max(0, int(math.floor(u.min())) - 1), min(width, int(math.ceil(u.max())) + 2)
    v0, v1 = max(0, int(math.floor(v.min())) - 1), min(height, int(math.ceil(v.max())) + 2)
    if u0 >= u1 or v0 >= v1:
        return None
    return (v0, v1, u0, u1)


def room_hit(room: Room, origin: np.ndarray, dx, dy, dz):
    """Exit distance from inside the room box and the plane index hit (0..5)."""
    t_best = None
    plane_ids = None
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis, (direction, limit) in enumerate(zip((dx, dy, dz), room.size)):
            positive = direction > 0
            t = np.where(positive, f32(float(limit) - origin[axis]), f32(-origin[axis])) / direction
            plane = (2 * axis + positive).astype(np.int16)
            if t_best is None:
                t_best, plane_ids = t, plane
            else:
                nearer = t < t_best
                t_best = np.where(nearer, t, t_best)
                plane_ids = np.where(nearer, plane, plane_ids)
    return t_best, plane_ids


def plane_coords(plane: int, x, y, z):
    """Surface coordinates (s, t) of points on room plane `plane` (see :class:`Decal`)."""
    if plane < 2:
        return y, z
    if plane < 4:
        return x, z
    return x, y


def cast(scene: Scene, intr: Intrinsics, object_corners: Optional[list[np.ndarray]] = None):
    """Primary visibility: nearest-hit depth [H, W], hit ids [H, W] (0..5 room planes, 6 + k object k,
    -1 nothing), world ray directions (camera-z component 1, so t is the camera-axis depth), and the
    per-object screen rectangles and bounding corners."""
    xn, yn, dir_len2, _ = pixel_grid(intr)
    height, width = intr.height, intr.width
    rot = scene.camera.rotation()
    cam = np.asarray(scene.camera.position, np.float64)
    rot32 = rot.astype(np.float32)
    dir_x = rot32[0, 0] * xn[None, :] + (rot32[0, 1] * yn[:, None] + rot32[0, 2])
    dir_y = rot32[1, 0] * xn[None, :] + (rot32[1, 1] * yn[:, None] + rot32[1, 2])
    dir_z = rot32[2, 0] * xn[None, :] + (rot32[2, 1] * yn[:, None] + rot32[2, 2])
    ox, oy, oz = (float(c) for c in cam)
    if scene.room is not None:
        depth, hit_ids = room_hit(scene.room, cam, dir_x, dir_y, dir_z)
    else:
        depth = np.full((height, width), np.inf, np.float32)
        hit_ids = np.full((height, width), -1, np.int16)
    rects = []
    if object_corners is None:
        object_corners = [corners(p) for p in scene.objects]
    for k, prim in enumerate(scene.objects):
        rect = screen_rect(object_corners[k], cam, rot, intr)
        rects.append(rect)
        if rect is None:
            continue
        window = (slice(rect[0], rect[1]), slice(rect[2], rect[3]))
        rays = (dir_x[window], dir_y[window], dir_z[window])
        if isinstance(prim, Sphere):
            t = hit_sphere(prim, ox, oy, oz, *rays, dir_len2[window])
        else:
            t = hit(prim, ox, oy, oz, *rays)
        nearer = t < depth[window]
        np.copyto(depth[window], t, where=nearer)
        np.copyto(hit_ids[window], np.int16(NUM_ROOM_PLANES + k), where=nearer)
    return depth, hit_ids, (dir_x, dir_y, dir_z), rects, object_corners
