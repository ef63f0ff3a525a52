"""One evaluation job: a model (a run, a SavedModel or stored predictions) on a data set under a protocol.

The library behind `depthnet-eval` and the main job's evaluation (:func:`run_evaluation`): it picks the
checkpoint (:mod:`depthnet.evaluation.checkpoint_choice`), builds the complete protocol
(:func:`depthnet.evaluation.protocol.resolve_protocol`), scores with the one loop
(:func:`depthnet.evaluation.evaluate.evaluate_predictor`) and writes `metrics.json`, `metrics.md` and
panels. :func:`prepared_split_source` reads a prepared split; other readers (the labeled .mat of
`data_prep`) hand in their own :class:`depthnet.data.frame.FrameSource`.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import os
from typing import Any, Optional

from depthnet.data import checks, records
from depthnet.data.frame import FrameSource
from depthnet.errors import DepthNetError
from depthnet.evaluation import evaluate, presets
from depthnet.evaluation.checkpoint_choice import choose_checkpoint
from depthnet.evaluation.protocol import Protocol, resolve_protocol
from depthnet.inference import Predictor, load_predictor

__all__ = ["EvalRequest", "EvalResult", "prepared_split_source", "run_evaluation"]


class EvalUsageError(DepthNetError):
    """A request that does not fit together (exit status 2)."""


@dataclasses.dataclass
class EvalRequest:
    """What to evaluate and how: exactly one of model_dir, saved_model or predictions."""

    output_dir: str
    model_dir: Optional[str] = None
    saved_model: Optional[str] = None
    predictions: Optional[str] = None
    checkpoint: str = "best"
    checkpoint_explicit: bool = False
    precision: str = "fp32"
    protocol: str = presets.DEFAULT_PROTOCOL
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    predictions_order: str = "name"
    predictions_list: Optional[str] = None
    png_scale: float = 1000.0
    panels: int = 3
    progress: bool = True


@dataclasses.dataclass
class EvalResult:
    metrics: dict[str, float]
    protocol: Protocol
    notes: list[str]
    path: str
    panels: list[str]
    examples: list[dict[str, Any]]
    network_input: Optional[list[int]] = None  # the network input size the frames got (None: stored predictions)


def prepared_split_source(data_dir: str, max_frames: int = 0, depth: Optional[str] = None, verify: str = "on"):
    """A :class:`FrameSource` of a prepared split (checked first: manifest, shards, optionally checksums)."""
    splits = checks.splits_under(data_dir)
    if splits and not os.path.exists(os.path.join(data_dir, records.MANIFEST_NAME)):
        choices = " or ".join(f"--data_dir={s}" for s in splits)
        raise EvalUsageError(f"--data_dir={data_dir} is a data root, not a split: pass {choices}")
    try:
        manifest = records.read_manifest(data_dir)
    except Exception as e:
        raise EvalUsageError(f"cannot read the evaluation data: {e}") from e
    checks.check_splits([data_dir], verify)
    kind = evaluate.ground_truth_kind(data_dir)
    if depth and kind != "unknown" and depth != kind:
        raise EvalUsageError(
            f"--depth={depth} but {data_dir} holds {kind} ground truth (its manifest); "
            f"drop --depth or prepare a {depth} split"
        )
    kind = depth if kind == "unknown" and depth else kind
    total = manifest["num_frames"] if not max_frames else min(int(max_frames), manifest["num_frames"])
    info = {
        "data_dir": os.path.abspath(data_dir),
        "source": manifest.get("source"),
        "split": manifest.get("split"),
        "num_frames": total,
        "frame_size": manifest.get("frame_size"),
    }
    frames = checks.NamedReadErrors(evaluate.iter_split_frames(data_dir, max_frames or None), data_dir)
    return FrameSource(iter(frames), total, kind, info)


def _peek_frame_size(frames):
    """(the same frames, (H, W) of the first one or None): the size the protocol reports is the one applied."""
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        return iter(()), None
    rgb = first.rgb if hasattr(first, "rgb") else first[0]
    return itertools.chain([first], frames), tuple(int(s) for s in rgb.shape[:2])


def _predictor(request: EvalRequest, checkpoint: str, input_mode: str) -> Predictor:
    """The model the request names; with input 'center_crop' at the run's training crop scale."""
    if input_mode != "center_crop":
        return load_predictor(request.saved_model, request.model_dir, checkpoint, request.precision)
    if not request.model_dir:
        raise EvalUsageError(
            "--input=center_crop needs --model_dir (a SavedModel resizes every image to its own working size)"
        )
    from depthnet.checkpoints import read_run_config_json

    crop = read_run_config_json(request.model_dir)["model"]["input_size"]  # the training crop: its scale
    return Predictor.from_model_dir(request.model_dir, checkpoint, request.precision, working=crop)


def _check_request(request: EvalRequest) -> None:
    if sum(bool(x) for x in (request.model_dir, request.saved_model, request.predictions)) != 1:
        raise EvalUsageError("give exactly one of --model_dir, --saved_model or --predictions")
    if not request.output_dir:
        raise EvalUsageError("--output_dir is required with --saved_model or --predictions")


def _score(request: EvalRequest, source: FrameSource, frames, frame_size):
    """(metrics, examples, protocol, notes, model info, resize rule, network input) of the request."""
    resolve = dict(frame_size=source.frame_size(), ground_truth=source.ground_truth)
    if request.predictions:
        from depthnet.evaluation.scoring import score_predictions

        protocol, notes = resolve_protocol(
            request.protocol, request.overrides, **resolve, input_size=source.frame_size() or (0, 0),
            stored_predictions=True,
        )  # fmt: skip
        metrics, examples = score_predictions(
            request.predictions,
            frames,
            protocol,
            request.predictions_order,
            request.png_scale,
            request.panels,
            file_list=request.predictions_list,
        )
        model = {"source": "predictions", "predictions": os.path.abspath(request.predictions)}
        return metrics, examples, protocol, notes, model, "predictions as stored, bilinear to the ground truth", None
    checkpoint, note = request.checkpoint, ""
    if request.model_dir:
        evaluated = source.info.get("data_dir", "")
        checkpoint, note = choose_checkpoint(
            request.model_dir, request.checkpoint, request.checkpoint_explicit, evaluated, source.official_test
        )
    input_mode = request.overrides.get("input") or presets.preset(request.protocol).input
    predictor = _predictor(request, checkpoint, input_mode)
    protocol, notes = resolve_protocol(request.protocol, request.overrides, **resolve, input_size=predictor.working)
    metrics, examples = evaluate.evaluate_predictor(
        predictor, frames, protocol, total=source.total, progress=request.progress, keep_examples=request.panels
    )
    network_input = list(predictor.working_size_for(*frame_size)) if frame_size else None
    rule = evaluate.resize_rule_text(predictor.working, frame_size)
    return metrics, examples, protocol, [note] * bool(note) + notes, predictor.info, rule, network_input


def run_evaluation(request: EvalRequest, source: FrameSource, log=None) -> EvalResult:
    """Scores the request on `source`; writes metrics.json / metrics.md / panels into request.output_dir."""
    _check_request(request)
    frames, frame_size = _peek_frame_size(source.frames)
    try:
        metrics, examples, protocol, notes, model, rule, network_input = _score(request, source, frames, frame_size)
    finally:
        if source.close is not None:
            source.close()
    extra = {
        "model": model,
        "data": source.info,
        "preset": protocol.preset_info(),
        "notes": notes,
        "resize_rule": rule,
        "network_input": network_input,
        "evaluated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    path = evaluate.write_results(request.output_dir, metrics, protocol, extra)
    panels = evaluate.save_panels(request.output_dir, examples, log=log)
    return EvalResult(metrics, protocol, notes, path, panels, examples, network_input)


def report(result: EvalResult, label: str = "ours") -> str:
    """What depthnet-eval prints: the table, the protocol with every setting, the notes, the file written."""
    protocol, info = result.protocol, result.protocol.preset_info()
    lines = [evaluate.format_table({label: result.metrics}), "", f"Protocol: {protocol.describe()}"]
    lines.append(f"Preset: {info['name']} ({info['source'] or 'no source'})")
    settings = {**protocol.to_dict(), "input": protocol.input, "expected_ground_truth": info["expected_ground_truth"]}
    lines += [f"  {key}: {value}" for key, value in settings.items()]
    lines += [f"note: {line}" for line in result.notes]
    m = result.metrics
    lines.append(f"{m['num_images']} images scored ({m['num_skipped']} without valid pixels); wrote {result.path}")
    return "\n".join(lines)


def default_ground_truth(protocol: str, depth: Optional[str]) -> str:
    """The ground truth to read from a source that has both (the labeled .mat): `depth`, else the preset's."""
    return depth or presets.preset(protocol).ground_truth
