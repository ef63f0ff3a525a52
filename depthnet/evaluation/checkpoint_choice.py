"""Which checkpoint of a run to evaluate: 'best' unless it was chosen on the very data being evaluated.

A run keeps two checkpoints worth scoring: the latest, and the one with the best validation abs_rel.
Selecting on the test split and then reporting the test number is test-set selection (the number is
biased low), so when the run's validation split *is* the evaluated data (or the data is an official
test split and the run validated on something that is not its own held-out scenes), the latest
checkpoint is used instead, with a note saying why. An explicitly requested checkpoint is used as
given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from depthnet.checkpoints import read_run_config_json

__all__ = ["choose_checkpoint"]

HELD_OUT_KIND = "held-out training scenes"


def _validation_dir(payload: Mapping[str, Any]) -> str:
    validation = payload.get("validation") or {}
    train = payload.get("train", {})
    return validation.get("split_dir") or os.path.join(train.get("data_dir") or "", train.get("val_split", ""))


def choose_checkpoint(
    model_dir: str, requested: str, explicit: bool, evaluated_dir: str = "", official_test: bool = False
) -> tuple[str, str]:
    """(checkpoint to restore, note or ''): `requested` when `explicit`, else 'best' or, on the validation
    data itself, 'latest' (module docstring)."""
    if explicit:
        return requested, ""
    try:
        payload = read_run_config_json(model_dir)
    except (OSError, ValueError):
        return requested, ""
    if (payload.get("validation") or {}).get("kind") == HELD_OUT_KIND:
        return "best", ""
    val_dir = _validation_dir(payload)
    same = bool(evaluated_dir) and os.path.abspath(val_dir) == os.path.abspath(evaluated_dir)
    if official_test or same:
        return "latest", (
            f"the run chose 'best' on {val_dir}, which is the test data evaluated here (test-set selection): "
            f"using the latest checkpoint; retrain with --holdout_scenes or pass --checkpoint to override"
        )
    return "best", ""
