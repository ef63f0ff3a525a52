"""The inference benchmark behind `depthnet-bench`: speed and arithmetic of the network, next to a matmul reference.

    depthnet-bench --config=full --precision=fp32,bf16 --batch_sizes=1,3,8 --iterations=5
    depthnet-bench --config=quick --iterations=3 --output_json=bench.json

For each precision (fp32; bf16 = Keras mixed_bfloat16 via precision.set_precision) it builds the model
(random weights: speed does not depend on them), traces a `tf.function` of the inference call at
`--height` x `--width` (default 240x320, the paper's input) per batch size, warms it up, and times
`--iterations` calls. In the same run it times a `--matmul_size`^3 matrix product in that precision
as the machine's reference throughput. Printed (and written to `--output_json`)::

    {"precisions": {"fp32": {"fps_b1", "fps_b8", "ms_per_frame_b1", "ms_per_frame_b8",
                             "gflops_per_frame", "gflops_per_frame_tf_profiler",
                             "achieved_gflops", "achieved_gflops_b1", "achieved_gflops_b8",
                             "matmul_gflops", "ratio_to_matmul", ...}, "bf16": {...}},
     "config": ..., "input_size": [240, 320], "flops_method": ..., "machine": {...}}

FLOPs per frame (:func:`count_flops_analytic`): 2 x the multiply-accumulates of every Conv2D,
Conv2DTranspose, DepthwiseConv2D and Dense layer (2*Hout*Wout*kh*kw*Cin/groups*Cout for a
convolution; 2*Hin*Win*kh*kw*Cin*Cout for a transposed one), with each layer's shapes recorded
while tracing the model at the benchmark size (no computation). Biases, BatchNorm, activations,
resizes and elementwise ops are not counted (the usual convention). Cross-check:
`gflops_per_frame_tf_profiler` is TensorFlow's own count (`tf.compat.v1.profiler`, float_ops of the
traced graph: it also counts the elementwise ops); its convolution part
(`gflops_per_frame_tf_profiler_conv`) equals the analytic count exactly whenever the feature maps are
multiples of the atrous rates (tested: tiny config at 64x96, baseline). Otherwise TensorFlow runs a
dilated convolution as SpaceToBatchND + Conv2D + BatchToSpaceND and pads the feature map to a
multiple of the rate, and the profiler counts that padded work: at 240x320 (60x80 maps, rate 8) it
is 1.1% more for the full network (503.2 vs 497.9 GFLOPs). `achieved_gflops` = FLOPs per frame x
frames/s at the fastest batch size; `ratio_to_matmul` = achieved / matmul GFLOP/s (TensorFlow's matmul in
that precision); `ratio_to_numpy_fp32_matmul` = achieved / a float32 numpy (BLAS) matmul, the stricter
reference where TensorFlow's matmul is slow. `machine.isa` lists the CPU's matrix extensions:
without AMX or AVX512-BF16, bf16 is emulated and gives no speed-up (the benchmark says so).

Timed is the folded inference graph (`modeling.fold.inference_graph`; `fold=False`: the model); `ratio_to_conv`
= achieved / a 3x3 256-channel convolution in that precision (`references`, best of 3); `profile=True` adds the TF
profiler's ms per op type (`profiling`). `--jit_compile` times the model compiled with XLA.
`--accuracy_model_dir` + `--accuracy_data_dir` score a trained run at every precision on the same
frames (`accuracy.precisions.<p>.abs_rel` and `abs_rel_change_vs_fp32`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import tensorflow as tf

from depthnet.bench.conv_reference import CONV_REFERENCE, best_conv_gflops
from depthnet.bench.profiling import profile_model, profile_table
from depthnet.config import preset
from depthnet.evaluation.evaluate import Protocol, evaluate_predictor, iter_split_frames
from depthnet.evaluation.metrics import COUNT_KEYS, METRIC_KEYS
from depthnet.inference import SIZE_MULTIPLE, Predictor
from depthnet.modeling.fold import inference_graph
from depthnet.modeling.model import build_model, count_params
from depthnet.precision import SIXTEEN_BIT_UNITS, cpu_isa, cpu_model, precision_warning, set_precision

PRECISION_DTYPES = {"fp32": tf.float32, "bf16": tf.bfloat16, "fp16": tf.float16}
CONV_OP_TYPES = (
    "Conv2D",
    "Conv2DBackpropInput",
    "DepthwiseConv2dNative",
    "MatMul",
    "BatchMatMulV2",
    "BatchMatMulV3",
    "_FusedConv2D",
    "_FusedMatMul",
)


# ---------------------------------------------------------------------------------------------- FLOPs


def _counted_layers(model) -> list:
    import keras

    kinds = (keras.layers.Conv2D, keras.layers.Conv2DTranspose, keras.layers.DepthwiseConv2D, keras.layers.Dense)
    return [layer for layer in model._flatten_layers(include_self=False, recursive=True) if isinstance(layer, kinds)]


def layer_flops(layer, input_shape: Sequence[int], output_shape: Sequence[int]) -> int:
    """2 x multiply-accumulates of one call of a Conv2D / Conv2DTranspose / DepthwiseConv2D / Dense layer."""
    import keras

    inp = [int(d) for d in input_shape]
    out = [int(d) for d in output_shape]
    if isinstance(layer, keras.layers.Conv2DTranspose):  # each input pixel scatters a kh x kw x Cout patch
        kh, kw = layer.kernel_size
        return 2 * inp[0] * inp[1] * inp[2] * kh * kw * inp[3] * out[3]
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        return 2 * int(np.prod(out)) * kh * kw
    if isinstance(layer, keras.layers.Conv2D):
        kh, kw = layer.kernel_size
        return 2 * int(np.prod(out)) * kh * kw * (inp[3] // layer.groups)
    if isinstance(layer, keras.layers.Dense):
        return 2 * int(np.prod(out)) * inp[-1]
    raise TypeError(f"no FLOP rule for {type(layer).__name__}")


def _trace_shapes(model, batch: int, height: int, width: int) -> tuple[list, Any]:
    """Traces model(x) at a fixed shape, recording (layer, input shape, output shape) of counted layers."""
    records: list = []
    patched = []
    for layer in _counted_layers(model):
        had = "call" in layer.__dict__
        original = layer.call

        def wrapped(inputs, *args, _orig=original, _layer=layer, **kwargs):
            outputs = _orig(inputs, *args, **kwargs)
            records.append((_layer, tuple(inputs.shape), tuple(outputs.shape)))
            return outputs

        layer.call = wrapped
        patched.append((layer, had, original))
    try:
        inputs = getattr(model, "inputs", None)
        channels = int(inputs[0].shape[-1]) if inputs and inputs[0].shape[-1] is not None else 3
        spec = tf.TensorSpec([batch, height, width, channels], tf.float32)
        concrete = tf.function(lambda x: model(x, training=False), autograph=False).get_concrete_function(spec)
    finally:
        for layer, had, original in patched:
            if had:
                layer.call = original
            else:
                del layer.call
    return records, concrete


def count_flops_analytic(model, height: int, width: int, batch: int = 1) -> dict[str, Any]:
    """{'total': FLOPs for `batch` frames, 'by_type': {...}, 'layers': n} by the rule in the module docstring."""
    records, _ = _trace_shapes(model, batch, height, width)
    by_type: dict[str, int] = {}
    for layer, ins, outs in records:
        if any(d is None for d in ins + outs):
            raise ValueError(f"layer {layer.name} has an unknown dimension at {height}x{width}: {ins} -> {outs}")
        by_type[type(layer).__name__] = by_type.get(type(layer).__name__, 0) + layer_flops(layer, ins, outs)
    return {"total": int(sum(by_type.values())), "by_type": by_type, "layers": len(records)}


def count_flops_tf(fn, input_shape: Sequence[int]) -> dict[str, Any]:
    """TensorFlow's own FLOP count (tf.compat.v1.profiler float_ops) of `fn` traced at `input_shape`.

    `fn` is a Keras model (called in inference mode) or any function of one float32 tensor.
    Returns {'total', 'by_op': {op type: float ops}, 'conv': conv/matmul op types only}.
    """
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    if hasattr(fn, "layers"):
        model = fn
        fn = lambda x: model(x, training=False)
    concrete = tf.function(fn, autograph=False).get_concrete_function(tf.TensorSpec(list(input_shape), tf.float32))
    graph = convert_variables_to_constants_v2(concrete).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(graph=graph, cmd="scope", options=options)
    types = {op.name: op.type for op in graph.get_operations()}
    by_op: dict[str, int] = {}
    stack = list(profile.children)
    while stack:  # every graph node once, aggregated by op type
        node = stack.pop()
        if node.float_ops:
            key = types.get(node.name, "?")
            by_op[key] = by_op.get(key, 0) + int(node.float_ops)
        stack.extend(node.children)
    conv = sum(v for k, v in by_op.items() if k in CONV_OP_TYPES)
    return {"total": int(profile.total_float_ops), "by_op": by_op, "conv": int(conv)}


# ---------------------------------------------------------------------------------------------- timing


def time_model(
    model,
    batch: int,
    height: int,
    width: int,
    iterations: int,
    warmup: int = 1,
    seed: int = 0,
    jit_compile: bool = False,
) -> dict[str, float]:
    """Frames/s and ms/frame of `model(x, training=False)` in a tf.function (XLA with `jit_compile`)."""
    x = tf.random.stateless_uniform([batch, height, width, 3], seed=[seed, batch])

    @tf.function(jit_compile=jit_compile)
    def step(images: tf.Tensor) -> tf.Tensor:
        return model(images, training=False)

    for _ in range(max(1, warmup)):  # the first call traces
        step(x).numpy()
    times = []
    for _ in range(max(1, iterations)):
        start = time.perf_counter()
        step(x).numpy()
        times.append(time.perf_counter() - start)
    total = float(sum(times))
    fps = batch * len(times) / total
    return {
        "fps": fps,
        "ms_per_frame": 1000.0 / fps,
        "ms_per_batch_median": 1000.0 * float(np.median(times)),
        "iterations": len(times),
    }


def matmul_gflops(size: int, dtype: tf.DType, iterations: int = 3, warmup: int = 1) -> float:
    """GFLOP/s of a size x size x size matrix product (2 size^3 FLOPs) in `dtype`."""
    a = tf.cast(tf.random.stateless_normal([size, size], seed=[1, 2]), dtype)
    b = tf.cast(tf.random.stateless_normal([size, size], seed=[3, 4]), dtype)

    @tf.function
    def mm(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        return tf.reduce_sum(tf.cast(tf.matmul(x, y)[:1, :1], tf.float32))

    for _ in range(max(1, warmup)):
        mm(a, b).numpy()
    start = time.perf_counter()
    for _ in range(max(1, iterations)):
        mm(a, b).numpy()
    elapsed = time.perf_counter() - start
    return 2.0 * size**3 * max(1, iterations) / elapsed / 1e9


def numpy_matmul_gflops(size: int, iterations: int = 3) -> float:
    """GFLOP/s of a float32 size^3 product in numpy (its BLAS, e.g. OpenBLAS): a second reference, since
    TensorFlow's own CPU matmul can reach well under the machine's peak (about half here, on AMD)."""
    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    a @ b
    start = time.perf_counter()
    for _ in range(max(1, iterations)):
        a @ b
    return 2.0 * size**3 * max(1, iterations) / (time.perf_counter() - start) / 1e9


def machine_info() -> dict[str, Any]:
    """CPU model, the CPU flags that decide bf16 speed, and TF's threading."""
    isa = cpu_isa()
    return {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "tensorflow": tf.__version__,
        "isa": isa,
        "bf16_hardware": bool(SIXTEEN_BIT_UNITS["bf16"] & set(isa)),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
    }


def precision_accuracy(
    model_dir: str,
    split_dir: str,
    precisions: Sequence[str],
    max_frames: Optional[int] = None,
    checkpoint: str = "best",
) -> dict[str, dict[str, float]]:
    """Metrics of a trained run at each precision on the same frames, and the change relative to fp32.

    Each entry: the standard metrics (no crop, 0.001-10 m, per image) and, when fp32 is among the
    precisions, `abs_rel_change_vs_fp32` = |abs_rel - abs_rel_fp32| / abs_rel_fp32 and
    `max_abs_depth_diff_m` / `mean_abs_depth_diff_m` between the two predictions.
    """
    out: dict[str, dict[str, float]] = {}
    preds: dict[str, list[np.ndarray]] = {}
    try:
        for precision in precisions:
            predictor = Predictor.from_model_dir(model_dir, checkpoint, precision)
            kept: list[np.ndarray] = []

            def predict(images, _p=predictor, _kept=kept):
                depth = _p(images)
                _kept.append(np.asarray(depth, np.float32))
                return depth

            metrics, _ = evaluate_predictor(
                predict, iter_split_frames(split_dir, max_frames), Protocol(input_size=predictor.working)
            )
            out[precision] = {k: float(metrics[k]) for k in METRIC_KEYS + COUNT_KEYS}
            preds[precision] = kept
    finally:
        set_precision("fp32")
    if "fp32" in out:
        for precision in out:
            if precision == "fp32":
                continue
            diffs = [np.abs(a - b) for a, b in zip(preds[precision], preds["fp32"])]
            out[precision]["abs_rel_change_vs_fp32"] = abs(out[precision]["abs_rel"] - out["fp32"]["abs_rel"]) / max(
                out["fp32"]["abs_rel"], 1e-12
            )
            out[precision]["max_abs_depth_diff_m"] = float(max(d.max() for d in diffs))
            out[precision]["mean_abs_depth_diff_m"] = float(np.mean([d.mean() for d in diffs]))
    return out


def benchmark(
    config_name: str = "full",
    precisions: Sequence[str] = ("fp32",),
    batch_sizes: Sequence[int] = (1, 8),
    height: int = 240,
    width: int = 320,
    iterations: int = 5,
    warmup: int = 1,
    matmul_size: int = 4096,
    matmul_iterations: int = 3,
    tf_profiler: bool = True,
    jit_compile: bool = False,
    log=None,
    fold: bool = True,
    profile: bool = False,
    conv_reference: bool = True,
) -> dict[str, Any]:
    """The whole benchmark as a JSON-able dict (module docstring)."""
    log = log or (lambda s: None)
    if height % SIZE_MULTIPLE or width % SIZE_MULTIPLE:
        raise ValueError(f"--height and --width must be multiples of {SIZE_MULTIPLE}, got {height}x{width}")
    config = dataclasses.replace(preset(config_name), backbone_weights=None)
    result: dict[str, Any] = {
        "config": config_name,
        "model": config.to_dict(),
        "input_size": [height, width],
        "batch_sizes": list(batch_sizes),
        "iterations": iterations,
        "warmup": warmup,
        "jit_compile": jit_compile,
        "fold_batchnorm": fold,
        "matmul_size": matmul_size,
        "conv_reference": dict(CONV_REFERENCE, dilated_rate=4) if conv_reference else None,
        "machine": machine_info(),
        "precisions": {},
        "flops_method": (
            "analytic: 2 x multiply-accumulates of Conv2D/Conv2DTranspose/"
            "DepthwiseConv2D/Dense layers at the benchmark size (bias, BN, "
            "activations, resizes, elementwise not counted); "
            "gflops_per_frame_tf_profiler: tf.compat.v1.profiler float_ops of "
            "the traced graph (all ops)"
        ),
    }
    flops = None
    try:
        for precision in precisions:
            if precision not in PRECISION_DTYPES:
                raise ValueError(f"unknown precision {precision!r}; choose from {', '.join(PRECISION_DTYPES)}")
            warning = precision_warning(precision)
            if warning:
                log("note: " + warning)
            set_precision(precision)
            model = build_model(config)
            if flops is None:
                analytic = count_flops_analytic(model, height, width)
                flops = {"analytic": analytic["total"], "by_type": analytic["by_type"]}
                if tf_profiler:
                    prof = count_flops_tf(model, [1, height, width, 3])
                    flops.update(tf_profiler=prof["total"], tf_profiler_conv=prof["conv"])
                result["params"] = count_params(model.weights)
                result["flops_by_layer_type"] = flops["by_type"]
            entry: dict[str, Any] = {"gflops_per_frame": flops["analytic"] / 1e9}
            if "tf_profiler" in flops:
                entry["gflops_per_frame_tf_profiler"] = flops["tf_profiler"] / 1e9
                entry["gflops_per_frame_tf_profiler_conv"] = flops["tf_profiler_conv"] / 1e9
            timed = inference_graph(model) if fold else model  # the inference graph (modeling.fold)
            best = 0.0
            for batch in batch_sizes:
                log(f"{precision}: batch {batch}, {height}x{width}, {iterations} iterations ...")
                t = time_model(timed, int(batch), height, width, iterations, warmup, jit_compile=jit_compile)
                entry[f"fps_b{batch}"] = t["fps"]
                entry[f"ms_per_frame_b{batch}"] = t["ms_per_frame"]
                entry[f"ms_per_batch_median_b{batch}"] = t["ms_per_batch_median"]
                entry[f"achieved_gflops_b{batch}"] = entry["gflops_per_frame"] * t["fps"]
                best = max(best, entry[f"achieved_gflops_b{batch}"])
            entry["achieved_gflops"] = best
            log(f"{precision}: matmul {matmul_size}^3 ...")
            entry["matmul_gflops"] = matmul_gflops(matmul_size, PRECISION_DTYPES[precision], matmul_iterations)
            entry["ratio_to_matmul"] = best / entry["matmul_gflops"]
            if "numpy_fp32_matmul_gflops" not in result:
                result["numpy_fp32_matmul_gflops"] = numpy_matmul_gflops(matmul_size, matmul_iterations)
            entry["ratio_to_numpy_fp32_matmul"] = best / result["numpy_fp32_matmul_gflops"]
            if conv_reference:  # references.conv_gflops: a 3x3 256-channel conv, plain and at rate 4
                log(f"{precision}: 3x3 convolution reference ...")
                entry["conv_gflops"] = best_conv_gflops(PRECISION_DTYPES[precision])
                entry["conv_gflops_dilated"] = best_conv_gflops(PRECISION_DTYPES[precision], dilation=4)
                entry["ratio_to_conv"] = best / entry["conv_gflops"]
            if profile:  # profiling.profile_model: TF profiler time per op type, batch 1
                log(f"{precision}: profile ...")
                entry["profile"] = profile_model(timed, 1, height, width, max(1, min(iterations, 2)))
            result["precisions"][precision] = entry
            del model, timed
    finally:
        set_precision("fp32")
    if profile:
        result["profile_table"] = profile_table({p: e["profile"] for p, e in result["precisions"].items()})
    return result
