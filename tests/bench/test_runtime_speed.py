"""depthnet-bench --runtime: every runtime x precision on the same frames, one JSON, accuracy against TF fp32."""

import json

from helpers import run_cli, script, shared_tiny_run

from depthnet.bench.runtime_speed import runtime_benchmark


def test_cli_prints_one_json_with_every_runtime_and_precision(tmp_path):
    out = tmp_path / "bench.json"
    args = ["--runtime=tf,litert,onnx", "--precision=fp32,fp16,int8", "--config=tiny", "--height=64", "--width=96"]
    proc = run_cli(script("depthnet-bench") + args + ["--runtime_frames=2", "--iterations=1", f"--output_json={out}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result == json.loads(out.read_text())
    entries = result["entries"]
    assert set(entries) == {"tf_fp32", "tf_fp16", "litert_fp32", "litert_fp16", "litert_int8", "onnx_fp32"}
    assert sorted(result["skipped"]) == ["onnx_fp16", "onnx_int8", "tf_int8"]
    assert result["input_size"] == [64, 96] and result["frames"] == 2
    for entry in entries.values():
        assert entry["fps_b1"] > 0 and entry["timed_calls"] == 2
    assert entries["tf_fp32"]["max_rel_diff_vs_tf_fp32"] == 0.0
    for name in ("litert_fp32", "onnx_fp32"):
        assert entries[name]["max_rel_diff_vs_tf_fp32"] < 1e-3
    assert entries["litert_int8"]["rel_diff_vs_tf_fp32"] > 0  # really quantized
    assert entries["litert_int8"]["file_mb"] < 0.5 * entries["litert_fp32"]["file_mb"]


def test_trained_run_is_scored_against_ground_truth_in_each_runtime(tmp_path_factory):
    model_dir, data_root = shared_tiny_run(tmp_path_factory)
    result = runtime_benchmark(
        ("tf", "litert"), ("fp32", "int8"), model_dir=model_dir, data_dir=f"{data_root}/test", height=64, width=96,
        frames=2, calibration_frames=2, iterations=1,
    )  # fmt: skip
    entries = result["entries"]
    assert set(entries) == {"tf_fp32", "litert_fp32", "litert_int8"}
    assert entries["tf_fp32"]["abs_rel_change_vs_tf_fp32"] == 0.0
    assert abs(entries["litert_fp32"]["metrics"]["abs_rel"] - entries["tf_fp32"]["metrics"]["abs_rel"]) < 1e-4
    assert entries["litert_int8"]["abs_rel_change_vs_tf_fp32"] < 0.05
    assert result["model"] == model_dir


def test_cli_benches_a_trained_run_at_its_working_size_and_16_bit_tf_from_its_weights(tmp_path_factory, tmp_path):
    """Without --height/--width a run is benched at its working size; tf_fp16 is built from the run's weights
    (the BatchNorm-folded inference graph has fewer weights than the training model)."""
    from depthnet.checkpoints import read_run_config_json
    from depthnet.data import pipeline as data

    model_dir, data_root = shared_tiny_run(tmp_path_factory)
    out = tmp_path / "bench.json"
    args = [f"--accuracy_model_dir={model_dir}", f"--accuracy_data_dir={data_root}/test", "--runtime=tf,litert"]
    args += ["--runtime_entries=tf_fp32,tf_fp16,litert_fp32", "--runtime_frames=1", "--iterations=1"]
    proc = run_cli(script("depthnet-bench") + args + [f"--output_json={out}"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    working = data.resize_for_crop(read_run_config_json(model_dir)["model"]["input_size"])
    assert result["input_size"] == list(working)
    assert set(result["entries"]) == {"tf_fp32", "tf_fp16", "litert_fp32"}
    assert result["entries"]["tf_fp16"]["max_rel_diff_vs_tf_fp32"] < 0.05
