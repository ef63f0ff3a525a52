"""`depthnet-eval`: score a training run or a SavedModel under an explicit protocol (:mod:`depthnet.evaluation`).

    depthnet-eval --model_dir=runs/full --data_dir=data/nyu/test [--protocol=eigen] [--checkpoint=best]
    depthnet-eval --saved_model=exports/full --data_dir=data/nyu/test --output_dir=results/full
    depthnet-eval --model_dir=runs/full --labeled_mat=nyu_depth_v2_labeled.mat --splits_mat=splits.mat \
        --protocol=bts --output_dir=results/full_bts
    depthnet-eval --predictions=result_bts_nyu/raw --data_dir=data/nyu/test --protocol=bts --output_dir=results/bts

`--protocol` (default eigen, the one Table 1 is compared under) sets crop, depth range, averaging, flip
TTA and input handling at once (:mod:`depthnet.evaluation.protocols`); `--crop`, `--min_depth`, `--max_depth`,
`--average`, `--flip_tta`, `--input` override single settings. A preset's crop applies to 480x640 ground
truth only (other sizes are scored uncropped unless `--crop` says otherwise). `--checkpoint` defaults to
the checkpoint chosen on the run's validation set, or to the latest one when that set is the split being
evaluated (never select on test).

Writes `<output_dir>/metrics.json` (metrics, protocol, preset, model and data), `metrics.md` and
panels, and prints the table with the preset and every setting; `--output_dir` defaults to
`<model_dir>/eval` (the run's last evaluation, which `depthnet-export` copies into the SavedModel).
"""

from __future__ import annotations

import datetime
import os

from absl import flags

from depthnet.cli import common

FLAGS = flags.FLAGS
CROP_CHOICES = ("none", "eigen", "densedepth")


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
    from depthnet.evaluation.protocols import DEFAULT_PROTOCOL, INPUT_MODES, PRESETS

    flags.DEFINE_enum(
        "protocol", DEFAULT_PROTOCOL, list(PRESETS), "Evaluation protocol preset (the flags below override it)."
    )
    flags.DEFINE_enum(
        "crop", None, list(CROP_CHOICES), "Crop: none, eigen (45:471, 41:601), densedepth (20:460, 24:616)."
    )
    flags.DEFINE_float("min_depth", None, "Ground truth must be > this (metres); predictions clipped to it.")
    flags.DEFINE_float("max_depth", None, "Ground truth must be < this (metres); predictions clipped to it.")
    flags.DEFINE_enum("average", None, ["per_image", "pooled"], "Average metrics per image or pool pixels.")
    flags.DEFINE_boolean("flip_tta", None, "Average with the mirrored prediction of the mirrored image.")
    flags.DEFINE_enum("input", None, list(INPUT_MODES), "How the frame reaches the network (WORKSPACE.md).")
    flags.DEFINE_string("predictions", None, "Score this folder of 16-bit PNG (mm) or .npy predictions instead.")
    flags.DEFINE_enum("predictions_order", "name", ["name", "sorted"], "Pair predictions by name or sorted order.")
    flags.DEFINE_float("png_scale", 1000.0, "--predictions: PNG values per metre (1000 = millimetres).")
    flags.DEFINE_integer("max_frames", 0, "Evaluate at most N frames (0 = all).")
    flags.DEFINE_integer("panels", 3, "Write this many RGB | truth | prediction panels (panel_<i>.png).")
    flags.DEFINE_boolean("progress", True, "Show a progress bar.")
    flags.DEFINE_enum("verify", "on", ["on", "off"], "on: check each shard's sha256 against the manifest first.")


def _prepared_split(limit):
    """(frames, total, ground-truth kind, data info, None) of --data_dir."""
    from depthnet.data import checks as data_checks
    from depthnet.data import records
    from depthnet.evaluation.evaluate import ground_truth_kind, iter_split_frames

    splits = data_checks.splits_under(FLAGS.data_dir)
    if splits and not os.path.exists(os.path.join(FLAGS.data_dir, records.MANIFEST_NAME)):
        choices = " or ".join(f"--data_dir={s}" for s in splits)
        raise common.UsageError(f"--data_dir={FLAGS.data_dir} is a data root, not a split: pass {choices}")
    try:
        manifest = records.read_manifest(FLAGS.data_dir)
    except Exception as e:
        raise common.UsageError(f"cannot read the evaluation data: {e}") from e
    data_checks.check_splits([FLAGS.data_dir], FLAGS.verify)
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
        "frame_size": manifest.get("frame_size"),
    }
    frames = data_checks.NamedReadErrors(iter_split_frames(FLAGS.data_dir, limit), FLAGS.data_dir)
    return iter(frames), total, kind, info, None


def _labeled_mat(limit):
    """(frames, total, ground-truth kind, data info, reader) of --labeled_mat's official test split."""
    from data_prep.readers import LabeledMatReader
    from depthnet.evaluation.protocols import preset

    kind = FLAGS.depth or preset(FLAGS.protocol).ground_truth
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
        "frame_size": [480, 640],
    }
    frames = ((f.rgb, f.depth, f.scene, f.frame) for f in reader.frames(items))
    return frames, len(items), kind, info, reader


_OVERRIDES = ("crop", "min_depth", "max_depth", "average", "flip_tta", "input")


def resolve_protocol(frame_size, ground_truth: str, input_size):
    """The Protocol of --protocol with the given single-setting flags applied; (protocol, notes)."""
    from depthnet.evaluation.evaluate import Protocol
    from depthnet.evaluation.protocols import preset

    base = preset(FLAGS.protocol).settings()
    notes = []
    if FLAGS.predictions and (base["flip_tta"] or base["input"] != "whole"):
        base.update(flip_tta=False, input="whole")  # stored predictions: the predicting system did those
        notes.append(f"flip TTA and input handling of protocol {FLAGS.protocol} are the predicting system's")
    overrides = {k: FLAGS[k].value for k in _OVERRIDES if FLAGS[k].value is not None}
    if "crop" in overrides:
        overrides["crop"] = None if overrides["crop"] == "none" else overrides["crop"]
    changed = {k: v for k, v in overrides.items() if v != base[k]}
    if "crop" not in overrides and base["crop"] and frame_size and list(frame_size) != [480, 640]:
        changed["crop"] = None  # the presets' crops are boxes of NYU's 480x640 frame
        notes.append(f"ground truth is {frame_size[0]}x{frame_size[1]}, not NYU's 480x640: scored uncropped")
    name = FLAGS.protocol + ("" if not changed else " with " + ", ".join(f"{k}={v}" for k, v in changed.items()))
    protocol = Protocol(**{**base, **changed}, name=name, ground_truth=ground_truth, input_size=input_size)
    expected = protocol.expected_ground_truth
    if expected and ground_truth != expected:
        notes.append(
            f"protocol {FLAGS.protocol} scores against {expected} depth but this data holds {ground_truth} "
            f"depth: the numbers are not comparable with that peer's"
        )
    return protocol, notes


def _checkpoint(data_info: dict) -> tuple[str, str]:
    """(--checkpoint to use, note): 'best' unless the run chose it on the very split being evaluated."""
    if FLAGS["checkpoint"].present or not FLAGS.model_dir:
        return FLAGS.checkpoint, ""
    from depthnet.checkpoints import read_run_config_json

    try:
        payload = read_run_config_json(FLAGS.model_dir)
    except (OSError, ValueError):
        return FLAGS.checkpoint, ""
    validation = payload.get("validation") or {}
    if validation.get("kind") == "held-out training scenes":
        return "best", ""
    train = payload.get("train", {})
    val_dir = validation.get("split_dir") or os.path.join(train.get("data_dir") or "", train.get("val_split", ""))
    evaluated = data_info.get("data_dir") or ""
    if FLAGS.labeled_mat or (evaluated and os.path.abspath(val_dir) == os.path.abspath(evaluated)):
        return "latest", (
            f"the run chose 'best' on {val_dir}, which is the test data evaluated here (test-set selection): "
            f"using the latest checkpoint; retrain with --holdout_scenes or pass --checkpoint to override"
        )
    return "best", ""


def _predictor(checkpoint: str, input_mode: str):
    """The model the flags name; with --input=center_crop at the run's training crop scale."""
    from depthnet.inference import Predictor

    if input_mode != "center_crop":
        FLAGS.checkpoint = checkpoint
        return common.predictor_from_flags()
    if not FLAGS.model_dir:
        raise common.UsageError(
            "--input=center_crop needs --model_dir (a SavedModel resizes every image to its own working size)"
        )
    from depthnet.checkpoints import read_run_config_json

    crop = read_run_config_json(FLAGS.model_dir)["model"]["input_size"]  # the training crop: its scale
    return Predictor.from_model_dir(FLAGS.model_dir, checkpoint, FLAGS.precision, working=crop)


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
    from depthnet.evaluation.evaluate import (
        evaluate_predictor,
        format_table,
        resize_rule_text,
        save_panels,
        write_results,
    )

    common.no_extra_args(argv)
    sources = [bool(FLAGS.model_dir), bool(FLAGS.saved_model), bool(FLAGS.predictions)]
    if sum(sources) != 1:
        raise common.UsageError("give exactly one of --model_dir, --saved_model or --predictions")
    if bool(FLAGS.data_dir) == bool(FLAGS.labeled_mat):
        raise common.UsageError("give exactly one of --data_dir (a prepared split) or --labeled_mat (+ --splits_mat)")
    output_dir = FLAGS.output_dir or (os.path.join(FLAGS.model_dir, "eval") if FLAGS.model_dir else None)
    if not output_dir:
        raise common.UsageError("--output_dir is required with --saved_model or --predictions")
    limit = FLAGS.max_frames or None
    frames, total, kind, data_info, reader = _prepared_split(limit) if FLAGS.data_dir else _labeled_mat(limit)
    frames, frame_size = _peek_frame_size(frames)
    try:
        if FLAGS.predictions:
            from depthnet.evaluation.scoring import score_predictions

            protocol, notes = resolve_protocol(data_info.get("frame_size"), kind, data_info.get("frame_size") or (0, 0))
            model_info = {"source": "predictions", "predictions": os.path.abspath(FLAGS.predictions)}
            resize_rule = "predictions as stored, resized bilinearly to the ground truth"
            network_input = None
            metrics, examples = score_predictions(
                FLAGS.predictions, frames, protocol, FLAGS.predictions_order, FLAGS.png_scale, FLAGS.panels
            )
        else:
            checkpoint, note = _checkpoint(data_info)
            protocol, notes = resolve_protocol(data_info.get("frame_size"), kind, (0, 0))
            notes = [note] * bool(note) + notes
            predictor = _predictor(checkpoint, protocol.input)
            protocol.input_size = predictor.working
            model_info, resize_rule = predictor.info, resize_rule_text(predictor.working, frame_size)
            network_input = list(predictor.working_size_for(*frame_size)) if frame_size else None
            metrics, examples = evaluate_predictor(
                predictor, frames, protocol, total=total, progress=FLAGS.progress, keep_examples=FLAGS.panels
            )
    finally:
        if reader is not None:
            reader.close()
    extra = {
        "model": model_info,
        "data": data_info,
        "preset": protocol.preset_info(),
        "notes": notes,
        "resize_rule": resize_rule,
        "network_input": network_input,
        "evaluated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    path = write_results(output_dir, metrics, protocol, extra)
    save_panels(output_dir, examples, log=print)
    print(format_table({"ours" if not FLAGS.predictions else "predictions": metrics}))
    print(f"\nProtocol: {protocol.describe()}")
    info = protocol.preset_info()
    print(f"Preset: {info['name']} ({info['source'] or 'no source'})")
    settings = {**protocol.to_dict(), "input": protocol.input, "expected_ground_truth": info["expected_ground_truth"]}
    for key, value in settings.items():
        print(f"  {key}: {value}")
    for line in notes:
        print(f"note: {line}")
    print(f"{metrics['num_images']} images scored ({metrics['num_skipped']} without valid pixels); wrote {path}")
    return 0


def run() -> None:
    common.run(main, define_flags)


if __name__ == "__main__":
    run()
