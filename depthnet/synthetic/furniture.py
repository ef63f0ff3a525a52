"""Furniture items built from primitives in an item-local frame, and small clutter on their tops.

Items: tables and desks with legs (and monitors), round tables, chairs, cabinets, wardrobes, TV stands,
bookshelves, beds, sofas, kitchen counters with wall cupboards, fridges, plants, floor lamps, bins,
balls, box stacks and pillars.
"""

from __future__ import annotations

import dataclasses
import math

from depthnet.synthetic.palette import Palette, hsv, shade_of
from depthnet.synthetic.scene import Box, Cylinder, Material, Primitive, Sphere, Vec3


def rotate2d(yaw: float, x: float, y: float) -> tuple[float, float]:
    """(x, y) rotated by `yaw` about the origin."""
    c, s = math.cos(yaw), math.sin(yaw)
    return c * x - s * y, s * x + c * y


class Item:
    """Primitives in an item-local frame: x along the item's width (centred), y from its back (y=0) to
    its front, z up from the floor. Placed in the room with a position (of the local origin) and yaw."""

    def __init__(self, width: float, depth: float):
        self.width, self.depth = width, depth
        self.parts: list[tuple] = []
        self.tops: list[tuple[float, float, float, float, float]] = []  # (x0, y0, x1, y1, z) free top surfaces
        self.lights: list[tuple[Vec3, float]] = []

    def box(self, x, y, z, sx, sy, sz, mat, yaw=0.0, front=None):
        """Adds a box centred at (x, y, z) with extents (sx, sy, sz)."""
        self.parts.append(("box", (x, y, z), (sx, sy, sz), yaw, mat, front))

    def cylinder(self, x, y, z0, z1, radius, mat):
        """Adds a vertical cylinder on axis (x, y) from z0 to z1."""
        self.parts.append(("cyl", (x, y), z0, z1, radius, mat))

    def sphere(self, x, y, z, radius, mat):
        """Adds a sphere centred at (x, y, z)."""
        self.parts.append(("sph", (x, y, z), radius, mat))

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
        """World primitives of the item with its origin at (ox, oy), turned by `yaw`."""
        out: list[Primitive] = []
        for part in self.parts:
            if part[0] == "box":
                (x, y, z), size, local_yaw, mat, front = part[1:]
                dx, dy = rotate2d(yaw, x, y)
                out.append(Box((ox + dx, oy + dy, z), size, mat, yaw + local_yaw, front, group))
            elif part[0] == "cyl":
                (x, y), z0, z1, radius, mat = part[1:]
                dx, dy = rotate2d(yaw, x, y)
                out.append(Cylinder((ox + dx, oy + dy), z0, z1, radius, mat, group))
            else:
                (x, y, z), radius, mat = part[1:]
                dx, dy = rotate2d(yaw, x, y)
                out.append(Sphere((ox + dx, oy + dy, z), radius, mat, group))
        return out

    def footprint(self, ox: float, oy: float, yaw: float) -> tuple[float, float, float, float]:
        """Axis-aligned floor rectangle (x0, y0, x1, y1) covered when placed at (ox, oy, yaw)."""
        pts = [rotate2d(yaw, x, y) for x in (-self.width / 2, self.width / 2) for y in (0.0, self.depth)]
        xs, ys = [ox + p[0] for p in pts], [oy + p[1] for p in pts]
        return min(xs), min(ys), max(xs), max(ys)


def add_legs(item: Item, palette: Palette, w: float, d: float, h: float, mat: Material, y0=0.0, round_=False):
    """Four legs of height `h` under a w x d top starting at y0 (square or round)."""
    leg_width = palette.uniform(0.035, 0.07)
    inset = palette.uniform(0.02, 0.08)
    for sx in (-1, 1):
        for sy in (0, 1):
            x = sx * (w / 2 - inset - leg_width / 2)
            y = y0 + inset + leg_width / 2 + sy * (d - 2 * inset - leg_width)
            if round_:
                item.cylinder(x, y, 0.0, h, leg_width / 2, mat)
            else:
                item.box(x, y, h / 2, leg_width, leg_width, h, mat)


def _small_lamp(item: Item, palette: Palette, x: float, y: float, z: float) -> None:
    u = palette.uniform
    shade_color = hsv(u(0.05, 0.15), u(0, 0.4), u(0.7, 1.0))
    shade = Material("plain", shade_color, (0, 0, 0), 0.3, 0.02, emission=0.0, seed=palette.seed())
    item.cylinder(x, y, z, z + 0.03, 0.07, palette.paint())
    item.cylinder(x, y, z + 0.03, z + 0.35, 0.012, palette.paint(gloss=0.5))
    item.cylinder(x, y, z + 0.3, z + 0.5, u(0.1, 0.16), shade)


def add_clutter(item: Item, palette: Palette, x0: float, y0: float, x1: float, y1: float, z: float, n: int) -> None:
    """Small objects (books, cups, vases, balls, boxes, lamps) standing on a top surface."""
    u = palette.uniform
    for _ in range(n):
        kind = palette.pick(("book", "cup", "vase", "ball", "box", "lamp"), (0.3, 0.2, 0.15, 0.1, 0.15, 0.1))
        if x1 - x0 < 0.2 or y1 - y0 < 0.15:
            return
        x, y = u(x0 + 0.08, x1 - 0.08), u(y0 + 0.07, y1 - 0.07)
        if kind == "book":
            thickness = u(0.02, 0.08)
            item.box(x, y, z + thickness / 2, u(0.12, 0.3), u(0.1, 0.22), thickness, palette.paint(), u(-0.5, 0.5))
        elif kind == "cup":
            radius = u(0.03, 0.05)
            item.cylinder(x, y, z, z + u(0.07, 0.12), radius, palette.paint(gloss=u(0, 0.6)))
        elif kind == "vase":
            radius = u(0.04, 0.09)
            item.cylinder(x, y, z, z + u(0.15, 0.4), radius, palette.surface())
        elif kind == "ball":
            radius = u(0.04, 0.1)
            item.sphere(x, y, z + radius, radius, palette.paint(gloss=u(0, 0.5)))
        elif kind == "box":
            sx, sy, sz = u(0.1, 0.35), u(0.1, 0.3), u(0.05, 0.3)
            item.box(x, y, z + sz / 2, sx, sy, sz, palette.surface(), u(-0.6, 0.6))
        else:
            _small_lamp(item, palette, x, y, z)


def _screen_material(palette: Palette, scale: float, glow_probability: float) -> Material:
    u = palette.uniform
    color, color2 = palette.any_color(), palette.any_color()
    emission = u(0.5, 2.0) if palette.rng.random() < glow_probability else 0.0
    return Material("screen", color, color2, scale, emission=emission, seed=palette.seed())


def _table(kind: str, palette: Palette, room: Vec3) -> Item:
    u = palette.uniform
    w, d, h = u(0.8, 1.8), u(0.6, 1.0), u(0.7, 0.78)
    item = Item(w, d)
    mat = palette.surface()
    top_thickness = u(0.025, 0.06)
    item.box(0, d / 2, h - top_thickness / 2, w, d, top_thickness, mat)
    leg_mat = mat if palette.rng.random() < 0.6 else palette.surface()
    add_legs(item, palette, w, d, h - top_thickness, leg_mat, round_=palette.rng.random() < 0.3)
    if palette.rng.random() < 0.4:  # desk with a monitor
        monitor_w, monitor_h = u(0.45, 0.7), u(0.3, 0.45)
        screen = _screen_material(palette, 0.2, 0.5)
        my = u(0.1, 0.25)
        item.box(0, my, h + 0.01, 0.2, 0.18, 0.02, Material("plain", (0.08, 0.08, 0.08), gloss=0.4))
        item.box(0, my, h + 0.1, 0.04, 0.03, 0.18, Material("plain", (0.08, 0.08, 0.08), gloss=0.4))
        bezel = Material("plain", (0.06, 0.06, 0.06), gloss=0.5)
        item.box(0, my + 0.03, h + 0.12 + monitor_h / 2, monitor_w, 0.03, monitor_h, bezel, front=screen)
        item.tops.append((-w / 2, d * 0.45, w / 2, d, h))
    else:
        item.tops.append((-w / 2, 0, w / 2, d, h))
    return item


def _round_table(kind: str, palette: Palette, room: Vec3) -> Item:
    u = palette.uniform
    r, h = u(0.35, 0.6), u(0.7, 0.76)
    item = Item(2 * r, 2 * r)
    mat = palette.surface()
    item.cylinder(0, r, h - 0.04, h, r, mat)
    item.cylinder(0, r, 0.03, h - 0.04, u(0.03, 0.06), mat)
    item.cylinder(0, r, 0.0, 0.03, r * 0.5, mat)
    item.tops.append((-r * 0.6, r * 0.4, r * 0.6, r * 1.6, h))
    return item


def _chair(kind: str, palette: Palette, room: Vec3) -> Item:
    u = palette.uniform
    w, d, h = u(0.4, 0.5), u(0.4, 0.5), u(0.42, 0.48)
    item = Item(w, d)
    mat = palette.surface()
    item.box(0, d / 2, h - 0.03, w, d, 0.06, mat if palette.rng.random() < 0.5 else palette.fabric())
    add_legs(item, palette, w, d, h - 0.06, mat, round_=palette.rng.random() < 0.5)
    back_h = u(0.35, 0.5)
    item.box(0, 0.03, h + back_h / 2, w, 0.04, back_h, mat)
    return item


def _cabinet(kind: str, palette: Palette, room: Vec3) -> Item:
    """cabinet, wardrobe or tv_stand: a box with panel fronts (and a TV on the stand)."""
    u = palette.uniform
    w = u(0.6, 1.6) if kind != "wardrobe" else u(0.8, 1.8)
    d = u(0.4, 0.6)
    h = {"cabinet": u(0.7, 1.2), "wardrobe": u(1.8, 2.2), "tv_stand": u(0.4, 0.6)}[kind]
    item = Item(w, d)
    mat = palette.surface()
    handle = hsv(0, 0, u(0.2, 0.9))
    row_h = h / int(palette.rng.integers(1, 4)) if kind != "wardrobe" else h
    front = Material("panels", mat.color, handle, row_h, 0.05, mat.gloss, seed=palette.seed())
    item.box(0, d / 2, h / 2, w, d, h, mat, front=front)
    if kind == "tv_stand":
        tv_w = min(w, u(0.8, 1.4))
        tv_h = tv_w * 0.58
        screen = _screen_material(palette, 0.3, 0.4)
        black = Material("plain", (0.05, 0.05, 0.05), gloss=0.5)
        item.box(0, d / 2, h + 0.02, 0.3, 0.2, 0.04, black)
        item.box(0, d / 2, h + 0.04 + tv_h / 2, tv_w, 0.05, tv_h, black, front=screen)
    elif kind == "cabinet":
        item.tops.append((-w / 2, 0, w / 2, d, h))
    return item


def _bookshelf(kind: str, palette: Palette, room: Vec3) -> Item:
    u = palette.uniform
    w, d, h = u(0.6, 1.4), u(0.28, 0.4), u(1.0, 2.1)
    item = Item(w, d)
    mat = palette.wood(u(0.15, 0.4)) if palette.rng.random() < 0.7 else palette.paint()
    books = Material("books", mat.color, shade_of(mat.color, 0.5), u(0.28, 0.4), seed=palette.seed())
    item.box(0, d / 2, h / 2, w, d, h, mat, front=books)
    return item


def _bed(kind: str, palette: Palette, room: Vec3) -> Item:
    u = palette.uniform
    w, length = palette.pick((u(0.9, 1.1), u(1.35, 1.9))), u(1.9, 2.15)
    item = Item(w, length + 0.06)
    h = u(0.45, 0.62)
    frame = palette.surface()
    sheet = palette.fabric()
    head_h = u(0.8, 1.2)
    item.box(0, 0.03, head_h / 2, w + 0.04, 0.06, head_h, frame)  # headboard
    item.box(0, 0.06 + length / 2, h * 0.4, w, length, h * 0.8, frame)
    item.box(0, 0.06 + length / 2, h * 0.9, w - 0.02, length - 0.02, h * 0.2, sheet)
    if palette.rng.random() < 0.8:  # blanket over the lower part
        blanket_len = length * u(0.5, 0.75)
        item.box(0, 0.06 + length - blanket_len / 2, h + 0.02, w + 0.04, blanket_len, 0.06, palette.fabric())
    n_pillows = 1 if w < 1.2 else 2
    pillow = palette.fabric()
    for i in range(n_pillows):
        px = 0 if n_pillows == 1 else (i - 0.5) * w / 2
        item.box(px, 0.3, h + 0.07, min(0.6, w / n_pillows - 0.1), 0.35, 0.12, pillow)
    return item


def _sofa(kind: str, palette: Palette, room: Vec3) -> Item:
    u = palette.uniform
    w, d = u(1.4, 2.4), u(0.8, 0.95)
    item = Item(w, d)
    mat = palette.fabric()
    seat_h = u(0.38, 0.46)
    arm = u(0.12, 0.22)
    item.box(0, d / 2, seat_h / 2, w, d, seat_h, mat)
    back_h = u(0.75, 0.9)
    item.box(0, 0.1, back_h / 2, w, 0.2, back_h, mat)  # backrest
    arm_h = u(0.55, 0.65)
    for sx in (-1, 1):
        item.box(sx * (w / 2 - arm / 2), d / 2, arm_h / 2, arm, d, arm_h, mat)
    for _ in range(int(palette.rng.integers(0, 3))):  # cushions
        item.box(u(-w / 3, w / 3), 0.3, seat_h + 0.18, 0.4, 0.14, 0.35, palette.fabric(), u(-0.3, 0.3))
    return item


def _counter(kind: str, palette: Palette, room: Vec3) -> Item:
    u = palette.uniform
    w, d = u(1.5, min(3.5, room[0] - 0.3)), u(0.58, 0.65)
    item = Item(w, d)
    body = palette.paint(gloss=u(0, 0.3))
    front = Material("panels", body.color, hsv(0, 0, u(0.3, 0.9)), u(0.3, 0.8), 0.03, body.gloss, seed=palette.seed())
    item.box(0, d / 2 - 0.02, 0.45, w, d - 0.04, 0.9, body, front=front)
    top_color, top_color2 = hsv(u(0, 1), u(0, 0.2), u(0.15, 0.9)), hsv(0, 0, u(0.1, 0.9))
    top = Material("noise", top_color, top_color2, u(0.05, 0.3), 0.2, u(0.2, 0.7), seed=palette.seed())
    item.box(0, d / 2, 0.92, w + 0.02, d, 0.04, top)
    item.tops.append((-w / 2, 0, w / 2, d, 0.94))
    if palette.rng.random() < 0.7:  # wall cupboards
        cupboard_h = u(0.6, 0.8)
        z0 = u(1.45, 1.6)
        cupboard_front = dataclasses.replace(front, scale=cupboard_h)
        item.box(0, 0.18, z0 + cupboard_h / 2, w, 0.35, cupboard_h, body, front=cupboard_front)
    return item


def _fridge(kind: str, palette: Palette, room: Vec3) -> Item:
    u = palette.uniform
    w, d, h = u(0.6, 0.8), u(0.6, 0.7), u(1.5, 1.9)
    item = Item(w, d)
    color = hsv(0, 0, u(0.55, 0.9))
    body = Material("plain", color, gloss=u(0.3, 0.8), variation=0.02)
    doors = Material("panels", color, (0.6, 0.6, 0.6), h * u(0.3, 0.5), 0.02, 0.5, seed=palette.seed())
    item.box(0, d / 2, h / 2, w, d, h, body, front=doors)
    return item


def _plant(kind: str, palette: Palette, room: Vec3) -> Item:
    u = palette.uniform
    r = u(0.1, 0.22)
    item = Item(2 * r, 2 * r)
    pot_h = u(0.2, 0.5)
    item.cylinder(0, r, 0, pot_h, r, palette.surface())
    leaf_color, leaf_color2 = hsv(u(0.2, 0.4), u(0.4, 0.8), u(0.15, 0.5)), hsv(u(0.2, 0.4), u(0.3, 0.8), u(0.05, 0.3))
    leaf = Material("noise", leaf_color, leaf_color2, u(0.03, 0.08), 0.4, seed=palette.seed())
    foliage_r = u(0.2, 0.45)
    item.sphere(0, r, pot_h + foliage_r * 0.8, foliage_r, leaf)
    if palette.rng.random() < 0.5:
        item.sphere(u(-0.1, 0.1), r + u(-0.1, 0.1), pot_h + foliage_r * 1.6, foliage_r * 0.7, leaf)
    return item


def _floor_lamp(kind: str, palette: Palette, room: Vec3) -> Item:
    u = palette.uniform
    item = Item(0.4, 0.4)
    h = u(1.4, 1.8)
    metal = palette.paint(gloss=0.5)
    item.cylinder(0, 0.2, 0, 0.03, 0.15, metal)
    item.cylinder(0, 0.2, 0.03, h - 0.2, 0.015, metal)
    shade_color = hsv(u(0.05, 0.12), u(0.1, 0.5), 1.0)
    shade = Material("lamp", shade_color, (0.9, 0.9, 0.9), 1.0, emission=u(0.5, 1.5), seed=palette.seed())
    item.cylinder(0, 0.2, h - 0.3, h, u(0.15, 0.22), shade)
    item.lights.append(((0.0, 0.2, h - 0.12), u(0.5, 1.5)))
    return item


def _bin(kind: str, palette: Palette, room: Vec3) -> Item:
    item = Item(0.35, 0.35)
    r = palette.uniform(0.1, 0.17)
    item.cylinder(0, 0.17, 0, palette.uniform(0.25, 0.5), r, palette.surface())
    return item


def _ball(kind: str, palette: Palette, room: Vec3) -> Item:
    u = palette.uniform
    r = u(0.1, 0.35)
    item = Item(2 * r, 2 * r)
    item.sphere(0, r, r, r, palette.paint(gloss=u(0, 0.6)) if palette.rng.random() < 0.7 else palette.fabric())
    return item


def _boxes(kind: str, palette: Palette, room: Vec3) -> Item:
    """A stack of 1-3 (cardboard) boxes, each smaller than the one below."""
    u = palette.uniform
    w, d = u(0.3, 0.7), u(0.3, 0.6)
    item = Item(w, d)
    z = 0.0
    if palette.rng.random() < 0.7:
        cardboard = hsv(u(0.07, 0.1), u(0.3, 0.6), u(0.4, 0.75))
        mat = Material("plain", cardboard, variation=0.08, seed=palette.seed())
    else:
        mat = palette.surface()
    for _ in range(int(palette.rng.integers(1, 4))):
        size = u(0.2, 0.45)
        x, y = u(-0.03, 0.03), d / 2 + u(-0.03, 0.03)
        item.box(x, y, z + size / 2, w * u(0.8, 1.0), d * u(0.8, 1.0), size, mat, u(-0.15, 0.15))
        z += size
        w, d = w * u(0.7, 1.0), d * u(0.7, 1.0)
    return item


def _pillar(kind: str, palette: Palette, room: Vec3) -> Item:
    side = palette.uniform(0.3, 0.6)
    item = Item(side, side)
    item.box(0, side / 2, room[2] / 2, side, side, room[2], palette.paint())
    return item


_BUILDERS = {
    "table": _table,
    "round_table": _round_table,
    "chair": _chair,
    "cabinet": _cabinet,
    "wardrobe": _cabinet,
    "tv_stand": _cabinet,
    "bookshelf": _bookshelf,
    "bed": _bed,
    "sofa": _sofa,
    "counter": _counter,
    "fridge": _fridge,
    "plant": _plant,
    "floor_lamp": _floor_lamp,
    "bin": _bin,
    "ball": _ball,
    "boxes": _boxes,
    "pillar": _pillar,
}


def make_item(kind: str, palette: Palette, room: Vec3) -> Item:
    """Builds one furniture item of `kind` in its local frame (`room` = room size, for counters and pillars)."""
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise ValueError(kind)
    return builder(kind, palette, room)
