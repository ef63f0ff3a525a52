"""`depthnet-bench`'s readable output: a short table of a benchmark result (the JSON stays behind `--json`)."""

from __future__ import annotations

from typing import Any


def _cell(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_bench_table(result: dict[str, Any]) -> str:
    """One line per (precision, batch): frames/s, ms/frame, achieved GFLOP/s and its ratios to the 3x3-conv and
    matmul references, under a header naming the config, input size, GFLOPs per frame and the machine."""
    machine = result.get("machine", {})
    height, width = result["input_size"]
    precisions = result["precisions"]
    gflops = next(iter(precisions.values()), {}).get("gflops_per_frame")
    params = result.get("params", {})
    total_params = params.get("total") if isinstance(params, dict) else params
    lines = [
        f"config {result['config']}, input {height}x{width}, {_cell(gflops)} GFLOPs/frame"
        + (f", {total_params / 1e6:.1f}M parameters" if isinstance(total_params, (int, float)) else ""),
        f"machine {machine.get('cpu', '?')}, {machine.get('logical_cpus', '?')} logical CPUs, "
        f"bf16 hardware: {'yes' if machine.get('bf16_hardware') else 'no (emulated)'}",
        "",
        "| precision | batch | frames/s | ms/frame | GFLOP/s | vs 3x3 conv | vs TF matmul | vs numpy fp32 matmul |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    numpy_ref = result.get("numpy_fp32_matmul_gflops")
    for precision, entry in precisions.items():
        for batch in result["batch_sizes"]:
            achieved = entry.get(f"achieved_gflops_b{batch}")
            matmul, conv = entry.get("matmul_gflops"), entry.get("conv_gflops")
            lines.append(
                f"| {precision} | {batch} | {_cell(entry.get(f'fps_b{batch}'), 2)} | "
                f"{_cell(entry.get(f'ms_per_frame_b{batch}'))} | {_cell(achieved)} | "
                f"{_cell(achieved / conv if achieved and conv else None, 2)} | "
                f"{_cell(achieved / matmul if achieved and matmul else None, 2)} | "
                f"{_cell(achieved / numpy_ref if achieved and numpy_ref else None, 2)} |"
            )
    references = ", ".join(f"{p} {_cell(e.get('matmul_gflops'))}" for p, e in precisions.items())
    convs = ", ".join(f"{p} {_cell(e.get('conv_gflops'))}" for p, e in precisions.items())
    lines += [
        "",
        f"references (GFLOP/s): 3x3 conv {convs}; TF matmul {references}; numpy fp32 matmul {_cell(numpy_ref)}",
    ]
    accuracy = result.get("accuracy", {}).get("precisions", {})
    for precision, metrics in accuracy.items():
        change = metrics.get("abs_rel_change_vs_fp32")
        lines.append(
            f"accuracy {precision}: abs_rel {metrics['abs_rel']:.4f}"
            + (f" ({100 * change:.2f}% from fp32)" if change is not None else "")
        )
    lines.append("(all numbers: --json; the analytic FLOP count and the profiler's are explained there)")
    return "\n".join(lines)
