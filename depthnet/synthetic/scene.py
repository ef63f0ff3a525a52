"""Scene description: materials, primitives, room, lights, camera, camera response and constants.

World frame in metres, right-handed, ``x`` and ``y`` horizontal, ``z`` up; the floor is ``z = 0``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Union

import numpy as np

from depthnet.data.camera import Intrinsics

Vec3 = tuple[float, float, float]

DEFAULT_MAX_DEPTH = 10.0
"""Depths beyond this many metres are returned as 0 (invalid), like NYU's 10 m cap."""

DEFAULT_FRAMES_PER_SCENE = 4
"""Views rendered per random room by :func:`iter_frames` (same room, slightly moved camera)."""

# Room planes: index -> (axis, at max side). 0: x=0, 1: x=W, 2: y=0, 3: y=D, 4: floor z=0, 5: ceiling z=H.
FLOOR, CEILING = 4, 5
NUM_ROOM_PLANES = 6
"""Hit ids 0..5 are the room planes; object k of a scene has hit id ``NUM_ROOM_PLANES + k``."""
EPS = 1e-4
"""Smallest ray parameter counted as a hit (avoids self-intersection)."""


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
        cos_pitch, sin_pitch = math.cos(self.pitch), math.sin(self.pitch)
        cos_yaw, sin_yaw = math.cos(self.yaw), math.sin(self.yaw)
        forward = np.array([sin_yaw * cos_pitch, cos_yaw * cos_pitch, sin_pitch])
        right = np.array([cos_yaw, -sin_yaw, 0.0])  # normalize(cross(forward, z_up))
        down = np.cross(forward, right)
        cos_roll, sin_roll = math.cos(self.roll), math.sin(self.roll)
        return np.stack([cos_roll * right + sin_roll * down, -sin_roll * right + cos_roll * down, forward], axis=1)

    def project(self, points: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
        """World points [..., 3] -> [..., 3] array of (u, v, depth) in pixels / metres."""
        cam = (np.asarray(points, np.float64) - np.asarray(self.position)) @ self.rotation()
        z = cam[..., 2]
        u = intrinsics.fx * cam[..., 0] / z + intrinsics.cx
        v = intrinsics.fy * cam[..., 1] / z + intrinsics.cy
        return np.stack([u, v, z], -1)


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


def seed_of(*keys: int) -> int:
    """A 63-bit seed derived deterministically from integer keys."""
    a, b = np.random.SeedSequence([int(k) & 0xFFFFFFFFFFFFFFFF for k in keys]).generate_state(2, np.uint32)
    return (int(a) << 31) ^ int(b)
