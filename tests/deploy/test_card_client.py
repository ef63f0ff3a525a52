"""A client written from model.json alone (numpy, Pillow and the runtime, in a process that cannot import the
project or TensorFlow) gives depthnet-predict's depth within 1e-3 on real NYU frames of several sizes and kinds."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from helpers import run_cli, script
from PIL import Image

# Written from the card's keys: decoding, input, resize (kernel, shrink_above_pixels, before/after the model),
# signature, output. Nothing else about the project is assumed.
CLIENT = r"""
import json, os, sys
import numpy as np
from PIL import Image, ImageOps

model_path, out_dir, images = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(os.path.join(os.path.dirname(model_path), "model.json")) as f:
    card = json.load(f)
_, H, W, _ = card["input"]["shape"]
assert card["input"]["dtype"] == "uint8" and card["input"]["channels"] == "RGB"


def decode(path):  # card["decoding"]
    im = ImageOps.exif_transpose(Image.open(path))
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        rgba = np.asarray(im.convert("RGBA")).astype(np.int32)
        c, a = rgba[..., :3], rgba[..., 3:]
        return ((c * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)
    if im.mode == "L":
        return np.repeat(np.asarray(im)[..., None], 3, axis=2)
    return np.asarray(im.convert("RGB"))


def taps(n_in, n_out):  # card["resize"]["kernel"]["formula"]
    s = (np.arange(n_out, dtype=np.float32) + 0.5) * np.float32(n_in / n_out) - 0.5
    s = np.clip(s, 0, n_in - 1)
    i0 = np.floor(s).astype(np.int64)
    return i0, np.minimum(i0 + 1, n_in - 1), (s - i0).astype(np.float32)


def resize(x, h, w):  # float32 [rows, cols, channels]
    i0, i1, t = taps(x.shape[0], h)
    x = x[i0] * (1 - t)[:, None, None] + x[i1] * t[:, None, None]
    i0, i1, t = taps(x.shape[1], w)
    return x[:, i0] * (1 - t)[None, :, None] + x[:, i1] * t[None, :, None]


def shrink_large(x):  # card["resize"]["large_images"]
    limit = card["resize"]["shrink_above_pixels"]
    h, w = x.shape[:2]
    if h * w <= limit:
        return x
    s = np.sqrt(limit / (h * w))
    size = (max(1, int(np.floor(w * s + 0.5))), max(1, int(np.floor(h * s + 0.5))))
    return np.stack([np.asarray(Image.fromarray(x[..., c], "F").resize(size, Image.BILINEAR)) for c in range(3)], -1)


def run(batch):
    name_in, name_out = card["input"]["name"], card["output"]["name"]
    if model_path.endswith(".onnx"):
        import onnxruntime

        session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
        return session.run([name_out], {name_in: batch})[0]
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=model_path).get_signature_runner(card["signature"]["name"])
    return runner(**{name_in: batch})[name_out]


for path in images:
    rgb = decode(path)
    x = shrink_large(rgb.astype(np.float32))
    if x.shape[:2] != (H, W):
        x = resize(x, H, W)
    batch = np.clip(np.round(x), 0, 255).astype(np.uint8)[None]  # round half to even, clip, uint8
    depth = run(batch)[0].astype(np.float32)  # [H, W, 1] metres
    if depth.shape[:2] != rgb.shape[:2]:
        depth = resize(depth, *rgb.shape[:2])
    stem = os.path.splitext(os.path.basename(path))[0]
    np.save(os.path.join(out_dir, stem + ".npy"), depth[..., 0])
"""


@pytest.fixture(scope="module")
def images(nyu_samples, tmp_path_factory):
    """Real NYU pictures: a 480x640 PNG, a 120x160 JPEG, an RGBA PNG, an EXIF-rotated JPEG, a 600x800 PNG."""
    d = tmp_path_factory.mktemp("client_images")
    frames = nyu_samples / "supergradients_nyu2_mini_test"
    rgba = Image.open(frames / "image_1.png").resize((133, 100)).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((133, 100)))
    rgba.save(d / "alpha.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to view
    Image.open(frames / "image_2.png").resize((120, 90)).save(d / "rotated.jpg", quality=90, exif=exif)
    Image.open(frames / "image_3.png").resize((800, 600)).save(d / "large.png")
    return [
        str(frames / "image_0.png"),
        str(nyu_samples / "mmseg_pseudo_nyu" / "images" / "bookstore_0001d_00001.jpg"),
        str(d / "alpha.png"),
        str(d / "rotated.jpg"),
        str(d / "large.png"),
    ]


def test_the_client_imports_nothing_of_the_project():
    imports = re.findall(r"^\s*(?:import|from)\s+([\w.]+)", CLIENT, re.M)
    assert set(imports) == {"json", "numpy", "PIL", "onnxruntime", "ai_edge_litert.interpreter"}, imports


@pytest.mark.parametrize("name", ["onnx_fp32", "litert_fp32"])
def test_a_client_from_the_card_alone_matches_depthnet_predict(all_formats, images, tmp_path, name):
    folder = os.path.join(all_formats[0], name)
    (model_file,) = [n for n in os.listdir(folder) if n.startswith("model.") and n != "model.json"]
    model = os.path.join(folder, model_file)
    predicted = tmp_path / "predicted"
    proc = run_cli(
        script("depthnet-predict")
        + [f"--model={model}", f"--output_dir={predicted}"]
        + [f"--input={p}" for p in images]
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    shadow = tmp_path / "shadow"  # the client's process cannot import the project or TensorFlow
    for package in ("depthnet", "tensorflow"):
        (shadow / package).mkdir(parents=True)
        (shadow / package / "__init__.py").write_text("raise ImportError('not for the client')\n")
    (tmp_path / "client.py").write_text(CLIENT)
    (tmp_path / "client").mkdir()
    env = dict(os.environ, PYTHONPATH=str(shadow))
    args = [sys.executable, str(tmp_path / "client.py"), model, str(tmp_path / "client"), *images]
    client = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert client.returncode == 0, client.stderr[-2000:]
    for path in images:
        stem = os.path.splitext(os.path.basename(path))[0]
        ours, theirs = np.load(tmp_path / "client" / f"{stem}.npy"), np.load(predicted / f"{stem}_depth.npy")
        assert ours.shape == theirs.shape == np.asarray(Image.open(path)).shape[:2][:: -1 if "rotated" in stem else 1]
        assert np.max(np.abs(ours - theirs) / theirs) <= 1e-3, (name, stem)
    with open(os.path.join(folder, "model.json"), encoding="utf-8") as f:
        assert json.load(f)["resize"]["shrink_above_pixels"] == 480 * 640
