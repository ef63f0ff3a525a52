"""Gradient recomputation ("checkpointing") for the backbone: trade backward-pass time for memory.

Without recomputation, the backward pass of a training step keeps every intermediate activation of
the forward pass alive (convolution inputs, BatchNorm and ReLU outputs): for the paper's DFE (a
dilated ResNet-101 whose stages 2-4 all run at 1/4 of the input) that is the bulk of a step's memory.
With it, the forward pass keeps only the output of each *segment* (one bottleneck block, or one
stage); the backward pass re-runs a segment's forward from its saved input, then backpropagates
through it, one segment at a time. The numbers do not change (same operations on the same values);
every trainable segment runs its forward twice.

`StagedForward(model, granularity)` rebuilds the forward pass of a `depthnet.modeling.model.build_model`
network from its own layers (no copies, shared weights), without touching model.py:

    images -> imagenet_preprocess -> stem (conv1_*, pool1) -> segments of the 'dfe' backbone
           -> (the four stage outputs) -> the rest of the network (DMG / decoder, 'depth' head)

Segments before the first one with trainable weights (the frozen stem and stages 1-2 of the paper)
need no backward pass at all, so they run normally; every later segment goes through
:func:`recompute_grad`. The DMG after the backbone is not recomputed (it is small next to the DFE).

:func:`recompute_grad` is `tf.recompute_grad` plus one thing Keras needs: a BatchNormalization in
training mode updates its moving statistics in every forward call, and a recomputed forward would
update them a second time. The state variables of a segment are snapshotted before the
recomputation and restored after it, so they end the step exactly as without recomputation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Optional

import keras
import tensorflow as tf

GRANULARITIES = ("block", "stage")
DEFAULT_GRANULARITY = "block"  # what --recompute uses
STEM_OUTPUT = "pool1_pool"
STAGES = ("conv2", "conv3", "conv4", "conv5")


def recompute_grad(fn: Callable[[tf.Tensor], tf.Tensor], state_variables: Sequence[tf.Variable] = ()) -> Callable:
    """`fn(x) -> y` whose inner activations are recomputed in the backward pass instead of stored.

    `fn` maps one tensor to one tensor and may read variables (their gradients are returned to the
    enclosing tape). `state_variables` (e.g. BatchNorm moving statistics) that `fn` assigns are
    restored after the recomputation, so only the original forward updates them.
    """

    @tf.custom_gradient
    def wrapped(x):
        y = fn(x)

        def grad(dy, variables=None):
            variables = list(variables or [])
            # A data dependency on `dy` (adding an exact zero derived from it) makes the recomputation
            # run during the backward pass and keeps graph optimisers from merging it with the forward
            # (the same device tf.recompute_grad uses).
            elem = tf.cast(tf.reduce_max(tf.reshape(dy, [-1])[:1]), tf.bool)
            zero = tf.where(tf.equal(elem, elem), 0.0, float("nan"))  # always 0.0
            x_again = x + tf.cast(zero, x.dtype)
            snapshot = [tf.identity(tf.convert_to_tensor(v)) for v in state_variables]
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(x_again)
                for v in variables:
                    tape.watch(v)
                y_again = fn(x_again)
            for v, value in zip(state_variables, snapshot):
                v.assign(value)
            grads = tape.gradient(
                y_again, [x_again] + variables, output_gradients=dy, unconnected_gradients=tf.UnconnectedGradients.NONE
            )
            return grads[0], grads[1:]

        return y, grad

    return wrapped


def _dfe_call_outputs(model: keras.Model, dfe: keras.Model) -> list:
    """The backbone's four side outputs as tensors of the *outer* model's graph (its one call)."""
    nodes = getattr(dfe, "_inbound_nodes", None)
    if not nodes or len(nodes) != 1:
        raise ValueError(f"recompute expects the backbone {dfe.name!r} to be called exactly once in {model.name!r}")
    return list(nodes[0].output_tensors)


def _block_names(dfe: keras.Model, stage: str) -> list[str]:
    names = [
        layer.name for layer in dfe.layers if layer.name.startswith(stage + "_block") and layer.name.endswith("_out")
    ]
    return sorted(names, key=lambda n: int(n[len(stage) + len("_block") : -len("_out")]))


def _has_trainable(model: keras.Model) -> bool:
    return bool(model.trainable_weights)


def _state_variables(model: keras.Model) -> list:
    """Non-trainable variables a training-mode call assigns: BatchNorm moving statistics of trainable BN."""
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable:
            out.extend([layer.moving_mean, layer.moving_variance])
    return out


class StagedForward:
    """The forward pass of a DepthNet model, with backbone segments recomputed in the backward pass.

    `granularity='block'` makes every bottleneck block a segment (stores one block output per block:
    least memory); 'stage' makes every ResNet stage one segment (stores four stage outputs, but the
    backward of a stage holds all of that stage's activations at once).
    """

    def __init__(self, model: keras.Model, granularity: Optional[str] = None, dfe_name: str = "dfe"):
        granularity = granularity or DEFAULT_GRANULARITY
        if granularity not in GRANULARITIES:
            raise ValueError(f"unknown recompute granularity {granularity!r}; choose one of {GRANULARITIES}")
        self.model, self.granularity = model, granularity
        dfe = model.get_layer(dfe_name)
        self.preprocess = model.get_layer("imagenet_preprocess")
        self.stem = keras.Model(dfe.input, dfe.get_layer(STEM_OUTPUT).output, name="recompute_stem")
        # (segment model, is the end of a stage) in order.
        self.segments: list[tuple[keras.Model, bool]] = []
        previous = STEM_OUTPUT
        for stage in STAGES:
            blocks = _block_names(dfe, stage)
            if not blocks:
                raise ValueError(f"backbone {dfe.name!r} has no {stage}_block*_out layers")
            ends = blocks if granularity == "block" else blocks[-1:]
            for end in ends:
                segment = keras.Model(
                    dfe.get_layer(previous).output, dfe.get_layer(end).output, name=f"recompute_{previous}_to_{end}"
                )
                self.segments.append((segment, end == blocks[-1]))
                previous = end
        self.head = keras.Model(_dfe_call_outputs(model, dfe), model.output, name="recompute_head")
        trainable_seen = _has_trainable(self.stem)
        self.recomputed: list[bool] = []
        for segment, _ in self.segments:
            trainable_seen = trainable_seen or _has_trainable(segment)
            self.recomputed.append(trainable_seen)

    @property
    def num_recomputed(self) -> int:
        return sum(self.recomputed)

    def __call__(self, images, training: bool = True):
        x = self.stem(self.preprocess(images), training=training)
        side_outputs = []
        for (segment, stage_end), recompute in zip(self.segments, self.recomputed):
            if recompute and training:
                state = _state_variables(segment)
                x = recompute_grad(lambda t, s=segment: s(t, training=True), state)(x)
            else:
                x = segment(x, training=training)
            if stage_end:
                side_outputs.append(x)
        return self.head(side_outputs, training=training)
