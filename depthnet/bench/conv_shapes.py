"""The network's convolutions one by one: each distinct Conv2D of the inference graph timed on its own, against
the same run's 3x3 reference (:mod:`depthnet.bench.conv_reference`), so the network's GFLOP/s can be read per shape.

`conv_table(model, height, width)` traces `model` at batch 1 and collects every Conv2D op of the graph
(input shape, filter shape, strides, dilations, padding): the executed convolutions, those inside the Depth
Map Generator's blocks included. Identical convolutions are timed once (conv + bias + ReLU in a
tf.function, median of `iterations`; each timed call includes one tf.function dispatch, which weighs on
the smallest convolutions), with the reference (batch 3, the paper's batch) timed between every two shapes;
the best of those reference measurements is the machine's limit the rows are compared with. The sum of
count x time estimates the network's convolution time.
FLOPs are 2 x multiply-accumulates of each op's output; in the BN-folded inference graph every atrous
convolution is one dilated op, so they equal the benchmark's analytic count (in an unfolded Keras graph a
dilated convolution runs on space-to-batch tensors and its padded work is counted too).
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from depthnet.bench.conv_reference import CONV_REFERENCE, conv_call, conv_flops, conv_gflops, median_seconds


def graph_convolutions(model, height: int, width: int) -> list[dict[str, Any]]:
    """One dict per Conv2D op of `model` at [1, height, width, 3]: shapes, strides, dilations, padding, flops.

    Transposed convolutions (the baseline's decoder) are not collected. Raises ValueError for a convolution
    whose shapes are not static at this size (it could not be timed alone)."""
    spec = tf.TensorSpec([1, height, width, 3], tf.float32)
    graph = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec).graph
    found = []
    for op in graph.get_operations():
        if op.type not in ("Conv2D", "_FusedConv2D"):
            continue
        x_shape, w_shape, y_shape = (op.inputs[0].shape, op.inputs[1].shape, op.outputs[0].shape)
        if not (x_shape.is_fully_defined() and w_shape.is_fully_defined() and y_shape.is_fully_defined()):
            raise ValueError(f"{op.name}: shapes {x_shape}, {w_shape} are not static at {height}x{width}")
        dilations = tuple(op.get_attr("dilations"))[1:3]
        kh, kw, cin, cout = w_shape.as_list()
        n, ho, wo, _ = y_shape.as_list()  # n > 1 where Keras runs an atrous conv as space-to-batch
        found.append(
            {
                "input": tuple(x_shape.as_list()),
                "filter": (kh, kw, cin, cout),
                "strides": tuple(op.get_attr("strides"))[1:3],
                "dilations": dilations,
                "padding": op.get_attr("padding").decode(),
                "flops": 2 * n * ho * wo * kh * kw * cin * cout,
                "explicit_paddings": tuple(op.get_attr("explicit_paddings")),
            }
        )
    return found


def _timer(conv: dict[str, Any], dtype: tf.DType):
    """A call of this convolution as the graph runs it (one Conv2D op with its dilations), plus bias and ReLU."""
    padding = conv["padding"] if conv["padding"] != "EXPLICIT" else list(zip(*[iter(conv["explicit_paddings"])] * 2))
    strides, dilations = [1, *conv["strides"], 1], [1, *conv["dilations"], 1]
    return conv_call(
        conv["input"],
        conv["filter"],
        dtype,
        lambda x, w: tf.nn.conv2d(x, w, strides=strides, padding=padding, dilations=dilations),
    )


def conv_table(model, height: int, width: int, dtype: tf.DType = tf.float32, iterations: int = 7) -> dict[str, Any]:
    """Rows (one per distinct convolution, most FLOPs first) with count, GFLOP share, GFLOP/s and ratio to the
    reference; totals: estimated conv seconds per frame and the FLOP-weighted ratio to the reference."""
    convs = graph_convolutions(model, height, width)
    groups: dict[tuple, dict[str, Any]] = {}
    for conv in convs:
        key = (conv["input"], conv["filter"], conv["strides"], conv["dilations"], conv["padding"])
        key += (conv["explicit_paddings"],)
        groups.setdefault(key, {**conv, "count": 0})["count"] += 1
    total_flops = sum(c["flops"] for c in convs)
    reference_flops = conv_flops(**CONV_REFERENCE)
    rows, references = [], []
    for conv in sorted(groups.values(), key=lambda c: -c["flops"] * c["count"]):
        references.append(conv_gflops(dtype, iterations=3, warmup=1))
        seconds = median_seconds(_timer(conv, dtype), iterations)
        rows.append(
            {
                "input": list(conv["input"]),
                "filter": list(conv["filter"]),
                "strides": list(conv["strides"]),
                "dilations": list(conv["dilations"]),
                "count": conv["count"],
                "flop_share": conv["flops"] * conv["count"] / total_flops,
                "ms": 1000.0 * seconds,
                "gflops": conv["flops"] / seconds / 1e9,
                "reference_gflops": references[-1],
            }
        )
    reference = max(references)  # the best: load only slows a measurement down (references.best_conv_gflops)
    for row in rows:
        row["ratio_to_reference"] = row["gflops"] / reference
    conv_seconds = sum(r["ms"] * r["count"] for r in rows) / 1000.0
    return {
        "rows": rows,
        "convolutions": len(convs),
        "gflops_per_frame": total_flops / 1e9,
        "reference_gflops": reference,
        "reference_flops": reference_flops,
        "estimated_conv_seconds": conv_seconds,
        "estimated_gflops": total_flops / conv_seconds / 1e9,
        "estimated_ratio_to_reference": total_flops / conv_seconds / 1e9 / reference,
    }


def format_conv_table(table: dict[str, Any], top: int = 25) -> str:
    header = f"{'input':<18} {'filter':<18} {'dil':>3} {'str':>3} {'n':>3} {'flops %':>7} {'ms':>8} {'GFLOP/s':>8}"
    lines = [header + f" {'vs ref':>6}"]
    for r in table["rows"][:top]:
        lines.append(
            f"{'x'.join(map(str, r['input'][1:])):<18} {'x'.join(map(str, r['filter'])):<18} "
            f"{r['dilations'][0]:>3} {r['strides'][0]:>3} {r['count']:>3} {100 * r['flop_share']:>7.1f} "
            f"{r['ms']:>8.2f} {r['gflops']:>8.1f} {r['ratio_to_reference']:>6.2f}"
        )
    lines.append(
        f"{table['convolutions']} convolutions, {table['gflops_per_frame']:.1f} GFLOP/frame; sum of their times "
        f"{table['estimated_conv_seconds']:.3f} s = {table['estimated_gflops']:.0f} GFLOP/s = "
        f"{table['estimated_ratio_to_reference']:.2f} of the 3x3 reference ({table['reference_gflops']:.0f} GFLOP/s)"
    )
    return "\n".join(lines)
