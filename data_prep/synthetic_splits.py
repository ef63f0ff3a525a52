"""The synthetic training and held-out validation splits of a run (`--source=synthetic`), rendered once.

Used by `depthnet-train --source=synthetic` and the main job: both splits are rendered into the run's
data folder on first use (one worker process per core; the frames are the same for any number) and
reused when already there.
"""

from __future__ import annotations

import os

from depthnet.config import TrainConfig

MAX_RENDER_WORKERS = 8
VALIDATION_SEED_OFFSET = 1_000_003  # held-out validation scenes: a seed range the training scenes never use


def render_workers() -> int:
    """Processes that render synthetic scenes: one per core this process may use (at most 8)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(MAX_RENDER_WORKERS, cores))


def ensure_synthetic_data(run: TrainConfig) -> None:
    """With source 'synthetic': renders the training and held-out scenes (kept and reused if present)."""
    if run.source != "synthetic":
        return
    from data_prep.prepare import Options, prepare

    root = run.data_dir or os.path.join(run.model_dir, "data")
    for split, frames, seed in (
        (run.train_split, run.synthetic_train_frames, run.seed),
        (run.val_split, run.synthetic_val_frames, run.seed + VALIDATION_SEED_OFFSET),
    ):
        prepare(
            Options(
                source="synthetic",
                output_dir=root,
                split=split,
                num_frames=frames,
                seed=seed,
                height=run.synthetic_height,
                width=run.synthetic_width,
                workers=render_workers(),
            )
        )
