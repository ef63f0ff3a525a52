"""Depth Map Generator blocks (paper sec. 3.2, Fig. 2b-c) and small helper layers.

All layers are serializable (`get_config`) and use Xavier/Glorot initialisation, as the paper
initialises the DMG (sec. 3.4).
"""

from __future__ import annotations

from typing import Any, Optional

import keras
from keras import layers, ops

XAVIER = "glorot_uniform"


@keras.saving.register_keras_serializable(package="depthnet")
class ChannelReduceBlock(layers.Layer):
    """CRB (Fig. 2b): a 1x1 convolution reduces the channels, then a basic residual block refines.

    out = relu(r + conv3x3_d(relu(conv3x3_d(r)))), r = conv1x1(x), where the 3x3 convolutions
    use the atrous rate d of the stage the block serves (1 for the undilated ablation).
    """

    def __init__(self, filters: int, dilation_rate: int = 1, kernel_initializer: Any = XAVIER, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.dilation_rate = int(dilation_rate)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        conv = dict(kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy)
        self.reduce = layers.Conv2D(self.filters, 1, name="reduce", **conv)
        self.conv_a = layers.Conv2D(
            self.filters, 3, padding="same", dilation_rate=self.dilation_rate, name="conv_a", **conv
        )
        self.conv_b = layers.Conv2D(
            self.filters, 3, padding="same", dilation_rate=self.dilation_rate, name="conv_b", **conv
        )

    def build(self, input_shape):
        self.reduce.build(input_shape)
        reduced = tuple(input_shape[:-1]) + (self.filters,)
        self.conv_a.build(reduced)
        self.conv_b.build(reduced)

    def call(self, inputs):
        reduced = self.reduce(inputs)
        residual = self.conv_b(ops.relu(self.conv_a(reduced)))
        return ops.relu(reduced + residual)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            filters=self.filters,
            dilation_rate=self.dilation_rate,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="depthnet")
class AttentionFuseBlock(layers.Layer):
    """AFB (Fig. 2c): channel attention from both inputs reweights the current stage, then adds the previous.

    Called on [current, previous] (the dotted and the solid input of Fig. 2c), both with C channels:
    w = sigmoid(conv1x1(relu(conv1x1(GAP(concat(current, previous)))))) is a 1x1xC weight per image;
    out = current * w + previous.
    `hidden_units` is the width of the first 1x1 convolution (default C, as the channel-attention
    block of DFN [46] that the paper follows).
    """

    def __init__(self, hidden_units: Optional[int] = None, kernel_initializer: Any = XAVIER, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = hidden_units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        current_shape, previous_shape = input_shape
        channels = current_shape[-1]
        if previous_shape[-1] != channels:
            raise ValueError(
                f"AttentionFuseBlock adds the previous input to the reweighted current one, so both need "
                f"the same channels; got current {channels} and previous {previous_shape[-1]}"
            )
        hidden = self.hidden_units or channels
        conv = dict(kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy)
        self.squeeze = layers.Conv2D(hidden, 1, activation="relu", name="squeeze", **conv)
        self.excite = layers.Conv2D(channels, 1, activation="sigmoid", name="excite", **conv)
        self.squeeze.build((None, 1, 1, 2 * channels))
        self.excite.build((None, 1, 1, hidden))

    def channel_weights(self, current, previous):
        """The 1x1xC attention weights for each image of the batch."""
        pooled = ops.mean(ops.concatenate([current, previous], axis=-1), axis=(1, 2), keepdims=True)
        return self.excite(self.squeeze(pooled))

    def call(self, inputs):
        current, previous = inputs
        return current * self.channel_weights(current, previous) + previous

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            hidden_units=self.hidden_units,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="depthnet")
class Log1pDepth(layers.Layer):
    """Output activation: depth = exp(softplus(z)) - 1 > 0, i.e. the head regresses log(depth + 1).

    The loss (eq. 3) is L1 in log(depth + 1), so regressing that quantity directly gives
    well-scaled gradients at every depth; softplus keeps it positive. Always float32.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, logits):
        return ops.expm1(ops.softplus(ops.cast(logits, "float32")))


@keras.saving.register_keras_serializable(package="depthnet")
class CropToMatch(layers.Layer):
    """Crops [x, reference] -> x[:, :h_ref, :w_ref] (deconvolutions overshoot odd sizes by one)."""

    def call(self, inputs):
        x, reference = inputs
        shape = ops.shape(reference)
        return x[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, input_shape):
        x_shape, ref_shape = input_shape
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])


@keras.saving.register_keras_serializable(package="depthnet")
class BilinearUpsample(layers.Layer):
    """Bilinear upsampling by an integer factor that also works when H and W are only known at run time.

    Same values as `keras.layers.UpSampling2D(interpolation='bilinear')` (half-pixel centres, no
    antialiasing). Both that layer and `keras.ops.image.resize` check the target size in Python,
    which fails on run-time sizes, so this one layer calls `tf.image.resize` (the TensorFlow backend
    is the project's); a SavedModel of any input size needs it.
    """

    def __init__(self, factor: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.factor = int(factor)

    def call(self, inputs):
        import tensorflow as tf

        size = tf.shape(inputs)[1:3] * self.factor
        # ResizeBilinear computes and returns float32 whatever its input. Casting up first (a no-op in fp32)
        # keeps its gradient in one dtype: under fp16/bf16 + XLA, ResizeBilinearGrad of a 16-bit input
        # came out float32 beside 16-bit gradients and the step failed to compile.
        resized = tf.image.resize(tf.cast(inputs, tf.float32), size, method="bilinear")
        return tf.cast(resized, inputs.dtype)

    def compute_output_shape(self, input_shape):
        scale = lambda d: None if d is None else d * self.factor
        return (input_shape[0], scale(input_shape[1]), scale(input_shape[2]), input_shape[3])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(factor=self.factor)
        return config
