"""Where inference time goes: TensorFlow profiler time per op type, grouped into the network's kinds of work.

    depthnet-bench --config=full --precision=fp32,bf16 --profile

:func:`profile_ops` runs a traced function a few times under ``tf.profiler.experimental`` and reads the
host trace (the ``.xplane.pb`` the profiler writes): every op the TensorFlow executor ran is one event
``<op name>:<op type>`` with its duration. Op types are the ones that actually ran, after grappler and
oneDNN rewrote the graph (e.g. ``_MklNativeFusedConv2D`` = convolution + bias (+ add) (+ ReLU) in one
kernel). :func:`categorise` puts each op into one of :data:`CATEGORIES`:

- ``conv``: convolutions and matmuls (fused or not, with whatever they fused);
- ``batchnorm``: ops inside a BatchNormalization layer (Keras runs inference BN as elementwise
  multiply/add on every feature map, plus a float32 cast on each side under mixed precision);
- ``attention``: the Attention Fuse Blocks' own ops (concat, global pool, sigmoid, reweighting);
- ``resize``: bilinear resizes; ``pad_space_to_batch``: Pad, SpaceToBatchND, BatchToSpaceND (how
  TensorFlow runs a dilated convolution on the CPU);
- ``cast``: every other dtype conversion; ``add_relu``: residual adds, bias adds, ReLUs not fused into a
  convolution; ``other``: the rest (variable reads, reshapes, pooling, the output activation).

Times are the ops' own durations summed (ms per frame); with several inter-op threads ops can overlap,
so the sum may exceed the wall time, which is reported beside it. The profiler adds a little overhead.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any

import tensorflow as tf

CATEGORIES = ("conv", "batchnorm", "add_relu", "cast", "resize", "attention", "pad_space_to_batch", "other")
PAD_TYPES = ("Pad", "PadV2", "MirrorPad", "SpaceToBatchND", "BatchToSpaceND")
ADD_RELU_TYPES = ("AddV2", "Add", "AddN", "BiasAdd", "Relu", "Relu6", "_FusedAdd", "_MklAdd", "_MklAddV2")


def categorise(op_name: str, op_type: str) -> str:
    """The category (one of CATEGORIES) of one executed op."""
    scopes = op_name.lower().split("/")
    base_type = op_type.replace("_MklNative", "").replace("_Mkl", "").lstrip("_")
    if any("_afb" in s for s in scopes):
        return "attention"
    if "BatchNorm" in op_type or any(s.endswith(("_bn", "_bn_1")) or "_bn_" in s for s in scopes):
        return "batchnorm"
    if "Conv" in op_type or "MatMul" in op_type:
        return "conv"
    if base_type in PAD_TYPES:
        return "pad_space_to_batch"
    if base_type.startswith("Resize"):
        return "resize"
    if base_type == "Cast":
        return "cast"
    if op_type in ADD_RELU_TYPES or base_type in ADD_RELU_TYPES:
        return "add_relu"
    return "other"


def _xplane_op_events(logdir: str) -> list[tuple[str, str, float]]:
    """(op name, op type, seconds) of every executor op event in the profile written under `logdir`."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    paths = sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True))
    if not paths:
        raise RuntimeError(f"the TensorFlow profiler wrote no .xplane.pb under {logdir}")
    space = xplane_pb2.XSpace()
    with open(paths[-1], "rb") as f:
        space.ParseFromString(f.read())
    events = []
    for plane in space.planes:
        if not plane.name.startswith("/host:"):
            continue
        metadata = plane.event_metadata
        for line in plane.lines:
            if not line.name.startswith("tf_Compute") and "Executor" not in line.name:
                continue
            for event in line.events:
                name = metadata[event.metadata_id].name
                if "::" in name or ":" not in name:  # runtime markers, not ops
                    continue
                op_name, op_type = name.rsplit(":", 1)
                events.append((op_name, op_type, event.duration_ps * 1e-12))
    return events


def profile_ops(fn: Callable[[], Any], iterations: int = 2, frames_per_call: int = 1) -> dict[str, Any]:
    """Profiles `iterations` calls of `fn` (already traced and warmed up); ms per frame per category.

    Returns {'ms_per_frame': {category: ms}, 'share': {category: fraction of the op time},
    'op_ms_per_frame': total, 'wall_ms_per_frame': wall time under the profiler,
    'top_op_types': [(op type, ms per frame)] (10 slowest), 'ops': number of op events per call}.
    """
    logdir = tempfile.mkdtemp(prefix="depthnet_profile_")
    try:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        try:
            for _ in range(max(1, iterations)):
                out = fn()
                if hasattr(out, "numpy"):
                    out.numpy()
        finally:
            wall = time.perf_counter() - start
            tf.profiler.experimental.stop()
        events = _xplane_op_events(logdir)
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
    frames = max(1, iterations) * max(1, frames_per_call)
    by_category = dict.fromkeys(CATEGORIES, 0.0)
    by_type: dict[str, float] = {}
    for op_name, op_type, seconds in events:
        by_category[categorise(op_name, op_type)] += seconds
        by_type[op_type] = by_type.get(op_type, 0.0) + seconds
    total = sum(by_category.values())
    return {
        "ms_per_frame": {k: 1000.0 * v / frames for k, v in by_category.items()},
        "share": {k: (v / total if total else 0.0) for k, v in by_category.items()},
        "op_ms_per_frame": 1000.0 * total / frames,
        "wall_ms_per_frame": 1000.0 * wall / frames,
        "top_op_types": [[t, 1000.0 * s / frames] for t, s in sorted(by_type.items(), key=lambda kv: -kv[1])[:10]],
        "ops": len(events) // max(1, iterations),
    }


def profile_model(model, batch: int, height: int, width: int, iterations: int = 2) -> dict[str, Any]:
    """:func:`profile_ops` of `model(x, training=False)` in a tf.function on a random batch."""
    x = tf.random.stateless_uniform([batch, height, width, 3], seed=[0, batch])
    step = tf.function(lambda images: model(images, training=False))
    step(x).numpy()  # trace and warm up outside the profile
    return profile_ops(lambda: step(x), iterations, batch)


def profile_table(profiles: dict[str, dict[str, Any]]) -> str:
    """A markdown table, one column per profile (e.g. 'fp32', 'bf16'): ms per frame and share per category."""
    names = list(profiles)
    lines = ["| op type | " + " | ".join(f"{n} ms/frame (share)" for n in names) + " |"]
    lines.append("|---|" + "---|" * len(names))
    for category in CATEGORIES:
        cells = [f"{p['ms_per_frame'][category]:.1f} ({100 * p['share'][category]:.1f}%)" for p in profiles.values()]
        lines.append(f"| {category} | " + " | ".join(cells) + " |")
    lines.append("| all ops | " + " | ".join(f"{p['op_ms_per_frame']:.1f}" for p in profiles.values()) + " |")
    lines.append("| wall | " + " | ".join(f"{p['wall_ms_per_frame']:.1f}" for p in profiles.values()) + " |")
    return "\n".join(lines)
