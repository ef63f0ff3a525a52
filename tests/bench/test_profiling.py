"""profiling: executed ops from the TF profiler's trace, grouped into the network's kinds of work."""

import pytest

from depthnet.bench.profiling import CATEGORIES, categorise, profile_model, profile_table
from depthnet.config import preset
from depthnet.modeling.fold import fold_batchnorm
from depthnet.modeling.model import build_model


@pytest.mark.parametrize(
    "name, op_type, category",
    [
        ("m/dfe/conv2_block1_1_conv/convolution", "_MklNativeFusedConv2D", "conv"),
        ("m/dfe/conv2_block1_1_bn_1/batchnorm/mul_1", "Mul", "batchnorm"),
        ("m/dfe/conv2_block1_1_bn_1/Cast", "Cast", "batchnorm"),
        ("m/dmg_afb3_1/Mean", "Mean", "attention"),
        ("m/dmg_afb3_1/squeeze_1/convolution", "_MklNativeFusedConv2D", "attention"),
        ("m/dmg_upsample_1/resize/ResizeBilinear", "ResizeBilinear", "resize"),
        ("m/dmg_upsample_1/Cast", "Cast", "cast"),
        ("m/dfe/conv4_block1_2_conv_1/convolution/SpaceToBatchND", "SpaceToBatchND", "pad_space_to_batch"),
        ("m/dfe/conv1_pad_1/Pad", "Pad", "pad_space_to_batch"),
        ("m/dfe/conv2_block1_add_1/Add", "AddV2", "add_relu"),
        ("m/dfe/conv2_block1_out_1/Relu", "_MklRelu", "add_relu"),
        ("m/dfe/conv1_conv_1/ReadVariableOp", "ReadVariableOp", "other"),
    ],
)
def test_categories_of_executed_ops(name, op_type, category):
    assert categorise(name, op_type) == category


def test_profile_names_batchnorm_time_that_folding_removes():
    model = build_model(preset("tiny"))
    before = profile_model(model, 1, 64, 96, iterations=1)
    after = profile_model(fold_batchnorm(model), 1, 64, 96, iterations=1)
    for profile in (before, after):
        assert set(profile["ms_per_frame"]) == set(CATEGORIES)
        assert profile["ms_per_frame"]["conv"] > 0 and profile["ops"] > 0
        assert sum(profile["share"].values()) == pytest.approx(1.0)
        assert profile["op_ms_per_frame"] == pytest.approx(sum(profile["ms_per_frame"].values()))
    assert before["ms_per_frame"]["batchnorm"] > 0
    assert after["ms_per_frame"]["batchnorm"] == 0
    assert after["ops"] < before["ops"]
    table = profile_table({"with BN": before, "folded": after})
    assert table.count("\n") == len(CATEGORIES) + 3 and "| batchnorm | " in table
