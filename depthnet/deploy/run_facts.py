"""What an export reads from its training run: paths resolved, the training data, the scores, the checkpoint.

A run's ``config.json`` keeps its paths as they were given to `depthnet-train` (the main job writes
``data_dir: data/synthetic`` and ``model_dir: runs/quick``, relative to the folder it ran in). For a
run that was copied or moved, :func:`resolve_run_path` tries a relative path against, in order:

1. the folder the run was launched from: the run folder with its recorded ``model_dir`` taken off its
   end (``runs/quick`` recorded, run at ``/copy/runs/quick`` -> ``/copy``);
2. the run folder itself;
3. the working directory.

The first that exists wins; an error lists every path tried (:func:`calibration_split` adds the flag
to set, ``--calibration_data``).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Optional

from depthnet.checkpoints import checkpoint_path
from depthnet.errors import InputError

SYNTHETIC = "synthetic"


def run_path_candidates(model_dir: str, path: str, recorded_model_dir: Optional[str] = None) -> list[str]:
    """Where a path stored in the run at `model_dir` may be (module docstring), absolute, without repeats."""
    if os.path.isabs(path):
        return [os.path.normpath(path)]
    run = os.path.abspath(model_dir)
    bases = []
    recorded = os.path.normpath(recorded_model_dir) if recorded_model_dir else ""
    if recorded and not os.path.isabs(recorded) and recorded != ".":
        parts, tail = run.split(os.sep), recorded.split(os.sep)
        if parts[-len(tail) :] == tail:
            bases.append(os.sep.join(parts[: -len(tail)]) or os.sep)
    bases += [run, os.getcwd()]
    out: list[str] = []
    for base in bases:
        candidate = os.path.normpath(os.path.join(base, path))
        if candidate not in out:
            out.append(candidate)
    return out


def resolve_run_path(model_dir: str, path: str, recorded_model_dir: Optional[str] = None) -> tuple[Optional[str], list]:
    """(the first existing candidate or None, every candidate tried)."""
    tried = run_path_candidates(model_dir, path, recorded_model_dir)
    return next((p for p in tried if os.path.exists(p)), None), tried


def _train(run_config: dict[str, Any]) -> dict[str, Any]:
    train = run_config.get("train")
    return train if isinstance(train, dict) else {}


def train_split_path(model_dir: str, run_config: dict[str, Any]) -> tuple[Optional[str], list, str]:
    """(the run's training split folder or None, the paths tried, the path as the run stores it)."""
    train = _train(run_config)
    stored = os.path.join(train.get("data_dir") or "", train.get("train_split") or "train")
    if not train.get("data_dir"):
        return None, [], stored
    found, tried = resolve_run_path(model_dir, stored, train.get("model_dir"))
    return (found if found and os.path.isdir(found) else None), tried, stored


def calibration_split(model_dir: str, run_config: dict[str, Any], calibration_data: Optional[str]) -> str:
    """The prepared split int8 is calibrated on: `calibration_data` (relative to the working directory),
    else the run's own training split; InputError naming the paths tried and --calibration_data."""
    if calibration_data:
        path = os.path.abspath(calibration_data)
        if not os.path.isdir(path):
            raise InputError(
                f"calibration data {calibration_data!r} ({path}) is not a prepared split folder; set "
                f"--calibration_data to one (a depthnet-prepare output, e.g. data/synthetic/train)"
            )
        return path
    found, tried, stored = train_split_path(model_dir, run_config)
    if found:
        return found
    where = f"tried {', '.join(tried)}" if tried else "the run's config.json names no data_dir"
    raise InputError(
        f"int8 needs calibration frames and the run's training split {stored!r} was not found ({where}); "
        f"set --calibration_data to a prepared split folder (e.g. data/synthetic/train)"
    )


def _manifest(split: Optional[str]) -> dict[str, Any]:
    path = os.path.join(split or "", "manifest.json")
    if not split or not os.path.exists(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def training_data(model_dir: str, run_config: dict[str, Any]) -> dict[str, Any]:
    """What the run was trained on: source, kind ('synthetic', 'real' or 'unknown'), split, frames."""
    train = _train(run_config)
    split, _, stored = train_split_path(model_dir, run_config)
    manifest = _manifest(split)
    source = manifest.get("source") or (SYNTHETIC if train.get("source") == SYNTHETIC else None)
    kind = "unknown" if source is None else (SYNTHETIC if source == SYNTHETIC else "real")
    out: dict[str, Any] = {"kind": kind, "source": source or "unknown", "split": split or stored}
    if source == SYNTHETIC:
        out["description"] = (
            "procedurally rendered synthetic rooms (depthnet.synthetic: box rooms with furniture, NYU intrinsics, "
            "exact z-depth); no real images"
        )
    for key, value in (("frames", manifest.get("num_frames")), ("frame_size", manifest.get("frame_size"))):
        if value is not None:
            out[key] = value
    if train.get("source") == SYNTHETIC and "frames" not in out:
        out["frames"] = train.get("synthetic_train_frames")
    out["steps"] = train.get("train_steps")
    return out


def intended_use(training: dict[str, Any]) -> str:
    """One line for the card, from :func:`training_data`."""
    if training.get("kind") == SYNTHETIC:
        return (
            "demonstration and testing only: trained only on synthetic scenes (procedurally rendered rooms), never "
            "on real images, and scored only on synthetic held-out scenes; depth from real photos is not "
            "validated and is expected to be poor"
        )
    if training.get("kind") == "real":
        return (
            f"metric depth of indoor scenes like its training data ({training.get('source')}), from a camera with "
            "NYU Depth V2's field of view (intrinsics_assumed), 0.001-10 m; research use, not safety-critical"
        )
    return "unknown: the run's training data could not be identified (its manifest was not found); check before use"


def checkpoint_facts(model_dir: str, checkpoint: str) -> dict[str, Any]:
    """The exported checkpoint: absolute path and the sha256 of its .index (a fingerprint of the weights)."""
    path = checkpoint_path(model_dir, checkpoint)
    facts: dict[str, Any] = {"checkpoint": checkpoint, "checkpoint_path": os.path.abspath(path) if path else None}
    if path and os.path.exists(path + ".index"):
        with open(path + ".index", "rb") as f:
            facts["checkpoint_index_sha256"] = hashlib.sha256(f.read()).hexdigest()
    return facts


def evaluation(model_dir: str) -> Optional[dict[str, Any]]:
    """The run's last evaluation (`eval/metrics.json`) or None."""
    path = os.path.join(model_dir, "eval", "metrics.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def measured_metrics(model_dir: str, run_config: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    """The card's metrics: the values and the data they were measured on, or why there are none."""
    ev = evaluation(model_dir)
    if not isinstance(ev, dict) or not isinstance(ev.get("metrics"), dict):
        return {"values": None, "note": "the run has no evaluation (eval/metrics.json); run depthnet-eval"}
    protocol = ev.get("protocol") if isinstance(ev.get("protocol"), dict) else {}
    split = ev.get("split")
    found = resolve_run_path(model_dir, split, _train(run_config).get("model_dir"))[0] if split else None
    source = _manifest(found).get("source") or protocol.get("ground_truth")
    keys = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "delta1", "delta2", "delta3", "num_images")
    out = {
        "values": {k: ev["metrics"][k] for k in keys if k in ev["metrics"]},
        "measured_on": {
            "split": found or split,
            "data": SYNTHETIC if source == SYNTHETIC else (source or "unknown"),
            "ground_truth": protocol.get("ground_truth"),
            "protocol": ev.get("protocol_text"),
        },
        "checkpoint": ev.get("checkpoint"),
    }
    if source == SYNTHETIC:
        out["note"] = "synthetic held-out scenes: says nothing about real photos"
    if ev.get("checkpoint") and facts.get("checkpoint_path"):
        out["same_checkpoint_as_this_file"] = os.path.basename(ev["checkpoint"]) == os.path.basename(
            facts["checkpoint_path"]
        )
    return out
