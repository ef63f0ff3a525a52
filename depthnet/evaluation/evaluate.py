"""Evaluation (paper sec. 4.1 metrics) under an explicit protocol; the library behind `depthnet-eval`.

    depthnet-eval --model_dir=runs/full --data_dir=data/nyu/test [--checkpoint=best]
    depthnet-eval --saved_model=exports/full --data_dir=data/nyu/test --output_dir=results/full
    depthnet-eval --model_dir=runs/full --labeled_mat=nyu_depth_v2_labeled.mat --splits_mat=splits.mat \
        --protocol=bts --output_dir=results/full_bts

By default (`input='whole'`) the network sees the whole frame resized to the training scale (312x416
for a 480x640 NYU frame: the model is fully convolutional and was trained on 240x320 crops of that
scale); its prediction is bilinearly resized to the full-resolution ground truth and scored there.
`input='black_border'` and `'center_crop'` are the peers' alternatives (:func:`apply_input_mode`).

Every number depends on the protocol, so it is explicit and written next to the metrics
(:class:`Protocol`, usually from a named preset of :mod:`depthnet.evaluation.protocols`: `--protocol`, then
`--crop`, `--min_depth`, `--max_depth`, `--average`, `--flip_tta`, `--input`; the kind of ground truth
comes from the prepared split's manifest, or `--depth` for the labeled .mat). `depthnet-eval` writes
`<output_dir>/metrics.json` (metrics, protocol, model and data) and `metrics.md`, and prints the
table; `--output_dir` defaults to `<model_dir>/eval` (the run's last evaluation, which
`depthnet-export` copies into the SavedModel).

`depthnet-eval` runs any model through :class:`depthnet.inference.Predictor` (uint8 frame in, depth at the
frame's size out, with the resize rule of :func:`depthnet.inference.infer_depth`, identical to
:func:`evaluate_split`'s for 480x640 frames) via :func:`evaluate_predictor`, which also takes any
callable, e.g. a hand-made predictor in tests. :func:`evaluate_split` (float network inputs from
:func:`depthnet.data.pipeline.eval_dataset`) is what training uses for validation.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Optional

import numpy as np
import tensorflow as tf

from depthnet.data import pipeline as data
from depthnet.data import records
from depthnet.evaluation import protocols
from depthnet.evaluation.boundary_metrics import BOUNDARY_KEYS, BoundaryMetricAccumulator, DepthAndBoundaryAccumulator
from depthnet.evaluation.metrics import METRIC_KEYS, DepthMetricAccumulator
from depthnet.inference import REFERENCE_SIZE, SIZE_MULTIPLE, flip_averaged, keras_predict_fn, working_size_of

__all__ = [
    "Protocol",
    "evaluate_predictor",
    "evaluate_split",
    "format_table",
    "ground_truth_kind",
    "iter_split_frames",
    "keras_predict_fn",
    "network_input",
    "predict_with_protocol",
    "resize_rule_text",
    "write_results",
    "best_constant",
]

PredictFn = Callable[[tf.Tensor], tf.Tensor]


@dataclasses.dataclass
class Protocol:
    """Every choice that changes the numbers, recorded next to them.

    crop: None or a named window of :data:`depthnet.evaluation.metrics.CROP_BOXES_480x640` ('eigen': rows
        45:471, cols 41:601 of 480x640; 'densedepth': rows 20:460, cols 24:616).
    min_depth, max_depth: ground truth outside (min, max) is ignored; predictions are clipped to it.
    average: 'per_image' (metric per image, then mean) or 'pooled' (all valid pixels as one set).
    flip_tta: average the prediction with the mirrored prediction of the mirrored image.
    input_size: the working size (H, W): a frame is resized to its pixel count at the frame's own
        aspect, sides multiples of 4 (:func:`depthnet.inference.working_size_of`; a 480x640 frame to
        312x416, a 240x320 frame to the quick run's 124x168). The size applied is recorded as `network_input`.
    ground_truth: 'filled', 'raw' or 'synthetic' depth, as the prepared split records it.
    name: the preset it came from (:mod:`depthnet.evaluation.protocols`), '' for none; 'custom' when overridden.
    input: 'whole', 'black_border' or 'center_crop' (:data:`depthnet.evaluation.protocols.INPUT_MODES`).
    expected_ground_truth: the kind the preset's peer scores against ('' = any).
    """

    crop: Optional[str] = None
    min_depth: float = 1e-3
    max_depth: float = 10.0
    average: str = "per_image"
    flip_tta: bool = False
    input_size: Sequence[int] = data.NYU_RESIZE
    ground_truth: str = "unknown"
    name: str = ""
    input: str = "whole"
    expected_ground_truth: str = ""

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> Protocol:
        """The preset's settings (:func:`depthnet.evaluation.protocols.preset`) with `overrides` applied."""
        return cls(**{**protocols.preset(name).settings(), "name": name, **overrides})

    def to_dict(self) -> dict[str, Any]:
        """The settings; `input` only when not the whole frame, the preset fields never (see `preset_info`)."""
        d = dataclasses.asdict(self)
        d["input_size"] = list(self.input_size)
        for key in ("name", "expected_ground_truth"):
            d.pop(key)
        if self.input == "whole":
            d.pop("input")
        return d

    def preset_info(self) -> dict[str, Any]:
        """{'name', 'source', 'expected_ground_truth', 'ground_truth_matches'} for results files."""
        base = self.name.split(" with ")[0]  # "eigen with crop=None": the eigen preset, overridden
        return {
            "name": self.name or "none",
            "source": protocols.PRESETS[base].source if base in protocols.PRESETS else "",
            "expected_ground_truth": self.expected_ground_truth or "any",
            "ground_truth_matches": not self.expected_ground_truth or self.expected_ground_truth == self.ground_truth,
        }

    def describe(self) -> str:
        crop = self.crop or "none"
        tta = ", flip TTA" if self.flip_tta else ""
        how = "" if self.input == "whole" else f" ({self.input.replace('_', ' ')})"
        preset = f", protocol {self.name}" if self.name else ""
        return (
            f"crop {crop}, depth {self.min_depth:g}-{self.max_depth:g} m, {self.ground_truth} GT, "
            f"{self.average.replace('_', '-')} mean, input {self.input_size[0]}x{self.input_size[1]}{how}{tta}{preset}"
        )


def ground_truth_kind(split_dir: str) -> str:
    """'filled', 'raw', 'synthetic' or 'unknown': the depth a prepared split holds (:mod:`.protocols`)."""
    return protocols.ground_truth_of_manifest(records.read_manifest(split_dir))


predict_with_protocol = flip_averaged  # the protocol's flip test-time augmentation (depthnet.inference)


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


def evaluate_split(
    predict_fn: PredictFn,
    split_dir: str,
    protocol: Protocol,
    max_frames: Optional[int] = None,
    batch_size: int = 1,
    progress: bool = False,
    keep_examples: int = 0,
    scene_filter: Optional[Callable[[tf.Tensor], tf.Tensor]] = None,
) -> tuple[dict[str, float], list[dict[str, np.ndarray]]]:
    """Scores `predict_fn` on a prepared split. Returns (metrics, up to `keep_examples` examples).

    Each kept example is {'rgb': uint8 input, 'depth': full GT, 'pred': prediction at GT size}; the kept
    frames are spread over the split (:func:`example_indices`).
    `scene_filter` keeps only some frames (a held-out validation set, :mod:`depthnet.training.holdout`).
    """
    accumulator = DepthAndBoundaryAccumulator(protocol.crop, protocol.min_depth, protocol.max_depth, protocol.average)
    # THE resize rule (depthnet.inference), as depthnet-eval's Predictor applies it to each frame.
    dataset = data.eval_dataset(
        split_dir, batch_size=batch_size, resize_to=tuple(network_input(split_dir, protocol)), scene_filter=scene_filter
    )
    total = None if scene_filter else records.read_manifest(split_dir)["num_frames"]
    if max_frames:
        total = min(total or int(max_frames), int(max_frames))
        dataset = dataset.unbatch().take(total).batch(batch_size)
    examples: list[dict[str, np.ndarray]] = []
    bar = None
    if progress:
        from depthnet.progress import progress_bar

        bar = progress_bar(total=total, desc="evaluating", unit="img")
    wanted, index = set(example_indices(total, keep_examples) if total else range(keep_examples)), 0
    for batch in dataset:
        pred = predict_with_protocol(predict_fn, batch["image"], protocol.flip_tta)
        gt = batch["depth"].numpy()
        accumulator.update(gt, pred.numpy())
        keep = [i for i in range(len(gt)) if index + i in wanted]
        index += len(gt)
        if keep:
            full = tf.image.resize(pred, tf.shape(batch["depth"])[1:3], method="bilinear").numpy()
            for i in keep:
                rgb = tf.image.resize(batch["image"][i : i + 1], gt.shape[1:3])[0].numpy()
                examples.append(
                    {
                        "rgb": np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8),
                        "depth": gt[i, ..., 0],
                        "pred": full[i, ..., 0],
                    }
                )
        if bar is not None:
            bar.update(len(gt))
    if bar is not None:
        bar.close()
    return accumulator.result(), examples


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


def iter_split_frames(split_dir: str, max_frames: Optional[int] = None) -> Iterator[FrameTuple]:
    """The frames of a prepared split at full resolution, in manifest order."""
    dataset = tf.data.TFRecordDataset(records.shard_paths(split_dir)).map(records.parse_example)
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
    accumulator = DepthAndBoundaryAccumulator(protocol.crop, protocol.min_depth, protocol.max_depth, protocol.average)
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
        pred = predict_with_protocol(predict_fn, tf.constant(rgb[None]), protocol.flip_tta)
        pred = np.asarray(pred, np.float32)
        if box is not None:  # center_crop: the prediction covers the crop's region of the ground truth
            pred = paste_prediction(pred, depth.shape, box)
        accumulator.update(depth[None], pred)
        if index in wanted:
            full = tf.image.resize(pred, depth.shape, method="bilinear").numpy()[0, ..., 0]
            examples.append({"rgb": rgb, "depth": depth, "pred": full})
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return accumulator.result(), examples


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
