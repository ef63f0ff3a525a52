"""`depthnet-bench --runtime=tf,litert,onnx`: the same network in every runtime and precision, side by side.

    depthnet-bench --runtime=tf,litert,onnx --precision=fp32,bf16,fp16,int8 --config=full
    depthnet-bench --runtime=tf,litert,onnx --precision=fp32,int8 \
        --accuracy_model_dir=runs/quick --accuracy_data_dir=data/synthetic/test

One Keras model (a trained run, or a preset with random weights) is turned into the fixed-size
graph of :mod:`depthnet.deploy.graph` at ``height`` x ``width`` and run, at batch 1 on the same
uint8 frames, as:

- ``tf_fp32`` / ``tf_bf16`` / ``tf_fp16``: the tf.function of the graph (16-bit: the model rebuilt
  under the Keras mixed policy with the same weights);
- ``litert_fp32`` / ``litert_fp16`` / ``litert_int8``: the converted `.tflite` in ai-edge-litert;
- ``onnx_fp32``: the tf2onnx `.onnx` in onnxruntime.

Per entry: frames/s and ms/frame (``iterations`` passes over the frames after one warm-up pass; the
runners take turns call by call, so load from other jobs on a shared machine hits all of them alike),
file size, and accuracy against ``tf_fp32`` on the same frames: ``rel_diff_vs_tf_fp32`` (mean over
pixels of |d - d_fp32| / d_fp32), ``max_rel_diff_vs_tf_fp32``; with a data split, also the
standard metrics against the ground truth (whole frames, 1e-3..10 m, per image) and
``abs_rel_change_vs_tf_fp32`` = |abs_rel - abs_rel_fp32| / abs_rel_fp32. Runtime/precision pairs that
do not exist (ONNX in 16-bit, TF in int8) are listed under ``skipped``.

Frames: the first ``frames`` of the data split resized to the bench size (host rule), else random
uint8 images; int8 calibration uses the next ``calibration_frames`` of the split (else other random
images). Without a trained run the preset gets random weights and its depth head, which starts at
zero (a constant 2.5 m), a random kernel scaled so log-depth varies by about 0.3 across the first
frame, so accuracy deltas compare non-constant maps.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, Optional

import numpy as np
import tensorflow as tf

from depthnet.checkpoints import restore_model
from depthnet.config import preset
from depthnet.deploy import litert
from depthnet.deploy import onnx as onnx_export
from depthnet.deploy.graph import fixed_size_function
from depthnet.deploy.runtimes import LiteRTRunner, ONNXRunner, resize_to_input, runner_predictor
from depthnet.evaluation.evaluate import Protocol, evaluate_predictor, iter_split_frames
from depthnet.evaluation.metrics import METRIC_KEYS
from depthnet.modeling.fold import inference_graph
from depthnet.modeling.model import build_model
from depthnet.precision import cpu_isa, cpu_model, set_precision

SUPPORTED = {"tf": ("fp32", "bf16", "fp16"), "litert": litert.PRECISIONS, "onnx": onnx_export.PRECISIONS}


def _head_scale(model, frame: np.ndarray, target_std: float = 0.3) -> None:
    """Gives the zero-initialised depth head a random kernel so log-depth varies by ~`target_std`."""
    head = model.get_layer("dmg_head")
    kernel = np.random.default_rng(0).normal(size=head.kernel.shape).astype(np.float32)
    head.kernel.assign(kernel * 1e-3)
    log_depth = np.log(np.asarray(model(tf.cast(frame, tf.float32) / 255.0, training=False)))
    head.kernel.assign(kernel * 1e-3 * target_std / max(float(log_depth.std()), 1e-12))


def _tf_runner(model, size, working) -> Callable[[np.ndarray], np.ndarray]:
    function = fixed_size_function(model, size, working, batch=1)
    run = lambda images: np.asarray(function(tf.constant(images))["depth"], np.float32)
    run.runtime, run.input_size = "tf", tuple(size)
    return run


def _time_interleaved(runners: dict, frames: Sequence[np.ndarray], iterations: int) -> dict[str, dict[str, float]]:
    """Frames/s of each runner, timed call by call in turns (runner after runner on each frame), so that
    other jobs' load on a shared machine falls on every runner alike."""
    spent = dict.fromkeys(runners, 0.0)
    for _ in range(max(1, iterations)):
        for frame in frames:
            for name, run in runners.items():
                start = time.perf_counter()
                run(frame)
                spent[name] += time.perf_counter() - start
    calls = max(1, iterations) * len(frames)
    return {
        name: {"fps_b1": calls / t, "ms_per_frame_b1": 1000.0 * t / calls, "timed_calls": calls}
        for name, t in spent.items()
    }


def _frames(data_dir: Optional[str], size, count: int, calibration: int, seed: int = 0):
    """(timing frames uint8 [1,H,W,3], calibration frames, full-resolution (rgb, depth) for metrics or None)."""
    if data_dir:
        full = list(iter_split_frames(data_dir, count + calibration))
        frames = [resize_to_input(rgb[None], size) for rgb, *_ in full]
        calib = frames[count:] or frames[:count]
        return frames[:count], calib, [(rgb, depth) for rgb, depth, *_ in full[:count]]
    rng = np.random.default_rng(seed)
    images = [rng.integers(0, 256, (1, *size, 3), dtype=np.uint8) for _ in range(count + calibration)]
    return images[:count], images[count:], None


@dataclasses.dataclass
class _Bench:
    """One benchmark's model (unfolded and as the inference graph), sizes and frames."""

    unfolded: Any
    model: Any
    config: Any
    size: tuple[int, int]
    working: tuple[int, int]
    timing: list
    calib: list
    scored: Optional[list]


def _prepare(
    config_name: str,
    model_dir: Optional[str],
    data_dir: Optional[str],
    size: tuple[int, int],
    frames: int,
    calibration_frames: int,
    checkpoint: str,
) -> _Bench:
    """The model (a trained run, or the preset with random weights and a redrawn head) and the frames."""
    if model_dir:
        unfolded, config = restore_model(model_dir, which=checkpoint, precision="fp32")
    else:
        config = dataclasses.replace(preset(config_name), backbone_weights=None)
        unfolded = build_model(config)
    timing, calib, scored = _frames(data_dir, size, frames, calibration_frames)
    if not model_dir:
        _head_scale(unfolded, timing[0])
    model = inference_graph(unfolded)  # the inference graph every export is converted from (serving.inference_model)
    return _Bench(unfolded, model, config, size, size, timing, calib, scored)


def _wanted(runtimes: Sequence[str], precisions: Sequence[str], entries: Optional[Sequence[str]]) -> list[tuple]:
    """(runtime, precision) pairs asked for: `entries` (<runtime>_<precision>), else runtimes x precisions."""
    wanted = [tuple(e.split("_", 1)) for e in entries] if entries else [(r, p) for r in runtimes for p in precisions]
    if any(len(w) != 2 or w[0] not in SUPPORTED for w in wanted):
        raise ValueError(f"entries are <runtime>_<precision> with a runtime of {', '.join(SUPPORTED)}; got {entries}")
    return wanted


def _tf16_runner(bench: _Bench, precision: str) -> Callable[[np.ndarray], np.ndarray]:
    """The TF runner of the model rebuilt under a 16-bit Keras policy with the same weights."""
    set_precision(precision)
    try:
        low = build_model(dataclasses.replace(bench.config, backbone_weights=None))
    finally:
        set_precision("fp32")
    low.set_weights(bench.unfolded.get_weights())
    return _tf_runner(inference_graph(low), bench.size, bench.working)


def _runner(bench: _Bench, runtime: str, precision: str, entry: dict[str, Any]) -> Callable[[np.ndarray], np.ndarray]:
    """The runner of one runtime/precision (converting the model); adds 'file_mb' to `entry` for converted files."""
    if runtime == "tf" and precision == "fp32":
        return _tf_runner(bench.model, bench.size, bench.working)
    if runtime == "tf":
        return _tf16_runner(bench, precision)
    if runtime == "litert":
        function = fixed_size_function(bench.model, bench.size, bench.working, batch=1)
        blob = litert.convert(function, precision, lambda: bench.calib)
        run = LiteRTRunner(blob)
    else:
        blob = onnx_export.convert(fixed_size_function(bench.model, bench.size, bench.working, batch=None))
        run = ONNXRunner(blob)
    entry["file_mb"] = len(blob) / 1e6
    return run


def _score(
    bench: _Bench, run, entry: dict[str, Any], outputs: list, reference: list, ref_abs_rel: Optional[float]
) -> Optional[float]:
    """Adds the accuracy vs tf_fp32 (and vs ground truth, with data) to `entry`; returns the reference abs_rel."""
    rel = [np.abs(o - r) / np.maximum(r, 1e-6) for o, r in zip(outputs, reference)]
    entry["rel_diff_vs_tf_fp32"] = float(np.mean([x.mean() for x in rel]))
    entry["max_rel_diff_vs_tf_fp32"] = float(max(x.max() for x in rel))
    if bench.scored:
        predictor = runner_predictor(run, bench.working)
        metrics, _ = evaluate_predictor(predictor, bench.scored, Protocol(input_size=bench.size))
        entry["metrics"] = {k: float(metrics[k]) for k in METRIC_KEYS}
        ref_abs_rel = ref_abs_rel if ref_abs_rel is not None else entry["metrics"]["abs_rel"]
        entry["abs_rel_change_vs_tf_fp32"] = abs(entry["metrics"]["abs_rel"] - ref_abs_rel) / max(ref_abs_rel, 1e-12)
    return ref_abs_rel


def _run_entries(bench: _Bench, wanted: list[tuple], result: dict[str, Any], log) -> dict[str, Any]:
    """Converts and scores tf_fp32 and every wanted pair into result['entries']; returns the runners by name."""
    reference: list[np.ndarray] = []
    ref_abs_rel = None
    runners: dict[str, Any] = {}
    for runtime, precision in [("tf", "fp32")] + [(r, p) for r, p in wanted if p in SUPPORTED[r]]:
        name = f"{runtime}_{precision}"
        if name in result["entries"]:
            continue
        log(f"{name}: converting and scoring")
        entry: dict[str, Any] = {"runtime": runtime, "precision": precision}
        run = _runner(bench, runtime, precision, entry)
        outputs = [run(frame) for frame in bench.timing]  # also the warm-up (traces, allocates)
        runners[name] = run
        if not reference:
            reference = outputs
        ref_abs_rel = _score(bench, run, entry, outputs, reference, ref_abs_rel)
        result["entries"][name] = entry
        log(f"{name}: mean rel diff vs tf_fp32 {entry['rel_diff_vs_tf_fp32']:.2e}")
    return runners


def runtime_benchmark(
    runtimes: Sequence[str] = ("tf", "litert", "onnx"),
    precisions: Sequence[str] = ("fp32",),
    config_name: str = "full",
    model_dir: Optional[str] = None,
    data_dir: Optional[str] = None,
    height: int = 240,
    width: int = 320,
    frames: int = 4,
    calibration_frames: int = 8,
    iterations: int = 2,
    checkpoint: str = "best",
    entries: Optional[Sequence[str]] = None,
    log=None,
) -> dict[str, Any]:
    """The JSON of the module docstring; `entries` (e.g. ['tf_bf16', 'litert_int8']) replaces runtimes x precisions."""
    log = log or (lambda s: None)
    unknown = sorted(set(runtimes) - set(SUPPORTED))
    if unknown:
        raise ValueError(f"unknown runtime(s) {unknown}; choose from {', '.join(SUPPORTED)}")
    size = (int(height), int(width))
    bench = _prepare(config_name, model_dir, data_dir, size, frames, calibration_frames, checkpoint)
    wanted = _wanted(runtimes, precisions, entries)
    result: dict[str, Any] = {
        "input_size": list(size),
        "model": model_dir or f"{config_name} preset, random weights (head kernel redrawn, module docstring)",
        "config": bench.config.to_dict(),
        "data_dir": os.path.abspath(data_dir) if data_dir else None,
        "frames": len(bench.timing),
        "iterations": iterations,
        "machine": {"cpu": cpu_model(), "logical_cpus": os.cpu_count(), "isa": cpu_isa(), "tensorflow": tf.__version__},
        "entries": {},
        "skipped": [f"{r}_{p}" for r, p in wanted if p not in SUPPORTED[r]],
    }
    runners = _run_entries(bench, wanted, result, log)
    log(f"timing {', '.join(runners)} in turns")
    for name, timed in _time_interleaved(runners, bench.timing, iterations).items():
        result["entries"][name].update(timed)
        log(f"{name}: {timed['fps_b1']:.3f} frames/s")
    return result
