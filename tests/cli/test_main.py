"""The README's main job (`make run` = python -m depthnet.cli.main), end to end at a tiny size."""

import dataclasses
import json
import os
import sys

from helpers import REPO, read_flagfile, run_cli

from depthnet.config import experiment


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
        parsed = type(expected)(float(value)) if isinstance(expected, (int, float)) else value
        assert parsed == expected, (name, value, expected)
    # Every setting the main job changes from the TrainConfig defaults is in the flagfile.
    defaults = dataclasses.asdict(type(quick_run_config())(model_dir=run["model_dir"]))
    changed = {k for k in run if run[k] != defaults[k]} - {"model_dir"}
    assert changed <= set(flags), changed - set(flags)


def test_main_job_leaves_checkpoint_logs_metrics_and_pictures(tmp_path):
    run_dir, data_dir = tmp_path / "runs" / "quick", tmp_path / "data"
    result = run_cli(
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
    from depthnet import records

    manifest = records.read_manifest(str(data_dir / "test"))
    assert manifest["frame_sizes"] == {"240x320": 2}, manifest.get("frame_sizes")
