"""Serving: a training run's checkpoint -> a self-contained TensorFlow SavedModel (`depthnet-export`).

    depthnet-export --model_dir=runs/full --export_dir=exports/full [--checkpoint=best] [--precision=fp32]
    # -> exports/full/saved_model/ (tf.saved_model.load, saved_model_cli --dir, TF Serving take that folder)

The SavedModel needs neither Keras nor this package to run (`tf.saved_model.load`, TensorFlow
Serving, `saved_model_cli`). Signatures:

``serving_default``
    input ``images``: uint8 ``[batch, height, width, 3]`` RGB, any height and width (at least
    2028 pixels, e.g. 39x52); output ``depth``: float32 ``[batch, height, width, 1]`` metres at the
    input's size. In the graph: to [0, 1], resize to the working size (same pixel count as 312x416,
    the input's aspect ratio, sides multiples of 4 -- a 480x640 frame goes to 312x416, the training
    scale; inputs larger than 480x640 are first shrunk with antialiasing), run the network, resize the
    depth bilinearly back to the input size. This is :func:`depthnet.inference.infer_depth`, the same
    function the Keras path runs.
``serving_bytes``
    input ``image_bytes``: string ``[batch]`` of encoded JPEG/PNG/still WebP/BMP/GIF files (other formats,
    animated WebP and GIFs over 48 MP of frames are refused from their headers; what TensorFlow
    Serving's REST API receives as ``{"b64": ...}``); each is decoded by THE decoding rule of
    :mod:`depthnet.data.decode` (JPEG with the accurate integer IDCT, grayscale -> RGB, alpha composited on
    white, GIF -> first frame: the pixels `depthnet-predict` and training get from the same file; EXIF
    orientation is not applied: send upright pixels) and the batch goes through ``serving_default``'s
    graph. All images of one request must have the same size (the decoded batch is one dense tensor);
    send differently sized images in separate requests. Output as ``serving_default``.

Both refuse, with an explicit error, images above ``depthnet.inference.MAX_INPUT_PIXELS`` (48 MP;
``serving_bytes`` reads the size from the file header before decoding), an empty batch and (for
``serving_default``) images without 3 channels (:mod:`depthnet.deploy.input_checks`).

REST example (TensorFlow Serving)::

    {"signature_name": "serving_bytes", "instances": [{"b64": "<base64 of a .jpg>"}]}

The export is written to a temporary sibling directory, checked by running it once, and only then
renamed onto its folder (an older SavedModel there is replaced; any other non-empty folder is
refused, and so is a SavedModel folder holding anything the export does not write, e.g. the
``litert_*/`` folders of the older layout or a user's notes), so a failed export never leaves a
half-written model and replacing one never loses a file. ``depthnet-export`` puts it in
``<export_dir>/saved_model/`` (:mod:`depthnet.deploy.export`), with its ``model.json`` staged inside
before the rename. The folder gets normal permissions
(``0777 & ~umask``, readable by TF Serving under another user), and hidden folders a killed export
left are removed by the next export to the same place (:mod:`depthnet.deploy.export_dirs`).
``assets/`` holds ``config.json``
(the run's model and training configuration), ``serving.json`` (signatures, resize rule, precision,
checkpoint) and, when the run has been evaluated, ``eval_metrics.json`` (a copy of
``<model_dir>/eval/metrics.json``: metrics with the protocol that produced them). They are tracked as
``tf.saved_model.Asset`` objects: ``loaded.config_asset.asset_path`` etc.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
from collections.abc import Callable, Sequence
from typing import Any, Optional

import tensorflow as tf

from depthnet.checkpoints import checkpoint_path, read_run_config_json, restore_model
from depthnet.data import pipeline as data
from depthnet.data.decode import decode_tf
from depthnet.deploy import export_dirs
from depthnet.deploy.input_checks import check_encoded_sizes, check_images
from depthnet.deploy.model_card import CARD_NAME, write_card
from depthnet.inference import (
    IMAGES_SPEC,
    MAX_UPSCALE,
    REFERENCE_SIZE,
    SERVING_INFO_NAME,
    SIZE_MULTIPLE,
    WORKING_SIZE,
    infer_depth,
    keras_model_fn,
    min_input_pixels,
)
from depthnet.modeling.fold import inference_graph
from depthnet.precision import set_precision

BYTES_SPEC = tf.TensorSpec([None], tf.string, name="image_bytes")


def decode_batch(image_bytes: tf.Tensor) -> tf.Tensor:
    """string [B] of encoded images -> uint8 [B, H, W, 3]; all must decode to one size."""
    tf.debugging.assert_greater(tf.size(image_bytes), 0, message="serving_bytes needs at least one image")

    decode = decode_tf  # THE decoding rule (depthnet.data.decode): the pixels depthnet-predict and training get

    first = tf.shape(decode(image_bytes[0]))

    def one(data: tf.Tensor) -> tf.Tensor:
        image = decode(data)
        same = tf.debugging.assert_equal(
            tf.shape(image),
            first,
            message="all images of one serving_bytes request must have the same height and width; "
            "send differently sized images in separate requests",
        )
        with tf.control_dependencies([same]):
            return tf.identity(image)

    return tf.map_fn(one, image_bytes, fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))


def _tf_variable(variable):
    inner = getattr(variable, "value", variable)  # keras.Variable (TF backend) -> its tf.Variable
    return inner if isinstance(inner, tf.Variable) else variable


class DepthServingModule(tf.Module):
    """The exported object: the model's variables, two serving functions and the metadata assets.

    The Keras model itself is not an attribute (only its variables are): Keras 3 models add a default
    serving function of their own when tracked, which would be traced (and fail) too.
    """

    def __init__(self, model, working: Sequence[int] = WORKING_SIZE, name: str = "depthnet"):
        super().__init__(name=name)
        working = tuple(int(s) for s in working)
        model = inference_graph(model)  # the inference graph: BatchNorms inside their convolutions (modeling.fold)
        # The tf.Variables inside the Keras variables: tracking the Keras wrappers instead saves a model that
        # tf.saved_model.load runs but TF1-style loaders (saved_model_cli run, TF Serving) do not restore.
        self.model_variables = [_tf_variable(v) for v in model.variables]
        run = keras_model_fn(model)

        @tf.function(input_signature=[IMAGES_SPEC])
        def serve_images(images: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"depth": infer_depth(run, check_images(images), working)}

        @tf.function(input_signature=[BYTES_SPEC])
        def serve_bytes(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"depth": infer_depth(run, decode_batch(check_encoded_sizes(image_bytes)), working)}

        self.serve_images = serve_images
        self.serve_bytes = serve_bytes

    def signatures(self) -> dict[str, Any]:
        return {"serving_default": self.serve_images, "serving_bytes": self.serve_bytes}


def serving_info(
    working: Sequence[int], precision: str, checkpoint_path: Optional[str], model_dir: Optional[str]
) -> dict[str, Any]:
    """The content of assets/serving.json."""
    return {
        "signatures": {
            "serving_default": {
                "inputs": {"images": "uint8 [batch, height, width, 3] RGB, any size"},
                "outputs": {"depth": "float32 [batch, height, width, 1] metres, input size"},
            },
            "serving_bytes": {
                "inputs": {"image_bytes": "string [batch] encoded JPEG/PNG/still WebP/BMP/GIF, one size per request"},
                "outputs": {"depth": "float32 [batch, height, width, 1] metres, decoded size"},
            },
        },
        "working_size": list(working),
        "resize_rule": (
            f"x/255; inputs with more pixels than {REFERENCE_SIZE[0]}x{REFERENCE_SIZE[1]} first shrunk "
            f"(antialiased) to that pixel count; bilinear (half-pixel centres, no antialias) to the working size "
            f"= {working[0]}x{working[1]}'s pixel count at the input's aspect, sides rounded half-up to "
            f"multiples of {SIZE_MULTIPLE}; network; depth bilinear (half-pixel, no antialias) back to the input size"
        ),
        "min_input_pixels": min_input_pixels(working),
        "max_upscale": MAX_UPSCALE,
        "precision": precision,
        "checkpoint_path": os.path.abspath(checkpoint_path) if checkpoint_path else None,
        "model_dir": os.path.abspath(model_dir) if model_dir else None,
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "tensorflow": tf.__version__,
    }


SAVED_MODEL_ENTRIES = ("saved_model.pb", "fingerprint.pb", "variables", "assets", CARD_NAME)


def _check_target(export_dir: str) -> None:
    if os.path.exists(export_dir):
        if not os.path.isdir(export_dir):
            raise FileExistsError(f"export_dir {export_dir!r} exists and is a file; choose another path")
        if os.listdir(export_dir) and not tf.saved_model.contains_saved_model(export_dir):
            raise FileExistsError(
                f"export_dir {export_dir!r} is a non-empty folder that is not a SavedModel; refusing to replace "
                f"it -- choose a new or empty folder"
            )
        export_dirs.check_replaceable(export_dir, SAVED_MODEL_ENTRIES)


def export_saved_model(
    model,
    export_dir: str,
    metadata: Optional[dict[str, Any]] = None,
    working: Sequence[int] = WORKING_SIZE,
    verify: bool = True,
    card_fn: Optional[Callable[[str], dict[str, Any]]] = None,
) -> str:
    """Writes the SavedModel of `model` to `export_dir` atomically (temporary sibling + rename).

    `metadata`: {asset file name: JSON-able content} stored under assets/ (e.g. 'config.json').
    `card_fn`: called with the finished temporary folder; its dict is written there as model.json
    before the rename. Returns the absolute export path.
    """
    export_dir = os.path.abspath(export_dir)
    _check_target(export_dir)
    parent = os.path.dirname(export_dir)
    os.makedirs(parent, exist_ok=True)
    base = os.path.basename(export_dir)
    export_dirs.clean_stale(parent, base)  # what a killed export left
    tmp = export_dirs.make_temp_dir(parent, base, "tmp")
    staging = export_dirs.make_temp_dir(parent, base, "assets")
    try:
        module = DepthServingModule(model, working)
        for name, content in (metadata or {}).items():
            path = os.path.join(staging, name)
            with open(path, "w", encoding="utf-8") as f:
                json.dump(content, f, indent=2, default=str)
            attr = os.path.splitext(name)[0].replace(".", "_").replace("-", "_") + "_asset"
            setattr(module, attr, tf.saved_model.Asset(path))
        tf.saved_model.save(module, tmp, signatures=module.signatures())
        if verify:
            _smoke_test(tmp)
        if card_fn is not None:
            write_card(tmp, card_fn(tmp))
        export_dirs.replace_dir(tmp, export_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return export_dir


def _smoke_test(path: str) -> None:
    """Loads the fresh SavedModel and runs both signatures once on a small picture."""
    loaded = tf.saved_model.load(path)
    image = tf.zeros([1, 48, 64, 3], tf.uint8)
    depth = loaded.signatures["serving_default"](images=image)["depth"]
    if tuple(depth.shape) != (1, 48, 64, 1):
        raise RuntimeError(f"exported model returned depth of shape {tuple(depth.shape)} for a 48x64 input")
    encoded = tf.io.encode_png(image[0])[None]
    depth_bytes = loaded.signatures["serving_bytes"](image_bytes=encoded)["depth"]
    if tuple(depth_bytes.shape) != (1, 48, 64, 1):
        raise RuntimeError(f"serving_bytes returned depth of shape {tuple(depth_bytes.shape)}")


def inference_model(model_dir: str, checkpoint: str = "best", precision: str = "fp32"):
    """(Keras model, ModelConfig): THE inference model every export (SavedModel, LiteRT, ONNX) is built from,
    with every BatchNorm folded into its convolution (:mod:`depthnet.modeling.fold`)."""
    model, model_config = restore_model(model_dir, which=checkpoint, precision=precision)
    return inference_graph(model), model_config


def export_run(
    model_dir: str,
    export_dir: str,
    checkpoint: str = "best",
    precision: str = "fp32",
    working: Optional[Sequence[int]] = None,
    verify: bool = True,
    card_fn: Optional[Callable[[str], dict[str, Any]]] = None,
) -> str:
    """Restores a training run's checkpoint and exports it with its config and last evaluation.

    `working` defaults to the run's own scale (``data.resize_for_crop`` of its training crop);
    `card_fn` as in :func:`export_saved_model`.
    """
    model, model_config = inference_model(model_dir, checkpoint, precision)
    working = tuple(working) if working is not None else data.resize_for_crop(model_config.input_size)
    try:
        run_config = read_run_config_json(model_dir)
        ckpt = checkpoint_path(model_dir, checkpoint)
        metadata: dict[str, Any] = {
            "config.json": run_config,
            SERVING_INFO_NAME: serving_info(working, precision, ckpt, model_dir),
        }
        eval_path = os.path.join(model_dir, "eval", "metrics.json")
        if os.path.exists(eval_path):
            with open(eval_path, encoding="utf-8") as f:
                metadata["eval_metrics.json"] = json.load(f)
        return export_saved_model(model, export_dir, metadata, working, verify, card_fn)
    finally:
        set_precision("fp32")
