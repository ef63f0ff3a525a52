"""The complete network (paper sec. 3.3, Fig. 2a) and the ablation rows of Table 1.

Input: float RGB in [0, 1], shape (H, W, 3), H and W divisible by 8. Output: positive depth in
metres at (H/2, W/2, 1). The DFE is a nested model named 'dfe'; every DMG layer's name starts
with 'dmg_', so the two parameter groups of sec. 3.4 are `variable_groups(model)`.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from depthnet.config import ModelConfig
from depthnet.modeling.backbone import ImageNetPreprocess, build_backbone, freeze, load_backbone_weights
from depthnet.modeling.blocks import (
    XAVIER,
    AttentionFuseBlock,
    BilinearUpsample,
    ChannelReduceBlock,
    CropToMatch,
    Log1pDepth,
)

DFE_NAME = "dfe"


# softplus^-1(log(1 + 2.5)): a network that starts by predicting 2.5 m, a typical indoor depth.
HEAD_BIAS_INIT = math.log(math.expm1(math.log1p(2.5)))


def _depth_head(features):
    """The 3x3 convolution to one channel (the log(depth + 1) logit).

    Ours: its kernel starts at zero and its bias at HEAD_BIAS_INIT, so training starts from a constant
    2.5 m whatever the scale of the untrained features; with a random kernel, a backbone without
    ImageNet weights drives the softplus deep into saturation and no gradient flows.
    """
    return layers.Conv2D(
        1,
        3,
        padding="same",
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(HEAD_BIAS_INIT),
        name="dmg_head",
    )(features)


def _dense_generator(side_outputs, config: ModelConfig):
    """DMG (sec. 3.3): deepest stage -> CRB; each shallower stage -> CRB, fuse with the deeper path, CRB.

    Fusion runs from stage 4 to stage 1, so the last CRB serves stage 1 and is upsampled 2x.
    """
    width = config.dmg_width
    rates = config.atrous_rates if config.dilated_crb else (1, 1, 1, 1)
    path = ChannelReduceBlock(width, rates[3], name="dmg_crb4")(side_outputs[3])
    for stage in (3, 2, 1):
        current = ChannelReduceBlock(width, rates[stage - 1], name=f"dmg_crb{stage}_in")(side_outputs[stage - 1])
        if config.variant == "dfe":
            fused = layers.Add(name=f"dmg_sum{stage}")([current, path])
        else:
            fused = AttentionFuseBlock(name=f"dmg_afb{stage}")([current, path])
        path = ChannelReduceBlock(width, rates[stage - 1], name=f"dmg_crb{stage}_out")(fused)
    path = BilinearUpsample(2, name="dmg_upsample")(path)
    return _depth_head(path)


def _deconv_decoder(side_outputs, config: ModelConfig):
    """Baseline decoder: stacked stride-2 deconvolutions from 1/32 to 1/2 with U-Net skips [35]."""
    widths = (512, 256, 128, 64)
    x = side_outputs[3]
    for i, skip in enumerate((side_outputs[2], side_outputs[1], side_outputs[0])):
        x = layers.Conv2DTranspose(
            widths[i],
            4,
            strides=2,
            padding="same",
            activation="relu",
            kernel_initializer=XAVIER,
            name=f"dmg_deconv{i + 1}",
        )(x)
        x = CropToMatch(name=f"dmg_crop{i + 1}")([x, skip])
        x = layers.Concatenate(name=f"dmg_skip{i + 1}")([x, skip])
        x = layers.Conv2D(
            widths[i], 3, padding="same", activation="relu", kernel_initializer=XAVIER, name=f"dmg_fuse{i + 1}"
        )(x)
    x = layers.Conv2DTranspose(
        widths[3], 4, strides=2, padding="same", activation="relu", kernel_initializer=XAVIER, name="dmg_deconv4"
    )(x)
    return _depth_head(x)


def build_model(config: ModelConfig | None = None) -> keras.Model:
    """Builds the network described by `config` (default: the paper's full network)."""
    config = config or ModelConfig()
    config.validate()
    dilated = config.variant != "baseline"
    dfe = build_backbone(config.backbone, config.atrous_rates, dilated=dilated, name=DFE_NAME)
    load_backbone_weights(dfe, config.backbone, config.backbone_weights)
    freeze(dfe, config.frozen_stages, config.freeze_batchnorm)

    image = keras.Input(shape=(None, None, 3), name="image")
    side_outputs = dfe(ImageNetPreprocess(name="imagenet_preprocess")(image))
    decoder = _dense_generator if dilated else _deconv_decoder
    logits = decoder(side_outputs, config)
    depth = Log1pDepth(name="depth")(logits)
    return keras.Model(image, depth, name=f"depthnet_{config.variant}_{config.backbone}")


def variable_groups(model: keras.Model) -> dict[str, list]:
    """Trainable variables split into the paper's two learning-rate groups: 'dfe' and 'dmg'."""
    dfe_ids = {id(v) for v in model.get_layer(DFE_NAME).trainable_variables}
    dfe = [v for v in model.trainable_variables if id(v) in dfe_ids]
    dmg = [v for v in model.trainable_variables if id(v) not in dfe_ids]
    return {"dfe": dfe, "dmg": dmg}


def count_params(variables) -> int:
    """Number of scalars in `variables`."""
    return int(sum(math.prod(v.shape) for v in variables))
