"""Panel text readable at the panel's size: titles and colour-bar labels grow with the image height, for the
quick run's 240x320 frames as for NYU's 480x640 (TensorBoard shows the validation panel fitted to its card)."""

import numpy as np
import pytest
from scipy import ndimage

from depthnet.apps import visualize


def _glyph_heights(region: np.ndarray) -> list[int]:
    """Heights of the dark connected shapes (text, frame lines) of an RGB region."""
    labels, _ = ndimage.label(region.max(axis=2) < 100)
    return [s[0].stop - s[0].start for s in ndimage.find_objects(labels)]


@pytest.mark.parametrize("height,width", [(240, 320), (480, 640)])
def test_panel_titles_and_colour_bar_labels_scale_with_the_image_height(height, width):
    rgb = np.full((height, width, 3), 128, np.uint8)
    gt = np.tile(np.linspace(1.0, 4.0, width), (height, 1))
    out = visualize.depth_panel(rgb, gt * 1.1, gt)
    m = visualize.PANEL_MARGIN
    top = out.shape[0] - m - height  # the images' first row
    np.testing.assert_array_equal(out[top : top + height, m : m + width], rgb)
    title = max(_glyph_heights(out[:top, : 3 * width + 4 * m]))  # the tallest glyph of the titles
    assert title >= 0.06 * height, title  # 14 px at 240 rows, 29 px at 480
    bar = out[top : top + height, 3 * width + 4 * m :]
    labels = [h for h in _glyph_heights(bar) if h < 0.3 * height]  # digits and letters, not the bar's frame
    assert max(labels) >= 0.04 * height, labels  # about 10 px at 240 rows, 19 px at 480
    assert top < 0.2 * height  # the title strip stays a small part of the panel


def test_titles_too_wide_for_their_image_are_made_to_fit():
    small = np.full((60, 120, 3), 128, np.uint8)
    out = visualize.panel([small, small], titles=["prediction 1.16-4.34 m", "b"])  # 165 px wide at 16 px
    m = visualize.PANEL_MARGIN
    strip = out[: out.shape[0] - m - 60, : 2 * m + 120]  # above the first image and its right margin
    dark_cols = np.nonzero((strip.max(axis=2) < 100).any(axis=0))[0]
    assert dark_cols.min() >= m and dark_cols.max() < m + 120 and dark_cols.max() - dark_cols.min() > 100
