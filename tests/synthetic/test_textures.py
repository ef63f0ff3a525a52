"""Procedural textures (depthnet.synthetic.textures / noise): every material kind, ranges, prefiltering."""

import numpy as np
import pytest

from depthnet import synthetic as S
from depthnet.synthetic.noise import fbm, line_coverage, value_noise
from depthnet.synthetic.textures import MATERIAL_KINDS, texture

KINDS = MATERIAL_KINDS
EMISSIVE = {"window", "lamp", "screen"}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_gives_finite_albedo_in_unit_range(kind):
    rng = np.random.default_rng(1)
    s, t = (rng.uniform(0, 2, 500).astype(np.float32) for _ in range(2))
    fp = np.full(500, 0.003, np.float32)
    mat = S.Material(kind, (0.8, 0.5, 0.2), (0.1, 0.3, 0.6), 0.3, emission=1.0 if kind in EMISSIVE else 0.0, seed=3)
    rgb, emit = texture(mat, s, t, fp, (2.0, 2.0))
    # float32 except bricks, whose row offset promotes to float64 (kept: changing it would change pixels)
    assert len(rgb) == 3 and all(c.shape == (500,) and c.dtype in (np.float32, np.float64) for c in rgb)
    assert all(np.isfinite(c).all() and c.min() >= 0 and c.max() <= 1 for c in rgb)
    assert (emit is not None) == (kind in EMISSIVE)


def test_material_kinds_are_the_documented_ones():
    documented = S.Material.__doc__.split("kind:")[1].replace("|", " ").replace(".", " ").split()
    assert sorted(KINDS) == sorted(documented) and len(KINDS) == 16


def test_unknown_kind_raises():
    z = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="unknown material kind"):
        texture(S.Material("marble"), z, z, z)


def test_noise_ranges_and_prefiltering():
    x, y = (np.random.default_rng(2).uniform(0, 50, 4000).astype(np.float32) for _ in range(2))
    v = value_noise(x, y)
    assert v.min() >= 0 and v.max() <= 1 and v.std() > 0.05
    fine = fbm(x, y, np.full_like(x, 1e-3), 4, 0)
    blurred = fbm(x, y, np.full_like(x, 10.0), 4, 0)
    assert abs(fine.mean()) < 0.1 and fine.std() > 0.05
    assert blurred.std() < 1e-6  # features much smaller than the footprint fade out
    frac = np.array([0.0, 0.05, 0.3, 0.5, 0.7, 0.95], np.float32)
    cover = line_coverage(frac, 0.1, np.full_like(frac, 1e-3))
    np.testing.assert_allclose(cover, [1, 1, 0, 0, 0, 1], atol=1e-5)
    assert line_coverage(np.float32([0.1]), 0.1, np.float32([0.01]))[0] == pytest.approx(0.5, abs=1e-3)
