"""depthnet.deploy.runtimes: which file loads how, the host resize rule (THE kernel), one clear error for a missing
runtime, and the numbers of a model card checked before use."""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from helpers import REPO, script

from depthnet.deploy.runtimes import load_model, resize_depth, resize_to_input
from depthnet.errors import ModelLoadError
from depthnet.extras import MissingExtraError, require


def test_unknown_or_missing_model_files_are_refused(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="neither a SavedModel folder nor a .tflite / .onnx"):
        load_model(str(tmp_path / "model.pt"))
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(str(tmp_path / "absent.onnx"))


def test_require_names_the_extra():
    with pytest.raises(MissingExtraError, match=r"pip install 'depthnet\[litert\]'"):
        require("ai_edge_litert.no_such_module", "running a LiteRT (.tflite) model")


def test_host_resize_keeps_fitting_images_and_resizes_others():
    rgb = np.random.default_rng(0).integers(0, 256, (2, 48, 64, 3), dtype=np.uint8)
    assert resize_to_input(rgb, (48, 64)) is rgb
    flat = np.full((1, 96, 128, 3), 77, np.uint8)
    small = resize_to_input(flat, (48, 64))
    assert small.shape == (1, 48, 64, 3) and small.dtype == np.uint8 and np.all(small == 77)
    depth = np.full((1, 48, 64, 1), 2.5, np.float32)
    np.testing.assert_allclose(resize_depth(depth, (480, 640)), 2.5)


def test_cli_says_which_extra_to_install_when_the_runtime_is_missing(tmp_path):
    """A stand-in `ai_edge_litert` package that fails to import, first on the path: one error line, exit 2."""
    shadow = tmp_path / "shadow" / "ai_edge_litert"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('simulated: not installed')\n")
    (tmp_path / "model.tflite").write_bytes(b"not read")
    image = tmp_path / "a.png"
    from PIL import Image

    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(image)
    path = os.pathsep.join([str(tmp_path / "shadow"), REPO, os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=path)
    args = [f"--model={tmp_path / 'model.tflite'}", f"--input={image}", f"--output_dir={tmp_path / 'out'}"]
    proc = subprocess.run(script("depthnet-predict") + args, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("depthnet-predict: error:")]
    assert len(lines) == 1 and "pip install 'depthnet[litert]'" in lines[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


def test_host_resize_is_the_training_kernel_half_pixel_without_antialiasing():
    """Issue: the host shrank images with antialiasing before a fixed-size file, the SavedModel and training without."""
    import tensorflow as tf

    from depthnet.data.pipeline import preprocess
    from depthnet.inference import resize_bilinear

    rgb = np.random.default_rng(1).integers(0, 256, (1, 120, 160, 3), dtype=np.uint8)
    for size in ((48, 64), (200, 280)):  # shrinking and enlarging
        kernel = tf.image.resize(tf.cast(rgb, tf.float32), size, method="bilinear", antialias=False)
        expected = np.clip(np.round(kernel.numpy()), 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(resize_to_input(rgb, size), expected)
        trained, _, _ = preprocess(rgb[0], np.ones((120, 160), np.float32), resize_to=size, crop_size=None)
        np.testing.assert_array_equal(resize_bilinear(tf.cast(rgb, tf.float32) / 255.0, size)[0], trained)
    antialiased = tf.image.resize(tf.cast(rgb, tf.float32), (48, 64), antialias=True).numpy()
    assert np.abs(resize_to_input(rgb, (48, 64)) - antialiased).max() > 10  # the two kernels differ on this image
    large = np.random.default_rng(2).integers(0, 256, (1, 600, 800, 3), dtype=np.uint8)  # over 480x640: pre-shrunk
    shrunk = tf.image.resize(tf.cast(large, tf.float32), (480, 640), method="bilinear", antialias=True)
    np.testing.assert_array_equal(resize_to_input(large, (480, 640)), np.clip(np.round(shrunk.numpy()), 0, 255))


@pytest.fixture
def onnx_copy(all_formats, tmp_path):
    folder = tmp_path / "onnx_fp32"
    shutil.copytree(os.path.join(all_formats[0], "onnx_fp32"), folder)
    return folder


@pytest.mark.parametrize(
    "value", [[0, 4], [-8, 124], [84, 125], [84.0, 124], "84x124", [84], [84, 124, 3], [8192 + 4, 8]]
)
def test_a_cards_working_size_is_range_checked_before_use(onnx_copy, value):
    """Issue 26: every number read from a model card is checked; a bad one is one ModelLoadError naming it."""
    card = json.loads((onnx_copy / "model.json").read_text())
    card["working_size"] = value
    (onnx_copy / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match=r"model.json: working_size .* is not \[height, width\] as two multiples"):
        load_model(str(onnx_copy))


def test_a_card_of_another_size_and_a_saved_models_bad_working_size_are_refused(onnx_copy, all_formats, tmp_path):
    from depthnet.inference import Predictor

    card = json.loads((onnx_copy / "model.json").read_text())
    assert load_model(str(onnx_copy)).working == (84, 124)  # the intact card loads
    (onnx_copy / "model.json").write_text(json.dumps({**card, "input_size": [96, 128]}))
    with pytest.raises(ModelLoadError, match=r"input_size \[96, 128\] is not the model file's input \[480, 640\]"):
        load_model(str(onnx_copy))
    saved = tmp_path / "saved_model"
    shutil.copytree(os.path.join(all_formats[0], "saved_model"), saved)
    serving = json.loads((saved / "assets" / "serving.json").read_text())
    (saved / "assets" / "serving.json").write_text(json.dumps({**serving, "working_size": [0, 124]}))
    with pytest.raises(ModelLoadError, match=r"serving.json: working_size \[0, 124\] is not"):
        Predictor.from_saved_model(str(saved))


def test_predict_gives_one_error_line_for_a_bad_card(onnx_copy, tmp_path):
    card = json.loads((onnx_copy / "model.json").read_text())
    (onnx_copy / "model.json").write_text(json.dumps({**card, "working_size": [1, 1]}))
    image = tmp_path / "a.png"
    from PIL import Image

    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(image)
    args = [f"--model={onnx_copy}", f"--input={image}", f"--output_dir={tmp_path / 'out'}"]
    proc = subprocess.run(script("depthnet-predict") + args, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if ": error: " in line]
    assert len(lines) == 1 and "working_size [1, 1] is not [height, width]" in lines[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()
