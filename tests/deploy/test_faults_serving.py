"""Fault matrix of issue 11, serving and export side (items 10, 11; the index is in tests/test_faults.py)."""

import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from helpers import shared_tiny_run
from huge_images import peak_run, write_huge_images

from depthnet.errors import InputError
from depthnet.inference import check_input_size


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from depthnet.deploy.saved_model import export_run

    model_dir, _ = shared_tiny_run(tmp_path_factory)
    path = export_run(model_dir, str(tmp_path_factory.mktemp("faults_export") / "model"), checkpoint="latest")
    return path, model_dir


# ------------------------------------------------------------------------- item 10: input checks of serving


def test_an_image_over_the_pixel_cap_is_refused_before_it_is_decoded(exported):
    from depthnet.inference import MAX_INPUT_PIXELS, __all__

    assert "MAX_INPUT_PIXELS" in __all__ and MAX_INPUT_PIXELS == 48_000_000
    serve_bytes = tf.saved_model.load(exported[0]).signatures["serving_bytes"]
    huge = tf.io.encode_png(tf.zeros([7000, 7000, 1], tf.uint8))  # ~50 KB file, 49 MP decoded
    with pytest.raises(tf.errors.InvalidArgumentError, match="encoded image too large: at most 48000000 pixels"):
        serve_bytes(image_bytes=huge[None])
    with pytest.raises(InputError, match="7000x7000 = 49000000 pixels: image too large"):
        check_input_size(7000, 7000)  # the Keras / depthnet-predict path


# Issue 26 item 6: each file to serving_bytes in one process; the peak memory after each (MB over the loaded model).
_SERVE = """
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_bytes"]
base = peak_mb()
for path in sys.argv[2:]:
    try:
        depth = serve(image_bytes=tf.constant([open(path, "rb").read()]))["depth"]
        message = "served %s" % (depth.shape,)
    except tf.errors.InvalidArgumentError as e:
        message = e.message
    out[path.rsplit("/", 1)[-1]] = (message, peak_mb() - base)
"""
TOO_LARGE = "encoded image too large: at most 48000000 pixels"
REFUSALS = {
    "huge.webp": TOO_LARGE,  # lossless (VP8L), 4 KB: before, decoded (4.6 GB) and then refused
    "huge_lossy.webp": TOO_LARGE,  # lossy (VP8), 180 KB
    "screen16.gif": TOO_LARGE,  # a 16x16 screen around a 10000x10000 frame: TensorFlow decodes the frame
    "frames.gif": "the frames of a GIF hold more than 48000000 pixels in all",  # 30 x 9 MP: TF holds every frame
    "anim.webp": "takes still images: an image is an animated WebP",  # TF 2.21 corrupts its heap on some
    "huge.tif": "serving_bytes takes JPEG, PNG, WebP, GIF or BMP files",  # before: TF's "Unknown image file format"
}


@pytest.fixture(scope="module")
def huge(tmp_path_factory):
    return write_huge_images(str(tmp_path_factory.mktemp("huge_serving")))


def test_serving_bytes_refuses_huge_webp_gif_and_unread_formats_from_their_headers(exported, huge):
    result = peak_run(_SERVE, exported[0], *(huge[name] for name in REFUSALS))
    assert "crashed" not in result, result
    for name, expected in REFUSALS.items():
        message, grown_mb = result[name]
        assert expected in message, (name, message)
        assert grown_mb < 400, (name, grown_mb)  # refused before decoding (before: +4 GB for huge.webp)


def test_serving_bytes_still_serves_a_still_webp_and_a_small_animated_gif(exported, tmp_path):
    from PIL import Image

    serve = tf.saved_model.load(exported[0]).signatures["serving_bytes"]
    rgb = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "still.webp", lossless=True)
    frames = [Image.fromarray(rgb).convert("P") for _ in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    for name in ("still.webp", "anim.gif"):
        depth = serve(image_bytes=tf.constant([(tmp_path / name).read_bytes()]))["depth"]
        assert depth.shape == (1, 48, 64, 1) and np.isfinite(depth.numpy()).all()


def test_serving_default_says_what_is_wrong_with_an_empty_batch_or_four_channels(exported):
    serve = tf.saved_model.load(exported[0]).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="needs at least one image: the batch .* is empty"):
        serve(images=tf.zeros([0, 48, 64, 3], tf.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"takes RGB images uint8 \[batch, height, width, 3\]"):
        serve(images=tf.zeros([1, 48, 64, 4], tf.uint8))


def test_the_minimum_size_message_is_computed_for_the_model(exported):
    serve = tf.saved_model.load(exported[0]).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        serve(images=tf.zeros([1, 6, 8, 3], tf.uint8))
    # The tiny model's working size gives a minimum of 163 pixels: 12x14, not the full model's 39x52.
    assert "minimum is 163 pixels (e.g. 12x14)" in caught.value.message


# ------------------------------------------------------------------------- item 11: export folders


def test_export_folder_has_normal_permissions_and_stale_temporaries_are_cleaned(exported, tmp_path):
    from depthnet.deploy.saved_model import export_run

    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(exported[0]).st_mode & 0o777 == 0o777 & ~umask  # e.g. 0755, not mkdtemp's 0700
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname().replace("-", "_").replace(".", "_")
    old_style = tmp_path / ".model.tmp-k2j3h4"  # left by a killed export of an older version, days ago
    killed = tmp_path / f".model.tmp-{host}-{dead.pid}-x8y9"  # left by a killed export on this host
    running = tmp_path / f".model.assets-{host}-{os.getpid()}-abcd"  # an export in progress (this process)
    for folder in (old_style, killed, running):
        (folder / "variables").mkdir(parents=True)
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old_style, (two_days_ago, two_days_ago))
    export_run(exported[1], str(tmp_path / "model"), checkpoint="latest", verify=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["model", running.name])
    mode = os.stat(tmp_path / "model").st_mode & 0o777
    assert mode == 0o777 & ~umask and np.all([mode & 0o005])  # others can read and enter it
