"""`depthnet-predict`: depth, colour maps, panels, point clouds and bokeh for your own images.

    depthnet-predict --saved_model=exports/full --input=photos/ --output_dir=out
    depthnet-predict --model_dir=runs/full --input='shots/*.jpg' --input=one.png --output_dir=out \
        --point_cloud --bokeh --focus_pixel=240,320 --aperture=40

For every input image `<stem>` it writes, into `--output_dir`:

- `<stem>_depth.npy`: float32 depth in metres at the input's height x width;
- `<stem>_depth.png`: the same depth as a 16-bit PNG in millimetres (0 = invalid);
- `<stem>_depth_color.png`: the depth colour-mapped (near = yellow, far = purple);
- `<stem>_panel.png`: RGB | depth, with a colour bar in metres;
- with `--point_cloud`: `<stem>.ply`, a binary coloured PLY back-projected through the camera
  intrinsics (NYU's Kinect by default; or `--fx --fy --cx --cy`, given for `--intrinsics_size=H,W`
  or for the image's own size, rescaled to the image);
- with `--bokeh`: `<stem>_bokeh.png`, synthetic depth of field focused at `--focus_depth` metres, or
  at the depth under `--focus_pixel=row,col` (median of a 5x5 window), or by default at the image
  centre; blur strength `--aperture` (px*m).

plus `predictions.json` (inputs, outputs, errors, the model and the settings). Two inputs with the
same file stem get `_2`, `_3`, ... appended. Grayscale, RGBA (composited on white), palette and
16-bit images are converted to 8-bit RGB (`apps.imageio.load_rgb`). An input that cannot be used (a
missing path, a file that is not an image, an image too small for the network) is reported with the
reason and skipped; the other images are still written and the exit status is 1 at the end. A model
path that cannot be loaded stops the run with status 2.

The inference core below is shared by `depthnet-eval`, `depthnet-export` and `depthnet-bench`:

- :func:`working_size` / :func:`infer_depth` are THE resize-in / predict / resize-out rule, traced
  into the exported SavedModel and used unchanged by the Keras path.
- :class:`Predictor` wraps a Keras model, a training run or a SavedModel behind one call:
  uint8 RGB of any size in, float32 metres at the same size out.

Resize rule (choice of ours; the paper only fixes NYU's 480x640 -> 312x416, i.e. 0.65x):

1. uint8 RGB -> float32 in [0, 1] (x / 255), as in training.
2. An image with more pixels than a 480x640 NYU frame is first shrunk, keeping its aspect, to
   480x640's pixel count with an antialiasing filter (`tf.image.resize(antialias=True)`), so large
   photos are not aliased by step 3. NYU frames and anything smaller skip this step.
3. Bilinear resize (half-pixel centres, no antialiasing: exactly the training pipeline's resize) to
   the *working size*: the size with the same pixel count as 312x416 and the input's aspect ratio,
   each side rounded to the nearest multiple of 8 (at least 8). A 480x640 frame goes to 312x416 =
   0.65x, the training scale, in either orientation; any camera with NYU's field of view lands at the
   training scale whatever its resolution.
4. The network predicts depth at half the working size; it is resized bilinearly to the input size.

Inputs are refused below :func:`min_input_pixels` = 2028 pixels (e.g. 39x52): they would have to be
enlarged more than 8x, so each stride-8 feature cell of the network would see less than one pixel
of the image.
"""
from __future__ import annotations

import json
import math
import os
import sys
from typing import Any, Callable, Optional, Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from depthnet import data

WORKING_SIZE: tuple[int, int] = tuple(data.NYU_RESIZE)  # (312, 416): the training scale of a 480x640 frame
REFERENCE_SIZE: tuple[int, int] = tuple(data.NYU_SIZE)  # (480, 640): larger inputs are pre-shrunk (antialiased)
SIZE_MULTIPLE = 8
MAX_UPSCALE = 8.0
SERVING_INFO_NAME = "serving.json"

ModelFn = Callable[[tf.Tensor], tf.Tensor]


class InputError(ValueError):
    """An input image the network cannot take (e.g. too small); the message says why and what is needed."""


class ModelLoadError(ValueError):
    """A model path that is not a usable SavedModel or training run."""


# ---------------------------------------------------------------------------------------------- the rule


def min_input_pixels(working: Sequence[int] = WORKING_SIZE) -> int:
    """Smallest input pixel count: the working area enlarged at most MAX_UPSCALE times per side."""
    return int(math.ceil(working[0] * working[1] / MAX_UPSCALE**2))


def check_input_size(height: int, width: int, working: Sequence[int] = WORKING_SIZE) -> None:
    """Raises InputError, naming the minimum, for an image the network cannot take."""
    minimum = min_input_pixels(working)
    if height < 1 or width < 1 or height * width < minimum:
        side_h = int(math.ceil(math.sqrt(minimum * 3 / 4)))
        side_w = int(math.ceil(minimum / side_h))
        raise InputError(
            f"image is {height}x{width} = {height * width} pixels, too small for the network: the minimum is "
            f"{minimum} pixels (e.g. {side_h}x{side_w}), since the image is resized to the working resolution "
            f"{working[0]}x{working[1]} (same pixel count) and may be enlarged at most {MAX_UPSCALE:g}x per side"
        )


def _round_to_multiple(x: tf.Tensor, multiple: int) -> tf.Tensor:
    rounded = tf.floor(x / multiple + 0.5) * multiple
    return tf.maximum(tf.cast(rounded, tf.int32), multiple)


def _equal_area_scale(height: tf.Tensor, width: tf.Tensor, area: float) -> tf.Tensor:
    h = tf.cast(height, tf.float64)
    w = tf.cast(width, tf.float64)
    return tf.sqrt(tf.constant(float(area), tf.float64) / (h * w))


def working_size(height, width, working: Sequence[int] = WORKING_SIZE) -> tf.Tensor:
    """int32 [2]: the network input size for an image of height x width (module docstring, step 3).

    Same pixel count as `working`, the image's aspect ratio, sides rounded half-up to multiples of 8.
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


def to_network_input(images: tf.Tensor, working: Sequence[int] = WORKING_SIZE) -> tf.Tensor:
    """uint8 [B,H,W,3] -> float32 [B,h,w,3] in [0,1] at the working size (module docstring, steps 1-3)."""
    images = tf.convert_to_tensor(images)
    if images.dtype != tf.uint8:
        raise TypeError(f"images must be uint8 RGB, got {images.dtype.name}")
    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    minimum = min_input_pixels(working)
    check = tf.debugging.assert_greater_equal(
        height * width, minimum,
        message=f"image too small for the network: the minimum is {minimum} pixels (e.g. 39x52); "
                f"it would be enlarged more than {MAX_UPSCALE:g}x per side to the working resolution")
    with tf.control_dependencies([check]):
        x = tf.cast(images, tf.float32) / 255.0
    ref_area = REFERENCE_SIZE[0] * REFERENCE_SIZE[1]

    def shrink() -> tf.Tensor:
        scale = _equal_area_scale(height, width, ref_area)
        size = tf.stack([
            tf.maximum(tf.cast(tf.floor(tf.cast(height, tf.float64) * scale + 0.5), tf.int32), 1),
            tf.maximum(tf.cast(tf.floor(tf.cast(width, tf.float64) * scale + 0.5), tf.int32), 1),
        ])
        return tf.image.resize(x, size, method="bilinear", antialias=True)

    x = tf.cond(height * width > ref_area, shrink, lambda: x)
    size = working_size(height, width, working)
    return tf.image.resize(x, size, method="bilinear", antialias=False)


def infer_depth(model_fn: ModelFn, images: tf.Tensor, working: Sequence[int] = WORKING_SIZE) -> tf.Tensor:
    """THE inference rule: uint8 [B,H,W,3] -> float32 depth [B,H,W,1] in metres at the input size.

    `model_fn` maps float [0,1] images at the working size to depth at half that size. Used by the
    Keras :class:`Predictor` and traced as-is into the exported SavedModel's signatures.
    """
    images = tf.convert_to_tensor(images)
    depth = tf.cast(model_fn(to_network_input(images, working)), tf.float32)
    return tf.image.resize(depth, tf.shape(images)[1:3], method="bilinear", antialias=False)


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

    def __init__(self, fn: Callable[[tf.Tensor], tf.Tensor], working: Sequence[int] = WORKING_SIZE,
                 info: Optional[dict[str, Any]] = None, model_config=None):
        self._fn = fn
        self.working = tuple(int(s) for s in working)
        self.info = dict(info or {})
        self.info.setdefault("working_size", list(self.working))
        self.model_config = model_config

    # -- construction
    @classmethod
    def from_keras(cls, model, working: Sequence[int] = WORKING_SIZE, info: Optional[dict] = None,
                   model_config=None) -> "Predictor":
        run = keras_model_fn(model)
        fn = tf.function(lambda images: infer_depth(run, images, working), input_signature=[IMAGES_SPEC])
        return cls(fn, working, {"source": "keras", **(info or {})}, model_config)

    @classmethod
    def from_model_dir(cls, model_dir: str, checkpoint: str = "best", precision: str = "fp32",
                       working: Optional[Sequence[int]] = None) -> "Predictor":
        """`working` defaults to the run's own scale (``data.resize_for_crop`` of its training crop)."""
        from depthnet.train import restore_model, set_precision

        if not os.path.isdir(model_dir):
            raise ModelLoadError(f"--model_dir {model_dir!r} is not a directory (a depthnet-train model_dir)")
        try:
            model, model_config = restore_model(model_dir, which=checkpoint, precision=precision)
        except (FileNotFoundError, ValueError) as e:
            raise ModelLoadError(str(e)) from e
        finally:
            set_precision("fp32")  # the restored layers keep their own dtype policy; later models start in fp32
        info = {"source": "model_dir", "model_dir": os.path.abspath(model_dir), "checkpoint": checkpoint,
                "checkpoint_path": _checkpoint_path(model_dir, checkpoint), "precision": precision,
                "model": model_config.to_dict()}
        working = working if working is not None else data.resize_for_crop(model_config.input_size)
        return cls.from_keras(model, working, info, model_config)

    @classmethod
    def from_saved_model(cls, path: str) -> "Predictor":
        if not os.path.isdir(path):
            raise ModelLoadError(f"SavedModel {path!r} does not exist or is not a directory")
        if not tf.saved_model.contains_saved_model(path):
            listing = sorted(os.listdir(path))[:8]
            raise ModelLoadError(
                f"{path!r} is not a SavedModel: it has no saved_model.pb (it holds {listing or 'nothing'}); "
                f"create one with depthnet-export --model_dir=<run> --export_dir={path}")
        try:
            loaded = tf.saved_model.load(path)
        except Exception as e:  # noqa: BLE001 - TF raises many types for corrupt models
            raise ModelLoadError(f"cannot load SavedModel {path!r} ({type(e).__name__}: {e})") from e
        signature = loaded.signatures.get("serving_default")
        inputs = signature.structured_input_signature[1] if signature is not None else {}
        spec = inputs.get("images") if isinstance(inputs, dict) else None
        if spec is None or spec.dtype != tf.uint8 or spec.shape.rank != 4:
            raise ModelLoadError(
                f"{path!r} is a SavedModel but its serving_default does not take uint8 'images' [B,H,W,3] "
                f"(it takes {inputs}); export it with depthnet-export")
        meta = read_saved_model_info(path)
        working = tuple(meta.get("serving", {}).get("working_size", WORKING_SIZE))

        def fn(images: tf.Tensor) -> tf.Tensor:
            return signature(images=images)["depth"]

        info = {"source": "saved_model", "saved_model": os.path.abspath(path), **{
            k: meta[k] for k in ("model", "export") if k in meta}}
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

    def predict(self, rgb: np.ndarray, flip_tta: bool = False) -> np.ndarray:
        """One uint8 H x W x 3 image -> float32 H x W depth in metres."""
        rgb = np.asarray(rgb)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise InputError(f"expected a uint8 H x W x 3 RGB image, got {rgb.dtype} {rgb.shape}")
        from depthnet.evaluate import predict_with_protocol

        depth = predict_with_protocol(self, tf.constant(rgb[None]), flip_tta)
        return np.asarray(depth)[0, ..., 0].astype(np.float32)


def _checkpoint_path(model_dir: str, which: str) -> Optional[str]:
    if which not in ("best", "latest"):
        return which
    path = tf.train.latest_checkpoint(os.path.join(model_dir, "best")) if which == "best" else None
    return path or tf.train.latest_checkpoint(os.path.join(model_dir, "ckpt"))


def read_saved_model_info(path: str) -> dict[str, Any]:
    """The JSON files depthnet-export stored under `<saved_model>/assets/` ({} for other SavedModels)."""
    out: dict[str, Any] = {}
    for key, name in (("serving", SERVING_INFO_NAME), ("model", "config.json"), ("eval", "eval_metrics.json")):
        p = os.path.join(path, "assets", name)
        if os.path.exists(p):
            with open(p, encoding="utf-8") as f:
                out[key] = json.load(f)
    if "serving" in out:
        out["export"] = {k: v for k, v in out["serving"].items() if k in ("checkpoint_path", "precision", "exported_at")}
    return out


def load_predictor(saved_model: Optional[str] = None, model_dir: Optional[str] = None, checkpoint: str = "best",
                   precision: str = "fp32") -> Predictor:
    """A Predictor from exactly one of a SavedModel or a training run."""
    if bool(saved_model) == bool(model_dir):
        raise ModelLoadError("give exactly one of --saved_model or --model_dir")
    if saved_model:
        return Predictor.from_saved_model(saved_model)
    return Predictor.from_model_dir(model_dir, checkpoint, precision)


# ---------------------------------------------------------------------------------------------- outputs


def output_paths(output_dir: str, stem: str, point_cloud: bool = False, bokeh: bool = False) -> dict[str, str]:
    names = {"npy": "_depth.npy", "depth_png": "_depth.png", "color": "_depth_color.png", "panel": "_panel.png"}
    if point_cloud:
        names["ply"] = ".ply"
    if bokeh:
        names["bokeh"] = "_bokeh.png"
    return {k: os.path.join(output_dir, stem + v) for k, v in names.items()}


def write_outputs(output_dir: str, stem: str, rgb: np.ndarray, depth: np.ndarray, intrinsics=None,
                  point_cloud: bool = False, bokeh: bool = False, focus_depth: Optional[float] = None,
                  focus_pixel: Optional[Sequence[int]] = None, aperture: Optional[float] = None) -> dict[str, Any]:
    """Writes every output of one image (atomically, file by file); returns {'outputs': {...}, ...}."""
    from depthnet.apps import bokeh as bokeh_lib
    from depthnet.apps import imageio, pointcloud, visualize
    from depthnet.camera import NYU_INTRINSICS

    paths = output_paths(output_dir, stem, point_cloud, bokeh)
    record: dict[str, Any] = {"outputs": paths}
    # Bokeh focus first: a bad --focus_pixel should fail before anything is written for this image.
    if bokeh:
        if focus_depth is None:
            row, col = focus_pixel if focus_pixel is not None else (depth.shape[0] // 2, depth.shape[1] // 2)
            focus_depth = bokeh_lib.focus_depth_at(depth, int(row), int(col))
            record["focus_pixel"] = [int(row), int(col)]
        record["focus_depth"] = float(focus_depth)
    with imageio.atomic_write(paths["npy"]) as f:
        np.save(f, depth.astype(np.float32))
    imageio.save_depth_png16(paths["depth_png"], depth)
    vmin, vmax = visualize.depth_range(depth)
    visualize.save_png(paths["color"], visualize.colorize(depth, vmin, vmax))
    visualize.save_png(paths["panel"], visualize.depth_panel(rgb, depth, vmin=vmin, vmax=vmax,
                                                             titles=["RGB", "predicted depth"]))
    if point_cloud:
        intr = intrinsics or NYU_INTRINSICS
        points, colors = pointcloud.backproject(depth, intr, rgb)
        pointcloud.write_ply(paths["ply"], points, colors)
        scaled = intr if (intr.height, intr.width) == depth.shape else intr.scaled(*depth.shape)
        record["intrinsics"] = {k: getattr(scaled, k) for k in ("fx", "fy", "cx", "cy", "height", "width")}
        record["num_points"] = int(points.shape[0])
    if bokeh:
        kwargs = {} if aperture is None else {"aperture": float(aperture)}
        visualize.save_png(paths["bokeh"], bokeh_lib.render_bokeh(rgb, depth, record["focus_depth"], **kwargs))
    return record


# ---------------------------------------------------------------------------------------------- CLI

def _define_flags() -> None:
    from absl import flags

    flags.DEFINE_string("saved_model", None, "A SavedModel written by depthnet-export.")
    flags.DEFINE_string("model_dir", None, "A depthnet-train model_dir (instead of --saved_model).")
    flags.DEFINE_string("checkpoint", "best", "With --model_dir: best, latest or a checkpoint prefix.")
    flags.DEFINE_string("precision", "fp32", "With --model_dir: fp32 or bf16.")
    flags.DEFINE_multi_string("input", None, "Image file, folder or glob pattern (repeatable).")
    flags.DEFINE_boolean("recursive", False, "Search folders (and ** globs) recursively.")
    flags.DEFINE_string("output_dir", None, "Where the outputs go (created).")
    flags.DEFINE_boolean("flip_tta", False, "Average with the mirrored prediction of the mirrored image.")
    flags.DEFINE_boolean("point_cloud", False, "Also write <stem>.ply.")
    flags.DEFINE_float("fx", None, "Focal length x in pixels (with --fy --cx --cy; default: NYU Kinect).")
    flags.DEFINE_float("fy", None, "Focal length y in pixels.")
    flags.DEFINE_float("cx", None, "Principal point x (column) in pixels.")
    flags.DEFINE_float("cy", None, "Principal point y (row) in pixels.")
    flags.DEFINE_list("intrinsics_size", None, "H,W the intrinsics are given for (default: each image's size).")
    flags.DEFINE_boolean("bokeh", False, "Also write <stem>_bokeh.png.")
    flags.DEFINE_float("focus_depth", None, "Bokeh focal plane in metres.")
    flags.DEFINE_list("focus_pixel", None, "Bokeh focus at the depth of pixel row,col (default: image centre).")
    flags.DEFINE_float("aperture", None, "Bokeh blur strength in px*m (default 40: radius = aperture*|1/z-1/z_f|).")


def _parse_pair(values, name: str) -> Optional[tuple[int, int]]:
    from absl import app

    if not values:
        return None
    try:
        a, b = (int(v) for v in values)
    except ValueError:
        raise app.UsageError(f"--{name} must be two integers, e.g. --{name}=240,320; got {','.join(values)}") from None
    return a, b


def _intrinsics_for(args, height: int, width: int):
    from depthnet.camera import NYU_INTRINSICS, Intrinsics

    if args["fx"] is None:
        return NYU_INTRINSICS
    size = args["intrinsics_size"] or (height, width)
    return Intrinsics(args["fx"], args["fy"], args["cx"], args["cy"], height=size[0], width=size[1])


def _unique_stem(path: str, used: dict[str, int]) -> str:
    stem = os.path.splitext(os.path.basename(path))[0]
    count = used.get(stem, 0) + 1
    used[stem] = count
    return stem if count == 1 else f"{stem}_{count}"


def run_predict(inputs: Sequence[str], output_dir: str, predictor: Predictor, recursive: bool = False,
                flip_tta: bool = False, point_cloud: bool = False, bokeh: bool = False,
                focus_depth: Optional[float] = None, focus_pixel: Optional[Sequence[int]] = None,
                aperture: Optional[float] = None, intrinsics: Optional[dict] = None, progress: bool = True,
                log=None) -> dict[str, Any]:
    """Predicts every image of `inputs`; returns the summary written to predictions.json.

    `intrinsics`: {'fx','fy','cx','cy', 'intrinsics_size': (H, W) or None} or None for NYU's.
    """
    from depthnet.apps import imageio

    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    errors: list[dict[str, str]] = []
    paths: list[str] = []
    seen: set[str] = set()
    for item in inputs:
        try:
            for p in imageio.find_images([item], recursive=recursive):
                key = os.path.normpath(os.path.abspath(p))
                if key not in seen:
                    seen.add(key)
                    paths.append(p)
        except (FileNotFoundError, ValueError) as e:
            errors.append({"input": item, "error": str(e)})
            log(f"error: {e}")
    os.makedirs(output_dir, exist_ok=True)
    args = {"fx": None, "intrinsics_size": None, **(intrinsics or {})}
    used: dict[str, int] = {}
    results = []
    iterator = paths
    if progress:
        from tqdm import tqdm

        iterator = tqdm(paths, desc="predicting", unit="img")
    for path in iterator:
        try:
            rgb = imageio.load_rgb(path)
            check_input_size(rgb.shape[0], rgb.shape[1], predictor.working)
            depth = predictor.predict(rgb, flip_tta=flip_tta)
            stem = _unique_stem(path, used)
            record = write_outputs(output_dir, stem, rgb, depth, _intrinsics_for(args, *rgb.shape[:2]), point_cloud,
                                   bokeh, focus_depth, focus_pixel, aperture)
            results.append({"input": path, "size": [int(rgb.shape[0]), int(rgb.shape[1])],
                            "working_size": list(working_size_of(*rgb.shape[:2], predictor.working)),
                            "depth_min": float(depth.min()), "depth_max": float(depth.max()), **record})
        except (InputError, ValueError, OSError, tf.errors.InvalidArgumentError) as e:
            message = getattr(e, "message", None) or str(e)
            errors.append({"input": path, "error": message})
            log(f"error: {path}: {message}")
    summary = {"predictor": predictor.info, "flip_tta": flip_tta, "images": results, "errors": errors,
               "num_ok": len(results), "num_errors": len(errors)}
    with imageio.atomic_write(os.path.join(output_dir, "predictions.json"), "w") as f:
        json.dump(summary, f, indent=2, default=str)
    return summary


def main(argv) -> int:
    from absl import app, flags

    FLAGS = flags.FLAGS
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}; pass images with --input")
    if not FLAGS.input:
        raise app.UsageError("--input is required (a file, folder or glob; repeatable)")
    if not FLAGS.output_dir:
        raise app.UsageError("--output_dir is required")
    if bool(FLAGS.saved_model) == bool(FLAGS.model_dir):
        raise app.UsageError("give exactly one of --saved_model or --model_dir")
    given = [FLAGS[k].value is not None for k in ("fx", "fy", "cx", "cy")]
    if any(given) and not all(given):
        raise app.UsageError("give all of --fx --fy --cx --cy, or none (NYU Kinect intrinsics)")
    if FLAGS.intrinsics_size and not all(given):
        raise app.UsageError("--intrinsics_size needs --fx --fy --cx --cy")
    if FLAGS.focus_depth is not None and FLAGS.focus_pixel:
        raise app.UsageError("give --focus_depth or --focus_pixel, not both")
    if FLAGS.focus_depth is not None and not FLAGS.focus_depth > 0:
        raise app.UsageError(f"--focus_depth must be > 0 metres, got {FLAGS.focus_depth}")
    focus_pixel = _parse_pair(FLAGS.focus_pixel, "focus_pixel")
    intrinsics = None
    if all(given):
        intrinsics = {k: FLAGS[k].value for k in ("fx", "fy", "cx", "cy")}
        intrinsics["intrinsics_size"] = _parse_pair(FLAGS.intrinsics_size, "intrinsics_size")
    try:
        predictor = load_predictor(FLAGS.saved_model, FLAGS.model_dir, FLAGS.checkpoint, FLAGS.precision)
    except ModelLoadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    summary = run_predict(FLAGS.input, FLAGS.output_dir, predictor, FLAGS.recursive, FLAGS.flip_tta,
                          FLAGS.point_cloud, FLAGS.bokeh, FLAGS.focus_depth, focus_pixel, FLAGS.aperture, intrinsics)
    print(f"wrote outputs for {summary['num_ok']} image(s) to {FLAGS.output_dir}", flush=True)
    if summary["errors"]:
        print(f"{summary['num_errors']} input(s) failed:", file=sys.stderr)
        for e in summary["errors"]:
            print(f"  {e['input']}: {e['error']}", file=sys.stderr)
        return 1
    return 0


def run() -> None:
    from absl import app

    _define_flags()
    app.run(main)


if __name__ == "__main__":
    run()
