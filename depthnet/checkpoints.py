"""A training run's folder: `config.json`, the one rule for which checkpoint, and restoring a model.

    <model_dir>/config.json   {"model": ModelConfig, "train": TrainConfig, ...} (depthnet.training.run_record)
    <model_dir>/ckpt/         the last N checkpoints (tf.train.CheckpointManager)
    <model_dir>/best/         the checkpoint with the best validation abs_rel

`checkpoint_path(model_dir, which)` is the one rule: 'best' is best/ falling back to the latest of
ckpt/ (no validation ran yet), 'latest' is the latest of ckpt/, anything else is a checkpoint prefix.

A truncated or corrupt checkpoint (a full disk, a copy cut short) is found by reading every tensor
back (:func:`checkpoint_problem`); :func:`restore_model` then names the file and lists the run's intact
checkpoints (:func:`intact_checkpoints`), and training resumes from the newest intact one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Optional

import tensorflow as tf

from depthnet.config import ModelConfig, TrainConfig
from depthnet.errors import ModelLoadError, RunConfigError
from depthnet.precision import set_precision

CONFIG_NAME = "config.json"
CHECKPOINT_DIR = "ckpt"
BEST_DIR = "best"


def run_config_payload(run: TrainConfig, model_config: ModelConfig, extra: Optional[dict] = None) -> dict:
    """config.json's content: the model, the run (model_dir and data_dir absolute, the same from any
    working directory) and `extra` keys (e.g. the validation set)."""
    train = dataclasses.asdict(run)
    train["model_dir"] = os.path.abspath(run.model_dir)
    train["data_dir"] = os.path.abspath(run.data_dir) if run.data_dir else ""
    return {"model": model_config.to_dict(), "train": train, **(extra or {})}


def previous_run_config(model_dir: str, model: dict) -> Optional[dict]:
    """The run's config.json (None if none yet); refuses a model_dir holding a run of a different model."""
    if not os.path.exists(os.path.join(model_dir, CONFIG_NAME)):
        return None
    previous = read_run_config_json(model_dir)
    if previous.get("model") != model:
        raise RunConfigError(
            f"{model_dir} holds a run of a different model ({previous.get('model')}); "
            f"use a new model_dir or the same model configuration"
        )
    return previous


def write_run_payload(model_dir: str, payload: dict) -> str:
    """Writes `payload` as `<model_dir>/config.json`, atomically."""
    os.makedirs(model_dir, exist_ok=True)
    path = os.path.join(model_dir, CONFIG_NAME)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2)
    os.replace(tmp, path)
    return path


def write_run_config(run: TrainConfig, model_config: ModelConfig, extra: Optional[dict] = None) -> str:
    """Writes config.json (+ `extra` keys, e.g. the validation set); refuses a model_dir of another model."""
    payload = run_config_payload(run, model_config, extra)
    previous_run_config(run.model_dir, payload["model"])
    return write_run_payload(run.model_dir, payload)


def read_run_config_json(model_dir: str) -> dict:
    """The raw content of `<model_dir>/config.json`."""
    path = os.path.join(model_dir, CONFIG_NAME)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: is {model_dir!r} a depthnet-train model_dir?")
    with open(path, encoding="utf-8") as f:
        try:
            payload = json.load(f)
        except ValueError as e:
            raise RunConfigError(
                f"{path} is not valid JSON ({e}); restore it from a copy, or use a new model_dir"
            ) from e
    if not isinstance(payload, dict):
        raise RunConfigError(f"{path} does not hold a run's configuration; restore it, or use a new model_dir")
    return payload


def load_run_config(model_dir: str) -> tuple[ModelConfig, TrainConfig]:
    """Reads `<model_dir>/config.json` back into the two configuration objects."""
    payload = read_run_config_json(model_dir)
    return ModelConfig.from_dict(payload["model"]), TrainConfig(**payload["train"])


def checkpoint_path(model_dir: str, which: str = "best") -> Optional[str]:
    """THE rule for which checkpoint of a run: 'best', 'latest' or an explicit prefix (module docstring)."""
    if which not in ("best", "latest"):
        return which
    path = tf.train.latest_checkpoint(os.path.join(model_dir, BEST_DIR)) if which == "best" else None
    return path or tf.train.latest_checkpoint(os.path.join(model_dir, CHECKPOINT_DIR))


def checkpoint_problem(path: str) -> Optional[str]:
    """None when every tensor of checkpoint `path` reads back; otherwise what is wrong with it."""
    if not tf.io.gfile.exists(path + ".index"):
        return f"there is no checkpoint {path} ({path}.index missing)"
    try:
        reader = tf.train.load_checkpoint(path)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as e:  # IndexError (truncated data), tf.errors.OpError (bad index), ValueError (missing)
        text = getattr(e, "message", None) or str(e) or type(e).__name__
        return f"truncated or corrupt: {type(e).__name__}: {text.strip().splitlines()[0]}"
    return None


_NUMBERED_INDEX = re.compile(r"(?P<prefix>.+)-(?P<number>\d+)\.index")


def _numbered_on_disk(directory: str) -> dict[str, int]:
    """{prefix path: number} of every `<name>-<N>.index` checkpoint in `directory`."""
    if not tf.io.gfile.isdir(directory):
        return {}
    found = (_NUMBERED_INDEX.fullmatch(name) for name in tf.io.gfile.listdir(directory))
    return {os.path.join(directory, m["prefix"] + "-" + m["number"]): int(m["number"]) for m in found if m}


def listed_checkpoints(directory: str) -> list[str]:
    """The checkpoint prefixes of a CheckpointManager folder, newest (highest step) first ([] if none).

    The state file (`checkpoint`) lists them; the files on disk count too, so a garbled or missing state
    file never makes a run start again at step 0 and overwrite its checkpoints (TensorFlow ignores an
    unreadable state file with a warning).
    """
    state = tf.train.get_checkpoint_state(directory)
    listed = []
    if state is not None:
        listed = list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]
        listed = [p if os.path.isabs(p) else os.path.join(directory, p) for p in listed if p]
    on_disk = _numbered_on_disk(directory)
    order = {p: (on_disk.get(p, -1), i) for i, p in enumerate(listed)}
    order.update({p: (n, len(listed)) for p, n in on_disk.items() if p not in order})
    return sorted(order, key=lambda p: order[p], reverse=True)


def intact_checkpoints(model_dir: str) -> list[str]:
    """Every checkpoint of a run (ckpt/ newest first, then best/) that reads back completely."""
    paths = listed_checkpoints(os.path.join(model_dir, CHECKPOINT_DIR))
    paths += listed_checkpoints(os.path.join(model_dir, BEST_DIR))
    return [p for p in paths if checkpoint_problem(p) is None]


def unreadable_checkpoint_error(model_dir: str, path: str, problem: str) -> ModelLoadError:
    """The error for a checkpoint that does not read back: names the file and the intact alternatives."""
    intact = intact_checkpoints(model_dir)
    alternatives = (
        f"intact checkpoints of this run: {', '.join(intact)}; pass one as the checkpoint (--checkpoint=<path>)"
        if intact
        else "no checkpoint of this run is intact; train again"
    )
    return ModelLoadError(f"checkpoint {path} cannot be read ({problem}); {alternatives}")


def restore_model(model_dir: str, which: str = "best", precision: str = "fp32"):
    """(Keras model, ModelConfig) of a training run, from the checkpoint :func:`checkpoint_path` picks.

    The backbone is not re-loaded from ImageNet (the checkpoint holds every weight).
    """
    from depthnet.modeling.model import build_model

    model_config, _ = load_run_config(model_dir)
    set_precision(precision)
    model = build_model(dataclasses.replace(model_config, backbone_weights=None))
    path = checkpoint_path(model_dir, which)
    if not path:
        raise FileNotFoundError(f"no checkpoint in {model_dir!r} (looked in ckpt/ and best/); train first")
    problem = checkpoint_problem(path)
    if problem:
        raise unreadable_checkpoint_error(model_dir, path, problem)
    tf.train.Checkpoint(model=model).restore(path).expect_partial().assert_existing_objects_matched()
    return model, model_config
