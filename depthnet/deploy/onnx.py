"""ONNX conversion of the fixed-size graph through tf2onnx (dynamic batch, NHWC uint8 input as in the SavedModel).

Converter: ``tf2onnx.convert.from_function`` (the converter Keras 3's own ``model.export(format="onnx")``
calls on the TensorFlow backend), opset :data:`OPSET`. TensorFlow's ``Expm1`` (the depth head's
exp(softplus) - 1) has no tf2onnx handler; it is written as ``Exp`` then ``Sub 1`` (:func:`_expm1`),
exact up to float rounding for the head's arguments (softplus > 0, so exp > 1). The input is
``images`` uint8 ``[batch, H, W, 3]`` and the output ``depth`` float32 ``[batch, H, W, 1]`` metres: the names
of the SavedModel's and LiteRT's ``serving_default`` signature.
Runs in ``onnxruntime`` (``pip install 'depthnet[onnx]'``).
"""

from __future__ import annotations

import numpy as np

OPSET = 17
PRECISIONS = ("fp32",)


def _expm1(ctx, node, name, args):
    """tf2onnx handler: Expm1(x) -> Exp(x) - 1."""
    from tf2onnx import utils

    node.type = "Exp"
    dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.output[0]))
    one = ctx.make_const(utils.make_name(node.name + "_one"), np.array(1, dtype=dtype))
    ctx.insert_new_node_on_output(
        "Sub", node.output[0], name=utils.make_name(node.name + "_minus_one"), inputs=[node.output[0], one.output[0]]
    )
    return node


def converter_name() -> str:
    import tf2onnx

    return f"tf2onnx {tf2onnx.__version__} (from_function, opset {OPSET})"


def convert(function, opset: int = OPSET) -> bytes:
    """The .onnx bytes of a fixed-size function with a dynamic batch (input 'images', output 'depth')."""
    import tf2onnx

    proto, _ = tf2onnx.convert.from_function(
        function, input_signature=function.input_signature, opset=opset, custom_op_handlers={"Expm1": (_expm1, [])}
    )
    graph = proto.graph
    old_in, old_out = graph.input[0].name, graph.output[0].name
    for node in graph.node:  # name the input 'images' and the output 'depth' as in the SavedModel
        node.input[:] = ["images" if i == old_in else i for i in node.input]
        node.output[:] = ["depth" if o == old_out else o for o in node.output]
    graph.input[0].name, graph.output[0].name = "images", "depth"
    for value in (graph.input[0], graph.output[0]):  # the dynamic batch as 'batch', not tf2onnx's 'unk__408'
        dim = value.type.tensor_type.shape.dim[0]
        if not dim.HasField("dim_value"):
            dim.dim_param = "batch"
    return proto.SerializeToString()
