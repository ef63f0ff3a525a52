"""Furniture items (depthnet.synthetic.furniture): every kind builds, stands on the floor, fits its footprint."""

import math

import numpy as np
import pytest

from depthnet.synthetic.furniture import Item, make_item
from depthnet.synthetic.generate import FREE_ITEMS, WALL_ITEMS
from depthnet.synthetic.palette import Palette
from depthnet.synthetic.raycast import corners

ROOM = (5.0, 6.0, 2.8)


@pytest.mark.parametrize("kind", sorted(set(WALL_ITEMS + FREE_ITEMS)))
def test_every_kind_builds_and_stays_in_its_footprint(kind):
    for seed in range(5):
        item = make_item(kind, Palette(np.random.default_rng(seed)), ROOM)
        assert item.parts and 0 < item.height <= ROOM[2] + 1e-9
        prims = item.place(1.0, 2.0, math.pi / 2, group=7)
        assert len(prims) == len(item.parts) and all(p.group == 7 for p in prims)
        box = np.concatenate([corners(p) for p in prims])
        x0, y0, x1, y1 = item.footprint(1.0, 2.0, math.pi / 2)
        assert box[:, 2].min() >= -1e-9  # nothing below the floor
        # parts may overhang a little (headboards, blankets): within 10 cm; plant foliage is wider than its pot
        slack = 0.5 if kind == "plant" else 0.1
        assert box[:, 0].min() > x0 - slack and box[:, 0].max() < x1 + slack
        assert box[:, 1].min() > y0 - slack and box[:, 1].max() < y1 + slack


def test_unknown_kind_raises_and_footprint_rotates():
    with pytest.raises(ValueError):
        make_item("piano", Palette(np.random.default_rng(0)), ROOM)
    item = Item(2.0, 1.0)
    assert item.footprint(0.0, 0.0, 0.0) == (-1.0, 0.0, 1.0, 1.0)
    np.testing.assert_allclose(item.footprint(0.0, 0.0, math.pi / 2), (-1.0, -1.0, 0.0, 1.0), atol=1e-12)
