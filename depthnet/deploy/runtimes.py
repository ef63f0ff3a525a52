"""One :class:`~depthnet.inference.Predictor` for a SavedModel, a LiteRT `.tflite` or an ONNX `.onnx` file.

    predictor = load_model("exports/quick/litert_int8/model.tflite")
    depth = predictor.predict(rgb)          # uint8 H x W x 3 -> float32 H x W metres, any size

A `.tflite` runs in ``ai-edge-litert``'s interpreter (``pip install 'depthnet[litert]'``), an `.onnx`
in ``onnxruntime`` (``pip install 'depthnet[onnx]'``); a missing one raises
:class:`depthnet.extras.MissingExtraError` naming the extra. Converted models take one fixed input
size (their `model.json`): any other image is resized to it on the host (:func:`resize_to_input`) and
the depth resized back (:func:`resize_depth`), both by the SavedModel's bilinear rule. Both runtimes
use every logical CPU (`num_threads`), as TensorFlow does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import tensorflow as tf

from depthnet.errors import ModelLoadError
from depthnet.extras import require
from depthnet.inference import Predictor

CARD_NAME = "model.json"
RUNTIMES = ("tf", "litert", "onnx")


def resize_to_input(rgb: np.ndarray, input_size: Sequence[int]) -> np.ndarray:
    """uint8 [B, h, w, 3] -> uint8 [B, H, W, 3] at a converted model's input size (bilinear, half-pixel;
    antialiased when shrinking; rounded). Unchanged when the size already fits."""
    rgb = np.asarray(rgb)
    height, width = (int(s) for s in input_size)
    if rgb.shape[1:3] == (height, width):
        return rgb
    shrink = rgb.shape[1] * rgb.shape[2] > height * width
    x = tf.image.resize(tf.cast(rgb, tf.float32), (height, width), method="bilinear", antialias=shrink)
    return np.asarray(tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8))


def resize_depth(depth: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """float32 [B, H, W, 1] -> [B, h, w, 1] bilinear (half-pixel, no antialias), as the SavedModel's output."""
    if tuple(depth.shape[1:3]) == tuple(size):
        return np.asarray(depth)
    return np.asarray(tf.image.resize(depth, tuple(int(s) for s in size), method="bilinear", antialias=False))


class LiteRTRunner:
    """uint8 [B, H, W, 3] -> float32 [B, H, W, 1] through a batch-1 `.tflite` (one invoke per image)."""

    runtime = "litert"

    def __init__(self, model: str | bytes, num_threads: Optional[int] = None):
        interpreter_lib = require("ai_edge_litert.interpreter", "running a LiteRT (.tflite) model")
        threads = num_threads or os.cpu_count()
        kwargs = {"model_content": model} if isinstance(model, bytes) else {"model_path": model}
        self.interpreter = interpreter_lib.Interpreter(num_threads=threads, **kwargs)
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        self.input_size = tuple(int(s) for s in self._input["shape"][1:3])

    def __call__(self, images: np.ndarray) -> np.ndarray:
        out = []
        for image in np.asarray(images, np.uint8):
            self.interpreter.set_tensor(self._input["index"], image[None])
            self.interpreter.invoke()
            out.append(np.array(self.interpreter.get_tensor(self._output["index"]), np.float32))
        return np.concatenate(out, axis=0)


class ONNXRunner:
    """uint8 [B, H, W, 3] -> float32 [B, H, W, 1] through an `.onnx` with a dynamic batch, in onnxruntime."""

    runtime = "onnx"

    def __init__(self, model: str | bytes, num_threads: Optional[int] = None):
        ort = require("onnxruntime", "running an ONNX (.onnx) model")
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads or os.cpu_count()
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self._input = self.session.get_inputs()[0]
        self.input_size = tuple(int(s) for s in self._input.shape[1:3])

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(None, {self._input.name: np.asarray(images, np.uint8)})[0], np.float32)


def runner_predictor(runner, working: Sequence[int], info: Optional[dict[str, Any]] = None) -> Predictor:
    """A Predictor around a fixed-size runner: any image size in (resized on the host), metres out."""

    def fn(images: tf.Tensor) -> tf.Tensor:
        images = np.asarray(images)
        depth = runner(resize_to_input(images, runner.input_size))
        return tf.constant(resize_depth(depth, images.shape[1:3]))

    return Predictor(fn, working, {"source": runner.runtime, "input_size": list(runner.input_size), **(info or {})})


def read_card(model_path: str) -> dict[str, Any]:
    """The model.json next to `model_path` ({} if there is none)."""
    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), CARD_NAME)
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _model_file(path: str) -> str:
    """A SavedModel folder stays; an export folder holding one model.tflite / model.onnx gives that file."""
    if os.path.isdir(path) and not tf.saved_model.contains_saved_model(path):
        files = [os.path.join(path, n) for n in sorted(os.listdir(path)) if n.endswith((".tflite", ".onnx"))]
        if len(files) == 1:
            return files[0]
    return path


def load_model(path: str, num_threads: Optional[int] = None) -> Predictor:
    """A Predictor for a SavedModel folder, a `.tflite` or an `.onnx` file (or a folder holding one)."""
    path = _model_file(path)
    if os.path.isdir(path):
        return Predictor.from_saved_model(path)
    kinds = {".tflite": LiteRTRunner, ".onnx": ONNXRunner}
    kind = kinds.get(os.path.splitext(path)[1].lower())
    if kind is None:
        raise ModelLoadError(
            f"{path!r} is neither a SavedModel folder nor a .tflite / .onnx file; export one with depthnet-export"
        )
    if not os.path.isfile(path):
        raise ModelLoadError(f"model file {path!r} does not exist")
    try:
        runner = kind(path, num_threads)
    except (ImportError, ModelLoadError):
        raise
    except Exception as e:
        raise ModelLoadError(f"cannot load {path!r} ({type(e).__name__}: {e})") from e
    card = read_card(path)
    working = card.get("working_size") or list(runner.input_size)
    info = {"model_file": os.path.abspath(path), "model_card": card}
    return runner_predictor(runner, working, info)
