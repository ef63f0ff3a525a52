"""LiteRT (TFLite) conversion of the fixed-size graph: fp32, fp16 weights, full int8.

Converter: TensorFlow's own ``tf.lite.TFLiteConverter`` (TF 2.21) on the frozen concrete function of
:func:`depthnet.deploy.graph.fixed_size_function` at batch 1. Precisions:

``fp32``  no optimisation: the float graph as is.
``fp16``  ``Optimize.DEFAULT`` + ``supported_types=[float16]``: weights stored in float16 (half the
          file), dequantised to float32 when the interpreter loads them; arithmetic stays float32.
``int8``  full integer post-training quantisation: ``Optimize.DEFAULT``, a representative dataset
          (uint8 frames of a prepared split at the export size), ``TFLITE_BUILTINS_INT8`` only, so
          every op runs in int8 (per-channel weights, per-tensor activations calibrated on those
          frames). The graph's own uint8 input and float32 output stay (the first op casts and
          quantises the image, the last dequantises the depth).

Every file is self-describing: one signature ``serving_default`` (input ``images``, output ``depth``,
as the SavedModel's), and its input and output tensors are named ``images`` and ``depth`` too
(``Interpreter.get_signature_runner()(images=...)["depth"]`` or ``get_input_details()[0]``). The
frozen function is wrapped in a ``tf.Module`` so that the converter writes the signature, and the
two tensor names are set in the flatbuffer afterwards (:func:`name_tensors`).

The interpreter is ``ai-edge-litert`` (``pip install 'depthnet[litert]'``): see :mod:`depthnet.deploy.runtimes`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import tensorflow as tf

from depthnet.deploy.graph import frozen

PRECISIONS = ("fp32", "fp16", "int8")
CONVERTER = f"tf.lite.TFLiteConverter (tensorflow {tf.__version__})"
SIGNATURE = "serving_default"
INPUT_NAME, OUTPUT_NAME = "images", "depth"


def _signed_function(function) -> tuple[tf.types.experimental.ConcreteFunction, tf.Module]:
    """The frozen graph as a concrete function returning {'depth': ...}, tracked by a module (-> a signature)."""
    constant = frozen(function)
    spec = function.input_signature[0]

    @tf.function(input_signature=[tf.TensorSpec(spec.shape, spec.dtype, name=INPUT_NAME)])
    def serve(images: tf.Tensor) -> dict[str, tf.Tensor]:
        outputs = constant(images)
        depth = outputs["depth"] if isinstance(outputs, dict) else outputs[0]
        return {OUTPUT_NAME: depth}

    module = tf.Module()
    module.serve = serve
    return serve.get_concrete_function(), module


def name_tensors(blob: bytes) -> bytes:
    """The .tflite with its one input tensor named 'images' and its one output tensor 'depth'."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(blob))
    graph = model.subgraphs[0]
    graph.tensors[graph.inputs[0]].name = INPUT_NAME.encode()
    graph.tensors[graph.outputs[0]].name = OUTPUT_NAME.encode()
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def convert(function, precision: str = "fp32", calibration: Callable[[], Iterable[np.ndarray]] | None = None) -> bytes:
    """The .tflite bytes of a batch-1 fixed-size function in `precision`, with its serving_default signature.

    `calibration`: for int8, a callable returning an iterable of uint8 [1, H, W, 3] frames.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown LiteRT precision {precision!r}; choose from {', '.join(PRECISIONS)}")
    concrete, module = _signed_function(function)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
    if precision == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "int8":
        if calibration is None:
            raise ValueError("int8 needs calibration frames (a representative dataset)")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([frame] for frame in calibration())
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return name_tensors(converter.convert())


def quantization_scheme(precision: str) -> str:
    """One line for the model card."""
    return {
        "fp32": "none (float32)",
        "fp16": "float16 weights, float32 arithmetic",
        "int8": "full integer post-training quantization: int8 per-channel weights, int8 per-tensor activations "
        "calibrated on a representative dataset; uint8 image in, float32 metres out",
    }[precision]
