"""A run's folder and its record: the lock, the checks before anything is written, and `config.json`.

Order of a run (depthnet.training.loop.train): every setting is validated (`TrainConfig`), the data is
checked, the run folder is locked (:func:`run_lock`: one trainer per model_dir), the existing record is
checked (:func:`check_run`: the same model; the same :data:`depthnet.config.HYPERPARAMETERS`, decay steps
and training data, unless `allow_changed_hyperparameters`), the checkpoints are restored, and only then is
`config.json` written (:meth:`RunRecord.write`). A refused run leaves the folder as it was.

`config.json` holds paths that mean the same from any working directory (model_dir, data_dir and the
split folders absolute; `data.data_dir_as_typed` and `data.working_dir` keep what was typed, and where),
the validation split's fingerprint (:func:`depthnet.evaluation.checkpoint_choice.split_fingerprint`, for
the test-set guard of depthnet-eval), and `segments`: the settings each stretch of steps was trained with,
`[{"from_step": 0, "train": {...}}, {"from_step": 60, "train": {...}}]`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from typing import Any, Optional

from depthnet.checkpoints import (
    CHECKPOINT_DIR,
    listed_checkpoints,
    previous_run_config,
    run_config_payload,
    write_run_payload,
)
from depthnet.config import HYPERPARAMETERS, ModelConfig, TrainConfig
from depthnet.data import checks as data_checks
from depthnet.errors import RunConfigError
from depthnet.evaluation.checkpoint_choice import split_fingerprint
from depthnet.folder_lock import folder_lock
from depthnet.training.holdout import HoldOut, plan_holdout

DECAY = "resolved_decay_steps"


def split_dirs(run: TrainConfig) -> tuple[str, str]:
    """(train split folder, validation split folder) of a run, absolute.

    source 'prepared' reads `data_dir`; 'synthetic' reads `data_dir` (default `<model_dir>/data`), where
    the command-line tools render the scenes before training starts.
    """
    if run.source == "synthetic":
        root = run.data_dir or os.path.join(run.model_dir, "data")
    elif run.source == "prepared":
        if not run.data_dir:
            raise ValueError("data_dir is required with source='prepared' (or use source='synthetic')")
        root = run.data_dir
    else:
        raise ValueError(f"unknown source {run.source!r}; use 'prepared' or 'synthetic'")
    return os.path.abspath(os.path.join(root, run.train_split)), os.path.abspath(os.path.join(root, run.val_split))


def plan_validation(run: TrainConfig) -> tuple[str, str, Optional[HoldOut], dict[str, Any]]:
    """(train_dir, val_dir, held_out or None, validation record), the prepared data checked first."""
    train_dir, val_dir = split_dirs(run)
    data_checks.check_splits([train_dir], run.verify)  # before anything is written
    held_out = None
    if run.holdout_scenes > 0:  # validate on held-out training scenes, never on the test split
        held_out = plan_holdout(train_dir, run.holdout_scenes, run.holdout_seed)
        val_dir = train_dir
    if val_dir != train_dir:
        data_checks.check_splits([val_dir], run.verify)
    if held_out:
        return train_dir, val_dir, held_out, held_out.to_dict()
    validation = {"kind": "prepared split", "split_dir": val_dir, "fingerprint": split_fingerprint(val_dir)}
    return train_dir, val_dir, held_out, validation


def run_lock(run: TrainConfig, chief: bool = True, log=None) -> contextlib.AbstractContextManager:
    """The lock of the run folder (depthnet.folder_lock), held for the whole run; none on non-chief workers."""
    if not chief:
        return contextlib.nullcontext()
    hint = "wait for it to finish, or train into another model_dir (--model_dir)"
    return folder_lock(run.model_dir, "training", hint=hint, log=log)


@contextlib.contextmanager
def locked_run(run: TrainConfig, log=None) -> Iterator[None]:
    """What depthnet-train holds around its data preparation and training (a multi-worker chief locks in train)."""
    with run_lock(run, run.strategy != "multi_worker", log):
        yield


def _settings(train: dict[str, Any], decay: Optional[int], data: Optional[str]) -> dict[str, Any]:
    """The settings that decide how a step is trained, from a record's 'train' section."""
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    settings = {name: train.get(name, defaults.get(name)) for name in HYPERPARAMETERS}
    return {**settings, DECAY: decay, "train_data": data}


def _decay_of(train: dict[str, Any]) -> Optional[int]:
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    try:
        return TrainConfig(**{k: v for k, v in train.items() if k in known}).resolved_decay_steps
    except (TypeError, ValueError):
        return None


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """'name old -> new' for every setting that differs (unknown values, None, are not compared)."""
    out = []
    for name, old in before.items():
        new = after[name]
        if old is None or new is None or old == new:
            continue
        label = {DECAY: "decay steps (resolved)", "train_data": "training data (shard checksums)"}.get(name, name)
        out.append(f"{label} {old!r} -> {new!r}" if name != "train_data" else f"{label} changed")
    return out


@dataclasses.dataclass
class RunRecord:
    """config.json as this run will write it, and the segments it keeps (module docstring)."""

    payload: dict[str, Any]
    segments: list[dict[str, Any]]
    changes: list[str] = dataclasses.field(default_factory=list)

    def segment(self, start: int) -> dict[str, Any]:
        """This run's segment: its settings from step `start` on."""
        data = self.payload["data"]
        train = self.payload["train"]
        return {"from_step": start, "train": train, DECAY: data[DECAY], "train_data": data["fingerprint"]}

    def write(self, start: int, log) -> str:
        """Writes config.json once the run's start step is known (after restoring its checkpoint)."""
        segment = self.segment(start)
        kept = [s for s in self.segments if int(s.get("from_step", 0)) < start]
        if not kept or _changes(_segment_settings(kept[-1]), _segment_settings(segment)):
            if kept and self.changes:
                log(f"config.json: a new segment from step {start} ({'; '.join(self.changes)})")
            kept.append(segment)
        return write_run_payload(self.payload["train"]["model_dir"], {**self.payload, "segments": kept})


def _segment_settings(segment: dict[str, Any]) -> dict[str, Any]:
    train = segment.get("train", {})
    decay = segment[DECAY] if DECAY in segment else _decay_of(train)
    return _settings(train, decay, segment.get("train_data"))


def _previous_segments(previous: Optional[dict[str, Any]]) -> list[dict[str, Any]]:
    if not previous:
        return []
    if previous.get("segments"):
        return list(previous["segments"])
    data = (previous.get("data") or {}).get("fingerprint")
    return [{"from_step": 0, "train": previous.get("train", {}), "train_data": data}]  # recorded before segments


def check_run(model_config: ModelConfig, run: TrainConfig, train_dir: str, validation: dict[str, Any]) -> RunRecord:
    """The record this run will write; refuses another model, and changed hyperparameters on a resume unless
    `run.allow_changed_hyperparameters` (one line naming the changes). Writes nothing."""
    data = {
        "data_dir_as_typed": run.data_dir,
        "working_dir": os.getcwd(),
        "train_split_dir": train_dir,  # its fingerprint: the training data's identity
        "fingerprint": split_fingerprint(train_dir),
        DECAY: run.resolved_decay_steps,
    }
    payload = run_config_payload(run, model_config, extra={"data": data, "validation": validation})
    previous = previous_run_config(run.model_dir, payload["model"])
    segments = _previous_segments(previous)
    trained = bool(listed_checkpoints(os.path.join(run.model_dir, CHECKPOINT_DIR)))
    record = RunRecord(payload, segments)
    if segments and trained:
        record.changes = _changes(_segment_settings(segments[-1]), _segment_settings(record.segment(0)))
    if record.changes and not run.allow_changed_hyperparameters:
        raise RunConfigError(
            f"{run.model_dir} holds a run trained with other settings ({'; '.join(record.changes)}): re-run with "
            f"its settings, pass allow_changed_hyperparameters=True (--allow_changed_hyperparameters) to go on with "
            f"these (config.json then keeps each segment's settings by step), or use a new model_dir"
        )
    return record
