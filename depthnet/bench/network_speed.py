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

FLOPs per frame (:func:`depthnet.bench.flops.count_flops_analytic`): 2 x the multiply-accumulates of every Conv2D,
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
from depthnet.bench.flops import CONV_OP_TYPES, count_flops_analytic, count_flops_tf, layer_flops  # noqa: F401 (re-exported)
from depthnet.bench.profiling import profile_model, profile_table
from depthnet.config import preset
from depthnet.evaluation.evaluate import Protocol, evaluate_predictor, iter_split_frames
from depthnet.evaluation.metrics import COUNT_KEYS, METRIC_KEYS
from depthnet.inference import SIZE_MULTIPLE, Predictor
from depthnet.modeling.fold import inference_graph
from depthnet.modeling.model import build_model, count_params
from depthnet.precision import SIXTEEN_BIT_UNITS, cpu_isa, cpu_model, precision_warning, set_precision

PRECISION_DTYPES = {"fp32": tf.float32, "bf16": tf.bfloat16, "fp16": tf.float16}


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


@dataclasses.dataclass(frozen=True)
class BenchSettings:
    """The arguments of :func:`benchmark` (its docstring and the module docstring)."""

    config_name: str = "full"
    precisions: Sequence[str] = ("fp32",)
    batch_sizes: Sequence[int] = (1, 8)
    height: int = 240
    width: int = 320
    iterations: int = 5
    warmup: int = 1
    matmul_size: int = 4096
    matmul_iterations: int = 3
    tf_profiler: bool = True
    jit_compile: bool = False
    fold: bool = True
    profile: bool = False
    conv_reference: bool = True


FLOPS_METHOD = (
    "analytic: 2 x multiply-accumulates of Conv2D/Conv2DTranspose/"
    "DepthwiseConv2D/Dense layers at the benchmark size (bias, BN, "
    "activations, resizes, elementwise not counted); "
    "gflops_per_frame_tf_profiler: tf.compat.v1.profiler float_ops of "
    "the traced graph (all ops)"
)


def _result_header(settings: BenchSettings, config) -> dict[str, Any]:
    """The benchmark's settings and machine; 'precisions' is filled in per precision."""
    return {
        "config": settings.config_name,
        "model": config.to_dict(),
        "input_size": [settings.height, settings.width],
        "batch_sizes": list(settings.batch_sizes),
        "iterations": settings.iterations,
        "warmup": settings.warmup,
        "jit_compile": settings.jit_compile,
        "fold_batchnorm": settings.fold,
        "matmul_size": settings.matmul_size,
        "conv_reference": dict(CONV_REFERENCE, dilated_rate=4) if settings.conv_reference else None,
        "machine": machine_info(),
        "precisions": {},
        "flops_method": FLOPS_METHOD,
    }


def _model_flops(model, settings: BenchSettings) -> dict[str, Any]:
    """{'analytic', 'by_type'} per frame, plus 'tf_profiler' and 'tf_profiler_conv' with ``tf_profiler``."""
    analytic = count_flops_analytic(model, settings.height, settings.width)
    flops = {"analytic": analytic["total"], "by_type": analytic["by_type"]}
    if settings.tf_profiler:
        prof = count_flops_tf(model, [1, settings.height, settings.width, 3])
        flops.update(tf_profiler=prof["total"], tf_profiler_conv=prof["conv"])
    return flops


def _flops_entry(flops: dict[str, Any]) -> dict[str, Any]:
    """A precision's entry, started with the GFLOPs per frame."""
    entry: dict[str, Any] = {"gflops_per_frame": flops["analytic"] / 1e9}
    if "tf_profiler" in flops:
        entry["gflops_per_frame_tf_profiler"] = flops["tf_profiler"] / 1e9
        entry["gflops_per_frame_tf_profiler_conv"] = flops["tf_profiler_conv"] / 1e9
    return entry


def _time_batches(timed, precision: str, settings: BenchSettings, entry: dict[str, Any], log) -> float:
    """Times every batch size into `entry`; returns the best achieved GFLOP/s."""
    height, width, iterations = settings.height, settings.width, settings.iterations
    best = 0.0
    for batch in settings.batch_sizes:
        log(f"{precision}: batch {batch}, {height}x{width}, {iterations} iterations ...")
        t = time_model(timed, int(batch), height, width, iterations, settings.warmup, jit_compile=settings.jit_compile)
        entry[f"fps_b{batch}"] = t["fps"]
        entry[f"ms_per_frame_b{batch}"] = t["ms_per_frame"]
        entry[f"ms_per_batch_median_b{batch}"] = t["ms_per_batch_median"]
        entry[f"achieved_gflops_b{batch}"] = entry["gflops_per_frame"] * t["fps"]
        best = max(best, entry[f"achieved_gflops_b{batch}"])
    return best


def _references(
    precision: str, best: float, settings: BenchSettings, entry: dict[str, Any], result: dict[str, Any], log
) -> None:
    """The matmul (TF and numpy) and convolution references of one precision and the ratios to them."""
    dtype = PRECISION_DTYPES[precision]
    log(f"{precision}: matmul {settings.matmul_size}^3 ...")
    entry["matmul_gflops"] = matmul_gflops(settings.matmul_size, dtype, settings.matmul_iterations)
    entry["ratio_to_matmul"] = best / entry["matmul_gflops"]
    if "numpy_fp32_matmul_gflops" not in result:
        result["numpy_fp32_matmul_gflops"] = numpy_matmul_gflops(settings.matmul_size, settings.matmul_iterations)
    entry["ratio_to_numpy_fp32_matmul"] = best / result["numpy_fp32_matmul_gflops"]
    if settings.conv_reference:  # references.conv_gflops: a 3x3 256-channel conv, plain and at rate 4
        log(f"{precision}: 3x3 convolution reference ...")
        entry["conv_gflops"] = best_conv_gflops(dtype)
        entry["conv_gflops_dilated"] = best_conv_gflops(dtype, dilation=4)
        entry["ratio_to_conv"] = best / entry["conv_gflops"]


def _bench_precision(
    precision: str, config, settings: BenchSettings, result: dict[str, Any], flops: Optional[dict], log
) -> dict[str, Any]:
    """Benchmarks one precision into result['precisions']; returns the FLOP counts (computed on first use)."""
    if precision not in PRECISION_DTYPES:
        raise ValueError(f"unknown precision {precision!r}; choose from {', '.join(PRECISION_DTYPES)}")
    warning = precision_warning(precision)
    if warning:
        log("note: " + warning)
    set_precision(precision)
    model = build_model(config)
    if flops is None:
        flops = _model_flops(model, settings)
        result["params"] = count_params(model.weights)
        result["flops_by_layer_type"] = flops["by_type"]
    entry = _flops_entry(flops)
    timed = inference_graph(model) if settings.fold else model  # the inference graph (modeling.fold)
    best = _time_batches(timed, precision, settings, entry, log)
    entry["achieved_gflops"] = best
    _references(precision, best, settings, entry, result, log)
    if settings.profile:  # profiling.profile_model: TF profiler time per op type, batch 1
        log(f"{precision}: profile ...")
        entry["profile"] = profile_model(timed, 1, settings.height, settings.width, max(1, min(settings.iterations, 2)))
    result["precisions"][precision] = entry
    return flops


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
    """The whole benchmark as a JSON-able dict (module docstring; the arguments: :class:`BenchSettings`)."""
    settings = BenchSettings(
        config_name=config_name,
        precisions=precisions,
        batch_sizes=batch_sizes,
        height=height,
        width=width,
        iterations=iterations,
        warmup=warmup,
        matmul_size=matmul_size,
        matmul_iterations=matmul_iterations,
        tf_profiler=tf_profiler,
        jit_compile=jit_compile,
        fold=fold,
        profile=profile,
        conv_reference=conv_reference,
    )
    return run_benchmark(settings, log)


def run_benchmark(settings: BenchSettings, log=None) -> dict[str, Any]:
    """:func:`benchmark` with its arguments in one :class:`BenchSettings`."""
    log = log or (lambda s: None)
    if settings.height % SIZE_MULTIPLE or settings.width % SIZE_MULTIPLE:
        raise ValueError(
            f"--height and --width must be multiples of {SIZE_MULTIPLE}, got {settings.height}x{settings.width}"
        )
    config = dataclasses.replace(preset(settings.config_name), backbone_weights=None)
    result = _result_header(settings, config)
    flops = None
    try:
        for precision in settings.precisions:
            flops = _bench_precision(precision, config, settings, result, flops, log)
    finally:
        set_precision("fp32")
    if settings.profile:
        result["profile_table"] = profile_table({p: e["profile"] for p, e in result["precisions"].items()})
    return result
