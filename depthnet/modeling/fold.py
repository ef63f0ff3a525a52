"""BatchNorm folding for inference: conv -> BatchNorm pairs become one convolution with a bias.

In inference mode a BatchNormalization is the per-channel affine map y = (x - mean) * s + beta with
s = gamma / sqrt(var + eps), so a Conv2D whose output feeds only that BatchNorm can absorb it:
W' = W * s (per output channel), b' = (b - mean) * s + beta. :func:`fold_batchnorm` returns a new
Keras model computing the same function without those BatchNorms: the elementwise passes over each
feature map go, and under mixed precision so do the two casts of every BatchNorm (Keras computes BN in
float32, so bf16 activations are cast up and back around it). TensorFlow's oneDNN remapper then fuses
each conv with its bias, the residual add and the ReLU into one kernel. A folded atrous convolution
becomes a :class:`DirectDilatedConv2D` (one dilated Conv2D op instead of TensorFlow's CPU
space-to-batch path), so its bias and ReLU fuse too; so do the 3x3 convolutions of a dilated
ChannelReduceBlock (a copy of the block with the same weights).

Training keeps the BatchNorms (the paper freezes them; a folded model cannot train them or update
their statistics). The folded model is for inference only: the SavedModel export and the benchmark.
Every layer that is not folded is shared with the original model (same weights, no copy); the folded
convolutions get new weights computed in float64 from the current float32 values, in the same dtype
policy as the original convolution.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from depthnet.modeling.blocks import ChannelReduceBlock
from depthnet.modeling.fold_input import fold_input_normalisation

FOLDABLE_CONVS = (layers.Conv2D,)  # not Conv2DTranspose / DepthwiseConv2D: other kernel layouts


@keras.saving.register_keras_serializable(package="depthnet")
class DirectDilatedConv2D(layers.Conv2D):
    """A Conv2D whose atrous convolution is one Conv2D op with `dilations` (inference graphs only).

    Keras calls tf.nn.convolution, which runs a dilated convolution on the CPU as SpaceToBatchND +
    Conv2D + BatchToSpaceND, so its bias add and ReLU cannot be fused into the convolution. oneDNN (and
    cuDNN) run the dilation natively: same numbers, one fused kernel. No gradient is needed here.
    """

    def convolution_op(self, inputs, kernel):
        import tensorflow as tf

        return tf.nn.conv2d(
            inputs, kernel, strides=list(self.strides), padding=self.padding.upper(), dilations=list(self.dilation_rate)
        )


def _functional_models(model) -> list:
    """`model` and every Functional model nested in it."""
    found = [model]
    for layer in model.layers:
        if isinstance(layer, keras.Model) and hasattr(layer, "_nodes_by_depth"):
            found.extend(_functional_models(layer))
    return found


def _consumers(model) -> dict[int, int]:
    """id(KerasTensor) -> how many layer calls (or model outputs) inside `model` use it."""
    counts: dict[int, int] = {}
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            for tensor in node.input_tensors:
                counts[id(tensor)] = counts.get(id(tensor), 0) + 1
    for tensor in model.outputs:
        counts[id(tensor)] = counts.get(id(tensor), 0) + 1
    return counts


def foldable_pairs(model) -> list[tuple[layers.Conv2D, layers.BatchNormalization]]:
    """(conv, batchnorm) pairs where the BN (last axis) reads a linear conv's output and nothing else does.

    Searched in `model` and its nested Functional models; each layer must be called exactly once.
    """
    pairs = []
    for sub in _functional_models(model):
        consumers = _consumers(sub)
        for bn in sub.layers:
            if not isinstance(bn, layers.BatchNormalization) or len(bn._inbound_nodes) != 1:
                continue
            if bn.axis not in (-1, [-1], len(bn.input.shape) - 1, [len(bn.input.shape) - 1]):
                continue
            tensor = bn._inbound_nodes[0].input_tensors[0]
            conv = tensor._keras_history.operation
            if (
                isinstance(conv, FOLDABLE_CONVS)
                and len(conv._inbound_nodes) == 1
                and conv.activation in (keras.activations.linear, None)
                and conv.data_format == "channels_last"
                and consumers.get(id(tensor), 0) == 1
            ):
                pairs.append((conv, bn))
    return pairs


def folded_weights(conv: layers.Conv2D, bn: layers.BatchNormalization) -> tuple[np.ndarray, np.ndarray]:
    """(kernel, bias) of the single convolution equal to bn(conv(x)) in inference mode (float32)."""
    kernel = np.asarray(conv.kernel.numpy(), np.float64)
    bias = np.asarray(conv.bias.numpy(), np.float64) if conv.use_bias else np.zeros(kernel.shape[-1])
    mean = np.asarray(bn.moving_mean.numpy(), np.float64)
    var = np.asarray(bn.moving_variance.numpy(), np.float64)
    gamma = np.asarray(bn.gamma.numpy(), np.float64) if bn.scale else np.ones_like(mean)
    beta = np.asarray(bn.beta.numpy(), np.float64) if bn.center else np.zeros_like(mean)
    scale = gamma / np.sqrt(var + bn.epsilon)
    return (kernel * scale).astype(np.float32), ((bias - mean) * scale + beta).astype(np.float32)


def _folded_conv(conv: layers.Conv2D, bn: layers.BatchNormalization) -> layers.Conv2D:
    config = conv.get_config()
    config.update(use_bias=True, bias_initializer="zeros", bias_regularizer=None)
    config["dtype"] = conv.dtype_policy
    dilated = max(conv.dilation_rate) > 1 and conv.groups == 1 and max(conv.strides) == 1
    new = (DirectDilatedConv2D if dilated else conv.__class__).from_config(config)
    new.build((None, None, None, int(conv.kernel.shape[-2]) * conv.groups))
    kernel, bias = folded_weights(conv, bn)
    new.kernel.assign(kernel)
    new.bias.assign(bias)
    new.trainable = False
    return new


def _direct_crb(block: ChannelReduceBlock) -> ChannelReduceBlock:
    """A copy of a dilated ChannelReduceBlock (same weights) whose 3x3 convolutions are DirectDilatedConv2D."""
    new = ChannelReduceBlock.from_config(block.get_config())
    new.conv_a = DirectDilatedConv2D.from_config(block.conv_a.get_config())
    new.conv_b = DirectDilatedConv2D.from_config(block.conv_b.get_config())
    new.build((None, None, None, int(block.reduce.kernel.shape[-2])))
    for name in ("reduce", "conv_a", "conv_b"):
        getattr(new, name).set_weights(getattr(block, name).get_weights())
    new.trainable = False
    return new


def fold_batchnorm(model: keras.Model) -> keras.Model:
    """A Keras model equal to `model(x, training=False)` with every foldable conv -> BN pair merged.

    Functional models (and Functional models nested in them) only. Raises ValueError for anything else.
    Layers that are not folded are shared with `model`; the result is for inference, not training.
    """
    if not hasattr(model, "_nodes_by_depth"):
        raise ValueError(f"fold_batchnorm needs a Functional Keras model, got {type(model).__name__}")
    pairs = foldable_pairs(model)
    folded_convs = {id(conv): _folded_conv(conv, bn) for conv, bn in pairs}
    folded_bns = {id(bn) for _, bn in pairs}
    for sub in _functional_models(model):  # the DMG's atrous convolutions: one dilated op each, too
        for layer in sub.layers:
            direct = isinstance(getattr(layer, "conv_a", None), DirectDilatedConv2D)
            if isinstance(layer, ChannelReduceBlock) and layer.dilation_rate > 1 and not direct:
                folded_convs[id(layer)] = _direct_crb(layer)
    if not folded_convs:
        return model  # nothing to fold (e.g. already folded): folding twice is a no-op

    def clone(layer):
        return folded_convs.get(id(layer), layer)  # every other layer (BN included) is reused as it is

    def call(layer, *args, **kwargs):
        if id(layer) in folded_bns:
            return args[0]  # the BN is now inside the preceding convolution
        return layer(*args, **kwargs)

    return keras.models.clone_model(model, clone_function=clone, call_function=call, recursive=True)


def count_batchnorms(model: keras.Model) -> int:
    """BatchNormalization layers in `model` and its nested models."""
    return sum(
        isinstance(layer, layers.BatchNormalization) for sub in _functional_models(model) for layer in sub.layers
    )


def inference_graph(model: keras.Model) -> keras.Model:
    """THE inference graph of a trained model: BatchNorms folded into their convolutions, then the input
    normalisation folded into the first one (:mod:`depthnet.modeling.fold_input`). Same function as
    `model(x, training=False)`; every export, the predictor and the benchmark run this graph."""
    return fold_input_normalisation(fold_batchnorm(model))
