"""int8 calibration data of a copied run: relative paths in the run resolve against the folder it was launched in,
the run folder, then the working directory; a missing split is one error naming the paths tried and the flag."""

import json
import os
import shutil

import pytest
from helpers import run_cli, script, shared_tiny_run

from depthnet.deploy.export import default_calibration_split, export_formats
from depthnet.errors import InputError


def _copy_run(tmp_path_factory, root, recorded_model_dir="runs/tiny", data_dir="data", with_data=True, run_at=None):
    """A copy of the shared tiny run at root/<run_at or recorded_model_dir>, its config naming relative paths."""
    model_dir, data_root = shared_tiny_run(tmp_path_factory)
    run = root / (run_at or recorded_model_dir)
    shutil.copytree(model_dir, run)
    if with_data:
        shutil.copytree(data_root, root / "data")
    config = json.loads((run / "config.json").read_text())
    config["train"].update(model_dir=recorded_model_dir, data_dir=data_dir)
    (run / "config.json").write_text(json.dumps(config))
    return run


def test_a_copied_runs_relative_data_dir_is_found_from_another_working_directory(
    tmp_path_factory, tmp_path, monkeypatch
):
    """Issue: data_dir is stored relative and was looked up only from the working directory."""
    run = _copy_run(tmp_path_factory, tmp_path / "copy")
    monkeypatch.chdir(tmp_path)  # neither the copy nor the folder depthnet-train ran in
    assert default_calibration_split(str(run)) == str(tmp_path / "copy" / "data" / "train")
    from depthnet.deploy.run_facts import training_data

    assert training_data(str(run), json.loads((run / "config.json").read_text()))["kind"] == "synthetic"


def test_the_run_folder_and_then_the_working_directory_are_tried(tmp_path_factory, tmp_path, monkeypatch):
    inside = _copy_run(tmp_path_factory, tmp_path / "a", recorded_model_dir="gone/run", with_data=False, run_at="run")
    shutil.copytree(shared_tiny_run(tmp_path_factory)[1], inside / "data")  # data kept inside the run folder
    monkeypatch.chdir(tmp_path)
    assert default_calibration_split(str(inside)) == str(inside / "data" / "train")
    elsewhere = _copy_run(tmp_path_factory, tmp_path / "b", recorded_model_dir="gone/run", run_at="run")
    monkeypatch.chdir(tmp_path / "b")  # the data is at ./data
    assert default_calibration_split(str(elsewhere)) == str(tmp_path / "b" / "data" / "train")


def test_missing_calibration_data_is_one_error_naming_the_paths_tried_and_the_flag(tmp_path_factory, tmp_path):
    """Issue: the error said 'give calibration_data', naming neither the path it tried nor --calibration_data."""
    run = _copy_run(tmp_path_factory, tmp_path / "copy", with_data=False)
    export_dir = tmp_path / "export"
    args = [f"--model_dir={run}", f"--export_dir={export_dir}", "--checkpoint=latest", "--format=saved_model,litert"]
    proc = run_cli(script("depthnet-export") + args + ["--litert_precisions=int8"])
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    for tried in (tmp_path / "copy" / "data" / "train", run / "data" / "train"):
        assert str(tried) in errors[0]
    assert "'data/train' was not found" in errors[0] and "set --calibration_data" in errors[0]
    assert not export_dir.exists()  # checked before anything was written, the SavedModel included


def test_a_given_calibration_folder_that_does_not_exist_is_named_with_the_flag(tmp_path_factory, tmp_path, monkeypatch):
    from depthnet.deploy.run_facts import calibration_split

    model_dir, _ = shared_tiny_run(tmp_path_factory)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        InputError, match=rf"'nope' \({tmp_path}/nope\) is not a prepared split.*set --calibration_data"
    ):
        calibration_split(model_dir, {}, "nope")
    with pytest.raises(InputError, match="set --calibration_data"):
        export_formats(model_dir, str(tmp_path / "x"), ["litert"], "latest", ["int8"], calibration_data="nope")
    assert not os.path.exists(tmp_path / "x")
