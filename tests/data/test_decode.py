"""THE decoding rule (depthnet.data.decode): one file -> the same pixels in prepare (training/eval shards), predict and
serving_bytes, for JPEG (every subsampling, progressive, grey), PNG (RGB, RGBA, LA, grey, 16-bit, palette with
transparency), BMP, GIF and WebP (lossless and lossy); EXIF orientation is the one documented difference of
serving_bytes."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from data_prep import write_frames
from data_prep.readers import read_rgb
from data_prep.readers.base import BadInputError
from depthnet.apps.imageio import load_rgb
from depthnet.data import records
from depthnet.data.decode import composite_on_white, decode_bytes, decode_tf
from depthnet.deploy.saved_model import decode_batch
from depthnet.evaluation.evaluate import iter_split_frames

RNG = np.random.default_rng(3)
RGB = RNG.integers(0, 256, (37, 53, 3), dtype=np.uint8)
GREY = RNG.integers(0, 256, (37, 53), dtype=np.uint8)


def _palette_with_transparency():
    pal = Image.fromarray(np.tile(np.array([[0, 1, 2]], np.uint8), (37, 18))[:, :53], "P")
    pal.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    return pal, {"transparency": 1}


FILES = {
    "jpeg_420.jpg": (Image.fromarray(RGB), {"quality": 80, "subsampling": 2}),
    "jpeg_444.jpg": (Image.fromarray(RGB), {"quality": 95, "subsampling": 0}),
    "jpeg_progressive.jpg": (Image.fromarray(RGB), {"quality": 85, "progressive": True}),
    "jpeg_grey.jpg": (Image.fromarray(GREY), {"quality": 85}),
    "rgb.png": (Image.fromarray(RGB), {}),
    "rgba.png": (Image.fromarray(np.dstack([RGB, GREY]), "RGBA"), {}),
    "la.png": (Image.fromarray(np.dstack([GREY, GREY[::-1]]), "LA"), {}),
    "grey.png": (Image.fromarray(GREY), {}),
    "palette_transparent.png": _palette_with_transparency(),
    "rgb.bmp": (Image.fromarray(RGB), {}),
    "rgb.gif": (Image.fromarray(RGB).convert("P"), {}),
    "rgb_lossless.webp": (Image.fromarray(RGB), {"lossless": True}),
    "rgb_lossy.webp": (Image.fromarray(RGB), {"quality": 80}),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("decode")
    paths = {}
    for name, (image, options) in FILES.items():
        image.save(folder / name, **options)
        paths[name] = folder / name
    return paths


def _serving_pixels(path):
    return decode_batch(tf.constant([path.read_bytes()])).numpy()[0]


@pytest.mark.parametrize("name", sorted(FILES))
def test_prepare_predict_and_serving_decode_a_file_to_the_same_pixels(files, name):
    path = files[name]
    predicted = load_rgb(path)  # depthnet-predict, depthnet.load
    prepared = read_rgb(str(path))  # depthnet-prepare -> training and evaluation shards
    served = _serving_pixels(path)  # the SavedModel's serving_bytes
    assert predicted.dtype == np.uint8 and predicted.shape == (37, 53, 3)
    np.testing.assert_array_equal(prepared, predicted)
    np.testing.assert_array_equal(served, predicted)


def test_shards_hold_exactly_the_prepared_pixels_of_a_jpeg(files, tmp_path):
    """Training and depthnet-eval read the shard; its PNG keeps prepare's decode of the JPEG bit for bit."""
    rgb = read_rgb(str(files["jpeg_420.jpg"]))
    write_frames([records.Frame(rgb, np.ones(rgb.shape[:2], np.float32), "s", "0")], str(tmp_path / "split"))
    (stored, *_), *_ = list(iter_split_frames(str(tmp_path / "split")))
    np.testing.assert_array_equal(stored, load_rgb(files["jpeg_420.jpg"]))


def test_tensorflow_default_jpeg_decoder_is_not_the_rule(files):
    """Why the rule names its IDCT: TF's default (fast) IDCT gives other pixels than Pillow's."""
    data = files["jpeg_420.jpg"].read_bytes()
    fast = tf.io.decode_jpeg(data, channels=3).numpy()
    assert np.abs(fast.astype(int) - load_rgb(files["jpeg_420.jpg"])).max() > 0
    np.testing.assert_array_equal(decode_tf(tf.constant(data)).numpy(), load_rgb(files["jpeg_420.jpg"]))


def test_alpha_is_composited_on_white_in_exact_integers(files):
    out = composite_on_white(
        np.array([[10, 20, 30], [10, 20, 30], [10, 20, 30]], np.uint8), np.array([[255], [0], [128]], np.uint8)
    )
    half = [(c * 128 + 255 * 127 + 127) // 255 for c in (10, 20, 30)]  # round half up of c*a/255 + 255*(1-a/255)
    np.testing.assert_array_equal(out, [[10, 20, 30], [255, 255, 255], half])
    rgba = np.dstack([RGB, GREY])
    expected = composite_on_white(rgba[..., :3], rgba[..., 3:])
    np.testing.assert_array_equal(read_rgb(str(files["rgba.png"])), expected)  # prepare no longer drops alpha


def test_exif_orientation_is_the_one_difference_of_serving_bytes(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(RGB).save(tmp_path / "rot.jpg", exif=exif, quality=90)
    upright = load_rgb(tmp_path / "rot.jpg")
    stored = _serving_pixels(tmp_path / "rot.jpg")
    assert upright.shape == (53, 37, 3) and stored.shape == (37, 53, 3)
    np.testing.assert_array_equal(np.rot90(stored, k=-1), upright)  # exactly the transpose, nothing else
    with pytest.raises(BadInputError, match="EXIF orientation 6"):
        read_rgb(str(tmp_path / "rot.jpg"))  # prepare: its depth map would not be rotated with it


def test_real_nyu_jpegs_decode_to_the_same_pixels_everywhere(nyu_samples):
    paths = sorted(nyu_samples.rglob("*.jpg"))
    assert paths
    for path in paths:
        predicted = load_rgb(path)
        np.testing.assert_array_equal(read_rgb(str(path)), predicted)
        np.testing.assert_array_equal(_serving_pixels(path), predicted)


def test_corrupt_bytes_name_the_file():
    with pytest.raises(ValueError, match="'upload.jpg'"):
        decode_bytes(b"not an image", "upload.jpg")
