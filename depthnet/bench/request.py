"""What a `depthnet-bench` request runs, from plain values (the CLI parses and checks the flags).

:func:`default_input_size` is the size a benchmark feeds unless told otherwise (the working size
`depthnet-eval` and `depthnet-predict` feed a 480x640 frame at), :func:`conv_shapes` the convolution-by-
convolution sweep over precisions (:mod:`depthnet.bench.conv_shapes`), :func:`accuracy` the abs_rel per
precision block of a network benchmark (:func:`depthnet.bench.network_speed.precision_accuracy`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Optional

from depthnet.checkpoints import read_run_config_json
from depthnet.config import preset
from depthnet.data import pipeline as data


def default_input_size(config: str, model_dir: Optional[str] = None) -> tuple[int, int]:
    """The working size of the training run `model_dir` (its config.json), else of the preset `config`.

    Raises OSError when `model_dir` has no config.json, ValueError for an unknown preset."""
    if model_dir:
        return data.resize_for_crop(read_run_config_json(model_dir)["model"]["input_size"])
    return data.resize_for_crop(preset(config).input_size)


def conv_shapes(
    config: str,
    precisions: Sequence[str],
    height: int,
    width: int,
    iterations: int,
    log: Optional[Callable[[str], None]] = None,
) -> dict[str, Any]:
    """:func:`depthnet.bench.conv_shapes.conv_table` of the `config` network's inference graph (BatchNorm
    folded) at batch 1 and `height` x `width`, per precision, with at least 3 timed calls per shape; `log` gets
    each precision's table as text. The precision is fp32 again afterwards."""
    from depthnet.bench.conv_shapes import conv_table, format_conv_table
    from depthnet.bench.network_speed import PRECISION_DTYPES
    from depthnet.modeling.fold import inference_graph
    from depthnet.modeling.model import build_model
    from depthnet.precision import set_precision

    result: dict[str, Any] = {"config": config, "input_size": [height, width], "precisions": {}}
    try:
        for precision in precisions:
            set_precision(precision)
            model = inference_graph(build_model(preset(config, backbone_weights=None)))
            table = conv_table(model, height, width, PRECISION_DTYPES[precision], max(3, iterations))
            result["precisions"][precision] = table
            if log is not None:
                heading = f"{precision}, {config} network at {height}x{width}, batch 1:"
                log(f"{heading}\n{format_conv_table(table)}\n")
    finally:
        set_precision("fp32")
    return result


def accuracy(model_dir: str, data_dir: str, precisions: Sequence[str], frames: Optional[int] = None) -> dict[str, Any]:
    """abs_rel of the training run `model_dir` on the prepared split `data_dir` at every precision (and its
    change relative to fp32), on at most `frames` frames (0 or None: all), with both paths made absolute."""
    from depthnet.bench.network_speed import precision_accuracy

    return {
        "model_dir": os.path.abspath(model_dir),
        "data_dir": os.path.abspath(data_dir),
        "precisions": precision_accuracy(model_dir, data_dir, precisions, frames or None),
    }
