"""Random scenes by seed: room, furniture placement, camera choice and camera response; further views
of the same room; and rendering them as :class:`~depthnet.data.frame.Frame` streams."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from typing import Optional

import numpy as np

from depthnet.data.camera import NYU_INTRINSICS, Intrinsics
from depthnet.data.frame import Frame
from depthnet.synthetic.furniture import Item, add_clutter, make_item, rotate2d
from depthnet.synthetic.palette import Palette, hsv
from depthnet.synthetic.raycast import cast, corners
from depthnet.synthetic.render import render
from depthnet.synthetic.rooms import ceiling_lights, room_decals, room_materials, room_size, wall_lengths
from depthnet.synthetic.scene import (
    DEFAULT_FRAMES_PER_SCENE,
    DEFAULT_MAX_DEPTH,
    NUM_ROOM_PLANES,
    Camera,
    Light,
    Look,
    Primitive,
    Room,
    Scene,
    Vec3,
    seed_of,
)

PROBE_INTRINSICS = NYU_INTRINSICS.scaled(24, 32)
"""Depth probe used to choose camera views."""

WALL_ITEMS = (
    "cabinet",
    "wardrobe",
    "tv_stand",
    "bookshelf",
    "bed",
    "sofa",
    "counter",
    "fridge",
    "table",
    "plant",
    "floor_lamp",
    "bin",
    "boxes",
)
WALL_ITEM_WEIGHTS = (0.14, 0.07, 0.07, 0.12, 0.08, 0.09, 0.07, 0.04, 0.12, 0.06, 0.04, 0.05, 0.05)
FREE_ITEMS = ("table", "round_table", "chair", "ball", "plant", "bin", "boxes", "pillar")
FREE_ITEM_WEIGHTS = (0.25, 0.1, 0.3, 0.08, 0.08, 0.07, 0.1, 0.02)

Rect = tuple[float, float, float, float]


def _overlaps(a: Rect, b: Rect, margin: float = 0.05) -> bool:
    return not (a[2] + margin <= b[0] or b[2] + margin <= a[0] or a[3] + margin <= b[1] or b[3] + margin <= a[1])


def _rect_distance(rect: Rect, x: float, y: float) -> float:
    dx = max(rect[0] - x, 0.0, x - rect[2])
    dy = max(rect[1] - y, 0.0, y - rect[3])
    return math.hypot(dx, dy)


def _find_spot(item: Item, palette: Palette, size: Vec3, along_wall: bool, rects) -> Optional[tuple[float, ...]]:
    """(x, y, yaw) where `item` fits inside the room without overlapping `rects`; None after 12 tries."""
    u, rng = palette.uniform, palette.rng
    width, depth, _ = size
    lengths = wall_lengths(size)
    for _try in range(12):
        if along_wall:
            plane = int(rng.integers(0, 4))
            length = lengths[plane]
            if item.width > length - 0.2:
                continue
            a = u(item.width / 2 + 0.05, length - item.width / 2 - 0.05)
            gap = u(0.0, 0.05)
            spots = [(gap, a, -math.pi / 2), (width - gap, a, math.pi / 2), (a, gap, 0.0), (a, depth - gap, math.pi)]
            ox, oy, yaw = spots[plane]
        else:
            yaw = u(-math.pi, math.pi)
            ox, oy = u(0.3, width - 0.3), u(0.3, depth - 0.3)
        fp = item.footprint(ox, oy, yaw)
        if fp[0] < -0.01 or fp[1] < -0.01 or fp[2] > width + 0.01 or fp[3] > depth + 0.01:
            continue
        if any(_overlaps(fp, r) for r, _ in rects):
            continue
        return ox, oy, yaw
    return None


FURNITURE_COUNT = (2.0, 1.0 / 7.0, 2, 10)
"""Pieces of furniture per room: Poisson(base + floor area x per_m2), clipped to lo..hi."""
CLUTTER_COUNT_P = (0.5, 0.3, 0.2)
"""Probabilities of 0, 1, 2 small objects on each furniture top."""


def _furnish(palette: Palette, size: Vec3, lights: list[Light]) -> tuple[list[Primitive], list[tuple[Rect, float]]]:
    """Places FURNITURE_COUNT items (more in larger rooms), with clutter on their tops; appends lamp bulbs to `lights`.
    Returns the primitives and the (footprint, height) of every placed item."""
    rng = palette.rng
    width, depth, height = size
    objects: list[Primitive] = []
    rects: list[tuple[Rect, float]] = []
    base, per_m2, lo, hi = FURNITURE_COUNT
    n_items = int(np.clip(rng.poisson(base + width * depth * per_m2), lo, hi))
    group = 0
    for _ in range(n_items):
        along_wall = rng.random() < 0.65
        if along_wall:
            kind = palette.pick(WALL_ITEMS, np.array(WALL_ITEM_WEIGHTS) / sum(WALL_ITEM_WEIGHTS))
        else:
            kind = palette.pick(FREE_ITEMS, np.array(FREE_ITEM_WEIGHTS) / sum(FREE_ITEM_WEIGHTS))
        item = make_item(kind, palette, size)
        spot = _find_spot(item, palette, size, along_wall, rects)
        if spot is None:
            continue
        ox, oy, yaw = spot
        rects.append((item.footprint(ox, oy, yaw), item.height))
        for x0, y0, x1, y1, z in item.tops:
            add_clutter(item, palette, x0, y0, x1, y1, z, int(rng.choice(len(CLUTTER_COUNT_P), p=CLUTTER_COUNT_P)))
        objects.extend(item.place(ox, oy, yaw, group))
        for (lx, ly, lz), intensity in item.lights:
            dx, dy = rotate2d(yaw, lx, ly)
            lights.append(Light((ox + dx, oy + dy, min(lz, height - 0.05)), (1.0, 0.85, 0.65), intensity, 0.0, group))
        group += 1
    return objects, rects


CAMERA_HEIGHT = (1.2, 1.6)
"""Camera height range (m): a hand-held Kinect at chest height, as in NYU Depth V2."""
CAMERA_PITCH_DEG = (-10.0, 5.0, -25.0, 0.0)
"""Camera pitch (degrees; mean, sd, clipped to lo..hi): NYU's views look slightly down at the room."""


def _candidate_camera(palette: Palette, size: Vec3, rects) -> Optional[Camera]:
    """A free spot >= 0.45 m from the walls and >= 0.6 m from furniture, at CAMERA_HEIGHT, turned (jittered)
    towards a piece of furniture or a random point >= 0.8 m away, pitched by CAMERA_PITCH_DEG; None if the
    draw does not qualify."""
    u, rng = palette.uniform, palette.rng
    width, depth, _ = size
    cam_x, cam_y = u(0.45, width - 0.45), u(0.45, depth - 0.45)
    if any(_rect_distance(r, cam_x, cam_y) < 0.6 for r, _ in rects):
        return None
    if rects and rng.random() < 0.6:
        r, top = rects[int(rng.integers(0, len(rects)))]
        target = (0.5 * (r[0] + r[2]), 0.5 * (r[1] + r[3]), u(0.2, max(0.3, min(top, 1.2))))
    else:
        target = (u(0.2, width - 0.2), u(0.2, depth - 0.2), u(0.0, 1.4))
    dist = math.hypot(target[0] - cam_x, target[1] - cam_y)
    if dist < 0.8:
        return None
    cam_z = u(*CAMERA_HEIGHT)
    yaw = math.atan2(target[0] - cam_x, target[1] - cam_y) + float(rng.normal(0, 0.15))
    mean, sd, lo, hi = CAMERA_PITCH_DEG
    pitch = math.radians(float(np.clip(rng.normal(mean, sd), lo, hi)))
    roll = float(np.clip(rng.normal(0, 0.035), -0.09, 0.09))
    return Camera((cam_x, cam_y, cam_z), yaw, pitch, roll)


def _view_score(depth: np.ndarray, hit_ids: np.ndarray) -> float:
    """Higher for probes that look like a room view: not blocked, some furniture and depth range."""
    median = float(np.median(depth))
    furniture = float(np.mean(hit_ids >= NUM_ROOM_PLANES))
    spread = float(np.percentile(depth, 90) - np.percentile(depth, 10))
    near = float(np.mean(depth < 0.8))
    return min(median, 3.0) + 0.5 * min(spread, 2.5) + 3.0 * min(furniture, 0.35) - 6.0 * near


def _choose_camera(palette: Palette, room: Room, objects: list[Primitive], rects) -> Camera:
    """Of up to 6 qualifying candidates the one whose low-resolution depth probe scores best (plus a random term)."""
    width, depth, _ = room.size
    probe_scene = Scene(Camera((width / 2, depth / 2, 1.4)), room, tuple(objects))
    probe_corners = [corners(p) for p in objects]
    best = None
    candidates = 0
    for _attempt in range(40):
        cam = _candidate_camera(palette, room.size, rects)
        if cam is None:
            continue
        probe_depth, hit_ids = cast(dataclasses.replace(probe_scene, camera=cam), PROBE_INTRINSICS, probe_corners)[:2]
        score = _view_score(probe_depth, hit_ids) + palette.uniform(0.0, 1.0)
        if best is None or score > best[0]:
            best = (score, cam)
        candidates += 1
        if candidates >= 6:
            break
    return best[1] if best else Camera((width / 2, 0.5, 1.4), 0.0, -0.2, 0.0)


def _look(palette: Palette) -> Look:
    u = palette.uniform
    tint = hsv(u(0, 1), u(0, 0.08), 1.0)
    return Look(
        exposure=u(0.7, 1.0),
        white_balance=tuple(float(c) for c in np.array(tint) / max(tint)),
        vignette=u(0.05, 0.4),
        noise=u(0.004, 0.02),
        blur=True,
        shoulder=u(0.0, 0.5),
    )


def make_scene(seed: int) -> Scene:
    """The random room for `seed` (view 0): geometry, materials, lights, camera and camera response."""
    palette = Palette(np.random.default_rng(seed))
    size = room_size(palette)
    walls, floor, ceiling = room_materials(palette)
    decals = room_decals(palette, size)
    lights, light_color = ceiling_lights(palette, size, decals)
    objects, rects = _furnish(palette, size, lights)
    room = Room(size, floor, ceiling, tuple(walls), tuple(decals))
    camera = _choose_camera(palette, room, objects, rects)
    ambient = palette.uniform(0.08, 0.35)
    look = _look(palette)
    ambient_rgb = (ambient * light_color[0], ambient * light_color[1], ambient * light_color[2])
    return Scene(camera, room, tuple(objects), tuple(lights), ambient_rgb, palette.uniform(-0.2, 0.4), look)


def _camera_ok(scene: Scene, pos: Vec3) -> bool:
    """Inside the room (with margins) and not within 0.35 m of any object's bounding box."""
    width, depth, height = scene.room.size
    x, y, z = pos
    if not (0.3 < x < width - 0.3 and 0.3 < y < depth - 0.3 and 0.5 < z < height - 0.3):
        return False
    for prim in scene.objects:
        box = corners(prim)
        lo, hi = box.min(0) - 0.35, box.max(0) + 0.35
        if np.all(np.asarray(pos) > lo) and np.all(np.asarray(pos) < hi):
            return False
    return True


def scene_view(scene: Scene, seed: int, view: int) -> Scene:
    """The same room seen from a slightly moved camera (view 0 = `scene` itself), as in a video."""
    if view == 0:
        return scene
    rng = np.random.default_rng(seed_of(seed, view, 0x71E3))
    base = scene.camera
    for attempt in range(6):
        k = 0.5**attempt
        x, y, z = base.position
        pos = (x + k * rng.normal(0, 0.2), y + k * rng.normal(0, 0.2), z + k * rng.normal(0, 0.07))
        cam = Camera(
            pos,
            base.yaw + k * float(rng.normal(0, 0.1)),
            float(np.clip(base.pitch + k * rng.normal(0, 0.06), math.radians(-45), math.radians(12))),
            float(np.clip(base.roll + k * rng.normal(0, 0.02), -0.1, 0.1)),
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
    noise_seed = seed_of(seed, view, 0x401E)
    rgb, depth = render(
        scene, height, width, intrinsics, noise_seed=noise_seed, max_depth=max_depth, hole_fraction=hole_fraction
    )
    return Frame(rgb=rgb, depth=depth, scene=f"synthetic-{seed}", frame=f"synthetic-{seed}-v{view:02d}")


def render_room(
    seed: int,
    room_index: int,
    views: Sequence[int],
    height: int = 480,
    width: int = 640,
    *,
    intrinsics: Intrinsics = NYU_INTRINSICS,
    hole_fraction: float = 0.0,
    max_depth: float = DEFAULT_MAX_DEPTH,
) -> list[Frame]:
    """The frames `views` of room `room_index` of the stream `seed`: byte for byte the frames
    :func:`iter_frames` yields at indices ``room_index * frames_per_scene + view``. One call is one
    independent task (rooms share nothing), which is how ``depthnet-prepare --workers`` renders in parallel."""
    room_seed = seed_of(seed, room_index)
    base = make_scene(room_seed)
    scene_id = f"synthetic-{seed}-{room_index:05d}"
    frames = []
    for view in views:
        noise_seed = seed_of(room_seed, view, 0x401E)
        rgb, depth = render(
            scene_view(base, room_seed, view), height, width, intrinsics,
            noise_seed=noise_seed, max_depth=max_depth, hole_fraction=hole_fraction,
        )  # fmt: skip
        frames.append(Frame(rgb=rgb, depth=depth, scene=scene_id, frame=f"{scene_id}-{view:02d}"))
    return frames


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
    for room_index in range(-(-num_frames // frames_per_scene)):
        views = range(min(frames_per_scene, num_frames - room_index * frames_per_scene))
        yield from render_room(
            seed, room_index, views, height, width,
            intrinsics=intrinsics, hole_fraction=hole_fraction, max_depth=max_depth,
        )  # fmt: skip
