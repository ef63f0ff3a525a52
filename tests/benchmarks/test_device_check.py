"""benchmarks/device_check.sh: the one-shot accelerator check runs on a CPU (--cpu-smoke) and writes its JSON."""

import json
import os
import subprocess
import sys

from helpers import REPO


def test_cpu_smoke_runs_and_writes_its_json(tmp_path):
    out = tmp_path / "device_check.json"
    # one precision with loss scaling and XLA on, to keep CI short; every section runs
    proc = subprocess.run(
        [
            os.path.join(REPO, "benchmarks", "device_check.sh"),
            "--cpu-smoke",
            "--precisions=fp16",
            "--xla=on",
            "--steps=2",
            f"--output={out}",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=900,
        env=dict(os.environ, PYTHON=sys.executable, DEVICE_CHECK_TIMEOUT="880"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert json.loads(proc.stdout[proc.stdout.index("{") :]) == result
    assert result["mode"] == "cpu-smoke" and result["setup"]["size"] == [64, 96]
    assert result["machine"]["tensorflow"] and isinstance(result["machine"]["gpus"], list)
    assert result["data"]["images_per_s"] > 0
    (train,) = result["train"]
    assert train["precision"] == "fp16" and train["xla"] is True
    assert train["finite"] and train["sec_per_step"] > 0 and train["loss_scale"] > 0
    assert len(train["step_times"]) == 2  # --steps overrides the setup's one step
    assert train["peak_rss_gb"] > 0.1  # host memory sampled during the steps: a TensorFlow process holds > 100 MB
    assert [(r["precision"], r["batch"]) for r in result["inference"]] == [("fp16", 1), ("fp16", 2)]
    # The allocator's peak exists where TensorFlow keeps statistics for the device: GPUs, and the CPU on the
    # AVX-512 Xeon, but not on the AVX2-only AMD EPYC ("Allocator stats not available for device 'CPU:0'",
    # reported as None); the host's peak RSS always exists.
    for r in result["inference"]:
        assert r["fps"] > 0 and r["peak_rss_gb"] > 0.1
        assert r["peak_memory_gb"] is None or r["peak_memory_gb"] > 0
    assert result["paper_claim"]["best_fps_batch1"] == result["inference"][0]["fps"]
