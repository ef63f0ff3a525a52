"""`depthnet-export --format=saved_model,litert,onnx`: one training run -> every deployable format.

Layout under ``export_dir`` (:mod:`depthnet.deploy.export_layout`): one sub-folder per format, each
written to a hidden temporary sibling, run once, then renamed onto its folder; the other formats
and any file of the user's in ``export_dir`` are never touched::

    export_dir/saved_model/     the SavedModel (any input size) + model.json
    export_dir/litert_fp32/     model.tflite + model.json   (also litert_fp16, litert_int8)
    export_dir/onnx_fp32/       model.onnx + model.json

Every format is converted from the same Keras inference model (:func:`depthnet.deploy.saved_model.inference_model`)
through one fixed-size graph (:mod:`depthnet.deploy.graph`) at ``input_size``, by default 480x640 (a
NYU frame: such frames need no host resize and get the SavedModel's depth). int8 calibration frames
come from a prepared split (``calibration_data``, default the run's own training split, found by
:func:`depthnet.deploy.run_facts.calibration_split`), resized to ``input_size`` by the host rule.
Every check (formats, folders, calibration data) runs before anything is written.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable, Sequence
from typing import Any, Optional

import numpy as np

from depthnet.checkpoints import read_run_config_json
from depthnet.config import ModelConfig
from depthnet.data import pipeline as data
from depthnet.deploy import export_dirs, export_layout, litert, run_facts
from depthnet.deploy import onnx as onnx_export
from depthnet.deploy.graph import DEFAULT_EXPORT_SIZE, check_export_size, fixed_size_function
from depthnet.deploy.model_card import model_card, write_card
from depthnet.deploy.runtimes import LiteRTRunner, ONNXRunner, resize_to_input
from depthnet.deploy.saved_model import export_run, inference_model
from depthnet.errors import InputError
from depthnet.evaluation.evaluate import iter_split_frames
from depthnet.extras import require
from depthnet.inference import SAVED_MODEL_SUBDIR

FORMATS = ("saved_model", "litert", "onnx")
CALIBRATION_FRAMES = 32


def calibration_frames(split_dir: str, input_size: Sequence[int], max_frames: int = CALIBRATION_FRAMES) -> list:
    """uint8 [1, H, W, 3] frames of a prepared split at `input_size` (the representative dataset)."""
    if not os.path.isdir(split_dir):
        raise InputError(
            f"calibration data {split_dir!r} is not a prepared split folder (depthnet-prepare output); "
            f"set --calibration_data to one"
        )
    frames = [resize_to_input(rgb[None], input_size) for rgb, *_ in iter_split_frames(split_dir, max_frames)]
    if not frames:
        raise InputError(f"calibration data {split_dir!r} holds no frames; set --calibration_data to another split")
    return frames


def default_calibration_split(model_dir: str) -> Optional[str]:
    """The run's own training split, its relative data_dir resolved (:mod:`depthnet.deploy.run_facts`), if found."""
    return run_facts.train_split_path(model_dir, read_run_config_json(model_dir))[0]


def _smoke_test(runner, input_size: Sequence[int]) -> None:
    depth = runner(np.zeros((1, *input_size, 3), np.uint8))
    if depth.shape != (1, *input_size, 1) or not np.all(np.isfinite(depth)):
        raise RuntimeError(f"converted model returned {depth.shape} (finite: {np.isfinite(depth).all()})")


@dataclasses.dataclass(frozen=True)
class _Export:
    """What every format of one export shares: the run's facts, the sizes, where to write, the log."""

    model_dir: str
    export_dir: str
    size: tuple[int, int]
    working: tuple[int, int]
    facts: dict[str, Any]  # source, training, metrics, intended_use: the same in every card
    folders: tuple[str, ...]  # the format folders this export writes
    log: Callable[[str], None]
    warn: Callable[[str], None]

    def card(self, fmt: str, prec: str, batch: Optional[int], extra: dict[str, Any], fixed: bool = True):
        """The model card builder for one file (called with its path), `other_formats` included."""
        others = export_layout.other_formats(self.export_dir, self.folders, self.facts["source"])
        extra = {**extra, **self.facts, "other_formats": others}
        size = self.size if fixed else None
        return lambda path: model_card(path, fmt, prec, size, self.working, batch, extra)

    def write(self, name: str, file_name: str, content: bytes, card_fn, runner_cls) -> str:
        """export_dir/name/file_name + model.json via a hidden sibling, smoke-tested, then renamed into place."""
        folder = os.path.join(self.export_dir, name)
        os.makedirs(self.export_dir, exist_ok=True)
        export_dirs.clean_stale(self.export_dir, name)
        tmp = export_dirs.make_temp_dir(self.export_dir, name, "tmp")
        try:
            path = os.path.join(tmp, file_name)
            with open(path, "wb") as f:
                f.write(content)
            _smoke_test(runner_cls(path), self.size)
            write_card(tmp, card_fn(path))
            export_dirs.replace_dir(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return os.path.join(folder, file_name)


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


def run_card_facts(model_dir: str, checkpoint: str, run_config: dict[str, Any]) -> dict[str, Any]:
    """The run's part of every card: source (run, checkpoint, evaluation), training data, metrics, intended use."""
    source = {
        "model_dir": os.path.abspath(model_dir),
        **run_facts.checkpoint_facts(model_dir, checkpoint),
        "model": run_config.get("model"),
        "eval_metrics": run_facts.evaluation(model_dir),
    }
    training = run_facts.training_data(model_dir, run_config)
    return {
        "source": source,
        "training": training,
        "metrics": run_facts.measured_metrics(model_dir, run_config, source),
        "intended_use": run_facts.intended_use(training),
    }


def _export_saved_model(ex: _Export, checkpoint: str, precision: str) -> str:
    """export_dir/saved_model/ (any input size) with its model.json staged inside before the rename."""
    card_fn = ex.card("saved_model", precision, None, {}, fixed=False)
    target = os.path.join(ex.export_dir, SAVED_MODEL_SUBDIR)
    path = export_run(
        ex.model_dir, target, checkpoint, precision, card_fn=lambda tmp: card_fn(os.path.join(tmp, "saved_model.pb"))
    )
    ex.log(f"saved_model: {path}")
    return path


def _export_litert(ex: _Export, model, litert_precisions: Sequence[str], calibration: tuple) -> dict[str, str]:
    """export_dir/litert_<precision>/model.tflite for each precision; returns {'litert_<p>': path}."""
    function = fixed_size_function(model, ex.size, ex.working, batch=1)
    frames, described = calibration
    paths: dict[str, str] = {}
    for prec in litert_precisions:
        blob = litert.convert(function, prec, (lambda: frames) if prec == "int8" else None)
        extra = {"converter": litert.CONVERTER, "quantization": litert.quantization_scheme(prec)}
        if prec == "int8":
            extra["calibration"] = described
        card_fn = ex.card("litert", prec, 1, extra)
        paths[f"litert_{prec}"] = ex.write(f"litert_{prec}", "model.tflite", blob, card_fn, LiteRTRunner)
        ex.log(f"litert {prec}: {paths[f'litert_{prec}']} ({len(blob) / 1e6:.2f} MB)")
    return paths


def _export_onnx(ex: _Export, model) -> dict[str, str]:
    """export_dir/onnx_fp32/model.onnx (any batch); returns {'onnx_fp32': path}."""
    blob = onnx_export.convert(fixed_size_function(model, ex.size, ex.working, batch=None))
    extra = {"converter": onnx_export.converter_name(), "opset": onnx_export.OPSET, "quantization": "none (float32)"}
    path = ex.write("onnx_fp32", "model.onnx", blob, ex.card("onnx", "fp32", None, extra), ONNXRunner)
    ex.log(f"onnx fp32: {path} ({len(blob) / 1e6:.2f} MB)")
    return {"onnx_fp32": path}


def _calibration(ex: _Export, run_config, litert_precisions, calibration_data, count) -> tuple[list, dict]:
    """(int8 calibration frames, their description for the card); empty unless int8 is asked for."""
    if "int8" not in litert_precisions or not any(f.startswith("litert_") for f in ex.folders):
        return [], {}
    split = run_facts.calibration_split(ex.model_dir, run_config, calibration_data)
    frames = calibration_frames(split, ex.size, count)
    return frames, {"split": split, "frames": len(frames), "resize": "host rule (resize.before_the_model)"}


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
    warn=None,
) -> dict[str, str]:
    """Exports a run in every format of `formats`; returns {'saved_model' | 'litert_<p>' | 'onnx_fp32': path}.

    `warn` gets one line per format left in `export_dir` from another checkpoint (export_layout).
    """
    _check_formats(formats, litert_precisions)
    run_config = read_run_config_json(model_dir)
    working = data.resize_for_crop(ModelConfig.from_dict(run_config["model"]).input_size)
    size = check_export_size(input_size or DEFAULT_EXPORT_SIZE, working)
    export_dir = os.path.abspath(export_dir)
    folders = tuple(export_layout.format_folders(formats, litert_precisions))
    export_layout.check_folders(export_dir, folders)
    facts = run_card_facts(model_dir, checkpoint, run_config)
    noop = lambda s: None
    ex = _Export(model_dir, export_dir, size, working, facts, folders, log or noop, warn or noop)
    calibration = _calibration(ex, run_config, litert_precisions, calibration_data, calibration_count)
    paths: dict[str, str] = {}
    if "saved_model" in formats:
        paths["saved_model"] = _export_saved_model(ex, checkpoint, precision)
    if any(f in formats for f in ("litert", "onnx")):
        model, _ = inference_model(model_dir, checkpoint, "fp32")  # the converters take the float32 model
        if "litert" in formats:
            paths.update(_export_litert(ex, model, litert_precisions, calibration))
        if "onnx" in formats:
            paths.update(_export_onnx(ex, model))
    for line in export_layout.stale_warnings(export_layout.other_formats(export_dir, folders, facts["source"])):
        ex.warn(line)
    return paths
