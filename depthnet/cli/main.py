"""The README's main job: the whole path on the built-in default, with no download.

1. renders synthetic indoor RGB-D scenes at 240x320 (2,400 training and 60 held-out validation scenes),
2. trains the `quick` configuration (the paper's topology on the tiny backbone, 96x128 crops) from
   scratch on the CPU, 6,600 steps of batch 3 (rendering included: about 10 minutes on 2 AVX-512 cores,
   about 18 on 2 AVX2-only cores),
3. evaluates it on the held-out scenes next to the best constant-depth predictor,
4. leaves in `runs/quick/` a checkpoint, TensorBoard logs, `eval/metrics.json` and pictures.

    python -m depthnet.cli.main [--steps=N] [--run_dir=runs/quick] [--data_dir=data/synthetic]
"""

from __future__ import annotations

import time

from absl import flags

from depthnet.cli import common
from depthnet.config import QUICK_STEPS, QUICK_TRAIN_FRAMES, QUICK_VAL_FRAMES

FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("run_dir", "runs/quick", "Where the run's checkpoint, logs, metrics and pictures go.")
    flags.DEFINE_string("data_dir", "data/synthetic", "Where the synthetic scenes are written (reused if present).")
    flags.DEFINE_integer("steps", QUICK_STEPS, "Training steps (batch 3, 96x128 crops).")
    flags.DEFINE_integer("train_frames", QUICK_TRAIN_FRAMES, "Synthetic training frames.")
    flags.DEFINE_integer("val_frames", QUICK_VAL_FRAMES, "Held-out synthetic validation frames.")
    flags.DEFINE_integer("seed", 0, "Seed for scenes and training.")


def main(argv) -> int:
    from data_prep.synthetic_splits import ensure_synthetic_data
    from depthnet.config import experiment
    from depthnet.evaluation import main_job
    from depthnet.training.loop import train

    common.no_extra_args(argv)
    start = time.time()
    model_config, run = experiment(
        "quick",
        model_dir=FLAGS.run_dir,
        data_dir=FLAGS.data_dir,
        seed=FLAGS.seed,
        quick_steps=FLAGS.steps,
        quick_train_frames=FLAGS.train_frames,
        quick_val_frames=FLAGS.val_frames,
    )
    print(
        f"[1/3] synthetic scenes -> {FLAGS.data_dir}; [2/3] training the quick config for {FLAGS.steps} steps "
        f"-> {FLAGS.run_dir}",
        flush=True,
    )
    ensure_synthetic_data(run)
    summary = train(model_config, run, log=lambda s: print("  " + s, flush=True))
    print("[3/3] evaluating on held-out synthetic scenes", flush=True)
    result = main_job.evaluate_main_job(run, summary, start, log=lambda s: print("  " + s, flush=True))
    print(main_job.report(result, FLAGS.run_dir))
    return 0


def run() -> None:
    common.run(main, define_flags)


if __name__ == "__main__":
    run()
