"""The one evaluation loop (paper sec. 4.1 metrics) under an explicit protocol, and its results files.

:func:`evaluate_predictor` is the only loop: training validation, the main job, `depthnet-eval`
(:mod:`depthnet.evaluation.job`) and the bench's accuracy column all call it, with a
:class:`depthnet.inference.Predictor` (uint8 frame in, depth at the frame's size out, THE resize rule of
:func:`depthnet.inference.infer_depth`) and full-resolution frames (:func:`iter_split_frames`), so they
give the same numbers by construction. The prediction is scored against the full-resolution ground
truth under the :class:`~depthnet.evaluation.protocol.Protocol` (crop, depth range, averaging, flip TTA,
input mode: :func:`apply_input_mode`, and the peers' own steps: :func:`protocol_prediction`); :func:`write_results`
stores it next to the metrics.

One frame, in order: input mode (network RGB, scored depth); ground truth as uint16 mm (`quantize_gt_mm`,
BTS / AdaBins); the prediction, each pass clipped first (`clip_before_flip`, AdaBins / DenseDepth) and
flip-averaged (`flip_tta`); resized to the ground truth (`resize`: half-pixel or AdaBins' align_corners);
as uint16 mm (`quantize_pred_mm`, BTS); then the metrics (clip, mask `gt_mask`, crop, `relative_to`, average).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Optional

import numpy as np
import tensorflow as tf

from depthnet.data import pipeline as data
from depthnet.data import records
from depthnet.evaluation import presets as protocols
from depthnet.evaluation.boundary_metrics import BOUNDARY_KEYS, BoundaryMetricAccumulator, DepthAndBoundaryAccumulator
from depthnet.evaluation.metrics import METRIC_KEYS, DepthMetricAccumulator, quantize_mm, resize_bilinear
from depthnet.evaluation.protocol import Protocol
from depthnet.inference import REFERENCE_SIZE, SIZE_MULTIPLE, flip_averaged, working_size_of

__all__ = [
    "Protocol",
    "evaluate_predictor",
    "format_table",
    "ground_truth_kind",
    "iter_split_frames",
    "network_input",
    "protocol_prediction",
    "resize_rule_text",
    "write_results",
    "best_constant",
]

PredictFn = Callable[[tf.Tensor], tf.Tensor]


def ground_truth_kind(split_dir: str) -> str:
    """'filled', 'raw', 'synthetic' or 'unknown': the depth a prepared split holds (:mod:`.protocols`)."""
    return protocols.ground_truth_of_manifest(records.read_manifest(split_dir))


def resize_rule_text(working: Sequence[int], frame_size: Optional[Sequence[int]] = None) -> str:
    """How a frame reaches the network and its prediction the ground truth, as written to metrics.json.

    With `frame_size`, the text names the network input that frame size really gets.
    """
    frame = tuple(frame_size) if frame_size is not None else REFERENCE_SIZE
    applied = working_size_of(frame[0], frame[1], working)
    return (
        f"frame -> {working[0]}x{working[1]}'s pixel count at its aspect (sides multiples of {SIZE_MULTIPLE}; a "
        f"{frame[0]}x{frame[1]} frame -> {applied[0]}x{applied[1]}), prediction bilinear to the ground truth"
    )


def split_frame_size(split_dir: str) -> tuple[int, int]:
    """(H, W) of the first frame of a prepared split."""
    dataset = tf.data.TFRecordDataset(records.shard_paths(split_dir)[:1]).take(1).map(records.parse_example)
    for ex in dataset:
        return int(ex["rgb"].shape[0]), int(ex["rgb"].shape[1])
    raise ValueError(f"{split_dir} holds no frames")


def network_input(split_dir: str, protocol: Protocol) -> list[int]:
    """The network input size the split's frames get under `protocol` (THE rule of depthnet.inference)."""
    height, width = split_frame_size(split_dir)
    return list(working_size_of(height, width, protocol.input_size))


def example_indices(total: int, keep: int) -> list[int]:
    """`keep` frame indices spread evenly over `total` (the centre of each of `keep` equal runs), so panels
    show different scenes rather than the first views of one room."""
    keep = min(int(keep), int(total))
    return [(2 * i + 1) * int(total) // (2 * keep) for i in range(keep)] if keep > 0 else []


def format_table(rows: dict[str, dict[str, float]], keys: Optional[Sequence[str]] = None) -> str:
    """A markdown table with one row per named result (default: the depth metrics, then the boundary
    metrics every row has)."""
    if keys is None:
        keys = METRIC_KEYS + tuple(k for k in BOUNDARY_KEYS if all(k in m for m in rows.values()))
    header = "| run | " + " | ".join(keys) + " |"
    rule = "|---|" + "---|" * len(keys)
    lines = [header, rule]
    for name, metrics in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{metrics[k]:.3f}" for k in keys) + " |")
    return "\n".join(lines)


def write_results(output_dir: str, metrics: dict[str, float], protocol: Protocol, extra: dict | None = None) -> str:
    """Writes metrics.json (metrics + protocol) and metrics.md atomically; returns the JSON path."""
    os.makedirs(output_dir, exist_ok=True)
    payload = {
        "metrics": metrics,
        "protocol": protocol.to_dict(),
        "protocol_text": protocol.describe(),
        **(extra or {}),
    }
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


def iter_split_frames(
    split_dir: str, max_frames: Optional[int] = None, scene_filter: Optional[Callable[[tf.Tensor], tf.Tensor]] = None
) -> Iterator[FrameTuple]:
    """The frames of a prepared split at full resolution, in manifest order.

    `scene_filter` (a predicate on serialized records) keeps only some frames, e.g. the held-out
    validation scenes of :mod:`depthnet.training.holdout`.
    """
    dataset = tf.data.TFRecordDataset(records.shard_paths(split_dir))
    if scene_filter is not None:
        dataset = dataset.filter(scene_filter)
    dataset = dataset.map(records.parse_example)
    if max_frames:
        dataset = dataset.take(int(max_frames))
    for ex in dataset:
        yield (
            ex["rgb"].numpy(),
            ex["depth"].numpy()[..., 0],
            ex["scene"].numpy().decode(),
            ex["frame"].numpy().decode(),
        )


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
        :class:`depthnet.inference.Predictor`. `protocol.flip_tta` averages it with its mirror image.
    frames: (rgb uint8 HxWx3, depth HxW metres, ...) tuples or records.Frame objects; 0 = invalid.
    protocol.input_size is only recorded here; the predictor resizes by its own rule.
    Each kept example is {'rgb', 'depth', 'pred' (at the ground truth's size)}; with `total`, the kept
    frames are spread over the set (:func:`example_indices`), else the first ones.
    """
    accumulator = DepthAndBoundaryAccumulator(  # with the peers' own metric steps (DenseDepth's)
        protocol.crop,
        protocol.min_depth,
        protocol.max_depth,
        protocol.average,
        relative_to=protocol.relative_to,
        gt_mask=protocol.gt_mask,
    )
    examples: list[dict[str, np.ndarray]] = []
    bar = None
    if progress:
        from depthnet.progress import progress_bar

        bar = progress_bar(total=total, desc="evaluating", unit="img")
    wanted = set(example_indices(total, keep_examples) if total else range(keep_examples))
    for index, frame in enumerate(frames):
        if isinstance(frame, records.Frame):
            rgb, depth = frame.rgb, frame.depth
        else:
            rgb, depth = frame[0], frame[1]
        rgb = np.asarray(rgb)
        depth = np.asarray(depth, np.float32)
        if depth.ndim == 3:
            depth = depth[..., 0]
        rgb, depth, box = apply_input_mode(rgb, depth, protocol.input)
        if protocol.quantize_gt_mm:  # BTS's test PNGs: rawDepths as uint16 mm (AdaBins reads the same files)
            depth = quantize_mm(depth)
        pred = protocol_prediction(predict_fn, rgb, depth.shape, box, protocol)
        accumulator.update(depth[None], pred)
        if index in wanted:
            examples.append({"rgb": rgb, "depth": depth, "pred": pred[0].astype(np.float32)})
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return accumulator.result(), examples


RESIZES = ("half_pixel", "align_corners")


def protocol_prediction(
    predict_fn: Callable[[Any], Any], rgb: np.ndarray, shape: Sequence[int], box: Any, protocol: Protocol
) -> np.ndarray:
    """The prediction for one network RGB frame, as the protocol's peer makes it: [1, H, W] at the ground truth's
    size (`shape`); the metrics clip it to the depth range afterwards.

    clip_before_flip: each pass (plain and mirrored) clipped to [min_depth, max_depth] at the predictor's
    resolution before the flip average (AdaBins predict_tta, DenseDepth predict); then the resize to the ground
    truth ('half_pixel' or 'align_corners'), `box` for center_crop input; quantize_pred_mm: BTS's uint16 mm PNG.
    """
    if protocol.resize not in RESIZES:
        raise ValueError(f"unknown resize {protocol.resize!r}; choose one of {', '.join(RESIZES)}")
    images = tf.constant(rgb[None])
    if protocol.clip_before_flip:

        def clipped(x: Any) -> np.ndarray:
            return np.clip(np.asarray(x, np.float32), np.float32(protocol.min_depth), np.float32(protocol.max_depth))

        pred = clipped(predict_fn(images))
        if protocol.flip_tta:  # AdaBins: final = 0.5 * (pred + pred_lr), both clipped
            pred = np.float32(0.5) * (pred + clipped(predict_fn(tf.image.flip_left_right(images)))[:, :, ::-1])
    else:
        pred = np.asarray(flip_averaged(predict_fn, images, protocol.flip_tta), np.float32)
    if box is not None:  # center_crop: the prediction covers the crop's region of the ground truth
        pred = paste_prediction(pred, shape, box)
    pred = pred[..., 0] if pred.ndim == 4 else pred
    pred = resize_bilinear(pred, shape[0], shape[1], align_corners=protocol.resize == "align_corners")
    return quantize_mm(pred) if protocol.quantize_pred_mm else pred


def apply_input_mode(rgb: np.ndarray, depth: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray, Any]:
    """(network RGB, scored depth, crop box or None) for an input mode of :data:`.protocols.INPUT_MODES`.

    'whole': unchanged. 'black_border': RGB outside rows 7:474, cols 7:632 (of 480x640) set to 0, as in
    BTS's test files. 'center_crop': RGB cut to the training crop's region; depth outside it set invalid.
    """
    if mode == "whole":
        return rgb, depth, None
    h, w = depth.shape[:2]
    if mode == "black_border":
        t, b, l, r = protocols.black_border_box(h, w)  # noqa: E741 - top, bottom, left, right
        out = np.zeros_like(rgb)
        out[t:b, l:r] = rgb[t:b, l:r]
        return out, depth, None
    if mode == "center_crop":
        t, b, l, r = protocols.center_crop_box(h, w)  # noqa: E741 - top, bottom, left, right
        scored = np.zeros_like(depth)
        scored[t:b, l:r] = depth[t:b, l:r]
        return np.ascontiguousarray(rgb[t:b, l:r]), scored, (t, b, l, r)
    raise ValueError(f"unknown input mode {mode!r}; choose one of {', '.join(protocols.INPUT_MODES)}")


def paste_prediction(pred: np.ndarray, shape: Sequence[int], box: Sequence[int]) -> np.ndarray:
    """[1, h, w, 1] prediction of a crop -> [1, H, W, 1], bilinear into `box`, the crop's edge values outside."""
    t, b, l, r = box  # noqa: E741 - top, bottom, left, right
    inner = tf.image.resize(pred, (b - t, r - l), method="bilinear").numpy()
    return np.pad(inner, ((0, 0), (t, shape[0] - b), (l, shape[1] - r), (0, 0)), mode="edge")


def best_constant(split_dir: str, candidates: np.ndarray | None = None) -> tuple[float, dict[str, float]]:
    """The constant depth with the lowest abs_rel on a split (an oracle baseline), and its metrics (with the
    boundary metrics)."""
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
    boundary = BoundaryMetricAccumulator()  # a constant has no edge: DBE at its 10 px cap, boundary F1 0
    for gt in gts:
        boundary.update(gt, np.full_like(gt, best[1]))
    return best[1], {**best[2], **boundary.result()}


def save_panels(output_dir: str, examples, log: Optional[Callable[[str], None]] = None) -> list[str]:
    """`panel_<i>.png` (RGB | truth | prediction) for each kept example; returns their paths.

    One colour scale per panel covers both the truth and the prediction (`visualize.covering_range`);
    `log` gets one line per panel with that range.
    """
    from depthnet.apps.visualize import covering_range, depth_panel, save_png

    os.makedirs(output_dir, exist_ok=True)
    paths = []
    for i, ex in enumerate(examples):
        path = os.path.join(output_dir, f"panel_{i}.png")
        vmin, vmax = covering_range(ex["depth"], ex["pred"])
        save_png(path, depth_panel(ex["rgb"], ex["pred"], ex["depth"], vmin=vmin, vmax=vmax))
        if log is not None:
            log(f"{path}: colour scale {vmin:.2f}-{vmax:.2f} m (covers truth and prediction)")
        paths.append(path)
    return paths
