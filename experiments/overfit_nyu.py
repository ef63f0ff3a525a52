"""Sanity check of the full-size network: overfit a handful of real NYU Depth V2 frames.

Converts the real NYU pairs in ../shared/nyu_samples/supergradients_nyu2_mini_test (16-bit PNG depth in
mm) with depthnet-prepare, trains the paper's full network (dilated ResNet-101 + DMG, 240x320 crops,
batch 3) on them, and reports the metrics on the same frames before and after. No ImageNet weights can
be downloaded here, so the backbone starts from random weights with trainable BatchNorm and nothing
frozen; a network that can fit these frames has working gradients end to end.

    python experiments/overfit_nyu.py --steps=150 --precision=bf16 --work_dir=runs/overfit_nyu
"""
from __future__ import annotations

import json
import os
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string("samples", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "nyu_samples",
                                            "supergradients_nyu2_mini_test", "nyu2_mini_test.csv"),
                    "CSV of real NYU RGB / 16-bit depth pairs.")
flags.DEFINE_string("work_dir", "runs/overfit_nyu", "Where the shards, checkpoints and results go.")
flags.DEFINE_integer("frames", 6, "How many of the real frames to fit.")
flags.DEFINE_integer("steps", 150, "Training steps (batch 3).")
flags.DEFINE_string("precision", "bf16", "fp32 or bf16.")
flags.DEFINE_float("lr", 3e-4, "Learning rate of both groups (constant-ish: decays to 1/100 at the end).")


def main(argv) -> None:
    del argv
    from data_prep.prepare import Options, prepare
    from depthnet.config import preset
    from depthnet.evaluate import Protocol, evaluate_split, keras_predict_fn
    from depthnet.train import TrainConfig, Trainer, train

    data_dir = os.path.join(FLAGS.work_dir, "data")
    for split in ("train", "test"):
        prepare(Options(source="pairs", input=os.path.abspath(FLAGS.samples), output_dir=data_dir, split=split,
                        max_frames=FLAGS.frames, shuffle=False, progress=False))
    config = preset("full", backbone_weights=None, frozen_stages=0, freeze_batchnorm=False)
    run = TrainConfig(model_dir=os.path.join(FLAGS.work_dir, "model"), data_dir=data_dir, train_steps=FLAGS.steps,
                      eval_every=FLAGS.steps, checkpoint_every=max(1, FLAGS.steps // 3), log_every=10,
                      image_every=FLAGS.steps, dfe_lr=FLAGS.lr, dfe_end_lr=FLAGS.lr / 100, dmg_lr=FLAGS.lr,
                      dmg_end_lr=FLAGS.lr / 100, precision=FLAGS.precision)
    protocol = Protocol(ground_truth="filled")
    before, _ = evaluate_split(keras_predict_fn(Trainer(config, run).model), os.path.join(data_dir, "test"), protocol)
    start = time.time()
    summary = train(config, run, log=lambda s: print(s, flush=True))
    minutes = (time.time() - start) / 60
    result = {"frames": FLAGS.frames, "steps": summary["step"], "precision": FLAGS.precision,
              "train_minutes": minutes, "before": before, "after": summary["metrics"]}
    with open(os.path.join(FLAGS.work_dir, "overfit.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    for name in ("before", "after"):
        m = result[name]
        print(f"{name:6s} abs_rel {m['abs_rel']:.3f}  rmse {m['rmse']:.3f}  delta1 {m['delta1']:.3f}")
    print(f"{summary['step']} steps in {minutes:.1f} min -> {os.path.join(FLAGS.work_dir, 'overfit.json')}")


if __name__ == "__main__":
    app.run(main)
