"""Random scenes of depthnet.synthetic.generate: frame format, determinism, views, variety, and colour
not encoding depth."""

import numpy as np
import pytest

from depthnet import synthetic as S
from depthnet.data.records import Frame

SMALL = (96, 128)


# ---------------------------------------------------------------------------------------------
# Output format


def test_frame_shapes_dtypes_and_depth_range():
    f = S.render_scene(3, *SMALL)
    assert isinstance(f, Frame)
    assert f.rgb.shape == (*SMALL, 3) and f.rgb.dtype == np.uint8
    assert f.depth.shape == SMALL and f.depth.dtype == np.float32
    assert np.isfinite(f.depth).all()
    valid = f.depth > 0
    assert valid.mean() > 0.99  # only depth > 10 m may be flagged 0 and holes are off by default
    assert f.depth[valid].min() > 0.2 and f.depth[valid].max() <= S.DEFAULT_MAX_DEPTH
    assert f.scene and f.frame
    assert f.rgb.std() > 10  # not a blank image


def test_default_size_is_nyu():
    f = S.render_scene(11)
    assert f.rgb.shape == (480, 640, 3) and f.depth.shape == (480, 640)
    d = f.depth[f.depth > 0]
    assert 0.3 < np.median(d) < 8.0


def test_deterministic_by_seed_and_seeds_differ():
    a, b, c = S.render_scene(7, *SMALL), S.render_scene(7, *SMALL), S.render_scene(8, *SMALL)
    assert a.rgb.tobytes() == b.rgb.tobytes() and a.depth.tobytes() == b.depth.tobytes()
    assert a.scene == b.scene and a.frame == b.frame
    assert not np.array_equal(a.depth, c.depth)
    assert np.abs(a.rgb.astype(int) - c.rgb.astype(int)).mean() > 10


def test_iter_frames_views_scenes_and_determinism():
    frames = list(S.iter_frames(6, seed=4, height=SMALL[0], width=SMALL[1], frames_per_scene=3))
    assert len(frames) == 6
    assert len({f.scene for f in frames[:3]}) == 1 and frames[0].scene != frames[3].scene
    assert len({f.frame for f in frames}) == 6
    # same room from a slightly moved camera: different pixels, similar depth statistics
    d0, d1 = frames[0].depth, frames[1].depth
    assert not np.array_equal(d0, d1)
    assert abs(np.median(d0) - np.median(d1)) < 0.5 * np.median(d0)
    # frame i depends only on (seed, i): a shorter stream is a prefix, another seed differs
    again = list(S.iter_frames(4, seed=4, height=SMALL[0], width=SMALL[1], frames_per_scene=3))
    for x, y in zip(again, frames):
        assert x.rgb.tobytes() == y.rgb.tobytes() and x.depth.tobytes() == y.depth.tobytes() and x.frame == y.frame
    other = next(S.iter_frames(1, seed=5, height=SMALL[0], width=SMALL[1]))
    assert not np.array_equal(other.depth, frames[0].depth)
    with pytest.raises(ValueError):
        next(S.iter_frames(1, frames_per_scene=0))


def test_render_room_gives_the_stream_s_frames_for_any_views():
    stream = list(S.iter_frames(8, seed=9, height=SMALL[0], width=SMALL[1]))
    per_room = S.DEFAULT_FRAMES_PER_SCENE
    room = S.render_room(9, 1, [0, 3], SMALL[0], SMALL[1])
    for got, index in zip(room, (per_room, per_room + 3)):
        want = stream[index]
        assert got.rgb.tobytes() == want.rgb.tobytes() and got.depth.tobytes() == want.depth.tobytes()
        assert (got.scene, got.frame) == (want.scene, want.frame)


def test_scene_view_zero_is_the_scene_and_others_move_the_camera_only():
    scene = S.make_scene(21)
    assert S.scene_view(scene, 21, 0) is scene
    moved = S.scene_view(scene, 21, 2)
    assert moved.room == scene.room and moved.objects == scene.objects and moved.lights == scene.lights
    assert moved.camera != scene.camera
    assert np.linalg.norm(np.subtract(moved.camera.position, scene.camera.position)) < 1.5


# ---------------------------------------------------------------------------------------------
# Variety: the random scenes are not a trivial colour -> depth mapping


@pytest.fixture(scope="module")
def twenty_frames():
    return [S.render_scene(seed, *SMALL) for seed in range(100, 120)]


def test_scenes_vary_in_depth_and_colour(twenty_frames):
    medians = np.array([np.median(f.depth[f.depth > 0]) for f in twenty_frames])
    assert medians.std() > 0.3 and medians.max() / medians.min() > 1.5
    assert medians.min() > 0.5 and medians.max() < 8.0
    means = np.array([f.rgb.reshape(-1, 3).mean(0) for f in twenty_frames])
    assert (means.std(0) > 10).all()  # per-image mean colour varies (random palettes and lighting)
    assert len({f.scene for f in twenty_frames}) == 20


def test_colour_does_not_encode_depth(twenty_frames):
    """Bounds justified by real NYU Depth V2 (the 10 labelled test frames in ../shared/nyu_samples):
    pooled intensity-depth r = -0.19, per-image r from -0.63 to +0.20, and a quadratic RGB -> depth
    regression fitted on half the frames explains nothing on the other half (R^2 < 0). The synthetic
    frames measure r ~ 0.1 and R^2 < 0; we require |r| < 0.3 and R^2 < 0.15, and per-image
    correlations of both signs (a fixed colour/brightness-vs-depth rule would give one sign)."""
    xs, ds, per_image = [], [], []
    for f in twenty_frames:
        valid = f.depth > 0
        rgb = f.rgb[valid].astype(np.float64) / 255
        d = f.depth[valid].astype(np.float64)
        per_image.append(np.corrcoef(rgb.mean(1), d)[0, 1])
        xs.append(rgb[::5])
        ds.append(d[::5])
    inten = np.concatenate([x.mean(1) for x in xs])
    r = np.corrcoef(inten, np.concatenate(ds))[0, 1]
    assert abs(r) < 0.3
    per_image = np.array(per_image)
    assert (per_image > 0.1).sum() >= 3 and (per_image < -0.1).sum() >= 3

    def features(x):
        cross = [x[:, [0]] * x[:, [1]], x[:, [1]] * x[:, [2]], x[:, [0]] * x[:, [2]]]
        return np.concatenate([np.ones((len(x), 1)), x, x**2, *cross], 1)

    w = np.linalg.lstsq(features(np.concatenate(xs[:10])), np.concatenate(ds[:10]), rcond=None)[0]
    test_x, test_d = features(np.concatenate(xs[10:])), np.concatenate(ds[10:])
    r2 = 1 - ((test_x @ w - test_d) ** 2).mean() / test_d.var()
    assert r2 < 0.15


def test_camera_height_and_pitch_in_nyu_ranges_and_few_pieces_of_furniture():
    """The main job's scenes: a chest-high camera looking slightly down (as in NYU), 2-10 pieces of furniture."""
    import math

    from depthnet.synthetic import generate

    lo_h, hi_h = generate.CAMERA_HEIGHT
    _, _, lo_p, hi_p = generate.CAMERA_PITCH_DEG
    pitches = []
    for seed in range(12):
        scene = generate.make_scene(seed)
        assert lo_h <= scene.camera.position[2] <= hi_h
        pitches.append(math.degrees(scene.camera.pitch))
        groups = {p.group for p in scene.objects if p.group >= 0}
        assert len(groups) <= generate.FURNITURE_COUNT[3]
    assert all(lo_p <= p <= hi_p for p in pitches) and np.mean(pitches) < -3.0
