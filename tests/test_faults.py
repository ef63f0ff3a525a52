"""Fault matrix of issue 11 (train / eval / export / predict / serving half): one test per case, each
failing on the code before the fix. The cases are spread over files by area, each under 400 lines:

| item | case | test |
|---|---|---|
| 1 | stems collide (a.jpg, a.png, a_2.png) | test_faults.py::test_colliding_stems_get_one_output_each |
| 1 | --output_dir is the input folder | test_faults.py::test_outputs_never_land_on_an_input_file |
| 1 | outputs exist already | test_faults.py::test_existing_outputs_are_refused_unless_overwrite |
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from depthnet.apps.outputs import run_predict
from depthnet.errors import InputError
from depthnet.inference import Predictor


def _constant_predictor(value=2.0):
    def fn(images):
        return tf.fill(tf.concat([tf.shape(images)[:3], [1]], 0), value)

    return Predictor(fn)


def _image(path, value):
    Image.fromarray(np.full((60, 80, 3), value, np.uint8)).save(path)


def _predict(inputs, out, **kw):
    paths = [str(p) for p in inputs]
    return run_predict(paths, str(out), _constant_predictor(), progress=False, log=lambda s: None, **kw)


# ------------------------------------------------------------------------------------------- item 1: predict


def test_colliding_stems_get_one_output_each(tmp_path):
    for name, value in (("a.jpg", 10), ("a.png", 20), ("a_2.png", 30)):
        _image(tmp_path / name, value)
    summary = _predict([tmp_path], tmp_path / "out")
    stems = {os.path.basename(r["input"]): os.path.basename(r["outputs"]["npy"]) for r in summary["images"]}
    # a_2.png keeps its own name; the second "a" takes the first free one.
    assert stems == {"a.jpg": "a_depth.npy", "a_2.png": "a_2_depth.npy", "a.png": "a_3_depth.npy"}
    assert len(list((tmp_path / "out").glob("*_depth.npy"))) == 3


def test_outputs_never_land_on_an_input_file(tmp_path):
    _image(tmp_path / "scene.png", 50)
    truth = np.full((60, 80), 1234, np.uint16)
    Image.fromarray(truth).save(tmp_path / "scene_depth.png")  # the user's ground truth
    before = (tmp_path / "scene_depth.png").read_bytes()
    with pytest.raises(InputError, match="scene_depth.png"):  # a file that is not an input: refused
        _predict([tmp_path / "scene.png"], tmp_path)
    # The folder as input (--output_dir = the input folder): scene_depth.png is an input, never written,
    # even with overwrite.
    summary = _predict([tmp_path], tmp_path, overwrite=True)
    assert (tmp_path / "scene_depth.png").read_bytes() == before
    written = {os.path.basename(r["input"]): r["outputs"]["depth_png"] for r in summary["images"]}
    assert written == {
        "scene.png": str(tmp_path / "scene_2_depth.png"),
        "scene_depth.png": str(tmp_path / "scene_depth_depth.png"),
    }


def test_existing_outputs_are_refused_unless_overwrite(tmp_path):
    _image(tmp_path / "x.png", 70)
    out = tmp_path / "out"
    _predict([tmp_path / "x.png"], out)
    (out / "x_depth.npy").write_bytes(b"mine")
    with pytest.raises(InputError, match="already exist.*x_depth.npy.*overwrite"):
        _predict([tmp_path / "x.png"], out)
    assert (out / "x_depth.npy").read_bytes() == b"mine"  # nothing was written
    _predict([tmp_path / "x.png"], out, overwrite=True)
    np.testing.assert_array_equal(np.load(out / "x_depth.npy"), np.full((60, 80), 2.0, np.float32))
    assert json.loads((out / "predictions.json").read_text())["num_ok"] == 1
