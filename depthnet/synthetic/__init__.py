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
* **Camera**: the NYU Kinect colour pinhole (:data:`~depthnet.data.camera.NYU_INTRINSICS`, rescaled with
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

Public API: :func:`render_scene` (random room by seed -> :class:`~depthnet.data.frame.Frame`),
:func:`iter_frames` (a stream of frames, several views per room), :func:`render_room` (chosen views of
one room of that stream: the task parallel rendering hands out), :func:`make_scene` / :func:`scene_view`
(the random scene description) and :func:`render` (render any :class:`Scene`, e.g. a hand-built one).
No TensorFlow: a rendering worker process imports numpy only.
"""

from depthnet.synthetic.generate import iter_frames, make_scene, render_room, render_scene, scene_view
from depthnet.synthetic.render import render
from depthnet.synthetic.scene import (
    CEILING,
    DEFAULT_FRAMES_PER_SCENE,
    DEFAULT_MAX_DEPTH,
    FLOOR,
    Box,
    Camera,
    Cylinder,
    Decal,
    Light,
    Look,
    Material,
    Primitive,
    Room,
    Scene,
    Sphere,
    Vec3,
    seed_of,
)

__all__ = [
    "CEILING",
    "DEFAULT_FRAMES_PER_SCENE",
    "DEFAULT_MAX_DEPTH",
    "FLOOR",
    "Box",
    "Camera",
    "Cylinder",
    "Decal",
    "Light",
    "Look",
    "Material",
    "Primitive",
    "Room",
    "Scene",
    "Sphere",
    "Vec3",
    "iter_frames",
    "make_scene",
    "render",
    "render_room",
    "render_scene",
    "scene_view",
    "seed_of",
]
