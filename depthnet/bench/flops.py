"""FLOP counts of the network for `depthnet-bench` (:mod:`depthnet.bench.network_speed`, module docstring).

:func:`count_flops_analytic`: 2 x the multiply-accumulates of every Conv2D, Conv2DTranspose,
DepthwiseConv2D and Dense layer, with each layer's shapes recorded while tracing the model (no
computation). :func:`count_flops_tf`: TensorFlow's own count (``tf.compat.v1.profiler`` float_ops of
the traced graph, all ops; ``conv``: the convolution and matmul op types only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

CONV_OP_TYPES = (
    "Conv2D",
    "Conv2DBackpropInput",
    "DepthwiseConv2dNative",
    "MatMul",
    "BatchMatMulV2",
    "BatchMatMulV3",
    "_FusedConv2D",
    "_FusedMatMul",
)


def _counted_layers(model) -> list:
    import keras

    kinds = (keras.layers.Conv2D, keras.layers.Conv2DTranspose, keras.layers.DepthwiseConv2D, keras.layers.Dense)
    return [layer for layer in model._flatten_layers(include_self=False, recursive=True) if isinstance(layer, kinds)]


def layer_flops(layer, input_shape: Sequence[int], output_shape: Sequence[int]) -> int:
    """2 x multiply-accumulates of one call of a Conv2D / Conv2DTranspose / DepthwiseConv2D / Dense layer."""
    import keras

    inp = [int(d) for d in input_shape]
    out = [int(d) for d in output_shape]
    if isinstance(layer, keras.layers.Conv2DTranspose):  # each input pixel scatters a kh x kw x Cout patch
        kh, kw = layer.kernel_size
        return 2 * inp[0] * inp[1] * inp[2] * kh * kw * inp[3] * out[3]
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        return 2 * int(np.prod(out)) * kh * kw
    if isinstance(layer, keras.layers.Conv2D):
        kh, kw = layer.kernel_size
        return 2 * int(np.prod(out)) * kh * kw * (inp[3] // layer.groups)
    if isinstance(layer, keras.layers.Dense):
        return 2 * int(np.prod(out)) * inp[-1]
    raise TypeError(f"no FLOP rule for {type(layer).__name__}")


def _trace_shapes(model, batch: int, height: int, width: int) -> tuple[list, Any]:
    """Traces model(x) at a fixed shape, recording (layer, input shape, output shape) of counted layers."""
    records: list = []
    patched = []
    for layer in _counted_layers(model):
        had = "call" in layer.__dict__
        original = layer.call

        def wrapped(inputs, *args, _orig=original, _layer=layer, **kwargs):
            outputs = _orig(inputs, *args, **kwargs)
            records.append((_layer, tuple(inputs.shape), tuple(outputs.shape)))
            return outputs

        layer.call = wrapped
        patched.append((layer, had, original))
    try:
        inputs = getattr(model, "inputs", None)
        channels = int(inputs[0].shape[-1]) if inputs and inputs[0].shape[-1] is not None else 3
        spec = tf.TensorSpec([batch, height, width, channels], tf.float32)
        concrete = tf.function(lambda x: model(x, training=False), autograph=False).get_concrete_function(spec)
    finally:
        for layer, had, original in patched:
            if had:
                layer.call = original
            else:
                del layer.call
    return records, concrete


def count_flops_analytic(model, height: int, width: int, batch: int = 1) -> dict[str, Any]:
    """{'total': FLOPs for `batch` frames, 'by_type': {...}, 'layers': n} by the rule in the module docstring."""
    records, _ = _trace_shapes(model, batch, height, width)
    by_type: dict[str, int] = {}
    for layer, ins, outs in records:
        if any(d is None for d in ins + outs):
            raise ValueError(f"layer {layer.name} has an unknown dimension at {height}x{width}: {ins} -> {outs}")
        by_type[type(layer).__name__] = by_type.get(type(layer).__name__, 0) + layer_flops(layer, ins, outs)
    return {"total": int(sum(by_type.values())), "by_type": by_type, "layers": len(records)}


def count_flops_tf(fn, input_shape: Sequence[int]) -> dict[str, Any]:
    """TensorFlow's own FLOP count (tf.compat.v1.profiler float_ops) of `fn` traced at `input_shape`.

    `fn` is a Keras model (called in inference mode) or any function of one float32 tensor.
    Returns {'total', 'by_op': {op type: float ops}, 'conv': conv/matmul op types only}.
    """
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    if hasattr(fn, "layers"):
        model = fn
        fn = lambda x: model(x, training=False)
    concrete = tf.function(fn, autograph=False).get_concrete_function(tf.TensorSpec(list(input_shape), tf.float32))
    graph = convert_variables_to_constants_v2(concrete).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(graph=graph, cmd="scope", options=options)
    types = {op.name: op.type for op in graph.get_operations()}
    by_op: dict[str, int] = {}
    stack = list(profile.children)
    while stack:  # every graph node once, aggregated by op type
        node = stack.pop()
        if node.float_ops:
            key = types.get(node.name, "?")
            by_op[key] = by_op.get(key, 0) + int(node.float_ops)
        stack.extend(node.children)
    conv = sum(v for k, v in by_op.items() if k in CONV_OP_TYPES)
    return {"total": int(profile.total_float_ops), "by_op": by_op, "conv": int(conv)}
