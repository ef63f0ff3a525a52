"""depthnet-export: a tiny trained run -> SavedModel; fresh-process loading, saved_model_cli, equality with
the Keras path, both signatures, odd sizes, the resize rule, and atomic replacement."""

import json
import os
import shutil
import sys

import numpy as np
import pytest
import tensorflow as tf
from helpers import BIN, shared_tiny_run
from helpers import run_cli as _run
from helpers import script as _script

from depthnet.data.decode import decode_bytes
from depthnet.inference import MAX_UPSCALE, InputError, Predictor, check_input_size, min_input_pixels, working_size_of


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The CLI export of the shared tiny run: (the SavedModel, export_dir/saved_model, model_dir)."""
    model_dir, _ = shared_tiny_run(tmp_path_factory)
    export_dir = tmp_path_factory.mktemp("exports") / "tiny"
    proc = _run(
        _script("depthnet-export") + [f"--model_dir={model_dir}", f"--export_dir={export_dir}", "--checkpoint=latest"]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "serving_default" in proc.stdout
    assert os.listdir(export_dir) == ["saved_model"]  # each format in its own folder
    return str(export_dir / "saved_model"), model_dir


@pytest.fixture(scope="module")
def keras_predictor(exported):
    return Predictor.from_model_dir(exported[1], checkpoint="latest")


def _read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _images(seed, height, width, batch=1):
    return np.random.default_rng(seed).integers(0, 256, (batch, height, width, 3), dtype=np.uint8)


# ---------------------------------------------------------------------------------------------- the rule


def test_working_size_rule_keeps_the_training_scale():
    assert working_size_of(480, 640) == (312, 416)  # 0.65x, the paper's resize
    assert working_size_of(640, 480) == (416, 312)  # portrait: same scale
    assert working_size_of(240, 320) == (312, 416)  # a half-size NYU frame: same field of view
    assert working_size_of(120, 160) == (312, 416)
    assert working_size_of(97, 131) == (312, 420)  # sides multiples of 4 (was 8): its 1.35 aspect, 420/312 = 1.346
    assert working_size_of(240, 320, (156, 208)) == (156, 208)  # the quick run's frames: exactly its training scale
    h, w = working_size_of(1000, 1500)
    assert h % 4 == 0 and w % 4 == 0 and abs(h * w / (312 * 416) - 1) < 0.05 and abs(w / h - 1.5) < 0.05
    assert min_input_pixels() == 312 * 416 // int(MAX_UPSCALE) ** 2 == 2028
    check_input_size(39, 52)
    with pytest.raises(InputError, match=r"minimum is 2028 pixels \(e.g. 39x52\)"):
        check_input_size(30, 40)


# ---------------------------------------------------------------------------------------------- the export


def test_export_holds_config_eval_and_serving_assets_and_no_temporaries(exported):
    export_dir, model_dir = exported
    assets = os.path.join(export_dir, "assets")
    assert sorted(os.listdir(assets)) == ["config.json", "eval_metrics.json", "serving.json"]
    config = _read_json(os.path.join(assets, "config.json"))
    assert config == _read_json(os.path.join(model_dir, "config.json"))
    evaluation = _read_json(os.path.join(assets, "eval_metrics.json"))
    assert evaluation == _read_json(os.path.join(model_dir, "eval", "metrics.json"))
    assert "protocol" in evaluation
    serving = _read_json(os.path.join(assets, "serving.json"))
    # the tiny run trained on 64x96 crops: served at its own scale, resize_for_crop((64, 96)) = 84x124
    assert serving["working_size"] == [84, 124] and serving["min_input_pixels"] == min_input_pixels((84, 124)) == 163
    assert serving["checkpoint_path"].endswith("ckpt-2") and serving["precision"] == "fp32"
    siblings = os.listdir(os.path.dirname(export_dir))
    assert siblings == ["saved_model"], siblings  # no temporary directory left beside it
    assert os.listdir(os.path.dirname(os.path.dirname(export_dir))) == ["tiny"]


def test_the_saved_model_card_says_any_size_and_nothing_else(exported):
    """Issue: the SavedModel's model.json said "any size (resized inside the graph)" and also "resize the image
    to input_size [124,168] ... resize depth back"."""
    card = _read_json(os.path.join(exported[0], "model.json"))
    assert card["format"] == "saved_model" and card["signature"]["name"] == "serving_default"
    assert card["input"]["shape"] == ["batch", "height", "width", 3] and "any height x width" in card["input"]["sizes"]
    assert "input_size" not in card and "network_input_size" not in card and "other_sizes" not in card
    assert "nothing else" in card["resize"]["before_the_model"] and card["resize"]["after_the_model"].startswith(
        "nothing"
    )
    assert card["working_size"] == [84, 124] and card["input"]["sizes"].startswith("any height x width with 163 ")
    text = json.dumps(card)
    assert "resize the image to input_size" not in text and "antialiased when shrinking" not in text


def test_fresh_process_loads_and_matches_keras_at_any_size(exported, keras_predictor, tmp_path):
    export_dir, _ = exported
    sizes = [(97, 131), (64, 96), (480, 640), (700, 500)]
    for i, (h, w) in enumerate(sizes):
        np.save(tmp_path / f"in{i}.npy", _images(i, h, w, batch=2 if i == 0 else 1))
    code = (
        "import sys, numpy as np, tensorflow as tf\n"
        f"m = tf.saved_model.load({export_dir!r})\n"
        f"for i in range({len(sizes)}):\n"
        f"    x = np.load({str(tmp_path)!r} + f'/in{{i}}.npy')\n"
        "    d = m.signatures['serving_default'](images=tf.constant(x))['depth']\n"
        f"    np.save({str(tmp_path)!r} + f'/out{{i}}.npy', d.numpy())\n"
        f"print(m.config_asset.asset_path.numpy().decode())\n"
    )
    proc = _run([sys.executable, "-c", code])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("assets/config.json")
    for i, (h, w) in enumerate(sizes):
        x = np.load(tmp_path / f"in{i}.npy")
        served = np.load(tmp_path / f"out{i}.npy")
        assert served.shape == (x.shape[0], h, w, 1) and served.dtype == np.float32
        ours = keras_predictor(x).numpy()
        np.testing.assert_allclose(served, ours, rtol=1e-4, atol=1e-4)


def test_saved_model_cli_show_and_run(exported, tmp_path):
    export_dir, _ = exported
    cli = os.path.join(BIN, "saved_model_cli")
    show = _run([cli, "show", "--dir", export_dir, "--all"])
    assert show.returncode == 0, show.stderr[-2000:]
    for text in (
        "signature_def['serving_default']",
        "signature_def['serving_bytes']",
        "dtype: DT_UINT8",
        "shape: (-1, -1, -1, 3)",
        "name: serving_default_images:0",
        "dtype: DT_STRING",
        "depth",
    ):
        assert text in show.stdout, text
    # TF 2.21's saved_model_cli evaluates --input_exprs with ast.literal_eval, so the numpy expression
    # 'images=np.random.randint(0,255,(1,64,96,3)).astype(np.uint8)' is refused by the tool itself ("is not a
    # valid python literal") for any model; the same random image as a literal nested list is what it runs
    # (an .npy file via --inputs works too).
    image = _images(3, 64, 96)
    literal = "images=" + repr(image.tolist()).replace(" ", "")
    run = _run(
        [
            cli,
            "run",
            "--dir",
            export_dir,
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
            "--input_exprs",
            literal,
            "--outdir",
            str(tmp_path / "out"),
        ]
    )
    assert run.returncode == 0, run.stderr[-2000:]
    served = np.load(tmp_path / "out" / "depth.npy")
    expected = tf.saved_model.load(export_dir).signatures["serving_default"](images=image)["depth"].numpy()
    assert served.shape == (1, 64, 96, 1)
    np.testing.assert_allclose(served, expected, rtol=1e-5)


def test_both_signatures_give_the_same_depth(exported):
    export_dir, _ = exported
    loaded = tf.saved_model.load(export_dir)
    images = _images(7, 97, 131, batch=2)
    png = tf.stack([tf.io.encode_png(images[0]), tf.io.encode_png(images[1])])
    a = loaded.signatures["serving_default"](images=tf.constant(images))["depth"].numpy()
    b = loaded.signatures["serving_bytes"](image_bytes=png)["depth"].numpy()
    np.testing.assert_array_equal(a, b)
    jpeg = tf.io.encode_jpeg(images[0], quality=95)
    decoded = decode_bytes(jpeg.numpy())[None]  # THE decoding rule (depthnet.data.decode), as depthnet-predict
    np.testing.assert_array_equal(
        loaded.signatures["serving_bytes"](image_bytes=jpeg[None])["depth"].numpy(),
        loaded.signatures["serving_default"](images=decoded)["depth"].numpy(),
    )
    gray = tf.io.encode_png(images[0, :, :, :1])  # grayscale file -> 3 channels
    assert loaded.signatures["serving_bytes"](image_bytes=gray[None])["depth"].shape == (1, 97, 131, 1)
    mixed = tf.stack([png[0], tf.io.encode_png(images[0, :50])])
    with pytest.raises(tf.errors.InvalidArgumentError, match="same height and width"):
        loaded.signatures["serving_bytes"](image_bytes=mixed)
    with pytest.raises(tf.errors.InvalidArgumentError, match="minimum is 163 pixels"):
        loaded.signatures["serving_default"](images=tf.zeros([1, 6, 8, 3], tf.uint8))


def test_a_jpeg_file_gives_the_same_depth_through_serving_bytes_predict_and_the_keras_run(exported, tmp_path):
    """THE decoding rule end to end: one JPEG (4:2:0) -> serving_bytes == depthnet-predict's path (load_rgb + the
    SavedModel) == the Keras run; before, TF's fast IDCT gave serving other pixels and centimetres of depth."""
    from PIL import Image

    from depthnet.apps.imageio import load_rgb

    Image.fromarray(_images(11, 97, 131)[0]).save(tmp_path / "photo.jpg", quality=75, subsampling=2)
    loaded = tf.saved_model.load(exported[0])
    served = loaded.signatures["serving_bytes"](image_bytes=tf.constant([(tmp_path / "photo.jpg").read_bytes()]))
    predicted = Predictor.from_saved_model(exported[0]).predict(load_rgb(tmp_path / "photo.jpg"))
    np.testing.assert_array_equal(served["depth"].numpy()[0, ..., 0], predicted)


def test_failed_export_leaves_the_old_model_and_no_half_model(exported, tmp_path, monkeypatch):
    from depthnet.deploy import saved_model as export

    export_dir, model_dir = exported
    target = tmp_path / "model"
    shutil.copytree(export_dir, target)
    before = sorted(os.listdir(target / "variables"))

    def broken_save(*args, **kwargs):
        os.makedirs(os.path.join(args[1], "variables"), exist_ok=True)  # half-written, then failing
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        export.export_run(model_dir, str(target), checkpoint="latest", verify=False)
    with pytest.raises(OSError, match="disk full"):
        export.export_run(model_dir, str(tmp_path / "new"), checkpoint="latest", verify=False)
    assert sorted(os.listdir(tmp_path)) == ["model"]  # no new model, no temporaries
    assert sorted(os.listdir(target / "variables")) == before and tf.saved_model.contains_saved_model(str(target))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a SavedModel"):
        export.export_run(model_dir, str(tmp_path / "notes"), checkpoint="latest")
    assert (tmp_path / "notes" / "keep.txt").read_text() == "mine"


def test_evaluating_the_saved_model_equals_evaluating_the_checkpoint(exported, keras_predictor, tmp_path_factory):
    from depthnet.evaluation.evaluate import Protocol, evaluate_predictor, iter_split_frames

    _, data_root = shared_tiny_run(tmp_path_factory)
    split = os.path.join(data_root, "test")
    served = Predictor.from_saved_model(exported[0])
    assert served.info["export"]["precision"] == "fp32" and served.working == (84, 124)
    a, _ = evaluate_predictor(served, iter_split_frames(split), Protocol(crop="eigen"))
    b, _ = evaluate_predictor(keras_predictor, iter_split_frames(split), Protocol(crop="eigen"))
    for key in ("abs_rel", "rmse", "delta1", "num_pixels"):
        assert a[key] == pytest.approx(b[key], rel=1e-5), key


def test_export_carries_the_batchnorm_folded_graph_and_equals_the_model_with_batchnorms(exported):
    from depthnet.checkpoints import restore_model

    export_dir, model_dir = exported
    graph_def = tf.saved_model.load(export_dir).signatures["serving_default"].graph.as_graph_def()
    nodes = [n.name for f in graph_def.library.function for n in f.node_def] + [n.name for n in graph_def.node]
    assert any("conv2_block1_1_conv" in n for n in nodes)
    assert not any("_bn" in n or "batchnorm" in n.lower() for n in nodes)  # modeling.fold ran on export
    served = Predictor.from_saved_model(export_dir)
    model, _ = restore_model(model_dir, "latest")  # the trained model, BatchNorms and all
    unfolded = Predictor.from_keras(model, served.working)
    images = _images(7, 64, 96, batch=2)
    expected, got = unfolded(images).numpy(), served(images).numpy()
    assert np.max(np.abs(expected - got)) <= 1e-5 * np.max(np.abs(expected))
