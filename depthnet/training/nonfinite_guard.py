"""Which checkpoints of a run are good, for the NaN guard: a non-finite stop resumes from a sane one.

A checkpoint is *good* when

1. its weights are finite and every trainable weight is within +-:data:`MAX_ABS_WEIGHT` (checked
   before it is written: a checkpoint failing this is not written at all), and
2. the loss those very weights give on the next batch (the next step's loss, computed before that
   step's update) is finite and not :data:`LOSS_JUMP_FACTOR` times the median of the last
   :data:`LOSS_HISTORY` step losses (the loss has not jumped).

A checkpoint whose next loss is not seen yet is *pending*. On a non-finite stop, the checkpoints this
run wrote after its last good one (pending or failed) are moved to `<model_dir>/rejected/` and the
checkpoint list is rewritten, so re-running the command resumes from the last good checkpoint
(:meth:`GoodCheckpoints.roll_back`); the checkpoint the run resumed from is never moved. Exploded
weights can still give one finite loss (a step at a huge learning rate gave a finite loss with weights
of ~8e5 and NaN one step later), so finiteness of the saved weights alone is not enough.
"""

from __future__ import annotations

import collections
import glob
import os
import statistics
from typing import Optional

import numpy as np
import tensorflow as tf

from depthnet.checkpoints import listed_checkpoints

MAX_ABS_WEIGHT = 1e3  # trained conv/BN weights are O(1); Adam moves a weight by ~lr per step
LOSS_JUMP_FACTOR = 10.0
LOSS_HISTORY = 50
REJECTED_DIR = "rejected"


def weights_problem(model) -> Optional[str]:
    """None when the model's weights may be saved; otherwise what is wrong with them."""
    for variable in model.variables:
        value = np.asarray(variable.numpy())
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            return f"weight {variable.path} is not finite"
    largest = max((float(np.max(np.abs(v.numpy()))) for v in model.trainable_variables), default=0.0)
    if largest > MAX_ABS_WEIGHT:
        return f"largest trainable weight is {largest:.3g}, above the sane bound {MAX_ABS_WEIGHT:g}"
    return None


class GoodCheckpoints:
    """Tracks the last good checkpoint of a training loop (module docstring)."""

    def __init__(self, restored: Optional[str] = None):
        self.good: Optional[str] = None
        self.pending: Optional[str] = restored
        self.losses: collections.deque[float] = collections.deque(maxlen=LOSS_HISTORY)
        self.rejected: list[tuple[str, str]] = []
        self.written: list[str] = []

    def jumped(self, loss: float) -> Optional[str]:
        if len(self.losses) < 3:
            return None
        reference = statistics.median(self.losses)
        if reference > 0 and loss > LOSS_JUMP_FACTOR * reference:
            return f"the loss after it jumped to {loss:.4g} (median of the last steps {reference:.4g})"
        return None

    def observe(self, loss: float) -> None:
        """One finite step's loss (computed with the weights before this step's update)."""
        if self.pending:
            problem = self.jumped(loss)
            if problem:
                self.rejected.append((self.pending, problem))
            else:
                self.good = self.pending
            self.pending = None
        self.losses.append(loss)

    def saved(self, path: Optional[str]) -> None:
        """A checkpoint was just written (None on workers that keep no files)."""
        if path:
            self.pending = path
            self.written.append(path)

    def last_good(self, directory: str) -> Optional[str]:
        """The checkpoint a re-run resumes from after :meth:`roll_back`."""
        moved = set(self._not_good())
        return next((p for p in listed_checkpoints(directory) if p not in moved), None)

    def _not_good(self) -> list[str]:
        """Checkpoints written by this loop after its last good one (newest last)."""
        start = self.written.index(self.good) + 1 if self.good in self.written else 0
        return self.written[start:]

    def roll_back(self, directory: str, model_dir: str) -> list[str]:
        """Moves the checkpoints this loop wrote after its last good one to `<model_dir>/rejected/` and
        makes the newest remaining one the latest; returns the moved prefixes.

        Checkpoints older than this loop (the one it resumed from) are never moved.
        """
        moved = [p for p in self._not_good() if tf.io.gfile.exists(p + ".index")]
        if not moved:
            return []
        target = os.path.join(model_dir, REJECTED_DIR)
        os.makedirs(target, exist_ok=True)
        for prefix in moved:
            for path in glob.glob(glob.escape(prefix) + ".*"):
                os.replace(path, os.path.join(target, os.path.basename(path)))
        keep = [p for p in listed_checkpoints(directory) if p not in moved]
        _write_state(directory, keep)
        return moved


def _write_state(directory: str, newest_first: list[str]) -> None:
    """Rewrites a CheckpointManager folder's `checkpoint` list (text proto), atomically."""
    state = os.path.join(directory, "checkpoint")
    if not newest_first:
        os.remove(state)
        return
    names = [os.path.relpath(p, directory) for p in newest_first]
    lines = [f'model_checkpoint_path: "{names[0]}"'] + [f'all_model_checkpoint_paths: "{n}"' for n in names[::-1]]
    with open(state + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(state + ".tmp", state)
