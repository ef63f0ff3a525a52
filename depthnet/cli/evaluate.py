"""`depthnet-eval`: score a training run or a SavedModel under an explicit protocol (:mod:`depthnet.evaluation`).

    depthnet-eval --model_dir=runs/full --data_dir=data/nyu/test [--protocol=eigen] [--checkpoint=best]
    depthnet-eval --saved_model=exports/full --data_dir=data/nyu/test --output_dir=results/full
    depthnet-eval --model_dir=runs/full --labeled_mat=nyu_depth_v2_labeled.mat --splits_mat=splits.mat \\
        --protocol=bts --output_dir=results/full_bts
    depthnet-eval --predictions=result_bts_nyu/raw --data_dir=data/nyu/test --protocol=bts --output_dir=results/bts

`--protocol` (default eigen, the one Table 1 is compared under) sets crop, depth range, averaging, flip
TTA and input handling at once (:mod:`depthnet.evaluation.presets`); `--crop`, `--min_depth`, `--max_depth`,
`--average`, `--flip_tta`, `--input` override single settings. A preset's crop applies to 480x640 ground
truth only (other sizes are scored uncropped unless `--crop` says otherwise). `--checkpoint` defaults to
the checkpoint chosen on the run's validation set, or to the latest one when that set is the split being
evaluated (never select on test).

Writes `<output_dir>/metrics.json` (metrics, protocol, preset, model and data), `metrics.md` and
panels, and prints the table with the preset and every setting; `--output_dir` defaults to
`<model_dir>/eval` (the run's last evaluation, which `depthnet-export` copies into the SavedModel).
"""

from __future__ import annotations

import os

from absl import flags

from depthnet.cli import common

FLAGS = flags.FLAGS
CROP_CHOICES = ("none", "eigen", "bts", "densedepth")


def define_flags() -> None:
    common.define_model_flags()
    flags.DEFINE_string("data_dir", None, "A prepared split folder (holds manifest.json), e.g. data/nyu/test.")
    flags.DEFINE_string("labeled_mat", None, "nyu_depth_v2_labeled.mat: evaluate on its official test split.")
    flags.DEFINE_string("splits_mat", None, "The official splits.mat (default: beside --labeled_mat).")
    flags.DEFINE_enum(
        "depth",
        None,
        ["filled", "raw"],
        "Ground truth of --labeled_mat: filled ('depths') or raw ('rawDepths'); for --data_dir "
        "only a check against the split's manifest.",
    )
    flags.DEFINE_string("output_dir", None, "Where metrics.json / metrics.md go (default <model_dir>/eval).")
    from depthnet.evaluation.presets import DEFAULT_PROTOCOL, INPUT_MODES, PRESETS

    flags.DEFINE_enum(
        "protocol", DEFAULT_PROTOCOL, list(PRESETS), "Evaluation protocol preset (the flags below override it)."
    )
    flags.DEFINE_enum(
        "crop",
        None,
        list(CROP_CHOICES),
        "Crop: none, eigen (NYU toolbox get_projection_mask.m: rows 44:471, cols 40:601, 427x561), bts "
        "(BTS/AdaBins eval_mask 45:471, 41:601, 426x560), densedepth (20:460, 24:616).",
    )
    flags.DEFINE_float("min_depth", None, "Ground truth must be > this (metres); predictions clipped to it.")
    flags.DEFINE_float("max_depth", None, "Ground truth must be < this (metres); predictions clipped to it.")
    flags.DEFINE_enum("average", None, ["per_image", "pooled"], "Average metrics per image or pool pixels.")
    flags.DEFINE_boolean("flip_tta", None, "Average with the mirrored prediction of the mirrored image.")
    flags.DEFINE_enum("input", None, list(INPUT_MODES), "How the frame reaches the network (WORKSPACE.md).")
    flags.DEFINE_string("predictions", None, "Score this folder of 16-bit PNG (mm) or .npy predictions instead.")
    flags.DEFINE_enum(
        "predictions_order",
        "name",
        ["name", "sorted"],
        "Pair predictions by name, or by sorted position through --predictions_list.",
    )
    flags.DEFINE_string(
        "predictions_list",
        None,
        "With --predictions_order=sorted: a text file whose i-th line names, by its first word, the frame of the "
        "i-th prediction file in natural name order (e.g. BTS's train_test_inputs/nyudepthv2_test_files_with_gt.txt).",
    )
    flags.DEFINE_float("png_scale", 1000.0, "--predictions: PNG values per metre (1000 = millimetres).")
    flags.DEFINE_integer("max_frames", 0, "Evaluate at most N frames (0 = all).")
    flags.DEFINE_integer("panels", 3, "Write this many RGB | truth | prediction panels (panel_<i>.png).")
    flags.DEFINE_boolean("progress", True, "Show a progress bar.")
    flags.DEFINE_enum("verify", "on", ["on", "off"], "on: check each shard's sha256 against the manifest first.")


def main(argv) -> int:
    from depthnet.evaluation import job
    from depthnet.evaluation.protocol import OVERRIDABLE

    common.no_extra_args(argv)
    if bool(FLAGS.data_dir) == bool(FLAGS.labeled_mat):
        raise common.UsageError("give exactly one of --data_dir (a prepared split) or --labeled_mat (+ --splits_mat)")
    request = job.EvalRequest(
        output_dir=FLAGS.output_dir or (os.path.join(FLAGS.model_dir, "eval") if FLAGS.model_dir else ""),
        model_dir=FLAGS.model_dir,
        saved_model=FLAGS.saved_model,
        predictions=FLAGS.predictions,
        checkpoint=FLAGS.checkpoint,
        checkpoint_explicit=FLAGS["checkpoint"].present,
        precision=FLAGS.precision,
        protocol=FLAGS.protocol,
        overrides={k: FLAGS[k].value for k in OVERRIDABLE},
        predictions_order=FLAGS.predictions_order,
        predictions_list=FLAGS.predictions_list,
        png_scale=FLAGS.png_scale,
        panels=FLAGS.panels,
        progress=FLAGS.progress,
    )
    if FLAGS.data_dir:
        source = job.prepared_split_source(FLAGS.data_dir, FLAGS.max_frames, FLAGS.depth, FLAGS.verify)
    else:
        from data_prep.eval_sources import labeled_mat_source

        depth = job.default_ground_truth(FLAGS.protocol, FLAGS.depth)
        source = labeled_mat_source(FLAGS.labeled_mat, FLAGS.splits_mat, depth, FLAGS.max_frames)
    result = job.run_evaluation(request, source, log=print)
    print(job.report(result, "ours" if not FLAGS.predictions else "predictions"))
    return 0


def run() -> None:
    common.run(main, define_flags)


if __name__ == "__main__":
    run()
