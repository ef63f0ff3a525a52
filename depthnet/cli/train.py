"""`depthnet-train`: train DepthNet with the paper's optimisation (sec. 3.4), :mod:`depthnet.training.loop`.

    depthnet-train --model_dir=runs/full --data_dir=data/nyu --config=full \\
        --backbone_weights=/path/to/resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5
    depthnet-train --flagfile=experiments/full.flags --model_dir=runs/full
    depthnet-train --model_dir=runs/quick --source=synthetic --config=quick --train_steps=2000

Re-running the same command resumes from the latest checkpoint; a resume with other hyperparameters
(learning rates, batch size, ...) is refused unless `--allow_changed_hyperparameters`, and then config.json
keeps each segment's settings by step. One trainer per `--model_dir` at a time (a second is refused, naming
the first). With `--source=synthetic` the scenes are rendered into `--data_dir` (default `<model_dir>/data`)
first, or reused when already there.
"""

from __future__ import annotations

import dataclasses
import json

from absl import flags

from depthnet.cli import common
from depthnet.config import TrainConfig, run_configs

FLAGS = flags.FLAGS
_DEFAULTS = TrainConfig(model_dir="")
TRAIN_FIELDS = [f.name for f in dataclasses.fields(TrainConfig) if f.name != "model_dir"]
_HELP = {
    "data_dir": "Prepared data root holding <train_split>/ and <val_split>/ (depthnet-prepare output).",
    "source": "'prepared' (read --data_dir) or 'synthetic' (generate scenes on first use).",
    "train_steps": "Total steps; > 0 overrides epochs * steps_per_epoch.",
    "decay_steps": "Poly decay steps; > 0 overrides decay_epochs.",
    "eval_every": "Validate every N steps (0 = every epoch).",
    "eval_frames": "Validate on at most N frames (0 = all).",
    "precision": "fp32, bf16 or fp16 (Keras mixed precision; fp16 with dynamic loss scaling).",
    "recompute": "Recompute backbone activations block by block in the backward pass (less memory, slower).",
    "strategy": "default (one device), mirrored (local GPUs / logical CPUs) or multi_worker (TF_CONFIG).",
    "input_sharding": "Multi-worker input sharding: auto, files (shard files per worker) or batches.",
    "batch_size": "Global batch size (split over the replicas of --strategy).",
    "synthetic_height": "--source=synthetic: height of the rendered frames (480 = NYU's).",
    "synthetic_width": "--source=synthetic: width of the rendered frames (640 = NYU's).",
    "verify": "on: check each shard's sha256 against the manifest before training (reads the data once); off: skip.",
    "allow_changed_hyperparameters": "Resume with other hyperparameters than the run's (recorded as a new segment).",
}


def define_flags() -> None:
    flags.DEFINE_string("model_dir", None, "Where config, checkpoints and TensorBoard logs go (resumes if present).")
    flags.DEFINE_string("config", "full", "Model preset: full, dfe_afb, dfe, baseline, quick, tiny.")
    flags.DEFINE_string("backbone_weights", None, "'imagenet', 'none' or a path (default: the preset's).")
    flags.DEFINE_list("input_size", None, "Training crop H,W (default: the preset's, 240,320).")
    flags.DEFINE_integer("dmg_width", None, "Channels of the Channel Reduce Blocks (default: the preset's).")
    flags.DEFINE_integer(
        "frozen_stages",
        None,
        "Residual stages frozen after the stem (default: the preset's; 1 = stem + conv2, the paper's "
        "'first two stages' as Detectron counts them; 2 = stem + conv2 + conv3).",
    )
    for field in dataclasses.fields(TrainConfig):
        if field.name == "model_dir":
            continue
        default = getattr(_DEFAULTS, field.name)
        text = _HELP.get(field.name, field.name.replace("_", " ") + ".")
        if isinstance(default, bool):
            flags.DEFINE_boolean(field.name, default, text)
        elif isinstance(default, int):
            flags.DEFINE_integer(field.name, default, text)
        elif isinstance(default, float):
            flags.DEFINE_float(field.name, default, text)
        else:
            flags.DEFINE_string(field.name, default, text)


def main(argv) -> int:
    from data_prep.synthetic_splits import ensure_synthetic_data
    from depthnet.training import run_record
    from depthnet.training.loop import train

    common.no_extra_args(argv)
    if not FLAGS.model_dir:
        raise common.UsageError("--model_dir is required")
    model_config, run = run_configs(
        FLAGS.config,
        FLAGS.model_dir,
        {
            "backbone_weights": FLAGS.backbone_weights,
            "input_size": FLAGS.input_size,
            "dmg_width": FLAGS.dmg_width,
            "frozen_stages": FLAGS.frozen_stages,
        },
        {name: FLAGS[name].value for name in TRAIN_FIELDS},
    )
    log = lambda s: print(s, flush=True)
    with run_record.locked_run(run, log):  # one trainer per --model_dir, from before the scenes are rendered
        run_record.check_run(model_config, run, run_record.split_dirs(run)[0], {})  # settings first, data after
        ensure_synthetic_data(run)
        summary = train(model_config, run, log=log)
    print(json.dumps({k: v for k, v in summary.items() if k != "metrics"}, indent=2))
    return 0


def run() -> None:
    common.run(main, define_flags)


if __name__ == "__main__":
    run()
