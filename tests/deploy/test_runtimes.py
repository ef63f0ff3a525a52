"""depthnet.deploy.runtimes: which file loads how, the host resize rule, and one clear error for a missing runtime."""

import os
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
