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
