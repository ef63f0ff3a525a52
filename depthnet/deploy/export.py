"""`depthnet-export --format=saved_model,litert,onnx`: one training run -> every deployable format.

Layout under ``export_dir`` (each written to a temporary sibling, run once, then renamed in place)::

    export_dir/                 the SavedModel (format saved_model), as before, plus its model.json
    export_dir/litert_fp32/     model.tflite + model.json   (also litert_fp16, litert_int8)
    export_dir/onnx_fp32/       model.onnx + model.json

Every format is converted from the same Keras inference model (:func:`depthnet.deploy.saved_model.inference_model`)
through one fixed-size graph (:mod:`depthnet.deploy.graph`) at ``input_size`` (default: the run's
working size). int8 calibration frames come from a prepared split (``calibration_data``, default the
run's own training split), resized to ``input_size`` as the runtime predictor resizes images.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from typing import Any, Optional

import numpy as np

from depthnet.checkpoints import checkpoint_path, read_run_config_json
from depthnet.config import ModelConfig
from depthnet.data import pipeline as data
from depthnet.deploy import litert
from depthnet.deploy import onnx as onnx_export
from depthnet.deploy.graph import check_export_size, fixed_size_function
from depthnet.deploy.model_card import model_card, write_card
from depthnet.deploy.runtimes import LiteRTRunner, ONNXRunner, resize_to_input
from depthnet.deploy.saved_model import export_run, inference_model
from depthnet.errors import InputError
from depthnet.evaluation.evaluate import iter_split_frames
from depthnet.extras import require

FORMATS = ("saved_model", "litert", "onnx")
CALIBRATION_FRAMES = 32


def calibration_frames(split_dir: str, input_size: Sequence[int], max_frames: int = CALIBRATION_FRAMES) -> list:
    """uint8 [1, H, W, 3] frames of a prepared split at `input_size` (the representative dataset)."""
    if not os.path.isdir(split_dir):
        raise InputError(f"calibration data {split_dir!r} is not a prepared split folder (depthnet-prepare output)")
    frames = [resize_to_input(rgb[None], input_size) for rgb, *_ in iter_split_frames(split_dir, max_frames)]
    if not frames:
        raise InputError(f"calibration data {split_dir!r} holds no frames")
    return frames


def default_calibration_split(model_dir: str) -> Optional[str]:
    """The run's own training split (config.json's data_dir/<train split>), if it exists."""
    train = read_run_config_json(model_dir).get("train", {})
    split = os.path.join(train.get("data_dir") or "", train.get("train_split") or "train")
    return split if train.get("data_dir") and os.path.isdir(split) else None


def _write_atomically(folder: str, name: str, content: bytes, card_fn) -> str:
    """Writes `content` as folder/name plus its model.json via a temporary sibling; returns the file path."""
    parent, base = os.path.dirname(folder), os.path.basename(folder)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{base}.tmp-", dir=parent)
    try:
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(content)
        write_card(tmp, card_fn(path))
        if os.path.exists(folder):
            shutil.rmtree(folder)
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return os.path.join(folder, name)


def _smoke_test(runner, input_size: Sequence[int]) -> None:
    depth = runner(np.zeros((1, *input_size, 3), np.uint8))
    if depth.shape != (1, *input_size, 1) or not np.all(np.isfinite(depth)):
        raise RuntimeError(f"converted model returned {depth.shape} (finite: {np.isfinite(depth).all()})")


@dataclasses.dataclass(frozen=True)
class _Conversion:
    """What every converted format shares: the float32 model, the sizes, where to write and the provenance."""

    model: Any
    model_dir: str
    export_dir: str
    size: tuple[int, int]
    working: tuple[int, int]
    source: dict[str, Any]
    log: Callable[[str], None]

    def card(self, fmt: str, prec: str, batch: Optional[int], extra: dict[str, Any]) -> Callable[[str], dict]:
        """The model card builder for one converted file (called with its path)."""
        extra = {**extra, "source": self.source}
        return lambda path: model_card(path, fmt, prec, self.size, self.working, batch, extra)


def _check_formats(formats: Sequence[str], litert_precisions: Sequence[str]) -> None:
    """InputError for unknown formats or LiteRT precisions; missing extras fail before any conversion."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise InputError(f"unknown export format(s) {unknown}; choose from {', '.join(FORMATS)}")
    bad = sorted(set(litert_precisions) - set(litert.PRECISIONS))
    if bad:
        raise InputError(f"unknown LiteRT precision(s) {bad}; choose from {', '.join(litert.PRECISIONS)}")
    if "onnx" in formats:
        require("tf2onnx", "ONNX export")
        require("onnxruntime", "checking the ONNX export")
    if "litert" in formats:
        require("ai_edge_litert.interpreter", "checking the LiteRT export")


def _source(model_dir: str, checkpoint: str, run_config: dict[str, Any]) -> dict[str, Any]:
    """The provenance every model card records: the run, its checkpoint and its evaluation (if any)."""
    eval_path = os.path.join(model_dir, "eval", "metrics.json")
    evaluation = None
    if os.path.exists(eval_path):
        with open(eval_path, encoding="utf-8") as f:
            evaluation = json.load(f)
    return {
        "model_dir": os.path.abspath(model_dir),
        "checkpoint": checkpoint,
        "checkpoint_path": checkpoint_path(model_dir, checkpoint),
        "model": run_config.get("model"),
        "eval_metrics": evaluation,
    }


def _export_saved_model(
    model_dir: str, export_dir: str, checkpoint: str, precision: str, working: tuple[int, int], source: dict, log
) -> str:
    """The SavedModel at `export_dir` (any input size) plus its model.json; returns its path."""
    path = export_run(model_dir, export_dir, checkpoint, precision)
    any_size = {"shape": ["batch", "height", "width", 3], "sizes": "any (resized inside the graph)"}
    card = model_card(
        os.path.join(path, "saved_model.pb"), "saved_model", precision, working, working, None, {"source": source}
    )
    card["input"].update(any_size)
    card["output"]["shape"] = ["batch", "height", "width", 1]
    write_card(path, card)
    log(f"saved_model: {path}")
    return path


def _litert_calibration(
    conv: _Conversion, litert_precisions: Sequence[str], calibration_data: Optional[str], calibration_count: int
) -> tuple[list, dict[str, Any]]:
    """(int8 calibration frames, their description for the card); empty unless int8 is asked for."""
    if "int8" not in litert_precisions:
        return [], {}
    split = calibration_data or default_calibration_split(conv.model_dir)
    if not split:
        raise InputError("int8 needs calibration frames: give calibration_data (a prepared split folder)")
    frames = calibration_frames(split, conv.size, calibration_count)
    return frames, {"split": os.path.abspath(split), "frames": len(frames), "resize": "host rule to input_size"}


def _export_litert(
    conv: _Conversion, litert_precisions: Sequence[str], calibration_data: Optional[str], calibration_count: int
) -> dict[str, str]:
    """export_dir/litert_<precision>/model.tflite for each precision, smoke-tested; returns {'litert_<p>': path}."""
    function = fixed_size_function(conv.model, conv.size, conv.working, batch=1)
    frames, calibration = _litert_calibration(conv, litert_precisions, calibration_data, calibration_count)
    paths: dict[str, str] = {}
    for prec in litert_precisions:
        blob = litert.convert(function, prec, (lambda: frames) if prec == "int8" else None)
        extra = {"converter": litert.CONVERTER, "quantization": litert.quantization_scheme(prec)}
        if prec == "int8":
            extra["calibration"] = calibration
        folder = os.path.join(conv.export_dir, f"litert_{prec}")
        path = _write_atomically(folder, "model.tflite", blob, conv.card("litert", prec, 1, extra))
        _smoke_test(LiteRTRunner(path), conv.size)
        paths[f"litert_{prec}"] = path
        conv.log(f"litert {prec}: {path} ({len(blob) / 1e6:.2f} MB)")
    return paths


def _export_onnx(conv: _Conversion) -> dict[str, str]:
    """export_dir/onnx_fp32/model.onnx (any batch), smoke-tested; returns {'onnx_fp32': path}."""
    function = fixed_size_function(conv.model, conv.size, conv.working, batch=None)
    blob = onnx_export.convert(function)
    extra = {
        "converter": onnx_export.converter_name(),
        "opset": onnx_export.OPSET,
        "quantization": "none (float32)",
    }
    path = _write_atomically(
        os.path.join(conv.export_dir, "onnx_fp32"), "model.onnx", blob, conv.card("onnx", "fp32", None, extra)
    )
    _smoke_test(ONNXRunner(path), conv.size)
    conv.log(f"onnx fp32: {path} ({len(blob) / 1e6:.2f} MB)")
    return {"onnx_fp32": path}


def export_formats(
    model_dir: str,
    export_dir: str,
    formats: Sequence[str] = ("saved_model",),
    checkpoint: str = "best",
    precision: str = "fp32",
    litert_precisions: Sequence[str] = litert.PRECISIONS,
    input_size: Optional[Sequence[int]] = None,
    calibration_data: Optional[str] = None,
    calibration_count: int = CALIBRATION_FRAMES,
    log=None,
) -> dict[str, str]:
    """Exports a run in every format of `formats`; returns {'saved_model' | 'litert_<p>' | 'onnx_fp32': path}."""
    log = log or (lambda s: None)
    _check_formats(formats, litert_precisions)
    run_config = read_run_config_json(model_dir)
    source = _source(model_dir, checkpoint, run_config)
    working = data.resize_for_crop(ModelConfig.from_dict(run_config["model"]).input_size)
    size = check_export_size(input_size or working, working)
    paths: dict[str, str] = {}
    if "saved_model" in formats:
        paths["saved_model"] = _export_saved_model(model_dir, export_dir, checkpoint, precision, working, source, log)
    converted = [f for f in formats if f != "saved_model"]
    if not converted:
        return paths
    model, _ = inference_model(model_dir, checkpoint, "fp32")  # the converters take the float32 model
    conv = _Conversion(model, model_dir, export_dir, size, working, source, log)
    if "litert" in converted:
        paths.update(_export_litert(conv, litert_precisions, calibration_data, calibration_count))
    if "onnx" in converted:
        paths.update(_export_onnx(conv))
    return paths
