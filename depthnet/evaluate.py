"""`depthnet-eval` and the evaluation protocol (paper sec. 4.1 metrics).

    depthnet-eval --model_dir=runs/full --data_dir=data/nyu/test [--checkpoint=best]
    depthnet-eval --saved_model=exports/full --data_dir=data/nyu/test --output_dir=results/full
    depthnet-eval --model_dir=runs/full --labeled_mat=nyu_depth_v2_labeled.mat --splits_mat=splits.mat \
        --depth=filled --crop=eigen --output_dir=results/full_mat

The network sees the whole frame resized to the training scale (312x416 for a 480x640 NYU frame:
the model is fully convolutional and was trained on 240x320 crops of that scale); its prediction is
bilinearly resized to the full-resolution ground truth and scored there.

Every number depends on the protocol, so it is explicit and written next to the metrics
(:class:`Protocol`; flags `--crop=none|eigen`, `--min_depth`, `--max_depth`,
`--average=per_image|pooled`, `--flip_tta`; the kind of ground truth, filled or raw, comes from the
prepared split's manifest, or `--depth` for the labeled .mat). `depthnet-eval` writes
`<output_dir>/metrics.json` (metrics, protocol, model and data) and `metrics.md`, and prints the
table; `--output_dir` defaults to `<model_dir>/eval` (the run's last evaluation, which
`depthnet-export` copies into the SavedModel).

The CLI runs any model through :class:`depthnet.predict.Predictor` (uint8 frame in, depth at the
frame's size out, with the resize rule of :func:`depthnet.predict.infer_depth`, identical to
:func:`evaluate_split`'s for 480x640 frames) via :func:`evaluate_predictor`, which also takes any
callable, e.g. a hand-made predictor in tests. :func:`evaluate_split` (float network inputs from
:func:`depthnet.data.eval_dataset`) is what training uses for validation.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import sys
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

import numpy as np
import tensorflow as tf

from depthnet import data, records
from depthnet.metrics import METRIC_KEYS, DepthMetricAccumulator

PredictFn = Callable[[tf.Tensor], tf.Tensor]


@dataclasses.dataclass
class Protocol:
    """Every choice that changes the numbers, recorded next to them.

    crop: None or 'eigen' (rows 45:471, cols 41:601 of 480x640).
    min_depth, max_depth: ground truth outside (min, max) is ignored; predictions are clipped to it.
    average: 'per_image' (metric per image, then mean) or 'pooled' (all valid pixels as one set).
    flip_tta: average the prediction with the mirrored prediction of the mirrored image.
    input_size: the network input (H, W) the frame is resized to.
    ground_truth: 'filled' or 'raw' depth, as the prepared split records it.
    """

    crop: Optional[str] = None
    min_depth: float = 1e-3
    max_depth: float = 10.0
    average: str = "per_image"
    flip_tta: bool = False
    input_size: Sequence[int] = data.NYU_RESIZE
    ground_truth: str = "unknown"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["input_size"] = list(self.input_size)
        return d

    def describe(self) -> str:
        crop = self.crop or "none"
        tta = ", flip TTA" if self.flip_tta else ""
        return (f"crop {crop}, depth {self.min_depth:g}-{self.max_depth:g} m, {self.ground_truth} GT, "
                f"{self.average.replace('_', '-')} mean, input {self.input_size[0]}x{self.input_size[1]}{tta}")


def ground_truth_kind(split_dir: str) -> str:
    """'filled', 'raw' or 'unknown': the kind of depth a prepared split holds, from its manifest."""
    manifest = records.read_manifest(split_dir)
    kind = manifest.get("ground_truth") or manifest.get("flags", {}).get("depth")
    return str(kind) if kind else "unknown"


def keras_predict_fn(model: tf.keras.Model | Any) -> PredictFn:
    """A traced inference function for a Keras model (inference mode, no retracing per batch size)."""

    @tf.function(reduce_retracing=True)
    def predict(images: tf.Tensor) -> tf.Tensor:
        return tf.cast(model(images, training=False), tf.float32)

    return predict


def predict_with_protocol(predict_fn: PredictFn, images: tf.Tensor, flip_tta: bool) -> tf.Tensor:
    """Depth for a batch, optionally averaged with its flipped counterpart."""
    depth = predict_fn(images)
    if flip_tta:
        mirrored = predict_fn(tf.image.flip_left_right(images))
        depth = 0.5 * (depth + tf.image.flip_left_right(mirrored))
    return depth


def evaluate_split(
    predict_fn: PredictFn,
    split_dir: str,
    protocol: Protocol,
    max_frames: Optional[int] = None,
    batch_size: int = 1,
    progress: bool = False,
    keep_examples: int = 0,
) -> tuple[dict[str, float], list[dict[str, np.ndarray]]]:
    """Scores `predict_fn` on a prepared split. Returns (metrics, up to `keep_examples` examples).

    Each kept example is {'rgb': uint8 input, 'depth': full GT, 'pred': prediction at GT size}.
    """
    accumulator = DepthMetricAccumulator(protocol.crop, protocol.min_depth, protocol.max_depth, protocol.average)
    dataset = data.eval_dataset(split_dir, batch_size=batch_size, resize_to=tuple(protocol.input_size))
    total = records.read_manifest(split_dir)["num_frames"]
    if max_frames:
        total = min(total, int(max_frames))
        dataset = dataset.unbatch().take(total).batch(batch_size)
    examples: list[dict[str, np.ndarray]] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="evaluating", unit="img")
    for batch in dataset:
        pred = predict_with_protocol(predict_fn, batch["image"], protocol.flip_tta)
        gt = batch["depth"].numpy()
        accumulator.update(gt, pred.numpy())
        if len(examples) < keep_examples:
            full = tf.image.resize(pred, tf.shape(batch["depth"])[1:3], method="bilinear").numpy()
            for i in range(min(len(gt), keep_examples - len(examples))):
                rgb = tf.image.resize(batch["image"][i:i + 1], gt.shape[1:3])[0].numpy()
                examples.append({"rgb": np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8),
                                 "depth": gt[i, ..., 0], "pred": full[i, ..., 0]})
        if bar is not None:
            bar.update(len(gt))
    if bar is not None:
        bar.close()
    return accumulator.result(), examples


def format_table(rows: dict[str, dict[str, float]], keys: Sequence[str] = METRIC_KEYS) -> str:
    """A markdown table with one row per named result."""
    header = "| run | " + " | ".join(keys) + " |"
    rule = "|---|" + "---|" * len(keys)
    lines = [header, rule]
    for name, metrics in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{metrics[k]:.3f}" for k in keys) + " |")
    return "\n".join(lines)


def write_results(output_dir: str, metrics: dict[str, float], protocol: Protocol, extra: dict | None = None) -> str:
    """Writes metrics.json (metrics + protocol) and metrics.md atomically; returns the JSON path."""
    os.makedirs(output_dir, exist_ok=True)
    payload = {"metrics": metrics, "protocol": protocol.to_dict(), "protocol_text": protocol.describe(), **(extra or {})}
    path = os.path.join(output_dir, "metrics.json")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2)
    os.replace(tmp, path)
    table = format_table({"ours": metrics}) + f"\n\nProtocol: {protocol.describe()}\n"
    with open(os.path.join(output_dir, "metrics.md.tmp"), "w", encoding="utf-8") as f:
        f.write(table)
    os.replace(os.path.join(output_dir, "metrics.md.tmp"), os.path.join(output_dir, "metrics.md"))
    return path


# ---------------------------------------------------------------------------------------------- any predictor

FrameTuple = tuple  # (rgb uint8 HxWx3, depth float32 HxW metres (0 = invalid), scene, frame)


def iter_split_frames(split_dir: str, max_frames: Optional[int] = None) -> Iterator[FrameTuple]:
    """The frames of a prepared split at full resolution, in manifest order."""
    dataset = tf.data.TFRecordDataset(records.shard_paths(split_dir)).map(records.parse_example)
    if max_frames:
        dataset = dataset.take(int(max_frames))
    for ex in dataset:
        yield (ex["rgb"].numpy(), ex["depth"].numpy()[..., 0], ex["scene"].numpy().decode(),
               ex["frame"].numpy().decode())


def labeled_mat_reader(labeled_mat: str, splits_mat: Optional[str], depth: str = "filled"):
    """data_prep's reader of the official test split of nyu_depth_v2_labeled.mat."""
    try:
        from data_prep.readers import LabeledMatReader
    except ImportError as e:  # pragma: no cover - data_prep ships with the package
        raise RuntimeError(f"evaluating on --labeled_mat needs the data_prep package ({e})") from e
    return LabeledMatReader(labeled_mat, "test", splits_mat=splits_mat, depth=depth)


def evaluate_predictor(
    predict_fn: Callable[[Any], Any],
    frames: Iterable[Any],
    protocol: Protocol,
    total: Optional[int] = None,
    progress: bool = False,
    keep_examples: int = 0,
) -> tuple[dict[str, float], list[dict[str, np.ndarray]]]:
    """Scores `predict_fn` on full-resolution frames under `protocol`. Returns (metrics, examples).

    predict_fn: uint8 [1, H, W, 3] -> depth [1, h, w, 1] in metres (tf or numpy; any h, w: it is
        resized bilinearly to the ground truth, clipped to the depth range and scored there), e.g. a
        :class:`depthnet.predict.Predictor`. `protocol.flip_tta` averages it with its mirror image.
    frames: (rgb uint8 HxWx3, depth HxW metres, ...) tuples or records.Frame objects; 0 = invalid.
    protocol.input_size is only recorded here; the predictor resizes by its own rule.
    Each kept example is {'rgb', 'depth', 'pred' (at the ground truth's size)}.
    """
    accumulator = DepthMetricAccumulator(protocol.crop, protocol.min_depth, protocol.max_depth, protocol.average)
    examples: list[dict[str, np.ndarray]] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="evaluating", unit="img")
    for frame in frames:
        if isinstance(frame, records.Frame):
            rgb, depth = frame.rgb, frame.depth
        else:
            rgb, depth = frame[0], frame[1]
        rgb = np.asarray(rgb)
        depth = np.asarray(depth, np.float32)
        if depth.ndim == 3:
            depth = depth[..., 0]
        pred = predict_with_protocol(predict_fn, tf.constant(rgb[None]), protocol.flip_tta)
        pred = np.asarray(pred, np.float32)
        accumulator.update(depth[None], pred)
        if len(examples) < keep_examples:
            full = tf.image.resize(pred, depth.shape, method="bilinear").numpy()[0, ..., 0]
            examples.append({"rgb": rgb, "depth": depth, "pred": full})
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return accumulator.result(), examples


# ---------------------------------------------------------------------------------------------- CLI

CROP_CHOICES = ("none", "eigen")


def _define_flags() -> None:
    from absl import flags

    flags.DEFINE_string("model_dir", None, "A depthnet-train model_dir (restored with --checkpoint).")
    flags.DEFINE_string("checkpoint", "best", "With --model_dir: best, latest or a checkpoint prefix.")
    flags.DEFINE_string("precision", "fp32", "With --model_dir: fp32 or bf16.")
    flags.DEFINE_string("saved_model", None, "A SavedModel from depthnet-export (instead of --model_dir).")
    flags.DEFINE_string("data_dir", None, "A prepared split folder (holds manifest.json), e.g. data/nyu/test.")
    flags.DEFINE_string("labeled_mat", None, "nyu_depth_v2_labeled.mat: evaluate on its official test split.")
    flags.DEFINE_string("splits_mat", None, "The official splits.mat (default: beside --labeled_mat).")
    flags.DEFINE_enum("depth", None, ["filled", "raw"],
                      "Ground truth of --labeled_mat: filled ('depths') or raw ('rawDepths'); for --data_dir "
                      "only a check against the split's manifest.")
    flags.DEFINE_string("output_dir", None, "Where metrics.json / metrics.md go (default <model_dir>/eval).")
    flags.DEFINE_enum("crop", "none", list(CROP_CHOICES), "Evaluation crop: none or eigen (rows 45:471, cols 41:601).")
    flags.DEFINE_float("min_depth", 1e-3, "Ground truth must be > this (metres); predictions clipped to it.")
    flags.DEFINE_float("max_depth", 10.0, "Ground truth must be < this (metres); predictions clipped to it.")
    flags.DEFINE_enum("average", "per_image", ["per_image", "pooled"], "Average metrics per image or pool pixels.")
    flags.DEFINE_boolean("flip_tta", False, "Average with the mirrored prediction of the mirrored image.")
    flags.DEFINE_integer("max_frames", 0, "Evaluate at most N frames (0 = all).")
    flags.DEFINE_integer("panels", 3, "Write this many RGB | truth | prediction panels (panel_<i>.png).")
    flags.DEFINE_boolean("progress", True, "Show a progress bar.")


def main(argv) -> int:
    from absl import app, flags

    from depthnet.predict import ModelLoadError, load_predictor

    FLAGS = flags.FLAGS
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}")
    if bool(FLAGS.model_dir) == bool(FLAGS.saved_model):
        raise app.UsageError("give exactly one of --model_dir or --saved_model")
    if bool(FLAGS.data_dir) == bool(FLAGS.labeled_mat):
        raise app.UsageError("give exactly one of --data_dir (a prepared split) or --labeled_mat (+ --splits_mat)")
    output_dir = FLAGS.output_dir or (os.path.join(FLAGS.model_dir, "eval") if FLAGS.model_dir else None)
    if not output_dir:
        raise app.UsageError("--output_dir is required with --saved_model")
    limit = FLAGS.max_frames or None

    reader = None
    try:
        if FLAGS.data_dir:
            manifest = records.read_manifest(FLAGS.data_dir)
            kind = ground_truth_kind(FLAGS.data_dir)
            if FLAGS.depth and kind != "unknown" and FLAGS.depth != kind:
                raise app.UsageError(f"--depth={FLAGS.depth} but {FLAGS.data_dir} holds {kind} ground truth "
                                     f"(its manifest); drop --depth or prepare a {FLAGS.depth} split")
            if kind == "unknown" and FLAGS.depth:
                kind = FLAGS.depth
            total = manifest["num_frames"] if not limit else min(limit, manifest["num_frames"])
            frames: Iterable[Any] = iter_split_frames(FLAGS.data_dir, limit)
            data_info = {"data_dir": os.path.abspath(FLAGS.data_dir), "source": manifest.get("source"),
                         "split": manifest.get("split"), "num_frames": total}
        else:
            kind = FLAGS.depth or "filled"
            reader = labeled_mat_reader(FLAGS.labeled_mat, FLAGS.splits_mat, kind)
            items = reader.items()[:limit] if limit else reader.items()
            total = len(items)
            frames = reader.frames(items)
            data_info = {"labeled_mat": os.path.abspath(FLAGS.labeled_mat), "splits_mat": os.path.abspath(reader.splits_mat),
                         "split": "test", "num_frames": total}
    except app.UsageError:
        raise
    except Exception as e:  # noqa: BLE001 - missing/corrupt data: say what and stop
        print(f"error: cannot read the evaluation data: {e}", file=sys.stderr)
        return 2
    try:
        predictor = load_predictor(FLAGS.saved_model, FLAGS.model_dir, FLAGS.checkpoint, FLAGS.precision)
    except ModelLoadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    protocol = Protocol(crop=None if FLAGS.crop == "none" else FLAGS.crop, min_depth=FLAGS.min_depth,
                        max_depth=FLAGS.max_depth, average=FLAGS.average, flip_tta=FLAGS.flip_tta,
                        input_size=predictor.working, ground_truth=kind)
    try:
        metrics, examples = evaluate_predictor(predictor, frames, protocol, total=total, progress=FLAGS.progress,
                                               keep_examples=FLAGS.panels)
    finally:
        if reader is not None:
            reader.close()
    from depthnet.predict import REFERENCE_SIZE

    extra = {
        "model": predictor.info,
        "data": data_info,
        "resize_rule": (f"frame -> {predictor.working[0]}x{predictor.working[1]}'s pixel count at its aspect "
                        f"(sides multiples of 8; a {REFERENCE_SIZE[0]}x{REFERENCE_SIZE[1]} frame -> "
                        f"{predictor.working[0]}x{predictor.working[1]}), prediction bilinear to the ground truth"),
        "evaluated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    path = write_results(output_dir, metrics, protocol, extra)
    if examples:
        from depthnet.apps.visualize import depth_panel, save_png

        for i, ex in enumerate(examples):
            save_png(os.path.join(output_dir, f"panel_{i}.png"), depth_panel(ex["rgb"], ex["pred"], ex["depth"]))
    print(format_table({"ours": metrics}))
    print(f"\nProtocol: {protocol.describe()}")
    print(f"{metrics['num_images']} images scored ({metrics['num_skipped']} without valid pixels); wrote {path}")
    return 0


def run() -> None:
    from absl import app

    _define_flags()
    app.run(main)


if __name__ == "__main__":
    run()
