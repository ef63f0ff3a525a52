"""Shared by the deploy tests: one CLI export of the shared tiny run in every format at the default size, and
the real 480x640 NYU frames."""

import os
import subprocess

import pytest
from helpers import REPO, script, shared_tiny_run

EXPORTED_FORMATS = ("litert_fp32", "litert_fp16", "litert_int8", "onnx_fp32")


def run_cli(args, timeout=300):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout)


@pytest.fixture(scope="session")
def all_formats(tmp_path_factory):
    """(export_dir, model_dir, data_root): the SavedModel and every converted file at the DEFAULT input size (no
    --input_size), int8 calibrated on the run's test split. Tests that change an export work on a copy."""
    model_dir, data_root = shared_tiny_run(tmp_path_factory)
    export_dir = tmp_path_factory.mktemp("deploy") / "tiny"
    proc = run_cli(
        script("depthnet-export")
        + [
            f"--model_dir={model_dir}",
            f"--export_dir={export_dir}",
            "--checkpoint=latest",
            "--format=saved_model,litert,onnx",
            f"--calibration_data={data_root}/test",
        ],
        timeout=900,  # five conversions; the shared CI machine can be slow
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in EXPORTED_FORMATS:
        assert f"{name}: " in proc.stdout
    assert ": warning: " not in proc.stderr  # a fresh export folder has no stale format
    return str(export_dir), model_dir, data_root


@pytest.fixture(scope="session")
def nyu_frames(nyu_samples):
    """The 13 real 480x640 NYU frames: 10 labeled-set PNGs and 3 raw JPEGs (see ../shared/nyu_samples/SOURCES.md)."""
    from depthnet.apps.imageio import load_rgb

    pngs = [nyu_samples / "supergradients_nyu2_mini_test" / f"image_{i}.png" for i in range(10)]
    jpegs = [nyu_samples / "metric3d_nyu_demo" / "rgb" / f"rgb_{i:05d}.jpg" for i in (0, 50, 100)]
    frames = [load_rgb(p) for p in pngs + jpegs]
    assert all(f.shape == (480, 640, 3) for f in frames)
    return frames
