"""Helpers shared by the test files: small random RGB-D frames, CLI runs, one tiny trained run per session."""

import os
import shutil
import subprocess
import sys

import numpy as np

from data_prep import write_frames
from depthnet.config import TrainConfig
from depthnet.data import records

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def script(name):
    path = os.path.join(BIN, name)
    module = {"eval": "evaluate"}.get(name.split("-")[1], name.split("-")[1])
    return [path] if os.path.exists(path) else [sys.executable, "-m", "depthnet.cli." + module]


def run_cli(args, **kw):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=REPO, timeout=300, **kw)


def random_frames(n, seed, height=78, width=104):
    rng = np.random.default_rng(seed)
    for i in range(n):
        rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        depth = (1.0 + 4.0 * rng.random((height, width))).astype(np.float32)
        depth[:4] = 0.0
        yield records.Frame(rgb, depth, scene=f"s{i % 2}", frame=f"{i:04d}")


def shared_tiny_run(tmp_path_factory):
    """A tiny run trained for 2 steps (shared by the test files of one pytest session)."""
    from depthnet.config import TrainConfig, preset
    from depthnet.training.loop import train

    base = tmp_path_factory.getbasetemp() / "shared_tiny_run"
    model_dir, data_root = base / "run", base / "data"
    if not (base / "done").exists():
        import random

        shutil.rmtree(base, ignore_errors=True)
        # A fixed initialisation: Keras draws unseeded initialiser seeds from `random`.
        random.seed(0)
        write_frames(random_frames(4, 0), str(data_root / "train"))
        write_frames(random_frames(2, 1), str(data_root / "test"))
        train(
            preset("tiny"),
            TrainConfig(
                model_dir=str(model_dir),
                data_dir=str(data_root),
                train_steps=2,
                batch_size=2,
                eval_every=2,
                log_every=1,
                image_every=0,
                checkpoint_every=2,
                seed=0,
            ),
            log=lambda s: None,
        )
        (base / "done").write_text("ok")
    return str(model_dir), str(data_root)


def read_flagfile(path):
    """{flag name: value text} of an absl flagfile (comments and blank lines skipped)."""
    values = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("--"):
                name, _, value = line[2:].partition("=")
                values[name] = value
    return values


# ---------------------------------------------------------------------------------------------- tiny runs

TRAIN_FLAGS = ["--config=tiny", "--batch_size=2", "--image_every=0", "--log_every=1", "--eval_every=100000"]


def tiny_config(model_dir, data_root, **kw) -> TrainConfig:
    """Two steps of batch 2 on the tiny preset, a checkpoint after each step, no pictures."""
    base = dict(
        model_dir=str(model_dir), data_dir=str(data_root), train_steps=2, batch_size=2, eval_every=100,
        log_every=1, image_every=0, checkpoint_every=1, seed=0,
    )  # fmt: skip
    return TrainConfig(**{**base, **kw})


def copy_of(base, tmp_path, what="run"):
    shutil.copytree(base / what, tmp_path / what)
    return tmp_path / what
