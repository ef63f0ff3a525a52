"""apps.video: a short clip written with imageio -> a side-by-side depth video with the same frame count."""

import numpy as np
import pytest

iio = pytest.importorskip("imageio.v2")

from depthnet.apps.video import is_video, predict_video


def write_clip(path, frames=5, height=62, width=90, fps=10, **codec):
    """A clip of a bright square moving right over a dark ramp."""
    codec = codec or {"codec": "libx264"}
    with iio.get_writer(str(path), format="FFMPEG", fps=fps, macro_block_size=1, **codec) as writer:
        for i in range(frames):
            frame = np.tile(np.linspace(0, 120, width, dtype=np.uint8)[None, :, None], (height, 1, 3))
            frame[20:40, 10 + 10 * i : 30 + 10 * i] = 250
            writer.append_data(frame)
    return path


def fake_depth(rgb):
    return (1.0 + rgb.mean(axis=2) / 64.0).astype(np.float32)


def test_depth_video_has_every_frame_side_by_side(tmp_path):
    clip = write_clip(tmp_path / "clip.mp4")
    summary = predict_video(str(clip), str(tmp_path / "out"), fake_depth, write_npy=True, progress=False)
    frames = list(iio.get_reader(summary["output"], format="FFMPEG").iter_data())
    assert summary["frames"] == len(frames) == 5
    assert frames[0].shape == (62, 180, 3)  # input | depth, width 2 x 90 (already even)
    npys = sorted((tmp_path / "out" / "clip_depth").iterdir())
    assert [p.name for p in npys] == [f"{i:06d}.npy" for i in range(5)]
    first = np.load(npys[0])
    assert first.shape == (62, 90) and first.dtype == np.float32
    # the depth of the moving square moves too (frame 4: 40 px right of frame 0)
    assert first[30, 20] > first[30, 60] and np.load(npys[4])[30, 60] > np.load(npys[4])[30, 20]
    assert summary["frames_per_second"] > 0


def test_odd_sizes_are_padded_and_video_names_recognised(tmp_path):
    # lossless FFV1 in Matroska: any size (H.264 in yuv420p needs even sides)
    clip = write_clip(tmp_path / "odd.mkv", frames=2, height=61, width=91, codec="ffv1", pixelformat="yuv444p")
    summary = predict_video(str(clip), str(tmp_path), fake_depth, progress=False)
    (frame, *_) = list(iio.get_reader(summary["output"], format="FFMPEG").iter_data())
    assert frame.shape == (62, 182, 3)
    assert is_video("a/B.MP4") and is_video("x.mkv") and not is_video("x.png")
