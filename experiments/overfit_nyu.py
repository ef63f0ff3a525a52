"""Sanity check of the full-size network: overfit a handful of real NYU Depth V2 frames.

Converts real NYU pairs (../shared/nyu_samples/supergradients_nyu2_mini_test: filled depth, 16-bit PNG
in mm) with depthnet-prepare, then trains the paper's full network (dilated ResNet-101 + DMG, 240x320,
the training pipeline without augmentation) on one fixed batch of them with the custom train step,
and reports the metrics on those frames before and after.

No ImageNet weights can be downloaded here, so the backbone starts from random weights with nothing
frozen and BatchNorm trainable (a frozen, never-trained BatchNorm is an identity and a 101-layer
random ResNet then overflows). A few dozen steps cannot settle BatchNorm's moving averages, so the
metrics use batch statistics (training-mode BatchNorm) on the fitted batch; the script says so.

    python experiments/overfit_nyu.py --steps=60 --precision=fp32 --work_dir=runs/overfit_nyu
    python experiments/overfit_nyu.py --resize=156,208 --crop=120,160   # the same network at half scale, 4x faster
"""

from __future__ import annotations

import json
import os
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "samples",
    os.path.join(
        os.path.dirname(os.path.abspath(__file__)),
        "..",
        "..",
        "shared",
        "nyu_samples",
        "supergradients_nyu2_mini_test",
        "nyu2_mini_test.csv",
    ),
    "CSV of real NYU RGB / 16-bit depth pairs.",
)
flags.DEFINE_string("work_dir", "runs/overfit_nyu", "Where the shards and results go.")
flags.DEFINE_integer("frames", 3, "How many of the real frames to fit (one batch).")
flags.DEFINE_integer("steps", 60, "Training steps.")
flags.DEFINE_string("precision", "fp32", "fp32 or bf16.")
flags.DEFINE_float("lr", 3e-4, "Adam learning rate of both groups (constant).")
flags.DEFINE_list("resize", ["312", "416"], "Resize before the crop (the paper: 312,416).")
flags.DEFINE_list("crop", ["240", "320"], "Centre crop fed to the network (the paper: 240,320).")


def main(argv) -> None:
    del argv
    import numpy as np

    from data_prep.prepare import Options, prepare
    from depthnet.config import TrainConfig, preset
    from depthnet.data import pipeline as data
    from depthnet.evaluation.metrics import compute_depth_metrics
    from depthnet.training.loop import Trainer

    data_dir = os.path.join(FLAGS.work_dir, "data")
    prepare(
        Options(
            source="pairs",
            input=os.path.abspath(FLAGS.samples),
            output_dir=data_dir,
            split="train",
            max_frames=FLAGS.frames,
            shuffle=False,
            progress=False,
        )
    )
    batch = next(
        iter(
            data.train_dataset(
                os.path.join(data_dir, "train"),
                batch_size=FLAGS.frames,
                augment=False,
                resize_to=tuple(int(v) for v in FLAGS.resize),
                crop_size=tuple(int(v) for v in FLAGS.crop),
                shuffle_buffer=0,
                seed=0,
                deterministic=True,
            )
        )
    )
    config = preset("full", backbone_weights=None, frozen_stages=0, freeze_batchnorm=False)
    run = TrainConfig(
        model_dir=os.path.join(FLAGS.work_dir, "model"),
        train_steps=FLAGS.steps,
        dfe_lr=FLAGS.lr,
        dfe_end_lr=FLAGS.lr,
        dmg_lr=FLAGS.lr,
        dmg_end_lr=FLAGS.lr,
        precision=FLAGS.precision,
    )
    trainer = Trainer(config, run)

    def score() -> dict:
        pred = trainer.model(batch["image"], training=True).numpy().astype(np.float32)
        return compute_depth_metrics(batch["depth"].numpy(), pred)

    before = score()
    losses, start = [], time.time()
    for step in range(FLAGS.steps):
        out = trainer.train_step(batch["image"], batch["depth"], batch["mask"])
        losses.append(float(out["loss"]))
        if (step + 1) % 10 == 0 or step == 0:
            print(
                f"step {step + 1}/{FLAGS.steps}  loss {losses[-1]:.4f}  "
                f"{(time.time() - start) / (step + 1):.1f} s/step",
                flush=True,
            )
    after = score()
    result = {
        "frames": FLAGS.frames,
        "steps": FLAGS.steps,
        "precision": FLAGS.precision,
        "seconds_per_step": (time.time() - start) / FLAGS.steps,
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "before": before,
        "after": after,
        "note": "metrics on the fitted frames with training-mode BatchNorm (batch statistics)",
    }
    os.makedirs(FLAGS.work_dir, exist_ok=True)
    with open(os.path.join(FLAGS.work_dir, "overfit.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    for name, m in (("before", before), ("after", after)):
        print(f"{name:6s} abs_rel {m['abs_rel']:.3f}  rmse {m['rmse']:.3f}  delta1 {m['delta1']:.3f}")
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f} in {FLAGS.steps} steps -> {FLAGS.work_dir}/overfit.json")


if __name__ == "__main__":
    app.run(main)
