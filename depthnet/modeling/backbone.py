"""Dense Feature Extractor (paper sec. 3.1): a ResNet with dilated stages and no pooling/FC head.

The layers keep keras.applications' ResNet names and weight shapes (`conv1_conv`,
`conv2_block1_1_conv`, ..., `conv5_block3_out`), so the official ImageNet weight files load
into it by name. With `dilated=True` no stage strides after the stem's max-pool: every stage
stays at 1/4 of the input and its 3x3 convolutions use the stage's atrous rate. With
`dilated=False` it is the ordinary ResNet (output stride 32), used by the baseline.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Optional

import keras
from keras import layers, ops

# Residual blocks per stage (conv2..conv5) and bottleneck widths, as keras.applications builds them.
BACKBONE_BLOCKS = {
    "resnet101": (3, 4, 23, 3),
    "resnet50": (3, 4, 6, 3),
    "small": (1, 1, 1, 1),
    "tiny": (1, 1, 1, 1),
}
BACKBONE_WIDTHS = {
    "resnet101": (64, 128, 256, 512),
    "resnet50": (64, 128, 256, 512),
    "small": (16, 32, 64, 128),
    "tiny": (8, 16, 32, 64),
}
BACKBONE_STEM = {"resnet101": 64, "resnet50": 64, "small": 32, "tiny": 16}
BN_EPSILON = 1.001e-5  # keras.applications ResNet
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
SIDE_OUTPUTS = ("conv2", "conv3", "conv4", "conv5")


@keras.saving.register_keras_serializable(package="depthnet")
class ImageNetPreprocess(layers.Layer):
    """[0, 1] RGB -> the 'caffe' input the ImageNet ResNet weights expect (0-255 BGR, mean removed)."""

    def call(self, images):
        images = ops.cast(images, self.compute_dtype) * 255.0
        bgr = ops.flip(images, axis=-1)
        return bgr - ops.convert_to_tensor(CAFFE_BGR_MEAN, dtype=self.compute_dtype)


# The caffe mean in RGB order and [0, 1] units.
RGB_MEAN_UNIT = tuple(m / 255.0 for m in reversed(CAFFE_BGR_MEAN))


@keras.saving.register_keras_serializable(package="depthnet")
class SubtractImageNetMean(layers.Layer):
    """[0, 1] RGB -> RGB minus the caffe mean in [0, 1] units: :class:`ImageNetPreprocess` with its factor 255 and
    channel flip moved into the first convolution's kernel (inference graphs: modeling.fold_input)."""

    def call(self, images):
        images = ops.cast(images, self.compute_dtype)
        return images - ops.convert_to_tensor(RGB_MEAN_UNIT, dtype=self.compute_dtype)


def _bottleneck(x, filters: int, stride: int, dilation: int, conv_shortcut: bool, name: str):
    """keras.applications ResNet v1 `block1`, with the 3x3 convolution dilated."""
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=name + "_0_conv")(x)
        shortcut = layers.BatchNormalization(epsilon=BN_EPSILON, name=name + "_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=name + "_1_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=name + "_1_bn")(x)
    x = layers.Activation("relu", name=name + "_1_relu")(x)
    x = layers.Conv2D(filters, 3, padding="same", dilation_rate=dilation, name=name + "_2_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=name + "_2_bn")(x)
    x = layers.Activation("relu", name=name + "_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=name + "_3_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=name + "_3_bn")(x)
    x = layers.Add(name=name + "_add")([shortcut, x])
    return layers.Activation("relu", name=name + "_out")(x)


def build_backbone(
    backbone: str = "resnet101",
    atrous_rates: Sequence[int] = (1, 2, 4, 8),
    dilated: bool = True,
    name: str = "dfe",
) -> keras.Model:
    """ResNet feature extractor taking preprocessed (caffe) images; outputs the four stage side outputs.

    Side outputs are `conv2_blockN_out` .. `conv5_blockN_out`: all at 1/4 of the input when
    `dilated`, else at 1/4, 1/8, 1/16, 1/32.
    """
    blocks, widths, stem = BACKBONE_BLOCKS[backbone], BACKBONE_WIDTHS[backbone], BACKBONE_STEM[backbone]
    inputs = keras.Input(shape=(None, None, 3), name="preprocessed_image")
    x = layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = layers.Conv2D(stem, 7, strides=2, name="conv1_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    side_outputs = []
    for stage, (n_blocks, width, rate) in enumerate(zip(blocks, widths, atrous_rates)):
        stage_name = SIDE_OUTPUTS[stage]
        stride = 1 if (dilated or stage == 0) else 2
        dilation = rate if dilated else 1
        for b in range(n_blocks):
            x = _bottleneck(
                x,
                width,
                stride=stride if b == 0 else 1,
                dilation=dilation,
                conv_shortcut=(b == 0),
                name=f"{stage_name}_block{b + 1}",
            )
        side_outputs.append(x)
    return keras.Model(inputs, side_outputs, name=name)


def freeze(backbone_model: keras.Model, frozen_stages: int = 1, freeze_batchnorm: bool = True) -> None:
    """Fixes the stem and the first `frozen_stages` residual stages; with `freeze_batchnorm`, every BN layer.

    The default, 1, freezes stem + conv2: the paper's "first two stages" counted as Detectron does
    (FREEZE_AT=2, the stem is stage 1); 2 is the other reading, stem + conv2 + conv3
    (:data:`depthnet.config.FROZEN_STAGES_READINGS`).

    A Keras BatchNormalization with trainable=False runs in inference mode: it uses and keeps its
    moving statistics and its gamma/beta get no gradient.
    """
    frozen_prefixes = ("conv1",) + SIDE_OUTPUTS[:frozen_stages] if frozen_stages > 0 else ()
    for layer in backbone_model.layers:
        if frozen_prefixes and layer.name.startswith(frozen_prefixes):
            layer.trainable = False
        if freeze_batchnorm and isinstance(layer, layers.BatchNormalization):
            layer.trainable = False


def _reference_application(backbone: str) -> keras.Model:
    apps = {"resnet101": keras.applications.ResNet101, "resnet50": keras.applications.ResNet50}
    if backbone not in apps:
        raise ValueError(f"backbone {backbone!r} has no keras.applications counterpart to load weights from")
    return apps[backbone]


def load_backbone_weights(backbone_model: keras.Model, backbone: str, weights: Optional[str]) -> None:
    """Loads ImageNet ResNet weights into `backbone_model` by layer name.

    `weights` is 'imagenet' (keras.applications' download and cache), None (keep the random
    initialisation), or a path to the keras.applications notop weight file, either the legacy
    HDF5 (`resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5`) or a Keras 3 `.weights.h5`.
    The file is loaded into the reference keras.applications model first, then every weight is
    copied by layer name, checking shapes, so a file for another network fails loudly.
    """
    if weights is None:
        return
    application = _reference_application(backbone)
    if weights == "imagenet":
        try:
            reference = application(include_top=False, weights="imagenet")
        except Exception as err:  # network failures surface as many exception types
            file = f"{backbone}_weights_tf_dim_ordering_tf_kernels_notop.h5"
            raise RuntimeError(
                f"could not download the ImageNet {backbone} weights ({type(err).__name__}: {err}). "
                f"On a machine with internet, fetch {file} (keras.applications caches it in "
                f"~/.keras/models/) and pass its path: --backbone_weights=/path/to/{file}, "
                f"or train from scratch with --backbone_weights=none."
            ) from err
    else:
        path = os.path.expanduser(weights)
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"backbone weight file {path!r} does not exist; pass 'imagenet', 'none' or the path of "
                f"{backbone}_weights_tf_dim_ordering_tf_kernels_notop.h5"
            )
        reference = application(include_top=False, weights=None)
        try:
            reference.load_weights(path)
        except Exception as err:
            raise ValueError(
                f"{path!r} is not a {backbone} (include_top=False) weight file that keras.applications can load: {err}"
            ) from err
    copy_weights_by_name(reference, backbone_model)


def copy_weights_by_name(source: keras.Model, target: keras.Model) -> int:
    """Copies weights of every same-named layer; raises if a layer is missing or a shape differs."""
    copied = 0
    target_layers = {layer.name: layer for layer in target.layers}
    for layer in source.layers:
        if not layer.weights:
            continue
        if layer.name not in target_layers:
            raise ValueError(f"weight file has layer {layer.name!r} that the backbone lacks")
        dst = target_layers[layer.name]
        src_values = layer.get_weights()
        dst_shapes = [tuple(w.shape) for w in dst.weights]
        if [tuple(v.shape) for v in src_values] != dst_shapes:
            raise ValueError(
                f"weight shapes for {layer.name!r} do not match: file has "
                f"{[tuple(v.shape) for v in src_values]}, backbone expects {dst_shapes}"
            )
        dst.set_weights(src_values)
        copied += 1
    missing = [n for n, layer in target_layers.items() if layer.weights and n not in {s.name for s in source.layers}]
    if missing:
        raise ValueError(f"weight file lacks backbone layers {missing[:5]}")
    return copied
