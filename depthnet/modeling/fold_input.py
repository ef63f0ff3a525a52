"""Input-normalisation folding for inference: the caffe preprocessing moves into the first convolution.

The backbone reads 'caffe' images (:class:`~depthnet.modeling.backbone.ImageNetPreprocess`):
c = 255 * flip_rgb_to_bgr(x) - mean_bgr for x in [0, 1]. A convolution is linear, so the factor 255
and the channel flip can live in the first convolution's kernel instead,
W'[:, :, rgb, :] = 255 * W[:, :, bgr, :], leaving only z = x - mean_rgb / 255
(:class:`~depthnet.modeling.backbone.SubtractImageNetMean`). Zero padding before or inside that
convolution pads z with 0 exactly where it padded c with 0 (c = 255 * flip(z)), so the result is the
same function, borders included.

Why: in full-integer LiteRT every intermediate tensor is requantised to 256 levels. The chain
uint8 -> x / 255 -> x * 255 -> flip -> - mean requantised the image three times, clipped dark pixels
and cost the quick run's int8 export 36% abs_rel; z = x - mean is one requantisation of a [-0.5, 0.6]
tensor (measured in docs/deploy.md's table). Float exports compute the same numbers either way.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from depthnet.modeling.backbone import ImageNetPreprocess, SubtractImageNetMean


def _nodes(model) -> list:
    """The layer calls of `model`'s own graph (a layer shared with another model has calls there too)."""
    return [node for nodes in model._nodes_by_depth.values() for node in nodes]


def _only_reader(model, tensor):
    """The one call in `model` that reads `tensor`, or None."""
    found = [node for node in _nodes(model) if any(t is tensor for t in node.input_tensors)]
    return found[0] if len(found) == 1 else None


def first_convolution(model) -> tuple[ImageNetPreprocess, layers.Conv2D] | None:
    """(preprocess layer, the Conv2D that reads its output through zero paddings only), or None.

    The preprocess output must go to one nested Functional model (the backbone), whose input goes
    through ZeroPadding2D layers only into one Conv2D.
    """
    if not hasattr(model, "_nodes_by_depth"):
        return None
    calls = [node for node in _nodes(model) if isinstance(node.operation, ImageNetPreprocess)]
    if len(calls) != 1:
        return None
    backbone_call = _only_reader(model, calls[0].output_tensors[0])
    backbone = backbone_call.operation if backbone_call else None
    if not (isinstance(backbone, keras.Model) and hasattr(backbone, "_nodes_by_depth")):
        return None
    node = _only_reader(backbone, backbone.inputs[0])
    while node is not None and isinstance(node.operation, layers.ZeroPadding2D):
        node = _only_reader(backbone, node.output_tensors[0])
    conv = node.operation if node else None
    if not (isinstance(conv, layers.Conv2D) and conv.groups == 1 and conv.data_format == "channels_last"):
        return None
    if conv.padding not in ("valid", "same") or int(conv.kernel.shape[-2]) != 3:
        return None
    return calls[0].operation, conv


def rgb_unit_kernel(kernel: np.ndarray) -> np.ndarray:
    """The kernel that reads x - mean / 255 in RGB order where `kernel` read 255 * x - mean in BGR order."""
    return (np.asarray(kernel, np.float64)[:, :, ::-1, :] * 255.0).astype(np.float32)


def fold_input_normalisation(model: keras.Model) -> keras.Model:
    """A model equal to `model` whose preprocessing is a mean subtraction only (module docstring).

    Returns `model` itself when there is nothing to fold (no ImageNetPreprocess feeding a backbone
    whose first layer is a convolution, e.g. a model folded already).
    """
    found = first_convolution(model)
    if found is None:
        return model
    preprocess, conv = found
    config = conv.get_config()
    config["dtype"] = conv.dtype_policy
    new_conv = conv.__class__.from_config(config)
    new_conv.build((None, None, None, 3))
    new_conv.set_weights([rgb_unit_kernel(conv.kernel.numpy()), *[w.numpy() for w in conv.weights[1:]]])
    new_conv.trainable = False
    new_preprocess = SubtractImageNetMean(name=preprocess.name, dtype=preprocess.dtype_policy.name)
    replaced = {id(conv): new_conv, id(preprocess): new_preprocess}

    def clone(layer):
        return replaced.get(id(layer), layer)  # every other layer is shared with `model`

    return keras.models.clone_model(model, clone_function=clone, recursive=True)
