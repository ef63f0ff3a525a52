"""Architecture tests: the DFE, the DMG blocks against numpy, the ablation rows, weights and serialisation."""

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from depthnet.config import ModelConfig, preset
from depthnet.modeling.backbone import ImageNetPreprocess, build_backbone, load_backbone_weights
from depthnet.modeling.blocks import AttentionFuseBlock, ChannelReduceBlock
from depthnet.modeling.model import DFE_NAME, build_model, count_params, variable_groups

RNG = np.random.default_rng(0)


def _conv3x3_dilated(x, kernel, bias, rate):
    """Numpy 'same' 3x3 convolution with dilation `rate` on [H, W, Cin]."""
    h, w, _ = x.shape
    padded = np.pad(x, ((rate, rate), (rate, rate), (0, 0)))
    out = np.zeros((h, w, kernel.shape[-1]))
    for ky in range(3):
        for kx in range(3):
            patch = padded[ky * rate : ky * rate + h, kx * rate : kx * rate + w]
            out += patch @ kernel[ky, kx]
    return out + bias


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_side_outputs_at_quarter_and_output_at_half():
    model = build_model(preset("tiny"))
    dfe = model.get_layer(DFE_NAME)
    x = RNG.random((2, 64, 96, 3), dtype=np.float32)
    sides = dfe(ImageNetPreprocess()(x))
    assert [tuple(s.shape[1:3]) for s in sides] == [(16, 24)] * 4
    depth = model(x)
    assert tuple(depth.shape) == (2, 32, 48, 1)
    assert np.all(np.asarray(depth) > 0)


def test_full_network_shapes_at_paper_resolution_without_running_it():
    model = build_model(ModelConfig(backbone_weights=None))
    spec = model.compute_output_spec(keras.KerasTensor((1, 240, 320, 3)))
    assert tuple(spec.shape) == (1, 120, 160, 1)
    dfe = model.get_layer(DFE_NAME)
    sides = dfe.compute_output_spec(keras.KerasTensor((1, 240, 320, 3)))
    assert [tuple(s.shape) for s in sides] == [(1, 60, 80, c) for c in (256, 512, 1024, 2048)]


def test_every_3x3_conv_of_each_stage_uses_its_atrous_rate_and_no_stride():
    dfe = build_backbone("resnet101", (1, 2, 4, 8))
    seen = {}
    for layer in dfe.layers:
        if isinstance(layer, keras.layers.Conv2D) and layer.name.startswith(("conv2", "conv3", "conv4", "conv5")):
            stage = int(layer.name[4])
            assert layer.strides == (1, 1), layer.name
            if layer.kernel_size == (3, 3):
                seen.setdefault(stage, set()).add(layer.dilation_rate)
            else:
                assert layer.dilation_rate == (1, 1)
    assert seen == {2: {(1, 1)}, 3: {(2, 2)}, 4: {(4, 4)}, 5: {(8, 8)}}
    n_3x3 = sum(1 for layer in dfe.layers if isinstance(layer, keras.layers.Conv2D) and layer.kernel_size == (3, 3))
    assert n_3x3 == 3 + 4 + 23 + 3


def test_crb_dilation_follows_variant():
    for variant, expected in (("full", {1, 2, 4, 8}), ("dfe_afb", {1}), ("dfe", {1})):
        cfg = preset("tiny", variant=variant)
        model = build_model(cfg)
        rates = {layer.dilation_rate for layer in model.layers if isinstance(layer, ChannelReduceBlock)}
        assert rates == expected, variant
        afbs = [layer for layer in model.layers if isinstance(layer, AttentionFuseBlock)]
        assert len(afbs) == (0 if variant == "dfe" else 3)
        assert sum(isinstance(layer, ChannelReduceBlock) for layer in model.layers) == 7


def test_backbone_parameter_count_equals_keras_resnet101_notop():
    reference = keras.applications.ResNet101(include_top=False, weights=None)
    dfe = build_backbone("resnet101")
    assert count_params(dfe.weights) == reference.count_params() == 42_658_176
    ours = {layer.name for layer in dfe.layers if layer.weights}
    assert ours == {layer.name for layer in reference.layers if layer.weights}


@pytest.mark.parametrize("file_format", ["legacy_h5", "weights_h5"])
def test_imagenet_weight_file_loads_by_name_and_stage1_matches_keras(tmp_path, file_format):
    reference = keras.applications.ResNet101(include_top=False, weights=None, input_shape=(64, 96, 3))
    for v in reference.weights:  # distinctive, non-default values (BN statistics included)
        v.assign(RNG.normal(0.0, 0.05, v.shape).astype("float32") + (1.0 if "variance" in v.path else 0.0))
    if file_format == "legacy_h5":
        from keras.src.legacy.saving import legacy_h5_format

        path = str(tmp_path / "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5")
        with h5py.File(path, "w") as f:  # the layout of the official Keras 2 notop file
            legacy_h5_format.save_weights_to_hdf5_group(f, reference)
    else:
        path = str(tmp_path / "resnet101_notop.weights.h5")
        reference.save_weights(path)

    model = build_model(ModelConfig(backbone_weights=path, input_size=(64, 96)))
    dfe = model.get_layer(DFE_NAME)
    ref_layers = {layer.name: layer for layer in reference.layers}
    for layer in dfe.layers:
        for mine, theirs in zip(layer.get_weights(), ref_layers.get(layer.name, layer).get_weights()):
            np.testing.assert_array_equal(mine, theirs)
    assert sum(len(layer.weights) for layer in dfe.layers) == len(reference.weights)

    image = RNG.random((1, 64, 96, 3), dtype=np.float32)
    caffe = np.asarray(ImageNetPreprocess()(image))
    expected = keras.applications.resnet.preprocess_input(image[..., :] * 255.0)
    np.testing.assert_allclose(caffe, expected, rtol=1e-5, atol=1e-3)
    stage1 = keras.Model(reference.input, reference.get_layer("conv2_block3_out").output)(caffe)
    ours = dfe(caffe)[0]
    np.testing.assert_allclose(np.asarray(ours), np.asarray(stage1), rtol=1e-4, atol=1e-4)


def test_mismatched_weight_file_is_refused(tmp_path):
    path = str(tmp_path / "resnet50_notop.weights.h5")
    keras.applications.ResNet50(include_top=False, weights=None).save_weights(path)
    with pytest.raises(ValueError, match="not a resnet101"):
        build_model(ModelConfig(backbone_weights=path))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_model(ModelConfig(backbone_weights=str(tmp_path / "missing.h5")))


def test_failed_imagenet_download_explains_local_file(monkeypatch, tmp_path):
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(file_utils, "get_file", offline)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    dfe = build_backbone("resnet50", dilated=False)
    with pytest.raises(
        RuntimeError, match=r"--backbone_weights=/path/to/resnet50_weights_tf_dim_ordering_tf_kernels_notop\.h5"
    ):
        load_backbone_weights(dfe, "resnet50", "imagenet")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(backbone="vgg16"), "unknown backbone"),
        (dict(variant="deeplab"), "unknown variant"),
        (dict(atrous_rates=(1, 2, 4)), "atrous_rates must be 4"),
        (dict(input_size=(240, 321)), "divisible by 8"),
        (dict(backbone="tiny"), "no ImageNet weights"),
    ],
)
def test_bad_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**kwargs)


def test_channel_reduce_block_matches_numpy():
    block = ChannelReduceBlock(6, dilation_rate=2)
    x = RNG.normal(size=(1, 9, 11, 5)).astype("float32")
    y = np.asarray(block(x))[0]
    for v in block.weights:  # non-zero biases so they are checked too
        if "bias" in v.path:
            v.assign(RNG.normal(0, 0.1, v.shape).astype("float32"))
    y = np.asarray(block(x))[0]
    (wr, br), (wa, ba), (wb, bb) = (layer.get_weights() for layer in (block.reduce, block.conv_a, block.conv_b))
    reduced = x[0] @ wr[0, 0] + br
    branch = _conv3x3_dilated(np.maximum(_conv3x3_dilated(reduced, wa, ba, 2), 0), wb, bb, 2)
    np.testing.assert_allclose(y, np.maximum(reduced + branch, 0), rtol=1e-4, atol=1e-4)


def test_attention_fuse_block_matches_numpy():
    afb = AttentionFuseBlock()
    current = RNG.normal(size=(2, 5, 7, 4)).astype("float32")
    previous = RNG.normal(size=(2, 5, 7, 4)).astype("float32")
    out = np.asarray(afb([current, previous]))
    (ws, bs), (we, be) = afb.squeeze.get_weights(), afb.excite.get_weights()
    assert ws.shape == (1, 1, 8, 4) and we.shape == (1, 1, 4, 4)
    pooled = np.concatenate([current, previous], -1).mean(axis=(1, 2))  # [2, 8]
    weights = _sigmoid(np.maximum(pooled @ ws[0, 0] + bs, 0) @ we[0, 0] + be)  # [2, 4]
    np.testing.assert_allclose(out, current * weights[:, None, None, :] + previous, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="same channels"):
        AttentionFuseBlock()([current, previous[..., :3]])


def test_dmg_is_xavier_initialised():
    model = build_model(preset("tiny", dmg_width=64))
    kernel = model.get_layer("dmg_crb1_out").conv_a.kernel
    fan_in, fan_out = 3 * 3 * 64, 3 * 3 * 64
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    values = np.asarray(kernel)
    assert np.abs(values).max() <= limit
    assert np.std(values) == pytest.approx(limit / np.sqrt(3.0), rel=0.05)  # uniform(-l, l) std


def test_variable_groups_cover_trainables_and_freezing():
    cfg = ModelConfig(backbone_weights=None, frozen_stages=2)
    model = build_model(cfg)
    groups = variable_groups(model)
    assert len(groups["dfe"]) + len(groups["dmg"]) == len(model.trainable_variables)
    dfe_paths = [v.path for v in groups["dfe"]]
    assert not any(p.startswith(("conv1", "conv2", "conv3")) for p in dfe_paths)
    assert any(p.startswith("conv4") for p in dfe_paths) and any(p.startswith("conv5") for p in dfe_paths)
    assert not any("_bn" in p for p in dfe_paths)  # every BatchNorm frozen
    assert all(v.path.startswith("dmg_") for v in groups["dmg"])


def test_baseline_is_resnet50_encoder_decoder_with_half_resolution_output():
    model = build_model(ModelConfig(variant="baseline", backbone="resnet50", backbone_weights=None))
    dfe = model.get_layer(DFE_NAME)
    assert count_params(dfe.weights) == 23_587_712  # keras.applications ResNet50 notop
    assert any(isinstance(layer, keras.layers.Conv2DTranspose) for layer in model.layers)
    spec = model.compute_output_spec(keras.KerasTensor((1, 240, 320, 3)))
    assert tuple(spec.shape) == (1, 120, 160, 1)


def test_keras_save_load_round_trip(tmp_path):
    model = build_model(preset("tiny"))
    x = RNG.random((1, 64, 96, 3), dtype=np.float32)
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(restored(x)), np.asarray(model(x)), rtol=1e-6, atol=1e-6)
    assert restored.get_layer("dmg_afb1").get_config() == model.get_layer("dmg_afb1").get_config()


def test_config_round_trips_through_json():
    cfg = preset("quick")
    assert ModelConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError, match="unknown ModelConfig fields"):
        ModelConfig.from_dict({"varient": "full"})


def test_model_traces_with_unknown_height_and_width():
    """The SavedModel serves any image size, so the graph must not need static spatial shapes."""
    from depthnet.modeling.blocks import BilinearUpsample

    x = RNG.normal(size=(2, 5, 7, 3)).astype("float32")
    np.testing.assert_array_equal(
        np.asarray(BilinearUpsample(2)(x)), np.asarray(keras.layers.UpSampling2D(2, interpolation="bilinear")(x))
    )
    model = build_model(preset("tiny"))
    traced = tf.function(
        lambda t: model(t, training=False), input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)]
    )
    for shape in ((1, 64, 96, 3), (1, 72, 104, 3)):
        image = RNG.random(shape, dtype=np.float32)
        np.testing.assert_allclose(traced(image).numpy(), np.asarray(model(image)), rtol=1e-5, atol=1e-6)
        assert traced(image).shape[1:3] == (shape[1] // 2, shape[2] // 2)


def test_untrained_network_predicts_a_constant_typical_depth():
    """Zero-initialised head: training starts from 2.5 m everywhere, whatever the untrained features are."""
    model = build_model(ModelConfig(backbone_weights=None, frozen_stages=0, freeze_batchnorm=False))
    depth = np.asarray(model(RNG.random((1, 64, 96, 3), dtype=np.float32)))
    np.testing.assert_allclose(depth, 2.5, rtol=1e-5)


def test_default_freezes_exactly_stem_and_conv2_and_the_other_reading_adds_conv3():
    """Paper sec. 3.4 "first two stages" as Detectron counts them (FREEZE_AT=2: stem = stage 1)."""
    from depthnet.config import FROZEN_STAGES_READINGS

    assert ModelConfig().frozen_stages == FROZEN_STAGES_READINGS["detectron"] == 1
    for reading, frozen_prefixes in (("detectron", ("conv1", "conv2")), ("res_blocks", ("conv1", "conv2", "conv3"))):
        model = build_model(preset("tiny", frozen_stages=FROZEN_STAGES_READINGS[reading], freeze_batchnorm=False))
        dfe = model.get_layer(DFE_NAME)
        # BatchNorm moving statistics are never trainable weights, so compare layers, not variables.
        frozen_layers = {layer.name for layer in dfe.layers if layer.weights and not layer.trainable}
        expected = {layer.name for layer in dfe.layers if layer.weights and layer.name.startswith(frozen_prefixes)}
        assert frozen_layers == expected, reading
        trainable = {v.path.split("/")[-2] for v in dfe.trainable_weights}
        assert trainable and not trainable & expected, reading
        assert all(not name.startswith(("conv4", "conv5")) for name in frozen_layers)
    default = build_model(preset("tiny"))  # the default also fixes every BatchNorm (paper sec. 3.4)
    trainable = [v.path for v in default.get_layer(DFE_NAME).trainable_weights]
    assert trainable and not any(p.startswith(("conv1", "conv2")) or "_bn/" in p for p in trainable)
    assert any(p.startswith("conv3") for p in trainable)
