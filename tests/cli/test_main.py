"""The README's main job (`make run` = python -m depthnet.cli.main), end to end at a tiny size."""

import dataclasses
import json
import os
import pathlib
import sys

import pytest
from helpers import REPO, read_flagfile, run_cli, script

from depthnet.config import experiment, preset
from depthnet.data.pipeline import resize_for_crop

REPO_PATH = pathlib.Path(REPO)


def quick_run_config():
    """The main job's training run (the one definition in depthnet.config)."""
    return experiment("quick", model_dir="runs/quick")[1]


def test_quick_flagfile_reproduces_the_main_job():
    """experiments/quick.flags is documented as the main job's run for depthnet-train: same values."""
    flags = read_flagfile(os.path.join(REPO, "experiments", "quick.flags"))
    assert flags.pop("config") == "quick"
    run = dataclasses.asdict(quick_run_config())
    assert set(flags) <= set(run), set(flags) - set(run)
    for name, value in flags.items():
        expected = run[name]
        if isinstance(expected, bool):
            parsed = value.lower() in ("true", "1")
        else:
            parsed = type(expected)(float(value)) if isinstance(expected, (int, float)) else value
        assert parsed == expected, (name, value, expected)
    # Every setting the main job changes from the TrainConfig defaults is in the flagfile.
    defaults = dataclasses.asdict(type(quick_run_config())(model_dir=run["model_dir"]))
    changed = {k for k in run if run[k] != defaults[k]} - {"model_dir"}
    assert changed <= set(flags), changed - set(flags)


def _main_job(run_dir, data_dir):
    return run_cli(
        [
            sys.executable,
            "-m",
            "depthnet.cli.main",
            "--steps=4",
            "--train_frames=6",
            "--val_frames=2",
            f"--run_dir={run_dir}",
            f"--data_dir={data_dir}",
        ]
    )


@pytest.fixture(scope="module")
def main_job(tmp_path_factory):
    """(run_dir, data_dir, the finished process) of a 4-step main job."""
    tmp_path = tmp_path_factory.mktemp("main_job")
    run_dir, data_dir = tmp_path / "runs" / "quick", tmp_path / "data"
    return run_dir, data_dir, _main_job(run_dir, data_dir)


def test_main_job_leaves_checkpoint_logs_metrics_and_pictures(main_job):
    run_dir, data_dir, result = main_job
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for what in ("checkpoint", "TensorBoard", "metrics", "pictures", "best constant"):
        assert what in out, out
    with open(run_dir / "eval" / "main_job.json", encoding="utf-8") as f:
        summary = json.load(f)
    assert summary["steps"] == 4
    assert 0.0 < summary["model"]["abs_rel"] < 10.0 and 0.0 <= summary["model"]["delta1"] <= 1.0
    assert summary["best_constant"]["depth_m"] > 0.0
    # Detail beside the constant: boundary metrics (a constant has no edge: DBE at the 10 px cap, F1 0),
    # and a point cloud and a bokeh image of one held-out scene, listed in the printed summary.
    for key in ("dbe_acc", "dbe_comp", "boundary_f1"):
        assert key in summary["model"] and key in out
    assert summary["best_constant"]["dbe_acc"] == 10.0 and summary["best_constant"]["boundary_f1"] == 0.0
    from plyfile import PlyData

    for what in ("point cloud", "truth cloud", "bokeh"):
        assert summary["detail"][what] in out and os.path.getsize(summary["detail"][what]) > 0
    assert PlyData.read(summary["detail"]["point cloud"])["vertex"].count == 240 * 320  # every predicted pixel
    assert os.path.exists(summary["checkpoint"] + ".index")
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(run_dir / "train"))
    from PIL import Image

    panels = sorted(p for p in os.listdir(run_dir / "eval") if p.startswith("panel_"))
    assert len(panels) == 2  # one per validation frame (at most 4)
    with Image.open(run_dir / "eval" / panels[0]) as image:
        assert image.mode == "RGB" and image.width > 2 * image.height  # three pictures side by side
    # The frames were rendered at the main job's size, not NYU's 480x640.
    from depthnet.data import records

    manifest = records.read_manifest(str(data_dir / "test"))
    assert manifest["frame_sizes"] == {"240x320": 2}, manifest.get("frame_sizes")


def test_depthnet_eval_of_the_main_jobs_checkpoint_gives_the_main_jobs_numbers(main_job, tmp_path):
    """Same checkpoint, same frames, one size rule: depthnet-eval reproduces main_job.json, at the size it reports."""
    run_dir, data_dir, result = main_job
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run_dir / "eval" / "main_job.json").read_text())
    proc = run_cli(
        script("depthnet-eval")
        + [f"--model_dir={run_dir}", "--checkpoint=latest", f"--data_dir={data_dir}/test", f"--output_dir={tmp_path}"]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    payload = json.loads((tmp_path / "metrics.json").read_text())
    assert payload["model"]["checkpoint_path"] == summary["checkpoint"]
    quick = list(resize_for_crop(preset("quick").input_size))  # 240x320 scenes land exactly at the quick scale
    assert payload["network_input"] == summary["network_input"] == quick
    assert payload["protocol"]["input_size"] == quick
    assert f"240x320 frame -> {quick[0]}x{quick[1]}" in payload["resize_rule"]
    for key in ("abs_rel", "rmse", "log10", "delta1", "num_pixels"):
        assert payload["metrics"][key] == pytest.approx(summary["model"][key], rel=1e-5), key
    assert "colour scale" in proc.stdout  # each panel's range is printed


def test_main_job_controls_name_the_run_and_the_tools(main_job):
    """The log calls the run 'quick', the TensorBoard hint is a command that exists, validation runs along the way."""
    run_dir, data_dir, result = main_job
    out = result.stdout
    assert "(quick (full network, tiny backbone)" in out
    hint = next(line for line in out.splitlines() if line.startswith("TensorBoard"))
    command, installed = hint.split()[1], os.path.join(os.path.dirname(sys.executable), "tensorboard")
    if os.path.exists(installed):  # e.g. '.venv/bin/tensorboard' from a fresh clone's root
        assert os.path.abspath(os.path.join(REPO, command)) == installed
    else:
        assert command == "tensorboard"
    assert out.count("validation @") >= 2  # a validation curve, not one point


def test_re_running_the_finished_main_job_keeps_its_training_minutes(main_job):
    run_dir, data_dir, result = main_job
    assert result.returncode == 0, result.stderr[-3000:]
    first = json.loads((run_dir / "eval" / "main_job.json").read_text())
    again = _main_job(run_dir, data_dir)  # resumes at step 4 of 4: trains nothing, re-evaluates
    assert again.returncode == 0, again.stderr[-3000:]
    second = json.loads((run_dir / "eval" / "main_job.json").read_text())
    assert second["checkpoint"] == first["checkpoint"] and second["minutes"] == first["minutes"]
    assert second["model"] == first["model"]


def test_the_readmes_main_job_figures_are_main_job_json_fields(main_job):
    """Every figure the README quotes for the main job names the main_job.json field it comes from."""
    import re

    run_dir, _, result = main_job
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run_dir / "eval" / "main_job.json").read_text())
    readme = (REPO_PATH / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| `main_job.json` field |") :].split("\n\n")[0].splitlines()
    header = re.findall(r"`([a-z_.]+)`", table[0])
    assert header[0] == "main_job.json" and header[1:] == ["model", "best_constant"]
    rows = {re.findall(r"`([a-z_0-9]+)`", line)[0]: line.split("|")[2:4] for line in table[2:]}
    assert set(rows) >= {"abs_rel", "rmse", "delta1"}
    for field, cells in rows.items():
        for group, cell in zip(("model", "best_constant"), cells):
            value = float(re.findall(r"[0-9.]+", cell)[0])
            assert field in summary[group], (group, field)
            fraction = field.startswith("delta") or field == "boundary_f1"  # shares; the rest are errors > 0
            assert (0.0 <= value <= 1.0) if fraction else value > 0.0
    constant = re.search(r"`best_constant` \(([0-9.]+) m\)", table[0]).group(1)
    assert "depth_m" in summary["best_constant"] and float(constant) > 0


def test_depthnet_eval_on_the_main_jobs_checkpoint_gives_its_numbers(main_job, tmp_path):
    """The main job scores through depthnet-eval's own function (evaluation.job.run_evaluation): the documented
    depthnet-eval command on its checkpoint reproduces main_job.json's numbers exactly, and the run folder's
    metrics.json is that same evaluation."""
    from depthnet.evaluation.main_job import MAIN_JOB_OVERRIDES

    run_dir, data_dir, result = main_job
    assert result.returncode == 0, result.stderr[-3000:]
    overrides = [f"--{k}={v}" for k, v in MAIN_JOB_OVERRIDES.items()]
    args = [
        f"--model_dir={run_dir}",
        f"--data_dir={data_dir / quick_run_config().val_split}",
        "--checkpoint=latest",
        *overrides,
    ]
    proc = run_cli(script("depthnet-eval") + args + [f"--output_dir={tmp_path}", "--panels=0"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(run_dir / "eval" / "main_job.json", encoding="utf-8") as f:
        job = json.load(f)["model"]
    with open(tmp_path / "metrics.json", encoding="utf-8") as f:
        evaluated = json.load(f)
    with open(run_dir / "eval" / "metrics.json", encoding="utf-8") as f:
        in_run = json.load(f)
    assert evaluated["metrics"] == job
    assert in_run["metrics"] == job and in_run["protocol"] == evaluated["protocol"]
    assert evaluated["model"]["checkpoint"] == "latest" and evaluated["protocol"]["average"] == "per_image"
