"""depthnet.conv_shapes: every convolution of the inference graph, found and timed one by one."""

import json
import os
import subprocess

from helpers import REPO, script

from depthnet.benchmark import count_flops_analytic
from depthnet.config import preset
from depthnet.conv_shapes import conv_table, graph_convolutions
from depthnet.data import resize_for_crop
from depthnet.modeling.fold import inference_graph
from depthnet.modeling.model import build_model


def test_graph_convolutions_are_the_networks_flops():
    model = inference_graph(build_model(preset("tiny")))
    convs = graph_convolutions(model, 64, 96)
    # the folded graph runs dilated convolutions directly: no padded work, so the analytic count is exact
    assert sum(c["flops"] for c in convs) == count_flops_analytic(model, 64, 96)["total"]
    stem = [c for c in convs if c["filter"][:2] == (7, 7)]
    assert len(stem) == 1 and stem[0]["strides"] == (2, 2) and stem[0]["filter"][2] == 3
    assert {c["dilations"] for c in convs} >= {(1, 1), (2, 2), (4, 4)}  # the tiny preset's atrous stages


def test_conv_table_groups_identical_convolutions_and_sums_their_time():
    model = inference_graph(build_model(preset("tiny")))
    table = conv_table(model, 64, 96, iterations=1)
    rows = table["rows"]
    assert sum(r["count"] for r in rows) == table["convolutions"] == len(graph_convolutions(model, 64, 96))
    assert abs(sum(r["flop_share"] for r in rows) - 1.0) < 1e-9
    assert all(r["ms"] > 0 and r["gflops"] > 0 for r in rows)
    assert abs(table["estimated_conv_seconds"] - sum(r["ms"] * r["count"] for r in rows) / 1000) < 1e-9


def test_bench_cli_conv_shapes_writes_json(tmp_path):
    out = tmp_path / "shapes.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    args = ["--config=tiny", "--conv_shapes", "--iterations=1", f"--output_json={out}"]
    proc = subprocess.run(script("depthnet-bench") + args, capture_output=True, text=True, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "of the 3x3 reference" in proc.stdout
    result = json.loads(out.read_text())
    assert result["input_size"] == list(resize_for_crop(preset("tiny").input_size))  # the working size
    assert result["precisions"]["fp32"]["rows"]
