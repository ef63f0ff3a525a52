"""depthnet-predict on real NYU frames: every output, sizes, the PLY against the intrinsics, bokeh keeps the
focal plane, converted inputs, and bad inputs reported with a non-zero exit while good ones are written."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from helpers import run_cli as _run
from helpers import script as _script
from helpers import shared_tiny_run
from PIL import Image

from depthnet.apps.bokeh import DEFAULT_APERTURE
from depthnet.apps.imageio import load_rgb
from depthnet.apps.outputs import run_predict, write_outputs
from depthnet.data.camera import NYU_INTRINSICS, Intrinsics
from depthnet.inference import ModelLoadError, Predictor


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    from depthnet.deploy.saved_model import export_run

    model_dir, _ = shared_tiny_run(tmp_path_factory)
    path = tmp_path_factory.mktemp("export") / "tiny"
    export_run(model_dir, str(path), checkpoint="latest")
    return str(path)


def _valid(depth):
    return np.isfinite(depth) & (depth > 0)


@pytest.fixture(scope="module")
def cli_run(saved_model, nyu_samples, tmp_path_factory):
    """One depthnet-predict run over real NYU frames, converted inputs and bad inputs."""
    d = tmp_path_factory.mktemp("inputs")
    real = [
        nyu_samples / "supergradients_nyu2_mini_test" / "image_0.png",  # 480x640 PNG
        nyu_samples / "metric3d_nyu_demo" / "rgb" / "rgb_00000.jpg",  # 480x640 JPEG
        nyu_samples / "mmseg_pseudo_nyu" / "images" / "bookstore_0001d_00001.jpg",  # 120x160 JPEG
        nyu_samples / "open3d_nyu_raw" / "NYU_color.ppm",  # 480x640 PPM
    ]
    small = Image.open(real[0]).resize((96, 72))
    small.convert("L").save(d / "gray.png")
    rgba = small.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(d / "rgba.png")
    depth16 = np.array(Image.open(nyu_samples / "supergradients_nyu2_mini_test" / "depth_0.png"))[::6, ::6]
    Image.fromarray(depth16.astype(np.uint16)).save(d / "depth16.png")  # a 16-bit grayscale picture
    (d / "notes.txt").write_text("not an image")
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(d / "tiny.png")
    (d / "empty").mkdir()
    inputs = [str(p) for p in real] + [
        str(d / n) for n in ("gray.png", "rgba.png", "depth16.png", "notes.txt", "tiny.png", "missing.jpg", "empty")
    ]
    out = tmp_path_factory.mktemp("predicted")
    proc = _run(
        _script("depthnet-predict")
        + [f"--saved_model={saved_model}", f"--output_dir={out}", "--point_cloud", "--bokeh", "--focus_pixel=60,80"]
        + [f"--input={p}" for p in inputs]
    )
    return proc, out, {os.path.splitext(os.path.basename(p))[0]: p for p in inputs}


GOOD = ("image_0", "rgb_00000", "bookstore_0001d_00001", "NYU_color", "gray", "rgba", "depth16")


def test_every_output_for_every_good_input(cli_run):
    proc, out, inputs = cli_run
    assert proc.returncode == 1  # some inputs were bad
    assert "predicting" in proc.stderr  # progress bar
    for stem in GOOD:
        rgb = load_rgb(inputs[stem])
        depth = np.load(out / f"{stem}_depth.npy")
        assert depth.dtype == np.float32 and depth.shape == rgb.shape[:2], stem
        stored = np.array(Image.open(out / f"{stem}_depth.png"))
        assert stored.dtype == np.uint16 and stored.shape == depth.shape
        ok = _valid(depth) & (depth * 1000 < 65535.5)
        np.testing.assert_array_equal(stored[ok], np.rint(depth[ok].astype(np.float64) * 1000).astype(np.uint16))
        assert np.array(Image.open(out / f"{stem}_depth_color.png")).shape == rgb.shape
        panel = np.array(Image.open(out / f"{stem}_panel.png"))
        assert panel.shape[0] > rgb.shape[0] and panel.shape[1] > 2 * rgb.shape[1]  # RGB | depth | colour bar
        assert (out / f"{stem}.ply").exists() and (out / f"{stem}_bokeh.png").exists()
    summary = json.loads((out / "predictions.json").read_text())
    assert summary["num_ok"] == len(GOOD) and summary["predictor"]["source"] == "saved_model"


def test_bad_inputs_are_reported_and_skipped(cli_run):
    proc, out, inputs = cli_run
    err = proc.stderr
    assert "4 input(s) failed" in err
    assert "notes.txt" in err and "not an image" in err
    assert "tiny.png" in err and "6x8" in err and "minimum is 163 pixels" in err  # the tiny run works at 84x124
    assert "missing.jpg" in err and "does not exist" in err
    assert "empty" in err and "holds no image files" in err
    for stem in ("notes", "tiny", "missing"):
        assert not list(out.glob(f"{stem}*"))
    assert f"wrote outputs for {len(GOOD)} image(s)" in proc.stdout


def test_point_cloud_matches_depth_and_intrinsics(cli_run):
    from plyfile import PlyData

    _, out, inputs = cli_run
    for stem in ("image_0", "bookstore_0001d_00001"):
        depth = np.load(out / f"{stem}_depth.npy")
        rgb = load_rgb(inputs[stem])
        ply = PlyData.read(str(out / f"{stem}.ply"))
        v = ply["vertex"]
        valid = _valid(depth)
        assert v.count == int(valid.sum())
        intr = NYU_INTRINSICS.scaled(*depth.shape)  # 120x160: the NYU camera at a quarter of the size
        x, y, z = (np.asarray(v[k], np.float64) for k in ("x", "y", "z"))
        rows, cols = np.nonzero(valid)
        u = x * intr.fx / z + intr.cx
        w = y * intr.fy / z + intr.cy
        np.testing.assert_allclose(u, cols, atol=2e-3)
        np.testing.assert_allclose(w, rows, atol=2e-3)
        np.testing.assert_array_equal(z.astype(np.float32), depth[valid])
        colors = np.stack([np.asarray(v[k]) for k in ("red", "green", "blue")], axis=1)
        np.testing.assert_array_equal(colors, rgb[valid])


def test_bokeh_keeps_the_focal_plane_sharp(cli_run):
    _, out, inputs = cli_run
    summary = {
        os.path.splitext(os.path.basename(r["input"]))[0]: r
        for r in json.loads((out / "predictions.json").read_text())["images"]
    }
    for stem in ("image_0", "bookstore_0001d_00001"):
        rgb = load_rgb(inputs[stem])
        depth = np.load(out / f"{stem}_depth.npy").astype(np.float64)
        bokeh = np.array(Image.open(out / f"{stem}_bokeh.png"))
        focus = summary[stem]["focus_depth"]
        assert summary[stem]["focus_pixel"] == [60, 80]
        window = depth[58:63, 78:83]
        assert focus == np.median(window)  # the median of 25 values is one of them
        at_focus = depth == focus
        assert at_focus.any()
        np.testing.assert_array_equal(bokeh[at_focus], rgb[at_focus])
        with np.errstate(divide="ignore"):
            in_focus = _valid(depth) & (DEFAULT_APERTURE * np.abs(1.0 / depth - 1.0 / focus) < 0.5)
        np.testing.assert_array_equal(bokeh[in_focus], rgb[in_focus])


def test_a_directory_that_is_not_a_saved_model_fails_clearly(tmp_path, nyu_samples):
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "model.h5").write_text("x")
    proc = _run(
        _script("depthnet-predict")
        + [
            f"--saved_model={tmp_path}/fake",
            f"--output_dir={tmp_path}/out",
            f"--input={nyu_samples}/mmseg_pseudo_nyu/images",
        ]
    )
    assert proc.returncode == 2
    assert "is not a SavedModel" in proc.stderr and "saved_model.pb" in proc.stderr
    with pytest.raises(ModelLoadError, match="does not exist"):
        Predictor.from_saved_model(str(tmp_path / "nothing"))


# ---------------------------------------------------------------------------------------------- in process


def _constant_predictor(value=2.0):
    def fn(images):
        return tf.fill(tf.concat([tf.shape(images)[:3], [1]], 0), value)

    return Predictor(fn)


def test_intrinsics_given_for_another_size_are_rescaled(tmp_path):
    from plyfile import PlyData

    rgb = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    depth = np.full((60, 80), 2.0, np.float32)
    given = Intrinsics(fx=500.0, fy=510.0, cx=319.5, cy=239.5, height=480, width=640)  # for the 480x640 original
    record = write_outputs(str(tmp_path), "x", rgb, depth, given, point_cloud=True)
    scaled = given.scaled(60, 80)
    assert record["intrinsics"]["fx"] == pytest.approx(62.5) and record["intrinsics"]["cx"] == pytest.approx(39.5)
    v = PlyData.read(str(tmp_path / "x.ply"))["vertex"]
    np.testing.assert_allclose(np.asarray(v["x"]) * scaled.fx / 2.0 + scaled.cx, np.tile(np.arange(80), 60), atol=1e-4)


def test_duplicate_stems_and_per_image_errors_in_process(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        Image.fromarray(np.full((60, 80, 3), 100, np.uint8)).save(tmp_path / sub / "img.png")
    Image.fromarray(np.full((48, 64, 3), 100, np.uint8)).save(tmp_path / "b" / "small.png")
    summary = run_predict(
        [str(tmp_path / "a"), str(tmp_path / "b")],
        str(tmp_path / "out"),
        _constant_predictor(),
        bokeh=True,
        focus_pixel=(50, 70),
        progress=False,
        log=lambda s: None,
    )
    assert sorted(os.path.basename(p) for p in (tmp_path / "out").glob("*_depth.npy")) == [
        "img_2_depth.npy",
        "img_depth.npy",
    ]
    assert summary["num_errors"] == 1 and "outside the 48x64" in summary["errors"][0]["error"]
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "img_depth.npy"), np.full((60, 80), 2.0, np.float32))


def test_a_focus_outside_the_predicted_range_is_warned_and_the_default_is_the_centre(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    depth = np.tile(np.linspace(1.59, 3.33, 80, dtype=np.float32), (60, 1))  # the predicted range
    record = write_outputs(str(tmp_path), "far", rgb, depth, bokeh=True, focus_depth=1.5)
    assert "1.50 m lies outside the predicted depth range 1.59-3.33 m" in record["warning"]
    centred = write_outputs(str(tmp_path), "centre", rgb, depth, bokeh=True)  # no focus given: the image centre
    assert centred["focus_pixel"] == [30, 40] and "warning" not in centred
    assert centred["focus_depth"] == pytest.approx(depth[30, 40], abs=0.05)
    logged = []
    Image.fromarray(rgb).save(tmp_path / "photo.png")
    summary = run_predict(
        [str(tmp_path / "photo.png")],
        str(tmp_path / "out"),
        _constant_predictor(2.0),
        bokeh=True,
        focus_depth=1.5,
        progress=False,
        log=logged.append,
    )
    assert summary["num_ok"] == 1 and "outside the predicted depth range" in summary["images"][0]["warning"]
    assert any(line.startswith("warning: ") and "photo.png" in line for line in logged)
