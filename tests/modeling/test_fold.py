"""BatchNorm folding: the folded inference graph computes what the model with its BatchNorms computes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from depthnet.config import ModelConfig, preset
from depthnet.modeling.fold import DirectDilatedConv2D, count_batchnorms, fold_batchnorm, foldable_pairs
from depthnet.modeling.model import DFE_NAME, build_model
from depthnet.precision import set_precision


def _randomise(model, seed=0):
    """Non-trivial BN statistics and affine parameters (a fresh BN is nearly the identity) and a live head."""
    rng = np.random.default_rng(seed)
    for layer in model.get_layer(DFE_NAME).layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.gamma.assign(rng.uniform(0.5, 1.5, c))
            layer.beta.assign(rng.normal(0.0, 0.2, c))
            layer.moving_mean.assign(rng.normal(0.0, 0.5, c))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, c))
    head = model.get_layer("dmg_head")  # zero-initialised: without this the output ignores the backbone
    head.kernel.assign(rng.normal(0.0, 0.05, head.kernel.shape))


def _scale_relative_error(reference, other):
    reference = np.asarray(reference, np.float64)
    return float(np.max(np.abs(reference - np.asarray(other, np.float64))) / np.max(np.abs(reference)))


def _activation_casts(model, x):
    """Names of the Cast ops of an inference graph that convert activations (not variable reads)."""
    graph = tf.function(lambda t: model(t, training=False)).get_concrete_function(x).graph
    return [op.name for op in graph.get_operations() if op.type == "Cast" and op.inputs[0].op.type != "ReadVariableOp"]


def _logits(model, folded):
    """Models to the depth logits: dmg_head is shared, its first call is the original's, its second the folded one's."""
    nodes = model.get_layer("dmg_head")._inbound_nodes
    return [keras.Model(m.inputs, node.outputs[0]) for m, node in zip((model, folded), nodes)]


def test_folded_tiny_model_equals_the_model_with_batchnorms():
    keras.utils.set_random_seed(0)
    model = build_model(preset("tiny"))
    _randomise(model)
    folded = fold_batchnorm(model)
    bns = count_batchnorms(model)
    assert bns > 0 and len(foldable_pairs(model)) == bns  # every BN of the ResNet follows its own conv
    assert count_batchnorms(folded) == 0
    assert sum(int(np.prod(w.shape)) for w in folded.weights) < sum(int(np.prod(w.shape)) for w in model.weights)
    x = tf.constant(np.random.default_rng(1).random((2, 64, 96, 3), dtype=np.float32))
    expected = model(x, training=False).numpy()
    got = folded(x, training=False).numpy()
    assert got.shape == expected.shape
    logits, folded_logits = _logits(model, folded)
    z = logits(x, training=False).numpy()
    assert np.std(z) > 0.01  # the output depends on the input
    assert _scale_relative_error(z, folded_logits(x, training=False)) <= 1e-5
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)  # exp(softplus(z)) - 1 magnifies z's rounding
    # each side output of the backbone too (the BN-heavy part)
    pre = model.get_layer("imagenet_preprocess")(x)
    for a, b in zip(model.get_layer(DFE_NAME)(pre), folded.get_layer(DFE_NAME)(pre)):
        assert _scale_relative_error(a, b) <= 1e-5
    # the original model is untouched: it still has (and uses) its BatchNorms
    assert count_batchnorms(model) == bns
    np.testing.assert_array_equal(model(x, training=False).numpy(), expected)


def test_folded_model_shares_unfolded_layers_and_keeps_names():
    model = build_model(preset("tiny"))
    folded = fold_batchnorm(model)
    assert folded.get_layer("dmg_crb1_in") is model.get_layer("dmg_crb1_in")  # rate 1: not copied
    conv = folded.get_layer(DFE_NAME).get_layer("conv2_block1_1_conv")
    assert conv is not model.get_layer(DFE_NAME).get_layer("conv2_block1_1_conv") and conv.use_bias


def test_folded_bf16_model_has_no_batchnorm_casts_and_stays_close():
    try:
        keras.utils.set_random_seed(0)
        set_precision("bf16")
        model = build_model(preset("tiny"))
        _randomise(model)
        folded = fold_batchnorm(model)
        assert folded.get_layer(DFE_NAME).get_layer("conv2_block1_1_conv").compute_dtype == "bfloat16"
        x = tf.constant(np.random.default_rng(2).random((1, 64, 96, 3), dtype=np.float32))
        before, after = _activation_casts(model, x), _activation_casts(folded, x)
        assert any("_bn" in name for name in before)  # Keras computes BN in float32: bf16 -> fp32 -> bf16
        assert not any("_bn" in name for name in after)
        assert len(after) == len(before) - 2 * count_batchnorms(model)
        set_precision("fp32")
        reference = build_model(preset("tiny"))
        reference.set_weights(model.get_weights())  # the same float32 variables, computed in fp32
        expected = reference(x, training=False)
        unfolded_error = _scale_relative_error(expected, model(x, training=False))
        assert _scale_relative_error(expected, folded(x, training=False)) <= 2 * unfolded_error + 1e-3
    finally:
        set_precision("fp32")


@pytest.mark.parametrize("variant", ["full"])
def test_full_size_graph_folds_every_batchnorm(variant):
    """The paper's ResNet-101 network, run at a small input (the graph is the full one)."""
    model = build_model(ModelConfig(variant=variant, backbone_weights=None))
    assert count_batchnorms(model) == len(foldable_pairs(model)) == 104
    _randomise(model)
    folded = fold_batchnorm(model)
    assert count_batchnorms(folded) == 0
    x = tf.constant(np.random.default_rng(3).random((1, 32, 48, 3), dtype=np.float32))
    # the logits: with random weights they are large, and exp(softplus(z)) would magnify their rounding
    logits, folded_logits = _logits(model, folded)
    assert _scale_relative_error(logits(x, training=False), folded_logits(x, training=False)) <= 1e-5
    pre = model.get_layer("imagenet_preprocess")(x)
    for a, b in zip(model.get_layer(DFE_NAME)(pre), folded.get_layer(DFE_NAME)(pre)):
        assert _scale_relative_error(a, b) <= 1e-5


def test_folded_atrous_convolutions_are_single_dilated_ops():
    model = build_model(preset("tiny"))  # stages 2-4 dilated
    folded = fold_batchnorm(model)
    conv = folded.get_layer(DFE_NAME).get_layer("conv4_block1_2_conv")
    assert isinstance(conv, DirectDilatedConv2D) and conv.dilation_rate == (4, 4)
    x = tf.zeros((1, 64, 96, 3))

    def space_to_batch_in_dfe(m):
        graph = tf.function(lambda t: m(t, training=False)).get_concrete_function(x).graph
        return [op.name for op in graph.get_operations() if op.type == "SpaceToBatchND" and "/dfe" in op.name]

    assert space_to_batch_in_dfe(model) and not space_to_batch_in_dfe(folded)


def test_dilated_channel_reduce_blocks_are_copied_with_direct_convolutions():
    model = build_model(preset("tiny"))
    _randomise(model)
    folded = fold_batchnorm(model)
    crb, copy = model.get_layer("dmg_crb4"), folded.get_layer("dmg_crb4")
    assert crb.dilation_rate > 1 and copy is not crb and isinstance(copy.conv_a, DirectDilatedConv2D)
    assert not isinstance(crb.conv_a, DirectDilatedConv2D)  # the training model keeps Keras' own path
    x = tf.constant(np.random.default_rng(4).random((1, 16, 24, int(crb.reduce.kernel.shape[-2])), np.float32))
    assert _scale_relative_error(crb(x), copy(x)) <= 1e-5


def test_folding_a_folded_model_returns_it_unchanged():
    """serving.inference_model folds and DepthServingModule folds what it gets: the second fold is free."""
    model = build_model(preset("tiny", freeze_batchnorm=True))
    folded = fold_batchnorm(model)
    assert folded is not model and fold_batchnorm(folded) is folded
