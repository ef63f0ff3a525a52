"""depthnet-bench: the FLOP counters against hand counts and each other, and the JSON it prints."""

import json
import os
import subprocess
import sys

import keras
import pytest
from helpers import BIN, REPO, shared_tiny_run

from depthnet.bench.network_speed import count_flops_analytic, count_flops_tf


def _single(layer, shape):
    inp = keras.Input(shape)
    return keras.Model(inp, layer(inp))


@pytest.mark.parametrize(
    "layer, shape, hand",
    [
        # 8x10 output pixels x 4 filters x (3x3x3) multiply-adds x 2
        (keras.layers.Conv2D(4, 3, padding="same", use_bias=False), (8, 10, 3), 2 * 8 * 10 * 4 * 3 * 3 * 3),
        # stride 2, valid: output 3x4; dilation does not change the count, only the footprint
        (keras.layers.Conv2D(5, 3, strides=2, use_bias=False), (8, 10, 2), 2 * 3 * 4 * 5 * 3 * 3 * 2),
        (
            keras.layers.Conv2D(6, 3, padding="same", dilation_rate=2, use_bias=False),
            (8, 10, 2),
            2 * 8 * 10 * 6 * 9 * 2,
        ),
        # transposed: every one of the 4x5 input pixels scatters a 4x4x3 patch from its 2 channels
        (
            keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same", use_bias=False),
            (4, 5, 2),
            2 * 4 * 5 * 2 * 16 * 3,
        ),
        (keras.layers.Dense(7, use_bias=False), (6,), 2 * 6 * 7),
    ],
)
def test_flop_counters_equal_hand_counts_on_single_layers(layer, shape, hand):
    model = _single(layer, shape)
    h, w = (shape[0], shape[1]) if len(shape) == 3 else (None, None)
    if h is not None:
        assert count_flops_analytic(model, h, w)["total"] == hand
    tf_count = count_flops_tf(model, [1, *shape])
    assert tf_count["total"] == tf_count["conv"] == hand


def test_analytic_count_equals_tensorflow_profiler_on_tiny_configs():
    from depthnet.config import preset
    from depthnet.modeling.model import build_model

    for config in (preset("tiny"), preset("tiny", variant="baseline")):  # dilated convs; deconvolutions
        model = build_model(config)
        analytic = count_flops_analytic(model, 64, 96)
        profiler = count_flops_tf(model, [1, 64, 96, 3])
        assert analytic["total"] == profiler["conv"] > 0
        assert profiler["total"] > profiler["conv"]  # the profiler also counts bias adds, BN, ...
        assert count_flops_analytic(model, 64, 96, batch=2)["total"] == 2 * analytic["total"]


def test_cli_prints_the_json_shape(tmp_path):
    exe = os.path.join(BIN, "depthnet-bench")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "depthnet.cli.bench"]
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        cmd
        + [
            "--config=tiny",
            "--precision=fp32,bf16",
            "--batch_sizes=1,8",
            "--iterations=1",
            "--height=64",
            "--width=96",
            "--matmul_size=128",
            "--matmul_iterations=1",
            "--profile",
            f"--output_json={out}",
            "--json",  # the whole result on stdout (the default is a short table: tests/bench/test_table.py)
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = json.loads(proc.stdout)
    assert printed == json.loads(out.read_text())
    assert set(printed["precisions"]) == {"fp32", "bf16"}
    gflops = None
    for entry in printed["precisions"].values():
        for key in (
            "fps_b1",
            "fps_b8",
            "ms_per_frame_b1",
            "ms_per_frame_b8",
            "gflops_per_frame",
            "gflops_per_frame_tf_profiler",
            "achieved_gflops",
            "matmul_gflops",
            "ratio_to_matmul",
            "conv_gflops",
            "conv_gflops_dilated",
            "ratio_to_conv",
        ):
            assert isinstance(entry[key], float) and entry[key] > 0, key
        assert entry["ms_per_frame_b1"] == pytest.approx(1000.0 / entry["fps_b1"])
        assert entry["achieved_gflops"] == pytest.approx(
            max(entry["fps_b1"], entry["fps_b8"]) * entry["gflops_per_frame"]
        )
        assert entry["ratio_to_matmul"] == pytest.approx(entry["achieved_gflops"] / entry["matmul_gflops"])
        assert entry["ratio_to_conv"] == pytest.approx(entry["achieved_gflops"] / entry["conv_gflops"])
        assert entry["profile"]["ms_per_frame"]["conv"] > 0
        assert entry["profile"]["ms_per_frame"]["batchnorm"] == 0  # the timed graph is the BN-folded one
        gflops = gflops or entry["gflops_per_frame"]
        assert entry["gflops_per_frame"] == gflops  # the same network in both precisions
    assert printed["input_size"] == [64, 96] and printed["config"] == "tiny" and "analytic" in printed["flops_method"]
    assert printed["numpy_fp32_matmul_gflops"] > 0
    for entry in printed["precisions"].values():
        assert entry["ratio_to_numpy_fp32_matmul"] == pytest.approx(
            entry["achieved_gflops"] / printed["numpy_fp32_matmul_gflops"]
        )
    machine = printed["machine"]
    assert isinstance(machine["bf16_hardware"], bool) and isinstance(machine["isa"], list)
    assert machine["bf16_hardware"] == bool({"amx_bf16", "avx512_bf16"} & set(machine["isa"]))
    if not machine["bf16_hardware"]:
        assert "emulated" in proc.stderr  # the user is told why bf16 will not be faster here


def test_precision_accuracy_scores_the_same_frames_in_each_precision(tmp_path_factory):
    from depthnet.bench.network_speed import precision_accuracy
    from depthnet.evaluation.evaluate import Protocol, evaluate_predictor, iter_split_frames
    from depthnet.inference import Predictor

    model_dir, data_root = shared_tiny_run(tmp_path_factory)
    split = os.path.join(data_root, "test")
    result = precision_accuracy(model_dir, split, ["fp32", "bf16"])
    predictor = Predictor.from_model_dir(model_dir)
    reference, _ = evaluate_predictor(predictor, iter_split_frames(split), Protocol())
    assert result["fp32"]["abs_rel"] == pytest.approx(reference["abs_rel"], rel=1e-6)
    assert result["fp32"]["num_images"] == reference["num_images"] == 2
    bf16 = result["bf16"]
    assert bf16["abs_rel_change_vs_fp32"] == pytest.approx(
        abs(bf16["abs_rel"] - result["fp32"]["abs_rel"]) / result["fp32"]["abs_rel"]
    )
    # bf16 keeps ~3 significant digits: predictions differ, but by far less than the depths themselves.
    assert 0.0 < bf16["max_abs_depth_diff_m"] < 0.5 and bf16["mean_abs_depth_diff_m"] <= bf16["max_abs_depth_diff_m"]
