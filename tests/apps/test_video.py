"""apps.video: a short clip written with imageio -> a side-by-side depth video with the same frame count."""

import numpy as np
import pytest

iio = pytest.importorskip("imageio.v2")

from depthnet.apps import visualize
from depthnet.apps.video import is_video, predict_video


def fake_depth(rgb):
    return (1.0 + rgb.mean(axis=2) / 64.0).astype(np.float32)


def test_depth_video_has_every_frame_side_by_side(tmp_path, write_clip):
    clip = write_clip(tmp_path / "clip.mp4", frames=5)
    summary = predict_video(str(clip), str(tmp_path / "out"), fake_depth, write_npy=True, progress=False)
    frames = list(iio.get_reader(summary["outputs"]["video"], format="FFMPEG").iter_data())
    assert summary["frames"] == len(frames) == 5
    width = 180 + visualize.colorbar_width(62)  # input | depth | colour bar, padded to an even width
    assert frames[0].shape == (62, width + width % 2, 3)
    npys = sorted((tmp_path / "out" / "clip_depth").iterdir())
    assert [p.name for p in npys] == [f"{i:06d}.npy" for i in range(5)]
    first = np.load(npys[0])
    assert first.shape == (62, 90) and first.dtype == np.float32
    # the depth of the moving square moves too (frame 4: 40 px right of frame 0)
    assert first[30, 20] > first[30, 60] and np.load(npys[4])[30, 60] > np.load(npys[4])[30, 20]
    assert summary["frames_per_second"] > 0


def test_odd_sizes_are_padded_and_video_names_recognised(tmp_path, write_clip):
    # lossless FFV1 in Matroska: any size (H.264 in yuv420p needs even sides)
    clip = write_clip(tmp_path / "odd.mkv", frames=2, height=61, width=91, codec="ffv1", pixelformat="yuv444p")
    summary = predict_video(str(clip), str(tmp_path), fake_depth, progress=False)
    (frame, *_) = list(iio.get_reader(summary["outputs"]["video"], format="FFMPEG").iter_data())
    width = 182 + visualize.colorbar_width(61)
    assert frame.shape == (62, width + width % 2, 3)
    assert is_video("a/B.MP4") and is_video("x.mkv") and not is_video("x.png")


def test_each_frame_carries_a_colour_bar_of_the_fixed_range(tmp_path, write_clip):
    clip = write_clip(tmp_path / "clip.mp4", frames=3, height=120, width=160)
    summary = predict_video(str(clip), str(tmp_path / "out"), fake_depth, progress=False)
    first = iio.get_reader(str(clip), format="FFMPEG").get_data(0)
    assert summary["colour_range_m"] == pytest.approx(visualize.depth_range(fake_depth(first)))  # the first frame's
    frames = list(iio.get_reader(summary["outputs"]["video"], format="FFMPEG").iter_data())
    assert frames[0].shape[1] > 320 + 40  # input | depth | bar
    bars = [f[:, 320:].astype(int) for f in frames]
    assert max(np.abs(b - bars[0]).mean() for b in bars) < 3  # one scale for the whole video
    far, near = bars[0][int(0.2 * 120)], bars[0][int(0.8 * 120)]  # a row near the top, one near the bottom
    column = int(np.argmax(far[:, 2] - near[:, 2]))  # the column bluest at the top against the bottom: the bar's
    far, near = far[column], near[column]
    assert far[2] > far[1] + 50 and near[1] > near[2] + 50  # plasma_r: far purple at the top, near yellow below
    assert (bars[0].max(axis=2) < 100).sum() > 30  # tick labels in metres
