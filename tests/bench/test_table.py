"""depthnet-bench prints a short table by default (JSON behind --json / --output_json) and benches a config at its
working size unless --height/--width are given."""

import json

from helpers import run_cli, script

from depthnet.bench.table import format_bench_table
from depthnet.config import preset
from depthnet.data import pipeline as data


def test_bench_prints_a_table_at_the_configs_working_size(tmp_path):
    out = tmp_path / "bench.json"
    proc = run_cli(
        script("depthnet-bench")
        + [
            "--config=tiny",
            "--precision=fp32",
            "--batch_sizes=1,2",
            "--iterations=1",
            "--matmul_size=64",
            "--matmul_iterations=1",
            "--notf_profiler",
            f"--output_json={out}",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    working = data.resize_for_crop(preset("tiny").input_size)
    assert result["input_size"] == list(working) == [84, 124]  # not the 240x320 default of before
    assert proc.stdout.strip() == format_bench_table(result)
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| fp32 |")]
    assert len(rows) == 2 and "input 84x124" in proc.stdout
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[1] == "1" and float(cells[2]) == round(result["precisions"]["fp32"]["fps_b1"], 2)
    ratio = result["precisions"]["fp32"]["achieved_gflops_b1"] / result["precisions"]["fp32"]["matmul_gflops"]
    assert float(cells[6]) == round(ratio, 2)
    conv = result["precisions"]["fp32"]["conv_gflops"]  # the same run's 3x3-conv reference (on by default)
    assert float(cells[5]) == round(result["precisions"]["fp32"]["achieved_gflops_b1"] / conv, 2)
    assert not proc.stdout.lstrip().startswith("{")  # no wall of JSON


def test_height_without_width_is_a_usage_error():
    proc = run_cli(script("depthnet-bench") + ["--config=tiny", "--height=64"])
    assert proc.returncode == 2 and "give both --height and --width" in proc.stderr
