"""Depth geometry of the ray cast (depthnet.synthetic.raycast, through `render`).

Checked against hand-computed ray/plane and ray/sphere intersections, and occlusion against the
projected corners of a box.
"""

import math

import numpy as np
import pytest
from matplotlib.path import Path

from depthnet import synthetic as S
from depthnet.data.camera import NYU_INTRINSICS

SMALL = (96, 128)


# ---------------------------------------------------------------------------------------------
# Exact geometry


@pytest.mark.parametrize("size", [(480, 640), SMALL])
def test_floor_depth_is_exact_z_depth_not_ray_length(size, room_scene):
    h_cam = 1.5
    scene = room_scene(S.Camera((3.0, 1.0, h_cam), yaw=0.0, pitch=0.0, roll=0.0))
    _, depth = S.render(scene, *size)
    intr = NYU_INTRINSICS.scaled(*size)  # a non-default size must use rescaled intrinsics
    H, W = size
    # level camera looking along +y: a floor pixel's ray (xn, 1, -yn) meets z = 0 at t = h * fy / (v - cy)
    for u, v in [(0, H - 1), (W // 2, H - 1), (W - 1, H - 1), (W // 5, int(H * 0.85))]:
        expected = h_cam * intr.fy / (v - intr.cy)
        assert depth[v, u] == pytest.approx(expected, rel=2e-5)
        xn, yn = (u - intr.cx) / intr.fx, (v - intr.cy) / intr.fy
        ray_length = expected * math.sqrt(1 + xn * xn + yn * yn)
        if u in (0, W - 1):  # off-centre: the ray length is >15% longer; z-depth must be returned
            assert ray_length > 1.15 * expected
            assert abs(depth[v, u] - ray_length) > 0.1 * expected
    # the far wall y = 8 is fronto-parallel: its z-depth is 7 m at every pixel that sees it
    cu, cv = int(round(intr.cx)), int(round(intr.cy))
    assert depth[cv, cu] == pytest.approx(7.0, rel=1e-5)
    assert depth[cv, W // 4] == pytest.approx(7.0, rel=1e-5)


def test_pitched_camera_floor_depth(room_scene):
    h_cam, pitch = 1.3, -0.35  # looking down ~20 degrees
    scene = room_scene(S.Camera((3.0, 0.5, h_cam), yaw=0.0, pitch=pitch))
    _, depth = S.render(scene, *SMALL)
    intr = NYU_INTRINSICS.scaled(*SMALL)
    # camera down axis is (0, sin p, -cos p), forward (0, cos p, sin p): ray z = sin p - yn cos p
    for u, v in [(3, 90), (64, 70), (120, 60)]:
        yn = (v - intr.cy) / intr.fy
        expected = h_cam / (yn * math.cos(pitch) - math.sin(pitch))
        assert depth[v, u] == pytest.approx(expected, rel=2e-5)


def test_camera_rotation_and_every_pixel_on_the_room_boundary(room_scene, pixel_rays):
    rng = np.random.default_rng(0)
    size = np.array([5.0, 7.0, 2.8])
    for _ in range(4):
        yaw, pitch, roll = rng.uniform(-np.pi, np.pi), rng.uniform(-0.6, 0.3), rng.uniform(-0.1, 0.1)
        cam = S.Camera(tuple(rng.uniform([1, 1, 1], size - 1)), yaw, pitch, roll)
        rot = cam.rotation()
        np.testing.assert_allclose(rot.T @ rot, np.eye(3), atol=1e-12)
        assert np.linalg.det(rot) == pytest.approx(1.0)
        forward = [math.sin(yaw) * math.cos(pitch), math.cos(yaw) * math.cos(pitch), math.sin(pitch)]
        np.testing.assert_allclose(rot[:, 2], forward, atol=1e-12)
        assert rot[2, 0] == pytest.approx(-math.sin(roll) * math.cos(pitch), abs=1e-12)  # level horizon when roll=0
        _, depth = S.render(room_scene(cam, size=tuple(size)), *SMALL)
        intr = NYU_INTRINSICS.scaled(*SMALL)
        pts = np.asarray(cam.position) + depth[..., None] * pixel_rays(intr, rot)
        # each back-projected point lies on one of the six room planes (and inside the box)
        gap = np.minimum(np.abs(pts), np.abs(pts - size)).min(-1)
        assert gap.max() < 1e-4 * depth.max()
        assert (pts > -1e-3).all() and (pts < size + 1e-3).all()


def test_sphere_depth_matches_analytic_intersection(room_scene, pixel_rays):
    cam = S.Camera((3.0, 1.0, 1.2))
    sphere = S.Sphere((3.2, 4.0, 1.1), 0.6, S.Material())
    _, depth = S.render(room_scene(cam, [sphere]), *SMALL)
    _, room_only = S.render(room_scene(cam), *SMALL)
    intr = NYU_INTRINSICS.scaled(*SMALL)
    rays = pixel_rays(intr, cam.rotation())
    oc = np.asarray(cam.position) - np.asarray(sphere.center)
    a = (rays**2).sum(-1)
    b = (rays * oc).sum(-1)
    disc = b**2 - a * ((oc**2).sum() - sphere.radius**2)
    hit = disc > 1e-3  # away from the grazing silhouette
    t = (-b - np.sqrt(np.where(hit, disc, 0))) / a
    assert hit.sum() > 100
    np.testing.assert_allclose(depth[hit], t[hit], rtol=2e-5)
    np.testing.assert_array_equal(depth[disc < -1e-3], room_only[disc < -1e-3])  # the room around it


# ---------------------------------------------------------------------------------------------
# Occlusion


def _hull_masks(corners_uv: np.ndarray, shape, margin: float = 1.0):
    """Pixels whose centres are inside / outside the convex hull of projected corners by > margin px."""
    from scipy.spatial import ConvexHull

    hull = ConvexHull(corners_uv)
    path = Path(corners_uv[hull.vertices])
    v, u = np.mgrid[0 : shape[0], 0 : shape[1]]
    pts = np.stack([u.ravel(), v.ravel()], 1).astype(float)
    inside = path.contains_points(pts, radius=-margin).reshape(shape)  # shrunk
    near = path.contains_points(pts, radius=margin).reshape(shape)  # grown
    # matplotlib's radius sign depends on the orientation; normalise so `inside` is the smaller set
    if inside.sum() > near.sum():
        inside, near = near, inside
    return inside, ~near


@pytest.mark.parametrize("yaw", [0.0, 0.6])
def test_box_occludes_wall_exactly_where_its_corners_project(yaw, room_scene, pixel_rays):
    size = (240, 320)
    intr = NYU_INTRINSICS.scaled(*size)
    cam = S.Camera((3.0, 1.0, 1.2), yaw=0.05, pitch=-0.1)
    box = S.Box((3.2, 4.0, 0.5), (1.2, 0.6, 1.0), S.Material("wood", scale=0.2), yaw=yaw)
    _, with_box = S.render(room_scene(cam, [box]), *size)
    _, room_only = S.render(room_scene(cam), *size)
    # project the 8 corners with the pinhole model (independent of the renderer's culling code)
    hx, hy, hz = (0.5 * s for s in box.size)
    local = np.array([[sx * hx, sy * hy, sz * hz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    c, s = math.cos(yaw), math.sin(yaw)
    world = np.asarray(box.center) + local @ np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])
    cam_pts = (world - np.asarray(cam.position)) @ cam.rotation()
    uv = np.stack(
        [intr.fx * cam_pts[:, 0] / cam_pts[:, 2] + intr.cx, intr.fy * cam_pts[:, 1] / cam_pts[:, 2] + intr.cy], 1
    )
    inside, outside = _hull_masks(uv, size)
    assert inside.sum() > 500
    # inside the silhouette the box is nearer than the wall/floor behind it, and within its depth range
    assert (with_box[inside] < room_only[inside] - 1e-3).all()
    assert with_box[inside].min() >= cam_pts[:, 2].min() - 1e-4
    assert with_box[inside].max() <= cam_pts[:, 2].max() + 1e-4
    # outside the silhouette nothing changed
    np.testing.assert_array_equal(with_box[outside], room_only[outside])
    if yaw == 0.0:  # the front face y = 3.7 is hit by the pixel through its projected centre
        front = np.array([3.2, 3.7, 0.5]) - np.asarray(cam.position)
        fc = front @ cam.rotation()
        u0, v0 = int(round(intr.fx * fc[0] / fc[2] + intr.cx)), int(round(intr.fy * fc[1] / fc[2] + intr.cy))
        ray = pixel_rays(intr, cam.rotation())[v0, u0]
        assert with_box[v0, u0] == pytest.approx((3.7 - cam.position[1]) / ray[1], rel=2e-5)


def test_nearest_object_wins(room_scene):
    cam = S.Camera((3.0, 1.0, 1.2))
    near = S.Box((3.0, 3.0, 1.2), (0.4, 0.4, 0.4), S.Material())
    far = S.Box((3.0, 5.0, 1.2), (5.0, 0.4, 2.0), S.Material())
    for objs in ([near, far], [far, near]):  # independent of the object order
        _, depth = S.render(room_scene(cam, objs), *SMALL)
        intr = NYU_INTRINSICS.scaled(*SMALL)
        cu, cv = int(round(intr.cx)), int(round(intr.cy))
        assert depth[cv, cu] == pytest.approx(1.8, rel=1e-5)  # near box front face at y = 2.8
        assert depth[cv, 3] == pytest.approx(3.8, rel=1e-5)  # far box front face at y = 4.8


def test_bounding_corners_contain_every_primitive():
    """`corners` bounds each primitive kind (the cast culls objects by the projection of these corners)."""
    from depthnet.synthetic.raycast import corners

    box = S.Box((1.0, 2.0, 0.5), (1.0, 0.5, 1.0), S.Material(), yaw=0.3)
    sphere = S.Sphere((0.0, 1.0, 2.0), 0.5, S.Material())
    cylinder = S.Cylinder((2.0, -1.0), 0.2, 1.4, 0.3, S.Material())
    for prim, expected_lo, expected_hi in [
        (sphere, (-0.5, 0.5, 1.5), (0.5, 1.5, 2.5)),
        (cylinder, (1.7, -1.3, 0.2), (2.3, -0.7, 1.4)),
    ]:
        c = corners(prim)
        assert c.shape == (8, 3)
        np.testing.assert_allclose(c.min(0), expected_lo)
        np.testing.assert_allclose(c.max(0), expected_hi)
    c = corners(box)
    assert c.shape == (8, 3)
    np.testing.assert_allclose(c.mean(0), box.center, atol=1e-12)
    # every corner lies at the half-diagonal distance from the centre
    np.testing.assert_allclose(np.linalg.norm(c - box.center, axis=1), 0.5 * np.linalg.norm(box.size))
