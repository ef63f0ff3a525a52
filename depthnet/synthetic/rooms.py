"""The random room shell: size, wall / floor / ceiling materials, decals (windows, doors, paintings,
baseboards, rugs) and the ceiling light fixtures."""

from __future__ import annotations

from typing import Optional

from depthnet.synthetic.palette import Palette, hsv, shade_of
from depthnet.synthetic.scene import CEILING, FLOOR, Decal, Light, Material, Vec3


def room_size(palette: Palette) -> Vec3:
    """(W, D, H) in metres: W 3-8 m, D 3-9 m (smaller rooms more likely), H 2.4-3.2 m."""
    u, rng = palette.uniform, palette.rng
    width = u(3.0, 8.0) if rng.random() < 0.6 else u(3.0, 5.0)
    depth = u(3.0, 9.0) if rng.random() < 0.6 else u(3.0, 5.5)
    return width, depth, u(2.4, 3.2)


def room_materials(palette: Palette) -> tuple[list[Material], Material, Material]:
    """Wall materials (planes 0..3; sometimes one accent wall), floor and ceiling."""
    u, rng = palette.uniform, palette.rng
    wall = palette.wall(palette.wall_color())
    walls = [wall] * 4
    if rng.random() < 0.25:
        walls[int(rng.integers(0, 4))] = palette.wall(palette.wall_color())
    floor = palette.floor()
    if rng.random() < 0.6:
        ceiling = Material("plain", hsv(u(0, 1), u(0, 0.08), u(0.7, 0.97)), (0, 0, 0), 1.0, 0.04, seed=palette.seed())
    else:
        tile, grout = hsv(u(0, 1), u(0, 0.06), u(0.7, 0.95)), hsv(0, 0, u(0.4, 0.8))
        ceiling = Material("tiles", tile, grout, u(0.6, 1.2), 0.04, seed=palette.seed())
    return walls, floor, ceiling


def wall_lengths(size: Vec3) -> tuple[float, float, float, float]:
    """Length along s of wall planes 0..3."""
    width, depth, _ = size
    return (depth, depth, width, width)


class _WallSpans:
    """Free intervals along each wall, so that windows, doors and paintings do not overlap."""

    def __init__(self, palette: Palette, lengths: tuple[float, float, float, float]):
        self.palette, self.lengths = palette, lengths
        self.used: dict[int, list[tuple[float, float]]] = {p: [] for p in range(4)}

    def take(self, plane: int, width: float) -> Optional[tuple[float, float]]:
        """A free span of `width` on wall `plane` (now marked used), or None after 10 tries."""
        length, used = self.lengths[plane], self.used[plane]
        for _ in range(10):
            if length - 0.2 < width:
                return None
            s0 = self.palette.uniform(0.1, length - width - 0.1)
            if all(s0 + width + 0.1 < a or s0 > b + 0.1 for a, b in used):
                used.append((s0, s0 + width))
                return s0, s0 + width
        return None


def _windows(palette: Palette, spans: _WallSpans, height: float, decals: list[Decal]) -> None:
    u, rng = palette.uniform, palette.rng
    for _ in range(int(rng.choice(4, p=(0.3, 0.4, 0.2, 0.1)))):
        plane = int(rng.integers(0, 4))
        w, h = u(0.7, 2.2), u(1.0, min(1.8, height - 1.1))
        span = spans.take(plane, w)
        if span:
            z0 = u(0.6, height - h - 0.25)
            sky = hsv(u(0.5, 0.65), u(0.0, 0.4), 1.0)
            ground = hsv(u(0, 1), u(0, 0.4), u(0.4, 0.9))
            glass = Material("window", sky, ground, 1.0, emission=u(1.5, 4.0), seed=palette.seed())
            decals.append(Decal(plane, (span[0], z0, span[1], z0 + h), glass))


def _door(palette: Palette, spans: _WallSpans, decals: list[Decal]) -> None:
    u, rng = palette.uniform, palette.rng
    if rng.random() < 0.6:
        plane = int(rng.integers(0, 4))
        span = spans.take(plane, u(0.8, 0.95))
        if span:
            leaf = palette.wood(0.3) if rng.random() < 0.4 else palette.paint(hsv(u(0, 1), u(0, 0.3), u(0.4, 0.95)))
            rect = (span[0], 0.0, span[1], u(2.0, 2.15))
            door = Material("door", leaf.color, shade_of(leaf.color, 0.85), 1.0, 0.05, seed=palette.seed())
            decals.append(Decal(plane, rect, door))


def _pictures(palette: Palette, spans: _WallSpans, height: float, decals: list[Decal]) -> None:
    """Paintings, posters and whiteboards."""
    u, rng = palette.uniform, palette.rng
    for _ in range(int(rng.choice(4, p=(0.3, 0.35, 0.25, 0.1)))):
        plane = int(rng.integers(0, 4))
        w, h = u(0.3, 1.4), u(0.3, 1.0)
        span = spans.take(plane, w)
        if span:
            zc = u(1.2, min(1.9, height - h / 2 - 0.1))
            if rng.random() < 0.15:
                mat = Material("painting", (0.95, 0.95, 0.95), (0.7, 0.7, 0.7), 5.0, seed=palette.seed())  # whiteboard
            else:
                mat = Material(
                    "painting", palette.any_color(), hsv(0, 0, u(0.05, 0.9)), u(0.1, 0.5), seed=palette.seed()
                )
            decals.append(Decal(plane, (span[0], zc - h / 2, span[1], zc + h / 2), mat))


def room_decals(palette: Palette, size: Vec3) -> list[Decal]:
    """Windows, a door, pictures, baseboards (drawn first) and a rug, in the order they are drawn."""
    u, rng = palette.uniform, palette.rng
    width, depth, height = size
    lengths = wall_lengths(size)
    spans = _WallSpans(palette, lengths)
    decals: list[Decal] = []
    _windows(palette, spans, height, decals)
    _door(palette, spans, decals)
    _pictures(palette, spans, height, decals)
    if rng.random() < 0.6:  # baseboards
        color = hsv(0, 0, u(0.2, 1.0)) if rng.random() < 0.7 else palette.any_color()
        board = Material("plain", color, (0, 0, 0), 1.0, 0.02, 0.3, seed=palette.seed())
        board_h = u(0.05, 0.14)
        decals = [Decal(p, (-1.0, 0.0, lengths[p] + 1.0, board_h), board) for p in range(4)] + decals
    if rng.random() < 0.35:  # rug
        rug_w, rug_d = u(1.0, min(3.0, width - 0.4)), u(0.8, min(2.5, depth - 0.4))
        x0, y0 = u(0.2, width - rug_w - 0.2), u(0.2, depth - rug_d - 0.2)
        rug = Material("rug", palette.any_color(), palette.any_color(), u(0.1, 0.5), seed=palette.seed())
        decals.append(Decal(FLOOR, (x0, y0, x0 + rug_w, y0 + rug_d), rug))
    return decals


def ceiling_lights(palette: Palette, size: Vec3, decals: list[Decal]) -> tuple[list[Light], Vec3]:
    """1-3 ceiling fixtures, warm to cool white, each with a lamp decal (appended to `decals`);
    returns the lights and their colour."""
    u, rng = palette.uniform, palette.rng
    width, depth, height = size
    lights: list[Light] = []
    n_lights = int(rng.choice((1, 2, 3), p=(0.45, 0.4, 0.15)))
    temp = u(0, 1)
    color = tuple(a + (b - a) * temp for a, b in zip((1.0, 0.82, 0.62), (0.88, 0.95, 1.0)))
    for _ in range(n_lights):
        lx, ly = u(0.15 * width, 0.85 * width), u(0.15 * depth, 0.85 * depth)
        drop = u(0.05, 0.5)
        lights.append(Light((lx, ly, height - drop), color, u(2.0, 6.0), u(0.3, 0.8)))
        half = u(0.25, 0.6)
        rect = (lx - half, ly - half * u(0.5, 2.0), lx + half, ly + half)
        lamp = Material("lamp", (1.0, 0.97, 0.9), (1, 1, 1), emission=u(1.0, 3.0), seed=palette.seed())
        decals.append(Decal(CEILING, rect, lamp))
    return lights, color
