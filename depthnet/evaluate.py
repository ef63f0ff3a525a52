"""Evaluation on a prepared split under an explicit protocol (paper sec. 4.1 metrics).

The network sees the whole frame resized to the training scale (312x416 for a 480x640 NYU frame:
the model is fully convolutional and was trained on 240x320 crops of that scale); its prediction is
bilinearly resized to the full-resolution ground truth and scored there.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Callable, Optional, Sequence

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
