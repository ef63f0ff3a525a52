"""The main job's evaluation: the trained quick run on its held-out synthetic scenes, beside the best constant.

Scored by :func:`depthnet.evaluation.job.run_evaluation`, the function behind `depthnet-eval`, so

    depthnet-eval --model_dir=runs/quick --data_dir=data/synthetic/test --checkpoint=latest --average=per_image

gives the same numbers by construction (tests/cli/test_main.py). Writes `<run>/eval/metrics.json`,
`main_job.json` (model, best constant, minutes, detail files), panels, a point cloud and a bokeh image.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from depthnet.config import TrainConfig
from depthnet.evaluation.evaluate import best_constant, format_table
from depthnet.evaluation.job import EvalRequest, prepared_split_source, run_evaluation

DETAIL_KEYS = ("dbe_acc", "dbe_comp", "boundary_f1")  # depthnet.evaluation.boundary_metrics
MAIN_JOB_OVERRIDES = {"average": "per_image"}  # the held-out scenes are scored image by image
PANELS = 4


def main_job_request(run_dir: str) -> EvalRequest:
    """The depthnet-eval request the main job runs: the latest checkpoint, per-image means, 4 panels."""
    return EvalRequest(
        output_dir=os.path.join(run_dir, "eval"),
        model_dir=run_dir,
        checkpoint="latest",
        checkpoint_explicit=True,
        overrides=dict(MAIN_JOB_OVERRIDES),
        panels=PANELS,
        progress=False,
    )


def evaluate_main_job(run: TrainConfig, summary: dict, start: float, log: Callable[[str], None]) -> dict[str, Any]:
    """Scores the run's latest checkpoint on the held-out split; writes and returns main_job.json's content."""
    val_dir = os.path.join(run.data_dir, run.val_split)
    evaluation = run_evaluation(main_job_request(run.model_dir), prepared_split_source(val_dir), log=log)
    constant, constant_metrics = best_constant(val_dir)
    eval_dir = os.path.join(run.model_dir, "eval")
    path = os.path.join(eval_dir, "main_job.json")
    result = {
        "model": evaluation.metrics,
        "best_constant": {"depth_m": constant, **constant_metrics},
        "steps": summary["step"],
        "checkpoint": summary["checkpoint"],
        "network_input": evaluation.network_input,
        "minutes": _minutes(path, summary, start),
        "pictures": evaluation.panels,
    }
    result["detail"] = _detail_files(eval_dir, evaluation.examples[0]) if evaluation.examples else {}
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    os.replace(tmp, path)
    return result


def report(result: dict[str, Any], run_dir: str) -> str:
    """The main job's closing table and the files it left."""
    constant = result["best_constant"]["depth_m"]
    eval_dir = os.path.join(run_dir, "eval")
    rows = {"quick model": result["model"], f"best constant ({constant:.2f} m)": result["best_constant"]}
    lines = [
        "",
        format_table(rows, keys=("abs_rel", "rmse", "log10", "delta1", "delta2", "delta3") + DETAIL_KEYS),
        "(dbe_acc, dbe_comp: depth-edge distances in pixels, lower is better; boundary_f1: higher is better)",
        "",
        f"checkpoint   {result['checkpoint']}",
        f"TensorBoard  {_tensorboard()} --logdir {run_dir}",
        f"metrics      {os.path.join(eval_dir, 'metrics.json')}  and  {os.path.join(eval_dir, 'main_job.json')}",
        f"pictures     {', '.join(result['pictures'])}",
    ]
    lines += [f"{what:<12} {path}" for what, path in result["detail"].items()]
    lines.append(f"done in {result['minutes']:.1f} min")
    return "\n".join(lines)


def _detail_files(eval_dir: str, example: dict) -> dict[str, str]:
    """A point cloud (predicted and true depth) and a bokeh image of the first held-out scene."""
    from depthnet.apps import pointcloud
    from depthnet.apps.outputs import write_outputs
    from depthnet.data.camera import NYU_INTRINSICS

    record = write_outputs(eval_dir, "heldout_0", example["rgb"], example["pred"], point_cloud=True, bokeh=True)
    truth = os.path.join(eval_dir, "heldout_0_truth.ply")
    pointcloud.write_ply(truth, *pointcloud.backproject(example["depth"], NYU_INTRINSICS, example["rgb"]))
    outputs = record["outputs"]
    return {"point cloud": outputs["ply"], "truth cloud": truth, "bokeh": outputs["bokeh"]}


def _tensorboard() -> str:
    """The tensorboard command of this interpreter's environment (e.g. `.venv/bin/tensorboard`)."""
    path = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    if not os.path.exists(path):
        return "tensorboard"
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") and os.sep in rel else path


def _minutes(path: str, summary: dict, start: float) -> float:
    """Wall minutes of the job that trained this checkpoint: a re-run that only re-evaluates keeps the earlier
    figure (plus its own few seconds are not counted), a resumed run adds to it."""
    now = (time.time() - start) / 60.0
    try:
        with open(path, encoding="utf-8") as f:
            before = json.load(f)
    except (OSError, ValueError):
        return now
    if summary.get("trained_steps", 1) == 0 and before.get("checkpoint") == summary["checkpoint"]:
        return float(before.get("minutes", now))
    if summary.get("started_at_step", 0) > 0:
        return float(before.get("minutes", 0.0)) + now
    return now
