"""What a configuration is made of: parameter counts per group, side-output and output shapes (`depthnet-summary`)."""

from __future__ import annotations

import time

import numpy as np

from depthnet.modeling.backbone import ImageNetPreprocess
from depthnet.modeling.model import DFE_NAME, build_model, count_params, variable_groups


def describe(config) -> dict:
    """Builds the model and returns parameter counts, side-output shapes and the output shape."""
    model = build_model(config)
    dfe = model.get_layer(DFE_NAME)
    groups = variable_groups(model)
    height, width = config.input_size
    sample = np.random.default_rng(0).random((1, height, width, 3), dtype=np.float32)
    start = time.perf_counter()
    side_outputs = dfe(ImageNetPreprocess()(sample))
    depth = model(sample)
    seconds = time.perf_counter() - start
    dmg_vars = [v for v in model.weights if not any(v is w for w in dfe.weights)]
    return {
        "name": model.name,
        "config": config.to_dict(),
        "dfe_params": count_params(dfe.weights),
        "dfe_trainable_params": count_params(groups["dfe"]),
        "dmg_params": count_params(dmg_vars),
        "dmg_trainable_params": count_params(groups["dmg"]),
        "side_output_shapes": [tuple(int(d) for d in s.shape) for s in side_outputs],
        "input_shape": (1, height, width, 3),
        "output_shape": tuple(int(d) for d in depth.shape),
        "output_range_m": (float(np.min(depth)), float(np.max(depth))),
        "sample_seconds": seconds,
    }


def format_summary(info: dict) -> str:
    lines = [
        f"model            {info['name']}",
        f"variant/backbone {info['config']['variant']} / {info['config']['backbone']}"
        f"  atrous rates {tuple(info['config']['atrous_rates'])}  weights {info['config']['backbone_weights']}",
        f"DFE parameters   {info['dfe_params']:,} ({info['dfe_trainable_params']:,} trainable)",
        f"DMG parameters   {info['dmg_params']:,} ({info['dmg_trainable_params']:,} trainable)",
        f"input            {info['input_shape']}",
    ]
    for stage, shape in enumerate(info["side_output_shapes"], start=1):
        lines.append(f"side output {stage}    {shape}")
    lines.append(f"output (depth m) {info['output_shape']}")
    lines.append(f"forward pass     {info['sample_seconds']:.2f} s (first call, includes tracing)")
    return "\n".join(lines)
