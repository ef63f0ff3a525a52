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

import json
import os
import sys
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
    from depthnet.checkpoints import restore_model
    from depthnet.cli.train import ensure_synthetic_data
    from depthnet.config import experiment
    from depthnet.data import pipeline as data
    from depthnet.evaluation.evaluate import (
        Protocol,
        best_constant,
        evaluate_split,
        format_table,
        keras_predict_fn,
        network_input,
        save_panels,
    )
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
    val_dir = os.path.join(FLAGS.data_dir, run.val_split)
    model, _ = restore_model(FLAGS.run_dir, which="latest")
    protocol = Protocol(input_size=data.resize_for_crop(model_config.input_size), ground_truth="synthetic")
    metrics, examples = evaluate_split(keras_predict_fn(model), val_dir, protocol, keep_examples=4)
    constant, constant_metrics = best_constant(val_dir)
    eval_dir = os.path.join(FLAGS.run_dir, "eval")
    pictures = save_panels(eval_dir, examples, log=lambda s: print("  " + s, flush=True))
    result = {
        "model": metrics,
        "best_constant": {"depth_m": constant, **constant_metrics},
        "steps": summary["step"],
        "checkpoint": summary["checkpoint"],
        "network_input": network_input(val_dir, protocol),
        "minutes": _minutes(os.path.join(eval_dir, "main_job.json"), summary, start),
    }
    result["detail"] = _detail_files(eval_dir, examples[0]) if examples else {}
    with open(os.path.join(eval_dir, "main_job.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    print()
    print(
        format_table(
            {"quick model": metrics, f"best constant ({constant:.2f} m)": constant_metrics},
            keys=("abs_rel", "rmse", "log10", "delta1", "delta2", "delta3") + DETAIL_KEYS,
        )
    )
    print("(dbe_acc, dbe_comp: depth-edge distances in pixels, lower is better; boundary_f1: higher is better)")
    print()
    print(f"checkpoint   {summary['checkpoint']}")
    print(f"TensorBoard  {_tensorboard()} --logdir {FLAGS.run_dir}")
    print(f"metrics      {os.path.join(eval_dir, 'metrics.json')}  and  {os.path.join(eval_dir, 'main_job.json')}")
    print(f"pictures     {', '.join(pictures)}")
    for what, path in result["detail"].items():
        print(f"{what:<12} {path}")
    print(f"done in {result['minutes']:.1f} min")
    return 0


DETAIL_KEYS = ("dbe_acc", "dbe_comp", "boundary_f1")  # depthnet.evaluation.boundary_metrics


def _detail_files(eval_dir: str, example: dict) -> dict[str, str]:
    """A point cloud (predicted and true depth) and a bokeh image of the first held-out scene."""
    from depthnet.apps import pointcloud
    from depthnet.apps.outputs import write_outputs
    from depthnet.data.camera import NYU_INTRINSICS

    record = write_outputs(eval_dir, "heldout_0", example["rgb"], example["pred"], point_cloud=True, bokeh=True)
    truth = os.path.join(eval_dir, "heldout_0_truth.ply")
    pointcloud.write_ply(truth, *pointcloud.backproject(example["depth"], NYU_INTRINSICS, example["rgb"]))
    outputs = record["outputs"]
    return {"point cloud": outputs["ply"], "truth cloud": truth, "bokeh": outputs["bokeh"]}


def _tensorboard() -> str:
    """The tensorboard command of this interpreter's environment (e.g. `.venv/bin/tensorboard`)."""
    path = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    if not os.path.exists(path):
        return "tensorboard"
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") and os.sep in rel else path


def _minutes(path: str, summary: dict, start: float) -> float:
    """Wall minutes of the job that trained this checkpoint: a re-run that only re-evaluates keeps the earlier
    figure (plus its own few seconds are not counted), a resumed run adds to it."""
    now = (time.time() - start) / 60.0
    try:
        with open(path, encoding="utf-8") as f:
            before = json.load(f)
    except (OSError, ValueError):
        return now
    if summary.get("trained_steps", 1) == 0 and before.get("checkpoint") == summary["checkpoint"]:
        return float(before.get("minutes", now))
    if summary.get("started_at_step", 0) > 0:
        return float(before.get("minutes", 0.0)) + now
    return now


def run() -> None:
    common.run(main, define_flags)


if __name__ == "__main__":
    run()
