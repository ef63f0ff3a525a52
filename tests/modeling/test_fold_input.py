"""Input-normalisation folding: the inference graph subtracts the mean only, and computes what the model computes."""

import keras
import numpy as np
import tensorflow as tf

from depthnet.config import preset
from depthnet.modeling.backbone import CAFFE_BGR_MEAN, ImageNetPreprocess, SubtractImageNetMean
from depthnet.modeling.fold import fold_batchnorm, inference_graph
from depthnet.modeling.fold_input import first_convolution, fold_input_normalisation
from depthnet.modeling.model import DFE_NAME, build_model


def _live(model, seed=0):
    rng = np.random.default_rng(seed)
    head = model.get_layer("dmg_head")  # zero-initialised: without this the output ignores the image
    head.kernel.assign(rng.normal(0.0, 0.05, head.kernel.shape))
    return model


def _graph_op_types(model, x):
    graph = tf.function(lambda t: model(t, training=False)).get_concrete_function(x).graph
    return [op.type for op in graph.get_operations()]


def test_folded_input_gives_the_same_depth_borders_included():
    keras.utils.set_random_seed(0)
    model = _live(build_model(preset("tiny")))
    folded = fold_input_normalisation(model)
    assert folded is not model
    x = tf.constant(np.random.default_rng(1).random((2, 64, 96, 3), dtype=np.float32))
    x = tf.concat([x[:, :, :8] * 0.0, x[:, :, 8:]], axis=2)  # black left border: where padding matters most
    expected, got = model(x, training=False).numpy(), folded(x, training=False).numpy()
    assert np.std(expected) > 1e-3  # the depth depends on the image
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=1e-6)
    caffe = model.get_layer("imagenet_preprocess")(x)
    unit = folded.get_layer("imagenet_preprocess")(x)
    backbone, folded_backbone = model.get_layer(DFE_NAME), folded.get_layer(DFE_NAME)
    for a, b in zip(backbone(caffe), folded_backbone(unit)):  # every side output, edges included
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4 * float(np.max(np.abs(a))))


def test_first_convolution_reads_rgb_in_unit_range():
    model = build_model(preset("tiny"))
    folded = fold_input_normalisation(model)
    preprocess, conv = first_convolution(model)
    assert isinstance(preprocess, ImageNetPreprocess) and conv.name == "conv1_conv"
    new_conv = folded.get_layer(DFE_NAME).get_layer("conv1_conv")
    np.testing.assert_allclose(new_conv.kernel.numpy()[:, :, 0], 255.0 * conv.kernel.numpy()[:, :, 2], rtol=1e-6)
    np.testing.assert_array_equal(new_conv.bias.numpy(), conv.bias.numpy())
    pixel = np.array([[[[0.2, 0.5, 0.9]]]], np.float32)
    z = np.asarray(folded.get_layer("imagenet_preprocess")(pixel))[0, 0, 0]
    caffe = np.asarray(model.get_layer("imagenet_preprocess")(pixel))[0, 0, 0]
    np.testing.assert_allclose(255.0 * z[::-1], caffe, rtol=1e-5)  # c = 255 * flip(z)
    np.testing.assert_allclose(z, pixel[0, 0, 0] - np.array(CAFFE_BGR_MEAN[::-1]) / 255.0, rtol=1e-5)
    assert isinstance(folded.get_layer("imagenet_preprocess"), SubtractImageNetMean)
    # the training model keeps its layers
    assert model.get_layer(DFE_NAME).get_layer("conv1_conv") is conv


def test_inference_graph_has_no_channel_flip_and_folds_once():
    model = build_model(preset("tiny"))
    graph = inference_graph(model)
    x = tf.zeros((1, 64, 96, 3))
    assert "ReverseV2" in _graph_op_types(model, x)
    assert "ReverseV2" not in _graph_op_types(graph, x)
    assert fold_input_normalisation(graph) is graph  # nothing left to fold
    assert inference_graph(graph) is graph
    assert first_convolution(fold_batchnorm(model)) is not None  # BN folding keeps the input to fold


def test_inference_graph_saves_and_loads_as_a_keras_file(tmp_path):
    keras.utils.set_random_seed(0)
    graph = inference_graph(_live(build_model(preset("tiny"))))
    path = str(tmp_path / "graph.keras")
    graph.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.get_layer("imagenet_preprocess"), SubtractImageNetMean)
    x = tf.constant(np.random.default_rng(4).random((1, 64, 96, 3), dtype=np.float32))
    np.testing.assert_allclose(loaded(x, training=False), graph(x, training=False), rtol=1e-5)


def test_model_without_caffe_preprocess_is_returned_as_is():
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs))
    assert fold_input_normalisation(model) is model
