"""Inference: THE resize rule, and one `Predictor` for a Keras model, a training run or a SavedModel.

Shared by evaluation, serving, the benchmark and `depthnet-predict`:

- :func:`working_size` / :func:`infer_depth` are THE resize-in / predict / resize-out rule, traced
  into the exported SavedModel and used unchanged by the Keras path.
- :class:`Predictor` wraps a Keras model, a training run or a SavedModel behind one call:
  uint8 RGB of any size in, float32 metres at the same size out.

Resize rule (choice of ours; the paper only fixes NYU's 480x640 -> 312x416, i.e. 0.65x):

1. uint8 RGB -> float32 in [0, 1] (x / 255), as in training.
2. An image with more pixels than a 480x640 NYU frame is first shrunk, keeping its aspect, to
   480x640's pixel count (each side ``max(1, floor(side * s + 0.5))``, ``s = sqrt(307200 / (h * w))``)
   with an antialiasing filter (:func:`shrink_to_reference`: ``tf.image.resize(antialias=True)``), so
   large photos are not aliased by step 3. NYU frames and anything smaller skip this step.
3. THE kernel (:func:`resize_bilinear`) to the *working size*: the size with the same pixel count as
   312x416 and the input's aspect ratio, each side rounded to the nearest multiple of 4 (at least 4;
   the network's features are at 1/4). A 480x640 frame goes to 312x416 = 0.65x, the training scale,
   in either orientation, and a 240x320 frame to the quick run's 124x168 exactly. Training
   validation, the main job and `depthnet-eval` all use this rule, through the one loop
   :func:`depthnet.evaluation.evaluate.evaluate_predictor`.
4. The network predicts depth at half the working size; THE kernel resizes it to the input size.

THE kernel, everywhere an image or a depth map is resized at inference (this module's graph, so the
SavedModel and :class:`Predictor`; the fixed-size LiteRT/ONNX graph of :mod:`depthnet.deploy.graph`;
the host-side resize before and after such a file, :mod:`depthnet.deploy.runtimes`) and in training
(:func:`depthnet.data.pipeline.preprocess`): bilinear, half-pixel centres, no antialiasing -- output
pixel ``j`` of ``n_out`` samples the input at ``(j + 0.5) * n_in / n_out - 0.5``, clamped to
``[0, n_in - 1]``, interpolating linearly between its two neighbours, separably in y and x
(``tf.image.resize(method="bilinear", antialias=False)``; PyTorch's ``interpolate(mode="bilinear",
align_corners=False)``; not Pillow's BILINEAR, which widens its filter when shrinking).

Inputs are refused below :func:`min_input_pixels` = 2028 pixels (e.g. 39x52): they would have to be
enlarged more than 8x, so each stride-8 feature cell of the network would see less than one pixel
of the image. Inputs above :data:`MAX_INPUT_PIXELS` = 48,000,000 pixels (e.g. 6000x8000, a 48 MP
photo) are refused too: a 10000x10000 PNG of 312 KB decodes to 300 MB and took 2.6 GB to serve.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from typing import Any, Optional

import numpy as np
import tensorflow as tf

from depthnet.checkpoints import checkpoint_path, restore_model
from depthnet.data import decode
from depthnet.data import pipeline as data
from depthnet.errors import InputError, ModelLoadError
from depthnet.modeling.fold import inference_graph
from depthnet.precision import set_precision

__all__ = [
    "InputError", "ModelLoadError", "Predictor", "check_input_size", "checked_working_size", "flip_averaged",
    "infer_depth", "load_predictor", "MAX_INPUT_PIXELS", "resize_bilinear", "working_size",
    "working_size_of"
]  # fmt: skip

WORKING_SIZE: tuple[int, int] = tuple(data.NYU_RESIZE)  # (312, 416): the training scale of a 480x640 frame
REFERENCE_SIZE: tuple[int, int] = tuple(data.NYU_SIZE)  # (480, 640): larger inputs are pre-shrunk (antialiased)
SIZE_MULTIPLE = 4  # the DFE works at 1/4 of the input: any multiple of 4 maps exactly (156x208 stays 156x208)
MAX_UPSCALE = 8.0
MAX_INPUT_PIXELS = decode.MAX_INPUT_PIXELS  # THE limit (48 MP, e.g. 6000x8000), checked from file headers there
SERVING_INFO_NAME = "serving.json"
SAVED_MODEL_SUBDIR = "saved_model"  # depthnet-export's folder of the SavedModel inside an export folder
MAX_WORKING_SIDE = 8192  # a working size read from a file is refused beyond this (checked_working_size)

ModelFn = Callable[[tf.Tensor], tf.Tensor]


# ---------------------------------------------------------------------------------------------- the rule


def checked_working_size(value: Any, where: str) -> tuple[int, int]:
    """`value` (read from a file) as (h, w) if it is two multiples of 4 in 4..8192; else one ModelLoadError."""
    ok = isinstance(value, (list, tuple)) and len(value) == 2
    ok = ok and all(type(v) is int and SIZE_MULTIPLE <= v <= MAX_WORKING_SIDE for v in value)
    if not ok or any(v % SIZE_MULTIPLE for v in value):
        raise ModelLoadError(
            f"{where}: working_size {value!r} is not [height, width] as two multiples of {SIZE_MULTIPLE} from "
            f"{SIZE_MULTIPLE} to {MAX_WORKING_SIDE}; the file is damaged or edited: export the model again "
            f"with depthnet-export"
        )
    return int(value[0]), int(value[1])


def min_input_pixels(working: Sequence[int] = WORKING_SIZE) -> int:
    """Smallest input pixel count: the working area enlarged at most MAX_UPSCALE times per side."""
    return int(math.ceil(working[0] * working[1] / MAX_UPSCALE**2))


def example_size(pixels: int, at_least: bool = True) -> str:
    """A 3:4 height x width with (at least / at most) `pixels` pixels, for messages: 2028 -> '39x52'."""
    if at_least:
        side_h = int(math.ceil(math.sqrt(pixels * 3 / 4)))
        return f"{side_h}x{int(math.ceil(pixels / side_h))}"
    side_h = int(math.floor(math.sqrt(pixels * 3 / 4)))
    return f"{side_h}x{int(math.floor(pixels / side_h))}"


def too_large_message(what: str = "image") -> str:
    return (
        f"{what} too large: at most {MAX_INPUT_PIXELS} pixels (e.g. {example_size(MAX_INPUT_PIXELS, False)}, "
        f"depthnet.inference.MAX_INPUT_PIXELS); shrink it before sending it"
    )


def check_input_size(height: int, width: int, working: Sequence[int] = WORKING_SIZE) -> None:
    """Raises InputError, naming the limit, for an image the network cannot take (too small or too large)."""
    minimum = min_input_pixels(working)
    if height < 1 or width < 1 or height * width < minimum:
        raise InputError(
            f"image is {height}x{width} = {height * width} pixels, too small for the network: the minimum is "
            f"{minimum} pixels (e.g. {example_size(minimum)}), since the image is resized to the working resolution "
            f"{working[0]}x{working[1]} (same pixel count) and may be enlarged at most {MAX_UPSCALE:g}x per side"
        )
    if height * width > MAX_INPUT_PIXELS:
        raise InputError(f"image is {height}x{width} = {height * width} pixels: {too_large_message()}")


def _round_to_multiple(x: tf.Tensor, multiple: int) -> tf.Tensor:
    rounded = tf.floor(x / multiple + 0.5) * multiple
    return tf.maximum(tf.cast(rounded, tf.int32), multiple)


def _equal_area_scale(height: tf.Tensor, width: tf.Tensor, area: float) -> tf.Tensor:
    h = tf.cast(height, tf.float64)
    w = tf.cast(width, tf.float64)
    return tf.sqrt(tf.constant(float(area), tf.float64) / (h * w))


def working_size(height, width, working: Sequence[int] = WORKING_SIZE) -> tf.Tensor:
    """int32 [2]: the network input size for an image of height x width (module docstring, step 3).

    Same pixel count as `working`, the image's aspect ratio, sides rounded half-up to multiples of 4.
    Works on Python ints (eagerly) and on tensors inside a graph.
    """
    scale = _equal_area_scale(height, width, working[0] * working[1])
    h = tf.cast(height, tf.float64) * scale
    w = tf.cast(width, tf.float64) * scale
    return tf.stack([_round_to_multiple(h, SIZE_MULTIPLE), _round_to_multiple(w, SIZE_MULTIPLE)])


def working_size_of(height: int, width: int, working: Sequence[int] = WORKING_SIZE) -> tuple[int, int]:
    """:func:`working_size` as a Python (h, w)."""
    size = working_size(int(height), int(width), working).numpy()
    return int(size[0]), int(size[1])


def resize_bilinear(x: tf.Tensor, size) -> tf.Tensor:
    """THE kernel (module docstring): float [B,H,W,C] -> [B,h,w,C], bilinear, half-pixel, no antialiasing."""
    return tf.image.resize(x, size, method="bilinear", antialias=False)


def reference_shrink_size(height, width) -> tf.Tensor:
    """int32 [2]: the size an image with more pixels than 480x640 is shrunk to (module docstring, step 2)."""
    scale = _equal_area_scale(height, width, REFERENCE_SIZE[0] * REFERENCE_SIZE[1])
    sides = [tf.cast(height, tf.float64) * scale, tf.cast(width, tf.float64) * scale]
    return tf.stack([tf.maximum(tf.cast(tf.floor(side + 0.5), tf.int32), 1) for side in sides])


def shrink_to_reference(x: tf.Tensor) -> tf.Tensor:
    """float [B,H,W,C]: antialiased shrink to 480x640's pixel count when larger (step 2), else `x` itself."""
    shape = tf.shape(x)
    height, width = shape[1], shape[2]

    def shrink() -> tf.Tensor:
        return tf.image.resize(x, reference_shrink_size(height, width), method="bilinear", antialias=True)

    return tf.cond(height * width > REFERENCE_SIZE[0] * REFERENCE_SIZE[1], shrink, lambda: x)


def to_network_input(images: tf.Tensor, working: Sequence[int] = WORKING_SIZE) -> tf.Tensor:
    """uint8 [B,H,W,3] -> float32 [B,h,w,3] in [0,1] at the working size (module docstring, steps 1-3)."""
    images = tf.convert_to_tensor(images)
    if images.dtype != tf.uint8:
        raise TypeError(f"images must be uint8 RGB, got {images.dtype.name}")
    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    minimum = min_input_pixels(working)
    check = tf.debugging.assert_greater_equal(
        height * width,
        minimum,
        message=f"image too small for the network: the minimum is {minimum} pixels (e.g. {example_size(minimum)}); "
        f"it would be enlarged more than {MAX_UPSCALE:g}x per side to the working resolution",
    )
    too_large = tf.debugging.assert_less_equal(
        tf.cast(height, tf.int64) * tf.cast(width, tf.int64),
        tf.constant(MAX_INPUT_PIXELS, tf.int64),
        message=too_large_message(),
    )
    with tf.control_dependencies([check, too_large]):
        x = tf.cast(images, tf.float32) / 255.0
    return resize_bilinear(shrink_to_reference(x), working_size(height, width, working))


def infer_depth(model_fn: ModelFn, images: tf.Tensor, working: Sequence[int] = WORKING_SIZE) -> tf.Tensor:
    """THE inference rule: uint8 [B,H,W,3] -> float32 depth [B,H,W,1] in metres at the input size.

    `model_fn` maps float [0,1] images at the working size to depth at half that size. Used by the
    Keras :class:`Predictor` and traced as-is into the exported SavedModel's signatures.
    """
    images = tf.convert_to_tensor(images)
    depth = tf.cast(model_fn(to_network_input(images, working)), tf.float32)
    return resize_bilinear(depth, tf.shape(images)[1:3])


def flip_averaged(predict_fn: ModelFn, images: tf.Tensor, flip_tta: bool) -> tf.Tensor:
    """Depth for a batch; with `flip_tta`, averaged with the mirrored prediction of the mirrored batch."""
    depth = predict_fn(images)
    if flip_tta:
        mirrored = predict_fn(tf.image.flip_left_right(images))
        depth = 0.5 * (depth + tf.image.flip_left_right(mirrored))
    return depth


def keras_model_fn(model) -> ModelFn:
    """Inference-mode call of a Keras model (traceable at any height and width)."""

    def run(x: tf.Tensor) -> tf.Tensor:
        return model(x, training=False)

    return run


# ---------------------------------------------------------------------------------------------- Predictor

IMAGES_SPEC = tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")


class Predictor:
    """uint8 RGB images of any size -> float32 depth in metres at the same size.

    Build one with :meth:`from_keras`, :meth:`from_model_dir` or :meth:`from_saved_model`. Calling it
    on a uint8 batch [B,H,W,3] returns a float32 tf.Tensor [B,H,W,1]; :meth:`predict` takes and
    returns one image as numpy. `info` describes the model for results files.
    """

    def __init__(
        self,
        fn: Callable[[tf.Tensor], tf.Tensor],
        working: Sequence[int] = WORKING_SIZE,
        info: Optional[dict[str, Any]] = None,
        model_config=None,
    ):
        self._fn = fn
        self.working = tuple(int(s) for s in working)
        self.info = dict(info or {})
        self.info.setdefault("working_size", list(self.working))
        self.model_config = model_config

    # -- construction
    @classmethod
    def from_keras(
        cls, model, working: Sequence[int] = WORKING_SIZE, info: Optional[dict] = None, model_config=None
    ) -> Predictor:
        run = keras_model_fn(model)
        fn = tf.function(lambda images: infer_depth(run, images, working), input_signature=[IMAGES_SPEC])
        return cls(fn, working, {"source": "keras", **(info or {})}, model_config)

    @classmethod
    def from_model_dir(
        cls, model_dir: str, checkpoint: str = "best", precision: str = "fp32", working: Optional[Sequence[int]] = None
    ) -> Predictor:
        """`working` defaults to the run's own scale (``data.resize_for_crop`` of its training crop)."""
        if not os.path.isdir(model_dir):
            raise ModelLoadError(f"model_dir {model_dir!r} is not a directory (a depthnet-train model_dir)")
        try:
            model, model_config = restore_model(model_dir, which=checkpoint, precision=precision)
        except (FileNotFoundError, ValueError) as e:
            raise ModelLoadError(str(e)) from e
        finally:
            set_precision("fp32")  # the restored layers keep their own dtype policy; later models start in fp32
        info = {
            "source": "model_dir",
            "model_dir": os.path.abspath(model_dir),
            "checkpoint": checkpoint,
            "checkpoint_path": checkpoint_path(model_dir, checkpoint),
            "precision": precision,
            "model": model_config.to_dict(),
        }
        working = working if working is not None else data.resize_for_crop(model_config.input_size)
        return cls.from_keras(inference_graph(model), working, info, model_config)  # inference graph

    @classmethod
    def from_saved_model(cls, path: str) -> Predictor:
        """A SavedModel folder, or a depthnet-export folder holding one in ``saved_model/``."""
        path = saved_model_folder(path)
        if not os.path.isdir(path):
            raise ModelLoadError(f"SavedModel {path!r} does not exist or is not a directory")
        if not tf.saved_model.contains_saved_model(path):
            listing = sorted(os.listdir(path))[:8]
            raise ModelLoadError(
                f"{path!r} is not a SavedModel: it has no saved_model.pb (it holds {listing or 'nothing'}); "
                f"create one with depthnet-export --model_dir=<run> --export_dir={path}"
            )
        try:
            loaded = tf.saved_model.load(path)
        except Exception as e:
            raise ModelLoadError(f"cannot load SavedModel {path!r} ({type(e).__name__}: {e})") from e
        signature = loaded.signatures.get("serving_default")
        inputs = signature.structured_input_signature[1] if signature is not None else {}
        spec = inputs.get("images") if isinstance(inputs, dict) else None
        if spec is None or spec.dtype != tf.uint8 or spec.shape.rank != 4:
            raise ModelLoadError(
                f"{path!r} is a SavedModel but its serving_default does not take uint8 'images' [B,H,W,3] "
                f"(it takes {inputs}); export it with depthnet-export"
            )
        meta = read_saved_model_info(path)
        where = os.path.join(path, "assets", SERVING_INFO_NAME)
        working = checked_working_size(meta.get("serving", {}).get("working_size", list(WORKING_SIZE)), where)

        def fn(images: tf.Tensor) -> tf.Tensor:
            return signature(images=images)["depth"]

        info = {
            "source": "saved_model",
            "saved_model": os.path.abspath(path),
            **{k: meta[k] for k in ("model", "export") if k in meta},
        }
        predictor = cls(fn, working, info)
        predictor._loaded = loaded  # keep the restored object (and its variables) alive
        return predictor

    # -- inference
    def __call__(self, images) -> tf.Tensor:
        images = tf.convert_to_tensor(images)
        if images.dtype != tf.uint8 or images.shape.rank != 4 or images.shape[-1] != 3:
            raise InputError(f"expected uint8 images [B, H, W, 3], got {images.dtype.name} {images.shape}")
        check_input_size(int(images.shape[1]), int(images.shape[2]), self.working)
        return tf.convert_to_tensor(self._fn(images))

    def check_size(self, height: int, width: int) -> None:
        """Raises InputError, naming the minimum, for an image this predictor cannot take."""
        check_input_size(height, width, self.working)

    def working_size_for(self, height: int, width: int) -> tuple[int, int]:
        """The network input size an image of height x width is resized to."""
        return working_size_of(height, width, self.working)

    def predict(self, rgb: np.ndarray, flip_tta: bool = False) -> np.ndarray:
        """One uint8 H x W x 3 image -> float32 H x W depth in metres."""
        rgb = np.asarray(rgb)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise InputError(f"expected a uint8 H x W x 3 RGB image, got {rgb.dtype} {rgb.shape}")
        depth = flip_averaged(self, tf.constant(rgb[None]), flip_tta)
        return np.asarray(depth)[0, ..., 0].astype(np.float32)


def saved_model_folder(path: str) -> str:
    """`path/saved_model` when that is a SavedModel (a depthnet-export folder), else `path` itself."""
    inner = os.path.join(path, SAVED_MODEL_SUBDIR)
    return inner if tf.saved_model.contains_saved_model(inner) else path


def read_saved_model_info(path: str) -> dict[str, Any]:
    """The JSON files depthnet-export stored under `<saved_model>/assets/` ({} for other SavedModels)."""
    out: dict[str, Any] = {}
    for key, name in (("serving", SERVING_INFO_NAME), ("model", "config.json"), ("eval", "eval_metrics.json")):
        p = os.path.join(path, "assets", name)
        if os.path.exists(p):
            with open(p, encoding="utf-8") as f:
                try:
                    out[key] = json.load(f)
                except ValueError as e:
                    raise ModelLoadError(f"{p} is not valid JSON ({e}); export the model again") from e
    if "serving" in out:
        out["export"] = {
            k: v for k, v in out["serving"].items() if k in ("checkpoint_path", "precision", "exported_at")
        }
    return out


def load_predictor(
    saved_model: Optional[str] = None,
    model_dir: Optional[str] = None,
    checkpoint: str = "best",
    precision: str = "fp32",
) -> Predictor:
    """A Predictor from exactly one of a SavedModel or a training run."""
    if bool(saved_model) == bool(model_dir):
        raise ModelLoadError("give exactly one of saved_model or model_dir")
    if saved_model:
        return Predictor.from_saved_model(saved_model)
    return Predictor.from_model_dir(model_dir, checkpoint, precision)
