"""depthnet.load: a run or a SavedModel -> metres at the input size for paths, uint8 and float images and batches;
and the README's Python blocks, executed as written."""

import os
import pathlib
import re
import shutil

import numpy as np
import pytest
from helpers import REPO, shared_tiny_run
from PIL import Image

import depthnet
from depthnet.errors import InputError, ModelLoadError
from depthnet.inference import Predictor


def _readme_python_blocks():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


def _photo(path, nyu_root=None):
    """A real NYU JPEG when the samples are there, else a rendered-looking random one (a real JPEG file)."""
    real = nyu_root / "metric3d_nyu_demo" / "rgb" / "rgb_00050.jpg" if nyu_root else None
    if real is not None and real.exists():
        shutil.copyfile(real, path)
    else:
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)).save(path)
    return path


def test_readme_python_blocks_run_as_written(tmp_path_factory, tmp_path, monkeypatch, capsys):
    """What a new user pastes: `depthnet.load("runs/quick")` on `photo.jpg` gives metres at the photo's size."""
    model_dir, _ = shared_tiny_run(tmp_path_factory)
    (tmp_path / "runs").mkdir()
    os.symlink(model_dir, tmp_path / "runs" / "quick")  # what `make run` leaves (here: the tiny run)
    samples = pathlib.Path(REPO).parent / "shared" / "nyu_samples"
    photo = _photo(tmp_path / "photo.jpg", samples if samples.is_dir() else None)
    monkeypatch.chdir(tmp_path)
    blocks = _readme_python_blocks()
    assert any("depthnet.load(" in b for b in blocks), "the README shows depthnet.load"
    namespace = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # the README's own code
    depth = namespace["depth_m"]
    height, width = np.asarray(Image.open(photo)).shape[:2]
    assert depth.shape == (height, width) and depth.dtype == np.float32
    assert np.isfinite(depth).all() and depth.min() > 0
    assert capsys.readouterr().out  # the blocks print what they show


@pytest.fixture(scope="module")
def run_and_export(tmp_path_factory):
    from depthnet.deploy.saved_model import export_run

    model_dir, _ = shared_tiny_run(tmp_path_factory)
    export_dir = tmp_path_factory.mktemp("api") / "tiny"
    export_run(model_dir, str(export_dir), checkpoint="latest")
    return model_dir, str(export_dir)


def test_load_gives_metres_at_the_input_size_from_a_run_or_an_export(run_and_export, tmp_path):
    model_dir, export_dir = run_and_export
    rgb = np.random.default_rng(4).integers(0, 256, (70, 97, 3), dtype=np.uint8)  # an odd size
    reference = Predictor.from_model_dir(model_dir, checkpoint="latest").predict(rgb)
    from_run = depthnet.load(model_dir, checkpoint="latest")
    from_export = depthnet.load(export_dir)
    assert from_run.info["source"] == "model_dir" and from_export.info["source"] == "saved_model"
    for estimator in (from_run, from_export):
        depth = estimator(rgb)
        assert depth.shape == (70, 97) and depth.dtype == np.float32
        np.testing.assert_allclose(depth, reference, rtol=1e-5)
        np.testing.assert_allclose(estimator(rgb / 255.0), reference, rtol=1e-5)  # float RGB in [0, 1]
        batch = estimator(np.stack([rgb, rgb[::-1]]))
        assert batch.shape == (2, 70, 97)
        np.testing.assert_allclose(batch[0], reference, rtol=1e-5)
    Image.fromarray(rgb).save(tmp_path / "x.png")
    np.testing.assert_allclose(from_run(str(tmp_path / "x.png")), reference, rtol=1e-5)  # a path: the same pixels


def test_load_refuses_what_it_cannot_use(run_and_export, tmp_path):
    model_dir, _ = run_and_export
    with pytest.raises(ModelLoadError, match="neither a training run"):
        depthnet.load(tmp_path)
    estimator = depthnet.load(model_dir, checkpoint="latest")
    with pytest.raises(InputError, match=r"in \[0, 1\]"):
        estimator(np.full((60, 80, 3), 200.0))
    with pytest.raises(InputError, match="H x W x 3"):
        estimator(np.zeros((60, 80), np.uint8))
