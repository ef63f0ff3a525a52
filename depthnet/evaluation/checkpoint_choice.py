"""Which checkpoint of a run to evaluate: 'best' unless it was chosen on the very data being evaluated.

A run keeps two checkpoints worth scoring: the latest, and the one with the best validation abs_rel.
Selecting on the test split and then reporting the test number is test-set selection (the number is
biased low), so when the run's validation split *is* the evaluated data (or the data is an official
test split and the run validated on something that is not its own held-out scenes), the latest
checkpoint is used instead, with a note saying why. An explicitly requested checkpoint is used as
given; an explicit 'best' chosen on the evaluated data gets the note too.

"The same split" is the same folder (paths resolved, symlinks followed) or the same shards (the
manifest's fingerprint, :func:`split_fingerprint`: a copy elsewhere is the same data). Runs recorded
before paths were stored absolute hold the path as typed, relative to where training ran: an evaluated
path ending in it counts as the same split.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any, Optional

from depthnet.checkpoints import read_run_config_json
from depthnet.data.records import MANIFEST_NAME

__all__ = ["choose_checkpoint", "split_fingerprint"]

HELD_OUT_KIND = "held-out training scenes"


def split_fingerprint(split_dir: str) -> Optional[str]:
    """sha256 of a prepared split's content (its manifest's frame count and shard checksums), or None when
    it has no readable manifest."""
    try:
        with open(os.path.join(split_dir, MANIFEST_NAME), encoding="utf-8") as f:
            manifest = json.load(f)
        checksums = sorted(str(s["sha256"]) for s in manifest["shards"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not checksums:
        return None
    text = "\n".join([str(manifest.get("num_frames"))] + checksums)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _validation_dir(payload: Mapping[str, Any]) -> str:
    validation = payload.get("validation") or {}
    train = payload.get("train", {})
    return validation.get("split_dir") or os.path.join(train.get("data_dir") or "", train.get("val_split", ""))


def _ends_with(path: str, relative: str) -> bool:
    """Whether `path`'s last components are those of `relative` (leading '.' and '..' dropped)."""
    tail = [p for p in os.path.normpath(relative).split(os.sep) if p not in ("", ".", "..")]
    return bool(tail) and os.path.normpath(path).split(os.sep)[-len(tail) :] == tail


def _same_data(payload: Mapping[str, Any], val_dir: str, evaluated_dir: str) -> str:
    """How the evaluated split is the run's validation split ('' when it is not)."""
    if not evaluated_dir or not val_dir:
        return ""
    evaluated = os.path.realpath(evaluated_dir)
    if os.path.isabs(val_dir) and os.path.realpath(val_dir) == evaluated:
        return "is the test data evaluated here"
    if not os.path.isabs(val_dir) and _ends_with(evaluated, val_dir):
        return f"recorded relative to where training ran, is the test data evaluated here ({evaluated_dir})"
    recorded = (payload.get("validation") or {}).get("fingerprint")
    if not recorded and os.path.isabs(val_dir):
        recorded = split_fingerprint(val_dir)
    if recorded and recorded == split_fingerprint(evaluated_dir):
        return f"holds the same shards as the test data evaluated here ({evaluated_dir})"
    return ""


def _note(val_dir: str, how: str, explicit: bool) -> str:
    if explicit:
        return (
            f"--checkpoint=best was chosen on {val_dir}, which {how} (test-set selection: the numbers are biased "
            f"low); --checkpoint=latest avoids it, or retrain with --holdout_scenes"
        )
    return (
        f"the run chose 'best' on {val_dir}, which {how} (test-set selection): using the latest checkpoint; "
        f"retrain with --holdout_scenes or pass --checkpoint to override"
    )


def choose_checkpoint(
    model_dir: str, requested: str, explicit: bool, evaluated_dir: str = "", official_test: bool = False
) -> tuple[str, str]:
    """(checkpoint to restore, note or ''): `requested` when `explicit` (noted when it is a 'best' chosen on
    the evaluated data), else 'best' or, on the validation data itself, 'latest' (module docstring)."""
    if explicit and requested != "best":
        return requested, ""
    try:
        payload = read_run_config_json(model_dir)
    except (OSError, ValueError):
        return requested, ""
    if (payload.get("validation") or {}).get("kind") == HELD_OUT_KIND:
        return "best", ""
    val_dir = _validation_dir(payload)
    how = _same_data(payload, val_dir, evaluated_dir)
    if official_test and not how:
        how = "is not held-out training scenes, while the data evaluated here is an official test split"
    if not how:
        return "best", ""
    return ("best" if explicit else "latest"), _note(val_dir, how, explicit)
