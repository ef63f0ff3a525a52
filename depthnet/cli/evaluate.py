"""`depthnet-eval`: score a training run or a SavedModel under an explicit protocol (:mod:`depthnet.evaluation`).

    depthnet-eval --model_dir=runs/full --data_dir=data/nyu/test [--checkpoint=best]
    depthnet-eval --saved_model=exports/full --data_dir=data/nyu/test --output_dir=results/full
    depthnet-eval --model_dir=runs/full --labeled_mat=nyu_depth_v2_labeled.mat --splits_mat=splits.mat \
        --depth=filled --crop=eigen --output_dir=results/full_mat

Writes `<output_dir>/metrics.json` (metrics, protocol, model and data), `metrics.md` and panels, and
prints the table; `--output_dir` defaults to `<model_dir>/eval` (the run's last evaluation, which
`depthnet-export` copies into the SavedModel).
"""

from __future__ import annotations

import datetime
import os

from absl import flags

from depthnet.cli import common

FLAGS = flags.FLAGS
CROP_CHOICES = ("none", "eigen")


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
    flags.DEFINE_enum("crop", "none", list(CROP_CHOICES), "Evaluation crop: none or eigen (rows 45:471, cols 41:601).")
    flags.DEFINE_float("min_depth", 1e-3, "Ground truth must be > this (metres); predictions clipped to it.")
    flags.DEFINE_float("max_depth", 10.0, "Ground truth must be < this (metres); predictions clipped to it.")
    flags.DEFINE_enum("average", "per_image", ["per_image", "pooled"], "Average metrics per image or pool pixels.")
    flags.DEFINE_boolean("flip_tta", False, "Average with the mirrored prediction of the mirrored image.")
    flags.DEFINE_integer("max_frames", 0, "Evaluate at most N frames (0 = all).")
    flags.DEFINE_integer("panels", 3, "Write this many RGB | truth | prediction panels (panel_<i>.png).")
    flags.DEFINE_boolean("progress", True, "Show a progress bar.")


def _prepared_split(limit):
    """(frames, total, ground-truth kind, data info, None) of --data_dir."""
    from depthnet import records
    from depthnet.evaluation import ground_truth_kind, iter_split_frames

    try:
        manifest = records.read_manifest(FLAGS.data_dir)
    except Exception as e:
        raise common.UsageError(f"cannot read the evaluation data: {e}") from e
    kind = ground_truth_kind(FLAGS.data_dir)
    if FLAGS.depth and kind != "unknown" and FLAGS.depth != kind:
        raise common.UsageError(
            f"--depth={FLAGS.depth} but {FLAGS.data_dir} holds {kind} ground truth "
            f"(its manifest); drop --depth or prepare a {FLAGS.depth} split"
        )
    if kind == "unknown" and FLAGS.depth:
        kind = FLAGS.depth
    total = manifest["num_frames"] if not limit else min(limit, manifest["num_frames"])
    info = {
        "data_dir": os.path.abspath(FLAGS.data_dir),
        "source": manifest.get("source"),
        "split": manifest.get("split"),
        "num_frames": total,
    }
    return iter_split_frames(FLAGS.data_dir, limit), total, kind, info, None


def _labeled_mat(limit):
    """(frames, total, ground-truth kind, data info, reader) of --labeled_mat's official test split."""
    from data_prep.readers import LabeledMatReader

    kind = FLAGS.depth or "filled"
    try:
        reader = LabeledMatReader(FLAGS.labeled_mat, "test", splits_mat=FLAGS.splits_mat, depth=kind)
        items = reader.items()[:limit] if limit else reader.items()
    except Exception as e:
        raise common.UsageError(f"cannot read the evaluation data: {e}") from e
    info = {
        "labeled_mat": os.path.abspath(FLAGS.labeled_mat),
        "splits_mat": os.path.abspath(reader.splits_mat),
        "split": "test",
        "num_frames": len(items),
    }
    return reader.frames(items), len(items), kind, info, reader


def _peek_frame_size(frames):
    """(the same frames, (H, W) of the first one or None): the size the protocol reports is the one applied."""
    import itertools

    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        return iter(()), None
    rgb = first.rgb if hasattr(first, "rgb") else first[0]
    return itertools.chain([first], frames), tuple(int(s) for s in rgb.shape[:2])


def main(argv) -> int:
    from depthnet.evaluation import (
        Protocol,
        evaluate_predictor,
        format_table,
        resize_rule_text,
        save_panels,
        write_results,
    )

    common.no_extra_args(argv)
    if bool(FLAGS.model_dir) == bool(FLAGS.saved_model):
        raise common.UsageError("give exactly one of --model_dir or --saved_model")
    if bool(FLAGS.data_dir) == bool(FLAGS.labeled_mat):
        raise common.UsageError("give exactly one of --data_dir (a prepared split) or --labeled_mat (+ --splits_mat)")
    output_dir = FLAGS.output_dir or (os.path.join(FLAGS.model_dir, "eval") if FLAGS.model_dir else None)
    if not output_dir:
        raise common.UsageError("--output_dir is required with --saved_model")
    limit = FLAGS.max_frames or None
    frames, total, kind, data_info, reader = _prepared_split(limit) if FLAGS.data_dir else _labeled_mat(limit)
    predictor = common.predictor_from_flags()
    frames, frame_size = _peek_frame_size(frames)
    protocol = Protocol(
        crop=None if FLAGS.crop == "none" else FLAGS.crop,
        min_depth=FLAGS.min_depth,
        max_depth=FLAGS.max_depth,
        average=FLAGS.average,
        flip_tta=FLAGS.flip_tta,
        input_size=predictor.working,
        ground_truth=kind,
    )
    try:
        metrics, examples = evaluate_predictor(
            predictor, frames, protocol, total=total, progress=FLAGS.progress, keep_examples=FLAGS.panels
        )
    finally:
        if reader is not None:
            reader.close()
    extra = {
        "model": predictor.info,
        "data": data_info,
        "resize_rule": resize_rule_text(predictor.working, frame_size),
        "network_input": list(predictor.working_size_for(*frame_size)) if frame_size else None,
        "evaluated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    path = write_results(output_dir, metrics, protocol, extra)
    save_panels(output_dir, examples, log=print)
    print(format_table({"ours": metrics}))
    print(f"\nProtocol: {protocol.describe()}")
    print(f"{metrics['num_images']} images scored ({metrics['num_skipped']} without valid pixels); wrote {path}")
    return 0


def run() -> None:
    common.run(main, define_flags)


if __name__ == "__main__":
    run()
