"""Shared helpers for the depthnet.synthetic tests: a plain lit room around a camera, independent pixel rays."""

import numpy as np
import pytest

from depthnet import synthetic as S

SMALL = (96, 128)


def make_room_scene(camera: S.Camera, objects=(), size=(6.0, 8.0, 3.0)) -> S.Scene:
    """An empty 6 x 8 x 3 m room (default materials) with one light, plus `objects`."""
    return S.Scene(camera=camera, room=S.Room(size), objects=tuple(objects), lights=(S.Light((3.0, 4.0, 2.8)),))


def make_pixel_rays(intr, rot):
    """World directions (camera-z = 1) through every pixel centre, computed independently in float64."""
    v, u = np.mgrid[0 : intr.height, 0 : intr.width].astype(np.float64)
    d_cam = np.stack([(u - intr.cx) / intr.fx, (v - intr.cy) / intr.fy, np.ones_like(u)], -1)
    return d_cam @ rot.T


@pytest.fixture
def room_scene():
    """`make_room_scene`: (camera, objects=(), size=(6, 8, 3)) -> Scene."""
    return make_room_scene


@pytest.fixture
def pixel_rays():
    """`make_pixel_rays`: (intrinsics, camera rotation) -> [H, W, 3] world ray directions."""
    return make_pixel_rays
