"""depthnet-predict's output plan (depthnet/apps/plan.py): every output of every kind decided and checked before
any frame is predicted; videos follow the naming rules of images; inputs and a user's files are never written."""

import json
import os

import numpy as np
import pytest
from PIL import Image

iio = pytest.importorskip("imageio.v2")


def _frames(path):
    return list(iio.get_reader(str(path), format="FFMPEG").iter_data())


def _image(path, value=100):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.full((60, 80, 3), value, np.uint8)).save(path)


def test_an_existing_depth_video_is_kept_without_overwrite_and_replaced_with_it(
    tmp_path, write_clip, predict_cli, capsys
):
    clip = write_clip(tmp_path / "clip.mp4")
    out = tmp_path / "out"
    out.mkdir()
    (out / "clip_depth.mp4").write_bytes(b"mine")
    code, _, err, calls = predict_cli([f"--input={clip}", f"--output_dir={out}"], capsys)
    assert code == 2 and calls == 0  # refused before any frame was predicted
    assert (out / "clip_depth.mp4").read_bytes() == b"mine"
    (line,) = err.strip().splitlines()
    assert line.startswith("depthnet-predict: error: ") and "clip_depth.mp4" in line and "--overwrite" in line
    code, _, err, calls = predict_cli([f"--input={clip}", f"--output_dir={out}", "--overwrite"], capsys)
    assert code == 0 and calls == 3, err
    assert len(_frames(out / "clip_depth.mp4")) == 3


def test_two_videos_with_one_name_get_one_output_each(tmp_path, write_clip, predict_cli, capsys):
    a = write_clip(tmp_path / "a" / "clip.mp4", frames=3)
    b = write_clip(tmp_path / "b" / "clip.mp4", frames=4)
    out = tmp_path / "out"
    code, _, err, _ = predict_cli([f"--input={a}", f"--input={b}", f"--output_dir={out}", "--video_npy"], capsys)
    assert code == 0, err
    assert len(_frames(out / "clip_depth.mp4")) == 3 and len(_frames(out / "clip_2_depth.mp4")) == 4
    assert len(os.listdir(out / "clip_depth")) == 3 and len(os.listdir(out / "clip_2_depth")) == 4
    videos = json.loads((out / "predictions.json").read_text())["videos"]
    assert {v["input"]: os.path.basename(v["outputs"]["video"]) for v in videos} == {
        str(a): "clip_depth.mp4",
        str(b): "clip_2_depth.mp4",
    }


def test_an_input_named_like_an_output_is_never_written(tmp_path, write_clip, predict_cli, capsys):
    clip = write_clip(tmp_path / "clip.mp4", frames=3)
    theirs = write_clip(tmp_path / "clip_depth.mp4", frames=2)  # the user's own clip, named like clip's output
    before = theirs.read_bytes()
    args = [f"--input={clip}", f"--input={theirs}", f"--output_dir={tmp_path}", "--overwrite"]
    code, _, err, _ = predict_cli(args, capsys)
    assert code == 0, err
    assert theirs.read_bytes() == before  # even with --overwrite
    assert len(_frames(tmp_path / "clip_2_depth.mp4")) == 3 and len(_frames(tmp_path / "clip_depth_depth.mp4")) == 2


def test_an_unwritable_output_folder_is_refused_before_predicting(
    tmp_path, write_clip, predict_cli, capsys, monkeypatch
):
    """The folder the system says is not writable (os.access, which holds for root too)."""
    _image(str(tmp_path / "in" / "x.png"))
    clip = write_clip(tmp_path / "in" / "clip.mp4")
    out = tmp_path / "out"
    out.mkdir()
    real_access = os.access

    def access(path, mode, **kwargs):
        if os.path.exists(path) and os.path.samefile(path, out):
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    code, _, err, calls = predict_cli([f"--input={tmp_path / 'in'}", f"--input={clip}", f"--output_dir={out}"], capsys)
    assert code == 2 and calls == 0
    assert "not writable" in err and len(err.strip().splitlines()) == 1
    assert os.listdir(out) == []


def _writes_anyway(folder) -> bool:
    try:
        (folder / "probe").write_text("x")
    except PermissionError:
        return False
    (folder / "probe").unlink()
    return True


def test_a_read_only_output_folder_is_refused_before_predicting(tmp_path, predict_cli, capsys):
    for name in ("x.png", "y.png"):
        _image(str(tmp_path / "in" / name))
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        if _writes_anyway(out):
            pytest.skip("this user writes into a read-only folder (root): chmod does not stop it")
        code, _, err, calls = predict_cli([f"--input={tmp_path / 'in'}", f"--output_dir={out}"], capsys)
    finally:
        out.chmod(0o755)
    assert code == 2 and calls == 0, err
    assert "not writable" in err and os.listdir(out) == []


def test_the_writability_probe(tmp_path, monkeypatch):
    from depthnet.apps.plan import check_writable
    from depthnet.errors import InputError

    (tmp_path / "a_file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        check_writable(str(tmp_path / "a_file" / "out"))  # a folder whose parent is a file
    with pytest.raises(InputError, match="not a folder"):
        check_writable(str(tmp_path / "a_file"))
    check_writable(str(tmp_path / "new" / "out"))  # created
    assert os.path.isdir(tmp_path / "new" / "out") and os.listdir(tmp_path / "new" / "out") == []

    def refuse(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr("tempfile.mkstemp", refuse)  # os.access says yes, the file system says no
    with pytest.raises(InputError, match="Read-only file system"):
        check_writable(str(tmp_path / "new" / "out"))


def test_earlier_outputs_are_not_taken_as_inputs(tmp_path):
    import tensorflow as tf

    from depthnet.apps.outputs import run_predict
    from depthnet.inference import Predictor

    predictor = Predictor(lambda images: tf.fill(tf.concat([tf.shape(images)[:3], [1]], 0), 2.0))

    _image(str(tmp_path / "x.png"))
    Image.fromarray(np.full((60, 80), 1500, np.uint16)).save(tmp_path / "x_truth.png")  # the user's own
    for overwrite in (False, True):  # run twice on the folder, writing into it
        summary = run_predict([str(tmp_path)], str(tmp_path), predictor, progress=False, overwrite=overwrite)
        assert sorted(os.path.basename(r["input"]) for r in summary["images"]) == ["x.png", "x_truth.png"]
    # x_depth.png, x_panel.png, ... (the first run's outputs) were never predicted
    assert sorted(p.name for p in tmp_path.glob("*_depth.npy")) == ["x_depth.npy", "x_truth_depth.npy"]


def test_predictions_json_for_a_video(tmp_path, write_clip, predict_cli, capsys):
    clip = write_clip(tmp_path / "clip.mp4", frames=3)
    out = tmp_path / "out"
    code, out_text, err, _ = predict_cli([f"--input={clip}", f"--output_dir={out}"], capsys)
    assert code == 0, err
    summary = json.loads((out / "predictions.json").read_text())
    (video,) = summary["videos"]
    assert video["input"] == str(clip) and video["frames"] == 3 and video["size"] == [62, 90]
    assert video["outputs"] == {"video": str(out / "clip_depth.mp4")}
    lo, hi = video["colour_range_m"]
    assert 1.0 < lo < hi < 1.0 + 255 / 64 and "first frame" in video["colour_range_rule"]
    assert "millimetres" in summary["units"]["depth_png"] and "1 video(s)" in out_text


def test_a_corrupt_video_is_one_error_line(tmp_path, write_clip, predict_cli, capsys):
    clip = write_clip(tmp_path / "clip.mp4", frames=2)
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    code, _, err, _ = predict_cli([f"--input={clip}", f"--input={broken}", f"--output_dir={tmp_path / 'o'}"], capsys)
    assert code == 1 and len(_frames(tmp_path / "o" / "clip_depth.mp4")) == 2
    assert "ffmpeg version" not in err and "configuration:" not in err
    lines = [line for line in err.splitlines() if "broken.mp4" in line]
    assert lines and all("cannot read" in line and "as a video" in line for line in lines), err
    others = [line for line in err.strip().splitlines() if "clip" not in line]  # clip.mp4's line of frames/s
    assert len(others) == 3, err  # the error as it happens, then the summary of failures: "1 input(s)...", the error
    assert not [p for p in os.listdir(tmp_path / "o") if p.startswith(".") or "broken" in p]  # no temporary left


def test_depth_png_states_its_units(tmp_path):
    from depthnet.apps.outputs import write_outputs
    from depthnet.cli import predict

    depth = np.full((6, 8), 2.5, np.float32)
    record = write_outputs(str(tmp_path), "x", np.zeros((6, 8, 3), np.uint8), depth)
    png = Image.open(record["outputs"]["depth_png"])
    assert png.info["depth_units"] == "millimetres; 0 = no depth"
    assert (np.asarray(png) == 2500).all()
    assert "uint16 millimetres, 0 = no depth" in " ".join(predict.__doc__.split())
