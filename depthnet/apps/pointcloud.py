"""Back-projection of a depth map to a coloured 3D point cloud and binary PLY output.

Convention (camera frame, metres): x right, y down, z forward (optical axis), pixel (u=column, v=row) has its centre
at integer coordinates with (0, 0) the centre of the top-left pixel (the convention of ``Intrinsics.scaled``):

    X = (u - cx) * Z / fx,   Y = (v - cy) * Z / fy,   Z = depth[v, u]

This is the NYU Depth V2 toolbox's ``rgb_plane2rgb_world`` / ``depth_plane2depth_world`` formula, except that
(1) the toolbox's ``rgb_plane2rgb_world`` returns ``-Y`` (y up) while we keep y down (OpenCV/Open3D convention;
flip y yourself for a y-up viewer), (2) the toolbox's MATLAB ``meshgrid(1:640, 1:480)`` counts pixels from 1, and
(3) the toolbox lists points column-major (MATLAB ``X(:)``) while we list them row-major (``depth[valid]`` order).
"""

from __future__ import annotations

import os

import numpy as np

from depthnet.apps.imageio import atomic_write
from depthnet.data.camera import Intrinsics


def backproject(
    depth: np.ndarray, intrinsics: Intrinsics, rgb: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """3D points (N x 3 float32, metres) and colours (N x 3 uint8 or None) of the valid pixels, row-major order.

    Valid pixels have a finite depth > 0. If ``depth`` is not ``intrinsics.height x intrinsics.width`` the intrinsics
    are rescaled with ``Intrinsics.scaled`` (the depth map is assumed to be a resized version of the full frame, not a
    crop). ``rgb`` must have the depth map's height and width.
    """
    depth = np.asarray(depth)
    if depth.ndim == 3 and depth.shape[2] == 1:
        depth = depth[..., 0]
    if depth.ndim != 2:
        raise ValueError(f"depth must be an H x W array in metres, got shape {depth.shape}")
    h, w = depth.shape
    if (intrinsics.height, intrinsics.width) != (h, w):
        intrinsics = intrinsics.scaled(h, w)
    depth = depth.astype(np.float64)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(depth) & (depth > 0)
    v, u = np.nonzero(valid)  # row-major order
    z = depth[v, u]
    points = np.empty((z.size, 3), np.float32)
    points[:, 0] = (u - intrinsics.cx) * z / intrinsics.fx
    points[:, 1] = (v - intrinsics.cy) * z / intrinsics.fy
    points[:, 2] = z
    colors = None
    if rgb is not None:
        rgb = np.asarray(rgb)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"rgb must be uint8 H x W x 3, got {rgb.dtype} {rgb.shape}")
        if rgb.shape[:2] != (h, w):
            raise ValueError(
                f"rgb is {rgb.shape[0]}x{rgb.shape[1]} but depth is {h}x{w}; resize the image to the depth map's size "
                "(e.g. PIL Image.resize((w, h))) before back-projecting"
            )
        colors = np.ascontiguousarray(rgb[v, u])
    return points, colors


def ply_header(num_vertices: int, with_colors: bool, comment: str | None = None) -> bytes:
    """The ASCII header of a binary little-endian PLY with float x, y, z (+ uchar red, green, blue)."""
    lines = ["ply", "format binary_little_endian 1.0"]
    if comment:
        lines += [f"comment {line}" for line in comment.splitlines()]
    lines += [f"element vertex {int(num_vertices)}", "property float x", "property float y", "property float z"]
    if with_colors:
        lines += ["property uchar red", "property uchar green", "property uchar blue"]
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii")


def write_ply(
    path: str | os.PathLike,
    points: np.ndarray,
    colors: np.ndarray | None = None,
    comment: str | None = "DepthNet point cloud, metres, camera frame x right y down z forward",
) -> None:
    """Write points (N x 3, metres) and optional colours (N x 3 uint8) as a binary little-endian PLY, atomically.

    Readable by plyfile, Open3D, MeshLab and CloudCompare. Raises ``ValueError`` for wrong shapes or non-finite points.
    """
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points must be N x 3, got shape {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("points contain NaN or inf; drop invalid pixels first (backproject() does)")
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if colors is not None:
        colors = np.asarray(colors)
        if colors.shape != points.shape or colors.dtype != np.uint8:
            raise ValueError(
                f"colors must be uint8 N x 3 matching points {points.shape}, got {colors.dtype} {colors.shape}"
            )
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    vertices = np.empty(points.shape[0], dtype=np.dtype(fields))
    vertices["x"], vertices["y"], vertices["z"] = points[:, 0], points[:, 1], points[:, 2]
    if colors is not None:
        vertices["red"], vertices["green"], vertices["blue"] = colors[:, 0], colors[:, 1], colors[:, 2]
    with atomic_write(path) as f:
        f.write(ply_header(points.shape[0], colors is not None, comment))
        f.write(vertices.tobytes())
