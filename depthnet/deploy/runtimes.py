"""One :class:`~depthnet.inference.Predictor` for a SavedModel, a LiteRT `.tflite` or an ONNX `.onnx` file.

    predictor = load_model("exports/quick/litert_int8/model.tflite")
    depth = predictor.predict(rgb)          # uint8 H x W x 3 -> float32 H x W metres, any size

A `.tflite` runs in ``ai-edge-litert``'s interpreter (``pip install 'depthnet[litert]'``), an `.onnx`
in ``onnxruntime`` (``pip install 'depthnet[onnx]'``); a missing one raises
:class:`depthnet.extras.MissingExtraError` naming the extra. Converted models take one fixed input
size (their `model.json`): any other image is resized to it on the host (:func:`resize_to_input`) and
the depth resized back (:func:`resize_depth`), both by the SavedModel's rule and THE kernel of
:mod:`depthnet.inference` (bilinear, half-pixel centres, no antialiasing; images over 480x640 pixels
first shrunk with antialiasing, as the SavedModel does). An image of exactly the input size (480x640
by default) is not resized at all and gets the SavedModel's depth. Both runtimes use every logical
CPU (`num_threads`), as TensorFlow does. The numbers a model card gives are checked before use
(:func:`checked_card`): one :class:`~depthnet.errors.ModelLoadError` names the bad value.
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
from depthnet.inference import Predictor, checked_working_size, resize_bilinear, shrink_to_reference

CARD_NAME = "model.json"
RUNTIMES = ("tf", "litert", "onnx")


def resize_to_input(rgb: np.ndarray, input_size: Sequence[int]) -> np.ndarray:
    """uint8 [B, h, w, 3] -> uint8 [B, H, W, 3] at a converted model's input size: the SavedModel's rule
    (over 480x640 pixels: antialiased shrink first), THE kernel, rounded half to even and clipped to
    0..255. Unchanged when the size already fits."""
    rgb = np.asarray(rgb)
    height, width = (int(s) for s in input_size)
    if rgb.shape[1:3] == (height, width):
        return rgb
    x = resize_bilinear(shrink_to_reference(tf.cast(rgb, tf.float32)), (height, width))
    return np.asarray(tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8))


def resize_depth(depth: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """float32 [B, H, W, 1] -> [B, h, w, 1] by THE kernel (bilinear, half-pixel, no antialias), as the SavedModel."""
    if tuple(depth.shape[1:3]) == tuple(size):
        return np.asarray(depth)
    return np.asarray(resize_bilinear(tf.constant(depth), tuple(int(s) for s in size)))


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
    """The model.json next to `model_path` ({} if there is none); ModelLoadError if it is not a JSON object."""
    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), CARD_NAME)
    if not os.path.exists(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            card = json.load(f)
    except ValueError as e:
        raise ModelLoadError(f"{path} is not valid JSON ({e}); export the model again with depthnet-export") from e
    if not isinstance(card, dict):
        raise ModelLoadError(f"{path} is not a model card (a JSON object); export the model again with depthnet-export")
    return card


def checked_card(card: dict[str, Any], runner, where: str) -> tuple[int, int]:
    """The working size of a converted model from its card, after checking the card's numbers against
    their ranges and the file; one ModelLoadError naming `where` and the bad value otherwise."""
    if not card:
        return tuple(runner.input_size)
    working = checked_working_size(card.get("working_size"), where)
    stated = card.get("input_size", list(runner.input_size))
    if [int(s) for s in runner.input_size] != stated:
        raise ModelLoadError(
            f"{where}: input_size {stated!r} is not the model file's input {list(runner.input_size)}: the card "
            f"belongs to another file; export the model again with depthnet-export"
        )
    return working


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
    working = checked_card(card, runner, os.path.join(os.path.dirname(os.path.abspath(path)), CARD_NAME))
    info = {"model_file": os.path.abspath(path), "model_card": card}
    return runner_predictor(runner, working, info)
