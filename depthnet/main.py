"""The README's main job: the whole path on the built-in default, with no download.

1. renders synthetic indoor RGB-D scenes at 240x320 (1,200 training and 60 held-out validation scenes),
2. trains the `quick` configuration (the paper's topology on the tiny backbone, 120x160 crops) from
   scratch on the CPU, 3,600 steps of batch 3 (about 8 minutes on 2 cores),
3. evaluates it on the held-out scenes next to the best constant-depth predictor,
4. leaves in `runs/quick/` a checkpoint, TensorBoard logs, `eval/metrics.json` and pictures.

    python -m depthnet.main [--steps=N] [--run_dir=runs/quick] [--data_dir=data/synthetic]
"""
from __future__ import annotations

import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from absl import app, flags

FLAGS = flags.FLAGS


QUICK_STEPS = 3600
QUICK_TRAIN_FRAMES = 1200
QUICK_VAL_FRAMES = 60
QUICK_FRAME_SIZE = (240, 320)  # the scenes are rendered at this size; the quick model works at 156x208


def _define_flags() -> None:
    """Flags are defined only when run as a program, so importing this module never clashes."""
    flags.DEFINE_string("run_dir", "runs/quick", "Where the run's checkpoint, logs, metrics and pictures go.")
    flags.DEFINE_string("data_dir", "data/synthetic", "Where the synthetic scenes are written (reused if present).")
    flags.DEFINE_integer("steps", QUICK_STEPS, "Training steps (batch 3, 120x160 crops).")
    flags.DEFINE_integer("train_frames", QUICK_TRAIN_FRAMES, "Synthetic training frames.")
    flags.DEFINE_integer("val_frames", QUICK_VAL_FRAMES, "Held-out synthetic validation frames.")
    flags.DEFINE_integer("seed", 0, "Seed for scenes and training.")


def quick_run_config(run_dir: str = "runs/quick", data_dir: str = "data/synthetic", steps: int = QUICK_STEPS,
                     train_frames: int = QUICK_TRAIN_FRAMES, val_frames: int = QUICK_VAL_FRAMES,
                     seed: int = 0):
    """The main job's training run (experiments/quick.flags holds the same values for depthnet-train).

    From scratch on a CPU, so 10x the paper's DFE/DMG learning rates (1e-3 -> 1e-5) decayed over the
    whole run (the paper's 16-of-20-epoch decay would leave the last fifth of a short run at 1e-5).
    """
    from depthnet.train import TrainConfig

    return TrainConfig(model_dir=run_dir, data_dir=data_dir, source="synthetic",
                       synthetic_train_frames=train_frames, synthetic_val_frames=val_frames,
                       synthetic_height=QUICK_FRAME_SIZE[0], synthetic_width=QUICK_FRAME_SIZE[1],
                       train_steps=steps, decay_steps=steps, eval_every=steps,
                       checkpoint_every=max(1, steps // 4), log_every=100, image_every=max(1, steps // 4), seed=seed,
                       dfe_lr=1e-3, dfe_end_lr=1e-5, dmg_lr=1e-3, dmg_end_lr=1e-5)


def best_constant(split_dir: str, candidates: np.ndarray | None = None) -> tuple[float, dict[str, float]]:
    """The constant depth with the lowest abs_rel on a split (an oracle baseline), and its metrics."""
    from depthnet import data
    from depthnet.metrics import DepthMetricAccumulator

    gts = [b["depth"].numpy() for b in data.eval_dataset(split_dir, batch_size=8)]
    candidates = np.geomspace(0.5, 10.0, 60) if candidates is None else candidates
    best = (np.inf, None, None)
    for c in candidates:
        acc = DepthMetricAccumulator()
        for gt in gts:
            acc.update(gt, np.full_like(gt, c))
        metrics = acc.result()
        if metrics["abs_rel"] < best[0]:
            best = (metrics["abs_rel"], float(c), metrics)
    return best[1], best[2]


def main(argv) -> None:
    del argv
    from depthnet import data
    from depthnet.apps.visualize import depth_panel, save_png
    from depthnet.config import preset
    from depthnet.evaluate import Protocol, evaluate_split, format_table, keras_predict_fn
    from depthnet.train import restore_model, train

    start = time.time()
    model_config = preset("quick")
    run = quick_run_config(FLAGS.run_dir, FLAGS.data_dir, FLAGS.steps, FLAGS.train_frames, FLAGS.val_frames,
                           FLAGS.seed)
    print(f"[1/3] synthetic scenes -> {FLAGS.data_dir}; [2/3] training the quick config for {FLAGS.steps} steps "
          f"-> {FLAGS.run_dir}", flush=True)
    summary = train(model_config, run, log=lambda s: print("  " + s, flush=True))

    print("[3/3] evaluating on held-out synthetic scenes", flush=True)
    val_dir = os.path.join(FLAGS.data_dir, run.val_split)
    model, _ = restore_model(FLAGS.run_dir, which="latest")
    protocol = Protocol(input_size=data.resize_for_crop(model_config.input_size), ground_truth="synthetic")
    metrics, examples = evaluate_split(keras_predict_fn(model), val_dir, protocol, keep_examples=4)
    constant, constant_metrics = best_constant(val_dir)
    eval_dir = os.path.join(FLAGS.run_dir, "eval")
    os.makedirs(eval_dir, exist_ok=True)
    pictures = []
    for i, ex in enumerate(examples):
        path = os.path.join(eval_dir, f"panel_{i}.png")
        save_png(path, depth_panel(ex["rgb"], ex["pred"], ex["depth"]))
        pictures.append(path)
    result = {
        "model": metrics,
        "best_constant": {"depth_m": constant, **constant_metrics},
        "steps": summary["step"],
        "checkpoint": summary["checkpoint"],
        "minutes": (time.time() - start) / 60.0,
    }
    with open(os.path.join(eval_dir, "main_job.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    print()
    print(format_table({"quick model": metrics, f"best constant ({constant:.2f} m)": constant_metrics},
                       keys=("abs_rel", "rmse", "log10", "delta1", "delta2", "delta3")))
    print()
    print(f"checkpoint   {summary['checkpoint']}")
    print(f"TensorBoard  tensorboard --logdir {FLAGS.run_dir}")
    print(f"metrics      {os.path.join(eval_dir, 'metrics.json')}  and  {os.path.join(eval_dir, 'main_job.json')}")
    print(f"pictures     {', '.join(pictures)}")
    print(f"done in {result['minutes']:.1f} min")


def run() -> None:
    _define_flags()
    app.run(main)


if __name__ == "__main__":
    run()
