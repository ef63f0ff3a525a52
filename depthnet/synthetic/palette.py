"""Random colours and materials for one scene, drawn from the scene's random generator.

Palettes are drawn per scene (walls, floor and furniture colours are independent of where things are),
so colour does not encode depth.
"""

from __future__ import annotations

import colorsys
from typing import Optional

import numpy as np

from depthnet.synthetic.scene import Material, Vec3


def hsv(hue: float, sat: float, val: float) -> Vec3:
    """HSV -> RGB, hue wrapped and saturation / value clamped to [0, 1]."""
    return tuple(float(c) for c in colorsys.hsv_to_rgb(hue % 1.0, min(max(sat, 0.0), 1.0), min(max(val, 0.0), 1.0)))


def shade_of(color: Vec3, factor: float) -> Vec3:
    """`color` scaled by `factor`, clipped at 1."""
    return tuple(float(min(1.0, x * factor)) for x in color)


class Palette:
    """Random palette / material helpers bound to one scene's generator."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def uniform(self, a: float, b: float) -> float:
        """A uniform float in [a, b)."""
        return float(self.rng.uniform(a, b))

    def pick(self, options, p=None):
        """One of `options`, with probabilities `p` (uniform if None)."""
        return options[int(self.rng.choice(len(options), p=p))]

    def seed(self) -> int:
        """A fresh pattern seed."""
        return int(self.rng.integers(0, 1 << 30))

    def any_color(self) -> Vec3:
        """Any colour, biased to low saturation."""
        u = self.uniform
        return hsv(u(0, 1), u(0, 0.85) ** 1.3, u(0.12, 0.95))

    def wall_color(self) -> Vec3:
        """A neutral, pastel or strong wall paint."""
        u = self.uniform
        kind = self.pick(("neutral", "pastel", "strong"), (0.55, 0.3, 0.15))
        if kind == "neutral":
            return hsv(u(0, 1), u(0, 0.12), u(0.45, 0.95))
        if kind == "pastel":
            return hsv(u(0, 1), u(0.1, 0.35), u(0.5, 0.9))
        return hsv(u(0, 1), u(0.35, 0.75), u(0.3, 0.8))

    def wood(self, scale: float) -> Material:
        """Wood planks of width `scale`."""
        u = self.uniform
        color = hsv(u(0.03, 0.12), u(0.3, 0.75), u(0.2, 0.8))
        return Material(
            "wood", color, shade_of(color, u(0.45, 0.8)), scale, u(0.05, 0.25), u(0, 0.25), seed=self.seed()
        )

    def paint(self, color: Optional[Vec3] = None, gloss: float = 0.0) -> Material:
        """Plain paint (a random colour if none is given)."""
        u = self.uniform
        return Material(
            "plain", color or self.any_color(), (0, 0, 0), u(0.3, 1.5), u(0.03, 0.12), gloss, seed=self.seed()
        )

    def fabric(self) -> Material:
        """Woven fabric in one colour and a darker or random second one."""
        u = self.uniform
        color = self.any_color()
        color2 = hsv(u(0, 1), u(0, 0.6), u(0.1, 0.9)) if self.rng.random() < 0.3 else shade_of(color, 0.6)
        return Material("fabric", color, color2, u(0.1, 0.5), u(0.2, 0.5), seed=self.seed())

    def surface(self) -> Material:
        """A furniture body material."""
        u = self.uniform
        kind = self.pick(("wood", "paint", "fabric", "metal", "noise"), (0.4, 0.3, 0.12, 0.1, 0.08))
        if kind == "wood":
            return self.wood(u(0.12, 0.4))
        if kind == "paint":
            return self.paint(gloss=u(0, 0.3))
        if kind == "fabric":
            return self.fabric()
        if kind == "metal":
            return Material("plain", hsv(0, 0, u(0.3, 0.85)), (0, 0, 0), 0.5, 0.04, u(0.3, 0.8), seed=self.seed())
        color = self.any_color()
        color2 = shade_of(color, u(0.4, 0.9))
        return Material("noise", color, color2, u(0.05, 0.4), u(0.1, 0.4), u(0, 0.5), seed=self.seed())

    def floor(self) -> Material:
        """Wood, tiles, carpet, stone-like noise or a checker floor."""
        u = self.uniform
        kind = self.pick(("wood", "tiles", "carpet", "noise", "checker"), (0.42, 0.2, 0.2, 0.12, 0.06))
        if kind == "wood":
            return self.wood(u(0.08, 0.25))
        if kind == "tiles":
            color = hsv(u(0, 1), u(0, 0.4), u(0.3, 0.95))
            grout = hsv(0, 0, u(0.2, 0.9))
            return Material("tiles", color, grout, u(0.2, 0.7), u(0.02, 0.2), u(0, 0.6), seed=self.seed())
        if kind == "carpet":
            return Material("fabric", self.any_color(), self.any_color(), u(0.3, 2.0), u(0.1, 0.35), seed=self.seed())
        if kind == "noise":
            color = hsv(u(0, 1), u(0, 0.25), u(0.3, 0.8))
            color2 = shade_of(color, u(0.6, 0.95))
            return Material("noise", color, color2, u(0.3, 2.0), u(0, 0.3), u(0, 0.5), seed=self.seed())
        return Material("checker", self.any_color(), self.any_color(), u(0.25, 0.5), 0.05, u(0, 0.5), seed=self.seed())

    def wall(self, color: Vec3) -> Material:
        """A wall finish in `color`: plain, wallpaper stripes, bricks or noise."""
        u = self.uniform
        kind = self.pick(("plain", "stripes", "bricks", "noise"), (0.78, 0.09, 0.06, 0.07))
        if kind == "plain":
            return Material("plain", color, (0, 0, 0), u(0.5, 2.0), u(0.02, 0.1), seed=self.seed())
        if kind == "stripes":
            return Material("stripes", color, shade_of(color, u(0.7, 0.95)), u(0.05, 0.3), 0.05, seed=self.seed())
        if kind == "bricks":
            brick = hsv(u(0, 0.08), u(0.2, 0.7), u(0.3, 0.8))
            return Material("bricks", brick, hsv(0, 0, u(0.5, 0.9)), u(0.2, 0.3), 0.2, seed=self.seed())
        return Material("noise", color, shade_of(color, u(0.75, 0.95)), u(0.5, 2.0), 0.1, seed=self.seed())
