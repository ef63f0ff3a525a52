"""depthnet.bench.conv_shapes: every convolution of the inference graph, found and timed one by one."""

import json
import os
import subprocess

from helpers import REPO, script

from depthnet.bench.conv_shapes import conv_table, graph_convolutions
from depthnet.bench.network_speed import count_flops_analytic
from depthnet.config import preset
from depthnet.data.pipeline import resize_for_crop
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
    rows, convs = table["rows"], graph_convolutions(model, 64, 96)
    assert sum(r["count"] for r in rows) == table["convolutions"] == len(convs)
    assert len(rows) < len(convs)  # the DMG's 3x3 8-channel convolutions repeat: timed once each
    for row in rows:  # each row stands for exactly the graph's convolutions of its shape
        same = [c for c in convs if list(c["input"]) == row["input"] and list(c["filter"]) == row["filter"]]
        assert len([c for c in same if list(c["dilations"]) == row["dilations"]]) == row["count"]
    assert all(r["ms"] > 0 and r["gflops"] > 0 for r in rows)


def test_unfolded_graph_counts_the_padded_work_of_space_to_batch():
    model = build_model(preset("tiny"))  # Keras runs its atrous convolutions on space-to-batch tensors (batch > 1)
    convs = graph_convolutions(model, 64, 96)
    assert any(c["input"][0] > 1 for c in convs)
    assert sum(c["flops"] for c in convs) >= count_flops_analytic(model, 64, 96)["total"]


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
