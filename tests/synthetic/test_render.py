"""Rendering options of depthnet.synthetic.render: depth cap, Kinect holes, scenes without a room."""

import warnings

import numpy as np
import pytest

from depthnet import synthetic as S
from depthnet.synthetic import make_scene, render, scene_view, seed_of

SMALL = (96, 128)


def test_max_depth_flags_instead_of_clipping_and_optional_holes():
    clean = S.render_scene(5, *SMALL)
    assert (clean.depth > 0).all()
    cap = float(np.median(clean.depth))
    capped = S.render_scene(5, *SMALL, max_depth=cap)
    far = clean.depth > cap
    assert far.any() and (capped.depth[far] == 0).all()
    np.testing.assert_array_equal(capped.depth[~far], clean.depth[~far])
    holes = S.render_scene(5, *SMALL, hole_fraction=0.1)
    frac = (holes.depth == 0).mean()
    assert 0.05 < frac < 0.2
    kept = holes.depth > 0
    np.testing.assert_array_equal(holes.depth[kept], clean.depth[kept])
    np.testing.assert_array_equal(holes.rgb, clean.rgb)


def test_scene_without_room_leaves_misses_invalid():
    cam = S.Camera((0.0, 0.0, 0.0))
    sphere = S.Sphere((0.0, 3.0, 0.0), 0.5, S.Material("noise", (0.8, 0.2, 0.2), (0.2, 0.2, 0.8), 0.1))
    scene = S.Scene(camera=cam, objects=(sphere,), lights=(S.Light((1.0, 0.0, 2.0)),))
    rgb, depth = S.render(scene, *SMALL)
    hit = depth > 0
    assert 0.01 < hit.mean() < 0.5
    assert depth[hit].min() == pytest.approx(2.5, rel=1e-3)  # nearest point of the sphere, on the axis
    assert rgb[hit].mean() > rgb[~hit].mean() + 20  # lit sphere on a black background


def test_ray_grazing_a_room_edge_gives_invalid_depth_not_nan_colour():
    """Room 40 of seed 0, view 0, at 312x416 has one ray that misses every face in float32 (room 95, view 3
    before the camera ranges changed); such rays once made NaN colours."""
    room_seed = seed_of(0, 40)
    scene = scene_view(make_scene(room_seed), room_seed, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "invalid value" from NaN arithmetic or casts
        rgb, depth = render(scene, 312, 416)
    assert np.isfinite(depth).all() and (depth == 0).sum() >= 1
    assert (depth == 0).sum() <= 4  # a grazing ray, not a region beyond the 10 m range
    assert rgb.dtype == np.uint8


def test_shadows_darken_only_colour_and_noise_seed_changes_only_colour():
    scene = make_scene(9)
    rgb, depth = render(scene, *SMALL)
    rgb_flat, depth_flat = render(scene, *SMALL, shadows=False)
    np.testing.assert_array_equal(depth, depth_flat)
    assert rgb_flat.astype(int).sum() >= rgb.astype(int).sum()  # removing shadows only adds light
    rgb_other, depth_other = render(scene, *SMALL, noise_seed=1)
    np.testing.assert_array_equal(depth, depth_other)
    assert not np.array_equal(rgb, rgb_other) and np.abs(rgb.astype(int) - rgb_other.astype(int)).mean() < 5
